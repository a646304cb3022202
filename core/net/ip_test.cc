#include "core/net/ip.h"

#include <string>

#include "absl/container/flat_hash_set.h"
#include "gtest/gtest.h"

namespace p2p {
namespace {

IpAddress Ip(absl::string_view text) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  EXPECT_TRUE(ip.ok()) << text << ": " << ip.status();
  return ip.ok() ? *ip : IpAddress();
}

std::string ParseError(absl::string_view text) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  if (ip.ok()) return "parsed as " + ip->ToString();
  EXPECT_EQ(ip.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(ip.status().message());
}

TEST(IpAddressTest, DefaultIsUnspecifiedV6) {
  IpAddress ip;
  EXPECT_TRUE(ip.IsUnspecified());
  EXPECT_FALSE(ip.is_v4());
  EXPECT_EQ(ip.ToString(), "::");
}

TEST(IpAddressTest, V4Constructors) {
  IpAddress a = IpAddress::V4(10, 1, 2, 3);
  EXPECT_TRUE(a.is_v4());
  EXPECT_EQ(a.v4(), 0x0a010203u);
  EXPECT_EQ(a, IpAddress::V4(0x0a010203u));
  EXPECT_EQ(a.ToString(), "10.1.2.3");
  std::array<uint8_t, 16> mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  EXPECT_EQ(a.bytes16(), mapped);
  EXPECT_EQ(a.WireBytes(), (std::vector<uint8_t>{10, 1, 2, 3}));
}

TEST(IpAddressTest, FromBytes) {
  const uint8_t v4[] = {192, 168, 1, 1};
  absl::StatusOr<IpAddress> a = IpAddress::FromBytes(v4);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, IpAddress::V4(192, 168, 1, 1));

  const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  absl::StatusOr<IpAddress> b = IpAddress::FromBytes(v6);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->ToString(), "2001:db8::1");
  EXPECT_EQ(b->WireBytes(), std::vector<uint8_t>(v6, v6 + 16));

  const uint8_t five[5] = {1, 2, 3, 4, 5};
  absl::StatusOr<IpAddress> c = IpAddress::FromBytes(five);
  EXPECT_EQ(c.status(), absl::InvalidArgumentError("IP address must be 4 or 16 bytes, got 5"));
  EXPECT_FALSE(IpAddress::FromBytes({}).ok());
}

TEST(IpAddressTest, ParseV4Good) {
  EXPECT_EQ(Ip("0.0.0.0"), IpAddress::V4(0, 0, 0, 0));
  EXPECT_EQ(Ip("255.255.255.255"), IpAddress::V4(255, 255, 255, 255));
  EXPECT_EQ(Ip("10.0.0.1"), IpAddress::V4(10, 0, 0, 1));
  EXPECT_EQ(Ip("1.2.3.4").ToString(), "1.2.3.4");
}

TEST(IpAddressTest, ParseV4Bad) {
  EXPECT_EQ(ParseError(""), "invalid IP address \"\": empty");
  EXPECT_EQ(ParseError("1.2.3"), "invalid IP address \"1.2.3\": expected 4 decimal octets");
  EXPECT_EQ(ParseError("1.2.3.4.5"), "invalid IP address \"1.2.3.4.5\": expected 4 decimal octets");
  EXPECT_EQ(ParseError("1.2.3.4."), "invalid IP address \"1.2.3.4.\": expected 4 decimal octets");
  EXPECT_EQ(ParseError("1..3.4"), "invalid IP address \"1..3.4\": empty IPv4 octet");
  EXPECT_EQ(ParseError("01.2.3.4"), "invalid IP address \"01.2.3.4\": leading zero in IPv4 octet");
  EXPECT_EQ(ParseError("1.2.3.00"), "invalid IP address \"1.2.3.00\": leading zero in IPv4 octet");
  EXPECT_EQ(ParseError("1.2.3.256"), "invalid IP address \"1.2.3.256\": IPv4 octet out of range");
  EXPECT_EQ(ParseError("1.2.3.1000"), "invalid IP address \"1.2.3.1000\": IPv4 octet out of range");
  EXPECT_EQ(ParseError("1.2.3.-4"), "invalid IP address \"1.2.3.-4\": non-digit in IPv4 octet");
  EXPECT_EQ(ParseError("1.2.3.4 "), "invalid IP address \"1.2.3.4 \": non-digit in IPv4 octet");
  EXPECT_EQ(ParseError("a.b.c.d"), "invalid IP address \"a.b.c.d\": non-digit in IPv4 octet");
  EXPECT_EQ(ParseError("localhost"), "invalid IP address \"localhost\": expected 4 decimal octets");
  // Non-printable input is escaped in the message.
  EXPECT_EQ(ParseError(absl::string_view("1.2\n.3", 6)),
            "invalid IP address \"1.2\\n.3\": expected 4 decimal octets");
}

