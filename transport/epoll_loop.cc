#include "transport/epoll_loop.h"

#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "transport/errno_status.h"

namespace p2p::transport {
namespace {

static_assert(std::atomic<bool>::is_always_lock_free,
              "RequestStopFromSignal needs a lock-free atomic<bool>");

// Min-heap order: earlier deadline first, then earlier insertion.
template <typename E>
bool Later(const E& a, const E& b) {
  return a.deadline_ns > b.deadline_ns ||
         (a.deadline_ns == b.deadline_ns && a.seq > b.seq);
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
  return a + b;
}

// Milliseconds for epoll_wait, rounded up so a timer never wakes us early
// (which would spin) and capped to what an int holds.
int CeilMillis(int64_t ns) {
  if (ns <= 0) return 0;
  int64_t ms = ns / 1000000 + (ns % 1000000 != 0 ? 1 : 0);
  return static_cast<int>(std::min<int64_t>(ms, INT32_MAX));
}

}  // namespace

absl::StatusOr<std::unique_ptr<EpollLoop>> EpollLoop::Create() {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return StatusFromErrno(errno, "epoll_create1");
  int wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    absl::Status s = StatusFromErrno(errno, "eventfd");
    close(epoll_fd);
    return s;
  }
  std::unique_ptr<EpollLoop> loop(new EpollLoop(epoll_fd, wake_fd));
  absl::Status s = loop->Watch(wake_fd, EPOLLIN, [raw = loop.get()](uint32_t) {
    raw->OnWake();
  });
  if (!s.ok()) return s;
  return loop;
}

EpollLoop::EpollLoop(int epoll_fd, int wake_fd)
    : epoll_fd_(epoll_fd), wake_fd_(wake_fd) {
  AdvanceLoopTime();
}

EpollLoop::~EpollLoop() {
  // Pending callbacks are destroyed without running. Their captured state
  // may call back into the loop (Cancel, Unwatch, even Post) while being
  // destroyed, so each is moved out of the map before it dies, and anything
  // scheduled meanwhile is dropped too.
  destroying_ = true;
  for (;;) {
    DrainPosted();
    if (callbacks_.empty()) break;
    auto it = callbacks_.begin();
    Callback doomed = std::move(it->second);
    callbacks_.erase(it);
  }
  heap_.clear();
  unwatched_during_dispatch_.clear();
  while (!watches_.empty()) {
    auto it = watches_.begin();
    std::unique_ptr<WatchEntry> doomed = std::move(it->second);
    fd_tokens_.erase(doomed->fd);
    watches_.erase(it);
  }
  close(wake_fd_);
  close(epoll_fd_);
}

int64_t EpollLoop::ClockNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

