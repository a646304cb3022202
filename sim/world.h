// The simulated world: every node of a scenario runs the real core (Server,
// dial policy, RLPx with real secp256k1 handshakes) on its own SimLoop, all
// over one EventQueue and one in-memory network (MemSwitch) with the
// scenario's latency model, reachability, refusals, partitions, outages and
// churn. Discovery is either modelled by an oracle (random online nodes, one
// per lookup interval), off (static and boot nodes only), or the real discv4
// (core/discover UdpV4) over simulated UDP: each node then gets its own
// UdpV4 on port 30303 of its address, bootstrapped from the bootnode
// groups, whose lookup iterator feeds the dialer. Discovery traffic is not
// traced (its effect shows in the dials); its Unix time is a fixed epoch
// plus virtual time; node addresses are spread over /24 subnets (the table
// limits nodes per subnet, as on the internet).
//
// Determinism: one root seed; every node and component draws from its own
// forked Rng stream, in event order; containers that are iterated are
// ordered. The trace hash covers, in virtual-time order, every dial start and
// end, peer add and drop (with reasons), setup failure, inbound rejection,
// join, leave and fault: the same scenario, seed and commit give the same
// hash.
//
// Keepalive (network.keepalive): the world never lets an open connection go
// silent: established connections lose nothing (core/net/mem_network.h),
// a partition resets the connections across it when it starts, and a node
// that leaves, gracefully or not, resets its connections. That is what makes
// ELIDED exact (RlpxConnOptions::elide_keepalive): with no silence, no read
// deadline can pass, so leaving out the Pings changes no traced event.
// tests/sim_determinism_test.sh checks it on every shipped scenario; a
// fault that silences connections (e.g. a vanishing node whose peers learn
// of it only by timeout) would have to run with MESSAGES.
//
// Layers: sim/tools/ (the p2psim front end) reads files, shows progress and
// writes outputs; everything here is pure (no OS calls, no wall clock).
#ifndef P2P_SIM_WORLD_H_
#define P2P_SIM_WORLD_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/crypto/keccak.h"
#include "core/net/mem_network.h"
#include "core/node.h"
#include "core/rng.h"
#include "sim/event_queue.h"
#include "sim/scenario.h"
#include "sim/sim_loop.h"

namespace p2p::sim {

// One point of the peer-count time series.
struct PeerSample {
  absl::Duration t;
  int online = 0;                                   // Nodes online.
  int min = 0, p10 = 0, p50 = 0, p90 = 0, max = 0;  // Peers of online nodes.
  double mean = 0;
  int64_t connections = 0;   // Peer connections (each counted once).
  int64_t dials_ok = 0;      // Dials that ended in a peer, since the last sample.
  int64_t dials_failed = 0;  // Dials that failed, since the last sample.
};

// Peer counts whose first-reach times are recorded (time-to-N-peers).
inline constexpr int kPeerThresholds[] = {1, 5, 10, 20};

// Time from a node's first join until it first had >= threshold peers.
struct TimeToPeers {
  int threshold = 0;
  int nodes = 0;                 // Nodes that joined.
  int reached = 0;               // Of those, nodes that reached the threshold.
  absl::Duration p50, p90, max;  // Over the nodes that reached it.
};

struct AssertionResult {
  std::string name;
  bool passed = false;
  std::string detail;  // "97.5% of 400 nodes have >= 10 peers at 5m0s (need 95%)"
};

// Totals over the run; maps ordered for deterministic output.
struct WorldStats {
  int64_t dials_started = 0;
  int64_t dials_succeeded = 0;
  int64_t dials_failed = 0;
  int64_t peers_added = 0;
  int64_t peers_dropped = 0;
  std::map<std::string, int64_t> drop_reasons;
  std::map<std::string, int64_t> setup_failures;
  std::map<std::string, int64_t> dial_failures;
  int64_t inbound_rejected = 0;
  int64_t joins = 0;
  int64_t leaves = 0;
  int64_t trace_events = 0;
};

// DISCV4 only: discovery traffic summed over every node and session
// (core/discover UdpV4Stats); maps ordered for deterministic output.
struct Discv4Totals {
  std::map<std::string, int64_t> sent;      // By packet name.
  std::map<std::string, int64_t> received;  // Accepted, by packet name.
  std::map<std::string, int64_t> dropped;   // By reason.
  int64_t send_errors = 0;
  int64_t requests_timed_out = 0;
  int64_t lookups = 0;
};

class World {
 public:
  // `trace_line`, if set, receives every trace line (for trace.txt).
  World(ScenarioSpec spec, uint64_t seed, absl::Duration duration,
        absl::AnyInvocable<void(absl::string_view line)> trace_line = nullptr);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;

