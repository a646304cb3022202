#include "core/rlpx/frame.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/rlp/rlp.h"
#include "core/rlpx/snappy_codec.h"

namespace p2p::rlpx {

namespace {
// The p2p Disconnect message code, and the largest uncompressed Disconnect
// payload accepted after snappy is on (a list with one reason byte).
constexpr uint64_t kDisconnectMsgCode = 0x01;
constexpr size_t kMaxRawDisconnectBytes = 2;
}  // namespace
namespace {

constexpr size_t kHeaderBytes = 16;
constexpr size_t kMacBytes = 16;
// header-data: rlp([capability-id, context-id]) = [0, 0], which go-ethereum
// always sends (zeroHeader) and never reads.
constexpr uint8_t kHeaderData[] = {0xc2, 0x80, 0x80};

using Mac = std::array<uint8_t, kMacBytes>;

size_t Padded(size_t n) { return (n + 15) / 16 * 16; }

// go-ethereum hashMAC.compute: absorbs AES-ECB(mac-secret, sum1[:16]) ^ seed
// and returns the first 16 bytes of the new digest.
Mac ComputeMac(Keccak256& mac, AesBlock& cipher, const uint8_t sum1[16], const uint8_t seed[16]) {
  uint8_t block[16];
  cipher.Encrypt(sum1, block);
  for (size_t i = 0; i < 16; ++i) block[i] ^= seed[i];
  mac.Update(absl::MakeConstSpan(block, sizeof(block)));
  std::array<uint8_t, 32> digest = mac.Digest();
  Mac out;
  std::memcpy(out.data(), digest.data(), out.size());
  return out;
}

// hashMAC.computeHeader: the seed is the header ciphertext.
Mac HeaderMac(Keccak256& mac, AesBlock& cipher, const uint8_t header_ct[16]) {
  std::array<uint8_t, 32> sum1 = mac.Digest();
  return ComputeMac(mac, cipher, sum1.data(), header_ct);
}

// hashMAC.computeFrame: absorb the frame ciphertext; the seed is the digest.
Mac FrameMac(Keccak256& mac, AesBlock& cipher, absl::Span<const uint8_t> frame_ct) {
  mac.Update(frame_ct);
  std::array<uint8_t, 32> seed = mac.Digest();
  return ComputeMac(mac, cipher, seed.data(), seed.data());
}

absl::Status MessageTooLarge(absl::string_view what, size_t n) {
  return absl::ResourceExhaustedError(
      absl::StrCat("rlpx: message length >= 16MB (", what, " ", n, ")"));
}

// Both directions start from the same key and an all-zero IV: the key is
// ephemeral, so go-ethereum never varies the IV.
absl::StatusOr<std::pair<AesCtr, AesBlock>> MakeCiphers(absl::Span<const uint8_t> aes_secret,
                                                        absl::Span<const uint8_t> mac_secret) {
  if (aes_secret.size() != 32 || mac_secret.size() != 32) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: secrets must be 32 bytes, got aes ",
                                                   aes_secret.size(), ", mac ", mac_secret.size()));
  }
  const uint8_t zero_iv[16] = {};
  absl::StatusOr<AesCtr> ctr = AesCtr::Create(aes_secret, absl::MakeConstSpan(zero_iv));
  if (!ctr.ok()) return ctr.status();
  absl::StatusOr<AesBlock> block = AesBlock::Create(mac_secret);
  if (!block.ok()) return block.status();
  return std::make_pair(std::move(*ctr), std::move(*block));
}

}  // namespace

// ---------------------------------------------------------------- FrameWriter

absl::StatusOr<FrameWriter> FrameWriter::Create(absl::Span<const uint8_t> aes_secret,
                                                absl::Span<const uint8_t> mac_secret,
                                                const Keccak256& egress_mac) {
  auto ciphers = MakeCiphers(aes_secret, mac_secret);
  if (!ciphers.ok()) return ciphers.status();
  return FrameWriter(std::move(ciphers->first), std::move(ciphers->second), egress_mac);
}

