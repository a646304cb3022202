#include "sim/scenario.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "scenarios/scenario.pb.h"

namespace p2p::sim {
namespace {

namespace pb = ::p2p::sim::proto;

// max_peers 0 in the file means this default (proto3 cannot tell an unset
// number from 0); dial_ratio and max_pending_peers use dial_policy.h's.
constexpr int kDefaultMaxPeers = 50;
// The one region of a scenario without regions, and the internal latency of
// a region that does not set one.
constexpr int kDefaultRegionLatencyMs = 50;
const char kDefaultRegionName[] = "default";

// Upper bound for every count-like setting (max_peers, dial_ratio, ...), so
// none can overflow an int or exceed the largest possible network.
constexpr int64_t kMaxSetting = kMaxScenarioNodes;

// Link rates (AccessProfile.bandwidth): units, as tc's, in powers of 1000,
// and the largest rate a scenario may give.
constexpr std::pair<const char*, int64_t> kRateUnits[] = {
    {"bit", 1},
    {"kbit", 1000},
    {"mbit", 1000 * 1000},
    {"gbit", 1000 * 1000 * 1000},
    {"tbit", int64_t{1000} * 1000 * 1000 * 1000},
};
constexpr int64_t kMaxBitsPerSecond = int64_t{1000} * 1000 * 1000 * 1000;
// Digits beyond these cannot give a whole rate <= kMaxBitsPerSecond (the
// integer part) or a whole number of bits (the fraction, with the largest
// unit); checking them first keeps the arithmetic below in 128 bits.
constexpr size_t kMaxRateIntegerDigits = 13;
constexpr size_t kMaxRateFractionDigits = 12;

// Parses "<digits>[.<digits>]<unit>" (unit case-insensitive) into bits per
// second, exactly: in [1, kMaxBitsPerSecond] and whole. The error is the
// problem only; the caller adds the field path.
absl::StatusOr<int64_t> ParseRate(absl::string_view text) {
  const auto problem = [text](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat(what, " \"", text, "\""));
  };
  size_t i = 0;
  while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
  absl::string_view whole = text.substr(0, i);
  absl::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    const size_t start = ++i;
    while (i < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) ++i;
    fraction = text.substr(start, i - start);
    if (fraction.empty()) return problem("invalid rate");
  }
  if (whole.empty()) return problem("invalid rate");
  const std::string unit = absl::AsciiStrToLower(text.substr(i));
  int64_t multiplier = 0;
  for (const auto& [name, value] : kRateUnits) {
    if (unit == name) multiplier = value;
  }
  if (multiplier == 0) return problem("invalid rate");

  // Only significant digits count against the limits.
  while (!whole.empty() && whole.front() == '0') whole.remove_prefix(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  if (whole.size() > kMaxRateIntegerDigits) {
    return problem("must be <= 1tbit, got");
  }
  if (fraction.size() > kMaxRateFractionDigits) {
    return problem("must be a whole number of bits per second, got");
  }
  absl::uint128 mantissa = 0, divisor = 1;
  for (char c : whole) mantissa = mantissa * 10 + (c - '0');
  for (char c : fraction) {
    mantissa = mantissa * 10 + (c - '0');
    divisor *= 10;
  }
  const absl::uint128 scaled = mantissa * static_cast<uint64_t>(multiplier);
  if (scaled % divisor != 0) return problem("must be a whole number of bits per second, got");
  const absl::uint128 bits = scaled / divisor;
  if (bits == 0) return problem("must be > 0, got");
  if (bits > static_cast<uint64_t>(kMaxBitsPerSecond)) return problem("must be <= 1tbit, got");
  return static_cast<int64_t>(absl::Uint128Low64(bits));
}

// A uniform double in (0, 1) from the top 53 bits of one Next64: the midpoint
// of one of 2^53 equal cells, so it is never exactly 0 (log stays finite) nor
// exactly 1.
double OpenUnit(Rng& rng) {
  const uint64_t k = rng.Next64() >> 11;
  return (static_cast<double>(k) + 0.5) * 0x1.0p-53;
}

// Nanoseconds (possibly NaN or huge) to a Duration in [0, kMaxSimDuration].
absl::Duration ClampNanos(double ns) {
  if (!(ns > 0)) return absl::ZeroDuration();  // Also NaN.
  if (!(ns < absl::ToDoubleNanoseconds(kMaxSimDuration))) return kMaxSimDuration;
  return absl::Nanoseconds(static_cast<int64_t>(ns));
}

absl::Duration Clamp(absl::Duration d) {
  return std::clamp(d, absl::ZeroDuration(), kMaxSimDuration);
}

// Collects the first text-format error with its 1-based position.
class FirstErrorCollector : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, google::protobuf::io::ColumnNumber column,
                const std::string& message) override {
    if (has_error_) return;
    has_error_ = true;
    line_ = line;
    column_ = column;
    message_ = message;
  }

  bool has_error() const { return has_error_; }
  // "<origin>:<line>:<col>: <message>"; the position is left out when the
  // parser did not give one (negative line).
  std::string Format(absl::string_view origin) const {
    std::string where(origin);
    if (line_ >= 0) {
      absl::StrAppend(&where, where.empty() ? "" : ":", line_ + 1, ":", column_ + 1);
    }
    return where.empty() ? message_ : absl::StrCat(where, ": ", message_);
  }

 private:
  bool has_error_ = false;
  int line_ = -1;
  int column_ = -1;
  std::string message_;
};

