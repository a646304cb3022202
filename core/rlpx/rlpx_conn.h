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
//      answered with Pong; we Ping every ping_interval and a read silence
//      longer than frame_read_timeout ends it with DiscReadTimeout (neither
//      with elide_keepalive, below); a write that cannot be flushed within
//      frame_write_timeout ends it with a network error.
// Disconnect(reason) sends a Disconnect message (unless the reason is
// DiscNetworkError or the encryption handshake has not finished) and closes
// once it is flushed or after disconnect_write_timeout. OnClosed is called
// exactly once, posted, with the reason and whether the remote sent it.
//
// Modelled crypto (RlpxConnOptions::modelled_crypto, for the simulator):
// the same state machine, checkpoints, Hello exchange, Ping/Pong, Disconnect
// semantics and timeouts, without any cryptography; the elliptic-curve work a
// handshake costs becomes virtual time (modelled_handshake_cpu per side).
// The wire formats are in core/rlpx/plain_codec.h. Stage 1 becomes:
//   - the dialer sends a plain auth naming its own key and the key it dials;
//   - the listener checks it (wrong size or magic, or a key that is not a
//     point: kProtocolError, as a bad auth; a dialed key other than ours:
//     kProtocolError, as a real listener could not decrypt the auth), spends
//     modelled_handshake_cpu (a timer), then answers with a plain ack naming
//     its key and reaches checkpoint 1;
//   - the dialer checks the ack (bad packet, or a key other than the one it
//     dialed: kProtocolError), spends modelled_handshake_cpu, then reaches
//     checkpoint 1.
// So with a one-way latency L and cpu C, the listener reaches checkpoint 1 at
// L + C and the dialer at 2L + 2C. Afterwards, frames are plain (rlp(code) ||
// payload behind a 3-byte size, the same size limits as real frames); snappy
// is negotiated as usual but never applied. handshake_timeout bounds the CPU
// time too; transport events during it are handled once it is spent, as at
// checkpoint 1. Both ends must be in the same mode: a modelled end and a real
// one fail the handshake (the one that reads the other's first packet closes
// with kProtocolError, the other sees the transport end: kNetworkError).
// Differences from the real mode, by design: our static key on the wire is
// our_hello.id (deriving it from the private key would be an elliptic-curve
// operation), so a Hello whose id is not our key goes unnoticed; local_key
// and entropy are not used (they may be null); bytes_in/bytes_out count the
// plain bytes, which are fewer than the real ones.
//
// Elided keepalive (RlpxConnOptions::elide_keepalive, for the simulator):
// once running we send no Pings and arm no read deadline; everything else
// is unchanged (a Ping from the peer is answered, the write deadline and
// Disconnect work as usual). This is exact, not an approximation, over a
// transport that never goes silent while a connection is open, which is
// the simulator's (core/net/mem_network.h: every byte written arrives, in
// order, after a bounded delay; sim/world.h: partitions and departing
// nodes reset the connections they cut): there both ends of a running
// connection Ping every ping_interval < frame_read_timeout, so the read
// deadline can never pass, and Pings and Pongs change nothing but byte
// counts and link occupancy. With link rates (PipeRates) a run differs
// from the exact one only by the serialization time the keepalive frames
// would have taken. Over real TCP a vanished peer would never be noticed:
// the real node never sets it.
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
  // Simulator only: no cryptography (see the class comment). Both ends of a
  // connection must agree.
  bool modelled_crypto = false;
  // Virtual time each side spends on the handshake maths in modelled mode
  // (the listener before its ack, the dialer after reading it).
  absl::Duration modelled_handshake_cpu = absl::Microseconds(300);
  // Simulator only: leave out the keepalive (see the class comment). Needs a
  // transport that never goes silent.
  bool elide_keepalive = false;
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
  // `loop` and `handler` must outlive the RlpxConn (`local_key` and
  // `entropy` may be null with options.modelled_crypto).
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
  virtual std::optional<PublicKey> remote_key() const = 0;       // After stage 1.
  virtual const std::optional<Hello>& remote_hello() const = 0;  // After stage 3.
  virtual Endpoint remote_endpoint() const = 0;
  virtual uint64_t bytes_in() const = 0;
  virtual uint64_t bytes_out() const = 0;
};

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_RLPX_CONN_H_
