#include "core/rlpx/rlpx_conn.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "core/crypto/secp256k1.h"
#include "core/event_loop.h"
#include "core/hex.h"
#include "core/net/ip.h"
#include "core/net/pipe.h"
#include "core/net/transport.h"
#include "core/rlpx/eip8_vectors_testing.h"
#include "core/rlpx/frame.h"
#include "core/rlpx/handshake.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/rlpx_conn_testing.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p::rlpx {
namespace {

using Bytes = std::vector<uint8_t>;

using eip8::kAuth1;
using eip8::kAuth2;

// A third key for impostors, besides EIP-8's static keys A and B.
const char kKeyC[] = "0000000000000000000000000000000000000000000000000000000000000007";

constexpr int64_t kMs = 1000 * 1000;
constexpr int64_t kSec = 1000 * kMs;

Hello MakeHello(const PrivateKey& key, const std::string& name, uint64_t version = 5) {
  Hello h;
  h.version = version;
  h.name = name;
  h.caps = {Cap{"eth", 68}, Cap{"snap", 1}};
  h.listen_port = 30303;
  h.id = DerivePublicKey(key).bytes();
  return h;
}

using Answer = RecordingHandler::Answer;

// A hand-driven RLPx peer on a raw Conn end: runs the encryption handshake
// with the building blocks, then sends whatever a test tells it (including
// garbage and tampered frames) and records what it receives.
class RawPeer {
 public:
  RawPeer(sim::EventQueue* q, std::unique_ptr<Conn> conn, const PrivateKey& key, uint64_t seed)
      : q_(q), conn_(std::move(conn)), key_(key), entropy_(Rng(seed)) {}

  void Start() {
    conn_->Start([this](absl::Span<const uint8_t> d) { OnRead(d); },
                 [this](const absl::Status& s) {
                   closed = true;
                   why = s;
                   closed_ns = q_->now_ns();
                 });
  }
  // As the dialer: sends the auth at once.
  void Dial(const PublicKey& remote) {
    hs_.emplace(Handshake::Initiator(key_, remote, entropy_));
    Start();
    absl::StatusOr<Bytes> auth = hs_->MakeAuth();
    ASSERT_TRUE(auth.ok()) << auth.status();
    conn_->Write(*auth);
  }
  // As the listener: answers the auth.
  void Listen() {
    hs_.emplace(Handshake::Recipient(key_, entropy_));
    Start();
  }

  void SendRaw(const Bytes& b) { conn_->Write(b); }
  void SendFrame(uint64_t code, const Bytes& payload, size_t flip_byte = SIZE_MAX) {
    ASSERT_TRUE(codec_.has_value());
    Bytes out;
    ASSERT_TRUE(codec_->WriteMessage(code, payload, out).ok());
    if (flip_byte < out.size()) out[flip_byte] ^= 0x01;
    conn_->Write(out);
  }
  // Snappy is switched on once both Hellos have passed (doProtoHandshake).
  void SendHello(const Hello& h) {
    our_version_ = h.version;
    SendFrame(kHandshakeMsg, EncodeHello(h));
    if (their_version_) codec_->SetSnappy(*their_version_ >= 5 && our_version_ >= 5);
  }
  void Close(bool flush) { conn_->Close(absl::OkStatus(), flush); }

  bool secure() const { return codec_.has_value(); }
  // Codes received, in order.
  std::vector<uint64_t> codes() const {
    std::vector<uint64_t> c;
    for (const auto& m : received) c.push_back(m.msg.code);
    return c;
  }

  struct Received {
    Message msg;
    int64_t ns;
  };
  // Sent once the encryption handshake is done (if set).
  std::optional<Hello> hello_on_connect;
  std::vector<Received> received;
  absl::Status read_error;
  bool closed = false;
  absl::Status why;
  int64_t closed_ns = -1;

 private:
  void OnRead(absl::Span<const uint8_t> d) {
    if (!hs_) return;  // A silent peer.
    if (!codec_) {
      buf_.insert(buf_.end(), d.begin(), d.end());
      absl::StatusOr<size_t> n = hs_->PacketSize(buf_);
      if (!n.ok()) {
        read_error = n.status();
        return;
      }
      if (*n > buf_.size()) return;
      Bytes packet(buf_.begin(), buf_.begin() + *n);
      Bytes rest(buf_.begin() + *n, buf_.end());
      std::optional<Secrets> secrets;
      if (hs_->initiator()) {
        absl::StatusOr<Secrets> s = hs_->ReadAck(packet);
        ASSERT_TRUE(s.ok()) << s.status();
        secrets = *s;
      } else {
        ASSERT_TRUE(hs_->ReadAuth(packet).ok());
        absl::StatusOr<Handshake::Ack> ack = hs_->MakeAck();
        ASSERT_TRUE(ack.ok());
        conn_->Write(ack->packet);
        secrets = ack->secrets;
      }
      absl::StatusOr<FrameCodec> codec = FrameCodec::Create(*secrets);
      ASSERT_TRUE(codec.ok());
      codec_.emplace(std::move(*codec));
      if (hello_on_connect) SendHello(*hello_on_connect);
      d = rest;
      if (d.empty()) return;
    }
    ASSERT_TRUE(codec_->Feed(d).ok());
    for (;;) {
      absl::StatusOr<std::optional<Message>> m = codec_->Next();
      if (!m.ok()) {
        read_error = m.status();
        return;
      }
      if (!m->has_value()) return;
      const bool hello = (**m).code == kHandshakeMsg && received.empty();
      if (hello) {
        absl::StatusOr<Hello> h = DecodeHello((**m).payload);
        ASSERT_TRUE(h.ok());
        their_version_ = h->version;
        if (our_version_) codec_->SetSnappy(h->version >= 5 && *our_version_ >= 5);
      }
      received.push_back({std::move(**m), q_->now_ns()});
    }
  }