// Validates a parsed Scenario and converts it into a ScenarioSpec. Every
// method returns the first problem found, as "<origin>: <path>: <problem>".
class Converter {
 public:
  explicit Converter(absl::string_view origin) : origin_(origin) {}

  absl::StatusOr<ScenarioSpec> Convert(const pb::Scenario& in);

 private:
  absl::Status Error(absl::string_view path, absl::string_view problem) const {
    if (origin_.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": ", problem));
    return absl::InvalidArgumentError(absl::StrCat(origin_, ": ", path, ": ", problem));
  }

  // Parses a duration field; empty text gives `fallback`, or an error when
  // there is none (a required field).
  absl::StatusOr<absl::Duration> DurationField(const std::string& text, absl::string_view path,
                                               std::optional<absl::Duration> fallback) const;
  // Checks 0 <= value <= 1 (rejects NaN).
  absl::Status FractionField(double value, absl::string_view path) const;
  // A uint32 count-like setting as an int; 0 gives `zero_means`.
  absl::StatusOr<int> SettingField(uint32_t value, absl::string_view path, int zero_means) const;
  // Resolves a list of group names to indices: every name known, none twice.
  absl::StatusOr<std::vector<int>> GroupList(
      const google::protobuf::RepeatedPtrField<std::string>& names, absl::string_view path) const;

  absl::Status ConvertNetwork(const pb::NetworkModel& in, ScenarioSpec& out);
  absl::Status ConvertGroup(const pb::NodeGroup& in, const std::string& path, GroupSpec& out);
  absl::Status ConvertChurn(const pb::Churn& in, const std::string& path, ChurnSpec& out);
  absl::Status ConvertDistribution(const pb::Distribution& in, const std::string& path,
                                   DistributionSpec& out);
  absl::Status ConvertFault(const pb::Fault& in, const std::string& path, FaultSpec& out);
  absl::Status ConvertAssertion(const pb::Assertion& in, const std::string& path,
                                PeerFillSpec& out);

  std::string origin_;
  absl::Duration run_duration_;
  std::map<std::string, int> groups_;   // Name -> index.
  std::map<std::string, int> regions_;  // Name -> index.
  std::map<std::string, int> access_;   // Name -> index.
};

absl::StatusOr<absl::Duration> Converter::DurationField(
    const std::string& text, absl::string_view path, std::optional<absl::Duration> fallback) const {
  if (text.empty()) {
    if (fallback.has_value()) return *fallback;
    return Error(path, "required");
  }
  absl::StatusOr<absl::Duration> d = ParseSimDuration(text);
  if (!d.ok()) return Error(path, d.status().message());
  if (*d > kMaxSimDuration) {
    return Error(path, absl::StrCat("must be <= ", absl::FormatDuration(kMaxSimDuration), ", got ",
                                    absl::FormatDuration(*d)));
  }
  return *d;
}

absl::Status Converter::FractionField(double value, absl::string_view path) const {
  if (value >= 0 && value <= 1) return absl::OkStatus();
  return Error(path, absl::StrCat("must be in [0, 1], got ", value));
}

