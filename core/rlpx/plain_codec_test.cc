#include "core/rlpx/plain_codec.h"

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "core/hex.h"
#include "core/rlpx/frame.h"
#include "gtest/gtest.h"

namespace p2p::rlpx {
namespace {

using Bytes = std::vector<uint8_t>;

ModelledKey KeyOf(uint8_t fill) {
  ModelledKey k;
  k.fill(fill);
  return k;
}

PlainCodec NewCodec(FrameReaderOptions options = {}) {
  absl::StatusOr<PlainCodec> c = PlainCodec::Create(options);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

// Drains every complete message.
std::vector<Message> DrainAll(PlainCodec& c) {
  std::vector<Message> out;
  for (;;) {
    absl::StatusOr<std::optional<Message>> m = c.Next();
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok() || !m->has_value()) return out;
    out.push_back(std::move(**m));
  }
}

// ------------------------------------------------- modelled handshake packets

TEST(ModelledHandshakeTest, AuthLayout) {
  const Bytes auth = EncodeModelledAuth(KeyOf(0x11), KeyOf(0x22));
  ASSERT_EQ(auth.size(), kModelledAuthPacketBytes);
  EXPECT_EQ(auth.size(), 134u);
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(auth).first(6)), "00844d444c31");  // 132, "MDL1".
  EXPECT_EQ(Bytes(auth.begin() + 6, auth.begin() + 70), Bytes(64, 0x11));
  EXPECT_EQ(Bytes(auth.begin() + 70, auth.end()), Bytes(64, 0x22));

  absl::StatusOr<ModelledAuth> decoded = DecodeModelledAuth(auth);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->initiator_key, KeyOf(0x11));
  EXPECT_EQ(decoded->recipient_key, KeyOf(0x22));
}

TEST(ModelledHandshakeTest, AckLayout) {
  const Bytes ack = EncodeModelledAck(KeyOf(0x33));
  ASSERT_EQ(ack.size(), kModelledAckPacketBytes);
  EXPECT_EQ(ack.size(), 70u);
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(ack).first(6)), "00444d444c31");  // 68, "MDL1".
  absl::StatusOr<ModelledKey> key = DecodeModelledAck(ack);
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(*key, KeyOf(0x33));
}

TEST(ModelledHandshakeTest, PacketSizeFromAStream) {
  const Bytes auth = EncodeModelledAuth(KeyOf(1), KeyOf(2));
  EXPECT_EQ(ModelledPacketSize(ModelledPacket::kAuth, {}).value(), 2u);
  EXPECT_EQ(ModelledPacketSize(ModelledPacket::kAuth, absl::MakeConstSpan(auth).first(1)).value(),
            2u);
  EXPECT_EQ(ModelledPacketSize(ModelledPacket::kAuth, absl::MakeConstSpan(auth).first(2)).value(),
            134u);
  Bytes longer = auth;
  longer.push_back(0x99);  // The next packet's bytes do not matter.
  EXPECT_EQ(ModelledPacketSize(ModelledPacket::kAuth, longer).value(), 134u);

  // An auth where an ack is expected, and a real EIP-8 size prefix.
  EXPECT_EQ(ModelledPacketSize(ModelledPacket::kAck, auth).status(),
            absl::InvalidArgumentError("rlpx: modelled handshake: ack size 132, want 68"));
  EXPECT_EQ(ModelledPacketSize(ModelledPacket::kAuth, Bytes{0x01, 0xb3}).status(),
            absl::InvalidArgumentError("rlpx: modelled handshake: auth size 435, want 132"));
}

