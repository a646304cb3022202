// Interop through the full server path: our p2pnode binary (Server, dialer,
// admin HTTP endpoint; transport/p2pnode.cc) against an independent devp2p
// implementation, @ethereumjs/devp2p 10.0.0 (tests/interop/peer.mjs), on
// 127.0.0.1 only. interop_test.cc covers the bare RLPx connection; here real
// processes meet, so SetupConn's checkpoints, capability matching, static
// dials and the admin API are all on the path:
//  - the JS peer dials p2pnode, and p2pnode dials the JS peer (POST
//    /peers/static); each side reports the other as a peer with the right
//    identity, client name, direction and capabilities;
//  - DELETE /peers/static/ID and SIGTERM disconnect with reasons the JS peer
//    reports (DiscRequested, DiscQuitting), and p2pnode exits 0;
//  - with no shared capability the connection is refused as a useless peer,
//    which p2pnode's /metrics counts.
//
// Children are started and read, and the admin endpoint is spoken to, with
// the helpers in interop_testing.h. Every wait is bounded and TearDown kills
// every child. Tests skip (visibly) when ./dev setup did not install the npm
// peer.
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/crypto/secp256k1.h"
#include "core/hex.h"
#include "core/node.h"
#include "gtest/gtest.h"
#include "tests/interop/interop_testing.h"

namespace p2p::interop {
namespace {

const char kJsKey[] = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
const char kJsKey2[] = "a71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
// The Hello client id @ethereumjs/devp2p sends on this platform (README.md).
const char kJsClientId[] = "ethereumjs-devp2p/linux-x64/nodejs";

// Generous bounds: two cores may be busy with other builds. A passing run
// takes a few seconds.
constexpr absl::Duration kStartTimeout = absl::Seconds(30);
constexpr absl::Duration kEventTimeout = absl::Seconds(20);
constexpr absl::Duration kHttpTimeout = absl::Seconds(5);
// The JS peers' own backstop; TearDown kills them long before.
const char kJsLifetimeSeconds[] = "120";

// The /peers entry with node ID `id` (64 hex digits), or "".
std::string PeerEntry(absl::string_view peers_json, const std::string& id) {
  absl::StatusOr<Json> peers = ParseJson(peers_json);
  if (!peers.ok()) return "";
  for (const Json& entry : peers->items) {
    if (JsonField(entry.text, "id") == id) return entry.text;
  }
  return "";
}

// ---------------------------------------------------------------- metrics

// The sample lines of metric family `name` (comments excluded).
std::vector<std::string> Samples(absl::string_view metrics, absl::string_view name) {
  std::vector<std::string> out;
  std::istringstream in{std::string(metrics)};
  for (std::string line; std::getline(in, line);) {
    if (absl::StartsWith(line, name) && line.size() > name.size() &&
        (line[name.size()] == '{' || line[name.size()] == ' ')) {
      out.push_back(line);
    }
  }
  return out;
}

// The value of the sample printed as `sample` (name and labels, exactly), or
// -1 when there is no such line.
int64_t Metric(absl::string_view metrics, absl::string_view sample) {
  const std::string prefix = absl::StrCat(sample, " ");
  std::istringstream in{std::string(metrics)};
  for (std::string line; std::getline(in, line);) {
    int64_t v = 0;
    if (absl::StartsWith(line, prefix) && absl::SimpleAtoi(line.substr(prefix.size()), &v)) {
      return v;
    }
  }
  return -1;
}

// ---------------------------------------------------------------- fixture

struct JsPeer {
  std::unique_ptr<ChildProcess> proc;
  std::string enode;  // From its "listening" line.
  PublicKey pubkey;
  std::string pubkey_hex;  // How peer.mjs prints IDs.
  std::string node_id;     // How our admin API prints IDs.
};

class ServerInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    INTEROP_SKIP_WITHOUT_JS_PACKAGES();
    std::string dir = absl::StrCat(TestTmpDir(), "/p2pnode.XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr) << strerror(errno);
    dir_ = dir;
  }

