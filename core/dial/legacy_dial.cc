#include "core/dial/legacy_dial.h"

#include <algorithm>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace p2p {

namespace {

constexpr absl::string_view kLegacyDialErrorText[] = {
    "already dialing",
    "already connected",
    "is self",
    "not contained in netrestrict whitelist",
    "recently dialed",
};

// dialTask.String(): "<flags> <id> <ip>:<port>".
std::string DescribeDial(const LegacyDialTask& t) {
  return absl::StrCat(ConnFlagsString(t.flags), " ", t.dest.id.TerminalString(), " ",
                      t.dest.has_ip() ? t.dest.TcpEndpoint().ToString() : "<no ip>");
}

}  // namespace

absl::Status MakeLegacyDialError(LegacyDialError e) {
  return absl::FailedPreconditionError(kLegacyDialErrorText[static_cast<int>(e)]);
}

bool IsLegacyDialError(const absl::Status& s, LegacyDialError e) {
  return s.code() == absl::StatusCode::kFailedPrecondition &&
         s.message() == kLegacyDialErrorText[static_cast<int>(e)];
}

std::string LegacyTask::ToString() const {
  switch (kind) {
    case Kind::kDial:
      return absl::StrCat("dial ", ConnFlagsString(dial->flags), " ", dial->dest.id.TerminalString());
    case Kind::kDiscover:
      return "discover";
    case Kind::kWaitExpire:
      return absl::StrCat("wait ", absl::FormatDuration(wait));
  }
  return "?";
}

// ---------------------------------------------------------------------------
// LegacyDialState

LegacyDialState::LegacyDialState(Options options)
    : max_dyn_dials_(options.max_dyn_dials),
      self_(options.self),
      net_restrict_(std::move(options.net_restrict)),
      table_(options.table),
      log_(options.log != nullptr ? options.log : DiscardLogger()),
      on_discard_(std::move(options.on_discard)),
      random_nodes_(static_cast<size_t>(std::max(0, options.max_dyn_dials / 2))),
      bootnodes_(std::move(options.bootnodes)) {
  for (const Node& n : options.static_nodes) AddStatic(n);
}

LegacyDialState::~LegacyDialState() = default;

LegacyDialState::Slot& LegacyDialState::NewSlot(ConnFlags flags, const Node& node) {
  const uint64_t serial = next_serial_++;
  Slot& slot = tasks_[serial];
  slot.task = std::make_unique<LegacyDialTask>();
  slot.task->serial = serial;
  slot.task->flags = flags;
  slot.task->dest = node;
  return slot;
}

LegacyDialState::Slot& LegacyDialState::SlotOf(const LegacyDialTask* task) {
  auto it = tasks_.find(task->serial);
  ABSL_RAW_CHECK(it != tasks_.end() && it->second.task.get() == task,
                 "LegacyDialState: task does not belong to this state (or was freed)");
  return it->second;
}

void LegacyDialState::MaybeFree(Slot& slot) {
  if (slot.in_static || slot.scheduled) return;
  tasks_.erase(slot.task->serial);
}

void LegacyDialState::Discard(const Node& node, ConnFlags flags, const absl::Status& why) {
  if (on_discard_) on_discard_(node, flags, why);
}

void LegacyDialState::AddStatic(const Node& node) {
  // This overwrites the task instead of updating an existing entry, giving
  // users the opportunity to force a resolve operation.
  auto it = static_.find(node.id);
  if (it != static_.end()) {
    Slot& old = tasks_.at(it->second);
    old.in_static = false;
    MaybeFree(old);  // A running old task lives on until its TaskDone.
  }
  Slot& slot = NewSlot(kStaticDialedConn, node);
  slot.in_static = true;
  static_[node.id] = slot.task->serial;
}

void LegacyDialState::RemoveStatic(const NodeId& id) {
  // No future attempts to connect will be made.
  auto it = static_.find(id);
  if (it != static_.end()) {
    Slot& slot = tasks_.at(it->second);
    static_.erase(it);
    slot.in_static = false;
    MaybeFree(slot);
  }
  // Forget the previous dial so the application can force a reconnect to a
  // chosen peer immediately.
  history_.Remove(id);
}

