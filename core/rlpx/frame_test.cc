#include "core/rlpx/frame.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/keccak.h"
#include "core/crypto/symmetric.h"
#include "core/hex.h"
#include "core/rlpx/eip8_vectors_testing.h"
#include "core/rlpx/snappy_codec.h"
#include "core/rng.h"
#include "gtest/gtest.h"

namespace p2p::rlpx {
namespace {

using Bytes = std::vector<uint8_t>;

// EIP-8's (Auth2, Ack2) session between A (initiator) and B (recipient).
using eip8::kAck2;
using eip8::kAesSecret;
using eip8::kAuth2;
using eip8::kIngressMacFoo;
using eip8::kMacSecret;
using eip8::kNonceA;
using eip8::kNonceB;

template <size_t N>
std::array<uint8_t, N> ArrayOrDie(const char* hex) {
  Bytes b = HexOrDie(hex);
  std::array<uint8_t, N> a{};
  EXPECT_EQ(b.size(), N);
  std::memcpy(a.data(), b.data(), std::min(N, b.size()));
  return a;
}

// keccak((mac ^ nonce) || packet), as a handshake seeds the MAC states.
Keccak256 SeedMac(const std::array<uint8_t, 32>& mac, const char* nonce_hex, const char* packet_hex) {
  Bytes nonce = HexOrDie(nonce_hex);
  uint8_t x[32];
  for (int i = 0; i < 32; ++i) x[i] = mac[i] ^ nonce[i];
  Keccak256 k;
  k.Update(absl::MakeConstSpan(x, 32));
  k.Update(HexOrDie(packet_hex));
  return k;
}

struct SecretsPair {
  Secrets a;  // Initiator.
  Secrets b;  // Recipient.
};

SecretsPair Eip8Secrets() {
  SecretsPair p;
  auto aes = ArrayOrDie<32>(kAesSecret);
  auto mac = ArrayOrDie<32>(kMacSecret);
  Keccak256 mac1 = SeedMac(mac, kNonceB, kAuth2);  // initiator egress
  Keccak256 mac2 = SeedMac(mac, kNonceA, kAck2);   // initiator ingress
  p.a.aes = p.b.aes = aes;
  p.a.mac = p.b.mac = mac;
  p.a.egress_mac = mac1;
  p.a.ingress_mac = mac2;
  p.b.egress_mac = mac2;
  p.b.ingress_mac = mac1;
  return p;
}

FrameCodec MakeCodec(const Secrets& s, FrameReaderOptions options = {}) {
  absl::StatusOr<FrameCodec> c = FrameCodec::Create(s, options);
  EXPECT_TRUE(c.ok()) << c.status();
  return std::move(*c);
}

Bytes Write(FrameCodec& c, uint64_t code, absl::Span<const uint8_t> payload) {
  Bytes out;
  absl::Status s = c.WriteMessage(code, payload, out);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// Feeds `wire` in one piece and returns the single message it holds.
Message ReadOne(FrameCodec& c, absl::Span<const uint8_t> wire) {
  EXPECT_TRUE(c.Feed(wire).ok());
  absl::StatusOr<std::optional<Message>> m = c.Next();
  EXPECT_TRUE(m.ok()) << m.status();
  if (!m.ok() || !m->has_value()) {
    ADD_FAILURE() << "no message";
    return Message{};
  }
  return std::move(**m);
}

Bytes Pattern(size_t n, uint64_t seed) {
  Bytes b(n);
  Rng rng(seed);
  rng.Fill(absl::MakeSpan(b));
  return b;
}

// The test secrets reproduce EIP-8's published ingress MAC check.
TEST(FrameTest, Eip8SecretsReproducePublishedIngressMac) {
  SecretsPair p = Eip8Secrets();
  Keccak256 ingress = p.b.ingress_mac;
  ingress.Update(absl::string_view("foo"));
  EXPECT_EQ(HexEncode(ingress.Digest()), kIngressMacFoo);
}

// go-ethereum TestFrameReadWrite: AES and MAC secrets keccak256(""), code 8,
// payload rlp([1, 2, 3, 4]). Its golden MAC halves come from a fake hash that
// always returns 0x01..., which a real Keccak state cannot imitate; the
// ciphertext halves depend only on the AES stream and must match exactly.
TEST(FrameTest, GoEthereumGoldenCiphertext) {
  Secrets s;
  s.aes = Keccak256Hash(absl::string_view(""));
  s.mac = s.aes;
  FrameCodec writer = MakeCodec(s);
  Bytes payload = HexOrDie("c401020304");
  Bytes out = Write(writer, 8, payload);
  ASSERT_EQ(out.size(), 64u);
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(out).subspan(0, 16)), "00828ddae471818bb0bfa6b551d1cb42");
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(out).subspan(32, 16)), "ba628a4ba590cb43f7848f41c4382885");

  FrameCodec reader = MakeCodec(s);  // Same ingress state as the writer's egress.
  Message m = ReadOne(reader, out);
  EXPECT_EQ(m.code, 8u);
  EXPECT_EQ(m.payload, payload);
  EXPECT_EQ(m.wire_size, 5u);
}

