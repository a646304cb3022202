#include "transport/epoll_loop.h"

#include <signal.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace p2p::transport {
namespace {

using ::testing::ElementsAre;

// Generous: the tests normally finish in milliseconds; the limit only
// matters on a badly overloaded machine.
constexpr absl::Duration kWallLimit = absl::Seconds(20);

std::unique_ptr<EpollLoop> NewLoop() {
  absl::StatusOr<std::unique_ptr<EpollLoop>> loop = EpollLoop::Create();
  EXPECT_TRUE(loop.ok()) << loop.status();
  return std::move(*loop);
}

// Sets *flag when destroyed: tells whether a callback was destroyed.
struct DestroySentinel {
  explicit DestroySentinel(bool* flag) : flag(flag) {}
  DestroySentinel(DestroySentinel&& o) noexcept : flag(o.flag) { o.flag = nullptr; }
  ~DestroySentinel() {
    if (flag != nullptr) *flag = true;
  }
  bool* flag;
};

TEST(EpollLoopTest, NowIsMonotonicClockSinceUnixEpoch) {
  auto loop = NewLoop();
  timespec before;
  clock_gettime(CLOCK_MONOTONIC, &before);
  const MonoTime now = loop->Now();
  timespec after;
  clock_gettime(CLOCK_MONOTONIC, &after);
  EXPECT_GE(now, absl::UnixEpoch() + absl::DurationFromTimespec(before));
  EXPECT_LE(now, absl::UnixEpoch() + absl::DurationFromTimespec(after));
}

TEST(EpollLoopTest, CallbacksNeverRunInline) {
  auto loop = NewLoop();
  int ran = 0;
  loop->Post([&] { ++ran; });
  loop->RunAfter(absl::ZeroDuration(), [&] { ++ran; });
  loop->RunAfter(-absl::Seconds(1), [&] { ++ran; });
  loop->RunAt(loop->Now() - absl::Seconds(1), [&] { ++ran; });
  EXPECT_EQ(ran, 0);
  EXPECT_TRUE(loop->RunUntil([&] { return ran == 4; }, kWallLimit));
}

TEST(EpollLoopTest, CallbackScheduledFromCallbackRunsLater) {
  auto loop = NewLoop();
  std::vector<std::string> log;
  loop->Post([&] {
    loop->Post([&] { log.push_back("inner"); });
    log.push_back("outer-end");
  });
  EXPECT_TRUE(loop->RunUntil([&] { return log.size() == 2; }, kWallLimit));
  EXPECT_THAT(log, ElementsAre("outer-end", "inner"));
}

TEST(EpollLoopTest, EqualDeadlinesRunFifo) {
  auto loop = NewLoop();
  std::vector<int> order;
  loop->Post([&] {
    // Inside a callback Now() is fixed, so these deadlines are identical.
    const MonoTime deadline = loop->Now() + absl::Milliseconds(5);
    for (int i = 0; i < 10; ++i) {
      if (i % 2 == 0) {
        loop->RunAt(deadline, [&order, i] { order.push_back(i); });
      } else {
        loop->RunAfter(absl::Milliseconds(5), [&order, i] { order.push_back(i); });
      }
    }
  });
  EXPECT_TRUE(loop->RunUntil([&] { return order.size() == 10; }, kWallLimit));
  EXPECT_THAT(order, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9));
}

TEST(EpollLoopTest, PostAndZeroDelayTimersShareOneFifo) {
  auto loop = NewLoop();
  std::vector<std::string> order;
  loop->Post([&] {
    loop->Post([&] { order.push_back("a"); });
    loop->RunAfter(absl::ZeroDuration(), [&] { order.push_back("b"); });
    loop->Post([&] { order.push_back("c"); });
    loop->RunAfter(absl::ZeroDuration(), [&] { order.push_back("d"); });
  });
  EXPECT_TRUE(loop->RunUntil([&] { return order.size() == 4; }, kWallLimit));
  EXPECT_THAT(order, ElementsAre("a", "b", "c", "d"));
}

