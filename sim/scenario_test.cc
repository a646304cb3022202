#include "sim/scenario.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/rng.h"
#include "gtest/gtest.h"

namespace p2p::sim {
namespace {

using absl::Milliseconds;
using absl::Minutes;
using absl::Seconds;

constexpr char kOrigin[] = "x.textproto";

// Every field of the schema set to a non-default value.
constexpr char kFullScenario[] = R"pb(
  name: "full"
  description: "every field"
  seed: 18446744073709551615
  duration: "2h"
  groups {
    name: "boot"
    count: 2
    region: "us"
    bootnode: true
    server { max_peers: 200 no_dial: true }
  }
  groups {
    name: "nat"
    count: 10
    region: "eu"
    access: "dsl"
    unreachable: true
    join_window: "90s"
    server {
      max_peers: 25
      dial_ratio: 2
      max_pending_peers: 7
      dial_policy: LEGACY
      static_groups: [ "boot", "late" ]
      trusted_groups: "boot"
    }
    churn {
      lifetime { kind: WEIBULL mean: "1h" shape: 0.5 }
      downtime { kind: UNIFORM min: "1m" max: "10m" }
      graceful_fraction: 0.25
      new_identity_fraction: 0.75
    }
  }
  groups {
    name: "late"
    count: 3
    churn {
      lifetime { kind: PARETO mean: "30m" shape: 2.5 }
      downtime { kind: EXPONENTIAL mean: "5m" }
    }
  }
  groups {
    name: "fixed"
    count: 1
    region: "default"
    churn {
      lifetime { mean: "1h30m" }
      downtime { kind: CONSTANT mean: "250ms" }
    }
  }
  network {
    regions { name: "eu" internal_latency: "10ms" }
    regions { name: "us" }
    regions { name: "default" internal_latency: "70ms" }
    links { a: "us" b: "eu" latency: "45ms" }
    jitter: 0.2
    access { name: "fiber" }
    access { name: "dsl" extra_latency: "15ms" loss: 0.02 bandwidth: "10mbit" }
    refuse_fraction: 0.05
    handshake: REAL
    keepalive: ELIDED
  }
  faults {
    at: "30m"
    duration: "5m"
    partition {
      side_a: "boot"
      side_b: [ "nat", "late" ]
    }
  }
  faults {
    at: "0s"
    outage { groups: [ "fixed", "boot" ] }
  }
  faults {
    at: "1h"
    duration: "0s"
    outage { groups: "late" }
  }
  discovery { source: STATIC_ONLY lookup_interval: "20ms" stale_fraction: 0.3 }
  record { sample_interval: "1s" trace_file: true }
  assertions {
    name: "filled"
    peer_fill {
      groups: [ "nat", "boot" ]
      reachable_only: true
      min_peers: 3
      fraction: 0.9
      at: "2h"
    }
  }
  assertions {
    name: "any"
    peer_fill { fraction: 0.5 }
  }
)pb";

TEST(ParseScenarioTest, FullScenarioConvertsEveryField) {
  absl::StatusOr<ScenarioSpec> parsed = ParseScenario(kFullScenario, kOrigin);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ScenarioSpec& s = *parsed;
  EXPECT_EQ(s.name, "full");
  EXPECT_EQ(s.description, "every field");
  EXPECT_EQ(s.seed, UINT64_MAX);
  EXPECT_EQ(s.duration, absl::Hours(2));

  ASSERT_EQ(s.regions.size(), 3u);
  EXPECT_EQ(s.regions[0].name, "eu");
  EXPECT_EQ(s.regions[0].internal_latency, Milliseconds(10));
  EXPECT_EQ(s.regions[1].name, "us");
  EXPECT_EQ(s.regions[1].internal_latency, Milliseconds(50));
  EXPECT_EQ(s.regions[2].name, "default");
  EXPECT_EQ(s.regions[2].internal_latency, Milliseconds(70));
  // Diagonal: internal; eu-us: the link; unlinked pairs: the larger internal.
  const std::vector<std::vector<absl::Duration>> latency = {
      {Milliseconds(10), Milliseconds(45), Milliseconds(70)},
      {Milliseconds(45), Milliseconds(50), Milliseconds(70)},
      {Milliseconds(70), Milliseconds(70), Milliseconds(70)},
  };
  EXPECT_EQ(s.latency, latency);
  EXPECT_EQ(s.jitter, 0.2);
  ASSERT_EQ(s.access_profiles.size(), 2u);
  EXPECT_EQ(s.access_profiles[0].name, "fiber");
  EXPECT_EQ(s.access_profiles[0].extra_latency, absl::ZeroDuration());
  EXPECT_EQ(s.access_profiles[0].loss, 0);
  EXPECT_EQ(s.access_profiles[0].bandwidth_bits_per_second, 0);
  EXPECT_EQ(s.access_profiles[1].name, "dsl");
  EXPECT_EQ(s.access_profiles[1].extra_latency, Milliseconds(15));
  EXPECT_EQ(s.access_profiles[1].loss, 0.02);
  EXPECT_EQ(s.access_profiles[1].bandwidth_bits_per_second, 10 * 1000 * 1000);
  EXPECT_EQ(s.refuse_fraction, 0.05);
  EXPECT_EQ(s.keepalive, ScenarioSpec::Keepalive::kElided);

  ASSERT_EQ(s.groups.size(), 4u);
  const GroupSpec& boot = s.groups[0];
  EXPECT_EQ(boot.name, "boot");
  EXPECT_EQ(boot.count, 2);
  EXPECT_EQ(boot.region, 1);
  EXPECT_EQ(boot.access, -1);
  EXPECT_FALSE(boot.unreachable);
  EXPECT_TRUE(boot.bootnode);
  EXPECT_EQ(boot.join_window, absl::ZeroDuration());
  EXPECT_EQ(boot.max_peers, 200);
  EXPECT_EQ(boot.dial_ratio, 3);
  EXPECT_EQ(boot.max_pending_peers, 50);
  EXPECT_TRUE(boot.no_dial);
  EXPECT_EQ(boot.dial_policy, DialGeneration::kCurrent);
  EXPECT_TRUE(boot.static_groups.empty());
  EXPECT_TRUE(boot.trusted_groups.empty());
  EXPECT_FALSE(boot.churn.enabled);

  const GroupSpec& nat = s.groups[1];
  EXPECT_EQ(nat.name, "nat");
  EXPECT_EQ(nat.count, 10);
  EXPECT_EQ(nat.region, 0);
  EXPECT_EQ(nat.access, 1);
  EXPECT_TRUE(nat.unreachable);
  EXPECT_FALSE(nat.bootnode);
  EXPECT_EQ(nat.join_window, Seconds(90));
  EXPECT_EQ(nat.max_peers, 25);
  EXPECT_EQ(nat.dial_ratio, 2);
  EXPECT_EQ(nat.max_pending_peers, 7);
  EXPECT_FALSE(nat.no_dial);
  EXPECT_EQ(nat.dial_policy, DialGeneration::kLegacy);
  EXPECT_EQ(nat.static_groups, (std::vector<int>{0, 2}));
  EXPECT_EQ(nat.trusted_groups, (std::vector<int>{0}));
  EXPECT_TRUE(nat.churn.enabled);
  EXPECT_EQ(nat.churn.lifetime.kind, DistributionSpec::Kind::kWeibull);
  EXPECT_EQ(nat.churn.lifetime.mean, absl::Hours(1));
  EXPECT_EQ(nat.churn.lifetime.shape, 0.5);
  EXPECT_EQ(nat.churn.downtime.kind, DistributionSpec::Kind::kUniform);
  EXPECT_EQ(nat.churn.downtime.min, Minutes(1));
  EXPECT_EQ(nat.churn.downtime.max, Minutes(10));
  EXPECT_EQ(nat.churn.graceful_fraction, 0.25);
  EXPECT_EQ(nat.churn.new_identity_fraction, 0.75);

  const GroupSpec& late = s.groups[2];
  EXPECT_EQ(late.region, 0);  // Default: the first region.
  EXPECT_EQ(late.churn.lifetime.kind, DistributionSpec::Kind::kPareto);
  EXPECT_EQ(late.churn.lifetime.mean, Minutes(30));
  EXPECT_EQ(late.churn.lifetime.shape, 2.5);
  EXPECT_EQ(late.churn.downtime.kind, DistributionSpec::Kind::kExponential);
  EXPECT_EQ(late.churn.downtime.mean, Minutes(5));
  EXPECT_EQ(late.churn.graceful_fraction, 0);

  const GroupSpec& fixed = s.groups[3];
  EXPECT_EQ(fixed.region, 2);
  EXPECT_EQ(fixed.churn.lifetime.kind, DistributionSpec::Kind::kConstant);
  EXPECT_EQ(fixed.churn.lifetime.mean, Minutes(90));
  EXPECT_EQ(fixed.churn.downtime.mean, Milliseconds(250));

  ASSERT_EQ(s.faults.size(), 3u);
  EXPECT_EQ(s.faults[0].kind, FaultSpec::Kind::kPartition);
  EXPECT_EQ(s.faults[0].at, Minutes(30));
  EXPECT_EQ(s.faults[0].duration, Minutes(5));
  EXPECT_EQ(s.faults[0].side_a, (std::vector<int>{0}));
  EXPECT_EQ(s.faults[0].side_b, (std::vector<int>{1, 2}));
  EXPECT_TRUE(s.faults[0].groups.empty());
  EXPECT_EQ(s.faults[1].kind, FaultSpec::Kind::kOutage);
  EXPECT_EQ(s.faults[1].at, absl::ZeroDuration());
  EXPECT_EQ(s.faults[1].duration, std::nullopt);
  EXPECT_EQ(s.faults[1].groups, (std::vector<int>{3, 0}));
  EXPECT_TRUE(s.faults[1].side_a.empty());
  EXPECT_EQ(s.faults[2].at, absl::Hours(1));
  EXPECT_EQ(s.faults[2].duration, std::nullopt);  // "0s": until the end.
  EXPECT_EQ(s.faults[2].groups, (std::vector<int>{2}));

  EXPECT_EQ(s.discovery, ScenarioSpec::Discovery::kStaticOnly);
  EXPECT_EQ(s.lookup_interval, Milliseconds(20));
  EXPECT_EQ(s.stale_fraction, 0.3);
  EXPECT_EQ(s.sample_interval, Seconds(1));
  EXPECT_TRUE(s.trace_file);

  ASSERT_EQ(s.assertions.size(), 2u);
  EXPECT_EQ(s.assertions[0].name, "filled");
  EXPECT_EQ(s.assertions[0].groups, (std::vector<int>{1, 0}));
  EXPECT_TRUE(s.assertions[0].reachable_only);
  EXPECT_EQ(s.assertions[0].min_peers, 3);
  EXPECT_EQ(s.assertions[0].fraction, 0.9);
  EXPECT_EQ(s.assertions[0].at, absl::Hours(2));
  EXPECT_EQ(s.assertions[1].name, "any");
  EXPECT_TRUE(s.assertions[1].groups.empty());
  EXPECT_FALSE(s.assertions[1].reachable_only);
  EXPECT_EQ(s.assertions[1].min_peers, 0);
  EXPECT_EQ(s.assertions[1].fraction, 0.5);
  EXPECT_EQ(s.assertions[1].at, std::nullopt);

  EXPECT_EQ(s.total_nodes(), 16);
  EXPECT_EQ(s.GroupIndex("boot"), 0);
  EXPECT_EQ(s.GroupIndex("fixed"), 3);
  EXPECT_EQ(s.GroupIndex("nobody"), -1);
  EXPECT_EQ(s.GroupIndex(""), -1);
}

TEST(ParseScenarioTest, MinimalScenarioGetsEveryDefault) {
  absl::StatusOr<ScenarioSpec> parsed = ParseScenario(R"pb(groups { name: "a" count: 3 })pb", "");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  const ScenarioSpec& s = *parsed;
  EXPECT_EQ(s.name, "");
  EXPECT_EQ(s.description, "");
  EXPECT_EQ(s.seed, 0u);
  EXPECT_EQ(s.duration, Minutes(10));
  ASSERT_EQ(s.regions.size(), 1u);
  EXPECT_EQ(s.regions[0].name, "default");
  EXPECT_EQ(s.regions[0].internal_latency, Milliseconds(50));
  EXPECT_EQ(s.latency, (std::vector<std::vector<absl::Duration>>{{Milliseconds(50)}}));
  EXPECT_EQ(s.jitter, 0);
  EXPECT_TRUE(s.access_profiles.empty());
  EXPECT_EQ(s.refuse_fraction, 0);
  EXPECT_EQ(s.keepalive, ScenarioSpec::Keepalive::kMessages);
  EXPECT_TRUE(s.faults.empty());
  EXPECT_EQ(s.discovery, ScenarioSpec::Discovery::kOracle);
  EXPECT_EQ(s.lookup_interval, Milliseconds(100));
  EXPECT_EQ(s.stale_fraction, 0);
  EXPECT_FALSE(s.modelled_signatures);
  EXPECT_EQ(s.sample_interval, Seconds(10));
  EXPECT_FALSE(s.trace_file);
  EXPECT_TRUE(s.assertions.empty());

  ASSERT_EQ(s.groups.size(), 1u);
  const GroupSpec& g = s.groups[0];
  EXPECT_EQ(g.name, "a");
  EXPECT_EQ(g.count, 3);
  EXPECT_EQ(g.region, 0);
  EXPECT_EQ(g.access, -1);
  EXPECT_FALSE(g.unreachable);
  EXPECT_FALSE(g.bootnode);
  EXPECT_EQ(g.join_window, absl::ZeroDuration());
  EXPECT_EQ(g.max_peers, 50);
  EXPECT_EQ(g.dial_ratio, 3);
  EXPECT_EQ(g.max_pending_peers, 50);
  EXPECT_FALSE(g.no_dial);
  EXPECT_EQ(g.dial_policy, DialGeneration::kCurrent);
  EXPECT_TRUE(g.static_groups.empty());
  EXPECT_TRUE(g.trusted_groups.empty());
  EXPECT_FALSE(g.churn.enabled);
  EXPECT_EQ(s.total_nodes(), 3);
}

TEST(ParseScenarioTest, BoundaryValuesAreAccepted) {
  absl::StatusOr<ScenarioSpec> parsed =
      ParseScenario(R"pb(
                      duration: "1000h"
                      groups {
                        name: "a"
                        count: 999999
                        server { max_peers: 1000000 }
                      }
                      groups { name: "b" count: 1 }
                      network { jitter: 0.999 refuse_fraction: 1 }
                      faults {
                        at: "999h"
                        outage { groups: "a" }
                      }
                      discovery { stale_fraction: 1 }
                      assertions {
                        name: "end"
                        peer_fill { fraction: 1 at: "1000h" min_peers: 1000000 }
                      }
                    )pb",
                    kOrigin);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->duration, kMaxSimDuration);
  EXPECT_EQ(parsed->total_nodes(), kMaxScenarioNodes);
  EXPECT_EQ(parsed->groups[0].max_peers, 1000000);
  EXPECT_EQ(parsed->jitter, 0.999);
  EXPECT_EQ(parsed->refuse_fraction, 1);
  EXPECT_EQ(parsed->stale_fraction, 1);
  EXPECT_EQ(parsed->assertions[0].at, kMaxSimDuration);
  EXPECT_EQ(parsed->assertions[0].min_peers, 1000000);
}

