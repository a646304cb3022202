// RlpxConn with RlpxConnOptions::modelled_crypto: the simulator's mode
// without cryptography. Mirrors the main cases of rlpx_conn_test.cc and
// pins the virtual-time cost of the modelled handshake.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/crypto/secp256k1.h"
#include "core/event_loop.h"
#include "core/hex.h"
#include "core/net/ip.h"
#include "core/net/pipe.h"
#include "core/net/transport.h"
#include "core/rlpx/eip8_vectors_testing.h"
#include "core/rlpx/frame.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/plain_codec.h"
#include "core/rlpx/rlpx_conn.h"
#include "core/rlpx/rlpx_conn_testing.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

// Counts libsecp256k1's point multiplications (key derivation, ECDH,
// signing, recovery): this test is linked statically with
// -Wl,--wrap=<function> for each of them (see BUILD.bazel), so every call
// the project's wrapper (core/crypto/secp256k1.cc) makes goes through here.
// Pointer parameters are declared as void*: only the symbols matter to the
// linker, and nothing outside core/crypto includes the library's headers.
namespace {
int g_secp256k1_ops = 0;
}  // namespace

extern "C" {
int __real_secp256k1_ec_pubkey_create(const void* ctx, void* pubkey, const unsigned char* seckey);
int __real_secp256k1_ecdh(const void* ctx, unsigned char* output, const void* pubkey,
                          const unsigned char* seckey, void* hashfp, void* data);
int __real_secp256k1_ecdsa_sign_recoverable(const void* ctx, void* sig,
                                            const unsigned char* msghash32,
                                            const unsigned char* seckey, void* noncefp,
                                            const void* ndata);
int __real_secp256k1_ecdsa_recover(const void* ctx, void* pubkey, const void* sig,
                                   const unsigned char* msghash32);

int __wrap_secp256k1_ec_pubkey_create(const void* ctx, void* pubkey, const unsigned char* seckey) {
  ++g_secp256k1_ops;
  return __real_secp256k1_ec_pubkey_create(ctx, pubkey, seckey);
}
int __wrap_secp256k1_ecdh(const void* ctx, unsigned char* output, const void* pubkey,
                          const unsigned char* seckey, void* hashfp, void* data) {
  ++g_secp256k1_ops;
  return __real_secp256k1_ecdh(ctx, output, pubkey, seckey, hashfp, data);
}
int __wrap_secp256k1_ecdsa_sign_recoverable(const void* ctx, void* sig,
                                            const unsigned char* msghash32,
                                            const unsigned char* seckey, void* noncefp,
                                            const void* ndata) {
  ++g_secp256k1_ops;
  return __real_secp256k1_ecdsa_sign_recoverable(ctx, sig, msghash32, seckey, noncefp, ndata);
}
int __wrap_secp256k1_ecdsa_recover(const void* ctx, void* pubkey, const void* sig,
                                   const unsigned char* msghash32) {
  ++g_secp256k1_ops;
  return __real_secp256k1_ecdsa_recover(ctx, pubkey, sig, msghash32);
}
}  // extern "C"

