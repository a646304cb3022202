// Conformance tests for DialScheduler: go-ethereum's p2p/dial_test.go
// scenarios ported by behaviour, made exact. go-ethereum's versions wait on
// goroutines in real time; here every round runs the simulated loop until
// nothing is left to do at the current instant, then advances virtual time
// by 16 s exactly as go-ethereum's runDialTest does (clock.Run(16s)).
//
// Scenarios whose dials depend on random static picks run with several
// seeds: the same seed must reproduce the identical dial sequence, and every
// seed must satisfy the scenario.
#include "core/dial/dial_scheduler.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/dial/dial_testing.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p {
namespace {

using testing::FakeHostResolver;
using testing::FakeNodeDialer;
using testing::FakeResolver;
using testing::QueueIterator;

using testing::UintId;

Node N(uint16_t i, const std::string& addr = "") { return testing::TestNode(i, addr); }

std::string Str(const Node& n) {
  return absl::StrCat(n.id.TerminalString(), n.has_ip() ? "@" + n.TcpEndpoint().ToString() : "");
}

std::set<std::string> Strs(const std::vector<Node>& nodes) {
  std::set<std::string> s;
  for (const Node& n : nodes) s.insert(Str(n));
  return s;
}

// Collects every observed event as a line, for run-to-run comparison.
class TraceObserver : public DialObserver {
 public:
  explicit TraceObserver(sim::EventQueue* q) : q_(q) {}
  void OnDialEvent(const DialEvent& e) override {
    lines.push_back(absl::StrCat(q_->now_ns(), " ", DialEventKindName(e.kind), " ",
                                 e.id.TerminalString(), " ", ConnFlagsString(e.flags), " ",
                                 e.status.ToString()));
  }
  std::vector<std::string> lines;

 private:
  sim::EventQueue* q_;
};

class DialHarness;

// One round of go-ethereum's runDialTest.
struct Round {
  // Free-form actions on the harness (after `update`), for rounds whose
  // completions depend on earlier random picks.
  std::function<void(DialHarness&)> act;
  std::vector<std::pair<Node, ConnFlags>> peers_added;
  std::vector<NodeId> peers_removed;
  std::function<void(DialScheduler&)> update;
  std::vector<Node> discovered;
  std::vector<NodeId> succeeded;
  std::vector<NodeId> failed;
  // Resolve answers for this round; the set of resolved IDs must equal the
  // keys exactly (go-ethereum's wantResolves).
  std::map<NodeId, std::optional<Node>> want_resolves;
  // The exact set of dials started in this round...
  std::optional<std::vector<Node>> want_new_dials;
  // ...or, where dials depend on random static picks, a check.
  std::function<void(const std::vector<Node>& dials)> check_new_dials;
};

class DialHarness {
 public:
  DialHarness(DialConfig config, uint64_t seed)
      : loop_(&queue_),
        dialer_(&loop_),
        resolver_(&loop_),
        dns_(&loop_),
        it_(&loop_),
        observer_(&queue_) {
    config.self = UintId(0xEEEE);
    if (config.max_active_dials == 0) config.max_active_dials = kDefaultMaxPendingPeers;
    DialDeps deps;
    deps.loop = &loop_;
    deps.dialer = &dialer_;
    deps.rng = Rng(seed);
    deps.candidates = &it_;
    deps.resolver = &resolver_;
    deps.dns = &dns_;
    deps.observer = &observer_;
    sched_ = *DialScheduler::Create(std::move(config), std::move(deps));
    sched_->Start();
  }

  // Runs the rounds; records the dial sequence for cross-run comparison.
  void Run(std::vector<Round>& rounds, std::vector<std::string>* seq_out) {
    std::vector<std::string>& seq = *seq_out;
    for (size_t i = 0; i < rounds.size(); ++i) {
      SCOPED_TRACE(absl::StrCat("round ", i));
      Round& r = rounds[i];
      for (auto& [node, flags] : r.peers_added) {
        ASSERT_EQ(peers_.count(node.id), 0u) << "peer already connected";
        sched_->PeerAdded(node.id, flags);
        peers_[node.id] = flags;
      }
      for (const NodeId& id : r.peers_removed) {
        ASSERT_EQ(peers_.count(id), 1u) << "can't remove non-existent peer";
        sched_->PeerRemoved(id, peers_[id]);
        peers_.erase(id);
      }
      for (auto& [id, answer] : r.want_resolves) resolver_.Set(id, answer);
      if (r.update) r.update(*sched_);
      expected_resolves_.reset();
      if (r.act) r.act(*this);
      it_.Push(r.discovered);
      for (const NodeId& id : r.succeeded) Succeed(id);
      for (const NodeId& id : r.failed) {
        ASSERT_TRUE(dialer_.IsPending(id)) << "no dial to fail";
        dialer_.FailConnect(id);
      }
      Settle();
      std::vector<Node> dials;
      for (auto& a : dialer_.TakeAttempts()) {
        dials.push_back(a.dest);
        seq.push_back(absl::StrCat(i, ":", Str(a.dest), ":", ConnFlagsString(a.flags)));
      }
      if (r.want_new_dials.has_value()) {
        EXPECT_EQ(Strs(dials), Strs(*r.want_new_dials));
        EXPECT_EQ(dials.size(), r.want_new_dials->size()) << "a node was dialed twice";
      }
      if (r.check_new_dials) r.check_new_dials(dials);
      std::vector<NodeId> calls = resolver_.TakeCalls();
      std::set<NodeId> want_calls;
      for (auto& [id, answer] : r.want_resolves) want_calls.insert(id);
      if (expected_resolves_.has_value()) want_calls = *expected_resolves_;
      EXPECT_EQ(std::set<NodeId>(calls.begin(), calls.end()), want_calls)
          << "unexpected Resolve calls";
      EXPECT_EQ(calls.size(), want_calls.size()) << "a node was resolved twice";
      resolver_ = FakeResolver(&loop_);
      Advance(absl::Seconds(16));
    }
  }