struct RejectCase {
  const char* name;
  std::string text;
  std::string error;  // Expected message, after "x.textproto: ".
};

// One valid group to prepend where a case needs groups to exist.
const std::string kGroups = R"pb(
  groups { name: "a" count: 1 }
  groups { name: "b" count: 1 }
)pb";

std::string Churn(const std::string& lifetime, const std::string& downtime = "mean: \"1m\"") {
  return absl::StrCat("groups { name: \"a\" count: 1 churn { lifetime { ", lifetime,
                      " } downtime { ", downtime, " } } }");
}

const std::vector<RejectCase>& RejectCases() {
  static const auto* cases = new std::vector<RejectCase>{
      {"NoGroups", "name: \"x\"", "groups: at least one group is required"},
      {"EmptyGroupName", "groups { count: 1 }", "groups[0].name: must not be empty"},
      {"DuplicateGroup", kGroups + "groups { name: \"a\" count: 2 }",
       "groups[2].name: duplicate group \"a\""},
      {"ZeroCount", kGroups + "groups { name: \"c\" }", "groups[2].count: must be >= 1"},
      {"TooManyNodes", "groups { name: \"a\" count: 600000 } groups { name: \"b\" count: 400001 }",
       "groups[1].count: total node count 1000001 exceeds the limit 1000000"},
      {"HugeCount", "groups { name: \"a\" count: 4294967295 }",
       "groups[0].count: total node count 4294967295 exceeds the limit 1000000"},
      {"UnknownRegion", "groups { name: \"a\" count: 1 region: \"mars\" }",
       "groups[0].region: unknown region \"mars\""},
      {"UnknownRegionWithRegions",
       "network { regions { name: \"eu\" } } groups { name: \"a\" count: 1 region: \"default\" }",
       "groups[0].region: unknown region \"default\""},
      {"UnknownAccess", "groups { name: \"a\" count: 1 access: \"dsl\" }",
       "groups[0].access: unknown access profile \"dsl\""},
      {"BadJoinWindow", "groups { name: \"a\" count: 1 join_window: \"soon\" }",
       "groups[0].join_window: invalid duration \"soon\""},
      {"MaxPeersTooLarge", "groups { name: \"a\" count: 1 server { max_peers: 1000001 } }",
       "groups[0].server.max_peers: must be <= 1000000, got 1000001"},
      {"DialRatioTooLarge", "groups { name: \"a\" count: 1 server { dial_ratio: 4294967295 } }",
       "groups[0].server.dial_ratio: must be <= 1000000, got 4294967295"},
      {"PendingTooLarge", "groups { name: \"a\" count: 1 server { max_pending_peers: 2000000 } }",
       "groups[0].server.max_pending_peers: must be <= 1000000, got 2000000"},
      {"UnknownDialPolicy", "groups { name: \"a\" count: 1 server { dial_policy: 7 } }",
       "groups[0].server.dial_policy: unknown value 7"},
      {"UnknownStaticGroup",
       kGroups + "groups { name: \"c\" count: 1 server { static_groups: [\"a\", \"foo\"] } }",
       "groups[2].server.static_groups[1]: unknown group \"foo\""},
      {"DuplicateStaticGroup",
       kGroups + "groups { name: \"c\" count: 1 server { static_groups: [\"c\", \"c\"] } }",
       "groups[2].server.static_groups[1]: duplicate group \"c\""},
      {"UnknownTrustedGroup", "groups { name: \"a\" count: 1 server { trusted_groups: \"zz\" } }",
       "groups[0].server.trusted_groups[0]: unknown group \"zz\""},
      // Churn and distributions.
      {"ChurnWithoutLifetime",
       "groups { name: \"a\" count: 1 churn { downtime { mean: \"1m\" } } }",
       "groups[0].churn.lifetime: required"},
      {"EmptyChurn", "groups { name: \"a\" count: 1 churn { graceful_fraction: 0.5 } }",
       "groups[0].churn.lifetime: required"},
      {"ChurnWithoutDowntime",
       "groups { name: \"a\" count: 1 churn { lifetime { mean: \"1m\" } } }",
       "groups[0].churn.downtime: required"},
      {"BadMean", Churn("kind: EXPONENTIAL mean: \"ten\""),
       "groups[0].churn.lifetime.mean: invalid duration \"ten\""},
      {"MissingMean", Churn("kind: WEIBULL shape: 2"), "groups[0].churn.lifetime.mean: required"},
      {"MissingConstantMean", Churn("mean: \"1m\"", "min: \"1s\" max: \"2s\""),
       "groups[0].churn.downtime.mean: required"},
      {"ZeroMean", Churn("mean: \"0s\""), "groups[0].churn.lifetime.mean: must be > 0"},
      {"MeanTooLong", Churn("mean: \"1001h\""),
       "groups[0].churn.lifetime.mean: must be <= 1000h, got 1001h"},
      {"WeibullShapeZero", Churn("kind: WEIBULL mean: \"1m\""),
       "groups[0].churn.lifetime.shape: must be > 0, got 0"},
      {"WeibullShapeNegative", Churn("kind: WEIBULL mean: \"1m\" shape: -1.5"),
       "groups[0].churn.lifetime.shape: must be > 0, got -1.5"},
      {"WeibullShapeNan", Churn("kind: WEIBULL mean: \"1m\" shape: nan"),
       "groups[0].churn.lifetime.shape: must be > 0, got nan"},
      {"WeibullShapeInf", Churn("kind: WEIBULL mean: \"1m\" shape: inf"),
       "groups[0].churn.lifetime.shape: must be > 0, got inf"},
      {"ParetoShapeOne", Churn("kind: PARETO mean: \"1m\" shape: 1"),
       "groups[0].churn.lifetime.shape: must be > 1, got 1"},
      {"UniformMinMissing", Churn("kind: UNIFORM max: \"1m\""),
       "groups[0].churn.lifetime.min: required"},
      {"UniformMaxMissing", Churn("kind: UNIFORM min: \"1m\""),
       "groups[0].churn.lifetime.max: required"},
      {"UniformMinAboveMax", Churn("mean: \"1m\"", "kind: UNIFORM min: \"2m\" max: \"90s\""),
       "groups[0].churn.downtime.max: must be >= min 2m, got 1m30s"},
      {"UniformAllZero", Churn("kind: UNIFORM min: \"0s\" max: \"0s\""),
       "groups[0].churn.lifetime.max: must be > 0"},
      {"UnknownKind", Churn("kind: 9 mean: \"1m\""),
       "groups[0].churn.lifetime.kind: unknown value 9"},
      {"GracefulTooLarge",
       "groups { name: \"a\" count: 1 churn { lifetime { mean: \"1m\" } downtime { mean: \"1m\" } "
       "graceful_fraction: 1.5 } }",
       "groups[0].churn.graceful_fraction: must be in [0, 1], got 1.5"},
      {"NewIdentityNegative",
       "groups { name: \"a\" count: 1 churn { lifetime { mean: \"1m\" } downtime { mean: \"1m\" } "
       "new_identity_fraction: -0.1 } }",
       "groups[0].churn.new_identity_fraction: must be in [0, 1], got -0.1"},
      // Network.
      {"EmptyRegionName", kGroups + "network { regions { internal_latency: \"1ms\" } }",
       "network.regions[0].name: must not be empty"},
      {"DuplicateRegion", kGroups + "network { regions { name: \"eu\" } regions { name: \"eu\" } }",
       "network.regions[1].name: duplicate region \"eu\""},
      {"BadInternalLatency",
       kGroups + "network { regions { name: \"eu\" internal_latency: \"-5ms\" } }",
       "network.regions[0].internal_latency: invalid duration \"-5ms\""},
      {"LinkUnknownA",
       kGroups +
           "network { regions { name: \"eu\" } links { a: \"us\" b: \"eu\" latency: \"1ms\" } }",
       "network.links[0].a: unknown region \"us\""},
      {"LinkUnknownB",
       kGroups +
           "network { regions { name: \"eu\" } links { a: \"eu\" b: \"\" latency: \"1ms\" } }",
       "network.links[0].b: unknown region \"\""},
      {"SelfLink",
       kGroups +
           "network { regions { name: \"eu\" } links { a: \"eu\" b: \"eu\" latency: \"1ms\" } }",
       "network.links[0]: links region \"eu\" to itself (set its internal_latency instead)"},
      {"DuplicateLink",
       kGroups + "network { regions { name: \"eu\" } regions { name: \"us\" } "
                 "links { a: \"eu\" b: \"us\" latency: \"1ms\" } "
                 "links { a: \"us\" b: \"eu\" latency: \"2ms\" } }",
       "network.links[1]: duplicate link \"us\" - \"eu\""},
      {"LinkWithoutLatency",
       kGroups + "network { regions { name: \"eu\" } regions { name: \"us\" } "
                 "links { a: \"eu\" b: \"us\" } }",
       "network.links[0].latency: required"},
      {"JitterOne", kGroups + "network { jitter: 1 }", "network.jitter: must be in [0, 1), got 1"},
      {"JitterNegative", kGroups + "network { jitter: -0.5 }",
       "network.jitter: must be in [0, 1), got -0.5"},
      {"EmptyAccessName", kGroups + "network { access { extra_latency: \"1ms\" } }",
       "network.access[0].name: must not be empty"},
      {"DuplicateAccess", kGroups + "network { access { name: \"d\" } access { name: \"d\" } }",
       "network.access[1].name: duplicate access profile \"d\""},
      {"BadExtraLatency", kGroups + "network { access { name: \"d\" extra_latency: \"inf\" } }",
       "network.access[0].extra_latency: invalid duration \"inf\""},
      {"LossOne", kGroups + "network { access { name: \"d\" loss: 1 } }",
       "network.access[0].loss: must be in [0, 1), got 1"},
      {"LossNegative",
       kGroups + "network { access { name: \"d\" } access { name: \"e\" loss: -0.01 } }",
       "network.access[1].loss: must be in [0, 1), got -0.01"},
      {"LossNan", kGroups + "network { access { name: \"d\" loss: nan } }",
       "network.access[0].loss: must be in [0, 1), got nan"},
      {"BandwidthWord",
       kGroups + "network { access { name: \"d\" } access { name: \"e\" bandwidth: \"fast\" } }",
       "network.access[1].bandwidth: invalid rate \"fast\""},
      {"BandwidthNoUnit", kGroups + "network { access { name: \"d\" bandwidth: \"1000\" } }",
       "network.access[0].bandwidth: invalid rate \"1000\""},
      {"BandwidthBytes", kGroups + "network { access { name: \"d\" bandwidth: \"10mbps\" } }",
       "network.access[0].bandwidth: invalid rate \"10mbps\""},
      {"BandwidthSpace", kGroups + "network { access { name: \"d\" bandwidth: \"10 mbit\" } }",
       "network.access[0].bandwidth: invalid rate \"10 mbit\""},
      {"BandwidthNegative", kGroups + "network { access { name: \"d\" bandwidth: \"-1mbit\" } }",
       "network.access[0].bandwidth: invalid rate \"-1mbit\""},
      {"BandwidthNoDigits", kGroups + "network { access { name: \"d\" bandwidth: \".5mbit\" } }",
       "network.access[0].bandwidth: invalid rate \".5mbit\""},
      {"BandwidthBareDot", kGroups + "network { access { name: \"d\" bandwidth: \"1.mbit\" } }",
       "network.access[0].bandwidth: invalid rate \"1.mbit\""},
      {"BandwidthExponent", kGroups + "network { access { name: \"d\" bandwidth: \"1e6bit\" } }",
       "network.access[0].bandwidth: invalid rate \"1e6bit\""},
      {"BandwidthZero", kGroups + "network { access { name: \"d\" bandwidth: \"0kbit\" } }",
       "network.access[0].bandwidth: must be > 0, got \"0kbit\""},
      {"BandwidthFractionOfABit",
       kGroups + "network { access { name: \"d\" bandwidth: \"1.5bit\" } }",
       "network.access[0].bandwidth: must be a whole number of bits per second, got \"1.5bit\""},
      {"BandwidthTinyFraction",
       kGroups + "network { access { name: \"d\" bandwidth: \"0.0000000000001tbit\" } }",
       "network.access[0].bandwidth: must be a whole number of bits per second, got "
       "\"0.0000000000001tbit\""},
      {"BandwidthTooHigh", kGroups + "network { access { name: \"d\" bandwidth: \"1001gbit\" } }",
       "network.access[0].bandwidth: must be <= 1tbit, got \"1001gbit\""},
      {"BandwidthHuge",
       kGroups + "network { access { name: \"d\" bandwidth: \"99999999999999999999999999bit\" } }",
       "network.access[0].bandwidth: must be <= 1tbit, got \"99999999999999999999999999bit\""},
      {"RefuseTooLarge", kGroups + "network { refuse_fraction: 2 }",
       "network.refuse_fraction: must be in [0, 1], got 2"},
      {"CpuWithoutModelled", kGroups + "network { modelled_handshake_cpu: \"1ms\" }",
       "network.modelled_handshake_cpu: only valid with handshake: MODELLED"},
      {"BadModelledCpu",
       kGroups + "network { handshake: MODELLED modelled_handshake_cpu: \"fast\" }",
       "network.modelled_handshake_cpu: invalid duration \"fast\""},
      // Duration.
      {"ZeroDuration", kGroups + "duration: \"0s\"", "duration: must be > 0"},
      {"DurationTooLong", kGroups + "duration: \"1000h1s\"",
       "duration: must be <= 1000h, got 1000h1s"},
      {"BadDuration", kGroups + "duration: \"10 minutes\"",
       "duration: invalid duration \"10 minutes\""},
      // Faults.
      {"FaultWithoutAt", kGroups + "faults { outage { groups: \"a\" } }", "faults[0].at: required"},
      {"FaultAtEnd", kGroups + "faults { at: \"10m\" outage { groups: \"a\" } }",
       "faults[0].at: must be < duration 10m, got 10m"},
      {"FaultAtAfterEnd",
       kGroups + "duration: \"1h\" faults { at: \"1m\" outage { groups: \"a\" } } "
                 "faults { at: \"2h\" outage { groups: \"a\" } }",
       "faults[1].at: must be < duration 1h, got 2h"},
      {"BadFaultDuration",
       kGroups + "faults { at: \"1m\" duration: \"1x\" outage { groups: \"a\" } }",
       "faults[0].duration: invalid duration \"1x\""},
      {"FaultWithoutKind", kGroups + "faults { at: \"1m\" }",
       "faults[0]: must set partition or outage"},
      {"EmptySideA", kGroups + "faults { at: \"1m\" partition { side_b: \"a\" } }",
       "faults[0].partition.side_a: must not be empty"},
      {"EmptySideB", kGroups + "faults { at: \"1m\" partition { side_a: \"a\" } }",
       "faults[0].partition.side_b: must not be empty"},
      {"UnknownSideGroup",
       kGroups + "faults { at: \"1m\" partition { side_a: [\"a\", \"foo\"] side_b: \"b\" } }",
       "faults[0].partition.side_a[1]: unknown group \"foo\""},
      {"DuplicateSideGroup",
       kGroups + "faults { at: \"1m\" partition { side_a: \"a\" side_b: [\"b\", \"b\"] } }",
       "faults[0].partition.side_b[1]: duplicate group \"b\""},
      {"OverlappingSides",
       kGroups + "faults { at: \"1m\" partition { side_a: [\"a\", \"b\"] side_b: \"b\" } }",
       "faults[0].partition.side_b[0]: group \"b\" is on both sides"},
      {"EmptyOutage", kGroups + "faults { at: \"1m\" outage { } }",
       "faults[0].outage.groups: must not be empty"},
      {"UnknownOutageGroup", kGroups + "faults { at: \"1m\" outage { groups: \"c\" } }",
       "faults[0].outage.groups[0]: unknown group \"c\""},
      // Discovery and recording.
      {"UnknownSource", kGroups + "discovery { source: 5 }", "discovery.source: unknown value 5"},
      {"ZeroLookup", kGroups + "discovery { lookup_interval: \"0ms\" }",
       "discovery.lookup_interval: must be > 0"},
      {"BadLookup", kGroups + "discovery { lookup_interval: \"fast\" }",
       "discovery.lookup_interval: invalid duration \"fast\""},
      {"StaleNan", kGroups + "discovery { stale_fraction: nan }",
       "discovery.stale_fraction: must be in [0, 1], got nan"},
      {"UnknownSignatures", kGroups + "discovery { source: DISCV4 signatures: 7 }",
       "discovery.signatures: unknown value 7"},
      {"ZeroSample", kGroups + "record { sample_interval: \"0\" }",
       "record.sample_interval: must be > 0"},
      // Assertions.
      {"AssertionWithoutName", kGroups + "assertions { peer_fill { fraction: 1 } }",
       "assertions[0].name: must not be empty"},
      {"DuplicateAssertion",
       kGroups + "assertions { name: \"x\" peer_fill {} } assertions { name: \"x\" peer_fill {} }",
       "assertions[1].name: duplicate assertion \"x\""},
      {"AssertionWithoutCheck", kGroups + "assertions { name: \"x\" }",
       "assertions[0]: must set peer_fill"},
      {"PeerFillUnknownGroup",
       kGroups + "assertions { name: \"x\" peer_fill { groups: [\"b\", \"q\"] } }",
       "assertions[0].peer_fill.groups[1]: unknown group \"q\""},
      {"PeerFillFraction", kGroups + "assertions { name: \"x\" peer_fill { fraction: 1.5 } }",
       "assertions[0].peer_fill.fraction: must be in [0, 1], got 1.5"},
      {"PeerFillMinPeers", kGroups + "assertions { name: \"x\" peer_fill { min_peers: 1000001 } }",
       "assertions[0].peer_fill.min_peers: must be <= 1000000, got 1000001"},
      {"PeerFillAtAfterEnd", kGroups + "assertions { name: \"x\" peer_fill { at: \"11m\" } }",
       "assertions[0].peer_fill.at: must be <= duration 10m, got 11m"},
      {"PeerFillBadAt", kGroups + "assertions { name: \"x\" peer_fill { at: \"-1s\" } }",
       "assertions[0].peer_fill.at: invalid duration \"-1s\""},
  };
  return *cases;
}

