// RLPx framing (devp2p rlpx.md "Framing"; go-ethereum p2p/rlpx/rlpx.go
// readFrame/writeFrame/hashMAC) as bytes in, bytes out: no I/O, so the TCP
// transport and the simulator run the same code.
//
// One frame carries one message:
//
//   header-ct(16) || header-mac(16) || frame-ct || frame-mac(16)
//
//   header    = frame-size (24-bit big-endian) || C2 80 80 || zero padding
//   frame     = rlp(code) || payload, zero-padded to a multiple of 16
//   *-ct      = AES-256-CTR(aes-secret, IV 0); one keystream per direction
//               that runs on across frames
//   header-mac = keccak digest[:16] after
//                mac.update(AES-256-ECB(mac-secret, mac.digest[:16]) ^ header-ct)
//   frame-mac  = mac.update(frame-ct); seed = mac.digest;
//                mac.update(AES-256-ECB(mac-secret, seed[:16]) ^ seed[:16]);
//                digest[:16]
//
// With snappy enabled (p2p v5, after the Hello exchange) the payload is
// compressed before framing and decompressed after; the code is not.
#ifndef P2P_CORE_RLPX_FRAME_H_
#define P2P_CORE_RLPX_FRAME_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "core/crypto/keccak.h"
#include "core/crypto/symmetric.h"
#include "core/rlpx/secrets.h"

namespace p2p::rlpx {

// The frame-size field is 24 bits: the largest frame (rlp(code) || payload,
// before padding) and the largest decompressed payload (go-ethereum's
// maxUint24; "message length >= 16MB" above it).
constexpr size_t kMaxFrameSize = (size_t{1} << 24) - 1;

// Fixed bytes around the frame data: header-ct, header-mac, frame-mac.
constexpr size_t kFrameOverheadBytes = 16 + 16 + 16;

// Bytes on the wire of the largest frame: overhead plus kMaxFrameSize
// rounded up to 16.
constexpr size_t kMaxFrameWireBytes = kFrameOverheadBytes + ((kMaxFrameSize + 15) / 16) * 16;

// Default bound on input buffered by a FrameReader: one largest frame plus
// one more largest frame's worth of the following stream. A caller that drains
// Next() after every Feed() and feeds at most kMaxFrameWireBytes at a time
// never reaches it.
constexpr size_t kMaxReadBufferBytes = 2 * kMaxFrameWireBytes;

// One decoded message.
struct Message {
  uint64_t code = 0;
  std::vector<uint8_t> payload;  // Decompressed if snappy is on.
  size_t wire_size = 0;          // Payload bytes as framed (compressed size).
};

// Appends `bytes` to a read buffer whose unconsumed part is buf[*pos:],
// compacting it first when at least half is consumed (amortised O(1) per
// byte). Refuses (ResourceExhausted "rlpx: read buffer limit ...") when the
// unconsumed bytes would exceed `max_buffered`; the buffer is then left as it
// was. Shared by FrameReader and PlainCodec; Buffer is a std::vector or an
// absl::InlinedVector of bytes.
template <typename Buffer>
absl::Status AppendToReadBuffer(Buffer& buf, size_t& pos, absl::Span<const uint8_t> bytes,
                                size_t max_buffered) {
  const size_t buffered = buf.size() - pos;
  if (bytes.size() > max_buffered - buffered) {
    return absl::ResourceExhaustedError(absl::StrCat("rlpx: read buffer limit ", max_buffered,
                                                     " exceeded (", buffered, " bytes buffered, ",
                                                     bytes.size(), " more fed)"));
  }
  if (pos > 0 && pos >= buf.size() / 2) {
    buf.erase(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(pos));
    pos = 0;
  }
  buf.insert(buf.end(), bytes.begin(), bytes.end());
  return absl::OkStatus();
}

// Limits of the reading side; the defaults are the protocol's own.
struct FrameReaderOptions {
  // Frames announcing a larger size are rejected as soon as their header is
  // authenticated, before the body is buffered. At most kMaxFrameSize.
  size_t max_frame_size = kMaxFrameSize;
  // Feed() fails once more than this many bytes would be buffered.
  size_t max_buffered_bytes = kMaxReadBufferBytes;
};

// The sending half: encrypts and MACs messages into frames.
// Not thread-safe. Move-only.
class FrameWriter {
 public:
  // `aes_secret` and `mac_secret` are the 32-byte session secrets;
  // `egress_mac` the running egress MAC state (copied). Errors:
  // InvalidArgument if a secret is not 32 bytes; Internal if OpenSSL cannot
  // set up a cipher.
  static absl::StatusOr<FrameWriter> Create(absl::Span<const uint8_t> aes_secret,
                                            absl::Span<const uint8_t> mac_secret,
                                            const Keccak256& egress_mac);

  // Appends one frame carrying (code, payload) to `out`. With snappy on,
  // `payload` is compressed first. Errors (ResourceExhausted,
  // "rlpx: message length >= 16MB ..."): payload longer than kMaxFrameSize,
  // or rlp(code) plus the (compressed) payload longer than kMaxFrameSize. On
  // error nothing is appended and the stream state is unchanged.
  absl::Status WriteMessage(uint64_t code, absl::Span<const uint8_t> payload,
                            std::vector<uint8_t>& out);