absl::StatusOr<int> Converter::SettingField(uint32_t value, absl::string_view path,
                                            int zero_means) const {
  if (value == 0) return zero_means;
  if (value > kMaxSetting) {
    return Error(path, absl::StrCat("must be <= ", kMaxSetting, ", got ", value));
  }
  return static_cast<int>(value);
}

absl::StatusOr<std::vector<int>> Converter::GroupList(
    const google::protobuf::RepeatedPtrField<std::string>& names, absl::string_view path) const {
  std::vector<int> out;
  std::set<int> seen;
  for (int i = 0; i < names.size(); ++i) {
    const std::string item = absl::StrCat(path, "[", i, "]");
    auto it = groups_.find(names[i]);
    if (it == groups_.end()) return Error(item, absl::StrCat("unknown group \"", names[i], "\""));
    if (!seen.insert(it->second).second) {
      return Error(item, absl::StrCat("duplicate group \"", names[i], "\""));
    }
    out.push_back(it->second);
  }
  return out;
}

absl::StatusOr<ScenarioSpec> Converter::Convert(const pb::Scenario& in) {
  ScenarioSpec out;
  out.name = in.name();
  out.description = in.description();
  out.seed = in.seed();

  absl::StatusOr<absl::Duration> duration =
      DurationField(in.duration(), "duration", absl::Minutes(10));
  if (!duration.ok()) return duration.status();
  if (*duration <= absl::ZeroDuration()) return Error("duration", "must be > 0");
  out.duration = run_duration_ = *duration;

  // Regions and access profiles first: groups refer to them.
  if (absl::Status s = ConvertNetwork(in.network(), out); !s.ok()) return s;

  // Group names before anything else of the groups, so static_groups and
  // trusted_groups may name a group defined later in the file.
  if (in.groups().empty()) return Error("groups", "at least one group is required");
  int64_t total = 0;
  for (int i = 0; i < in.groups_size(); ++i) {
    const std::string path = absl::StrCat("groups[", i, "]");
    const pb::NodeGroup& g = in.groups(i);
    if (g.name().empty()) return Error(path + ".name", "must not be empty");
    if (!groups_.emplace(g.name(), i).second) {
      return Error(path + ".name", absl::StrCat("duplicate group \"", g.name(), "\""));
    }
    if (g.count() < 1) return Error(path + ".count", "must be >= 1");
    total += g.count();
    if (total > kMaxScenarioNodes) {
      return Error(path + ".count", absl::StrCat("total node count ", total, " exceeds the limit ",
                                                 kMaxScenarioNodes));
    }
  }
  out.groups.resize(in.groups_size());
  for (int i = 0; i < in.groups_size(); ++i) {
    absl::Status s = ConvertGroup(in.groups(i), absl::StrCat("groups[", i, "]"), out.groups[i]);
    if (!s.ok()) return s;
  }

  out.faults.resize(in.faults_size());
  for (int i = 0; i < in.faults_size(); ++i) {
    absl::Status s = ConvertFault(in.faults(i), absl::StrCat("faults[", i, "]"), out.faults[i]);
    if (!s.ok()) return s;
  }

  const pb::DiscoveryModel& disc = in.discovery();
  switch (disc.source()) {
    case pb::DiscoveryModel::ORACLE:
      out.discovery = ScenarioSpec::Discovery::kOracle;
      break;
    case pb::DiscoveryModel::STATIC_ONLY:
      out.discovery = ScenarioSpec::Discovery::kStaticOnly;
      break;
    case pb::DiscoveryModel::DISCV4:
      out.discovery = ScenarioSpec::Discovery::kDiscv4;
      break;
    default:
      return Error("discovery.source", absl::StrCat("unknown value ", disc.source()));
  }
  absl::StatusOr<absl::Duration> lookup =
      DurationField(disc.lookup_interval(), "discovery.lookup_interval", absl::Milliseconds(100));
  if (!lookup.ok()) return lookup.status();
  if (*lookup <= absl::ZeroDuration()) return Error("discovery.lookup_interval", "must be > 0");
  out.lookup_interval = *lookup;
  if (absl::Status s = FractionField(disc.stale_fraction(), "discovery.stale_fraction"); !s.ok()) {
    return s;
  }
  out.stale_fraction = disc.stale_fraction();
  if (disc.signatures() != pb::DiscoveryModel::REAL &&
      disc.signatures() != pb::DiscoveryModel::MODELLED) {
    return Error("discovery.signatures", absl::StrCat("unknown value ", disc.signatures()));
  }
  out.modelled_signatures = disc.signatures() == pb::DiscoveryModel::MODELLED;

  absl::StatusOr<absl::Duration> sample =
      DurationField(in.record().sample_interval(), "record.sample_interval", absl::Seconds(10));
  if (!sample.ok()) return sample.status();
  if (*sample <= absl::ZeroDuration()) return Error("record.sample_interval", "must be > 0");
  out.sample_interval = *sample;
  out.trace_file = in.record().trace_file();

  std::set<std::string> assertion_names;
  out.assertions.resize(in.assertions_size());
  for (int i = 0; i < in.assertions_size(); ++i) {
    const std::string path = absl::StrCat("assertions[", i, "]");
    const std::string& name = in.assertions(i).name();
    if (name.empty()) return Error(path + ".name", "must not be empty");
    if (!assertion_names.insert(name).second) {
      return Error(path + ".name", absl::StrCat("duplicate assertion \"", name, "\""));
    }
    absl::Status s = ConvertAssertion(in.assertions(i), path, out.assertions[i]);
    if (!s.ok()) return s;
  }
  return out;
}