namespace p2p::rlpx {
namespace {

using Bytes = std::vector<uint8_t>;

// A third key, besides EIP-8's static keys A and B.
const char kKeyC[] = "0000000000000000000000000000000000000000000000000000000000000007";

constexpr int64_t kUs = 1000;
constexpr int64_t kMs = 1000 * kUs;
constexpr int64_t kSec = 1000 * kMs;
constexpr int64_t kCpu = 300 * kUs;  // The default modelled_handshake_cpu.

int64_t Ns(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

Hello MakeHello(const PublicKey& pub, const std::string& name, uint64_t version = 5) {
  Hello h;
  h.version = version;
  h.name = name;
  h.caps = {Cap{"eth", 68}, Cap{"snap", 1}};
  h.listen_port = 30303;
  h.id = pub.bytes();
  return h;
}

// Bytes of one plain frame: size(3) || rlp(code) (one byte for codes below
// 0x80) || payload.
size_t FrameBytes(size_t payload) { return 3 + 1 + payload; }

RlpxConnOptions Modelled(absl::Duration cpu = absl::Microseconds(300)) {
  RlpxConnOptions o;
  o.modelled_crypto = true;
  o.modelled_handshake_cpu = cpu;
  return o;
}

using Answer = RecordingHandler::Answer;

// A hand-driven modelled peer on a raw Conn end: as a dialer it sends the
// modelled auth at once (no CPU time) and reads the ack, then speaks plain
// frames; otherwise it only sends what a test tells it. Records what it
// receives.
class RawPeer {
 public:
  RawPeer(sim::EventQueue* q, std::unique_ptr<Conn> conn) : q_(q), conn_(std::move(conn)) {}

  void Start() {
    conn_->Start([this](absl::Span<const uint8_t> d) { OnRead(d); },
                 [this](const absl::Status& s) {
                   closed = true;
                   why = s;
                   closed_ns = q_->now_ns();
                 });
  }
  void Dial(const ModelledKey& ours, const ModelledKey& theirs) {
    dialing_ = true;
    Start();
    conn_->Write(EncodeModelledAuth(ours, theirs));
  }
  void SendRaw(const Bytes& b) { conn_->Write(b); }
  void SendFrame(uint64_t code, const Bytes& payload) {
    Bytes out;
    ASSERT_TRUE(codec_.WriteMessage(code, payload, out).ok());
    conn_->Write(out);
  }
  void Close(bool flush) { conn_->Close(absl::OkStatus(), flush); }

  std::vector<uint64_t> codes() const {
    std::vector<uint64_t> c;
    for (const auto& m : received) c.push_back(m.msg.code);
    return c;
  }

  struct Received {
    Message msg;
    int64_t ns;
  };
  std::optional<Hello> hello_on_connect;  // Sent once the ack is read.
  std::vector<Received> received;
  absl::Status read_error;
  bool closed = false;
  absl::Status why;
  int64_t closed_ns = -1;

 private:
  void OnRead(absl::Span<const uint8_t> d) {
    if (!dialing_) return;  // Silent.
    if (!acked_) {
      buf_.insert(buf_.end(), d.begin(), d.end());
      if (buf_.size() < kModelledAckPacketBytes) return;
      ASSERT_TRUE(DecodeModelledAck(absl::MakeConstSpan(buf_).first(kModelledAckPacketBytes)).ok());
      acked_ = true;
      if (hello_on_connect) SendFrame(kHandshakeMsg, EncodeHello(*hello_on_connect));
      Bytes rest(buf_.begin() + kModelledAckPacketBytes, buf_.end());
      if (rest.empty()) return;
      ASSERT_TRUE(codec_.Feed(rest).ok());
    } else {
      ASSERT_TRUE(codec_.Feed(d).ok());
    }
    for (;;) {
      absl::StatusOr<std::optional<Message>> m = codec_.Next();
      if (!m.ok()) {
        read_error = m.status();
        return;
      }
      if (!m->has_value()) return;
      received.push_back({std::move(**m), q_->now_ns()});
    }
  }

  sim::EventQueue* q_;
  std::unique_ptr<Conn> conn_;
  bool dialing_ = false;
  bool acked_ = false;
  Bytes buf_;
  PlainCodec codec_ = PlainCodec::Create().value();
};

Endpoint Ep(const char* text) { return Endpoint::Parse(text).value(); }

class RlpxConnModelledTest : public ::testing::Test {
 protected:
  RlpxConnModelledTest()
      : key_a_(PrivateKey::FromHex(eip8::kStaticKeyA).value()),
        key_b_(PrivateKey::FromHex(eip8::kStaticKeyB).value()),
        key_c_(PrivateKey::FromHex(kKeyC).value()),
        pub_a_(DerivePublicKey(key_a_)),
        pub_b_(DerivePublicKey(key_b_)),
        pub_c_(DerivePublicKey(key_c_)) {}

  void MakePipe(absl::Duration delay = absl::Milliseconds(10)) {
    auto p = NewConnPair(&loop_a_, &loop_b_, Ep("10.0.0.1:40000"), Ep("10.0.0.2:30303"), delay);
    conn_a_ = std::move(p.first);
    conn_b_ = std::move(p.second);
  }
  void DialA(const PublicKey& dest, RlpxConnOptions options = Modelled()) {
    a_ = RlpxConn::Dial(&loop_a_, std::move(conn_a_), &key_a_, dest, MakeHello(pub_a_, "node-a"),
                        &ent_a_, &ha_, options);
  }
  void AcceptB(RlpxConnOptions options = Modelled()) {
    b_ = RlpxConn::Accept(&loop_b_, std::move(conn_b_), &key_b_, MakeHello(pub_b_, "node-b"),
                          &ent_b_, &hb_, options);
  }
  // Both modelled, A dialing B.
  void Connect(absl::Duration delay = absl::Milliseconds(10),
               RlpxConnOptions options = Modelled()) {
    MakePipe(delay);
    DialA(pub_b_, options);
    AcceptB(options);
  }
  void Reset() {
    a_.reset();
    b_.reset();
    ha_ = RecordingHandler(&loop_a_);
    hb_ = RecordingHandler(&loop_b_);
  }
  void RunFor(absl::Duration d) { q_.RunUntil(q_.now_ns() + Ns(d)); }
  void RunUntil(int64_t ns) { q_.RunUntil(ns); }

  sim::EventQueue q_;
  sim::SimLoop loop_a_{&q_};
  sim::SimLoop loop_b_{&q_};
  PrivateKey key_a_, key_b_, key_c_;
  PublicKey pub_a_, pub_b_, pub_c_;
  RngEntropy ent_a_{Rng(1)};
  RngEntropy ent_b_{Rng(2)};
  RecordingHandler ha_{&loop_a_};
  RecordingHandler hb_{&loop_b_};
  std::unique_ptr<Conn> conn_a_, conn_b_;
  std::unique_ptr<RlpxConn> a_, b_;
};

// ------------------------------------------------------------- handshakes

TEST_F(RlpxConnModelledTest, BothCheckpointsWithTheRightKeysAndHellos) {
  Connect();
  EXPECT_TRUE(ha_.events.empty());  // Nothing inline.
  EXPECT_FALSE(a_->inbound());
  EXPECT_TRUE(b_->inbound());
  RunFor(absl::Seconds(1));

  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
  EXPECT_EQ(ha_.enc_remote, pub_b_);
  EXPECT_EQ(hb_.enc_remote, pub_a_);
  EXPECT_EQ(a_->remote_key(), pub_b_);
  EXPECT_EQ(b_->remote_key(), pub_a_);
  ASSERT_TRUE(ha_.hello.has_value());
  ASSERT_TRUE(hb_.hello.has_value());
  EXPECT_EQ(ha_.hello->name, "node-b");
  EXPECT_EQ(hb_.hello->name, "node-a");
  EXPECT_EQ(ha_.hello->caps, (std::vector<Cap>{{"eth", 68}, {"snap", 1}}));
  EXPECT_EQ(ha_.hello->id, pub_b_.bytes());
  EXPECT_EQ(hb_.hello->id, pub_a_.bytes());
  ASSERT_TRUE(b_->remote_hello().has_value());
  EXPECT_EQ(b_->remote_hello()->name, "node-a");
  EXPECT_EQ(a_->remote_endpoint(), Ep("10.0.0.2:30303"));

  // Exactly the plain packets and Hello frames went over the wire.
  EXPECT_EQ(a_->bytes_out(),
            kModelledAuthPacketBytes + FrameBytes(EncodeHello(MakeHello(pub_a_, "node-a")).size()));
  EXPECT_EQ(b_->bytes_out(),
            kModelledAckPacketBytes + FrameBytes(EncodeHello(MakeHello(pub_b_, "node-b")).size()));
  EXPECT_EQ(a_->bytes_out(), b_->bytes_in());
  EXPECT_EQ(b_->bytes_out(), a_->bytes_in());
  EXPECT_EQ(ha_.closed, 0);
  EXPECT_EQ(hb_.closed, 0);
}

TEST_F(RlpxConnModelledTest, HandshakeTakesLatencyPlusModelledCpu) {
  struct Case {
    absl::Duration latency;
    absl::Duration cpu;
  };
  for (const Case& c : {Case{absl::Milliseconds(10), absl::Microseconds(300)},
                        Case{absl::ZeroDuration(), absl::Milliseconds(2)},
                        Case{absl::Milliseconds(7), absl::ZeroDuration()},
                        Case{absl::Milliseconds(3), absl::Milliseconds(20)}}) {
    SCOPED_TRACE(absl::StrCat(absl::FormatDuration(c.latency), " ", absl::FormatDuration(c.cpu)));
    Reset();
    const int64_t t0 = q_.now_ns();
    const int64_t l = Ns(c.latency), cpu = Ns(c.cpu);
    Connect(c.latency, Modelled(c.cpu));
    RunFor(absl::Seconds(1));
    ASSERT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
    ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
    // The auth reaches B at L; B computes, acks and reaches checkpoint 1 at
    // L + C, sending its Hello. The ack reaches A at 2L + C; A computes and
    // reaches checkpoint 1 at 2L + 2C, where B's Hello already waits; A's
    // Hello reaches B at 3L + 2C.
    EXPECT_EQ(hb_.enc_ns, t0 + l + cpu);
    EXPECT_EQ(ha_.enc_ns, t0 + 2 * l + 2 * cpu);
    EXPECT_EQ(ha_.hello_ns, t0 + 2 * l + 2 * cpu);
    EXPECT_EQ(hb_.hello_ns, t0 + 3 * l + 2 * cpu);
  }
}

TEST_F(RlpxConnModelledTest, RemoteKeyIsUnknownUntilTheCpuTimeIsSpent) {
  hb_.at_enc = Answer::kHold;
  Connect();
  RunUntil(10 * kMs);  // B has read the auth.
  EXPECT_FALSE(b_->remote_key().has_value());
  EXPECT_EQ(b_->bytes_in(), kModelledAuthPacketBytes);
  EXPECT_EQ(b_->bytes_out(), 0u);  // No ack before the CPU time.
  RunUntil(10 * kMs + kCpu);
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc"}));
  EXPECT_EQ(b_->remote_key(), pub_a_);
  EXPECT_EQ(b_->bytes_out(), kModelledAckPacketBytes);
}

TEST_F(RlpxConnModelledTest, AuthReadFromAByteStream) {
  hb_.at_enc = Answer::kHold;
  MakePipe();
  AcceptB();
  RawPeer raw(&q_, std::move(conn_a_));
  raw.Start();
  for (uint8_t byte : EncodeModelledAuth(pub_a_.bytes(), pub_b_.bytes())) {
    raw.SendRaw(Bytes{byte});
  }
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc"}));
  EXPECT_EQ(hb_.enc_remote, pub_a_);
  EXPECT_EQ(hb_.enc_ns, 10 * kMs + kCpu);
  EXPECT_EQ(b_->bytes_in(), kModelledAuthPacketBytes);
  EXPECT_EQ(b_->bytes_out(), kModelledAckPacketBytes);
}

TEST_F(RlpxConnModelledTest, PostHandshakeRejectionReachesTheDialer) {
  hb_.at_enc = Answer::kDisconnect;
  hb_.enc_reason = DisconnectReason::kTooManyPeers;
  Connect();
  RunFor(absl::Seconds(2));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_FALSE(hb_.info.remote_requested);
  EXPECT_EQ(hb_.closed_ns, 10 * kMs + kCpu);
  // The ack, the Disconnect and the EOF reach A during its CPU time; it
  // reads them once that is spent.
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_TRUE(ha_.info.remote_requested);
  EXPECT_EQ(ha_.info.detail, DisconnectError(DisconnectReason::kTooManyPeers));
  EXPECT_EQ(ha_.closed_ns, 20 * kMs + 2 * kCpu);
  EXPECT_FALSE(a_->remote_hello().has_value());
}

TEST_F(RlpxConnModelledTest, AddPeerRejectionReachesTheOtherSide) {
  hb_.at_hello = Answer::kDisconnect;
  hb_.hello_reason = DisconnectReason::kUselessPeer;
  Connect();
  RunFor(absl::Seconds(2));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kUselessPeer);
  EXPECT_FALSE(hb_.info.remote_requested);
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello", "closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kUselessPeer);
  EXPECT_TRUE(ha_.info.remote_requested);
  EXPECT_EQ(ha_.closed_ns, 40 * kMs + 2 * kCpu);
}

TEST_F(RlpxConnModelledTest, HelloWithSomeoneElsesIdIsUnexpectedIdentity) {
  MakePipe();
  AcceptB();
  RawPeer raw(&q_, std::move(conn_a_));
  raw.hello_on_connect = MakeHello(pub_c_, "impostor");
  raw.Dial(pub_a_.bytes(), pub_b_.bytes());
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kUnexpectedIdentity);
  ASSERT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg, kDiscMsg}));
  EXPECT_EQ(DecodeDisconnect(raw.received[1].msg.payload), DisconnectReason::kUnexpectedIdentity);
}