absl::Status FrameWriter::WriteMessage(uint64_t code, absl::Span<const uint8_t> payload,
                                       std::vector<uint8_t>& out) {
  if (payload.size() > kMaxFrameSize) return MessageTooLarge("payload", payload.size());
  if (!snappy_) return WriteFrame(code, payload, out);
  std::vector<uint8_t> compressed = SnappyCompress(payload);
  return WriteFrame(code, compressed, out);
}

absl::Status FrameWriter::WriteFrame(uint64_t code, absl::Span<const uint8_t> data,
                                     std::vector<uint8_t>& out) {
  rlp::Encoder e;
  e.AddUint(code);
  std::vector<uint8_t> code_rlp = e.Finish();
  const size_t frame_size = code_rlp.size() + data.size();
  if (frame_size > kMaxFrameSize) return MessageTooLarge("frame size", frame_size);
  const size_t padded = Padded(frame_size);

  const size_t start = out.size();
  out.resize(start + kHeaderBytes + kMacBytes + padded + kMacBytes);  // New bytes are zero.
  uint8_t* header = out.data() + start;
  header[0] = static_cast<uint8_t>(frame_size >> 16);
  header[1] = static_cast<uint8_t>(frame_size >> 8);
  header[2] = static_cast<uint8_t>(frame_size);
  std::memcpy(header + 3, kHeaderData, sizeof(kHeaderData));
  enc_.ApplyInPlace(absl::MakeSpan(header, kHeaderBytes));
  Mac header_mac = HeaderMac(mac_, mac_cipher_, header);
  std::memcpy(header + kHeaderBytes, header_mac.data(), kMacBytes);

  uint8_t* frame = header + kHeaderBytes + kMacBytes;
  std::memcpy(frame, code_rlp.data(), code_rlp.size());
  if (!data.empty()) std::memcpy(frame + code_rlp.size(), data.data(), data.size());
  enc_.ApplyInPlace(absl::MakeSpan(frame, padded));
  Mac frame_mac = FrameMac(mac_, mac_cipher_, absl::MakeConstSpan(frame, padded));
  std::memcpy(frame + padded, frame_mac.data(), kMacBytes);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- FrameReader

absl::StatusOr<FrameReader> FrameReader::Create(absl::Span<const uint8_t> aes_secret,
                                                absl::Span<const uint8_t> mac_secret,
                                                const Keccak256& ingress_mac,
                                                FrameReaderOptions options) {
  if (options.max_frame_size > kMaxFrameSize) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: max_frame_size ", options.max_frame_size,
                                                   " exceeds the protocol maximum ",
                                                   kMaxFrameSize));
  }
  auto ciphers = MakeCiphers(aes_secret, mac_secret);
  if (!ciphers.ok()) return ciphers.status();
  return FrameReader(std::move(ciphers->first), std::move(ciphers->second), ingress_mac, options);
}

absl::Status FrameReader::Fail(absl::Status s) {
  error_ = std::move(s);
  buf_.clear();
  buf_.shrink_to_fit();
  pos_ = 0;
  return error_;
}

absl::Status FrameReader::Feed(absl::Span<const uint8_t> bytes) {
  if (!error_.ok()) return error_;
  absl::Status s = AppendToReadBuffer(buf_, pos_, bytes, options_.max_buffered_bytes);
  return s.ok() ? s : Fail(std::move(s));
}

absl::StatusOr<std::optional<Message>> FrameReader::Next() {
  if (!error_.ok()) return error_;
  if (!frame_size_.has_value()) {
    if (buffered_bytes() < kHeaderBytes + kMacBytes) return std::optional<Message>();
    absl::Status s = ReadHeader();
    if (!s.ok()) return Fail(std::move(s));
  }
  if (buffered_bytes() < Padded(*frame_size_) + kMacBytes) return std::optional<Message>();
  absl::StatusOr<Message> msg = ReadBody();
  if (!msg.ok()) return Fail(msg.status());
  frame_size_.reset();
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  return std::optional<Message>(std::move(*msg));
}

