// Fuzz target for node records (core/discover/enr.h).
//
// A mutated record almost never keeps a valid signature, so decoding alone
// stops at the signature check. Each input is therefore used three ways:
//  1. decoded as an encoded record;
//  2. parsed as the text form ("enr:" is prepended when missing);
//  3. read as a recipe for a record we build: a sequence number and up to
//     eight key/value pairs (keys and values cut from the input, values
//     wrapped as RLP strings or used raw when they already are one item),
//     which is then signed with a fixed key, encoded and decoded again.
//
// Properties checked on every input:
//  - nothing crashes or reads out of bounds;
//  - a rejection is InvalidArgument (or NotFound from a getter) with a
//    message;
//  - a decoded record encodes to exactly the input and survives the text
//    round trip; its ID is keccak256 of its key;
//  - a record we signed and that fits 300 bytes decodes to itself, with the
//    fixed key's node ID; one that does not fit is refused when signing.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/discover/enr.h"
#include "core/hex.h"
#include "core/node.h"
#include "core/rlp/rlp.h"
#include "tests/fuzz/fuzz_testing.h"

namespace {

using p2p::enr::Record;

[[noreturn]] void Fail(absl::string_view what, absl::Span<const uint8_t> input) {
  p2p::fuzz::FailInput("enr_fuzz", what, input);
}

using p2p::fuzz::FixedKey;

void CheckRejection(const absl::Status& s, absl::Span<const uint8_t> input) {
  if (s.code() != absl::StatusCode::kInvalidArgument && s.code() != absl::StatusCode::kNotFound) {
    Fail("rejection with an unexpected code", input);
  }
  if (s.message().empty()) Fail("rejection without a message", input);
}

// A decoded (verified) record's invariants.
void CheckDecoded(const Record& r, absl::Span<const uint8_t> encoded,
                  absl::Span<const uint8_t> input) {
  if (!r.is_signed()) Fail("decoded record is not signed", input);
  absl::StatusOr<std::vector<uint8_t>> enc = r.Encode();
  if (!enc.ok() || *enc != std::vector<uint8_t>(encoded.begin(), encoded.end())) {
    Fail("decoded record does not encode to its input", input);
  }
  absl::StatusOr<std::string> text = r.ToText();
  if (!text.ok()) Fail("ToText failed", input);
  absl::StatusOr<Record> again = p2p::enr::ParseText(*text);
  if (!again.ok() || *again != r) Fail("text round trip changed the record", input);
  absl::StatusOr<p2p::PublicKey> pub = r.Secp256k1();
  absl::StatusOr<p2p::NodeId> id = r.VerifiedNodeId();
  if (!pub.ok() || !id.ok() || *id != p2p::NodeId::FromPublicKey(*pub)) {
    Fail("verified record without a consistent key and ID", input);
  }
  // ToNode may reject malformed address fields, but only with a message.
  absl::StatusOr<p2p::Node> node = r.ToNode();
  if (!node.ok()) {
    CheckRejection(node.status(), input);
  } else if (node->id != *id) {
    Fail("ToNode names another ID", input);
  }
}

// Reads bytes from the input; zeros once it is exhausted.
class Cursor {
 public:
  explicit Cursor(absl::Span<const uint8_t> in) : in_(in) {}
  uint8_t Byte() { return pos_ < in_.size() ? in_[pos_++] : 0; }
  absl::Span<const uint8_t> Take(size_t n) {
    n = std::min(n, in_.size() - pos_);
    absl::Span<const uint8_t> out = in_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

 private:
  absl::Span<const uint8_t> in_;
  size_t pos_ = 0;
};

void BuildAndSign(absl::Span<const uint8_t> input) {
  Cursor c(input);
  Record r;
  uint64_t seq = 0;
  for (int i = 0; i < 3; ++i) seq = (seq << 8) | c.Byte();
  r.SetSeq(seq);
  const int pairs = c.Byte() % 9;
  for (int i = 0; i < pairs; ++i) {
    absl::Span<const uint8_t> key = c.Take(c.Byte() % 12);
    const uint8_t mode = c.Byte();
    absl::Span<const uint8_t> value = c.Take(c.Byte() % 48);
    const std::string k(key.begin(), key.end());
    if (mode & 1) {
      // Raw: accepted only when it is exactly one RLP item.
      absl::Status s = r.SetRaw(k, value);
      if (!s.ok()) CheckRejection(s, input);
    } else {
      p2p::rlp::Encoder e;
      e.AddBytes(value);
      if (absl::Status s = r.SetRaw(k, e.Finish()); !s.ok()) Fail("SetRaw refused a string", input);
    }
  }
  absl::Status s = r.SignV4(FixedKey());
  if (!s.ok()) {
    if (!absl::StartsWith(s.message(), "record bigger than 300 bytes")) {
      Fail("SignV4 failed for another reason than size", input);
    }
    if (r.is_signed()) Fail("a refused record stayed signed", input);
    return;
  }
  absl::StatusOr<std::vector<uint8_t>> enc = r.Encode();
  if (!enc.ok()) Fail("a signed record did not encode", input);
  if (enc->size() > p2p::enr::kRecordSizeLimit) Fail("a signed record is too big", input);
  absl::StatusOr<Record> back = p2p::enr::DecodeRecord(*enc);
  if (!back.ok()) {
    Fail(absl::StrCat("a signed record did not decode: ", back.status().message()), input);
  }
  if (*back != r) Fail("a signed record decoded to something else", input);
  if (*back->VerifiedNodeId() != p2p::NodeId::FromPublicKey(p2p::DerivePublicKey(FixedKey()))) {
    Fail("a signed record has another node ID", input);
  }
  CheckDecoded(*back, *enc, input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> input(data, size);

  absl::StatusOr<Record> r = p2p::enr::DecodeRecord(input);
  if (r.ok()) {
    CheckDecoded(*r, input, input);
  } else {
    CheckRejection(r.status(), input);
  }

  std::string text(reinterpret_cast<const char*>(data), size);
  if (!absl::StartsWith(text, p2p::enr::kTextPrefix)) text.insert(0, p2p::enr::kTextPrefix);
  absl::StatusOr<Record> t = p2p::enr::ParseText(text);
  if (!t.ok()) CheckRejection(t.status(), input);

  BuildAndSign(input);
  return 0;
}
