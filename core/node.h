// Node identity (go-ethereum's p2p/enode, v4 identity scheme): the 32-byte
// node ID, Kademlia distances over IDs, and the node record the dialer,
// server and discovery pass around, with enode:// URL parsing and
// formatting (enode/urlv4.go).
#ifndef P2P_CORE_NODE_H_
#define P2P_CORE_NODE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/crypto/secp256k1.h"
#include "core/net/ip.h"

namespace p2p {

// A node ID: Keccak256 of the node's 64-byte public key (X || Y). Value type,
// ordered by bytes (as big-endian numbers), hashable. The default is the
// all-zero ID, which no real key produces in practice.
class NodeId {
 public:
  static constexpr size_t kBytes = 32;

  NodeId() = default;
  explicit NodeId(const std::array<uint8_t, kBytes>& bytes) : b_(bytes) {}

  // Keccak256(pub.bytes()): go-ethereum's enode.PubkeyToIDV4.
  static NodeId FromPublicKey(const PublicKey& pub);
  // 64 hex digits with an optional "0x" prefix (go-ethereum's ParseID).
  // Errors (InvalidArgument): bad hex, or not 32 bytes.
  static absl::StatusOr<NodeId> FromHex(absl::string_view hex);

  const std::array<uint8_t, kBytes>& bytes() const { return b_; }
  bool IsZero() const;

  // All 64 lower-case hex digits.
  std::string ToString() const;
  // The first 8 bytes in hex (16 digits), as go-ethereum's ID.TerminalString
  // prints IDs in logs.
  std::string TerminalString() const;

  friend bool operator==(const NodeId& a, const NodeId& b) { return a.b_ == b.b_; }
  friend bool operator!=(const NodeId& a, const NodeId& b) { return a.b_ != b.b_; }
  friend bool operator<(const NodeId& a, const NodeId& b) { return a.b_ < b.b_; }
  friend bool operator>(const NodeId& a, const NodeId& b) { return b < a; }
  friend bool operator<=(const NodeId& a, const NodeId& b) { return !(b < a); }
  friend bool operator>=(const NodeId& a, const NodeId& b) { return !(a < b); }
  template <typename H>
  friend H AbslHashValue(H h, const NodeId& id) {
    return H::combine(std::move(h), id.b_);
  }

 private:
  std::array<uint8_t, kBytes> b_{};
};

// go-ethereum's enode.LogDist: the bit length of a XOR b, 0 when a == b,
// else 256 minus the number of leading zero bits of a XOR b (1..256).
int LogDistance(const NodeId& a, const NodeId& b);

// go-ethereum's enode.DistCmp: compares the XOR distances of a and b to
// target; -1 if a is closer, 1 if b is closer, 0 if equal.
int DistCmp(const NodeId& target, const NodeId& a, const NodeId& b);

// target XOR id as four big-endian words: comparing two such keys
// lexicographically (std::array's operator<) orders the ids as DistCmp
// does. For sorting many ids by distance to one target without recomputing
// the XOR (and re-reading the ids) on every comparison.
using DistanceKey = std::array<uint64_t, 4>;
DistanceKey XorDistanceKey(const NodeId& target, const NodeId& id);

// A v4 node: identity plus where to reach it. Plain value type.
struct Node {
  NodeId id;
  PublicKey pubkey;
  // Unspecified (IsUnspecified()) when the address is not known: an
  // incomplete node, or one named by a DNS host that is not resolved yet.
  IpAddress ip;
  uint16_t tcp = 0;  // RLPx port; 0 = none.
  uint16_t udp = 0;  // Discovery port; 0 = none.
  // Set when the enode URL names a DNS host instead of an IP; `ip` is then
  // unspecified until the dialer resolves it.
  std::string hostname;

  // A node with `pubkey`'s ID and the given endpoint.
  static Node FromPublicKey(const PublicKey& pubkey, const IpAddress& ip, uint16_t tcp,
                            uint16_t udp);

  bool has_ip() const { return !ip.IsUnspecified(); }
  Endpoint TcpEndpoint() const { return Endpoint{ip, tcp}; }
  Endpoint UdpEndpoint() const { return Endpoint{ip, udp}; }

  // The enode URL, as go-ethereum's Node.URLv4:
  //   enode://<128 hex>@<host>:<tcp>[?discport=<udp>]
  // where <host> is `hostname` if set, else the IP (IPv6 in brackets), and
  // "?discport" appears only when udp != tcp. A node with no hostname, no IP
  // and no ports formats as the incomplete "enode://<128 hex>".
  std::string ToEnode() const;

  friend bool operator==(const Node& a, const Node& b) {
    return a.id == b.id && a.pubkey == b.pubkey && a.ip == b.ip && a.tcp == b.tcp &&
           a.udp == b.udp && a.hostname == b.hostname;
  }
  friend bool operator!=(const Node& a, const Node& b) { return !(a == b); }
};

// Parses an enode URL (go-ethereum's enode.Parse for the "enode://" scheme,
// urlv4.go):
//   enode://<128 hex public key>                       incomplete node
//   enode://<128 hex>@<ip>:<tcp>[?discport=<udp>]       IPv4 or [IPv6]
//   enode://<128 hex>@<dns name>:<tcp>[?discport=<udp>] hostname, no ip yet
// udp defaults to tcp; an empty discport value means the default. Hex digits
// may be either case. Every malformed input fails with InvalidArgument and a
// message naming the problem (the prefix "invalid public key (...)", and
// "invalid port", "invalid discport in query", "invalid IP address" follow
// go-ethereum's texts). Stricter than go-ethereum, which silently ignores
// them: a path, a fragment, an unknown or repeated query parameter, and a
// host that is neither an IP address nor a valid DNS name are rejected.
absl::StatusOr<Node> ParseEnode(absl::string_view url);

}  // namespace p2p

#endif  // P2P_CORE_NODE_H_