class RejectTest : public testing::TestWithParam<RejectCase> {};

TEST_P(RejectTest, FailsWithExactMessage) {
  const RejectCase& c = GetParam();
  absl::StatusOr<ScenarioSpec> parsed = ParseScenario(c.text, kOrigin);
  ASSERT_FALSE(parsed.ok()) << c.text;
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(parsed.status().message()), absl::StrCat(kOrigin, ": ", c.error));
}

INSTANTIATE_TEST_SUITE_P(ParseScenarioTest, RejectTest, testing::ValuesIn(RejectCases()),
                         [](const testing::TestParamInfo<RejectCase>& info) {
                           return std::string(info.param.name);
                         });

// Rates in every unit, exact; loss at its bounds.
TEST(ParseScenarioTest, AccessProfileRatesAndLoss) {
  const std::vector<std::pair<std::string, int64_t>> rates = {
      {"1bit", 1},
      {"500kbit", 500 * 1000},
      {"10mbit", 10 * 1000 * 1000},
      {"1gbit", 1000 * 1000 * 1000},
      {"1tbit", int64_t{1000} * 1000 * 1000 * 1000},
      {"1.5mbit", 1500 * 1000},
      {"0.001kbit", 1},
      {"2.50000Gbit", int64_t{2500} * 1000 * 1000},
      {"007MBIT", 7 * 1000 * 1000},
      {"999999999999bit", 999999999999},
      {"0.000000000001tbit", 1},
  };
  for (const auto& [text, want] : rates) {
    absl::StatusOr<ScenarioSpec> parsed =
        ParseScenario(absl::StrCat("groups { name: \"a\" count: 1 } network { access { name: "
                                   "\"p\" bandwidth: \"",
                                   text, "\" } }"),
                      kOrigin);
    ASSERT_TRUE(parsed.ok()) << text << ": " << parsed.status();
    EXPECT_EQ(parsed->access_profiles[0].bandwidth_bits_per_second, want) << text;
    EXPECT_EQ(parsed->access_profiles[0].loss, 0) << text;
  }
  absl::StatusOr<ScenarioSpec> parsed = ParseScenario(
      "groups { name: \"a\" count: 1 access: \"lossy\" } "
      "network { access { name: \"lossy\" loss: 0.999 } access { name: \"none\" loss: 0 } }",
      kOrigin);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->access_profiles[0].loss, 0.999);
  EXPECT_EQ(parsed->access_profiles[0].bandwidth_bits_per_second, 0);  // Unlimited.
  EXPECT_EQ(parsed->access_profiles[0].extra_latency, absl::ZeroDuration());
  EXPECT_EQ(parsed->access_profiles[1].loss, 0);
  EXPECT_EQ(parsed->groups[0].access, 0);
}

