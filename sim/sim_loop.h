// A simulated node's EventLoop: a view onto the run's shared EventQueue.
// Now() is the run's virtual time; timers fire exactly at their deadline.
// Production core/ code runs on it unchanged.
#ifndef P2P_SIM_SIM_LOOP_H_
#define P2P_SIM_SIM_LOOP_H_

#include "core/event_loop.h"
#include "sim/event_queue.h"

namespace p2p::sim {

class SimLoop : public EventLoop {
 public:
  // `queue` must outlive this loop. Registers a new owner in the queue.
  explicit SimLoop(EventQueue* queue);
  ~SimLoop() override;  // Drops this loop's pending events.

  MonoTime Now() const override { return queue_->Now(); }
  void Post(Callback fn) override;
  TimerId RunAfter(absl::Duration delay, Callback fn) override;
  bool Cancel(TimerId id) override { return queue_->Cancel(id); }

  // Drops every pending event of this loop (a crashed node). The loop stays
  // usable.
  void DropPending() { queue_->KillOwner(owner_); }

  EventQueue* queue() const { return queue_; }
  EventQueue::OwnerId owner() const { return owner_; }

 private:
  EventQueue* queue_;
  EventQueue::OwnerId owner_;
};

}  // namespace p2p::sim

#endif  // P2P_SIM_SIM_LOOP_H_