TEST(EpollLoopTest, EarlierDeadlineRunsFirstWhateverTheInsertionOrder) {
  auto loop = NewLoop();
  std::vector<int> order;
  loop->Post([&] {
    loop->RunAfter(absl::Milliseconds(30), [&] { order.push_back(30); });
    loop->RunAfter(absl::Milliseconds(10), [&] { order.push_back(10); });
    loop->RunAfter(absl::Milliseconds(20), [&] { order.push_back(20); });
  });
  EXPECT_TRUE(loop->RunUntil([&] { return order.size() == 3; }, kWallLimit));
  EXPECT_THAT(order, ElementsAre(10, 20, 30));
}

TEST(EpollLoopTest, TimerSeesNowAtOrAfterItsDeadline) {
  auto loop = NewLoop();
  MonoTime deadline, seen;
  bool fired = false;
  loop->Post([&] {
    deadline = loop->Now() + absl::Milliseconds(3);
    loop->RunAt(deadline, [&] {
      seen = loop->Now();
      fired = true;
    });
  });
  EXPECT_TRUE(loop->RunUntil([&] { return fired; }, kWallLimit));
  EXPECT_GE(seen, deadline);
}

TEST(EpollLoopTest, CancelFollowsMclockStop) {
  auto loop = NewLoop();
  bool ran = false, destroyed = false;
  TimerId id = loop->RunAfter(absl::Milliseconds(1),
                              [&ran, s = DestroySentinel(&destroyed)] { ran = true; });
  EXPECT_NE(id, kNoTimer);
  EXPECT_TRUE(loop->Cancel(id));
  EXPECT_TRUE(destroyed);  // The callback is released at once.
  EXPECT_FALSE(loop->Cancel(id));  // Already cancelled.
  EXPECT_FALSE(loop->Cancel(kNoTimer));
  EXPECT_FALSE(loop->Cancel(id + 1000));  // Never existed.

  bool other_ran = false;
  TimerId other = loop->RunAfter(absl::Milliseconds(2), [&] { other_ran = true; });
  EXPECT_TRUE(loop->RunUntil([&] { return other_ran; }, kWallLimit));
  EXPECT_FALSE(ran);
  EXPECT_FALSE(loop->Cancel(other));  // Already fired.
  EXPECT_EQ(loop->pending_callbacks(), 0u);
}

TEST(EpollLoopTest, CancelFromAnEarlierCallbackInTheSameBatch) {
  auto loop = NewLoop();
  bool second_ran = false, first_ran = false;
  TimerId second = kNoTimer;
  bool cancelled = false;
  loop->Post([&] {
    loop->RunAfter(absl::Milliseconds(1), [&] {
      first_ran = true;
      cancelled = loop->Cancel(second);
    });
    second = loop->RunAfter(absl::Milliseconds(1), [&] { second_ran = true; });
  });
  EXPECT_TRUE(loop->RunUntil([&] { return first_ran; }, kWallLimit));
  bool later = false;
  loop->RunAfter(absl::Milliseconds(5), [&] { later = true; });
  EXPECT_TRUE(loop->RunUntil([&] { return later; }, kWallLimit));
  EXPECT_TRUE(cancelled);
  EXPECT_FALSE(second_ran);
}

TEST(EpollLoopTest, CancelledTimersDoNotAccumulate) {
  auto loop = NewLoop();
  for (int i = 0; i < 10000; ++i) {
    TimerId id = loop->RunAfter(absl::Hours(1), [] {});
    EXPECT_TRUE(loop->Cancel(id));
  }
  EXPECT_EQ(loop->pending_callbacks(), 0u);
  EXPECT_LE(loop->timer_heap_size(), 64u);
}

TEST(EpollLoopTest, InfiniteDelayNeverFires) {
  auto loop = NewLoop();
  bool ran = false;
  TimerId id = loop->RunAfter(absl::InfiniteDuration(), [&] { ran = true; });
  bool tick = false;
  loop->RunAfter(absl::Milliseconds(1), [&] { tick = true; });
  EXPECT_TRUE(loop->RunUntil([&] { return tick; }, kWallLimit));
  EXPECT_FALSE(ran);
  EXPECT_TRUE(loop->Cancel(id));
}