TEST(ParseScenarioTest, EmptyOriginLeavesOutThePrefix) {
  EXPECT_EQ(std::string(ParseScenario("", "").status().message()),
            "groups: at least one group is required");
  EXPECT_EQ(std::string(ParseScenario("groups {", "").status().message()),
            "1:9: Expected identifier, got: ");
}

// Text-format errors carry protobuf's 1-based line and column: the offending
// token for a bad value, the token after a field name or enum value that was
// rejected once read (protobuf reports where its tokenizer stands).
TEST(ParseScenarioTest, SyntaxErrorHasLineAndColumn) {
  absl::StatusOr<ScenarioSpec> parsed =
      ParseScenario("name: \"x\"\ngroups {\n  name: \"a\"\n  count: three\n}\n", kOrigin);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(parsed.status().message()),
            "x.textproto:4:10: Expected integer, got: three");
}

TEST(ParseScenarioTest, UnknownFieldIsRejected) {
  absl::StatusOr<ScenarioSpec> parsed = ParseScenario(
      "groups {\n  name: \"a\"\n  count: 1\n  server {\n    maxpeers: 5\n  }\n}\n", kOrigin);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(parsed.status().message()),
            "x.textproto:5:13: Message type \"p2p.sim.proto.ServerSettings\" has no field named "
            "\"maxpeers\".");
}

