#include "core/rlpx/handshake.h"

#include <algorithm>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "core/crypto/keccak.h"
#include "core/rlp/rlp.h"
#include "core/rlpx/ecies.h"

namespace p2p::rlpx {
namespace {

constexpr size_t kSigBytes = 65;
constexpr size_t kPubBytes = 64;
constexpr size_t kNonceBytes = 32;
constexpr size_t kPrefixBytes = 2;
// Legacy plaintexts: sig || keccak(eph-pubk) || pubk || nonce || token-flag
// and eph-pubk || nonce || token-flag.
constexpr size_t kLegacyAuthBodyBytes = kSigBytes + 32 + kPubBytes + kNonceBytes + 1;
constexpr size_t kLegacyAckBodyBytes = kPubBytes + kNonceBytes + 1;
static_assert(kLegacyAuthBodyBytes + kEciesOverhead == kLegacyAuthPacketBytes, "legacy auth size");
static_assert(kLegacyAckBodyBytes + kEciesOverhead == kLegacyAckPacketBytes, "legacy ack size");

Nonce Xor32(const std::array<uint8_t, 32>& a, const std::array<uint8_t, 32>& b) {
  Nonce out;
  for (size_t i = 0; i < out.size(); ++i) out[i] = a[i] ^ b[i];
  return out;
}

absl::Status CheckSizePrefix(size_t size) {
  if (size > kMaxHandshakePacket) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: handshake packet too big: size prefix ",
                                                   size, " > ", kMaxHandshakePacket));
  }
  if (size < kEciesOverhead) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: handshake packet too small: size prefix ",
                                                   size, " < ", kEciesOverhead));
  }
  return absl::OkStatus();
}

bool IsLegacy(absl::Span<const uint8_t> packet, size_t legacy_bytes) {
  // An EIP-8 packet whose prefix starts with 0x04 is at least 2 + 0x0400
  // bytes long, so this cannot match one.
  return packet.size() == legacy_bytes && packet[0] == 0x04;
}

// Checks the EIP-8 framing of a complete packet and decrypts it.
absl::StatusOr<std::vector<uint8_t>> OpenEip8(const PrivateKey& priv,
                                              absl::Span<const uint8_t> packet,
                                              const char* what) {
  if (packet.size() < kPrefixBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlpx: truncated ", what, " packet: ", packet.size(), " bytes"));
  }
  const size_t size = (size_t{packet[0]} << 8) | packet[1];
  absl::Status s = CheckSizePrefix(size);
  if (!s.ok()) return s;
  if (packet.size() < kPrefixBytes + size) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: truncated ", what, " packet: ",
                                                   packet.size(), " bytes, size prefix needs ",
                                                   kPrefixBytes + size));
  }
  if (packet.size() > kPrefixBytes + size) {
    return absl::InvalidArgumentError(absl::StrCat("rlpx: ", what, " packet is ", packet.size(),
                                                   " bytes, size prefix says ",
                                                   kPrefixBytes + size));
  }
  return EciesDecrypt(priv, packet.subspan(kPrefixBytes), packet.first(kPrefixBytes));
}

absl::StatusOr<PublicKey> ParseRemoteKey(absl::Span<const uint8_t> bytes, const char* what) {
  absl::StatusOr<PublicKey> key = PublicKey::Parse(bytes);
  if (!key.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlpx: invalid ", what, ": ", key.status().message()));
  }
  return key;
}

// Collects the encodings of the list elements after the ones we know.
absl::StatusOr<std::vector<uint8_t>> Rest(rlp::ListReader& list) {
  std::vector<uint8_t> rest;
  while (!list.AtEnd()) {
    absl::StatusOr<rlp::Item> item = list.Next();
    if (!item.ok()) return item.status();
    rest.insert(rest.end(), item->encoded.begin(), item->encoded.end());
  }
  return rest;
}

absl::Status BodyError(const char* what, const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat("rlpx: invalid ", what, " body: ", s.message()));
}

