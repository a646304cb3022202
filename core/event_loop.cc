#include "core/event_loop.h"

#include <utility>

namespace p2p {

Alarm::Alarm(EventLoop* loop, absl::AnyInvocable<void()> on_fire)
    : loop_(loop), on_fire_(std::move(on_fire)) {}

Alarm::~Alarm() { Stop(); }

void Alarm::Schedule(MonoTime t) {
  MonoTime now = loop_->Now();
  if (timer_ != kNoTimer && deadline_ <= t && deadline_ >= now) {
    return;  // The pending firing is early enough.
  }
  Stop();
  deadline_ = t < now ? now : t;
  timer_ = loop_->RunAfter(deadline_ - now, [this] { Fire(); });
}

void Alarm::Stop() {
  if (timer_ != kNoTimer) {
    loop_->Cancel(timer_);
    timer_ = kNoTimer;
  }
}

void Alarm::Fire() {
  timer_ = kNoTimer;
  on_fire_();
}

}  // namespace p2p
