// Plain (unencrypted, unauthenticated) wire formats for RlpxConn's modelled
// crypto mode (RlpxConnOptions::modelled_crypto), which the simulator uses so
// that thousands of nodes do not spend wall time on elliptic-curve maths. Both
// ends of a connection must use them; they are not RLPx and no real node
// speaks them.
//
// Modelled handshake packets (the stand-ins for the EIP-8 auth and ack):
//   auth = size(2, BE) || "MDL1" || initiator-pubk(64) || recipient-pubk(64)
//   ack  = size(2, BE) || "MDL1" || recipient-pubk(64)
//   size = length of what follows it (132 for an auth, 68 for an ack).
// recipient-pubk in the auth is the key the initiator dialed: a real
// recipient with another key could not decrypt the auth, so the modelled one
// rejects it. Keys are raw X || Y bytes; the caller decides what to check.
//
// Plain frames (the stand-in for the encrypted RLPx frames):
//   frame = frame-size(3, BE) || rlp(code) || payload
//   frame-size = length of rlp(code) || payload, at most kMaxFrameSize
// The same size limit as the real frames applies on both sides, and the read
// buffer is bounded the same way (FrameReaderOptions). Snappy is accepted and
// remembered but never applied: compression only changes sizes, which the
// simulator does not need to reproduce, so payloads always go uncompressed
// and bytes on the wire are the uncompressed sizes.
#ifndef P2P_CORE_RLPX_PLAIN_CODEC_H_
#define P2P_CORE_RLPX_PLAIN_CODEC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/rlpx/frame.h"

namespace p2p::rlpx {

// ------------------------------------------------- modelled handshake packets

using ModelledKey = std::array<uint8_t, 64>;  // A public key's X || Y.

inline constexpr std::array<uint8_t, 4> kModelledMagic = {'M', 'D', 'L', '1'};
// Bytes after the 2-byte size prefix.
inline constexpr size_t kModelledAuthBodyBytes = 4 + 64 + 64;
inline constexpr size_t kModelledAckBodyBytes = 4 + 64;
// Whole packets, size prefix included.
inline constexpr size_t kModelledAuthPacketBytes = 2 + kModelledAuthBodyBytes;
inline constexpr size_t kModelledAckPacketBytes = 2 + kModelledAckBodyBytes;

enum class ModelledPacket { kAuth, kAck };

struct ModelledAuth {
  ModelledKey initiator_key;  // The dialer's static key.
  ModelledKey recipient_key;  // The key the dialer expects the listener to have.
};

std::vector<uint8_t> EncodeModelledAuth(const ModelledKey& initiator_key,
                                        const ModelledKey& recipient_key);
std::vector<uint8_t> EncodeModelledAck(const ModelledKey& recipient_key);

// As Handshake::PacketSize for the modelled packets: given the first bytes
// of the stream, either a lower bound greater than buffered.size() (read
// more and ask again) or the exact size of the packet at its start.
// Errors (InvalidArgument, "rlpx: modelled handshake: auth size N, want
// 132" or the same for an ack): a size prefix other than the fixed one, as
// soon as the two prefix bytes are in. A real EIP-8 packet fails here.
absl::StatusOr<size_t> ModelledPacketSize(ModelledPacket kind, absl::Span<const uint8_t> buffered);

// Decode exactly one complete packet (its size prefix included). Errors
// (InvalidArgument): wrong length or size prefix, or "rlpx: modelled
// handshake: bad magic".
absl::StatusOr<ModelledAuth> DecodeModelledAuth(absl::Span<const uint8_t> packet);
absl::StatusOr<ModelledKey> DecodeModelledAck(absl::Span<const uint8_t> packet);

// ------------------------------------------------------------ plain frames

// Bytes of the frame-size field.
inline constexpr size_t kPlainFrameHeaderBytes = 3;

// Both directions of one connection's plain framing, with FrameCodec's
// interface and error behaviour:
//   - WriteMessage: ResourceExhausted "rlpx: message length >= 16MB ..."
//     when the payload, or rlp(code) plus the payload, is longer than
//     kMaxFrameSize; nothing is appended then.
//   - Feed/Next: errors are final (every later call returns the same error):
//     ResourceExhausted "rlpx: frame size N exceeds limit M" (checked as soon
//     as the 3 size bytes are in) or "rlpx: read buffer limit M exceeded
//     (...)"; InvalidArgument "rlpx: invalid message code: <rlp error>" for
//     an empty frame or a code that is not a canonical RLP integer.
// Movable; not thread-safe.
class PlainCodec {
 public:
  // Errors: InvalidArgument if options.max_frame_size exceeds kMaxFrameSize.
  static absl::StatusOr<PlainCodec> Create(FrameReaderOptions options = {});

  // Appends one frame carrying (code, payload) to `out`.
  absl::Status WriteMessage(uint64_t code, absl::Span<const uint8_t> payload,
                            std::vector<uint8_t>& out);
  // Appends stream bytes; fails past options.max_buffered_bytes.
  absl::Status Feed(absl::Span<const uint8_t> bytes);
  // The next complete message, or nullopt if more bytes are needed.
  // Message::wire_size is the payload size.
  absl::StatusOr<std::optional<Message>> Next();

  // Recorded only: payloads are never compressed (see the file comment).
  void SetSnappy(bool enabled) { snappy_ = enabled; }
  bool snappy() const { return snappy_; }

  // Bytes fed but not yet consumed by Next().
  size_t buffered_bytes() const { return buf_.size() - pos_; }
  bool failed() const { return !error_.ok(); }

 private:
  // The inline buffer's bytes are written once, so that moving a fresh
  // codec (InlinedVector copies its inline storage whole) copies no
  // unwritten memory; GCC 12 warned about exactly that.
  explicit PlainCodec(FrameReaderOptions options) : options_(options) {
    buf_.resize(kInlineReadBytes);
    buf_.clear();
  }
  absl::Status Fail(absl::Status s);

  FrameReaderOptions options_;
  bool snappy_ = false;
  // Unconsumed input is buf_[pos_:]. Small frames (pings, pongs) fit in
  // the codec itself: reading one touches no separate heap block.
  static constexpr size_t kInlineReadBytes = 40;
  absl::InlinedVector<uint8_t, kInlineReadBytes> buf_;
  size_t pos_ = 0;
  absl::Status error_;
};

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_PLAIN_CODEC_H_
