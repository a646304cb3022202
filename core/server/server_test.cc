// go-ethereum's server scenarios (p2p/server_test.go), by behaviour, on the
// simulated clock with in-memory transports: every test is exact and
// deterministic (virtual time, seeded keys), no waiting on real time.
#include "core/server/server.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/net/mem_network.h"
#include "core/net/pipe.h"
#include "core/rlpx/rlpx_conn.h"
#include "core/rlpx/rlpx_conn_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p {
namespace {

using rlpx::CloseInfo;
using rlpx::DisconnectReason;
using rlpx::Hello;
using rlpx::RlpxConn;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

IpAddress Ip(const char* text) { return *IpAddress::Parse(text); }

// Records server events as short strings, in order.
class EventLog : public ServerObserver {
 public:
  void OnServerEvent(const ServerEvent& e) override {
    std::string s = std::string(ServerEventKindName(e.kind));
    if (e.kind == ServerEvent::Kind::kInboundRejected) {
      absl::StrAppend(&s, " ", e.remote.ip.ToString(), " ", e.detail);
    } else {
      absl::StrAppend(&s, " ", e.id.TerminalString().substr(0, 4), " ", ConnFlagsString(e.flags));
      if (e.kind == ServerEvent::Kind::kSetupFailed) absl::StrAppend(&s, " ", e.stage);
      if (e.kind != ServerEvent::Kind::kPeerAdded) {
        absl::StrAppend(&s, " ", rlpx::DisconnectReasonString(e.reason),
                        e.remote_requested ? " (remote)" : "");
      }
    }
    events.push_back(s);
    all.push_back(e);
  }
  std::vector<std::string> events;
  std::vector<ServerEvent> all;
};

// A bare RLPx endpoint driven by the test (the role of go-ethereum's test
// transports): it dials or accepts, records what it sees and continues at
// each checkpoint unless the test sets at_enc to disconnect.
class TestPeer : public rlpx::RecordingHandler {
 public:
  using RecordingHandler::RecordingHandler;

  absl::Status dial_error;
  std::unique_ptr<RlpxConn> conn;
};

class ServerTest : public ::testing::Test {
 protected:
  struct Host {
    std::unique_ptr<sim::SimLoop> loop;
    std::unique_ptr<Network> net;
  };

  Host& AddHost(const char* ip) {
    auto h = std::make_unique<Host>();
    h->loop = std::make_unique<sim::SimLoop>(&queue_);
    auto net = switch_.AddHost(h->loop.get(), Ip(ip));
    EXPECT_TRUE(net.ok()) << net.status();
    h->net = *std::move(net);
    hosts_.push_back(std::move(h));
    return *hosts_.back();
  }

  PrivateKey NewKey() { return PrivateKey::Generate(entropy_); }

  ServerConfig BaseConfig(PrivateKey key) {
    ServerConfig c;
    c.key = key;
    c.name = "test-server";
    c.max_peers = 10;
    c.listen = *Endpoint::Parse("10.0.0.1:30303");
    c.protocols.push_back(Protocol{"tst", 1, 4, nullptr});
    return c;
  }

  // The server under test on host 10.0.0.1.
  Server& StartServer(ServerConfig config, bool start = true) {
    Host& h = AddHost("10.0.0.1");
    server_loop_ = h.loop.get();
    ServerDeps deps;
    deps.loop = h.loop.get();
    deps.net = h.net.get();
    deps.entropy = &entropy_;
    deps.rng = Rng(11);
    deps.observer = &log_;
    server_key_ = *config.key;
    server_ = std::make_unique<Server>(std::move(config), deps);
    if (start) {
      absl::Status s = server_->Start();
      EXPECT_TRUE(s.ok()) << s;
    }
    return *server_;
  }

  Hello HelloFor(const PrivateKey& key, std::vector<rlpx::Cap> caps = {{"tst", 1}}) {
    Hello h;
    h.name = "test-client";
    h.caps = std::move(caps);
    h.id = DerivePublicKey(key).bytes();
    return h;
  }