int64_t EpollLoop::AdvanceLoopTime() const {
  // Monotone even if a caller breaks the loop-thread rule and races us.
  const int64_t now = ClockNanos();
  int64_t seen = loop_time_ns_.load(std::memory_order_relaxed);
  while (seen < now &&
         !loop_time_ns_.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
  return seen < now ? now : seen;
}

int64_t EpollLoop::NowNanos() const {
  if (in_callback_.load(std::memory_order_relaxed)) {
    return loop_time_ns_.load(std::memory_order_relaxed);
  }
  return AdvanceLoopTime();
}

MonoTime EpollLoop::Now() const { return FromNanos(NowNanos()); }

void EpollLoop::Post(Callback fn) {
  if (destroying_) return;  // Dropped, as every pending callback is.
  // The loop's time as of its current callback (or its latest Now()): on the
  // loop thread inside a callback this equals Now(), so Post and
  // RunAfter(0) share one FIFO; from other threads it is never ahead of the
  // clock and never decreases, so each thread's posts keep their order.
  const int64_t deadline = loop_time_ns_.load(std::memory_order_relaxed);
  {
    absl::MutexLock lock(&post_mu_);
    // The sequence is taken under the lock so the queue is in seq order.
    posted_.push_back(
        Posted{deadline, next_seq_.fetch_add(1, std::memory_order_relaxed),
               std::move(fn)});
    has_posted_.store(true, std::memory_order_release);
  }
  // The loop thread drains the queue before it next blocks; only other
  // threads need to interrupt epoll_wait.
  if (loop_thread_.load(std::memory_order_relaxed) != std::this_thread::get_id()) {
    Wake();
  }
}

TimerId EpollLoop::RunAfter(absl::Duration delay, Callback fn) {
  const uint64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
  if (destroying_) return seq;
  int64_t d = absl::ToInt64Nanoseconds(delay);  // Saturates for infinities.
  if (d < 0) d = 0;
  callbacks_.emplace(seq, std::move(fn));
  PushHeap(HeapEntry{SaturatingAdd(NowNanos(), d), seq});
  return seq;
}

bool EpollLoop::Cancel(TimerId id) {
  auto it = callbacks_.find(id);
  if (it == callbacks_.end()) return false;
  // Destroy the callback outside the map: its destructor may re-enter.
  Callback doomed = std::move(it->second);
  callbacks_.erase(it);
  MaybeCompactHeap();
  return true;
}

void EpollLoop::Run() {
  ABSL_RAW_CHECK(!running_, "EpollLoop::Run/RunUntil is not reentrant");
  running_ = true;
  loop_thread_.store(std::this_thread::get_id());
  while (!stop_requested_.exchange(false)) RunOnce(-1);
  loop_thread_.store(std::thread::id());
  running_ = false;
}

bool EpollLoop::RunUntil(absl::FunctionRef<bool()> done, absl::Duration max_wall) {
  ABSL_RAW_CHECK(!running_, "EpollLoop::Run/RunUntil is not reentrant");
  running_ = true;
  loop_thread_.store(std::this_thread::get_id());
  const int64_t end =
      SaturatingAdd(ClockNanos(), std::max<int64_t>(0, absl::ToInt64Nanoseconds(max_wall)));
  bool result;
  for (;;) {
    if ((result = done())) break;
    if (stop_requested_.exchange(false)) break;
    const int64_t now = ClockNanos();
    if (now >= end) break;
    RunOnce(end - now);
  }
  loop_thread_.store(std::thread::id());
  running_ = false;
  return result;
}

void EpollLoop::Stop() { RequestStopFromSignal(); }

void EpollLoop::RequestStopFromSignal() {
  const int saved_errno = errno;
  stop_requested_.store(true);
  const uint64_t one = 1;
  // A full counter (impossible in practice) still leaves the fd readable.
  ssize_t unused = write(wake_fd_, &one, sizeof(one));
  (void)unused;
  errno = saved_errno;
}

void EpollLoop::Wake() {
  // At most one write per wake-up: the flag is cleared by OnWake just
  // before it drains the eventfd, and the queue is drained after that.
  if (wake_pending_.exchange(true)) return;
  const uint64_t one = 1;
  ssize_t unused = write(wake_fd_, &one, sizeof(one));
  (void)unused;
}

void EpollLoop::OnWake() {
  wake_pending_.store(false);
  uint64_t count;
  ssize_t unused = read(wake_fd_, &count, sizeof(count));
  (void)unused;
}

absl::Status EpollLoop::Watch(int fd, uint32_t events, IoCallback on_ready) {
  if (fd_tokens_.contains(fd)) {
    return absl::AlreadyExistsError(absl::StrCat("fd ", fd, " is already watched"));
  }
  const uint64_t token = next_token_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = token;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    return StatusFromErrno(errno, absl::StrCat("epoll_ctl(ADD) fd ", fd));
  }
  watches_.emplace(token, std::make_unique<WatchEntry>(WatchEntry{fd, std::move(on_ready)}));
  fd_tokens_.emplace(fd, token);
  return absl::OkStatus();
}

absl::Status EpollLoop::Modify(int fd, uint32_t events) {
  auto it = fd_tokens_.find(fd);
  if (it == fd_tokens_.end()) {
    return absl::NotFoundError(absl::StrCat("fd ", fd, " is not watched"));
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = it->second;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) {
    return StatusFromErrno(errno, absl::StrCat("epoll_ctl(MOD) fd ", fd));
  }
  return absl::OkStatus();
}

void EpollLoop::Unwatch(int fd) {
  auto it = fd_tokens_.find(fd);
  if (it == fd_tokens_.end()) return;
  const uint64_t token = it->second;
  fd_tokens_.erase(it);
  // Fails only if fd was already closed, which also removed it from epoll.
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  auto w = watches_.find(token);
  std::unique_ptr<WatchEntry> entry = std::move(w->second);
  watches_.erase(w);
  // The callback may be the one running right now: keep it alive until
  // dispatch is over.
  if (dispatching_io_) unwatched_during_dispatch_.push_back(std::move(entry));
}