  void TearDown() override {
    if (HasFailure()) {
      // Whatever the children printed by now belongs in the report below.
      for (auto& js : js_) js->proc->WaitUntil([] { return false; }, absl::Milliseconds(200));
    }
    // Peers first, so p2pnode's log shows them leaving if it is still up.
    for (auto& js : js_) js->proc->Kill();
    if (node_) node_->Kill();
    if (HasFailure()) {
      for (size_t i = 0; i < js_.size(); ++i) {
        std::cerr << "--- JS peer " << i << " stdout:\n" << js_[i]->proc->Output() << "\n";
      }
      if (node_) std::cerr << "--- p2pnode stdout:\n" << node_->Output() << "\n";
      std::cerr << "--- p2pnode stderr:\n" << NodeLog() << "--- end\n";
    }
  }

  // Starts p2pnode on loopback with a fresh --datadir and `extra` flags, and
  // reads its two stdout lines: the enode URL and the admin address.
  void StartNode(const std::vector<std::string>& extra) {
    std::vector<std::string> flags = {
        "--listen",  "127.0.0.1:0",  "--admin",     "127.0.0.1:0",
        "--datadir", dir_ + "/data", "--verbosity", "4",
    };
    flags.insert(flags.end(), extra.begin(), extra.end());
    absl::StatusOr<P2pNode> node = StartP2pNode(flags, dir_ + "/p2pnode.log", kStartTimeout);
    ASSERT_TRUE(node.ok()) << node.status();
    node_ = std::move(node->proc);
    enode_ = node->enode;
    self_ = node->self;
    admin_port_ = node->admin_port;
    EXPECT_EQ(self_.ip.ToString(), "127.0.0.1");
    ASSERT_NE(self_.tcp, 0);
    // The identity is the key p2pnode created in the data directory.
    std::ifstream key_file(dir_ + "/data/nodekey");
    std::string key_hex((std::istreambuf_iterator<char>(key_file)),
                        std::istreambuf_iterator<char>());
    absl::StatusOr<PrivateKey> key = PrivateKey::FromHex(absl::StripAsciiWhitespace(key_hex));
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(DerivePublicKey(*key), self_.pubkey);
  }

  // Starts a peer.mjs with `key` and `extra` flags and waits for its
  // "listening" line.
  JsPeer* StartJs(const char* key, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {
        "node", Runfile("tests/interop/peer.mjs"), "--key", key, "--timeout", kJsLifetimeSeconds};
    argv.insert(argv.end(), extra.begin(), extra.end());
    absl::StatusOr<std::unique_ptr<ChildProcess>> proc = ChildProcess::Spawn(argv);
    EXPECT_TRUE(proc.ok()) << proc.status() << " (is Node.js on PATH?)";
    if (!proc.ok()) return nullptr;
    auto js = std::make_unique<JsPeer>();
    js->proc = *std::move(proc);
    js->pubkey = DerivePublicKey(*PrivateKey::FromHex(key));
    js->pubkey_hex = HexEncode(js->pubkey.bytes());
    js->node_id = NodeId::FromPublicKey(js->pubkey).ToString();
    js_.push_back(std::move(js));
    JsPeer* p = js_.back().get();
    const std::string listening = p->proc->WaitForLine("\"event\":\"listening\"", kStartTimeout);
    EXPECT_FALSE(listening.empty()) << "peer.mjs did not start:\n" << p->proc->Output();
    if (listening.empty()) return nullptr;
    p->enode = JsonField(listening, "enode");
    EXPECT_TRUE(absl::StartsWith(p->enode, absl::StrCat("enode://", p->pubkey_hex, "@127.0.0.1:")))
        << listening;
    return p;
  }

  HttpReply Admin(absl::string_view method, absl::string_view path, absl::string_view body = "") {
    return HttpRequest(admin_port_, method, path, body, kHttpTimeout);
  }