// --------------------------------------------------------------- messages

TEST_F(RlpxConnModelledTest, MessagesRoundTripWithTheirCodes) {
  Connect();
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a_->Send(0x0f, Bytes{1}).code(), absl::StatusCode::kInvalidArgument);
  const Bytes big(10000, 0x00);
  const uint64_t in_b = b_->bytes_in();
  ASSERT_TRUE(a_->Send(0x10, big).ok());
  ASSERT_TRUE(a_->Send(0x11, Bytes{}).ok());
  ASSERT_TRUE(b_->Send(0x25, Bytes{0xde, 0xad}).ok());
  RunFor(absl::Seconds(1));
  ASSERT_EQ(hb_.messages.size(), 2u);
  EXPECT_EQ(hb_.messages[0].first, 0x10u);
  EXPECT_EQ(hb_.messages[0].second, big);
  EXPECT_EQ(hb_.messages[1].first, 0x11u);
  EXPECT_TRUE(hb_.messages[1].second.empty());
  ASSERT_EQ(ha_.messages.size(), 1u);
  EXPECT_EQ(ha_.messages[0].first, 0x25u);
  EXPECT_EQ(ha_.messages[0].second, (Bytes{0xde, 0xad}));
  // Both announced v5, so snappy is on, but the plain codec sends the
  // payload as it is.
  EXPECT_EQ(b_->bytes_in() - in_b, FrameBytes(big.size()) + FrameBytes(0));
  EXPECT_EQ(a_->bytes_out(), b_->bytes_in());
}

