#include "transport/sockaddr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "gtest/gtest.h"

namespace p2p::transport {
namespace {

Endpoint Ep(const char* text) {
  absl::StatusOr<Endpoint> ep = Endpoint::Parse(text);
  EXPECT_TRUE(ep.ok()) << ep.status();
  return ep.ok() ? *ep : Endpoint();
}

TEST(SockAddrTest, Ipv4RoundTripsThroughAfInet) {
  const Endpoint ep = Ep("192.0.2.7:30303");
  EXPECT_EQ(FamilyFor(ep.ip), AF_INET);
  SockAddr sa = ToNativeSockAddr(ep);
  ASSERT_EQ(sa.family(), AF_INET);
  ASSERT_EQ(sa.len, sizeof(sockaddr_in));
  sockaddr_in sin;
  memcpy(&sin, &sa.storage, sizeof(sin));
  EXPECT_EQ(ntohs(sin.sin_port), 30303);
  EXPECT_EQ(ntohl(sin.sin_addr.s_addr), 0xC0000207u);
  absl::StatusOr<Endpoint> back = FromSockAddr(sa.get(), sa.len);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, ep);
}

TEST(SockAddrTest, Ipv6RoundTripsThroughAfInet6) {
  const Endpoint ep = Ep("[2001:db8::1]:9");
  EXPECT_EQ(FamilyFor(ep.ip), AF_INET6);
  SockAddr sa = ToNativeSockAddr(ep);
  ASSERT_EQ(sa.family(), AF_INET6);
  ASSERT_EQ(sa.len, sizeof(sockaddr_in6));
  absl::StatusOr<Endpoint> back = FromSockAddr(sa.get(), sa.len);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, ep);
}

TEST(SockAddrTest, Ipv4OnDualStackSocketIsMapped) {
  const Endpoint ep = Ep("127.0.0.1:80");
  absl::StatusOr<SockAddr> sa = ToSockAddr(ep, AF_INET6);
  ASSERT_TRUE(sa.ok()) << sa.status();
  sockaddr_in6 sin6;
  memcpy(&sin6, &sa->storage, sizeof(sin6));
  EXPECT_TRUE(IN6_IS_ADDR_V4MAPPED(&sin6.sin6_addr));
  // What the kernel reports for an IPv4 peer of a dual-stack socket reads
  // back as the same IPv4 endpoint.
  absl::StatusOr<Endpoint> back = FromSockAddr(sa->get(), sa->len);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, ep);
  EXPECT_TRUE(back->ip.is_v4());
}

TEST(SockAddrTest, Ipv6OnIpv4SocketIsRejected) {
  absl::StatusOr<SockAddr> sa = ToSockAddr(Ep("[::1]:80"), AF_INET);
  ASSERT_FALSE(sa.ok());
  EXPECT_EQ(sa.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sa.status().message(), "cannot use IPv6 address [::1]:80 on an IPv4 socket");
}

TEST(SockAddrTest, OtherFamiliesAndShortLengthsAreRejected) {
  sockaddr_storage ss{};
  ss.ss_family = AF_UNIX;
  absl::StatusOr<Endpoint> ep =
      FromSockAddr(reinterpret_cast<const sockaddr*>(&ss), sizeof(ss));
  EXPECT_EQ(ep.status().code(), absl::StatusCode::kInvalidArgument);
  ss.ss_family = AF_INET6;
  ep = FromSockAddr(reinterpret_cast<const sockaddr*>(&ss), sizeof(sockaddr_in));
  EXPECT_EQ(ep.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace p2p::transport
