#include "sim/world.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/dial/dial_policy.h"
#include "core/dial/node_iterator.h"
#include "core/discover/udp.h"
#include "core/hex.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/server/server.h"

namespace p2p::sim {
namespace {

constexpr uint16_t kPort = 30303;
// Simulated nodes get addresses from 100.64.0.0/10: not LAN by go-ethereum's
// rules, so the 30 s per-IP inbound throttle applies as on the internet.
constexpr uint32_t kIpBase = 0x64400000;
constexpr uint32_t kIpCount = 1u << 22;
// Under DISCV4, consecutive nodes get addresses in different /24 subnets
// (the k-th in subnet k mod 2^14, host k / 2^14 + 1): the discovery table
// admits at most 10 nodes per /24 (tableIPLimit), so packing nodes into a
// few subnets, as the oracle runs do, would starve every table. 255 host
// numbers per subnet.
constexpr uint32_t kSubnets = 1u << 14;
constexpr uint32_t kSpreadIpCount = 255 * kSubnets;
// A graceful stop that has not finished after this long is cut short.
constexpr absl::Duration kStopGrace = absl::Seconds(3);
// discv4 packets carry Unix expiration stamps: virtual time 0 is this Unix
// time (2023-11-14), so runs do not depend on the wall clock.
constexpr int64_t kDiscv4EpochUnixSeconds = 1700000000;

// The top 53 bits of `bits` as a double in [0, 1).
double UnitInterval(uint64_t bits) {
  return static_cast<double>(bits >> 11) * (1.0 / 9007199254740992.0);
}

// True with probability p, drawing from `rng` only when 0 < p < 1.
bool Bernoulli(Rng& rng, double p) {
  if (p <= 0) return false;
  if (p >= 1) return true;
  return UnitInterval(rng.Next64()) < p;
}

// SplitMix64 finaliser: a fixed, well-mixed function of its input.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint32_t IpKey(const IpAddress& ip) {
  const auto& b = ip.bytes16();
  return (uint32_t{b[12]} << 24) | (uint32_t{b[13]} << 16) | (uint32_t{b[14]} << 8) | b[15];
}

std::string ShortId(const NodeId& id) { return id.TerminalString().substr(0, 8); }

}  // namespace

// ---------------------------------------------------------------------------

struct World::SimNode {
  int index = 0;
  int group = 0;
  std::optional<PrivateKey> key;
  Node node;
  bool online = false;
  bool leaving = false;
  int outages = 0;  // Active outage faults covering this node.
  bool rejoin_after_outage = false;
  Rng rng{0};
  SimLoop* loop = nullptr;  // In World::node_loops_.
  std::unique_ptr<RngEntropy> entropy;
  std::unique_ptr<Network> net;
  std::unique_ptr<Oracle> oracle;
  // DISCV4 only: the node's discovery endpoint and the dialer's candidate
  // iterator over it (destroyed before it).
  std::unique_ptr<discover::UdpV4> discv4;
  std::unique_ptr<NodeIterator> discv4_iterator;
  std::unique_ptr<NodeObserver> observer;
  std::unique_ptr<Server> server;
  TimerId churn_timer = 0;
  TimerId stop_timer = 0;
  // Time-to-N-peers of the first session: join time, first reach times.
  std::optional<absl::Duration> first_join;
  bool first_session = true;
  std::optional<absl::Duration> reached[std::size(kPeerThresholds)];
};

// Modelled discovery: random online nodes, one per lookup interval
// (NodeIterator for the current dialer, DiscoveryTable for v1.8.24's).
class World::Oracle : public NodeIterator, public DiscoveryTable {
 public:
  Oracle(World* w, int self, EventLoop* loop, Rng rng)
      : w_(w), self_(self), loop_(loop), rng_(rng) {}
  ~Oracle() override {
    if (timer_ != 0) loop_->Cancel(timer_);
    if (lookup_timer_ != 0) loop_->Cancel(lookup_timer_);
  }

