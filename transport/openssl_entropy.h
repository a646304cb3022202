// Production entropy: OpenSSL's CSPRNG (RAND_bytes), for node keys, ECIES
// ephemeral keys and nonces. The simulator and tests use p2p::RngEntropy
// instead, so their runs stay reproducible.
//
// Entropy::Fill cannot report failure, and continuing without randomness
// would silently produce predictable keys, so if RAND_bytes ever fails
// (OpenSSL could not seed its generator) the process aborts with
// "RAND_bytes failed: <OpenSSL error text>". Thread-safe (OpenSSL >= 1.1).
#ifndef P2P_TRANSPORT_OPENSSL_ENTROPY_H_
#define P2P_TRANSPORT_OPENSSL_ENTROPY_H_

#include <cstdint>

#include "absl/types/span.h"
#include "core/rng.h"

namespace p2p::transport {

class OpenSslEntropy : public Entropy {
 public:
  void Fill(absl::Span<uint8_t> out) override;
};

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_OPENSSL_ENTROPY_H_