const LegacyDialTask* LegacyDialState::StaticTask(const NodeId& id) const {
  auto it = static_.find(id);
  if (it == static_.end()) return nullptr;
  return tasks_.at(it->second).task.get();
}

absl::Status LegacyDialState::CheckDial(const Node& n,
                                        const std::map<NodeId, ConnFlags>& peers) const {
  if (dialing_.count(n.id) > 0) return MakeLegacyDialError(LegacyDialError::kAlreadyDialing);
  if (peers.count(n.id) > 0) return MakeLegacyDialError(LegacyDialError::kAlreadyConnected);
  if (n.id == self_) return MakeLegacyDialError(LegacyDialError::kSelf);
  // netutil.Netlist.Contains(nil IP) is false: a node without an IP is not
  // whitelisted.
  if (net_restrict_.has_value() && !(n.has_ip() && net_restrict_->Contains(n.ip))) {
    return MakeLegacyDialError(LegacyDialError::kNotWhitelisted);
  }
  if (history_.Contains(n.id)) return MakeLegacyDialError(LegacyDialError::kRecentlyDialed);
  return absl::OkStatus();
}

std::vector<LegacyTask> LegacyDialState::NewTasks(int n_running,
                                                  const std::map<NodeId, ConnFlags>& peers,
                                                  MonoTime now) {
  if (!start_.has_value()) start_ = now;

  std::vector<LegacyTask> newtasks;
  auto add_dial = [&](ConnFlags flag, const Node& n) -> bool {
    absl::Status why = CheckDial(n, peers);
    if (!why.ok()) {
      if (log_->Enabled(LogLevel::kTrace)) {
        log_->Log(LogLevel::kTrace,
                  absl::StrCat("Skipping dial candidate id=", n.id.TerminalString(), " addr=",
                               n.has_ip() ? n.TcpEndpoint().ToString() : "<no ip>", " err=\"",
                               why.message(), "\""));
      }
      Discard(n, flag, why);
      return false;
    }
    dialing_[n.id] = flag;
    Slot& slot = NewSlot(flag, n);
    slot.scheduled = true;
    LegacyTask t;
    t.kind = LegacyTask::Kind::kDial;
    t.dial = slot.task.get();
    newtasks.push_back(std::move(t));
    return true;
  };

  // Compute the number of dynamic dials necessary at this point.
  int need_dyn_dials = max_dyn_dials_;
  for (const auto& [id, flags] : peers) {
    if ((flags & kDynDialedConn) != 0) need_dyn_dials--;
  }
  for (const auto& [id, flags] : dialing_) {
    if ((flags & kDynDialedConn) != 0) need_dyn_dials--;
  }

  // Expire the dial history on every invocation.
  history_.Expire(now);

  // Create dials for static nodes if they are not connected. go-ethereum
  // walks its static map in Go's random map order; std::map gives NodeId
  // order, so runs are reproducible.
  for (auto it = static_.begin(); it != static_.end();) {
    Slot& slot = tasks_.at(it->second);
    LegacyDialTask* t = slot.task.get();
    absl::Status why = CheckDial(t->dest, peers);
    if (IsLegacyDialError(why, LegacyDialError::kNotWhitelisted) ||
        IsLegacyDialError(why, LegacyDialError::kSelf)) {
      if (log_->Enabled(LogLevel::kWarn)) {
        log_->Log(LogLevel::kWarn,
                  absl::StrCat("Removing static dial candidate id=", t->dest.id.TerminalString(),
                               " addr=", t->dest.has_ip() ? t->dest.TcpEndpoint().ToString() : "<no ip>",
                               " err=\"", why.message(), "\""));
      }
      Discard(t->dest, t->flags, why);
      it = static_.erase(it);
      slot.in_static = false;
      MaybeFree(slot);
      continue;
    }
    if (why.ok()) {
      ABSL_RAW_CHECK(!slot.scheduled, "LegacyDialState: static task scheduled twice");
      dialing_[it->first] = t->flags;
      slot.scheduled = true;
      LegacyTask task;
      task.kind = LegacyTask::Kind::kDial;
      task.dial = t;
      newtasks.push_back(std::move(task));
    }
    ++it;
  }

  // If we don't have any peers whatsoever, try to dial a bootnode. This is
  // useful for testnets and private networks where the discovery table might
  // be full of mostly bad peers.
  if (peers.empty() && !bootnodes_.empty() && need_dyn_dials > 0 &&
      now - *start_ > legacy::kFallbackInterval) {
    Node bootnode = bootnodes_.front();
    std::rotate(bootnodes_.begin(), bootnodes_.begin() + 1, bootnodes_.end());
    if (add_dial(kDynDialedConn, bootnode)) need_dyn_dials--;
  }

  // Use random nodes from the table for half of the necessary dynamic dials.
  const int random_candidates = need_dyn_dials / 2;
  if (random_candidates > 0 && table_ != nullptr) {
    const int n = table_->ReadRandomNodes(absl::MakeSpan(random_nodes_));
    for (int i = 0; i < random_candidates && i < n; ++i) {
      if (add_dial(kDynDialedConn, random_nodes_[i])) need_dyn_dials--;
    }
  }

  // Create dynamic dials from random lookup results, removing tried items
  // from the result buffer.
  size_t i = 0;
  for (; i < lookup_buf_.size() && need_dyn_dials > 0; ++i) {
    if (add_dial(kDynDialedConn, lookup_buf_[i])) need_dyn_dials--;
  }
  lookup_buf_.erase(lookup_buf_.begin(), lookup_buf_.begin() + static_cast<std::ptrdiff_t>(i));

  // Launch a discovery lookup if more candidates are needed.
  if (table_ != nullptr && static_cast<int>(lookup_buf_.size()) < need_dyn_dials &&
      !lookup_running_) {
    lookup_running_ = true;
    LegacyTask t;
    t.kind = LegacyTask::Kind::kDiscover;
    newtasks.push_back(std::move(t));
  }

  // Launch a timer to wait for the next node to expire if all candidates
  // have been tried and no task is currently active, so the loop keeps
  // ticking when there are no pending events.
  if (n_running == 0 && newtasks.empty() && !history_.empty()) {
    LegacyTask t;
    t.kind = LegacyTask::Kind::kWaitExpire;
    t.wait = *history_.NextExpiry() - now;
    newtasks.push_back(std::move(t));
  }
  return newtasks;
}

