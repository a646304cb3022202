// Tests for the v1.8.24 dialer.
//
// Part 1 ports go-ethereum v1.8.24's p2p/dial_test.go against
// LegacyDialState, round by round as its runDialTest does: tasks reported
// done, then NewTasks must return exactly the expected set, then virtual
// time advances by 16 s. Part 2 drives LegacyDialer (Server.run's task
// machinery) on the simulated loop: the 16-task cap and queue, bootnode
// fallback, lookup spacing, wait-expire wake-ups, resolve backoff and the
// watchdog. Every scenario runs twice with the same seed and must produce
// the identical sequence of tasks / dial events.
#include "core/dial/legacy_dial.h"

#include <algorithm>
#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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

using testing::FakeDiscoveryTable;
using testing::FakeNodeDialer;
using testing::FakeResolver;

using testing::UintId;

Node N(uint16_t i, const std::string& addr = "") { return testing::TestNode(i, addr); }

std::string Addr(int i) { return absl::StrCat("127.0.0.", i, ":30303"); }
// A node with an address (dialable without resolving).
Node NA(uint16_t i) { return N(i, Addr(i)); }

std::string Str(const Node& n) {
  return absl::StrCat(n.id.TerminalString(), n.has_ip() ? "@" + n.TcpEndpoint().ToString() : "");
}

std::string DialT(ConnFlags f, uint16_t i) {
  return absl::StrCat("dial ", ConnFlagsString(f), " ", UintId(i).TerminalString());
}
std::string Dyn(uint16_t i) { return DialT(kDynDialedConn, i); }
std::string Stat(uint16_t i) { return DialT(kStaticDialedConn, i); }
const char kDiscover[] = "discover";
std::string Wait(absl::Duration d) { return absl::StrCat("wait ", absl::FormatDuration(d)); }

// Runs `scenario` twice with the same seed: both runs must give the same,
// non-empty sequence.
// A scenario stores its sequence in *out (it may stop early on ASSERT).
void RunTwice(
    const std::function<void(uint64_t seed, std::vector<std::string>* out)>& scenario) {
  std::vector<std::string> first, second;
  scenario(1, &first);
  if (::testing::Test::HasFatalFailure()) return;
  ASSERT_FALSE(first.empty());
  scenario(1, &second);
  EXPECT_EQ(first, second) << "same seed, different sequence";
}

// ===========================================================================
// Part 1: dialstate, round by round (go-ethereum's runDialTest).

struct Done {
  enum Kind { kDialTask, kDiscoverTask } kind;
  uint16_t id = 0;
  std::vector<Node> results;
};
Done DialDone(uint16_t i) { return Done{Done::kDialTask, i, {}}; }
Done DiscoverDone(std::vector<Node> results = {}) {
  return Done{Done::kDiscoverTask, 0, std::move(results)};
}

struct StateRound {
  std::vector<std::pair<uint16_t, ConnFlags>> peers;  // Current peer set.
  std::vector<Done> done;                             // Done this round.
  std::vector<std::string> want;                      // New tasks, any order.
};

// Owns a state and the fakes it reads from.
struct StateFixture {
  explicit StateFixture(LegacyDialState::Options o, std::vector<Node> random = {})
      : loop(&queue), table(&loop) {
    table.SetRandomNodes(std::move(random));
    if (o.table == nullptr) o.table = &table;
    o.on_discard = [this](const Node& n, ConnFlags f, const absl::Status& why) {
      discards.push_back(absl::StrCat(n.id.TerminalString(), " ", ConnFlagsString(f), " ",
                                      why.message()));
    };
    state = std::make_unique<LegacyDialState>(std::move(o));
  }
  sim::EventQueue queue;
  sim::SimLoop loop;
  FakeDiscoveryTable table;
  std::vector<std::string> discards;
  std::unique_ptr<LegacyDialState> state;
};

LegacyDialState::Options Opts(int max_dyn, std::vector<Node> statics = {},
                              std::vector<Node> bootnodes = {}) {
  LegacyDialState::Options o;
  o.self = UintId(0xEEEE);
  o.max_dyn_dials = max_dyn;
  o.static_nodes = std::move(statics);
  o.bootnodes = std::move(bootnodes);
  return o;
}

// runDialTest. Returns the sequence of new tasks, round by round.
std::vector<std::string> RunDialTest(LegacyDialState& s, const std::vector<StateRound>& rounds) {
  MonoTime vtime = FromNanos(0);
  std::vector<LegacyTask> running;  // Like Go's counter, never-done tasks stay.
  std::vector<std::string> seq;
  for (size_t i = 0; i < rounds.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("round ", i));
    const StateRound& r = rounds[i];
    for (const Done& d : r.done) {
      auto it = std::find_if(running.begin(), running.end(), [&](const LegacyTask& t) {
        if (d.kind == Done::kDiscoverTask) return t.kind == LegacyTask::Kind::kDiscover;
        return t.kind == LegacyTask::Kind::kDial && t.dial->dest.id == UintId(d.id);
      });
      if (it == running.end()) {
        ADD_FAILURE() << "done task is not running";
        return seq;
      }
      LegacyTask t = std::move(*it);
      running.erase(it);
      t.results = d.results;
      s.TaskDone(t, vtime);
    }
    std::map<NodeId, ConnFlags> peers;
    for (auto& [id, flags] : r.peers) peers[UintId(id)] = flags;
    std::vector<LegacyTask> nt = s.NewTasks(static_cast<int>(running.size()), peers, vtime);
    std::vector<std::string> got;
    for (const LegacyTask& t : nt) got.push_back(t.ToString());
    for (const std::string& g : got) seq.push_back(absl::StrCat(i, ": ", g));
    std::vector<std::string> want = r.want;
    std::sort(got.begin(), got.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(got, want) << "new tasks mismatch";
    // Time advances by 16 seconds on every round.
    vtime += absl::Seconds(16);
    for (LegacyTask& t : nt) running.push_back(std::move(t));
  }
  return seq;
}

