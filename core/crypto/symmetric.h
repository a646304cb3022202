// The one wrapper over OpenSSL's libcrypto for the symmetric primitives
// RLPx needs: AES in CTR mode (ECIES: AES-128; frames: AES-256), single AES
// blocks (the frame MAC), SHA-256 and HMAC-SHA256 (ECIES KDF and tag).
// OpenSSL's return codes become Status here and nowhere else.
#ifndef P2P_CORE_CRYPTO_SYMMETRIC_H_
#define P2P_CORE_CRYPTO_SYMMETRIC_H_

#include <array>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace p2p {

// AES-CTR keystream with a 128-bit big-endian counter block (Go's
// cipher.NewCTR). Streaming: successive Apply calls continue the stream.
// Move-only.
class AesCtr {
 public:
  // key: 16 (AES-128) or 32 (AES-256) bytes; iv: 16 bytes.
  static absl::StatusOr<AesCtr> Create(absl::Span<const uint8_t> key, absl::Span<const uint8_t> iv);
  AesCtr(AesCtr&&) noexcept;
  AesCtr& operator=(AesCtr&&) noexcept;
  ~AesCtr();

  // out = in XOR keystream; out.size() == in.size(); in-place allowed.
  void Apply(absl::Span<const uint8_t> in, absl::Span<uint8_t> out);
  void ApplyInPlace(absl::Span<uint8_t> data) { Apply(data, data); }

 private:
  struct State;
  explicit AesCtr(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// Encrypts single 16-byte blocks with a fixed key (AES-ECB, no padding).
class AesBlock {
 public:
  // key: 16 or 32 bytes.
  static absl::StatusOr<AesBlock> Create(absl::Span<const uint8_t> key);
  AesBlock(AesBlock&&) noexcept;
  AesBlock& operator=(AesBlock&&) noexcept;
  ~AesBlock();

  void Encrypt(const uint8_t in[16], uint8_t out[16]);

 private:
  struct State;
  explicit AesBlock(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

std::array<uint8_t, 32> Sha256(absl::Span<const uint8_t> data);

// HMAC-SHA256 over the concatenation of `parts`.
std::array<uint8_t, 32> HmacSha256(absl::Span<const uint8_t> key,
                                   std::initializer_list<absl::Span<const uint8_t>> parts);

// Constant-time comparison of equal-length buffers (false if lengths differ).
bool ConstantTimeEqual(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b);

}  // namespace p2p

#endif  // P2P_CORE_CRYPTO_SYMMETRIC_H_