  // GET `path`, polled until `done(body)` holds or kEventTimeout passes;
  // returns the last body.
  std::string PollAdmin(absl::string_view path,
                        const std::function<bool(const std::string&)>& done) {
    Deadline d(kEventTimeout);
    std::string last;
    for (;;) {
      HttpReply r = Admin("GET", path);
      EXPECT_EQ(r.status, 200) << path << ": " << r.error << r.body;
      if (r.status != 200) return last;
      last = r.body;
      if (done(last) || d.expired()) return last;
      // Drain p2pnode's stdout meanwhile (it prints nothing more, but EOF
      // would reveal a crash) and pace the polling.
      node_->WaitUntil([] { return false; }, absl::Milliseconds(20));
    }
  }

  // The /peers entry for `js` once it appears ("" after kEventTimeout).
  std::string WaitForPeer(const JsPeer& js) {
    return PeerEntry(
        PollAdmin("/peers",
                  [&](const std::string& b) { return !PeerEntry(b, js.node_id).empty(); }),
        js.node_id);
  }

  // POST /peers/static with `js`'s enode; p2pnode dials it.
  void AddStatic(const JsPeer& js) {
    HttpReply r = Admin("POST", "/peers/static", js.enode);
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(r.body, absl::StrCat("{\"added\":\"", js.enode, "\"}\n"));
  }

  std::string NodeLog() const {
    std::ifstream f(dir_ + "/p2pnode.log");
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }

  std::string dir_;
  std::unique_ptr<ChildProcess> node_;
  std::string enode_;
  Node self_;
  uint16_t admin_port_ = 0;
  std::vector<std::unique_ptr<JsPeer>> js_;
};

// peer.mjs's report of the peer p2pnode: our identity, client name and
// capabilities as the JS library decoded them from our Hello.
void ExpectJsSawUs(const std::string& added, const Node& self, const std::string& name,
                   bool js_inbound) {
  ASSERT_FALSE(added.empty());
  EXPECT_EQ(JsonField(added, "id"), HexEncode(self.pubkey.bytes()));
  EXPECT_EQ(JsonField(added, "name"), name);
  EXPECT_EQ(JsonField(added, "caps"), "[\"tst/1\"]");
  EXPECT_EQ(JsonField(added, "inbound"), js_inbound ? "true" : "false");
  EXPECT_EQ(JsonField(added, "protocol_version"), "5");
  EXPECT_EQ(JsonField(added, "listen_port"), absl::StrCat(self.tcp));
  EXPECT_EQ(JsonField(added, "shared"), "[{\"cap\":\"tst/1\",\"offset\":16,\"length\":4}]");
  // The library only speaks EIP-8; what it received from us was EIP-8 too.
  EXPECT_EQ(JsonField(added, js_inbound ? "eip8_auth" : "eip8_ack"), "true");
}

TEST_F(ServerInteropTest, EthereumJsDialsP2pNode) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--nodial", "--caps", "tst/1:4"}));
  JsPeer* js = StartJs(kJsKey, {"--dial", enode_, "--cap", "tst/1/4"});
  ASSERT_NE(js, nullptr);