  sim::EventQueue* q_;
  std::unique_ptr<Conn> conn_;
  PrivateKey key_;
  RngEntropy entropy_;
  std::optional<Handshake> hs_;
  Bytes buf_;
  std::optional<FrameCodec> codec_;
  std::optional<uint64_t> our_version_;    // Once our Hello is sent.
  std::optional<uint64_t> their_version_;  // Once theirs is read.
};

// A Conn wrapper whose sending side can be stuck (a peer that stopped
// reading: the TCP window is full), so writes pile up in PendingWriteBytes.
class StallableConn : public Conn {
 public:
  StallableConn(std::unique_ptr<Conn> inner, bool* stalled)
      : inner_(std::move(inner)), stalled_(stalled) {}
  void Start(ReadCallback r, CloseCallback c) override {
    inner_->Start(std::move(r), std::move(c));
  }
  void Write(absl::Span<const uint8_t> d) override {
    if (*stalled_ || !held_.empty()) {
      held_.insert(held_.end(), d.begin(), d.end());
    } else {
      inner_->Write(d);
    }
  }
  size_t PendingWriteBytes() const override { return held_.size(); }
  // Unsticks the sending side and sends what was held in one piece.
  void Release() {
    *stalled_ = false;
    Bytes held = std::move(held_);
    held_.clear();
    if (!held.empty()) inner_->Write(held);
  }
  void Close(const absl::Status& why, bool flush) override {
    if (flush && !held_.empty()) return;  // Waits for a flush that never comes.
    inner_->Close(why, flush);
  }
  Endpoint RemoteEndpoint() const override { return inner_->RemoteEndpoint(); }
  Endpoint LocalEndpoint() const override { return inner_->LocalEndpoint(); }

 private:
  std::unique_ptr<Conn> inner_;
  bool* stalled_;
  Bytes held_;
};

Endpoint Ep(const char* text) { return Endpoint::Parse(text).value(); }

class RlpxConnTest : public ::testing::Test {
 protected:
  RlpxConnTest()
      : key_a_(PrivateKey::FromHex(eip8::kStaticKeyA).value()),
        key_b_(PrivateKey::FromHex(eip8::kStaticKeyB).value()),
        key_c_(PrivateKey::FromHex(kKeyC).value()) {}

  // A dials B over a fresh pipe.
  void MakePipe(absl::Duration delay = absl::Milliseconds(10)) {
    auto p = NewConnPair(&loop_a_, &loop_b_, Ep("10.0.0.1:40000"), Ep("10.0.0.2:30303"), delay);
    conn_a_ = std::move(p.first);
    conn_b_ = std::move(p.second);
  }
  void DialA(Hello hello) {
    a_ = RlpxConn::Dial(&loop_a_, std::move(conn_a_), &key_a_, DerivePublicKey(key_b_),
                        std::move(hello), &ent_a_, &ha_, opts_a_);
  }
  void AcceptB(Hello hello) {
    b_ = RlpxConn::Accept(&loop_b_, std::move(conn_b_), &key_b_, std::move(hello), &ent_b_, &hb_,
                          opts_b_);
  }
  // Both real, A dialing B.
  void Connect(absl::Duration delay = absl::Milliseconds(10), uint64_t version_a = 5,
               uint64_t version_b = 5) {
    MakePipe(delay);
    DialA(MakeHello(key_a_, "node-a", version_a));
    AcceptB(MakeHello(key_b_, "node-b", version_b));
  }
  // A's sending side sticks at 1 s with a message in it: A gives up at
  // 21 s (frame_write_timeout) and B sees a reset.
  void ExpectStuckWriteEndsBothAtTwentyOneSeconds() {
    bool stalled = false;
    MakePipe(absl::ZeroDuration());
    conn_a_ = std::make_unique<StallableConn>(std::move(conn_a_), &stalled);
    DialA(MakeHello(key_a_, "node-a"));
    AcceptB(MakeHello(key_b_, "node-b"));
    RunUntil(1 * kSec);
    ASSERT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
    stalled = true;
    ASSERT_TRUE(a_->Send(0x10, Bytes{1, 2, 3}).ok());
    RunUntil(60 * kSec);
    EXPECT_EQ(ha_.closed_ns, 21 * kSec);
    EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
    EXPECT_EQ(ha_.info.detail.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_TRUE(absl::StrContains(ha_.info.detail.message(), "rlpx: write timeout"))
        << ha_.info.detail;
    // Given up without a flush: a reset for B.
    EXPECT_EQ(hb_.closed_ns, 21 * kSec);
    EXPECT_EQ(hb_.info.reason, DisconnectReason::kNetworkError);
    EXPECT_EQ(hb_.info.detail, absl::UnavailableError("connection reset by peer"));
  }

  void RunFor(absl::Duration d) { q_.RunUntil(q_.now_ns() + absl::ToInt64Nanoseconds(d)); }
  void RunUntil(int64_t ns) { q_.RunUntil(ns); }

  sim::EventQueue q_;
  sim::SimLoop loop_a_{&q_};
  sim::SimLoop loop_b_{&q_};
  PrivateKey key_a_, key_b_, key_c_;
  RngEntropy ent_a_{Rng(1)};
  RngEntropy ent_b_{Rng(2)};
  RecordingHandler ha_{&loop_a_};
  RecordingHandler hb_{&loop_b_};
  RlpxConnOptions opts_a_, opts_b_;  // For DialA and AcceptB.
  std::unique_ptr<Conn> conn_a_, conn_b_;
  std::unique_ptr<RlpxConn> a_, b_;
};

// ------------------------------------------------------------- handshakes

TEST_F(RlpxConnTest, DialAndAcceptReachHelloWithTheRightIdentities) {
  Connect();
  EXPECT_TRUE(ha_.events.empty());  // Nothing inline.
  EXPECT_FALSE(a_->inbound());
  EXPECT_TRUE(b_->inbound());
  EXPECT_FALSE(a_->remote_key().has_value());
  EXPECT_FALSE(b_->remote_key().has_value());
  RunFor(absl::Seconds(1));

  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
  EXPECT_EQ(ha_.enc_remote, DerivePublicKey(key_b_));
  EXPECT_EQ(hb_.enc_remote, DerivePublicKey(key_a_));
  EXPECT_EQ(a_->remote_key(), DerivePublicKey(key_b_));
  EXPECT_EQ(b_->remote_key(), DerivePublicKey(key_a_));
  ASSERT_TRUE(ha_.hello.has_value());
  ASSERT_TRUE(hb_.hello.has_value());
  EXPECT_EQ(ha_.hello->name, "node-b");
  EXPECT_EQ(hb_.hello->name, "node-a");
  EXPECT_EQ(ha_.hello->caps, (std::vector<Cap>{{"eth", 68}, {"snap", 1}}));
  EXPECT_EQ(ha_.hello->id, DerivePublicKey(key_b_).bytes());
  EXPECT_EQ(hb_.hello->id, DerivePublicKey(key_a_).bytes());
  EXPECT_EQ(ha_.hello->listen_port, 30303u);
  ASSERT_TRUE(a_->remote_hello().has_value());
  EXPECT_EQ(a_->remote_hello()->name, "node-b");
  EXPECT_EQ(a_->remote_endpoint(), Ep("10.0.0.2:30303"));
  EXPECT_EQ(b_->remote_endpoint(), Ep("10.0.0.1:40000"));

  // auth at 0, ack (B enc) at 10 ms, A enc at 20 ms with B's Hello; A's Hello
  // reaches B at 30 ms.
  EXPECT_EQ(hb_.enc_ns, 10 * kMs);
  EXPECT_EQ(ha_.enc_ns, 20 * kMs);
  EXPECT_EQ(ha_.hello_ns, 20 * kMs);
  EXPECT_EQ(hb_.hello_ns, 30 * kMs);
  EXPECT_EQ(a_->bytes_out(), b_->bytes_in());
  EXPECT_EQ(b_->bytes_out(), a_->bytes_in());
  EXPECT_GT(a_->bytes_out(), 2u * 100);
  EXPECT_EQ(ha_.closed, 0);
  EXPECT_EQ(hb_.closed, 0);
}

TEST_F(RlpxConnTest, SameSeedsGiveTheSameBytes) {
  Connect();
  RunFor(absl::Seconds(1));
  const uint64_t out_a = a_->bytes_out(), out_b = b_->bytes_out();
  // A second run with fresh entropy streams of the same seeds.
  a_.reset();
  b_.reset();
  RunFor(absl::Seconds(1));
  ent_a_ = RngEntropy(Rng(1));
  ent_b_ = RngEntropy(Rng(2));
  ha_.events.clear();
  hb_.events.clear();
  Connect();
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a_->bytes_out(), out_a);
  EXPECT_EQ(b_->bytes_out(), out_b);
}

TEST_F(RlpxConnTest, PostHandshakeRejectionReachesTheDialer) {
  hb_.at_enc = Answer::kDisconnect;
  hb_.enc_reason = DisconnectReason::kTooManyPeers;
  Connect();
  RunFor(absl::Seconds(2));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_FALSE(hb_.info.remote_requested);
  EXPECT_EQ(hb_.closed_ns, 10 * kMs);
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_TRUE(ha_.info.remote_requested);
  EXPECT_EQ(ha_.info.detail, DisconnectError(DisconnectReason::kTooManyPeers));
  EXPECT_EQ(ha_.closed_ns, 20 * kMs);
  EXPECT_FALSE(a_->remote_hello().has_value());
}

TEST_F(RlpxConnTest, PostHandshakeRejectionByTheDialer) {
  ha_.at_enc = Answer::kDisconnect;
  ha_.enc_reason = DisconnectReason::kAlreadyConnected;
  Connect();
  RunFor(absl::Seconds(2));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kAlreadyConnected);
  EXPECT_FALSE(ha_.info.remote_requested);
  // B had answered its checkpoint and sent its Hello; it reads the
  // Disconnect in place of A's Hello.
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kAlreadyConnected);
  EXPECT_TRUE(hb_.info.remote_requested);
}