TEST(IpAddressTest, ParseV6Good) {
  EXPECT_EQ(Ip("::"), IpAddress());
  std::array<uint8_t, 16> one{};
  one[15] = 1;
  EXPECT_EQ(Ip("::1"), IpAddress::FromBytes16(one));
  EXPECT_EQ(Ip("0:0:0:0:0:0:0:1"), IpAddress::FromBytes16(one));
  EXPECT_EQ(Ip("0000:0000:0000:0000:0000:0000:0000:0001"), IpAddress::FromBytes16(one));
  std::array<uint8_t, 16> ll{};
  ll[0] = 0xfe;
  ll[1] = 0x80;
  ll[15] = 1;
  EXPECT_EQ(Ip("fe80::1"), IpAddress::FromBytes16(ll));
  EXPECT_EQ(Ip("FE80::1"), IpAddress::FromBytes16(ll));
  EXPECT_EQ(Ip("fe80:0::0:1"), IpAddress::FromBytes16(ll));
  EXPECT_EQ(Ip("1:2:3:4:5:6:7::").ToString(), "1:2:3:4:5:6:7:0");
  EXPECT_EQ(Ip("::2:3:4:5:6:7:8").ToString(), "0:2:3:4:5:6:7:8");
  EXPECT_EQ(Ip("1:2:3:4:5:6:7:8").ToString(), "1:2:3:4:5:6:7:8");
  // Embedded IPv4.
  EXPECT_EQ(Ip("::ffff:1.2.3.4"), IpAddress::V4(1, 2, 3, 4));
  EXPECT_EQ(Ip("::FFFF:1.2.3.4"), IpAddress::V4(1, 2, 3, 4));
  EXPECT_EQ(Ip("0:0:0:0:0:ffff:1.2.3.4"), IpAddress::V4(1, 2, 3, 4));
  EXPECT_EQ(Ip("::ffff:0102:0304"), IpAddress::V4(1, 2, 3, 4));
  EXPECT_EQ(Ip("64:ff9b::192.0.2.33").ToString(), "64:ff9b::c000:221");
  EXPECT_EQ(Ip("1:2:3:4:5:6:1.2.3.4").ToString(), "1:2:3:4:5:6:102:304");
  // IPv4-compatible (deprecated) is IPv6, not IPv4.
  EXPECT_FALSE(Ip("::1.2.3.4").is_v4());
  EXPECT_EQ(Ip("::1.2.3.4").ToString(), "::102:304");
}

