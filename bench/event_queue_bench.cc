// Engine-only throughput: the simulator's event queue holding N pending
// events, each iteration running the earliest one, whose callback schedules
// a replacement at a random future time (the "hold" model of ns-3 and
// classic priority-queue benchmarks). items/s = events/s.
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/rng.h"
#include "sim/event_queue.h"

namespace p2p::sim {
namespace {

void BM_EventQueue(benchmark::State& state) {
  const int64_t pending = state.range(0);
  EventQueue q;
  Rng rng(1);
  // Pre-drawn delays (1 ns .. 1 s) so the Rng is not what we measure.
  std::vector<int64_t> delays(1 << 16);
  for (int64_t& d : delays) d = 1 + static_cast<int64_t>(rng.Uniform(1000000000));
  size_t next = 0;
  uint64_t fired = 0;
  struct Reschedule {
    EventQueue* q;
    std::vector<int64_t>* delays;
    size_t* next;
    uint64_t* fired;
    void operator()() const {
      ++*fired;
      int64_t d = (*delays)[(*next)++ & 0xffff];
      q->Schedule(q->now_ns() + d, Reschedule{*this});
    }
  };
  for (int64_t i = 0; i < pending; ++i) {
    q.Schedule(delays[next++ & 0xffff], Reschedule{&q, &delays, &next, &fired});
  }
  for (auto _ : state) {
    q.RunNext();
  }
  benchmark::DoNotOptimize(fired);
  if (q.pending() != static_cast<size_t>(pending)) state.SkipWithError("queue size drifted");
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventQueue)->Arg(10000)->Arg(100000);

}  // namespace
}  // namespace p2p::sim