  const std::string added = js->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout);
  ASSERT_FALSE(added.empty()) << js->proc->Output();
  ExpectJsSawUs(added, self_, "p2pnode", /*js_inbound=*/false);
  EXPECT_EQ(JsonField(added, "address"), absl::StrCat("127.0.0.1:", self_.tcp));

  const std::string peer = WaitForPeer(*js);
  ASSERT_FALSE(peer.empty()) << "p2pnode never listed the JS peer";
  EXPECT_EQ(JsonField(peer, "name"), kJsClientId);
  EXPECT_EQ(JsonField(peer, "caps"), "[\"tst/1\"]");
  EXPECT_EQ(JsonField(peer, "inbound"), "true");
  EXPECT_EQ(JsonField(peer, "static"), "false");
  EXPECT_EQ(JsonField(peer, "trusted"), "false");
  const std::string remote = JsonField(peer, "remote");
  EXPECT_TRUE(absl::StartsWith(remote, "127.0.0.1:")) << remote;
  // The inbound node is the key from the handshake at the remote address.
  EXPECT_TRUE(absl::StartsWith(JsonField(peer, "enode"),
                               absl::StrCat("enode://", js->pubkey_hex, "@", remote)))
      << peer;

  HttpReply info = Admin("GET", "/nodeinfo");
  ASSERT_EQ(info.status, 200) << info.error;
  EXPECT_EQ(JsonField(info.body, "enode"), enode_);
  EXPECT_EQ(JsonField(info.body, "id"), self_.id.ToString());
  EXPECT_EQ(JsonField(info.body, "caps"), "[\"tst/1\"]");

  HttpReply metrics = Admin("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(Metric(metrics.body, "p2p_peers{direction=\"inbound\"}"), 1) << metrics.body;
  EXPECT_EQ(Metric(metrics.body, "p2p_peers{direction=\"outbound\"}"), 0);
  EXPECT_EQ(Metric(metrics.body, "p2p_inbound_accepted_total"), 1);
  EXPECT_EQ(Metric(metrics.body, "p2p_peers_added_total"), 1);
  EXPECT_EQ(Samples(metrics.body, "p2p_handshake_failures_total"), std::vector<std::string>{});
  // --nodial: p2pnode never dialed.
  EXPECT_EQ(Metric(metrics.body, "p2p_dials_total{outcome=\"success\"}"), 0);
  EXPECT_EQ(Metric(metrics.body, "p2p_dials_total{outcome=\"failure\"}"), 0);
}

TEST_F(ServerInteropTest, P2pNodeDialsEthereumJs) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--caps", "tst/1:4", "--identity", "p2pnode-interop/v1"}));
  JsPeer* js = StartJs(kJsKey, {});
  ASSERT_NE(js, nullptr);
  ASSERT_NO_FATAL_FAILURE(AddStatic(*js));

  const std::string peer = WaitForPeer(*js);
  ASSERT_FALSE(peer.empty()) << "p2pnode never listed the JS peer";
  EXPECT_EQ(JsonField(peer, "enode"), js->enode);
  EXPECT_EQ(JsonField(peer, "name"), kJsClientId);
  EXPECT_EQ(JsonField(peer, "caps"), "[\"tst/1\"]");
  EXPECT_EQ(JsonField(peer, "inbound"), "false");
  EXPECT_EQ(JsonField(peer, "static"), "true");
  EXPECT_EQ(JsonField(peer, "trusted"), "false");
  EXPECT_EQ(JsonField(peer, "remote"), js->enode.substr(js->enode.find('@') + 1));

  const std::string added = js->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout);
  ASSERT_FALSE(added.empty()) << js->proc->Output();
  ExpectJsSawUs(added, self_, "p2pnode-interop/v1", /*js_inbound=*/true);

  // The dialer counts the result when its completion callback runs.
  const std::string metrics = PollAdmin("/metrics", [](const std::string& b) {
    return Metric(b, "p2p_dials_total{outcome=\"success\"}") > 0;
  });
  EXPECT_EQ(Metric(metrics, "p2p_dials_total{outcome=\"success\"}"), 1) << metrics;
  EXPECT_EQ(Metric(metrics, "p2p_dials_total{outcome=\"failure\"}"), 0);
  EXPECT_EQ(Metric(metrics, "p2p_peers{direction=\"outbound\"}"), 1);
  EXPECT_EQ(Metric(metrics, "p2p_inbound_accepted_total"), 0);
}