TEST(IpAddressTest, ParseV6Bad) {
  EXPECT_EQ(ParseError("1:2:3:4:5:6:7:8:9"),
            "invalid IP address \"1:2:3:4:5:6:7:8:9\": too many groups");
  EXPECT_EQ(ParseError("1:2:3:4:5:6:7"), "invalid IP address \"1:2:3:4:5:6:7\": too few groups");
  EXPECT_EQ(ParseError("1:2:3:4::5:6:7:8"),
            "invalid IP address \"1:2:3:4::5:6:7:8\": too many groups");
  EXPECT_EQ(ParseError("1:2:3:4:5:6:7:1.2.3.4"),
            "invalid IP address \"1:2:3:4:5:6:7:1.2.3.4\": too many groups");
  EXPECT_EQ(ParseError("1::2::3"), "invalid IP address \"1::2::3\": more than one \"::\"");
  EXPECT_EQ(ParseError(":::"), "invalid IP address \":::\": more than one \"::\"");
  EXPECT_EQ(ParseError("::1::"), "invalid IP address \"::1::\": more than one \"::\"");
  EXPECT_EQ(ParseError(":"), "invalid IP address \":\": empty group");
  EXPECT_EQ(ParseError(":1:2:3:4:5:6:7"), "invalid IP address \":1:2:3:4:5:6:7\": empty group");
  EXPECT_EQ(ParseError("1:2:3:4:5:6:7:"), "invalid IP address \"1:2:3:4:5:6:7:\": empty group");
  EXPECT_EQ(ParseError("1:::2"), "invalid IP address \"1:::2\": more than one \"::\"");
  EXPECT_EQ(ParseError("12345::"),
            "invalid IP address \"12345::\": group longer than 4 hex digits");
  EXPECT_EQ(ParseError("00001::"),
            "invalid IP address \"00001::\": group longer than 4 hex digits");
  EXPECT_EQ(ParseError("g::"), "invalid IP address \"g::\": invalid character");
  EXPECT_EQ(ParseError("::1 "), "invalid IP address \"::1 \": invalid character");
  EXPECT_EQ(ParseError("[::1]"), "invalid IP address \"[::1]\": invalid character");
  EXPECT_EQ(ParseError("fe80::1%eth0"),
            "invalid IP address \"fe80::1%eth0\": zone ids are not supported");
  EXPECT_EQ(ParseError("1.2.3.4::"),
            "invalid IP address \"1.2.3.4::\": embedded IPv4 address must be the last group");
  EXPECT_EQ(ParseError("::1.2.3.4:1"),
            "invalid IP address \"::1.2.3.4:1\": embedded IPv4 address must be the last group");
  EXPECT_EQ(ParseError("::ffff:1.2.3.04"),
            "invalid IP address \"::ffff:1.2.3.04\": leading zero in IPv4 octet");
  EXPECT_EQ(ParseError("::ffff:1.2.3.256"),
            "invalid IP address \"::ffff:1.2.3.256\": IPv4 octet out of range");
  EXPECT_EQ(ParseError("::ffff:1.2.3"),
            "invalid IP address \"::ffff:1.2.3\": expected 4 decimal octets");
}

TEST(IpAddressTest, Rfc5952Formatting) {
  // Longest run compressed.
  EXPECT_EQ(Ip("2001:db8:0:0:1:0:0:0").ToString(), "2001:db8:0:0:1::");
  EXPECT_EQ(Ip("2001:0:0:1:0:0:0:1").ToString(), "2001:0:0:1::1");
  // Leftmost on a tie.
  EXPECT_EQ(Ip("2001:db8:0:0:1:0:0:1").ToString(), "2001:db8::1:0:0:1");
  EXPECT_EQ(Ip("1:0:0:2:0:0:3:4").ToString(), "1::2:0:0:3:4");
  // A single zero group is not compressed.
  EXPECT_EQ(Ip("2001:db8:0:1:1:1:1:1").ToString(), "2001:db8:0:1:1:1:1:1");
  EXPECT_EQ(Ip("1:2:3:4:5:6:7:0").ToString(), "1:2:3:4:5:6:7:0");
  // Lower case, no leading zeros.
  EXPECT_EQ(Ip("2001:0DB8:00AB:000c::0001").ToString(), "2001:db8:ab:c::1");
  // Runs at the edges.
  EXPECT_EQ(Ip("0:0:0:0:0:0:0:0").ToString(), "::");
  EXPECT_EQ(Ip("0:0:1:0:0:0:0:0").ToString(), "0:0:1::");
  EXPECT_EQ(Ip("0:0:0:1:0:0:0:0").ToString(), "0:0:0:1::");
  EXPECT_EQ(Ip("0:0:0:0:1:0:0:0").ToString(), "::1:0:0:0");
  EXPECT_EQ(Ip("0:0:1:0:0:1:0:0").ToString(), "::1:0:0:1:0:0");
  EXPECT_EQ(Ip("1::").ToString(), "1::");
  EXPECT_EQ(Ip("::1").ToString(), "::1");
  EXPECT_EQ(Ip("fe80::1").ToString(), "fe80::1");
  // IPv4-mapped shows the dotted quad.
  EXPECT_EQ(Ip("::ffff:7f00:1").ToString(), "127.0.0.1");
  EXPECT_EQ(Ip("::ffff:0.0.0.0").ToString(), "0.0.0.0");
  // ::ffff alone (not followed by 32 bits of IPv4) is IPv6.
  EXPECT_EQ(Ip("::ffff:0:0:0").ToString(), "::ffff:0:0:0");
}