void LegacyDialState::TaskDone(const LegacyTask& task, MonoTime now) {
  switch (task.kind) {
    case LegacyTask::Kind::kDial: {
      Slot& slot = SlotOf(task.dial);
      ABSL_RAW_CHECK(slot.scheduled, "LegacyDialState: TaskDone for a dial task not running");
      const NodeId id = task.dial->dest.id;
      history_.Add(id, now + legacy::kDialHistoryExpiration);
      dialing_.erase(id);
      slot.scheduled = false;
      MaybeFree(slot);
      break;
    }
    case LegacyTask::Kind::kDiscover:
      lookup_running_ = false;
      lookup_buf_.insert(lookup_buf_.end(), task.results.begin(), task.results.end());
      break;
    case LegacyTask::Kind::kWaitExpire:
      break;
  }
}

// ---------------------------------------------------------------------------
// LegacyDialer

// One started task (an entry of Server.run's runningTasks).
struct LegacyDialer::Run {
  uint64_t id = 0;
  LegacyTask task;
  TimerId timer = kNoTimer;     // Wait-expire timer or lookup delay.
  TimerId watchdog = kNoTimer;  // Dial tasks: config.task_timeout.
};

absl::StatusOr<std::unique_ptr<LegacyDialer>> LegacyDialer::Create(DialConfig config,
                                                                   DialDeps deps) {
  if (deps.loop == nullptr) return absl::InvalidArgumentError("LegacyDialer: deps.loop is required");
  if (deps.dialer == nullptr) {
    return absl::InvalidArgumentError("LegacyDialer: deps.dialer is required");
  }
  if (config.max_dial_peers < 0) {
    return absl::InvalidArgumentError("LegacyDialer: max_dial_peers must be >= 0");
  }
  if (config.task_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("LegacyDialer: task_timeout must be > 0");
  }
  return std::unique_ptr<LegacyDialer>(new LegacyDialer(std::move(config), std::move(deps)));
}