  // The dial to `id` succeeds: the server adds the peer, then the task ends
  // (as go-ethereum's test setup function does).
  void Succeed(const NodeId& id) {
    ConnFlags flags = dialer_.pending_flags().at(id);
    sched_->PeerAdded(id, flags);
    peers_[id] = flags;
    dialer_.Succeed(id);
  }
  // Runs everything due at the current instant.
  void Settle() { queue_.RunUntil(queue_.now_ns()); }
  void Advance(absl::Duration d) { queue_.RunUntil(queue_.now_ns() + absl::ToInt64Nanoseconds(d)); }

  // For `act`: the Resolve calls this round must make (none answered).
  void ExpectResolves(std::set<NodeId> ids) { expected_resolves_ = std::move(ids); }

  DialScheduler& sched() { return *sched_; }
  FakeNodeDialer& dialer() { return dialer_; }
  FakeResolver& resolver() { return resolver_; }
  FakeHostResolver& dns() { return dns_; }
  QueueIterator& it() { return it_; }
  sim::EventQueue& queue() { return queue_; }
  const std::vector<std::string>& trace() const { return observer_.lines; }

 private:
  sim::EventQueue queue_;
  sim::SimLoop loop_;
  FakeNodeDialer dialer_;
  FakeResolver resolver_;
  FakeHostResolver dns_;
  QueueIterator it_;
  TraceObserver observer_;
  std::unique_ptr<DialScheduler> sched_;
  std::map<NodeId, ConnFlags> peers_;
  std::optional<std::set<NodeId>> expected_resolves_;
};

// Runs a scenario with seed 1 twice (identical dial sequence and event
// trace required) and with seeds 2..4 (the scenario's own checks must hold).
void RunScenario(DialConfig config, std::function<std::vector<Round>()> make_rounds) {
  std::vector<std::string> first_seq, first_trace;
  for (uint64_t seed : {1, 1, 2, 3, 4}) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    DialHarness h(config, seed);
    std::vector<Round> rounds = make_rounds();
    std::vector<std::string> seq;
    h.Run(rounds, &seq);
    if (seed == 1 && first_seq.empty()) {
      first_seq = seq;
      first_trace = h.trace();
      ASSERT_FALSE(first_seq.empty());
    } else if (seed == 1) {
      EXPECT_EQ(seq, first_seq) << "same seed, different dial sequence";
      EXPECT_EQ(h.trace(), first_trace) << "same seed, different event trace";
    }
  }
}

// Runs a hand-driven scenario with seed 1 twice (identical event trace
// required) and with seed 2 (its own checks must hold).
void RunDriven(DialConfig config, const std::function<void(DialHarness&)>& body) {
  std::vector<std::string> first;
  bool have_first = false;
  for (uint64_t seed : {1, 1, 2}) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    DialHarness h(config, seed);
    body(h);
    if (seed == 1 && !have_first) {
      first = h.trace();
      have_first = true;
    } else if (seed == 1) {
      EXPECT_EQ(h.trace(), first) << "same seed, different event trace";
    }
  }
}

const char* kLocal = "127.0.0.1:30303";

// TestDialSchedDynDial: dynamic dials fill the free slots; a failure frees a
// slot; nodes beyond the slots stay queued in the iterator; peer removal
// opens min(maxActiveDials, free) new dials.
TEST(DialSchedulerConformance, DynDial) {
  DialConfig config;
  config.max_active_dials = 5;
  config.max_dial_peers = 4;
  RunScenario(config, [] {
    std::vector<Round> r(4);
    // 3 of 4 peers are connected, leaving 2 dial slots. 9 nodes are
    // discovered, but only 2 are dialed.
    r[0].peers_added = {
        {N(0x00), kStaticDialedConn}, {N(0x01), kDynDialedConn}, {N(0x02), kDynDialedConn}};
    r[0].discovered = {N(0x00, kLocal), N(0x02, kLocal), N(0x03, kLocal), N(0x04, kLocal),
                       N(0x05, kLocal), N(0x06, kLocal), N(0x07, kLocal), N(0x08, kLocal)};
    r[0].want_new_dials = std::vector<Node>{N(0x03, kLocal), N(0x04, kLocal)};
    // One dial completes, freeing one dial slot.
    r[1].failed = {UintId(0x04)};
    r[1].want_new_dials = std::vector<Node>{N(0x05, kLocal)};
    // Dial to 0x03 completes, filling the last remaining peer slot.
    r[2].succeeded = {UintId(0x03)};
    r[2].failed = {UintId(0x05)};
    r[2].discovered = {N(0x09, kLocal)};  // Not dialed: no free slots.
    r[2].want_new_dials = std::vector<Node>{};
    // 3 peers drop off, creating 6 dial slots; 5 (maxActiveDials) are used.
    r[3].peers_removed = {UintId(0x00), UintId(0x01), UintId(0x02)};
    r[3].discovered = {N(0x0a, kLocal), N(0x0b, kLocal), N(0x0c, kLocal), N(0x0d, kLocal),
                       N(0x0f, kLocal)};
    r[3].want_new_dials = std::vector<Node>{N(0x06, kLocal), N(0x07, kLocal), N(0x08, kLocal),
                                            N(0x09, kLocal), N(0x0a, kLocal)};
    return r;
  });
}

