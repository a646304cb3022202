// RlpxConn: go-ethereum's rlpxTransport (p2p/transport.go), the setup steps
// of Server.SetupConn (p2p/server.go) and the base-protocol half of Peer
// (p2p/peer.go: pingLoop, readLoop, handle) as one event-driven state
// machine.
//
// How a connection ends, and what the peer is told:
//
//   cause                                   CloseInfo.reason     Disconnect sent
//   Handler calls Disconnect(r)             r                    yes (*)
//   their Hello id != the key we know       kUnexpectedIdentity  yes (*)
//   no complete message for 30 s            kReadTimeout         yes (*)
//   their Disconnect (handshake or later)   their reason,        no
//                                           remote_requested
//   bad handshake packet (auth/ack)         kProtocolError       no (no keys)
//   bad frame: MAC, header, code, snappy,   kProtocolError       no
//     size limit, read buffer limit
//   bad first message: too big, not a       kProtocolError       no
//     Hello, undecodable Hello
//   Hello id not 64 bytes / all zero        kInvalidIdentity     no
//   invalid dial destination key            kInvalidIdentity     no (no keys)
//   EOF, reset or other transport error     kNetworkError        no
//   handshake deadline passed               kNetworkError        no
//   a write not flushed within 20 s         kNetworkError        no
//   (*) only once the encryption handshake has produced keys, and never for
//       kNetworkError.
//
// go-ethereum, for comparison: errors returned by a read (bad MAC, bad
// frame, bad Hello, i/o timeout, EOF) end the Peer with DiscNetworkError or,
// during setup, with an error that is not a DiscReason; either way nothing is
// sent. We keep "nothing is sent" for everything the peer sent us, but report
// a reason that says what went wrong (kProtocolError / kInvalidIdentity
// instead of a network error). Two deliberate differences on the wire: a read
// timeout sends Disconnect(kReadTimeout) (go-ethereum never uses that code);
// a Disconnect from the peer is not echoed back (go-ethereum's Peer.run sends
// the received reason back before closing).
//
// Modelled crypto (the simulator's mode, see rlpx_conn.h) adds one stage,
// kHandshakeCpu, between reading the modelled auth/ack and checkpoint 1,
// and swaps the codec; every other path is shared with the real mode. Its
// own failures, all while reading the first packet:
//   bad modelled auth/ack (size, magic,     kProtocolError       no (no keys)
//     key not a point), auth for another
//     key, ack from another key
//
// Timing follows go-ethereum's constants, with one tightening: the
// handshake deadline runs from creation until the addpeer checkpoint is
// passed (both handshakes and both checkpoints), where go-ethereum's
// per-message read/write deadlines (30 s / 20 s) replace its 5 s deadline
// once the protocol handshake starts reading.
#include "core/rlpx/rlpx_conn.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <variant>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/fifo.h"
#include "core/hex.h"
#include "core/prefetch.h"
#include "core/rlpx/frame.h"
#include "core/rlpx/handshake.h"
#include "core/rlpx/plain_codec.h"
#include "core/rlpx/secrets.h"
#include "core/weak_flag.h"

namespace p2p::rlpx {
namespace {

enum class Stage {
  kEncHandshake,    // Waiting for the auth (recipient) or ack (initiator).
  kHandshakeCpu,    // Modelled crypto only: the packet is read; spending the CPU time.
  kPostHandshake,   // Checkpoint 1: waiting for the handler.
  kProtoHandshake,  // Our Hello is sent; reading theirs.
  kAddPeer,         // Checkpoint 2: waiting for the handler.
  kRunning,
  kClosing,  // Conn::Close called (or the transport ended); OnClosed pending.
  kClosed,   // OnClosed ran.
};

// A write handed to the Conn that had not been flushed at the time:
// bytes up to `end` (counted over the connection's life) must be gone by
// `deadline`.
struct WriteDeadline {
  uint64_t end;
  MonoTime deadline;
};

// The framing in use once the encryption handshake is done: the RLPx
// FrameCodec, or the plain one of the modelled mode. A variant rather than a
// virtual interface: the real path pays one predictable branch per call on
// top of the AES and Keccak work. The FrameCodec (~540 bytes of cipher and
// MAC state) lives behind a pointer so that a modelled connection, which a
// large simulation holds hundreds of thousands of, carries only the plain
// codec.
class Codec {
 public:
  explicit Codec(FrameCodec frames) : v_(std::make_unique<FrameCodec>(std::move(frames))) {}
  explicit Codec(PlainCodec plain) : v_(std::move(plain)) {}