absl::StatusOr<std::unique_ptr<DialPolicy>> NewLegacyDialer(DialConfig config, DialDeps deps) {
  absl::StatusOr<std::unique_ptr<LegacyDialer>> d =
      LegacyDialer::Create(std::move(config), std::move(deps));
  if (!d.ok()) return d.status();
  return std::unique_ptr<DialPolicy>(std::move(*d));
}

LegacyDialState::Options LegacyDialer::StateOptions() {
  LegacyDialState::Options o;
  o.self = config_.self;
  o.max_dyn_dials = config_.max_dial_peers;
  o.net_restrict = config_.net_restrict;
  o.bootnodes = config_.bootnodes;
  o.table = deps_.table;
  o.log = deps_.log;
  // Statics are added by Start(), as DialPolicy specifies.
  o.on_discard = [this](const Node& node, ConnFlags flags, const absl::Status& why) {
    stats_.discarded[std::string(why.message())]++;
    Emit(DialEvent::Kind::kDiscard, node, flags, why);
  };
  return o;
}

LegacyDialer::LegacyDialer(DialConfig config, DialDeps deps)
    : config_(std::move(config)),
      deps_(std::move(deps)),
      log_(deps_.log != nullptr ? deps_.log : DiscardLogger()),
      state_(StateOptions()) {}

LegacyDialer::~LegacyDialer() {
  for (auto& [id, run] : running_) {
    if (run->timer != kNoTimer) deps_.loop->Cancel(run->timer);
    if (run->watchdog != kNoTimer) deps_.loop->Cancel(run->watchdog);
  }
}

void LegacyDialer::Start() {
  ABSL_RAW_CHECK(!started_, "LegacyDialer::Start called twice");
  started_ = true;
  for (const Node& n : config_.static_nodes) state_.AddStatic(n);
  ScheduleTasks();
}

void LegacyDialer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Queued tasks never start. Timer-only tasks (wait-expire, a lookup still
  // waiting for its turn) have nothing to complete: drop them. Dials and a
  // lookup in flight complete and are counted.
  queued_.clear();
  for (auto it = running_.begin(); it != running_.end();) {
    Run* run = it->second.get();
    if (run->task.kind != LegacyTask::Kind::kDial && run->timer != kNoTimer) {
      deps_.loop->Cancel(run->timer);
      it = running_.erase(it);
    } else {
      ++it;
    }
  }
}

void LegacyDialer::AddStatic(const Node& node) {
  if (log_->Enabled(LogLevel::kTrace)) {
    log_->Log(LogLevel::kTrace, absl::StrCat("Adding static node id=", node.id.TerminalString()));
  }
  state_.AddStatic(node);
  ScheduleTasks();
}

void LegacyDialer::RemoveStatic(const NodeId& id) {
  if (log_->Enabled(LogLevel::kTrace)) {
    log_->Log(LogLevel::kTrace, absl::StrCat("Removing static node id=", id.TerminalString()));
  }
  state_.RemoveStatic(id);
  ScheduleTasks();
}

void LegacyDialer::PeerAdded(const NodeId& id, ConnFlags flags) {
  peers_[id] = flags;
  ScheduleTasks();
}

void LegacyDialer::PeerRemoved(const NodeId& id, ConnFlags flags) {
  peers_.erase(id);
  ScheduleTasks();
}

size_t LegacyDialer::dialing() const {
  size_t n = 0;
  for (const auto& [id, run] : running_) {
    if (run->task.kind == LegacyTask::Kind::kDial) n++;
  }
  return n;
}