TEST_F(RlpxConnTest, RejectionArrivingWhileHoldingACheckpointKeepsItsReason) {
  // A holds its first checkpoint while B rejects and closes: B's Disconnect
  // and EOF both arrive before A answers. Once A continues, it reads the
  // Disconnect first.
  ha_.at_enc = Answer::kHold;
  hb_.at_enc = Answer::kDisconnect;
  hb_.enc_reason = DisconnectReason::kTooManyPeers;
  Connect();
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc"}));
  a_->ContinueHandshake();
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc"}));  // Not inline.
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_TRUE(ha_.info.remote_requested);
}

TEST_F(RlpxConnTest, EndWhileHoldingACheckpointIsANetworkErrorOnceAnswered) {
  ha_.at_enc = Answer::kHold;
  MakePipe();
  DialA(MakeHello(key_a_, "node-a"));
  RawPeer raw(&q_, std::move(conn_b_), key_b_, 9);
  raw.Listen();
  RunFor(absl::Seconds(1));
  ASSERT_EQ(ha_.events, (std::vector<std::string>{"enc"}));
  raw.Close(/*flush=*/false);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.closed, 0);  // Still waiting for the handler.
  a_->ContinueHandshake();
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.closed, 1);
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(ha_.info.detail, absl::UnavailableError("connection reset by peer"));
}

TEST_F(RlpxConnTest, AddPeerRejectionReachesTheOtherSide) {
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
  EXPECT_EQ(ha_.closed_ns, 40 * kMs);
}

TEST_F(RlpxConnTest, HeldAddPeerCheckpointBuffersTheirMessages) {
  ha_.at_hello = Answer::kHold;
  Connect();
  RunFor(absl::Seconds(1));
  ASSERT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
  ASSERT_TRUE(b_->Send(0x10, Bytes{1, 2, 3}).ok());
  RunFor(absl::Seconds(1));
  EXPECT_TRUE(ha_.messages.empty());
  EXPECT_EQ(a_->Send(0x10, Bytes{1}).code(), absl::StatusCode::kFailedPrecondition);
  a_->ContinueHandshake();
  a_->ContinueHandshake();  // A second answer is ignored.
  RunFor(absl::Seconds(1));
  ASSERT_EQ(ha_.messages.size(), 1u);
  EXPECT_EQ(ha_.messages[0].second, (Bytes{1, 2, 3}));
}

