#include "core/discover/v4wire.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/crypto/keccak.h"
#include "core/crypto/secp256k1.h"
#include "core/hex.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "core/rlp/rlp.h"
#include "gtest/gtest.h"

namespace p2p {
namespace discover {
namespace {

// ---- Published vectors ----
//
// EIP-8, section "RLPx Discovery Protocol"
// (https://github.com/ethereum/EIPs/blob/master/EIPS/eip-8.md): five packets
// every implementation must accept, signed with this key.
constexpr char kEip8Key[] = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
// That key's public key, as published: the FindNode target of the EIP-8
// vector below, and (compressed) the secp256k1 entry of EIP-778's example
// record, which the same key signs.
constexpr char kEip8Pub[] =
    "ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138"
    "7574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f";

// "ping packet with version 4, additional list elements"
constexpr char kEip8PingV4[] =
    "e9614ccfd9fc3e74360018522d30e1419a143407ffcce748de3e22116b7e8dc92ff74788c0b6663a"
    "aa3d67d641936511c8f8d6ad8698b820a7cf9e1be7155e9a241f556658c55428ec0563514365799a"
    "4be2be5a685a80971ddcfa80cb422cdd0101ec04cb847f000001820cfa8215a8d790000000000000"
    "000000000000000000018208ae820d058443b9a3550102";

// "ping packet with version 555, additional list elements and additional
// random data"
constexpr char kEip8PingV555[] =
    "577be4349c4dd26768081f58de4c6f375a7a22f3f7adda654d1428637412c3d7fe917cadc56d4e5e"
    "7ffae1dbe3efffb9849feb71b262de37977e7c7a44e677295680e9e38ab26bee2fcbae207fba3ff3"
    "d74069a50b902a82c9903ed37cc993c50001f83e82022bd79020010db83c4d001500000000abcdef"
    "12820cfa8215a8d79020010db885a308d313198a2e037073488208ae82823a8443b9a355c5010203"
    "040531b9019afde696e582a78fa8d95ea13ce3297d4afb8ba6433e4154caa5ac6431af1b80ba7602"
    "3fa4090c408f6b4bc3701562c031041d4702971d102c9ab7fa5eed4cd6bab8f7af956f7d565ee191"
    "7084a95398b6a21eac920fe3dd1345ec0a7ef39367ee69ddf092cbfe5b93e5e568ebc491983c09c7"
    "6d922dc3";

// "pong packet with additional list elements and additional random data"
constexpr char kEip8Pong[] =
    "09b2428d83348d27cdf7064ad9024f526cebc19e4958f0fdad87c15eb598dd61d08423e0bf66b206"
    "9869e1724125f820d851c136684082774f870e614d95a2855d000f05d1648b2d5945470bc187c2d2"
    "216fbe870f43ed0909009882e176a46b0102f846d79020010db885a308d313198a2e037073488208"
    "ae82823aa0fbc914b16819237dcd8801d7e53f69e9719adecb3cc0e790c57e91ca4461c9548443b9"
    "a355c6010203c2040506a0c969a58f6f9095004c0177a6b47f451530cab38966a25cca5cb58f0555"
    "42124e";

// "findnode packet with additional list elements and additional random data"
constexpr char kEip8FindNode[] =
    "c7c44041b9f7c7e41934417ebac9a8e1a4c6298f74553f2fcfdcae6ed6fe53163eb3d2b52e39fe91"
    "831b8a927bf4fc222c3902202027e5e9eb812195f95d20061ef5cd31d502e47ecb61183f74a504fe"
    "04c51e73df81f25c4d506b26db4517490103f84eb840ca634cae0d49acb401d8a4c6b6fe8c55b70d"
    "115bf400769cc1400f3258cd31387574077f301b421bc84df7266c44e9e6d569fc56be0081290476"
    "7bf5ccd1fc7f8443b9a35582999983999999280dc62cc8255c73471e0a61da0c89acdc0e035e260a"
    "dd7fc0c04ad9ebf3919644c91cb247affc82b69bd2ca235c71eab8e49737c937a2c396";

// "neighbours packet with additional list elements and additional random data"
constexpr char kEip8Neighbors[] =
    "c679fc8fe0b8b12f06577f2e802d34f6fa257e6137a995f6f4cbfc9ee50ed3710faf6e66f932c4c8"
    "d81d64343f429651328758b47d3dbc02c4042f0fff6946a50f4a49037a72bb550f3a7872363a83e1"
    "b9ee6469856c24eb4ef80b7535bcf99c0004f9015bf90150f84d846321163782115c82115db84031"
    "55e1427f85f10a5c9a7755877748041af1bcd8d474ec065eb33df57a97babf54bfd2103575fa8291"
    "15d224c523596b401065a97f74010610fce76382c0bf32f84984010203040101b840312c55512422"
    "cf9b8a4097e9a6ad79402e87a15ae909a4bfefa22398f03d20951933beea1e4dfa6f968212385e82"
    "9f04c2d314fc2d4e255e0d3bc08792b069dbf8599020010db83c4d001500000000abcdef12820d05"
    "820d05b84038643200b172dcfef857492156971f0e6aa2c538d8b74010f8e140811d53b98c765dd2"
    "d96126051913f44582e8c199ad7c6d6819e9a56483f637feaac9448aacf8599020010db885a308d3"
    "13198a2e037073488203e78203e8b8408dcab8618c3253b558d459da53bd8fa68935a719aff8b811"
    "197101a4b2b47dd2d47295286fc00cc081bb542d760717d1bdd6bec2c37cd72eca367d6dd3b9df73"
    "8443b9a355010203b525a138aa34383fec3d2719a0";

// A plain ping with no extras, signed with the same key: the first entry of
// go-ethereum's p2p/discover/v4wire/v4wire_test.go (testPackets); not in
// EIP-8 itself.
constexpr char kGethPing[] =
    "71dbda3a79554728d4f94411e42ee1f8b0d561c10e1e5f5893367948c6a7d70bb87b235fa28a7707"
    "0271b6c164a2dce8c7e13a5739b53b5e96f2e5acb0e458a02902f5965d55ecbeb2ebb6cabb8b2b23"
    "2896a36b737666c55265ad0a68412f250001ea04cb847f000001820cfa8215a8d790000000000000"
    "000000000000000000018208ae820d058443b9a355";

// EIP-778's example record (https://github.com/ethereum/EIPs/blob/master/EIPS/eip-778.md,
// "Test Vectors"), base64url-decoded: 127.0.0.1, UDP 30303, seq 1, same key.
constexpr char kEip778Record[] =
    "f884b8407098ad865b00a582051940cb9cf36836572411a47278783077011599ed5cd16b76f2635f"
    "4e234738f30813a89eb9137e3e3df5266e3a1f11df72ecf1145ccb9c01826964827634826970847f"
    "00000189736563703235366b31a103ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1"
    "400f3258cd31388375647082765f";

// All vectors carry this expiration: 2006-01-02 22:04:05 UTC.
constexpr uint64_t kVectorExpiration = 1136239445;

// ---- Helpers ----

PrivateKey Key(absl::string_view hex) {
  absl::StatusOr<PrivateKey> k = PrivateKey::FromHex(hex);
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

PrivateKey Eip8Key() { return Key(kEip8Key); }

template <size_t N>
std::array<uint8_t, N> Fixed(absl::string_view hex) {
  std::vector<uint8_t> b = HexOrDie(hex);
  EXPECT_EQ(b.size(), N);
  std::array<uint8_t, N> out{};
  std::copy_n(b.begin(), std::min(N, b.size()), out.begin());
  return out;
}

IpAddress Ip(absl::string_view text) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  EXPECT_TRUE(ip.ok()) << ip.status();
  return *ip;
}

// hash || signature || type || data with a valid hash and signature over
// arbitrary (possibly malformed) data.
std::vector<uint8_t> SignRaw(const PrivateKey& key, uint8_t type, absl::Span<const uint8_t> data) {
  std::vector<uint8_t> out(kHeadSize);
  out.reserve(kHeadSize + 1 + data.size());
  out.push_back(type);
  out.insert(out.end(), data.begin(), data.end());
  absl::StatusOr<std::array<uint8_t, 65>> sig =
      SignRecoverable(key, Keccak256Hash(absl::MakeConstSpan(out).subspan(kHeadSize)));
  EXPECT_TRUE(sig.ok()) << sig.status();
  std::copy(sig->begin(), sig->end(), out.begin() + kPacketHashSize);
  PacketHash hash = Keccak256Hash(absl::MakeConstSpan(out).subspan(kPacketHashSize));
  std::copy(hash.begin(), hash.end(), out.begin());
  return out;
}

std::vector<uint8_t> SignRawHex(uint8_t type, absl::string_view data_hex) {
  return SignRaw(Eip8Key(), type, HexOrDie(data_hex));
}

// The RLP that `build` writes.
template <typename F>
std::vector<uint8_t> Data(F build) {
  rlp::Encoder e;
  build(e);
  return e.Finish();
}

// [ip, udp, tcp] with raw IP bytes.
void AddEndpoint(rlp::Encoder& e, absl::Span<const uint8_t> ip, uint64_t udp, uint64_t tcp) {
  e.BeginList();
  e.AddBytes(ip);
  e.AddUint(udp);
  e.AddUint(tcp);
  e.EndList();
}

// Recomputes the hash after the signature was edited.
void Rehash(std::vector<uint8_t>& packet) {
  PacketHash hash = Keccak256Hash(absl::MakeConstSpan(packet).subspan(kPacketHashSize));
  std::copy(hash.begin(), hash.end(), packet.begin());
}

DecodedPacket MustDecode(absl::Span<const uint8_t> packet) {
  absl::StatusOr<DecodedPacket> d = DecodePacket(packet);
  EXPECT_TRUE(d.ok()) << d.status();
  if (!d.ok()) return DecodedPacket{};
  return *std::move(d);
}

std::string DecodeError(absl::Span<const uint8_t> packet) {
  absl::StatusOr<DecodedPacket> d = DecodePacket(packet);
  if (d.ok()) return "OK";
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument) << d.status();
  return std::string(d.status().message());
}

std::string DecodeErrorHex(uint8_t type, absl::string_view data_hex) {
  return DecodeError(SignRawHex(type, data_hex));
}

std::vector<uint8_t> MustEncode(const PrivateKey& key, const Packet& p) {
  absl::StatusOr<std::vector<uint8_t>> b = EncodePacket(key, p);
  EXPECT_TRUE(b.ok()) << b.status();
  return b.ok() ? *b : std::vector<uint8_t>{};
}

void ExpectSentByEip8Key(const DecodedPacket& d, absl::Span<const uint8_t> packet) {
  EXPECT_EQ(d.sender.ToHex(), kEip8Pub);
  EXPECT_EQ(d.sender, DerivePublicKey(Eip8Key()));
  EXPECT_EQ(d.sender_id, NodeId::FromPublicKey(d.sender));
  EXPECT_EQ(HexEncode(d.hash), HexEncode(packet.first(32)));
}

// The vectors' signatures are valid but were not made with RFC 6979 nonces
// (re-signing their type || data with the published key gives a different
// signature), so only their packet-data can be reproduced byte for byte.
void ExpectVectorSignatureIsNotRfc6979(absl::Span<const uint8_t> packet) {
  absl::StatusOr<std::array<uint8_t, 65>> sig =
      SignRecoverable(Eip8Key(), Keccak256Hash(packet.subspan(kHeadSize)));
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_NE(HexEncode(*sig), HexEncode(packet.subspan(kPacketHashSize, kSignatureSize)));
}

// Decode(Encode(p)) == p, signed by `key`; returns the encoding.
std::vector<uint8_t> ExpectRoundTrip(const Packet& p) {
  const PrivateKey key = Key("49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee");
  std::vector<uint8_t> wire = MustEncode(key, p);
  EXPECT_LE(wire.size(), kMaxPacketSize);
  DecodedPacket d = MustDecode(wire);
  EXPECT_TRUE(d.packet == p) << PacketName(p);
  EXPECT_EQ(d.sender, DerivePublicKey(key));
  EXPECT_EQ(d.sender_id, NodeId::FromPublicKey(DerivePublicKey(key)));
  EXPECT_EQ(PacketType(d.packet), wire[kHeadSize]);
  // Deterministic: the same packet and key give the same bytes.
  EXPECT_EQ(MustEncode(key, p), wire);
  return wire;
}

// ---- EIP-8 vectors ----

TEST(V4WireTest, Eip8PingVersion4AdditionalListElements) {
  const std::vector<uint8_t> in = HexOrDie(kEip8PingV4);
  DecodedPacket d = MustDecode(in);
  ExpectSentByEip8Key(d, in);
  ExpectVectorSignatureIsNotRfc6979(in);
  ASSERT_TRUE(std::holds_alternative<Ping>(d.packet));
  const Ping& p = std::get<Ping>(d.packet);
  EXPECT_EQ(p.version, 4u);
  EXPECT_EQ(p.from, (WireEndpoint{Ip("127.0.0.1"), 3322, 5544}));
  EXPECT_EQ(p.to, (WireEndpoint{Ip("::1"), 2222, 3333}));
  EXPECT_EQ(p.expiration, kVectorExpiration);
  // The first additional element (0x01) is in the EIP-868 enr-seq place, so
  // it reads as enr-seq 1 (as go-ethereum reads it); the second (0x02) is
  // ignored.
  EXPECT_EQ(p.enr_seq, std::optional<uint64_t>(1));
}

TEST(V4WireTest, Eip8PingVersion555AdditionalElementsAndData) {
  const std::vector<uint8_t> in = HexOrDie(kEip8PingV555);
  DecodedPacket d = MustDecode(in);
  ExpectSentByEip8Key(d, in);
  ExpectVectorSignatureIsNotRfc6979(in);
  ASSERT_TRUE(std::holds_alternative<Ping>(d.packet));
  const Ping& p = std::get<Ping>(d.packet);
  EXPECT_EQ(p.version, 555u);
  EXPECT_EQ(p.from, (WireEndpoint{Ip("2001:db8:3c4d:15::abcd:ef12"), 3322, 5544}));
  EXPECT_EQ(p.to, (WireEndpoint{Ip("2001:db8:85a3:8d3:1319:8a2e:370:7348"), 2222, 33338}));
  EXPECT_EQ(p.expiration, kVectorExpiration);
  // The extra element is the list [1, 2, 3, 4, 5]: not an enr-seq.
  EXPECT_EQ(p.enr_seq, std::nullopt);
}

TEST(V4WireTest, Eip8PongAdditionalElementsAndData) {
  const std::vector<uint8_t> in = HexOrDie(kEip8Pong);
  DecodedPacket d = MustDecode(in);
  ExpectSentByEip8Key(d, in);
  ExpectVectorSignatureIsNotRfc6979(in);
  ASSERT_TRUE(std::holds_alternative<Pong>(d.packet));
  const Pong& p = std::get<Pong>(d.packet);
  EXPECT_EQ(p.to, (WireEndpoint{Ip("2001:db8:85a3:8d3:1319:8a2e:370:7348"), 2222, 33338}));
  EXPECT_EQ(HexEncode(p.ping_hash),
            "fbc914b16819237dcd8801d7e53f69e9719adecb3cc0e790c57e91ca4461c954");
  EXPECT_EQ(p.expiration, kVectorExpiration);
  // Extras [1, 2, 3, [4, 5]] and 6: the first is a list, so no enr-seq.
  EXPECT_EQ(p.enr_seq, std::nullopt);
}

TEST(V4WireTest, Eip8FindNodeAdditionalElementsAndData) {
  const std::vector<uint8_t> in = HexOrDie(kEip8FindNode);
  DecodedPacket d = MustDecode(in);
  ExpectSentByEip8Key(d, in);
  ExpectVectorSignatureIsNotRfc6979(in);
  ASSERT_TRUE(std::holds_alternative<FindNode>(d.packet));
  const FindNode& p = std::get<FindNode>(d.packet);
  EXPECT_EQ(HexEncode(p.target), kEip8Pub);
  EXPECT_EQ(p.expiration, kVectorExpiration);
}

TEST(V4WireTest, Eip8NeighboursAdditionalElementsAndData) {
  const std::vector<uint8_t> in = HexOrDie(kEip8Neighbors);
  DecodedPacket d = MustDecode(in);
  ExpectSentByEip8Key(d, in);
  ExpectVectorSignatureIsNotRfc6979(in);
  ASSERT_TRUE(std::holds_alternative<Neighbors>(d.packet));
  const Neighbors& p = std::get<Neighbors>(d.packet);
  // Expected nodes as listed in go-ethereum's v4wire_test.go.
  const std::vector<WireNode> want = {
      {Ip("99.33.22.55"), 4444, 4445,
       Fixed<64>("3155e1427f85f10a5c9a7755877748041af1bcd8d474ec065eb33df57a97babf"
                 "54bfd2103575fa829115d224c523596b401065a97f74010610fce76382c0bf32")},
      {Ip("1.2.3.4"), 1, 1,
       Fixed<64>("312c55512422cf9b8a4097e9a6ad79402e87a15ae909a4bfefa22398f03d2095"
                 "1933beea1e4dfa6f968212385e829f04c2d314fc2d4e255e0d3bc08792b069db")},
      {Ip("2001:db8:3c4d:15::abcd:ef12"), 3333, 3333,
       Fixed<64>("38643200b172dcfef857492156971f0e6aa2c538d8b74010f8e140811d53b98c"
                 "765dd2d96126051913f44582e8c199ad7c6d6819e9a56483f637feaac9448aac")},
      {Ip("2001:db8:85a3:8d3:1319:8a2e:370:7348"), 999, 1000,
       Fixed<64>("8dcab8618c3253b558d459da53bd8fa68935a719aff8b811197101a4b2b47dd2"
                 "d47295286fc00cc081bb542d760717d1bdd6bec2c37cd72eca367d6dd3b9df73")},
  };
  EXPECT_EQ(p.nodes, want);
  EXPECT_EQ(p.expiration, kVectorExpiration);
}

TEST(V4WireTest, GethPlainPingDataIsReproducedByteForByte) {
  const std::vector<uint8_t> in = HexOrDie(kGethPing);
  DecodedPacket d = MustDecode(in);
  ExpectSentByEip8Key(d, in);
  Ping want;
  want.version = 4;
  want.from = {Ip("127.0.0.1"), 3322, 5544};
  want.to = {Ip("::1"), 2222, 3333};
  want.expiration = kVectorExpiration;
  ASSERT_TRUE(std::holds_alternative<Ping>(d.packet));
  EXPECT_EQ(std::get<Ping>(d.packet), want);
  // Same type || packet-data; the signature (and so the hash) differs, see
  // ExpectVectorSignatureIsNotRfc6979.
  ExpectVectorSignatureIsNotRfc6979(in);
  const std::vector<uint8_t> ours = MustEncode(Eip8Key(), want);
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(ours).subspan(kHeadSize)),
            HexEncode(absl::MakeConstSpan(in).subspan(kHeadSize)));
  EXPECT_EQ(MustDecode(ours).sender, MustDecode(in).sender);
}