TEST_F(RlpxConnModelledTest, OversizedMessageIsRefusedBySend) {
  Connect();
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a_->Send(0x10, Bytes(kMaxFrameSize, 0)).code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(a_->Send(0x10, Bytes(kMaxFrameSize - 1, 0)).ok());  // rlp(0x10) fills it up.
  RunFor(absl::Seconds(1));
  ASSERT_EQ(hb_.messages.size(), 1u);
  EXPECT_EQ(hb_.messages[0].second.size(), kMaxFrameSize - 1);
}

TEST_F(RlpxConnModelledTest, MalformedFrameClosesWithProtocolError) {
  MakePipe();
  AcceptB();
  RawPeer raw(&q_, std::move(conn_a_));
  raw.hello_on_connect = MakeHello(pub_a_, "raw");
  raw.Dial(pub_a_.bytes(), pub_b_.bytes());
  RunFor(absl::Seconds(1));
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
  raw.SendRaw(Bytes{0x00, 0x00, 0x01, 0xc0});  // The code is a list.
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
  EXPECT_TRUE(absl::StartsWith(hb_.info.detail.message(), "rlpx: invalid message code: "))
      << hb_.info.detail;
  EXPECT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg}));  // Nothing sent after.
  EXPECT_TRUE(raw.closed);
}

