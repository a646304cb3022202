#include "core/discover/v4wire.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "core/crypto/keccak.h"
#include "core/rlp/rlp.h"

namespace p2p {
namespace discover {
namespace {

// ---- Encoding ----

void AddIp(rlp::Encoder& e, const IpAddress& ip) {
  // IpAddress() is "unknown": go-ethereum's zero Endpoint sends it empty.
  if (ip == IpAddress()) {
    e.AddBytes({});
    return;
  }
  e.AddBytes(ip.WireBytes());
}

void AddEndpoint(rlp::Encoder& e, const WireEndpoint& ep) {
  e.BeginList();
  AddIp(e, ep.ip);
  e.AddUint(ep.udp);
  e.AddUint(ep.tcp);
  e.EndList();
}

// Appends packet-data for each type. Returns an error only for input the
// wire cannot carry.
struct DataEncoder {
  rlp::Encoder& e;

  absl::Status operator()(const Ping& p) {
    e.BeginList();
    e.AddUint(p.version);
    AddEndpoint(e, p.from);
    AddEndpoint(e, p.to);
    e.AddUint(p.expiration);
    if (p.enr_seq.has_value()) e.AddUint(*p.enr_seq);
    e.EndList();
    return absl::OkStatus();
  }
  absl::Status operator()(const Pong& p) {
    e.BeginList();
    AddEndpoint(e, p.to);
    e.AddBytes(p.ping_hash);
    e.AddUint(p.expiration);
    if (p.enr_seq.has_value()) e.AddUint(*p.enr_seq);
    e.EndList();
    return absl::OkStatus();
  }
  absl::Status operator()(const FindNode& p) {
    e.BeginList();
    e.AddBytes(p.target);
    e.AddUint(p.expiration);
    e.EndList();
    return absl::OkStatus();
  }
  absl::Status operator()(const Neighbors& p) {
    e.BeginList();
    e.BeginList();
    for (const WireNode& n : p.nodes) {
      e.BeginList();
      AddIp(e, n.ip);
      e.AddUint(n.udp);
      e.AddUint(n.tcp);
      e.AddBytes(n.id);
      e.EndList();
    }
    e.EndList();
    e.AddUint(p.expiration);
    e.EndList();
    return absl::OkStatus();
  }
  absl::Status operator()(const ENRRequest& p) {
    e.BeginList();
    e.AddUint(p.expiration);
    e.EndList();
    return absl::OkStatus();
  }
  absl::Status operator()(const ENRResponse& p) {
    // The record goes in verbatim, so check that it is one list: anything
    // else would make a packet no decoder accepts.
    absl::StatusOr<rlp::Item> record = rlp::DecodeExact(p.record);
    if (!record.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("ENRResponse.record is not one RLP item: ", record.status().message()));
    }
    if (!record->is_list()) {
      return absl::InvalidArgumentError("ENRResponse.record is not an RLP list");
    }
    e.BeginList();
    e.AddBytes(p.request_hash);
    e.AddRaw(p.record);
    e.EndList();
    return absl::OkStatus();
  }
};

// ---- Decoding ----

// The error for a malformed packet-data field.
absl::Status Invalid(absl::string_view field, const absl::Status& cause) {
  return absl::InvalidArgumentError(absl::StrCat("invalid packet: ", field, ": ", cause.message()));
}

absl::Status Invalid(absl::string_view field, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("invalid packet: ", field, ": ", reason));
}

// Each reader consumes one field from `r` into `out`; `field` names it in
// errors ("Ping.from.udp").

absl::Status ReadUint(rlp::ListReader& r, absl::string_view field, uint64_t& out) {
  absl::StatusOr<uint64_t> v = r.NextUint();
  if (!v.ok()) return Invalid(field, v.status());
  out = *v;
  return absl::OkStatus();
}

absl::Status ReadPort(rlp::ListReader& r, absl::string_view field, uint16_t& out) {
  absl::StatusOr<rlp::Item> item = r.Next();
  if (!item.ok()) return Invalid(field, item.status());
  absl::StatusOr<uint64_t> v = rlp::ToUint64(*item);
  if (!v.ok()) return Invalid(field, v.status());
  if (*v > std::numeric_limits<uint16_t>::max()) {
    // Worded like the RLP library's errors (and go-ethereum's for uint16).
    return Invalid(field, absl::StrCat("rlp: input string too long for uint16 (",
                                       item->payload.size(), " bytes) at offset ", item->offset));
  }
  out = static_cast<uint16_t>(*v);
  return absl::OkStatus();
}

absl::Status ReadIp(rlp::ListReader& r, absl::string_view field, IpAddress& out) {
  absl::StatusOr<rlp::Item> item = r.Next();
  if (!item.ok()) return Invalid(field, item.status());
  absl::StatusOr<std::vector<uint8_t>> bytes = rlp::ToBytes(*item);
  if (!bytes.ok()) return Invalid(field, bytes.status());
  if (bytes->empty()) {
    out = IpAddress();  // Unknown endpoint (see WireEndpoint).
    return absl::OkStatus();
  }
  if (bytes->size() != 4 && bytes->size() != 16) {
    return Invalid(field, absl::StrCat("IP address must be 0, 4 or 16 bytes, got ", bytes->size(),
                                       " at offset ", item->offset));
  }
  absl::StatusOr<IpAddress> ip = IpAddress::FromBytes(*bytes);
  if (!ip.ok()) return Invalid(field, ip.status());
  out = *ip;
  return absl::OkStatus();
}

template <size_t N>
absl::Status ReadFixed(rlp::ListReader& r, absl::string_view field, std::array<uint8_t, N>& out) {
  absl::Status s = r.NextFixedBytes(absl::MakeSpan(out));
  if (!s.ok()) return Invalid(field, s);
  return absl::OkStatus();
}

absl::StatusOr<rlp::ListReader> OpenList(rlp::ListReader& r, absl::string_view field) {
  absl::StatusOr<rlp::ListReader> list = r.NextList();
  if (!list.ok()) return Invalid(field, list.status());
  return list;
}

// [ip, udp, tcp, ...]; extra elements are ignored (EIP-8).
absl::Status ReadEndpoint(rlp::ListReader& r, absl::string_view field, WireEndpoint& out) {
  absl::StatusOr<rlp::ListReader> ep = OpenList(r, field);
  if (!ep.ok()) return ep.status();
  absl::Status s;
  if (s = ReadIp(*ep, absl::StrCat(field, ".ip"), out.ip); !s.ok()) return s;
  if (s = ReadPort(*ep, absl::StrCat(field, ".udp"), out.udp); !s.ok()) return s;
  return ReadPort(*ep, absl::StrCat(field, ".tcp"), out.tcp);
}

// The optional EIP-868 enr-seq: absent at the end of the list or when the
// element in its place is a list (a pre-EIP-868 extension, as in EIP-8's
// vectors); a byte string there must be a valid integer.
absl::Status ReadEnrSeq(rlp::ListReader& r, absl::string_view field, std::optional<uint64_t>& out) {
  out.reset();
  if (r.AtEnd()) return absl::OkStatus();
  absl::StatusOr<rlp::Item> item = r.Next();
  if (!item.ok()) return Invalid(field, item.status());
  if (item->is_list()) return absl::OkStatus();
  absl::StatusOr<uint64_t> v = rlp::ToUint64(*item);
  if (!v.ok()) return Invalid(field, v.status());
  out = *v;
  return absl::OkStatus();
}

absl::StatusOr<Packet> DecodePing(rlp::ListReader& r) {
  Ping p;
  absl::Status s;
  if (s = ReadUint(r, "Ping.version", p.version); !s.ok()) return s;
  if (s = ReadEndpoint(r, "Ping.from", p.from); !s.ok()) return s;
  if (s = ReadEndpoint(r, "Ping.to", p.to); !s.ok()) return s;
  if (s = ReadUint(r, "Ping.expiration", p.expiration); !s.ok()) return s;
  if (s = ReadEnrSeq(r, "Ping.enr_seq", p.enr_seq); !s.ok()) return s;
  return Packet(std::move(p));
}

absl::StatusOr<Packet> DecodePong(rlp::ListReader& r) {
  Pong p;
  absl::Status s;
  if (s = ReadEndpoint(r, "Pong.to", p.to); !s.ok()) return s;
  if (s = ReadFixed(r, "Pong.ping_hash", p.ping_hash); !s.ok()) return s;
  if (s = ReadUint(r, "Pong.expiration", p.expiration); !s.ok()) return s;
  if (s = ReadEnrSeq(r, "Pong.enr_seq", p.enr_seq); !s.ok()) return s;
  return Packet(std::move(p));
}

absl::StatusOr<Packet> DecodeFindNode(rlp::ListReader& r) {
  FindNode p;
  absl::Status s;
  if (s = ReadFixed(r, "FindNode.target", p.target); !s.ok()) return s;
  if (s = ReadUint(r, "FindNode.expiration", p.expiration); !s.ok()) return s;
  return Packet(std::move(p));
}

absl::StatusOr<Packet> DecodeNeighbors(rlp::ListReader& r) {
  Neighbors p;
  absl::StatusOr<rlp::ListReader> nodes = OpenList(r, "Neighbors.nodes");
  if (!nodes.ok()) return nodes.status();
  absl::Status s;
  // The packet size bounds the count: an entry takes at least 70 bytes.
  for (size_t i = 0; !nodes->AtEnd(); ++i) {
    const std::string field = absl::StrCat("Neighbors.nodes[", i, "]");
    absl::StatusOr<rlp::ListReader> n = OpenList(*nodes, field);
    if (!n.ok()) return n.status();
    WireNode node;
    if (s = ReadIp(*n, absl::StrCat(field, ".ip"), node.ip); !s.ok()) return s;
    if (s = ReadPort(*n, absl::StrCat(field, ".udp"), node.udp); !s.ok()) return s;
    if (s = ReadPort(*n, absl::StrCat(field, ".tcp"), node.tcp); !s.ok()) return s;
    if (s = ReadFixed(*n, absl::StrCat(field, ".id"), node.id); !s.ok()) return s;
    // Extra elements of the entry are ignored (EIP-8).
    p.nodes.push_back(node);
  }
  if (s = ReadUint(r, "Neighbors.expiration", p.expiration); !s.ok()) return s;
  return Packet(std::move(p));
}

absl::StatusOr<Packet> DecodeENRRequest(rlp::ListReader& r) {
  ENRRequest p;
  absl::Status s = ReadUint(r, "ENRRequest.expiration", p.expiration);
  if (!s.ok()) return s;
  return Packet(std::move(p));
}

absl::StatusOr<Packet> DecodeENRResponse(rlp::ListReader& r) {
  ENRResponse p;
  absl::Status s = ReadFixed(r, "ENRResponse.request_hash", p.request_hash);
  if (!s.ok()) return s;
  absl::StatusOr<rlp::Item> record = r.Next();
  if (!record.ok()) return Invalid("ENRResponse.record", record.status());
  if (!record->is_list()) {
    return Invalid("ENRResponse.record",
                   absl::StrCat("rlp: expected input list at offset ", record->offset));
  }
  p.record.assign(record->encoded.begin(), record->encoded.end());
  return Packet(std::move(p));
}

}  // namespace