TEST(IpAddressTest, FormatParseRoundTrip) {
  const char* kCanonical[] = {"::",
                              "::1",
                              "1::",
                              "fe80::1",
                              "2001:db8::1",
                              "2001:db8:0:1:1:1:1:1",
                              "1:2:3:4:5:6:7:8",
                              "::ffff:0:0:0",
                              "0.0.0.0",
                              "1.2.3.4",
                              "255.255.255.255",
                              "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"};
  for (const char* text : kCanonical) EXPECT_EQ(Ip(text).ToString(), text);
}

TEST(IpAddressTest, Ordering) {
  EXPECT_LT(IpAddress(), IpAddress::V4(0, 0, 0, 0));  // :: sorts before ::ffff:0.0.0.0
  EXPECT_LT(IpAddress::V4(1, 2, 3, 4), IpAddress::V4(1, 2, 3, 5));
  EXPECT_LT(IpAddress::V4(9, 0, 0, 0), IpAddress::V4(10, 0, 0, 0));
  EXPECT_NE(IpAddress::V4(1, 2, 3, 4), Ip("::1.2.3.4"));
  absl::flat_hash_set<IpAddress> set = {Ip("::1"), Ip("0:0::1"), IpAddress::V4(1, 2, 3, 4),
                                        Ip("::ffff:1.2.3.4")};
  EXPECT_EQ(set.size(), 2u);
}

TEST(IpAddressTest, Unspecified) {
  EXPECT_TRUE(Ip("0.0.0.0").IsUnspecified());
  EXPECT_TRUE(Ip("::").IsUnspecified());
  EXPECT_FALSE(Ip("0.0.0.1").IsUnspecified());
  EXPECT_FALSE(Ip("::1").IsUnspecified());
}

TEST(IpAddressTest, Loopback) {
  EXPECT_TRUE(Ip("127.0.0.1").IsLoopback());
  EXPECT_TRUE(Ip("127.255.255.254").IsLoopback());
  EXPECT_TRUE(Ip("::ffff:127.0.0.1").IsLoopback());
  EXPECT_TRUE(Ip("::1").IsLoopback());
  EXPECT_FALSE(Ip("128.0.0.1").IsLoopback());
  EXPECT_FALSE(Ip("126.255.255.255").IsLoopback());
  EXPECT_FALSE(Ip("::2").IsLoopback());
  EXPECT_FALSE(Ip("::").IsLoopback());
  EXPECT_FALSE(Ip("::127.0.0.1").IsLoopback());  // IPv4-compatible is not IPv4.
}

// go-ethereum p2p/netutil: IsLAN = loopback || lan4 (0/8, 10/8, 172.16/12,
// 192.168/16) || lan6 (fe80::/10, fc00::/7).
TEST(IpAddressTest, LanAsGoEthereum) {
  const char* kLan[] = {"127.0.0.1",       "0.0.0.0",    "0.255.255.255",   "10.0.1.1",
                        "10.255.255.255",  "172.16.0.1", "172.31.255.255",  "192.168.1.1",
                        "192.168.255.255", "::1",        "fe80::1",         "febf:ffff::1",
                        "fc00::4",         "fdff::1",    "::ffff:10.1.2.3", "::ffff:127.0.0.1"};
  const char* kNotLan[] = {"1.0.0.0",    "9.255.255.255",   "11.0.0.0",    "172.15.255.255",
                           "172.32.0.0", "192.167.255.255", "192.169.0.0", "169.254.1.1",
                           "100.64.0.1", "8.8.8.8",         "::",          "::2",
                           "fec0::1",    "fe7f::1",         "fe00::1",     "fb00::1",
                           "fe::1",      "2001:db8::1",     "ff02::1",     "::10.0.0.1"};
  for (const char* text : kLan) EXPECT_TRUE(Ip(text).IsLan()) << text;
  for (const char* text : kNotLan) EXPECT_FALSE(Ip(text).IsLan()) << text;
}