TEST(ModelledHandshakeTest, MalformedPackets) {
  Bytes auth = EncodeModelledAuth(KeyOf(1), KeyOf(2));
  Bytes bad_magic = auth;
  bad_magic[5] = '2';
  EXPECT_EQ(DecodeModelledAuth(bad_magic).status(),
            absl::InvalidArgumentError("rlpx: modelled handshake: bad magic"));
  Bytes truncated(auth.begin(), auth.end() - 1);
  EXPECT_EQ(
      DecodeModelledAuth(truncated).status(),
      absl::InvalidArgumentError("rlpx: modelled handshake: auth packet of 133 bytes, want 134"));
  EXPECT_EQ(DecodeModelledAuth(Bytes{}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeModelledAck(auth).status(),
            absl::InvalidArgumentError("rlpx: modelled handshake: ack size 132, want 68"));
}

// ------------------------------------------------------------ plain frames

TEST(PlainCodecTest, FrameLayout) {
  PlainCodec c = NewCodec();
  Bytes out;
  ASSERT_TRUE(c.WriteMessage(0x10, Bytes{0xaa, 0xbb}, out).ok());
  ASSERT_TRUE(c.WriteMessage(0x00, Bytes{}, out).ok());
  ASSERT_TRUE(c.WriteMessage(0x1234, Bytes{0x01}, out).ok());
  EXPECT_EQ(HexEncode(out),
            "000003"
            "10"
            "aabb"
            "000001"
            "80"
            "000004"
            "821234"
            "01");
}

TEST(PlainCodecTest, RoundTripInArbitraryChunks) {
  PlainCodec w = NewCodec();
  Bytes stream;
  const Bytes big(100000, 0x5c);
  ASSERT_TRUE(w.WriteMessage(0x10, big, stream).ok());
  ASSERT_TRUE(w.WriteMessage(0x01, Bytes{0xc1, 0x04}, stream).ok());
  ASSERT_TRUE(w.WriteMessage(uint64_t{1} << 40, Bytes{}, stream).ok());

  // Fed one byte at a time, and in one piece.
  for (size_t chunk : {size_t{1}, stream.size()}) {
    SCOPED_TRACE(chunk);
    PlainCodec r = NewCodec();
    std::vector<Message> got;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      const size_t n = std::min(chunk, stream.size() - i);
      ASSERT_TRUE(r.Feed(absl::MakeConstSpan(stream).subspan(i, n)).ok());
      for (Message& m : DrainAll(r)) got.push_back(std::move(m));
    }
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].code, 0x10u);
    EXPECT_EQ(got[0].payload, big);
    EXPECT_EQ(got[0].wire_size, big.size());
    EXPECT_EQ(got[1].code, 0x01u);
    EXPECT_EQ(got[1].payload, (Bytes{0xc1, 0x04}));
    EXPECT_EQ(got[2].code, uint64_t{1} << 40);
    EXPECT_TRUE(got[2].payload.empty());
    EXPECT_EQ(r.buffered_bytes(), 0u);
  }
}

TEST(PlainCodecTest, SnappyIsRecordedButNeverApplied) {
  PlainCodec c = NewCodec();
  c.SetSnappy(true);
  EXPECT_TRUE(c.snappy());
  const Bytes zeros(1000, 0);
  Bytes out;
  ASSERT_TRUE(c.WriteMessage(0x10, zeros, out).ok());
  EXPECT_EQ(out.size(), 3u + 1 + 1000);
  ASSERT_TRUE(c.Feed(out).ok());
  std::vector<Message> got = DrainAll(c);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, zeros);
}

TEST(PlainCodecTest, WriteRejectsOversizedMessages) {
  PlainCodec c = NewCodec();
  Bytes out = {0x42};
  const Bytes max_payload(kMaxFrameSize - 1, 0);  // With rlp(0x10): exactly kMaxFrameSize.
  ASSERT_TRUE(c.WriteMessage(0x10, max_payload, out).ok());
  EXPECT_EQ(out.size(), 1 + 3 + kMaxFrameSize);
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(out).subspan(1, 3)), "ffffff");

  out = {0x42};
  EXPECT_EQ(c.WriteMessage(0x80, max_payload, out),  // rlp(0x80) is 2 bytes.
            absl::ResourceExhaustedError("rlpx: message length >= 16MB (frame size 16777216)"));
  EXPECT_EQ(c.WriteMessage(0x10, Bytes(kMaxFrameSize + 1, 0), out),
            absl::ResourceExhaustedError("rlpx: message length >= 16MB (payload 16777216)"));
  EXPECT_EQ(out, Bytes{0x42});  // Nothing appended.
}

