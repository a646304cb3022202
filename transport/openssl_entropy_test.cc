#include "transport/openssl_entropy.h"

#include <cstdint>
#include <set>
#include <vector>

#include "gtest/gtest.h"

namespace p2p::transport {
namespace {

TEST(OpenSslEntropyTest, FillsDistinctBuffers) {
  OpenSslEntropy entropy;
  std::vector<uint8_t> a(32), b(32);
  entropy.Fill(absl::MakeSpan(a));
  entropy.Fill(absl::MakeSpan(b));
  // A collision of two 256-bit draws means the generator is broken.
  EXPECT_NE(a, b);
  EXPECT_NE(a, std::vector<uint8_t>(32, 0));
}

TEST(OpenSslEntropyTest, FillsEveryByteOfALargeBuffer) {
  OpenSslEntropy entropy;
  std::vector<uint8_t> buf(1 << 20, 0);
  entropy.Fill(absl::MakeSpan(buf));
  // Every 4 KiB page gets some non-zero byte (all-zero has odds 2^-32768).
  for (size_t page = 0; page < buf.size(); page += 4096) {
    bool nonzero = false;
    for (size_t i = page; i < page + 4096; ++i) nonzero |= buf[i] != 0;
    EXPECT_TRUE(nonzero) << "page at " << page;
  }
}

TEST(OpenSslEntropyTest, EmptySpanIsFine) {
  OpenSslEntropy entropy;
  entropy.Fill(absl::Span<uint8_t>());
}

TEST(OpenSslEntropyTest, UsableThroughTheEntropySeam) {
  OpenSslEntropy impl;
  Entropy& entropy = impl;
  std::vector<uint8_t> nonce(16, 0);
  entropy.Fill(absl::MakeSpan(nonce));
  EXPECT_NE(nonce, std::vector<uint8_t>(16, 0));
}

// Small draws come from the internal buffer: across several refills every
// draw is fresh (never a wiped, all-zero or repeated slice of the buffer).
TEST(OpenSslEntropyTest, BufferedDrawsAreDistinctAcrossRefills) {
  OpenSslEntropy entropy;
  std::set<std::vector<uint8_t>> seen;
  const size_t sizes[] = {32, 16, 1, 65, 32, 7};
  size_t total = 0;
  for (int i = 0; total < 5 * OpenSslEntropy::kBufferBytes; ++i) {
    std::vector<uint8_t> draw(sizes[i % 6], 0);
    entropy.Fill(absl::MakeSpan(draw));
    total += draw.size();
    if (draw.size() >= 16) {
      EXPECT_NE(draw, std::vector<uint8_t>(draw.size(), 0)) << "draw " << i;
      EXPECT_TRUE(seen.insert(draw).second) << "draw " << i << " repeated";
    }
  }
}

}  // namespace
}  // namespace p2p::transport