  // Creates the nodes and schedules joins, churn, faults and sampling.
  absl::Status Init();
  // Runs events up to virtual time `t` (capped at the run's duration).
  // Returns the number of events run.
  uint64_t RunUntil(absl::Duration t);
  bool done() const { return Now() >= duration_; }
  absl::Duration Now() const;
  absl::Duration duration() const { return duration_; }
  uint64_t seed() const { return seed_; }

  // Results (complete once done()).
  std::string TraceHash() const;  // 16 hex digits.
  uint64_t events() const { return queue_.events_run(); }
  size_t pending_events() const { return queue_.pending(); }
  size_t heap_entries() const { return queue_.heap_size(); }
  // The simulated network's counters (dials, refusals, SYN and datagram loss).
  const MemSwitchStats& network_stats() const { return switch_->stats(); }
  const std::vector<PeerSample>& samples() const { return samples_; }
  std::vector<AssertionResult> assertions() const { return assertion_results_; }
  std::vector<TimeToPeers> TimeToPeerStats() const;
  const WorldStats& stats() const { return stats_; }
  // Discovery counters so far (all zero unless discovery is DISCV4).
  Discv4Totals discv4_totals() const;
  int node_count() const { return static_cast<int>(nodes_.size()); }
  int online_count() const { return static_cast<int>(online_.size()); }
  // Current peer count of every online node, by node index (-1 offline).
  std::vector<int> PeerCounts() const;
  const ScenarioSpec& spec() const { return spec_; }

 private:
  struct SimNode;
  class Oracle;
  class NodeObserver;

  void Join(int i);
  // DISCV4: opens n's UdpV4 on its network and bootstraps it.
  void StartDiscv4(SimNode& n, const std::vector<Node>& bootnodes);
  // Adds n's discovery counters to discv4_closed_ and destroys its UdpV4.
  void StopDiscv4(SimNode& n);
  void Leave(int i, bool graceful, bool churn);
  void Destroy(int i);
  void ScheduleChurn(int i, bool online_now);
  void StartFault(const FaultSpec& f, int index);
  void EndFault(const FaultSpec& f, int index);
  void TakeSample();
  void CheckAssertion(const PeerFillSpec& a);
  MemVerdict Filter(const IpAddress& from, const IpAddress& to, bool tcp);
  absl::Duration Latency(const IpAddress& from, const IpAddress& to);
  IpAddress NextIp();
  void NewIdentity(SimNode& n);
  std::vector<Node> GroupNodes(const std::vector<int>& groups, int except) const;
  void AddOnline(int i);
  void RemoveOnline(int i);
  // Trace: "<t_ns> <node> <kind> <fields>".
  void TraceEvent(int node, absl::string_view kind, absl::string_view fields);
  absl::Duration At(int64_t ns) const { return absl::Nanoseconds(ns); }

  ScenarioSpec spec_;
  uint64_t seed_;
  absl::Duration duration_;
  absl::AnyInvocable<void(absl::string_view)> trace_line_;
  Rng rng_;  // World decisions (churn draws, refusals), event order.
  EventQueue queue_;
  std::unique_ptr<SimLoop> world_loop_;  // Churn, faults, sampling.
  std::unique_ptr<MemSwitch> switch_;
  // The nodes' loops, side by side rather than one heap block each: nearly
  // every event calls its node's loop (Now, RunAfter), and 10^4 loops in
  // one run of memory stay in cache. Declared before nodes_, which use them.
  std::deque<SimLoop> node_loops_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
  // Node index by simulated address slot (IP - 100.64.0.0), -1 if none.
  std::vector<int> node_by_slot_;
  std::vector<std::vector<int>> group_members_;  // Node indices per group.
  int NodeAt(const IpAddress& ip) const;
  uint32_t next_ip_ = 0;
  std::vector<int> online_;      // Online node indices (random picks).
  std::vector<int> online_pos_;  // Index in online_, -1 if offline.
  // Active partitions: per fault index, side of each group (0 none, 1 a, 2 b).
  std::map<int, std::vector<int>> partitions_;
  Keccak256 trace_;
  WorldStats stats_;
  Discv4Totals discv4_closed_;  // Of UdpV4s already destroyed.
  std::vector<PeerSample> samples_;
  int64_t sampled_dials_ok_ = 0, sampled_dials_failed_ = 0;
  std::vector<AssertionResult> assertion_results_;
  bool initialized_ = false;
};

}  // namespace p2p::sim

#endif  // P2P_SIM_WORLD_H_
