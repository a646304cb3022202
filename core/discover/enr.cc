#include "core/discover/enr.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crypto/keccak.h"
#include "core/rlp/rlp.h"

namespace p2p {
namespace enr {
namespace {

constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The 6-bit value of a base64url character, or -1.
int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

absl::Status KeyError(absl::string_view key, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("ENR key \"", key, "\": ", reason));
}

absl::Status Invalid(absl::string_view what, const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat(what, ": ", s.message()));
}

// Appends [seq, k1, v1, ...] to an open list: the content both the signed
// and the signing encodings share.
void AddContent(rlp::Encoder& e, uint64_t seq, const Record::Pairs& pairs) {
  e.AddUint(seq);
  for (const auto& [k, v] : pairs) {
    e.AddString(k);
    e.AddRaw(v);
  }
}

std::vector<uint8_t> EncodeSigned(const Record& r, absl::Span<const uint8_t> sig) {
  rlp::Encoder e;
  e.BeginList();
  e.AddBytes(sig);
  AddContent(e, r.seq(), r.pairs());
  e.EndList();
  return e.Finish();
}

// The "v4" scheme's check of a record's signature (go-ethereum's
// V4ID.Verify), with distinct messages per failure.
absl::Status VerifyV4(const Record& r, absl::Span<const uint8_t> sig) {
  // Missing keys are NotFound in the getters; a record lacking one is
  // invalid input here.
  auto scheme = r.IdentityScheme();
  if (!scheme.ok()) return absl::InvalidArgumentError(scheme.status().message());
  if (*scheme != kSchemeV4) {
    return absl::InvalidArgumentError(absl::StrCat("unknown identity scheme \"", *scheme, "\""));
  }
  auto pub = r.Secp256k1();
  if (!pub.ok()) return absl::InvalidArgumentError(pub.status().message());
  if (sig.size() != kV4SignatureSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid signature on node record: ", sig.size(), " bytes (want 64)"));
  }
  std::array<uint8_t, 32> hash = SigningHash(r);
  if (!VerifySignature(*pub, hash, sig)) {
    return absl::InvalidArgumentError(
        "invalid signature on node record: does not verify under its secp256k1 key");
  }
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// Base64url

std::string Base64UrlEncode(absl::Span<const uint8_t> data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
    out.push_back(kBase64UrlAlphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out.push_back(kBase64UrlAlphabet[(v >> 18) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 12) & 63]);
    out.push_back(kBase64UrlAlphabet[(v >> 6) & 63]);
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> Base64UrlDecode(absl::string_view text) {
  if (text.size() % 4 == 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid base64url: length ", text.size(), " is truncated (4n+1)"));
  }
  std::vector<uint8_t> out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    int v = Base64UrlValue(text[i]);
    if (v < 0) {
      return absl::InvalidArgumentError(
          absl::StrFormat("invalid base64url: illegal character 0x%02x at offset %d",
                          static_cast<uint8_t>(text[i]), i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
      acc &= (1u << bits) - 1;
    }
  }
  // 2 or 4 bits are left over after a partial group; they must be zero, or
  // two different texts would decode to the same bytes.
  if (acc != 0) {
    return absl::InvalidArgumentError("invalid base64url: non-zero trailing bits");
  }
  return out;
}

// ---------------------------------------------------------------------------
// Record

void Record::Invalidate() {
  signature_.clear();
  raw_.clear();
}

void Record::SetSeq(uint64_t seq) {
  Invalidate();
  seq_ = seq;
}

absl::Status Record::SetRaw(absl::string_view key, absl::Span<const uint8_t> rlp_value) {
  auto item = rlp::DecodeExact(rlp_value);
  if (!item.ok()) return KeyError(key, item.status().message());
  Invalidate();
  pairs_[std::string(key)] = std::vector<uint8_t>(rlp_value.begin(), rlp_value.end());
  return absl::OkStatus();
}

void Record::Delete(absl::string_view key) {
  auto it = pairs_.find(std::string(key));
  if (it == pairs_.end()) return;
  Invalidate();
  pairs_.erase(it);
}

void Record::SetIdentityScheme(absl::string_view scheme) {
  rlp::Encoder e;
  e.AddString(scheme);
  Invalidate();
  pairs_[kKeyId] = e.Finish();
}

void Record::SetSecp256k1(const PublicKey& pub) {
  rlp::Encoder e;
  e.AddBytes(pub.SerializeCompressed33());
  Invalidate();
  pairs_[kKeySecp256k1] = e.Finish();
}

void Record::SetIp(const IpAddress& ip) {
  rlp::Encoder e;
  if (ip.is_v4()) {
    e.AddBytes(ip.WireBytes());  // 4 bytes
    Invalidate();
    pairs_[kKeyIp] = e.Finish();
  } else {
    e.AddBytes(ip.bytes16());
    Invalidate();
    pairs_[kKeyIp6] = e.Finish();
  }
}

void Record::SetUintKey(absl::string_view key, uint64_t v) {
  rlp::Encoder e;
  e.AddUint(v);
  Invalidate();
  pairs_[std::string(key)] = e.Finish();
}

void Record::SetTcp(uint16_t port) { SetUintKey(kKeyTcp, port); }
void Record::SetUdp(uint16_t port) { SetUintKey(kKeyUdp, port); }
void Record::SetTcp6(uint16_t port) { SetUintKey(kKeyTcp6, port); }
void Record::SetUdp6(uint16_t port) { SetUintKey(kKeyUdp6, port); }

absl::StatusOr<std::vector<uint8_t>> Record::GetRaw(absl::string_view key) const {
  auto it = pairs_.find(std::string(key));
  if (it == pairs_.end()) {
    return absl::NotFoundError(absl::StrCat("missing ENR key \"", key, "\""));
  }
  return it->second;
}

absl::StatusOr<std::string> Record::IdentityScheme() const {
  auto raw = GetRaw(kKeyId);
  if (!raw.ok()) return raw.status();
  auto item = rlp::DecodeExact(*raw);
  if (!item.ok()) return KeyError(kKeyId, item.status().message());
  auto b = rlp::ToBytes(*item);
  if (!b.ok()) return KeyError(kKeyId, b.status().message());
  return std::string(b->begin(), b->end());
}

absl::StatusOr<PublicKey> Record::Secp256k1() const {
  auto raw = GetRaw(kKeySecp256k1);
  if (!raw.ok()) return raw.status();
  auto item = rlp::DecodeExact(*raw);
  if (!item.ok()) return KeyError(kKeySecp256k1, item.status().message());
  auto b = rlp::ToBytes(*item);
  if (!b.ok()) return KeyError(kKeySecp256k1, b.status().message());
  // Only the compressed form is valid here, though Parse takes others.
  if (b->size() != 33) {
    return KeyError(kKeySecp256k1,
                    absl::StrCat("invalid public key: ", b->size(), " bytes (want 33)"));
  }
  auto pub = PublicKey::Parse(*b);
  if (!pub.ok()) return KeyError(kKeySecp256k1, pub.status().message());
  return *pub;
}

absl::StatusOr<IpAddress> Record::Ip() const {
  auto raw = GetRaw(kKeyIp);
  if (!raw.ok()) return raw.status();
  auto item = rlp::DecodeExact(*raw);
  if (!item.ok()) return KeyError(kKeyIp, item.status().message());
  std::array<uint8_t, 4> b;
  absl::Status s = rlp::ToFixedBytes(*item, absl::MakeSpan(b));
  if (!s.ok()) return KeyError(kKeyIp, s.message());
  return IpAddress::V4(b[0], b[1], b[2], b[3]);
}

absl::StatusOr<IpAddress> Record::Ip6() const {
  auto raw = GetRaw(kKeyIp6);
  if (!raw.ok()) return raw.status();
  auto item = rlp::DecodeExact(*raw);
  if (!item.ok()) return KeyError(kKeyIp6, item.status().message());
  std::array<uint8_t, 16> b;
  absl::Status s = rlp::ToFixedBytes(*item, absl::MakeSpan(b));
  if (!s.ok()) return KeyError(kKeyIp6, s.message());
  return IpAddress::FromBytes16(b);
}

absl::StatusOr<uint16_t> Record::GetPort(absl::string_view key) const {
  auto raw = GetRaw(key);
  if (!raw.ok()) return raw.status();
  auto item = rlp::DecodeExact(*raw);
  if (!item.ok()) return KeyError(key, item.status().message());
  auto v = rlp::ToUint64(*item);
  if (!v.ok()) return KeyError(key, v.status().message());
  if (*v > 65535) return KeyError(key, absl::StrCat("port ", *v, " out of range"));
  return static_cast<uint16_t>(*v);
}

absl::StatusOr<uint16_t> Record::Tcp() const { return GetPort(kKeyTcp); }
absl::StatusOr<uint16_t> Record::Udp() const { return GetPort(kKeyUdp); }
absl::StatusOr<uint16_t> Record::Tcp6() const { return GetPort(kKeyTcp6); }
absl::StatusOr<uint16_t> Record::Udp6() const { return GetPort(kKeyUdp6); }

absl::Status Record::SignV4(const PrivateKey& key) {
  SetIdentityScheme(kSchemeV4);
  SetSecp256k1(DerivePublicKey(key));
  std::array<uint8_t, 32> hash = SigningHash(*this);
  auto sig = SignRecoverable(key, hash);
  if (!sig.ok()) return sig.status();
  // The v4 scheme drops the recovery id.
  absl::Span<const uint8_t> rs(sig->data(), kV4SignatureSize);
  std::vector<uint8_t> raw = EncodeSigned(*this, rs);
  if (raw.size() > kRecordSizeLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("record bigger than ", kRecordSizeLimit, " bytes (", raw.size(), ")"));
  }
  signature_.assign(rs.begin(), rs.end());
  raw_ = std::move(raw);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> Record::Encode() const {
  if (!is_signed()) return absl::FailedPreconditionError("can't encode unsigned record");
  return raw_;
}

absl::StatusOr<std::string> Record::ToText() const {
  if (!is_signed()) return absl::FailedPreconditionError("can't encode unsigned record");
  return absl::StrCat(kTextPrefix, Base64UrlEncode(raw_));
}

absl::StatusOr<NodeId> Record::VerifiedNodeId() const {
  if (!is_signed()) return absl::FailedPreconditionError("unsigned record");
  auto pub = Secp256k1();
  if (!pub.ok()) return pub.status();  // Cannot happen: verification read it.
  return NodeId::FromPublicKey(*pub);
}

absl::StatusOr<Node> Record::ToNode() const {
  if (!is_signed()) return absl::FailedPreconditionError("unsigned record");
  auto pub = Secp256k1();
  if (!pub.ok()) return pub.status();
  // An absent port is 0; a malformed one is an error.
  auto port = [](absl::StatusOr<uint16_t> p, uint16_t fallback) -> absl::StatusOr<uint16_t> {
    if (absl::IsNotFound(p.status())) return fallback;
    return p;
  };
  auto tcp = port(Tcp(), 0);
  if (!tcp.ok()) return tcp.status();
  auto udp = port(Udp(), 0);
  if (!udp.ok()) return udp.status();
  IpAddress ip;
  uint16_t tcp_port = 0;
  uint16_t udp_port = 0;
  auto ip4 = Ip();
  if (ip4.ok()) {
    ip = *ip4;
    tcp_port = *tcp;
    udp_port = *udp;
  } else if (!absl::IsNotFound(ip4.status())) {
    return ip4.status();
  } else {
    auto ip6 = Ip6();
    if (ip6.ok()) {
      auto tcp6 = port(Tcp6(), *tcp);
      if (!tcp6.ok()) return tcp6.status();
      auto udp6 = port(Udp6(), *udp);
      if (!udp6.ok()) return udp6.status();
      ip = *ip6;
      tcp_port = *tcp6;
      udp_port = *udp6;
    } else if (!absl::IsNotFound(ip6.status())) {
      return ip6.status();
    }
  }
  return Node::FromPublicKey(*pub, ip, tcp_port, udp_port);
}

std::array<uint8_t, 32> SigningHash(const Record& r) {
  rlp::Encoder e;
  e.BeginList();
  AddContent(e, r.seq(), r.pairs());
  e.EndList();
  return Keccak256Hash(absl::Span<const uint8_t>(e.Finish()));
}

// ---------------------------------------------------------------------------
// Decoding

absl::StatusOr<Record> DecodeRecord(absl::Span<const uint8_t> encoded) {
  if (encoded.size() > kRecordSizeLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("record bigger than ", kRecordSizeLimit, " bytes (", encoded.size(), ")"));
  }
  auto top = rlp::DecodeExact(encoded);
  if (!top.ok()) return Invalid("invalid record", top.status());
  auto list = rlp::ListReader::Open(*top);
  if (!list.ok()) return Invalid("invalid record", list.status());
  if (list->AtEnd()) {
    return absl::InvalidArgumentError("record contains less than two list elements");
  }
  auto sig = list->NextBytes();
  if (!sig.ok()) return Invalid("invalid record signature", sig.status());
  if (list->AtEnd()) {
    return absl::InvalidArgumentError("record contains less than two list elements");
  }
  auto seq = list->NextUint();
  if (!seq.ok()) return Invalid("invalid record seq", seq.status());

  Record r;
  r.seq_ = *seq;
  std::string prev;
  bool first = true;
  while (!list->AtEnd()) {
    auto k = list->NextBytes();
    if (!k.ok()) return Invalid("invalid record key", k.status());
    std::string key(k->begin(), k->end());
    if (list->AtEnd()) return absl::InvalidArgumentError("record contains incomplete k/v pair");
    auto v = list->Next();
    if (!v.ok()) return Invalid("invalid record value", v.status());  // Cannot happen: validated.
    if (!first) {
      if (key == prev) {
        return absl::InvalidArgumentError(
            absl::StrCat("record contains duplicate key \"", absl::CHexEscape(key), "\""));
      }
      if (key < prev) {
        return absl::InvalidArgumentError(
            absl::StrCat("record key/value pairs are not sorted by key (\"", absl::CHexEscape(key),
                         "\" after \"", absl::CHexEscape(prev), "\")"));
      }
    }
    r.pairs_.emplace_hint(r.pairs_.end(), key,
                          std::vector<uint8_t>(v->encoded.begin(), v->encoded.end()));
    prev = std::move(key);
    first = false;
  }

  absl::Status s = VerifyV4(r, *sig);
  if (!s.ok()) return s;
  r.signature_ = std::move(*sig);
  r.raw_.assign(encoded.begin(), encoded.end());
  return r;
}

absl::StatusOr<Record> ParseText(absl::string_view text) {
  if (text.substr(0, 4) != kTextPrefix) {
    return absl::InvalidArgumentError("missing 'enr:' prefix");
  }
  auto bytes = Base64UrlDecode(text.substr(4));
  if (!bytes.ok()) return bytes.status();
  return DecodeRecord(*bytes);
}

}  // namespace enr
}  // namespace p2p