TEST_F(ServerInteropTest, RemovingStaticPeerDisconnectsWithDiscRequested) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--caps", "tst/1:4"}));
  JsPeer* js = StartJs(kJsKey, {});
  ASSERT_NE(js, nullptr);
  ASSERT_NO_FATAL_FAILURE(AddStatic(*js));
  ASSERT_FALSE(WaitForPeer(*js).empty());
  ASSERT_FALSE(js->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout).empty());

  HttpReply r = Admin("DELETE", absl::StrCat("/peers/static/", js->node_id));
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(r.body, absl::StrCat("{\"removed\":\"", js->node_id, "\"}\n"));

  const std::string removed = js->proc->WaitForLine("\"event\":\"peer_removed\"", kEventTimeout);
  ASSERT_FALSE(removed.empty()) << js->proc->Output();
  EXPECT_EQ(JsonField(removed, "id"), HexEncode(self_.pubkey.bytes()));
  EXPECT_EQ(JsonField(removed, "reason"), "0");
  EXPECT_EQ(JsonField(removed, "reason_text"), "DISCONNECT_REQUESTED");
  EXPECT_EQ(JsonField(removed, "remote"), "true");

  EXPECT_EQ(PollAdmin("/peers", [](const std::string& b) { return b == "[]\n"; }), "[]\n");
  HttpReply metrics = Admin("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(Samples(metrics.body, "p2p_peers_dropped_total"),
            std::vector<std::string>{"p2p_peers_dropped_total{reason=\"disconnect requested\"} 1"});
  // The node is no longer static: a second DELETE finds nothing.
  HttpReply again = Admin("DELETE", absl::StrCat("/peers/static/", js->node_id));
  EXPECT_EQ(again.status, 404) << again.error;
  EXPECT_EQ(again.body, absl::StrCat("{\"error\":\"no static node ", js->node_id, "\"}\n"));
}

TEST_F(ServerInteropTest, SigtermDisconnectsPeersWithDiscQuittingAndExitsZero) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--caps", "tst/1:4"}));
  // One peer in each direction.
  JsPeer* in = StartJs(kJsKey, {"--dial", enode_});
  ASSERT_NE(in, nullptr);
  JsPeer* out = StartJs(kJsKey2, {});
  ASSERT_NE(out, nullptr);
  ASSERT_NO_FATAL_FAILURE(AddStatic(*out));
  EXPECT_FALSE(WaitForPeer(*in).empty());
  EXPECT_FALSE(WaitForPeer(*out).empty());
  ASSERT_FALSE(in->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout).empty());
  ASSERT_FALSE(out->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout).empty());

  ASSERT_TRUE(node_->Signal(SIGTERM));
  for (JsPeer* js : {in, out}) {
    const std::string removed = js->proc->WaitForLine("\"event\":\"peer_removed\"", kEventTimeout);
    ASSERT_FALSE(removed.empty()) << js->proc->Output();
    EXPECT_EQ(JsonField(removed, "id"), HexEncode(self_.pubkey.bytes()));
    EXPECT_EQ(JsonField(removed, "reason"), "8");
    EXPECT_EQ(JsonField(removed, "reason_text"), "CLIENT_QUITTING");
    EXPECT_EQ(JsonField(removed, "remote"), "true");
  }
  const std::optional<int> status = node_->WaitExit(kEventTimeout);
  ASSERT_TRUE(status.has_value()) << "p2pnode did not exit after SIGTERM";
  ASSERT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  // Logs go to stderr only; stdout kept its two lines.
  EXPECT_EQ(node_->lines().size(), 2u) << node_->Output();
  const std::string log = NodeLog();
  EXPECT_TRUE(absl::StrContains(log, " INFO shutting down: 2 peers\n")) << log;
  EXPECT_TRUE(absl::StrContains(log, " INFO stopped\n")) << log;
}

// With no shared capability the connection never becomes a peer. The JS
// library disconnects with USELESS_PEER when it reads our Hello, and
// p2pnode's addpeer checkpoint does the same; whichever p2pnode sees first
// decides the stage in the label (a Disconnect from the JS side arriving in
// the same read as its Hello fails the "protocol" stage), the reason is the
// same. peer.mjs reports no Disconnect for connections that were never
// added, only the closed socket.
bool IsUselessPeerSetupFailure(const std::vector<std::string>& samples) {
  return samples ==
             std::vector<std::string>{
                 "p2p_handshake_failures_total{reason=\"addpeer: useless peer\"} 1"} ||
         samples == std::vector<std::string>{
                        "p2p_handshake_failures_total{reason=\"protocol: useless peer\"} 1"};
}

