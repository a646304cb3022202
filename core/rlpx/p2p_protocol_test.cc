#include "core/rlpx/p2p_protocol.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "core/hex.h"
#include "gtest/gtest.h"

namespace p2p::rlpx {
namespace {

using Bytes = std::vector<uint8_t>;

// ------------------------------------------------------ disconnect reasons

TEST(DisconnectReasonTest, GoEthereumStrings) {
  const std::map<int, std::string> want = {
      {0x00, "disconnect requested"},
      {0x01, "network error"},
      {0x02, "breach of protocol"},
      {0x03, "useless peer"},
      {0x04, "too many peers"},
      {0x05, "already connected"},
      {0x06, "incompatible p2p protocol version"},
      {0x07, "invalid node identity"},
      {0x08, "client quitting"},
      {0x09, "unexpected identity"},
      {0x0a, "connected to self"},
      {0x0b, "read timeout"},
      {0x10, "subprotocol error"},
      {0xff, "invalid disconnect reason"},
  };
  for (int code = 0; code < 256; ++code) {
    auto it = want.find(code);
    std::string expected =
        it != want.end() ? it->second : "unknown disconnect reason " + std::to_string(code);
    EXPECT_EQ(DisconnectReasonString(static_cast<DisconnectReason>(code)), expected);
  }
  EXPECT_EQ(static_cast<int>(DisconnectReason::kSelf), 0x0a);
  EXPECT_EQ(static_cast<int>(DisconnectReason::kReadTimeout), 0x0b);
  EXPECT_EQ(static_cast<int>(DisconnectReason::kSubprotocolError), 0x10);
}

TEST(DisconnectReasonTest, StatusCarriesReason) {
  absl::Status s = DisconnectError(DisconnectReason::kTooManyPeers);
  EXPECT_EQ(s.code(), absl::StatusCode::kAborted);
  EXPECT_EQ(s.message(), "too many peers");
  EXPECT_EQ(DisconnectReasonFromStatus(s), DisconnectReason::kTooManyPeers);
  // Survives copying and a changed message (e.g. annotated by a caller).
  absl::Status copy(s.code(), "handshake: too many peers");
  copy.SetPayload("type.p2p/rlpx.DisconnectReason", *s.GetPayload("type.p2p/rlpx.DisconnectReason"));
  EXPECT_EQ(DisconnectReasonFromStatus(copy), DisconnectReason::kTooManyPeers);
  EXPECT_EQ(DisconnectReasonFromStatus(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(DisconnectReasonFromStatus(absl::AbortedError("too many peers")), std::nullopt);
  EXPECT_EQ(DisconnectReasonFromStatus(DisconnectError(static_cast<DisconnectReason>(0x0c))),
            static_cast<DisconnectReason>(0x0c));
}

// ------------------------------------------------------------- Disconnect

TEST(DisconnectTest, Encode) {
  EXPECT_EQ(HexEncode(EncodeDisconnect(DisconnectReason::kRequested)), "c180");
  EXPECT_EQ(HexEncode(EncodeDisconnect(DisconnectReason::kTooManyPeers)), "c104");
  EXPECT_EQ(HexEncode(EncodeDisconnect(DisconnectReason::kSubprotocolError)), "c110");
  for (int code = 0; code < 256; ++code) {
    auto r = static_cast<DisconnectReason>(code);
    EXPECT_EQ(DecodeDisconnect(EncodeDisconnect(r)), r) << code;
  }
}

TEST(DisconnectTest, Decode) {
  struct Case {
    const char* payload;
    DisconnectReason want;
  } cases[] = {
      {"c104", DisconnectReason::kTooManyPeers},
      {"c180", DisconnectReason::kRequested},
      {"c108", DisconnectReason::kQuitting},
      {"c20405", DisconnectReason::kTooManyPeers},  // Extra list elements ignored.
      {"c2", DisconnectReason::kInvalid},           // Truncated list.
      {"c1c0", DisconnectReason::kInvalid},         // Reason is a list.
      {"c0", DisconnectReason::kInvalid},           // Empty list: no reason.
      {"", DisconnectReason::kInvalid},             // Empty payload.
      // Legacy: the reason as a byte string ([]byte{DiscQuitting} in
      // go-ethereum's TestProtocolHandshakeErrors).
      {"08", DisconnectReason::kQuitting},
      {"10", DisconnectReason::kSubprotocolError},
      {"80", DisconnectReason::kRequested},        // Empty string is 0.
      {"0405", DisconnectReason::kTooManyPeers},   // Only the first item is read.
      {"81ff", DisconnectReason::kInvalid},        // 255: the value DiscInvalid itself.
      {"00", DisconnectReason::kInvalid},          // Non-canonical zero.
      {"8104", DisconnectReason::kInvalid},        // Non-canonical byte.
      {"820100", DisconnectReason::kInvalid},      // 256 does not fit a byte.
      {"c3820100", DisconnectReason::kInvalid},
      {"ff", DisconnectReason::kInvalid},          // Malformed.
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DecodeDisconnect(HexOrDie(c.payload)), c.want) << c.payload;
  }
}

TEST(DisconnectTest, LargeFirstItemIsInvalid) {
  // [4, 95-byte string]: 100 bytes encoded, just within go-ethereum's
  // 100-byte stream limit; one more byte and it is over.
  for (size_t str_len : {size_t{95}, size_t{96}}) {
    Bytes s(str_len, 0x61);
    Bytes item = {0x04, 0xb8, static_cast<uint8_t>(str_len)};
    item.insert(item.end(), s.begin(), s.end());
    Bytes payload = {0xf8, static_cast<uint8_t>(item.size())};
    payload.insert(payload.end(), item.begin(), item.end());
    SCOPED_TRACE(payload.size());
    EXPECT_EQ(DecodeDisconnect(payload),
              payload.size() <= kMaxDisconnectBytes ? DisconnectReason::kTooManyPeers
                                                    : DisconnectReason::kInvalid);
  }
}

TEST(PingPongTest, EmptyLists) {
  EXPECT_EQ(HexEncode(EncodePing()), "c0");
  EXPECT_EQ(HexEncode(EncodePong()), "c0");
  EXPECT_EQ(kPingMsg, 0x02u);
  EXPECT_EQ(kPongMsg, 0x03u);
  EXPECT_EQ(kDiscMsg, 0x01u);
  EXPECT_EQ(kHandshakeMsg, 0x00u);
}

// ------------------------------------------------------------------ Hello

Hello SampleHello() {
  Hello h;
  h.version = 5;
  h.name = "geth/v1.14.0";
  h.caps = {{"eth", 68}, {"snap", 1}};
  h.listen_port = 30303;
  for (int i = 0; i < 64; ++i) h.id[i] = static_cast<uint8_t>(i + 1);
  return h;
}

// Encoded independently (Python RLP) from the same values.
const char kSampleHelloHex[] =
    "f861058c676574682f76312e31342e30cdc58365746844c684736e61700182765fb840"
    "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"
    "2122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f40";

void ExpectSameHello(const Hello& a, const Hello& b) {
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.caps, b.caps);
  EXPECT_EQ(a.listen_port, b.listen_port);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.rest, b.rest);
}

TEST(HelloTest, EncodeVector) {
  EXPECT_EQ(HexEncode(EncodeHello(SampleHello())), kSampleHelloHex);
}

TEST(HelloTest, DecodeVector) {
  absl::StatusOr<Hello> h = DecodeHello(HexOrDie(kSampleHelloHex));
  ASSERT_TRUE(h.ok()) << h.status();
  ExpectSameHello(*h, SampleHello());
  EXPECT_EQ(h->caps[0].ToString(), "eth/68");
}

TEST(HelloTest, ExtraElementsKeptAndIgnored) {
  Hello h = SampleHello();
  h.version = 56;
  h.rest = {{0x01}, {0xc2, 0x04, 0x05}, {0x82, 0x01, 0x00}};
  Bytes enc = EncodeHello(h);
  absl::StatusOr<Hello> back = DecodeHello(enc);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameHello(*back, h);
  // Bytes after the list are not read (rlp.Stream.Decode).
  enc.push_back(0xff);
  EXPECT_TRUE(DecodeHello(enc).ok());
}

TEST(HelloTest, NoCapsAndOddNames) {
  Hello h = SampleHello();
  h.caps.clear();
  h.name = std::string("\xff\x00z", 3);  // Raw bytes are kept.
  h.listen_port = 0;
  absl::StatusOr<Hello> back = DecodeHello(EncodeHello(h));
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameHello(*back, h);
}

TEST(HelloTest, InvalidIdentity) {
  // go-ethereum TestProtocolHandshakeErrors: &protoHandshake{Version: 3}
  // encodes as [3, "", [], 0, ""].
  absl::StatusOr<Hello> h = DecodeHello(HexOrDie("c50380c08080"));
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.status().message(), "invalid node identity");
  EXPECT_EQ(DisconnectReasonFromStatus(h.status()), DisconnectReason::kInvalidIdentity);