  void Next(NextCallback cb) override {
    if (closed_) {
      loop_->Post([cb = std::move(cb)]() mutable { cb(std::nullopt); });
      return;
    }
    pending_ = std::move(cb);
    timer_ = loop_->RunAfter(w_->spec_.lookup_interval, [this] { Deliver(); });
  }
  void Close() override {
    if (closed_) return;
    closed_ = true;
    if (timer_ != 0) loop_->Cancel(timer_);
    timer_ = 0;
    if (pending_) {
      loop_->Post([cb = std::move(pending_)]() mutable { cb(std::nullopt); });
      pending_ = nullptr;
    }
  }

  int ReadRandomNodes(absl::Span<Node> out) override {
    int n = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      std::optional<Node> node = Pick();
      if (!node) break;
      out[n++] = *std::move(node);
    }
    return n;
  }
  void LookupRandom(LookupCallback done) override {
    // A lookup takes a few round trips; modelled as 8 lookup intervals and
    // finds up to 16 nodes (bucket size).
    lookup_done_ = std::move(done);
    lookup_timer_ = loop_->RunAfter(8 * w_->spec_.lookup_interval, [this] {
      lookup_timer_ = 0;
      std::vector<Node> found;
      for (int i = 0; i < 16; ++i) {
        std::optional<Node> n = Pick();
        if (!n) break;
        found.push_back(*std::move(n));
      }
      LookupCallback cb = std::move(lookup_done_);
      cb(std::move(found));
    });
  }

 private:
  void Deliver() {
    timer_ = 0;
    std::optional<Node> n = Pick();
    if (!n) {
      timer_ = loop_->RunAfter(w_->spec_.lookup_interval, [this] { Deliver(); });
      return;
    }
    NextCallback cb = std::move(pending_);
    pending_ = nullptr;
    cb(std::move(n));
  }

  std::optional<Node> Pick() {
    if (Bernoulli(rng_, w_->spec_.stale_fraction)) {
      const int i = static_cast<int>(rng_.Uniform(w_->nodes_.size()));
      if (i != self_) return w_->nodes_[i]->node;
    }
    const int online = static_cast<int>(w_->online_.size());
    const int self_online = w_->online_pos_[self_] >= 0 ? 1 : 0;
    if (online - self_online <= 0) return std::nullopt;
    for (;;) {
      const int i = w_->online_[rng_.Uniform(static_cast<uint64_t>(online))];
      if (i != self_) return w_->nodes_[i]->node;
    }
  }

  World* w_;
  int self_;
  EventLoop* loop_;
  Rng rng_;
  bool closed_ = false;
  NextCallback pending_;
  TimerId timer_ = 0;
  LookupCallback lookup_done_;
  TimerId lookup_timer_ = 0;
};

// Turns one node's server and dial events into trace lines and counters.
class World::NodeObserver : public ServerObserver, public DialObserver {
 public:
  NodeObserver(World* w, int node) : w_(w), node_(node) {}

  void OnDialEvent(const DialEvent& e) override {
    WorldStats& s = w_->stats_;
    switch (e.kind) {
      case DialEvent::Kind::kDialStart:
        ++s.dials_started;
        w_->TraceEvent(node_, "dial", absl::StrCat(ShortId(e.id), " ", ConnFlagsString(e.flags)));
        return;
      case DialEvent::Kind::kDialDone:
        if (e.status.ok()) {
          ++s.dials_succeeded;
        } else {
          ++s.dials_failed;
          ++s.dial_failures[DialFailureReason(e.status)];
        }
        w_->TraceEvent(
            node_, "dialdone",
            absl::StrCat(ShortId(e.id), " ", e.status.ok() ? "ok" : DialFailureReason(e.status)));
        return;
      case DialEvent::Kind::kTaskTimeout:
        w_->TraceEvent(node_, "dialtimeout", ShortId(e.id));
        return;
      case DialEvent::Kind::kLookup:
        w_->TraceEvent(node_, "lookup", absl::StrCat(e.count));
        return;
      case DialEvent::Kind::kResolve:
      case DialEvent::Kind::kDnsLookup:
      case DialEvent::Kind::kDiscard:
        return;  // Not significant: candidates skipped, resolves (none here).
    }
  }