std::vector<std::string> LegacyDialer::RunningTaskNames() const {
  std::vector<std::string> out;
  for (const auto& [id, run] : running_) out.push_back(run->task.ToString());
  return out;
}

std::vector<std::string> LegacyDialer::QueuedTaskNames() const {
  std::vector<std::string> out;
  for (const LegacyTask& t : queued_) out.push_back(t.ToString());
  return out;
}

// Server.run's scheduleTasks: start from the queue first, then ask the
// dialstate for new tasks only while fewer than kMaxActiveDialTasks run.
// The queue stays bounded: NewTasks never returns a node twice while it is
// dialing, at most one discover task, and a wait-expire task only when
// nothing runs or waits, so it holds at most statics + maxDynDials + 1.
void LegacyDialer::ScheduleTasks() {
  if (!started_ || stopped_) return;
  ABSL_RAW_CHECK(!scheduling_, "LegacyDialer: scheduleTasks re-entered");
  scheduling_ = true;
  queued_ = StartTasks(std::move(queued_));
  if (running_.size() < static_cast<size_t>(legacy::kMaxActiveDialTasks)) {
    std::vector<LegacyTask> nt = state_.NewTasks(
        static_cast<int>(running_.size() + queued_.size()), peers_, deps_.loop->Now());
    std::deque<LegacyTask> fresh;
    for (LegacyTask& t : nt) fresh.push_back(std::move(t));
    std::deque<LegacyTask> rest = StartTasks(std::move(fresh));
    for (LegacyTask& t : rest) queued_.push_back(std::move(t));
  }
  scheduling_ = false;
}

// startTasks: starts tasks until kMaxActiveDialTasks run; returns the rest.
std::deque<LegacyTask> LegacyDialer::StartTasks(std::deque<LegacyTask> tasks) {
  while (running_.size() < static_cast<size_t>(legacy::kMaxActiveDialTasks) && !tasks.empty()) {
    LegacyTask t = std::move(tasks.front());
    tasks.pop_front();
    StartTask(std::move(t));
  }
  return tasks;
}

void LegacyDialer::StartTask(LegacyTask task) {
  auto owned = std::make_unique<Run>();
  Run* run = owned.get();
  run->id = next_run_id_++;
  run->task = std::move(task);
  running_[run->id] = std::move(owned);
  if (log_->Enabled(LogLevel::kTrace)) {
    log_->Log(LogLevel::kTrace, absl::StrCat("New dial task task=\"", run->task.ToString(), "\""));
  }
  const uint64_t run_id = run->id;
  switch (run->task.kind) {
    case LegacyTask::Kind::kDial:
      run->watchdog = deps_.loop->RunAfter(
          config_.task_timeout, [this, run_id, alive = alive_.Weak()] {
            if (!alive) return;
            Run* r = LiveRun(run_id);
            if (r == nullptr) return;
            r->watchdog = kNoTimer;
            stats_.task_timeouts++;
            const absl::Status why = absl::DeadlineExceededError("dial task timed out");
            if (log_->Enabled(LogLevel::kDebug)) {
              log_->Log(LogLevel::kDebug, absl::StrCat("Abandoning dial task task=\"",
                                                       DescribeDial(*r->task.dial), "\""));
            }
            Emit(DialEvent::Kind::kTaskTimeout, r->task.dial->dest, r->task.dial->flags, why);
            FinishRun(run_id, why);
          });
      DoDial(run);
      break;
    case LegacyTask::Kind::kDiscover:
      DoDiscover(run);
      break;
    case LegacyTask::Kind::kWaitExpire:
      // History entries expire strictly before `now`: wake 1 ns after the
      // earliest expiry, the first instant at which it is gone.
      run->timer = deps_.loop->RunAfter(run->task.wait + absl::Nanoseconds(1),
                                        [this, run_id, alive = alive_.Weak()] {
                                          if (!alive) return;
                                          Run* r = LiveRun(run_id);
                                          if (r == nullptr) return;
                                          r->timer = kNoTimer;
                                          FinishRun(run_id, absl::OkStatus());
                                        });
      break;
  }
}

