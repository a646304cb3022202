// One RLPx connection over a transport Conn, on one EventLoop: the
// encryption handshake, the p2p protocol handshake (Hello), then framed
// messages with the base protocol (Ping/Pong/Disconnect) handled here. This
// is go-ethereum's rlpx transport plus the base-protocol part of Peer, in
// event-loop form, so the server and the simulator drive the same code.
//
// Stages (go-ethereum's SetupConn with its two checkpoints):
//   1. encryption handshake (auth/ack), bounded by handshake_timeout;
//   2. Handler::OnEncryptionHandshake(remote key): the server's
//      "posthandshake" checkpoint. The handler answers later (or at once)
//      with ContinueHandshake() or Disconnect(reason);
//   3. protocol handshake: our Hello is sent while theirs is read (also
//      bounded by handshake_timeout; a Disconnect received here ends the
//      connection with its reason; Hello > 2048 bytes or a bad identity is
//      rejected); snappy is enabled when both sides announce version >= 5;
//   4. Handler::OnHello(their hello): the "addpeer" checkpoint; the handler
//      calls ContinueHandshake() or Disconnect(reason);
//   5. running: OnMessage for codes >= 0x10 (sub-protocols); Ping is
//      answered with Pong; we Ping every ping_interval; a read silence longer
//      than frame_read_timeout ends it with DiscReadTimeout; a write that
//      cannot be flushed within frame_write_timeout ends it with a network
//      error.
// Disconnect(reason) sends a Disconnect message (unless the reason is
// DiscNetworkError or the encryption handshake has not finished) and closes
// once it is flushed or after disconnect_write_timeout. OnClosed is called
// exactly once, posted, with the reason and whether the remote sent it.
//
// Ownership: RlpxConn owns the Conn. The Handler must outlive the RlpxConn;
// no handler method is called after the RlpxConn is destroyed. Handler
// methods are never called inside a call into RlpxConn.
#ifndef P2P_CORE_RLPX_RLPX_CONN_H_
#define P2P_CORE_RLPX_RLPX_CONN_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/event_loop.h"
#include "core/net/transport.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rng.h"

namespace p2p::rlpx {

inline constexpr absl::Duration kHandshakeTimeout = absl::Seconds(5);
inline constexpr absl::Duration kFrameReadTimeout = absl::Seconds(30);
inline constexpr absl::Duration kFrameWriteTimeout = absl::Seconds(20);
inline constexpr absl::Duration kPingInterval = absl::Seconds(15);
inline constexpr absl::Duration kDisconnectWriteTimeout = absl::Seconds(1);

struct RlpxConnOptions {
  absl::Duration handshake_timeout = kHandshakeTimeout;
  absl::Duration frame_read_timeout = kFrameReadTimeout;
  absl::Duration frame_write_timeout = kFrameWriteTimeout;
  absl::Duration ping_interval = kPingInterval;
  absl::Duration disconnect_write_timeout = kDisconnectWriteTimeout;
};

// Why a connection ended.
struct CloseInfo {
  DisconnectReason reason;
  bool remote_requested = false;  // They sent Disconnect.
  absl::Status detail;            // The underlying error, for logs/metrics.
};

class RlpxConn {
 public:
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual void OnEncryptionHandshake(RlpxConn* conn, const PublicKey& remote) = 0;
    virtual void OnHello(RlpxConn* conn, const Hello& hello) = 0;
    // Sub-protocol message (code >= kBaseProtocolLength), payload
    // decompressed. Valid only during the call.
    virtual void OnMessage(RlpxConn* conn, uint64_t code, absl::Span<const uint8_t> payload) = 0;
    virtual void OnClosed(RlpxConn* conn, const CloseInfo& info) = 0;
  };

  // Outbound: we know the remote's static key. `local_key`, `entropy`,
  // `loop` and `handler` must outlive the RlpxConn.
  static std::unique_ptr<RlpxConn> Dial(EventLoop* loop, std::unique_ptr<Conn> conn,
                                        const PrivateKey* local_key, const PublicKey& remote,
                                        Hello our_hello, Entropy* entropy, Handler* handler,
                                        RlpxConnOptions options = {});
  // Inbound: the remote's key is learned from its auth message.
  static std::unique_ptr<RlpxConn> Accept(EventLoop* loop, std::unique_ptr<Conn> conn,
                                          const PrivateKey* local_key, Hello our_hello,
                                          Entropy* entropy, Handler* handler,
                                          RlpxConnOptions options = {});
  virtual ~RlpxConn() = default;

  // Proceeds past a checkpoint (after OnEncryptionHandshake / OnHello).
  virtual void ContinueHandshake() = 0;
  // Sends a sub-protocol message (code >= 0x10), only once running.
  // Returns FailedPrecondition before that or after close.
  virtual absl::Status Send(uint64_t code, absl::Span<const uint8_t> payload) = 0;
  // Ends the connection with `reason` (see the class comment). Idempotent.
  virtual void Disconnect(DisconnectReason reason) = 0;

  virtual bool inbound() const = 0;
  virtual std::optional<PublicKey> remote_key() const = 0;  // After stage 1.
  virtual const std::optional<Hello>& remote_hello() const = 0;  // After stage 3.
  virtual Endpoint remote_endpoint() const = 0;
  virtual uint64_t bytes_in() const = 0;
  virtual uint64_t bytes_out() const = 0;
};

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_RLPX_CONN_H_