  void OnServerEvent(const ServerEvent& e) override {
    WorldStats& s = w_->stats_;
    switch (e.kind) {
      case ServerEvent::Kind::kPeerAdded: {
        ++s.peers_added;
        SimNode& n = *w_->nodes_[node_];
        if (n.first_session && n.server != nullptr) {
          const int count = n.server->PeerCount();
          for (size_t k = 0; k < std::size(kPeerThresholds); ++k) {
            if (!n.reached[k] && count >= kPeerThresholds[k]) n.reached[k] = w_->Now();
          }
        }
        w_->TraceEvent(node_, "add", absl::StrCat(ShortId(e.id), " ", ConnFlagsString(e.flags)));
        return;
      }
      case ServerEvent::Kind::kPeerDropped: {
        ++s.peers_dropped;
        const std::string reason = rlpx::DisconnectReasonString(e.reason);
        ++s.drop_reasons[reason];
        w_->TraceEvent(
            node_, "drop",
            absl::StrCat(ShortId(e.id), " ", reason, e.remote_requested ? " remote" : ""));
        return;
      }
      case ServerEvent::Kind::kSetupFailed: {
        const std::string what =
            absl::StrCat(e.stage, ": ", rlpx::DisconnectReasonString(e.reason));
        ++s.setup_failures[what];
        w_->TraceEvent(node_, "setupfail", absl::StrCat(ShortId(e.id), " ", what));
        return;
      }
      case ServerEvent::Kind::kInboundRejected:
        ++s.inbound_rejected;
        w_->TraceEvent(node_, "reject", absl::StrCat(e.remote.ip.ToString(), " ", e.detail));
        return;
    }
  }

 private:
  World* w_;
  int node_;
};

// ---------------------------------------------------------------------------

World::World(ScenarioSpec spec, uint64_t seed, absl::Duration duration,
             absl::AnyInvocable<void(absl::string_view)> trace_line)
    : spec_(std::move(spec)),
      seed_(seed),
      duration_(duration),
      trace_line_(std::move(trace_line)),
      rng_(seed) {}

World::~World() {
  // Servers first (they own connections whose ends live on other loops),
  // then networks, then the nodes; their loops (node_loops_), the switch
  // and the queue last.
  for (auto& n : nodes_) n->server.reset();
  for (auto& n : nodes_) {
    n->discv4_iterator.reset();
    n->discv4.reset();
    n->oracle.reset();
    n->net.reset();
  }
  nodes_.clear();
  world_loop_.reset();
  switch_.reset();
}

absl::Duration World::Now() const { return absl::Nanoseconds(queue_.now_ns()); }