// Decodes rlp([sig, pubk, nonce, vsn, ...]) followed by padding.
absl::Status DecodeEip8AuthBody(absl::Span<const uint8_t> body, AuthMessage& msg) {
  absl::StatusOr<std::pair<rlp::Item, absl::Span<const uint8_t>>> first = rlp::DecodeFirst(body);
  if (!first.ok()) return BodyError("auth", first.status());
  absl::StatusOr<rlp::ListReader> list = rlp::ListReader::Open(first->first);
  if (!list.ok()) return BodyError("auth", list.status());
  absl::Status s = list->NextFixedBytes(absl::MakeSpan(msg.signature));
  if (!s.ok()) return BodyError("auth", s);
  std::array<uint8_t, kPubBytes> pub;
  s = list->NextFixedBytes(absl::MakeSpan(pub));
  if (!s.ok()) return BodyError("auth", s);
  s = list->NextFixedBytes(absl::MakeSpan(msg.nonce));
  if (!s.ok()) return BodyError("auth", s);
  absl::StatusOr<uint64_t> version = list->NextUint();
  if (!version.ok()) return BodyError("auth", version.status());
  msg.version = *version;
  absl::StatusOr<std::vector<uint8_t>> rest = Rest(*list);
  if (!rest.ok()) return BodyError("auth", rest.status());
  msg.rest = std::move(*rest);
  absl::StatusOr<PublicKey> key = ParseRemoteKey(pub, "initiator public key");
  if (!key.ok()) return key.status();
  msg.initiator_static = *key;
  return absl::OkStatus();
}