  Hello zero = SampleHello();
  zero.id.fill(0);
  h = DecodeHello(EncodeHello(zero));
  EXPECT_EQ(DisconnectReasonFromStatus(h.status()), DisconnectReason::kInvalidIdentity);

  // 63 and 65 bytes.
  for (size_t n : {size_t{63}, size_t{65}}) {
    Bytes body = HexOrDie("0580c08080");
    body.pop_back();
    body.push_back(0xb8);
    body.push_back(static_cast<uint8_t>(n));
    body.insert(body.end(), n, 0x11);
    Bytes payload = {0xf8, static_cast<uint8_t>(body.size())};
    payload.insert(payload.end(), body.begin(), body.end());
    h = DecodeHello(payload);
    EXPECT_EQ(DisconnectReasonFromStatus(h.status()), DisconnectReason::kInvalidIdentity) << n;
  }
}

TEST(HelloTest, MalformedRejected) {
  struct Case {
    const char* payload;
    const char* error_prefix;
  } cases[] = {
      // go-ethereum: Send(p1, handshakeMsg, []byte{1, 2, 3}).
      {"83010203", "invalid message: (code 0) (size 4) rlp: expected input list"},
      {"", "invalid message: (code 0) (size 0) rlp: "},
      {"c0", "invalid message: (code 0) (size 1) rlp: input list has too few elements"},
      // [5, "a", [], 30303] without the id.
      {"c60561c082765f", "invalid message: (code 0) (size 7) rlp: input list has too few elements"},
      // A cap with three elements.
      {"ca0561c4c3610102808080", "invalid message: (code 0) (size 11) rlp: input list has too many elements for p2p.Cap"},
      // A cap that is not a list.
      {"c705618161808080", "invalid message: (code 0) (size 8) rlp: "},
      // Version not an integer.
      {"c6c0618080c080", "invalid message: (code 0) (size 7) rlp: "},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Hello> h = DecodeHello(HexOrDie(c.payload));
    ASSERT_FALSE(h.ok()) << c.payload;
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument) << c.payload;
    EXPECT_TRUE(absl::StartsWith(h.status().message(), c.error_prefix))
        << c.payload << ": " << h.status();
    EXPECT_EQ(DisconnectReasonFromStatus(h.status()), std::nullopt);
  }
}