  absl::Status Feed(absl::Span<const uint8_t> bytes) {
    if (auto* f = std::get_if<Frames>(&v_)) return (*f)->Feed(bytes);
    return std::get<PlainCodec>(v_).Feed(bytes);
  }
  absl::StatusOr<std::optional<Message>> Next() {
    if (auto* f = std::get_if<Frames>(&v_)) return (*f)->Next();
    return std::get<PlainCodec>(v_).Next();
  }
  absl::Status WriteMessage(uint64_t code, absl::Span<const uint8_t> payload,
                            std::vector<uint8_t>& out) {
    if (auto* f = std::get_if<Frames>(&v_)) return (*f)->WriteMessage(code, payload, out);
    return std::get<PlainCodec>(v_).WriteMessage(code, payload, out);
  }
  void SetSnappy(bool enabled) {
    if (auto* f = std::get_if<Frames>(&v_)) {
      (*f)->SetSnappy(enabled);
    } else {
      std::get<PlainCodec>(v_).SetSnappy(enabled);
    }
  }

 private:
  using Frames = std::unique_ptr<FrameCodec>;
  std::variant<Frames, PlainCodec> v_;
};

std::unique_ptr<Handshake> MakeHandshake(bool modelled, const PrivateKey* local_key,
                                         const PublicKey* dial_dest, Entropy* entropy) {
  if (modelled) return nullptr;
  if (dial_dest != nullptr) {
    return std::make_unique<Handshake>(Handshake::Initiator(*local_key, *dial_dest, *entropy));
  }
  return std::make_unique<Handshake>(Handshake::Recipient(*local_key, *entropy));
}

// The first bytes of a key's hex, for error messages.
std::string KeyPrefix(absl::Span<const uint8_t> key) { return HexEncode(key.first(8)) + "..."; }

class RlpxConnImpl;

// Tells a method that calls out (a handler may destroy the connection)
// whether its RlpxConnImpl still exists, like a WeakFlag::Ref, but the
// flag lives on the caller's stack: checking it touches no heap block. The
// checks of one connection nest (they are on one stack), so each keeps the
// enclosing one and the destructor marks them all.
class DestroyedCheck {
 public:
  explicit DestroyedCheck(RlpxConnImpl* conn);
  ~DestroyedCheck();
  DestroyedCheck(const DestroyedCheck&) = delete;
  DestroyedCheck& operator=(const DestroyedCheck&) = delete;
  explicit operator bool() const { return destroyed_; }

 private:
  friend class RlpxConnImpl;
  RlpxConnImpl* conn_;
  DestroyedCheck* outer_;
  bool destroyed_ = false;
};

class RlpxConnImpl final : public RlpxConn {
 public:
  RlpxConnImpl(EventLoop* loop, std::unique_ptr<Conn> conn, const PrivateKey* local_key,
               const PublicKey* dial_dest, Hello our_hello, Entropy* entropy, Handler* handler,
               RlpxConnOptions options)
      : loop_(loop),
        conn_(std::move(conn)),
        inbound_(dial_dest == nullptr),
        options_(options),
        running_alarm_(loop, [this] { OnRunningAlarm(); }),
        write_alarm_(loop, [this] { OnWriteTimer(); }),
        handler_(handler),
        our_version_(our_hello.version),
        our_hello_(std::make_unique<const Hello>(std::move(our_hello))),
        hs_(MakeHandshake(options.modelled_crypto, local_key, dial_dest, entropy)),
        stage_alarm_(loop, [this] { OnStageAlarm(); }),
        handshake_cpu_alarm_(loop, [this] { OnModelledHandshakeCpuDone(); }) {
    ABSL_RAW_CHECK(loop_ != nullptr && conn_ != nullptr && handler_ != nullptr,
                   "RlpxConn: null loop, conn or handler");
    if (dial_dest != nullptr) dial_dest_ = *dial_dest;
  }

  ~RlpxConnImpl() override {
    for (DestroyedCheck* c = destroyed_checks_; c != nullptr; c = c->outer_) c->destroyed_ = true;
  }

