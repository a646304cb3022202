#include "core/rng.h"

#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace p2p {
namespace {

TEST(RngTest, SameSeedSameStream) {
  Rng a(42), b(42);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.Next64(), b.Next64());
}

TEST(RngTest, DifferentSeedsDiffer) {
  Rng a(1), b(2);
  int same = 0;
  for (int i = 0; i < 100; ++i) same += a.Next64() == b.Next64();
  EXPECT_EQ(same, 0);
}

// Pins the generator's output: a change here changes every trace hash.
TEST(RngTest, KnownAnswer) {
  Rng r(0);
  EXPECT_EQ(r.Next64(), 0x99ec5f36cb75f2b4ULL);
  EXPECT_EQ(r.Next64(), 0xbf6e1f784956452aULL);
}

TEST(RngTest, UniformStaysInRangeAndCoversIt) {
  Rng r(7);
  std::vector<int> hits(10);
  for (int i = 0; i < 10000; ++i) {
    uint64_t v = r.Uniform(10);
    ASSERT_LT(v, 10u);
    hits[v]++;
  }
  for (int h : hits) {
    EXPECT_GT(h, 850);
    EXPECT_LT(h, 1150);
  }
  EXPECT_EQ(r.Uniform(1), 0u);
}

TEST(RngTest, RangeIsInclusive) {
  Rng r(3);
  std::set<int64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    int64_t v = r.Range(-2, 2);
    ASSERT_GE(v, -2);
    ASSERT_LE(v, 2);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 5u);
  EXPECT_EQ(r.Range(5, 5), 5);
}

TEST(RngTest, ChanceExtremesAreExact) {
  Rng r(9);
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(r.Chance(0, 3));
    EXPECT_TRUE(r.Chance(3, 3));
  }
  int yes = 0;
  for (int i = 0; i < 10000; ++i) yes += r.Chance(1, 4);
  EXPECT_GT(yes, 2200);
  EXPECT_LT(yes, 2800);
}

TEST(RngTest, ForkIsDeterministicAndIndependent) {
  Rng a(5), b(5);
  Rng fa = a.Fork(), fb = b.Fork();
  EXPECT_EQ(fa.Next64(), fb.Next64());
  EXPECT_EQ(a.Next64(), b.Next64());  // Parents stay in step.
  Rng c(5);
  Rng fc = c.Fork();
  Rng fc2 = c.Fork();
  EXPECT_NE(fc.Next64(), fc2.Next64());
}

TEST(RngTest, ForkForDoesNotAdvanceParent) {
  Rng a(11), b(11);
  Rng s1 = a.ForkFor(1);
  Rng s2 = a.ForkFor(2);
  Rng s1again = a.ForkFor(1);
  EXPECT_NE(s1.Next64(), s2.Next64());
  EXPECT_EQ(Rng(a.ForkFor(1)).Next64(), s1again.Next64());
  EXPECT_EQ(a.Next64(), b.Next64());
}

TEST(RngTest, FillIsLittleEndianOfNext64) {
  Rng a(13), b(13);
  uint8_t buf[11];
  a.Fill(absl::MakeSpan(buf));
  uint64_t v0 = b.Next64();
  uint64_t v1 = b.Next64();
  for (int i = 0; i < 8; ++i) EXPECT_EQ(buf[i], static_cast<uint8_t>(v0 >> (8 * i)));
  for (int i = 8; i < 11; ++i) EXPECT_EQ(buf[i], static_cast<uint8_t>(v1 >> (8 * (i - 8))));
}

}  // namespace
}  // namespace p2p
