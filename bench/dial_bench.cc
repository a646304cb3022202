// Dial scheduler throughput: 10,000 static nodes and a 100,000-node
// discovery stream through one DialScheduler on the simulated loop, until
// the stream is consumed (at most 10 virtual minutes). Every dial completes
// after 50 ms of virtual time; one in 50 succeeds and the peer drops 1 s
// later, the rest fail at TCP level (so statics are re-resolved, with the
// backoff). 100 dial slots: the statics take them first, the stream gets
// them while the statics sit in the 35 s history. The simulated clock jumps
// straight to the next event, so this measures the scheduler's own cost.
// items/s = scheduler events per second (dial starts and ends, discards,
// resolves, candidates taken), counted by an observer.
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/dial/dial_scheduler.h"
#include "core/dial/dial_testing.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p {
namespace {

Node BenchNode(uint32_t i) {
  std::array<uint8_t, 32> b{};
  for (int k = 0; k < 4; ++k) b[k] = static_cast<uint8_t>(i >> (24 - 8 * k));
  b[31] = 0x5a;
  Node n;
  n.id = NodeId(b);
  n.ip = IpAddress::V4(10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                       static_cast<uint8_t>(i));
  n.tcp = 30303;
  n.udp = 30303;
  return n;
}

// Completes every dial after a fixed virtual delay; one in 50 succeeds,
// and a successful peer drops again after 1 s.
class TimedDialer : public NodeDialer {
 public:
  TimedDialer(EventLoop* loop) : loop_(loop) {}
  DialScheduler* sched = nullptr;
  void Dial(const Node& dest, ConnFlags flags, DoneCallback done) override {
    bool ok = (++n_ % 50) == 0;
    NodeId id = dest.id;
    loop_->RunAfter(
        absl::Milliseconds(50), [this, ok, id, flags, done = std::move(done)]() mutable {
          if (ok) {
            sched->PeerAdded(id, flags);
            loop_->RunAfter(absl::Seconds(1), [this, id, flags] { sched->PeerRemoved(id, flags); });
            done(DialResult{absl::OkStatus(), false});
          } else {
            done(DialResult{absl::UnavailableError("connection refused"), true});
          }
        });
  }

 private:
  EventLoop* loop_;
  uint64_t n_ = 0;
};

// Never finds anything, records nothing.
class NullResolver : public NodeResolver {
 public:
  explicit NullResolver(EventLoop* loop) : loop_(loop) {}
  void Resolve(const Node&, ResolveCallback done) override {
    loop_->Post([done = std::move(done)]() mutable { done(std::nullopt); });
  }

 private:
  EventLoop* loop_;
};

class CountingObserver : public DialObserver {
 public:
  void OnDialEvent(const DialEvent&) override { ++events; }
  int64_t events = 0;
};

void BM_DialScheduler(benchmark::State& state) {
  const int kStatics = 10000;
  const int kStream = 100000;
  int64_t total_events = 0;
  for (auto _ : state) {
    state.PauseTiming();
    sim::EventQueue q;
    sim::SimLoop loop(&q);
    TimedDialer dialer(&loop);
    testing::QueueIterator it(&loop);
    NullResolver resolver(&loop);
    CountingObserver obs;
    std::vector<Node> stream;
    stream.reserve(kStream);
    for (int i = 0; i < kStream; ++i) stream.push_back(BenchNode(kStatics + i));
    it.Push(std::move(stream));
    DialConfig config;
    config.max_dial_peers = 200;
    config.max_active_dials = 100;
    for (int i = 0; i < kStatics; ++i) config.static_nodes.push_back(BenchNode(i));
    DialDeps deps;
    deps.loop = &loop;
    deps.dialer = &dialer;
    deps.candidates = &it;
    deps.resolver = &resolver;
    deps.observer = &obs;
    deps.rng = Rng(1);
    auto sched = *DialScheduler::Create(config, std::move(deps));
    dialer.sched = sched.get();
    state.ResumeTiming();
    sched->Start();
    // Run until the stream is consumed (statics keep cycling through their
    // history meanwhile), bounded in virtual time.
    const int64_t kLimitNs = 600'000'000'000;
    while (it.queued() > 0 && q.now_ns() < kLimitNs && q.RunNext()) {
    }
    if (it.queued() > 0) state.SkipWithError("stream not consumed in 10 virtual minutes");
    total_events += obs.events + static_cast<int64_t>(it.taken());
    state.PauseTiming();
    sched->Stop();
    sched.reset();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(total_events);
  state.counters["events_per_run"] =
      benchmark::Counter(static_cast<double>(total_events) / state.iterations());
}
BENCHMARK(BM_DialScheduler)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace p2p
