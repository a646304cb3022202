// The original Keccak-256 hash (the 2011 SHA-3 submission), as Ethereum uses
// it everywhere: node IDs, discv4 packet hashes, RLPx secrets and MACs. It
// differs from FIPS 202 SHA3-256 only in the padding byte (0x01 here, 0x06
// there), which is why OpenSSL's SHA3 cannot stand in for it.
#ifndef P2P_CORE_CRYPTO_KECCAK_H_
#define P2P_CORE_CRYPTO_KECCAK_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace p2p {

// An incremental Keccak-256 sponge. Value type: copying it forks the state.
//
// Digest() does not disturb the state: it returns the hash of everything
// absorbed so far and absorbing may continue afterwards, exactly like Go's
// hash.Hash.Sum. The RLPx frame MACs are built on this property.
//
// Not thread-safe; no allocation; every call is O(input) and cannot fail.
class Keccak256 {
 public:
  static constexpr size_t kDigestBytes = 32;
  // Bytes absorbed per permutation: (1600 - 2 * 256) / 8.
  static constexpr size_t kRateBytes = 136;

  Keccak256() { Reset(); }

  // Absorbs `data`.
  void Update(absl::Span<const uint8_t> data);
  void Update(absl::string_view data) {
    Update(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  }

  // The hash of all bytes absorbed since construction or the last Reset().
  std::array<uint8_t, kDigestBytes> Digest() const { return Finish(0x01); }

  // Returns to the empty state.
  void Reset();

 private:
  friend std::array<uint8_t, 32> Sha3_256ForTesting(absl::Span<const uint8_t> data);

  // Pads a copy of the state with `domain` ... 0x80 and squeezes 32 bytes.
  std::array<uint8_t, kDigestBytes> Finish(uint8_t domain) const;

  uint64_t lanes_[25];
  size_t offset_;  // Bytes of the current block already absorbed, < kRateBytes.
};

// One-shot Keccak-256.
std::array<uint8_t, 32> Keccak256Hash(absl::Span<const uint8_t> data);
std::array<uint8_t, 32> Keccak256Hash(absl::string_view data);

// FIPS 202 SHA3-256 over the same sponge (padding 0x06). Only for tests,
// which cross-check the permutation and absorption against OpenSSL's SHA3.
std::array<uint8_t, 32> Sha3_256ForTesting(absl::Span<const uint8_t> data);

}  // namespace p2p

#endif  // P2P_CORE_CRYPTO_KECCAK_H_