absl::Status Converter::ConvertNetwork(const pb::NetworkModel& in, ScenarioSpec& out) {
  if (in.regions().empty()) {
    out.regions.push_back(
        RegionSpec{kDefaultRegionName, absl::Milliseconds(kDefaultRegionLatencyMs)});
  }
  for (int i = 0; i < in.regions_size(); ++i) {
    const std::string path = absl::StrCat("network.regions[", i, "]");
    const pb::Region& r = in.regions(i);
    if (r.name().empty()) return Error(path + ".name", "must not be empty");
    if (!regions_.emplace(r.name(), i).second) {
      return Error(path + ".name", absl::StrCat("duplicate region \"", r.name(), "\""));
    }
    absl::StatusOr<absl::Duration> latency =
        DurationField(r.internal_latency(), path + ".internal_latency",
                      absl::Milliseconds(kDefaultRegionLatencyMs));
    if (!latency.ok()) return latency.status();
    out.regions.push_back(RegionSpec{r.name(), *latency});
  }
  if (in.regions().empty()) regions_.emplace(kDefaultRegionName, 0);

  // The diagonal holds the internal latencies; an unlinked pair gets the
  // larger of its two internal latencies (two regions no one described as
  // far apart are treated as close).
  const size_t n = out.regions.size();
  out.latency.assign(n, std::vector<absl::Duration>(n));
  for (size_t a = 0; a < n; ++a) {
    for (size_t b = 0; b < n; ++b) {
      out.latency[a][b] =
          std::max(out.regions[a].internal_latency, out.regions[b].internal_latency);
    }
  }
  std::set<std::pair<int, int>> linked;
  for (int i = 0; i < in.links_size(); ++i) {
    const std::string path = absl::StrCat("network.links[", i, "]");
    const pb::Link& l = in.links(i);
    auto a = regions_.find(l.a());
    if (a == regions_.end()) {
      return Error(path + ".a", absl::StrCat("unknown region \"", l.a(), "\""));
    }
    auto b = regions_.find(l.b());
    if (b == regions_.end()) {
      return Error(path + ".b", absl::StrCat("unknown region \"", l.b(), "\""));
    }
    if (a->second == b->second) {
      return Error(path, absl::StrCat("links region \"", l.a(),
                                      "\" to itself (set its internal_latency instead)"));
    }
    if (!linked.emplace(std::min(a->second, b->second), std::max(a->second, b->second)).second) {
      return Error(path, absl::StrCat("duplicate link \"", l.a(), "\" - \"", l.b(), "\""));
    }
    absl::StatusOr<absl::Duration> latency =
        DurationField(l.latency(), path + ".latency", std::nullopt);
    if (!latency.ok()) return latency.status();
    out.latency[a->second][b->second] = out.latency[b->second][a->second] = *latency;
  }

  if (!(in.jitter() >= 0 && in.jitter() < 1)) {
    return Error("network.jitter", absl::StrCat("must be in [0, 1), got ", in.jitter()));
  }
  out.jitter = in.jitter();

  for (int i = 0; i < in.access_size(); ++i) {
    const std::string path = absl::StrCat("network.access[", i, "]");
    const pb::AccessProfile& p = in.access(i);
    if (p.name().empty()) return Error(path + ".name", "must not be empty");
    if (!access_.emplace(p.name(), i).second) {
      return Error(path + ".name", absl::StrCat("duplicate access profile \"", p.name(), "\""));
    }
    absl::StatusOr<absl::Duration> extra =
        DurationField(p.extra_latency(), path + ".extra_latency", absl::ZeroDuration());
    if (!extra.ok()) return extra.status();
    // Loss 1 would make every dial of the node fail: a partition says that.
    if (!(p.loss() >= 0 && p.loss() < 1)) {
      return Error(path + ".loss", absl::StrCat("must be in [0, 1), got ", p.loss()));
    }
    int64_t bandwidth = 0;
    if (!p.bandwidth().empty()) {
      absl::StatusOr<int64_t> rate = ParseRate(p.bandwidth());
      if (!rate.ok()) return Error(path + ".bandwidth", rate.status().message());
      bandwidth = *rate;
    }
    out.access_profiles.push_back(AccessSpec{p.name(), *extra, p.loss(), bandwidth});
  }

  if (absl::Status s = FractionField(in.refuse_fraction(), "network.refuse_fraction"); !s.ok()) {
    return s;
  }
  out.refuse_fraction = in.refuse_fraction();

  if (in.handshake() != pb::NetworkModel::REAL && in.handshake() != pb::NetworkModel::MODELLED) {
    return Error("network.handshake", absl::StrCat("unknown handshake mode ", in.handshake()));
  }
  out.modelled_handshake = in.handshake() == pb::NetworkModel::MODELLED;
  absl::StatusOr<absl::Duration> cpu = DurationField(
      in.modelled_handshake_cpu(), "network.modelled_handshake_cpu", absl::Microseconds(300));
  if (!cpu.ok()) return cpu.status();
  if (!out.modelled_handshake && !in.modelled_handshake_cpu().empty()) {
    return Error("network.modelled_handshake_cpu", "only valid with handshake: MODELLED");
  }
  out.modelled_handshake_cpu = *cpu;
  switch (in.keepalive()) {
    case pb::NetworkModel::MESSAGES:
      out.keepalive = ScenarioSpec::Keepalive::kMessages;
      break;
    case pb::NetworkModel::ELIDED:
      out.keepalive = ScenarioSpec::Keepalive::kElided;
      break;
    default:
      return Error("network.keepalive", absl::StrCat("unknown keepalive mode ", in.keepalive()));
  }
  return absl::OkStatus();
}