TEST_F(ServerInteropTest, NoSharedCapabilityWhenEthereumJsDials) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--nodial", "--caps", "zzz/1"}));
  JsPeer* js = StartJs(kJsKey, {"--dial", enode_, "--exit-after-close"});
  ASSERT_NE(js, nullptr);

  const std::string closed = js->proc->WaitForLine("\"event\":\"socket_closed\"", kEventTimeout);
  ASSERT_FALSE(closed.empty()) << js->proc->Output();
  EXPECT_EQ(JsonField(closed, "inbound"), "false");
  EXPECT_EQ(JsonField(closed, "peer_added"), "false");
  EXPECT_EQ(js->proc->Count("\"event\":\"peer_added\""), 0) << js->proc->Output();

  const std::string metrics = PollAdmin("/metrics", [](const std::string& b) {
    return !Samples(b, "p2p_handshake_failures_total").empty();
  });
  EXPECT_TRUE(IsUselessPeerSetupFailure(Samples(metrics, "p2p_handshake_failures_total")))
      << metrics;
  EXPECT_EQ(Metric(metrics, "p2p_inbound_accepted_total"), 1);
  EXPECT_EQ(Metric(metrics, "p2p_peers_added_total"), 0);
  HttpReply peers = Admin("GET", "/peers");
  EXPECT_EQ(peers.body, "[]\n");

  const std::optional<int> status = js->proc->WaitExit(kEventTimeout);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_EQ(JsonField(js->proc->Find("\"event\":\"exit\""), "why"), "closed");
}

TEST_F(ServerInteropTest, NoSharedCapabilityWhenP2pNodeDials) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--caps", "zzz/1"}));
  JsPeer* js = StartJs(kJsKey, {"--exit-after-close"});
  ASSERT_NE(js, nullptr);
  ASSERT_NO_FATAL_FAILURE(AddStatic(*js));

  const std::string closed = js->proc->WaitForLine("\"event\":\"socket_closed\"", kEventTimeout);
  ASSERT_FALSE(closed.empty()) << js->proc->Output();
  EXPECT_EQ(JsonField(closed, "inbound"), "true");
  EXPECT_EQ(JsonField(closed, "peer_added"), "false");
  EXPECT_EQ(js->proc->Count("\"event\":\"peer_added\""), 0) << js->proc->Output();

  const std::string metrics = PollAdmin("/metrics", [](const std::string& b) {
    return Metric(b, "p2p_dials_total{outcome=\"failure\"}") > 0 &&
           !Samples(b, "p2p_handshake_failures_total").empty();
  });
  EXPECT_EQ(Samples(metrics, "p2p_dial_failures_total"),
            std::vector<std::string>{"p2p_dial_failures_total{reason=\"useless peer\"} 1"})
      << metrics;
  EXPECT_EQ(Metric(metrics, "p2p_dials_total{outcome=\"failure\"}"), 1);
  EXPECT_EQ(Metric(metrics, "p2p_dials_total{outcome=\"success\"}"), 0);
  EXPECT_TRUE(IsUselessPeerSetupFailure(Samples(metrics, "p2p_handshake_failures_total")))
      << metrics;
  EXPECT_EQ(Metric(metrics, "p2p_peers_added_total"), 0);
  HttpReply peers = Admin("GET", "/peers");
  EXPECT_EQ(peers.body, "[]\n");
}

// go-ethereum names an inbound peer by the remote TCP address with the UDP
// port equal to the TCP port (server.go nodeFromConn: enode.NewV4(pubkey,
// ip, port, port)), so admin_peers shows "enode://ID@IP:PORT"; so do we.
TEST_F(ServerInteropTest, InboundPeerEnodeIsRemoteAddressLikeGeth) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--nodial", "--caps", "tst/1:4"}));
  JsPeer* js = StartJs(kJsKey, {"--dial", enode_});
  ASSERT_NE(js, nullptr);
  const std::string peer = WaitForPeer(*js);
  ASSERT_FALSE(peer.empty());
  EXPECT_EQ(JsonField(peer, "enode"),
            absl::StrCat("enode://", js->pubkey_hex, "@", JsonField(peer, "remote")));
}

}  // namespace
}  // namespace p2p::interop