TEST_F(RlpxConnTest, DisconnectDuringProtocolHandshakeReportsItsReason) {
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.Dial(DerivePublicKey(key_b_));
  RunFor(absl::Seconds(1));
  ASSERT_TRUE(raw.secure());
  raw.SendFrame(kDiscMsg, EncodeDisconnect(DisconnectReason::kQuitting));
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kQuitting);
  EXPECT_TRUE(hb_.info.remote_requested);
  // B's Hello went out before; nothing follows it (no echo).
  EXPECT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg}));
  EXPECT_TRUE(raw.closed);
  EXPECT_TRUE(raw.why.ok());  // EOF.
}

TEST_F(RlpxConnTest, LegacyBareDisconnectDuringProtocolHandshake) {
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.Dial(DerivePublicKey(key_b_));
  RunFor(absl::Seconds(1));
  raw.SendFrame(kDiscMsg, Bytes{0x04});  // The reason as a bare byte.
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_TRUE(hb_.info.remote_requested);
}

TEST_F(RlpxConnTest, BadFirstMessages) {
  struct Case {
    const char* name;
    uint64_t code;
    Bytes payload;
    DisconnectReason reason;
    absl::StatusCode detail;
  };
  Hello zero_id = MakeHello(key_a_, "zero");
  zero_id.id.fill(0);
  const std::vector<Case> cases = {
      {"not a hello", kPingMsg, EncodePing(), DisconnectReason::kProtocolError,
       absl::StatusCode::kInvalidArgument},
      {"undecodable hello", kHandshakeMsg, Bytes{0xc1, 0x80}, DisconnectReason::kProtocolError,
       absl::StatusCode::kInvalidArgument},
      {"too big", kHandshakeMsg, Bytes(kBaseProtocolMaxMsgSize + 1, 0),
       DisconnectReason::kProtocolError, absl::StatusCode::kInvalidArgument},
      {"too big disconnect", kDiscMsg, Bytes(kBaseProtocolMaxMsgSize + 1, 0),
       DisconnectReason::kProtocolError, absl::StatusCode::kInvalidArgument},
      {"zero id", kHandshakeMsg, EncodeHello(zero_id), DisconnectReason::kInvalidIdentity,
       absl::StatusCode::kAborted},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    hb_ = RecordingHandler(&loop_b_);
    MakePipe();
    AcceptB(MakeHello(key_b_, "node-b"));
    RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
    raw.Dial(DerivePublicKey(key_b_));
    RunFor(absl::Seconds(1));
    raw.SendFrame(c.code, c.payload);
    RunFor(absl::Seconds(1));
    EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
    EXPECT_EQ(hb_.info.reason, c.reason);
    EXPECT_FALSE(hb_.info.remote_requested);
    EXPECT_EQ(hb_.info.detail.code(), c.detail) << hb_.info.detail;
    EXPECT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg}));  // Nothing sent after.
    EXPECT_TRUE(raw.closed);
    b_.reset();
  }
}

TEST_F(RlpxConnTest, HelloWithSomeoneElsesIdIsUnexpectedIdentity) {
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.hello_on_connect = MakeHello(key_c_, "impostor");
  raw.Dial(DerivePublicKey(key_b_));
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kUnexpectedIdentity);
  EXPECT_FALSE(hb_.info.remote_requested);
  // As go-ethereum's SetupConn: this one is sent.
  ASSERT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg, kDiscMsg}));
  EXPECT_EQ(DecodeDisconnect(raw.received[1].msg.payload), DisconnectReason::kUnexpectedIdentity);
}

// --------------------------------------------------------------- messages

TEST_F(RlpxConnTest, MessagesBothWaysWithSnappy) {
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
  EXPECT_LT(b_->bytes_in() - in_b, 1000u);  // Compressed.
}

TEST_F(RlpxConnTest, NoSnappyWhenOneSideAnnouncesVersion4) {
  Connect(absl::Milliseconds(10), /*version_a=*/4, /*version_b=*/5);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.hello->version, 4u);
  const Bytes big(10000, 0x00);
  const uint64_t in_b = b_->bytes_in(), in_a = a_->bytes_in();
  ASSERT_TRUE(a_->Send(0x10, big).ok());
  ASSERT_TRUE(b_->Send(0x10, big).ok());
  RunFor(absl::Seconds(1));
  ASSERT_EQ(hb_.messages.size(), 1u);
  EXPECT_EQ(hb_.messages[0].second, big);
  ASSERT_EQ(ha_.messages.size(), 1u);
  EXPECT_EQ(ha_.messages[0].second, big);
  EXPECT_GT(b_->bytes_in() - in_b, 10000u);
  EXPECT_GT(a_->bytes_in() - in_a, 10000u);
}

TEST_F(RlpxConnTest, RawPeerAnnouncingVersion4GetsUncompressedFrames) {
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.hello_on_connect = MakeHello(key_a_, "old", 4);
  raw.Dial(DerivePublicKey(key_b_));
  RunFor(absl::Seconds(1));
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
  ASSERT_TRUE(b_->Send(0x10, Bytes(300, 0x61)).ok());
  raw.SendFrame(0x12, Bytes{7});  // Uncompressed, as v4 sends it.
  raw.SendFrame(kPingMsg, EncodePing());
  RunFor(absl::Seconds(1));
  EXPECT_TRUE(raw.read_error.ok()) << raw.read_error;
  ASSERT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg, 0x10, kPongMsg}));
  EXPECT_EQ(raw.received[1].msg.payload, Bytes(300, 0x61));
  EXPECT_EQ(raw.received[1].msg.wire_size, 300u);
  ASSERT_EQ(hb_.messages.size(), 1u);
  EXPECT_EQ(hb_.messages[0].first, 0x12u);
  EXPECT_EQ(hb_.messages[0].second, Bytes{7});
}

