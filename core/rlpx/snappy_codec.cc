#include "core/rlpx/snappy_codec.h"

#include <snappy.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace p2p::rlpx {
namespace {

const char* AsChars(absl::Span<const uint8_t> s) { return reinterpret_cast<const char*>(s.data()); }

absl::Status CorruptInput() { return absl::InvalidArgumentError("snappy: corrupt input"); }

}  // namespace

std::vector<uint8_t> SnappyCompress(absl::Span<const uint8_t> input) {
  std::vector<uint8_t> out(snappy::MaxCompressedLength(input.size()));
  size_t n = 0;
  snappy::RawCompress(AsChars(input), input.size(), reinterpret_cast<char*>(out.data()), &n);
  out.resize(n);
  return out;
}

absl::StatusOr<size_t> SnappyDecodedLength(absl::Span<const uint8_t> compressed) {
  size_t n = 0;
  // Parses only the varint header; rejects a missing or over-long one.
  if (!snappy::GetUncompressedLength(AsChars(compressed), compressed.size(), &n)) {
    return CorruptInput();
  }
  return n;
}

absl::StatusOr<std::vector<uint8_t>> SnappyDecompress(absl::Span<const uint8_t> compressed,
                                                      size_t max_decoded_bytes) {
  absl::StatusOr<size_t> n = SnappyDecodedLength(compressed);
  if (!n.ok()) return n.status();
  if (*n > max_decoded_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("snappy: decoded length ", *n, " exceeds limit ", max_decoded_bytes));
  }
  // A few bytes can announce up to max_decoded_bytes; validate the body (a
  // decoding pass that writes nothing) before allocating for it.
  if (!snappy::IsValidCompressedBuffer(AsChars(compressed), compressed.size())) {
    return CorruptInput();
  }
  std::vector<uint8_t> out(*n);
  // RawUncompress also fails unless the body produces exactly the announced
  // length without reading or writing out of bounds.
  if (!snappy::RawUncompress(AsChars(compressed), compressed.size(),
                             reinterpret_cast<char*>(out.data()))) {
    return CorruptInput();
  }
  return out;
}

}  // namespace p2p::rlpx