// Full frames over the EIP-8 session, from an independent implementation
// (pure-Python Keccak-256 + pyca/cryptography AES, which also reproduces the
// golden ciphertext above). Two frames per direction check that the CTR
// stream and the MAC state run on across frames.
TEST(FrameTest, Eip8SessionVectors) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  const char kA1[] =
      "f25926f27a7e8fa7ba4cbb3756ff0ca19f42a41b4755f5c38ad353abee06e37a"
      "3777d3dfefeae2c8e2a40120778b1d76cf23599d8234b933165d1b2bc4c8fa91";
  const char kA2[] =
      "c6b2816bb5cb17b2f98088cc80674b698b968b849edf5320ed9eb344735de76e"
      "ad6c54b63efc17cd234d260b225d49251c3536e96281869edc3dd48d207af8ee"
      "6b411eee98c5dcc6e7520446819543f2";
  const char kB1[] =
      "f25922f27a7e8fa7ba4cbb3756ff0ca16eb88c915ce7c501982883202df7a1d8"
      "3c73d2ddeceee2c8e2a40120778b1d763b0e1d0f26b821ad9150b60de0773a15";
  const char kB2[] =
      "c6b2926bb5cb17b2f98088cc80674b6900e683e87fea575cb3d67e82d27b6bf9"
      "3d6c55b43df812cb24452f012951442b3328777da5f58b4723574368c330c022";
  Bytes seventeen(17);
  for (int i = 0; i < 17; ++i) seventeen[i] = static_cast<uint8_t>(i);

  EXPECT_EQ(HexEncode(Write(a, 8, HexOrDie("c401020304"))), kA1);
  EXPECT_EQ(HexEncode(Write(a, 0x10, seventeen)), kA2);
  EXPECT_EQ(HexEncode(Write(b, 3, HexOrDie("c0"))), kB1);
  EXPECT_EQ(HexEncode(Write(b, 0, {})), kB2);

  Message m = ReadOne(b, HexOrDie(kA1));
  EXPECT_EQ(m.code, 8u);
  EXPECT_EQ(HexEncode(m.payload), "c401020304");
  m = ReadOne(b, HexOrDie(kA2));
  EXPECT_EQ(m.code, 0x10u);
  EXPECT_EQ(m.payload, seventeen);
  m = ReadOne(a, HexOrDie(kB1));
  EXPECT_EQ(m.code, 3u);
  EXPECT_EQ(HexEncode(m.payload), "c0");
  m = ReadOne(a, HexOrDie(kB2));
  EXPECT_EQ(m.code, 0u);
  EXPECT_TRUE(m.payload.empty());
}

size_t RlpUintSize(uint64_t v) {
  if (v < 0x80) return 1;  // 0 is 0x80, 1..0x7f themselves.
  size_t n = 0;
  for (; v != 0; v >>= 8) ++n;
  return 1 + n;
}

const size_t kSizes[] = {0, 1, 2, 14, 15, 16, 17, 31, 32, 33, 100, 1023, 1024, 4096, 65535, 65536, 100000, 1 << 20};

