// The core RLPx connection over real TCP on 127.0.0.1: handshake, Hello both
// ways, a sub-protocol message each way, then a Disconnect whose reason both
// sides report. Bounded by a generous wall limit; only outcomes are checked.
#include <memory>
#include <string>
#include <vector>

#include "core/crypto/secp256k1.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/rlpx_conn.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "transport/epoll_loop.h"
#include "transport/openssl_entropy.h"
#include "transport/tcp_network.h"

namespace p2p {
namespace {

using rlpx::CloseInfo;
using rlpx::DisconnectReason;
using rlpx::Hello;
using rlpx::RlpxConn;

class Side : public RlpxConn::Handler {
 public:
  void OnEncryptionHandshake(RlpxConn* c, const PublicKey& remote) override {
    remote_key = remote;
    c->ContinueHandshake();
  }
  void OnHello(RlpxConn* c, const Hello& h) override {
    hello_name = h.name;
    c->ContinueHandshake();
    uint8_t payload[] = {0xc3, 0x01, 0x02, 0x03};
    EXPECT_TRUE(c->Send(0x10, payload).ok());
  }
  void OnMessage(RlpxConn* c, uint64_t code, absl::Span<const uint8_t> payload) override {
    got_code = code;
    got_payload.assign(payload.begin(), payload.end());
    if (disconnect_on_message) c->Disconnect(DisconnectReason::kTooManyPeers);
  }
  void OnClosed(RlpxConn*, const CloseInfo& info) override {
    closed = true;
    close = info;
  }
  bool disconnect_on_message = false;
  std::optional<PublicKey> remote_key;
  std::string hello_name;
  uint64_t got_code = 0;
  std::vector<uint8_t> got_payload;
  bool closed = false;
  CloseInfo close;
};

Hello MakeHello(const PrivateKey& key, const std::string& name) {
  Hello h;
  h.name = name;
  h.caps = {rlpx::Cap{"tst", 1}};
  h.id = DerivePublicKey(key).bytes();
  return h;
}

TEST(RlpxTcpTest, HandshakeMessagesAndDisconnectOverLoopback) {
  auto loop = transport::EpollLoop::Create();
  ASSERT_TRUE(loop.ok());
  transport::SocketNetwork net(loop->get());
  RngEntropy entropy(Rng(42));
  PrivateKey a = *PrivateKey::FromHex("49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee");
  PrivateKey b = *PrivateKey::FromHex("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291");
  Side dialer, listener;
  listener.disconnect_on_message = true;
  std::unique_ptr<RlpxConn> out, in;
  auto l = net.Listen(*Endpoint::Parse("127.0.0.1:0"), [&](std::unique_ptr<Conn> c) {
    in = RlpxConn::Accept(loop->get(), std::move(c), &b, MakeHello(b, "listener"), &entropy,
                          &listener);
  });
  ASSERT_TRUE(l.ok()) << l.status();
  net.Dial((*l)->LocalEndpoint(), absl::Seconds(5), [&](absl::StatusOr<std::unique_ptr<Conn>> c) {
    ASSERT_TRUE(c.ok()) << c.status();
    out = RlpxConn::Dial(loop->get(), std::move(*c), &a, DerivePublicKey(b),
                         MakeHello(a, "dialer"), &entropy, &dialer);
  });
  ASSERT_TRUE((*loop)->RunUntil([&] { return dialer.closed && listener.closed; }, absl::Seconds(60)));
  EXPECT_EQ(dialer.remote_key, DerivePublicKey(b));
  EXPECT_EQ(listener.remote_key, DerivePublicKey(a));
  EXPECT_EQ(dialer.hello_name, "listener");
  EXPECT_EQ(listener.hello_name, "dialer");
  EXPECT_EQ(listener.got_code, 0x10u);
  EXPECT_EQ(listener.got_payload, (std::vector<uint8_t>{0xc3, 0x01, 0x02, 0x03}));
  EXPECT_EQ(listener.close.reason, DisconnectReason::kTooManyPeers);
  EXPECT_FALSE(listener.close.remote_requested);
  EXPECT_EQ(dialer.close.reason, DisconnectReason::kTooManyPeers);
  EXPECT_TRUE(dialer.close.remote_requested);
  EXPECT_GT(out->bytes_out(), 0u);
  EXPECT_EQ(out->bytes_out(), in->bytes_in());
}

}  // namespace
}  // namespace p2p