TEST(EpollLoopTest, PostFromAnotherThreadWakesABlockedLoop) {
  auto loop = NewLoop();
  absl::Notification loop_running;
  std::atomic<bool> ran{false};
  // The loop has nothing else to do once this ran, so it blocks in
  // epoll_wait; only the eventfd wake-up can end the wait before kWallLimit.
  loop->Post([&] { loop_running.Notify(); });
  std::thread poster([&] {
    loop_running.WaitForNotification();
    loop->Post([&] { ran = true; });
  });
  const absl::Time start = absl::Now();
  EXPECT_TRUE(loop->RunUntil([&] { return ran.load(); }, kWallLimit));
  EXPECT_LT(absl::Now() - start, kWallLimit);
  poster.join();
}

TEST(EpollLoopTest, PostsFromManyThreadsAllRunInPerThreadOrder) {
  auto loop = NewLoop();
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<int>> seen(kThreads);
  int total = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        loop->Post([&, t, i] {
          seen[t].push_back(i);
          ++total;
        });
      }
    });
  }
  EXPECT_TRUE(loop->RunUntil([&] { return total == kThreads * kPerThread; }, kWallLimit));
  for (std::thread& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(seen[t].size(), static_cast<size_t>(kPerThread));
    for (int i = 0; i < kPerThread; ++i) ASSERT_EQ(seen[t][i], i);
  }
}

TEST(EpollLoopTest, StopFromAnotherThreadEndsRun) {
  auto loop = NewLoop();
  absl::Notification loop_running;
  loop->Post([&] { loop_running.Notify(); });
  std::thread stopper([&] {
    loop_running.WaitForNotification();
    loop->Stop();
  });
  loop->Run();  // Returns only because of Stop().
  stopper.join();
}

TEST(EpollLoopTest, StopBeforeRunMakesRunReturnOnce) {
  auto loop = NewLoop();
  loop->Stop();
  loop->Run();  // Consumes the request.
  bool ran = false;
  loop->Post([&] {
    ran = true;
    loop->Stop();
  });
  loop->Run();
  EXPECT_TRUE(ran);
}

EpollLoop* g_signal_loop = nullptr;
void StopOnSignal(int) { g_signal_loop->RequestStopFromSignal(); }

TEST(EpollLoopTest, SignalHandlerCanStopTheLoop) {
  auto loop = NewLoop();
  g_signal_loop = loop.get();
  struct sigaction sa = {};
  sa.sa_handler = StopOnSignal;
  struct sigaction old;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  bool after = false;
  loop->Post([] { raise(SIGUSR1); });
  loop->RunAfter(absl::Hours(1), [&] { after = true; });
  loop->Run();
  EXPECT_FALSE(after);
  sigaction(SIGUSR1, &old, nullptr);
  g_signal_loop = nullptr;
}

TEST(EpollLoopTest, RunUntilGivesUpAfterMaxWall) {
  auto loop = NewLoop();
  const MonoTime start = loop->Now();
  EXPECT_FALSE(loop->RunUntil([] { return false; }, absl::Milliseconds(20)));
  EXPECT_GE(loop->Now() - start, absl::Milliseconds(20));
}

TEST(EpollLoopTest, SelfRepostingCallbackStarvesNeitherTimersNorIo) {
  auto loop = NewLoop();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  bool spinning = true;
  uint64_t spins = 0;
  std::function<void()> spin = [&] {
    ++spins;
    if (spinning) loop->Post(spin);
  };
  loop->Post(spin);
  bool timer_fired = false, io_seen = false;
  loop->RunAfter(absl::Milliseconds(2), [&] { timer_fired = true; });
  ASSERT_TRUE(loop->Watch(fds[0], EPOLLIN, [&](uint32_t) {
                    io_seen = true;
                    loop->Unwatch(fds[0]);
                  }).ok());
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  EXPECT_TRUE(loop->RunUntil([&] { return timer_fired && io_seen; }, kWallLimit));
  spinning = false;
  EXPECT_TRUE(loop->RunUntil([&] { return loop->pending_callbacks() == 0; }, kWallLimit));
  EXPECT_GT(spins, 0u);
  close(fds[0]);
  close(fds[1]);
}

