// Node Discovery v4 interop on loopback UDP: our p2pnode binary (UdpV4 from
// core/discover, its table served at GET /table) against three instances of
// an independent implementation, @ethereumjs/devp2p 10.0.0's DPT
// (tests/interop/dpt_peer.mjs), all on 127.0.0.1.
//
// Two topologies, each arranged so that the property checked can only hold
// if the named packets crossed between the two implementations and were
// understood:
//  - JsPeersBootstrapFromP2pNode: three DPT peers know only p2pnode. Our
//    table lists all three with a pong time (they answered our endpoint-proof
//    Pings: bonding); each of theirs lists us (our Pongs matched their Pings)
//    and the other two, whose addresses only p2pnode could give them, in
//    Neighbors answers to their FindNodes (which they print).
//  - P2pNodeLearnsJsNodesFromNeighbors: p2pnode boots from DPT peer A only;
//    B and C know only A and never send anything unprompted
//    (--no-find-neighbours), so our table can list them only because A's
//    Neighbors named them; A learned us from our Ping's `from` endpoint.
//
// Children are started and read, and the admin endpoint is spoken to, with
// the helpers in interop_testing.h. Every wait is bounded; TearDown kills
// every child.
// Tests skip (visibly) when ./dev setup did not install the npm packages.
#include <poll.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/crypto/secp256k1.h"
#include "core/hex.h"
#include "core/node.h"
#include "gtest/gtest.h"
#include "tests/interop/interop_testing.h"

namespace p2p::interop {
namespace {

const char kNodeKey[] = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const char* const kJsKeys[] = {
    "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291",
    "a71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291",
    "971c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291",
};

// Bounds. A passing run converges in a few seconds; two busy cores may slow
// process start-up a lot, so each wait gets a generous share of the
// per-test budget (the whole test stays under a minute).
constexpr absl::Duration kStartTimeout = absl::Seconds(15);
constexpr absl::Duration kConvergeTimeout = absl::Seconds(30);
constexpr absl::Duration kHttpTimeout = absl::Seconds(5);
constexpr absl::Duration kPollGap = absl::Milliseconds(200);
// The DPT peers' own backstop; TearDown kills them long before.
const char kJsLifetimeSeconds[] = "90";
// Each DPT table peer is sent a FindNode once per this many ms.
const char kJsRefreshMs[] = "1000";

// -------------------------------------------------------------- the views

// One entry of our GET /table.
struct OurEntry {
  Node node;
  int bucket = 0;
  std::optional<double> last_pong_seconds;
};

// One node as dpt_peer.mjs prints it (table entries and Neighbors records).
struct JsEntry {
  std::string id;  // 128 hex digits: the public key.
  std::string address;
  int64_t udp_port = 0;
  int64_t tcp_port = 0;
};

JsEntry ToJsEntry(const Json& j) {
  return JsEntry{j["id"].str, j["address"].str, j["udp_port"].Int(), j["tcp_port"].Int()};
}

std::string Describe(const JsEntry& e) {
  return absl::StrCat(e.id.substr(0, 8), "@", e.address, " udp=", e.udp_port, " tcp=", e.tcp_port);
}

// A discovery endpoint: who it is and where its packets come from.
struct Endpoint4 {
  std::string id;  // Public key, 128 hex digits.
  int64_t udp_port = 0;
  int64_t tcp_port = 0;
};

// Whether `e` names `want` at 127.0.0.1 with its exact ports.
bool Names(const JsEntry& e, const Endpoint4& want) {
  return e.id == want.id && e.address == "127.0.0.1" && e.udp_port == want.udp_port &&
         e.tcp_port == want.tcp_port;
}

struct DptPeer {
  std::unique_ptr<ChildProcess> proc;
  Endpoint4 self;
  std::string enode;
  size_t parsed = 0;           // Lines of proc already folded into the fields below.
  std::vector<JsEntry> table;  // From the latest "table" line.
  bool has_table = false;
  std::vector<Json> received;  // Every "received" line.
  std::vector<std::string> errors;
};

// ---------------------------------------------------------------- fixture

class Discv4InteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    INTEROP_SKIP_WITHOUT_JS_PACKAGES();
    dir_ = TestTmpDir();
  }