absl::Status World::Init() {
  if (initialized_) return absl::FailedPreconditionError("world: Init called twice");
  initialized_ = true;
  world_loop_ = std::make_unique<SimLoop>(&queue_);
  MemSwitchOptions opts;
  opts.latency = [this](const IpAddress& a, const IpAddress& b) { return Latency(a, b); };
  opts.filter = [this](const IpAddress& a, const IpAddress& b, bool tcp) {
    return Filter(a, b, tcp);
  };
  // Access-link rates: each direction of a connection runs at the smaller
  // rate of its two ends (a node without a rate is unlimited).
  opts.bandwidth = [this](const IpAddress& a, const IpAddress& b) -> std::optional<int64_t> {
    int64_t rate = 0;  // 0: unlimited.
    for (const int n : {NodeAt(a), NodeAt(b)}) {
      const int access = n < 0 ? -1 : spec_.groups[nodes_[n]->group].access;
      if (access < 0) continue;
      const int64_t r = spec_.access_profiles[access].bandwidth_bits_per_second;
      if (r > 0 && (rate == 0 || r < rate)) rate = r;
    }
    if (rate == 0) return std::nullopt;
    return rate;
  };
  switch_ = std::make_unique<MemSwitch>(std::move(opts));

  // Nodes, in group order; identities from the root seed.
  group_members_.resize(spec_.groups.size());
  for (int g = 0; g < static_cast<int>(spec_.groups.size()); ++g) {
    for (int k = 0; k < spec_.groups[g].count; ++k) {
      group_members_[g].push_back(static_cast<int>(nodes_.size()));
      auto n = std::make_unique<SimNode>();
      n->index = static_cast<int>(nodes_.size());
      n->group = g;
      n->rng = rng_.Fork();
      n->loop = &node_loops_.emplace_back(&queue_);
      n->entropy = std::make_unique<RngEntropy>(n->rng.Fork());
      nodes_.push_back(std::move(n));
      online_pos_.push_back(-1);
      NewIdentity(*nodes_.back());
    }
  }
  // Joins, spread over each group's join window.
  for (auto& n : nodes_) {
    const absl::Duration window = spec_.groups[n->group].join_window;
    absl::Duration at;
    if (window > absl::ZeroDuration()) {
      at = absl::Nanoseconds(rng_.Uniform(static_cast<uint64_t>(absl::ToInt64Nanoseconds(window))));
    }
    const int i = n->index;
    world_loop_->RunAfter(at, [this, i] { Join(i); });
  }
  for (int f = 0; f < static_cast<int>(spec_.faults.size()); ++f) {
    const FaultSpec& fs = spec_.faults[f];
    world_loop_->RunAfter(fs.at, [this, f] { StartFault(spec_.faults[f], f); });
    if (fs.duration) {
      world_loop_->RunAfter(fs.at + *fs.duration, [this, f] { EndFault(spec_.faults[f], f); });
    }
  }
  // Samples at 0, every interval, and at the end; then the assertions.
  for (absl::Duration t; t < duration_; t += spec_.sample_interval) {
    world_loop_->RunAfter(t, [this] { TakeSample(); });
  }
  world_loop_->RunAfter(duration_, [this] { TakeSample(); });
  for (const PeerFillSpec& a : spec_.assertions) {
    const absl::Duration at = a.at ? std::min(*a.at, duration_) : duration_;
    world_loop_->RunAfter(at, [this, &a] { CheckAssertion(a); });
  }
  return absl::OkStatus();
}

uint64_t World::RunUntil(absl::Duration t) {
  t = std::min(t, duration_);
  return queue_.RunUntil(absl::ToInt64Nanoseconds(t));
}

// ---------------------------------------------------------------------------
// Identities and addresses.

IpAddress World::NextIp() {
  if (spec_.discovery == ScenarioSpec::Discovery::kDiscv4) {
    ABSL_RAW_CHECK(next_ip_ + 1 < kSpreadIpCount, "world: out of simulated addresses");
    const uint32_t k = ++next_ip_;
    return IpAddress::V4(kIpBase + ((k % kSubnets) << 8) + k / kSubnets + 1);
  }
  ABSL_RAW_CHECK(next_ip_ + 1 < kIpCount, "world: out of simulated addresses");
  return IpAddress::V4(kIpBase + ++next_ip_);
}

int World::NodeAt(const IpAddress& ip) const {
  if (!ip.is_v4()) return -1;
  const uint32_t slot = IpKey(ip) - kIpBase;
  return slot < node_by_slot_.size() ? node_by_slot_[slot] : -1;
}

void World::NewIdentity(SimNode& n) {
  if (n.key) node_by_slot_[IpKey(n.node.ip) - kIpBase] = -1;
  n.key = PrivateKey::Generate(*n.entropy);
  n.node = Node::FromPublicKey(DerivePublicKey(*n.key), NextIp(), kPort, kPort);
  const uint32_t slot = IpKey(n.node.ip) - kIpBase;
  if (node_by_slot_.size() <= slot) node_by_slot_.resize(slot + 1, -1);
  node_by_slot_[slot] = n.index;
}

std::vector<Node> World::GroupNodes(const std::vector<int>& groups, int except) const {
  std::vector<Node> out;
  for (int g : groups) {
    for (int i : group_members_[g]) {
      if (i != except) out.push_back(nodes_[i]->node);
    }
  }
  return out;
}

void World::AddOnline(int i) {
  online_pos_[i] = static_cast<int>(online_.size());
  online_.push_back(i);
}