// Dropping the extras from a vector and re-encoding gives a shorter packet
// with the same decoded fields: the extras carried nothing we keep.
TEST(V4WireTest, Eip8VectorsReencodeWithoutExtras) {
  for (const char* hex : {kEip8PingV4, kEip8PingV555, kEip8Pong, kEip8FindNode, kEip8Neighbors}) {
    SCOPED_TRACE(hex);
    const std::vector<uint8_t> in = HexOrDie(hex);
    DecodedPacket d = MustDecode(in);
    std::vector<uint8_t> again = MustEncode(Eip8Key(), d.packet);
    EXPECT_LT(again.size(), in.size());
    DecodedPacket d2 = MustDecode(again);
    EXPECT_TRUE(d2.packet == d.packet);
    EXPECT_EQ(d2.sender, d.sender);
  }
}

// ---- Round trips ----

TEST(V4WireTest, RoundTripPing) {
  Ping p;
  p.version = 4;
  p.from = {Ip("10.0.0.1"), 30303, 30304};
  p.to = {Ip("2001:db8::7"), 65535, 0};
  p.expiration = 1700000000;
  ExpectRoundTrip(p);
  p.enr_seq = 0;  // Present and zero stays distinct from absent.
  ExpectRoundTrip(p);
  p.enr_seq = UINT64_MAX;
  p.version = 555;
  p.expiration = UINT64_MAX;
  ExpectRoundTrip(p);
}