void RoundTripAllSizes(bool snappy) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  a.SetSnappy(snappy);
  b.SetSnappy(snappy);
  uint64_t code = 0;
  for (size_t n : kSizes) {
    // Alternate compressible and incompressible payloads.
    Bytes payload = (code % 2 == 0) ? Pattern(n, n) : Bytes(n, static_cast<uint8_t>(n));
    SCOPED_TRACE(absl::StrCat("size ", n, " code ", code, " snappy ", snappy));
    Bytes wire = Write(a, code, payload);
    if (!snappy) {
      EXPECT_EQ(wire.size(), kFrameOverheadBytes + (RlpUintSize(code) + n + 15) / 16 * 16);
    }
    Message m = ReadOne(b, wire);
    EXPECT_EQ(m.code, code);
    EXPECT_EQ(m.payload, payload);
    if (!snappy) {
      EXPECT_EQ(m.wire_size, n);
    }

    Bytes back = Write(b, code + 1, payload);
    m = ReadOne(a, back);
    EXPECT_EQ(m.code, code + 1);
    EXPECT_EQ(m.payload, payload);
    EXPECT_EQ(a.reader().buffered_bytes(), 0u);
    code = code * 3 + 0x41;  // 0x00, 0x41, 0x104, ...: 1-, 2- and 3-byte codes.
  }
}

TEST(FrameTest, RoundTripBothDirectionsManySizes) { RoundTripAllSizes(false); }
TEST(FrameTest, SnappyRoundTripBothDirectionsManySizes) { RoundTripAllSizes(true); }

TEST(FrameTest, LargestCodesRoundTrip) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  for (uint64_t code : {uint64_t{0x7f}, uint64_t{0x80}, uint64_t{0xff}, ~uint64_t{0}}) {
    Message m = ReadOne(b, Write(a, code, HexOrDie("c0")));
    EXPECT_EQ(m.code, code);
  }
}

TEST(FrameTest, SnappyCompressesOnTheWire) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  a.SetSnappy(true);
  b.SetSnappy(true);
  Bytes payload(4096, 0x61);
  Bytes wire = Write(a, 0x10, payload);
  EXPECT_LT(wire.size(), 300u);  // Snappy copies are at most 64 bytes: ~3 bytes per 64.
  Message m = ReadOne(b, wire);
  EXPECT_EQ(m.payload, payload);
  EXPECT_EQ(m.wire_size, wire.size() - kFrameOverheadBytes - 1 - (16 - (1 + m.wire_size) % 16) % 16);
  EXPECT_LT(m.wire_size, payload.size() / 10);

  // An empty payload compresses to the single length byte 00.
  m = ReadOne(b, Write(a, 2, {}));
  EXPECT_EQ(m.code, 2u);
  EXPECT_TRUE(m.payload.empty());
  EXPECT_EQ(m.wire_size, 1u);
}

// Snappy switched on mid-stream (after the Hello) on both ends.
TEST(FrameTest, SnappyEnabledAfterFirstMessage) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  Bytes hello = Pattern(300, 7);
  Message m = ReadOne(b, Write(a, 0, hello));
  EXPECT_EQ(m.payload, hello);
  a.SetSnappy(true);
  b.SetSnappy(true);
  Bytes body(1000, 0x42);
  m = ReadOne(b, Write(a, 0x10, body));
  EXPECT_EQ(m.payload, body);
  EXPECT_LT(m.wire_size, body.size());
}

TEST(FrameTest, ByteByByteFeeding) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  Bytes wire;
  std::vector<Bytes> payloads;
  for (size_t n : {0, 1, 15, 16, 17, 200}) {
    payloads.push_back(Pattern(n, n + 1));
    ASSERT_TRUE(a.WriteMessage(payloads.size(), payloads.back(), wire).ok());
  }
  std::vector<Message> got;
  for (uint8_t byte : wire) {
    ASSERT_TRUE(b.Feed(absl::MakeConstSpan(&byte, 1)).ok());
    for (;;) {
      absl::StatusOr<std::optional<Message>> m = b.Next();
      ASSERT_TRUE(m.ok()) << m.status();
      if (!m->has_value()) break;
      got.push_back(std::move(**m));
    }
  }
  ASSERT_EQ(got.size(), payloads.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].code, i + 1);
    EXPECT_EQ(got[i].payload, payloads[i]);
  }
  EXPECT_EQ(b.reader().buffered_bytes(), 0u);
}