  // Dials the server from a new host at `ip` with `key` and runs an RLPx
  // client over the connection.
  TestPeer& Connect(const char* ip, const PrivateKey& key, std::optional<Hello> hello = {},
                    const char* to = "10.0.0.1:30303") {
    Host& h = FindOrAddHost(ip);
    auto peer = std::make_unique<TestPeer>(h.loop.get());
    TestPeer* p = peer.get();
    peers_.push_back(std::move(peer));
    Hello our = hello ? *hello : HelloFor(key);
    auto k = std::make_unique<PrivateKey>(key);
    const PrivateKey* kp = k.get();
    keys_.push_back(std::move(k));
    h.net->Dial(*Endpoint::Parse(to), absl::Seconds(15),
                [this, p, kp, our, loop = h.loop.get()](absl::StatusOr<std::unique_ptr<Conn>> c) {
                  if (!c.ok()) {
                    p->dial_error = c.status();
                    return;
                  }
                  p->conn = RlpxConn::Dial(loop, *std::move(c), kp, DerivePublicKey(*server_key_),
                                           our, &entropy_, p);
                });
    return *p;
  }

  // A host that listens with a bare RLPx endpoint (the server dials it).
  struct Listening {
    Node node;
    std::vector<TestPeer*> accepted;
  };
  Listening& ListenAt(const char* ip, const PrivateKey& key) {
    Host& h = FindOrAddHost(ip);
    auto l = std::make_unique<Listening>();
    Listening* lp = l.get();
    listening_.push_back(std::move(l));
    auto k = std::make_unique<PrivateKey>(key);
    const PrivateKey* kp = k.get();
    keys_.push_back(std::move(k));
    Hello our = HelloFor(key);
    auto listener = h.net->Listen(
        Endpoint{Ip(ip), 30303}, [this, lp, kp, our, loop = h.loop.get()](std::unique_ptr<Conn> c) {
          auto peer = std::make_unique<TestPeer>(loop);
          peer->conn = RlpxConn::Accept(loop, std::move(c), kp, our, &entropy_, peer.get());
          lp->accepted.push_back(peer.get());
          peers_.push_back(std::move(peer));
        });
    EXPECT_TRUE(listener.ok());
    listeners_.push_back(*std::move(listener));
    lp->node = Node::FromPublicKey(DerivePublicKey(key), Ip(ip), 30303, 30303);
    return *lp;
  }

  Host& FindOrAddHost(const char* ip) {
    auto it = host_by_ip_.find(ip);
    if (it != host_by_ip_.end()) return *it->second;
    Host& h = AddHost(ip);
    host_by_ip_[ip] = &h;
    return h;
  }

  void RunFor(absl::Duration d) {
    queue_.RunUntil(absl::ToInt64Nanoseconds(queue_.Now() + d - absl::UnixEpoch()));
  }
  absl::Duration Elapsed() const { return queue_.Now() - absl::UnixEpoch(); }

  std::vector<NodeId> PeerIds() const {
    std::vector<NodeId> ids;
    for (const PeerInfo& p : server_->Peers()) ids.push_back(p.node.id);
    return ids;
  }

  sim::EventQueue queue_;
  MemSwitch switch_{MemSwitchOptions{absl::Milliseconds(10)}};
  RngEntropy entropy_{Rng(42)};
  EventLog log_;
  std::vector<std::unique_ptr<Host>> hosts_;
  std::map<std::string, Host*> host_by_ip_;
  std::vector<std::unique_ptr<PrivateKey>> keys_;
  std::vector<std::unique_ptr<Listening>> listening_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<TestPeer>> peers_;
  sim::SimLoop* server_loop_ = nullptr;
  std::optional<PrivateKey> server_key_;
  std::unique_ptr<Server> server_;

  void TearDown() override {
    peers_.clear();
    listeners_.clear();
    server_.reset();
    for (auto& h : hosts_) h->net.reset();
  }
};

// go-ethereum TestServerListen: an inbound connection becomes a peer.
TEST_F(ServerTest, InboundConnectionBecomesPeer) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  const PrivateKey ck = NewKey();
  TestPeer& client = Connect("10.0.0.2", ck);
  RunFor(absl::Seconds(1));
  ASSERT_EQ(srv.PeerCount(), 1);
  const PeerInfo p = srv.Peers()[0];
  EXPECT_EQ(p.node.id, NodeId::FromPublicKey(DerivePublicKey(ck)));
  EXPECT_EQ(p.name, "test-client");
  EXPECT_TRUE(p.inbound());
  EXPECT_EQ(p.flags, kInboundConn);
  EXPECT_EQ(p.node.ip, Ip("10.0.0.2"));
  EXPECT_EQ(srv.InboundCount(), 1);
  ASSERT_TRUE(client.hello.has_value());
  EXPECT_EQ(client.hello->name, "test-server");
  EXPECT_EQ(client.hello->listen_port, 30303u);
  EXPECT_EQ(NodeId::FromPublicKey(*client.enc_remote), srv.Self().id);
  EXPECT_EQ(client.closed, 0);
  EXPECT_EQ(srv.Self().ToEnode(),
            absl::StrCat("enode://", DerivePublicKey(*server_key_).ToHex(), "@10.0.0.1:30303"));
}