TEST(V4WireTest, RoundTripPong) {
  Pong p;
  p.to = {Ip("192.168.1.2"), 1, 2};
  p.ping_hash = Fixed<32>("fbc914b16819237dcd8801d7e53f69e9719adecb3cc0e790c57e91ca4461c954");
  p.expiration = 1;
  ExpectRoundTrip(p);
  p.enr_seq = 42;
  ExpectRoundTrip(p);
}

TEST(V4WireTest, RoundTripFindNode) {
  FindNode p;
  p.target = Fixed<64>(kEip8Pub);
  p.expiration = 1136239445;
  ExpectRoundTrip(p);
  p.target = {};  // Any 64 bytes, not only curve points.
  ExpectRoundTrip(p);
}

TEST(V4WireTest, RoundTripNeighbors) {
  Neighbors p;
  p.expiration = 99;
  ExpectRoundTrip(p);  // No nodes.
  p.nodes.push_back({Ip("1.2.3.4"), 30303, 30303, Fixed<64>(kEip8Pub)});
  p.nodes.push_back({Ip("fe80::1"), 1, 65535, {}});
  ExpectRoundTrip(p);
}

TEST(V4WireTest, RoundTripENRRequestAndResponse) {
  ENRRequest req;
  req.expiration = 1136239445;
  const std::vector<uint8_t> req_wire = ExpectRoundTrip(req);
  ENRResponse resp;
  std::copy_n(req_wire.begin(), 32, resp.request_hash.begin());
  resp.record = HexOrDie(kEip778Record);
  ExpectRoundTrip(resp);
}

