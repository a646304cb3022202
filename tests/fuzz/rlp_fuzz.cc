// Fuzz target for the RLP decoder. Properties checked on every input:
//  - nothing crashes or reads out of bounds;
//  - DecodeExact succeeds iff DecodeFirst succeeds with nothing left over;
//  - a tree DecodeExact accepted walks with ListReader without any error,
//    and re-encoding it item by item gives back the identical bytes
//    (the canonical encoding is unique);
//  - an item ToUint64 accepts re-encodes with AddUint to the same bytes.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/hex.h"
#include "core/rlp/rlp.h"
#include "tests/fuzz/fuzz_testing.h"

namespace {

using p2p::rlp::Encoder;
using p2p::rlp::Item;
using p2p::rlp::ListReader;

[[noreturn]] void Fail(absl::string_view what, absl::Span<const uint8_t> input) {
  p2p::fuzz::FailInput("rlp_fuzz", what, input);
}

void CheckUint(const Item& item, absl::Span<const uint8_t> input) {
  absl::StatusOr<uint64_t> v = p2p::rlp::ToUint64(item);
  if (!v.ok()) return;
  Encoder e;
  e.AddUint(*v);
  std::vector<uint8_t> again = e.Finish();
  if (absl::Span<const uint8_t>(again) != item.encoded) Fail("ToUint64/AddUint mismatch", input);
}

void Reencode(const Item& item, Encoder& e, absl::Span<const uint8_t> input) {
  if (!item.is_list()) {
    CheckUint(item, input);
    e.AddBytes(item.payload);
    return;
  }
  e.BeginList();
  ListReader r(item);
  while (!r.AtEnd()) {
    absl::StatusOr<Item> child = r.Next();
    if (!child.ok()) Fail("ListReader failed on a validated tree", input);
    Reencode(*child, e, input);
  }
  e.EndList();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::Span<const uint8_t> input(data, size);

  absl::StatusOr<Item> exact = p2p::rlp::DecodeExact(input);
  absl::StatusOr<std::pair<Item, absl::Span<const uint8_t>>> first = p2p::rlp::DecodeFirst(input);
  if (exact.ok() != (first.ok() && first->second.empty())) {
    Fail("DecodeExact and DecodeFirst disagree", input);
  }
  if (exact.ok()) {
    Encoder e;
    Reencode(*exact, e, input);
    std::vector<uint8_t> again = e.Finish();
    if (absl::Span<const uint8_t>(again) != input) Fail("re-encoding differs", input);
  }

  // A sequence of items: each decoded item re-encodes to itself.
  absl::Span<const uint8_t> rest = input;
  size_t offset = 0;
  while (!rest.empty()) {
    absl::StatusOr<std::pair<Item, absl::Span<const uint8_t>>> r =
        p2p::rlp::DecodeFirst(rest, offset);
    if (!r.ok()) break;
    if (r->first.encoded.empty() || r->first.offset != offset) Fail("bad item bounds", input);
    Encoder e;
    Reencode(r->first, e, input);
    std::vector<uint8_t> again = e.Finish();
    if (absl::Span<const uint8_t>(again) != r->first.encoded)
      Fail("item re-encoding differs", input);
    offset += r->first.encoded.size();
    rest = r->second;
  }
  return 0;
}
