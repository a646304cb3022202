// Hexadecimal encoding for keys, IDs, hashes and test vectors.
#ifndef P2P_CORE_HEX_H_
#define P2P_CORE_HEX_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace p2p {

// Lower-case hex, two digits a byte, no prefix.
std::string HexEncode(absl::Span<const uint8_t> bytes);

// Decodes hex digits (either case). An optional "0x" prefix is accepted;
// whitespace is not. Errors: odd length, a non-hex character (named with
// its offset).
absl::StatusOr<std::vector<uint8_t>> HexDecode(absl::string_view hex);

// For tests and constants: decodes or crashes with the message.
std::vector<uint8_t> HexOrDie(absl::string_view hex);

}  // namespace p2p

#endif  // P2P_CORE_HEX_H_