// The unknown endpoint (IpAddress()) goes out as the empty string, as
// go-ethereum's zero Endpoint does; 0.0.0.0 stays 4 bytes.
TEST(V4WireTest, UnknownEndpointIsEmptyIp) {
  Ping p;
  p.to = {Ip("1.2.3.4"), 30303, 0};
  p.expiration = 5;
  const std::vector<uint8_t> wire = ExpectRoundTrip(p);
  // [4, [80, 80, 80], [84 01020304, 82 765f, 80], 05]
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(wire).subspan(kHeadSize)),
            "01d004c3808080c9840102030482765f8005");
  p.from.ip = Ip("0.0.0.0");
  const std::vector<uint8_t> wire4 = ExpectRoundTrip(p);
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(wire4).subspan(kHeadSize)),
            "01d404c784000000008080c9840102030482765f8005");
}

TEST(V4WireTest, IpAddressForms) {
  // 16 zero bytes decode to "::" (re-encoded empty); an IPv4-mapped IPv6
  // address decodes as IPv4.
  std::vector<uint8_t> zeros16(16, 0);
  std::vector<uint8_t> mapped = zeros16;
  mapped[10] = mapped[11] = 0xff;
  mapped[12] = 1;
  mapped[13] = 2;
  mapped[14] = 3;
  mapped[15] = 4;
  DecodedPacket d = MustDecode(SignRaw(Eip8Key(), kPingPacket, Data([&](rlp::Encoder& e) {
                                         e.BeginList();
                                         e.AddUint(4);
                                         AddEndpoint(e, zeros16, 0, 0);
                                         AddEndpoint(e, mapped, 0, 0);
                                         e.AddUint(5);
                                         e.EndList();
                                       })));
  ASSERT_TRUE(std::holds_alternative<Ping>(d.packet));
  EXPECT_EQ(std::get<Ping>(d.packet).from.ip, IpAddress());
  EXPECT_EQ(std::get<Ping>(d.packet).to.ip, Ip("1.2.3.4"));
}