TEST(EndpointTest, Parse) {
  absl::StatusOr<Endpoint> e = Endpoint::Parse("1.2.3.4:30303");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->ip, IpAddress::V4(1, 2, 3, 4));
  EXPECT_EQ(e->port, 30303);
  EXPECT_EQ(e->ToString(), "1.2.3.4:30303");

  e = Endpoint::Parse("[::1]:30303");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->ip, Ip("::1"));
  EXPECT_EQ(e->port, 30303);
  EXPECT_EQ(e->ToString(), "[::1]:30303");

  e = Endpoint::Parse("[2001:DB8:0::1]:0");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->ToString(), "[2001:db8::1]:0");

  e = Endpoint::Parse("[::ffff:10.0.0.1]:65535");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->ToString(), "10.0.0.1:65535");
}

TEST(EndpointTest, ParseBad) {
  auto err = [](absl::string_view text) {
    absl::StatusOr<Endpoint> e = Endpoint::Parse(text);
    if (e.ok()) return "parsed as " + e->ToString();
    EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(e.status().message());
  };
  EXPECT_EQ(err("1.2.3.4"), "invalid endpoint \"1.2.3.4\": missing port");
  EXPECT_EQ(err("[::1]"), "invalid endpoint \"[::1]\": missing port");
  EXPECT_EQ(err("1.2.3.4:"), "invalid endpoint \"1.2.3.4:\": bad port");
  EXPECT_EQ(err("1.2.3.4:65536"), "invalid endpoint \"1.2.3.4:65536\": bad port");
  EXPECT_EQ(err("1.2.3.4:123456"), "invalid endpoint \"1.2.3.4:123456\": bad port");
  EXPECT_EQ(err("1.2.3.4:-1"), "invalid endpoint \"1.2.3.4:-1\": bad port");
  EXPECT_EQ(err("1.2.3.4:+1"), "invalid endpoint \"1.2.3.4:+1\": bad port");
  EXPECT_EQ(err("1.2.3.4:080"), "invalid endpoint \"1.2.3.4:080\": bad port");
  EXPECT_EQ(err("1.2.3.4:http"), "invalid endpoint \"1.2.3.4:http\": bad port");
  EXPECT_EQ(err("[::1]:x"), "invalid endpoint \"[::1]:x\": bad port");
  EXPECT_EQ(err("::1:30303"), "invalid endpoint \"::1:30303\": IPv6 address must be in brackets");
  EXPECT_EQ(err("[::1:30303"), "invalid endpoint \"[::1:30303\": missing ']'");
  EXPECT_EQ(err("[::1]30303"), "invalid endpoint \"[::1]30303\": expected ':' after ']'");
  EXPECT_EQ(err("1.2.3:30303"),
            "invalid endpoint \"1.2.3:30303\": invalid IP address \"1.2.3\": expected 4 decimal "
            "octets");
  EXPECT_EQ(err(":30303"), "invalid endpoint \":30303\": invalid IP address \"\": empty");
  EXPECT_EQ(err(""), "invalid endpoint \"\": missing port");
}

TEST(EndpointTest, OrderingAndHash) {
  Endpoint a{IpAddress::V4(1, 2, 3, 4), 1};
  Endpoint b{IpAddress::V4(1, 2, 3, 4), 2};
  Endpoint c{IpAddress::V4(1, 2, 3, 5), 0};
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(a, b);
  absl::flat_hash_set<Endpoint> set = {a, b, c, a};
  EXPECT_EQ(set.size(), 3u);
}

IpNet Net(absl::string_view text) {
  absl::StatusOr<IpNet> n = IpNet::Parse(text);
  EXPECT_TRUE(n.ok()) << text << ": " << n.status();
  return n.ok() ? *n : IpNet();
}