// go-ethereum TestServerDial / TestServerRemovePeer: AddPeer dials, the peer
// has the right ID and name; RemovePeer drops it with DiscRequested and it is
// not dialed again.
TEST_F(ServerTest, AddPeerDialsAndRemovePeerDrops) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  Listening& remote = ListenAt("10.0.0.5", NewKey());
  srv.AddPeer(remote.node);
  RunFor(absl::Seconds(1));
  ASSERT_EQ(srv.PeerCount(), 1);
  PeerInfo p = srv.Peers()[0];
  EXPECT_EQ(p.node.id, remote.node.id);
  EXPECT_EQ(p.name, "test-client");
  EXPECT_EQ(p.flags, kStaticDialedConn);
  EXPECT_THAT(srv.StaticNodes(), ::testing::SizeIs(1));
  ASSERT_EQ(remote.accepted.size(), 1u);

  srv.RemovePeer(remote.node);
  RunFor(absl::Seconds(2));
  EXPECT_EQ(srv.PeerCount(), 0);
  ASSERT_GT(remote.accepted[0]->closed, 0);
  EXPECT_EQ(remote.accepted[0]->info.reason, DisconnectReason::kRequested);
  EXPECT_TRUE(remote.accepted[0]->info.remote_requested);
  // Never dialed again.
  RunFor(absl::Minutes(2));
  EXPECT_EQ(remote.accepted.size(), 1u);
  EXPECT_TRUE(srv.StaticNodes().empty());
  const std::string id4 = remote.node.id.TerminalString().substr(0, 4);
  EXPECT_THAT(log_.events, ElementsAre("peer-added " + id4 + " staticdial",
                                       "peer-dropped " + id4 + " staticdial disconnect requested"));
}