TEST(FrameTest, RandomChunksWithSnappy) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  a.SetSnappy(true);
  b.SetSnappy(true);
  Rng rng(42);
  Bytes wire;
  std::vector<Bytes> payloads;
  for (int i = 0; i < 200; ++i) {
    size_t n = rng.Uniform(3000);
    payloads.push_back(rng.Chance(1, 2) ? Pattern(n, i) : Bytes(n, static_cast<uint8_t>(i)));
    ASSERT_TRUE(a.WriteMessage(0x10 + i % 7, payloads.back(), wire).ok());
  }
  size_t pos = 0, next = 0;
  while (pos < wire.size()) {
    size_t n = std::min<size_t>(wire.size() - pos, 1 + rng.Uniform(700));
    ASSERT_TRUE(b.Feed(absl::MakeConstSpan(wire).subspan(pos, n)).ok());
    pos += n;
    for (;;) {
      absl::StatusOr<std::optional<Message>> m = b.Next();
      ASSERT_TRUE(m.ok()) << m.status();
      if (!m->has_value()) break;
      ASSERT_LT(next, payloads.size());
      EXPECT_EQ((*m)->code, 0x10 + next % 7);
      EXPECT_EQ((*m)->payload, payloads[next]);
      ++next;
    }
  }
  EXPECT_EQ(next, payloads.size());
}

TEST(FrameTest, TruncatedInputWaits) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  absl::StatusOr<std::optional<Message>> m = b.Next();
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(m->has_value());

  Bytes wire = Write(a, 5, Pattern(40, 1));  // 32 + 48 + 16 = 96 bytes.
  ASSERT_EQ(wire.size(), 96u);
  // Part of a header; a whole header; all but the last MAC byte.
  for (size_t cut : {size_t{10}, size_t{32}, size_t{95}}) {
    SCOPED_TRACE(cut);
    FrameCodec r = MakeCodec(p.b);
    ASSERT_TRUE(r.Feed(absl::MakeConstSpan(wire).first(cut)).ok());
    for (int i = 0; i < 2; ++i) {  // Asking again changes nothing.
      m = r.Next();
      ASSERT_TRUE(m.ok()) << m.status();
      EXPECT_FALSE(m->has_value());
    }
    EXPECT_FALSE(r.reader().failed());
    ASSERT_TRUE(r.Feed(absl::MakeConstSpan(wire).subspan(cut)).ok());
    m = r.Next();
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_TRUE(m->has_value());
    EXPECT_EQ((*m)->code, 5u);
  }
}

void ExpectFailedWith(FrameCodec& c, absl::StatusCode code, absl::string_view message) {
  absl::StatusOr<std::optional<Message>> m = c.Next();
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), code) << m.status();
  EXPECT_EQ(m.status().message(), message);
  EXPECT_TRUE(c.reader().failed());
  // Sticky: the same error from Next and Feed from now on.
  absl::StatusOr<std::optional<Message>> again = c.Next();
  EXPECT_EQ(again.status(), m.status());
  EXPECT_EQ(c.Feed(HexOrDie("00")), m.status());
  EXPECT_EQ(c.Next().status(), m.status());
}

