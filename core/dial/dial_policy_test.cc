// Property tests for both dialer generations, behind NewDialPolicy: random
// event sequences (candidates, dial outcomes, hung dials, peers dropping and
// connecting inbound, statics added and removed) over thousands of seeds,
// checking the invariants at every dial start and at the end:
//  - never more dial tasks in flight than the limit (maxActiveDials for the
//    current generation, 16 tasks for v1.8.24);
//  - never dial self, a connected node, a node being dialed, or a node whose
//    history entry has not expired (35 s since its last task began for the
//    current generation, 30 s since it ended for v1.8.24);
//  - a dial only starts while dialed peers are below maxDialPeers (current;
//    for v1.8.24 the same holds for dynamic dials, statics are exempt);
//  - every started dial task ends, hung ones through the watchdog.
#include "core/dial/dial_policy.h"

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/dial/dial_testing.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p {
namespace {

constexpr int kNodes = 30;

NodeId IdOf(int i) {
  std::array<uint8_t, 32> b{};
  b[0] = static_cast<uint8_t>(i);
  b[31] = 0x77;
  return NodeId(b);
}

Node NodeOf(int i) {
  Node n;
  n.id = IdOf(i);
  n.ip = IpAddress::V4(10, 0, 0, static_cast<uint8_t>(i));
  n.tcp = n.udp = 30303;
  return n;
}

const NodeId kSelf = IdOf(0);

struct World : public DialObserver {
  DialGeneration gen;
  sim::EventQueue q;
  sim::SimLoop loop{&q};
  testing::FakeNodeDialer dialer{&loop};
  testing::QueueIterator it{&loop};
  testing::FakeDiscoveryTable table{&loop};
  testing::FakeResolver resolver{&loop};
  std::unique_ptr<DialPolicy> policy;
  int max_dial_peers = 0;
  int max_active = 0;
  absl::Duration history;
  std::map<NodeId, ConnFlags> peers;     // As reported to the policy.
  std::set<NodeId> hung;                 // Dials we never complete.
  std::map<NodeId, int64_t> task_start;  // Start of the open task.
  std::map<NodeId, int64_t> last_task_start;
  std::map<NodeId, int64_t> last_task_end;
  int64_t starts = 0;
  std::string failure;
  std::vector<std::string> log;  // Every event, printed on failure.

  void Fail(const std::string& why) {
    if (failure.empty()) failure = absl::StrCat("t=", q.now_ns(), "ns: ", why);
  }

  int DialedPeers(bool dyn_only) const {
    int n = 0;
    for (auto& [id, f] : peers) n += dyn_only ? (f & kDynDialedConn) != 0 : IsDialed(f);
    return n;
  }

  void OnDialEvent(const DialEvent& e) override {
    log.push_back(absl::StrCat(q.now_ns(), " ", DialEventKindName(e.kind), " ", e.id.bytes()[0],
                               " ", ConnFlagsString(e.flags), " ", e.status.ToString()));
    if (e.kind == DialEvent::Kind::kDialStart) {
      const bool open = task_start.count(e.id) > 0;
      if (open) return;  // A re-dial inside the same task (static resolve).
      ++starts;
      if (e.id == kSelf) Fail("dialed self");
      if (peers.count(e.id)) Fail("dialed a connected node");
      // (A dial abandoned by the watchdog no longer counts as in flight.)
      if (dialer.IsPending(e.id) && !hung.count(e.id)) Fail("dialed a node being dialed");
      // The current generation records history when a task starts, v1.8.24
      // when it ends.
      auto& hist = gen == DialGeneration::kCurrent ? last_task_start : last_task_end;
      auto last = hist.find(e.id);
      if (last != hist.end() && q.now_ns() - last->second <= absl::ToInt64Nanoseconds(history)) {
        Fail(absl::StrCat("dialed a node in history (last task ", last->second, ")"));
      }
      if (gen == DialGeneration::kCurrent && DialedPeers(false) >= max_dial_peers) {
        Fail("dial started with all dialed-peer slots full");
      }
      if (gen == DialGeneration::kLegacy && (e.flags & kDynDialedConn) &&
          DialedPeers(true) >= max_dial_peers) {
        Fail("dynamic dial started with all dynamic slots full");
      }
      task_start[e.id] = q.now_ns();
      last_task_start[e.id] = q.now_ns();
      if (static_cast<int>(policy->dialing()) > max_active) Fail("too many dials in flight");
    } else if (e.kind == DialEvent::Kind::kTaskTimeout) {
      hung.insert(e.id);  // Abandoned: its connection attempt may linger.
    } else if (e.kind == DialEvent::Kind::kDialDone) {
      task_start.erase(e.id);
      last_task_end[e.id] = q.now_ns();
    }
  }
};

void RunWorld(DialGeneration gen, uint64_t seed) {
  World w;
  w.gen = gen;
  Rng rng(seed);
  w.max_dial_peers = 1 + rng.Intn(8);
  w.max_active = gen == DialGeneration::kCurrent ? 1 + rng.Intn(10) : 16;
  w.history = gen == DialGeneration::kCurrent ? absl::Seconds(35) : absl::Seconds(30);
  DialConfig config;
  config.self = kSelf;
  config.max_dial_peers = w.max_dial_peers;
  config.max_active_dials = w.max_active;
  config.task_timeout = absl::Seconds(60);
  for (int i = 0; i < 3; ++i) config.bootnodes.push_back(NodeOf(1 + rng.Intn(kNodes - 1)));
  DialDeps deps;
  deps.loop = &w.loop;
  deps.dialer = &w.dialer;
  deps.rng = rng.Fork();
  deps.candidates = &w.it;
  deps.table = &w.table;
  deps.resolver = &w.resolver;
  deps.observer = &w;
  auto policy = NewDialPolicy(gen, config, std::move(deps));
  ASSERT_TRUE(policy.ok()) << policy.status();
  w.policy = std::move(*policy);
  w.policy->Start();

  auto random_node = [&] { return rng.Intn(kNodes); };  // Includes self (0).
  for (int step = 0; step < 250 && w.failure.empty(); ++step) {
    switch (rng.Intn(12)) {
      case 0:
      case 1: {  // Discovery finds nodes.
        std::vector<Node> found;
        for (int k = rng.Intn(6); k > 0; --k) found.push_back(NodeOf(random_node()));
        w.it.Push(found);
        w.table.SetRandomNodes(found);
        w.table.QueueLookupResult(found);
        break;
      }
      case 2:
      case 3:
      case 4: {  // A pending dial ends.
        std::vector<NodeId> ids = w.dialer.PendingIds();
        std::vector<NodeId> live;
        for (const NodeId& id : ids) {
          if (!w.hung.count(id)) live.push_back(id);
        }
        if (live.empty()) break;
        NodeId id = live[rng.Uniform(live.size())];
        int outcome = rng.Intn(10);
        w.log.push_back(
            absl::StrCat(w.q.now_ns(), " act complete ", id.bytes()[0], " outcome ", outcome));
        if (outcome < 4 && !w.peers.count(id)) {
          ConnFlags flags = w.dialer.pending_flags().at(id);
          w.peers[id] = flags;
          w.policy->PeerAdded(id, flags);
          w.dialer.Succeed(id);
        } else if (outcome < 8) {
          w.dialer.FailConnect(id);
        } else {
          w.dialer.FailHandshake(id);
        }
        break;
      }
      case 5: {  // A dial hangs forever (left to the watchdog).
        std::vector<NodeId> ids = w.dialer.PendingIds();
        if (!ids.empty() && rng.Chance(1, 3)) w.hung.insert(ids[rng.Uniform(ids.size())]);
        break;
      }
      case 6: {  // A peer drops.
        if (w.peers.empty()) break;
        auto p = w.peers.begin();
        std::advance(p, rng.Uniform(w.peers.size()));
        NodeId id = p->first;
        ConnFlags f = p->second;
        w.peers.erase(p);
        w.policy->PeerRemoved(id, f);
        break;
      }
      case 7: {  // An inbound connection: pending, then peer or failure.
        int i = random_node();
        if (i == 0 || w.peers.count(IdOf(i))) break;
        w.policy->InboundPending(IdOf(i));
        if (rng.Chance(1, 2)) {
          w.peers[IdOf(i)] = kInboundConn;
          w.policy->PeerAdded(IdOf(i), kInboundConn);
        }
        w.policy->InboundDone(IdOf(i));
        break;
      }
      case 8: {
        int i = random_node();
        w.log.push_back(absl::StrCat(w.q.now_ns(), " act add-static ", i));
        w.policy->AddStatic(NodeOf(i));
        break;
      }
      case 9: {
        int i = random_node();
        w.log.push_back(absl::StrCat(w.q.now_ns(), " act remove-static ", i));
        // v1.8.24's removeStatic also clears the node's history entry (and
        // may dial it again at once, inside the call).
        if (gen == DialGeneration::kLegacy) w.last_task_end.erase(IdOf(i));
        w.policy->RemoveStatic(IdOf(i));
        break;
      }
      default: {  // Time passes.
        int64_t dt = rng.Range(0, 5'000'000'000);
        w.q.RunUntil(w.q.now_ns() + dt);
        break;
      }
    }
    w.q.RunUntil(w.q.now_ns());
  }
  // Wind down: no more dials to start; finish everything that can finish.
  w.policy->Stop();
  for (int round = 0; round < 10; ++round) {
    for (const NodeId& id : w.dialer.PendingIds()) {
      if (!w.hung.count(id) && w.dialer.IsPending(id)) w.dialer.FailConnect(id);
    }
    w.q.RunUntil(w.q.now_ns() + 61'000'000'000);  // Past the watchdog.
  }
  EXPECT_EQ(w.failure, "") << "seed " << seed << "; last events:\n"
                           << [&] {
                                std::string out;
                                size_t from = w.log.size() > 40 ? w.log.size() - 40 : 0;
                                for (size_t i = from; i < w.log.size(); ++i) out += w.log[i] + "\n";
                                return out;
                              }();
  EXPECT_EQ(w.policy->dialing(), 0u) << "seed " << seed << ": a dial task never ended";
  EXPECT_TRUE(w.task_start.empty()) << "seed " << seed << ": a started task has no end event";
}

TEST(DialPolicyProperties, CurrentGeneration) {
  for (uint64_t seed = 1; seed <= 2000; ++seed) {
    RunWorld(DialGeneration::kCurrent, seed);
    if (HasFailure()) return;
  }
}

TEST(DialPolicyProperties, LegacyGeneration) {
  for (uint64_t seed = 1; seed <= 2000; ++seed) {
    RunWorld(DialGeneration::kLegacy, seed);
    if (HasFailure()) return;
  }
}

TEST(DialPolicy, FactoryAndNames) {
  EXPECT_EQ(DialGenerationName(DialGeneration::kCurrent), "current");
  EXPECT_EQ(*ParseDialGeneration("legacy"), DialGeneration::kLegacy);
  EXPECT_EQ(ParseDialGeneration("newest").status().message(),
            "unknown dial policy \"newest\" (want \"current\" or \"legacy\")");
  sim::EventQueue q;
  sim::SimLoop loop(&q);
  testing::FakeNodeDialer dialer(&loop);
  DialDeps deps;
  deps.loop = &loop;
  deps.dialer = &dialer;
  for (DialGeneration g : {DialGeneration::kCurrent, DialGeneration::kLegacy}) {
    auto p = NewDialPolicy(g, DialConfig{}, deps);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ((*p)->generation(), g);
  }
  DialDeps missing;
  EXPECT_FALSE(NewDialPolicy(DialGeneration::kCurrent, DialConfig{}, missing).ok());
  EXPECT_FALSE(NewDialPolicy(DialGeneration::kLegacy, DialConfig{}, missing).ok());
}

}  // namespace
}  // namespace p2p

namespace p2p {
namespace {

TEST(DialFailureReasonTest, StripsTheAddress) {
  EXPECT_EQ(DialFailureReason(absl::UnavailableError("dial tcp 1.2.3.4:30303: connection refused")),
            "connection refused");
  EXPECT_EQ(DialFailureReason(absl::DeadlineExceededError("dial tcp [::1]:1: i/o timeout")),
            "i/o timeout");
  EXPECT_EQ(DialFailureReason(absl::AbortedError("too many peers")), "too many peers");
  EXPECT_EQ(DialFailureReason(absl::UnavailableError("dial tcp weird")), "dial tcp weird");
}

}  // namespace
}  // namespace p2p