void World::RemoveOnline(int i) {
  const int pos = online_pos_[i];
  if (pos < 0) return;
  const int last = online_.back();
  online_[pos] = last;
  online_pos_[last] = pos;
  online_.pop_back();
  online_pos_[i] = -1;
}

// ---------------------------------------------------------------------------
// Network model.

absl::Duration World::Latency(const IpAddress& from, const IpAddress& to) {
  const int na = NodeAt(from), nb = NodeAt(to);
  if (na < 0 || nb < 0) return spec_.regions[0].internal_latency;
  const GroupSpec& ga = spec_.groups[nodes_[na]->group];
  const GroupSpec& gb = spec_.groups[nodes_[nb]->group];
  absl::Duration d = spec_.latency[ga.region][gb.region];
  if (spec_.jitter > 0) {
    // A factor in [1 - jitter, 1 + jitter], fixed per pair of addresses.
    const uint32_t a = IpKey(from), b = IpKey(to);
    const uint64_t h = Mix(seed_ ^ Mix((uint64_t{std::min(a, b)} << 32) | std::max(a, b)));
    const double u = UnitInterval(h);
    d = d * (1 - spec_.jitter + 2 * spec_.jitter * u);
  }
  if (ga.access >= 0) d += spec_.access_profiles[ga.access].extra_latency;
  if (gb.access >= 0) d += spec_.access_profiles[gb.access].extra_latency;
  return absl::Nanoseconds(absl::ToInt64Nanoseconds(d));  // Whole ns: exact sums.
}

MemVerdict World::Filter(const IpAddress& from, const IpAddress& to, bool tcp) {
  const int na = NodeAt(from), nb = NodeAt(to);
  if (na < 0 || nb < 0) return MemVerdict::kDeliver;
  const int ga = nodes_[na]->group, gb = nodes_[nb]->group;
  for (const auto& [f, side] : partitions_) {
    if (side[ga] != 0 && side[gb] != 0 && side[ga] != side[gb]) return MemVerdict::kDrop;
  }
  if (tcp && spec_.groups[gb].unreachable) return MemVerdict::kDrop;  // NAT.
  // Access-link loss, independent at the two ends; no draw when neither
  // end has any (runs without loss are unchanged).
  auto loss = [this](int g) {
    const int p = spec_.groups[g].access;
    return p < 0 ? 0.0 : spec_.access_profiles[p].loss;
  };
  if (Bernoulli(rng_, 1 - (1 - loss(ga)) * (1 - loss(gb)))) return MemVerdict::kLose;
  if (tcp && Bernoulli(rng_, spec_.refuse_fraction)) return MemVerdict::kRefuse;
  return MemVerdict::kDeliver;
}

// ---------------------------------------------------------------------------
// Node lifecycle.