  void Begin() {
    stage_alarm_.Schedule(loop_->Now() + options_.handshake_timeout);
    // No liveness check: conn_ is ours, and destroying it (with *this)
    // cancels its callbacks (core/net/transport.h). A WeakFlag check here
    // would read its heap block, a cache miss per delivery at 10^5 conns.
    conn_->Start(
        [this](absl::Span<const uint8_t> data) {
          PrefetchHot();
          OnRead(data);
        },
        [this](const absl::Status& why) { OnConnClosed(why); });
    if (inbound_) return;
    if (options_.modelled_crypto) {
      SendModelledAuth();
      return;
    }
    absl::StatusOr<std::vector<uint8_t>> auth = hs_->MakeAuth();
    if (!auth.ok()) {
      Terminate(DisconnectReason::kInvalidIdentity, auth.status(), false, false);
      return;
    }
    WriteBytes(*auth);
  }

  void ContinueHandshake() override {
    if (stage_ == Stage::kPostHandshake) {
      stage_ = Stage::kProtoHandshake;
      // Our Hello goes out while theirs is read (doProtoHandshake).
      absl::Status s = WriteFrame(kHandshakeMsg, EncodeHello(*our_hello_));
      our_hello_.reset();  // Only its version is needed from here on.
      if (!s.ok()) {
        Terminate(DisconnectReason::kProtocolError, s, false, false);
        return;
      }
      PostProcessFrames();
    } else if (stage_ == Stage::kAddPeer) {
      stage_ = Stage::kRunning;
      stage_alarm_.Stop();
      if (!options_.elide_keepalive) {
        last_message_ = loop_->Now();
        next_ping_ = loop_->Now() + options_.ping_interval;
        ScheduleRunningAlarm();
      }
      PostProcessFrames();
    }
    // Anywhere else (no checkpoint pending, or closing) this is a no-op.
  }

  absl::Status Send(uint64_t code, absl::Span<const uint8_t> payload) override {
    if (stage_ == Stage::kClosing || stage_ == Stage::kClosed) {
      return absl::FailedPreconditionError("rlpx: connection closed");
    }
    if (stage_ != Stage::kRunning) {
      return absl::FailedPreconditionError("rlpx: handshake not finished");
    }
    if (code < kBaseProtocolLength) {
      return absl::InvalidArgumentError(
          absl::StrFormat("rlpx: message code %#x belongs to the base protocol", code));
    }
    return WriteFrame(code, payload);
  }

  void Disconnect(DisconnectReason reason) override {
    Terminate(reason, DisconnectError(reason), false, true);
  }

  bool inbound() const override { return inbound_; }
  std::optional<PublicKey> remote_key() const override { return remote_key_; }
  const std::optional<Hello>& remote_hello() const override { return remote_hello_; }
  Endpoint remote_endpoint() const override { return conn_->RemoteEndpoint(); }
  uint64_t bytes_in() const override { return bytes_in_; }
  uint64_t bytes_out() const override { return bytes_out_; }

 private:
  // --- Reading -------------------------------------------------------------

  void OnRead(absl::Span<const uint8_t> data) {
    bytes_in_ += data.size();
    switch (stage_) {
      case Stage::kEncHandshake:
        if (options_.modelled_crypto) {
          OnModelledHandshakeBytes(data);
        } else {
          OnHandshakeBytes(data);
        }
        return;
      case Stage::kHandshakeCpu:
        BufferDuringHandshakeCpu(data);
        return;
      case Stage::kPostHandshake:
      case Stage::kProtoHandshake:
      case Stage::kAddPeer:
      case Stage::kRunning:
        FeedFrames(data);
        return;
      case Stage::kClosing:
      case Stage::kClosed:
        return;
    }
  }

