#include "core/rng.h"

#include "absl/base/internal/raw_logging.h"
#include "absl/numeric/int128.h"

namespace p2p {
namespace {

uint64_t SplitMix64(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t& w : s_) w = SplitMix64(x);
}

uint64_t Rng::Next64() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

uint64_t Rng::Uniform(uint64_t n) {
  ABSL_RAW_CHECK(n > 0, "Rng::Uniform: n must be positive");
  absl::uint128 m = absl::uint128(Next64()) * n;
  uint64_t low = absl::Uint128Low64(m);
  if (low < n) {
    const uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = absl::uint128(Next64()) * n;
      low = absl::Uint128Low64(m);
    }
  }
  return absl::Uint128High64(m);
}

int64_t Rng::Range(int64_t lo, int64_t hi) {
  ABSL_RAW_CHECK(lo <= hi, "Rng::Range: lo > hi");
  uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span == UINT64_MAX) return static_cast<int64_t>(Next64());
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + Uniform(span + 1));
}

bool Rng::Chance(uint64_t num, uint64_t den) {
  ABSL_RAW_CHECK(den > 0 && num <= den, "Rng::Chance: need 0 <= num <= den");
  if (num == 0) return false;
  if (num == den) return true;
  return Uniform(den) < num;
}

void Rng::Fill(absl::Span<uint8_t> out) {
  size_t i = 0;
  while (i < out.size()) {
    uint64_t v = Next64();
    // Little-endian byte order on every host, for reproducible streams.
    for (int j = 0; j < 8 && i < out.size(); ++j, ++i) {
      out[i] = static_cast<uint8_t>(v >> (8 * j));
    }
  }
}

Rng Rng::Fork() {
  // Seed the child from two outputs mixed together; the parent advances.
  uint64_t a = Next64();
  uint64_t b = Next64();
  return Rng(a ^ Rotl(b, 32) ^ 0x6a09e667f3bcc909ULL);
}

Rng Rng::ForkFor(uint64_t stream) const {
  uint64_t x = s_[0] ^ Rotl(s_[1], 13) ^ Rotl(s_[2], 29) ^ Rotl(s_[3], 47);
  x ^= SplitMix64(stream);
  return Rng(x);
}

}  // namespace p2p
