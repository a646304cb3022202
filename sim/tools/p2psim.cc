// p2psim: runs a scenario file in the simulator and writes its results.
//
//   p2psim --scenario FILE --out DIR [--seed N] [--duration D]
//          [--discovery oracle|static_only|discv4] [--keepalive messages|elided]
//          [--trace] [--quiet]
//
// --seed, --duration, --discovery and --keepalive override the file's
// (discovery.source, network.keepalive; e.g. to run one network with the
// oracle and with real discv4, or with every Ping as a message); durations
// are written like 90s, 10m, 2h. Writes DIR/summary.json, DIR/timeseries.csv, DIR/peers.svg (and
// DIR/trace.txt with --trace or `record { trace_file: true }`), prints the
// summary and ends with the line "trace_hash=<hex>". A progress line on
// stderr shows virtual time, events per second and the ETA (unless --quiet
// or stderr is not a terminal, where it prints a line every 10% instead).
//
// Exit codes: 0 success, 1 an assertion failed, 2 bad flags or scenario,
// 4 cannot write the outputs.
//
// This front end is the only simulator code that touches files and the wall
// clock (for progress and wall_seconds); the run itself is pure (sim/).
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "sim/scenario.h"
#include "sim/tools/report.h"
#include "sim/world.h"

namespace p2p::sim {
namespace {

constexpr char kUsage[] =
    "usage: p2psim --scenario FILE --out DIR [--seed N] [--duration D]\n"
    "              [--discovery oracle|static_only|discv4] [--keepalive messages|elided]\n"
    "              [--trace] [--quiet]\n";

int Fail(int code, const std::string& msg) {
  std::cerr << "p2psim: " << msg << "\n";
  return code;
}

bool WriteFile(const std::string& path, const std::string& data, std::string* err) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
  out.close();
  if (!out) {
    *err = absl::StrCat("cannot write ", path, ": ", std::strerror(errno));
    return false;
  }
  return true;
}

bool MakeDirs(const std::string& dir, std::string* err) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0755) != 0 && errno != EEXIST) {
      *err = absl::StrCat("cannot create ", part, ": ", std::strerror(errno));
      return false;
    }
  }
  return true;
}

std::string Eta(double seconds) {
  if (seconds < 0 || seconds > 1e7) return "?";
  return absl::FormatDuration(absl::Seconds(std::round(seconds)));
}