TEST_F(RlpxConnTest, UnknownBaseProtocolCodesAreIgnored) {
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.hello_on_connect = MakeHello(key_a_, "raw");
  raw.Dial(DerivePublicKey(key_b_));
  RunFor(absl::Seconds(1));
  raw.SendFrame(0x05, Bytes{0xc0});
  raw.SendFrame(kPongMsg, EncodePong());
  raw.SendFrame(kHandshakeMsg, EncodeHello(MakeHello(key_a_, "again")));
  raw.SendFrame(0x10, Bytes{1});
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello", "msg"}));
}

TEST_F(RlpxConnTest, SendBeforeRunningAndAfterClose) {
  ha_.at_enc = Answer::kHold;
  Connect();
  EXPECT_EQ(a_->Send(0x10, Bytes{1}),
            absl::FailedPreconditionError("rlpx: handshake not finished"));
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a_->Send(0x10, Bytes{1}).code(), absl::StatusCode::kFailedPrecondition);
  a_->Disconnect(DisconnectReason::kQuitting);
  EXPECT_EQ(a_->Send(0x10, Bytes{1}), absl::FailedPreconditionError("rlpx: connection closed"));
  a_->ContinueHandshake();  // Ignored after close.
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kQuitting);
}

// ----------------------------------------------------------------- timers

TEST_F(RlpxConnTest, SilentListenerTimesOutTheDialerAtFiveSeconds) {
  MakePipe();
  DialA(MakeHello(key_a_, "node-a"));
  RawPeer silent(&q_, std::move(conn_b_), key_b_, 9);
  silent.Start();  // Reads the auth, never answers.
  RunFor(absl::Seconds(10));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.closed_ns, 5 * kSec);
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(ha_.info.detail, absl::DeadlineExceededError("rlpx: handshake timeout (5s)"));
  EXPECT_TRUE(silent.closed);
  EXPECT_EQ(silent.closed_ns, 5 * kSec + 10 * kMs);
}

TEST_F(RlpxConnTest, SilentDialerTimesOutTheListenerAtFiveSeconds) {
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer silent(&q_, std::move(conn_a_), key_a_, 9);
  silent.Start();
  RunFor(absl::Seconds(10));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(hb_.closed_ns, 5 * kSec);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(hb_.info.detail.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(b_->bytes_out(), 0u);
}

TEST_F(RlpxConnTest, HandshakeDeadlineCoversTheCheckpointsAndTheHello) {
  // Held at the first checkpoint.
  hb_.at_enc = Answer::kHold;
  Connect();
  RunFor(absl::Seconds(10));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.closed_ns, 5 * kSec);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kNetworkError);
  // A's own deadline (it started at the same instant) fires first.
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(ha_.closed_ns, 5 * kSec);

  // A peer that finishes the encryption handshake but never sends a Hello.
  hb_ = RecordingHandler(&loop_b_);
  const int64_t t0 = q_.now_ns();
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.Dial(DerivePublicKey(key_b_));
  RunFor(absl::Seconds(10));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.closed_ns, t0 + 5 * kSec);
  EXPECT_EQ(hb_.info.detail.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg}));  // No Disconnect.

  // Held at the second checkpoint.
  ha_ = RecordingHandler(&loop_a_);
  hb_ = RecordingHandler(&loop_b_);
  hb_.at_hello = Answer::kHold;
  const int64_t t1 = q_.now_ns();
  Connect();
  RunFor(absl::Seconds(10));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello", "closed"}));
  EXPECT_EQ(hb_.closed_ns, t1 + 5 * kSec);
}

TEST_F(RlpxConnTest, PingsKeepAnIdleConnectionAliveForMinutes) {
  Connect(absl::ZeroDuration());
  RunUntil(0);  // With no latency, both are running at t = 0.
  ASSERT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
  const uint64_t out_a = a_->bytes_out(), out_b = b_->bytes_out();
  RunUntil(600 * kSec);
  EXPECT_EQ(ha_.closed, 0);
  EXPECT_EQ(hb_.closed, 0);
  // Each side pinged at 15, 30, ..., 600 s and answered the other's 40
  // pings; every Ping and Pong frame is 64 bytes on the wire.
  EXPECT_EQ(a_->bytes_out() - out_a, 80u * 64);
  EXPECT_EQ(b_->bytes_out() - out_b, 80u * 64);
  EXPECT_EQ(a_->bytes_in(), b_->bytes_out());
}

TEST_F(RlpxConnTest, SilentPeerHitsTheReadTimeoutAtThirtySeconds) {
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.hello_on_connect = MakeHello(key_a_, "mute");
  raw.Dial(DerivePublicKey(key_b_));
  RunFor(absl::Seconds(60));
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello", "closed"}));
  const int64_t running = hb_.hello_ns;  // B continued inside OnHello.
  EXPECT_EQ(running, 30 * kMs);
  EXPECT_EQ(hb_.closed_ns, running + 30 * kSec);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kReadTimeout);
  EXPECT_FALSE(hb_.info.remote_requested);
  EXPECT_EQ(hb_.info.detail, absl::DeadlineExceededError("rlpx: read timeout: no message for 30s"));
  // The peer saw B's Hello, a Ping at +15 s, then Disconnect(kReadTimeout).
  EXPECT_TRUE(raw.read_error.ok()) << raw.read_error;
  ASSERT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg, kPingMsg, kDiscMsg}));
  EXPECT_EQ(raw.received[1].ns, running + 15 * kSec + 10 * kMs);
  EXPECT_EQ(DecodeDisconnect(raw.received[2].msg.payload), DisconnectReason::kReadTimeout);
  EXPECT_TRUE(raw.closed);
}

