#include "core/rlpx/snappy_codec.h"

#include <string>
#include <vector>

#include "core/hex.h"
#include "core/rng.h"
#include "gtest/gtest.h"

namespace p2p::rlpx {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(SnappyCodecTest, RoundTrip) {
  Rng rng(1);
  for (size_t n : {0, 1, 5, 64, 65535, 65536, 65537, 1 << 20}) {
    Bytes plain(n);
    if (n % 2) rng.Fill(absl::MakeSpan(plain));
    Bytes c = SnappyCompress(plain);
    absl::StatusOr<size_t> len = SnappyDecodedLength(c);
    ASSERT_TRUE(len.ok());
    EXPECT_EQ(*len, n);
    absl::StatusOr<Bytes> back = SnappyDecompress(c, n);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, plain);
  }
}

TEST(SnappyCodecTest, EmptyInputIsOneByte) {
  EXPECT_EQ(HexEncode(SnappyCompress({})), "00");  // Same as golang/snappy.
}

TEST(SnappyCodecTest, DecodesGoBlock) {
  // github.com/golang/snappy Encode(nil, []byte("hello")).
  absl::StatusOr<Bytes> out = SnappyDecompress(HexOrDie("051068656c6c6f"), 100);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(std::string(out->begin(), out->end()), "hello");
}

TEST(SnappyCodecTest, LimitCheckedFromHeader) {
  Bytes c = SnappyCompress(Bytes(1000, 7));
  EXPECT_TRUE(SnappyDecompress(c, 1000).ok());
  absl::StatusOr<Bytes> r = SnappyDecompress(c, 999);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(r.status().message(), "snappy: decoded length 1000 exceeds limit 999");
  // A bare header announcing 4 GiB - 1 is refused without allocating.
  r = SnappyDecompress(HexOrDie("ffffffff0f"), 1 << 24);
  EXPECT_EQ(r.status().message(), "snappy: decoded length 4294967295 exceeds limit 16777216");
}

TEST(SnappyCodecTest, CorruptInput) {
  for (const char* hex : {"", "80", "ffffffffff", "8080808010", "0a1068656c6c6f", "051068656c", "0501", "0000"}) {
    SCOPED_TRACE(hex);
    absl::StatusOr<Bytes> r = SnappyDecompress(HexOrDie(hex), 1 << 24);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "snappy: corrupt input");
  }
  EXPECT_EQ(SnappyDecodedLength({}).status().message(), "snappy: corrupt input");
}

}  // namespace
}  // namespace p2p::rlpx
