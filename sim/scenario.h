// A scenario file, loaded and validated: the protobuf text of
// scenarios/scenario.proto turned into plain values with every default
// applied, every duration parsed and every cross-reference (group, region,
// access profile names) resolved to an index. The simulator only ever sees
// this form, so it never has to handle a malformed or partial scenario.
//
// Every rejection is an InvalidArgument whose message names the file (when
// loaded from one), the field path and the bad value, e.g.
//   scenarios/x.textproto: groups[2].churn.lifetime.mean: invalid duration "ten minutes"
//   scenarios/x.textproto:14:11: Message type "p2p.sim.proto.ServerSettings" has no field
//       named "maxpeers". (a protobuf text-format error; line:column are 1-based and
//       where protobuf's tokenizer stood, here the ':' after the name)
// Only the first problem is reported. With an empty origin the messages
// start at the position or the field path.
#ifndef P2P_SIM_SCENARIO_H_
#define P2P_SIM_SCENARIO_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/dial/dial_policy.h"
#include "core/rng.h"

namespace p2p::sim {

// Bounds of a scenario: nodes over all groups, and every duration in it (run
// time, latencies, distribution parameters; samples are clamped to it).
inline constexpr int kMaxScenarioNodes = 1000000;
inline constexpr absl::Duration kMaxSimDuration = absl::Hours(1000);

// absl::ParseDuration syntax ("250ms", "90s", "10m", "2h", "1h30m", "1.5s",
// "0"); non-negative and finite: "-1s", "-0s", "inf" and "" are refused.
// Errors: InvalidArgument `invalid duration "<text>"`. No upper bound here
// (ParseScenario applies kMaxSimDuration to every field).
absl::StatusOr<absl::Duration> ParseSimDuration(absl::string_view text);

struct DistributionSpec {
  enum class Kind { kConstant, kExponential, kWeibull, kPareto, kUniform };
  Kind kind = Kind::kConstant;
  absl::Duration mean;      // Constant value, exponential mean, Weibull/Pareto scale.
  double shape = 1;         // Weibull (> 0), Pareto (> 1).
  absl::Duration min, max;  // Uniform.
};

// Draws one value in [0, kMaxSimDuration] from `d` using only `rng`:
// constant draws nothing, exponential/Weibull/Pareto one Next64 (inverse
// transform with std::log/std::pow: identical for a given libm), uniform one
// Rng::Range over integer nanoseconds (inclusive bounds).
absl::Duration SampleDuration(const DistributionSpec& d, Rng& rng);

struct ChurnSpec {
  bool enabled = false;
  DistributionSpec lifetime;
  DistributionSpec downtime;
  double graceful_fraction = 0;
  double new_identity_fraction = 0;
};

struct GroupSpec {
  std::string name;
  int count = 0;
  int region = 0;   // Index into ScenarioSpec::regions.
  int access = -1;  // Index into access_profiles, -1 = none.
  bool unreachable = false;
  bool bootnode = false;
  absl::Duration join_window;
  // Server settings, defaults applied.
  int max_peers = 50;
  int dial_ratio = 3;
  int max_pending_peers = 50;
  bool no_dial = false;
  DialGeneration dial_policy = DialGeneration::kCurrent;
  std::vector<int> static_groups;   // Group indices.
  std::vector<int> trusted_groups;  // Group indices.
  ChurnSpec churn;
};

struct RegionSpec {
  std::string name;
  absl::Duration internal_latency = absl::Milliseconds(50);
};

// An access profile (see AccessProfile in scenarios/scenario.proto for the
// model): extra latency, packet loss and link rate of a node.
struct AccessSpec {
  std::string name;
  absl::Duration extra_latency;
  double loss = 0;                        // In [0, 1).
  int64_t bandwidth_bits_per_second = 0;  // In [1, 1e12]; 0 = unlimited.
};

struct FaultSpec {
  enum class Kind { kPartition, kOutage };
  Kind kind = Kind::kPartition;
  absl::Duration at;
  std::optional<absl::Duration> duration;  // nullopt: until the end.
  std::vector<int> side_a, side_b;         // Partition: group indices.
  std::vector<int> groups;                 // Outage: group indices.
};

struct PeerFillSpec {
  std::string name;
  std::vector<int> groups;  // Empty: all groups.
  bool reachable_only = false;
  int min_peers = 0;
  double fraction = 0;
  std::optional<absl::Duration> at;  // nullopt: the end of the run.
};

struct ScenarioSpec {
  std::string name;
  std::string description;
  uint64_t seed = 0;
  absl::Duration duration = absl::Minutes(10);
  std::vector<GroupSpec> groups;
  std::vector<RegionSpec> regions;  // At least one.
  // latency[a][b]: one-way latency between regions a and b (symmetric);
  // the diagonal is each region's internal latency. Missing links default to
  // the larger internal latency of the two regions.
  std::vector<std::vector<absl::Duration>> latency;
  double jitter = 0;  // In [0, 1); 0 = none (the file's value as given).
  std::vector<AccessSpec> access_profiles;
  double refuse_fraction = 0;
  bool modelled_handshake = false;  // network.handshake == MODELLED.
  absl::Duration modelled_handshake_cpu = absl::Microseconds(300);
  // network.keepalive: kElided leaves out Pings and the read deadline
  // (RlpxConnOptions::elide_keepalive).
  enum class Keepalive { kMessages, kElided };
  Keepalive keepalive = Keepalive::kMessages;
  std::vector<FaultSpec> faults;
  // kDiscv4: real discv4 over simulated UDP (DiscoveryModel.DISCV4).
  enum class Discovery { kOracle, kStaticOnly, kDiscv4 };
  Discovery discovery = Discovery::kOracle;
  absl::Duration lookup_interval = absl::Milliseconds(100);
  double stale_fraction = 0;
  // kDiscv4: modelled packet signatures (discovery.signatures == MODELLED).
  bool modelled_signatures = false;
  absl::Duration sample_interval = absl::Seconds(10);
  bool trace_file = false;
  std::vector<PeerFillSpec> assertions;

  int total_nodes() const;
  int GroupIndex(absl::string_view name) const;  // -1 if none.
};

// The discovery source's name as written in summary.json and on p2psim's
// command line: "oracle", "static_only", "discv4".
const char* DiscoveryName(ScenarioSpec::Discovery d);
// The inverse of DiscoveryName (exact, lower case); nullopt for other text.
std::optional<ScenarioSpec::Discovery> ParseDiscoveryName(absl::string_view name);

// The keepalive mode's name as written in summary.json and on p2psim's
// command line: "messages", "elided"; and its inverse (nullopt for other
// text).
const char* KeepaliveName(ScenarioSpec::Keepalive k);
std::optional<ScenarioSpec::Keepalive> ParseKeepaliveName(absl::string_view name);

// Parses and validates scenario text (protobuf text format). `origin` (e.g.
// the file name) prefixes error messages. Pure: reading the file is the
// caller's job (sim/tools/).
absl::StatusOr<ScenarioSpec> ParseScenario(absl::string_view text, absl::string_view origin);

}  // namespace p2p::sim

#endif  // P2P_SIM_SCENARIO_H_