// go-ethereum TestServerAtCap: at MaxPeers a non-trusted connection gets
// TooManyPeers at the posthandshake checkpoint; a trusted one passes and
// carries the trusted flag; trust toggles on a live peer.
TEST_F(ServerTest, AtCapOnlyTrustedPass) {
  ServerConfig cfg = BaseConfig(NewKey());
  cfg.max_peers = 3;
  cfg.no_dial = true;  // All slots inbound.
  Server& srv = StartServer(std::move(cfg));
  for (int i = 0; i < 3; ++i) {
    Connect(absl::StrCat("10.0.0.", 10 + i).c_str(), NewKey());
    RunFor(absl::Seconds(1));
  }
  ASSERT_EQ(srv.PeerCount(), 3);

  TestPeer& extra = Connect("10.0.0.20", NewKey());
  RunFor(absl::Seconds(2));
  EXPECT_EQ(srv.PeerCount(), 3);
  ASSERT_GT(extra.closed, 0);
  EXPECT_EQ(extra.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_TRUE(extra.info.remote_requested);
  EXPECT_FALSE(extra.hello.has_value());  // Rejected before the Hello.
  EXPECT_EQ(log_.all.back().stage, "posthandshake");

  const PrivateKey tk = NewKey();
  const Node trusted = Node::FromPublicKey(DerivePublicKey(tk), Ip("10.0.0.21"), 0, 0);
  srv.AddTrustedPeer(trusted);
  TestPeer& t = Connect("10.0.0.21", tk);
  RunFor(absl::Seconds(2));
  EXPECT_EQ(t.closed, 0);
  ASSERT_EQ(srv.PeerCount(), 4);
  auto find = [&](const NodeId& id) {
    for (const PeerInfo& p : srv.Peers()) {
      if (p.node.id == id) return p;
    }
    return PeerInfo{};
  };
  EXPECT_EQ(find(trusted.id).flags, kInboundConn | kTrustedConn);
  srv.RemoveTrustedPeer(trusted);
  EXPECT_EQ(find(trusted.id).flags, kInboundConn);
  srv.AddTrustedPeer(trusted);
  EXPECT_EQ(find(trusted.id).flags, kInboundConn | kTrustedConn);
  EXPECT_EQ(srv.stats().peak_peers, 4);
}

// MaxPeers 0 rejects everything but trusted nodes.
TEST_F(ServerTest, MaxPeersZeroRejectsAllButTrusted) {
  ServerConfig cfg = BaseConfig(NewKey());
  cfg.max_peers = 0;
  const PrivateKey tk = NewKey();
  cfg.trusted_nodes.push_back(Node::FromPublicKey(DerivePublicKey(tk), Ip("10.0.0.3"), 0, 0));
  Server& srv = StartServer(std::move(cfg));
  EXPECT_EQ(srv.MaxDialedConns(), 0);
  TestPeer& a = Connect("10.0.0.2", NewKey());
  RunFor(absl::Seconds(1));
  ASSERT_GT(a.closed, 0);
  EXPECT_EQ(a.info.reason, DisconnectReason::kTooManyPeers);
  TestPeer& t = Connect("10.0.0.3", tk);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(t.closed, 0);
  ASSERT_EQ(srv.PeerCount(), 1);
  EXPECT_TRUE(srv.Peers()[0].trusted());
}

// Inbound peers are limited to MaxPeers - MaxDialedConns.
TEST_F(ServerTest, InboundLimitLeavesRoomForDialedPeers) {
  ServerConfig cfg = BaseConfig(NewKey());
  cfg.max_peers = 4;  // Dialed: max(1, 4/3) = 1; inbound 3.
  Server& srv = StartServer(std::move(cfg));
  EXPECT_EQ(srv.MaxDialedConns(), 1);
  EXPECT_EQ(srv.MaxInboundConns(), 3);
  std::vector<TestPeer*> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(&Connect(absl::StrCat("10.0.1.", i + 1).c_str(), NewKey()));
    RunFor(absl::Seconds(1));
  }
  EXPECT_EQ(srv.InboundCount(), 3);
  ASSERT_GT(clients[3]->closed, 0);
  EXPECT_EQ(clients[3]->info.reason, DisconnectReason::kTooManyPeers);
  // The dialed slot is still usable.
  Listening& remote = ListenAt("10.0.0.9", NewKey());
  srv.AddPeer(remote.node);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(srv.PeerCount(), 4);
}

// go-ethereum TestServerSetupConn, row by row.
TEST_F(ServerTest, SetupConnNotRunning) {
  Server& srv = StartServer(BaseConfig(NewKey()), /*start=*/false);
  Host& other = AddHost("10.0.0.2");
  auto [a, b] = NewConnPair(server_loop_, other.loop.get(), *Endpoint::Parse("10.0.0.1:1"),
                            *Endpoint::Parse("10.0.0.2:2"));
  absl::Status s = srv.SetupConn(std::move(a), kInboundConn, std::nullopt);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.message(), "server stopped");
}

TEST_F(ServerTest, SetupConnDialDestWithoutKey) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  Host& other = AddHost("10.0.0.2");
  auto [a, b] = NewConnPair(server_loop_, other.loop.get(), *Endpoint::Parse("10.0.0.1:1"),
                            *Endpoint::Parse("10.0.0.2:2"));
  Node no_key;
  no_key.ip = Ip("10.0.0.2");
  no_key.tcp = 2;
  absl::Status s = srv.SetupConn(std::move(a), kDynDialedConn, no_key);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "dial destination doesn't have a secp256k1 public key");
}

TEST_F(ServerTest, SetupConnEncryptionHandshakeError) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  Host& other = AddHost("10.0.0.2");
  bool closed = false;
  std::unique_ptr<Conn> keep;
  other.net->Dial(*Endpoint::Parse("10.0.0.1:30303"), absl::Seconds(5),
                  [&](absl::StatusOr<std::unique_ptr<Conn>> c) {
                    ASSERT_TRUE(c.ok());
                    keep = *std::move(c);
                    keep->Start([](absl::Span<const uint8_t>) {},
                                [&](const absl::Status&) { closed = true; });
                    std::vector<uint8_t> garbage(400, 0x5a);
                    keep->Write(garbage);
                  });
  RunFor(absl::Seconds(1));
  EXPECT_TRUE(closed);
  EXPECT_EQ(srv.PeerCount(), 0);
  ASSERT_EQ(log_.all.size(), 1u);
  EXPECT_EQ(log_.all[0].kind, ServerEvent::Kind::kSetupFailed);
  EXPECT_EQ(log_.all[0].stage, "encryption");
  EXPECT_FALSE(log_.all[0].detail.empty());
  EXPECT_EQ(srv.PendingConnections(), 0);
}

