// soak_client: a load generator for a running p2pnode, built from the
// project's own transport and RLPx code. It keeps --concurrency clients
// running against --target for --seconds; every client picks one behaviour
// (seeded, uniform over --behaviours):
//   a connect_close      connect, then close at once;
//   b garbage            connect, send 1..2048 random bytes, close;
//   c partial_auth       connect, send a prefix of a real auth packet, vanish
//                        (the socket is destroyed, no goodbye);
//   d handshake_hold     full encryption + protocol handshake, stay 0..3 s,
//                        send Disconnect(requested);
//   e handshake_garbage  full handshake, then either raw random bytes on the
//                        stream (a frame whose MAC cannot check) or a message
//                        with an unknown code; wait for the server to drop us;
//   f silent             connect and say nothing until the server closes.
// After --seconds no new client starts; clients still running get --grace
// seconds to end on their own, then are cut (destroyed). The last stdout line
// is a one-line JSON summary (see PrintSummary). A refusal, reset or timeout
// by the server is an outcome to count, never an error: the exit code is 0
// unless the flags are bad (2) or the event loop cannot be created (1).
//
// Not deterministic as a whole (real sockets and time), but behaviour
// choices and sizes come from per-client streams forked from --seed, so a
// seed names the mix of clients.
#include <signal.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/json_writer.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "core/node.h"
#include "core/rlpx/handshake.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/rlpx_conn.h"
#include "core/rng.h"
#include "core/weak_flag.h"
#include "transport/epoll_loop.h"
#include "transport/openssl_entropy.h"
#include "transport/tcp_network.h"