TEST_F(RlpxConnTest, AnyMessageFromThePeerExtendsTheReadDeadline) {
  // The read deadline counts complete messages: a peer that keeps talking
  // (here: pinging every 20 s) stays; Pongs are answered.
  MakePipe(absl::ZeroDuration());
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.hello_on_connect = MakeHello(key_a_, "chatty");
  raw.Dial(DerivePublicKey(key_b_));
  for (int i = 1; i <= 6; ++i) {
    RunUntil(i * 20 * kSec);
    raw.SendFrame(kPingMsg, EncodePing());
  }
  RunUntil(121 * kSec);
  EXPECT_EQ(hb_.closed, 0);
  size_t pongs = 0, pings = 0;
  for (uint64_t c : raw.codes()) {
    pongs += c == kPongMsg;
    pings += c == kPingMsg;
  }
  EXPECT_EQ(pongs, 6u);
  EXPECT_EQ(pings, 8u);  // At 15, 30, ..., 120 s.
  // Silence from 120 s: the deadline is 150 s.
  RunUntil(200 * kSec);
  EXPECT_EQ(hb_.closed_ns, 150 * kSec);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kReadTimeout);
}

TEST_F(RlpxConnTest, ElidedKeepaliveSendsNothingOnAnIdleConnection) {
  opts_a_.elide_keepalive = opts_b_.elide_keepalive = true;
  Connect(absl::ZeroDuration());
  RunUntil(0);
  ASSERT_EQ(ha_.events, (std::vector<std::string>{"enc", "hello"}));
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
  const uint64_t out_a = a_->bytes_out(), out_b = b_->bytes_out();
  RunUntil(600 * kSec);
  EXPECT_EQ(ha_.closed, 0);
  EXPECT_EQ(hb_.closed, 0);
  EXPECT_EQ(a_->bytes_out(), out_a);
  EXPECT_EQ(b_->bytes_out(), out_b);
  // Messages and Disconnect work as usual after ten silent minutes.
  ASSERT_TRUE(a_->Send(0x10, Bytes{7}).ok());
  RunUntil(601 * kSec);
  ASSERT_EQ(hb_.messages.size(), 1u);
  EXPECT_EQ(hb_.messages[0].second, Bytes{7});
  b_->Disconnect(DisconnectReason::kTooManyPeers);
  RunUntil(602 * kSec);
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_TRUE(ha_.info.remote_requested);
}

TEST_F(RlpxConnTest, ElidedKeepaliveAnswersPingsAndArmsNoReadDeadline) {
  // A mute peer, as in SilentPeerHitsTheReadTimeoutAtThirtySeconds: with
  // the keepalive elided B neither pings it nor times it out, but answers
  // its Ping.
  opts_b_.elide_keepalive = true;
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.hello_on_connect = MakeHello(key_a_, "mute");
  raw.Dial(DerivePublicKey(key_b_));
  RunUntil(300 * kSec);
  raw.SendFrame(kPingMsg, EncodePing());
  RunUntil(600 * kSec);
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello"}));
  EXPECT_TRUE(raw.read_error.ok()) << raw.read_error;
  ASSERT_EQ(raw.codes(), (std::vector<uint64_t>{kHandshakeMsg, kPongMsg}));
  EXPECT_EQ(raw.received[1].ns, 300 * kSec + 20 * kMs);
  EXPECT_FALSE(raw.closed);
}

TEST_F(RlpxConnTest, ElidedKeepaliveOnOneSideKeepsTheOtherAlive) {
  // A pings as usual; B, eliding, only answers: B's Pongs meet A's read
  // deadline.
  opts_b_.elide_keepalive = true;
  Connect(absl::ZeroDuration());
  RunUntil(0);
  const uint64_t out_a = a_->bytes_out(), out_b = b_->bytes_out();
  RunUntil(600 * kSec);
  EXPECT_EQ(ha_.closed, 0);
  EXPECT_EQ(hb_.closed, 0);
  EXPECT_EQ(a_->bytes_out() - out_a, 40u * 64);  // Pings at 15, 30, ..., 600 s.
  EXPECT_EQ(b_->bytes_out() - out_b, 40u * 64);  // Their Pongs.
}

TEST_F(RlpxConnTest, StuckWritesEndTheConnectionAfterTwentySeconds) {
  ExpectStuckWriteEndsBothAtTwentyOneSeconds();
}

TEST_F(RlpxConnTest, ElidedKeepaliveKeepsTheWriteDeadline) {
  opts_a_.elide_keepalive = opts_b_.elide_keepalive = true;
  ExpectStuckWriteEndsBothAtTwentyOneSeconds();
}

TEST_F(RlpxConnTest, DisconnectThatCannotBeFlushedGivesUpAfterOneSecond) {
  bool stalled = false;
  MakePipe(absl::ZeroDuration());
  conn_a_ = std::make_unique<StallableConn>(std::move(conn_a_), &stalled);
  DialA(MakeHello(key_a_, "node-a"));
  AcceptB(MakeHello(key_b_, "node-b"));
  RunUntil(1 * kSec);
  stalled = true;
  a_->Disconnect(DisconnectReason::kQuitting);
  RunUntil(10 * kSec);
  EXPECT_EQ(ha_.closed_ns, 2 * kSec);
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kQuitting);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kNetworkError);  // Reset, no message.
}

// ----------------------------------------------------------------- errors

