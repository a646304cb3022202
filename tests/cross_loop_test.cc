// The same small state machine, written only against core's EventLoop and
// Alarm, runs on the real epoll loop and on the simulated loop and must
// produce the same sequence of steps. The machine's outcome depends only on
// the order of deadlines (never on how long anything took), so the real
// loop's result is exact on a slow, busy machine too.
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/event_loop.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"
#include "transport/epoll_loop.h"

namespace p2p {
namespace {

// A retransmitting request/response machine: sends "requests" on a
// re-armable Alarm (retry every 30 ms, at most 3 tries), a "response"
// arrives 45 ms after the second try, posted work, one cancelled timer that
// must never fire, two timers with equal deadlines, and a final watchdog.
// Every deadline is set relative to the step that schedules it, so only
// deadline order (not elapsed time) decides the outcome.
class Machine {
 public:
  explicit Machine(EventLoop* loop) : loop_(loop), retry_(loop, [this] { OnRetry(); }) {}

  void Start() {
    log("start");
    loop_->Post([this] { log("posted-1"); });
    loop_->Post([this] { log("posted-2"); });
    TimerId never = loop_->RunAfter(absl::Milliseconds(10), [this] { log("cancelled-ran"); });
    cancel_result_ = loop_->Cancel(never);
    second_cancel_ = loop_->Cancel(never);
    loop_->Post([this] { Send(); });
  }

  bool done() const { return done_; }
  const std::vector<std::string>& steps() const { return steps_; }
  bool cancel_result() const { return cancel_result_; }
  bool second_cancel() const { return second_cancel_; }

 private:
  void log(const std::string& s) { steps_.push_back(s); }

  void Send() {
    ++tries_;
    log(absl::StrCat("send-", tries_));
    if (tries_ == 2) {
      loop_->RunAfter(absl::Milliseconds(45), [this] { OnResponse(); });
    }
    if (tries_ < 3) retry_.Schedule(loop_->Now() + absl::Milliseconds(30));
  }
  void OnRetry() {
    log("retry-timer");
    if (!answered_) {
      Send();
      return;
    }
    // Equal deadlines run in scheduling order; the watchdog ends the run.
    loop_->RunAfter(absl::Milliseconds(50), [this] { log("tie-a"); });
    loop_->RunAfter(absl::Milliseconds(50), [this] { log("tie-b"); });
    loop_->RunAfter(absl::Milliseconds(100), [this] {
      log("watchdog");
      done_ = true;
    });
  }
  void OnResponse() {
    answered_ = true;
    retry_.Stop();
    log("response");
    // A later schedule keeps nothing pending (the alarm was stopped) and the
    // earlier one re-arms: fires once at +20 ms.
    retry_.Schedule(loop_->Now() + absl::Milliseconds(20));
    retry_.Schedule(loop_->Now() + absl::Milliseconds(80));
  }

  EventLoop* loop_;
  Alarm retry_;
  int tries_ = 0;
  bool answered_ = false;
  bool done_ = false;
  bool cancel_result_ = false;
  bool second_cancel_ = true;
  std::vector<std::string> steps_;
};

const std::vector<std::string> kExpected = {
    "start",  "posted-1", "posted-2",    "send-1", "retry-timer", "send-2",   "retry-timer",
    "send-3", "response", "retry-timer", "tie-a",  "tie-b",       "watchdog",
};

TEST(CrossLoopTest, SimulatedLoop) {
  sim::EventQueue q;
  sim::SimLoop loop(&q);
  Machine m(&loop);
  m.Start();
  q.RunUntilIdle();
  EXPECT_TRUE(m.done());
  EXPECT_EQ(m.steps(), kExpected);
  EXPECT_TRUE(m.cancel_result());
  EXPECT_FALSE(m.second_cancel());
  EXPECT_EQ(q.now_ns(), 195'000'000);  // Last retry-timer at 95 ms + 100 ms.
}

TEST(CrossLoopTest, RealEpollLoop) {
  auto loop = transport::EpollLoop::Create();
  ASSERT_TRUE(loop.ok()) << loop.status();
  Machine m(loop->get());
  m.Start();
  // Generous wall limit: only the step order is checked, never durations.
  ASSERT_TRUE((*loop)->RunUntil([&] { return m.done(); }, absl::Seconds(60)));
  EXPECT_EQ(m.steps(), kExpected);
  EXPECT_TRUE(m.cancel_result());
  EXPECT_FALSE(m.second_cancel());
}

}  // namespace
}  // namespace p2p