absl::Status FrameReader::ReadHeader() {
  uint8_t* header = buf_.data() + pos_;
  Mac want = HeaderMac(mac_, mac_cipher_, header);
  if (!ConstantTimeEqual(want, absl::MakeConstSpan(header + kHeaderBytes, kMacBytes))) {
    return absl::DataLossError("rlpx: bad header MAC");
  }
  dec_.ApplyInPlace(absl::MakeSpan(header, kHeaderBytes));
  const size_t frame_size = (size_t{header[0]} << 16) | (size_t{header[1]} << 8) | header[2];
  // go-ethereum ignores header-data; every implementation sends an RLP list
  // there ([capability-id, context-id], usually C2 80 80), so anything else
  // means a broken sender. The contents and the zero padding are not checked.
  auto header_data = rlp::DecodeFirst(absl::MakeConstSpan(header + 3, kHeaderBytes - 3), 3);
  if (!header_data.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlpx: bad frame header: ", header_data.status().message()));
  }
  if (!header_data->first.is_list()) {
    return absl::InvalidArgumentError("rlpx: bad frame header: header-data is not an RLP list");
  }
  if (frame_size > options_.max_frame_size) {
    return absl::ResourceExhaustedError(
        absl::StrCat("rlpx: frame size ", frame_size, " exceeds limit ", options_.max_frame_size));
  }
  pos_ += kHeaderBytes + kMacBytes;
  frame_size_ = frame_size;
  return absl::OkStatus();
}

absl::StatusOr<Message> FrameReader::ReadBody() {
  const size_t frame_size = *frame_size_;
  const size_t padded = Padded(frame_size);
  uint8_t* frame = buf_.data() + pos_;
  Mac want = FrameMac(mac_, mac_cipher_, absl::MakeConstSpan(frame, padded));
  if (!ConstantTimeEqual(want, absl::MakeConstSpan(frame + padded, kMacBytes))) {
    return absl::DataLossError("rlpx: bad frame MAC");
  }
  dec_.ApplyInPlace(absl::MakeSpan(frame, padded));
  pos_ += padded + kMacBytes;

  // The frame is rlp(code) || payload (rlp.SplitUint64).
  auto first = rlp::DecodeFirst(absl::MakeConstSpan(frame, frame_size));
  if (!first.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlpx: invalid message code: ", first.status().message()));
  }
  absl::StatusOr<uint64_t> code = rlp::ToUint64(first->first);
  if (!code.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlpx: invalid message code: ", code.status().message()));
  }
  absl::Span<const uint8_t> data = first->second;

  Message msg;
  msg.code = *code;
  msg.wire_size = data.size();
  if (!snappy_) {
    msg.payload.assign(data.begin(), data.end());
    return msg;
  }
  absl::StatusOr<size_t> decoded_len = SnappyDecodedLength(data);
  // Interop leniency: @ethereumjs/devp2p sends Disconnect as an uncompressed
  // bare reason byte even after snappy is on. A small Disconnect payload that
  // is not valid snappy is taken as it is (the ethereumjs peer does the same
  // on its side); every other message must decompress.
  if (msg.code == kDisconnectMsgCode && data.size() <= kMaxRawDisconnectBytes &&
      (!decoded_len.ok() || !SnappyDecompress(data, kMaxFrameSize).ok())) {
    msg.payload.assign(data.begin(), data.end());
    return msg;
  }
  if (!decoded_len.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: ", decoded_len.status().message()));
  }
  if (*decoded_len > kMaxFrameSize) return MessageTooLarge("decoded length", *decoded_len);
  absl::StatusOr<std::vector<uint8_t>> plain = SnappyDecompress(data, kMaxFrameSize);
  if (!plain.ok()) {
    return absl::Status(plain.status().code(), absl::StrCat("rlpx: ", plain.status().message()));
  }
  msg.payload = std::move(*plain);
  return msg;
}

// ----------------------------------------------------------------- FrameCodec

absl::StatusOr<FrameCodec> FrameCodec::Create(const Secrets& secrets, FrameReaderOptions options) {
  absl::StatusOr<FrameWriter> w = FrameWriter::Create(secrets.aes, secrets.mac, secrets.egress_mac);
  if (!w.ok()) return w.status();
  absl::StatusOr<FrameReader> r =
      FrameReader::Create(secrets.aes, secrets.mac, secrets.ingress_mac, options);
  if (!r.ok()) return r.status();
  return FrameCodec(std::move(*w), std::move(*r));
}

}  // namespace p2p::rlpx
