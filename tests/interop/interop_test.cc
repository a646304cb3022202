// Interop with an independent devp2p implementation: @ethereumjs/devp2p
// 10.0.0 (tests/interop/peer.mjs, run with Node.js), on 127.0.0.1 only, in
// both directions. Each side completes the EIP-8 handshake and the Hello
// exchange with the right identity, a message crosses on the shared `tst/1`
// capability, and a Disconnect's reason is reported by both sides. The JS
// peer exits by itself (--timeout) and is killed on test exit regardless.
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/crypto/secp256k1.h"
#include "core/hex.h"
#include "core/node.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/rlpx_conn.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "transport/epoll_loop.h"
#include "transport/tcp_network.h"

extern char** environ;

namespace p2p {
namespace {

using rlpx::CloseInfo;
using rlpx::DisconnectReason;
using rlpx::Hello;
using rlpx::RlpxConn;

const char kOurKey[] = "49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee";
const char kJsKey[] = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";

std::string Runfile(const std::string& path) {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"), "/", path);
}

// Skips the test (visibly) when ./dev setup could not install the npm peer.
#define SKIP_WITHOUT_JS_PEER()                                                              \
  do {                                                                                      \
    struct stat st;                                                                         \
    if (stat(Runfile("tests/interop/node_modules/@ethereumjs/devp2p/package.json").c_str(), \
             &st) != 0) {                                                                   \
      GTEST_SKIP() << "@ethereumjs/devp2p is not installed (run ./dev setup)";              \
    }                                                                                       \
  } while (0)

// A peer.mjs child process whose stdout lines are collected by a thread; each
// line wakes the loop.
class JsPeer {
 public:
  JsPeer(transport::EpollLoop* loop, std::vector<std::string> args) : loop_(loop) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    std::vector<std::string> argv = {"node", Runfile("tests/interop/peer.mjs")};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    spawned_ = posix_spawnp(&pid_, "node", &fa, nullptr, cargv.data(), environ) == 0;
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    reader_ = std::thread([this, fd = fds[0]] {
      FILE* f = fdopen(fd, "r");
      char buf[8192];
      while (f != nullptr && fgets(buf, sizeof buf, f) != nullptr) {
        {
          std::lock_guard<std::mutex> g(mu_);
          lines_.push_back(buf);
        }
        loop_->Post([] {});
      }
      if (f != nullptr) fclose(f);
      std::lock_guard<std::mutex> g(mu_);
      eof_ = true;
    });
  }
  ~JsPeer() {
    if (spawned_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    reader_.join();
  }
  bool spawned() const { return spawned_; }
  // The first line containing `needle`, or "".
  std::string Find(const std::string& needle) {
    std::lock_guard<std::mutex> g(mu_);
    for (const auto& l : lines_) {
      if (l.find(needle) != std::string::npos) return l;
    }
    return "";
  }
  std::string All() {
    std::lock_guard<std::mutex> g(mu_);
    std::string out;
    for (const auto& l : lines_) out += l;
    return out;
  }

 private:
  transport::EpollLoop* loop_;
  pid_t pid_ = 0;
  bool spawned_ = false;
  std::thread reader_;
  std::mutex mu_;
  std::vector<std::string> lines_;
  bool eof_ = false;
};

// A JSON string field's value from one line (enough for peer.mjs output).
std::string Field(const std::string& line, const std::string& key) {
  std::string k = "\"" + key + "\":";
  size_t p = line.find(k);
  if (p == std::string::npos) return "";
  p += k.size();
  if (line[p] == '"') {
    size_t e = line.find('"', p + 1);
    return line.substr(p + 1, e - p - 1);
  }
  size_t e = line.find_first_of(",}", p);
  return line.substr(p, e - p);
}

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
  SKIP_WITHOUT_JS_PEER();
  auto loop = transport::EpollLoop::Create();
  ASSERT_TRUE(loop.ok());
  transport::SocketNetwork net(loop->get());
  RngEntropy entropy(Rng(1));
  PrivateKey ours = *PrivateKey::FromHex(kOurKey);
  JsPeer js(loop->get(), {"--key", kJsKey, "--port", "0", "--disconnect-after-message", "8",
                          "--exit-after-close", "--timeout", "30"});
  ASSERT_TRUE(js.spawned());
  ASSERT_TRUE((*loop)->RunUntil([&] { return !js.Find("\"listening\"").empty(); },
                                absl::Seconds(30)))
      << js.All();
  auto node = ParseEnode(Field(js.Find("\"listening\""), "enode"));
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
  ASSERT_TRUE((*loop)->RunUntil(
      [&] { return side.closed && !js.Find("\"peer_removed\"").empty(); }, absl::Seconds(30)))
      << js.All();
  ASSERT_TRUE(side.hello.has_value());
  EXPECT_EQ(side.hello->id, node->pubkey.bytes());
  EXPECT_EQ(side.close.reason, DisconnectReason::kQuitting);
  EXPECT_TRUE(side.close.remote_requested);
  std::string added = js.Find("\"peer_added\"");
  EXPECT_EQ(Field(added, "id"), HexEncode(DerivePublicKey(ours).bytes()));
  EXPECT_EQ(Field(added, "name"), "devp2p-sim/interop");
  EXPECT_EQ(Field(added, "inbound"), "true");
  std::string msg = js.Find("\"message\"");
  EXPECT_EQ(Field(msg, "code"), "0");
  EXPECT_EQ(Field(msg, "payload"), "c3010203");
  EXPECT_EQ(Field(js.Find("\"peer_removed\""), "reason"), "8");
}

TEST(InteropTest, EthereumJsDialsUs) {
  SKIP_WITHOUT_JS_PEER();
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
  ASSERT_TRUE((*loop)->RunUntil(
      [&] { return side.closed && !js.Find("\"peer_removed\"").empty(); }, absl::Seconds(30)))
      << js.All();
  EXPECT_EQ(side.remote_key, DerivePublicKey(*PrivateKey::FromHex(kJsKey)));
  ASSERT_TRUE(side.hello.has_value());
  EXPECT_EQ(side.got_code, 0x10u);
  EXPECT_EQ(side.got_payload, "c3010203");
  EXPECT_EQ(side.close.reason, DisconnectReason::kUselessPeer);
  EXPECT_FALSE(side.close.remote_requested);
  std::string removed = js.Find("\"peer_removed\"");
  EXPECT_EQ(Field(removed, "reason"), "3") << js.All();
  EXPECT_EQ(Field(js.Find("\"peer_added\""), "inbound"), "false");
}

}  // namespace
}  // namespace p2p
