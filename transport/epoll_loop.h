// The real EventLoop: epoll on Linux, time from CLOCK_MONOTONIC.
//
// Contract (in addition to p2p::EventLoop's):
//  - Now() is absl::UnixEpoch() + the CLOCK_MONOTONIC reading in ns. Inside
//    a callback it is the reading taken just before that callback started
//    and does not move while it runs, so RunAt(t) schedules exactly t and
//    two timers set for the same instant from one callback run FIFO. Outside
//    callbacks (set-up code, tests between runs) it reads the clock.
//  - Timers live in a min-heap keyed (deadline ns, insertion sequence):
//    equal deadlines fire in scheduling order. Cancel is lazy (the heap
//    entry is skipped when it surfaces; the callback itself is destroyed at
//    once) and returns mclock's Timer.Stop result. The heap is compacted
//    when more than half of it is cancelled entries, so it stays bounded by
//    twice the live timers.
//  - Post() may be called from any thread (mutex-protected queue plus an
//    eventfd wake-up). Stop() and RequestStopFromSignal() too. Everything
//    else, including Now(), is loop-thread only: the thread running
//    Run()/RunUntil(), or any single thread while the loop is not running.
//    A posted callback is due at the loop's latest time reading (Now() of
//    the running callback), so on the loop thread Post(f) and RunAfter(0, f)
//    share one FIFO, and posts from one thread run in the order made.
//  - Fairness: one iteration handles at most kMaxEventsPerWait ready fds
//    and kMaxCallbacksPerIteration due callbacks, and callbacks scheduled
//    during an iteration wait for the next one, so a callback that re-posts
//    itself cannot starve I/O and a busy socket cannot starve timers.
//  - Destroying the loop destroys every pending callback without running it.
//    Sockets registered with Watch() must be destroyed before the loop, and
//    other threads must have stopped calling Post()/Stop() by then.
//
// Stopping from a signal handler (SIGINT/SIGTERM): keep the loop in a
// global the handler can see and call RequestStopFromSignal(), which only
// stores an atomic flag and write()s the eventfd (both async-signal-safe):
//
//   static p2p::transport::EpollLoop* g_loop;
//   void OnSignal(int) { g_loop->RequestStopFromSignal(); }
//   ...
//   g_loop = loop.get();
//   struct sigaction sa = {}; sa.sa_handler = OnSignal;
//   sigaction(SIGINT, &sa, nullptr); sigaction(SIGTERM, &sa, nullptr);
//   loop->Run();  // returns after the current callback finishes
//   g_loop = nullptr;  // before destroying the loop
#ifndef P2P_TRANSPORT_EPOLL_LOOP_H_
#define P2P_TRANSPORT_EPOLL_LOOP_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/event_loop.h"

namespace p2p::transport {

class EpollLoop : public EventLoop {
 public:
  // Ready fds handled per epoll_wait.
  static constexpr int kMaxEventsPerWait = 64;
  // Due timers and posted callbacks run per iteration.
  static constexpr int kMaxCallbacksPerIteration = 1024;

  // Creates the epoll instance and the wake-up eventfd.
  static absl::StatusOr<std::unique_ptr<EpollLoop>> Create();
  ~EpollLoop() override;
  EpollLoop(const EpollLoop&) = delete;
  EpollLoop& operator=(const EpollLoop&) = delete;

  // EventLoop.
  MonoTime Now() const override;
  void Post(Callback fn) override;  // Thread-safe.
  TimerId RunAfter(absl::Duration delay, Callback fn) override;
  bool Cancel(TimerId id) override;

  // Runs callbacks and I/O until Stop() (or RequestStopFromSignal()).
  // A stop requested before Run() makes it return at once; each Run
  // consumes one stop request. Not reentrant (crashes if called from a
  // callback).
  void Run();

  // For tests: runs until `done()` is true, Stop() is called, or `max_wall`
  // of real time passed. `done` is checked before the first iteration and
  // after every iteration. Returns done()'s final value.
  bool RunUntil(absl::FunctionRef<bool()> done, absl::Duration max_wall);

