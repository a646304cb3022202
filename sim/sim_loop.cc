#include "sim/sim_loop.h"

#include <utility>

namespace p2p::sim {

SimLoop::SimLoop(EventQueue* queue) : queue_(queue), owner_(queue->NewOwner()) {}

SimLoop::~SimLoop() { queue_->KillOwner(owner_); }

void SimLoop::Post(Callback fn) { queue_->Schedule(queue_->now_ns(), std::move(fn), owner_); }

TimerId SimLoop::RunAfter(absl::Duration delay, Callback fn) {
  int64_t d = absl::ToInt64Nanoseconds(delay);
  if (d < 0) d = 0;
  const int64_t now = queue_->now_ns();
  // An infinite or huge delay saturates: the event effectively never runs.
  int64_t at = d > INT64_MAX - now ? INT64_MAX : now + d;
  return queue_->Schedule(at, std::move(fn), owner_);
}

}  // namespace p2p::sim