constexpr ConnFlags kDyn = kDynDialedConn;
constexpr ConnFlags kStatic = kStaticDialedConn;

// TestDialStateDynDial: dynamic dials are launched from discovery results.
TEST(LegacyDialStateTest, DynDial) {
  RunTwice([](uint64_t, std::vector<std::string>* out) {
    StateFixture f(Opts(5));
    std::vector<StateRound> rounds(8);
    // A discovery query is launched.
    rounds[0].peers = {{0, kStatic}, {1, kDyn}, {2, kDyn}};
    rounds[0].want = {kDiscover};
    // Dynamic dials are launched when it completes.
    rounds[1].peers = {{0, kStatic}, {1, kDyn}, {2, kDyn}};
    rounds[1].done = {DiscoverDone({N(2),  // Already connected, not dialed.
                                    N(3), N(4), N(5),
                                    N(6), N(7)})};  // Not tried: maxDynDials is 5.
    rounds[1].want = {Dyn(3), Dyn(4), Dyn(5)};
    // Some dials complete; the sum of dials and dynamic peers == maxDynDials.
    rounds[2].peers = {{0, kStatic}, {1, kDyn}, {2, kDyn}, {3, kDyn}, {4, kDyn}};
    rounds[2].done = {DialDone(3), DialDone(4)};
    // maxDynDials reached: only a wait for the history (3, 4 expire at 62 s).
    rounds[3].peers = {{0, kStatic}, {1, kDyn}, {2, kDyn}, {3, kDyn}, {4, kDyn}, {5, kDyn}};
    rounds[3].done = {DialDone(5)};
    rounds[3].want = {Wait(absl::Seconds(14))};
    // Peer 2 drops off: the last lookup's results are reused.
    rounds[4].peers = {{0, kStatic}, {1, kDyn}, {3, kDyn}, {4, kDyn}, {5, kDyn}};
    rounds[4].want = {Dyn(6)};
    // Peers 3, 4 drop off and the dial to 6 completes: the last lookup
    // result is used and a new lookup starts.
    rounds[5].peers = {{0, kStatic}, {1, kDyn}, {5, kDyn}};
    rounds[5].done = {DialDone(6)};
    rounds[5].want = {Dyn(7), kDiscover};
    // Peer 7 connected; 4 of 5 dynamic peers, but a lookup is running.
    rounds[6].peers = {{0, kStatic}, {1, kDyn}, {5, kDyn}, {7, kDyn}};
    rounds[6].done = {DialDone(7)};
    // The lookup finishes empty: a new one is requested at once.
    rounds[7].peers = {{0, kStatic}, {1, kDyn}, {5, kDyn}, {7, kDyn}};
    rounds[7].done = {DiscoverDone()};
    rounds[7].want = {kDiscover};
    *out = RunDialTest(*f.state, rounds);
  });
}

// TestDialStateDynDialBootnode: bootnodes are dialed (rotating) when there
// are no peers, only after the fallback interval, and not once a peer exists.
//
// go-ethereum's version expects the first bootnode one round later: its
// harness starts at Go's zero time, which dialstate mistakes for "start not
// set yet", so its start is the second round (16 s). Here start is the
// first NewTasks call (0 s), so the first bootnode is dialed at 32 s > 20 s.
TEST(LegacyDialStateTest, DynDialBootnode) {
  RunTwice([](uint64_t, std::vector<std::string>* out) {
    StateFixture f(Opts(5, {}, {N(1), N(2), N(3)}), {N(4), N(5), N(6), N(7), N(8)});
    std::vector<StateRound> rounds(8);
    // 2 dynamic dials (half of 5) from the table, a lookup; bootnodes wait.
    rounds[0].want = {Dyn(4), Dyn(5), kDiscover};
    // No dials succeed; 16 s is within the fallback interval.
    rounds[1].done = {DialDone(4), DialDone(5)};
    // 32 s: the first bootnode; 4 and 5 are still in the history.
    rounds[2].want = {Dyn(1)};
    // The 2nd bootnode, and 4, 5 again (their history expired at 46 s).
    rounds[3].done = {DialDone(1)};
    rounds[3].want = {Dyn(2), Dyn(4), Dyn(5)};
    // The 3rd bootnode.
    rounds[4].done = {DialDone(2), DialDone(4), DialDone(5)};
    rounds[4].want = {Dyn(3)};
    // The 1st bootnode again (its history expired at 78 s).
    rounds[5].done = {DialDone(3)};
    rounds[5].want = {Dyn(1)};
    // The 2nd bootnode again, and the table's nodes.
    rounds[6].done = {DialDone(1)};
    rounds[6].want = {Dyn(2), Dyn(4), Dyn(5)};
    // A random dial succeeded: no more bootnodes.
    rounds[7].peers = {{4, kDyn}};
    rounds[7].done = {DialDone(2), DialDone(4), DialDone(5)};
    *out = RunDialTest(*f.state, rounds);
  });
}

// TestDialStateDynDialFromTable.
TEST(LegacyDialStateTest, DynDialFromTable) {
  RunTwice([](uint64_t, std::vector<std::string>* out) {
    StateFixture f(Opts(10), {N(1), N(2), N(3), N(4), N(5), N(6), N(7), N(8)});
    std::vector<StateRound> rounds(5);
    // 5 of the 8 nodes returned by ReadRandomNodes are dialed.
    rounds[0].want = {Dyn(1), Dyn(2), Dyn(3), Dyn(4), Dyn(5), kDiscover};
    // Dialing 1, 2 succeeds. Dials from the lookup are launched.
    rounds[1].peers = {{1, kDyn}, {2, kDyn}};
    rounds[1].done = {DialDone(1), DialDone(2), DiscoverDone({N(10), N(11), N(12)})};
    rounds[1].want = {Dyn(10), Dyn(11), Dyn(12), kDiscover};
    // Dialing 3, 4, 5 fails. The dials from the lookup succeed.
    rounds[2].peers = {{1, kDyn}, {2, kDyn}, {10, kDyn}, {11, kDyn}, {12, kDyn}};
    rounds[2].done = {DialDone(3), DialDone(4), DialDone(5),
                      DialDone(10), DialDone(11), DialDone(12)};
    // Waiting for expiry. No wait task: the lookup is still running.
    rounds[3].peers = rounds[2].peers;
    // 3, 4 are not tried again: only the first two random nodes (1, 2) are
    // tried, and they are connected.
    rounds[4].peers = rounds[2].peers;
    *out = RunDialTest(*f.state, rounds);
  });
}