void World::Join(int i) {
  SimNode& n = *nodes_[i];
  if (n.online) return;
  if (n.outages > 0) {
    n.rejoin_after_outage = true;
    return;
  }
  if (n.leaving) {  // Still shutting down: try again shortly.
    world_loop_->RunAfter(absl::Seconds(1), [this, i] { Join(i); });
    return;
  }
  const GroupSpec& g = spec_.groups[n.group];
  auto net = switch_->AddHost(n.loop, n.node.ip);
  ABSL_RAW_CHECK(net.ok(), "world: simulated address in use");
  n.net = *std::move(net);
  if (spec_.discovery != ScenarioSpec::Discovery::kDiscv4) {
    n.oracle = std::make_unique<Oracle>(this, i, n.loop, n.rng.Fork());
  }
  n.observer = std::make_unique<NodeObserver>(this, i);

  ServerConfig c;
  c.key = n.key;
  c.name = absl::StrCat("p2psim/", g.name);
  c.max_peers = g.max_peers;
  c.dial_ratio = g.dial_ratio;
  c.max_pending_peers = g.max_pending_peers;
  c.no_dial = g.no_dial;
  c.dial_generation = g.dial_policy;
  c.listen = Endpoint{n.node.ip, kPort};
  c.static_nodes = GroupNodes(g.static_groups, i);
  c.trusted_nodes = GroupNodes(g.trusted_groups, i);
  std::vector<int> boot;
  for (int k = 0; k < static_cast<int>(spec_.groups.size()); ++k) {
    if (spec_.groups[k].bootnode) boot.push_back(k);
  }
  c.bootnodes = GroupNodes(boot, i);
  c.protocols.push_back(Protocol{"sim", 1, 1, nullptr});
  c.conn_options.modelled_crypto = spec_.modelled_handshake;
  c.conn_options.modelled_handshake_cpu = spec_.modelled_handshake_cpu;
  c.conn_options.elide_keepalive = spec_.keepalive == ScenarioSpec::Keepalive::kElided;
  ServerDeps d;
  d.loop = n.loop;
  d.net = n.net.get();
  d.entropy = n.entropy.get();
  d.rng = n.rng.Fork();
  if (spec_.discovery == ScenarioSpec::Discovery::kOracle) {
    d.candidates = n.oracle.get();
    d.table = n.oracle.get();
  } else if (spec_.discovery == ScenarioSpec::Discovery::kDiscv4) {
    StartDiscv4(n, c.bootnodes);
    d.candidates = n.discv4_iterator.get();
    d.table = n.discv4.get();
    d.resolver = n.discv4.get();
  }
  d.observer = n.observer.get();
  d.dial_observer = n.observer.get();
  n.server = std::make_unique<Server>(std::move(c), d);
  const absl::Status s = n.server->Start();
  ABSL_RAW_CHECK(s.ok(), "world: server failed to start");
  n.online = true;
  if (!n.first_join) n.first_join = Now();
  AddOnline(i);
  ++stats_.joins;
  TraceEvent(i, "join", absl::StrCat(ShortId(n.node.id), " ", n.node.ip.ToString()));
  ScheduleChurn(i, true);
}

void World::StartDiscv4(SimNode& n, const std::vector<Node>& bootnodes) {
  discover::UdpV4Config cfg;
  cfg.modelled_signatures = spec_.modelled_signatures;
  auto udp = discover::UdpV4::Create(
      n.loop, n.net.get(), Endpoint{n.node.ip, kPort}, *n.key, kPort,
      [this] { return absl::FromUnixSeconds(kDiscv4EpochUnixSeconds) + Now(); }, n.rng.Fork(),
      std::move(cfg));
  ABSL_RAW_CHECK(udp.ok(), "world: discv4 failed to open its socket");
  n.discv4 = *std::move(udp);
  n.discv4->Start(bootnodes);
  // As go-ethereum's setupDiscovery: the dialer reads a FairMix of the
  // discovery sources (here the one lookup iterator).
  auto mix = std::make_unique<FairMix>(n.loop, kDiscmixTimeout);
  mix->AddSource(n.discv4->NewLookupIterator());
  n.discv4_iterator = std::move(mix);
}

namespace {

void AddCounts(const std::map<std::string, int64_t>& from, std::map<std::string, int64_t>& to) {
  for (const auto& [k, v] : from) to[k] += v;
}

void AddDiscv4Stats(const discover::UdpV4Stats& s, Discv4Totals& t) {
  AddCounts(s.sent, t.sent);
  AddCounts(s.received, t.received);
  AddCounts(s.dropped, t.dropped);
  t.send_errors += s.send_errors;
  t.requests_timed_out += s.requests_timed_out;
  t.lookups += s.lookups_done;
}

}  // namespace

void World::StopDiscv4(SimNode& n) {
  n.discv4_iterator.reset();
  if (n.discv4 != nullptr) AddDiscv4Stats(n.discv4->stats(), discv4_closed_);
  n.discv4.reset();
}

Discv4Totals World::discv4_totals() const {
  Discv4Totals t = discv4_closed_;
  for (const auto& n : nodes_) {
    if (n->discv4 != nullptr) AddDiscv4Stats(n->discv4->stats(), t);
  }
  return t;
}