// Decodes rlp([eph-pubk, nonce, vsn, ...]) followed by padding.
absl::Status DecodeEip8AckBody(absl::Span<const uint8_t> body, AckMessage& msg) {
  absl::StatusOr<std::pair<rlp::Item, absl::Span<const uint8_t>>> first = rlp::DecodeFirst(body);
  if (!first.ok()) return BodyError("ack", first.status());
  absl::StatusOr<rlp::ListReader> list = rlp::ListReader::Open(first->first);
  if (!list.ok()) return BodyError("ack", list.status());
  std::array<uint8_t, kPubBytes> pub;
  absl::Status s = list->NextFixedBytes(absl::MakeSpan(pub));
  if (!s.ok()) return BodyError("ack", s);
  s = list->NextFixedBytes(absl::MakeSpan(msg.nonce));
  if (!s.ok()) return BodyError("ack", s);
  absl::StatusOr<uint64_t> version = list->NextUint();
  if (!version.ok()) return BodyError("ack", version.status());
  msg.version = *version;
  absl::StatusOr<std::vector<uint8_t>> rest = Rest(*list);
  if (!rest.ok()) return BodyError("ack", rest.status());
  msg.rest = std::move(*rest);
  absl::StatusOr<PublicKey> key = ParseRemoteKey(pub, "recipient ephemeral public key");
  if (!key.ok()) return key.status();
  msg.recipient_ephemeral = *key;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AuthMessage> DecodeAuth(const PrivateKey& recipient_static,
                                       absl::Span<const uint8_t> packet) {
  AuthMessage msg;
  if (!packet.empty() && IsLegacy(packet, kLegacyAuthPacketBytes)) {
    absl::StatusOr<std::vector<uint8_t>> body = EciesDecrypt(recipient_static, packet, {});
    if (!body.ok()) return body.status();
    ABSL_RAW_CHECK(body->size() == kLegacyAuthBodyBytes, "legacy auth body size");
    const uint8_t* p = body->data();
    std::copy(p, p + kSigBytes, msg.signature.begin());
    p += kSigBytes + 32;  // Skip keccak(ephemeral-pubk): unchecked, as go-ethereum.
    absl::StatusOr<PublicKey> key =
        ParseRemoteKey(absl::MakeConstSpan(p, kPubBytes), "initiator public key");
    if (!key.ok()) return key.status();
    msg.initiator_static = *key;
    p += kPubBytes;
    std::copy(p, p + kNonceBytes, msg.nonce.begin());
    msg.version = kHandshakeVersion;
    msg.legacy = true;
    return msg;
  }
  absl::StatusOr<std::vector<uint8_t>> body = OpenEip8(recipient_static, packet, "auth");
  if (!body.ok()) return body.status();
  absl::Status s = DecodeEip8AuthBody(*body, msg);
  if (!s.ok()) return s;
  return msg;
}

absl::StatusOr<AckMessage> DecodeAck(const PrivateKey& initiator_static,
                                     absl::Span<const uint8_t> packet) {
  AckMessage msg;
  if (!packet.empty() && IsLegacy(packet, kLegacyAckPacketBytes)) {
    absl::StatusOr<std::vector<uint8_t>> body = EciesDecrypt(initiator_static, packet, {});
    if (!body.ok()) return body.status();
    ABSL_RAW_CHECK(body->size() == kLegacyAckBodyBytes, "legacy ack body size");
    absl::StatusOr<PublicKey> key = ParseRemoteKey(absl::MakeConstSpan(body->data(), kPubBytes),
                                                   "recipient ephemeral public key");
    if (!key.ok()) return key.status();
    msg.recipient_ephemeral = *key;
    std::copy(body->begin() + kPubBytes, body->begin() + kPubBytes + kNonceBytes,
              msg.nonce.begin());
    msg.version = kHandshakeVersion;
    msg.legacy = true;
    return msg;
  }
  absl::StatusOr<std::vector<uint8_t>> body = OpenEip8(initiator_static, packet, "ack");
  if (!body.ok()) return body.status();
  absl::Status s = DecodeEip8AckBody(*body, msg);
  if (!s.ok()) return s;
  return msg;
}

absl::StatusOr<Secrets> DeriveSecrets(bool initiator, const PrivateKey& local_ephemeral,
                                      const PublicKey& remote_ephemeral, const Nonce& init_nonce,
                                      const Nonce& resp_nonce, absl::Span<const uint8_t> auth_packet,
                                      absl::Span<const uint8_t> ack_packet,
                                      const PublicKey& remote_static) {
  absl::StatusOr<std::array<uint8_t, 32>> ecdhe = Ecdh(local_ephemeral, remote_ephemeral);
  if (!ecdhe.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlpx: ephemeral key agreement: ", ecdhe.status().message()));
  }
  // keccak(a || b) for two 32-byte values.
  auto hash2 = [](const std::array<uint8_t, 32>& a, const std::array<uint8_t, 32>& b) {
    std::array<uint8_t, 64> buf;
    std::copy(a.begin(), a.end(), buf.begin());
    std::copy(b.begin(), b.end(), buf.begin() + 32);
    return Keccak256Hash(buf);
  };
  const std::array<uint8_t, 32> nonce_hash = hash2(resp_nonce, init_nonce);
  const std::array<uint8_t, 32> shared = hash2(*ecdhe, nonce_hash);

  Secrets s;
  s.remote_static = remote_static;
  s.aes = hash2(*ecdhe, shared);
  s.mac = hash2(*ecdhe, s.aes);

  Keccak256 mac1;
  mac1.Update(Xor32(s.mac, resp_nonce));
  mac1.Update(auth_packet);
  Keccak256 mac2;
  mac2.Update(Xor32(s.mac, init_nonce));
  mac2.Update(ack_packet);
  if (initiator) {
    s.egress_mac = mac1;
    s.ingress_mac = mac2;
  } else {
    s.egress_mac = mac2;
    s.ingress_mac = mac1;
  }
  return s;
}

// ---------------------------------------------------------------------------
// Handshake

Handshake::Handshake(bool initiator, const PrivateKey& local_static, Entropy& entropy,
                     HandshakeOptions options)
    : initiator_(initiator),
      local_static_(local_static),
      entropy_(&entropy),
      options_(std::move(options)) {}

Handshake Handshake::Initiator(const PrivateKey& local_static, const PublicKey& remote_static,
                               Entropy& entropy, HandshakeOptions options) {
  Handshake h(true, local_static, entropy, std::move(options));
  h.remote_static_ = remote_static;
  return h;
}

Handshake Handshake::Recipient(const PrivateKey& local_static, Entropy& entropy,
                               HandshakeOptions options) {
  return Handshake(false, local_static, entropy, std::move(options));
}

void Handshake::Expect(bool initiator, State state, const char* method) const {
  if (initiator_ != initiator) {
    ABSL_RAW_LOG(FATAL, "rlpx::Handshake::%s called on the %s side", method,
                 initiator_ ? "initiator" : "recipient");
  }
  if (state_ != state) {
    const char* now = state_ == State::kStart      ? "before the first step"
                      : state_ == State::kAuthDone ? "after the first step"
                      : state_ == State::kFinished ? "after the handshake finished"
                                                   : "after a failed step";
    ABSL_RAW_LOG(FATAL, "rlpx::Handshake::%s called out of order (%s)", method, now);
  }
}

void Handshake::DrawEphemeralAndNonce() {
  if (options_.nonce.has_value()) {
    local_nonce_ = *options_.nonce;
  } else {
    entropy_->Fill(absl::MakeSpan(local_nonce_));
  }
  local_ephemeral_ = options_.ephemeral_key.has_value() ? *options_.ephemeral_key
                                                        : PrivateKey::Generate(*entropy_);
}

absl::StatusOr<std::vector<uint8_t>> Handshake::SealEip8(std::vector<uint8_t> body) {
  // Padding makes EIP-8 packets longer than legacy ones (307/210 bytes):
  // older readers first read a legacy-sized chunk and try that format.
  // It also varies the packet size.
  uint8_t draw[2];
  entropy_->Fill(absl::MakeSpan(draw));
  // (A 16-bit draw modulo 100: the bias, 36 in 65536, does not matter here.)
  const size_t padding =
      kMinHandshakePadding +
      ((size_t{draw[0]} << 8) | draw[1]) % (kMaxHandshakePadding - kMinHandshakePadding + 1);
  const size_t body_size = body.size();
  body.resize(body_size + padding);
  entropy_->Fill(absl::MakeSpan(body.data() + body_size, padding));

  const size_t size = body.size() + kEciesOverhead;
  ABSL_RAW_CHECK(size <= kMaxHandshakePacket, "rlpx: own handshake packet too big");
  const uint8_t prefix[kPrefixBytes] = {static_cast<uint8_t>(size >> 8),
                                        static_cast<uint8_t>(size)};
  absl::StatusOr<std::vector<uint8_t>> enc =
      EciesEncrypt(remote_static_, body, prefix, *entropy_);
  if (!enc.ok()) return enc.status();
  std::vector<uint8_t> packet;
  packet.reserve(kPrefixBytes + enc->size());
  packet.insert(packet.end(), prefix, prefix + kPrefixBytes);
  packet.insert(packet.end(), enc->begin(), enc->end());
  return packet;
}

absl::StatusOr<size_t> Handshake::PacketSize(absl::Span<const uint8_t> buffered) {
  if (initiator_) {
    Expect(true, State::kAuthDone, "PacketSize");
  } else {
    Expect(false, State::kStart, "PacketSize");
  }
  const size_t legacy_bytes = initiator_ ? kLegacyAckPacketBytes : kLegacyAuthPacketBytes;
  if (!buffered.empty() && buffered[0] == 0x04 && probe_ == LegacyProbe::kUnknown) {
    if (buffered.size() < legacy_bytes) return legacy_bytes;
    if (EciesDecrypt(local_static_, buffered.first(legacy_bytes), {}).ok()) return legacy_bytes;
    probe_ = LegacyProbe::kNotLegacy;
  }
  if (buffered.size() < kPrefixBytes) return kPrefixBytes;
  const size_t size = (size_t{buffered[0]} << 8) | buffered[1];
  absl::Status s = CheckSizePrefix(size);
  if (!s.ok()) return s;
  return kPrefixBytes + size;
}

absl::StatusOr<std::vector<uint8_t>> Handshake::MakeAuth() {
  Expect(true, State::kStart, "MakeAuth");
  state_ = State::kFailed;  // Until this step succeeds.
  DrawEphemeralAndNonce();

  // Sign known message: static-shared-secret ^ nonce.
  absl::StatusOr<std::array<uint8_t, 32>> token = Ecdh(local_static_, remote_static_);
  if (!token.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlpx: remote static key: ", token.status().message()));
  }
  const Nonce signed_msg = Xor32(*token, local_nonce_);
  absl::StatusOr<std::array<uint8_t, 65>> sig = SignRecoverable(*local_ephemeral_, signed_msg);
  if (!sig.ok()) return sig.status();

  rlp::Encoder enc;
  enc.BeginList();
  enc.AddBytes(*sig);
  enc.AddBytes(DerivePublicKey(local_static_).bytes());
  enc.AddBytes(local_nonce_);
  enc.AddUint(kHandshakeVersion);
  enc.EndList();
  absl::StatusOr<std::vector<uint8_t>> packet = SealEip8(enc.Finish());
  if (!packet.ok()) return packet.status();

  auth_packet_ = *packet;
  state_ = State::kAuthDone;
  return packet;
}

absl::StatusOr<Secrets> Handshake::ReadAck(absl::Span<const uint8_t> packet) {
  Expect(true, State::kAuthDone, "ReadAck");
  state_ = State::kFailed;
  absl::StatusOr<AckMessage> ack = DecodeAck(local_static_, packet);
  if (!ack.ok()) return ack.status();
  remote_ephemeral_ = ack->recipient_ephemeral;
  remote_nonce_ = ack->nonce;
  remote_version_ = ack->version;
  remote_legacy_ = ack->legacy;

  absl::StatusOr<Secrets> secrets =
      DeriveSecrets(true, *local_ephemeral_, remote_ephemeral_, local_nonce_, remote_nonce_,
                    auth_packet_, packet, remote_static_);
  if (!secrets.ok()) return secrets.status();
  state_ = State::kFinished;
  return secrets;
}

absl::Status Handshake::ReadAuth(absl::Span<const uint8_t> packet) {
  Expect(false, State::kStart, "ReadAuth");
  state_ = State::kFailed;
  absl::StatusOr<AuthMessage> auth = DecodeAuth(local_static_, packet);
  if (!auth.ok()) return auth.status();

  // The initiator signed static-shared-secret ^ nonce with its ephemeral
  // key; recovering the signer gives us that key.
  absl::StatusOr<std::array<uint8_t, 32>> token = Ecdh(local_static_, auth->initiator_static);
  if (!token.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlpx: initiator static key: ", token.status().message()));
  }
  const Nonce signed_msg = Xor32(*token, auth->nonce);
  absl::StatusOr<PublicKey> ephemeral = RecoverPublicKey(signed_msg, auth->signature);
  if (!ephemeral.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("rlpx: invalid auth signature: ", ephemeral.status().message()));
  }

  remote_static_ = auth->initiator_static;
  remote_ephemeral_ = *ephemeral;
  remote_nonce_ = auth->nonce;
  remote_version_ = auth->version;
  remote_legacy_ = auth->legacy;
  auth_packet_.assign(packet.begin(), packet.end());
  state_ = State::kAuthDone;
  return absl::OkStatus();
}

