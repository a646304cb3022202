// Cryptographically secure randomness from OpenSSL's DRBG, for key and nonce
// generation in the real-transport build (the simulator uses RngEntropy).
//
// RAND_bytes costs a lock and a getpid() (fork detection) per call and a
// handshake asks for randomness about a dozen times in small pieces, so
// requests up to kBufferBytes are served from a per-object buffer refilled
// from RAND_bytes; used bytes are wiped at once. Not thread-safe: one object
// per thread (per event loop). Do not share an object across fork().
#ifndef P2P_TRANSPORT_OPENSSL_ENTROPY_H_
#define P2P_TRANSPORT_OPENSSL_ENTROPY_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "core/rng.h"

namespace p2p::transport {

class OpenSslEntropy : public Entropy {
 public:
  static constexpr size_t kBufferBytes = 512;

  OpenSslEntropy() = default;
  ~OpenSslEntropy() override;
  OpenSslEntropy(const OpenSslEntropy&) = delete;
  OpenSslEntropy& operator=(const OpenSslEntropy&) = delete;

  void Fill(absl::Span<uint8_t> out) override;

 private:
  std::array<uint8_t, kBufferBytes> buffer_{};
  size_t available_ = 0;  // Unused bytes at the end of buffer_.
};

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_OPENSSL_ENTROPY_H_