  void TearDown() override {
    if (HasFailure()) PumpAll(200);
    for (auto& p : peers_) p->proc->Kill();
    if (node_) node_->Kill();
    if (!HasFailure()) return;
    for (size_t i = 0; i < peers_.size(); ++i) {
      std::cerr << "--- DPT peer " << i << " stdout:\n" << peers_[i]->proc->Output() << "\n";
    }
    if (node_) std::cerr << "--- p2pnode stdout:\n" << node_->Output() << "\n";
    std::ifstream log(dir_ + "/p2pnode.log");
    std::cerr << "--- p2pnode stderr:\n" << log.rdbuf() << "--- end\n";
    if (admin_port_ != 0) std::cerr << "--- last /table: " << last_table_json_ << "\n";
  }

  // Starts p2pnode with discovery on 127.0.0.1 (TCP and UDP on free ports),
  // dialing nothing, plus `extra` flags; reads its enode and admin lines.
  void StartNode(const std::vector<std::string>& extra) {
    std::vector<std::string> flags = {
        "--listen",     "127.0.0.1:0", "--discport", "0",  // Free TCP and UDP ports.
        "--nodekeyhex", kNodeKey,                          // An identity the test knows.
        "--admin",      "127.0.0.1:0", "--nodial",   "--verbosity", "4",
    };
    flags.insert(flags.end(), extra.begin(), extra.end());
    absl::StatusOr<P2pNode> node = StartP2pNode(flags, dir_ + "/p2pnode.log", kStartTimeout);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = std::move(node->proc);
    enode_ = node->enode;
    const Node& self = node->self;
    ASSERT_EQ(self.ip.ToString(), "127.0.0.1") << enode_;
    ASSERT_NE(self.tcp, 0);
    ASSERT_NE(self.udp, 0);
    EXPECT_EQ(self.pubkey, DerivePublicKey(*PrivateKey::FromHex(kNodeKey)));
    self_ = Endpoint4{HexEncode(self.pubkey.bytes()), self.udp, self.tcp};
    admin_port_ = node->admin_port;
  }