TEST(V4WireTest, MaxNeighborsFitsAndOneMoreDoesNot) {
  const PrivateKey key = Eip8Key();
  Neighbors p;
  p.expiration = UINT64_MAX;
  const WireNode biggest{Ip("2001:db8:85a3:8d3:1319:8a2e:370:7348"), 65535, 65535, {}};
  p.nodes.assign(kMaxNeighbors, biggest);
  absl::StatusOr<std::vector<uint8_t>> ok = EncodePacket(key, p);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->size(), 1205u);
  p.nodes.push_back(biggest);
  absl::StatusOr<std::vector<uint8_t>> big = EncodePacket(key, p);
  EXPECT_EQ(big.status(), absl::InvalidArgumentError("packet too big (1296 bytes, max 1280)"));
}

TEST(V4WireTest, EncodeRejectsRecordThatIsNotOneList) {
  const PrivateKey key = Eip8Key();
  ENRResponse p;
  p.record = HexOrDie("83646f67");  // "dog"
  EXPECT_EQ(EncodePacket(key, p).status(),
            absl::InvalidArgumentError("ENRResponse.record is not an RLP list"));
  p.record = HexOrDie("c0c0");
  EXPECT_EQ(EncodePacket(key, p).status(),
            absl::InvalidArgumentError("ENRResponse.record is not one RLP item: rlp: input "
                                       "contains more than one value (1 trailing bytes) at "
                                       "offset 1"));
  p.record.clear();
  EXPECT_EQ(EncodePacket(key, p).status(),
            absl::InvalidArgumentError("ENRResponse.record is not one RLP item: rlp: value size "
                                       "exceeds available input length (empty input) at offset 0"));
  p.record.assign(1200, 0xc0);
  p.record[0] = 0xf9;  // A 1197-byte list of empty lists: valid, too big.
  p.record[1] = 0x04;
  p.record[2] = 0xad;
  EXPECT_EQ(EncodePacket(key, p).status(),
            absl::InvalidArgumentError("packet too big (1334 bytes, max 1280)"));
}

// ---- Forward compatibility beyond the vectors ----

TEST(V4WireTest, ExtraElementsInNestedListsAndTrailingBytesAreIgnored) {
  // Ping [4, [ip, 1, 2, "x"], [ip, 3, 4, [1]], 5, 7, [8]] and trailing bytes
  // that are not even RLP.
  const std::vector<uint8_t> ip = {127, 0, 0, 1};
  std::vector<uint8_t> data = Data([&](rlp::Encoder& e) {
    e.BeginList();
    e.AddUint(4);
    e.BeginList();
    e.AddBytes(ip);
    e.AddUint(1);
    e.AddUint(2);
    e.AddString("x");
    e.EndList();
    e.BeginList();
    e.AddBytes(ip);
    e.AddUint(3);
    e.AddUint(4);
    e.BeginList();
    e.AddUint(1);
    e.EndList();
    e.EndList();
    e.AddUint(5);
    e.AddUint(7);
    e.BeginList();
    e.AddUint(8);
    e.EndList();
    e.EndList();
  });
  data.push_back(0xff);
  data.push_back(0xb8);
  DecodedPacket d = MustDecode(SignRaw(Eip8Key(), kPingPacket, data));
  ASSERT_TRUE(std::holds_alternative<Ping>(d.packet));
  const Ping& p = std::get<Ping>(d.packet);
  EXPECT_EQ(p.from, (WireEndpoint{Ip("127.0.0.1"), 1, 2}));
  EXPECT_EQ(p.to, (WireEndpoint{Ip("127.0.0.1"), 3, 4}));
  EXPECT_EQ(p.expiration, 5u);
  EXPECT_EQ(p.enr_seq, std::optional<uint64_t>(7));

  // A Neighbors entry with an extra element, and extras after expiration.
  const EncodedPubkey id = Fixed<64>(kEip8Pub);
  data = Data([&](rlp::Encoder& e) {
    e.BeginList();
    e.BeginList();
    e.BeginList();
    e.AddBytes(ip);
    e.AddUint(30303);
    e.AddUint(30304);
    e.AddBytes(id);
    e.AddString("extra");
    e.EndList();
    e.EndList();
    e.AddUint(1);
    e.AddUint(2);
    e.EndList();
  });
  DecodedPacket n = MustDecode(SignRaw(Eip8Key(), kNeighborsPacket, data));
  ASSERT_TRUE(std::holds_alternative<Neighbors>(n.packet));
  EXPECT_EQ(std::get<Neighbors>(n.packet).nodes,
            (std::vector<WireNode>{{Ip("127.0.0.1"), 30303, 30304, id}}));
  EXPECT_EQ(std::get<Neighbors>(n.packet).expiration, 1u);

  // ENRRequest [9, "", ""] + 0xff.
  DecodedPacket r = MustDecode(SignRawHex(kENRRequestPacket, "c3098080ff"));
  ASSERT_TRUE(std::holds_alternative<ENRRequest>(r.packet));
  EXPECT_EQ(std::get<ENRRequest>(r.packet).expiration, 9u);

  // ENRResponse [hash, record, "x"].
  DecodedPacket er = MustDecode(SignRaw(Eip8Key(), kENRResponsePacket, Data([](rlp::Encoder& e) {
                                          e.BeginList();
                                          e.AddBytes(std::vector<uint8_t>(32, 7));
                                          e.AddRaw(HexOrDie(kEip778Record));
                                          e.AddString("x");
                                          e.EndList();
                                        })));
  ASSERT_TRUE(std::holds_alternative<ENRResponse>(er.packet));
  EXPECT_EQ(HexEncode(std::get<ENRResponse>(er.packet).record), kEip778Record);
  PacketHash sevens;
  sevens.fill(7);
  EXPECT_EQ(std::get<ENRResponse>(er.packet).request_hash, sevens);
}

// ---- Rejections ----