absl::StatusOr<Handshake::Ack> Handshake::MakeAck() {
  Expect(false, State::kAuthDone, "MakeAck");
  state_ = State::kFailed;
  DrawEphemeralAndNonce();
  const PublicKey ephemeral_pub = DerivePublicKey(*local_ephemeral_);

  absl::StatusOr<std::vector<uint8_t>> packet;
  if (remote_legacy_) {
    std::vector<uint8_t> body(kLegacyAckBodyBytes, 0);  // Token flag 0.
    std::copy(ephemeral_pub.bytes().begin(), ephemeral_pub.bytes().end(), body.begin());
    std::copy(local_nonce_.begin(), local_nonce_.end(), body.begin() + kPubBytes);
    packet = EciesEncrypt(remote_static_, body, {}, *entropy_);
  } else {
    rlp::Encoder enc;
    enc.BeginList();
    enc.AddBytes(ephemeral_pub.bytes());
    enc.AddBytes(local_nonce_);
    enc.AddUint(kHandshakeVersion);
    enc.EndList();
    packet = SealEip8(enc.Finish());
  }
  if (!packet.ok()) return packet.status();

  absl::StatusOr<Secrets> secrets =
      DeriveSecrets(false, *local_ephemeral_, remote_ephemeral_, remote_nonce_, local_nonce_,
                    auth_packet_, *packet, remote_static_);
  if (!secrets.ok()) return secrets.status();
  state_ = State::kFinished;
  return Ack{std::move(*packet), std::move(*secrets)};
}

}  // namespace p2p::rlpx