  // Starts dpt_peer.mjs with key kJsKeys[index] and `extra` flags, and waits
  // for its "listening" line.
  DptPeer* StartDpt(int index, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {"node",
                                     Runfile("tests/interop/dpt_peer.mjs"),
                                     "--key",
                                     kJsKeys[index],
                                     "--refresh-ms",
                                     kJsRefreshMs,
                                     "--table-interval-ms",
                                     "200",
                                     "--timeout",
                                     kJsLifetimeSeconds};
    argv.insert(argv.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<ChildProcess>> proc =
        ChildProcess::Spawn(argv, absl::StrCat(dir_, "/dpt_peer", index, ".stderr.log"));
    EXPECT_TRUE(proc.ok()) << proc.status() << " (is Node.js on PATH?)";
    if (!proc.ok()) return nullptr;
    auto peer = std::make_unique<DptPeer>();
    peer->proc = *std::move(proc);
    peers_.push_back(std::move(peer));
    DptPeer* p = peers_.back().get();
    const bool up = WaitFor([&] { return !p->enode.empty(); }, kStartTimeout);
    EXPECT_TRUE(up) << "dpt_peer.mjs did not start:\n" << p->proc->Output();
    if (!up) return nullptr;
    const std::string want_id =
        HexEncode(DerivePublicKey(*PrivateKey::FromHex(kJsKeys[index])).bytes());
    EXPECT_EQ(p->self.id, want_id);
    // Without --tcp-port the peer advertises its UDP port as its TCP port
    // (nothing listens there).
    int64_t want_tcp = p->self.udp_port;
    for (size_t i = 0; i + 1 < extra.size(); ++i) {
      if (extra[i] == "--tcp-port") {
        EXPECT_TRUE(absl::SimpleAtoi(extra[i + 1], &want_tcp));
      }
    }
    EXPECT_EQ(p->self.tcp_port, want_tcp);
    const std::string query =
        want_tcp == p->self.udp_port ? "" : absl::StrCat("?discport=", p->self.udp_port);
    EXPECT_EQ(p->enode, absl::StrCat("enode://", want_id, "@127.0.0.1:", want_tcp, query));
    return p;
  }

  // Folds new stdout lines of every DPT peer into its DptPeer fields.
  void PumpAll(int wait_ms) {
    if (node_) node_->Pump(absl::ZeroDuration());
    for (auto& p : peers_) {
      p->proc->Pump(absl::ZeroDuration());
    }
    // One blocking wait for the whole set paces the loops that call this.
    if (wait_ms > 0) {
      poll(nullptr, 0, wait_ms);
      for (auto& p : peers_) p->proc->Pump(absl::ZeroDuration());
      if (node_) node_->Pump(absl::ZeroDuration());
    }
    for (auto& p : peers_) {
      const std::vector<std::string>& lines = p->proc->lines();
      for (; p->parsed < lines.size(); ++p->parsed) {
        absl::StatusOr<Json> j = ParseJson(lines[p->parsed]);
        if (!j.ok()) {
          p->errors.push_back(absl::StrCat("unparsable line: ", lines[p->parsed]));
          continue;
        }
        const std::string& event = (*j)["event"].str;
        if (event == "listening") {
          p->enode = (*j)["enode"].str;
          p->self = Endpoint4{(*j)["id"].str, (*j)["udp_port"].Int(), (*j)["tcp_port"].Int()};
        } else if (event == "table") {
          p->has_table = true;
          p->table.clear();
          for (const Json& e : (*j)["peers"].items) p->table.push_back(ToJsEntry(e));
        } else if (event == "received") {
          p->received.push_back(*std::move(j));
        } else if (event == "error") {
          p->errors.push_back((*j)["message"].str);
        }
      }
    }
  }

  // Pumps all children until `done()` holds or `timeout` passes.
  bool WaitFor(const std::function<bool()>& done, absl::Duration timeout) {
    const Deadline deadline(timeout);
    for (;;) {
      PumpAll(0);
      if (done()) return true;
      if (deadline.expired()) return false;
      PumpAll(static_cast<int>(absl::ToInt64Milliseconds(kPollGap)));
    }
  }

  // Our discovery table, from GET /table (empty on failure, which is
  // recorded as a test failure).
  std::vector<OurEntry> OurTable() {
    const HttpReply reply = HttpRequest(admin_port_, "GET", "/table", /*body=*/"", kHttpTimeout);
    EXPECT_EQ(reply.status, 200) << "GET /table: " << reply.error << reply.body;
    if (reply.status != 200) return {};
    last_table_json_ = reply.body;
    absl::StatusOr<Json> j = ParseJson(reply.body);
    EXPECT_TRUE(j.ok() && j->type == Json::kArray) << reply.body;
    if (!j.ok()) return {};
    std::vector<OurEntry> out;
    for (const Json& e : j->items) {
      absl::StatusOr<Node> n = ParseEnode(e["enode"].str);
      EXPECT_TRUE(n.ok()) << e["enode"].str << ": " << n.status();
      if (!n.ok()) continue;
      OurEntry o;
      o.node = *n;
      o.bucket = static_cast<int>(e["bucket"].Int());
      if (!e["last_pong_seconds"].is_null()) o.last_pong_seconds = e["last_pong_seconds"].number;
      out.push_back(std::move(o));
    }
    return out;
  }

  // Our table's entry for `want`, if present with 127.0.0.1 and its ports.
  static const OurEntry* FindOurs(const std::vector<OurEntry>& table, const Endpoint4& want) {
    for (const OurEntry& e : table) {
      if (HexEncode(e.node.pubkey.bytes()) == want.id && e.node.ip.ToString() == "127.0.0.1" &&
          e.node.udp == want.udp_port && e.node.tcp == want.tcp_port) {
        return &e;
      }
    }
    return nullptr;
  }

  // Whether the latest table dump of `p` names `want` exactly.
  static bool JsTableHas(const DptPeer& p, const Endpoint4& want) {
    for (const JsEntry& e : p.table) {
      if (Names(e, want)) return true;
    }
    return false;
  }

  // The "received" lines of `p` of packet `type` sent by `from` (its key
  // and UDP source port on 127.0.0.1).
  static std::vector<const Json*> ReceivedFrom(const DptPeer& p, absl::string_view type,
                                               const Endpoint4& from) {
    std::vector<const Json*> out;
    const std::string source = absl::StrCat("127.0.0.1:", from.udp_port);
    for (const Json& r : p.received) {
      if (r["type"].str == type && r["id"].str == from.id && r["from"].str == source) {
        out.push_back(&r);
      }
    }
    return out;
  }

  // Whether `p` received from `from` a Neighbors packet naming `want`
  // exactly.
  static bool GotNeighbor(const DptPeer& p, const Endpoint4& from, const Endpoint4& want) {
    for (const Json* r : ReceivedFrom(p, "neighbours", from)) {
      for (const Json& n : (*r)["nodes"].items) {
        if (Names(ToJsEntry(n), want)) return true;
      }
    }
    return false;
  }

  std::string JsTableText(const DptPeer& p) {
    std::vector<std::string> rows;
    for (const JsEntry& e : p.table) rows.push_back(Describe(e));
    return absl::StrCat("[", absl::StrJoin(rows, ", "), "]");
  }

  std::string dir_;
  std::unique_ptr<ChildProcess> node_;
  std::string enode_;
  Endpoint4 self_;
  uint16_t admin_port_ = 0;
  std::string last_table_json_;
  std::vector<std::unique_ptr<DptPeer>> peers_;
};

// Three DPT peers bootstrapped from p2pnode only. Pinging us makes them
// known to us; we prove their endpoints with a Ping of our own before they
// enter our table (property a). Their tables list us only after one of our
// Pongs matched their Ping (b). They know nothing of each other except what
// our Neighbors replies tell them (c): every one of them must have received,
// from our UDP endpoint and signed by our key, Neighbors naming the other
// two with their exact ports, and added them after pinging them.
TEST_F(Discv4InteropTest, JsPeersBootstrapFromP2pNode) {
  ASSERT_NO_FATAL_FAILURE(StartNode({}));
  std::vector<DptPeer*> js;
  for (int i = 0; i < 3; ++i) {
    DptPeer* p = StartDpt(i, {"--bootnode", enode_});
    ASSERT_NE(p, nullptr);
    js.push_back(p);
  }

  std::vector<OurEntry> ours;
  auto converged = [&] {
    ours = OurTable();
    for (DptPeer* p : js) {
      const OurEntry* e = FindOurs(ours, p->self);
      if (e == nullptr || !e->last_pong_seconds) return false;  // (a)
      if (!JsTableHas(*p, self_)) return false;                 // (b)
      for (DptPeer* q : js) {
        if (q == p) continue;
        if (!JsTableHas(*p, q->self) || !GotNeighbor(*p, self_, q->self)) return false;  // (c)
      }
    }
    return true;
  };
  const bool ok = WaitFor(converged, kConvergeTimeout);

  // (a) Our table: all three, exact identity and ports, each with a pong.
  for (size_t i = 0; i < js.size(); ++i) {
    const OurEntry* e = FindOurs(ours, js[i]->self);
    ASSERT_NE(e, nullptr) << "our table lacks DPT peer " << i << ": " << last_table_json_;
    ASSERT_TRUE(e->last_pong_seconds.has_value()) << "never ponged: " << last_table_json_;
    EXPECT_GE(*e->last_pong_seconds, 0.0);
    EXPECT_LT(*e->last_pong_seconds, absl::ToDoubleSeconds(kConvergeTimeout) + 5);
    EXPECT_GE(e->bucket, 0);
  }
  // Nobody else: the table holds exactly the three DPT peers.
  EXPECT_EQ(ours.size(), 3u) << last_table_json_;

  for (size_t i = 0; i < js.size(); ++i) {
    const DptPeer& p = *js[i];
    SCOPED_TRACE(absl::StrCat("DPT peer ", i));
    // (b) They list us with our advertised endpoint.
    EXPECT_TRUE(JsTableHas(p, self_)) << JsTableText(p);
    // Our Ping reached them intact: `from` is our UDP/TCP endpoint, `to`
    // their address as we saw it.
    std::vector<const Json*> pings = ReceivedFrom(p, "ping", self_);
    ASSERT_FALSE(pings.empty()) << p.proc->Output();
    const Json& ping = *pings.front();
    EXPECT_EQ(ping["from_endpoint"]["address"].str, "127.0.0.1");
    EXPECT_EQ(ping["from_endpoint"]["udp_port"].Int(), self_.udp_port);
    EXPECT_EQ(ping["from_endpoint"]["tcp_port"].Int(), self_.tcp_port);
    EXPECT_EQ(ping["to_endpoint"]["address"].str, "127.0.0.1");
    EXPECT_EQ(ping["to_endpoint"]["udp_port"].Int(), p.self.udp_port);
    // Our Pong mirrors their UDP source and the TCP port from their Ping.
    std::vector<const Json*> pongs = ReceivedFrom(p, "pong", self_);
    ASSERT_FALSE(pongs.empty()) << p.proc->Output();
    EXPECT_EQ((*pongs.front())["to_endpoint"]["address"].str, "127.0.0.1");
    EXPECT_EQ((*pongs.front())["to_endpoint"]["udp_port"].Int(), p.self.udp_port);
    EXPECT_EQ((*pongs.front())["to_endpoint"]["tcp_port"].Int(), p.self.tcp_port);
    // (c) The other two, learned from our Neighbors.
    for (size_t k = 0; k < js.size(); ++k) {
      if (k == i) continue;
      EXPECT_TRUE(GotNeighbor(p, self_, js[k]->self))
          << "no Neighbors from p2pnode named DPT peer " << k << ":\n"
          << p.proc->Output();
      EXPECT_TRUE(JsTableHas(p, js[k]->self)) << "DPT peer " << k << " missing: " << JsTableText(p);
    }
    // Every packet we sent decoded and verified on their side.
    EXPECT_EQ(p.errors, std::vector<std::string>{});
  }
  EXPECT_TRUE(ok) << "did not converge within " << kConvergeTimeout;
}

// p2pnode's only bootnode is DPT peer A; B and C bootstrapped from A and run
// with --no-find-neighbours, so they never send a packet to anyone but A
// unless answering one. Our table must come to list B and C, verified by a
// Pong (property d): the only way we can learn of them is A's Neighbors
// answer to our lookup. A, which was never told our enode, lists us with the
// endpoint from our Ping (b).
TEST_F(Discv4InteropTest, P2pNodeLearnsJsNodesFromNeighbors) {
  DptPeer* a = StartDpt(0, {});
  ASSERT_NE(a, nullptr);
  DptPeer* b = StartDpt(1, {"--bootnode", a->enode, "--no-find-neighbours"});
  ASSERT_NE(b, nullptr);
  DptPeer* c = StartDpt(2, {"--bootnode", a->enode, "--no-find-neighbours"});
  ASSERT_NE(c, nullptr);
  // Before p2pnode exists, A must know B and C (they pinged A; A pinged
  // them back), so its first Neighbors answer can name them.
  ASSERT_TRUE(
      WaitFor([&] { return JsTableHas(*a, b->self) && JsTableHas(*a, c->self); }, kConvergeTimeout))
      << "A: " << JsTableText(*a);

  ASSERT_NO_FATAL_FAILURE(StartNode({"--bootnodes", a->enode}));
  std::vector<OurEntry> ours;
  auto converged = [&] {
    ours = OurTable();
    for (DptPeer* p : {a, b, c}) {
      const OurEntry* e = FindOurs(ours, p->self);
      if (e == nullptr || !e->last_pong_seconds) return false;
    }
    return JsTableHas(*a, self_);
  };
  const bool ok = WaitFor(converged, kConvergeTimeout);

  for (DptPeer* p : {a, b, c}) {
    const OurEntry* e = FindOurs(ours, p->self);
    ASSERT_NE(e, nullptr) << "our table lacks " << p->enode << ": " << last_table_json_;
    EXPECT_TRUE(e->last_pong_seconds.has_value()) << last_table_json_;
  }
  EXPECT_EQ(ours.size(), 3u) << last_table_json_;

  // A learned us from our Ping alone: its entry carries the endpoint our
  // Ping's `from` advertised (UDP and TCP port).
  EXPECT_TRUE(JsTableHas(*a, self_)) << JsTableText(*a);
  EXPECT_FALSE(ReceivedFrom(*a, "findneighbours", self_).empty()) << a->proc->Output();

  for (DptPeer* p : {b, c}) {
    SCOPED_TRACE(p->enode);
    // We pinged them (to bond before asking them FindNode) ...
    EXPECT_FALSE(ReceivedFrom(*p, "ping", self_).empty()) << p->proc->Output();
    // ... but they never pinged us (no Pong from us ever reached them) and
    // never took us into their tables: we can only have learned them from A.
    EXPECT_TRUE(ReceivedFrom(*p, "pong", self_).empty()) << p->proc->Output();
    EXPECT_FALSE(JsTableHas(*p, self_)) << JsTableText(*p);
    EXPECT_TRUE(JsTableHas(*p, a->self)) << JsTableText(*p);
  }
  for (DptPeer* p : {a, b, c}) EXPECT_EQ(p->errors, std::vector<std::string>{}) << p->enode;
  EXPECT_TRUE(ok) << "did not converge within " << kConvergeTimeout;
}

// A library quirk, pinned so that nobody "fixes" our decoder into accepting
// it: DPT always encodes ports as two bytes, so a port below 256 goes out
// with a leading zero byte, a non-canonical RLP integer. go-ethereum's RLP
// decoder rejects those ("rlp: non-canonical integer (leading zero bytes)")
// and drops the whole packet; so does ours. A DPT peer advertising TCP port
// 7 is therefore never answered: its bootstrap Ping times out and neither
// side learns of the other. (The other tests keep every port >= 256.)
TEST_F(Discv4InteropTest, DptPortBelow256IsNonCanonicalAndDropped) {
  ASSERT_NO_FATAL_FAILURE(StartNode({}));
  DptPeer* p = StartDpt(0, {"--bootnode", enode_, "--tcp-port", "7", "--ping-timeout-ms", "1500"});
  ASSERT_NE(p, nullptr);
  const std::string timeout = absl::StrCat("dpt: Timeout error: ping 127.0.0.1:", self_.udp_port);
  ASSERT_TRUE(WaitFor([&] { return !p->errors.empty(); }, kConvergeTimeout)) << p->proc->Output();
  EXPECT_EQ(p->errors, std::vector<std::string>{timeout});
  EXPECT_TRUE(ReceivedFrom(*p, "pong", self_).empty()) << p->proc->Output();
  EXPECT_TRUE(ReceivedFrom(*p, "ping", self_).empty()) << p->proc->Output();
  EXPECT_TRUE(OurTable().empty()) << last_table_json_;
}
}  // namespace
}  // namespace p2p::interop