TEST_F(ServerTest, SetupConnWrongHelloIdentity) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  const PrivateKey ck = NewKey();
  // The Hello claims another key than the one the handshake proved.
  TestPeer& c = Connect("10.0.0.2", ck, HelloFor(NewKey()));
  RunFor(absl::Seconds(1));
  EXPECT_EQ(srv.PeerCount(), 0);
  ASSERT_GT(c.closed, 0);
  EXPECT_EQ(c.info.reason, DisconnectReason::kUnexpectedIdentity);
  EXPECT_TRUE(c.info.remote_requested);
  EXPECT_EQ(log_.all.back().stage, "protocol");
  EXPECT_EQ(log_.all.back().reason, DisconnectReason::kUnexpectedIdentity);
}

TEST_F(ServerTest, SetupConnDisconnectDuringProtocolHandshake) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  TestPeer& c = Connect("10.0.0.2", NewKey());
  c.at_enc = TestPeer::Answer::kDisconnect;
  c.enc_reason = DisconnectReason::kUselessPeer;
  RunFor(absl::Seconds(1));
  EXPECT_EQ(srv.PeerCount(), 0);
  ASSERT_EQ(log_.all.size(), 1u);
  EXPECT_EQ(log_.all[0].stage, "protocol");
  EXPECT_EQ(log_.all[0].reason, DisconnectReason::kUselessPeer);
  EXPECT_TRUE(log_.all[0].remote_requested);
}

TEST_F(ServerTest, SetupConnSelfBeforeProtocolHandshake) {
  const PrivateKey key = NewKey();
  Server& srv = StartServer(BaseConfig(key));
  TestPeer& c = Connect("10.0.0.2", key);  // Our own identity.
  RunFor(absl::Seconds(1));
  EXPECT_EQ(srv.PeerCount(), 0);
  ASSERT_GT(c.closed, 0);
  EXPECT_EQ(c.info.reason, DisconnectReason::kSelf);
  EXPECT_FALSE(c.hello.has_value());
  EXPECT_EQ(log_.all.back().stage, "posthandshake");
}

TEST_F(ServerTest, SetupConnNoMatchingCapabilities) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  const PrivateKey ck = NewKey();
  TestPeer& c = Connect("10.0.0.2", ck, HelloFor(ck, {{"tst", 2}, {"zzz", 1}}));
  RunFor(absl::Seconds(1));
  EXPECT_EQ(srv.PeerCount(), 0);
  ASSERT_GT(c.closed, 0);
  EXPECT_EQ(c.info.reason, DisconnectReason::kUselessPeer);
  EXPECT_TRUE(c.hello.has_value());  // Rejected after the Hello exchange.
  EXPECT_EQ(log_.all.back().stage, "addpeer");
}

TEST_F(ServerTest, AlreadyConnectedIsRejected) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  const PrivateKey ck = NewKey();
  Connect("10.0.0.2", ck);
  RunFor(absl::Seconds(1));
  TestPeer& second = Connect("10.0.0.3", ck);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(srv.PeerCount(), 1);
  ASSERT_GT(second.closed, 0);
  EXPECT_EQ(second.info.reason, DisconnectReason::kAlreadyConnected);
}

