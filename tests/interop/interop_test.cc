// Interop with an independent devp2p implementation: @ethereumjs/devp2p
// 10.0.0 (tests/interop/peer.mjs, run with Node.js), on 127.0.0.1 only, in
// both directions. Each side completes the EIP-8 handshake and the Hello
// exchange with the right identity, a message crosses on the shared `tst/1`
// capability, and a Disconnect's reason is reported by both sides. The JS
// peer exits by itself (--timeout) and is killed on test exit regardless.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/secp256k1.h"
#include "core/hex.h"
#include "core/node.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/rlpx_conn.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "tests/interop/interop_testing.h"
#include "transport/epoll_loop.h"
#include "transport/tcp_network.h"

namespace p2p::interop {
namespace {

using rlpx::CloseInfo;
using rlpx::DisconnectReason;
using rlpx::Hello;
using rlpx::RlpxConn;

const char kOurKey[] = "49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee";
const char kJsKey[] = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";

// How often the loop reads the JS peer's stdout.
constexpr absl::Duration kPumpInterval = absl::Milliseconds(10);

// A peer.mjs child process. The loop does not watch its stdout pipe, so a
// timer reads it every kPumpInterval: RunUntil re-checks its condition
// after each timer, and a line wakes it within one interval.
class JsPeer {
 public:
  JsPeer(transport::EpollLoop* loop, std::vector<std::string> args) : loop_(loop) {
    std::vector<std::string> argv = {"node", Runfile("tests/interop/peer.mjs")};
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<std::unique_ptr<ChildProcess>> proc = ChildProcess::Spawn(std::move(argv));
    EXPECT_TRUE(proc.ok()) << proc.status();
    if (!proc.ok()) return;
    proc_ = *std::move(proc);
    ArmPump();
  }
  ~JsPeer() {
    if (timer_ != kNoTimer) loop_->Cancel(timer_);
  }
  bool spawned() const { return proc_ != nullptr; }
  // The first line containing `needle`, or "".
  std::string Find(const std::string& needle) const { return proc_ ? proc_->Find(needle) : ""; }
  std::string All() const { return proc_ ? proc_->Output() : ""; }

 private:
  void ArmPump() {
    timer_ = loop_->RunAfter(kPumpInterval, [this] {
      proc_->Pump(absl::ZeroDuration());
      ArmPump();
    });
  }