TEST(PlainCodecTest, ReadErrorsAreClearAndFinal) {
  struct Case {
    const char* name;
    FrameReaderOptions options;
    Bytes input;
    absl::Status want;
  };
  FrameReaderOptions small;
  small.max_frame_size = 10;
  const std::vector<Case> cases = {
      {"size over the limit", small, Bytes{0x00, 0x00, 0x0b},
       absl::ResourceExhaustedError("rlpx: frame size 11 exceeds limit 10")},
      {"empty frame", {}, Bytes{0x00, 0x00, 0x00}, absl::InvalidArgumentError("")},
      {"code is a list", {}, Bytes{0x00, 0x00, 0x01, 0xc0}, absl::InvalidArgumentError("")},
      {"code not canonical", {}, Bytes{0x00, 0x00, 0x01, 0x00}, absl::InvalidArgumentError("")},
      {"code truncated", {}, Bytes{0x00, 0x00, 0x01, 0x82}, absl::InvalidArgumentError("")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    PlainCodec r = NewCodec(c.options);
    ASSERT_TRUE(r.Feed(c.input).ok());
    absl::StatusOr<std::optional<Message>> m = r.Next();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), c.want.code()) << m.status();
    if (c.want.code() == absl::StatusCode::kInvalidArgument) {
      EXPECT_TRUE(absl::StartsWith(m.status().message(), "rlpx: invalid message code: "))
          << m.status();
    } else {
      EXPECT_EQ(m.status(), c.want);
    }
    EXPECT_TRUE(r.failed());
    EXPECT_EQ(r.Next().status(), m.status());
    EXPECT_EQ(r.Feed(Bytes{0x00}), m.status());
  }
}

TEST(PlainCodecTest, OversizedFrameIsRejectedBeforeItsBodyArrives) {
  PlainCodec r = NewCodec();  // Default: kMaxFrameSize, which any 3-byte size fits.
  ASSERT_TRUE(r.Feed(Bytes{0xff, 0xff, 0xff}).ok());
  absl::StatusOr<std::optional<Message>> m = r.Next();
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());  // Waits for 16 MB.

  FrameReaderOptions small;
  small.max_frame_size = 100;
  PlainCodec r2 = NewCodec(small);
  ASSERT_TRUE(r2.Feed(Bytes{0x00, 0x01, 0x00}).ok());  // 256, header only.
  EXPECT_EQ(r2.Next().status(),
            absl::ResourceExhaustedError("rlpx: frame size 256 exceeds limit 100"));
}

TEST(PlainCodecTest, ReadBufferIsBounded) {
  FrameReaderOptions opts;
  opts.max_buffered_bytes = 8;
  PlainCodec r = NewCodec(opts);
  ASSERT_TRUE(r.Feed(Bytes(8, 0x00)).ok());
  EXPECT_EQ(r.Feed(Bytes{0x00}),
            absl::ResourceExhaustedError(
                "rlpx: read buffer limit 8 exceeded (8 bytes buffered, 1 more fed)"));
  EXPECT_TRUE(r.failed());
  // The default bound is the real frames' one.
  PlainCodec d = NewCodec();
  EXPECT_EQ(d.Feed(Bytes(kMaxReadBufferBytes + 1, 0)).code(), absl::StatusCode::kResourceExhausted);
}

TEST(PlainCodecTest, CreateRejectsALimitAboveTheProtocolMaximum) {
  FrameReaderOptions opts;
  opts.max_frame_size = kMaxFrameSize + 1;
  EXPECT_EQ(PlainCodec::Create(opts).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace p2p::rlpx
