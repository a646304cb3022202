// secp256k1 keys, ECDH and recoverable ECDSA: the one wrapper over
// libsecp256k1. Nothing else in the project includes <secp256k1*.h>; every
// library return code is turned into an absl::Status here.
//
// Byte layouts follow go-ethereum so values can be compared with it directly:
//   - private key: 32-byte big-endian scalar in [1, n-1];
//   - public key: 64 bytes X || Y (big-endian), the discv4/RLPx wire form,
//     i.e. go-ethereum's FromECDSAPub(pub)[1:];
//   - signature: 65 bytes r || s || v with v in {0, 1} (crypto.Sign's layout);
//   - ECDH: the raw 32-byte X coordinate of priv * pub (ecies GenerateShared).
//
// The library context: one process-wide secp256k1_context, created on first
// use by a function-local static (thread-safe initialisation) and never
// destroyed. Every operation here uses it read-only, which libsecp256k1
// documents as safe from any number of threads. Results never depend on the
// context, so runs stay reproducible; RandomizeSecp256k1Context() only adds
// side-channel blinding.
#ifndef P2P_CORE_CRYPTO_SECP256K1_H_
#define P2P_CORE_CRYPTO_SECP256K1_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/rng.h"

namespace p2p {

// A valid secp256k1 secret key (0 < k < n). Only the factories make one, so
// holding a PrivateKey means holding a usable key. The bytes are wiped on
// destruction (best effort: copies made by the caller are the caller's).
class PrivateKey {
 public:
  static constexpr size_t kBytes = 32;

  // Errors: InvalidArgument for a length other than 32, or a scalar that is
  // zero or not below the group order.
  static absl::StatusOr<PrivateKey> FromBytes(absl::Span<const uint8_t> bytes);
  // 64 hex digits (go-ethereum's HexToECDSA); errors as FromBytes plus bad hex.
  static absl::StatusOr<PrivateKey> FromHex(absl::string_view hex);
  // Draws 32-byte candidates from `entropy` until one is a valid key (the
  // chance that a draw is rejected is below 2^-127).
  static PrivateKey Generate(Entropy& entropy);

  PrivateKey(const PrivateKey&) = default;
  PrivateKey& operator=(const PrivateKey&) = default;
  ~PrivateKey();

  const std::array<uint8_t, kBytes>& bytes() const { return b_; }

  friend bool operator==(const PrivateKey& a, const PrivateKey& b) { return a.b_ == b.b_; }
  friend bool operator!=(const PrivateKey& a, const PrivateKey& b) { return a.b_ != b.b_; }

 private:
  PrivateKey() = default;
  std::array<uint8_t, kBytes> b_{};
};

// A secp256k1 public key as its 64-byte X || Y. Every key returned by Parse,
// DerivePublicKey or RecoverPublicKey is a point on the curve. The default
// value is all zeros: a placeholder that is not a point (IsZero()); the
// operations below reject it. Value type, totally ordered by bytes, hashable.
class PublicKey {
 public:
  static constexpr size_t kBytes = 64;

  PublicKey() = default;

  // Accepts 64 bytes (X || Y), 65 bytes (0x04 || X || Y) or 33 bytes
  // (0x02/0x03 || X, compressed). Errors (InvalidArgument): any other length,
  // a wrong prefix byte, coordinates not below p, or a point that is not on
  // the curve.
  static absl::StatusOr<PublicKey> Parse(absl::Span<const uint8_t> bytes);
  // Hex of any form Parse accepts.
  static absl::StatusOr<PublicKey> FromHex(absl::string_view hex);

  const std::array<uint8_t, kBytes>& bytes() const { return b_; }
  bool IsZero() const;

  // 0x04 || X || Y.
  std::array<uint8_t, 65> SerializeUncompressed65() const;
  // (0x02 | parity(Y)) || X.
  std::array<uint8_t, 33> SerializeCompressed33() const;
  // 128 lower-case hex digits of X || Y.
  std::string ToHex() const;

  friend bool operator==(const PublicKey& a, const PublicKey& b) { return a.b_ == b.b_; }
  friend bool operator!=(const PublicKey& a, const PublicKey& b) { return a.b_ != b.b_; }
  friend bool operator<(const PublicKey& a, const PublicKey& b) { return a.b_ < b.b_; }
  template <typename H>
  friend H AbslHashValue(H h, const PublicKey& k) {
    return H::combine(std::move(h), k.b_);
  }

 private:
  std::array<uint8_t, kBytes> b_{};
};

// The public key of `priv`.
PublicKey DerivePublicKey(const PrivateKey& priv);

// The X coordinate of priv * pub, unhashed: go-ethereum's
// ecies.PrivateKey.GenerateShared(pub, 16, 16) and the RLPx ECDHE secret.
// Errors: InvalidArgument if `pub` is not a point (e.g. the zero placeholder).
absl::StatusOr<std::array<uint8_t, 32>> Ecdh(const PrivateKey& priv, const PublicKey& pub);

// Deterministic (RFC 6979) ECDSA signature over a 32-byte hash, with low s,
// serialized r || s || v, v = recovery id in {0, 1}: byte-identical to
// go-ethereum's crypto.Sign. Errors: InvalidArgument if `hash` is not 32
// bytes; Internal if the library refuses (never for a valid key).
absl::StatusOr<std::array<uint8_t, 65>> SignRecoverable(const PrivateKey& priv,
                                                        absl::Span<const uint8_t> hash);

// The public key that produced `sig` (r || s || v) over `hash`: go-ethereum's
// crypto.Ecrecover / SigToPub. Errors (InvalidArgument): hash not 32 bytes,
// sig not 65 bytes, v > 3, r or s not below n, or no key recovers.
absl::StatusOr<PublicKey> RecoverPublicKey(absl::Span<const uint8_t> hash,
                                           absl::Span<const uint8_t> sig);

// Whether `sig`, a 64-byte r || s signature without recovery id, is valid
// for `hash` (32 bytes) under `pub`: go-ethereum's crypto.VerifySignature,
// used by the ENR "v4" identity scheme. Like it, rejects a high s (above
// n/2, the malleable twin of a valid signature), an r or s not below n, any
// other length, and the zero placeholder key. Never fails otherwise.
bool VerifySignature(const PublicKey& pub, absl::Span<const uint8_t> hash,
                     absl::Span<const uint8_t> sig);

// Optional hardening for production: re-blinds the shared context's
// signing and key-derivation computations with 32 bytes from `entropy`.
// Call it once at start-up, before any other thread uses this module (it is
// the only call that mutates the context). Results of every operation are
// unchanged. Errors: Internal if the library refuses.
absl::Status RandomizeSecp256k1Context(Entropy& entropy);

}  // namespace p2p

#endif  // P2P_CORE_CRYPTO_SECP256K1_H_