// Back-pressure: with no free slot the scheduler takes nothing from the
// iterator beyond the one node it holds.
TEST(DialSchedulerConformance, IteratorBackPressure) {
  DialConfig config;
  config.max_active_dials = 2;
  config.max_dial_peers = 1;
  RunDriven(config, [&](DialHarness& h) {
    std::vector<Node> nodes;
    for (uint16_t i = 1; i <= 10; ++i) nodes.push_back(N(i, kLocal));
    h.it().Push(nodes);
    h.Settle();
    EXPECT_EQ(h.dialer().TakeAttempts().size(), 2u);
    // Two taken for the two slots, one more held back, seven still queued.
    EXPECT_EQ(h.it().taken(), 3u);
    EXPECT_EQ(h.it().queued(), 7u);
  });
}

// TestDialSchedNetRestrict: only candidates inside the netrestrict list.
TEST(DialSchedulerConformance, NetRestrict) {
  DialConfig config;
  config.max_active_dials = 10;
  config.max_dial_peers = 10;
  config.net_restrict = *IpNetList::Parse("127.0.2.0/24");
  RunScenario(config, [] {
    std::vector<Node> nodes = {N(0x01, "127.0.0.1:30303"), N(0x02, "127.0.0.2:30303"),
                               N(0x03, "127.0.0.3:30303"), N(0x04, "127.0.0.4:30303"),
                               N(0x05, "127.0.2.5:30303"), N(0x06, "127.0.2.6:30303"),
                               N(0x07, "127.0.2.7:30303"), N(0x08, "127.0.2.8:30303")};
    std::vector<Round> r(2);
    r[0].discovered = nodes;
    r[0].want_new_dials = std::vector<Node>(nodes.begin() + 4, nodes.end());
    r[1].succeeded = {nodes[4].id, nodes[5].id, nodes[6].id, nodes[7].id};
    r[1].want_new_dials = std::vector<Node>{};
    return r;
  });
}

// TestDialSchedStaticDial: static dials skip connected nodes; failed statics
// are resolved; an inbound connection stops a pending static dial; a static
// node dropped as a (dynamic) peer is dialed again.
TEST(DialSchedulerConformance, StaticDial) {
  DialConfig config;
  config.max_active_dials = 5;
  config.max_dial_peers = 4;
  auto addr = [](int i) { return absl::StrCat("127.0.0.", i, ":30303"); };
  // Shared between the rounds of one run.
  auto round1 = std::make_shared<std::set<uint16_t>>();
  auto round2 = std::make_shared<std::set<uint16_t>>();
  RunScenario(config, [&] {
    round1->clear();
    round2->clear();
    std::vector<Round> r(3);
    r[0].peers_added = {{N(0x01, addr(1)), kDynDialedConn}, {N(0x02, addr(2)), kDynDialedConn}};
    r[0].update = [&](DialScheduler& d) {
      // 0x01 and 0x02 are not dialed: already connected as dynamic peers.
      for (int i = 1; i <= 9; ++i) d.AddStatic(N(i, addr(i)));
    };
    // Four of the seven unconnected statics (random picks) fill the 4 slots.
    r[0].check_new_dials = [&](const std::vector<Node>& dials) {
      ASSERT_EQ(dials.size(), 4u);
      for (const Node& n : dials) {
        uint16_t i = n.id.bytes()[1];
        EXPECT_GE(i, 3);
        EXPECT_LE(i, 9);
        EXPECT_EQ(Str(n), Str(N(i, addr(i))));
        round1->insert(i);
      }
      EXPECT_EQ(round1->size(), 4u);
    };
    // One dial of round 1 succeeds (filling a peer slot), the other three
    // fail at TCP level and are resolved (not found). One peer slot remains:
    // two dials are launched to fill it.
    r[1].act = [&](DialHarness& h) {
      std::set<NodeId> failed;
      for (uint16_t i : *round1) {
        if (i == *round1->begin()) {
          h.Succeed(UintId(i));
        } else {
          h.dialer().FailConnect(UintId(i));
          failed.insert(UintId(i));
        }
      }
      h.ExpectResolves(failed);
    };
    r[1].check_new_dials = [&](const std::vector<Node>& dials) {
      ASSERT_EQ(dials.size(), 2u);
      for (const Node& n : dials) {
        uint16_t i = n.id.bytes()[1];
        EXPECT_EQ(round1->count(i), 0u) << "dialed again within 35 s";
        EXPECT_GE(i, 3);
        EXPECT_LE(i, 9);
        round2->insert(i);
      }
    };
    // Peer 0x01 drops and 0x07 connects as an inbound peer: 0x01 is dialed
    // at once (it was never dialed, so it is not in the history), and 0x07
    // is not (if it was still in the pool).
    r[2].peers_added = {{N(0x07, addr(7)), kInboundConn}};
    r[2].peers_removed = {UintId(0x01)};
    r[2].check_new_dials = [&](const std::vector<Node>& dials) {
      std::set<uint16_t> got;
      for (const Node& n : dials) got.insert(n.id.bytes()[1]);
      // Free slots: (4 - 2 dialed peers) * 2 - 2 dialing = 2. The pool holds
      // 0x01 and whatever of 3..9 was never dialed, minus the inbound 0x07.
      std::set<uint16_t> pool = {1};
      for (uint16_t i = 3; i <= 9; ++i) {
        if (!round1->count(i) && !round2->count(i) && i != 7) pool.insert(i);
      }
      EXPECT_TRUE(got.count(1)) << "static 0x01 not re-dialed after drop";
      EXPECT_EQ(got.count(7), 0u) << "dialed a node connected inbound";
      EXPECT_EQ(got.size(), std::min<size_t>(2, pool.size()));
      for (uint16_t i : got) EXPECT_TRUE(pool.count(i));
    };
    return r;
  });
}