absl::Status Converter::ConvertGroup(const pb::NodeGroup& in, const std::string& path,
                                     GroupSpec& out) {
  out.name = in.name();
  out.count = static_cast<int>(in.count());  // Bounded by kMaxScenarioNodes in Convert.
  out.region = 0;
  if (!in.region().empty()) {
    auto it = regions_.find(in.region());
    if (it == regions_.end()) {
      return Error(path + ".region", absl::StrCat("unknown region \"", in.region(), "\""));
    }
    out.region = it->second;
  }
  out.access = -1;
  if (!in.access().empty()) {
    auto it = access_.find(in.access());
    if (it == access_.end()) {
      return Error(path + ".access", absl::StrCat("unknown access profile \"", in.access(), "\""));
    }
    out.access = it->second;
  }
  out.unreachable = in.unreachable();
  out.bootnode = in.bootnode();
  absl::StatusOr<absl::Duration> window =
      DurationField(in.join_window(), path + ".join_window", absl::ZeroDuration());
  if (!window.ok()) return window.status();
  out.join_window = *window;

  const pb::ServerSettings& srv = in.server();
  const std::string spath = path + ".server";
  absl::StatusOr<int> v = SettingField(srv.max_peers(), spath + ".max_peers", kDefaultMaxPeers);
  if (!v.ok()) return v.status();
  out.max_peers = *v;
  v = SettingField(srv.dial_ratio(), spath + ".dial_ratio", kDefaultDialRatio);
  if (!v.ok()) return v.status();
  out.dial_ratio = *v;
  v = SettingField(srv.max_pending_peers(), spath + ".max_pending_peers", kDefaultMaxPendingPeers);
  if (!v.ok()) return v.status();
  out.max_pending_peers = *v;
  out.no_dial = srv.no_dial();
  switch (srv.dial_policy()) {
    case pb::ServerSettings::CURRENT:
      out.dial_policy = DialGeneration::kCurrent;
      break;
    case pb::ServerSettings::LEGACY:
      out.dial_policy = DialGeneration::kLegacy;
      break;
    default:
      return Error(spath + ".dial_policy", absl::StrCat("unknown value ", srv.dial_policy()));
  }
  absl::StatusOr<std::vector<int>> list = GroupList(srv.static_groups(), spath + ".static_groups");
  if (!list.ok()) return list.status();
  out.static_groups = *std::move(list);
  list = GroupList(srv.trusted_groups(), spath + ".trusted_groups");
  if (!list.ok()) return list.status();
  out.trusted_groups = *std::move(list);

  out.churn = ChurnSpec{};
  if (in.has_churn()) return ConvertChurn(in.churn(), path + ".churn", out.churn);
  return absl::OkStatus();
}