// TestDialStateNetRestrict: candidates outside the whitelist are not dialed.
TEST(LegacyDialStateTest, NetRestrict) {
  std::vector<std::string> discards;
  RunTwice([&](uint64_t, std::vector<std::string>* out) {
    LegacyDialState::Options o = Opts(10);
    o.net_restrict = *IpNetList::Parse("127.0.2.0/24");
    StateFixture f(std::move(o),
                   {N(1, "127.0.0.1:30303"), N(2, "127.0.0.2:30303"), N(3, "127.0.0.3:30303"),
                    N(4, "127.0.0.4:30303"), N(5, "127.0.2.5:30303"), N(6, "127.0.2.6:30303"),
                    N(7, "127.0.2.7:30303"), N(8, "127.0.2.8:30303")});
    std::vector<StateRound> rounds(1);
    rounds[0].want = {Dyn(5), kDiscover};
    std::vector<std::string> seq = RunDialTest(*f.state, rounds);
    discards = f.discards;
    *out = seq;
  });
  // Half of maxDynDials (5) candidates were read; 1..4 were discarded.
  std::vector<std::string> want;
  for (uint16_t i = 1; i <= 4; ++i) {
    want.push_back(absl::StrCat(UintId(i).TerminalString(), " dyndial not contained in netrestrict whitelist"));
  }
  EXPECT_EQ(discards, want);
}

// TestDialStateStaticDial: static dials are launched for unconnected
// statics; a dropped static peer is redialed at once.
TEST(LegacyDialStateTest, StaticDial) {
  RunTwice([](uint64_t, std::vector<std::string>* out) {
    StateFixture f(Opts(0, {N(1), N(2), N(3), N(4), N(5)}));
    std::vector<StateRound> rounds(5);
    rounds[0].peers = {{1, kDyn}, {2, kDyn}};
    rounds[0].want = {Stat(3), Stat(4), Stat(5)};
    // All statics are connected or still being dialed.
    rounds[1].peers = {{1, kDyn}, {2, kDyn}, {3, kStatic}};
    rounds[1].done = {DialDone(3)};
    // All statics connected; wait for 3's history entry (expires at 46 s).
    rounds[2].peers = {{1, kDyn}, {2, kDyn}, {3, kStatic}, {4, kStatic}, {5, kStatic}};
    rounds[2].done = {DialDone(4), DialDone(5)};
    rounds[2].want = {Wait(absl::Seconds(14))};
    // Wait a round for the history to expire; nothing to do.
    rounds[3].peers = rounds[2].peers;
    // Dropped statics are redialed, whether they were dialed as static or
    // dynamic.
    rounds[4].peers = {{1, kDyn}, {3, kStatic}, {5, kStatic}};
    rounds[4].want = {Stat(2), Stat(4)};
    *out = RunDialTest(*f.state, rounds);
  });
}

// TestDialStaticAfterReset: a static removed and re-added is redialed at
// once (removeStatic forgets its history).
TEST(LegacyDialStateTest, StaticAfterReset) {
  RunTwice([](uint64_t, std::vector<std::string>* out) {
    StateFixture f(Opts(0, {N(1), N(2)}));
    std::vector<StateRound> rounds(2);
    rounds[0].want = {Stat(1), Stat(2)};
    rounds[1].peers = {{1, kStatic}, {2, kStatic}};
    rounds[1].done = {DialDone(1), DialDone(2)};
    rounds[1].want = {Wait(absl::Seconds(30))};
    std::vector<std::string> seq = RunDialTest(*f.state, rounds);
    for (uint16_t i : {1, 2}) {
      f.state->RemoveStatic(UintId(i));
      f.state->AddStatic(N(i));
    }
    EXPECT_TRUE(f.state->history().empty());
    // Without the reset they would be "recently dialed".
    std::vector<std::string> again = RunDialTest(*f.state, rounds);
    seq.insert(seq.end(), again.begin(), again.end());
    *out = seq;
  });
}

// TestDialStateCache: past dials are not retried until their history
// entry expires.
TEST(LegacyDialStateTest, Cache) {
  RunTwice([](uint64_t, std::vector<std::string>* out) {
    StateFixture f(Opts(0, {N(1), N(2), N(3)}));
    std::vector<StateRound> rounds(5);
    rounds[0].want = {Stat(1), Stat(2), Stat(3)};
    rounds[1].peers = {{1, kStatic}, {2, kStatic}};
    rounds[1].done = {DialDone(1), DialDone(2)};
    // A task waits for the earliest history entry (1, 2 at 46 s).
    rounds[2].peers = {{1, kDyn}, {2, kDyn}};
    rounds[2].done = {DialDone(3)};
    rounds[2].want = {Wait(absl::Seconds(14))};
    // Still waiting for 3's entry (62 s).
    rounds[3].peers = {{1, kDyn}, {2, kDyn}};
    // 3's entry expired: retried.
    rounds[4].peers = {{1, kDyn}, {2, kDyn}};
    rounds[4].want = {Stat(3)};
    *out = RunDialTest(*f.state, rounds);
  });
}

