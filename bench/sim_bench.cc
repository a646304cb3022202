// Full-stack simulator throughput: events per wall second of a World running
// real servers, dialers and RLPx state machines over the simulated network.
//   BM_FullStack/<nodes>: modelled handshakes (the large-run mode), oracle
//     discovery, churn; measured after a 2-minute virtual warm-up, over 10
//     virtual seconds per iteration. items/s = simulator events/s.
//   BM_FullStackRealCrypto/<nodes>: the same with real secp256k1 handshakes
//     (what small runs use), so the cost of the crypto is visible.
#include <memory>
#include <string>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "sim/scenario.h"
#include "sim/world.h"

namespace p2p::sim {
namespace {

std::string ScenarioText(int nodes, bool modelled) {
  return absl::StrCat(R"pb(
                        name: "bench"
                        duration: "1000h"
                        network { regions { name: "eu" internal_latency: "15ms" }
                                  regions { name: "us" internal_latency: "20ms" }
                                  links { a: "eu" b: "us" latency: "45ms" }
                                  jitter: 0.1
                      )pb",
                      modelled ? "handshake: MODELLED" : "", R"pb(
                        }
                        groups {
      name: "eu"
      count: )pb",
                      nodes / 2, R"pb(
      region: "eu"
      churn {
        lifetime { kind: EXPONENTIAL mean: "30m" }
        downtime { kind: EXPONENTIAL mean: "2m" }
        graceful_fraction: 0.5
      }
    }
                              groups {
      name: "us"
      count: )pb",
                      nodes - nodes / 2, R"pb(
      region: "us"
      unreachable: false
      churn {
        lifetime { kind: EXPONENTIAL mean: "30m" }
        downtime { kind: EXPONENTIAL mean: "2m" }
      }
    }
          discovery { source: ORACLE lookup_interval: "100ms" }
  )pb");
}

void RunFullStack(benchmark::State& state, bool modelled) {
  absl::StatusOr<ScenarioSpec> spec =
      ParseScenario(ScenarioText(static_cast<int>(state.range(0)), modelled), "bench");
  ABSL_RAW_CHECK(spec.ok(), "benchmark scenario does not parse");
  World world(*spec, 1, spec->duration);
  ABSL_RAW_CHECK(world.Init().ok(), "world init");
  world.RunUntil(absl::Minutes(2));  // Warm-up: joins, first dials.
  uint64_t events = 0;
  for (auto _ : state) {
    events += world.RunUntil(world.Now() + absl::Seconds(10));
  }
  state.SetItemsProcessed(static_cast<int64_t>(events));
  state.counters["online"] = world.online_count();
  state.counters["pending_events"] = static_cast<double>(world.pending_events());
  state.counters["heap_entries"] = static_cast<double>(world.heap_entries());
}

void BM_FullStack(benchmark::State& state) { RunFullStack(state, true); }
BENCHMARK(BM_FullStack)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond);

void BM_FullStackRealCrypto(benchmark::State& state) { RunFullStack(state, false); }
BENCHMARK(BM_FullStackRealCrypto)->Arg(300)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace p2p::sim