TEST_F(RlpxConnTest, GarbageInsteadOfAuthClosesTheConnection) {
  struct Case {
    const char* name;
    Bytes bytes;
    const char* detail_prefix;
  };
  Bytes big_prefix(300, 0xab);
  big_prefix[0] = 0xff;
  big_prefix[1] = 0xff;
  Bytes bad_ecies(2 + 300, 0x5a);
  bad_ecies[0] = 0x01;
  bad_ecies[1] = 0x2c;                              // 300.
  Bytes legacy_like(kLegacyAuthPacketBytes, 0x04);  // 0x04 0x04: then EIP-8 of 1028 bytes.
  legacy_like.resize(2 + 0x0404, 0x77);
  const std::vector<Case> cases = {
      {"size prefix too big", big_prefix, "rlpx: handshake packet too big"},
      {"undecryptable", bad_ecies, "ecies: "},
      {"legacy-looking", legacy_like, "ecies: "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    hb_ = RecordingHandler(&loop_b_);
    MakePipe();
    AcceptB(MakeHello(key_b_, "node-b"));
    RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
    raw.Start();
    raw.SendRaw(c.bytes);
    RunFor(absl::Seconds(1));
    EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
    EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
    EXPECT_EQ(hb_.info.detail.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(hb_.info.detail.message(), c.detail_prefix)) << hb_.info.detail;
    EXPECT_FALSE(b_->remote_key().has_value());
    EXPECT_EQ(b_->bytes_out(), 0u);
    EXPECT_TRUE(raw.closed);
    b_.reset();
  }
}

// EIP-8's Auth1 (legacy) and Auth2 (EIP-8), both to key B from key A, fed
// one byte per read: the stream buffering follows PacketSize's lower bounds
// (and the legacy trial decryption) to exactly one packet.
TEST_F(RlpxConnTest, PublishedAuthsAreReadFromAByteStream) {
  struct Case {
    const char* hex;
    bool legacy;
  };
  for (const Case& c : {Case{kAuth1, true}, Case{kAuth2, false}}) {
    SCOPED_TRACE(c.legacy ? "legacy" : "eip-8");
    hb_ = RecordingHandler(&loop_b_);
    hb_.at_enc = Answer::kHold;
    MakePipe();
    AcceptB(MakeHello(key_b_, "node-b"));
    RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
    raw.Start();
    const Bytes auth = HexOrDie(c.hex);
    for (uint8_t byte : auth) raw.SendRaw(Bytes{byte});
    RunFor(absl::Seconds(1));
    EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc"}));
    EXPECT_EQ(hb_.enc_remote, DerivePublicKey(key_a_));
    EXPECT_EQ(b_->bytes_in(), auth.size());
    if (c.legacy) {
      EXPECT_EQ(b_->bytes_out(), kLegacyAckPacketBytes);  // Answered in kind.
    } else {
      EXPECT_GT(b_->bytes_out(), kLegacyAckPacketBytes);
    }
    b_.reset();
  }
}

TEST_F(RlpxConnTest, FramesBufferedAtACheckpointAreBounded) {
  hb_.at_enc = Answer::kHold;
  MakePipe(absl::ZeroDuration());
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.Dial(DerivePublicKey(key_b_));
  RunUntil(0);
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc"}));
  // B does not read frames while it holds; its FrameReader holds the bytes
  // up to kMaxReadBufferBytes.
  const Bytes chunk(1 << 20, 0x00);
  size_t sent = 0;
  while (sent <= kMaxReadBufferBytes) {
    raw.SendRaw(chunk);
    sent += chunk.size();
  }
  RunUntil(0);
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
  EXPECT_EQ(hb_.info.detail.code(), absl::StatusCode::kResourceExhausted) << hb_.info.detail;
  EXPECT_TRUE(raw.closed);
}

TEST_F(RlpxConnTest, GarbageInsteadOfAckClosesTheDialer) {
  MakePipe();
  DialA(MakeHello(key_a_, "node-a"));
  RawPeer raw(&q_, std::move(conn_b_), key_b_, 9);
  raw.Start();
  Bytes junk(2 + 200, 0x33);
  junk[0] = 0x00;
  junk[1] = 200;
  raw.SendRaw(junk);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kProtocolError);
  EXPECT_EQ(ha_.closed_ns, 10 * kMs);
}

TEST_F(RlpxConnTest, DialingTheWrongKeyFailsAtTheListener) {
  // A believes it dials C, but B answers: B cannot decrypt the auth.
  MakePipe();
  a_ = RlpxConn::Dial(&loop_a_, std::move(conn_a_), &key_a_, DerivePublicKey(key_c_),
                      MakeHello(key_a_, "node-a"), &ent_a_, &ha_);
  AcceptB(MakeHello(key_b_, "node-b"));
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
  EXPECT_EQ(hb_.info.detail, absl::InvalidArgumentError("ecies: invalid message tag"));
  EXPECT_EQ(hb_.closed_ns, 10 * kMs);
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(ha_.info.detail, absl::UnavailableError("EOF"));
  EXPECT_EQ(ha_.closed_ns, 20 * kMs);
}

TEST_F(RlpxConnTest, TamperedFramesCloseWithProtocolError) {
  struct Case {
    const char* name;
    bool during_hello;
    size_t flip;
    const char* detail;
  };
  const std::vector<Case> cases = {
      {"header of the hello", true, 3, "rlpx: bad header MAC"},
      {"body of a message", false, 40, "rlpx: bad frame MAC"},
      {"header mac of a message", false, 20, "rlpx: bad header MAC"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    hb_ = RecordingHandler(&loop_b_);
    MakePipe();
    AcceptB(MakeHello(key_b_, "node-b"));
    RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
    raw.Dial(DerivePublicKey(key_b_));
    RunFor(absl::Seconds(1));
    if (c.during_hello) {
      raw.SendFrame(kHandshakeMsg, EncodeHello(MakeHello(key_a_, "raw")), c.flip);
    } else {
      raw.SendHello(MakeHello(key_a_, "raw"));
      RunFor(absl::Seconds(1));
      raw.SendFrame(0x10, Bytes(40, 0x42), c.flip);
    }
    RunFor(absl::Seconds(1));
    ASSERT_EQ(hb_.closed, 1);
    EXPECT_EQ(hb_.events.back(), "closed");
    EXPECT_EQ(hb_.info.reason, DisconnectReason::kProtocolError);
    EXPECT_EQ(hb_.info.detail, absl::DataLossError(c.detail));
    EXPECT_TRUE(hb_.messages.empty());
    EXPECT_TRUE(raw.closed);
    // Nothing is sent after a read error.
    EXPECT_EQ(raw.codes().back(), kHandshakeMsg);
    b_.reset();
  }
}

TEST_F(RlpxConnTest, InvalidDialDestinationKey) {
  MakePipe();
  a_ = RlpxConn::Dial(&loop_a_, std::move(conn_a_), &key_a_, PublicKey(),
                      MakeHello(key_a_, "node-a"), &ent_a_, &ha_);
  EXPECT_TRUE(ha_.events.empty());
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kInvalidIdentity);
  EXPECT_EQ(ha_.closed_ns, 0);
  EXPECT_EQ(a_->bytes_out(), 0u);
}

// ------------------------------------------------------------- disconnect