// go-ethereum TestProtocolHandshakeErrors, plus the size boundary.
TEST(ReadProtocolHandshakeTest, GoEthereumCases) {
  absl::StatusOr<Hello> h = ReadProtocolHandshake(kDiscMsg, HexOrDie("c108"));
  EXPECT_EQ(DisconnectReasonFromStatus(h.status()), DisconnectReason::kQuitting);
  EXPECT_EQ(h.status().message(), "client quitting");
  h = ReadProtocolHandshake(kDiscMsg, HexOrDie("08"));  // Legacy byte array.
  EXPECT_EQ(DisconnectReasonFromStatus(h.status()), DisconnectReason::kQuitting);
  h = ReadProtocolHandshake(kDiscMsg, HexOrDie("c0"));
  EXPECT_EQ(DisconnectReasonFromStatus(h.status()), DisconnectReason::kInvalid);

  h = ReadProtocolHandshake(0x989898, HexOrDie("01"));
  EXPECT_EQ(h.status().message(), "expected handshake, got 989898");
  EXPECT_EQ(DisconnectReasonFromStatus(h.status()), std::nullopt);

  // make([]byte, baseProtocolMaxMsgSize+2) as an RLP string: 2053 bytes.
  Bytes big = {0xb9, 0x08, 0x02};
  big.insert(big.end(), kBaseProtocolMaxMsgSize + 2, 0);
  h = ReadProtocolHandshake(kHandshakeMsg, big);
  EXPECT_EQ(h.status().message(), "message too big");
  // The size check comes first, even for a Disconnect.
  h = ReadProtocolHandshake(kDiscMsg, big);
  EXPECT_EQ(h.status().message(), "message too big");

  h = ReadProtocolHandshake(kHandshakeMsg, HexOrDie("83010203"));
  EXPECT_TRUE(absl::StartsWith(h.status().message(), "invalid message: (code 0) (size 4) rlp: expected input list"));

  h = ReadProtocolHandshake(kHandshakeMsg, HexOrDie("c50380c08080"));
  EXPECT_EQ(DisconnectReasonFromStatus(h.status()), DisconnectReason::kInvalidIdentity);

  h = ReadProtocolHandshake(kHandshakeMsg, HexOrDie(kSampleHelloHex));
  ASSERT_TRUE(h.ok()) << h.status();
  ExpectSameHello(*h, SampleHello());
}