absl::Status Converter::ConvertChurn(const pb::Churn& in, const std::string& path, ChurnSpec& out) {
  // A churn message without a lifetime or downtime is a mistake, not a way to
  // say "no churn" (leave the message out for that).
  if (!in.has_lifetime()) return Error(path + ".lifetime", "required");
  if (!in.has_downtime()) return Error(path + ".downtime", "required");
  out.enabled = true;
  if (absl::Status s = ConvertDistribution(in.lifetime(), path + ".lifetime", out.lifetime);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ConvertDistribution(in.downtime(), path + ".downtime", out.downtime);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = FractionField(in.graceful_fraction(), path + ".graceful_fraction");
      !s.ok()) {
    return s;
  }
  out.graceful_fraction = in.graceful_fraction();
  if (absl::Status s = FractionField(in.new_identity_fraction(), path + ".new_identity_fraction");
      !s.ok()) {
    return s;
  }
  out.new_identity_fraction = in.new_identity_fraction();
  return absl::OkStatus();
}

absl::Status Converter::ConvertDistribution(const pb::Distribution& in, const std::string& path,
                                            DistributionSpec& out) {
  out = DistributionSpec{};
  switch (in.kind()) {
    case pb::Distribution::CONSTANT:
      out.kind = DistributionSpec::Kind::kConstant;
      break;
    case pb::Distribution::EXPONENTIAL:
      out.kind = DistributionSpec::Kind::kExponential;
      break;
    case pb::Distribution::WEIBULL:
      out.kind = DistributionSpec::Kind::kWeibull;
      break;
    case pb::Distribution::PARETO:
      out.kind = DistributionSpec::Kind::kPareto;
      break;
    case pb::Distribution::UNIFORM:
      out.kind = DistributionSpec::Kind::kUniform;
      break;
    default:
      return Error(path + ".kind", absl::StrCat("unknown value ", in.kind()));
  }

  // Every distribution must be able to produce a positive time: a lifetime
  // or downtime that is always 0 would make a node flap without end at one
  // instant.
  if (out.kind == DistributionSpec::Kind::kUniform) {
    absl::StatusOr<absl::Duration> min = DurationField(in.min(), path + ".min", std::nullopt);
    if (!min.ok()) return min.status();
    absl::StatusOr<absl::Duration> max = DurationField(in.max(), path + ".max", std::nullopt);
    if (!max.ok()) return max.status();
    if (*max < *min) {
      return Error(path + ".max", absl::StrCat("must be >= min ", absl::FormatDuration(*min),
                                               ", got ", absl::FormatDuration(*max)));
    }
    if (*max <= absl::ZeroDuration()) return Error(path + ".max", "must be > 0");
    out.min = *min;
    out.max = *max;
    return absl::OkStatus();
  }

  absl::StatusOr<absl::Duration> mean = DurationField(in.mean(), path + ".mean", std::nullopt);
  if (!mean.ok()) return mean.status();
  if (*mean <= absl::ZeroDuration()) return Error(path + ".mean", "must be > 0");
  out.mean = *mean;
  if (out.kind == DistributionSpec::Kind::kWeibull) {
    if (!(in.shape() > 0) || !std::isfinite(in.shape())) {
      return Error(path + ".shape", absl::StrCat("must be > 0, got ", in.shape()));
    }
    out.shape = in.shape();
  } else if (out.kind == DistributionSpec::Kind::kPareto) {
    // shape <= 1 has an infinite mean.
    if (!(in.shape() > 1) || !std::isfinite(in.shape())) {
      return Error(path + ".shape", absl::StrCat("must be > 1, got ", in.shape()));
    }
    out.shape = in.shape();
  }
  return absl::OkStatus();
}

