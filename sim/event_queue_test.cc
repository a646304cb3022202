#include "sim/event_queue.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/event_loop.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "sim/sim_loop.h"

namespace p2p::sim {
namespace {

TEST(EventQueueTest, RunsInTimeOrderAndFifoAtEqualTimes) {
  EventQueue q;
  std::string order;
  q.Schedule(20, [&] { order += "c"; });
  q.Schedule(10, [&] { order += "a"; });
  q.Schedule(10, [&] { order += "b"; });
  q.Schedule(30, [&] { order += "d"; });
  q.Schedule(20, [&] { order += "e"; });
  EXPECT_EQ(q.RunUntilIdle(), 5u);
  EXPECT_EQ(order, "abced");
  EXPECT_EQ(q.now_ns(), 30);
}

TEST(EventQueueTest, CallbackSeesItsDeadline) {
  EventQueue q;
  std::vector<int64_t> seen;
  for (int64_t t : {5, 1, 3}) q.Schedule(t, [&] { seen.push_back(q.now_ns()); });
  q.RunUntilIdle();
  EXPECT_EQ(seen, (std::vector<int64_t>{1, 3, 5}));
}

TEST(EventQueueTest, PastDeadlinesRunNowAfterQueuedWork) {
  EventQueue q;
  std::string order;
  q.Schedule(10, [&] {
    q.Schedule(10, [&] { order += "late"; });
    q.Schedule(0, [&] { order += "past"; });  // Clamped to now, FIFO.
  });
  q.Schedule(10, [&] { order += "first,"; });
  q.RunUntilIdle();
  EXPECT_EQ(order, "first,latepast");
  EXPECT_EQ(q.now_ns(), 10);
}

TEST(EventQueueTest, CancelSemantics) {
  EventQueue q;
  int ran = 0;
  TimerId a = q.Schedule(10, [&] { ran++; });
  TimerId b = q.Schedule(20, [&] { ran += 10; });
  EXPECT_NE(a, kNoTimer);
  EXPECT_EQ(q.pending(), 2u);
  EXPECT_TRUE(q.Cancel(b));
  EXPECT_FALSE(q.Cancel(b));  // Already cancelled.
  EXPECT_EQ(q.pending(), 1u);
  q.RunUntilIdle();
  EXPECT_EQ(ran, 1);
  EXPECT_FALSE(q.Cancel(a));  // Already ran.
  EXPECT_FALSE(q.Cancel(kNoTimer));
  EXPECT_FALSE(q.Cancel(12345678));
  EXPECT_EQ(q.now_ns(), 10);  // The cancelled event did not move time.
}

TEST(EventQueueTest, IdsAreNotReusedAfterSlotReuse) {
  EventQueue q;
  TimerId a = q.Schedule(1, [] {});
  q.RunUntilIdle();
  TimerId b = q.Schedule(2, [] {});  // Reuses a's slot.
  EXPECT_NE(a, b);
  EXPECT_FALSE(q.Cancel(a));
  EXPECT_TRUE(q.Cancel(b));
}

TEST(EventQueueTest, CancelReleasesCapturedStateImmediately) {
  EventQueue q;
  auto token = std::make_shared<int>(1);
  TimerId id = q.Schedule(100, [token] {});
  EXPECT_EQ(token.use_count(), 2);
  q.Cancel(id);
  EXPECT_EQ(token.use_count(), 1);
}

TEST(EventQueueTest, KillOwnerDropsOnlyThatOwnersEvents) {
  EventQueue q;
  EventQueue::OwnerId n1 = q.NewOwner(), n2 = q.NewOwner();
  std::string order;
  q.Schedule(
      1, [&] { order += "1"; }, n1);
  TimerId t = q.Schedule(
      2, [&] { order += "2"; }, n2);
  q.Schedule(
      3, [&] { order += "3"; }, n1);
  q.KillOwner(n1);
  EXPECT_EQ(q.pending(), 1u);
  EXPECT_TRUE(q.Cancel(q.Schedule(
      4, [] {}, n1)));  // New events are live.
  q.RunUntilIdle();
  EXPECT_EQ(order, "2");
  EXPECT_FALSE(q.Cancel(t));
}

TEST(EventQueueTest, RunUntilStopsAtTimeAndAdvancesClock) {
  EventQueue q;
  int ran = 0;
  q.Schedule(10, [&] { ran++; });
  q.Schedule(20, [&] { ran++; });
  EXPECT_EQ(q.RunUntil(15), 1u);
  EXPECT_EQ(q.now_ns(), 15);
  EXPECT_EQ(q.NextEventTime(), 20);
  EXPECT_EQ(q.RunUntil(20), 1u);  // Inclusive.
  EXPECT_EQ(q.NextEventTime(), -1);
  EXPECT_EQ(q.RunUntil(5), 0u);
  EXPECT_EQ(q.now_ns(), 20);  // Never backwards.
}

// Differential test against a simple ordered model over random schedules and
// cancellations: the queue must pop exactly the model's (time, seq) order.
TEST(EventQueueTest, MatchesReferenceModelOnRandomWorkloads) {
  for (uint64_t seed = 1; seed <= 50; ++seed) {
    Rng rng(seed);
    EventQueue q;
    std::map<std::pair<int64_t, uint64_t>, int> model;  // (time, seq) -> tag
    std::vector<std::pair<TimerId, std::pair<int64_t, uint64_t>>> ids;
    std::vector<int> got, want;
    uint64_t seq = 0;
    for (int step = 0; step < 2000; ++step) {
      int op = rng.Intn(10);
      if (op < 6) {
        int64_t t = q.now_ns() + rng.Range(0, 50);
        int tag = step;
        TimerId id = q.Schedule(t, [&got, tag] { got.push_back(tag); });
        model[{t, seq++}] = tag;
        ids.push_back({id, {t, seq - 1}});
      } else if (op < 8 && !ids.empty()) {
        size_t i = rng.Uniform(ids.size());
        bool in_model = model.erase(ids[i].second) > 0;
        EXPECT_EQ(q.Cancel(ids[i].first), in_model) << "seed " << seed;
        ids.erase(ids.begin() + i);
      } else if (!model.empty()) {
        want.push_back(model.begin()->second);
        model.erase(model.begin());
        ASSERT_TRUE(q.RunNext()) << "seed " << seed;
      }
      ASSERT_EQ(q.pending(), model.size()) << "seed " << seed;
    }
    for (auto& [k, tag] : model) want.push_back(tag);
    q.RunUntilIdle();
    EXPECT_EQ(got, want) << "seed " << seed;
  }
}

// The same differential check over what stresses the radix buckets: times
// from "now" to the far future (many buckets, long redistributions), bursts
// at equal times (FIFO restored after a redistribution), RunUntil stopping
// short of a peeked event (later events scheduled below the radix base),
// NextEventTime, owners killed with events in every bucket, and the
// pending/entry counts.
TEST(EventQueueTest, MatchesReferenceModelAcrossBucketsOwnersAndRunUntil) {
  constexpr int kOwners = 3;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    Rng rng(seed);
    EventQueue q;
    std::vector<EventQueue::OwnerId> owners = {EventQueue::kNoOwner};
    for (int i = 0; i < kOwners; ++i) owners.push_back(q.NewOwner());
    struct Item {
      int tag;
      EventQueue::OwnerId owner;
    };
    std::map<std::pair<int64_t, uint64_t>, Item> model;  // (time, seq) -> item
    std::vector<std::pair<TimerId, std::pair<int64_t, uint64_t>>> ids;
    std::vector<int> got, want;
    uint64_t seq = 0;
    auto pop_model = [&] {
      want.push_back(model.begin()->second.tag);
      model.erase(model.begin());
    };
    for (int step = 0; step < 3000; ++step) {
      const int op = rng.Intn(100);
      if (op < 55) {
        int64_t t = q.now_ns();
        switch (rng.Intn(6)) {
          case 0:  // Now (or the past, clamped to now).
            t -= rng.Range(0, 3);
            break;
          case 1:
            t += rng.Range(0, 8);
            break;
          case 2:
            t += rng.Range(0, 5000);
            break;
          case 3:
            t += rng.Range(0, int64_t{1} << 32);
            break;
          case 4:
            t += rng.Range(0, int64_t{1} << 45);
            break;
          default:  // Same instant as a pending event, if any.
            if (!model.empty()) t = model.begin()->first.first;
            break;
        }
        const int tag = step;
        const EventQueue::OwnerId owner = owners[rng.Uniform(owners.size())];
        TimerId id = q.Schedule(
            t, [&got, tag] { got.push_back(tag); }, owner);
        const int64_t at = std::max(t, q.now_ns());
        model[{at, seq}] = Item{tag, owner};
        ids.push_back({id, {at, seq}});
        ++seq;
      } else if (op < 70 && !ids.empty()) {
        size_t i = rng.Uniform(ids.size());
        bool in_model = model.erase(ids[i].second) > 0;
        EXPECT_EQ(q.Cancel(ids[i].first), in_model) << "seed " << seed;
        ids.erase(ids.begin() + static_cast<ptrdiff_t>(i));
      } else if (op < 73) {
        const EventQueue::OwnerId owner = owners[1 + rng.Uniform(kOwners)];
        q.KillOwner(owner);
        for (auto it = model.begin(); it != model.end();) {
          it = it->second.owner == owner ? model.erase(it) : std::next(it);
        }
      } else if (op < 85) {
        // Often stops between two events, after peeking at the later one.
        const int64_t t =
            q.now_ns() + (rng.Intn(2) == 0 ? rng.Range(0, 20) : rng.Range(0, int64_t{1} << 33));
        uint64_t expect = 0;
        while (!model.empty() && model.begin()->first.first <= t) {
          pop_model();
          ++expect;
        }
        ASSERT_EQ(q.RunUntil(t), expect) << "seed " << seed;
        ASSERT_EQ(q.now_ns(), t) << "seed " << seed;
      } else if (op < 90) {
        ASSERT_EQ(q.NextEventTime(), model.empty() ? -1 : model.begin()->first.first)
            << "seed " << seed;
      } else if (!model.empty()) {
        const int64_t t = model.begin()->first.first;
        pop_model();
        ASSERT_TRUE(q.RunNext()) << "seed " << seed;
        ASSERT_EQ(q.now_ns(), t) << "seed " << seed;
      }
      ASSERT_EQ(q.pending(), model.size()) << "seed " << seed;
      ASSERT_GE(q.heap_size(), q.pending()) << "seed " << seed;
    }
    for (auto& [k, item] : model) want.push_back(item.tag);
    q.RunUntilIdle();
    EXPECT_EQ(got, want) << "seed " << seed;
    EXPECT_EQ(q.heap_size(), 0u) << "seed " << seed;
  }
}

// Events below the radix base: RunUntil peeks at a far event and stops
// short; what is scheduled next runs first, in (time, seq) order, and the
// far event still runs at its time.
TEST(EventQueueTest, EventsScheduledBeforeAPeekedEventRunFirst) {
  EventQueue q;
  std::string order;
  q.Schedule(1000000, [&] { order += "far,"; });
  EXPECT_EQ(q.RunUntil(10), 0u);  // Peeked at 1000000.
  q.Schedule(50, [&] { order += "b,"; });
  q.Schedule(20, [&] { order += "a,"; });
  q.Schedule(50, [&] { order += "c,"; });
  q.Schedule(1000000, [&] { order += "far2,"; });
  EXPECT_EQ(q.NextEventTime(), 20);
  EXPECT_EQ(q.RunUntilIdle(), 5u);
  EXPECT_EQ(order, "a,b,c,far,far2,");
  EXPECT_EQ(q.now_ns(), 1000000);
}

// Equal times reached through different buckets still run FIFO.
TEST(EventQueueTest, EqualTimesFromDifferentBucketsRunInScheduleOrder) {
  EventQueue q;
  std::string order;
  q.Schedule(1 << 20, [&] { order += "1"; });  // A high bucket.
  q.Schedule(1, [&] {
    // Scheduled later, from a time nearer the target: a lower bucket.
    q.Schedule(1 << 20, [&] { order += "3"; });
  });
  q.Schedule(1 << 20, [&] { order += "2"; });
  q.Schedule((1 << 20) - 1, [&] { q.Schedule(1 << 20, [&] { order += "4"; }); });
  q.RunUntilIdle();
  EXPECT_EQ(order, "1234");
}

// --- SimLoop and Alarm (mclock semantics) on virtual time ---

TEST(SimLoopTest, PostAndRunAfterNeverRunInline) {
  EventQueue q;
  SimLoop loop(&q);
  bool ran = false;
  loop.Post([&] { ran = true; });
  EXPECT_FALSE(ran);
  loop.RunAfter(absl::ZeroDuration(), [&] {});
  q.RunUntilIdle();
  EXPECT_TRUE(ran);
}

TEST(SimLoopTest, TimersFireExactlyAtDeadline) {
  EventQueue q;
  SimLoop loop(&q);
  MonoTime fired;
  loop.RunAfter(absl::Milliseconds(1500), [&] { fired = loop.Now(); });
  q.RunUntilIdle();
  EXPECT_EQ(fired - absl::UnixEpoch(), absl::Milliseconds(1500));
  EXPECT_EQ(ToNanos(loop.Now()), 1500000000);
}

TEST(SimLoopTest, NegativeAndInfiniteDelays) {
  EventQueue q;
  SimLoop loop(&q);
  int ran = 0;
  loop.RunAfter(-absl::Seconds(5), [&] { ran++; });
  TimerId never = loop.RunAfter(absl::InfiniteDuration(), [&] { ran += 100; });
  q.RunUntil(1000000000);
  EXPECT_EQ(ran, 1);
  EXPECT_TRUE(loop.Cancel(never));
}

TEST(SimLoopTest, DestroyingALoopDropsItsEvents) {
  EventQueue q;
  int ran = 0;
  {
    SimLoop loop(&q);
    loop.RunAfter(absl::Seconds(1), [&] { ran++; });
  }
  SimLoop other(&q);
  other.RunAfter(absl::Seconds(2), [&] { ran += 10; });
  q.RunUntilIdle();
  EXPECT_EQ(ran, 10);
}

TEST(AlarmTest, FiresOnceAtScheduledTime) {
  EventQueue q;
  SimLoop loop(&q);
  std::vector<int64_t> fired;
  Alarm alarm(&loop, [&] { fired.push_back(ToNanos(loop.Now())); });
  alarm.Schedule(FromNanos(100));
  EXPECT_TRUE(alarm.pending());
  q.RunUntilIdle();
  EXPECT_EQ(fired, (std::vector<int64_t>{100}));
  EXPECT_FALSE(alarm.pending());
}

TEST(AlarmTest, EarlierScheduleReArmsLaterKeeps) {
  EventQueue q;
  SimLoop loop(&q);
  std::vector<int64_t> fired;
  Alarm alarm(&loop, [&] { fired.push_back(ToNanos(loop.Now())); });
  alarm.Schedule(FromNanos(100));
  alarm.Schedule(FromNanos(200));  // Later: the 100 ns firing is kept.
  EXPECT_EQ(alarm.deadline(), FromNanos(100));
  alarm.Schedule(FromNanos(50));  // Earlier: re-armed.
  EXPECT_EQ(alarm.deadline(), FromNanos(50));
  q.RunUntilIdle();
  EXPECT_EQ(fired, (std::vector<int64_t>{50}));
}

TEST(AlarmTest, PastTimeFiresNowAndStopCancels) {
  EventQueue q;
  SimLoop loop(&q);
  int fired = 0;
  Alarm alarm(&loop, [&] { fired++; });
  q.RunUntil(1000);
  alarm.Schedule(FromNanos(10));  // In the past: fires at now.
  EXPECT_EQ(alarm.deadline(), FromNanos(1000));
  q.RunUntilIdle();
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(q.now_ns(), 1000);
  alarm.Schedule(FromNanos(2000));
  alarm.Stop();
  EXPECT_FALSE(alarm.pending());
  q.RunUntilIdle();
  EXPECT_EQ(fired, 1);
}

TEST(AlarmTest, CanReScheduleFromItsOwnCallback) {
  EventQueue q;
  SimLoop loop(&q);
  std::vector<int64_t> fired;
  Alarm* self = nullptr;
  Alarm alarm(&loop, [&] {
    fired.push_back(q.now_ns());
    if (fired.size() < 3) self->Schedule(loop.Now() + absl::Nanoseconds(10));
  });
  self = &alarm;
  alarm.Schedule(FromNanos(5));
  q.RunUntilIdle();
  EXPECT_EQ(fired, (std::vector<int64_t>{5, 15, 25}));
}

TEST(AlarmTest, DestructionCancels) {
  EventQueue q;
  SimLoop loop(&q);
  int fired = 0;
  {
    Alarm alarm(&loop, [&] { fired++; });
    alarm.Schedule(FromNanos(5));
  }
  q.RunUntilIdle();
  EXPECT_EQ(fired, 0);
}

}  // namespace
}  // namespace p2p::sim
