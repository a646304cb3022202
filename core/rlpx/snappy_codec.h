// The one wrapper over the C++ snappy library (block format, as
// github.com/golang/snappy's Encode/Decode that go-ethereum uses for p2p v5
// message compression). Nothing else in the project includes <snappy.h>;
// the library's boolean failures become absl::Status here.
#ifndef P2P_CORE_RLPX_SNAPPY_CODEC_H_
#define P2P_CORE_RLPX_SNAPPY_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace p2p::rlpx {

// Compresses `input` as one snappy block (varint uncompressed length, then
// literals and copies). Never fails. The output may differ byte-wise from Go's
// encoder; each decodes the other's.
std::vector<uint8_t> SnappyCompress(absl::Span<const uint8_t> input);

// The uncompressed length announced by the block's varint header, without
// decoding the block. Error (InvalidArgument "snappy: corrupt input"): the
// header is missing, truncated or overflows 32 bits.
absl::StatusOr<size_t> SnappyDecodedLength(absl::Span<const uint8_t> compressed);

// Decompresses one snappy block. The length header is checked against
// `max_decoded_bytes`, and the whole block validated, before the output is
// allocated, so a small hostile input cannot make us reserve a large buffer
// (a "snappy bomb").
// Errors:
//   InvalidArgument "snappy: corrupt input": bad header, or a body that does
//     not decode to exactly the announced length;
//   ResourceExhausted "snappy: decoded length N exceeds limit M".
absl::StatusOr<std::vector<uint8_t>> SnappyDecompress(absl::Span<const uint8_t> compressed,
                                                      size_t max_decoded_bytes);

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_SNAPPY_CODEC_H_