absl::Status Converter::ConvertFault(const pb::Fault& in, const std::string& path, FaultSpec& out) {
  absl::StatusOr<absl::Duration> at = DurationField(in.at(), path + ".at", std::nullopt);
  if (!at.ok()) return at.status();
  if (*at >= run_duration_) {
    return Error(path + ".at",
                 absl::StrCat("must be < duration ", absl::FormatDuration(run_duration_), ", got ",
                              absl::FormatDuration(*at)));
  }
  out.at = *at;
  absl::StatusOr<absl::Duration> length =
      DurationField(in.duration(), path + ".duration", absl::ZeroDuration());
  if (!length.ok()) return length.status();
  out.duration.reset();
  if (*length > absl::ZeroDuration()) out.duration = *length;

  switch (in.kind_case()) {
    case pb::Fault::kPartition: {
      out.kind = FaultSpec::Kind::kPartition;
      const std::string ppath = path + ".partition";
      const pb::Partition& p = in.partition();
      if (p.side_a().empty()) return Error(ppath + ".side_a", "must not be empty");
      if (p.side_b().empty()) return Error(ppath + ".side_b", "must not be empty");
      absl::StatusOr<std::vector<int>> a = GroupList(p.side_a(), ppath + ".side_a");
      if (!a.ok()) return a.status();
      absl::StatusOr<std::vector<int>> b = GroupList(p.side_b(), ppath + ".side_b");
      if (!b.ok()) return b.status();
      for (size_t i = 0; i < b->size(); ++i) {
        if (std::find(a->begin(), a->end(), (*b)[i]) != a->end()) {
          return Error(absl::StrCat(ppath, ".side_b[", i, "]"),
                       absl::StrCat("group \"", p.side_b(i), "\" is on both sides"));
        }
      }
      out.side_a = *std::move(a);
      out.side_b = *std::move(b);
      return absl::OkStatus();
    }
    case pb::Fault::kOutage: {
      out.kind = FaultSpec::Kind::kOutage;
      const std::string opath = path + ".outage.groups";
      if (in.outage().groups().empty()) return Error(opath, "must not be empty");
      absl::StatusOr<std::vector<int>> groups = GroupList(in.outage().groups(), opath);
      if (!groups.ok()) return groups.status();
      out.groups = *std::move(groups);
      return absl::OkStatus();
    }
    case pb::Fault::KIND_NOT_SET:
      break;
  }
  return Error(path, "must set partition or outage");
}

absl::Status Converter::ConvertAssertion(const pb::Assertion& in, const std::string& path,
                                         PeerFillSpec& out) {
  out.name = in.name();
  if (in.check_case() != pb::Assertion::kPeerFill) return Error(path, "must set peer_fill");
  const std::string ppath = path + ".peer_fill";
  const pb::PeerFill& p = in.peer_fill();
  absl::StatusOr<std::vector<int>> groups = GroupList(p.groups(), ppath + ".groups");
  if (!groups.ok()) return groups.status();
  out.groups = *std::move(groups);
  out.reachable_only = p.reachable_only();
  absl::StatusOr<int> min_peers = SettingField(p.min_peers(), ppath + ".min_peers", 0);
  if (!min_peers.ok()) return min_peers.status();
  out.min_peers = *min_peers;
  if (absl::Status s = FractionField(p.fraction(), ppath + ".fraction"); !s.ok()) return s;
  out.fraction = p.fraction();
  out.at.reset();
  if (!p.at().empty()) {
    absl::StatusOr<absl::Duration> at = DurationField(p.at(), ppath + ".at", std::nullopt);
    if (!at.ok()) return at.status();
    if (*at > run_duration_) {
      return Error(ppath + ".at",
                   absl::StrCat("must be <= duration ", absl::FormatDuration(run_duration_),
                                ", got ", absl::FormatDuration(*at)));
    }
    out.at = *at;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<absl::Duration> ParseSimDuration(absl::string_view text) {
  absl::Duration d;
  // absl accepts "-1s", "-0s" and "inf"; a simulated time span is none of
  // those. The sign check comes first so "-0s" is refused as well.
  if (text.empty() || text.front() == '-' || !absl::ParseDuration(text, &d) ||
      d == absl::InfiniteDuration() || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid duration \"", text, "\""));
  }
  return d;
}