// checkDial's order and texts, and statics dropped for self / whitelist.
TEST(LegacyDialStateTest, CheckDialOrderAndStaticDrops) {
  LegacyDialState::Options o = Opts(0, {N(1, "127.0.2.1:30303"), N(2, "10.0.0.2:30303"),
                                        N(0xEEEE, "127.0.2.9:30303"), N(3)});
  o.net_restrict = *IpNetList::Parse("127.0.2.0/24");
  StateFixture f(std::move(o));
  LegacyDialState& s = *f.state;
  std::map<NodeId, ConnFlags> none;
  EXPECT_TRUE(s.CheckDial(N(1, "127.0.2.1:30303"), none).ok());
  EXPECT_EQ(s.CheckDial(N(0xEEEE, "127.0.2.9:30303"), none),
            absl::FailedPreconditionError("is self"));
  EXPECT_EQ(s.CheckDial(N(2, "10.0.0.2:30303"), none),
            absl::FailedPreconditionError("not contained in netrestrict whitelist"));
  // Connected beats self and whitelist.
  std::map<NodeId, ConnFlags> peers = {{UintId(0xEEEE), kInboundConn}};
  EXPECT_EQ(s.CheckDial(N(0xEEEE), peers), absl::FailedPreconditionError("already connected"));

  std::vector<LegacyTask> nt = s.NewTasks(0, none, FromNanos(0));
  ASSERT_EQ(nt.size(), 1u);
  EXPECT_EQ(nt[0].ToString(), Stat(1));
  // Self, outside the whitelist, and without an IP (not whitelisted either)
  // are dropped from the statics, in NodeId order.
  EXPECT_EQ(f.discards,
            (std::vector<std::string>{
                absl::StrCat(UintId(2).TerminalString(), " staticdial not contained in netrestrict whitelist"),
                absl::StrCat(UintId(3).TerminalString(), " staticdial not contained in netrestrict whitelist"),
                absl::StrCat(UintId(0xEEEE).TerminalString(), " staticdial is self")}));
  EXPECT_EQ(s.num_static(), 1u);
  // Dialing beats connected.
  std::map<NodeId, ConnFlags> p1 = {{UintId(1), kStatic}};
  EXPECT_TRUE(IsLegacyDialError(s.CheckDial(N(1, "127.0.2.1:30303"), p1),
                                LegacyDialError::kAlreadyDialing));
  s.TaskDone(nt[0], FromNanos(0));
  EXPECT_TRUE(IsLegacyDialError(s.CheckDial(N(1, "127.0.2.1:30303"), none),
                                LegacyDialError::kRecentlyDialed));
  // The history entry lasts exactly 30 s (expiry strictly before now).
  EXPECT_EQ(s.history().NextExpiry(), FromNanos(0) + absl::Seconds(30));
}

// addStatic replaces a running static's task: the old one still completes;
// the new one is dialed once the node is free, with a fresh backoff.
TEST(LegacyDialStateTest, AddStaticOverwritesTask) {
  StateFixture f(Opts(0, {N(1)}));
  LegacyDialState& s = *f.state;
  std::map<NodeId, ConnFlags> none;
  std::vector<LegacyTask> nt = s.NewTasks(0, none, FromNanos(0));
  ASSERT_EQ(nt.size(), 1u);
  LegacyDialTask* old = nt[0].dial;
  old->resolve_delay = absl::Minutes(4);
  old->last_resolved = FromNanos(0);
  EXPECT_EQ(s.StaticTask(UintId(1)), old);
  s.AddStatic(N(1));
  const LegacyDialTask* fresh = s.StaticTask(UintId(1));
  ASSERT_NE(fresh, old);
  EXPECT_EQ(fresh->resolve_delay, absl::ZeroDuration());
  EXPECT_FALSE(fresh->last_resolved.has_value());
  // Still dialing through the old task.
  EXPECT_TRUE(s.NewTasks(1, none, FromNanos(1)).empty());
  s.TaskDone(nt[0], FromNanos(1));  // Frees the old task.
  s.RemoveStatic(UintId(1));
  EXPECT_TRUE(s.history().empty());
  EXPECT_TRUE(s.NewTasks(0, none, FromNanos(2)).empty()) << "removed static dialed";
}

// ===========================================================================
// Part 2: LegacyDialer on the simulated loop.

// Records every dial event with its virtual time.
class TraceObserver : public DialObserver {
 public:
  explicit TraceObserver(sim::EventQueue* q) : q_(q) {}
  void OnDialEvent(const DialEvent& e) override {
    const std::string t = absl::FormatDuration(absl::Nanoseconds(q_->now_ns()));
    lines.push_back(absl::StrCat(t, " ", DialEventKindName(e.kind), " ", e.id.TerminalString(),
                                 " ", ConnFlagsString(e.flags), " ", e.status.ToString(), " ",
                                 e.count));
    if (e.kind == DialEvent::Kind::kDialStart) {
      starts.push_back(absl::StrCat(t, " ", e.id.TerminalString()));
    }
    if (e.kind == DialEvent::Kind::kResolve) resolves.push_back(q_->now_ns());
  }
  std::vector<std::string> lines;
  std::vector<std::string> starts;  // "<time> <id>" per kDialStart.
  std::vector<int64_t> resolves;    // Times of resolve results.

 private:
  sim::EventQueue* q_;
};

std::string At(absl::Duration t, uint16_t i) {
  return absl::StrCat(absl::FormatDuration(t), " ", UintId(i).TerminalString());
}

class Harness {
 public:
  Harness(DialConfig config, uint64_t seed, bool with_table = true)
      : loop_(&queue_), dialer_(&loop_), resolver_(&loop_), table_(&loop_), observer_(&queue_) {
    if (config.self == NodeId()) config.self = UintId(0xEEEE);
    DialDeps deps;
    deps.loop = &loop_;
    deps.dialer = &dialer_;
    deps.rng = Rng(seed);
    deps.table = with_table ? &table_ : nullptr;
    deps.resolver = &resolver_;
    deps.observer = &observer_;
    absl::StatusOr<std::unique_ptr<LegacyDialer>> d = LegacyDialer::Create(config, deps);
    ABSL_RAW_CHECK(d.ok(), "LegacyDialer::Create failed");
    d_ = std::move(*d);
  }