// ----------------------------------------------------------------- timers

TEST_F(RlpxConnModelledTest, PingsKeepAnIdleConnectionAlivePastTheReadTimeout) {
  Connect(absl::ZeroDuration());
  RunUntil(2 * kCpu);  // With no latency, both are running after 2 C.
  ASSERT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
  const uint64_t out_a = a_->bytes_out(), out_b = b_->bytes_out();
  RunUntil(2 * kCpu + 600 * kSec);
  EXPECT_EQ(ha_.closed, 0);
  EXPECT_EQ(hb_.closed, 0);
  // Each side pinged 40 times (every 15 s) and answered the other's 40
  // pings; a Ping or Pong is a 5-byte plain frame.
  EXPECT_EQ(a_->bytes_out() - out_a, 80u * FrameBytes(EncodePing().size()));
  EXPECT_EQ(b_->bytes_out() - out_b, 80u * FrameBytes(EncodePong().size()));
  EXPECT_EQ(a_->bytes_in(), b_->bytes_out());
}

TEST_F(RlpxConnModelledTest, SilentPeerHitsTheReadTimeout) {
  MakePipe();
  AcceptB();
  RawPeer raw(&q_, std::move(conn_a_));
  raw.hello_on_connect = MakeHello(pub_a_, "mute");
  raw.Dial(pub_a_.bytes(), pub_b_.bytes());
  RunFor(absl::Seconds(60));
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello", "closed"}));
  // The raw peer spends no CPU time: its Hello left with the ack's arrival.
  const int64_t running = 30 * kMs + kCpu;
  EXPECT_EQ(hb_.hello_ns, running);
  EXPECT_EQ(hb_.closed_ns, running + 30 * kSec);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kReadTimeout);
  EXPECT_EQ(hb_.info.detail, absl::DeadlineExceededError("rlpx: read timeout: no message for 30s"));
  EXPECT_TRUE(raw.read_error.ok()) << raw.read_error;
  ASSERT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg, kPingMsg, kDiscMsg}));
  EXPECT_EQ(raw.received[1].ns, running + 15 * kSec + 10 * kMs);
  EXPECT_EQ(DecodeDisconnect(raw.received[2].msg.payload), DisconnectReason::kReadTimeout);
  EXPECT_TRUE(raw.closed);
}

