// Conversions between p2p::Endpoint and the BSD sockaddr structures.
//
// IpAddress keeps IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d); the kernel
// reports IPv4 peers of a dual-stack AF_INET6 socket the same way, so an
// address read back from either socket family compares equal to the one
// that was dialed.
#ifndef P2P_TRANSPORT_SOCKADDR_H_
#define P2P_TRANSPORT_SOCKADDR_H_

#include <sys/socket.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/net/ip.h"

namespace p2p::transport {

// A sockaddr large enough for either family, with its length.
struct SockAddr {
  sockaddr_storage storage{};
  socklen_t len = 0;

  const sockaddr* get() const {
    return reinterpret_cast<const sockaddr*>(&storage);
  }
  sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};

// The socket family that natively carries `ip`: AF_INET for IPv4 (and
// IPv4-mapped) addresses, AF_INET6 otherwise.
int FamilyFor(const IpAddress& ip);

// `ep` as a sockaddr of `family`. An IPv4 endpoint in AF_INET6 becomes an
// IPv4-mapped address (for dual-stack sockets); an IPv6 endpoint cannot be
// expressed in AF_INET (kInvalidArgument naming the endpoint).
absl::StatusOr<SockAddr> ToSockAddr(const Endpoint& ep, int family);
// ToSockAddr(ep, FamilyFor(ep.ip)).
SockAddr ToNativeSockAddr(const Endpoint& ep);

// Reads an AF_INET or AF_INET6 sockaddr; kInvalidArgument for any other
// family or a short length.
absl::StatusOr<Endpoint> FromSockAddr(const sockaddr* sa, socklen_t len);

// getsockname / getpeername of `fd`, mapped through StatusFromErrno.
absl::StatusOr<Endpoint> LocalEndpointOf(int fd);
absl::StatusOr<Endpoint> RemoteEndpointOf(int fd);

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_SOCKADDR_H_
