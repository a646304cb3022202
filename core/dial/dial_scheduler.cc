#include "core/dial/dial_scheduler.h"

#include <algorithm>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "core/weak_flag.h"

namespace p2p {

namespace {

constexpr absl::string_view kDialErrorText[] = {
    "is self",           "node does not provide TCP port",      "already dialing",
    "already connected", "peer has pending inbound connection", "not contained in netrestrict list",
    "recently dialed",
};

}  // namespace

absl::Status MakeDialError(DialError e) {
  return absl::FailedPreconditionError(kDialErrorText[static_cast<int>(e)]);
}

bool IsDialError(const absl::Status& s, DialError e) {
  return s.code() == absl::StatusCode::kFailedPrecondition &&
         s.message() == kDialErrorText[static_cast<int>(e)];
}

// A dial task (go-ethereum's dialTask). Static tasks live as long as the
// node is static; dynamic ones for one attempt.
struct DialScheduler::Task {
  ConnFlags flags;
  Node dest;
  int static_pool_index = -1;
  // Resolve backoff. go-ethereum treats lastResolved == 0 as "never"; we keep
  // an explicit optional because virtual time 0 is a real instant here.
  std::optional<MonoTime> last_resolved;
  absl::Duration resolve_delay = absl::ZeroDuration();
  // The running attempt (0 when idle) and its watchdog.
  uint64_t attempt = 0;
  TimerId watchdog = kNoTimer;
  bool is_static() const { return (flags & kStaticDialedConn) != 0; }
};

absl::StatusOr<std::unique_ptr<DialScheduler>> DialScheduler::Create(DialConfig config,
                                                                     DialDeps deps) {
  if (deps.loop == nullptr)
    return absl::InvalidArgumentError("DialScheduler: deps.loop is required");
  if (deps.dialer == nullptr)
    return absl::InvalidArgumentError("DialScheduler: deps.dialer is required");
  if (config.max_dial_peers < 0)
    return absl::InvalidArgumentError("DialScheduler: max_dial_peers must be >= 0");
  if (config.max_active_dials <= 0) {
    return absl::InvalidArgumentError("DialScheduler: max_active_dials must be > 0");
  }
  if (config.task_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("DialScheduler: task_timeout must be > 0");
  }
  return std::unique_ptr<DialScheduler>(new DialScheduler(std::move(config), std::move(deps)));
}

DialScheduler::DialScheduler(DialConfig config, DialDeps deps)
    : config_(std::move(config)),
      deps_(std::move(deps)),
      log_(deps_.log != nullptr ? deps_.log : DiscardLogger()) {
  last_stats_log_ = deps_.loop->Now();
}

DialScheduler::~DialScheduler() {
  if (history_timer_ != kNoTimer) deps_.loop->Cancel(history_timer_);
  for (auto& [attempt, task] : attempts_) {
    if (task->watchdog != kNoTimer) deps_.loop->Cancel(task->watchdog);
  }
}

void DialScheduler::Start() {
  ABSL_RAW_CHECK(!started_, "DialScheduler::Start called twice");
  started_ = true;
  for (const Node& n : config_.static_nodes) AddStatic(n);
  RequestCandidate();
  Update();
}

void DialScheduler::Stop() {
  if (stopped_) return;
  stopped_ = true;
  held_candidate_.reset();
  if (deps_.candidates != nullptr) deps_.candidates->Close();
  if (history_timer_ != kNoTimer) {
    deps_.loop->Cancel(history_timer_);
    history_timer_ = kNoTimer;
    history_timer_time_.reset();
  }
}

absl::Status DialScheduler::CheckDial(const Node& n) const {
  if (n.id == config_.self) return MakeDialError(DialError::kSelf);
  if (n.has_ip() && n.tcp == 0) return MakeDialError(DialError::kNoPort);
  if (dialing_.contains(n.id)) return MakeDialError(DialError::kAlreadyDialing);
  if (peers_.contains(n.id)) return MakeDialError(DialError::kAlreadyConnected);
  if (pending_inbound_.contains(n.id)) return MakeDialError(DialError::kPendingInbound);
  if (config_.net_restrict.has_value() && !(n.has_ip() && config_.net_restrict->Contains(n.ip))) {
    return MakeDialError(DialError::kNetRestrict);
  }
  if (history_.Contains(n.id)) return MakeDialError(DialError::kRecentlyDialed);
  return absl::OkStatus();
}

int DialScheduler::FreeDialSlots() const {
  int slots = (config_.max_dial_peers - dial_peers_) * 2;
  if (slots > config_.max_active_dials) slots = config_.max_active_dials;
  return slots - static_cast<int>(dialing_.size());
}

void DialScheduler::Update() {
  if (!started_ || stopped_) return;
  for (;;) {
    int slots = FreeDialSlots();
    slots -= StartStaticDials(slots);
    if (slots <= 0 || !held_candidate_.has_value()) break;
    Node node = std::move(*held_candidate_);
    held_candidate_.reset();
    RequestCandidate();
    absl::Status why = CheckDial(node);
    if (!why.ok()) {
      stats_.discarded[std::string(why.message())]++;
      if (log_->Enabled(LogLevel::kTrace)) {
        log_->Log(LogLevel::kTrace,
                  absl::StrCat("Discarding dial candidate id=", node.id.TerminalString(),
                               " ip=", node.ip.ToString(), " reason=\"", why.message(), "\""));
      }
      Emit(DialEvent::Kind::kDiscard, node, kDynDialedConn, why);
      continue;
    }
    auto task = std::make_unique<Task>();
    task->flags = kDynDialedConn;
    task->dest = std::move(node);
    Task* t = task.get();
    detached_[t->dest.id] = std::move(task);
    StartDial(t);
  }
  RearmHistoryTimer();
  LogStats();
}

int DialScheduler::StartStaticDials(int n) {
  int started = 0;
  for (; started < n && !static_pool_.empty(); ++started) {
    int idx = deps_.rng.Intn(static_cast<int>(static_pool_.size()));
    Task* task = static_pool_[idx];
    StartDial(task);
    RemoveFromStaticPool(idx);
  }
  return started;
}

void DialScheduler::UpdateStaticPool(const NodeId& id) {
  auto it = static_.find(id);
  if (it == static_.end()) return;
  Task* task = it->second.get();
  if (task->static_pool_index < 0 && CheckDial(task->dest).ok()) AddToStaticPool(task);
}

void DialScheduler::AddToStaticPool(Task* task) {
  ABSL_RAW_CHECK(task->static_pool_index < 0, "attempt to add task to staticPool twice");
  static_pool_.push_back(task);
  task->static_pool_index = static_cast<int>(static_pool_.size()) - 1;
}

void DialScheduler::RemoveFromStaticPool(int idx) {
  Task* task = static_pool_[idx];
  Task* last = static_pool_.back();
  static_pool_[idx] = last;
  last->static_pool_index = idx;
  static_pool_.pop_back();
  task->static_pool_index = -1;
}

void DialScheduler::StartDial(Task* task) {
  const NodeId& id = task->dest.id;
  if (log_->Enabled(LogLevel::kTrace)) {
    log_->Log(LogLevel::kTrace, absl::StrCat("Starting p2p dial id=", id.TerminalString(),
                                             " ip=", task->dest.ip.ToString(),
                                             " flag=", ConnFlagsString(task->flags)));
  }
  history_.Add(id, deps_.loop->Now() + kDialHistoryExpiration);
  dialing_[id] = task;
  task->attempt = next_attempt_++;
  attempts_[task->attempt] = task;
  uint64_t attempt = task->attempt;
  task->watchdog =
      deps_.loop->RunAfter(config_.task_timeout, [this, attempt, alive = alive_.Weak()] {
        if (!alive) return;
        Task* t = LiveTask(attempt);
        if (t == nullptr) return;
        t->watchdog = kNoTimer;
        stats_.task_timeouts++;
        Emit(DialEvent::Kind::kTaskTimeout, t->dest, t->flags,
             absl::DeadlineExceededError("dial task timed out"));
        FinishTask(attempt, absl::DeadlineExceededError("dial task timed out"));
      });
  RunTask(task);
}

DialScheduler::Task* DialScheduler::LiveTask(uint64_t attempt) const {
  auto it = attempts_.find(attempt);
  return it == attempts_.end() ? nullptr : it->second;
}

// dialTask.run: DNS for static host names, discovery resolve for statics
// without an IP, then the dial (and one re-resolve + re-dial for statics
// whose connection failed).
void DialScheduler::RunTask(Task* task) {
  const uint64_t attempt = task->attempt;
  if (task->is_static() && !task->dest.hostname.empty() && deps_.dns != nullptr) {
    deps_.dns->LookupHost(
        task->dest.hostname, kDnsLookupTimeout,
        [this, attempt, alive = alive_.Weak()](absl::StatusOr<std::vector<IpAddress>> ips) {
          if (!alive) return;
          Task* t = LiveTask(attempt);
          if (t == nullptr) return;
          absl::Status status = ips.status();
          if (ips.ok()) {
            // Prefer IPv4, as go-ethereum's dnsResolveHostname does.
            const IpAddress* pick = nullptr;
            for (const IpAddress& ip : *ips) {
              if (ip.is_v4()) {
                pick = &ip;
                break;
              }
            }
            if (pick == nullptr && !ips->empty()) pick = &ips->front();
            if (pick != nullptr) {
              t->dest.ip = *pick;
            } else {
              status = absl::NotFoundError("DNS lookup returned no addresses");
            }
          }
          if (!status.ok()) {
            log_->Log(
                LogLevel::kWarn,
                absl::StrCat("DNS lookup of static node failed id=", t->dest.id.TerminalString(),
                             " name=", t->dest.hostname, " err=\"", status.message(), "\""));
          }
          Emit(DialEvent::Kind::kDnsLookup, t->dest, t->flags, status);
          AfterDns(t);
        });
    return;
  }
  AfterDns(task);
}

void DialScheduler::AfterDns(Task* task) {
  if (task->is_static() && !task->dest.has_ip()) {
    Resolve(task, [this](Task* t, bool ok) {
      if (!ok) {
        FinishTask(t->attempt,
                   absl::NotFoundError("static node has no IP address and could not be resolved"));
        return;
      }
      Dial(t, /*is_retry=*/false);
    });
    return;
  }
  Dial(task, /*is_retry=*/false);
}

void DialScheduler::Resolve(Task* task, absl::AnyInvocable<void(Task*, bool)> next) {
  const uint64_t attempt = task->attempt;
  if (task->resolve_delay == absl::ZeroDuration()) task->resolve_delay = kInitialResolveDelay;
  const MonoTime now = deps_.loop->Now();
  if (deps_.resolver == nullptr ||
      (task->last_resolved.has_value() && now - *task->last_resolved < task->resolve_delay)) {
    // Not resolvable now. Continue from a posted event, never inline, so a
    // task cannot finish inside the Update() that started it.
    deps_.loop->Post([this, attempt, next = std::move(next), alive = alive_.Weak()]() mutable {
      if (!alive) return;
      if (Task* t = LiveTask(attempt)) next(t, false);
    });
    return;
  }
  stats_.resolves++;
  deps_.resolver->Resolve(task->dest, [this, attempt, next = std::move(next),
                                       alive = alive_.Weak()](std::optional<Node> found) mutable {
    if (!alive) return;
    Task* t = LiveTask(attempt);
    if (t == nullptr) return;
    t->last_resolved = deps_.loop->Now();
    if (!found.has_value()) {
      t->resolve_delay = std::min(t->resolve_delay * 2, kMaxResolveDelay);
      stats_.resolve_failures++;
      if (log_->Enabled(LogLevel::kDebug)) {
        log_->Log(LogLevel::kDebug,
                  absl::StrCat("Resolving node failed id=", t->dest.id.TerminalString(),
                               " newdelay=", absl::FormatDuration(t->resolve_delay)));
      }
      Emit(DialEvent::Kind::kResolve, t->dest, t->flags, absl::NotFoundError("node not found"));
      next(t, false);
      return;
    }
    t->resolve_delay = kInitialResolveDelay;
    t->dest = std::move(*found);
    Emit(DialEvent::Kind::kResolve, t->dest, t->flags);
    next(t, true);
  });
}

void DialScheduler::Dial(Task* task, bool is_retry) {
  const uint64_t attempt = task->attempt;
  stats_.dials_started++;
  Emit(DialEvent::Kind::kDialStart, task->dest, task->flags);
  deps_.dialer->Dial(
      task->dest, task->flags, [this, attempt, is_retry, alive = alive_.Weak()](DialResult result) {
        if (!alive) return;
        Task* t = LiveTask(attempt);
        if (t == nullptr) return;  // Abandoned by the watchdog.
        if (result.status.ok()) {
          stats_.dials_succeeded++;
        } else {
          stats_.dials_failed++;
          if (log_->Enabled(LogLevel::kTrace)) {
            log_->Log(LogLevel::kTrace, absl::StrCat("Dial error id=", t->dest.id.TerminalString(),
                                                     " addr=", t->dest.TcpEndpoint().ToString(),
                                                     " conn=", ConnFlagsString(t->flags), " err=\"",
                                                     result.status.message(), "\""));
          }
        }
        // For static nodes, resolve one more time if the connection itself
        // failed, and dial again if the node moved.
        if (!result.status.ok() && result.connect_failed && t->is_static() && !is_retry) {
          const Endpoint before = t->dest.TcpEndpoint();
          absl::Status first = result.status;
          Resolve(t, [this, before, first](Task* rt, bool ok) {
            if (ok && rt->dest.TcpEndpoint() != before) {
              Dial(rt, /*is_retry=*/true);
            } else {
              FinishTask(rt->attempt, first);
            }
          });
          return;
        }
        FinishTask(attempt, result.status);
      });
}

// The doneCh case of go-ethereum's loop.
void DialScheduler::FinishTask(uint64_t attempt, absl::Status status) {
  Task* task = LiveTask(attempt);
  if (task == nullptr) return;
  attempts_.erase(attempt);
  if (task->watchdog != kNoTimer) {
    deps_.loop->Cancel(task->watchdog);
    task->watchdog = kNoTimer;
  }
  task->attempt = 0;
  const NodeId id = task->dest.id;
  if (!status.ok()) stats_.failures[DialFailureReason(status)]++;
  Emit(DialEvent::Kind::kDialDone, task->dest, task->flags, status);
  dialing_.erase(id);
  // Dynamic tasks and removed statics are owned by detached_; free them now.
  // (Copy id first: erasing destroys the task.)
  auto owned = detached_.find(id);
  if (owned != detached_.end() && owned->second.get() == task) detached_.erase(owned);
  UpdateStaticPool(id);
  done_since_last_log_++;
  Update();
}

void DialScheduler::RearmHistoryTimer() {
  std::optional<MonoTime> next = history_.NextExpiry();
  if (!next.has_value() || history_timer_time_ == next) return;
  if (history_timer_ != kNoTimer) deps_.loop->Cancel(history_timer_);
  history_timer_time_ = next;
  // Entries expire when expiry < now (strictly), so fire one nanosecond
  // after the earliest expiry: firing exactly at it would expire nothing.
  history_timer_ = deps_.loop->RunAt(*next + absl::Nanoseconds(1), [this, alive = alive_.Weak()] {
    if (!alive) return;
    history_timer_ = kNoTimer;
    ExpireHistory();
  });
}

void DialScheduler::ExpireHistory() {
  history_timer_time_.reset();
  history_.Expire(deps_.loop->Now(), [this](const NodeId& id) { UpdateStaticPool(id); });
  Update();
}

void DialScheduler::LogStats() {
  const MonoTime now = deps_.loop->Now();
  if (last_stats_log_ + kDialStatsLogInterval > now) return;
  if (dial_peers_ < kDialStatsPeerLimit && dial_peers_ < config_.max_dial_peers &&
      log_->Enabled(LogLevel::kInfo)) {
    log_->Log(LogLevel::kInfo,
              absl::StrCat("Looking for peers peercount=", peers_.size(),
                           " tried=", done_since_last_log_, " static=", static_.size()));
  }
  done_since_last_log_ = 0;
  last_stats_log_ = now;
}

void DialScheduler::RequestCandidate() {
  if (deps_.candidates == nullptr || stopped_ || candidates_ended_ || candidate_requested_ ||
      held_candidate_.has_value()) {
    return;
  }
  candidate_requested_ = true;
  deps_.candidates->Next([this, alive = alive_.Weak()](std::optional<Node> node) {
    if (!alive) return;
    OnCandidate(std::move(node));
  });
}

void DialScheduler::OnCandidate(std::optional<Node> node) {
  candidate_requested_ = false;
  if (stopped_) return;
  if (!node.has_value()) {
    candidates_ended_ = true;
    return;
  }
  held_candidate_ = std::move(node);
  Update();
}

void DialScheduler::AddStatic(const Node& node) {
  const bool exists = static_.count(node.id) > 0;
  if (log_->Enabled(LogLevel::kTrace)) {
    log_->Log(LogLevel::kTrace, absl::StrCat("Adding static node id=", node.id.TerminalString(),
                                             " ip=", node.ip.ToString(), " added=", !exists));
  }
  if (exists) return;
  auto task = std::make_unique<Task>();
  task->flags = kStaticDialedConn;
  task->dest = node;
  Task* t = task.get();
  static_[node.id] = std::move(task);
  if (CheckDial(node).ok()) AddToStaticPool(t);
  Update();
}

void DialScheduler::RemoveStatic(const NodeId& id) {
  auto it = static_.find(id);
  if (log_->Enabled(LogLevel::kTrace)) {
    log_->Log(LogLevel::kTrace, absl::StrCat("Removing static node id=", id.TerminalString(),
                                             " ok=", it != static_.end()));
  }
  if (it == static_.end()) return;
  Task* task = it->second.get();
  if (task->static_pool_index >= 0) RemoveFromStaticPool(task->static_pool_index);
  if (task->attempt != 0) {
    // Still dialing: the attempt runs to completion (not cancelled), owned
    // by detached_ from now on.
    detached_[id] = std::move(it->second);
  }
  static_.erase(it);
  Update();
}

void DialScheduler::PeerAdded(const NodeId& id, ConnFlags flags) {
  if (IsDialed(flags)) dial_peers_++;
  peers_[id] = flags;
  // Remove from the static pool because the node is now connected.
  auto it = static_.find(id);
  if (it != static_.end() && it->second->static_pool_index >= 0) {
    RemoveFromStaticPool(it->second->static_pool_index);
  }
  Update();
}

void DialScheduler::PeerRemoved(const NodeId& id, ConnFlags flags) {
  if (IsDialed(flags)) dial_peers_--;
  peers_.erase(id);
  UpdateStaticPool(id);
  Update();
}

void DialScheduler::InboundPending(const NodeId& id) {
  pending_inbound_.insert(id);
  auto it = static_.find(id);
  if (it != static_.end() && it->second->static_pool_index >= 0) {
    RemoveFromStaticPool(it->second->static_pool_index);
  }
  Update();
}

void DialScheduler::InboundDone(const NodeId& id) {
  if (pending_inbound_.erase(id) == 0) return;
  UpdateStaticPool(id);
  Update();
}

void DialScheduler::Emit(DialEvent::Kind kind, const Node& node, ConnFlags flags,
                         absl::Status status) {
  if (deps_.observer == nullptr) return;
  DialEvent ev;
  ev.kind = kind;
  ev.id = node.id;
  ev.flags = flags;
  ev.endpoint = node.TcpEndpoint();
  ev.status = std::move(status);
  deps_.observer->OnDialEvent(ev);
}

}  // namespace p2p