TEST(V4WireTest, RejectsBadSizes) {
  const std::vector<uint8_t> ping = HexOrDie(kGethPing);
  EXPECT_EQ(DecodeError({}), "packet too small (0 bytes, min 99)");
  EXPECT_EQ(DecodeError(absl::MakeConstSpan(ping).first(98)),
            "packet too small (98 bytes, min 99)");
  // Every truncation of a valid packet fails (size or hash).
  for (size_t n = 0; n < ping.size(); ++n) {
    EXPECT_NE(DecodeError(absl::MakeConstSpan(ping).first(n)), "OK") << n;
  }
  EXPECT_EQ(DecodeError(absl::MakeConstSpan(ping).first(120)), "bad hash");

  // 1280 bytes is fine (trailing data), 1281 is not, whatever the content.
  std::vector<uint8_t> data = HexOrDie("c109");  // ENRRequest [9]
  data.resize(kMaxPacketSize - kHeadSize - 1, 0xab);
  std::vector<uint8_t> max = SignRaw(Eip8Key(), kENRRequestPacket, data);
  ASSERT_EQ(max.size(), kMaxPacketSize);
  EXPECT_EQ(DecodeError(max), "OK");
  data.push_back(0xab);
  EXPECT_EQ(DecodeError(SignRaw(Eip8Key(), kENRRequestPacket, data)),
            "packet too big (1281 bytes, max 1280)");
}

TEST(V4WireTest, RejectsBadHash) {
  const std::vector<uint8_t> in = HexOrDie(kEip8FindNode);
  for (size_t i : {size_t{0}, size_t{31}, size_t{32}, size_t{96}, size_t{97}, in.size() - 1}) {
    std::vector<uint8_t> bad = in;
    bad[i] ^= 0x01;
    EXPECT_EQ(DecodeError(bad), "bad hash") << i;
  }
}

TEST(V4WireTest, RejectsBadSignature) {
  const std::vector<uint8_t> in = HexOrDie(kEip8FindNode);
  std::vector<uint8_t> bad = in;
  bad[kHeadSize - 1] = 4;  // Recovery id.
  Rehash(bad);
  EXPECT_EQ(DecodeError(bad),
            "invalid signature: recover: invalid signature recovery id 4 (want 0..3)");

  bad = in;
  std::fill(bad.begin() + 32, bad.begin() + 64, 0xff);  // r >= n.
  Rehash(bad);
  EXPECT_EQ(DecodeError(bad),
            "invalid signature: recover: signature r or s is not below the group order");

  bad = in;
  std::fill(bad.begin() + 32, bad.begin() + 64, 0x00);  // r = 0.
  Rehash(bad);
  EXPECT_EQ(DecodeError(bad),
            "invalid signature: recover: invalid signature, no public key recovers");

  // A signature by another key, or over other data, is no decoding error:
  // it recovers another sender, and authenticating it is the caller's job
  // (comparing sender ids).
  const PrivateKey other_key =
      Key("49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee");
  DecodedPacket other = MustDecode(
      SignRaw(other_key, kFindNodePacket, absl::MakeConstSpan(in).subspan(kHeadSize + 1)));
  EXPECT_EQ(other.sender, DerivePublicKey(other_key));
  bad = in;
  bad.back() ^= 0x01;  // Inside the trailing data: still a valid FindNode.
  Rehash(bad);
  DecodedPacket tampered = MustDecode(bad);
  EXPECT_NE(tampered.sender, DerivePublicKey(Eip8Key()));
  EXPECT_EQ(tampered.packet, MustDecode(in).packet);
}

TEST(V4WireTest, ModelledSignatureCarriesTheKeyAndKeepsEverythingElse) {
  const PrivateKey key = Key("49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee");
  const PublicKey pub = DerivePublicKey(key);
  FindNode f;
  f.target = pub.bytes();
  f.expiration = 1700000000;
  absl::StatusOr<std::vector<uint8_t>> m = EncodePacketModelled(pub, f);
  ASSERT_TRUE(m.ok()) << m.status();
  const std::vector<uint8_t> real = MustEncode(key, f);
  // Same size and the same type || packet-data; the signature field is the
  // key and 0xff; the hash covers it as usual.
  ASSERT_EQ(m->size(), real.size());
  EXPECT_TRUE(std::equal(m->begin() + kHeadSize, m->end(), real.begin() + kHeadSize));
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(*m).subspan(kPacketHashSize, 64)), pub.ToHex());
  EXPECT_EQ((*m)[kHeadSize - 1], kModelledSignatureV);
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(*m).first(32)),
            HexEncode(Keccak256Hash(absl::MakeConstSpan(*m).subspan(kPacketHashSize))));

  absl::StatusOr<DecodedPacket> d = DecodePacket(*m, SignatureMode::kModelled);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_TRUE(d->packet == Packet(f));
  EXPECT_EQ(d->sender, pub);
  EXPECT_EQ(d->sender_id, NodeId::FromPublicKey(pub));
  EXPECT_EQ(HexEncode(d->hash), HexEncode(absl::MakeConstSpan(*m).first(32)));

  EXPECT_EQ(EncodePacketModelled(PublicKey(), f).status().message(),
            "modelled sender key is the zero key");
}

TEST(V4WireTest, EachSignatureModeRejectsTheOther) {
  const PrivateKey key = Key("49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee");
  ENRRequest req;
  req.expiration = 1700000000;
  absl::StatusOr<std::vector<uint8_t>> m = EncodePacketModelled(DerivePublicKey(key), req);
  ASSERT_TRUE(m.ok()) << m.status();
  // 0xff is no recovery id.
  EXPECT_EQ(DecodeError(*m),
            "invalid signature: recover: invalid signature recovery id 255 (want 0..3)");
  // A real signature's last byte is 0 or 1.
  const std::vector<uint8_t> real = MustEncode(key, req);
  absl::StatusOr<DecodedPacket> d = DecodePacket(real, SignatureMode::kModelled);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().message(),
            "invalid signature: not a modelled signature (last byte is not 0xff)");
  // A modelled signature must name a curve point.
  std::vector<uint8_t> bad = *m;
  std::fill(bad.begin() + kPacketHashSize, bad.begin() + kPacketHashSize + 64, 0x01);
  Rehash(bad);
  d = DecodePacket(bad, SignatureMode::kModelled);
  ASSERT_FALSE(d.ok());
  EXPECT_TRUE(absl::StartsWith(d.status().message(), "invalid signature: ")) << d.status();
}