  // Buffers exactly one handshake packet (at most 2 + kMaxHandshakePacket
  // bytes), asking PacketSize how much is needed; bytes after it are frames.
  void OnHandshakeBytes(absl::Span<const uint8_t> data) {
    size_t need = 0;
    for (;;) {
      absl::StatusOr<size_t> size = hs_->PacketSize(hs_buf_);
      if (!size.ok()) {
        Terminate(DisconnectReason::kProtocolError, size.status(), false, false);
        return;
      }
      need = *size;
      if (need <= hs_buf_.size()) break;  // Exactly one packet (see PacketSize).
      if (data.empty()) return;           // Wait for more.
      const size_t take = std::min(need - hs_buf_.size(), data.size());
      hs_buf_.insert(hs_buf_.end(), data.begin(), data.begin() + take);
      data.remove_prefix(take);
    }
    std::vector<uint8_t> packet = std::move(hs_buf_);
    hs_buf_.clear();
    hs_buf_.shrink_to_fit();

    std::optional<Secrets> secrets;
    if (inbound_) {
      absl::Status s = hs_->ReadAuth(packet);
      if (!s.ok()) {
        Terminate(DisconnectReason::kProtocolError, s, false, false);
        return;
      }
      absl::StatusOr<Handshake::Ack> ack = hs_->MakeAck();
      if (!ack.ok()) {
        Terminate(DisconnectReason::kProtocolError, ack.status(), false, false);
        return;
      }
      WriteBytes(ack->packet);
      secrets = std::move(ack->secrets);
    } else {
      absl::StatusOr<Secrets> s = hs_->ReadAck(packet);
      if (!s.ok()) {
        Terminate(DisconnectReason::kProtocolError, s.status(), false, false);
        return;
      }
      secrets = std::move(*s);
    }
    hs_.reset();

    absl::StatusOr<FrameCodec> codec = FrameCodec::Create(*secrets);
    if (!codec.ok()) {
      Terminate(DisconnectReason::kProtocolError, codec.status(), false, false);
      return;
    }
    codec_.emplace(std::move(*codec));
    remote_key_ = secrets->remote_static;
    stage_ = Stage::kPostHandshake;
    // Anything after the packet is the start of the framed stream; it is
    // read once the checkpoint is passed.
    if (!data.empty()) FeedFrames(data);
    if (stage_ != Stage::kPostHandshake) return;
    const PublicKey remote = *remote_key_;
    handler_->OnEncryptionHandshake(this, remote);  // May destroy *this.
  }

  // --- Modelled handshake ----------------------------------------------------

  // Our static key on the wire: the Hello's id (see rlpx_conn.h).
  const ModelledKey& ModelledLocalKey() const { return our_hello_->id; }

  void SendModelledAuth() {
    // The real MakeAuth fails on a destination that is not a point; a
    // PublicKey that is not a point is the zero placeholder.
    if (dial_dest_->IsZero()) {
      Terminate(DisconnectReason::kInvalidIdentity,
                absl::InvalidArgumentError(
                    "rlpx: remote static key: ECDH: public key is not a point on the secp256k1 "
                    "curve"),
                false, false);
      return;
    }
    WriteBytes(EncodeModelledAuth(ModelledLocalKey(), dial_dest_->bytes()));
  }

  // As OnHandshakeBytes: buffers exactly one modelled packet, checks it, and
  // starts spending the handshake's CPU time. Bytes after the packet are
  // frames, kept until that time is spent.
  void OnModelledHandshakeBytes(absl::Span<const uint8_t> data) {
    const ModelledPacket kind = inbound_ ? ModelledPacket::kAuth : ModelledPacket::kAck;
    for (;;) {
      absl::StatusOr<size_t> size = ModelledPacketSize(kind, hs_buf_);
      if (!size.ok()) {
        Terminate(DisconnectReason::kProtocolError, size.status(), false, false);
        return;
      }
      const size_t need = *size;
      if (need <= hs_buf_.size()) break;
      if (data.empty()) return;
      const size_t take = std::min(need - hs_buf_.size(), data.size());
      hs_buf_.insert(hs_buf_.end(), data.begin(), data.begin() + take);
      data.remove_prefix(take);
    }
    std::vector<uint8_t> packet = std::move(hs_buf_);
    hs_buf_.clear();

    absl::Status s = inbound_ ? ReadModelledAuth(packet) : ReadModelledAck(packet);
    if (!s.ok()) {
      Terminate(DisconnectReason::kProtocolError, std::move(s), false, false);
      return;
    }
    stage_ = Stage::kHandshakeCpu;
    handshake_cpu_alarm_.Schedule(loop_->Now() + options_.modelled_handshake_cpu);
    BufferDuringHandshakeCpu(data);
  }

