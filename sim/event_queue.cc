#include "sim/event_queue.h"

#include <algorithm>
#include <utility>

#include "absl/base/internal/raw_logging.h"

namespace p2p::sim {
namespace {

// TimerId layout: high 32 bits generation, low 32 bits slot + 1 (so 0 is
// never produced).
TimerId MakeId(uint32_t slot, uint32_t generation) {
  return (static_cast<uint64_t>(generation) << 32) | (static_cast<uint64_t>(slot) + 1);
}

}  // namespace

EventQueue::EventQueue() : owner_epoch_(1, 0), owner_live_(1, 0) {}

TimerId EventQueue::Schedule(int64_t at_ns, Callback fn, OwnerId owner) {
  ABSL_RAW_CHECK(owner < owner_epoch_.size(), "EventQueue: unknown owner");
  if (at_ns < now_ns_) at_ns = now_ns_;
  uint32_t slot;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    ABSL_RAW_CHECK(slots_.size() < UINT32_MAX - 1, "EventQueue: too many events");
    slot = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[slot];
  s.fn = std::move(fn);
  s.generation++;
  s.owner = owner;
  s.owner_epoch = owner_epoch_[owner];
  s.live = true;
  ++live_;
  ++owner_live_[owner];
  Push(Entry{static_cast<uint64_t>(at_ns), next_seq_++, slot});
  return MakeId(slot, s.generation);
}

bool EventQueue::Cancel(TimerId id) {
  if (id == kNoTimer) return false;
  uint64_t slot = (id & 0xffffffffULL) - 1;
  uint32_t generation = static_cast<uint32_t>(id >> 32);
  if (slot >= slots_.size()) return false;
  Slot& s = slots_[slot];
  if (s.generation != generation || !IsLive(s)) return false;
  s.live = false;
  s.fn = nullptr;  // Release captured state now; the heap entry stays.
  --live_;
  --owner_live_[s.owner];
  return true;
}

EventQueue::OwnerId EventQueue::NewOwner() {
  ABSL_RAW_CHECK(owner_epoch_.size() < UINT32_MAX, "EventQueue: too many owners");
  owner_epoch_.push_back(0);
  owner_live_.push_back(0);
  return static_cast<OwnerId>(owner_epoch_.size() - 1);
}

void EventQueue::KillOwner(OwnerId owner) {
  ABSL_RAW_CHECK(owner != kNoOwner && owner < owner_epoch_.size(),
                 "EventQueue: KillOwner needs a registered owner");
  owner_epoch_[owner]++;
  live_ -= owner_live_[owner];
  owner_live_[owner] = 0;
}

namespace {
// Orders std::*_heap as a min-heap on (time, seq).
struct LaterFirst {
  template <typename E>
  bool operator()(const E& a, const E& b) const {
    return b.time_ns < a.time_ns || (b.time_ns == a.time_ns && b.seq < a.seq);
  }
};
}  // namespace

void EventQueue::Push(const Entry& e) {
  ++entries_;
  if (e.time_ns < base_ns_) {
    below_.push_back(e);
    std::push_heap(below_.begin(), below_.end(), LaterFirst());
    return;
  }
  const int b = BucketOf(e.time_ns);
  buckets_[b].push_back(e);
  if (b != 0) nonempty_ |= uint64_t{1} << (b - 1);
}

bool EventQueue::Refill() {
  if (!below_.empty()) return true;
  std::vector<Entry>& zero = buckets_[0];
  if (front_ < zero.size()) return true;
  zero.clear();
  front_ = 0;
  if (nonempty_ == 0) return false;
  // The lowest non-empty bucket holds the earliest entries; its minimum
  // becomes the new base, and every entry in it then differs from the base
  // in a lower bit, so each lands in a lower bucket (the minimum in 0).
  const int i = __builtin_ctzll(nonempty_) + 1;
  nonempty_ &= nonempty_ - 1;
  std::vector<Entry>& src = buckets_[i];
  uint64_t min_ns = UINT64_MAX;
  for (const Entry& e : src) min_ns = std::min(min_ns, e.time_ns);
  base_ns_ = min_ns;
  for (const Entry& e : src) {
    const int b = BucketOf(e.time_ns);
    buckets_[b].push_back(e);
    if (b != 0) nonempty_ |= uint64_t{1} << (b - 1);
  }
  src.clear();
  // Entries at the base time came from several buckets: restore FIFO order.
  // Later pushes at the base time carry larger sequences and just append.
  if (zero.size() > 1) {
    std::sort(zero.begin(), zero.end(),
              [](const Entry& a, const Entry& b) { return a.seq < b.seq; });
  }
  return true;
}

void EventQueue::PopFront() {
  --entries_;
  if (!below_.empty()) {
    std::pop_heap(below_.begin(), below_.end(), LaterFirst());
    below_.pop_back();
  } else {
    ++front_;
  }
}

bool EventQueue::SkipDead() {
  while (Refill()) {
    const uint32_t slot = Front().slot;
    Slot& s = slots_[slot];
    if (IsLive(s)) return true;
    // Cancelled, or its owner was killed: free the slot now that no entry
    // refers to it.
    s.live = false;
    s.fn = nullptr;
    free_slots_.push_back(slot);
    PopFront();
  }
  return false;
}

int64_t EventQueue::NextEventTime() {
  return SkipDead() ? static_cast<int64_t>(Front().time_ns) : -1;
}

bool EventQueue::RunNext() {
  if (!SkipDead()) return false;
  const Entry top = Front();
  PopFront();
  Slot& s = slots_[top.slot];
  Callback fn = std::move(s.fn);
  s.fn = nullptr;
  s.live = false;
  --live_;
  --owner_live_[s.owner];
  free_slots_.push_back(top.slot);
  now_ns_ = static_cast<int64_t>(top.time_ns);
  ++events_run_;
  // The next entry's slot is almost always a cache miss (a million slots);
  // find the entry now and let the fetch overlap with this callback. Refill
  // may raise the radix base past now: events this callback schedules
  // before it then go to below_, which keeps the order exact.
  if (Refill()) __builtin_prefetch(&slots_[Front().slot]);
  fn();  // May schedule into (and reallocate) slots_ and the buckets.
  return true;
}

uint64_t EventQueue::RunUntil(int64_t t_ns) {
  uint64_t n = 0;
  while (SkipDead() && static_cast<int64_t>(Front().time_ns) <= t_ns) {
    RunNext();
    ++n;
  }
  if (t_ns > now_ns_) now_ns_ = t_ns;
  return n;
}

uint64_t EventQueue::RunUntilIdle(uint64_t max_events) {
  uint64_t n = 0;
  while (n < max_events && RunNext()) ++n;
  return n;
}

}  // namespace p2p::sim