TEST(ParseScenarioTest, UnknownEnumNameIsRejected) {
  absl::StatusOr<ScenarioSpec> parsed =
      ParseScenario("groups { name: \"a\" count: 1 server { dial_policy: NEWEST } }", kOrigin);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(std::string(parsed.status().message()),
            "x.textproto:1:58: Unknown enumeration value of \"NEWEST\" for field "
            "\"dial_policy\".");
}

TEST(ParseScenarioTest, BothFaultKindsAreRejected) {
  absl::StatusOr<ScenarioSpec> parsed = ParseScenario(
      kGroups + "faults {\n at: \"1m\"\n outage { groups: \"a\" }\n partition { side_a: \"a\" } }",
      kOrigin);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(std::string(parsed.status().message()),
            "x.textproto:7:12: Field \"partition\" is specified along with field \"outage\", "
            "another member of oneof \"kind\".");
}

TEST(ParseScenarioTest, RepeatedScalarFieldIsRejected) {
  absl::StatusOr<ScenarioSpec> parsed =
      ParseScenario("groups { name: \"a\" name: \"b\" count: 1 }", kOrigin);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(std::string(parsed.status().message()),
            "x.textproto:1:24: Non-repeated field \"name\" is specified multiple times.");
}

struct DurationCase {
  const char* text;
  absl::Duration want;
};