  void Start() {
    d_->Start();
    Settle();
  }
  // Runs everything due at the current instant.
  void Settle() { queue_.RunUntil(queue_.now_ns()); }
  void RunTo(absl::Duration t) { queue_.RunUntil(absl::ToInt64Nanoseconds(t)); }
  absl::Duration now() const { return absl::Nanoseconds(queue_.now_ns()); }

  // Dial attempts since the last call, as "id@ip:port".
  std::vector<std::string> Attempts() {
    std::vector<std::string> out;
    for (auto& a : dialer_.TakeAttempts()) out.push_back(Str(a.dest));
    return out;
  }
  // The dial to `id` succeeds: the server adds the peer, then the task ends.
  void Succeed(const NodeId& id) {
    ConnFlags flags = dialer_.pending_flags().at(id);
    d_->PeerAdded(id, flags);
    dialer_.Succeed(id);
    Settle();
  }
  void FailConnect(const NodeId& id) {
    dialer_.FailConnect(id);
    Settle();
  }
  void FailHandshake(const NodeId& id) {
    dialer_.FailHandshake(id);
    Settle();
  }

  LegacyDialer& d() { return *d_; }
  FakeNodeDialer& dialer() { return dialer_; }
  FakeResolver& resolver() { return resolver_; }
  FakeDiscoveryTable& table() { return table_; }
  TraceObserver& obs() { return observer_; }
  std::vector<absl::Duration> LookupTimes() const {
    std::vector<absl::Duration> out;
    for (MonoTime t : table_.lookup_times()) out.push_back(t - FromNanos(0));
    return out;
  }

 private:
  sim::EventQueue queue_;
  sim::SimLoop loop_;
  FakeNodeDialer dialer_;
  FakeResolver resolver_;
  FakeDiscoveryTable table_;
  TraceObserver observer_;
  std::unique_ptr<LegacyDialer> d_;
};

std::vector<std::string> Strs(std::vector<Node> nodes) {
  std::vector<std::string> out;
  for (const Node& n : nodes) out.push_back(Str(n));
  return out;
}

TEST(LegacyDialerTest, CreateChecksDeps) {
  sim::EventQueue q;
  sim::SimLoop loop(&q);
  FakeNodeDialer dialer(&loop);
  DialConfig config;
  DialDeps deps;
  deps.dialer = &dialer;
  EXPECT_EQ(NewLegacyDialer(config, deps).status(),
            absl::InvalidArgumentError("LegacyDialer: deps.loop is required"));
  deps.loop = &loop;
  deps.dialer = nullptr;
  EXPECT_EQ(NewLegacyDialer(config, deps).status(),
            absl::InvalidArgumentError("LegacyDialer: deps.dialer is required"));
  deps.dialer = &dialer;
  config.task_timeout = absl::ZeroDuration();
  EXPECT_EQ(NewLegacyDialer(config, deps).status(),
            absl::InvalidArgumentError("LegacyDialer: task_timeout must be > 0"));
  config.task_timeout = absl::Seconds(60);
  config.max_dial_peers = -1;
  EXPECT_EQ(NewLegacyDialer(config, deps).status(),
            absl::InvalidArgumentError("LegacyDialer: max_dial_peers must be >= 0"));
  config.max_dial_peers = 3;
  // No table: allowed (no discovery).
  absl::StatusOr<std::unique_ptr<DialPolicy>> d = NewLegacyDialer(config, deps);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->generation(), DialGeneration::kLegacy);
}

// Server.run: at most 16 tasks run; the rest wait in the queue, which is
// served before NewTasks is asked again.
TEST(LegacyDialerTest, SixteenTaskCapWithQueue) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.max_dial_peers = 40;
    Harness h(config, seed);
    std::vector<Node> table;
    for (uint16_t i = 1; i <= 20; ++i) table.push_back(NA(i));
    h.table().SetRandomNodes(table);
    h.Start();
    // newTasks: 20 random dials (half of 40) and a lookup; 16 start.
    EXPECT_EQ(h.Attempts(), Strs(std::vector<Node>(table.begin(), table.begin() + 16)));
    EXPECT_EQ(h.d().running_tasks(), 16u);
    EXPECT_EQ(h.d().dialing(), 16u);
    EXPECT_EQ(h.d().QueuedTaskNames(),
              (std::vector<std::string>{Dyn(17), Dyn(18), Dyn(19), Dyn(20), kDiscover}));
    EXPECT_TRUE(h.LookupTimes().empty());
    // Each finished task lets exactly one queued task start.
    h.FailConnect(UintId(3));
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(NA(17))});
    h.Succeed(UintId(5));
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(NA(18))});
    h.FailHandshake(UintId(1));
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(NA(19))});
    h.FailConnect(UintId(2));
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(NA(20))});
    EXPECT_EQ(h.d().QueuedTaskNames(), std::vector<std::string>{kDiscover});
    // The lookup starts last; it finishes (empty) at once, and NewTasks then
    // finds no new candidate (1..4 recent, 5 connected, 6..12 dialing) and
    // starts the next lookup, which waits for its 4 s turn.
    h.FailConnect(UintId(4));
    EXPECT_TRUE(h.Attempts().empty());
    EXPECT_EQ(h.LookupTimes(), std::vector<absl::Duration>{absl::ZeroDuration()});
    EXPECT_EQ(h.d().running_tasks(), 16u);
    EXPECT_EQ(h.d().dialing(), 15u);
    EXPECT_TRUE(h.d().QueuedTaskNames().empty());
    h.RunTo(absl::Seconds(4));
    EXPECT_EQ(h.LookupTimes(),
              (std::vector<absl::Duration>{absl::ZeroDuration(), absl::Seconds(4)}));
    const DialStats& st = h.d().stats();
    EXPECT_EQ(st.dials_started, 20);
    EXPECT_EQ(st.dials_succeeded, 1);
    EXPECT_EQ(st.dials_failed, 4);
    EXPECT_EQ(st.lookups, 2);
    *out = h.obs().lines;
  });
}

