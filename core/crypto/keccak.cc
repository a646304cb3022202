#include "core/crypto/keccak.h"

#include <algorithm>
#include <cstring>

namespace p2p {
namespace {

// Iota constants, one per round (FIPS 202, Algorithm 5).
constexpr uint64_t kRoundConstants[24] = {
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL,
    0x8000000080008000ULL, 0x000000000000808bULL, 0x0000000080000001ULL,
    0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL,
    0x0000000000000088ULL, 0x0000000080008009ULL, 0x000000008000000aULL,
    0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
    0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL,
    0x000000000000800aULL, 0x800000008000000aULL, 0x8000000080008081ULL,
    0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL,
};

inline uint64_t Rotl(uint64_t v, int n) { return (v << n) | (v >> (64 - n)); }

// Little-endian load; compilers turn this into a single mov on x86-64.
inline uint64_t Load64Le(const uint8_t* p) {
  return uint64_t{p[0]} | uint64_t{p[1]} << 8 | uint64_t{p[2]} << 16 | uint64_t{p[3]} << 24 |
         uint64_t{p[4]} << 32 | uint64_t{p[5]} << 40 | uint64_t{p[6]} << 48 |
         uint64_t{p[7]} << 56;
}

// Keccak-f[1600]. Lane (x, y) is s[x + 5y]. The 25 lanes live in locals and
// each round is written out lane by lane (theta, rho+pi, chi, iota), so the
// compiler keeps the state in registers and no index arithmetic remains.
//
// Lane complementing (Keccak team, "Keccak implementation overview" 2.2):
// inside the permutation lanes 1, 2, 8, 12, 17 and 20 are kept inverted.
// theta, rho, pi and iota commute with that; chi is rewritten per lane with
// AND/OR so that it reads and writes the same inverted set, which cuts the
// NOTs of chi from 25 to 5 per round. The lanes are inverted on entry and
// restored on exit.
void KeccakF1600(uint64_t* s) {
  uint64_t a0 = s[0];
  uint64_t a1 = ~s[1];
  uint64_t a2 = ~s[2];
  uint64_t a3 = s[3];
  uint64_t a4 = s[4];
  uint64_t a5 = s[5];
  uint64_t a6 = s[6];
  uint64_t a7 = s[7];
  uint64_t a8 = ~s[8];
  uint64_t a9 = s[9];
  uint64_t a10 = s[10];
  uint64_t a11 = s[11];
  uint64_t a12 = ~s[12];
  uint64_t a13 = s[13];
  uint64_t a14 = s[14];
  uint64_t a15 = s[15];
  uint64_t a16 = s[16];
  uint64_t a17 = ~s[17];
  uint64_t a18 = s[18];
  uint64_t a19 = s[19];
  uint64_t a20 = ~s[20];
  uint64_t a21 = s[21];
  uint64_t a22 = s[22];
  uint64_t a23 = s[23];
  uint64_t a24 = s[24];
  for (int round = 0; round < 24; ++round) {
    // theta
    const uint64_t c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20;
    const uint64_t c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21;
    const uint64_t c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22;
    const uint64_t c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23;
    const uint64_t c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24;
    const uint64_t d0 = c4 ^ Rotl(c1, 1);
    const uint64_t d1 = c0 ^ Rotl(c2, 1);
    const uint64_t d2 = c1 ^ Rotl(c3, 1);
    const uint64_t d3 = c2 ^ Rotl(c4, 1);
    const uint64_t d4 = c3 ^ Rotl(c0, 1);
    // rho and pi: lane (x, y) moves to (y, 2x + 3y), rotated
    const uint64_t b0 = a0 ^ d0;
    const uint64_t b1 = Rotl(a6 ^ d1, 44);
    const uint64_t b2 = Rotl(a12 ^ d2, 43);
    const uint64_t b3 = Rotl(a18 ^ d3, 21);
    const uint64_t b4 = Rotl(a24 ^ d4, 14);
    const uint64_t b5 = Rotl(a3 ^ d3, 28);
    const uint64_t b6 = Rotl(a9 ^ d4, 20);
    const uint64_t b7 = Rotl(a10 ^ d0, 3);
    const uint64_t b8 = Rotl(a16 ^ d1, 45);
    const uint64_t b9 = Rotl(a22 ^ d2, 61);
    const uint64_t b10 = Rotl(a1 ^ d1, 1);
    const uint64_t b11 = Rotl(a7 ^ d2, 6);
    const uint64_t b12 = Rotl(a13 ^ d3, 25);
    const uint64_t b13 = Rotl(a19 ^ d4, 8);
    const uint64_t b14 = Rotl(a20 ^ d0, 18);
    const uint64_t b15 = Rotl(a4 ^ d4, 27);
    const uint64_t b16 = Rotl(a5 ^ d0, 36);
    const uint64_t b17 = Rotl(a11 ^ d1, 10);
    const uint64_t b18 = Rotl(a17 ^ d2, 15);
    const uint64_t b19 = Rotl(a23 ^ d3, 56);
    const uint64_t b20 = Rotl(a2 ^ d2, 62);
    const uint64_t b21 = Rotl(a8 ^ d3, 55);
    const uint64_t b22 = Rotl(a14 ^ d4, 39);
    const uint64_t b23 = Rotl(a15 ^ d0, 41);
    const uint64_t b24 = Rotl(a21 ^ d1, 2);
    // chi, on the complemented representation
    const uint64_t nb2 = ~b2;
    a0 = b0 ^ (b1 | b2);
    a1 = b1 ^ (nb2 | b3);
    a2 = b2 ^ (b3 & b4);
    a3 = b3 ^ (b4 | b0);
    a4 = b4 ^ (b0 & b1);
    const uint64_t nb9 = ~b9;
    a5 = b5 ^ (b6 | b7);
    a6 = b6 ^ (b7 & b8);
    a7 = b7 ^ (b8 | nb9);
    a8 = b8 ^ (b9 | b5);
    a9 = b9 ^ (b5 & b6);
    const uint64_t nb13 = ~b13;
    a10 = b10 ^ (b11 | b12);
    a11 = b11 ^ (b12 & b13);
    a12 = b12 ^ (nb13 & b14);
    a13 = nb13 ^ (b14 | b10);
    a14 = b14 ^ (b10 & b11);
    const uint64_t nb18 = ~b18;
    a15 = b15 ^ (b16 & b17);
    a16 = b16 ^ (b17 | b18);
    a17 = b17 ^ (nb18 | b19);
    a18 = nb18 ^ (b19 & b15);
    a19 = b19 ^ (b15 | b16);
    const uint64_t nb21 = ~b21;
    a20 = b20 ^ (nb21 & b22);
    a21 = nb21 ^ (b22 | b23);
    a22 = b22 ^ (b23 & b24);
    a23 = b23 ^ (b24 | b20);
    a24 = b24 ^ (b20 & b21);
    // iota
    a0 ^= kRoundConstants[round];
  }
  s[0] = a0;
  s[1] = ~a1;
  s[2] = ~a2;
  s[3] = a3;
  s[4] = a4;
  s[5] = a5;
  s[6] = a6;
  s[7] = a7;
  s[8] = ~a8;
  s[9] = a9;
  s[10] = a10;
  s[11] = a11;
  s[12] = ~a12;
  s[13] = a13;
  s[14] = a14;
  s[15] = a15;
  s[16] = a16;
  s[17] = ~a17;
  s[18] = a18;
  s[19] = a19;
  s[20] = ~a20;
  s[21] = a21;
  s[22] = a22;
  s[23] = a23;
  s[24] = a24;
}

constexpr size_t kRateLanes = Keccak256::kRateBytes / 8;

void XorFullBlock(uint64_t* s, const uint8_t* p) {
  for (size_t i = 0; i < kRateLanes; ++i) s[i] ^= Load64Le(p + 8 * i);
}

// XORs n bytes into the state starting at byte `offset` (offset + n <= rate).
void XorBytes(uint64_t* s, size_t offset, const uint8_t* p, size_t n) {
  while (n > 0 && offset % 8 != 0) {
    s[offset / 8] ^= uint64_t{*p} << (8 * (offset % 8));
    ++offset, ++p, --n;
  }
  while (n >= 8) {
    s[offset / 8] ^= Load64Le(p);
    offset += 8, p += 8, n -= 8;
  }
  while (n > 0) {
    s[offset / 8] ^= uint64_t{*p} << (8 * (offset % 8));
    ++offset, ++p, --n;
  }
}

}  // namespace

void Keccak256::Reset() {
  std::fill(std::begin(lanes_), std::end(lanes_), 0);
  offset_ = 0;
}

void Keccak256::Update(absl::Span<const uint8_t> data) {
  const uint8_t* p = data.data();
  size_t n = data.size();
  if (offset_ > 0) {
    const size_t take = std::min(n, kRateBytes - offset_);
    XorBytes(lanes_, offset_, p, take);
    offset_ += take;
    p += take;
    n -= take;
    if (offset_ < kRateBytes) return;
    KeccakF1600(lanes_);
    offset_ = 0;
  }
  while (n >= kRateBytes) {
    XorFullBlock(lanes_, p);
    KeccakF1600(lanes_);
    p += kRateBytes;
    n -= kRateBytes;
  }
  if (n > 0) {
    XorBytes(lanes_, 0, p, n);
    offset_ = n;
  }
}

std::array<uint8_t, Keccak256::kDigestBytes> Keccak256::Finish(uint8_t domain) const {
  uint64_t s[25];
  std::memcpy(s, lanes_, sizeof(s));
  // pad10*1 with the domain bits in front; both land in one byte when
  // offset_ == kRateBytes - 1.
  s[offset_ / 8] ^= uint64_t{domain} << (8 * (offset_ % 8));
  s[kRateLanes - 1] ^= uint64_t{0x80} << 56;
  KeccakF1600(s);
  std::array<uint8_t, kDigestBytes> out;
  for (size_t i = 0; i < kDigestBytes; ++i) out[i] = static_cast<uint8_t>(s[i / 8] >> (8 * (i % 8)));
  return out;
}

std::array<uint8_t, 32> Keccak256Hash(absl::Span<const uint8_t> data) {
  Keccak256 h;
  h.Update(data);
  return h.Digest();
}

std::array<uint8_t, 32> Keccak256Hash(absl::string_view data) {
  Keccak256 h;
  h.Update(data);
  return h.Digest();
}

std::array<uint8_t, 32> Sha3_256ForTesting(absl::Span<const uint8_t> data) {
  Keccak256 h;
  h.Update(data);
  return h.Finish(0x06);
}

}  // namespace p2p