template <typename F>
void EpollLoop::InvokeCallback(F& fn) {
  AdvanceLoopTime();
  in_callback_.store(true, std::memory_order_relaxed);
  fn();
  in_callback_.store(false, std::memory_order_relaxed);
}

void EpollLoop::RunOnce(int64_t max_block_ns) {
  DrainPosted();
  const int timeout_ms = ComputeTimeoutMs(max_block_ns);
  epoll_event events[kMaxEventsPerWait];
  const int n = epoll_wait(epoll_fd_, events, kMaxEventsPerWait, timeout_ms);
  if (n < 0 && errno != EINTR) {
    ABSL_RAW_LOG(FATAL, "epoll_wait: %s", ErrnoText(errno).c_str());
  }
  dispatching_io_ = true;
  for (int i = 0; i < n; ++i) {
    auto it = watches_.find(events[i].data.u64);
    if (it == watches_.end()) continue;  // Unwatched earlier in this batch.
    WatchEntry* w = it->second.get();
    const uint32_t ready = events[i].events;
    auto call = [w, ready] { w->on_ready(ready); };
    InvokeCallback(call);
  }
  dispatching_io_ = false;
  unwatched_during_dispatch_.clear();
  DrainPosted();
  RunDueCallbacks();
}

int EpollLoop::ComputeTimeoutMs(int64_t max_block_ns) {
  if (stop_requested_.load() || has_posted_.load(std::memory_order_acquire)) {
    return 0;
  }
  int64_t wait_ns = max_block_ns;  // -1: unbounded.
  if (PruneTop()) {
    const int64_t until_timer = heap_.front().deadline_ns - ClockNanos();
    if (until_timer <= 0) return 0;
    if (wait_ns < 0 || until_timer < wait_ns) wait_ns = until_timer;
  }
  return wait_ns < 0 ? -1 : CeilMillis(wait_ns);
}

void EpollLoop::DrainPosted() {
  if (!has_posted_.load(std::memory_order_acquire)) return;
  std::vector<Posted> batch;
  {
    absl::MutexLock lock(&post_mu_);
    batch.swap(posted_);
    has_posted_.store(false, std::memory_order_relaxed);
  }
  for (Posted& p : batch) {
    if (destroying_) continue;  // `batch` destroys them after the loop.
    callbacks_.emplace(p.seq, std::move(p.fn));
    PushHeap(HeapEntry{p.deadline_ns, p.seq});
  }
}

void EpollLoop::RunDueCallbacks() {
  const int64_t now = ClockNanos();
  // Work scheduled from here on waits for the next iteration.
  const uint64_t seq_limit = next_seq_.load(std::memory_order_relaxed);
  for (int ran = 0; ran < kMaxCallbacksPerIteration; ++ran) {
    if (!PruneTop()) break;
    const HeapEntry top = heap_.front();
    if (top.deadline_ns > now || top.seq >= seq_limit) break;
    PopHeap();
    auto it = callbacks_.find(top.seq);
    Callback fn = std::move(it->second);
    callbacks_.erase(it);
    InvokeCallback(fn);
  }
  MaybeCompactHeap();
}

void EpollLoop::PushHeap(HeapEntry e) {
  heap_.push_back(e);
  std::push_heap(heap_.begin(), heap_.end(), Later<HeapEntry>);
}

void EpollLoop::PopHeap() {
  std::pop_heap(heap_.begin(), heap_.end(), Later<HeapEntry>);
  heap_.pop_back();
}

bool EpollLoop::PruneTop() {
  while (!heap_.empty() && !callbacks_.contains(heap_.front().seq)) PopHeap();
  return !heap_.empty();
}

void EpollLoop::MaybeCompactHeap() {
  // Lazy cancellation leaves dead entries; rebuild once they are the
  // majority so memory stays O(live timers).
  static constexpr size_t kMinCompactSize = 64;
  if (heap_.size() < kMinCompactSize || heap_.size() <= 2 * callbacks_.size()) {
    return;
  }
  heap_.erase(std::remove_if(heap_.begin(), heap_.end(),
                             [this](const HeapEntry& e) {
                               return !callbacks_.contains(e.seq);
                             }),
              heap_.end());
  std::make_heap(heap_.begin(), heap_.end(), Later<HeapEntry>);
}

}  // namespace p2p::transport