// Round 2 of StaticDial needs the round-1 dials; drive it by hand to show
// the resolve calls exactly.
TEST(DialSchedulerConformance, StaticDialFailuresAreResolved) {
  DialConfig config;
  config.max_active_dials = 5;
  config.max_dial_peers = 4;
  RunDriven(config, [&](DialHarness& h) {
    for (int i = 3; i <= 6; ++i) h.sched().AddStatic(N(i, absl::StrCat("127.0.0.", i, ":30303")));
    h.Settle();
    std::vector<NodeId> dialed;
    for (auto& a : h.dialer().TakeAttempts()) dialed.push_back(a.dest.id);
    ASSERT_EQ(dialed.size(), 4u);
    h.Advance(absl::Seconds(16));
    h.Succeed(dialed[0]);
    h.dialer().FailConnect(dialed[1]);
    h.dialer().FailHandshake(dialed[2]);  // Not a connect failure: no resolve.
    h.dialer().FailConnect(dialed[3]);
    h.Settle();
    std::vector<NodeId> calls = h.resolver().TakeCalls();
    EXPECT_EQ(std::set<NodeId>(calls.begin(), calls.end()),
              (std::set<NodeId>{dialed[1], dialed[3]}));
    EXPECT_TRUE(h.dialer().TakeAttempts().empty()) << "all four are connected or in history";
    EXPECT_EQ(h.sched().dial_peers(), 1);
    EXPECT_EQ(h.sched().dialing(), 0u);
  });
}

// TestDialSchedRemoveStatic: removed statics are never dialed again, whether
// they were in the history, being dialed, or waiting in the pool.
TEST(DialSchedulerConformance, RemoveStatic) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  auto first = std::make_shared<NodeId>();
  auto second = std::make_shared<NodeId>();
  RunScenario(config, [&] {
    std::vector<Round> r(6);
    r[0].update = [](DialScheduler& d) {
      d.AddStatic(N(0x01, "127.0.0.1:30303"));
      d.AddStatic(N(0x02, "127.0.0.2:30303"));
      d.AddStatic(N(0x03, "127.0.0.3:30303"));
    };
    r[0].check_new_dials = [&](const std::vector<Node>& dials) {
      ASSERT_EQ(dials.size(), 1u);
      *first = dials[0].id;
    };
    // The first dial fails (and is resolved: not found); another static is
    // dialed.
    r[1].act = [&](DialHarness& h) {
      h.dialer().FailConnect(*first);
      h.ExpectResolves({*first});
    };
    r[1].check_new_dials = [&](const std::vector<Node>& dials) {
      ASSERT_EQ(dials.size(), 1u);
      EXPECT_NE(dials[0].id, *first);
      *second = dials[0].id;
    };
    // All statics are removed: one in history, one being dialed, one pooled.
    r[2].act = [&](DialHarness& h) {
      h.dialer().FailConnect(*second);
      h.ExpectResolves({*second});
    };
    r[2].update = [](DialScheduler& d) {
      d.RemoveStatic(UintId(0x01));
      d.RemoveStatic(UintId(0x02));
      d.RemoveStatic(UintId(0x03));
      EXPECT_EQ(d.num_static(), 0u);
      EXPECT_EQ(d.static_pool_size(), 0u);
    };
    r[2].want_new_dials = std::vector<Node>{};
    // Nothing is dialed again, across the history expiry.
    for (int i = 3; i < 6; ++i) r[i].want_new_dials = std::vector<Node>{};
    return r;
  });
}