TEST(ParseSimDurationTest, AcceptsAbslSyntax) {
  const DurationCase cases[] = {
      {"250ms", Milliseconds(250)},
      {"90s", Seconds(90)},
      {"10m", Minutes(10)},
      {"2h", absl::Hours(2)},
      {"1h30m", Minutes(90)},
      {"0s", absl::ZeroDuration()},
      {"0", absl::ZeroDuration()},
      {"1.5s", Milliseconds(1500)},
      {"7ns", absl::Nanoseconds(7)},
      {"3us", absl::Microseconds(3)},
      {"+4s", Seconds(4)},
      {"2h45m30.5s", absl::Hours(2) + Minutes(45) + Milliseconds(30500)},
      {"5000h", absl::Hours(5000)},  // No upper bound at this level.
  };
  for (const DurationCase& c : cases) {
    absl::StatusOr<absl::Duration> d = ParseSimDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.status();
    EXPECT_EQ(*d, c.want) << c.text;
  }
}

TEST(ParseSimDurationTest, RejectsEverythingElse) {
  const char* const cases[] = {
      "",     "-1s", "-0s", "inf", "-inf",  "10", "ten",  "10 m",  " 10m",
      "10m ", "1d",  "s",   ".s",  "1h-5m", "ms", "1e3s", "0x10s", "1m1",
  };
  for (const char* text : cases) {
    absl::StatusOr<absl::Duration> d = ParseSimDuration(text);
    ASSERT_FALSE(d.ok()) << "\"" << text << "\" parsed as " << *d;
    EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(d.status().message(), absl::StrCat("invalid duration \"", text, "\""));
  }
}