absl::Duration SampleDuration(const DistributionSpec& d, Rng& rng) {
  const double mean_ns = absl::ToDoubleNanoseconds(d.mean);
  switch (d.kind) {
    case DistributionSpec::Kind::kConstant:
      return Clamp(d.mean);
    case DistributionSpec::Kind::kExponential:
      return ClampNanos(-mean_ns * std::log(OpenUnit(rng)));
    case DistributionSpec::Kind::kWeibull:
      // Inverse transform: scale * (-ln U)^(1/shape).
      return ClampNanos(mean_ns * std::pow(-std::log(OpenUnit(rng)), 1.0 / d.shape));
    case DistributionSpec::Kind::kPareto:
      // Inverse transform: x_m / U^(1/shape); U < 1 keeps it >= x_m.
      return ClampNanos(mean_ns / std::pow(OpenUnit(rng), 1.0 / d.shape));
    case DistributionSpec::Kind::kUniform: {
      // Integer nanoseconds: exact and the same on every platform.
      const int64_t lo = absl::ToInt64Nanoseconds(Clamp(std::min(d.min, d.max)));
      const int64_t hi = absl::ToInt64Nanoseconds(Clamp(std::max(d.min, d.max)));
      return absl::Nanoseconds(rng.Range(lo, hi));
    }
  }
  return absl::ZeroDuration();
}

int ScenarioSpec::total_nodes() const {
  int64_t total = 0;
  for (const GroupSpec& g : groups) total += g.count;
  return static_cast<int>(total);
}

int ScenarioSpec::GroupIndex(absl::string_view name) const {
  for (size_t i = 0; i < groups.size(); ++i) {
    if (groups[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const char* DiscoveryName(ScenarioSpec::Discovery d) {
  switch (d) {
    case ScenarioSpec::Discovery::kOracle:
      return "oracle";
    case ScenarioSpec::Discovery::kStaticOnly:
      return "static_only";
    case ScenarioSpec::Discovery::kDiscv4:
      return "discv4";
  }
  return "unknown";
}

std::optional<ScenarioSpec::Discovery> ParseDiscoveryName(absl::string_view name) {
  for (ScenarioSpec::Discovery d :
       {ScenarioSpec::Discovery::kOracle, ScenarioSpec::Discovery::kStaticOnly,
        ScenarioSpec::Discovery::kDiscv4}) {
    if (name == DiscoveryName(d)) return d;
  }
  return std::nullopt;
}

const char* KeepaliveName(ScenarioSpec::Keepalive k) {
  return k == ScenarioSpec::Keepalive::kElided ? "elided" : "messages";
}

std::optional<ScenarioSpec::Keepalive> ParseKeepaliveName(absl::string_view name) {
  for (ScenarioSpec::Keepalive k :
       {ScenarioSpec::Keepalive::kMessages, ScenarioSpec::Keepalive::kElided}) {
    if (name == KeepaliveName(k)) return k;
  }
  return std::nullopt;
}

absl::StatusOr<ScenarioSpec> ParseScenario(absl::string_view text, absl::string_view origin) {
  pb::Scenario message;
  google::protobuf::TextFormat::Parser parser;
  FirstErrorCollector errors;
  parser.RecordErrorsTo(&errors);
  // Misspelled fields must fail loudly, never be skipped (the default, made
  // explicit because silently ignoring them would change a run's meaning).
  parser.AllowUnknownField(false);
  parser.AllowUnknownExtension(false);
  if (!parser.ParseFromString(std::string(text), &message) || errors.has_error()) {
    if (!errors.has_error()) {
      return absl::InvalidArgumentError(
          absl::StrCat(origin, origin.empty() ? "" : ": ", "invalid protobuf text format"));
    }
    return absl::InvalidArgumentError(errors.Format(origin));
  }
  return Converter(origin).Convert(message);
}

}  // namespace p2p::sim