uint8_t PacketType(const Packet& p) { return static_cast<uint8_t>(p.index() + 1); }

const char* PacketTypeName(size_t index) {
  static constexpr const char* kNames[] = {"PING/v4",      "PONG/v4",       "FINDNODE/v4",
                                           "NEIGHBORS/v4", "ENRREQUEST/v4", "ENRRESPONSE/v4"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == std::variant_size_v<Packet>,
                "one name per packet type");
  return index < std::variant_size_v<Packet> ? kNames[index] : "?";
}

const char* PacketName(const Packet& p) { return PacketTypeName(p.index()); }

namespace {

// hash || signature || type || packet-data, with the signature made by
// `sign` over keccak256(type || packet-data).
template <typename SignFn>
absl::StatusOr<std::vector<uint8_t>> EncodeSigned(const Packet& packet, SignFn sign) {
  rlp::Encoder e;
  absl::Status s = std::visit(DataEncoder{e}, packet);
  if (!s.ok()) return s;
  const std::vector<uint8_t> data = e.Finish();

  const size_t size = kHeadSize + 1 + data.size();
  if (size > kMaxPacketSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("packet too big (", size, " bytes, max ", kMaxPacketSize, ")"));
  }
  std::vector<uint8_t> out(kHeadSize);
  out.reserve(size);
  out.push_back(PacketType(packet));
  out.insert(out.end(), data.begin(), data.end());

