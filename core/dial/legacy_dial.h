// The v1.8.24 generation of go-ethereum's dialer (p2p/dial.go `dialstate`
// and the task machinery of p2p/server.go `Server.run`), on one EventLoop.
//
// Two layers, as in go-ethereum:
//  - LegacyDialState is dialstate: a pure state machine. NewTasks (newTasks)
//    decides, on every loop iteration, which tasks to start: static dials,
//    a bootnode fallback dial, dynamic dials from random table nodes and from
//    lookup results, at most one discover task, and a wait-expire task when
//    nothing else would tick the loop. TaskDone (taskDone) records results.
//    It never touches the clock or the network itself.
//  - LegacyDialer runs the tasks as Server.run did: at most
//    legacy::kMaxActiveDialTasks (16) at once, the rest queued; after every
//    event it starts queued tasks first and asks NewTasks for more only while
//    fewer than 16 run. It is a DialPolicy, selectable against the current
//    DialScheduler.
//
// Differences from go-ethereum, all deliberate:
//  - Determinism: go-ethereum iterates its static map in Go's random map
//    order; here statics are visited in NodeId order. Nothing in this
//    generation draws random numbers (the lookup target is the table's job).
//  - Time 0 is a real instant of the simulated clock, so "never" (Go's zero
//    time.Time for start, lastResolved, lastLookup) is an empty optional.
//  - History entries expire strictly before `now` (DialHistory), so a
//    wait-expire task of duration d wakes the dialer at now + d + 1 ns, the
//    first instant at which the earliest entry is gone (in Go, time.Sleep
//    always overshoots; on a simulated clock an exact wake would expire
//    nothing and spin).
//  - Every dial task ends: config.task_timeout is a watchdog after which the
//    task is abandoned (DialEvent kTaskTimeout), treated as done, and its
//    late completion ignored.
#ifndef P2P_CORE_DIAL_LEGACY_DIAL_H_
#define P2P_CORE_DIAL_LEGACY_DIAL_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/dial/conn_flags.h"
#include "core/dial/dial_history.h"
#include "core/dial/dial_policy.h"
#include "core/dial/dial_services.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "core/weak_flag.h"

namespace p2p {

// go-ethereum v1.8.24's constants (p2p/dial.go, p2p/server.go). In their own
// namespace because the current generation uses other values for some names.
namespace legacy {
// Time between two dials of the same node.
inline constexpr absl::Duration kDialHistoryExpiration = absl::Seconds(30);
// Discovery lookups run at most once per this interval.
inline constexpr absl::Duration kLookupInterval = absl::Seconds(4);
// With no peers for longer than this since the first NewTasks, bootnodes
// are dialed.
inline constexpr absl::Duration kFallbackInterval = absl::Seconds(20);
// Server.run's bound on concurrently running tasks of any kind.
inline constexpr int kMaxActiveDialTasks = 16;
}  // namespace legacy

// checkDial errors of v1.8.24, in the order they are checked, with
// go-ethereum's texts. All are FailedPrecondition.
enum class LegacyDialError {
  kAlreadyDialing,    // "already dialing"
  kAlreadyConnected,  // "already connected"
  kSelf,              // "is self"
  kNotWhitelisted,    // "not contained in netrestrict whitelist"
  kRecentlyDialed,    // "recently dialed"
};
absl::Status MakeLegacyDialError(LegacyDialError e);
bool IsLegacyDialError(const absl::Status& s, LegacyDialError e);

// go-ethereum's dialTask. Owned by LegacyDialState. A static node's task is
// one object reused by every dial of that node, so its resolve backoff and
// its resolved record persist between dials (until AddStatic replaces it).
// The runner (LegacyDialer) mutates dest / last_resolved / resolve_delay
// while the task runs, as dialTask.Do does.
struct LegacyDialTask {
  uint64_t serial = 0;  // The state's handle for this task; read-only.
  ConnFlags flags = 0;
  Node dest;
  // Resolve backoff; empty last_resolved means never resolved (no throttle).
  std::optional<MonoTime> last_resolved;
  absl::Duration resolve_delay = absl::ZeroDuration();
  bool is_static() const { return (flags & kStaticDialedConn) != 0; }
};

// One task returned by NewTasks: a handle, cheap to move.
struct LegacyTask {
  enum class Kind { kDial, kDiscover, kWaitExpire };
  Kind kind = Kind::kDial;
  // kDial: the task, owned by the state; valid until TaskDone for this
  // handle (and afterwards while the node stays static).
  LegacyDialTask* dial = nullptr;
  // kWaitExpire: how long until the earliest history entry expires.
  absl::Duration wait = absl::ZeroDuration();
  // kDiscover: the lookup results, filled by the runner before TaskDone.
  std::vector<Node> results;