// Every single-bit flip anywhere in a frame is caught by one of the MACs.
TEST(FrameTest, TamperedBytesRejected) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  Bytes wire = Write(a, 0x10, Pattern(37, 3));  // 32 + 48 + 16 = 96 bytes.
  ASSERT_EQ(wire.size(), 96u);
  for (size_t i = 0; i < wire.size(); ++i) {
    for (uint8_t bit : {0x01, 0x80}) {
      SCOPED_TRACE(absl::StrCat("byte ", i, " bit ", bit));
      Bytes bad = wire;
      bad[i] ^= bit;
      FrameCodec b = MakeCodec(p.b);
      ASSERT_TRUE(b.Feed(bad).ok());
      // Bytes 0-31: header ciphertext or header MAC; the rest: frame data or
      // frame MAC.
      ExpectFailedWith(b, absl::StatusCode::kDataLoss,
                       i < 32 ? "rlpx: bad header MAC" : "rlpx: bad frame MAC");
    }
  }
}

// A frame with a valid header followed by a corrupted one: the first is
// delivered, then the reader fails for good.
TEST(FrameTest, ErrorAfterGoodFrameIsFinal) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  Bytes wire = Write(a, 1, HexOrDie("c180"));
  Bytes second = Write(a, 2, HexOrDie("c0"));
  second.back() ^= 1;
  wire.insert(wire.end(), second.begin(), second.end());
  wire.insert(wire.end(), 10, 0);
  ASSERT_TRUE(b.Feed(wire).ok());
  absl::StatusOr<std::optional<Message>> m = b.Next();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->code, 1u);
  ExpectFailedWith(b, absl::StatusCode::kDataLoss, "rlpx: bad frame MAC");
  EXPECT_EQ(b.reader().buffered_bytes(), 0u);
}

// Seals arbitrary plaintext header and frame bytes the way a sender does,
// with the primitives directly (an independent re-implementation of the
// writer), so tests can produce authentic frames the writer never would.
class RawSealer {
 public:
  explicit RawSealer(const Secrets& s)
      : enc_(*AesCtr::Create(s.aes, Bytes(16, 0))), block_(*AesBlock::Create(s.mac)), mac_(s.egress_mac) {}

  Bytes Seal(Bytes header, Bytes frame) {
    header.resize(16, 0);
    frame.resize((frame.size() + 15) / 16 * 16, 0);
    enc_.ApplyInPlace(absl::MakeSpan(header));
    Bytes out = header;
    auto d = mac_.Digest();
    Absorb(d.data(), header.data());
    auto hm = mac_.Digest();
    out.insert(out.end(), hm.begin(), hm.begin() + 16);
    enc_.ApplyInPlace(absl::MakeSpan(frame));
    out.insert(out.end(), frame.begin(), frame.end());
    mac_.Update(frame);
    d = mac_.Digest();
    Absorb(d.data(), d.data());
    auto m = mac_.Digest();
    out.insert(out.end(), m.begin(), m.begin() + 16);
    return out;
  }

 private:
  void Absorb(const uint8_t* key_block, const uint8_t* seed) {
    uint8_t b[16];
    block_.Encrypt(key_block, b);
    for (int i = 0; i < 16; ++i) b[i] ^= seed[i];
    mac_.Update(absl::MakeConstSpan(b, 16));
  }

  AesCtr enc_;
  AesBlock block_;
  Keccak256 mac_;
};

Bytes Header(size_t frame_size, const char* header_data_hex) {
  Bytes h = {static_cast<uint8_t>(frame_size >> 16), static_cast<uint8_t>(frame_size >> 8),
             static_cast<uint8_t>(frame_size)};
  Bytes d = HexOrDie(header_data_hex);
  h.insert(h.end(), d.begin(), d.end());
  return h;
}

TEST(FrameTest, RawSealerMatchesWriter) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  RawSealer sealer(p.a);
  EXPECT_EQ(sealer.Seal(Header(6, "c28080"), HexOrDie("08c401020304")),
            Write(a, 8, HexOrDie("c401020304")));
}

TEST(FrameTest, OtherHeaderDataListsAccepted) {
  // go-ethereum ignores header-data; other clients send other lists.
  for (const char* hd : {"c180", "c3808080", "c28001", "c0", "c2808000000000000000"}) {
    SCOPED_TRACE(hd);
    SecretsPair p = Eip8Secrets();
    RawSealer sealer(p.a);
    FrameCodec b = MakeCodec(p.b);
    Message m = ReadOne(b, sealer.Seal(Header(2, hd), HexOrDie("03c0")));
    EXPECT_EQ(m.code, 3u);
    EXPECT_EQ(HexEncode(m.payload), "c0");
  }
}