  // Sets modelled_remote_ from a well-formed auth addressed to us.
  absl::Status ReadModelledAuth(absl::Span<const uint8_t> packet) {
    absl::StatusOr<ModelledAuth> auth = DecodeModelledAuth(packet);
    if (!auth.ok()) return auth.status();
    if (auth->recipient_key != ModelledLocalKey()) {
      return absl::InvalidArgumentError(absl::StrCat("rlpx: modelled auth is for node key ",
                                                     KeyPrefix(auth->recipient_key), ", ours is ",
                                                     KeyPrefix(ModelledLocalKey())));
    }
    absl::StatusOr<PublicKey> initiator = PublicKey::Parse(auth->initiator_key);
    if (!initiator.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("rlpx: modelled auth: initiator key: ", initiator.status().message()));
    }
    modelled_remote_ = *initiator;
    return absl::OkStatus();
  }

  // Sets modelled_remote_ from a well-formed ack by the node we dialed.
  absl::Status ReadModelledAck(absl::Span<const uint8_t> packet) {
    absl::StatusOr<ModelledKey> key = DecodeModelledAck(packet);
    if (!key.ok()) return key.status();
    if (*key != dial_dest_->bytes()) {
      return absl::InvalidArgumentError(absl::StrCat("rlpx: modelled ack from node key ",
                                                     KeyPrefix(*key), ", dialed ",
                                                     KeyPrefix(dial_dest_->bytes())));
    }
    modelled_remote_ = *dial_dest_;
    return absl::OkStatus();
  }

  // Frames arriving while the CPU time is spent wait in hs_buf_, bounded as
  // the codec would bound them.
  void BufferDuringHandshakeCpu(absl::Span<const uint8_t> data) {
    if (data.size() > kMaxReadBufferBytes - hs_buf_.size()) {
      Terminate(DisconnectReason::kProtocolError,
                absl::ResourceExhaustedError(
                    absl::StrCat("rlpx: read buffer limit ", kMaxReadBufferBytes, " exceeded (",
                                 hs_buf_.size(), " bytes buffered, ", data.size(), " more fed)")),
                false, false);
      return;
    }
    hs_buf_.insert(hs_buf_.end(), data.begin(), data.end());
  }

  // The modelled counterpart of the end of OnHandshakeBytes.
  void OnModelledHandshakeCpuDone() {
    if (stage_ != Stage::kHandshakeCpu) return;
    if (inbound_) WriteBytes(EncodeModelledAck(ModelledLocalKey()));
    absl::StatusOr<PlainCodec> codec = PlainCodec::Create();
    ABSL_RAW_CHECK(codec.ok(), "PlainCodec::Create rejected the default options");
    codec_.emplace(std::move(*codec));
    remote_key_ = modelled_remote_;
    stage_ = Stage::kPostHandshake;
    std::vector<uint8_t> early = std::move(hs_buf_);
    hs_buf_.clear();
    hs_buf_.shrink_to_fit();
    if (!early.empty()) FeedFrames(early);
    if (stage_ != Stage::kPostHandshake) return;
    const PublicKey remote = *remote_key_;
    handler_->OnEncryptionHandshake(this, remote);  // May destroy *this.
  }

  // --- Frames ----------------------------------------------------------------

  void FeedFrames(absl::Span<const uint8_t> data) {
    absl::Status s = codec_->Feed(data);
    if (!s.ok()) {
      Terminate(DisconnectReason::kProtocolError, s, false, false);
      return;
    }
    if (stage_ == Stage::kProtoHandshake || stage_ == Stage::kRunning) ProcessFrames();
  }

  void PostProcessFrames() {
    loop_->Post([this, alive = alive_.Weak()] {
      if (alive) ProcessFrames();
    });
  }

  // Reads complete messages while in a reading stage. At a checkpoint,
  // decoded frames wait in the FrameReader (bounded by its buffer limit).
  void ProcessFrames() {
    DestroyedCheck destroyed(this);
    while (stage_ == Stage::kProtoHandshake || stage_ == Stage::kRunning) {
      absl::StatusOr<std::optional<Message>> next = codec_->Next();
      if (!next.ok()) {
        Terminate(DisconnectReason::kProtocolError, next.status(), false, false);
        return;
      }
      if (!next->has_value()) break;
      Message msg = std::move(**next);
      if (stage_ == Stage::kProtoHandshake) {
        OnFirstMessage(msg);
      } else {
        OnRunningMessage(msg);
      }
      if (destroyed) return;
    }
    // The transport ended while a checkpoint was pending; what it delivered
    // before has now been read.
    if (conn_ended_ && (stage_ == Stage::kProtoHandshake || stage_ == Stage::kRunning)) {
      Terminate(DisconnectReason::kNetworkError, TransportError(conn_end_status_), false, false);
    }
  }