// Mean of `n` draws, in seconds.
double SampleMeanSeconds(const DistributionSpec& d, uint64_t seed, int n,
                         absl::Duration* min_seen = nullptr, absl::Duration* max_seen = nullptr) {
  Rng rng(seed);
  double sum = 0;
  absl::Duration lo = absl::InfiniteDuration(), hi = -absl::InfiniteDuration();
  for (int i = 0; i < n; ++i) {
    const absl::Duration x = SampleDuration(d, rng);
    sum += absl::ToDoubleSeconds(x);
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  if (min_seen != nullptr) *min_seen = lo;
  if (max_seen != nullptr) *max_seen = hi;
  return sum / n;
}

constexpr int kDraws = 20000;
constexpr uint64_t kSeed = 42;

TEST(SampleDurationTest, ConstantIsExactAndDrawsNothing) {
  DistributionSpec d;
  d.kind = DistributionSpec::Kind::kConstant;
  d.mean = Milliseconds(1234);
  Rng rng(kSeed);
  Rng untouched(kSeed);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(SampleDuration(d, rng), Milliseconds(1234));
  EXPECT_EQ(rng.Next64(), untouched.Next64());
}

TEST(SampleDurationTest, ExponentialMean) {
  DistributionSpec d;
  d.kind = DistributionSpec::Kind::kExponential;
  d.mean = Seconds(60);
  absl::Duration lo;
  const double mean = SampleMeanSeconds(d, kSeed, kDraws, &lo);
  // Standard error 60/sqrt(20000) = 0.42s; allow ~3 of them.
  EXPECT_NEAR(mean, 60, 1.3);
  EXPECT_GE(lo, absl::ZeroDuration());
}

TEST(SampleDurationTest, WeibullMean) {
  for (double shape : {0.5, 1.0, 2.0}) {
    DistributionSpec d;
    d.kind = DistributionSpec::Kind::kWeibull;
    d.mean = Seconds(100);
    d.shape = shape;
    const double want = 100 * std::tgamma(1 + 1 / shape);
    const double mean = SampleMeanSeconds(d, kSeed, kDraws);
    // About 3 standard errors: shape 0.5 has a standard deviation of ~2.2x
    // its mean (standard error 1.6%), shapes 1 and 2 have 0.7% and 0.4%.
    EXPECT_NEAR(mean, want, want * (shape < 1 ? 0.05 : 0.02)) << "shape " << shape;
  }
}

TEST(SampleDurationTest, ParetoMeanAndMinimum) {
  DistributionSpec d;
  d.kind = DistributionSpec::Kind::kPareto;
  d.mean = Seconds(10);  // The minimum (scale).
  d.shape = 3;
  absl::Duration lo;
  const double mean = SampleMeanSeconds(d, kSeed, kDraws, &lo);
  EXPECT_NEAR(mean, 10 * 3.0 / 2.0, 0.3);  // Standard error 0.06s.
  EXPECT_GE(lo, Seconds(10));
  EXPECT_LT(lo, Seconds(10) + Milliseconds(10));  // The minimum is approached.
}

TEST(SampleDurationTest, UniformMeanAndBounds) {
  DistributionSpec d;
  d.kind = DistributionSpec::Kind::kUniform;
  d.min = Seconds(10);
  d.max = Seconds(30);
  absl::Duration lo, hi;
  const double mean = SampleMeanSeconds(d, kSeed, kDraws, &lo, &hi);
  EXPECT_NEAR(mean, 20, 0.15);  // Standard error 0.04s.
  EXPECT_GE(lo, Seconds(10));
  EXPECT_LE(hi, Seconds(30));
  EXPECT_LT(lo, Seconds(10) + Milliseconds(50));
  EXPECT_GT(hi, Seconds(30) - Milliseconds(50));

  d.min = d.max = Milliseconds(5);
  Rng rng(kSeed);
  EXPECT_EQ(SampleDuration(d, rng), Milliseconds(5));
}

TEST(SampleDurationTest, ClampsToZeroAndMaxDuration) {
  Rng rng(kSeed);
  DistributionSpec d;
  d.kind = DistributionSpec::Kind::kConstant;
  d.mean = -Seconds(1);
  EXPECT_EQ(SampleDuration(d, rng), absl::ZeroDuration());
  d.mean = absl::Hours(2000);
  EXPECT_EQ(SampleDuration(d, rng), kMaxSimDuration);
  // A heavy tail with a huge scale: every draw stays within the bound.
  d.kind = DistributionSpec::Kind::kPareto;
  d.mean = absl::Hours(900);
  d.shape = 1.01;
  absl::Duration lo, hi;
  SampleMeanSeconds(d, kSeed, 1000, &lo, &hi);
  EXPECT_GE(lo, absl::Hours(900));
  EXPECT_EQ(hi, kMaxSimDuration);
  // A tiny Weibull shape makes (-ln U)^(1/shape) overflow to inf for some U.
  d.kind = DistributionSpec::Kind::kWeibull;
  d.mean = absl::Hours(1);
  d.shape = 0.001;
  SampleMeanSeconds(d, kSeed, 1000, &lo, &hi);
  EXPECT_EQ(lo, absl::ZeroDuration());
  EXPECT_EQ(hi, kMaxSimDuration);
}

TEST(SampleDurationTest, SameSeedSameSequence) {
  const DistributionSpec::Kind kinds[] = {
      DistributionSpec::Kind::kExponential, DistributionSpec::Kind::kWeibull,
      DistributionSpec::Kind::kPareto, DistributionSpec::Kind::kUniform};
  for (DistributionSpec::Kind kind : kinds) {
    DistributionSpec d;
    d.kind = kind;
    d.mean = Seconds(5);
    d.shape = 1.5;
    d.min = Seconds(1);
    d.max = Seconds(9);
    Rng a(7), b(7), other(8);
    std::vector<absl::Duration> seq_a, seq_b, seq_other;
    for (int i = 0; i < 100; ++i) {
      seq_a.push_back(SampleDuration(d, a));
      seq_b.push_back(SampleDuration(d, b));
      seq_other.push_back(SampleDuration(d, other));
    }
    EXPECT_EQ(seq_a, seq_b);
    EXPECT_NE(seq_a, seq_other);
  }
}

// Pins the exact draws of one seed, so a change to the sampling (or to Rng)
// that would silently alter every recorded run is noticed.
TEST(SampleDurationTest, ExactDrawsArePinned) {
  DistributionSpec d;
  d.kind = DistributionSpec::Kind::kExponential;
  d.mean = Seconds(1);
  Rng rng(1);
  std::vector<int64_t> got;
  for (int i = 0; i < 3; ++i) got.push_back(absl::ToInt64Nanoseconds(SampleDuration(d, rng)));
  EXPECT_EQ(got, (std::vector<int64_t>{352509583, 653087165, 554941753}));
}

TEST(ScenarioModelledTest, ModelledHandshakeAndItsCpuTime) {
  absl::StatusOr<ScenarioSpec> spec =
      ParseScenario("groups { name: \"a\" count: 2 } network { handshake: MODELLED }", "m");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->modelled_handshake);
  EXPECT_EQ(spec->modelled_handshake_cpu, absl::Microseconds(300));
  spec = ParseScenario(
      "groups { name: \"a\" count: 2 } "
      "network { handshake: MODELLED modelled_handshake_cpu: \"2ms\" }",
      "m");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->modelled_handshake_cpu, absl::Milliseconds(2));
  spec = ParseScenario("groups { name: \"a\" count: 2 }", "m");
  ASSERT_TRUE(spec.ok());
  EXPECT_FALSE(spec->modelled_handshake);
}