TEST_F(RlpxConnTest, RequestedDisconnectIsFlushedAndSeenAsRemoteRequested) {
  Connect();
  RunFor(absl::Seconds(1));
  const int64_t t = q_.now_ns();
  ASSERT_TRUE(a_->Send(0x10, Bytes{9}).ok());
  a_->Disconnect(DisconnectReason::kRequested);
  a_->Disconnect(DisconnectReason::kQuitting);  // Idempotent.
  EXPECT_EQ(ha_.closed, 0);                     // Posted.
  RunFor(absl::Seconds(1));
  EXPECT_EQ(ha_.closed, 1);
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kRequested);
  EXPECT_FALSE(ha_.info.remote_requested);
  EXPECT_EQ(ha_.closed_ns, t);
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello", "msg", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kRequested);
  EXPECT_TRUE(hb_.info.remote_requested);
  EXPECT_EQ(hb_.closed_ns, t + 10 * kMs);
  EXPECT_EQ(b_->Send(0x10, Bytes{1}).code(), absl::StatusCode::kFailedPrecondition);
  // The Disconnect frame was counted: what A wrote, B read.
  EXPECT_EQ(a_->bytes_out(), b_->bytes_in());
}

TEST_F(RlpxConnTest, NetworkErrorDisconnectSendsNothing) {
  Connect();
  RunFor(absl::Seconds(1));
  const uint64_t out = a_->bytes_out();
  a_->Disconnect(DisconnectReason::kNetworkError);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a_->bytes_out(), out);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(hb_.info.detail, absl::UnavailableError("EOF"));
  EXPECT_FALSE(hb_.info.remote_requested);
}

TEST_F(RlpxConnTest, DisconnectBeforeEncryptionSendsNothing) {
  Connect();
  const uint64_t out = a_->bytes_out();  // The auth.
  a_->Disconnect(DisconnectReason::kTooManyPeers);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a_->bytes_out(), out);
  EXPECT_EQ(ha_.events, (std::vector<std::string>{"closed"}));
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kTooManyPeers);
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kNetworkError);
}

TEST_F(RlpxConnTest, RemoteResetIsANetworkError) {
  MakePipe();
  AcceptB(MakeHello(key_b_, "node-b"));
  RawPeer raw(&q_, std::move(conn_a_), key_a_, 9);
  raw.hello_on_connect = MakeHello(key_a_, "raw");
  raw.Dial(DerivePublicKey(key_b_));
  RunFor(absl::Seconds(1));
  raw.Close(/*flush=*/false);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc", "hello", "closed"}));
  EXPECT_EQ(hb_.info.reason, DisconnectReason::kNetworkError);
  EXPECT_EQ(hb_.info.detail, absl::UnavailableError("connection reset by peer"));
}

// --------------------------------------------------------------- lifetime

TEST_F(RlpxConnTest, DestroyingMidHandshakeCallsNothingAfterwards) {
  hb_.at_enc = Answer::kHold;
  Connect();
  RunFor(absl::Seconds(1));
  ASSERT_EQ(hb_.events, (std::vector<std::string>{"enc"}));
  b_.reset();
  RunFor(absl::Seconds(60));
  EXPECT_EQ(hb_.events, (std::vector<std::string>{"enc"}));
  // A sees the reset.
  EXPECT_EQ(ha_.closed, 1);
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);

  // Right after creation, with the auth in flight both ways.
  ha_ = RecordingHandler(&loop_a_);
  hb_ = RecordingHandler(&loop_b_);
  Connect();
  a_.reset();
  b_.reset();
  RunFor(absl::Seconds(60));
  EXPECT_TRUE(ha_.events.empty());
  EXPECT_TRUE(hb_.events.empty());
  EXPECT_EQ(q_.pending(), 0u);  // No timers left behind.
}

TEST_F(RlpxConnTest, DestroyingInsideHandlerCallbacks) {
  // In OnClosed (the usual server reaction) and in OnMessage.
  ha_.owner = &a_;
  hb_.owner = &b_;
  Connect();
  RunFor(absl::Seconds(1));
  ASSERT_TRUE(a_->Send(0x10, Bytes{1}).ok());
  a_->Disconnect(DisconnectReason::kRequested);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(a_, nullptr);
  EXPECT_EQ(b_, nullptr);
  EXPECT_EQ(ha_.closed, 1);
  EXPECT_EQ(hb_.closed, 1);
  EXPECT_EQ(q_.pending(), 0u);
}

class DestroyOnMessage : public RecordingHandler {
 public:
  using RecordingHandler::RecordingHandler;
  void OnMessage(RlpxConn* c, uint64_t code, absl::Span<const uint8_t> payload) override {
    RecordingHandler::OnMessage(c, code, payload);
    victim->reset();
  }
  std::unique_ptr<RlpxConn>* victim = nullptr;
};

TEST_F(RlpxConnTest, DestroyingInsideOnMessageStopsDelivery) {
  DestroyOnMessage h(&loop_b_);
  h.victim = &b_;
  bool stalled = false;
  MakePipe(absl::ZeroDuration());
  auto stall = std::make_unique<StallableConn>(std::move(conn_a_), &stalled);
  StallableConn* stall_a = stall.get();
  conn_a_ = std::move(stall);
  DialA(MakeHello(key_a_, "node-a"));
  b_ = RlpxConn::Accept(&loop_b_, std::move(conn_b_), &key_b_, MakeHello(key_b_, "node-b"), &ent_b_,
                        &h);
  RunUntil(0);
  // Two messages in one read: the second must not be delivered.
  stalled = true;
  ASSERT_TRUE(a_->Send(0x10, Bytes{1}).ok());
  ASSERT_TRUE(a_->Send(0x10, Bytes{2}).ok());
  stall_a->Release();
  RunFor(absl::Seconds(1));
  EXPECT_EQ(b_, nullptr);
  EXPECT_EQ(h.messages.size(), 1u);
  EXPECT_EQ(h.closed, 0);
  EXPECT_EQ(ha_.info.reason, DisconnectReason::kNetworkError);
}

}  // namespace
}  // namespace p2p::rlpx