void World::Leave(int i, bool graceful, bool churn) {
  SimNode& n = *nodes_[i];
  if (!n.online) return;
  n.online = false;
  n.first_session = false;
  RemoveOnline(i);
  ++stats_.leaves;
  TraceEvent(i, "leave", graceful ? "graceful" : "vanish");
  if (n.churn_timer != 0 && !churn) world_loop_->Cancel(n.churn_timer);
  n.churn_timer = 0;
  if (!graceful) {
    Destroy(i);
    return;
  }
  n.leaving = true;
  n.server->Stop([this, i] { world_loop_->Post([this, i] { Destroy(i); }); });
  n.stop_timer = world_loop_->RunAfter(kStopGrace, [this, i] { Destroy(i); });
}

void World::Destroy(int i) {
  SimNode& n = *nodes_[i];
  if (n.server == nullptr) return;
  if (n.stop_timer != 0) world_loop_->Cancel(n.stop_timer);
  n.stop_timer = 0;
  n.server.reset();  // Resets its connections (the peers see it).
  StopDiscv4(n);     // Closes its socket: later datagrams to it are lost.
  n.oracle.reset();
  n.observer.reset();
  n.net.reset();  // Leaves the switch: later dials are refused.
  n.loop->DropPending();
  n.leaving = false;
}

void World::ScheduleChurn(int i, bool online_now) {
  SimNode& n = *nodes_[i];
  const ChurnSpec& c = spec_.groups[n.group].churn;
  if (!c.enabled) return;
  if (online_now) {
    const absl::Duration life = SampleDuration(c.lifetime, n.rng);
    n.churn_timer = world_loop_->RunAfter(life, [this, i] {
      SimNode& m = *nodes_[i];
      const ChurnSpec& cc = spec_.groups[m.group].churn;
      m.churn_timer = 0;
      Leave(i, Bernoulli(m.rng, cc.graceful_fraction), /*churn=*/true);
      ScheduleChurn(i, false);
    });
  } else {
    const absl::Duration down = SampleDuration(c.downtime, n.rng);
    n.churn_timer = world_loop_->RunAfter(down, [this, i] {
      SimNode& m = *nodes_[i];
      m.churn_timer = 0;
      if (Bernoulli(m.rng, spec_.groups[m.group].churn.new_identity_fraction)) {
        if (m.leaving) Destroy(i);
        NewIdentity(m);
      }
      Join(i);
    });
  }
}

// ---------------------------------------------------------------------------
// Faults.

void World::StartFault(const FaultSpec& f, int index) {
  if (f.kind == FaultSpec::Kind::kOutage) {
    TraceEvent(-1, "outage", absl::StrCat("start ", index));
    for (auto& n : nodes_) {
      if (std::find(f.groups.begin(), f.groups.end(), n->group) == f.groups.end()) continue;
      ++n->outages;
      if (n->online) {
        n->rejoin_after_outage = true;
        Leave(n->index, /*graceful=*/false, /*churn=*/false);
      }
    }
    return;
  }
  TraceEvent(-1, "partition", absl::StrCat("start ", index));
  std::vector<int> side(spec_.groups.size(), 0);
  for (int g : f.side_a) side[g] = 1;
  for (int g : f.side_b) side[g] = 2;
  partitions_[index] = side;
  // Established connections across the cut break (network error both ways).
  for (auto& n : nodes_) {
    if (!n->online || side[n->group] != 1) continue;
    for (const PeerInfo& p : n->server->Peers()) {
      const int other = NodeAt(p.remote.ip);
      if (other < 0) continue;
      if (side[nodes_[other]->group] == 2) {
        n->server->DisconnectPeer(p.node.id, rlpx::DisconnectReason::kNetworkError);
      }
    }
  }
}

void World::EndFault(const FaultSpec& f, int index) {
  if (f.kind == FaultSpec::Kind::kOutage) {
    TraceEvent(-1, "outage", absl::StrCat("end ", index));
    for (auto& n : nodes_) {
      if (std::find(f.groups.begin(), f.groups.end(), n->group) == f.groups.end()) continue;
      if (--n->outages == 0 && n->rejoin_after_outage) {
        n->rejoin_after_outage = false;
        Join(n->index);
      }
    }
    return;
  }
  TraceEvent(-1, "partition", absl::StrCat("end ", index));
  partitions_.erase(index);
}

