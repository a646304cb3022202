#include "core/rlpx/p2p_protocol.h"

#include <algorithm>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/rlp/rlp.h"

namespace p2p::rlpx {
namespace {

// Status payload key for DisconnectError.
constexpr absl::string_view kDisconnectReasonUrl = "type.p2p/rlpx.DisconnectReason";

absl::Status InvalidHello(size_t size, const absl::Status& rlp_error) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid message: (code 0) (size ", size, ") ", rlp_error.message()));
}

absl::Status DecodeCap(rlp::ListReader& caps, Cap& cap) {
  absl::StatusOr<rlp::ListReader> r = caps.NextList();
  if (!r.ok()) return r.status();
  absl::StatusOr<std::vector<uint8_t>> name = r->NextBytes();
  if (!name.ok()) return name.status();
  absl::StatusOr<uint64_t> version = r->NextUint();
  if (!version.ok()) return version.status();
  // Cap has no tail field in go-ethereum: extra elements are an error.
  if (!r->AtEnd()) return absl::InvalidArgumentError("rlp: input list has too many elements for p2p.Cap");
  cap.name.assign(name->begin(), name->end());
  cap.version = *version;
  return absl::OkStatus();
}

absl::Status DecodeHelloFields(absl::Span<const uint8_t> payload, Hello& hello,
                               std::vector<uint8_t>& id) {
  // Like rlp.Stream.Decode, only the first item is read; bytes after it are
  // not looked at.
  auto first = rlp::DecodeFirst(payload);
  if (!first.ok()) return first.status();
  absl::StatusOr<rlp::ListReader> r = rlp::ListReader::Open(first->first);
  if (!r.ok()) return r.status();
  absl::StatusOr<uint64_t> version = r->NextUint();
  if (!version.ok()) return version.status();
  hello.version = *version;
  absl::StatusOr<std::vector<uint8_t>> name = r->NextBytes();
  if (!name.ok()) return name.status();
  hello.name.assign(name->begin(), name->end());
  absl::StatusOr<rlp::ListReader> caps = r->NextList();
  if (!caps.ok()) return caps.status();
  while (!caps->AtEnd()) {
    Cap cap;
    absl::Status s = DecodeCap(*caps, cap);
    if (!s.ok()) return s;
    hello.caps.push_back(std::move(cap));
  }
  absl::StatusOr<uint64_t> port = r->NextUint();
  if (!port.ok()) return port.status();
  hello.listen_port = *port;
  absl::StatusOr<std::vector<uint8_t>> id_bytes = r->NextBytes();
  if (!id_bytes.ok()) return id_bytes.status();
  id = std::move(*id_bytes);
  while (!r->AtEnd()) {
    absl::StatusOr<rlp::Item> extra = r->Next();
    if (!extra.ok()) return extra.status();
    hello.rest.emplace_back(extra->encoded.begin(), extra->encoded.end());
  }
  return absl::OkStatus();
}

std::vector<uint8_t> EmptyList() { return {0xc0}; }

}  // namespace

std::string DisconnectReasonString(DisconnectReason reason) {
  switch (reason) {
    case DisconnectReason::kRequested: return "disconnect requested";
    case DisconnectReason::kNetworkError: return "network error";
    case DisconnectReason::kProtocolError: return "breach of protocol";
    case DisconnectReason::kUselessPeer: return "useless peer";
    case DisconnectReason::kTooManyPeers: return "too many peers";
    case DisconnectReason::kAlreadyConnected: return "already connected";
    case DisconnectReason::kIncompatibleVersion: return "incompatible p2p protocol version";
    case DisconnectReason::kInvalidIdentity: return "invalid node identity";
    case DisconnectReason::kQuitting: return "client quitting";
    case DisconnectReason::kUnexpectedIdentity: return "unexpected identity";
    case DisconnectReason::kSelf: return "connected to self";
    case DisconnectReason::kReadTimeout: return "read timeout";
    case DisconnectReason::kSubprotocolError: return "subprotocol error";
    case DisconnectReason::kInvalid: return "invalid disconnect reason";
  }
  return absl::StrCat("unknown disconnect reason ", static_cast<unsigned>(reason));
}

absl::Status DisconnectError(DisconnectReason reason) {
  absl::Status s(absl::StatusCode::kAborted, DisconnectReasonString(reason));
  s.SetPayload(kDisconnectReasonUrl, absl::Cord(std::string(1, static_cast<char>(reason))));
  return s;
}