LegacyDialer::Run* LegacyDialer::LiveRun(uint64_t run_id) {
  auto it = running_.find(run_id);
  return it == running_.end() ? nullptr : it->second.get();
}

// The taskdone case of Server.run.
void LegacyDialer::FinishRun(uint64_t run_id, absl::Status status) {
  auto it = running_.find(run_id);
  if (it == running_.end()) return;
  std::unique_ptr<Run> run = std::move(it->second);
  running_.erase(it);
  if (run->timer != kNoTimer) deps_.loop->Cancel(run->timer);
  if (run->watchdog != kNoTimer) deps_.loop->Cancel(run->watchdog);
  if (run->task.kind == LegacyTask::Kind::kDial) {
    const LegacyDialTask& t = *run->task.dial;
    if (!status.ok()) stats_.failures[DialFailureReason(status)]++;
    Emit(DialEvent::Kind::kDialDone, t.dest, t.flags, status);
  }
  if (log_->Enabled(LogLevel::kTrace)) {
    log_->Log(LogLevel::kTrace, absl::StrCat("Dial task done task=\"", run->task.ToString(), "\""));
  }
  state_.TaskDone(run->task, deps_.loop->Now());
  ScheduleTasks();
}

// dialTask.Do: resolve an incomplete node first; dial; for a static node
// whose connection failed, resolve once more and dial again if found.
void LegacyDialer::DoDial(Run* run) {
  if (!run->task.dial->dest.has_ip()) {
    Resolve(run, [this](Run* r, bool ok) {
      if (!ok) {
        FinishRun(r->id, absl::NotFoundError("node has no IP address and was not resolved"));
        return;
      }
      Dial(r, /*is_retry=*/false);
    });
    return;
  }
  Dial(run, /*is_retry=*/false);
}

// dialTask.resolve, with its throttled backoff. `next` runs later (posted
// or from the resolver's callback), never inline.
void LegacyDialer::Resolve(Run* run, absl::AnyInvocable<void(Run*, bool)> next) {
  LegacyDialTask* t = run->task.dial;
  const uint64_t run_id = run->id;
  auto fail_later = [&] {
    deps_.loop->Post([this, run_id, next = std::move(next), alive = alive_.Weak()]() mutable {
      if (!alive) return;
      if (Run* r = LiveRun(run_id)) next(r, false);
    });
  };
  if (deps_.resolver == nullptr) {
    if (log_->Enabled(LogLevel::kDebug)) {
      log_->Log(LogLevel::kDebug, absl::StrCat("Can't resolve node id=", t->dest.id.TerminalString(),
                                               " err=\"discovery is disabled\""));
    }
    fail_later();
    return;
  }
  if (t->resolve_delay == absl::ZeroDuration()) t->resolve_delay = kInitialResolveDelay;
  const MonoTime now = deps_.loop->Now();
  if (t->last_resolved.has_value() && now - *t->last_resolved < t->resolve_delay) {
    fail_later();
    return;
  }
  stats_.resolves++;
  deps_.resolver->Resolve(
      t->dest, [this, run_id, next = std::move(next), alive = alive_.Weak()](
                   std::optional<Node> found) mutable {
        if (!alive) return;
        Run* r = LiveRun(run_id);
        if (r == nullptr) return;  // Abandoned by the watchdog.
        LegacyDialTask* rt = r->task.dial;
        rt->last_resolved = deps_.loop->Now();
        if (!found.has_value()) {
          rt->resolve_delay = std::min(rt->resolve_delay * 2, kMaxResolveDelay);
          stats_.resolve_failures++;
          if (log_->Enabled(LogLevel::kDebug)) {
            log_->Log(LogLevel::kDebug,
                      absl::StrCat("Resolving node failed id=", rt->dest.id.TerminalString(),
                                   " newdelay=", absl::FormatDuration(rt->resolve_delay)));
          }
          Emit(DialEvent::Kind::kResolve, rt->dest, rt->flags, absl::NotFoundError("node not found"));
          next(r, false);
          return;
        }
        // The node was found.
        rt->resolve_delay = kInitialResolveDelay;
        rt->dest = std::move(*found);
        if (log_->Enabled(LogLevel::kDebug)) {
          log_->Log(LogLevel::kDebug,
                    absl::StrCat("Resolved node id=", rt->dest.id.TerminalString(), " addr=",
                                 rt->dest.has_ip() ? rt->dest.TcpEndpoint().ToString() : "<no ip>"));
        }
        Emit(DialEvent::Kind::kResolve, rt->dest, rt->flags);
        next(r, true);
      });
}

