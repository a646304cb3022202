// go-ethereum's dial-scheduler scenarios again, this time through the full
// stack: real Servers (both dialer generations where the behaviour is
// shared), real RLPx handshakes and the simulated network (MemSwitch with
// latency), instead of the fakes of core/dial's tests. Dial sequences,
// times and outcomes are exact: everything runs on the virtual clock.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/dial/dial_testing.h"
#include "core/net/mem_network.h"
#include "core/server/server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p::sim {
namespace {

using ::p2p::testing::QueueIterator;
using ::testing::ElementsAre;

constexpr absl::Duration kLatency = absl::Milliseconds(10);

// Records a node's dial events as "<t ms> <kind> <peer label> [reason]".
class DialLog : public DialObserver {
 public:
  DialLog(EventQueue* q, std::map<NodeId, std::string>* labels) : q_(q), labels_(labels) {}
  void OnDialEvent(const DialEvent& e) override {
    if (e.kind != DialEvent::Kind::kDialStart && e.kind != DialEvent::Kind::kDialDone) return;
    std::string s =
        absl::StrCat(q_->now_ns() / 1000000, " ",
                     e.kind == DialEvent::Kind::kDialStart ? "start " : "done ", Label(e.id));
    if (e.kind == DialEvent::Kind::kDialDone) {
      absl::StrAppend(&s, " ", e.status.ok() ? "ok" : DialFailureReason(e.status));
    }
    lines.push_back(s);
  }
  std::string Label(const NodeId& id) const {
    auto it = labels_->find(id);
    return it == labels_->end() ? "?" : it->second;
  }
  std::vector<std::string> lines;

 private:
  EventQueue* q_;
  std::map<NodeId, std::string>* labels_;
};

class FullStackBase : public ::testing::Test {
 protected:
  explicit FullStackBase(DialGeneration gen) : gen_(gen) {}
  const DialGeneration gen_;

  struct Host {
    std::string label;
    std::unique_ptr<SimLoop> loop;
    std::unique_ptr<Network> net;
    std::optional<PrivateKey> key;
    Node node;
    std::unique_ptr<QueueIterator> candidates;
    std::unique_ptr<DialLog> log;
    std::unique_ptr<Server> server;
  };

  // A host at 10.0.0.<n> with a key and node record; no server yet.
  Host& AddHost(const std::string& label, int n) {
    auto h = std::make_unique<Host>();
    h->label = label;
    h->loop = std::make_unique<SimLoop>(&queue_);
    const IpAddress ip = *IpAddress::Parse(absl::StrCat("10.0.0.", n));
    h->net = *switch_.AddHost(h->loop.get(), ip);
    h->key = PrivateKey::Generate(entropy_);
    h->node = Node::FromPublicKey(DerivePublicKey(*h->key), ip, 30303, 30303);
    labels_[h->node.id] = label;
    hosts_.push_back(std::move(h));
    return *hosts_.back();
  }

  // Starts the host's server; `configure` adjusts the defaults.
  Server& Start(Host& h, int max_peers, std::function<void(ServerConfig&)> configure = nullptr) {
    ServerConfig c;
    c.key = h.key;
    c.name = h.label;
    c.max_peers = max_peers;
    c.listen = Endpoint{h.node.ip, 30303};
    c.dial_generation = gen_;
    c.protocols.push_back(Protocol{"tst", 1, 1, nullptr});
    if (configure) configure(c);
    h.candidates = std::make_unique<QueueIterator>(h.loop.get());
    h.log = std::make_unique<DialLog>(&queue_, &labels_);
    ServerDeps d;
    d.loop = h.loop.get();
    d.net = h.net.get();
    d.entropy = &entropy_;
    d.rng = Rng(99);
    d.candidates = h.candidates.get();
    d.dial_observer = h.log.get();
    h.server = std::make_unique<Server>(std::move(c), d);
    EXPECT_TRUE(h.server->Start().ok());
    return *h.server;
  }

  // A node record for an address where nothing listens.
  Node Offline(const std::string& label, int n) {
    const PrivateKey k = PrivateKey::Generate(entropy_);
    Node node = Node::FromPublicKey(DerivePublicKey(k),
                                    *IpAddress::Parse(absl::StrCat("10.0.0.", n)), 30303, 30303);
    labels_[node.id] = label;
    return node;
  }