// With 16 tasks running, NewTasks is not called at all: a static added
// meanwhile waits until a task finishes.
TEST(LegacyDialerTest, NoNewTasksWhileSixteenRun) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.max_dial_peers = 32;
    Harness h(config, seed, /*with_table=*/false);
    for (uint16_t i = 1; i <= 16; ++i) h.d().AddStatic(NA(i));
    h.Start();
    EXPECT_EQ(h.Attempts().size(), 16u);
    h.d().AddStatic(NA(100));
    h.Settle();
    EXPECT_TRUE(h.Attempts().empty());
    EXPECT_TRUE(h.d().QueuedTaskNames().empty()) << "NewTasks ran with 16 tasks running";
    h.FailHandshake(UintId(7));
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(NA(100))});
    *out = h.obs().lines;
  });
}

// Bootnodes are dialed only when there are no peers, more than 20 s after
// the first NewTasks, one per NewTasks call, rotating through the list.
TEST(LegacyDialerTest, BootnodeFallbackAfterTwentySecondsWithRotation) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.max_dial_peers = 5;
    config.bootnodes = {NA(1), NA(2), NA(3)};
    Harness h(config, seed);
    h.Start();
    // Lookups (empty) tick the loop every 4 s; NewTasks runs after each. At
    // 20 s exactly the fallback interval has not been exceeded yet.
    h.RunTo(absl::Seconds(23));
    EXPECT_TRUE(h.obs().starts.empty());
    h.RunTo(absl::Seconds(35) - absl::Nanoseconds(1));
    EXPECT_EQ(h.obs().starts, (std::vector<std::string>{At(absl::Seconds(24), 1),
                                                        At(absl::Seconds(28), 2),
                                                        At(absl::Seconds(32), 3)}));
    // All three fail at 35 s (history until 65 s). Every NewTasks call takes
    // the next bootnode, dialable or not: three calls at 35 s, then one per
    // lookup at 36, 40, ..., 64 s (all "recently dialed"), so at 68, 72 and
    // 76 s the rotation is at 3, 1, 2.
    h.RunTo(absl::Seconds(35));
    for (uint16_t i : {1, 2, 3}) h.dialer().FailConnect(UintId(i));
    h.Settle();
    h.RunTo(absl::Seconds(79));
    EXPECT_EQ(h.obs().starts,
              (std::vector<std::string>{At(absl::Seconds(24), 1), At(absl::Seconds(28), 2),
                                        At(absl::Seconds(32), 3), At(absl::Seconds(68), 3),
                                        At(absl::Seconds(72), 1), At(absl::Seconds(76), 2)}));
    EXPECT_EQ(h.d().stats().discarded.at("recently dialed"), 11);
    // A peer appears: no more bootnode dials, even after the pending ones end.
    h.d().PeerAdded(UintId(50), kInboundConn);
    for (uint16_t i : {1, 2, 3}) h.dialer().FailConnect(UintId(i));
    h.Settle();
    h.RunTo(absl::Seconds(300));
    EXPECT_EQ(h.obs().starts.size(), 6u);
    // Lookups kept running every 4 s throughout.
    std::vector<absl::Duration> lookups = h.LookupTimes();
    EXPECT_EQ(lookups.size(), 76u);
    for (size_t i = 0; i < lookups.size(); ++i) {
      EXPECT_EQ(lookups[i], absl::Seconds(4) * static_cast<int64_t>(i));
    }
    *out = h.obs().lines;
  });
}

// Discover tasks: lookups at least 4 s apart (start to start); results feed
// dynamic dials; none while no more dials are needed.
TEST(LegacyDialerTest, LookupsAtLeastFourSecondsApart) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.max_dial_peers = 3;
    Harness h(config, seed);
    h.table().QueueLookupResult({NA(1)});
    h.table().QueueLookupResult({NA(2)});
    h.table().QueueLookupResult({NA(3)});
    h.Start();
    h.RunTo(absl::Seconds(10));
    EXPECT_EQ(h.obs().starts,
              (std::vector<std::string>{At(absl::ZeroDuration(), 1), At(absl::Seconds(4), 2),
                                        At(absl::Seconds(8), 3)}));
    // Three dials in flight: no lookup after the third.
    EXPECT_EQ(h.LookupTimes(), (std::vector<absl::Duration>{
                                   absl::ZeroDuration(), absl::Seconds(4), absl::Seconds(8)}));
    // A dial fails at 10 s: the next lookup waits until 12 s (8 s + 4 s),
    // then (empty results) they go on every 4 s.
    h.FailConnect(UintId(1));
    EXPECT_EQ(h.LookupTimes().size(), 3u);
    h.RunTo(absl::Seconds(20));
    EXPECT_EQ(h.LookupTimes(),
              (std::vector<absl::Duration>{absl::ZeroDuration(), absl::Seconds(4),
                                           absl::Seconds(8), absl::Seconds(12),
                                           absl::Seconds(16), absl::Seconds(20)}));
    EXPECT_EQ(h.obs().starts.size(), 3u);
    EXPECT_EQ(h.d().stats().lookups, 6);
    *out = h.obs().lines;
  });
}