TEST(FrameTest, BadHeaderDataRejected) {
  struct Case {
    const char* header_data;
    const char* error;
  } cases[] = {
      {"", "rlpx: bad frame header: header-data is not an RLP list"},  // All zero.
      {"80", "rlpx: bad frame header: header-data is not an RLP list"},
      {"ff", "rlpx: bad frame header: "},  // List longer than the header.
      {"cd", "rlpx: bad frame header: "},  // 13 bytes of payload after 3 + 1.
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.header_data);
    SecretsPair p = Eip8Secrets();
    RawSealer sealer(p.a);
    FrameCodec b = MakeCodec(p.b);
    ASSERT_TRUE(b.Feed(sealer.Seal(Header(2, c.header_data), HexOrDie("03c0"))).ok());
    absl::StatusOr<std::optional<Message>> m = b.Next();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(m.status().message(), c.error)) << m.status();
    EXPECT_TRUE(b.reader().failed());
  }
}

TEST(FrameTest, InvalidMessageCodeRejected) {
  const char* frames[] = {
      "",                          // Empty frame: no code at all.
      "c0",                        // A list.
      "00",                        // Non-canonical zero.
      "8105",                      // Non-canonical single byte.
      "89010203040506070809",      // Nine bytes: overflows uint64.
      "82",                        // Truncated.
  };
  for (const char* f : frames) {
    SCOPED_TRACE(f);
    SecretsPair p = Eip8Secrets();
    RawSealer sealer(p.a);
    FrameCodec b = MakeCodec(p.b);
    Bytes frame = HexOrDie(f);
    ASSERT_TRUE(b.Feed(sealer.Seal(Header(frame.size(), "c28080"), frame)).ok());
    absl::StatusOr<std::optional<Message>> m = b.Next();
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(m.status().message(), "rlpx: invalid message code: rlp: "))
        << m.status();
  }
}

TEST(FrameTest, OversizedFrameRejectedAtHeader) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameReaderOptions options;
  options.max_frame_size = 1024;
  FrameCodec b = MakeCodec(p.b, options);
  Bytes ok = Write(a, 0x10, Bytes(1023, 1));  // Frame size 1024: at the limit.
  Message m = ReadOne(b, ok);
  EXPECT_EQ(m.payload.size(), 1023u);
  Bytes wire = Write(a, 0x10, Bytes(2000, 1));  // Frame size 2001.
  // Rejected from the header alone, before the body arrives.
  ASSERT_TRUE(b.Feed(absl::MakeConstSpan(wire).first(32)).ok());
  ExpectFailedWith(b, absl::StatusCode::kResourceExhausted, "rlpx: frame size 2001 exceeds limit 1024");
}

TEST(FrameTest, MaxFrameSizeOptionBounded) {
  FrameReaderOptions options;
  options.max_frame_size = kMaxFrameSize + 1;
  absl::StatusOr<FrameCodec> c = FrameCodec::Create(Eip8Secrets().b, options);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(FrameTest, LargestFrameRoundTripsAndLargerIsRefused) {
  static_assert(kMaxFrameSize == 16777215, "24-bit frame size");
  static_assert(kMaxFrameWireBytes == 48 + 16777216, "padded to 16");
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameCodec b = MakeCodec(p.b);
  Bytes out;
  // Payload longer than 2^24 - 1.
  absl::Status s = a.WriteMessage(0x10, Bytes(kMaxFrameSize + 1, 0), out);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "rlpx: message length >= 16MB (payload 16777216)");
  // rlp(code) pushes the frame over the limit.
  s = a.WriteMessage(0x10, Bytes(kMaxFrameSize, 0), out);
  EXPECT_EQ(s.message(), "rlpx: message length >= 16MB (frame size 16777216)");
  EXPECT_TRUE(out.empty());
  // Refused writes left the stream untouched: the largest frame still
  // authenticates.
  Bytes big = Pattern(kMaxFrameSize - 1, 9);
  Message m = ReadOne(b, Write(a, 0x10, big));
  EXPECT_EQ(m.payload, big);
}