TEST_F(RlpxConnModelledTest, SilentListenerTimesOutTheDialer) {
  MakePipe();
  DialA(pub_b_);
  RawPeer silent(&q_, std::move(conn_b_));
  silent.Start();
  RunFor(absl::Seconds(10));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.closed_ns, 5 * kSec);
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(ha_.info.detail, absl::DeadlineExceededError("rlpx: handshake timeout (5s)"));
  EXPECT_TRUE(silent.closed);
}

TEST_F(RlpxConnModelledTest, HandshakeTimeoutBoundsTheCpuTimeAndTheCheckpoints) {
  // CPU time beyond the deadline: B is still computing at 5 s, A waiting
  // for the ack; neither has anything to show.
  Connect(absl::Milliseconds(10), Modelled(absl::Seconds(10)));
  RunFor(absl::Seconds(20));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(hb_.closed_ns, 5 * kSec);
  EXPECT_EQ(hb_.info.detail, absl::DeadlineExceededError("rlpx: handshake timeout (5s)"));
  EXPECT_EQ(b_->bytes_out(), 0u);
  EXPECT_FALSE(b_->remote_key().has_value());
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.closed_ns, 5 * kSec);

  // A custom deadline falling inside A's CPU time: B passes checkpoint 1 at
  // 40 ms; A would at 80 ms.
  Reset();
  int64_t t0 = q_.now_ns();
  RlpxConnOptions o = Modelled(absl::Milliseconds(30));
  o.handshake_timeout = absl::Milliseconds(50);
  Connect(absl::Milliseconds(10), o);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.enc_ns, t0 + 40 * kMs);
  EXPECT_EQ(hb_.closed_ns, t0 + 50 * kMs);
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.closed_ns, t0 + 50 * kMs);
  EXPECT_EQ(ha_.info.detail, absl::DeadlineExceededError("rlpx: handshake timeout (50ms)"));

  // Held at the first checkpoint.
  Reset();
  t0 = q_.now_ns();
  hb_.at_enc = Answer::kHold;
  Connect();
  RunFor(absl::Seconds(10));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.closed_ns, t0 + 5 * kSec);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kNetworkError);
}

// ------------------------------------------------------------- disconnect

TEST_F(RlpxConnModelledTest, DisconnectReasonReachesTheOtherSide) {
  Connect();
  RunFor(absl::Seconds(1));
  const int64_t t = q_.now_ns();
  ASSERT_TRUE(a_->Send(0x10, Bytes{9}).ok());
  a_->Disconnect(DisconnectReason::kQuitting);
  EXPECT_EQ(ha_.closed, 0);  // Posted.
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello", "closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kQuitting);
  EXPECT_FALSE(ha_.info.remote_requested);
  EXPECT_EQ(ha_.closed_ns, t);
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello", "msg", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kQuitting);
  EXPECT_TRUE(hb_.info.remote_requested);
  EXPECT_EQ(hb_.closed_ns, t + 10 * kMs);
  EXPECT_EQ(b_->Send(0x10, Bytes{1}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(a_->bytes_out(), b_->bytes_in());
}

TEST_F(RlpxConnModelledTest, DisconnectDuringTheCpuTimeSendsNothing) {
  Connect();
  RunUntil(10 * kMs);  // B is computing.
  b_->Disconnect(DisconnectReason::kTooManyPeers);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_EQ(b_->bytes_out(), 0u);  // Neither an ack nor a Disconnect.
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
}

TEST_F(RlpxConnModelledTest, EndDuringTheCpuTimeIsHandledAfterIt) {
  // As in the real mode an end arriving after the auth: the handshake is
  // finished first, then the end is seen once the checkpoint is passed.
  MakePipe();
  AcceptB();
  RawPeer raw(&q_, std::move(conn_a_));
  raw.Start();
  raw.SendRaw(EncodeModelledAuth(pub_a_.bytes(), pub_b_.bytes()));
  raw.Close(/*flush=*/false);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.enc_ns, 10 * kMs + kCpu);
  EXPECT_EQ(hb_.closed_ns, 10 * kMs + kCpu);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(hb_.info.detail, absl::UnavailableError("connection reset by peer"));
}

// ----------------------------------------------------------------- errors