namespace p2p::soak {
namespace {

using rlpx::CloseInfo;
using rlpx::DisconnectReason;
using rlpx::DisconnectReasonString;
using rlpx::Hello;
using rlpx::RlpxConn;

enum class Behaviour {
  kConnectClose,
  kGarbage,
  kPartialAuth,
  kHandshakeHold,
  kHandshakeGarbage,
  kSilent
};
constexpr int kBehaviours = 6;
constexpr std::array<const char*, kBehaviours> kBehaviourNames = {
    "connect_close", "garbage", "partial_auth", "handshake_hold", "handshake_garbage", "silent"};

constexpr absl::Duration kDialTimeout = absl::Seconds(5);
constexpr int64_t kMaxGarbageBytes = 2048;
constexpr int64_t kMaxHoldMs = 3000;
constexpr int64_t kMaxGarbageFrameBytes = 256;
// A frame header plus its MAC: raw garbage shorter than this would leave the
// server waiting for the rest of a header (up to its 30 s read timeout)
// instead of failing the MAC check at once.
constexpr int64_t kFrameHeaderWithMacBytes = 32;
// A client that the server should have dropped by now is given up on (and
// counted as "not dropped"): the server's handshake timeout is 5 s, plus
// slack for a loaded machine and time spent in the listen backlog.
constexpr absl::Duration kExpectDropWithin = absl::Seconds(15);
// Completed handshakes in this window before the load ends are reported
// separately: evidence that the server still accepted peers late in the run.
constexpr absl::Duration kLateWindow = absl::Seconds(5);

struct Options {
  Node target;
  int64_t seconds = 30;
  int64_t concurrency = 40;
  uint64_t seed = 1;
  int64_t max_clients = 0;  // 0: no limit.
  absl::Duration grace = absl::Seconds(8);
  std::vector<Behaviour> behaviours;
};

constexpr absl::string_view kUsage =
    "usage: soak_client --target ENODE [--seconds N] [--concurrency C] [--seed S]\n"
    "                   [--behaviours abcdef] [--clients N] [--grace SECONDS]\n";

absl::StatusOr<int64_t> ParseCount(absl::string_view flag, absl::string_view v, int64_t lo,
                                   int64_t hi) {
  int64_t n = 0;
  if (!absl::SimpleAtoi(v, &n) || n < lo || n > hi) {
    return absl::InvalidArgumentError(absl::StrCat("invalid value \"", v, "\" for ", flag,
                                                   ": want an integer in [", lo, ", ", hi, "]"));
  }
  return n;
}

absl::StatusOr<Options> ParseOptions(const std::vector<std::string>& args) {
  Options o;
  std::string behaviours = "abcdef";
  bool have_target = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (i + 1 >= args.size()) {
      return absl::InvalidArgumentError(absl::StrCat("missing value for ", flag));
    }
    const std::string& v = args[++i];
    if (flag == "--target") {
      absl::StatusOr<Node> n = ParseEnode(v);
      if (!n.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid enode URL in --target \"", v, "\": ", n.status().message()));
      }
      if (!n->has_ip() || n->tcp == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("--target \"", v, "\" needs an IP address and a TCP port"));
      }
      o.target = *n;
      have_target = true;
    } else if (flag == "--seconds") {
      absl::StatusOr<int64_t> n = ParseCount(flag, v, 0, 3600);
      if (!n.ok()) return n.status();
      o.seconds = *n;
    } else if (flag == "--concurrency") {
      absl::StatusOr<int64_t> n = ParseCount(flag, v, 1, 1000);
      if (!n.ok()) return n.status();
      o.concurrency = *n;
    } else if (flag == "--seed") {
      if (!absl::SimpleAtoi(v, &o.seed)) {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid value \"", v, "\" for --seed: want an unsigned integer"));
      }
    } else if (flag == "--clients") {
      absl::StatusOr<int64_t> n = ParseCount(flag, v, 0, int64_t{1} << 40);
      if (!n.ok()) return n.status();
      o.max_clients = *n;
    } else if (flag == "--grace") {
      absl::StatusOr<int64_t> n = ParseCount(flag, v, 0, 600);
      if (!n.ok()) return n.status();
      o.grace = absl::Seconds(*n);
    } else if (flag == "--behaviours") {
      behaviours = v;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag \"", flag, "\""));
    }
  }
  if (!have_target) return absl::InvalidArgumentError("--target is required");
  bool seen[kBehaviours] = {};
  for (char c : behaviours) {
    const int b = c - 'a';
    if (b < 0 || b >= kBehaviours || seen[b]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid value \"", behaviours, "\" for --behaviours: want distinct letters a-f"));
    }
    seen[b] = true;
    o.behaviours.push_back(static_cast<Behaviour>(b));
  }
  if (o.behaviours.empty()) {
    return absl::InvalidArgumentError("invalid value \"\" for --behaviours: want letters a-f");
  }
  return o;
}

// Everything the clients count; printed as JSON at the end.
struct Summary {
  std::array<int64_t, kBehaviours> started{};
  std::array<int64_t, kBehaviours> ended{};      // On their own (not cut).
  std::array<int64_t, kBehaviours> cut{};        // Still running when time was up.
  std::map<std::string, int64_t> dial_failures;  // By status code.
  // Server's Hello received (d and e) and the peer not refused right after.
  int64_t handshakes_completed = 0;
  int64_t handshakes_completed_late = 0;
  // Setups the server ended with a Disconnect before its Hello, or with a
  // refusal reason (IsRefusal) right after it, by reason.
  std::map<std::string, int64_t> handshakes_refused;
  // Setups that ended otherwise before the Hello (reset, EOF, timeout).
  std::map<std::string, int64_t> handshake_errors;
  // How (d) and (e) sessions ended after the Hello, keyed "<behaviour>
  // local: <reason>" when we disconnected, "... remote: <reason>" when the
  // server sent Disconnect, "... closed: <reason>" when the connection just
  // ended.
  std::map<std::string, int64_t> session_ends;
  int64_t garbage_dropped_by_server = 0;  // (e) sessions the server ended.
  int64_t garbage_not_dropped = 0;        // (e) sessions still up after kExpectDropWithin.
  int64_t silent_closed_by_server = 0;
  int64_t silent_not_closed = 0;  // Still open after kExpectDropWithin.
  int64_t silent_bytes_received = 0;
  std::optional<absl::Duration> silent_min, silent_max;
};