  // go-ethereum readProtocolHandshake plus SetupConn's identity check.
  void OnFirstMessage(const Message& msg) {
    if (msg.code == kDiscMsg && msg.payload.size() <= kBaseProtocolMaxMsgSize) {
      const DisconnectReason reason = DecodeDisconnect(msg.payload);
      Terminate(reason, DisconnectError(reason), true, false);
      return;
    }
    absl::StatusOr<Hello> hello = ReadProtocolHandshake(msg.code, msg.payload);
    if (!hello.ok()) {
      const DisconnectReason reason =
          DisconnectReasonFromStatus(hello.status()).value_or(DisconnectReason::kProtocolError);
      Terminate(reason, hello.status(), false, false);
      return;
    }
    // As doProtoHandshake, snappy is switched on before SetupConn's
    // identity check, so a Disconnect for it is already compressed.
    codec_->SetSnappy(our_version_ >= kSnappyProtocolVersion &&
                      hello->version >= kSnappyProtocolVersion);
    if (hello->id != remote_key_->bytes()) {
      Terminate(DisconnectReason::kUnexpectedIdentity,
                DisconnectError(DisconnectReason::kUnexpectedIdentity), false, true);
      return;
    }
    remote_hello_ = std::move(*hello);
    stage_ = Stage::kAddPeer;
    const Hello copy = *remote_hello_;
    handler_->OnHello(this, copy);  // May destroy *this.
  }

  // go-ethereum Peer.handle.
  void OnRunningMessage(const Message& msg) {
    last_message_ = loop_->Now();
    switch (msg.code) {
      case kPingMsg:
        WriteFrame(kPongMsg, EncodePong()).IgnoreError();  // Tiny: cannot fail.
        return;
      case kDiscMsg: {
        const DisconnectReason reason = DecodeDisconnect(msg.payload);
        Terminate(reason, DisconnectError(reason), true, false);
        return;
      }
      default:
        break;
    }
    if (msg.code < kBaseProtocolLength) return;        // Pong and unknown base codes: ignored.
    handler_->OnMessage(this, msg.code, msg.payload);  // May destroy *this.
  }

  // --- Writing -------------------------------------------------------------

  absl::Status WriteFrame(uint64_t code, absl::Span<const uint8_t> payload) {
    std::vector<uint8_t> out;
    absl::Status s = codec_->WriteMessage(code, payload, out);
    if (!s.ok()) return s;
    WriteBytes(out);
    return absl::OkStatus();
  }

  // Hands bytes to the Conn and tracks how long they stay unflushed.
  void WriteBytes(absl::Span<const uint8_t> bytes) {
    conn_->Write(bytes);
    bytes_out_ += bytes.size();
    if (stage_ == Stage::kClosing || stage_ == Stage::kClosed) return;
    if (conn_->PendingWriteBytes() == 0) {
      if (!write_deadlines_.empty()) {  // Else the alarm is idle: skip its line.
        write_deadlines_.clear();
        write_alarm_.Stop();
      }
      return;
    }
    const MonoTime deadline = loop_->Now() + options_.frame_write_timeout;
    if (!write_deadlines_.empty() && write_deadlines_.back().deadline == deadline) {
      write_deadlines_.back().end = bytes_out_;
    } else {
      write_deadlines_.push_back({bytes_out_, deadline});
    }
    write_alarm_.Schedule(write_deadlines_.front().deadline);
  }

  // --- Timers --------------------------------------------------------------

  void OnHandshakeTimeout() {
    Terminate(
        DisconnectReason::kNetworkError,
        absl::DeadlineExceededError(absl::StrCat(
            "rlpx: handshake timeout (", absl::FormatDuration(options_.handshake_timeout), ")")),
        false, false);
  }

  // Before kRunning the stage alarm is the handshake deadline; in kClosing
  // it is the disconnect write deadline.
  void OnStageAlarm() {
    if (stage_ == Stage::kClosing) {
      OnDisconnectTimer();
    } else if (stage_ != Stage::kClosed) {
      OnHandshakeTimeout();
    }
  }

  // Prefetches the members a keepalive reads (the first ones) at once.
  void PrefetchHot() const { PrefetchRange(this, &write_alarm_ + 1); }