TEST(IpNetTest, ParseMasksBase) {
  IpNet n = Net("10.1.2.3/8");
  EXPECT_EQ(n.base, IpAddress::V4(10, 0, 0, 0));
  EXPECT_EQ(n.prefix_bits, 8);
  EXPECT_EQ(n.ToString(), "10.0.0.0/8");
  EXPECT_EQ(Net("172.31.255.255/12").ToString(), "172.16.0.0/12");
  EXPECT_EQ(Net("192.168.1.130/25").ToString(), "192.168.1.128/25");
  EXPECT_EQ(Net("1.2.3.4/32").ToString(), "1.2.3.4/32");
  EXPECT_EQ(Net("1.2.3.4/0").ToString(), "0.0.0.0/0");
  EXPECT_EQ(Net("fdab:cdef::1/8").ToString(), "fd00::/8");
  EXPECT_EQ(Net("fe80::1/10").ToString(), "fe80::/10");
  EXPECT_EQ(Net("febf:ffff::1/10").ToString(), "fe80::/10");
  EXPECT_EQ(Net("::1/128").ToString(), "::1/128");
  EXPECT_EQ(Net("ffff::/0").ToString(), "::/0");
  // An IPv4-mapped block is an IPv4 block, as in Go.
  EXPECT_EQ(Net("::ffff:10.1.0.0/104").ToString(), "10.0.0.0/8");
  EXPECT_EQ(Net("::ffff:0:0/96").ToString(), "0.0.0.0/0");
  EXPECT_EQ(Net("::ffff:0:0/95").ToString(), "::fffe:0:0/95");
}