// go-ethereum TestServerInboundThrottle: a second inbound connection from
// one public IP within 30 s is closed before the handshake; LAN addresses are
// exempt; after 30 s the IP may connect again.
TEST_F(ServerTest, InboundThrottlePerPublicIp) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  TestPeer& first = Connect("203.0.113.7", NewKey());
  RunFor(absl::Seconds(1));
  EXPECT_TRUE(first.hello.has_value());
  TestPeer& second = Connect("203.0.113.7", NewKey());
  RunFor(absl::Seconds(1));
  EXPECT_FALSE(second.enc_remote.has_value());
  ASSERT_GT(second.closed, 0);
  EXPECT_EQ(srv.PeerCount(), 1);
  EXPECT_EQ(log_.events.back(), "inbound-rejected 203.0.113.7 too many attempts");
  EXPECT_EQ(srv.stats().inbound_rejected.at("too many attempts"), 1);

  // LAN: no throttle.
  Connect("10.0.0.2", NewKey());
  RunFor(absl::Seconds(1));
  Connect("10.0.0.2", NewKey());
  RunFor(absl::Seconds(1));
  EXPECT_EQ(srv.PeerCount(), 3);

  // Still refused just before 30 s after the first attempt (accepted at
  // 10 ms); refused attempts do not extend the window.
  RunFor(absl::Seconds(25));
  ASSERT_EQ(Elapsed(), absl::Seconds(29));
  TestPeer& early = Connect("203.0.113.7", NewKey());
  RunFor(absl::Seconds(1));
  EXPECT_FALSE(early.enc_remote.has_value());
  EXPECT_EQ(srv.stats().inbound_rejected.at("too many attempts"), 2);
  // After 30 s it is let in again.
  RunFor(absl::Seconds(1));
  TestPeer& third = Connect("203.0.113.7", NewKey());
  RunFor(absl::Seconds(1));
  EXPECT_TRUE(third.hello.has_value());
  EXPECT_EQ(srv.PeerCount(), 4);
}

TEST_F(ServerTest, NetRestrictRejectsInbound) {
  ServerConfig cfg = BaseConfig(NewKey());
  cfg.net_restrict = *IpNetList::Parse("10.0.0.0/24");
  Server& srv = StartServer(std::move(cfg));
  TestPeer& out = Connect("10.0.9.1", NewKey());
  TestPeer& in = Connect("10.0.0.2", NewKey());
  RunFor(absl::Seconds(1));
  EXPECT_FALSE(out.enc_remote.has_value());
  EXPECT_TRUE(in.hello.has_value());
  EXPECT_EQ(srv.PeerCount(), 1);
  EXPECT_EQ(srv.stats().inbound_rejected.at("not in netrestrict list"), 1);
}

// MaxPendingPeers accept tokens: with one token a second connection is not
// even accepted until the first one's setup has ended (here: its 5 s
// handshake timeout).
TEST_F(ServerTest, PendingPeerTokensBoundAccepts) {
  ServerConfig cfg = BaseConfig(NewKey());
  cfg.max_pending_peers = 1;
  Server& srv = StartServer(std::move(cfg));
  Host& silent = AddHost("10.0.0.2");
  std::unique_ptr<Conn> silent_conn;
  silent.net->Dial(*Endpoint::Parse("10.0.0.1:30303"), absl::Seconds(5),
                   [&](absl::StatusOr<std::unique_ptr<Conn>> c) {
                     ASSERT_TRUE(c.ok());
                     silent_conn = *std::move(c);
                     silent_conn->Start([](absl::Span<const uint8_t>) {},
                                        [](const absl::Status&) {});
                   });
  RunFor(absl::Milliseconds(100));
  TestPeer& waiting = Connect("10.0.0.3", NewKey());
  RunFor(absl::Seconds(4));
  EXPECT_FALSE(waiting.enc_remote.has_value());
  EXPECT_EQ(srv.PendingConnections(), 1);
  RunFor(absl::Seconds(2));  // The silent one times out at 5 s.
  EXPECT_TRUE(waiting.hello.has_value());
  EXPECT_EQ(srv.PeerCount(), 1);
  EXPECT_EQ(log_.all[0].stage, "encryption");
}

