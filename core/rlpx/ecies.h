// ECIES over secp256k1 as RLPx uses it (go-ethereum crypto/ecies with
// ECIES_AES128_SHA256, s1 empty): the handshake packets are encrypted to the
// peer's static node key with it.
//
//   z        = ECDH(R-private, recipient-public), raw X coordinate (32 bytes)
//   K        = concat-KDF-SHA256(z), 32 bytes: SHA-256(counter(4, BE) || z),
//              counter from 1 (one round is enough for 32 bytes)
//   kE       = K[0:16]            (AES-128 key)
//   kM       = SHA-256(K[16:32])  (HMAC key)
//   c        = AES-128-CTR(kE, iv, plaintext), iv random (16 bytes)
//   tag      = HMAC-SHA256(kM, iv || c || shared_mac_data)
//   wire     = R(65: 0x04 || X || Y) || iv(16) || c || tag(32)
//
// shared_mac_data ("s2") is authenticated but not transmitted: RLPx passes
// the 2-byte size prefix of an EIP-8 packet, and nothing for the legacy
// (pre-EIP-8) packets.
//
// Pure functions of their inputs (randomness only from the Entropy passed
// in); thread-compatible.
#ifndef P2P_CORE_RLPX_ECIES_H_
#define P2P_CORE_RLPX_ECIES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/rng.h"

namespace p2p::rlpx {

// Bytes ECIES adds to a plaintext: R (65) + IV (16) + tag (32).
constexpr size_t kEciesOverhead = 65 + 16 + 32;

// Encrypts `plaintext` to `remote`, drawing a fresh ephemeral key R and IV
// from `entropy` (in that order). The result is
// plaintext.size() + kEciesOverhead bytes. Errors: InvalidArgument if
// `remote` is not a curve point (the zero placeholder).
absl::StatusOr<std::vector<uint8_t>> EciesEncrypt(const PublicKey& remote,
                                                  absl::Span<const uint8_t> plaintext,
                                                  absl::Span<const uint8_t> shared_mac_data,
                                                  Entropy& entropy);

// EciesEncrypt with the ephemeral key and IV given: for known-answer tests.
absl::StatusOr<std::vector<uint8_t>> EciesEncryptWith(const PublicKey& remote,
                                                      const PrivateKey& ephemeral,
                                                      const std::array<uint8_t, 16>& iv,
                                                      absl::Span<const uint8_t> plaintext,
                                                      absl::Span<const uint8_t> shared_mac_data);

// Decrypts `wire` with `priv`. The tag is checked (in constant time) before
// anything is decrypted. Errors, all InvalidArgument, checked in this order:
//   "ecies: message too short: N bytes, need at least 113"
//   "ecies: invalid public key prefix 0xNN (want 0x04)"
//   "ecies: invalid public key: <why>"   (R is not a point on the curve)
//   "ecies: invalid message tag"          (tampered data, wrong
//                                          shared_mac_data or wrong key)
absl::StatusOr<std::vector<uint8_t>> EciesDecrypt(const PrivateKey& priv,
                                                  absl::Span<const uint8_t> wire,
                                                  absl::Span<const uint8_t> shared_mac_data);

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_ECIES_H_