std::optional<DisconnectReason> DisconnectReasonFromStatus(const absl::Status& status) {
  auto p = status.GetPayload(kDisconnectReasonUrl);  // absl::optional<absl::Cord>
  if (!p.has_value() || p->size() != 1) return std::nullopt;
  std::string b(*p);
  return static_cast<DisconnectReason>(static_cast<uint8_t>(b[0]));
}

std::string Cap::ToString() const { return absl::StrCat(name, "/", version); }

std::vector<uint8_t> EncodeHello(const Hello& hello) {
  rlp::Encoder e;
  e.BeginList();
  e.AddUint(hello.version);
  e.AddString(hello.name);
  e.BeginList();
  for (const Cap& cap : hello.caps) {
    e.BeginList();
    e.AddString(cap.name);
    e.AddUint(cap.version);
    e.EndList();
  }
  e.EndList();
  e.AddUint(hello.listen_port);
  e.AddBytes(hello.id);
  for (const std::vector<uint8_t>& extra : hello.rest) e.AddRaw(extra);
  e.EndList();
  return e.Finish();
}

absl::StatusOr<Hello> DecodeHello(absl::Span<const uint8_t> payload) {
  Hello hello;
  std::vector<uint8_t> id;
  absl::Status s = DecodeHelloFields(payload, hello, id);
  if (!s.ok()) return InvalidHello(payload.size(), s);
  // go-ethereum: len(hs.ID) != 64 || !bitutil.TestBytes(hs.ID).
  if (id.size() != kHelloIdBytes ||
      std::all_of(id.begin(), id.end(), [](uint8_t b) { return b == 0; })) {
    return DisconnectError(DisconnectReason::kInvalidIdentity);
  }
  std::copy(id.begin(), id.end(), hello.id.begin());
  return hello;
}

absl::StatusOr<Hello> ReadProtocolHandshake(uint64_t code, absl::Span<const uint8_t> payload) {
  if (payload.size() > kBaseProtocolMaxMsgSize) return absl::InvalidArgumentError("message too big");
  if (code == kDiscMsg) return DisconnectError(DecodeDisconnect(payload));
  if (code != kHandshakeMsg) {
    return absl::InvalidArgumentError(absl::StrFormat("expected handshake, got %x", code));
  }
  return DecodeHello(payload);
}

std::vector<uint8_t> EncodeDisconnect(DisconnectReason reason) {
  rlp::Encoder e;
  e.BeginList();
  e.AddUint(static_cast<uint8_t>(reason));
  e.EndList();
  return e.Finish();
}

DisconnectReason DecodeDisconnect(absl::Span<const uint8_t> payload) {
  auto first = rlp::DecodeFirst(payload);
  if (!first.ok() || first->first.encoded.size() > kMaxDisconnectBytes) {
    return DisconnectReason::kInvalid;
  }
  rlp::Item value = first->first;
  if (value.is_list()) {
    rlp::ListReader r(value);
    absl::StatusOr<rlp::Item> head = r.Next();
    if (!head.ok()) return DisconnectReason::kInvalid;  // Empty list.
    value = *head;
  }
  // Legacy path (no list): the reason as a byte string, which some
  // implementations, geth included, once sent by accident.
  absl::StatusOr<uint64_t> v = rlp::ToUint64(value);
  if (!v.ok() || *v > 0xff) return DisconnectReason::kInvalid;
  return static_cast<DisconnectReason>(*v);
}

std::vector<uint8_t> EncodePing() { return EmptyList(); }
std::vector<uint8_t> EncodePong() { return EmptyList(); }

std::vector<MatchedProtocol> MatchProtocols(absl::Span<const Protocol> ours,
                                            absl::Span<const Cap> their_caps) {
  std::vector<Cap> caps(their_caps.begin(), their_caps.end());
  std::sort(caps.begin(), caps.end());
  std::vector<MatchedProtocol> result;
  uint64_t offset = kBaseProtocolLength;
  for (const Cap& cap : caps) {
    for (const Protocol& proto : ours) {
      if (proto.name != cap.name || proto.version != cap.version) continue;
      // Caps are sorted, so an earlier version of this name is the last match:
      // revert it and give its codes to the newer version.
      if (!result.empty() && result.back().protocol.name == cap.name) {
        offset -= result.back().protocol.length;
        result.pop_back();
      }
      result.push_back(MatchedProtocol{proto, offset});
      offset += proto.length;
      break;
    }
  }
  return result;
}

size_t CountMatchingProtocols(absl::Span<const Protocol> ours, absl::Span<const Cap> their_caps) {
  size_t n = 0;
  for (const Cap& cap : their_caps) {
    for (const Protocol& proto : ours) {
      if (proto.name == cap.name && proto.version == cap.version) ++n;
    }
  }
  return n;
}

}  // namespace p2p::rlpx