// The r[1]/r[2] failures above need the IDs picked in round 0; a fixed
// version of the same scenario, driven by hand.
TEST(DialSchedulerConformance, RemoveStaticWhileDialingCompletesQuietly) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  RunDriven(config, [&](DialHarness& h) {
    h.sched().AddStatic(N(0x01, "127.0.0.1:30303"));
    h.Settle();
    ASSERT_EQ(h.dialer().TakeAttempts().size(), 1u);
    h.sched().RemoveStatic(UintId(0x01));
    EXPECT_EQ(h.sched().dialing(), 1u) << "a running dial is not cancelled";
    h.dialer().FailConnect(UintId(0x01));
    h.Settle();
    EXPECT_EQ(h.sched().dialing(), 0u);
    // The task keeps its static flag, so its connect failure is still
    // resolved (as in go-ethereum), but nothing is dialed again.
    EXPECT_EQ(h.resolver().TakeCalls(), std::vector<NodeId>{UintId(0x01)});
    h.Advance(absl::Seconds(100));
    EXPECT_TRUE(h.dialer().TakeAttempts().empty());
  });
}

// TestDialSchedManyStaticNodes: 2000 statics, 2 dialed-peer slots: 4 dials
// to distinct random statics.
TEST(DialSchedulerConformance, ManyStaticNodes) {
  DialConfig config;
  config.max_dial_peers = 2;
  RunScenario(config, [] {
    std::vector<Round> r(2);
    r[0].peers_added = {{N(0xFFFE), kDynDialedConn}, {N(0xFFFF), kDynDialedConn}};
    r[0].update = [](DialScheduler& d) {
      for (uint16_t id = 0; id < 2000; ++id) d.AddStatic(N(id, "127.0.0.1:30303"));
    };
    r[0].want_new_dials = std::vector<Node>{};
    r[1].peers_removed = {UintId(0xFFFE), UintId(0xFFFF)};
    r[1].check_new_dials = [](const std::vector<Node>& dials) {
      ASSERT_EQ(dials.size(), 4u);
      std::set<NodeId> ids;
      for (const Node& n : dials) {
        ids.insert(n.id);
        uint16_t v = static_cast<uint16_t>(n.id.bytes()[0] << 8 | n.id.bytes()[1]);
        EXPECT_LT(v, 2000);
      }
      EXPECT_EQ(ids.size(), 4u);
    };
    return r;
  });
}

// Different seeds pick different statics (the pick really is random).
TEST(DialSchedulerConformance, StaticPicksDependOnSeed) {
  std::set<std::set<NodeId>> picks;
  for (uint64_t seed = 1; seed <= 5; ++seed) {
    DialConfig config;
    config.max_dial_peers = 2;
    DialHarness h(config, seed);
    // Fill the dialed-peer slots first, so that the statics are all pooled
    // before any is picked.
    h.sched().PeerAdded(UintId(0xFFFE), kDynDialedConn);
    h.sched().PeerAdded(UintId(0xFFFF), kDynDialedConn);
    for (uint16_t id = 0; id < 2000; ++id) h.sched().AddStatic(N(id, "127.0.0.1:30303"));
    h.Settle();
    ASSERT_TRUE(h.dialer().TakeAttempts().empty());
    h.sched().PeerRemoved(UintId(0xFFFE), kDynDialedConn);
    h.sched().PeerRemoved(UintId(0xFFFF), kDynDialedConn);
    h.Settle();
    std::set<NodeId> ids;
    for (auto& a : h.dialer().TakeAttempts()) ids.insert(a.dest.id);
    EXPECT_EQ(ids.size(), 4u);
    picks.insert(ids);
  }
  EXPECT_GE(picks.size(), 4u);
}