TEST(V4WireTest, RejectsUnknownPacketType) {
  EXPECT_EQ(DecodeErrorHex(0x00, "c109"), "unknown packet type 0x00");
  EXPECT_EQ(DecodeErrorHex(0x07, "c109"), "unknown packet type 0x07");
  EXPECT_EQ(DecodeErrorHex(0xff, "c109"), "unknown packet type 0xff");
}

TEST(V4WireTest, RejectsMalformedRlp) {
  // Offsets count from the start of the packet; packet-data starts at 98.
  EXPECT_EQ(DecodeErrorHex(kENRRequestPacket, "09"),
            "invalid packet: rlp: expected input list at offset 98");
  EXPECT_EQ(DecodeErrorHex(kENRRequestPacket, "c5"),
            "invalid packet: rlp: value size exceeds available input length (payload of 5 "
            "bytes, 0 available) at offset 98");
  EXPECT_EQ(DecodeErrorHex(kENRRequestPacket, "c28105"),
            "invalid packet: rlp: non-canonical size information (single byte below 0x80 must "
            "be encoded as itself) at offset 99");
  EXPECT_EQ(DecodeErrorHex(kENRRequestPacket, "c0"),
            "invalid packet: ENRRequest.expiration: rlp: input list has too few elements at "
            "offset 99");
  EXPECT_EQ(DecodeErrorHex(kENRRequestPacket, "c1c0"),
            "invalid packet: ENRRequest.expiration: rlp: expected input string or byte at "
            "offset 99");
  EXPECT_EQ(DecodeErrorHex(kENRRequestPacket, "c3820001"),
            "invalid packet: ENRRequest.expiration: rlp: non-canonical integer (leading zero "
            "bytes) at offset 99");
  EXPECT_EQ(DecodeErrorHex(kENRRequestPacket, "ca89010203040506070809"),
            "invalid packet: ENRRequest.expiration: rlp: input string too long for uint64 (9 "
            "bytes) at offset 99");
}

// Builders for malformed packet-data, one field wrong at a time.
std::string PingError(absl::Span<const uint8_t> from_ip, uint64_t to_udp, bool with_exp,
                      const std::vector<uint8_t>& enr_seq_raw) {
  const std::vector<uint8_t> v4 = {1, 2, 3, 4};
  return DecodeError(SignRaw(Eip8Key(), kPingPacket, Data([&](rlp::Encoder& e) {
                               e.BeginList();
                               e.AddUint(4);
                               AddEndpoint(e, from_ip, 1, 2);
                               AddEndpoint(e, v4, to_udp, 0);
                               if (with_exp) e.AddUint(5);
                               if (!enr_seq_raw.empty()) e.AddRaw(enr_seq_raw);
                               e.EndList();
                             })));
}

TEST(V4WireTest, RejectsWrongPingFields) {
  const std::vector<uint8_t> v4 = {1, 2, 3, 4};
  // Offsets (with to.udp = 3): list header 98, version 99, from 100,
  // from.ip 101, from.udp 106, from.tcp 107, to 108, to.ip 109, to.udp 114,
  // to.tcp 115, expiration 116, enr-seq 117.
  EXPECT_EQ(PingError(v4, 3, true, {}), "OK");
  EXPECT_EQ(PingError(std::vector<uint8_t>(5, 1), 3, true, {}),
            "invalid packet: Ping.from.ip: IP address must be 0, 4 or 16 bytes, got 5 at offset "
            "101");
  EXPECT_EQ(PingError(std::vector<uint8_t>(15, 1), 3, true, {}),
            "invalid packet: Ping.from.ip: IP address must be 0, 4 or 16 bytes, got 15 at offset "
            "101");
  EXPECT_EQ(PingError(v4, 65536, true, {}),
            "invalid packet: Ping.to.udp: rlp: input string too long for uint16 (3 bytes) at "
            "offset 114");
  EXPECT_EQ(PingError(v4, 3, false, {}),
            "invalid packet: Ping.expiration: rlp: input list has too few elements at offset 116");
  // enr-seq: a byte string there must be an integer; a list is ignored.
  EXPECT_EQ(PingError(v4, 3, true, {0x00}),
            "invalid packet: Ping.enr_seq: rlp: non-canonical integer (leading zero bytes) at "
            "offset 117");
  EXPECT_EQ(PingError(v4, 3, true, HexOrDie("89010000000000000000")),
            "invalid packet: Ping.enr_seq: rlp: input string too long for uint64 (9 bytes) at "
            "offset 117");
  EXPECT_EQ(PingError(v4, 3, true, HexOrDie("c180")), "OK");

  EXPECT_EQ(DecodeErrorHex(kPingPacket, "c1c0"),
            "invalid packet: Ping.version: rlp: expected input string or byte at offset 99");
  EXPECT_EQ(DecodeErrorHex(kPingPacket, "c20480"),
            "invalid packet: Ping.from: rlp: expected input list at offset 100");
  EXPECT_EQ(DecodeErrorHex(kPingPacket, "c304c180"),
            "invalid packet: Ping.from.udp: rlp: input list has too few elements at offset 102");
  EXPECT_EQ(DecodeErrorHex(kPingPacket, "c304c1c0"),
            "invalid packet: Ping.from.ip: rlp: expected input string or byte at offset 101");
}

