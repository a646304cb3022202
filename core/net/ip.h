// IP addresses, endpoints and address lists, parsed and formatted without
// any OS call (no inet_pton), so core/ and sim/ stay portable and pure.
#ifndef P2P_CORE_NET_IP_H_
#define P2P_CORE_NET_IP_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace p2p {

// An IPv4 or IPv6 address. IPv4 is stored as an IPv4-mapped IPv6 address
// (::ffff:a.b.c.d), so comparison and hashing are uniform. Value type,
// totally ordered (bytes, lexicographic).
class IpAddress {
 public:
  IpAddress() = default;  // The unspecified address "::" (IsUnspecified()).
  static IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
  static IpAddress V4(uint32_t host_order);
  static IpAddress FromBytes16(const std::array<uint8_t, 16>& b);
  // Accepts 4 (IPv4) or 16 (IPv6) bytes, as RLP-encoded in discv4 packets.
  static absl::StatusOr<IpAddress> FromBytes(absl::Span<const uint8_t> b);

  // Parses dotted-quad IPv4 ("10.0.0.1") or RFC 4291 IPv6 ("::1",
  // "fe80::1", "::ffff:1.2.3.4"); no zone ids, no leading zeros in IPv4
  // octets. Errors name the input.
  static absl::StatusOr<IpAddress> Parse(absl::string_view text);

  bool is_v4() const;              // IPv4 or IPv4-mapped.
  uint32_t v4() const;             // Host order; only if is_v4().
  const std::array<uint8_t, 16>& bytes16() const { return b_; }
  // 4 bytes for IPv4, 16 for IPv6 (the discv4 wire form).
  std::vector<uint8_t> WireBytes() const;

  bool IsUnspecified() const;  // 0.0.0.0 or ::
  bool IsLoopback() const;     // 127.0.0.0/8, ::1
  // LAN exactly as go-ethereum's netutil.IsLAN: loopback, 0.0.0.0/8,
  // RFC 1918 (10/8, 172.16/12, 192.168/16), fc00::/7, fe80::/10. Like geth,
  // IPv4 link-local 169.254/16 is not LAN.
  bool IsLan() const;

  // "1.2.3.4" for IPv4, RFC 5952 form for IPv6 ("::1", "2001:db8::1").
  std::string ToString() const;

  friend bool operator==(const IpAddress& a, const IpAddress& b) { return a.b_ == b.b_; }
  friend bool operator!=(const IpAddress& a, const IpAddress& b) { return a.b_ != b.b_; }
  friend bool operator<(const IpAddress& a, const IpAddress& b) { return a.b_ < b.b_; }
  template <typename H>
  friend H AbslHashValue(H h, const IpAddress& a) {
    return H::combine(std::move(h), a.b_);
  }

 private:
  std::array<uint8_t, 16> b_{};
};

// An (IP, port) pair. Port 0 means "any" when listening.
struct Endpoint {
  IpAddress ip;
  uint16_t port = 0;

  // Parses "1.2.3.4:30303" or "[::1]:30303". Errors name the input.
  static absl::StatusOr<Endpoint> Parse(absl::string_view text);
  // "1.2.3.4:30303" or "[::1]:30303".
  std::string ToString() const;

  friend bool operator==(const Endpoint& a, const Endpoint& b) {
    return a.ip == b.ip && a.port == b.port;
  }
  friend bool operator!=(const Endpoint& a, const Endpoint& b) { return !(a == b); }
  friend bool operator<(const Endpoint& a, const Endpoint& b) {
    return a.ip < b.ip || (a.ip == b.ip && a.port < b.port);
  }
  template <typename H>
  friend H AbslHashValue(H h, const Endpoint& e) {
    return H::combine(std::move(h), e.ip, e.port);
  }
};

// A CIDR block ("10.0.0.0/8", "fd00::/8"). An IPv4 block (base.is_v4())
// contains only IPv4 addresses and an IPv6 block only non-IPv4 ones, as in
// Go's net.IPNet.
struct IpNet {
  IpAddress base;   // Masked to the prefix.
  int prefix_bits = 0;  // 0..32 for IPv4, 0..128 for IPv6.

  static absl::StatusOr<IpNet> Parse(absl::string_view text);
  bool Contains(const IpAddress& ip) const;
  std::string ToString() const;
};

// A list of CIDR blocks (go-ethereum's netutil.Netlist), used for
// NetRestrict. An empty list contains nothing.
class IpNetList {
 public:
  // Parses a comma-separated list: "10.0.0.0/8,192.168.0.0/16". Whitespace
  // around entries is ignored. Errors name the bad entry.
  static absl::StatusOr<IpNetList> Parse(absl::string_view text);
  void Add(const IpNet& net) { nets_.push_back(net); }
  bool Contains(const IpAddress& ip) const;
  bool empty() const { return nets_.empty(); }
  const std::vector<IpNet>& nets() const { return nets_; }
  std::string ToString() const;

 private:
  std::vector<IpNet> nets_;
};

}  // namespace p2p

#endif  // P2P_CORE_NET_IP_H_