// TestDialSchedHistory: a failed static is not retried until its 35 s
// history entry expires; then exactly at expiry + 1 ns (entries expire when
// expiry < now).
TEST(DialSchedulerConformance, History) {
  DialConfig config;
  config.max_active_dials = 3;
  config.max_dial_peers = 3;
  RunScenario(config, [] {
    std::vector<Round> r(4);
    r[0].update = [](DialScheduler& d) {
      d.AddStatic(N(0x01, "127.0.0.1:30303"));
      d.AddStatic(N(0x02, "127.0.0.2:30303"));
      d.AddStatic(N(0x03, "127.0.0.3:30303"));
    };
    r[0].want_new_dials = std::vector<Node>{N(0x01, "127.0.0.1:30303"), N(0x02, "127.0.0.2:30303"),
                                            N(0x03, "127.0.0.3:30303")};
    // No new dials: all statics are connected or in history.
    r[1].succeeded = {UintId(0x01), UintId(0x02)};
    r[1].failed = {UintId(0x03)};
    r[1].want_resolves = {{UintId(0x03), std::nullopt}};
    r[1].want_new_dials = std::vector<Node>{};
    // t = 32 s: still waiting for 0x03's history entry (dialed at 0).
    r[2].want_new_dials = std::vector<Node>{};
    // t = 48 s: it expired at 35 s and was retried then.
    r[3].want_new_dials = std::vector<Node>{N(0x03, "127.0.0.3:30303")};
    return r;
  });
  RunDriven(config, [&](DialHarness& h) {
    h.sched().AddStatic(N(0x03, "127.0.0.3:30303"));
    h.Settle();
    ASSERT_EQ(h.dialer().TakeAttempts().size(), 1u);
    h.dialer().FailConnect(UintId(0x03));
    h.Settle();
    h.queue().RunUntil(35'000'000'000);  // Exactly the expiry: not yet.
    EXPECT_TRUE(h.dialer().TakeAttempts().empty());
    h.queue().RunUntil(35'000'000'001);
    auto again = h.dialer().TakeAttempts();
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].dest.id, UintId(0x03));
    EXPECT_EQ(h.queue().now_ns(), 35'000'000'001);
  });
}

// A static node whose dial fails at TCP level is resolved once and, if it
// moved, dialed at the new address within the same task.
TEST(DialSchedulerConformance, FailedStaticIsResolvedAndRedialed) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  RunDriven(config, [&](DialHarness& h) {
    h.sched().AddStatic(N(0x01, "127.0.0.1:30303"));
    h.Settle();
    ASSERT_EQ(Str(h.dialer().TakeAttempts().at(0).dest), Str(N(0x01, "127.0.0.1:30303")));
    h.resolver().Set(UintId(0x01), N(0x01, "127.0.0.55:30303"));
    h.dialer().FailConnect(UintId(0x01));
    h.Settle();
    EXPECT_EQ(h.resolver().TakeCalls(), std::vector<NodeId>{UintId(0x01)});
    auto retry = h.dialer().TakeAttempts();
    ASSERT_EQ(retry.size(), 1u);
    EXPECT_EQ(Str(retry[0].dest), Str(N(0x01, "127.0.0.55:30303")));
    EXPECT_EQ(h.sched().dialing(), 1u) << "same task";
    // The second failure ends the task: no third dial, no second resolve.
    h.dialer().FailConnect(UintId(0x01));
    h.Settle();
    EXPECT_TRUE(h.dialer().TakeAttempts().empty());
    EXPECT_TRUE(h.resolver().TakeCalls().empty());
    EXPECT_EQ(h.sched().dialing(), 0u);
  });
}

// A resolve that finds the node at the same address does not re-dial.
TEST(DialSchedulerConformance, ResolvedToSameAddressIsNotRedialed) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  RunDriven(config, [&](DialHarness& h) {
    h.sched().AddStatic(N(0x01, "127.0.0.1:30303"));
    h.Settle();
    h.dialer().TakeAttempts();
    h.resolver().Set(UintId(0x01), N(0x01, "127.0.0.1:30303"));
    h.dialer().FailConnect(UintId(0x01));
    h.Settle();
    EXPECT_TRUE(h.dialer().TakeAttempts().empty());
    EXPECT_EQ(h.sched().dialing(), 0u);
  });
}

// TestDialSchedResolve, made exact: an unresolved static is resolved, then
// dialed; after a dial failure it is resolved again, subject to the resolve
// backoff (60 s after the last resolve), and the new address is dialed.
//
// go-ethereum's own test re-resolves 16 s after the first resolve only
// because its simulated clock starts at 0 and lastResolved == 0 reads as
// "never resolved". We keep the backoff's documented meaning instead.
TEST(DialSchedulerConformance, Resolve) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  for (uint64_t seed : {1, 2}) {
    DialHarness h(config, seed);
    h.resolver().Set(UintId(0x01), N(0x01, "127.0.0.1:30303"));
    h.sched().AddStatic(N(0x01));
    h.Settle();
    EXPECT_EQ(h.resolver().TakeCalls(), std::vector<NodeId>{UintId(0x01)});
    auto d = h.dialer().TakeAttempts();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(Str(d[0].dest), Str(N(0x01, "127.0.0.1:30303")));
    // Fails at t=16 s: within the 60 s backoff, so no resolve, no re-dial.
    h.Advance(absl::Seconds(16));
    h.resolver().Set(UintId(0x01), N(0x01, "127.0.0.55:30303"));
    h.dialer().FailConnect(UintId(0x01));
    h.Settle();
    EXPECT_TRUE(h.resolver().TakeCalls().empty());
    EXPECT_TRUE(h.dialer().TakeAttempts().empty());
    // History expires at 35 s + 1 ns: dialed again at the known address,
    // which fails; still inside the backoff.
    h.queue().RunUntil(35'000'000'001);
    d = h.dialer().TakeAttempts();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(Str(d[0].dest), Str(N(0x01, "127.0.0.1:30303")));
    h.dialer().FailConnect(UintId(0x01));
    h.Settle();
    EXPECT_TRUE(h.resolver().TakeCalls().empty());
    // Next expiry at 70 s + 2 ns: the dial fails, the backoff has passed,
    // the node is resolved to its new address and dialed there.
    h.queue().RunUntil(70'000'000'002);
    d = h.dialer().TakeAttempts();
    ASSERT_EQ(d.size(), 1u);
    h.dialer().FailConnect(UintId(0x01));
    h.Settle();
    EXPECT_EQ(h.resolver().TakeCalls(), std::vector<NodeId>{UintId(0x01)});
    d = h.dialer().TakeAttempts();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(Str(d[0].dest), Str(N(0x01, "127.0.0.55:30303")));
  }
}

// Resolve backoff: failures double the delay up to one hour; success resets.
TEST(DialSchedulerConformance, ResolveBackoffDoublesAndCaps) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  RunDriven(config, [&](DialHarness& h) {
    h.sched().AddStatic(N(0x01));  // Never resolvable.
    std::vector<int64_t> resolve_times;
    for (int i = 0; i < 100000 && resolve_times.size() < 9; ++i) {
      h.Settle();
      if (!h.resolver().TakeCalls().empty())
        resolve_times.push_back(h.queue().now_ns() / 1'000'000'000);
      int64_t next = h.queue().NextEventTime();
      if (next < 0) break;
      h.queue().RunUntil(next);
    }
    // Dial attempts come every 35 s (history); a resolve is allowed once the
    // delay (60, 120, 240, ... capped at 3600 s) has passed since the last.
    ASSERT_GE(resolve_times.size(), 8u);
    std::vector<int64_t> gaps;
    for (size_t i = 1; i < resolve_times.size(); ++i)
      gaps.push_back(resolve_times[i] - resolve_times[i - 1]);
    int64_t delay = 60;
    for (int64_t gap : gaps) {
      delay = std::min<int64_t>(delay * 2, 3600);
      EXPECT_GE(gap, delay);
      EXPECT_LT(gap, delay + 36) << "resolve happened later than the first dial after the delay";
    }
  });
}

// TestDialSchedDNSHostname: a static node named by host name is looked up
// in DNS before dialing.
TEST(DialSchedulerConformance, DnsHostname) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  RunDriven(config, [&](DialHarness& h) {
    Node named = N(0x01);
    named.hostname = "node-hostname";
    named.tcp = 30303;
    named.udp = 30303;
    h.dns().Set("node-hostname", {*IpAddress::Parse("2001:db8::1"), *IpAddress::Parse("1.2.3.4")});
    h.sched().AddStatic(named);
    h.Settle();
    EXPECT_EQ(h.dns().calls(), std::vector<std::string>{"node-hostname"});
    auto d = h.dialer().TakeAttempts();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].dest.TcpEndpoint().ToString(), "1.2.3.4:30303") << "IPv4 preferred";
    EXPECT_TRUE(h.resolver().TakeCalls().empty());
  });
}

