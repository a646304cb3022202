// DialScheduler: the current generation of go-ethereum's dialer
// (p2p/dial.go, dialScheduler), on one EventLoop.
//
// It creates outbound connections of two kinds:
//  - static dials keep pre-configured nodes connected at all times;
//  - dynamic dials go to candidates read from a NodeIterator (discovery).
//
// Each loop iteration of go-ethereum's scheduler becomes Update(), run after
// every event: free slots are computed as
//   min((max_dial_peers - dialPeers) * 2, max_active_dials) - len(dialing),
// statics are started first (random picks from the static pool), then
// candidates are taken from the iterator only while slots remain
// (back-pressure: otherwise nodes wait in the iterator). A dialed node enters
// the dial history for 35 s and is not dialed again before it expires.
//
// Contract:
//  - Every method runs on deps.loop; the scheduler never blocks.
//  - Dial completions, resolves and lookups arrive as posted callbacks; each
//    dial task ends exactly once, at the latest after config.task_timeout
//    (then it is abandoned and its late completion ignored).
//  - Ownership: the scheduler owns its tasks; it does not own anything in
//    DialDeps, which must outlive it. Destroy it after Stop() once
//    dialing() == 0, or together with the NodeDialer (which must then drop
//    its callbacks).
//  - Determinism: random static picks come from deps.rng; no decision
//    depends on hash-map iteration order.
#ifndef P2P_CORE_DIAL_DIAL_SCHEDULER_H_
#define P2P_CORE_DIAL_DIAL_SCHEDULER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/dial/dial_history.h"
#include "core/dial/dial_policy.h"
#include "core/weak_flag.h"

namespace p2p {

// go-ethereum's constants for this generation.
inline constexpr absl::Duration kInboundThrottleTime = absl::Seconds(30);
// inboundThrottleTime + 5 s.
inline constexpr absl::Duration kDialHistoryExpiration = absl::Seconds(35);
inline constexpr absl::Duration kDialStatsLogInterval = absl::Seconds(10);
inline constexpr int kDialStatsPeerLimit = 3;

// checkDial errors, in the order they are checked, with go-ethereum's texts.
// All are FailedPrecondition; compare with IsDialError.
enum class DialError {
  kSelf,              // "is self"
  kNoPort,            // "node does not provide TCP port"
  kAlreadyDialing,    // "already dialing"
  kAlreadyConnected,  // "already connected"
  kPendingInbound,    // "peer has pending inbound connection"
  kNetRestrict,       // "not contained in netrestrict list"
  kRecentlyDialed,    // "recently dialed"
};
absl::Status MakeDialError(DialError e);
bool IsDialError(const absl::Status& s, DialError e);

class DialScheduler : public DialPolicy {
 public:
  // Needs deps.loop and deps.dialer; deps.candidates may be null (no dynamic
  // dials), as may resolver, dns, log and observer.
  static absl::StatusOr<std::unique_ptr<DialScheduler>> Create(DialConfig config, DialDeps deps);
  ~DialScheduler() override;

  // DialPolicy.
  void Start() override;
  void Stop() override;
  void AddStatic(const Node& node) override;
  void RemoveStatic(const NodeId& id) override;
  void PeerAdded(const NodeId& id, ConnFlags flags) override;
  void PeerRemoved(const NodeId& id, ConnFlags flags) override;
  void InboundPending(const NodeId& id) override;
  void InboundDone(const NodeId& id) override;
  DialGeneration generation() const override { return DialGeneration::kCurrent; }
  size_t dialing() const override { return dialing_.size(); }
  const DialStats& stats() const override { return stats_; }

  // checkDial: why `node` may not be dialed now, or OK.
  absl::Status CheckDial(const Node& node) const;
  // freeDialSlots(); may be negative.
  int FreeDialSlots() const;

  // Introspection, for tests and metrics.
  int dial_peers() const { return dial_peers_; }
  size_t num_static() const { return static_.size(); }
  size_t static_pool_size() const { return static_pool_.size(); }
  size_t history_size() const { return history_.size(); }
  bool IsDialing(const NodeId& id) const { return dialing_.contains(id); }

 private:
  struct Task;

  DialScheduler(DialConfig config, DialDeps deps);

  // The body of go-ethereum's loop, run after every event.
  void Update();
  int StartStaticDials(int n);
  void UpdateStaticPool(const NodeId& id);
  void AddToStaticPool(Task* task);
  void RemoveFromStaticPool(int index);
  void StartDial(Task* task);
  void RearmHistoryTimer();
  void ExpireHistory();
  void LogStats();
  void RequestCandidate();
  void OnCandidate(std::optional<Node> node);

  // Dial task steps (dialTask.run), each a posted continuation keyed by the
  // task's attempt number so abandoned attempts are ignored.
  void RunTask(Task* task);
  void AfterDns(Task* task);
  void Resolve(Task* task, absl::AnyInvocable<void(Task*, bool)> next);
  void Dial(Task* task, bool is_retry);
  void FinishTask(uint64_t attempt, absl::Status status);
  Task* LiveTask(uint64_t attempt) const;
  void Emit(DialEvent::Kind kind, const Node& node, ConnFlags flags,
            absl::Status status = absl::OkStatus());

  DialConfig config_;
  DialDeps deps_;
  Logger* log_;
  bool started_ = false;
  bool stopped_ = false;

  // Dial tasks by node. static_ owns the static tasks; dynamic tasks and
  // static tasks removed while dialing are owned by detached_ until done.
  std::map<NodeId, std::unique_ptr<Task>> static_;
  std::vector<Task*> static_pool_;
  absl::flat_hash_map<NodeId, Task*> dialing_;  // Lookup only.
  absl::flat_hash_map<NodeId, std::unique_ptr<Task>> detached_;
  absl::flat_hash_map<uint64_t, Task*> attempts_;  // attempt -> task.
  uint64_t next_attempt_ = 1;

  absl::flat_hash_map<NodeId, ConnFlags> peers_;  // Lookup only.
  absl::flat_hash_set<NodeId> pending_inbound_;   // Lookup only.
  int dial_peers_ = 0;

  DialHistory history_;
  TimerId history_timer_ = kNoTimer;
  std::optional<MonoTime> history_timer_time_;

  // Candidate iterator state: at most one request outstanding, at most one
  // node held back while no slot is free.
  bool candidate_requested_ = false;
  bool candidates_ended_ = false;
  std::optional<Node> held_candidate_;

  MonoTime last_stats_log_;
  int done_since_last_log_ = 0;
  DialStats stats_;

  WeakFlag alive_;  // Last: callbacks check it before touching members.
};

}  // namespace p2p

#endif  // P2P_CORE_DIAL_DIAL_SCHEDULER_H_