TEST_F(RlpxConnModelledTest, DialingTheWrongKeyFailsAtTheListener) {
  // A believes it dials C, but B answers.
  MakePipe();
  DialA(pub_c_);
  AcceptB();
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
  EXPECT_EQ(hb_.info.detail,
            absl::InvalidArgumentError(absl::StrCat(
                "rlpx: modelled auth is for node key ",
                HexEncode(absl::MakeConstSpan(pub_c_.bytes()).first(8)), "..., ours is ",
                HexEncode(absl::MakeConstSpan(pub_b_.bytes()).first(8)), "...")));
  EXPECT_EQ(hb_.closed_ns, 10 * kMs);
  EXPECT_FALSE(b_->remote_key().has_value());
  EXPECT_EQ(b_->bytes_out(), 0u);
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(ha_.info.detail, absl::UnavailableError("EOF"));
  EXPECT_EQ(ha_.closed_ns, 20 * kMs);
}

TEST_F(RlpxConnModelledTest, GarbageInsteadOfTheAuthClosesWithProtocolError) {
  // A real EIP-8 auth to key B (EIP-8's Auth2).
  const Bytes real_auth = HexOrDie(eip8::kAuth2);
  Bytes bad_magic = EncodeModelledAuth(pub_a_.bytes(), pub_b_.bytes());
  bad_magic[2] = 'X';
  ModelledKey not_a_point;
  not_a_point.fill(0xff);
  const Bytes bad_key = EncodeModelledAuth(not_a_point, pub_b_.bytes());
  struct Case {
    const char* name;
    Bytes bytes;
    const char* detail_prefix;
  };
  const std::vector<Case> cases = {
      {"real auth", real_auth, "rlpx: modelled handshake: auth size 435, want 132"},
      {"size prefix too big", Bytes(300, 0xff), "rlpx: modelled handshake: auth size 65535"},
      {"an ack", EncodeModelledAck(pub_a_.bytes()), "rlpx: modelled handshake: auth size 68"},
      {"bad magic", bad_magic, "rlpx: modelled handshake: bad magic"},
      {"initiator key not a point", bad_key, "rlpx: modelled auth: initiator key: invalid"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    hb_ = RecordingHandler(&loop_b_);
    const int64_t t0 = q_.now_ns();
    MakePipe();
    AcceptB();
    RawPeer raw(&q_, std::move(conn_a_));
    raw.Start();
    raw.SendRaw(c.bytes);
    RunFor(absl::Seconds(1));
    EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
    EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
    EXPECT_EQ(hb_.info.detail.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(hb_.info.detail.message(), c.detail_prefix)) << hb_.info.detail;
    EXPECT_EQ(hb_.closed_ns, t0 + 10 * kMs);
    EXPECT_FALSE(b_->remote_key().has_value());
    EXPECT_EQ(b_->bytes_out(), 0u);
    EXPECT_TRUE(raw.closed);
    b_.reset();
  }
}

TEST_F(RlpxConnModelledTest, GarbageOrAWrongKeyInsteadOfTheAckClosesTheDialer) {
  struct Case {
    const char* name;
    Bytes bytes;
    std::string detail;
  };
  Bytes junk(2 + 200, 0x33);
  junk[0] = 0x00;
  junk[1] = 200;
  const std::vector<Case> cases = {
      {"junk", junk, "rlpx: modelled handshake: ack size 200, want 68"},
      {"ack from C", EncodeModelledAck(pub_c_.bytes()),
       absl::StrCat("rlpx: modelled ack from node key ",
                    HexEncode(absl::MakeConstSpan(pub_c_.bytes()).first(8)), "..., dialed ",
                    HexEncode(absl::MakeConstSpan(pub_b_.bytes()).first(8)), "...")},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ha_ = RecordingHandler(&loop_a_);
    const int64_t t0 = q_.now_ns();
    MakePipe();
    DialA(pub_b_);
    RawPeer raw(&q_, std::move(conn_b_));
    raw.Start();
    raw.SendRaw(c.bytes);
    RunFor(absl::Seconds(1));
    EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
    EXPECT_EQ(ha_.info.reason, DisconnectReason::kProtocolError);
    EXPECT_EQ(ha_.info.detail, absl::InvalidArgumentError(c.detail));
    EXPECT_EQ(ha_.closed_ns, t0 + 10 * kMs);
    EXPECT_FALSE(a_->remote_key().has_value());
    a_.reset();
  }
}

TEST_F(RlpxConnModelledTest, FramesDuringTheCpuTimeAreBounded) {
  hb_.at_enc = Answer::kHold;
  MakePipe(absl::ZeroDuration());
  AcceptB();
  RawPeer raw(&q_, std::move(conn_a_));
  raw.Start();
  raw.SendRaw(EncodeModelledAuth(pub_a_.bytes(), pub_b_.bytes()));
  const Bytes chunk(1 << 20, 0x00);
  size_t sent = 0;
  while (sent <= kMaxReadBufferBytes) {
    raw.SendRaw(chunk);
    sent += chunk.size();
  }
  RunUntil(0);  // All of it arrives before the CPU time is spent.
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
  EXPECT_EQ(hb_.info.detail.code(), absl::StatusCode::kResourceExhausted) << hb_.info.detail;
  EXPECT_TRUE(absl::StartsWith(hb_.info.detail.message(), "rlpx: read buffer limit"));
  EXPECT_EQ(b_->bytes_out(), 0u);
}

TEST_F(RlpxConnModelledTest, InvalidDialDestinationKey) {
  MakePipe();
  DialA(PublicKey());
  EXPECT_TRUE(ha_.events.empty());
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kInvalidIdentity);
  EXPECT_EQ(ha_.closed_ns, 0);
  EXPECT_EQ(a_->bytes_out(), 0u);
}