// Graceful shutdown: every peer gets DiscQuitting, the stop callback runs
// once the last connection is gone, and the server cannot be restarted.
TEST_F(ServerTest, StopSendsQuittingAndCannotRestart) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  TestPeer& a = Connect("10.0.0.2", NewKey());
  TestPeer& b = Connect("10.0.0.3", NewKey());
  RunFor(absl::Seconds(1));
  ASSERT_EQ(srv.PeerCount(), 2);
  TestPeer& pending = Connect("10.0.0.4", NewKey());
  bool stopped = false;
  RunFor(absl::Milliseconds(15));  // `pending` is mid-handshake.
  srv.Stop([&] { stopped = true; });
  EXPECT_FALSE(srv.running());
  RunFor(absl::Seconds(2));
  EXPECT_TRUE(stopped);
  EXPECT_TRUE(srv.stopped());
  for (TestPeer* p : {&a, &b}) {
    ASSERT_GT(p->closed, 0);
    EXPECT_EQ(p->info.reason, DisconnectReason::kQuitting);
    EXPECT_TRUE(p->info.remote_requested);
  }
  EXPECT_GT(pending.closed, 0);
  EXPECT_EQ(srv.PeerCount(), 0);
  EXPECT_EQ(srv.PendingConnections(), 0);
  absl::Status s = srv.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("cannot be restarted"));
  // Nothing listens any more.
  TestPeer& late = Connect("10.0.0.5", NewKey());
  RunFor(absl::Seconds(1));
  EXPECT_FALSE(late.enc_remote.has_value());
  EXPECT_EQ(late.dial_error.code(), absl::StatusCode::kUnavailable);
}

TEST_F(ServerTest, StartValidatesConfig) {
  ServerConfig cfg = BaseConfig(NewKey());
  cfg.max_peers = -1;
  Server& srv = StartServer(std::move(cfg), /*start=*/false);
  absl::Status s = srv.Start();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "server: max_peers must be >= 0, got -1");
}

// Sub-protocols: capability matching assigns code offsets from 0x10 in name
// order; messages reach the right session with relative codes; an unknown
// code is a protocol error; a session error is a subprotocol error.
class EchoSession : public ProtocolSession {
 public:
  EchoSession(ProtocolConn* c, std::vector<std::string>* log, std::string tag)
      : c_(c), log_(log), tag_(std::move(tag)) {}
  absl::Status OnMessage(uint64_t code, absl::Span<const uint8_t> payload) override {
    log_->push_back(absl::StrCat(tag_, " ", code));
    if (code == 3) return absl::InternalError("boom");
    // Echo with code + 1 (relative).
    return c_->Send(code + 1, payload);
  }
  void OnClose(DisconnectReason r) override {
    log_->push_back(absl::StrCat(tag_, " closed ", rlpx::DisconnectReasonString(r)));
  }

 private:
  ProtocolConn* c_;
  std::vector<std::string>* log_;
  std::string tag_;
};

TEST_F(ServerTest, ProtocolMessagesUseOffsetsAndErrorsDisconnect) {
  std::vector<std::string> plog;
  ServerConfig cfg = BaseConfig(NewKey());
  cfg.protocols.clear();
  std::vector<ProtocolConn*> conns;
  cfg.protocols.push_back(Protocol{"bbb", 2, 5, [&](ProtocolConn* c) {
                                     conns.push_back(c);
                                     return std::make_unique<EchoSession>(c, &plog, "bbb");
                                   }});
  cfg.protocols.push_back(Protocol{"aaa", 1, 3, [&](ProtocolConn* c) {
                                     return std::make_unique<EchoSession>(c, &plog, "aaa");
                                   }});
  Server& srv = StartServer(std::move(cfg));
  const PrivateKey ck = NewKey();
  TestPeer& c = Connect("10.0.0.2", ck, HelloFor(ck, {{"aaa", 1}, {"bbb", 2}}));
  RunFor(absl::Seconds(1));
  ASSERT_EQ(srv.PeerCount(), 1);
  // aaa: 0x10..0x12, bbb: 0x13..0x17.
  const std::vector<uint8_t> payload = {'h', 'i'};
  ASSERT_TRUE(c.conn->Send(0x10, payload).ok());
  ASSERT_TRUE(c.conn->Send(0x14, payload).ok());
  RunFor(absl::Seconds(1));
  EXPECT_THAT(plog, ElementsAre("aaa 0", "bbb 1"));
  EXPECT_THAT(c.MessageTexts(), ElementsAre("17:hi", "21:hi"));
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0]->Send(5, payload).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(conns[0]->node().id, NodeId::FromPublicKey(DerivePublicKey(ck)));
  const PeerInfo info = srv.Peers()[0];
  EXPECT_EQ(info.msgs_in, 2u);
  EXPECT_EQ(info.msgs_out, 2u);

  ASSERT_TRUE(c.conn->Send(0x16, payload).ok());  // bbb code 3: the session fails.
  RunFor(absl::Seconds(1));
  ASSERT_GT(c.closed, 0);
  EXPECT_EQ(c.info.reason, DisconnectReason::kSubprotocolError);
  // Sessions close in capability (offset) order.
  EXPECT_THAT(plog, ElementsAre("aaa 0", "bbb 1", "bbb 3", "aaa closed subprotocol error",
                                "bbb closed subprotocol error"));
  EXPECT_EQ(log_.all.back().kind, ServerEvent::Kind::kPeerDropped);
  EXPECT_EQ(log_.all.back().msgs_in, 3u);
}