  transport::EpollLoop* loop_;
  std::unique_ptr<ChildProcess> proc_;
  TimerId timer_ = kNoTimer;
};

class Side : public RlpxConn::Handler {
 public:
  void OnEncryptionHandshake(RlpxConn* c, const PublicKey& remote) override {
    remote_key = remote;
    c->ContinueHandshake();
  }
  void OnHello(RlpxConn* c, const Hello& h) override {
    hello = h;
    c->ContinueHandshake();
    if (send_on_hello) {
      uint8_t payload[] = {0xc3, 0x01, 0x02, 0x03};
      EXPECT_TRUE(c->Send(0x10, payload).ok());
    }
  }
  void OnMessage(RlpxConn* c, uint64_t code, absl::Span<const uint8_t> payload) override {
    got_code = code;
    got_payload = HexEncode(payload);
    if (disconnect_on_message) c->Disconnect(DisconnectReason::kUselessPeer);
  }
  void OnClosed(RlpxConn*, const CloseInfo& info) override {
    closed = true;
    close = info;
  }
  bool send_on_hello = false;
  bool disconnect_on_message = false;
  std::optional<PublicKey> remote_key;
  std::optional<Hello> hello;
  uint64_t got_code = 0;
  std::string got_payload;
  bool closed = false;
  CloseInfo close;
};

Hello OurHello(const PrivateKey& key, uint16_t port) {
  Hello h;
  h.name = "devp2p-sim/interop";
  h.caps = {rlpx::Cap{"tst", 1}};
  h.listen_port = port;
  h.id = DerivePublicKey(key).bytes();
  return h;
}

TEST(InteropTest, WeDialEthereumJs) {
  INTEROP_SKIP_WITHOUT_JS_PACKAGES();
  auto loop = transport::EpollLoop::Create();
  ASSERT_TRUE(loop.ok());
  transport::SocketNetwork net(loop->get());
  RngEntropy entropy(Rng(1));
  PrivateKey ours = *PrivateKey::FromHex(kOurKey);
  JsPeer js(loop->get(), {"--key", kJsKey, "--port", "0", "--disconnect-after-message", "8",
                          "--exit-after-close", "--timeout", "30"});
  ASSERT_TRUE(js.spawned());
  ASSERT_TRUE(
      (*loop)->RunUntil([&] { return !js.Find("\"listening\"").empty(); }, absl::Seconds(30)))
      << js.All();
  auto node = ParseEnode(JsonField(js.Find("\"listening\""), "enode"));
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->pubkey, DerivePublicKey(*PrivateKey::FromHex(kJsKey)));
  Side side;
  side.send_on_hello = true;
  std::unique_ptr<RlpxConn> conn;
  net.Dial(node->TcpEndpoint(), absl::Seconds(5), [&](absl::StatusOr<std::unique_ptr<Conn>> c) {
    ASSERT_TRUE(c.ok()) << c.status();
    conn = RlpxConn::Dial(loop->get(), std::move(*c), &ours, node->pubkey, OurHello(ours, 0),
                          &entropy, &side);
  });
  ASSERT_TRUE((*loop)->RunUntil([&] { return side.closed && !js.Find("\"peer_removed\"").empty(); },
                                absl::Seconds(30)))
      << js.All();
  ASSERT_TRUE(side.hello.has_value());
  EXPECT_EQ(side.hello->id, node->pubkey.bytes());
  EXPECT_EQ(side.close.reason, DisconnectReason::kQuitting);
  EXPECT_TRUE(side.close.remote_requested);
  std::string added = js.Find("\"peer_added\"");
  EXPECT_EQ(JsonField(added, "id"), HexEncode(DerivePublicKey(ours).bytes()));
  EXPECT_EQ(JsonField(added, "name"), "devp2p-sim/interop");
  EXPECT_EQ(JsonField(added, "inbound"), "true");
  std::string msg = js.Find("\"message\"");
  EXPECT_EQ(JsonField(msg, "code"), "0");
  EXPECT_EQ(JsonField(msg, "payload"), "c3010203");
  EXPECT_EQ(JsonField(js.Find("\"peer_removed\""), "reason"), "8");
}

TEST(InteropTest, EthereumJsDialsUs) {
  INTEROP_SKIP_WITHOUT_JS_PACKAGES();
  auto loop = transport::EpollLoop::Create();
  ASSERT_TRUE(loop.ok());
  transport::SocketNetwork net(loop->get());
  RngEntropy entropy(Rng(2));
  PrivateKey ours = *PrivateKey::FromHex(kOurKey);
  Side side;
  side.disconnect_on_message = true;
  std::unique_ptr<RlpxConn> conn;
  auto l = net.Listen(*Endpoint::Parse("127.0.0.1:0"), [&](std::unique_ptr<Conn> c) {
    conn = RlpxConn::Accept(loop->get(), std::move(c), &ours, OurHello(ours, 0), &entropy, &side);
  });
  ASSERT_TRUE(l.ok());
  std::string enode = absl::StrCat("enode://", HexEncode(DerivePublicKey(ours).bytes()),
                                   "@127.0.0.1:", (*l)->LocalEndpoint().port);
  JsPeer js(loop->get(), {"--key", kJsKey, "--port", "0", "--dial", enode, "--send-after-hello",
                          "c3010203", "--exit-after-close", "--timeout", "30"});
  ASSERT_TRUE(js.spawned());
  ASSERT_TRUE((*loop)->RunUntil([&] { return side.closed && !js.Find("\"peer_removed\"").empty(); },
                                absl::Seconds(30)))
      << js.All();
  EXPECT_EQ(side.remote_key, DerivePublicKey(*PrivateKey::FromHex(kJsKey)));
  ASSERT_TRUE(side.hello.has_value());
  EXPECT_EQ(side.got_code, 0x10u);
  EXPECT_EQ(side.got_payload, "c3010203");
  EXPECT_EQ(side.close.reason, DisconnectReason::kUselessPeer);
  EXPECT_FALSE(side.close.remote_requested);
  std::string removed = js.Find("\"peer_removed\"");
  EXPECT_EQ(JsonField(removed, "reason"), "3") << js.All();
  EXPECT_EQ(JsonField(js.Find("\"peer_added\""), "inbound"), "false");
}

}  // namespace
}  // namespace p2p::interop
