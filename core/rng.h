// Deterministic randomness. core/ and sim/ never use the OS or C library
// random sources or the standard distributions (their output differs between
// standard libraries); every random decision goes through an Rng that was
// forked from one root seed, so a run is reproduced by its seed alone.
#ifndef P2P_CORE_RNG_H_
#define P2P_CORE_RNG_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace p2p {

// xoshiro256** seeded through splitmix64. Not cryptographic. Copyable (a
// copy continues the same stream). All distributions use integer arithmetic
// only, so results are identical on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed);

  // Uniform 64-bit value.
  uint64_t Next64();
  // Uniform in [0, n); n must be > 0. Unbiased (Lemire's method).
  uint64_t Uniform(uint64_t n);
  // Go's rand.Intn: uniform in [0, n); n must be > 0.
  int Intn(int n) { return static_cast<int>(Uniform(static_cast<uint64_t>(n))); }
  // Uniform in [lo, hi]; lo <= hi.
  int64_t Range(int64_t lo, int64_t hi);
  // True with probability num/den (0 <= num <= den, den > 0).
  bool Chance(uint64_t num, uint64_t den);
  // Fills `out` with random bytes.
  void Fill(absl::Span<uint8_t> out);

  // Derives an independent stream and advances this one. Forking in a fixed
  // order (node 0, node 1, ...) gives every component a stable stream.
  Rng Fork();
  // Derives a stream for a named purpose without consuming from this one:
  // ForkFor(k) depends only on this Rng's current state and k.
  Rng ForkFor(uint64_t stream) const;

 private:
  uint64_t s_[4];
};

// Source of unpredictable bytes for keys and nonces. Production uses
// OpenSSL (transport/openssl_entropy.h); the simulator and tests use
// RngEntropy so runs are reproducible.
class Entropy {
 public:
  virtual ~Entropy() = default;
  virtual void Fill(absl::Span<uint8_t> out) = 0;
};

// Entropy from a deterministic Rng. For simulation and tests only.
class RngEntropy : public Entropy {
 public:
  explicit RngEntropy(Rng rng) : rng_(rng) {}
  void Fill(absl::Span<uint8_t> out) override { rng_.Fill(out); }

 private:
  Rng rng_;
};

}  // namespace p2p

#endif  // P2P_CORE_RNG_H_
