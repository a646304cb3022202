#include "transport/sockaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <array>

#include "absl/strings/str_cat.h"
#include "transport/errno_status.h"

namespace p2p::transport {

int FamilyFor(const IpAddress& ip) { return ip.is_v4() ? AF_INET : AF_INET6; }

absl::StatusOr<SockAddr> ToSockAddr(const Endpoint& ep, int family) {
  SockAddr out;
  if (family == AF_INET) {
    if (!ep.ip.is_v4()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot use IPv6 address ", ep.ToString(), " on an IPv4 socket"));
    }
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(ep.port);
    sin.sin_addr.s_addr = htonl(ep.ip.v4());
    memcpy(&out.storage, &sin, sizeof(sin));
    out.len = sizeof(sin);
    return out;
  }
  if (family == AF_INET6) {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(ep.port);
    const std::array<uint8_t, 16>& b = ep.ip.bytes16();
    memcpy(sin6.sin6_addr.s6_addr, b.data(), b.size());
    memcpy(&out.storage, &sin6, sizeof(sin6));
    out.len = sizeof(sin6);
    return out;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported address family ", family, " for ", ep.ToString()));
}

SockAddr ToNativeSockAddr(const Endpoint& ep) {
  // Cannot fail: the family is chosen to fit the address.
  return *ToSockAddr(ep, FamilyFor(ep.ip));
}

absl::StatusOr<Endpoint> FromSockAddr(const sockaddr* sa, socklen_t len) {
  if (len >= static_cast<socklen_t>(sizeof(sa_family_t))) {
    if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
      sockaddr_in sin;
      memcpy(&sin, sa, sizeof(sin));
      Endpoint ep;
      ep.ip = IpAddress::V4(static_cast<uint32_t>(ntohl(sin.sin_addr.s_addr)));
      ep.port = ntohs(sin.sin_port);
      return ep;
    }
    if (sa->sa_family == AF_INET6 &&
        len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
      sockaddr_in6 sin6;
      memcpy(&sin6, sa, sizeof(sin6));
      std::array<uint8_t, 16> b;
      memcpy(b.data(), sin6.sin6_addr.s6_addr, b.size());
      Endpoint ep;
      ep.ip = IpAddress::FromBytes16(b);
      ep.port = ntohs(sin6.sin6_port);
      return ep;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "not an IPv4/IPv6 socket address (family ",
      len >= static_cast<socklen_t>(sizeof(sa_family_t)) ? sa->sa_family : -1,
      ", length ", len, ")"));
}

absl::StatusOr<Endpoint> LocalEndpointOf(int fd) {
  SockAddr sa;
  sa.len = sizeof(sa.storage);
  if (getsockname(fd, sa.get(), &sa.len) != 0) {
    return StatusFromErrno(errno, "getsockname");
  }
  return FromSockAddr(sa.get(), sa.len);
}

absl::StatusOr<Endpoint> RemoteEndpointOf(int fd) {
  SockAddr sa;
  sa.len = sizeof(sa.storage);
  if (getpeername(fd, sa.get(), &sa.len) != 0) {
    return StatusFromErrno(errno, "getpeername");
  }
  return FromSockAddr(sa.get(), sa.len);
}

}  // namespace p2p::transport