  // "dial <flags> <id>", "discover", "wait <duration>": for logs and tests.
  std::string ToString() const;
};

// go-ethereum v1.8.24's dialstate. Not thread-safe; no clock of its own.
class LegacyDialState {
 public:
  struct Options {
    NodeId self;
    int max_dyn_dials = 0;
    std::optional<IpNetList> net_restrict;
    std::vector<Node> static_nodes;
    std::vector<Node> bootnodes;
    // Random nodes and lookups; null means no discovery: no random nodes
    // and no discover tasks (go-ethereum only ran without a table with
    // maxDynDials == 0, where neither is reached).
    DiscoveryTable* table = nullptr;
    Logger* log = nullptr;  // Nullable.
    // Told about every candidate that fails checkDial in addDial, and every
    // static node dropped for not-whitelisted / self. Nullable.
    absl::AnyInvocable<void(const Node& node, ConnFlags flags, const absl::Status& why)>
        on_discard;
  };

  explicit LegacyDialState(Options options);
  ~LegacyDialState();
  LegacyDialState(const LegacyDialState&) = delete;
  LegacyDialState& operator=(const LegacyDialState&) = delete;

  // addStatic: replaces the node's task with a fresh one (so the next dial
  // resolves afresh). A running old task still completes normally.
  void AddStatic(const Node& node);
  // removeStatic: no more dials to it; also forgets its history entry so a
  // re-added node is dialed at once.
  void RemoveStatic(const NodeId& id);

  // newTasks. `n_running` counts tasks running or queued; `peers` maps each
  // connected peer to its connection flags; `now` is the loop's time.
  std::vector<LegacyTask> NewTasks(int n_running, const std::map<NodeId, ConnFlags>& peers,
                                   MonoTime now);
  // taskDone: a dial task enters the history until now + 30 s and stops
  // dialing; a discover task's results are appended to the lookup buffer.
  void TaskDone(const LegacyTask& task, MonoTime now);

  // checkDial.
  absl::Status CheckDial(const Node& node, const std::map<NodeId, ConnFlags>& peers) const;

  // Introspection, for tests and metrics.
  bool IsStatic(const NodeId& id) const { return static_.count(id) > 0; }
  const LegacyDialTask* StaticTask(const NodeId& id) const;
  size_t num_static() const { return static_.size(); }
  bool IsDialing(const NodeId& id) const { return dialing_.count(id) > 0; }
  size_t num_dialing() const { return dialing_.size(); }
  bool lookup_running() const { return lookup_running_; }
  const std::vector<Node>& lookup_buf() const { return lookup_buf_; }
  const std::vector<Node>& bootnodes() const { return bootnodes_; }
  const DialHistory& history() const { return history_; }
  int max_dyn_dials() const { return max_dyn_dials_; }

 private:
  struct Slot {
    std::unique_ptr<LegacyDialTask> task;
    bool in_static = false;  // Referenced by static_.
    bool scheduled = false;  // Returned by NewTasks, TaskDone not yet seen.
  };

  Slot& NewSlot(ConnFlags flags, const Node& node);
  Slot& SlotOf(const LegacyDialTask* task);
  void MaybeFree(Slot& slot);
  void Discard(const Node& node, ConnFlags flags, const absl::Status& why);

  int max_dyn_dials_;
  NodeId self_;
  std::optional<IpNetList> net_restrict_;
  DiscoveryTable* table_;
  Logger* log_;
  absl::AnyInvocable<void(const Node&, ConnFlags, const absl::Status&)> on_discard_;

  bool lookup_running_ = false;
  std::map<NodeId, ConnFlags> dialing_;
  std::vector<Node> lookup_buf_;    // Current lookup results.
  std::vector<Node> random_nodes_;  // Filled from the table; maxDynDials/2.
  // static: node -> task serial. Ordered: statics are visited in NodeId
  // order (go-ethereum: random map order).
  std::map<NodeId, uint64_t> static_;
  DialHistory history_;
  std::optional<MonoTime> start_;  // First NewTasks call.
  std::vector<Node> bootnodes_;    // Rotated on every fallback dial.