// Reasons the server's checkpoints give when it will not take a peer.
bool IsRefusal(DisconnectReason r) {
  return r == DisconnectReason::kTooManyPeers || r == DisconnectReason::kAlreadyConnected ||
         r == DisconnectReason::kUselessPeer || r == DisconnectReason::kSelf;
}

class Driver;

// One client connection living one behaviour. Owned by the Driver, which
// destroys it from a posted task after Finish(); no callback of a destroyed
// Client runs (the Conn and RlpxConn cancel theirs, timers and the dial
// check `alive_`).
class Client : public RlpxConn::Handler {
 public:
  Client(Driver* driver, uint64_t id, Behaviour behaviour, Rng rng);
  ~Client() override;
  void Start();
  Behaviour behaviour() const { return behaviour_; }

  // RlpxConn::Handler.
  void OnEncryptionHandshake(RlpxConn* conn, const PublicKey& remote) override;
  void OnHello(RlpxConn* conn, const Hello& hello) override;
  void OnMessage(RlpxConn* conn, uint64_t code, absl::Span<const uint8_t> payload) override;
  void OnClosed(RlpxConn* conn, const CloseInfo& info) override;

 private:
  void OnDialed(absl::StatusOr<std::unique_ptr<Conn>> conn);
  void StartHandshake(std::unique_ptr<Conn> conn);
  void SendGarbageFrame();
  void After(absl::Duration d, absl::AnyInvocable<void()> fn);
  void Finish();

  Driver* driver_;
  uint64_t id_;
  Behaviour behaviour_;
  Rng rng_;
  PrivateKey key_;
  std::unique_ptr<Conn> conn_;      // Behaviours a, b, c, f.
  std::unique_ptr<RlpxConn> rlpx_;  // Behaviours d, e.
  Conn* raw_conn_ = nullptr;        // The Conn inside rlpx_, for raw garbage (e).
  absl::Time connected_at_;
  bool hello_seen_ = false;
  bool late_ = false;             // The Hello came within kLateWindow of the load's end.
  bool we_disconnected_ = false;  // We sent Disconnect (d's hold ended, e's wait ran out).
  bool finished_ = false;
  std::vector<TimerId> timers_;
  WeakFlag alive_;  // Last: dies first.
};

class Driver {
 public:
  Driver(transport::EpollLoop* loop, Network* net, Entropy* entropy, Options options)
      : loop_(loop),
        net_(net),
        entropy_(entropy),
        options_(std::move(options)),
        rng_(options_.seed) {}

  void Run() {
    start_ = loop_->Now();
    load_end_ = start_ + absl::Seconds(options_.seconds);
    for (int64_t i = 0; i < options_.concurrency; ++i) StartClient();
    loop_->RunAt(load_end_, [this] { stopping_ = true; });
    loop_->RunAt(load_end_ + options_.grace, [this] { CutAll(); });
    loop_->RunUntil([this] { return (stopping_ || LimitReached()) && clients_.empty(); },
                    absl::Seconds(options_.seconds) + options_.grace + absl::Seconds(5));
    CutAll();
    end_ = loop_->Now();
  }

  void PrintSummary() const;

  // For clients.
  EventLoop* loop() { return loop_; }
  Network* net() { return net_; }
  Entropy* entropy() { return entropy_; }
  const Node& target() const { return options_.target; }
  Summary& summary() { return summary_; }
  bool late() const { return loop_->Now() >= load_end_ - kLateWindow; }

  // A client is done: destroy it outside its own callback, start the next.
  void Finished(uint64_t id) {
    loop_->Post([this, id] {
      auto it = clients_.find(id);
      if (it == clients_.end()) return;
      ++summary_.ended[static_cast<int>(it->second->behaviour())];
      clients_.erase(it);
      if (!stopping_) StartClient();
    });
  }