  // kRunning has one alarm for go-ethereum's pingLoop (a Ping every
  // ping_interval) and the read deadline (no message for frame_read_timeout),
  // due at whichever comes first. Messages only move the read deadline
  // later, so arriving ones reschedule nothing: the alarm, when it fires,
  // finds the deadline moved and re-arms. With the peer pinging every 15 s
  // against a 30 s deadline it fires at our ping times only.
  void ScheduleRunningAlarm() {
    running_alarm_.Schedule(std::min(next_ping_, last_message_ + options_.frame_read_timeout));
  }

  void OnRunningAlarm() {
    PrefetchHot();
    if (stage_ != Stage::kRunning) return;
    const MonoTime now = loop_->Now();
    if (now >= last_message_ + options_.frame_read_timeout) {
      Terminate(DisconnectReason::kReadTimeout,
                absl::DeadlineExceededError(
                    absl::StrCat("rlpx: read timeout: no message for ",
                                 absl::FormatDuration(options_.frame_read_timeout))),
                false, true);
      return;
    }
    if (now >= next_ping_) {
      WriteFrame(kPingMsg, EncodePing()).IgnoreError();  // Tiny: cannot fail.
      next_ping_ = now + options_.ping_interval;
    }
    ScheduleRunningAlarm();
  }

  void OnWriteTimer() {
    if (stage_ == Stage::kClosing || stage_ == Stage::kClosed) return;
    const uint64_t flushed = bytes_out_ - conn_->PendingWriteBytes();
    while (!write_deadlines_.empty() && write_deadlines_.front().end <= flushed) {
      write_deadlines_.pop_front();
    }
    if (write_deadlines_.empty()) return;
    if (loop_->Now() < write_deadlines_.front().deadline) {
      write_alarm_.Schedule(write_deadlines_.front().deadline);
      return;
    }
    // Flushing is hopeless: reset instead of waiting for the Disconnect
    // timeout.
    Terminate(DisconnectReason::kNetworkError,
              absl::DeadlineExceededError(absl::StrCat(
                  "rlpx: write timeout: ", conn_->PendingWriteBytes(), " bytes not sent within ",
                  absl::FormatDuration(options_.frame_write_timeout))),
              false, false, /*flush=*/false);
  }

  void OnDisconnectTimer() {
    if (stage_ != Stage::kClosing || conn_ended_) return;
    conn_->Close(DisconnectError(close_info_.reason), /*flush=*/false);
  }

  // --- Ending --------------------------------------------------------------

  static absl::Status TransportError(const absl::Status& why) {
    return why.ok() ? absl::UnavailableError("EOF") : why;
  }

  void OnConnClosed(const absl::Status& why) {
    conn_ended_ = true;
    conn_end_status_ = why;
    switch (stage_) {
      case Stage::kClosed:
        return;
      case Stage::kClosing:
        Finish();
        return;
      case Stage::kHandshakeCpu:
        // The CPU time is spent as if the node had been busy computing: the
        // end is handled after it, as at the checkpoint that follows.
      case Stage::kPostHandshake:
      case Stage::kAddPeer:
        // The handler owes us an answer (bounded by the handshake
        // deadline); frames read before the end (e.g. their Disconnect) are
        // processed once it is given.
        return;
      case Stage::kEncHandshake:
      case Stage::kProtoHandshake:
      case Stage::kRunning:
        Terminate(DisconnectReason::kNetworkError, TransportError(why), false, false);
        return;
    }
  }

  // Starts ending the connection; OnClosed follows (posted). `send`: write
  // a Disconnect first (skipped without keys and for kNetworkError).
  // `flush`: let queued bytes go first, for at most disconnect_write_timeout.
  void Terminate(DisconnectReason reason, absl::Status detail, bool remote_requested, bool send,
                 bool flush = true) {
    if (stage_ == Stage::kClosing || stage_ == Stage::kClosed) return;
    stage_ = Stage::kClosing;
    close_info_ = CloseInfo{reason, remote_requested, std::move(detail)};
    stage_alarm_.Stop();
    handshake_cpu_alarm_.Stop();
    running_alarm_.Stop();
    write_alarm_.Stop();
    write_deadlines_.clear();
    if (conn_ended_) {
      loop_->Post([this, alive = alive_.Weak()] {
        if (alive) Finish();
      });
      return;
    }
    if (send && codec_.has_value() && reason != DisconnectReason::kNetworkError) {
      WriteFrame(kDiscMsg, EncodeDisconnect(reason)).IgnoreError();  // Tiny: cannot fail.
    }
    // The Conn calls back (posted) once closed; OnConnClosed then finishes.
    conn_->Close(DisconnectError(reason), flush);
    if (flush && !conn_ended_) {
      stage_alarm_.Schedule(loop_->Now() + options_.disconnect_write_timeout);
    }
  }

