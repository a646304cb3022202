// Full RLPx connection setup over real loopback TCP, both ends in one
// process: TCP connect, auth/ack, Hello both ways, Disconnect, close. One
// thread runs both ends on one epoll loop, so items/s = handshakes/s on one
// core; BM_FullHandshakeLoopbackParallel runs one such pair per thread on
// two threads (both cores). Compare with BM_HandshakeCryptoFloor (the
// elliptic-curve work alone, both sides) from the same binary.
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "bench/handshake_floor.h"
#include "benchmark/benchmark.h"
#include "core/crypto/secp256k1.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/rlpx_conn.h"
#include "core/rng.h"
#include "transport/epoll_loop.h"
#include "transport/openssl_entropy.h"
#include "transport/tcp_network.h"

namespace p2p {
namespace {

using rlpx::CloseInfo;
using rlpx::Hello;
using rlpx::RlpxConn;

// Accepts both checkpoints at once and counts the stages.
class CountingHandler : public RlpxConn::Handler {
 public:
  void OnEncryptionHandshake(RlpxConn* c, const PublicKey&) override { c->ContinueHandshake(); }
  void OnHello(RlpxConn* c, const Hello&) override {
    hello = true;
    c->ContinueHandshake();
    if (disconnect_after_hello) c->Disconnect(rlpx::DisconnectReason::kRequested);
  }
  void OnMessage(RlpxConn*, uint64_t, absl::Span<const uint8_t>) override {}
  void OnClosed(RlpxConn*, const CloseInfo& info) override {
    closed = true;
    reason = info.reason;
  }
  bool disconnect_after_hello = false;
  bool hello = false;
  bool closed = false;
  rlpx::DisconnectReason reason = rlpx::DisconnectReason::kInvalid;
};

Hello MakeHello(const PrivateKey& key, const char* name) {
  Hello h;
  h.version = rlpx::kBaseProtocolVersion;
  h.name = name;
  h.caps = {rlpx::Cap{"tst", 1}};
  h.listen_port = 0;
  h.id = DerivePublicKey(key).bytes();
  return h;
}

// Runs one full connection setup and teardown; false on failure.
// Keys, public keys and Hellos are made once, outside the timed loop.
struct Identities {
  PrivateKey dial_key;
  PrivateKey listen_key;
  PublicKey listen_pub;
  Hello dial_hello;
  Hello listen_hello;
};

bool OneHandshake(transport::EpollLoop& loop, transport::SocketNetwork& net, Listener& listener,
                  std::unique_ptr<Conn>& accepted, const Identities& ids, Entropy& entropy) {
  CountingHandler dialer_side, listener_side;
  dialer_side.disconnect_after_hello = true;
  std::unique_ptr<RlpxConn> out, in;
  bool dial_failed = false;
  net.Dial(listener.LocalEndpoint(), absl::Seconds(5),
           [&](absl::StatusOr<std::unique_ptr<Conn>> c) {
             if (!c.ok()) {
               dial_failed = true;
               return;
             }
             out = RlpxConn::Dial(&loop, std::move(*c), &ids.dial_key, ids.listen_pub,
                                  ids.dial_hello, &entropy, &dialer_side);
           });
  bool ok = loop.RunUntil(
      [&] {
        if (accepted != nullptr && in == nullptr) {
          in = RlpxConn::Accept(&loop, std::move(accepted), &ids.listen_key, ids.listen_hello,
                                &entropy, &listener_side);
        }
        return dial_failed || (dialer_side.closed && listener_side.closed);
      },
      absl::Seconds(10));
  return ok && !dial_failed && dialer_side.hello && listener_side.hello &&
         listener_side.reason == rlpx::DisconnectReason::kRequested;
}

void RunLoopbackHandshakes(benchmark::State& state) {
  auto loop = transport::EpollLoop::Create();
  ABSL_RAW_CHECK(loop.ok(), "epoll loop");
  transport::SocketNetwork net(loop->get());
  transport::OpenSslEntropy entropy;
  PrivateKey dial_key = PrivateKey::Generate(entropy);
  PrivateKey listen_key = PrivateKey::Generate(entropy);
  Identities ids{dial_key, listen_key, DerivePublicKey(listen_key), MakeHello(dial_key, "dialer"),
                 MakeHello(listen_key, "listener")};
  std::unique_ptr<Conn> accepted;
  auto listener = net.Listen(*Endpoint::Parse("127.0.0.1:0"),
                             [&](std::unique_ptr<Conn> c) { accepted = std::move(c); });
  ABSL_RAW_CHECK(listener.ok(), "listen on 127.0.0.1");
  int64_t done = 0;
  for (auto _ : state) {
    if (!OneHandshake(**loop, net, **listener, accepted, ids, entropy)) {
      state.SkipWithError("handshake failed");
      break;
    }
    ++done;
  }
  state.SetItemsProcessed(done);
}

// The transport's share: the same TCP traffic as one full handshake (auth
// 1 write, ack 1 write, a Hello each way, a Disconnect, graceful close of both
// ends) with no cryptography at all, message sizes as in the real exchange.
// BM_HandshakeCryptoFloor / (1/rate of this + 1/rate of the floor) is the
// best BM_FullHandshakeLoopback can reach on this machine.
// One TCP exchange with the traffic shape of a handshake; false on failure.
bool OneTcpExchange(transport::EpollLoop& loop, transport::SocketNetwork& net, Listener& listener,
                    std::unique_ptr<Conn>& accepted) {
  static const std::vector<uint8_t> auth(400, 1), ack(330, 2), hello(130, 3), disc(32, 4);
  std::unique_ptr<Conn> out, in;
  size_t out_read = 0, in_read = 0;
  bool out_closed = false, in_closed = false, failed = false;
  net.Dial(listener.LocalEndpoint(), absl::Seconds(5),
           [&](absl::StatusOr<std::unique_ptr<Conn>> c) {
             if (!c.ok()) {
               failed = true;
               return;
             }
             out = std::move(*c);
             out->Start(
                 [&](absl::Span<const uint8_t> d) {
                   out_read += d.size();
                   // After the ack: our Hello. After their Hello: Disconnect.
                   if (out_read == ack.size()) out->Write(hello);
                   if (out_read == ack.size() + hello.size()) {
                     out->Write(disc);
                     out->Close(absl::OkStatus(), true);
                   }
                 },
                 [&](const absl::Status&) { out_closed = true; });
             out->Write(auth);
           });
  const bool ok = loop.RunUntil(
      [&] {
        if (accepted != nullptr && in == nullptr) {
          in = std::move(accepted);
          in->Start(
              [&](absl::Span<const uint8_t> d) {
                in_read += d.size();
                if (in_read == auth.size()) {
                  in->Write(ack);
                  in->Write(hello);
                }
                if (in_read == auth.size() + hello.size() + disc.size()) {
                  in->Close(absl::OkStatus(), true);
                }
              },
              [&](const absl::Status&) { in_closed = true; });
        }
        return failed || (out_closed && in_closed);
      },
      absl::Seconds(10));
  return ok && !failed;
}

void BM_TcpExchangeLoopback(benchmark::State& state) {
  auto loop = transport::EpollLoop::Create();
  ABSL_RAW_CHECK(loop.ok(), "epoll loop");
  transport::SocketNetwork net(loop->get());
  std::unique_ptr<Conn> accepted;
  auto listener = net.Listen(*Endpoint::Parse("127.0.0.1:0"),
                             [&](std::unique_ptr<Conn> c) { accepted = std::move(c); });
  ABSL_RAW_CHECK(listener.ok(), "listen on 127.0.0.1");
  int64_t done = 0;
  for (auto _ : state) {
    if (!OneTcpExchange(**loop, net, **listener, accepted)) {
      state.SkipWithError("exchange failed");
      break;
    }
    ++done;
  }
  state.SetItemsProcessed(done);
}
BENCHMARK(BM_TcpExchangeLoopback)->UseRealTime();

void BM_FullHandshakeLoopback(benchmark::State& state) { RunLoopbackHandshakes(state); }
BENCHMARK(BM_FullHandshakeLoopback)->UseRealTime();

void BM_FullHandshakeLoopbackParallel(benchmark::State& state) { RunLoopbackHandshakes(state); }
BENCHMARK(BM_FullHandshakeLoopbackParallel)->Threads(2)->UseRealTime();

// The target, measured robustly: each iteration runs the crypto
// floor once and one full loopback handshake, timing each, so both see the
// same machine state (this VM's speed drifts by 20-30% between runs, which
// makes ratios of separately run benchmarks meaningless). Each iteration
// also runs one bare TCP exchange of the same shape. Counters: floor/s,
// tcp_exchange/s, loopback/s, loopback_pct_of_floor = 100 * floor time /
// loopback time, loopback_pct_of_floor_plus_tcp = 100 * (floor + tcp) /
// loopback.
void BM_LoopbackVsFloor(benchmark::State& state) {
  auto loop = transport::EpollLoop::Create();
  ABSL_RAW_CHECK(loop.ok(), "epoll loop");
  transport::SocketNetwork net(loop->get());
  transport::OpenSslEntropy entropy;
  PrivateKey dial_key = PrivateKey::Generate(entropy);
  PrivateKey listen_key = PrivateKey::Generate(entropy);
  Identities ids{dial_key, listen_key, DerivePublicKey(listen_key), MakeHello(dial_key, "dialer"),
                 MakeHello(listen_key, "listener")};
  std::unique_ptr<Conn> accepted;
  auto listener = net.Listen(*Endpoint::Parse("127.0.0.1:0"),
                             [&](std::unique_ptr<Conn> c) { accepted = std::move(c); });
  ABSL_RAW_CHECK(listener.ok(), "listen on 127.0.0.1");
  RngEntropy floor_entropy(Rng(5));
  const bench::FloorKeys floor_keys(floor_entropy);
  double floor_s = 0, tcp_s = 0, loop_s = 0;
  for (auto _ : state) {
    const auto t0 = std::chrono::steady_clock::now();
    bench::HandshakeCryptoFloorOnce(floor_keys, floor_entropy);
    const auto t1 = std::chrono::steady_clock::now();
    if (!OneTcpExchange(**loop, net, **listener, accepted)) {
      state.SkipWithError("exchange failed");
      break;
    }
    const auto t2 = std::chrono::steady_clock::now();
    if (!OneHandshake(**loop, net, **listener, accepted, ids, entropy)) {
      state.SkipWithError("handshake failed");
      break;
    }
    const auto t3 = std::chrono::steady_clock::now();
    floor_s += std::chrono::duration<double>(t1 - t0).count();
    tcp_s += std::chrono::duration<double>(t2 - t1).count();
    loop_s += std::chrono::duration<double>(t3 - t2).count();
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["floor_per_s"] = floor_s > 0 ? n / floor_s : 0;
  state.counters["tcp_exchange_per_s"] = tcp_s > 0 ? n / tcp_s : 0;
  state.counters["loopback_per_s"] = loop_s > 0 ? n / loop_s : 0;
  state.counters["loopback_pct_of_floor"] = loop_s > 0 ? 100 * floor_s / loop_s : 0;
  // Against the floor plus the bare TCP work: what the rest of our code
  // (symmetric crypto, RLP, frames, timers) costs on top of both.
  state.counters["loopback_pct_of_floor_plus_tcp"] =
      loop_s > 0 ? 100 * (floor_s + tcp_s) / loop_s : 0;
}
BENCHMARK(BM_LoopbackVsFloor)->UseRealTime();

}  // namespace
}  // namespace p2p