TEST_F(RlpxConnModelledTest, ModelledAndRealEndsFailTheHandshake) {
  // A modelled dialer, a real listener: the listener cannot decrypt the
  // plain auth (ECIES); the dialer sees the end while waiting for the ack.
  MakePipe();
  DialA(pub_b_, Modelled());
  AcceptB(RlpxConnOptions());
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
  EXPECT_TRUE(absl::StartsWith(hb_.info.detail.message(), "ecies: ")) << hb_.info.detail;
  EXPECT_EQ(hb_.closed_ns, 10 * kMs);
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(ha_.closed_ns, 20 * kMs);

  // A real dialer, a modelled listener: the EIP-8 auth has the wrong size.
  Reset();
  const int64_t t0 = q_.now_ns();
  MakePipe();
  DialA(pub_b_, RlpxConnOptions());
  AcceptB(Modelled());
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
  EXPECT_TRUE(absl::StartsWith(hb_.info.detail.message(), "rlpx: modelled handshake: auth size "))
      << hb_.info.detail;
  EXPECT_EQ(hb_.closed_ns, t0 + 10 * kMs);
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(ha_.closed_ns, t0 + 20 * kMs);
}

// --------------------------------------------------------------- lifetime

TEST_F(RlpxConnModelledTest, DestroyingDuringTheCpuTimeCallsNothingAfterwards) {
  Connect();
  RunUntil(10 * kMs);  // B is computing.
  b_.reset();
  RunFor(absl::Seconds(60));
  EXPECT_TRUE(hb_.events.empty());
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
  a_.reset();
  EXPECT_EQ(q_.pending(), 0u);

  // A in its CPU time.
  Reset();
  const int64_t t0 = q_.now_ns();
  Connect();
  RunUntil(t0 + 20 * kMs + kCpu);  // The ack has arrived at A.
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc"}));
  ASSERT_TRUE(ha_.events.empty());
  a_.reset();
  RunFor(absl::Seconds(60));
  EXPECT_TRUE(ha_.events.empty());
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  b_.reset();
  EXPECT_EQ(q_.pending(), 0u);
}

// ------------------------------------------------------------ no crypto

TEST_F(RlpxConnModelledTest, NoEllipticCurveOperationsAndNoKeysNeeded) {
  // The counter sees the real mode's work, so it can tell.
  g_secp256k1_ops = 0;
  Connect(absl::Milliseconds(10), RlpxConnOptions());
  RunFor(absl::Seconds(1));
  ASSERT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
  EXPECT_GE(g_secp256k1_ops, 6);  // At least ECDH, sign and recover per side.

  // Modelled, with neither a private key nor entropy: a full connection
  // with a message each way performs no point multiplication.
  Reset();
  g_secp256k1_ops = 0;
  MakePipe();
  a_ = RlpxConn::Dial(&loop_a_, std::move(conn_a_), nullptr, pub_b_, MakeHello(pub_a_, "node-a"),
                      nullptr, &ha_, Modelled());
  b_ = RlpxConn::Accept(&loop_b_, std::move(conn_b_), nullptr, MakeHello(pub_b_, "node-b"), nullptr,
                        &hb_, Modelled());
  RunFor(absl::Seconds(1));
  ASSERT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
  ASSERT_TRUE(a_->Send(0x10, Bytes{1}).ok());
  ASSERT_TRUE(b_->Send(0x11, Bytes{2}).ok());
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.messages.size(), 1u);
  EXPECT_EQ(ha_.messages.size(), 1u);
  EXPECT_EQ(g_secp256k1_ops, 0);
}

}  // namespace
}  // namespace p2p::rlpx