TEST(FrameTest, ReadBufferBounded) {
  SecretsPair p = Eip8Secrets();
  FrameCodec a = MakeCodec(p.a);
  FrameReaderOptions options;
  options.max_buffered_bytes = 100;
  FrameCodec b = MakeCodec(p.b, options);
  Bytes wire = Write(a, 1, Pattern(40, 2));  // 96 bytes.
  ASSERT_TRUE(b.Feed(wire).ok());
  // Draining frees the space again.
  ASSERT_TRUE(b.Next().ok());
  EXPECT_EQ(b.reader().buffered_bytes(), 0u);
  Bytes two = Write(a, 2, Pattern(40, 3));
  Bytes three = Write(a, 3, Pattern(40, 4));
  ASSERT_TRUE(b.Feed(two).ok());
  absl::Status s = b.Feed(three);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "rlpx: read buffer limit 100 exceeded (96 bytes buffered, 96 more fed)");
  EXPECT_EQ(b.Next().status(), s);
  EXPECT_EQ(kMaxReadBufferBytes, 2 * kMaxFrameWireBytes);
}

// Snappy on the reader only: the payload bytes are taken as a snappy block.
class SnappyReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    p_ = Eip8Secrets();
    b_.emplace(MakeCodec(p_.b));
    b_->reader().SetSnappy(true);
  }
  // Frames `payload` as is (no compression) and feeds it to the reader.
  absl::StatusOr<std::optional<Message>> Deliver(absl::Span<const uint8_t> payload) {
    FrameCodec a = MakeCodec(p_.a);
    Bytes wire;
    EXPECT_TRUE(a.WriteMessage(0x10, payload, wire).ok());
    EXPECT_TRUE(b_->Feed(wire).ok());
    return b_->Next();
  }
  SecretsPair p_;
  std::optional<FrameCodec> b_;
};

TEST_F(SnappyReadTest, GoSnappyBlockDecodes) {
  // github.com/golang/snappy Encode("hello"): length 5, one 5-byte literal.
  absl::StatusOr<std::optional<Message>> m = Deliver(HexOrDie("051068656c6c6f"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(std::string((*m)->payload.begin(), (*m)->payload.end()), "hello");
  EXPECT_EQ((*m)->wire_size, 7u);
}

TEST_F(SnappyReadTest, BombRejectedBeforeAllocation) {
  // Announces 2^24 bytes with a 4-byte varint and nothing else.
  absl::StatusOr<std::optional<Message>> m = Deliver(HexOrDie("80808008"));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(m.status().message(), "rlpx: message length >= 16MB (decoded length 16777216)");
  EXPECT_TRUE(b_->reader().failed());
}

TEST_F(SnappyReadTest, LargestAnnouncedLengthRejected) {
  absl::StatusOr<std::optional<Message>> m = Deliver(HexOrDie("ffffffff0f00"));
  EXPECT_EQ(m.status().message(), "rlpx: message length >= 16MB (decoded length 4294967295)");
}

TEST_F(SnappyReadTest, AtTheLimitDecodes) {
  Bytes plain(kMaxFrameSize, 0);
  absl::StatusOr<std::optional<Message>> m = Deliver(SnappyCompress(plain));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->payload, plain);
}

TEST_F(SnappyReadTest, CorruptInputRejected) {
  for (const char* hex : {
           "",                    // No length header.
           "ffffffffff",          // Varint overflowing 32 bits / truncated.
           "0a1068656c6c6f",      // Announces 10, decodes to 5.
           "051068656c",          // Literal runs past the input.
           "0501",                // Copy with no preceding output.
       }) {
    SCOPED_TRACE(hex);
    SetUp();
    absl::StatusOr<std::optional<Message>> m = Deliver(HexOrDie(hex));
    EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(m.status().message(), "rlpx: snappy: corrupt input");
  }
}

}  // namespace
}  // namespace p2p::rlpx
