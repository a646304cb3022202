#include "core/node.h"

#include <array>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/secp256k1.h"
#include "core/hex.h"
#include "core/rng.h"
#include "gtest/gtest.h"

namespace p2p {
namespace {

// The key used throughout go-ethereum's p2p/enode/urlv4_test.go.
constexpr char kGethKey[] =
    "1dd9d65c4552b5eb43d5ad55a2ee3f56c6cbc1c64a5c8d659f51fcd51bace243"
    "51232b8d7821617d2b29b54b81cdefb9b3e9c37d7fd5f63270bcc9e1a6f6a439";

PublicKey Pub(const char* hex) {
  absl::StatusOr<PublicKey> k = PublicKey::FromHex(hex);
  EXPECT_TRUE(k.ok()) << k.status();
  return k.ok() ? *k : PublicKey();
}

IpAddress Ip(const char* text) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  EXPECT_TRUE(ip.ok()) << ip.status();
  return ip.ok() ? *ip : IpAddress();
}

std::string Url(absl::string_view suffix) { return absl::StrCat("enode://", kGethKey, suffix); }

// ---------------------------------------------------------------------------
// NodeId

// EIP-778's example record is signed by the key whose public key is
// ca634cae...fc7f (the EIP-8 key B); its node ID, also asserted by
// go-ethereum's enode TestPythonInterop, is a448f24c...
TEST(NodeIdTest, IdOfKnownPublicKey) {
  PublicKey pub =
      Pub("ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138"
          "7574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f");
  NodeId id = NodeId::FromPublicKey(pub);
  EXPECT_EQ(id.ToString(), "a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7");
  EXPECT_EQ(id.TerminalString(), "a448f24c6d18e575");
  EXPECT_EQ(Node::FromPublicKey(pub, IpAddress(), 0, 0).id, id);
}

// go-ethereum enode TestHexID.
TEST(NodeIdTest, FromHex) {
  std::array<uint8_t, 32> ref = {0,   0,   0,   0,  0,  0,  0,   128, 106, 217, 182,
                                 31,  165, 174, 1,  67, 7,  235, 220, 150, 66,  83,
                                 173, 205, 159, 44, 10, 57, 42,  161, 26,  188};
  absl::StatusOr<NodeId> id1 =
      NodeId::FromHex("0x00000000000000806ad9b61fa5ae014307ebdc964253adcd9f2c0a392aa11abc");
  absl::StatusOr<NodeId> id2 =
      NodeId::FromHex("00000000000000806ad9b61fa5ae014307ebdc964253adcd9f2c0a392aa11abc");
  ASSERT_TRUE(id1.ok()) << id1.status();
  ASSERT_TRUE(id2.ok()) << id2.status();
  EXPECT_EQ(*id1, NodeId(ref));
  EXPECT_EQ(*id2, NodeId(ref));
  EXPECT_EQ(id1->ToString(), "00000000000000806ad9b61fa5ae014307ebdc964253adcd9f2c0a392aa11abc");

  absl::StatusOr<NodeId> short_id = NodeId::FromHex("0102");
  ASSERT_FALSE(short_id.ok());
  EXPECT_EQ(short_id.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(short_id.status().message(), "invalid node ID: wrong length, want 64 hex chars, got 4");
  EXPECT_FALSE(NodeId::FromHex("zz").ok());
}

// go-ethereum enode TestID_textEncoding.
TEST(NodeIdTest, TextEncoding) {
  std::array<uint8_t, 32> ref = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10, 0x11,
                                 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x20, 0x21, 0x22,
                                 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x30, 0x31, 0x32};
  const std::string hex = "0102030405060708091011121314151617181920212223242526272829303132";
  EXPECT_EQ(NodeId(ref).ToString(), hex);
  EXPECT_EQ(*NodeId::FromHex(hex), NodeId(ref));
  EXPECT_EQ(NodeId(ref).TerminalString(), "0102030405060708");
}

TEST(NodeIdTest, OrderingHashingAndZero) {
  std::array<uint8_t, 32> lo{}, hi{};
  lo[31] = 1;
  hi[0] = 1;
  EXPECT_LT(NodeId(lo), NodeId(hi));
  EXPECT_GT(NodeId(hi), NodeId(lo));
  EXPECT_LE(NodeId(lo), NodeId(lo));
  EXPECT_TRUE(NodeId().IsZero());
  EXPECT_FALSE(NodeId(lo).IsZero());
  absl::flat_hash_set<NodeId> set = {NodeId(lo), NodeId(hi), NodeId(lo)};
  EXPECT_EQ(set.size(), 2u);
}

// Reference: the bit length of a XOR b, computed bit by bit.
int LogDistanceByBits(const NodeId& a, const NodeId& b) {
  for (int bit = 0; bit < 256; ++bit) {
    int byte = bit / 8, shift = 7 - bit % 8;
    if (((a.bytes()[byte] ^ b.bytes()[byte]) >> shift) & 1) return 256 - bit;
  }
  return 0;
}

// Reference: compares target^a with target^b as big-endian numbers.
int DistCmpByBytes(const NodeId& t, const NodeId& a, const NodeId& b) {
  for (size_t i = 0; i < 32; ++i) {
    uint8_t da = t.bytes()[i] ^ a.bytes()[i];
    uint8_t db = t.bytes()[i] ^ b.bytes()[i];
    if (da != db) return da < db ? -1 : 1;
  }
  return 0;
}

NodeId RandomId(Rng& rng, int zero_prefix_bytes) {
  std::array<uint8_t, 32> b;
  rng.Fill(absl::MakeSpan(b));
  for (int i = 0; i < zero_prefix_bytes && i < 32; ++i) b[i] = 0;
  return NodeId(b);
}

// go-ethereum TestNodeID_logdist and TestNodeID_distcmp check against
// big.Int with testing/quick; we check against bitwise references on
// seeded random IDs, with shared prefixes so every 64-bit word is reached.
TEST(NodeIdTest, LogDistanceMatchesReference) {
  Rng rng(1);
  for (int i = 0; i < 2000; ++i) {
    NodeId a = RandomId(rng, 0);
    NodeId b = RandomId(rng, 0);
    // Copy a random-length prefix of a into b.
    std::array<uint8_t, 32> bb = b.bytes();
    size_t prefix = rng.Uniform(33);
    std::copy(a.bytes().begin(), a.bytes().begin() + prefix, bb.begin());
    b = NodeId(bb);
    ASSERT_EQ(LogDistance(a, b), LogDistanceByBits(a, b)) << a.ToString() << " " << b.ToString();
    ASSERT_EQ(LogDistance(a, b), LogDistance(b, a));
  }
}

TEST(NodeIdTest, LogDistanceEdges) {
  std::array<uint8_t, 32> x{};
  for (int i = 0; i < 16; ++i) x[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(LogDistance(NodeId(x), NodeId(x)), 0);  // TestNodeID_logdistEqual
  std::array<uint8_t, 32> zero{}, one{}, top{}, mid{};
  one[31] = 1;
  top[0] = 0x80;
  mid[8] = 0x01;  // Lowest bit of the second 64-bit word: bit 71 from the top.
  EXPECT_EQ(LogDistance(NodeId(zero), NodeId(one)), 1);
  EXPECT_EQ(LogDistance(NodeId(zero), NodeId(top)), 256);
  EXPECT_EQ(LogDistance(NodeId(zero), NodeId(mid)), 256 - 71);
}

TEST(NodeIdTest, DistCmpMatchesReference) {
  Rng rng(2);
  for (int i = 0; i < 2000; ++i) {
    NodeId t = RandomId(rng, 0);
    std::array<uint8_t, 32> ab = t.bytes(), bb = t.bytes();
    // Random suffixes after a shared prefix, so ties on early words happen.
    size_t pa = rng.Uniform(33), pb = rng.Uniform(33);
    for (size_t k = pa; k < 32; ++k) ab[k] = static_cast<uint8_t>(rng.Next64());
    for (size_t k = pb; k < 32; ++k) bb[k] = static_cast<uint8_t>(rng.Next64());
    NodeId a(ab), b(bb);
    ASSERT_EQ(DistCmp(t, a, b), DistCmpByBytes(t, a, b));
    ASSERT_EQ(DistCmp(t, b, a), -DistCmp(t, a, b));
    // The distance keys order a and b the same way.
    const DistanceKey ka = XorDistanceKey(t, a), kb = XorDistanceKey(t, b);
    ASSERT_EQ(ka < kb, DistCmpByBytes(t, a, b) < 0);
    ASSERT_EQ(ka == kb, DistCmpByBytes(t, a, b) == 0);
  }
  // TestNodeID_distcmpEqual.
  std::array<uint8_t, 32> base{}, x{};
  for (int i = 0; i < 16; ++i) {
    base[i] = static_cast<uint8_t>(i);
    x[i] = static_cast<uint8_t>(15 - i);
  }
  EXPECT_EQ(DistCmp(NodeId(base), NodeId(x), NodeId(x)), 0);
}

// ---------------------------------------------------------------------------
// ParseEnode: go-ethereum urlv4_test.go parseNodeTests, by behaviour.

TEST(ParseEnodeTest, GethValidUrls) {
  struct Case {
    std::string url;
    Node want;
  };
  PublicKey key = Pub(kGethKey);
  Node hostname_node = Node::FromPublicKey(key, IpAddress(), 3, 3);
  hostname_node.hostname = "valid.";
  const Case cases[] = {
      {Url("@127.0.0.1:52150"),
       Node::FromPublicKey(key, IpAddress::V4(127, 0, 0, 1), 52150, 52150)},
      {Url("@valid.:3"), hostname_node},
      {Url("@[::]:52150"), Node::FromPublicKey(key, Ip("::"), 52150, 52150)},
      {Url("@[2001:db8:3c4d:15::abcd:ef12]:52150"),
       Node::FromPublicKey(key, Ip("2001:db8:3c4d:15::abcd:ef12"), 52150, 52150)},
      {Url("@127.0.0.1:52150?discport=22334"),
       Node::FromPublicKey(key, IpAddress::V4(127, 0, 0, 1), 52150, 22334)},
      // Incomplete node: key only.
      {Url(""), Node::FromPublicKey(key, IpAddress(), 0, 0)},
  };
  for (const Case& c : cases) {
    absl::StatusOr<Node> n = ParseEnode(c.url);
    ASSERT_TRUE(n.ok()) << c.url << ": " << n.status();
    EXPECT_EQ(*n, c.want) << c.url;
    // TestNodeString: formatting gives the URL back.
    EXPECT_EQ(n->ToEnode(), c.url);
  }
}

TEST(ParseEnodeTest, ParsedFields) {
  absl::StatusOr<Node> n = ParseEnode(Url("@127.0.0.1:52150?discport=22334"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->pubkey.ToHex(), kGethKey);
  EXPECT_EQ(n->id, NodeId::FromPublicKey(n->pubkey));
  EXPECT_TRUE(n->has_ip());
  EXPECT_EQ(n->TcpEndpoint().ToString(), "127.0.0.1:52150");
  EXPECT_EQ(n->UdpEndpoint().ToString(), "127.0.0.1:22334");
  EXPECT_TRUE(n->hostname.empty());

  absl::StatusOr<Node> h = ParseEnode(Url("@bootnode.example.org:30303"));
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_FALSE(h->has_ip());
  EXPECT_EQ(h->hostname, "bootnode.example.org");
  EXPECT_EQ(h->tcp, 30303);
  EXPECT_EQ(h->udp, 30303);

  absl::StatusOr<Node> inc = ParseEnode(Url(""));
  ASSERT_TRUE(inc.ok());
  EXPECT_FALSE(inc->has_ip());
  EXPECT_EQ(inc->tcp, 0);
  EXPECT_EQ(inc->udp, 0);
}

void ExpectError(const std::string& url, const std::string& message) {
  absl::StatusOr<Node> n = ParseEnode(url);
  ASSERT_FALSE(n.ok()) << url << " parsed as " << n->ToEnode();
  EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument) << url;
  EXPECT_EQ(n.status().message(), message) << url;
}

TEST(ParseEnodeTest, GethInvalidUrls) {
  // go-ethereum's enode.Parse answers errMissingPrefix for these.
  ExpectError("", "not an enode URL: missing \"enode://\" prefix");
  ExpectError(kGethKey, "not an enode URL: missing \"enode://\" prefix");
  ExpectError("01010101", "not an enode URL: missing \"enode://\" prefix");
  ExpectError("://foo", "not an enode URL: missing \"enode://\" prefix");
  ExpectError("http://foobar", "invalid URL scheme \"http\", want \"enode\"");
  // go-ethereum: "invalid public key (wrong length, want 128 hex chars)".
  ExpectError("enode://01010101@123.124.125.126:3",
              "invalid public key (wrong length, want 128 hex chars, got 8)");
  ExpectError("enode://01010101", "invalid public key (wrong length, want 128 hex chars, got 8)");
  // go-ethereum: "invalid port" / "invalid discport in query".
  ExpectError(Url("@127.0.0.1:foo"), "invalid port \"foo\"");
  ExpectError(Url("@127.0.0.1:3?discport=foo"), "invalid discport in query \"foo\"");
}

TEST(ParseEnodeTest, BadPublicKeys) {
  ExpectError("enode://@127.0.0.1:3", "invalid public key (missing, want 128 hex chars)");
  ExpectError("enode://", "invalid public key (missing, want 128 hex chars)");
  std::string bad_hex = std::string(kGethKey);
  bad_hex[5] = 'g';
  ExpectError("enode://" + bad_hex + "@127.0.0.1:3",
              "invalid public key (invalid hex character \"g\" at offset 5)");
  ExpectError("enode://" + std::string(kGethKey) + "00@127.0.0.1:3",
              "invalid public key (wrong length, want 128 hex chars, got 130)");
  ExpectError("enode://" + std::string(kGethKey).substr(1) + "@127.0.0.1:3",
              "invalid public key (wrong length, want 128 hex chars, got 127)");
  // Y's last digit changed: 128 good hex digits, but not a curve point.
  std::string off_curve = std::string(kGethKey);
  off_curve.back() = off_curve.back() == '9' ? '8' : '9';
  ExpectError("enode://" + off_curve + "@127.0.0.1:3",
              "invalid public key (not a point on the secp256k1 curve)");
  ExpectError("enode://" + off_curve, "invalid public key (not a point on the secp256k1 curve)");
  ExpectError("enode://" + std::string(kGethKey).substr(0, 64) + "\x01",
              "invalid public key (invalid hex character \"\\x01\" at offset 64)");
}

TEST(ParseEnodeTest, MissingNodeId) {
  ExpectError("enode://1.2.3.4:30303",
              "does not contain node ID (want enode://<hex public key>@<ip>:<port>)");
  ExpectError(Url("?discport=3"),
              "does not contain node ID (want enode://<hex public key>@<ip>:<port>)");
}

TEST(ParseEnodeTest, BadPorts) {
  ExpectError(Url("@127.0.0.1"), "invalid port (missing)");
  ExpectError(Url("@127.0.0.1:"), "invalid port (missing)");
  ExpectError(Url("@[::1]"), "invalid port (missing)");
  ExpectError(Url("@127.0.0.1:65536"), "invalid port \"65536\" (out of range)");
  ExpectError(Url("@127.0.0.1:99999999999999999999"),
              "invalid port \"99999999999999999999\" (out of range)");
  ExpectError(Url("@127.0.0.1:-1"), "invalid port \"-1\"");
  ExpectError(Url("@127.0.0.1:+1"), "invalid port \"+1\"");
  ExpectError(Url("@127.0.0.1:3?discport=65536"), "invalid discport in query \"65536\"");
  ExpectError(Url("@127.0.0.1:3?discport=-3"), "invalid discport in query \"-3\"");
}

TEST(ParseEnodeTest, BadHosts) {
  ExpectError(Url("@:3"), "missing IP address or host name");
  ExpectError(Url("@[]:3"), "missing IP address or host name");
  ExpectError(Url("@1.2.3.256:3"), "invalid IP address \"1.2.3.256\": IPv4 octet out of range");
  ExpectError(Url("@1.2.3:3"), "invalid IP address \"1.2.3\": expected 4 decimal octets");
  ExpectError(Url("@::1:3"), "invalid IP address \"::1\": IPv6 addresses must be in brackets");
  ExpectError(Url("@[::1:3"), "invalid IP address \"[::1:3\": missing ']'");
  ExpectError(Url("@[::1]x:3"), "unexpected \"x:3\" after IP address");
  ExpectError(Url("@[example.com]:3"),
              "invalid IP address \"example.com\": expected 4 decimal octets");
  ExpectError(Url("@ex ample.com:3"), "invalid IP address or host name \"ex ample.com\"");
  ExpectError(Url("@-bad.example:3"), "invalid IP address or host name \"-bad.example\"");
  ExpectError(Url("@bad..example:3"), "invalid IP address or host name \"bad..example\"");
  ExpectError(Url("@" + std::string(64, 'a') + ".com:3"),
              "invalid IP address or host name \"" + std::string(64, 'a') + ".com\"");
  std::string long_name;
  for (int i = 0; i < 64; ++i) long_name += "abc.";  // 256 bytes with the dot.
  ExpectError(Url("@" + long_name + ":3"), "invalid IP address or host name \"" + long_name + "\"");
}

TEST(ParseEnodeTest, ExtraGarbage) {
  ExpectError(Url("@127.0.0.1:3/"), "unexpected \"/\" after address");
  ExpectError(Url("@127.0.0.1:3/path"), "unexpected \"/path\" after address");
  ExpectError(Url("@127.0.0.1:3#frag"), "unexpected \"#frag\" after address");
  ExpectError(Url("@127.0.0.1:3?discport=4#frag"), "unexpected \"#frag\" in query");
  ExpectError(Url("@127.0.0.1:3?foo=1"),
              "unknown query parameter \"foo\" (only discport is allowed)");
  ExpectError(Url("@127.0.0.1:3?discport=4&discport=5"), "duplicate discport in query");
  ExpectError(Url("@127.0.0.1:3?discport=4?"), "unexpected \"?\" in query");
  ExpectError(Url("@127.0.0.1:3 "), "invalid port \"3 \"");
}

TEST(ParseEnodeTest, LenientFormsGoEthereumAlsoAccepts) {
  PublicKey key = Pub(kGethKey);
  // Upper-case hex.
  std::string upper = absl::AsciiStrToUpper(kGethKey);
  absl::StatusOr<Node> n = ParseEnode("enode://" + upper + "@127.0.0.1:30303");
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->pubkey, key);
  // Empty discport means "same as TCP"; an empty query is fine.
  n = ParseEnode(Url("@127.0.0.1:30303?discport="));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->udp, 30303);
  n = ParseEnode(Url("@127.0.0.1:30303?"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->udp, 30303);
  // Leading zeros in ports (Go's strconv.ParseUint).
  n = ParseEnode(Url("@127.0.0.1:030303?discport=00001"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->tcp, 30303);
  EXPECT_EQ(n->udp, 1);
  // Port 0 and discport 0.
  n = ParseEnode(Url("@127.0.0.1:0?discport=0"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->tcp, 0);
  EXPECT_EQ(n->udp, 0);
  // IPv4-mapped IPv6 is stored as IPv4.
  n = ParseEnode(Url("@[::ffff:10.0.0.1]:30303"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->ip, IpAddress::V4(10, 0, 0, 1));
  EXPECT_EQ(n->ToEnode(), Url("@10.0.0.1:30303"));
  // Host names: single label, underscores, digits.
  for (const char* host : {"localhost", "my_host.local", "node-1.example.com", "host.123"}) {
    n = ParseEnode(Url(absl::StrCat("@", host, ":1")));
    ASSERT_TRUE(n.ok()) << host << ": " << n.status();
    EXPECT_EQ(n->hostname, host);
  }
}

// ---------------------------------------------------------------------------
// ToEnode

TEST(ToEnodeTest, Formats) {
  PublicKey key = Pub(kGethKey);
  EXPECT_EQ(Node::FromPublicKey(key, IpAddress::V4(10, 3, 58, 6), 30303, 30301).ToEnode(),
            Url("@10.3.58.6:30303?discport=30301"));
  EXPECT_EQ(Node::FromPublicKey(key, IpAddress::V4(10, 3, 58, 6), 30303, 30303).ToEnode(),
            Url("@10.3.58.6:30303"));
  EXPECT_EQ(Node::FromPublicKey(key, Ip("fe80::1"), 30303, 30303).ToEnode(),
            Url("@[fe80::1]:30303"));
  EXPECT_EQ(Node::FromPublicKey(key, IpAddress(), 0, 0).ToEnode(), Url(""));
  // No address but a port: the unspecified address keeps the port.
  EXPECT_EQ(Node::FromPublicKey(key, IpAddress(), 0, 5).ToEnode(), Url("@[::]:0?discport=5"));
  // 0.0.0.0 is unspecified too but is not the default "::": it is printed,
  // ports 0 and all, so the URL parses back to the same node (found by
  // //tests/fuzz:enode_fuzz with "[::ffff:0:0]:0").
  EXPECT_EQ(Node::FromPublicKey(key, IpAddress::V4(0, 0, 0, 0), 0, 0).ToEnode(), Url("@0.0.0.0:0"));
  for (const char* url : {"@[::ffff:0:0]:0", "@0.0.0.0:0", "@[::]:0", "@0.0.0.0:30303"}) {
    absl::StatusOr<Node> n = ParseEnode(Url(url));
    ASSERT_TRUE(n.ok()) << url << ": " << n.status();
    absl::StatusOr<Node> back = ParseEnode(n->ToEnode());
    ASSERT_TRUE(back.ok()) << n->ToEnode() << ": " << back.status();
    EXPECT_EQ(*back, *n) << url << " -> " << n->ToEnode();
  }
  Node h = Node::FromPublicKey(key, IpAddress(), 30303, 30304);
  h.hostname = "boot.example.org";
  EXPECT_EQ(h.ToEnode(), Url("@boot.example.org:30303?discport=30304"));
  // A resolved host name still formats by name, as go-ethereum's URLv4.
  h.ip = IpAddress::V4(1, 2, 3, 4);
  EXPECT_EQ(h.ToEnode(), Url("@boot.example.org:30303?discport=30304"));
}

TEST(ToEnodeTest, RandomNodesRoundTrip) {
  Rng rng(5);
  RngEntropy entropy(Rng(6));
  for (int i = 0; i < 300; ++i) {
    PublicKey key = DerivePublicKey(PrivateKey::Generate(entropy));
    IpAddress ip;
    std::string hostname;
    switch (rng.Intn(4)) {
      case 0:
        ip = IpAddress::V4(static_cast<uint32_t>(rng.Next64()));
        break;
      case 1: {
        std::array<uint8_t, 16> b;
        rng.Fill(absl::MakeSpan(b));
        b[0] = 0x20;  // Not IPv4-mapped.
        ip = IpAddress::FromBytes16(b);
        break;
      }
      case 2:
        hostname = absl::StrCat("n", rng.Intn(1000), ".example.org");
        break;
      default:
        break;  // No address.
    }
    uint16_t tcp = static_cast<uint16_t>(rng.Uniform(65536));
    uint16_t udp = rng.Chance(1, 2) ? tcp : static_cast<uint16_t>(rng.Uniform(65536));
    Node n = Node::FromPublicKey(key, ip, tcp, udp);
    n.hostname = hostname;
    absl::StatusOr<Node> back = ParseEnode(n.ToEnode());
    ASSERT_TRUE(back.ok()) << n.ToEnode() << ": " << back.status();
    EXPECT_EQ(*back, n) << n.ToEnode();
    EXPECT_EQ(back->ToEnode(), n.ToEnode());
  }
}

}  // namespace
}  // namespace p2p