// A wait-expire task keeps the idle dialer ticking: it wakes it at the
// first instant the earliest history entry has expired (expiry + 1 ns,
// since entries expire strictly before now), and the static is redialed.
TEST(LegacyDialerTest, WaitExpireWakesAtHistoryExpiry) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.static_nodes = {NA(1)};
    Harness h(config, seed, /*with_table=*/false);
    h.Start();
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(NA(1))});
    h.RunTo(absl::Seconds(1));
    h.FailHandshake(UintId(1));  // History until 31 s.
    EXPECT_EQ(h.d().RunningTaskNames(), std::vector<std::string>{Wait(absl::Seconds(30))});
    h.RunTo(absl::Seconds(31));
    EXPECT_TRUE(h.Attempts().empty());
    h.RunTo(absl::Seconds(31) + absl::Nanoseconds(1));
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(NA(1))});
    EXPECT_EQ(h.obs().starts, (std::vector<std::string>{
                                  At(absl::ZeroDuration(), 1),
                                  At(absl::Seconds(31) + absl::Nanoseconds(1), 1)}));
    EXPECT_TRUE(h.d().QueuedTaskNames().empty());
    *out = h.obs().lines;
  });
}

// The watchdog abandons a dial that never completes; its late completion is
// ignored; the node is dialable again once its history entry expires.
TEST(LegacyDialerTest, WatchdogAbandonsHungDial) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.static_nodes = {NA(1)};
    config.task_timeout = absl::Seconds(60);
    Harness h(config, seed, /*with_table=*/false);
    h.Start();
    EXPECT_EQ(h.Attempts().size(), 1u);
    h.RunTo(absl::Seconds(60) - absl::Nanoseconds(1));
    EXPECT_EQ(h.d().dialing(), 1u);
    h.RunTo(absl::Seconds(60));
    EXPECT_EQ(h.d().dialing(), 0u);
    EXPECT_EQ(h.d().stats().task_timeouts, 1);
    EXPECT_EQ(h.d().RunningTaskNames(), std::vector<std::string>{Wait(absl::Seconds(30))});
    // The hung dial completes late with a connect failure: ignored (a live
    // static task would resolve and redial).
    h.RunTo(absl::Seconds(70));
    h.FailConnect(UintId(1));
    EXPECT_TRUE(h.resolver().TakeCalls().empty());
    EXPECT_EQ(h.d().stats().dials_failed, 0);
    h.RunTo(absl::Seconds(90));
    EXPECT_TRUE(h.Attempts().empty());
    h.RunTo(absl::Seconds(90) + absl::Nanoseconds(1));
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(NA(1))});
    const std::string t60 = absl::FormatDuration(absl::Seconds(60));
    const std::string id = UintId(1).TerminalString();
    const std::string timeout_line = absl::StrCat(
        t60, " task-timeout ", id, " staticdial DEADLINE_EXCEEDED: dial task timed out 0");
    EXPECT_NE(std::find(h.obs().lines.begin(), h.obs().lines.end(), timeout_line),
              h.obs().lines.end());
    EXPECT_EQ(h.d().stats().failures.at("dial task timed out"), 1);
    *out = h.obs().lines;
  });
}

// TestDialResolve: an incomplete static is resolved once, dialed at the
// resolved address, and the static task keeps the resolved record. After a
// connect failure the second resolve is throttled by the 60 s backoff.
TEST(LegacyDialerTest, Resolve) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    Harness h(config, seed, /*with_table=*/false);
    const Node resolved = N(1, "127.0.55.234:30303");
    h.resolver().Set(UintId(1), resolved);
    h.d().AddStatic(N(1));
    h.Start();
    EXPECT_EQ(h.resolver().TakeCalls(), std::vector<NodeId>{UintId(1)});
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(resolved)});
    h.FailConnect(UintId(1));
    EXPECT_TRUE(h.resolver().TakeCalls().empty()) << "resolve not throttled";
    EXPECT_TRUE(h.Attempts().empty());
    const LegacyDialTask* t = h.d().state().StaticTask(UintId(1));
    EXPECT_EQ(Str(t->dest), Str(resolved));
    EXPECT_EQ(t->resolve_delay, absl::Seconds(60));
    *out = h.obs().lines;
  });
}

// A static whose connection failed is resolved once more and, if found,
// dialed again (v1.8.24 redials even at the same address); a handshake
// failure is not retried.
TEST(LegacyDialerTest, StaticConnectFailureResolvesAndRedials) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.static_nodes = {NA(1), NA(2)};
    Harness h(config, seed, /*with_table=*/false);
    const Node moved = N(1, "127.0.9.9:30303");
    h.resolver().Set(UintId(1), moved);
    h.resolver().Set(UintId(2), NA(2));
    h.Start();
    EXPECT_EQ(h.Attempts(), (std::vector<std::string>{Str(NA(1)), Str(NA(2))}));
    h.FailConnect(UintId(1));
    EXPECT_EQ(h.resolver().TakeCalls(), std::vector<NodeId>{UintId(1)});
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(moved)});
    h.FailHandshake(UintId(2));
    EXPECT_TRUE(h.resolver().TakeCalls().empty());
    EXPECT_TRUE(h.Attempts().empty());
    // The retry fails too: the task ends, no third dial.
    h.FailConnect(UintId(1));
    EXPECT_TRUE(h.Attempts().empty());
    EXPECT_EQ(h.d().dialing(), 0u);
    EXPECT_EQ(h.d().stats().dials_started, 3);
    *out = h.obs().lines;
  });
}