 private:
  bool LimitReached() const {
    return options_.max_clients > 0 && next_id_ >= static_cast<uint64_t>(options_.max_clients);
  }

  void StartClient() {
    if (LimitReached()) return;
    Rng rng = rng_.Fork();
    const Behaviour b = options_.behaviours[rng.Uniform(options_.behaviours.size())];
    const uint64_t id = next_id_++;
    ++summary_.started[static_cast<int>(b)];
    auto c = std::make_unique<Client>(this, id, b, rng);
    Client* raw = c.get();
    clients_.emplace(id, std::move(c));
    raw->Start();
  }

  void CutAll() {
    stopping_ = true;
    for (const auto& [id, c] : clients_) ++summary_.cut[static_cast<int>(c->behaviour())];
    clients_.clear();
  }

  transport::EpollLoop* loop_;
  Network* net_;
  Entropy* entropy_;
  Options options_;
  Rng rng_;
  absl::Time start_, load_end_, end_;
  bool stopping_ = false;
  uint64_t next_id_ = 0;
  std::map<uint64_t, std::unique_ptr<Client>> clients_;
  Summary summary_;
};

Client::Client(Driver* driver, uint64_t id, Behaviour behaviour, Rng rng)
    : driver_(driver),
      id_(id),
      behaviour_(behaviour),
      rng_(rng),
      key_(PrivateKey::Generate(*driver->entropy())) {}

Client::~Client() {
  for (TimerId t : timers_) driver_->loop()->Cancel(t);
}

void Client::Start() {
  driver_->net()->Dial(driver_->target().TcpEndpoint(), kDialTimeout,
                       [this, alive = alive_.Weak()](absl::StatusOr<std::unique_ptr<Conn>> c) {
                         if (alive) OnDialed(std::move(c));
                       });
}

void Client::After(absl::Duration d, absl::AnyInvocable<void()> fn) {
  timers_.push_back(
      driver_->loop()->RunAfter(d, [alive = alive_.Weak(), fn = std::move(fn)]() mutable {
        if (alive) fn();
      }));
}

void Client::Finish() {
  if (finished_) return;
  finished_ = true;
  driver_->Finished(id_);
}

void Client::OnDialed(absl::StatusOr<std::unique_ptr<Conn>> c) {
  if (!c.ok()) {
    ++driver_->summary().dial_failures[absl::StatusCodeToString(c.status().code())];
    Finish();
    return;
  }
  connected_at_ = driver_->loop()->Now();
  switch (behaviour_) {
    case Behaviour::kConnectClose:
      c->reset();  // Nothing read, nothing sent: an orderly FIN.
      Finish();
      return;
    case Behaviour::kGarbage: {
      conn_ = *std::move(c);
      conn_->Start([](absl::Span<const uint8_t>) {}, [this](const absl::Status&) { Finish(); });
      std::vector<uint8_t> junk(rng_.Range(1, kMaxGarbageBytes));
      rng_.Fill(absl::MakeSpan(junk));
      conn_->Write(junk);
      conn_->Close(absl::OkStatus(), /*flush=*/true);
      return;
    }
    case Behaviour::kPartialAuth: {
      rlpx::Handshake hs =
          rlpx::Handshake::Initiator(key_, driver_->target().pubkey, *driver_->entropy());
      absl::StatusOr<std::vector<uint8_t>> auth = hs.MakeAuth();
      if (auth.ok() && auth->size() > 1) {
        const size_t n = rng_.Range(1, static_cast<int64_t>(auth->size()) - 1);
        (*c)->Write(absl::MakeConstSpan(*auth).first(n));
      }
      c->reset();  // Vanish mid-packet.
      Finish();
      return;
    }
    case Behaviour::kSilent:
      conn_ = *std::move(c);
      conn_->Start(
          [this](absl::Span<const uint8_t> d) {
            driver_->summary().silent_bytes_received += d.size();
          },
          [this](const absl::Status&) {
            Summary& s = driver_->summary();
            const absl::Duration open = driver_->loop()->Now() - connected_at_;
            ++s.silent_closed_by_server;
            if (!s.silent_min || open < *s.silent_min) s.silent_min = open;
            if (!s.silent_max || open > *s.silent_max) s.silent_max = open;
            Finish();
          });
      After(kExpectDropWithin, [this] {
        ++driver_->summary().silent_not_closed;
        Finish();
      });
      return;
    case Behaviour::kHandshakeHold:
    case Behaviour::kHandshakeGarbage:
      StartHandshake(*std::move(c));
      return;
  }
}

