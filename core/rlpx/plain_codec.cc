#include "core/rlpx/plain_codec.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/rlp/rlp.h"

namespace p2p::rlpx {
namespace {

const char* KindName(ModelledPacket kind) { return kind == ModelledPacket::kAuth ? "auth" : "ack"; }

size_t BodyBytes(ModelledPacket kind) {
  return kind == ModelledPacket::kAuth ? kModelledAuthBodyBytes : kModelledAckBodyBytes;
}

// Checks the size prefix and the magic of one complete packet; returns the
// bytes after the magic.
absl::StatusOr<absl::Span<const uint8_t>> OpenPacket(ModelledPacket kind,
                                                     absl::Span<const uint8_t> packet) {
  absl::StatusOr<size_t> size = ModelledPacketSize(kind, packet);
  if (!size.ok()) return size.status();
  if (*size != packet.size()) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: modelled handshake: ", KindName(kind),
                                                   " packet of ", packet.size(), " bytes, want ",
                                                   2 + BodyBytes(kind)));
  }
  if (!std::equal(kModelledMagic.begin(), kModelledMagic.end(), packet.begin() + 2)) {
    return absl::InvalidArgumentError("rlpx: modelled handshake: bad magic");
  }
  return packet.subspan(2 + kModelledMagic.size());
}

void AppendPacketStart(ModelledPacket kind, std::vector<uint8_t>& out) {
  const size_t body = BodyBytes(kind);
  out.push_back(static_cast<uint8_t>(body >> 8));
  out.push_back(static_cast<uint8_t>(body));
  out.insert(out.end(), kModelledMagic.begin(), kModelledMagic.end());
}

absl::Status MessageTooLarge(const char* what, size_t n) {
  return absl::ResourceExhaustedError(
      absl::StrCat("rlpx: message length >= 16MB (", what, " ", n, ")"));
}

}  // namespace

// ------------------------------------------------- modelled handshake packets

std::vector<uint8_t> EncodeModelledAuth(const ModelledKey& initiator_key,
                                        const ModelledKey& recipient_key) {
  std::vector<uint8_t> out;
  out.reserve(kModelledAuthPacketBytes);
  AppendPacketStart(ModelledPacket::kAuth, out);
  out.insert(out.end(), initiator_key.begin(), initiator_key.end());
  out.insert(out.end(), recipient_key.begin(), recipient_key.end());
  return out;
}

std::vector<uint8_t> EncodeModelledAck(const ModelledKey& recipient_key) {
  std::vector<uint8_t> out;
  out.reserve(kModelledAckPacketBytes);
  AppendPacketStart(ModelledPacket::kAck, out);
  out.insert(out.end(), recipient_key.begin(), recipient_key.end());
  return out;
}

absl::StatusOr<size_t> ModelledPacketSize(ModelledPacket kind, absl::Span<const uint8_t> buffered) {
  if (buffered.size() < 2) return size_t{2};
  const size_t size = (size_t{buffered[0]} << 8) | buffered[1];
  if (size != BodyBytes(kind)) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: modelled handshake: ", KindName(kind),
                                                   " size ", size, ", want ", BodyBytes(kind)));
  }
  return 2 + size;
}

absl::StatusOr<ModelledAuth> DecodeModelledAuth(absl::Span<const uint8_t> packet) {
  absl::StatusOr<absl::Span<const uint8_t>> body = OpenPacket(ModelledPacket::kAuth, packet);
  if (!body.ok()) return body.status();
  ModelledAuth auth;
  std::memcpy(auth.initiator_key.data(), body->data(), 64);
  std::memcpy(auth.recipient_key.data(), body->data() + 64, 64);
  return auth;
}

absl::StatusOr<ModelledKey> DecodeModelledAck(absl::Span<const uint8_t> packet) {
  absl::StatusOr<absl::Span<const uint8_t>> body = OpenPacket(ModelledPacket::kAck, packet);
  if (!body.ok()) return body.status();
  ModelledKey key;
  std::memcpy(key.data(), body->data(), 64);
  return key;
}

// ------------------------------------------------------------ plain frames

absl::StatusOr<PlainCodec> PlainCodec::Create(FrameReaderOptions options) {
  if (options.max_frame_size > kMaxFrameSize) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: max_frame_size ", options.max_frame_size,
                                                   " exceeds the protocol maximum ",
                                                   kMaxFrameSize));
  }
  return PlainCodec(options);
}

absl::Status PlainCodec::WriteMessage(uint64_t code, absl::Span<const uint8_t> payload,
                                      std::vector<uint8_t>& out) {
  if (payload.size() > kMaxFrameSize) return MessageTooLarge("payload", payload.size());
  rlp::Encoder e;
  e.AddUint(code);
  const std::vector<uint8_t> code_rlp = e.Finish();
  const size_t frame_size = code_rlp.size() + payload.size();
  if (frame_size > kMaxFrameSize) return MessageTooLarge("frame size", frame_size);
  out.reserve(out.size() + kPlainFrameHeaderBytes + frame_size);
  out.push_back(static_cast<uint8_t>(frame_size >> 16));
  out.push_back(static_cast<uint8_t>(frame_size >> 8));
  out.push_back(static_cast<uint8_t>(frame_size));
  out.insert(out.end(), code_rlp.begin(), code_rlp.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return absl::OkStatus();
}

absl::Status PlainCodec::Fail(absl::Status s) {
  error_ = std::move(s);
  buf_.clear();
  buf_.shrink_to_fit();
  pos_ = 0;
  return error_;
}

absl::Status PlainCodec::Feed(absl::Span<const uint8_t> bytes) {
  if (!error_.ok()) return error_;
  absl::Status s = AppendToReadBuffer(buf_, pos_, bytes, options_.max_buffered_bytes);
  return s.ok() ? s : Fail(std::move(s));
}

absl::StatusOr<std::optional<Message>> PlainCodec::Next() {
  if (!error_.ok()) return error_;
  if (buffered_bytes() < kPlainFrameHeaderBytes) return std::optional<Message>();
  const uint8_t* header = buf_.data() + pos_;
  const size_t frame_size = (size_t{header[0]} << 16) | (size_t{header[1]} << 8) | header[2];
  if (frame_size > options_.max_frame_size) {
    return Fail(absl::ResourceExhaustedError(
        absl::StrCat("rlpx: frame size ", frame_size, " exceeds limit ", options_.max_frame_size)));
  }
  if (buffered_bytes() < kPlainFrameHeaderBytes + frame_size) return std::optional<Message>();
  const absl::Span<const uint8_t> frame(header + kPlainFrameHeaderBytes, frame_size);

  // rlp(code) || payload, as in the real frames.
  auto first = rlp::DecodeFirst(frame);
  if (!first.ok()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("rlpx: invalid message code: ", first.status().message())));
  }
  absl::StatusOr<uint64_t> code = rlp::ToUint64(first->first);
  if (!code.ok()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("rlpx: invalid message code: ", code.status().message())));
  }
  Message msg;
  msg.code = *code;
  msg.payload.assign(first->second.begin(), first->second.end());
  msg.wire_size = msg.payload.size();
  pos_ += kPlainFrameHeaderBytes + frame_size;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return std::optional<Message>(std::move(msg));
}

}  // namespace p2p::rlpx