  // Every live dial task by serial; freed once neither static nor scheduled.
  std::map<uint64_t, Slot> tasks_;
  uint64_t next_serial_ = 1;
};

// Server.run's task machinery around a LegacyDialState, as a DialPolicy.
//
// Contract:
//  - Every method runs on deps.loop and returns without blocking; dial,
//    resolve and lookup results arrive as posted callbacks.
//  - After every event (Start, a task done, AddStatic/RemoveStatic,
//    PeerAdded/PeerRemoved) it runs scheduleTasks: start queued tasks, then,
//    if fewer than 16 run, NewTasks(running + queued) and start what fits.
//  - A dial task is dialTask.Do: resolve first if the node has no IP
//    (deps.resolver, with the 60 s .. 1 h backoff), dial through
//    deps.dialer; a static dial that failed to connect is resolved once more
//    and, if found, dialed again.
//  - A discover task waits until 4 s after the previous lookup started, then
//    runs deps.table->LookupRandom. A wait-expire task is a timer.
//  - InboundPending / InboundDone are ignored (v1.8.24 had no such notion).
//  - Stop(): no new tasks and the queue is dropped; running tasks complete.
//  - Ownership: owns the state and its tasks; DialDeps must outlive it.
//    Destroying it drops its timers; late callbacks are ignored.
class LegacyDialer : public DialPolicy {
 public:
  // Needs deps.loop and deps.dialer; deps.table may be null (no discovery,
  // like a server without ntab), as may resolver, log and observer.
  // config.max_dial_peers is maxDynDials; max_active_dials is not used (the
  // bound is legacy::kMaxActiveDialTasks).
  static absl::StatusOr<std::unique_ptr<LegacyDialer>> Create(DialConfig config, DialDeps deps);
  ~LegacyDialer() override;

  // DialPolicy.
  void Start() override;
  void Stop() override;
  // Unlike DialPolicy's general rule, a duplicate add is not ignored: as in
  // v1.8.24 it replaces the node's task (forcing a fresh resolve).
  void AddStatic(const Node& node) override;
  void RemoveStatic(const NodeId& id) override;
  void PeerAdded(const NodeId& id, ConnFlags flags) override;
  void PeerRemoved(const NodeId& id, ConnFlags flags) override;
  void InboundPending(const NodeId& id) override {}
  void InboundDone(const NodeId& id) override {}
  DialGeneration generation() const override { return DialGeneration::kLegacy; }
  size_t dialing() const override;  // Running dial tasks.
  const DialStats& stats() const override { return stats_; }

  // Introspection, for tests and metrics.
  const LegacyDialState& state() const { return state_; }
  size_t running_tasks() const { return running_.size(); }
  size_t queued_tasks() const { return queued_.size(); }
  // Running and queued tasks, in order, as LegacyTask::ToString().
  std::vector<std::string> RunningTaskNames() const;
  std::vector<std::string> QueuedTaskNames() const;

 private:
  struct Run;

  LegacyDialer(DialConfig config, DialDeps deps);
  // The state's options; its discard hook feeds stats_ and the observer.
  LegacyDialState::Options StateOptions();

  void ScheduleTasks();
  std::deque<LegacyTask> StartTasks(std::deque<LegacyTask> tasks);
  void StartTask(LegacyTask task);
  Run* LiveRun(uint64_t run_id);
  void FinishRun(uint64_t run_id, absl::Status status);

  // dialTask.Do in steps; each continuation checks its run is still live.
  void DoDial(Run* run);
  void Resolve(Run* run, absl::AnyInvocable<void(Run*, bool)> next);
  void Dial(Run* run, bool is_retry);
  // discoverTask.Do.
  void DoDiscover(Run* run);

  void Emit(DialEvent::Kind kind, const Node& node, ConnFlags flags,
            absl::Status status = absl::OkStatus(), int count = 0);

  DialConfig config_;
  DialDeps deps_;
  Logger* log_;
  LegacyDialState state_;  // After config_ and deps_: built from them.
  bool started_ = false;
  bool stopped_ = false;
  bool scheduling_ = false;  // Guards against re-entrant scheduleTasks.

  std::map<NodeId, ConnFlags> peers_;
  // runningTasks in start order (run ids), and queuedTasks.
  std::map<uint64_t, std::unique_ptr<Run>> running_;
  std::deque<LegacyTask> queued_;
  uint64_t next_run_id_ = 1;
  std::optional<MonoTime> last_lookup_;  // srv.lastLookup.

  DialStats stats_;
  WeakFlag alive_;  // Last: callbacks check it before touching members.
};

// Creates a LegacyDialer (see LegacyDialer::Create).
absl::StatusOr<std::unique_ptr<DialPolicy>> NewLegacyDialer(DialConfig config, DialDeps deps);

}  // namespace p2p

#endif  // P2P_CORE_DIAL_LEGACY_DIAL_H_