void Client::StartHandshake(std::unique_ptr<Conn> conn) {
  raw_conn_ = conn.get();
  Hello hello;
  hello.name = absl::StrCat("soak_client/", kBehaviourNames[static_cast<int>(behaviour_)]);
  hello.id = DerivePublicKey(key_).bytes();
  rlpx_ = RlpxConn::Dial(driver_->loop(), std::move(conn), &key_, driver_->target().pubkey,
                         std::move(hello), driver_->entropy(), this);
}

void Client::OnEncryptionHandshake(RlpxConn* conn, const PublicKey&) { conn->ContinueHandshake(); }

void Client::OnHello(RlpxConn* conn, const Hello&) {
  conn->ContinueHandshake();
  hello_seen_ = true;
  late_ = driver_->late();
  Summary& s = driver_->summary();
  ++s.handshakes_completed;
  if (late_) ++s.handshakes_completed_late;
  if (behaviour_ == Behaviour::kHandshakeHold) {
    After(absl::Milliseconds(rng_.Range(0, kMaxHoldMs)), [this] {
      we_disconnected_ = true;
      rlpx_->Disconnect(DisconnectReason::kRequested);
    });
  } else {
    // Posted: the connection reaches its running stage after this call.
    After(absl::ZeroDuration(), [this] { SendGarbageFrame(); });
    After(kExpectDropWithin, [this] {
      ++driver_->summary().garbage_not_dropped;
      we_disconnected_ = true;
      rlpx_->Disconnect(DisconnectReason::kRequested);
    });
  }
}

void Client::SendGarbageFrame() {
  if (rng_.Chance(1, 2)) {
    // Bytes that are not a frame: the header MAC check fails.
    std::vector<uint8_t> junk(rng_.Range(kFrameHeaderWithMacBytes, kMaxGarbageFrameBytes));
    rng_.Fill(absl::MakeSpan(junk));
    raw_conn_->Write(junk);
  } else {
    // A well-formed frame with a message code no protocol owns.
    std::vector<uint8_t> payload(rng_.Range(0, kMaxGarbageFrameBytes));
    rng_.Fill(absl::MakeSpan(payload));
    const uint64_t code = rlpx::kBaseProtocolLength + rng_.Uniform(1000);
    (void)rlpx_->Send(code, payload);  // Fails only if already closed.
  }
}

void Client::OnMessage(RlpxConn*, uint64_t, absl::Span<const uint8_t>) {}

void Client::OnClosed(RlpxConn*, const CloseInfo& info) {
  Summary& s = driver_->summary();
  const std::string reason = DisconnectReasonString(info.reason);
  if (!hello_seen_) {
    if (info.remote_requested) {
      ++s.handshakes_refused[reason];
    } else {
      ++s.handshake_errors[absl::StrCat(reason, " (", absl::StatusCodeToString(info.detail.code()),
                                        ")")];
    }
  } else {
    if (info.remote_requested && IsRefusal(info.reason)) {
      // The "addpeer" checkpoint runs after the Hello exchange, so the
      // server's limits can still refuse us here: not a completed handshake.
      ++s.handshakes_refused[reason];
      --s.handshakes_completed;
      if (late_) --s.handshakes_completed_late;
      Finish();
      return;
    }
    const char* who = info.remote_requested ? "remote: "
                      : we_disconnected_    ? "local: "
                                            : "closed: ";
    ++s.session_ends[absl::StrCat(kBehaviourNames[static_cast<int>(behaviour_)], " ", who, reason)];
    if (behaviour_ == Behaviour::kHandshakeGarbage &&
        (info.remote_requested || !we_disconnected_)) {
      ++s.garbage_dropped_by_server;
    }
  }
  Finish();
}