  absl::Span<const uint8_t> signed_part = absl::MakeConstSpan(out).subspan(kHeadSize);
  absl::StatusOr<std::array<uint8_t, kSignatureSize>> sig{sign(signed_part)};
  if (!sig.ok()) return sig.status();
  std::copy(sig->begin(), sig->end(), out.begin() + kPacketHashSize);
  const PacketHash hash = Keccak256Hash(absl::MakeConstSpan(out).subspan(kPacketHashSize));
  std::copy(hash.begin(), hash.end(), out.begin());
  return out;
}

// The sender of a modelled signature: X || Y || kModelledSignatureV. The key
// must still be a curve point (a cheap check next to recovery), so a
// modelled packet names a key a real node could hold.
absl::StatusOr<PublicKey> ModelledSender(absl::Span<const uint8_t> sig) {
  if (sig[kSignatureSize - 1] != kModelledSignatureV) {
    return absl::InvalidArgumentError("not a modelled signature (last byte is not 0xff)");
  }
  return PublicKey::Parse(sig.first(PublicKey::kBytes));
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> EncodePacket(const PrivateKey& key, const Packet& packet) {
  return EncodeSigned(packet, [&key](absl::Span<const uint8_t> signed_part) {
    return SignRecoverable(key, Keccak256Hash(signed_part));
  });
}

absl::StatusOr<std::vector<uint8_t>> EncodePacketModelled(const PublicKey& sender,
                                                          const Packet& packet) {
  if (sender.IsZero()) return absl::InvalidArgumentError("modelled sender key is the zero key");
  return EncodeSigned(packet, [&sender](absl::Span<const uint8_t>) {
    std::array<uint8_t, kSignatureSize> sig{};
    std::copy(sender.bytes().begin(), sender.bytes().end(), sig.begin());
    sig.back() = kModelledSignatureV;
    return sig;
  });
}

absl::StatusOr<DecodedPacket> DecodePacket(absl::Span<const uint8_t> packet, SignatureMode mode) {
  if (packet.size() < kMinPacketSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("packet too small (", packet.size(), " bytes, min ", kMinPacketSize, ")"));
  }
  if (packet.size() > kMaxPacketSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("packet too big (", packet.size(), " bytes, max ", kMaxPacketSize, ")"));
  }
  const absl::Span<const uint8_t> hash = packet.first(kPacketHashSize);
  const absl::Span<const uint8_t> sig = packet.subspan(kPacketHashSize, kSignatureSize);
  const absl::Span<const uint8_t> signed_part = packet.subspan(kHeadSize);

  const PacketHash want_hash = Keccak256Hash(packet.subspan(kPacketHashSize));
  if (!std::equal(hash.begin(), hash.end(), want_hash.begin())) {
    return absl::InvalidArgumentError("bad hash");
  }
  absl::StatusOr<PublicKey> sender = mode == SignatureMode::kModelled
                                         ? ModelledSender(sig)
                                         : RecoverPublicKey(Keccak256Hash(signed_part), sig);
  if (!sender.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid signature: ", sender.status().message()));
  }

  const uint8_t type = signed_part[0];
  absl::StatusOr<Packet> (*decode)(rlp::ListReader&) = nullptr;
  switch (type) {
    case kPingPacket:
      decode = DecodePing;
      break;
    case kPongPacket:
      decode = DecodePong;
      break;
    case kFindNodePacket:
      decode = DecodeFindNode;
      break;
    case kNeighborsPacket:
      decode = DecodeNeighbors;
      break;
    case kENRRequestPacket:
      decode = DecodeENRRequest;
      break;
    case kENRResponsePacket:
      decode = DecodeENRResponse;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrFormat("unknown packet type 0x%02x", type));
  }

  // DecodeFirst: bytes after the packet-data list are ignored (EIP-8).
  // Offsets in errors count from the start of the packet.
  absl::StatusOr<std::pair<rlp::Item, absl::Span<const uint8_t>>> data =
      rlp::DecodeFirst(signed_part.subspan(1), kHeadSize + 1);
  if (!data.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid packet: ", data.status().message()));
  }
  absl::StatusOr<rlp::ListReader> fields = rlp::ListReader::Open(data->first);
  if (!fields.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid packet: ", fields.status().message()));
  }
  absl::StatusOr<Packet> decoded = decode(*fields);
  if (!decoded.ok()) return decoded.status();

  DecodedPacket out;
  out.packet = std::move(*decoded);
  out.sender = *sender;
  out.sender_id = NodeId::FromPublicKey(*sender);
  std::copy(hash.begin(), hash.end(), out.hash.begin());
  return out;
}

bool Expired(uint64_t expiration, absl::Time now) {
  if (expiration > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  return absl::FromUnixSeconds(static_cast<int64_t>(expiration)) < now;
}

uint64_t MakeExpiration(absl::Time now, absl::Duration ttl) {
  const absl::Time t = now + ttl;
  if (t < absl::UnixEpoch()) return 0;
  return static_cast<uint64_t>(absl::ToUnixSeconds(t));
}

}  // namespace discover
}  // namespace p2p