int Run(int argc, char** argv) {
  std::string scenario_path, out_dir;
  std::optional<uint64_t> seed;
  std::optional<absl::Duration> duration;
  std::optional<ScenarioSpec::Discovery> discovery;
  std::optional<ScenarioSpec::Keepalive> keepalive;
  bool trace = false, quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    const size_t eq = a.find('=');
    if (eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    auto value = [&](const char* name) -> bool {
      if (eq != std::string::npos) return true;
      if (i + 1 >= argc) return false;
      v = argv[++i];
      (void)name;
      return true;
    };
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--trace") {
      trace = true;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--scenario" || a == "--out" || a == "--seed" || a == "--duration" ||
               a == "--discovery" || a == "--keepalive") {
      if (!value(a.c_str())) return Fail(2, absl::StrCat("flag ", a, " needs a value"));
      if (a == "--scenario") {
        scenario_path = v;
      } else if (a == "--out") {
        out_dir = v;
      } else if (a == "--seed") {
        uint64_t s = 0;
        if (!absl::SimpleAtoi(v, &s)) {
          return Fail(
              2, absl::StrCat("invalid value \"", v, "\" for --seed: not a non-negative integer"));
        }
        seed = s;
      } else if (a == "--discovery") {
        discovery = ParseDiscoveryName(v);
        if (!discovery.has_value()) {
          return Fail(2, absl::StrCat("invalid value \"", v,
                                      "\" for --discovery: want oracle, static_only or discv4"));
        }
      } else if (a == "--keepalive") {
        keepalive = ParseKeepaliveName(v);
        if (!keepalive.has_value()) {
          return Fail(2, absl::StrCat("invalid value \"", v,
                                      "\" for --keepalive: want messages or elided"));
        }
      } else {
        absl::StatusOr<absl::Duration> d = ParseSimDuration(v);
        if (!d.ok() || *d <= absl::ZeroDuration()) {
          return Fail(2, absl::StrCat("invalid value \"", v,
                                      "\" for --duration: want a positive duration like 90s, "
                                      "10m, 2h"));
        }
        duration = *d;
      }
    } else {
      return Fail(2, absl::StrCat("unknown flag ", argv[i], "\n", kUsage));
    }
  }
  if (scenario_path.empty()) return Fail(2, absl::StrCat("--scenario is required\n", kUsage));
  if (out_dir.empty()) return Fail(2, absl::StrCat("--out is required\n", kUsage));

  std::ifstream in(scenario_path, std::ios::binary);
  if (!in) {
    return Fail(2,
                absl::StrCat("cannot read scenario ", scenario_path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<ScenarioSpec> spec = ParseScenario(text.str(), scenario_path);
  if (!spec.ok()) return Fail(2, std::string(spec.status().message()));
  if (discovery.has_value()) spec->discovery = *discovery;
  if (keepalive.has_value()) spec->keepalive = *keepalive;
  std::string err;
  if (!MakeDirs(out_dir, &err)) return Fail(4, err);

  const uint64_t run_seed = seed.value_or(spec->seed);
  const absl::Duration run_duration = duration.value_or(spec->duration);
  trace = trace || spec->trace_file;
  std::ofstream trace_out;
  if (trace) {
    trace_out.open(out_dir + "/trace.txt", std::ios::trunc);
    if (!trace_out) return Fail(4, absl::StrCat("cannot write ", out_dir, "/trace.txt"));
  }
  World world(*spec, run_seed, run_duration, [&](absl::string_view line) {
    if (trace) trace_out << line << '\n';
  });
  if (absl::Status s = world.Init(); !s.ok()) return Fail(2, std::string(s.message()));

  const bool tty = !quiet && isatty(STDERR_FILENO);
  std::cerr << absl::StrFormat(
      "p2psim: %s: %d nodes, seed %d, %s virtual, discovery %s, keepalive %s\n", scenario_path,
      world.node_count(), run_seed, absl::FormatDuration(run_duration),
      DiscoveryName(spec->discovery), KeepaliveName(spec->keepalive));
  const absl::Time start = absl::Now();  // wall-clock: reporting only
  absl::Time last_report = start;
  int last_decile = 0;
  uint64_t last_events = 0;
  // Run in slices of virtual time so progress can be shown; the slice size
  // does not affect the result (events run in the same order either way).
  const absl::Duration slice = std::max(absl::Milliseconds(100), run_duration / 2000);
  while (!world.done()) {
    world.RunUntil(world.Now() + slice);
    const absl::Time now = absl::Now();  // wall-clock: reporting only
    const double frac = absl::ToDoubleSeconds(world.Now()) / absl::ToDoubleSeconds(run_duration);
    const double wall = absl::ToDoubleSeconds(now - start);
    if (tty && (now - last_report > absl::Milliseconds(250) || world.done())) {
      const double dt = absl::ToDoubleSeconds(now - last_report);
      const double eps = dt > 0 ? (world.events() - last_events) / dt : 0;
      last_events = world.events();
      last_report = now;
      const int width = 30;
      const int filled = static_cast<int>(frac * width);
      std::fprintf(
          stderr, "\r[%s%s] %s / %s  %.2fM ev/s  online %d  ETA %s   ",
          std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
          absl::FormatDuration(absl::Seconds(std::floor(absl::ToDoubleSeconds(world.Now()))))
              .c_str(),
          absl::FormatDuration(run_duration).c_str(), eps / 1e6, world.online_count(),
          Eta(frac > 0 ? wall / frac - wall : -1).c_str());
      std::fflush(stderr);
    } else if (!tty && !quiet && static_cast<int>(frac * 10) > last_decile) {
      last_decile = static_cast<int>(frac * 10);
      std::fprintf(stderr, "p2psim: %3d%%  virtual %s  wall %.1fs  events %llu\n", last_decile * 10,
                   absl::FormatDuration(world.Now()).c_str(), wall,
                   static_cast<unsigned long long>(world.events()));
    }
  }
  if (tty) std::fprintf(stderr, "\n");
  const double wall = absl::ToDoubleSeconds(absl::Now() - start);  // wall-clock: reporting only

  RunInfo info;
  info.scenario_path = scenario_path;
  info.seed = run_seed;
  info.wall_seconds = wall;
  struct rusage ru = {};
  getrusage(RUSAGE_SELF, &ru);
  info.peak_rss_bytes = static_cast<int64_t>(ru.ru_maxrss) * 1024;
  const std::string summary = SummaryJson(world, info);
  if (!WriteFile(out_dir + "/summary.json", summary, &err) ||
      !WriteFile(out_dir + "/timeseries.csv", TimeseriesCsv(world), &err) ||
      !WriteFile(out_dir + "/peers.svg", PeersSvg(world), &err)) {
    return Fail(4, err);
  }
  std::cout << summary;
  bool passed = true;
  for (const AssertionResult& a : world.assertions()) {
    std::cout << (a.passed ? "PASS " : "FAIL ") << a.name << ": " << a.detail << "\n";
    passed = passed && a.passed;
  }
  std::cout << "wrote " << out_dir << "/summary.json, timeseries.csv, peers.svg"
            << (trace ? ", trace.txt" : "") << "\n";
  std::cout << "trace_hash=" << world.TraceHash() << "\n";
  return passed ? 0 : 1;
}

}  // namespace
}  // namespace p2p::sim

int main(int argc, char** argv) { return p2p::sim::Run(argc, argv); }