// Resolve backoff: no throttle before the first resolve; after each
// failure the delay doubles (120 s, 240 s, ... capped at 1 h); the static
// is retried after every 30 s history expiry, but resolves only when the
// delay since the last resolve has passed; success resets it to 60 s.
TEST(LegacyDialerTest, ResolveBackoff) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.static_nodes = {N(1)};  // No IP, unknown to the resolver.
    Harness h(config, seed, /*with_table=*/false);
    h.Start();
    // Attempts come every 30 s + 1 ns (history expiry, then a wake 1 ns
    // later). The first resolve is immediate.
    const absl::Duration cycle = absl::Seconds(30) + absl::Nanoseconds(1);
    const absl::Duration end = absl::Seconds(14700);
    h.RunTo(end);
    std::vector<int64_t> got = h.obs().resolves;
    // Expected: the first attempt k * cycle at which t - last >= delay.
    std::vector<int64_t> want;
    absl::Duration delay = kInitialResolveDelay;
    std::optional<absl::Duration> last;
    for (int64_t k = 0; cycle * k <= end; ++k) {
      const absl::Duration t = cycle * k;
      if (last.has_value() && t - *last < delay) continue;
      delay = std::min(delay * 2, kMaxResolveDelay);  // It fails.
      last = t;
      want.push_back(absl::ToInt64Nanoseconds(t));
    }
    EXPECT_EQ(got, want);
    // 0, 120, 360, 840, 1800, 3720, 7320 (capped from here), 10920, 14520 s,
    // each plus k ns.
    ASSERT_EQ(got.size(), 9u);
    EXPECT_EQ(got[1], absl::ToInt64Nanoseconds(absl::Seconds(120) + absl::Nanoseconds(4)));
    EXPECT_EQ(got[2], absl::ToInt64Nanoseconds(absl::Seconds(360) + absl::Nanoseconds(12)));
    EXPECT_EQ(got[8], absl::ToInt64Nanoseconds(absl::Seconds(14520) + absl::Nanoseconds(484)));
    EXPECT_EQ(h.d().state().StaticTask(UintId(1))->resolve_delay, absl::Hours(1));
    EXPECT_TRUE(h.Attempts().empty()) << "dialed without an address";
    EXPECT_EQ(h.d().stats().resolve_failures, 9);
    // The node appears. The old task would not resolve again before
    // 18120 s; AddStatic replaces the task, so the next attempt (after the
    // current history entry expires) resolves at once and dials.
    h.resolver().Set(UintId(1), NA(1));
    h.d().AddStatic(N(1));
    h.Settle();
    EXPECT_TRUE(h.Attempts().empty()) << "still recently dialed";
    h.RunTo(end + cycle);
    EXPECT_EQ(h.Attempts(), std::vector<std::string>{Str(NA(1))});
    ASSERT_EQ(h.obs().resolves.size(), 10u);
    EXPECT_GT(h.obs().resolves.back(), absl::ToInt64Nanoseconds(end));
    EXPECT_EQ(h.d().state().StaticTask(UintId(1))->resolve_delay, kInitialResolveDelay);
    *out = h.obs().lines;
  });
}

// RemoveStatic: a running dial completes, the node is not dialed again; its
// history is forgotten so a re-add dials at once.
TEST(LegacyDialerTest, RemoveAndReAddStatic) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.static_nodes = {NA(1)};
    Harness h(config, seed, /*with_table=*/false);
    h.Start();
    EXPECT_EQ(h.Attempts().size(), 1u);
    h.d().RemoveStatic(UintId(1));
    h.Settle();
    EXPECT_EQ(h.d().dialing(), 1u);
    h.FailHandshake(UintId(1));
    h.RunTo(absl::Seconds(100));
    EXPECT_TRUE(h.Attempts().empty());
    EXPECT_FALSE(h.d().state().IsStatic(UintId(1)));
    // Added back at 100 s: dialed at once (its entry expired at 30 s). Then
    // it fails; remove + add forgets the fresh entry, so it is dialed again
    // at once.
    h.d().AddStatic(NA(1));
    h.Settle();
    EXPECT_EQ(h.Attempts().size(), 1u);
    h.FailHandshake(UintId(1));
    h.d().RemoveStatic(UintId(1));
    h.d().AddStatic(NA(1));
    h.Settle();
    EXPECT_EQ(h.Attempts().size(), 1u) << "re-added static not dialed at once";
    *out = h.obs().lines;
  });
}

// Peers: dynamic peers reduce the dynamic dials needed; a dropped peer
// frees a slot.
TEST(LegacyDialerTest, PeersReduceDynamicDials) {
  RunTwice([](uint64_t seed, std::vector<std::string>* out) {
    DialConfig config;
    config.max_dial_peers = 4;
    Harness h(config, seed);
    h.table().SetRandomNodes({NA(1), NA(2), NA(3), NA(4)});
    h.d().PeerAdded(UintId(1), kDynDialedConn);
    h.d().PeerAdded(UintId(9), kInboundConn);  // Does not count.
    h.Start();
    // need = 4 - 1 = 3: one random dial (3 / 2), 1 is connected.
    EXPECT_TRUE(h.Attempts().empty());
    h.d().PeerRemoved(UintId(1), kDynDialedConn);
    h.Settle();
    // need = 4: two random candidates, 1 and 2.
    EXPECT_EQ(h.Attempts(), (std::vector<std::string>{Str(NA(1)), Str(NA(2))}));
    *out = h.obs().lines;
  });
}

// Stop: no new tasks, queued ones dropped, running dials complete.
TEST(LegacyDialerTest, StopLetsRunningDialsFinish) {
  DialConfig config;
  config.max_dial_peers = 40;
  Harness h(config, 1);
  std::vector<Node> table;
  for (uint16_t i = 1; i <= 20; ++i) table.push_back(NA(i));
  h.table().SetRandomNodes(table);
  h.Start();
  EXPECT_EQ(h.Attempts().size(), 16u);
  h.d().Stop();
  EXPECT_TRUE(h.d().QueuedTaskNames().empty());
  h.FailConnect(UintId(1));
  h.d().AddStatic(NA(100));
  h.Settle();
  EXPECT_TRUE(h.Attempts().empty());
  EXPECT_EQ(h.d().dialing(), 15u);
  for (uint16_t i = 2; i <= 16; ++i) h.dialer().FailConnect(UintId(i));
  h.Settle();
  EXPECT_EQ(h.d().dialing(), 0u);
  EXPECT_EQ(h.d().stats().dials_failed, 16);
  h.RunTo(absl::Seconds(100));
  EXPECT_TRUE(h.Attempts().empty());
  EXPECT_TRUE(h.LookupTimes().empty());
}

}  // namespace
}  // namespace p2p
