// The clock and event-loop seam. Everything in core/ that needs time or
// deferred work takes an EventLoop&; the real implementation lives in
// transport/ (epoll on CLOCK_MONOTONIC), the simulated one in sim/ (virtual
// time). Semantics follow go-ethereum's common/mclock.
#ifndef P2P_CORE_EVENT_LOOP_H_
#define P2P_CORE_EVENT_LOOP_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace p2p {

// Monotonic time. On every loop, absl::UnixEpoch() is an arbitrary origin
// (the simulator's virtual time 0; the real loop's CLOCK_MONOTONIC zero), so
// values are only meaningful relative to each other and to Now().
using MonoTime = absl::Time;

// Nanoseconds since the loop's origin; the mclock AbsTime of go-ethereum.
inline int64_t ToNanos(MonoTime t) { return absl::ToInt64Nanoseconds(t - absl::UnixEpoch()); }
inline MonoTime FromNanos(int64_t ns) { return absl::UnixEpoch() + absl::Nanoseconds(ns); }

// Identifies a scheduled timer. Zero is never a valid id.
using TimerId = uint64_t;
inline constexpr TimerId kNoTimer = 0;

// Read-only time source.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime Now() const = 0;
};

// A single-threaded event loop owning one node's state.
//
// Contract, for every implementation:
//  - All callbacks run on the loop, one at a time, never inside the call that
//    scheduled them (Post and RunAfter never run fn inline).
//  - Callbacks due at the same instant run in the order they were scheduled
//    (FIFO); Post(fn) is RunAfter(0, fn).
//  - A timer callback observes Now() >= its deadline; on the simulated loop
//    Now() equals the deadline exactly.
//  - Only Post() may be called from another thread, and only on loops that
//    say so (transport::EpollLoop). Everything else is loop-thread only.
class EventLoop : public Clock {
 public:
  using Callback = absl::AnyInvocable<void()>;

  // Runs fn on the loop as soon as possible, after already-queued work.
  virtual void Post(Callback fn) = 0;

  // Runs fn once after `delay` (negative delays count as zero). Returns an id
  // for Cancel.
  virtual TimerId RunAfter(absl::Duration delay, Callback fn) = 0;

  // Runs fn at `deadline` (or as soon as possible if it has passed).
  TimerId RunAt(MonoTime deadline, Callback fn) {
    return RunAfter(deadline - Now(), std::move(fn));
  }

  // Cancels a timer. Returns false if it already ran, was already cancelled,
  // or never existed; true if this call stopped it (its callback is
  // destroyed without running). Like mclock's Timer.Stop.
  virtual bool Cancel(TimerId id) = 0;
};

// One re-armable deadline (mclock.Alarm). Schedule(t) keeps the current timer
// if it fires at or before t and is still pending, otherwise re-arms for t.
// The callback runs on the loop once per firing. Not copyable; cancels its
// timer on destruction. `loop` must outlive the Alarm.
class Alarm {
 public:
  Alarm(EventLoop* loop, absl::AnyInvocable<void()> on_fire);
  ~Alarm();
  Alarm(const Alarm&) = delete;
  Alarm& operator=(const Alarm&) = delete;

  // Ensures the alarm fires no later than t.
  void Schedule(MonoTime t);
  // Cancels a pending firing.
  void Stop();
  // Whether a firing is pending, and when.
  bool pending() const { return timer_ != kNoTimer; }
  MonoTime deadline() const { return deadline_; }

 private:
  void Fire();

  EventLoop* loop_;
  absl::AnyInvocable<void()> on_fire_;
  TimerId timer_ = kNoTimer;
  MonoTime deadline_ = absl::InfinitePast();
};

}  // namespace p2p

#endif  // P2P_CORE_EVENT_LOOP_H_