// A failed DNS lookup falls back to discovery resolve; with neither, the
// task ends without a dial.
TEST(DialSchedulerConformance, DnsFailureFallsBackToResolve) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  RunDriven(config, [&](DialHarness& h) {
    Node named = N(0x01);
    named.hostname = "unknown-host";
    named.tcp = 30303;
    h.sched().AddStatic(named);
    h.Settle();
    EXPECT_EQ(h.resolver().TakeCalls(), std::vector<NodeId>{UintId(0x01)});
    EXPECT_TRUE(h.dialer().TakeAttempts().empty());
    EXPECT_EQ(h.sched().dialing(), 0u);
    EXPECT_EQ(
        h.sched().stats().failures.at("static node has no IP address and could not be resolved"),
        1);
    EXPECT_EQ(h.sched().stats().dials_started, 0);
  });
}

// Pending inbound: a node with a pending inbound connection is not dialed
// until that connection completes or is dropped.
TEST(DialSchedulerConformance, PendingInboundSkipped) {
  DialConfig config;
  config.max_active_dials = 5;
  config.max_dial_peers = 5;
  RunDriven(config, [&](DialHarness& h) {
    h.sched().InboundPending(UintId(0x01));
    h.sched().AddStatic(N(0x01, kLocal));
    h.it().Push({N(0x01, kLocal), N(0x02, kLocal)});
    h.Settle();
    auto d = h.dialer().TakeAttempts();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].dest.id, UintId(0x02));
    EXPECT_EQ(h.sched().stats().discarded.at("peer has pending inbound connection"), 1);
    // The inbound handshake fails: the static is dialed now.
    h.sched().InboundDone(UintId(0x01));
    h.Settle();
    d = h.dialer().TakeAttempts();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].dest.id, UintId(0x01));
    EXPECT_EQ(d[0].flags, kStaticDialedConn);
  });
}

// An inbound connection that becomes a peer while its static is pooled
// stops the static dial.
TEST(DialSchedulerConformance, InboundPeerStopsPendingStaticDial) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 2;
  RunDriven(config, [&](DialHarness& h) {
    h.sched().AddStatic(N(0x01, kLocal));
    h.sched().AddStatic(N(0x02, kLocal));
    h.Settle();
    auto d = h.dialer().TakeAttempts();
    ASSERT_EQ(d.size(), 1u);  // One slot; the other static waits in the pool.
    NodeId other = d[0].dest.id == UintId(0x01) ? UintId(0x02) : UintId(0x01);
    h.sched().InboundPending(other);
    h.sched().PeerAdded(other, kInboundConn);
    h.sched().InboundDone(other);
    h.dialer().FailHandshake(d[0].dest.id);
    h.Settle();
    EXPECT_TRUE(h.dialer().TakeAttempts().empty());
    EXPECT_EQ(h.sched().static_pool_size(), 0u);
  });
}

