// The simulator's event queue: one per run, shared by every simulated node.
//
// Events are ordered by (virtual time in ns, insertion sequence), so events at
// the same instant run in the order they were scheduled (FIFO) and the whole
// run has one total order that depends on nothing but the inputs. Cancellation
// is lazy (a cancelled entry stays queued until it reaches the front).
//
// Internally a radix heap keyed on time (event times never fall below the
// time of the last event run, so the keys are monotone): entries sit in 65
// buckets by the highest bit in which their time differs from the radix base,
// and only the lowest non-empty bucket is ever redistributed, with sequential
// memory access instead of a binary heap's cache-missing sifts. Bucket 0
// holds the events at exactly the base time, kept in insertion order (sorted
// by sequence when a redistribution fills it). Events scheduled below the
// base (possible after RunUntil peeked at a later event and stopped short)
// go to a small binary heap that is drained first.
// Each event belongs to an owner (a simulated node); KillOwner drops all of an
// owner's pending events in O(1), which is how a crashed node's timers die.
//
// Single-threaded. Not reentrant except that callbacks may Schedule, Cancel
// and KillOwner freely.
#ifndef P2P_SIM_EVENT_QUEUE_H_
#define P2P_SIM_EVENT_QUEUE_H_

#include <cstdint>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "core/event_loop.h"

namespace p2p::sim {

class EventQueue {
 public:
  using Callback = absl::AnyInvocable<void()>;
  using OwnerId = uint32_t;
  static constexpr OwnerId kNoOwner = 0;

  EventQueue();
  EventQueue(const EventQueue&) = delete;
  EventQueue& operator=(const EventQueue&) = delete;

  // Current virtual time (ns since the start of the run).
  int64_t now_ns() const { return now_ns_; }
  MonoTime Now() const { return FromNanos(now_ns_); }

  // Schedules fn at max(at_ns, now). Returns a never-reused id.
  TimerId Schedule(int64_t at_ns, Callback fn, OwnerId owner = kNoOwner);

  // Stops a pending event; false if it already ran, was cancelled or its
  // owner was killed.
  bool Cancel(TimerId id);

  // Registers a new owner (a node's loop). Owners are numbered from 1.
  OwnerId NewOwner();
  // Drops every event `owner` has pending; events it schedules afterwards
  // run normally.
  void KillOwner(OwnerId owner);

  // Runs the next live event, advancing time to it. False if none is left.
  bool RunNext();
  // Runs every event due at or before t_ns, then sets now to t_ns (time
  // never goes backwards). Returns the number of events run.
  uint64_t RunUntil(int64_t t_ns);
  // Runs until no event is left or `max_events` ran; returns the count.
  uint64_t RunUntilIdle(uint64_t max_events = UINT64_MAX);

  // Time of the next live event, or -1 if none.
  int64_t NextEventTime();

  // Live pending events (cancelled and killed ones excluded).
  size_t pending() const { return live_; }
  // Queued entries, including cancelled ones not yet popped.
  size_t heap_size() const { return entries_; }
  // Events run since creation.
  uint64_t events_run() const { return events_run_; }

 private:
  // Times are >= 0 (Schedule clamps to now), so they compare as unsigned.
  struct Entry {
    uint64_t time_ns;
    uint64_t seq;
    uint32_t slot;
  };
  struct Slot {
    Callback fn;
    uint32_t generation = 0;
    uint32_t owner = 0;
    uint32_t owner_epoch = 0;
    bool live = false;
  };
  static constexpr int kBuckets = 65;  // 0: time == base; i: highest differing bit i-1.

  int BucketOf(uint64_t time_ns) const {
    return time_ns == base_ns_ ? 0 : 64 - __builtin_clzll(time_ns ^ base_ns_);
  }
  void Push(const Entry& e);
  // Makes the earliest entry (live or not) available at Front(); false if
  // nothing is queued.
  bool Refill();
  const Entry& Front() const { return below_.empty() ? buckets_[0][front_] : below_.front(); }
  void PopFront();
  // Drops dead entries from the front; true if a live one is left.
  bool SkipDead();
  bool IsLive(const Slot& s) const { return s.live && owner_epoch_[s.owner] == s.owner_epoch; }

  int64_t now_ns_ = 0;
  uint64_t next_seq_ = 0;
  uint64_t events_run_ = 0;
  size_t live_ = 0;
  uint64_t base_ns_ = 0;  // Radix base: every bucketed entry's time is >= it.
  std::vector<Entry> buckets_[kBuckets];
  size_t front_ = 0;          // Consumed prefix of buckets_[0].
  uint64_t nonempty_ = 0;     // Bit i-1 set iff buckets_[i] (i >= 1) is non-empty.
  std::vector<Entry> below_;  // Min-heap of entries with time < base_ns_.
  size_t entries_ = 0;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> owner_epoch_;  // Index 0 is kNoOwner.
  std::vector<size_t> owner_live_;     // Live events per owner.
};

}  // namespace p2p::sim

#endif  // P2P_SIM_EVENT_QUEUE_H_
