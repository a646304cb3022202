#include "sim/event_queue.h"

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
  heap_.push_back(HeapEntry{at_ns, next_seq_++, slot});
  SiftUp(heap_.size() - 1);
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

void EventQueue::SiftUp(size_t i) {
  HeapEntry e = heap_[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!Before(e, heap_[parent])) break;
    heap_[i] = heap_[parent];
    i = parent;
  }
  heap_[i] = e;
}

void EventQueue::SiftDown(size_t i) {
  const size_t n = heap_.size();
  HeapEntry e = heap_[i];
  for (;;) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && Before(heap_[child + 1], heap_[child])) ++child;
    if (!Before(heap_[child], e)) break;
    heap_[i] = heap_[child];
    i = child;
  }
  heap_[i] = e;
}

void EventQueue::PopTop() {
  heap_[0] = heap_.back();
  heap_.pop_back();
  if (!heap_.empty()) SiftDown(0);
}

bool EventQueue::SkipDead() {
  while (!heap_.empty()) {
    uint32_t slot = heap_[0].slot;
    Slot& s = slots_[slot];
    if (IsLive(s)) return true;
    // Cancelled, or its owner was killed: free the slot now that no heap
    // entry refers to it.
    s.live = false;
    s.fn = nullptr;
    free_slots_.push_back(slot);
    PopTop();
  }
  return false;
}

int64_t EventQueue::NextEventTime() { return SkipDead() ? heap_[0].time_ns : -1; }

bool EventQueue::RunNext() {
  if (!SkipDead()) return false;
  HeapEntry top = heap_[0];
  PopTop();
  Slot& s = slots_[top.slot];
  Callback fn = std::move(s.fn);
  s.fn = nullptr;
  s.live = false;
  --live_;
  --owner_live_[s.owner];
  free_slots_.push_back(top.slot);
  now_ns_ = top.time_ns;
  ++events_run_;
  fn();  // May schedule into (and reallocate) slots_ and heap_.
  return true;
}

uint64_t EventQueue::RunUntil(int64_t t_ns) {
  uint64_t n = 0;
  while (SkipDead() && heap_[0].time_ns <= t_ns) {
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