TEST_F(ServerTest, MessageCodeOutOfRangeIsProtocolError) {
  Server& srv = StartServer(BaseConfig(NewKey()));  // tst/1, 4 codes: 0x10..0x13.
  TestPeer& c = Connect("10.0.0.2", NewKey());
  RunFor(absl::Seconds(1));
  ASSERT_EQ(srv.PeerCount(), 1);
  ASSERT_TRUE(c.conn->Send(0x14, std::vector<uint8_t>{1}).ok());
  RunFor(absl::Seconds(1));
  ASSERT_GT(c.closed, 0);
  EXPECT_EQ(c.info.reason, DisconnectReason::kProtocolError);
}

// Pings keep an idle peer alive far beyond the 30 s read timeout.
TEST_F(ServerTest, IdlePeerStaysConnected) {
  Server& srv = StartServer(BaseConfig(NewKey()));
  TestPeer& c = Connect("10.0.0.2", NewKey());
  RunFor(absl::Minutes(5));
  EXPECT_EQ(srv.PeerCount(), 1);
  EXPECT_EQ(c.closed, 0);
}

// Two servers with each other as static nodes, either dialer generation:
// they connect once (the second dial is refused as already connected or
// skipped), and a dropped static peer is dialed again.
class ServerPairTest : public ServerTest, public ::testing::WithParamInterface<DialGeneration> {};

TEST_P(ServerPairTest, StaticPeersConnectAndReconnect) {
  const PrivateKey ka = NewKey(), kb = NewKey();
  const Node na = Node::FromPublicKey(DerivePublicKey(ka), Ip("10.0.0.1"), 30303, 30303);
  const Node nb = Node::FromPublicKey(DerivePublicKey(kb), Ip("10.0.0.2"), 30303, 30303);
  ServerConfig ca = BaseConfig(ka);
  ca.dial_generation = GetParam();
  ca.static_nodes = {nb};
  Server& a = StartServer(std::move(ca));

  Host& hb = AddHost("10.0.0.2");
  ServerConfig cb = BaseConfig(kb);
  cb.dial_generation = GetParam();
  cb.listen = *Endpoint::Parse("10.0.0.2:30303");
  EventLog blog;
  ServerDeps db;
  db.loop = hb.loop.get();
  db.net = hb.net.get();
  db.entropy = &entropy_;
  db.rng = Rng(12);
  db.observer = &blog;
  Server b(std::move(cb), db);
  ASSERT_TRUE(b.Start().ok());

  RunFor(absl::Seconds(1));
  ASSERT_EQ(a.PeerCount(), 1);
  ASSERT_EQ(b.PeerCount(), 1);
  EXPECT_EQ(a.Peers()[0].flags, kStaticDialedConn);
  EXPECT_EQ(b.Peers()[0].flags, kInboundConn);

  // B drops A; A re-dials its static peer once the 35 s (current) or 30 s
  // (v1.8.24) dial history entry has expired.
  ASSERT_TRUE(b.DisconnectPeer(na.id, DisconnectReason::kRequested));
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a.PeerCount(), 0);
  RunFor(absl::Seconds(40));
  EXPECT_EQ(a.PeerCount(), 1);
  EXPECT_EQ(b.PeerCount(), 1);
  bool stopped = false;
  b.Stop([&] { stopped = true; });
  RunFor(absl::Seconds(2));
  EXPECT_TRUE(stopped);
  EXPECT_EQ(a.PeerCount(), 0);
  server_.reset();
}

INSTANTIATE_TEST_SUITE_P(BothGenerations, ServerPairTest,
                         ::testing::Values(DialGeneration::kCurrent, DialGeneration::kLegacy),
                         [](const ::testing::TestParamInfo<DialGeneration>& info) {
                           return std::string(DialGenerationName(info.param));
                         });

}  // namespace
}  // namespace p2p
