// The smallest end-to-end run until the full simulator (scenario files,
// network model, RLPx, server) exists: N simulated nodes, each with a real
// DialScheduler on its own SimLoop over one shared EventQueue. Connection
// setup is modelled, not real: a dial takes one round trip plus a handshake
// delay and succeeds when the target is online and has inbound room. Nodes
// learn candidates from an oracle (a cycle over every other node in a
// node-specific random order, one node per 50 ms). Every node drops a random peer every
// 60..120 s. Prints peer-count percentiles over virtual time and a trace
// hash over every dial event; the same seed always prints the same hash.
//
// usage: demo [--nodes N] [--seed S] [--minutes M] [--policy current]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/keccak.h"
#include "core/dial/dial_scheduler.h"
#include "core/hex.h"
#include "core/rng.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p::sim {
namespace {

constexpr int kMaxPeers = 25;
constexpr int kDialRatio = 3;

struct DemoNode;

// Hashes the ordered trace of dial events of the whole run.
class TraceHasher : public DialObserver {
 public:
  explicit TraceHasher(EventQueue* q) : q_(q) {}
  void OnDialEvent(const DialEvent& e) override {
    std::string line = absl::StrCat(q_->now_ns(), " ", DialEventKindName(e.kind), " ",
                                    e.id.ToString(), " ", e.status.ToString(), "\n");
    hash_.Update(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(line.data()), line.size()));
    ++events_;
  }
  std::string Hex() const {
    auto d = hash_.Digest();
    return HexEncode(absl::MakeConstSpan(d.data(), 8));
  }
  int64_t events() const { return events_; }

 private:
  EventQueue* q_;
  Keccak256 hash_;
  int64_t events_ = 0;
};

// Hands out the nodes of another iterator no faster than one per `gap`, as
// a discovery lookup would; without it a source that never blocks would let
// the dialer spin through candidates at one virtual instant.
class PacedIterator : public NodeIterator {
 public:
  PacedIterator(EventLoop* loop, std::unique_ptr<NodeIterator> source, absl::Duration gap)
      : loop_(loop), source_(std::move(source)), gap_(gap) {}
  void Next(NextCallback cb) override {
    source_->Next([this, cb = std::move(cb)](std::optional<Node> n) mutable {
      loop_->RunAfter(gap_, [cb = std::move(cb), n = std::move(n)]() mutable { cb(std::move(n)); });
    });
  }
  void Close() override { source_->Close(); }

 private:
  EventLoop* loop_;
  std::unique_ptr<NodeIterator> source_;
  absl::Duration gap_;
};

struct DemoNode : public NodeDialer {
  std::unique_ptr<SimLoop> loop;
  Node self;
  std::unique_ptr<NodeIterator> oracle;
  std::unique_ptr<DialScheduler> dialer;
  std::vector<DemoNode*>* all = nullptr;
  Rng rng{0};
  int inbound = 0;
  int outbound = 0;
  std::vector<int> peers;  // Indexes of connected nodes.
  int index = 0;

  bool HasPeer(int other) const {
    return std::find(peers.begin(), peers.end(), other) != peers.end();
  }

  // Drops one random peer every 60..120 s (geth drops a random peer
  // periodically so the peer set does not freeze).
  void ScheduleDrop() {
    loop->RunAfter(absl::Seconds(60 + rng.Intn(61)), [this] {
      if (!peers.empty()) {
        int victim = peers[rng.Uniform(peers.size())];
        DemoNode* v = (*all)[victim];
        Disconnect(v);
      }
      ScheduleDrop();
    });
  }
  void Disconnect(DemoNode* v) {
    peers.erase(std::find(peers.begin(), peers.end(), v->index));
    v->peers.erase(std::find(v->peers.begin(), v->peers.end(), index));
    bool we_dialed = outbound_to.erase(v->index) > 0;
    bool they_dialed = v->outbound_to.erase(index) > 0;
    (we_dialed ? outbound : inbound)--;
    (they_dialed ? v->outbound : v->inbound)--;
    dialer->PeerRemoved(v->self.id, we_dialed ? kDynDialedConn : kInboundConn);
    v->dialer->PeerRemoved(self.id, they_dialed ? kDynDialedConn : kInboundConn);
  }
  std::set<int> outbound_to;