TEST(V4WireTest, RejectsWrongFieldSizesInOtherPackets) {
  const std::vector<uint8_t> v4 = {1, 2, 3, 4};
  // Pong with a 31- and a 33-byte ping hash.
  for (size_t n : {31, 33}) {
    EXPECT_EQ(
        DecodeError(SignRaw(Eip8Key(), kPongPacket, Data([&](rlp::Encoder& e) {
                              e.BeginList();
                              AddEndpoint(e, v4, 1, 2);
                              e.AddBytes(std::vector<uint8_t>(n, 9));
                              e.AddUint(5);
                              e.EndList();
                            }))),
        absl::StrCat("invalid packet: Pong.ping_hash: rlp: input string too ",
                     n < 32 ? "short" : "long", " for [32]byte (", n, " bytes) at offset 107"));
  }
  // FindNode with a 63-byte target.
  EXPECT_EQ(DecodeError(SignRaw(Eip8Key(), kFindNodePacket, Data([&](rlp::Encoder& e) {
                                  e.BeginList();
                                  e.AddBytes(std::vector<uint8_t>(63, 9));
                                  e.AddUint(5);
                                  e.EndList();
                                }))),
            "invalid packet: FindNode.target: rlp: input string too short for [64]byte (63 "
            "bytes) at offset 100");
  // Neighbors: the second entry has a 65-byte id; then one with a list for
  // tcp; then nodes not a list; then an entry that is a string.
  auto neighbors = [&](int variant) {
    return DecodeError(SignRaw(Eip8Key(), kNeighborsPacket, Data([&](rlp::Encoder& e) {
                                 e.BeginList();
                                 if (variant == 2) {
                                   e.AddUint(1);
                                 } else {
                                   e.BeginList();
                                   e.BeginList();
                                   e.AddBytes(v4);
                                   e.AddUint(1);
                                   e.AddUint(2);
                                   e.AddBytes(std::vector<uint8_t>(64, 1));
                                   e.EndList();
                                   if (variant == 3) {
                                     e.AddUint(7);
                                   } else {
                                     e.BeginList();
                                     e.AddBytes(v4);
                                     e.AddUint(1);
                                     if (variant == 1) {
                                       e.BeginList();
                                       e.EndList();
                                     } else {
                                       e.AddUint(2);
                                     }
                                     e.AddBytes(std::vector<uint8_t>(variant == 0 ? 65 : 64, 1));
                                     e.EndList();
                                   }
                                   e.EndList();
                                 }
                                 e.AddUint(5);
                                 e.EndList();
                               })));
  };
  EXPECT_EQ(neighbors(0),
            "invalid packet: Neighbors.nodes[1].id: rlp: input string too long for [64]byte (65 "
            "bytes) at offset 186");
  EXPECT_EQ(neighbors(1),
            "invalid packet: Neighbors.nodes[1].tcp: rlp: expected input string or byte at "
            "offset 185");
  EXPECT_EQ(neighbors(2), "invalid packet: Neighbors.nodes: rlp: expected input list at offset 99");
  EXPECT_EQ(neighbors(3),
            "invalid packet: Neighbors.nodes[1]: rlp: expected input list at offset 177");
  // ENRResponse: the record must be a list; the request hash 32 bytes.
  EXPECT_EQ(DecodeError(SignRaw(Eip8Key(), kENRResponsePacket, Data([&](rlp::Encoder& e) {
                                  e.BeginList();
                                  e.AddBytes(std::vector<uint8_t>(32, 7));
                                  e.AddString("not a record");
                                  e.EndList();
                                }))),
            "invalid packet: ENRResponse.record: rlp: expected input list at offset 132");
  EXPECT_EQ(DecodeError(SignRaw(Eip8Key(), kENRResponsePacket, Data([&](rlp::Encoder& e) {
                                  e.BeginList();
                                  e.AddBytes(std::vector<uint8_t>(32, 7));
                                  e.EndList();
                                }))),
            "invalid packet: ENRResponse.record: rlp: input list has too few elements at offset "
            "132");
  EXPECT_EQ(DecodeErrorHex(kENRResponsePacket, "c180"),
            "invalid packet: ENRResponse.request_hash: rlp: input string too short for [32]byte "
            "(0 bytes) at offset 99");
}

// ---- Names and expiration ----

TEST(V4WireTest, PacketTypesAndNames) {
  EXPECT_EQ(PacketType(Ping{}), kPingPacket);
  EXPECT_EQ(PacketType(Pong{}), kPongPacket);
  EXPECT_EQ(PacketType(FindNode{}), kFindNodePacket);
  EXPECT_EQ(PacketType(Neighbors{}), kNeighborsPacket);
  EXPECT_EQ(PacketType(ENRRequest{}), kENRRequestPacket);
  EXPECT_EQ(PacketType(ENRResponse{}), kENRResponsePacket);
  EXPECT_STREQ(PacketName(Ping{}), "PING/v4");
  EXPECT_STREQ(PacketName(Pong{}), "PONG/v4");
  EXPECT_STREQ(PacketName(FindNode{}), "FINDNODE/v4");
  EXPECT_STREQ(PacketName(Neighbors{}), "NEIGHBORS/v4");
  EXPECT_STREQ(PacketName(ENRRequest{}), "ENRREQUEST/v4");
  EXPECT_STREQ(PacketName(ENRResponse{}), "ENRRESPONSE/v4");
}

TEST(V4WireTest, Expired) {
  const absl::Time t = absl::FromUnixSeconds(1136239445);
  EXPECT_FALSE(Expired(1136239445, t));  // Not before now: still valid.
  EXPECT_TRUE(Expired(1136239445, t + absl::Nanoseconds(1)));
  EXPECT_TRUE(Expired(1136239444, t));
  EXPECT_FALSE(Expired(1136239446, t + absl::Milliseconds(999)));
  EXPECT_TRUE(Expired(0, t));
  EXPECT_FALSE(Expired(0, absl::UnixEpoch()));
  // Stamps beyond int64 are far future, not (as in go-ethereum) negative.
  EXPECT_FALSE(Expired(UINT64_MAX, t));
  EXPECT_FALSE(Expired(uint64_t{1} << 63, t));
  EXPECT_TRUE(Expired((uint64_t{1} << 63) - 1, absl::InfiniteFuture()));
}

TEST(V4WireTest, MakeExpiration) {
  const absl::Time t = absl::FromUnixSeconds(1136239425) + absl::Milliseconds(999);
  EXPECT_EQ(MakeExpiration(t, absl::Seconds(20)), 1136239445u);  // Rounded down.
  EXPECT_FALSE(Expired(MakeExpiration(t, absl::Seconds(20)), t + absl::Seconds(19)));
  EXPECT_EQ(MakeExpiration(absl::UnixEpoch(), -absl::Seconds(1)), 0u);
  EXPECT_EQ(MakeExpiration(absl::UnixEpoch(), absl::ZeroDuration()), 0u);
}

}  // namespace
}  // namespace discover
}  // namespace p2p