  void Finish() {
    if (stage_ == Stage::kClosed) return;
    stage_ = Stage::kClosed;
    stage_alarm_.Stop();
    const CloseInfo info = close_info_;
    handler_->OnClosed(this, info);  // May destroy *this.
  }

  // First what a keepalive message or ping timer reads in kRunning, kept
  // together: a simulation holds 10^5 connections, and every cache line
  // of one that an event touches is a miss.
  EventLoop* loop_;
  std::unique_ptr<Conn> conn_;
  Stage stage_ = Stage::kEncHandshake;
  const bool inbound_;
  bool conn_ended_ = false;  // The Conn's close callback ran.
  MonoTime last_message_;    // kRunning: when the last message arrived.
  MonoTime next_ping_;       // kRunning: when our next Ping is due.
  uint64_t bytes_in_ = 0;
  uint64_t bytes_out_ = 0;
  Fifo<WriteDeadline> write_deadlines_;  // Non-empty while write_alarm_ is pending.
  const RlpxConnOptions options_;
  std::optional<Codec> codec_;
  Alarm running_alarm_;  // Ping and read deadline (ScheduleRunningAlarm).
  Alarm write_alarm_;
  friend class DestroyedCheck;
  // Innermost live DestroyedCheck on the stack, or null.
  DestroyedCheck* destroyed_checks_ = nullptr;
  Handler* handler_;

  const uint64_t our_version_;
  // Until our Hello is sent (the id is the modelled handshake's key).
  std::unique_ptr<const Hello> our_hello_;
  // Until the encryption handshake is done; on the heap so that the
  // connection does not carry it afterwards.
  std::unique_ptr<Handshake> hs_;
  // The handshake packet being received; in modelled mode, then the frames
  // that arrive during kHandshakeCpu.
  std::vector<uint8_t> hs_buf_;
  std::optional<PublicKey> dial_dest_;        // Outbound only.
  std::optional<PublicKey> modelled_remote_;  // Modelled: known during kHandshakeCpu.
  std::optional<PublicKey> remote_key_;
  std::optional<Hello> remote_hello_;
  CloseInfo close_info_{DisconnectReason::kInvalid, false, absl::OkStatus()};
  absl::Status conn_end_status_;
  Alarm stage_alarm_;          // Handshake deadline, then disconnect deadline.
  Alarm handshake_cpu_alarm_;  // Modelled crypto only.
  WeakFlag alive_;             // Last: dies first.
};

DestroyedCheck::DestroyedCheck(RlpxConnImpl* conn)
    : conn_(conn), outer_(std::exchange(conn->destroyed_checks_, this)) {}

DestroyedCheck::~DestroyedCheck() {
  if (!destroyed_) conn_->destroyed_checks_ = outer_;
}

}  // namespace

std::unique_ptr<RlpxConn> RlpxConn::Dial(EventLoop* loop, std::unique_ptr<Conn> conn,
                                         const PrivateKey* local_key, const PublicKey& remote,
                                         Hello our_hello, Entropy* entropy, Handler* handler,
                                         RlpxConnOptions options) {
  auto c = std::make_unique<RlpxConnImpl>(loop, std::move(conn), local_key, &remote,
                                          std::move(our_hello), entropy, handler, options);
  c->Begin();
  return c;
}

std::unique_ptr<RlpxConn> RlpxConn::Accept(EventLoop* loop, std::unique_ptr<Conn> conn,
                                           const PrivateKey* local_key, Hello our_hello,
                                           Entropy* entropy, Handler* handler,
                                           RlpxConnOptions options) {
  auto c = std::make_unique<RlpxConnImpl>(loop, std::move(conn), local_key, nullptr,
                                          std::move(our_hello), entropy, handler, options);
  c->Begin();
  return c;
}

}  // namespace p2p::rlpx