// checkDial's errors, each in its order.
TEST(DialSchedulerConformance, CheckDialOrderAndTexts) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  config.net_restrict = *IpNetList::Parse("10.0.0.0/8");
  RunDriven(config, [&](DialHarness& h) {
    auto check = [&](const Node& n) { return std::string(h.sched().CheckDial(n).message()); };
    EXPECT_EQ(check(N(0xEEEE, "127.0.0.1:0")), "is self");
    EXPECT_EQ(check(N(0x01, "10.0.0.1:0")), "node does not provide TCP port");
    EXPECT_EQ(check(N(0x01, "127.0.0.1:30303")), "not contained in netrestrict list");
    EXPECT_EQ(check(N(0x01)), "not contained in netrestrict list") << "no IP: not in the list";
    EXPECT_TRUE(h.sched().CheckDial(N(0x01, "10.0.0.1:30303")).ok());
    h.sched().AddStatic(N(0x01, "10.0.0.1:30303"));
    h.Settle();
    EXPECT_EQ(check(N(0x01, "10.0.0.1:30303")), "already dialing");
    h.Succeed(UintId(0x01));
    h.Settle();
    EXPECT_EQ(check(N(0x01, "10.0.0.1:30303")), "already connected");
    h.sched().InboundPending(UintId(0x02));
    EXPECT_EQ(check(N(0x02, "10.0.0.2:30303")), "peer has pending inbound connection");
    h.sched().PeerRemoved(UintId(0x01), kStaticDialedConn);
    EXPECT_EQ(check(N(0x01, "10.0.0.1:30303")), "recently dialed");
    EXPECT_TRUE(
        IsDialError(h.sched().CheckDial(N(0x01, "10.0.0.1:30303")), DialError::kRecentlyDialed));
  });
}

// The known field bug: a dial task that never completes must not leave a
// static node stuck on "already dialing". The watchdog ends it.
TEST(DialSchedulerConformance, HungDialIsAbandonedByWatchdog) {
  DialConfig config;
  config.max_active_dials = 1;
  config.max_dial_peers = 1;
  config.task_timeout = absl::Seconds(60);
  RunDriven(config, [&](DialHarness& h) {
    h.sched().AddStatic(N(0x01, kLocal));
    h.Settle();
    ASSERT_EQ(h.dialer().TakeAttempts().size(), 1u);
    h.queue().RunUntil(59'999'999'999);
    EXPECT_EQ(h.sched().dialing(), 1u);
    EXPECT_EQ(h.sched().stats().task_timeouts, 0);
    EXPECT_TRUE(h.dialer().TakeAttempts().empty()) << "stuck on \"already dialing\"";
    h.queue().RunUntil(60'000'000'000);
    EXPECT_EQ(h.sched().stats().task_timeouts, 1);
    EXPECT_EQ(h.sched().stats().failures.at("dial task timed out"), 1);
    // History (35 s) has already expired: dialed again right away.
    auto d = h.dialer().TakeAttempts();
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(h.sched().dialing(), 1u);
    // The hung attempt's late completion is ignored: the new attempt is still
    // tracked. Then the new one completes.
    h.dialer().Succeed(UintId(0x01));  // The old, abandoned attempt.
    h.Settle();
    EXPECT_EQ(h.sched().dialing(), 1u);
    EXPECT_EQ(h.sched().stats().dials_succeeded, 0);
    h.dialer().FailHandshake(UintId(0x01));
    h.Settle();
    EXPECT_EQ(h.sched().dialing(), 0u);
    EXPECT_EQ(h.sched().stats().dials_failed, 1);
  });
}

TEST(DialSchedulerConformance, StopClosesIteratorAndStartsNothing) {
  DialConfig config;
  config.max_active_dials = 2;
  config.max_dial_peers = 2;
  RunDriven(config, [&](DialHarness& h) {
    h.it().Push({N(0x01, kLocal)});
    h.Settle();
    ASSERT_EQ(h.dialer().TakeAttempts().size(), 1u);
    h.sched().Stop();
    EXPECT_TRUE(h.it().closed());
    h.sched().AddStatic(N(0x02, kLocal));
    h.dialer().FailConnect(UintId(0x01));
    h.Settle();
    EXPECT_EQ(h.sched().dialing(), 0u) << "in-flight dial still completes";
    EXPECT_TRUE(h.dialer().TakeAttempts().empty());
  });
}

TEST(DialSchedulerConformance, DestroyWithDialsInFlightIsSafe) {
  sim::EventQueue q;
  sim::SimLoop loop(&q);
  FakeNodeDialer dialer(&loop);
  QueueIterator it(&loop);
  {
    DialConfig config;
    config.max_dial_peers = 3;
    DialDeps deps;
    deps.loop = &loop;
    deps.dialer = &dialer;
    deps.candidates = &it;
    auto s = *DialScheduler::Create(config, std::move(deps));
    s->Start();
    it.Push({N(0x01, kLocal), N(0x02, kLocal)});
    q.RunUntil(q.now_ns());
    ASSERT_EQ(dialer.num_pending(), 2u);
  }
  dialer.FailConnect(UintId(0x01));
  dialer.Succeed(UintId(0x02));
  it.Push({N(0x03, kLocal)});
  q.RunUntilIdle();  // Completions for the destroyed scheduler are dropped.
  SUCCEED();
}

TEST(DialSchedulerConformance, CreateRejectsMissingDeps) {
  DialConfig config;
  DialDeps deps;
  EXPECT_EQ(DialScheduler::Create(config, deps).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace p2p