  // Modelled connection setup: 1 RTT + handshake, 20..200 ms one way.
  void Dial(const Node& dest, ConnFlags flags, DoneCallback done) override {
    int target = static_cast<int>(dest.ip.v4() & 0xffff);
    absl::Duration one_way = absl::Milliseconds(20 + rng.Intn(180));
    loop->RunAfter(one_way * 4, [this, target, flags, done = std::move(done)]() mutable {
      DemoNode* t = (*all)[target];
      int max_inbound = kMaxPeers - std::max(1, kMaxPeers / kDialRatio);
      if (t->inbound >= max_inbound || HasPeer(target) ||
          static_cast<int>(peers.size()) >= kMaxPeers ||
          static_cast<int>(t->peers.size()) >= kMaxPeers) {
        done(DialResult{absl::ResourceExhaustedError("too many peers"), false});
        return;
      }
      peers.push_back(target);
      t->peers.push_back(index);
      outbound_to.insert(target);
      outbound++;
      t->inbound++;
      dialer->PeerAdded(t->self.id, flags);
      t->dialer->PeerAdded(self.id, kInboundConn);
      done(DialResult{absl::OkStatus(), false});
    });
  }
};

int Percentile(std::vector<int> v, int p) {
  std::sort(v.begin(), v.end());
  return v[std::min<size_t>(v.size() - 1, v.size() * p / 100)];
}

int Main(int argc, char** argv) {
  int nodes = 200;
  uint64_t seed = 1;
  int minutes = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "demo: %s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    bool ok = true;
    if (a == "--nodes")
      ok = absl::SimpleAtoi(value("--nodes"), &nodes) && nodes >= 2 && nodes <= 60000;
    else if (a == "--seed")
      ok = absl::SimpleAtoi(value("--seed"), &seed);
    else if (a == "--minutes")
      ok = absl::SimpleAtoi(value("--minutes"), &minutes) && minutes > 0;
    else {
      std::fprintf(stderr, "demo: unknown flag %s (want --nodes, --seed, --minutes)\n", a.c_str());
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "demo: bad value for %s: %s\n", a.c_str(), argv[i]);
      return 2;
    }
  }
  std::printf(
      "demo: the full simulator is not built yet; this runs %d nodes with the real\n"
      "DialScheduler and a modelled connection setup for %d virtual minutes (seed %llu).\n",
      nodes, minutes, static_cast<unsigned long long>(seed));

  EventQueue q;
  TraceHasher trace(&q);
  Rng root(seed);
  std::vector<std::unique_ptr<DemoNode>> owned;
  std::vector<DemoNode*> all;
  for (int i = 0; i < nodes; ++i) {
    auto n = std::make_unique<DemoNode>();
    n->loop = std::make_unique<SimLoop>(&q);
    n->index = i;
    std::array<uint8_t, 32> id{};
    root.Fill(absl::MakeSpan(id));
    n->self.id = NodeId(id);
    n->self.ip = IpAddress::V4(10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i));
    n->self.tcp = n->self.udp = 30303;
    n->rng = root.Fork();
    n->all = &all;
    all.push_back(n.get());
    owned.push_back(std::move(n));
  }
  for (DemoNode* n : all) {
    std::vector<Node> others;
    for (DemoNode* o : all) {
      if (o != n) others.push_back(o->self);
    }
    for (size_t k = others.size(); k > 1; --k) std::swap(others[k - 1], others[n->rng.Uniform(k)]);
    n->oracle = std::make_unique<PacedIterator>(
        n->loop.get(), NewCycleIterator(n->loop.get(), std::move(others)), absl::Milliseconds(50));
    DialConfig config;
    config.self = n->self.id;
    config.max_dial_peers = std::max(1, kMaxPeers / kDialRatio);
    DialDeps deps;
    deps.loop = n->loop.get();
    deps.dialer = n;
    deps.candidates = n->oracle.get();
    deps.rng = n->rng.Fork();
    deps.observer = &trace;
    n->dialer = *DialScheduler::Create(config, std::move(deps));
    // Nodes join over the first 30 seconds.
    DemoNode* np = n;
    n->loop->RunAfter(absl::Milliseconds(n->rng.Intn(30000)), [np] {
      np->dialer->Start();
      np->ScheduleDrop();
    });
  }
  std::printf("%8s %6s %6s %6s %10s\n", "t", "p5", "p50", "p95", "events");
  for (int m = 1; m <= minutes; ++m) {
    q.RunUntil(static_cast<int64_t>(m) * 60'000'000'000);
    std::vector<int> counts;
    for (DemoNode* n : all) counts.push_back(static_cast<int>(n->peers.size()));
    std::printf("%7dm %6d %6d %6d %10llu\n", m, Percentile(counts, 5), Percentile(counts, 50),
                Percentile(counts, 95), static_cast<unsigned long long>(q.events_run()));
  }
  std::printf("dial_events=%lld\ntrace_hash=%s\n", static_cast<long long>(trace.events()),
              trace.Hex().c_str());
  return 0;
}

}  // namespace
}  // namespace p2p::sim

int main(int argc, char** argv) { return p2p::sim::Main(argc, argv); }