  void RunFor(absl::Duration d) {
    queue_.RunUntil(absl::ToInt64Nanoseconds(queue_.Now() + d - absl::UnixEpoch()));
  }

  std::vector<std::string> PeerLabels(const Server& s) {
    std::vector<std::string> out;
    for (const PeerInfo& p : s.Peers()) out.push_back(labels_[p.node.id]);
    std::sort(out.begin(), out.end());
    return out;
  }

  void TearDown() override {
    for (auto& h : hosts_) h->server.reset();
    for (auto& h : hosts_) h->net.reset();
  }

  EventQueue queue_;
  MemSwitch switch_{MemSwitchOptions{kLatency}};
  RngEntropy entropy_{Rng(2024)};
  std::map<NodeId, std::string> labels_;
  std::vector<std::unique_ptr<Host>> hosts_;
};

// Scenarios shared by both dialer generations.
class FullStackTest : public FullStackBase, public ::testing::WithParamInterface<DialGeneration> {
 protected:
  FullStackTest() : FullStackBase(GetParam()) {}
};

// Scenarios of the current generation's candidate iterator.
class FullStackCurrentTest : public FullStackBase {
 protected:
  FullStackCurrentTest() : FullStackBase(DialGeneration::kCurrent) {}
};

// Static dials (both generations): a static node is dialed at once; one
// that is already connected is not dialed; a failed static is not retried
// until its dial-history entry expires; a dropped static peer whose history
// entry has expired is dialed again at once.
TEST_P(FullStackTest, StaticDialsRetriesAndRedials) {
  Host& a = AddHost("A", 1);
  Host& b = AddHost("B", 2);
  Host& c = AddHost("C", 3);
  Start(b, 10);
  Start(c, 10);
  const Node gone = Offline("gone", 9);
  Server& sa = Start(a, 10, [&](ServerConfig& cfg) { cfg.static_nodes = {b.node, gone}; });
  RunFor(absl::Seconds(1));
  EXPECT_THAT(PeerLabels(sa), ElementsAre("B"));
  // C dials A (inbound for A); adding C as static then must not dial it.
  c.server->AddPeer(a.node);
  RunFor(absl::Seconds(1));
  sa.AddPeer(c.node);
  RunFor(absl::Seconds(1));
  EXPECT_THAT(PeerLabels(sa), ElementsAre("B", "C"));

  // The unreachable static was dialed once at t=0 (refused after one round
  // trip) and is retried only after the history expiry: 35 s (current) or
  // 30 s (v1.8.24) later.
  const auto& log = a.log->lines;
  const int gone_dials = std::count_if(log.begin(), log.end(), [](const std::string& l) {
    return l.find("start gone") != std::string::npos;
  });
  EXPECT_EQ(gone_dials, 1);
  EXPECT_THAT(log, ::testing::Contains("20 done gone connection refused"));
  RunFor(absl::Seconds(40));
  const int gone_dials_later = std::count_if(log.begin(), log.end(), [](const std::string& l) {
    return l.find("start gone") != std::string::npos;
  });
  EXPECT_EQ(gone_dials_later, 2);
  // C was never dialed by A: it was connected when it became static.
  EXPECT_EQ(
      std::count_if(log.begin(), log.end(),
                    [](const std::string& l) { return l.find("start C") != std::string::npos; }),
      0);

  // B drops A at ~43 s: the history entry of A's dial to B (t=0) has long
  // expired, so A dials its static peer B again at once.
  b.server->DisconnectPeer(a.node.id, rlpx::DisconnectReason::kRequested);
  RunFor(absl::Seconds(1));
  EXPECT_THAT(PeerLabels(sa), ElementsAre("B", "C"));
  EXPECT_EQ(
      std::count_if(log.begin(), log.end(),
                    [](const std::string& l) { return l.find("start B") != std::string::npos; }),
      2);
}

// Removed statics are never dialed again (current generation semantics,
// shared by v1.8.24's removeStatic).
TEST_P(FullStackTest, RemovedStaticIsNotDialedAgain) {
  Host& a = AddHost("A", 1);
  Host& b = AddHost("B", 2);
  Start(b, 10);
  Server& sa = Start(a, 10, [&](ServerConfig& cfg) { cfg.static_nodes = {b.node}; });
  RunFor(absl::Seconds(1));
  ASSERT_THAT(PeerLabels(sa), ElementsAre("B"));
  sa.RemovePeer(b.node);
  RunFor(absl::Minutes(3));
  EXPECT_TRUE(PeerLabels(sa).empty());
  EXPECT_EQ(
      std::count_if(a.log->lines.begin(), a.log->lines.end(),
                    [](const std::string& l) { return l.find("start B") != std::string::npos; }),
      1);
}

// Dynamic dials (current generation, go-ethereum TestDialSchedDynDial by
// behaviour): with 2 dial slots and 4 concurrent-dial slots, candidates
// beyond the slots wait in the iterator; a failed dial frees its slot; a
// full peer set stops dialing; a peer removal opens a slot again.
TEST_F(FullStackCurrentTest, DynamicDialsFillSlotsOverTheNetwork) {
  Host& a = AddHost("A", 1);
  Host& b = AddHost("B", 2);
  Host& c = AddHost("C", 3);
  Host& d = AddHost("D", 4);
  Start(b, 10);
  Start(c, 10);
  Start(d, 10);
  // DialRatio 1: both of A's slots may be dialed.
  Server& sa = Start(a, 2, [](ServerConfig& cfg) { cfg.dial_ratio = 1; });
  const Node x = Offline("X", 20);
  a.candidates->Push({x, b.node, c.node, d.node});
  RunFor(absl::Seconds(2));
  // Slots: min((2 - 0) * 2, 50) = 4 dials at once: X, B, C, D all start at
  // t=0; X is refused at 20 ms; B and C become peers; D is refused by A's
  // own posthandshake check (peers >= MaxPeers).
  EXPECT_THAT(PeerLabels(sa), ElementsAre("B", "C"));
  const std::vector<std::string>& log = a.log->lines;
  ASSERT_GE(log.size(), 8u);
  EXPECT_THAT(std::vector<std::string>(log.begin(), log.begin() + 4),
              ElementsAre("0 start X", "0 start B", "0 start C", "0 start D"));
  EXPECT_THAT(log, ::testing::Contains("20 done X connection refused"));
  EXPECT_THAT(log, ::testing::Contains(::testing::HasSubstr("done D too many peers")));
  EXPECT_EQ(a.candidates->taken(), 4u);

  // A drops C: the slot opens, but every queued candidate is used up; a new
  // one is taken from the iterator and dialed.
  Host& e = AddHost("E", 5);
  Start(e, 10);
  a.candidates->Push({e.node});
  sa.DisconnectPeer(c.node.id, rlpx::DisconnectReason::kRequested);
  RunFor(absl::Seconds(2));
  EXPECT_THAT(PeerLabels(sa), ElementsAre("B", "E"));
}

// NetRestrict: candidates outside the allowed networks are never dialed.
TEST_F(FullStackCurrentTest, NetRestrictFiltersCandidates) {
  Host& a = AddHost("A", 1);
  Host& b = AddHost("B", 2);
  Host& c = AddHost("C", 130);
  Start(b, 10);
  Start(c, 10);
  Server& sa =
      Start(a, 5, [](ServerConfig& cfg) { cfg.net_restrict = *IpNetList::Parse("10.0.0.0/25"); });
  a.candidates->Push({c.node, b.node});
  RunFor(absl::Seconds(1));
  EXPECT_THAT(PeerLabels(sa), ElementsAre("B"));
  EXPECT_THAT(a.log->lines, ElementsAre("0 start B", ::testing::HasSubstr("done B ok")));
  EXPECT_EQ(sa.dialer()->stats().discarded.at("not contained in netrestrict list"), 1);
}

INSTANTIATE_TEST_SUITE_P(BothGenerations, FullStackTest,
                         ::testing::Values(DialGeneration::kCurrent, DialGeneration::kLegacy),
                         [](const ::testing::TestParamInfo<DialGeneration>& info) {
                           return std::string(DialGenerationName(info.param));
                         });

}  // namespace
}  // namespace p2p::sim
