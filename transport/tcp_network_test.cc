#include "transport/tcp_network.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/log.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "gtest/gtest.h"
#include "transport/epoll_loop.h"

namespace p2p::transport {
namespace {

// Generous: every test normally finishes in milliseconds; the limit only
// matters on a badly overloaded machine.
constexpr absl::Duration kWallLimit = absl::Seconds(20);
constexpr absl::Duration kDialTimeout = absl::Seconds(10);
constexpr size_t kLargeTransferBytes = 4 << 20;

Endpoint Ep(absl::string_view text) {
  absl::StatusOr<Endpoint> ep = Endpoint::Parse(text);
  EXPECT_TRUE(ep.ok()) << ep.status();
  return ep.ok() ? *ep : Endpoint();
}

Endpoint WithPort(Endpoint ep, uint16_t port) {
  ep.port = port;
  return ep;
}

bool HasIpv6Loopback() {
  int fd = socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
  close(fd);
  return ok;
}

std::string Pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

absl::Span<const uint8_t> Bytes(absl::string_view s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

class CapturingLogger : public Logger {
 public:
  explicit CapturingLogger(EpollLoop* loop) : loop_(loop) {}
  bool Enabled(LogLevel) const override { return true; }
  void Log(LogLevel level, absl::string_view msg) override {
    lines.push_back({level, std::string(msg), loop_->Now()});
  }
  struct Line {
    LogLevel level;
    std::string msg;
    MonoTime at;
  };
  const Line* Find(absl::string_view prefix) const {
    for (const Line& l : lines) {
      if (absl::StartsWith(l.msg, prefix)) return &l;
    }
    return nullptr;
  }
  std::vector<Line> lines;

 private:
  EpollLoop* loop_;
};

// One end of a connection with everything it saw.
struct Side {
  std::unique_ptr<Conn> conn;
  std::string received;
  int closes = 0;
  absl::Status why;

  void Start() {
    conn->Start(
        [this](absl::Span<const uint8_t> d) {
          received.append(reinterpret_cast<const char*>(d.data()), d.size());
        },
        [this](const absl::Status& s) {
          ++closes;
          why = s;
        });
  }
};

class SocketNetworkTest : public ::testing::Test {
 protected:
  SocketNetworkTest()
      : loop_(std::move(*EpollLoop::Create())),
        logger_(loop_.get()),
        net_(std::make_unique<SocketNetwork>(loop_.get(), &logger_)) {}

  bool RunUntil(absl::FunctionRef<bool()> done) { return loop_->RunUntil(done, kWallLimit); }

  // Lets everything already due (posted callbacks, ready sockets) run.
  void Settle() {
    bool tick = false;
    loop_->RunAfter(absl::Milliseconds(5), [&] { tick = true; });
    ASSERT_TRUE(RunUntil([&] { return tick; }));
  }

  // Dials `to` and runs until the callback ran.
  absl::StatusOr<std::unique_ptr<Conn>> DialAndWait(const Endpoint& to,
                                                    absl::Duration timeout = kDialTimeout) {
    bool done = false;
    absl::StatusOr<std::unique_ptr<Conn>> result = absl::UnknownError("not called");
    net_->Dial(to, timeout, [&](absl::StatusOr<std::unique_ptr<Conn>> r) {
      EXPECT_FALSE(done) << "dial callback ran twice";
      done = true;
      result = std::move(r);
    });
    EXPECT_FALSE(done) << "dial callback ran inline";
    EXPECT_TRUE(RunUntil([&] { return done; }));
    return result;
  }

  // A listener on `local` that collects accepted connections (not started).
  std::unique_ptr<Listener> CollectingListener(const Endpoint& local,
                                               std::vector<std::unique_ptr<Conn>>* accepted) {
    absl::StatusOr<std::unique_ptr<Listener>> l =
        net_->Listen(local, [accepted](std::unique_ptr<Conn> c) {
          accepted->push_back(std::move(c));
        });
    EXPECT_TRUE(l.ok()) << l.status();
    return l.ok() ? std::move(*l) : nullptr;
  }

  // A connected (client, server) pair over `listen_on`, neither started.
  void ConnectPair(const Endpoint& listen_on, Side* client, Side* server) {
    std::vector<std::unique_ptr<Conn>> accepted;
    std::unique_ptr<Listener> listener = CollectingListener(listen_on, &accepted);
    ASSERT_NE(listener, nullptr);
    absl::StatusOr<std::unique_ptr<Conn>> c = DialAndWait(listener->LocalEndpoint());
    ASSERT_TRUE(c.ok()) << c.status();
    client->conn = std::move(*c);
    ASSERT_TRUE(RunUntil([&] { return !accepted.empty(); }));
    server->conn = std::move(accepted[0]);
  }

  void EchoTest(const Endpoint& listen_on);

  // Declared first: destroyed last.
  std::unique_ptr<EpollLoop> loop_;
  CapturingLogger logger_;
  std::unique_ptr<SocketNetwork> net_;
};

void SocketNetworkTest::EchoTest(const Endpoint& listen_on) {
  std::vector<std::unique_ptr<Conn>> servers;
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net_->Listen(listen_on, [&](std::unique_ptr<Conn> c) {
        Conn* raw = c.get();
        raw->Start([raw](absl::Span<const uint8_t> d) { raw->Write(d); },
                   [](const absl::Status&) {});
        servers.push_back(std::move(c));
      });
  ASSERT_TRUE(listener.ok()) << listener.status();
  const Endpoint addr = (*listener)->LocalEndpoint();
  EXPECT_EQ(addr.ip, listen_on.ip);
  EXPECT_NE(addr.port, 0);

  absl::StatusOr<std::unique_ptr<Conn>> dialed = DialAndWait(addr);
  ASSERT_TRUE(dialed.ok()) << dialed.status();
  Side client{std::move(*dialed)};
  EXPECT_EQ(client.conn->RemoteEndpoint(), addr);
  EXPECT_EQ(client.conn->LocalEndpoint().ip, listen_on.ip);
  client.Start();
  client.conn->Write(Bytes("hello "));
  client.conn->Write(Bytes("devp2p"));
  ASSERT_TRUE(RunUntil([&] { return client.received.size() == 12; }));
  EXPECT_EQ(client.received, "hello devp2p");
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0]->RemoteEndpoint(), client.conn->LocalEndpoint());
  EXPECT_EQ(servers[0]->LocalEndpoint(), addr);
  EXPECT_EQ(client.closes, 0);
}

TEST_F(SocketNetworkTest, EchoOverIpv4Loopback) { EchoTest(Ep("127.0.0.1:0")); }

TEST_F(SocketNetworkTest, EchoOverIpv6Loopback) {
  if (!HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  EchoTest(Ep("[::1]:0"));
}

TEST_F(SocketNetworkTest, DualStackListenerSeesIpv4PeersAsIpv4) {
  if (!HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  std::vector<std::unique_ptr<Conn>> accepted;
  std::unique_ptr<Listener> listener = CollectingListener(Ep("[::]:0"), &accepted);
  ASSERT_NE(listener, nullptr);
  absl::StatusOr<std::unique_ptr<Conn>> c =
      DialAndWait(WithPort(Ep("127.0.0.1:0"), listener->LocalEndpoint().port));
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(RunUntil([&] { return !accepted.empty(); }));
  EXPECT_TRUE(accepted[0]->RemoteEndpoint().ip.is_v4());
  EXPECT_EQ(accepted[0]->RemoteEndpoint(), (*c)->LocalEndpoint());
}

TEST_F(SocketNetworkTest, LargeTransferUsesWriteQueueBackPressure) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  client.Start();
  server.Start();
  const std::string payload = Pattern(kLargeTransferBytes);
  client.conn->Write(Bytes(payload));
  // The kernel cannot take 4 MiB at once: the rest waits for EPOLLOUT.
  EXPECT_GT(client.conn->PendingWriteBytes(), 0u);
  EXPECT_LT(client.conn->PendingWriteBytes(), payload.size());
  ASSERT_TRUE(RunUntil([&] { return server.received.size() >= payload.size(); }));
  EXPECT_TRUE(server.received == payload) << "payload corrupted";
  EXPECT_EQ(client.conn->PendingWriteBytes(), 0u);
  EXPECT_EQ(client.closes + server.closes, 0);
}

TEST_F(SocketNetworkTest, ManySmallWritesArriveInOrder) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  client.Start();
  server.Start();
  std::string expected;
  for (int i = 0; i < 20000; ++i) {
    std::string piece = absl::StrCat(i, ",");
    expected += piece;
    client.conn->Write(Bytes(piece));
  }
  ASSERT_TRUE(RunUntil([&] { return server.received.size() >= expected.size(); }));
  EXPECT_EQ(server.received, expected);
}

TEST_F(SocketNetworkTest, DialToClosedPortIsUnavailableExactlyOnce) {
  // A bound socket that does not listen: connecting to it is refused.
  int reserved = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(reserved, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(reserved, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(getsockname(reserved, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const Endpoint to = WithPort(Ep("127.0.0.1:0"), ntohs(sa.sin_port));

  int calls = 0;
  absl::Status status;
  net_->Dial(to, kDialTimeout, [&](absl::StatusOr<std::unique_ptr<Conn>> r) {
    ++calls;
    status = r.status();
  });
  EXPECT_EQ(calls, 0);  // Never inline.
  ASSERT_TRUE(RunUntil([&] { return calls > 0; }));
  Settle();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(),
            absl::StrCat("dial tcp ", to.ToString(), ": Connection refused (ECONNREFUSED)"));
  EXPECT_EQ(net_->pending_dials(), 0u);
  close(reserved);
}

TEST_F(SocketNetworkTest, DialInvalidAddressIsInvalidArgumentAndNotInline) {
  for (const Endpoint& to : {Ep("127.0.0.1:0"), Ep("0.0.0.0:30303"), Ep("[::]:30303")}) {
    absl::StatusOr<std::unique_ptr<Conn>> r = DialAndWait(to);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << to.ToString();
    EXPECT_EQ(r.status().message(), absl::StrCat("dial tcp ", to.ToString(), ": invalid address"));
  }
}

// A raw listening socket whose accept queue (backlog 0) gets filled, so that
// the kernel drops further SYNs and a dial can only time out.
class FullBacklog {
 public:
  FullBacklog() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    listen(fd_, 0);
    socklen_t len = sizeof(sa);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  ~FullBacklog() { close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_;
  uint16_t port_;
};

TEST_F(SocketNetworkTest, DialTimeoutIsDeadlineExceeded) {
  FullBacklog backlog;
  const Endpoint to = WithPort(Ep("127.0.0.1:0"), backlog.port());
  // Fill the accept queue; the first connection completes, after which
  // SYNs are dropped.
  absl::StatusOr<std::unique_ptr<Conn>> filler = DialAndWait(to);
  ASSERT_TRUE(filler.ok()) << filler.status();
  absl::StatusOr<std::unique_ptr<Conn>> filler2 = DialAndWait(to, absl::Milliseconds(100));

  absl::StatusOr<std::unique_ptr<Conn>> r = DialAndWait(to, absl::Milliseconds(50));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(r.status().message(), absl::StrCat("dial tcp ", to.ToString(), ": i/o timeout"));
  EXPECT_EQ(net_->pending_dials(), 0u);
}

TEST_F(SocketNetworkTest, DestroyingTheNetworkDropsPendingDials) {
  FullBacklog backlog;
  const Endpoint to = WithPort(Ep("127.0.0.1:0"), backlog.port());
  absl::StatusOr<std::unique_ptr<Conn>> filler = DialAndWait(to);
  ASSERT_TRUE(filler.ok()) << filler.status();
  int calls = 0;
  auto count = [&](absl::StatusOr<std::unique_ptr<Conn>>) { ++calls; };
  net_->Dial(to, absl::Milliseconds(10), count);                     // In progress.
  net_->Dial(Ep("127.0.0.1:0"), kDialTimeout, count);                // Result posted.
  net_->Dial(WithPort(Ep("127.0.0.1:0"), 1), kDialTimeout, count);   // Refused or posted.
  EXPECT_EQ(net_->pending_dials(), 3u);
  net_.reset();
  Settle();
  loop_->RunUntil([] { return false; }, absl::Milliseconds(30));  // Past the timeout.
  EXPECT_EQ(calls, 0);
}

TEST_F(SocketNetworkTest, PeerCloseEndsStreamWithOkStatus) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  client.Start();
  server.conn.reset();  // Orderly close: FIN.
  ASSERT_TRUE(RunUntil([&] { return client.closes > 0; }));
  Settle();
  EXPECT_EQ(client.closes, 1);
  EXPECT_TRUE(client.why.ok()) << client.why;
}

TEST_F(SocketNetworkTest, PeerResetIsUnavailable) {
  // The peer is a raw socket so the test can make it send RST.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(lfd, 4), 0);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const Endpoint to = WithPort(Ep("127.0.0.1:0"), ntohs(sa.sin_port));
  absl::StatusOr<std::unique_ptr<Conn>> c = DialAndWait(to);
  ASSERT_TRUE(c.ok()) << c.status();
  Side client{std::move(*c)};
  client.Start();
  int pfd = accept(lfd, nullptr, nullptr);  // Already queued: does not block.
  ASSERT_GE(pfd, 0);
  linger lg{1, 0};
  ASSERT_EQ(setsockopt(pfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  close(pfd);  // RST.
  ASSERT_TRUE(RunUntil([&] { return client.closes > 0; }));
  Settle();
  EXPECT_EQ(client.closes, 1);
  EXPECT_EQ(client.why.code(), absl::StatusCode::kUnavailable) << client.why;
  EXPECT_EQ(client.why.message(),
            absl::StrCat("read tcp ", to.ToString(), ": Connection reset by peer (ECONNRESET)"));
  close(lfd);
}

TEST_F(SocketNetworkTest, CloseWithFlushDeliversQueuedDataBeforeEof) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  client.Start();
  server.Start();
  const std::string payload = Pattern(kLargeTransferBytes);
  client.conn->Write(Bytes(payload));
  ASSERT_GT(client.conn->PendingWriteBytes(), 0u);
  const absl::Status why = absl::CancelledError("bye");
  client.conn->Close(why, /*flush=*/true);
  client.conn->Write(Bytes("dropped"));  // Writes after Close are dropped.
  EXPECT_EQ(client.closes, 0);           // Not inline.
  ASSERT_TRUE(RunUntil([&] { return server.closes > 0 && client.closes > 0; }));
  Settle();
  EXPECT_EQ(server.received.size(), payload.size());
  EXPECT_TRUE(server.received == payload) << "payload corrupted";
  EXPECT_EQ(server.closes, 1);
  EXPECT_TRUE(server.why.ok()) << server.why;
  EXPECT_EQ(client.closes, 1);
  EXPECT_EQ(client.why, why);
}

TEST_F(SocketNetworkTest, CloseWithoutFlushReportsWhyOnceAndNotInline) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  client.Start();
  server.Start();
  const absl::Status why = absl::UnavailableError("going away");
  client.conn->Close(why, /*flush=*/false);
  client.conn->Close(absl::InternalError("again"), /*flush=*/false);  // Ignored.
  EXPECT_EQ(client.closes, 0);
  ASSERT_TRUE(RunUntil([&] { return client.closes > 0 && server.closes > 0; }));
  Settle();
  EXPECT_EQ(client.closes, 1);
  EXPECT_EQ(client.why, why);
  EXPECT_EQ(server.closes, 1);
}

TEST_F(SocketNetworkTest, SecondCloseWithoutFlushAbandonsTheFlush) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  client.Start();  // The server never reads, so the flush cannot finish.
  const std::string payload = Pattern(kLargeTransferBytes);
  client.conn->Write(Bytes(payload));
  const absl::Status why = absl::CancelledError("first");
  client.conn->Close(why, /*flush=*/true);
  Settle();
  EXPECT_EQ(client.closes, 0);
  EXPECT_GT(client.conn->PendingWriteBytes(), 0u);
  client.conn->Close(absl::DeadlineExceededError("flush timeout"), /*flush=*/false);
  EXPECT_EQ(client.conn->PendingWriteBytes(), 0u);
  ASSERT_TRUE(RunUntil([&] { return client.closes > 0; }));
  EXPECT_EQ(client.why, why);
}

TEST_F(SocketNetworkTest, DestroyingAConnRunsNoneOfItsCallbacks) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  client.Start();
  server.Start();
  server.conn->Write(Bytes("data for a dead conn"));
  server.conn.reset();  // FIN follows the data.
  client.conn->Close(absl::CancelledError("x"), /*flush=*/false);  // Close callback posted.
  client.conn.reset();
  Settle();
  EXPECT_EQ(client.closes, 0);
  EXPECT_EQ(client.received, "");
}

TEST_F(SocketNetworkTest, DestroyingAConnFromItsReadCallbackIsSafe) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  int reads = 0;
  client.conn->Start(
      [&](absl::Span<const uint8_t>) {
        ++reads;
        client.conn.reset();
      },
      [&](const absl::Status&) { ++client.closes; });
  server.Start();
  server.conn->Write(Bytes(Pattern(1 << 20)));
  ASSERT_TRUE(RunUntil([&] { return reads > 0; }));
  Settle();
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(client.closes, 0);
}

TEST_F(SocketNetworkTest, DataArrivingBeforeStartIsDeliveredAfterStart) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  server.Start();
  server.conn->Write(Bytes("early"));
  server.conn->Close(absl::OkStatus(), /*flush=*/true);
  Settle();
  EXPECT_EQ(client.received, "");
  client.Start();
  ASSERT_TRUE(RunUntil([&] { return client.closes > 0; }));
  EXPECT_EQ(client.received, "early");
  EXPECT_TRUE(client.why.ok());
}