// dialTask.dial.
void LegacyDialer::Dial(Run* run, bool is_retry) {
  const LegacyDialTask& t = *run->task.dial;
  const uint64_t run_id = run->id;
  stats_.dials_started++;
  Emit(DialEvent::Kind::kDialStart, t.dest, t.flags);
  deps_.dialer->Dial(t.dest, t.flags, [this, run_id, is_retry, alive = alive_.Weak()](
                                          DialResult result) {
    if (!alive) return;
    Run* r = LiveRun(run_id);
    if (r == nullptr) return;  // Abandoned by the watchdog: ignore.
    LegacyDialTask* rt = r->task.dial;
    if (result.status.ok()) {
      stats_.dials_succeeded++;
    } else {
      stats_.dials_failed++;
      if (log_->Enabled(LogLevel::kTrace)) {
        log_->Log(LogLevel::kTrace, absl::StrCat("Dial error task=\"", DescribeDial(*rt),
                                                 "\" err=\"", result.status.message(), "\""));
      }
    }
    // Try resolving the ID of static nodes if the connection failed (not a
    // handshake failure: go-ethereum's *dialError), and dial once more.
    if (!result.status.ok() && result.connect_failed && rt->is_static() && !is_retry) {
      absl::Status first = result.status;
      Resolve(r, [this, first](Run* rr, bool ok) {
        if (ok) {
          Dial(rr, /*is_retry=*/true);
        } else {
          FinishRun(rr->id, first);
        }
      });
      return;
    }
    FinishRun(run_id, result.status);
  });
}

// discoverTask.Do: lookups run at least kLookupInterval apart (measured
// between their starts, as srv.lastLookup is set before the lookup).
void LegacyDialer::DoDiscover(Run* run) {
  const uint64_t run_id = run->id;
  auto lookup = [this, run_id] {
    last_lookup_ = deps_.loop->Now();
    deps_.table->LookupRandom([this, run_id, alive = alive_.Weak()](std::vector<Node> found) {
      if (!alive) return;
      Run* r = LiveRun(run_id);
      if (r == nullptr) return;
      stats_.lookups++;
      r->task.results = std::move(found);
      if (deps_.observer != nullptr) {
        DialEvent ev;
        ev.kind = DialEvent::Kind::kLookup;
        ev.count = static_cast<int>(r->task.results.size());
        deps_.observer->OnDialEvent(ev);
      }
      FinishRun(run_id, absl::OkStatus());
    });
  };
  const MonoTime now = deps_.loop->Now();
  if (last_lookup_.has_value() && now < *last_lookup_ + legacy::kLookupInterval) {
    run->timer = deps_.loop->RunAt(*last_lookup_ + legacy::kLookupInterval,
                                   [this, run_id, lookup, alive = alive_.Weak()] {
                                     if (!alive) return;
                                     Run* r = LiveRun(run_id);
                                     if (r == nullptr) return;
                                     r->timer = kNoTimer;
                                     lookup();
                                   });
    return;
  }
  lookup();
}

void LegacyDialer::Emit(DialEvent::Kind kind, const Node& node, ConnFlags flags,
                        absl::Status status, int count) {
  if (deps_.observer == nullptr) return;
  DialEvent ev;
  ev.kind = kind;
  ev.id = node.id;
  ev.flags = flags;
  if (node.has_ip()) ev.endpoint = node.TcpEndpoint();
  ev.status = std::move(status);
  ev.count = count;
  deps_.observer->OnDialEvent(ev);
}

}  // namespace p2p