void WriteCounts(JsonWriter& w, const std::map<std::string, int64_t>& m) {
  w.BeginObject();
  for (const auto& [k, v] : m) w.Key(k).Int(v);
  w.EndObject();
}

void Driver::PrintSummary() const {
  const Summary& s = summary_;
  JsonWriter w;
  w.BeginObject();
  w.Key("target").String(options_.target.ToEnode());
  w.Key("seconds").Int(options_.seconds);
  w.Key("concurrency").Int(options_.concurrency);
  w.Key("seed").Uint(options_.seed);
  w.Key("wall_ms").Int(absl::ToInt64Milliseconds(end_ - start_));
  w.Key("clients").Int(static_cast<int64_t>(next_id_));
  w.Key("behaviours").BeginObject();
  for (int b = 0; b < kBehaviours; ++b) {
    w.Key(kBehaviourNames[b]).BeginObject();
    w.Key("started").Int(s.started[b]).Key("ended").Int(s.ended[b]).Key("cut").Int(s.cut[b]);
    w.EndObject();
  }
  w.EndObject();
  w.Key("dial_failures");
  WriteCounts(w, s.dial_failures);
  w.Key("handshakes_completed").Int(s.handshakes_completed);
  w.Key("handshakes_completed_late").Int(s.handshakes_completed_late);
  w.Key("handshakes_refused");
  WriteCounts(w, s.handshakes_refused);
  w.Key("handshake_errors");
  WriteCounts(w, s.handshake_errors);
  w.Key("session_ends");
  WriteCounts(w, s.session_ends);
  w.Key("garbage_dropped_by_server").Int(s.garbage_dropped_by_server);
  w.Key("garbage_not_dropped").Int(s.garbage_not_dropped);
  w.Key("silent").BeginObject();
  w.Key("closed_by_server").Int(s.silent_closed_by_server);
  w.Key("not_closed").Int(s.silent_not_closed);
  w.Key("bytes_received").Int(s.silent_bytes_received);
  w.Key("min_ms").Int(s.silent_min ? absl::ToInt64Milliseconds(*s.silent_min) : -1);
  w.Key("max_ms").Int(s.silent_max ? absl::ToInt64Milliseconds(*s.silent_max) : -1);
  w.EndObject();
  w.EndObject();
  std::cout << w.Take() << std::endl;
}

int Run(int argc, char** argv) {
  absl::StatusOr<Options> options = ParseOptions(std::vector<std::string>(argv + 1, argv + argc));
  if (!options.ok()) {
    std::cerr << "soak_client: " << options.status().message() << "\n" << kUsage;
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);  // Belt and braces: writes already use MSG_NOSIGNAL.
  absl::StatusOr<std::unique_ptr<transport::EpollLoop>> loop = transport::EpollLoop::Create();
  if (!loop.ok()) {
    std::cerr << "soak_client: " << loop.status().message() << "\n";
    return 1;
  }
  transport::OpenSslEntropy entropy;
  {
    // Destroyed before the loop: the network's sockets are watched by it.
    transport::SocketNetwork net(loop->get());
    Driver driver(loop->get(), &net, &entropy, *std::move(options));
    driver.Run();
    driver.PrintSummary();
  }
  return 0;
}

}  // namespace
}  // namespace p2p::soak

int main(int argc, char** argv) { return p2p::soak::Run(argc, argv); }