// ---------------------------------------------------------------------------
// Measurements.

std::vector<int> World::PeerCounts() const {
  std::vector<int> out(nodes_.size(), -1);
  for (const auto& n : nodes_) {
    if (n->online) out[n->index] = n->server->PeerCount();
  }
  return out;
}

void World::TakeSample() {
  PeerSample s;
  s.t = Now();
  std::vector<int> counts;
  counts.reserve(online_.size());
  for (const auto& n : nodes_) {
    if (n->online) counts.push_back(n->server->PeerCount());
  }
  s.online = static_cast<int>(counts.size());
  if (!counts.empty()) {
    std::sort(counts.begin(), counts.end());
    auto pct = [&](int p) { return counts[(counts.size() - 1) * p / 100]; };
    s.min = counts.front();
    s.max = counts.back();
    s.p10 = pct(10);
    s.p50 = pct(50);
    s.p90 = pct(90);
    int64_t sum = 0;
    for (int c : counts) sum += c;
    s.mean = static_cast<double>(sum) / counts.size();
    s.connections = sum / 2;
  }
  s.dials_ok = stats_.dials_succeeded - sampled_dials_ok_;
  s.dials_failed = stats_.dials_failed - sampled_dials_failed_;
  sampled_dials_ok_ = stats_.dials_succeeded;
  sampled_dials_failed_ = stats_.dials_failed;
  samples_.push_back(s);
}

std::vector<TimeToPeers> World::TimeToPeerStats() const {
  std::vector<TimeToPeers> out;
  for (size_t k = 0; k < std::size(kPeerThresholds); ++k) {
    TimeToPeers t;
    t.threshold = kPeerThresholds[k];
    std::vector<absl::Duration> times;
    for (const auto& n : nodes_) {
      if (!n->first_join) continue;
      ++t.nodes;
      if (n->reached[k]) times.push_back(*n->reached[k] - *n->first_join);
    }
    t.reached = static_cast<int>(times.size());
    if (!times.empty()) {
      std::sort(times.begin(), times.end());
      t.p50 = times[(times.size() - 1) * 50 / 100];
      t.p90 = times[(times.size() - 1) * 90 / 100];
      t.max = times.back();
    }
    out.push_back(t);
  }
  return out;
}

void World::CheckAssertion(const PeerFillSpec& a) {
  int total = 0, ok = 0;
  for (const auto& n : nodes_) {
    if (!n->online) continue;
    if (!a.groups.empty() &&
        std::find(a.groups.begin(), a.groups.end(), n->group) == a.groups.end()) {
      continue;
    }
    if (a.reachable_only && spec_.groups[n->group].unreachable) continue;
    ++total;
    if (n->server->PeerCount() >= a.min_peers) ++ok;
  }
  AssertionResult r;
  r.name = a.name;
  const double frac = total == 0 ? 0 : static_cast<double>(ok) / total;
  r.passed = total > 0 && frac >= a.fraction;
  r.detail =
      absl::StrFormat("%.1f%% of %d online nodes have >= %d peers at %s (need %.1f%%)", 100 * frac,
                      total, a.min_peers, absl::FormatDuration(Now()), 100 * a.fraction);
  assertion_results_.push_back(r);
  TraceEvent(-1, "assert",
             absl::StrCat(a.name, " ", r.passed ? "pass" : "fail", " ", ok, "/", total));
}

void World::TraceEvent(int node, absl::string_view kind, absl::string_view fields) {
  const std::string line = absl::StrCat(queue_.now_ns(), " ", node, " ", kind, " ", fields);
  trace_.Update(absl::string_view(line));
  trace_.Update(absl::string_view("\n"));
  ++stats_.trace_events;
  if (trace_line_) trace_line_(line);
}

std::string World::TraceHash() const {
  const auto d = trace_.Digest();
  return HexEncode(absl::MakeConstSpan(d.data(), 8));
}

}  // namespace p2p::sim
