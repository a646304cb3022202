// What a dialer needs from the rest of the node, as narrow interfaces. The
// server implements NodeDialer; discovery implements NodeResolver and
// DiscoveryTable; transport/ (real DNS) or the simulator implements
// HostResolver. All calls are made on, and all callbacks run on, the node's
// EventLoop; callbacks never run inline and run exactly once.
#ifndef P2P_CORE_DIAL_DIAL_SERVICES_H_
#define P2P_CORE_DIAL_DIAL_SERVICES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/dial/conn_flags.h"
#include "core/net/ip.h"
#include "core/node.h"

namespace p2p {

// Outcome of one connection attempt.
struct DialResult {
  // OK when the connection became a peer (or at least passed setup).
  absl::Status status;
  // True when the attempt failed before a connection existed (TCP refused,
  // unreachable, timed out): go-ethereum's *dialError. Static dials re-resolve
  // the node only after such failures, not after handshake failures.
  bool connect_failed = false;
};

// Connects to a node and runs connection setup (encryption and protocol
// handshakes, server checks). The callback reports when the attempt is over:
// the connection became a peer, or failed. Implementations must bound the
// attempt's duration (dial timeout plus handshake deadlines).
class NodeDialer {
 public:
  using DoneCallback = absl::AnyInvocable<void(DialResult result)>;
  virtual ~NodeDialer() = default;
  virtual void Dial(const Node& dest, ConnFlags flags, DoneCallback done) = 0;
};

// Finds the current record of a node by ID through discovery (Table.Resolve).
class NodeResolver {
 public:
  using ResolveCallback = absl::AnyInvocable<void(std::optional<Node> found)>;
  virtual ~NodeResolver() = default;
  virtual void Resolve(const Node& node, ResolveCallback done) = 0;
};

// Resolves DNS host names of static nodes.
class HostResolver {
 public:
  using LookupCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::vector<IpAddress>> ips)>;
  virtual ~HostResolver() = default;
  // Must complete within `timeout` (kDeadlineExceeded otherwise).
  virtual void LookupHost(const std::string& host, absl::Duration timeout,
                          LookupCallback done) = 0;
};

// The discovery table as the v1.8.24 dialer used it.
class DiscoveryTable {
 public:
  using LookupCallback = absl::AnyInvocable<void(std::vector<Node> found)>;
  virtual ~DiscoveryTable() = default;
  // Fills `out` with random table nodes, returns how many were written.
  virtual int ReadRandomNodes(absl::Span<Node> out) = 0;
  // Looks up a random target and returns the nodes found.
  virtual void LookupRandom(LookupCallback done) = 0;
};

}  // namespace p2p

#endif  // P2P_CORE_DIAL_DIAL_SERVICES_H_
