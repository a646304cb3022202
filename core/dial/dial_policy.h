// The dialer as the server sees it, with two interchangeable generations:
//  - kCurrent: go-ethereum's dialScheduler (p2p/dial.go since 2020): dial
//    slots, a static pool with random picks, candidates from a NodeIterator.
//  - kLegacy: go-ethereum v1.8.24's dialstate with its dial, discover and
//    wait-expire tasks, run as Server.run did (at most 16 tasks, a queue).
// A scenario can run both on the same network and compare them.
//
// Every method runs on the node's EventLoop. Methods never call back into the
// caller inline: dials start through NodeDialer::Dial, whose callbacks are
// posted.
#ifndef P2P_CORE_DIAL_DIAL_POLICY_H_
#define P2P_CORE_DIAL_DIAL_POLICY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/dial/conn_flags.h"
#include "core/dial/dial_services.h"
#include "core/dial/node_iterator.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "core/rng.h"

namespace p2p {

enum class DialGeneration { kCurrent, kLegacy };

absl::string_view DialGenerationName(DialGeneration g);  // "current", "legacy"
absl::StatusOr<DialGeneration> ParseDialGeneration(absl::string_view name);

// Shared constants (go-ethereum names).
inline constexpr absl::Duration kInitialResolveDelay = absl::Seconds(60);
inline constexpr absl::Duration kMaxResolveDelay = absl::Hours(1);
inline constexpr int kDefaultMaxPendingPeers = 50;
inline constexpr int kDefaultDialRatio = 3;
inline constexpr absl::Duration kDefaultDialTimeout = absl::Seconds(15);
inline constexpr absl::Duration kDnsLookupTimeout = absl::Seconds(5);

// One observable step of a dialer, for traces, metrics and tests.
struct DialEvent {
  enum class Kind {
    kDialStart,      // A connection attempt to `node` begins.
    kDialDone,       // A dial task ended; `status` says how.
    kDiscard,        // A candidate failed checkDial; `status` has the reason.
    kResolve,        // Discovery resolve finished: ok, or NotFound.
    kDnsLookup,      // A static node's host name was looked up.
    kLookup,         // Legacy: a discover task finished (`count` nodes).
    kTaskTimeout,    // A dial task exceeded task_timeout and was abandoned.
  };
  Kind kind;
  NodeId id;
  ConnFlags flags = 0;
  Endpoint endpoint;   // Dial target, where known.
  absl::Status status;
  int count = 0;
};

absl::string_view DialEventKindName(DialEvent::Kind kind);

// Receives every DialEvent synchronously, on the loop. Must not call back into
// the dialer.
class DialObserver {
 public:
  virtual ~DialObserver() = default;
  virtual void OnDialEvent(const DialEvent& event) = 0;
};

// A dial error's text without the address it names, for counters and metric
// labels of bounded cardinality: "dial tcp 1.2.3.4:30303: connection refused"
// -> "connection refused"; other texts are returned unchanged.
std::string DialFailureReason(const absl::Status& status);

// Counters kept by every dialer. Maps are ordered for deterministic output.
struct DialStats {
  int64_t dials_started = 0;
  int64_t dials_succeeded = 0;
  int64_t dials_failed = 0;
  int64_t task_timeouts = 0;
  int64_t resolves = 0;
  int64_t resolve_failures = 0;
  int64_t lookups = 0;                             // Legacy discover tasks.
  std::map<std::string, int64_t> discarded;        // checkDial reason -> count.
  std::map<std::string, int64_t> failures;         // DialFailureReason -> count.
};

struct DialConfig {
  NodeId self;
  // kCurrent: maxDialPeers (MaxDialedConns). kLegacy: maxDynDials.
  int max_dial_peers = 0;
  // kCurrent only: concurrent dial limit (MaxPendingPeers, default 50).
  int max_active_dials = kDefaultMaxPendingPeers;
  // If set, only nodes inside these networks are dialed.
  std::optional<IpNetList> net_restrict;
  // Static nodes to keep connected, added at Start.
  std::vector<Node> static_nodes;
  // kLegacy only: fallback bootnodes, dialed when there are no peers.
  std::vector<Node> bootnodes;
  // Watchdog: a dial task that has not completed after this long is
  // abandoned (its late completion is ignored), so a hung dial can never
  // leave a node stuck on "already dialing". Must exceed the NodeDialer's own
  // bound (dial timeout + handshakes) plus DNS and resolve time.
  absl::Duration task_timeout = absl::Seconds(60);
};

// Everything a dialer uses and does not own. Pointers must outlive the
// dialer; nullable ones may be null.
struct DialDeps {
  EventLoop* loop = nullptr;
  NodeDialer* dialer = nullptr;
  Rng rng{0};
  NodeIterator* candidates = nullptr;    // kCurrent: dynamic dial candidates.
  DiscoveryTable* table = nullptr;       // kLegacy: random nodes and lookups.
  NodeResolver* resolver = nullptr;      // Static node resolve; nullable.
  HostResolver* dns = nullptr;           // Static host names; nullable.
  Logger* log = nullptr;                 // Nullable: discard.
  DialObserver* observer = nullptr;      // Nullable.
};

class DialPolicy {
 public:
  virtual ~DialPolicy() = default;

  // Starts dialing (adds config.static_nodes). Call once.
  virtual void Start() = 0;
  // Stops: no new dials, the candidate iterator is closed. Dials in flight
  // still complete and are counted. The dialer may be destroyed once
  // dialing() == 0 (or once the NodeDialer can no longer call back).
  virtual void Stop() = 0;

  // Static nodes: kept connected. Removing does not cancel a dial in flight.
  // A duplicate add is ignored by kCurrent; kLegacy replaces the task (as
  // v1.8.24 did, forcing a fresh resolve).
  virtual void AddStatic(const Node& node) = 0;
  virtual void RemoveStatic(const NodeId& id) = 0;

  // Peer set changes reported by the server.
  virtual void PeerAdded(const NodeId& id, ConnFlags flags) = 0;
  virtual void PeerRemoved(const NodeId& id, ConnFlags flags) = 0;
  // An inbound connection from `id` passed the encryption handshake but is
  // not a peer yet; InboundDone when it became a peer or failed. (kCurrent
  // only; the legacy dialer ignores these.)
  virtual void InboundPending(const NodeId& id) = 0;
  virtual void InboundDone(const NodeId& id) = 0;

  virtual DialGeneration generation() const = 0;
  virtual size_t dialing() const = 0;   // Dial tasks in flight.
  virtual const DialStats& stats() const = 0;
};

// Creates a dialer of the given generation. Checks that the deps it needs
// are present (InvalidArgument naming the missing one otherwise).
absl::StatusOr<std::unique_ptr<DialPolicy>> NewDialPolicy(
    DialGeneration generation, DialConfig config, DialDeps deps);

}  // namespace p2p

#endif  // P2P_CORE_DIAL_DIAL_POLICY_H_