TEST(ScenarioModelledTest, KeepaliveModes) {
  absl::StatusOr<ScenarioSpec> spec = ParseScenario("groups { name: \"a\" count: 2 }", "k");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->keepalive, ScenarioSpec::Keepalive::kMessages);
  spec = ParseScenario("groups { name: \"a\" count: 2 } network { keepalive: ELIDED }", "k");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->keepalive, ScenarioSpec::Keepalive::kElided);
  spec = ParseScenario("groups { name: \"a\" count: 2 } network { keepalive: 2 }", "k");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(), "k: network.keepalive: unknown keepalive mode 2");
  for (ScenarioSpec::Keepalive k :
       {ScenarioSpec::Keepalive::kMessages, ScenarioSpec::Keepalive::kElided}) {
    EXPECT_EQ(ParseKeepaliveName(KeepaliveName(k)), k);
  }
  EXPECT_STREQ(KeepaliveName(ScenarioSpec::Keepalive::kElided), "elided");
  EXPECT_EQ(ParseKeepaliveName("ELIDED"), std::nullopt);
  EXPECT_EQ(ParseKeepaliveName("exact"), std::nullopt);
}

TEST(ScenarioDiscoveryTest, Discv4SourceByNameAndNumber) {
  absl::StatusOr<ScenarioSpec> spec =
      ParseScenario("groups { name: \"a\" count: 2 } discovery { source: DISCV4 }", "d");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->discovery, ScenarioSpec::Discovery::kDiscv4);
  // The oracle's knobs keep their defaults (unused by discv4).
  EXPECT_EQ(spec->lookup_interval, absl::Milliseconds(100));
  EXPECT_EQ(spec->stale_fraction, 0);
  spec = ParseScenario("groups { name: \"a\" count: 2 } discovery { source: 2 }", "d");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->discovery, ScenarioSpec::Discovery::kDiscv4);
  // The next number is still unknown.
  spec = ParseScenario("groups { name: \"a\" count: 2 } discovery { source: 3 }", "d");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().message(), "d: discovery.source: unknown value 3");
}

TEST(ScenarioDiscoveryTest, Discv4ModelledSignatures) {
  absl::StatusOr<ScenarioSpec> spec = ParseScenario(
      "groups { name: \"a\" count: 2 } discovery { source: DISCV4 signatures: MODELLED }", "d");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->modelled_signatures);
  spec = ParseScenario(
      "groups { name: \"a\" count: 2 } discovery { source: DISCV4 signatures: REAL }", "d");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->modelled_signatures);
  // Accepted with any source (like the oracle's knobs): it takes effect
  // when the source is DISCV4, e.g. under p2psim --discovery discv4.
  spec = ParseScenario("groups { name: \"a\" count: 2 } discovery { signatures: MODELLED }", "d");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->modelled_signatures);
  EXPECT_EQ(spec->discovery, ScenarioSpec::Discovery::kOracle);
}

TEST(ScenarioDiscoveryTest, DiscoveryNames) {
  for (ScenarioSpec::Discovery d :
       {ScenarioSpec::Discovery::kOracle, ScenarioSpec::Discovery::kStaticOnly,
        ScenarioSpec::Discovery::kDiscv4}) {
    EXPECT_EQ(ParseDiscoveryName(DiscoveryName(d)), d);
  }
  EXPECT_STREQ(DiscoveryName(ScenarioSpec::Discovery::kDiscv4), "discv4");
  EXPECT_EQ(ParseDiscoveryName("DISCV4"), std::nullopt);
  EXPECT_EQ(ParseDiscoveryName(""), std::nullopt);
}

}  // namespace
}  // namespace p2p::sim