  // Compress payloads from the next message on (go-ethereum SetSnappy).
  void SetSnappy(bool enabled) { snappy_ = enabled; }
  bool snappy() const { return snappy_; }

 private:
  FrameWriter(AesCtr enc, AesBlock mac_cipher, const Keccak256& mac)
      : enc_(std::move(enc)), mac_cipher_(std::move(mac_cipher)), mac_(mac) {}

  absl::Status WriteFrame(uint64_t code, absl::Span<const uint8_t> data, std::vector<uint8_t>& out);

  AesCtr enc_;
  AesBlock mac_cipher_;
  Keccak256 mac_;
  bool snappy_ = false;
};

// The receiving half: is fed the byte stream in arbitrary chunks and yields
// authenticated, decrypted messages in order.
//
// Errors are final: after Feed() or Next() has returned an error, every later
// call returns that same error (the stream position is lost, so the
// connection must be closed). Error messages name the fault:
//   DataLoss          "rlpx: bad header MAC", "rlpx: bad frame MAC"
//   ResourceExhausted "rlpx: frame size N exceeds limit M",
//                     "rlpx: read buffer limit M exceeded (...)",
//                     "rlpx: message length >= 16MB (decoded length N)"
//   InvalidArgument   "rlpx: bad frame header: ...",
//                     "rlpx: invalid message code: <rlp error>",
//                     "rlpx: snappy: corrupt input"
// MACs are compared in constant time. Not thread-safe. Move-only.
class FrameReader {
 public:
  // As FrameWriter::Create, with the ingress MAC state; also InvalidArgument
  // if options.max_frame_size exceeds kMaxFrameSize.
  static absl::StatusOr<FrameReader> Create(absl::Span<const uint8_t> aes_secret,
                                            absl::Span<const uint8_t> mac_secret,
                                            const Keccak256& ingress_mac,
                                            FrameReaderOptions options = {});

  // Appends stream bytes. Fails if the reader has failed, or if the buffered
  // bytes would exceed options.max_buffered_bytes (then the reader fails).
  absl::Status Feed(absl::Span<const uint8_t> bytes);

  // The next complete message, or nullopt if more bytes are needed (a
  // truncated frame is not an error). Work happens here, not in Feed().
  absl::StatusOr<std::optional<Message>> Next();

  // Decompress payloads from the next message on. Call it after the Hello
  // has been read (before reading the next message) if snappy was negotiated.
  void SetSnappy(bool enabled) { snappy_ = enabled; }
  bool snappy() const { return snappy_; }

  // Bytes fed but not yet consumed by Next().
  size_t buffered_bytes() const { return buf_.size() - pos_; }
  bool failed() const { return !error_.ok(); }

 private:
  FrameReader(AesCtr dec, AesBlock mac_cipher, const Keccak256& mac, FrameReaderOptions options)
      : dec_(std::move(dec)), mac_cipher_(std::move(mac_cipher)), mac_(mac), options_(options) {}

  absl::Status Fail(absl::Status s);
  // Consumes header-ct || header-mac at pos_; sets frame_size_.
  absl::Status ReadHeader();
  // Consumes frame-ct || frame-mac at pos_ and decodes the message.
  absl::StatusOr<Message> ReadBody();

  AesCtr dec_;
  AesBlock mac_cipher_;
  Keccak256 mac_;
  FrameReaderOptions options_;
  bool snappy_ = false;

  std::vector<uint8_t> buf_;  // Unconsumed input is buf_[pos_:].
  size_t pos_ = 0;
  // Set once a header has been authenticated and decrypted: the size of the
  // frame whose body we are waiting for.
  std::optional<size_t> frame_size_;
  absl::Status error_;
};

// Both halves of one connection's framing, built from the handshake's
// Secrets. Move-only; not thread-safe.
class FrameCodec {
 public:
  static absl::StatusOr<FrameCodec> Create(const Secrets& secrets, FrameReaderOptions options = {});

  // See FrameWriter::WriteMessage.
  absl::Status WriteMessage(uint64_t code, absl::Span<const uint8_t> payload,
                            std::vector<uint8_t>& out) {
    return writer_.WriteMessage(code, payload, out);
  }
  // See FrameReader.
  absl::Status Feed(absl::Span<const uint8_t> bytes) { return reader_.Feed(bytes); }
  absl::StatusOr<std::optional<Message>> Next() { return reader_.Next(); }

  // Both directions (go-ethereum Conn.SetSnappy).
  void SetSnappy(bool enabled) {
    writer_.SetSnappy(enabled);
    reader_.SetSnappy(enabled);
  }

  FrameWriter& writer() { return writer_; }
  FrameReader& reader() { return reader_; }

 private:
  FrameCodec(FrameWriter w, FrameReader r) : writer_(std::move(w)), reader_(std::move(r)) {}

  FrameWriter writer_;
  FrameReader reader_;
};

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_FRAME_H_