  // Makes Run()/RunUntil() return after the current callback. Thread-safe.
  void Stop();
  // Same as Stop(), and async-signal-safe (an atomic store and a write() to
  // the eventfd; errno is preserved).
  void RequestStopFromSignal();

  // --- Fd registration, for the sockets in transport/ only. ---
  //
  // `events` is an epoll mask (EPOLLIN, EPOLLOUT; level-triggered).
  // EPOLLERR and EPOLLHUP are always reported by the kernel, so a socket
  // that wants no events at all must Unwatch rather than Modify(fd, 0).
  // `on_ready(events)` runs on the loop with the ready mask; it may call
  // Watch/Modify/Unwatch for any fd, including its own (an Unwatched
  // callback is destroyed only after it returns), and no event of an fd
  // reaches a callback registered after that fd was Unwatched, even if the
  // fd number is reused. Call Unwatch before close(fd).
  using IoCallback = absl::AnyInvocable<void(uint32_t events)>;
  // kAlreadyExists if `fd` is already watched; epoll_ctl errors mapped.
  absl::Status Watch(int fd, uint32_t events, IoCallback on_ready);
  // Changes the mask; kNotFound if `fd` is not watched.
  absl::Status Modify(int fd, uint32_t events);
  // Stops watching; no-op if `fd` is not watched.
  void Unwatch(int fd);
  bool IsWatched(int fd) const { return fd_tokens_.contains(fd); }

  // Live timers and posted callbacks not yet run (for tests).
  size_t pending_callbacks() const { return callbacks_.size(); }
  // Heap entries including lazily cancelled ones (for the compaction test).
  size_t timer_heap_size() const { return heap_.size(); }

 private:
  struct HeapEntry {
    int64_t deadline_ns;
    uint64_t seq;  // Also the TimerId.
  };
  struct Posted {
    int64_t deadline_ns;
    uint64_t seq;
    Callback fn;
  };
  struct WatchEntry {
    int fd;
    IoCallback on_ready;
  };

  EpollLoop(int epoll_fd, int wake_fd);

  static int64_t ClockNanos();
  // Reads the clock into loop_time_ns_ (never moving it backwards).
  int64_t AdvanceLoopTime() const;
  int64_t NowNanos() const;
  void Wake();
  void OnWake();

  // One iteration: wait at most max_block_ns (-1: no limit) for I/O or the
  // next timer, dispatch ready fds, then run due callbacks.
  void RunOnce(int64_t max_block_ns);
  int ComputeTimeoutMs(int64_t max_block_ns);
  void DrainPosted();
  void RunDueCallbacks();
  void PushHeap(HeapEntry e);
  void PopHeap();
  // Drops cancelled entries from the top; false if the heap is empty.
  bool PruneTop();
  void MaybeCompactHeap();
  template <typename F>
  void InvokeCallback(F& fn);

  int epoll_fd_;
  int wake_fd_;

  // Cross-thread state.
  std::atomic<uint64_t> next_seq_{1};
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> has_posted_{false};
  std::atomic<bool> in_callback_{false};
  std::atomic<bool> destroying_{false};
  // The clock as last read by the loop thread: frozen while a callback runs.
  mutable std::atomic<int64_t> loop_time_ns_{0};
  std::atomic<std::thread::id> loop_thread_{};
  absl::Mutex post_mu_;
  std::vector<Posted> posted_ ABSL_GUARDED_BY(post_mu_);

  // Loop-thread state.
  bool running_ = false;
  bool dispatching_io_ = false;
  std::vector<HeapEntry> heap_;
  absl::flat_hash_map<uint64_t, Callback> callbacks_;  // By seq; live only.
  uint64_t next_token_ = 1;
  absl::flat_hash_map<uint64_t, std::unique_ptr<WatchEntry>> watches_;
  absl::flat_hash_map<int, uint64_t> fd_tokens_;
  std::vector<std::unique_ptr<WatchEntry>> unwatched_during_dispatch_;
};

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_EPOLL_LOOP_H_