TEST(IpNetTest, ParseBad) {
  auto err = [](absl::string_view text) {
    absl::StatusOr<IpNet> n = IpNet::Parse(text);
    if (n.ok()) return "parsed as " + n->ToString();
    EXPECT_EQ(n.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(n.status().message());
  };
  EXPECT_EQ(err("10.0.0.0"), "invalid CIDR \"10.0.0.0\": missing '/'");
  EXPECT_EQ(err("10.0.0.0/33"), "invalid CIDR \"10.0.0.0/33\": prefix length must be 0..32");
  EXPECT_EQ(err("10.0.0.0/"), "invalid CIDR \"10.0.0.0/\": prefix length must be 0..32");
  EXPECT_EQ(err("10.0.0.0/-1"), "invalid CIDR \"10.0.0.0/-1\": prefix length must be 0..32");
  EXPECT_EQ(err("10.0.0.0/08"), "invalid CIDR \"10.0.0.0/08\": prefix length must be 0..32");
  EXPECT_EQ(err("10.0.0.0/8/8"), "invalid CIDR \"10.0.0.0/8/8\": prefix length must be 0..32");
  EXPECT_EQ(err("::/129"), "invalid CIDR \"::/129\": prefix length must be 0..128");
  EXPECT_EQ(err("::/1000"), "invalid CIDR \"::/1000\": prefix length must be 0..128");
  EXPECT_EQ(err("10.0.0/8"),
            "invalid CIDR \"10.0.0/8\": invalid IP address \"10.0.0\": expected 4 decimal octets");
}

TEST(IpNetTest, Contains) {
  IpNet n = Net("10.0.0.0/8");
  EXPECT_TRUE(n.Contains(Ip("10.0.0.0")));
  EXPECT_TRUE(n.Contains(Ip("10.255.255.255")));
  EXPECT_FALSE(n.Contains(Ip("11.0.0.0")));
  EXPECT_FALSE(n.Contains(Ip("9.255.255.255")));

  IpNet n12 = Net("172.16.0.0/12");
  EXPECT_TRUE(n12.Contains(Ip("172.31.1.1")));
  EXPECT_FALSE(n12.Contains(Ip("172.32.0.0")));
  EXPECT_FALSE(n12.Contains(Ip("172.15.255.255")));

  IpNet host = Net("1.2.3.4/32");
  EXPECT_TRUE(host.Contains(Ip("1.2.3.4")));
  EXPECT_FALSE(host.Contains(Ip("1.2.3.5")));

  IpNet all4 = Net("0.0.0.0/0");
  EXPECT_TRUE(all4.Contains(Ip("0.0.0.0")));
  EXPECT_TRUE(all4.Contains(Ip("255.255.255.255")));
  EXPECT_FALSE(all4.Contains(Ip("::1")));
  EXPECT_FALSE(all4.Contains(Ip("::")));

  IpNet all6 = Net("::/0");
  EXPECT_TRUE(all6.Contains(Ip("::")));
  EXPECT_TRUE(all6.Contains(Ip("2001:db8::1")));
  EXPECT_FALSE(all6.Contains(Ip("1.2.3.4")));
  EXPECT_FALSE(all6.Contains(Ip("0.0.0.0")));

  IpNet ula = Net("fc00::/7");
  EXPECT_TRUE(ula.Contains(Ip("fd12::1")));
  EXPECT_FALSE(ula.Contains(Ip("fe00::1")));

  IpNet odd = Net("2001:db8::/33");
  EXPECT_TRUE(odd.Contains(Ip("2001:db8:7fff::1")));
  EXPECT_FALSE(odd.Contains(Ip("2001:db8:8000::1")));

  IpNet lo6 = Net("::1/128");
  EXPECT_TRUE(lo6.Contains(Ip("::1")));
  EXPECT_FALSE(lo6.Contains(Ip("::2")));

  // A mapped block parsed from IPv6 text behaves as its IPv4 block.
  IpNet mapped = Net("::ffff:10.0.0.0/104");
  EXPECT_TRUE(mapped.Contains(Ip("10.9.9.9")));
  EXPECT_FALSE(mapped.Contains(Ip("11.0.0.0")));
}

TEST(IpNetTest, ContainsWithUnmaskedBaseSetDirectly) {
  IpNet n{IpAddress::V4(192, 168, 7, 7), 16};
  EXPECT_TRUE(n.Contains(Ip("192.168.200.1")));
  EXPECT_FALSE(n.Contains(Ip("192.169.0.1")));
}

TEST(IpNetListTest, ParseAndContains) {
  absl::StatusOr<IpNetList> l = IpNetList::Parse(" 10.0.0.0/8 ,\t192.168.0.0/16,,fd00::/8 ,");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->nets().size(), 3u);
  EXPECT_EQ(l->ToString(), "10.0.0.0/8,192.168.0.0/16,fd00::/8");
  EXPECT_TRUE(l->Contains(Ip("10.1.1.1")));
  EXPECT_TRUE(l->Contains(Ip("192.168.3.4")));
  EXPECT_TRUE(l->Contains(Ip("fd00::5")));
  EXPECT_FALSE(l->Contains(Ip("172.16.0.1")));
  EXPECT_FALSE(l->Contains(Ip("fe80::1")));
  EXPECT_FALSE(l->empty());
}

TEST(IpNetListTest, EmptyContainsNothing) {
  absl::StatusOr<IpNetList> l = IpNetList::Parse("");
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->empty());
  EXPECT_FALSE(l->Contains(Ip("1.2.3.4")));
  EXPECT_FALSE(l->Contains(Ip("::")));
  EXPECT_EQ(l->ToString(), "");
  IpNetList manual;
  EXPECT_TRUE(manual.empty());
  manual.Add(Net("0.0.0.0/0"));
  EXPECT_TRUE(manual.Contains(Ip("8.8.8.8")));
  EXPECT_FALSE(manual.Contains(Ip("2001:db8::1")));
}

TEST(IpNetListTest, ParseBadNamesEntry) {
  absl::StatusOr<IpNetList> l = IpNetList::Parse("10.0.0.0/8, 192.168.0.0/33");
  EXPECT_EQ(l.status(),
            absl::InvalidArgumentError("invalid net list: invalid CIDR \"192.168.0.0/33\": "
                                       "prefix length must be 0..32"));
  l = IpNetList::Parse("10.0.0.0/8,bogus");
  EXPECT_EQ(l.status(),
            absl::InvalidArgumentError("invalid net list: invalid CIDR \"bogus\": missing '/'"));
}

}  // namespace
}  // namespace p2p