TEST(ReadProtocolHandshakeTest, SizeLimitIsInclusive) {
  // Grow the client name until the Hello payload is 2048, then 2049 bytes.
  bool saw_limit = false, saw_over = false;
  for (size_t n = 1900; n < 2100; ++n) {
    Hello h = SampleHello();
    h.name = std::string(n, 'x');
    Bytes enc = EncodeHello(h);
    if (enc.size() == kBaseProtocolMaxMsgSize) {
      saw_limit = true;
      EXPECT_TRUE(ReadProtocolHandshake(kHandshakeMsg, enc).ok());
    }
    if (enc.size() == kBaseProtocolMaxMsgSize + 1) {
      saw_over = true;
      EXPECT_EQ(ReadProtocolHandshake(kHandshakeMsg, enc).status().message(), "message too big");
    }
  }
  EXPECT_TRUE(saw_limit && saw_over);
}

// ------------------------------------------------------- capability matching

struct Want {
  std::string name;
  uint64_t version;
  uint64_t offset;  // Relative to kBaseProtocolLength, as in go-ethereum's test.
};

void ExpectMatch(const std::vector<Protocol>& local, const std::vector<Cap>& remote,
                 const std::vector<Want>& want) {
  std::vector<MatchedProtocol> got = MatchProtocols(local, remote);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].protocol.name, want[i].name) << i;
    EXPECT_EQ(got[i].protocol.version, want[i].version) << i;
    EXPECT_EQ(got[i].offset - kBaseProtocolLength, want[i].offset) << i;
  }
}

Protocol P(std::string name, uint64_t version = 0, uint64_t length = 0) {
  return Protocol{std::move(name), version, length};
}
Cap C(std::string name, uint64_t version = 0) { return Cap{std::move(name), version}; }

// go-ethereum TestMatchProtocols, case by case (its Match maps sorted by
// name, which is our result order).
TEST(MatchProtocolsTest, GoEthereumCases) {
  // No remote capabilities.
  ExpectMatch({P("a")}, {}, {});
  // No local protocols.
  ExpectMatch({}, {C("a")}, {});
  // No mutual protocols.
  ExpectMatch({P("b")}, {C("a")}, {});
  // Some matches, some differences.
  ExpectMatch({P("match1"), P("match2"), P("remote")}, {C("local"), C("match1"), C("match2")},
              {{"match1", 0, 0}, {"match2", 0, 0}});
  // Various alphabetical ordering.
  ExpectMatch({P("ba"), P("bb"), P("ab"), P("aa")}, {C("aa"), C("ab"), C("bb"), C("ba")},
              {{"aa", 0, 0}, {"ab", 0, 0}, {"ba", 0, 0}, {"bb", 0, 0}});
  // No mutual versions.
  ExpectMatch({P("", 2)}, {C("", 1)}, {});
  // Multiple versions, single common.
  ExpectMatch({P("", 2), P("", 3)}, {C("", 1), C("", 2)}, {{"", 2, 0}});
  // Multiple versions, multiple common.
  ExpectMatch({P("", 2), P("", 3)}, {C("", 1), C("", 2), C("", 3), C("", 4)}, {{"", 3, 0}});
  // Various version orderings.
  ExpectMatch({P("", 2), P("", 3), P("", 1)}, {C("", 4), C("", 1), C("", 3), C("", 2)},
              {{"", 3, 0}});
  // Versions overriding sub-protocol lengths.
  ExpectMatch({P("", 1, 1), P("", 2, 2), P("", 3, 3), P("a")},
              {C("", 1), C("", 2), C("", 3), C("a")}, {{"", 3, 0}, {"a", 0, 3}});
}

TEST(MatchProtocolsTest, RealisticOffsets) {
  std::vector<Protocol> ours = {P("snap", 1, 8), P("eth", 67, 17), P("eth", 68, 17), P("les", 4, 23)};
  std::vector<Cap> theirs = {C("snap", 1), C("eth", 68), C("eth", 66), C("eth", 67), C("les", 2)};
  std::vector<MatchedProtocol> got = MatchProtocols(ours, theirs);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].protocol.name, "eth");
  EXPECT_EQ(got[0].protocol.version, 68u);
  EXPECT_EQ(got[0].offset, 0x10u);
  EXPECT_EQ(got[1].protocol.name, "snap");
  EXPECT_EQ(got[1].offset, 0x10u + 17);
  EXPECT_EQ(CountMatchingProtocols(ours, theirs), 3u);  // eth/67, eth/68, snap/1.
  EXPECT_EQ(CountMatchingProtocols(ours, {C("les", 2)}), 0u);
  // The caller's caps are not reordered.
  EXPECT_EQ(theirs[0], C("snap", 1));
}

TEST(CapTest, Ordering) {
  EXPECT_LT(C("eth", 68), C("snap", 1));
  EXPECT_LT(C("eth", 67), C("eth", 68));
  EXPECT_FALSE(C("eth", 68) < C("eth", 68));
  EXPECT_EQ(C("snap", 1).ToString(), "snap/1");
}

}  // namespace
}  // namespace p2p::rlpx