TEST_F(SocketNetworkTest, CloseBeforeStartIsReportedByStart) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  const absl::Status why = absl::AbortedError("early close");
  client.conn->Close(why, /*flush=*/false);
  Settle();
  client.Start();
  EXPECT_EQ(client.closes, 0);
  ASSERT_TRUE(RunUntil([&] { return client.closes > 0; }));
  Settle();
  EXPECT_EQ(client.closes, 1);
  EXPECT_EQ(client.why, why);
}

TEST_F(SocketNetworkTest, WritesAfterTheStreamEndedAreDropped) {
  Side client, server;
  ConnectPair(Ep("127.0.0.1:0"), &client, &server);
  client.Start();
  server.conn.reset();
  ASSERT_TRUE(RunUntil([&] { return client.closes > 0; }));
  client.conn->Write(Bytes("late"));
  EXPECT_EQ(client.conn->PendingWriteBytes(), 0u);
  Settle();
  EXPECT_EQ(client.closes, 1);
}

TEST_F(SocketNetworkTest, WriteErrorBeforeStartIsReportedByStart) {
  // A raw peer that never reads and then resets the connection.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0);
  ASSERT_EQ(listen(lfd, 4), 0);
  socklen_t len = sizeof(sa);
  ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
  const Endpoint to = WithPort(Ep("127.0.0.1:0"), ntohs(sa.sin_port));
  absl::StatusOr<std::unique_ptr<Conn>> c = DialAndWait(to);
  ASSERT_TRUE(c.ok()) << c.status();
  Side client{std::move(*c)};
  int pfd = accept(lfd, nullptr, nullptr);  // Already queued: does not block.
  ASSERT_GE(pfd, 0);
  // Not started: only the write path watches the socket.
  client.conn->Write(Bytes(Pattern(kLargeTransferBytes)));
  ASSERT_GT(client.conn->PendingWriteBytes(), 0u);
  linger lg{1, 0};
  ASSERT_EQ(setsockopt(pfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
  close(pfd);  // RST.
  // The failed flush drops the queue; the stream has ended.
  ASSERT_TRUE(RunUntil([&] { return client.conn->PendingWriteBytes() == 0; }));
  Settle();
  EXPECT_EQ(client.closes, 0);  // No callback before Start.
  client.Start();
  EXPECT_EQ(client.closes, 0);  // Not inline either.
  ASSERT_TRUE(RunUntil([&] { return client.closes > 0; }));
  Settle();
  EXPECT_EQ(client.closes, 1);
  EXPECT_EQ(client.why.code(), absl::StatusCode::kUnavailable) << client.why;
  EXPECT_TRUE(absl::StartsWith(client.why.message(), absl::StrCat("write tcp ", to.ToString(), ": ")))
      << client.why;
  close(lfd);
}

TEST_F(SocketNetworkTest, AcceptDisabledHoldsConnectionsUntilReEnabled) {
  std::vector<std::unique_ptr<Conn>> accepted;
  std::unique_ptr<Listener> listener = CollectingListener(Ep("127.0.0.1:0"), &accepted);
  ASSERT_NE(listener, nullptr);
  listener->SetAcceptEnabled(false);
  // The kernel completes the handshake into the backlog.
  absl::StatusOr<std::unique_ptr<Conn>> c1 = DialAndWait(listener->LocalEndpoint());
  absl::StatusOr<std::unique_ptr<Conn>> c2 = DialAndWait(listener->LocalEndpoint());
  ASSERT_TRUE(c1.ok()) << c1.status();
  ASSERT_TRUE(c2.ok()) << c2.status();
  Settle();
  EXPECT_TRUE(accepted.empty());
  listener->SetAcceptEnabled(true);
  EXPECT_TRUE(accepted.empty());  // Never inline.
  ASSERT_TRUE(RunUntil([&] { return accepted.size() == 2; }));
  EXPECT_EQ(accepted[0]->RemoteEndpoint(), (*c1)->LocalEndpoint());
  EXPECT_EQ(accepted[1]->RemoteEndpoint(), (*c2)->LocalEndpoint());
}

TEST_F(SocketNetworkTest, DisablingAcceptFromTheAcceptCallbackTakesEffectAtOnce) {
  std::vector<std::unique_ptr<Conn>> accepted;
  Listener* raw = nullptr;
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net_->Listen(Ep("127.0.0.1:0"), [&](std::unique_ptr<Conn> c) {
        accepted.push_back(std::move(c));
        raw->SetAcceptEnabled(false);  // One token only.
      });
  ASSERT_TRUE(listener.ok()) << listener.status();
  raw = listener->get();
  raw->SetAcceptEnabled(false);
  std::vector<std::unique_ptr<Conn>> clients;
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<Conn>> c = DialAndWait(raw->LocalEndpoint());
    ASSERT_TRUE(c.ok()) << c.status();
    clients.push_back(std::move(*c));
  }
  raw->SetAcceptEnabled(true);
  ASSERT_TRUE(RunUntil([&] { return !accepted.empty(); }));
  Settle();
  EXPECT_EQ(accepted.size(), 1u);
  raw->SetAcceptEnabled(true);
  ASSERT_TRUE(RunUntil([&] { return accepted.size() == 2; }));
  Settle();
  EXPECT_EQ(accepted.size(), 2u);
}

TEST_F(SocketNetworkTest, ListenOnABusyPortIsAlreadyExists) {
  std::vector<std::unique_ptr<Conn>> accepted;
  std::unique_ptr<Listener> first = CollectingListener(Ep("127.0.0.1:0"), &accepted);
  ASSERT_NE(first, nullptr);
  const Endpoint taken = first->LocalEndpoint();
  absl::StatusOr<std::unique_ptr<Listener>> second =
      net_->Listen(taken, [](std::unique_ptr<Conn>) {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("listen tcp ", taken.ToString(), ": Address already in use (EADDRINUSE)"));
}

// Lowers RLIMIT_NOFILE so the next new descriptor fails with EMFILE;
// restores it when destroyed.
class FdLimit {
 public:
  FdLimit() {
    getrlimit(RLIMIT_NOFILE, &saved_);
    const int lowest_free = socket(AF_INET, SOCK_DGRAM, 0);  // Lowest free fd.
    close(lowest_free);
    rlimit lowered = saved_;
    lowered.rlim_cur = static_cast<rlim_t>(lowest_free);
    setrlimit(RLIMIT_NOFILE, &lowered);
  }
  ~FdLimit() { Restore(); }
  void Restore() { setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_;
};

TEST_F(SocketNetworkTest, TemporaryAcceptErrorIsLoggedAndRetriedAfter200ms) {
  std::vector<std::unique_ptr<Conn>> accepted;
  MonoTime accepted_at;
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net_->Listen(Ep("127.0.0.1:0"), [&](std::unique_ptr<Conn> c) {
        accepted.push_back(std::move(c));
        accepted_at = loop_->Now();
      });
  ASSERT_TRUE(listener.ok()) << listener.status();
  (*listener)->SetAcceptEnabled(false);
  absl::StatusOr<std::unique_ptr<Conn>> c = DialAndWait((*listener)->LocalEndpoint());
  ASSERT_TRUE(c.ok()) << c.status();
  {
    FdLimit limit;  // accept4 now fails with EMFILE.
    (*listener)->SetAcceptEnabled(true);
    ASSERT_TRUE(RunUntil([&] { return logger_.Find("Temporary read error") != nullptr; }));
    EXPECT_TRUE(accepted.empty());
  }
  const CapturingLogger::Line* line = logger_.Find("Temporary read error");
  EXPECT_EQ(line->level, LogLevel::kDebug);
  EXPECT_TRUE(absl::StrContains(line->msg, "Too many open files (EMFILE)")) << line->msg;
  ASSERT_TRUE(RunUntil([&] { return !accepted.empty(); }));
  EXPECT_GE(accepted_at - line->at, kTemporaryAcceptErrorDelay);
  EXPECT_EQ(accepted[0]->RemoteEndpoint(), (*c)->LocalEndpoint());
}

TEST_F(SocketNetworkTest, DestroyingTheListenerFromItsCallbackIsSafe) {
  std::unique_ptr<Listener> listener;
  std::vector<std::unique_ptr<Conn>> accepted;
  absl::StatusOr<std::unique_ptr<Listener>> l =
      net_->Listen(Ep("127.0.0.1:0"), [&](std::unique_ptr<Conn> c) {
        accepted.push_back(std::move(c));
        listener.reset();
      });
  ASSERT_TRUE(l.ok()) << l.status();
  listener = std::move(*l);
  listener->SetAcceptEnabled(false);
  const Endpoint addr = listener->LocalEndpoint();
  absl::StatusOr<std::unique_ptr<Conn>> c1 = DialAndWait(addr);
  absl::StatusOr<std::unique_ptr<Conn>> c2 = DialAndWait(addr);
  listener->SetAcceptEnabled(true);
  ASSERT_TRUE(RunUntil([&] { return listener == nullptr; }));
  Settle();
  EXPECT_EQ(accepted.size(), 1u);
}

// --- UDP ---

struct Received {
  Endpoint from;
  std::string data;
};

TEST_F(SocketNetworkTest, UdpDatagramsFlowBothWays) {
  std::vector<Received> at_a, at_b;
  PacketSocket* b_raw = nullptr;
  absl::StatusOr<std::unique_ptr<PacketSocket>> a =
      net_->OpenPacketSocket(Ep("127.0.0.1:0"), [&](const Endpoint& from, absl::Span<const uint8_t> d) {
        at_a.push_back({from, std::string(d.begin(), d.end())});
      });
  absl::StatusOr<std::unique_ptr<PacketSocket>> b =
      net_->OpenPacketSocket(Ep("127.0.0.1:0"), [&](const Endpoint& from, absl::Span<const uint8_t> d) {
        at_b.push_back({from, std::string(d.begin(), d.end())});
        EXPECT_TRUE(b_raw->SendTo(from, Bytes("pong")).ok());
      });
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  b_raw = b->get();
  EXPECT_NE((*a)->LocalEndpoint().port, 0);
  ASSERT_TRUE((*a)->SendTo((*b)->LocalEndpoint(), Bytes("ping")).ok());
  EXPECT_TRUE(at_b.empty());  // Never inline.
  ASSERT_TRUE(RunUntil([&] { return !at_a.empty(); }));
  ASSERT_EQ(at_b.size(), 1u);
  EXPECT_EQ(at_b[0].data, "ping");
  EXPECT_EQ(at_b[0].from, (*a)->LocalEndpoint());
  ASSERT_EQ(at_a.size(), 1u);
  EXPECT_EQ(at_a[0].data, "pong");
  EXPECT_EQ(at_a[0].from, (*b)->LocalEndpoint());
}

TEST_F(SocketNetworkTest, UdpOverIpv6Loopback) {
  if (!HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  std::vector<Received> got;
  absl::StatusOr<std::unique_ptr<PacketSocket>> a =
      net_->OpenPacketSocket(Ep("[::1]:0"), [](const Endpoint&, absl::Span<const uint8_t>) {});
  absl::StatusOr<std::unique_ptr<PacketSocket>> b =
      net_->OpenPacketSocket(Ep("[::1]:0"), [&](const Endpoint& from, absl::Span<const uint8_t> d) {
        got.push_back({from, std::string(d.begin(), d.end())});
      });
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE((*a)->SendTo((*b)->LocalEndpoint(), Bytes("six")).ok());
  ASSERT_TRUE(RunUntil([&] { return !got.empty(); }));
  EXPECT_EQ(got[0].data, "six");
  EXPECT_EQ(got[0].from, (*a)->LocalEndpoint());
}

TEST_F(SocketNetworkTest, UdpDatagramSizeLimit) {
  std::vector<size_t> sizes;
  absl::StatusOr<std::unique_ptr<PacketSocket>> a =
      net_->OpenPacketSocket(Ep("127.0.0.1:0"), [](const Endpoint&, absl::Span<const uint8_t>) {});
  absl::StatusOr<std::unique_ptr<PacketSocket>> b = net_->OpenPacketSocket(
      Ep("127.0.0.1:0"),
      [&](const Endpoint&, absl::Span<const uint8_t> d) { sizes.push_back(d.size()); });
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  const Endpoint to = (*b)->LocalEndpoint();
  const std::string too_big(kMaxDatagramBytes + 1, 'x');
  absl::Status s = (*a)->SendTo(to, Bytes(too_big));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), absl::StrCat("write udp ", to.ToString(),
                                      ": datagram of 65508 bytes exceeds the 65507-byte limit"));
  const std::string largest(kMaxDatagramBytes, 'y');
  ASSERT_TRUE((*a)->SendTo(to, Bytes(largest)).ok());
  ASSERT_TRUE((*a)->SendTo(to, Bytes("")).ok());  // Empty datagrams exist too.
  ASSERT_TRUE(RunUntil([&] { return sizes.size() == 2; }));
  EXPECT_EQ(sizes[0], kMaxDatagramBytes);
  EXPECT_EQ(sizes[1], 0u);
}

TEST_F(SocketNetworkTest, UdpAddressChecks) {
  absl::StatusOr<std::unique_ptr<PacketSocket>> a =
      net_->OpenPacketSocket(Ep("127.0.0.1:0"), [](const Endpoint&, absl::Span<const uint8_t>) {});
  ASSERT_TRUE(a.ok()) << a.status();
  absl::Status s = (*a)->SendTo(Ep("[::1]:9"), Bytes("x"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "cannot use IPv6 address [::1]:9 on an IPv4 socket");
  s = (*a)->SendTo(Ep("127.0.0.1:0"), Bytes("x"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SocketNetworkTest, DualStackUdpSocketReachesIpv4) {
  if (!HasIpv6Loopback()) GTEST_SKIP() << "no IPv6 loopback on this machine";
  std::vector<Received> got;
  absl::StatusOr<std::unique_ptr<PacketSocket>> six =
      net_->OpenPacketSocket(Ep("[::]:0"), [&](const Endpoint& from, absl::Span<const uint8_t> d) {
        got.push_back({from, std::string(d.begin(), d.end())});
      });
  absl::StatusOr<std::unique_ptr<PacketSocket>> four =
      net_->OpenPacketSocket(Ep("127.0.0.1:0"), [&](const Endpoint& from, absl::Span<const uint8_t> d) {
        got.push_back({from, std::string(d.begin(), d.end())});
      });
  ASSERT_TRUE(six.ok()) << six.status();
  ASSERT_TRUE(four.ok()) << four.status();
  ASSERT_TRUE(
      (*four)->SendTo(WithPort(Ep("127.0.0.1:0"), (*six)->LocalEndpoint().port), Bytes("to6")).ok());
  ASSERT_TRUE(RunUntil([&] { return got.size() == 1; }));
  EXPECT_EQ(got[0].from, (*four)->LocalEndpoint());  // Reported as plain IPv4.
  ASSERT_TRUE((*six)->SendTo(got[0].from, Bytes("to4")).ok());
  ASSERT_TRUE(RunUntil([&] { return got.size() == 2; }));
  EXPECT_EQ(got[1].data, "to4");
}

}  // namespace
}  // namespace p2p::transport