TEST(EpollLoopTest, WatchReportsReadinessAndUnwatchStopsIt) {
  auto loop = NewLoop();
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int events_seen = 0;
  ASSERT_TRUE(loop->Watch(fds[0], EPOLLIN, [&](uint32_t ev) {
                    EXPECT_TRUE(ev & EPOLLIN);
                    ++events_seen;
                    char c;
                    ASSERT_EQ(read(fds[0], &c, 1), 1);
                  }).ok());
  EXPECT_TRUE(loop->IsWatched(fds[0]));
  EXPECT_EQ(loop->Watch(fds[0], EPOLLIN, [](uint32_t) {}).code(),
            absl::StatusCode::kAlreadyExists);
  ASSERT_EQ(write(fds[1], "a", 1), 1);
  EXPECT_TRUE(loop->RunUntil([&] { return events_seen == 1; }, kWallLimit));
  loop->Unwatch(fds[0]);
  EXPECT_FALSE(loop->IsWatched(fds[0]));
  EXPECT_EQ(loop->Modify(fds[0], EPOLLIN).code(), absl::StatusCode::kNotFound);
  ASSERT_EQ(write(fds[1], "b", 1), 1);
  bool tick = false;
  loop->RunAfter(absl::Milliseconds(2), [&] { tick = true; });
  EXPECT_TRUE(loop->RunUntil([&] { return tick; }, kWallLimit));
  EXPECT_EQ(events_seen, 1);
  close(fds[0]);
  close(fds[1]);
}

TEST(EpollLoopTest, FdUnwatchedEarlierInABatchGetsNoEvent) {
  auto loop = NewLoop();
  int a[2], b[2];
  ASSERT_EQ(pipe(a), 0);
  ASSERT_EQ(pipe(b), 0);
  int calls = 0;
  // Both pipes are readable before the loop polls, so one epoll_wait
  // returns both; whichever runs first unwatches the other.
  ASSERT_TRUE(loop->Watch(a[0], EPOLLIN, [&](uint32_t) {
                    ++calls;
                    loop->Unwatch(b[0]);
                    loop->Unwatch(a[0]);  // Its own callback: safe.
                  }).ok());
  ASSERT_TRUE(loop->Watch(b[0], EPOLLIN, [&](uint32_t) {
                    ++calls;
                    loop->Unwatch(a[0]);
                    loop->Unwatch(b[0]);
                  }).ok());
  ASSERT_EQ(write(a[1], "x", 1), 1);
  ASSERT_EQ(write(b[1], "x", 1), 1);
  EXPECT_TRUE(loop->RunUntil([&] { return calls > 0; }, kWallLimit));
  bool tick = false;
  loop->RunAfter(absl::Milliseconds(2), [&] { tick = true; });
  EXPECT_TRUE(loop->RunUntil([&] { return tick; }, kWallLimit));
  EXPECT_EQ(calls, 1);
  for (int fd : {a[0], a[1], b[0], b[1]}) close(fd);
}

TEST(EpollLoopTest, DestroyingTheLoopDropsPendingCallbacks) {
  bool ran = false, timer_destroyed = false, post_destroyed = false;
  {
    auto loop = NewLoop();
    loop->RunAfter(absl::Milliseconds(1),
                   [&ran, s = DestroySentinel(&timer_destroyed)] { ran = true; });
    loop->Post([&ran, s = DestroySentinel(&post_destroyed)] { ran = true; });
    // A callback whose destruction schedules more work must not loop.
    struct Rescheduler {
      EpollLoop* loop;
      ~Rescheduler() {
        if (loop != nullptr) loop->Post([] {});
      }
    };
    loop->RunAfter(absl::Hours(1), [r = std::make_shared<Rescheduler>(Rescheduler{loop.get()})] {});
  }
  EXPECT_FALSE(ran);
  EXPECT_TRUE(timer_destroyed);
  EXPECT_TRUE(post_destroyed);
}

}  // namespace
}  // namespace p2p::transport
