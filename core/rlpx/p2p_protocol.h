// The devp2p base protocol ("p2p" capability, rlpx.md "p2p Capability";
// go-ethereum p2p/peer.go, p2p/peer_error.go, p2p/protocol.go,
// p2p/transport.go): Hello, Disconnect, Ping, Pong, disconnect reasons and
// capability matching. Pure encode/decode; framing is frame.h's job.
#ifndef P2P_CORE_RLPX_P2P_PROTOCOL_H_
#define P2P_CORE_RLPX_P2P_PROTOCOL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace p2p::rlpx {

// baseProtocolVersion: the version we announce in our Hello.
constexpr uint64_t kBaseProtocolVersion = 5;
// baseProtocolLength: message codes 0x00..0x0f belong to the base protocol;
// capabilities are numbered from here on.
constexpr uint64_t kBaseProtocolLength = 16;
// baseProtocolMaxMsgSize: a Hello (or a Disconnect in its place) with a
// larger payload is rejected ("message too big").
constexpr size_t kBaseProtocolMaxMsgSize = 2 * 1024;
// snappyProtocolVersion: payloads are snappy-compressed after the Hello
// exchange when the remote Hello announces at least this version (we always
// announce kBaseProtocolVersion, so both sides agree).
constexpr uint64_t kSnappyProtocolVersion = 5;
// Node IDs in a Hello are 64-byte public keys.
constexpr size_t kHelloIdBytes = 64;
// go-ethereum reads a Disconnect payload through an rlp.Stream limited to
// this many bytes; a larger first item decodes as DisconnectReason::kInvalid.
constexpr size_t kMaxDisconnectBytes = 100;

// Base protocol message codes.
constexpr uint64_t kHandshakeMsg = 0x00;
constexpr uint64_t kDiscMsg = 0x01;
constexpr uint64_t kPingMsg = 0x02;
constexpr uint64_t kPongMsg = 0x03;

// go-ethereum DiscReason: the codes of a Disconnect message.
enum class DisconnectReason : uint8_t {
  kRequested = 0x00,
  kNetworkError = 0x01,
  kProtocolError = 0x02,
  kUselessPeer = 0x03,
  kTooManyPeers = 0x04,
  kAlreadyConnected = 0x05,
  kIncompatibleVersion = 0x06,
  kInvalidIdentity = 0x07,
  kQuitting = 0x08,
  kUnexpectedIdentity = 0x09,
  kSelf = 0x0a,
  kReadTimeout = 0x0b,
  kSubprotocolError = 0x10,
  // Not sent: what an undecodable Disconnect payload reads as (DiscInvalid).
  kInvalid = 0xff,
};

// go-ethereum's DiscReason.String(): "disconnect requested", "network error",
// ..., "subprotocol error", "invalid disconnect reason" (0xff); any other
// value "unknown disconnect reason N" (N decimal).
std::string DisconnectReasonString(DisconnectReason reason);

// A Status carrying a disconnect reason, the analogue of go-ethereum
// returning a DiscReason as an error (e.g. from readProtocolHandshake). Code
// Aborted, message exactly DisconnectReasonString(reason); the reason rides in
// a status payload so it survives being passed along.
absl::Status DisconnectError(DisconnectReason reason);
// The reason attached by DisconnectError, if any.
std::optional<DisconnectReason> DisconnectReasonFromStatus(const absl::Status& status);

// A capability: protocol name and version, as announced in a Hello.
// Ordered by name, then version (go-ethereum Cap.Cmp).
struct Cap {
  std::string name;
  uint64_t version = 0;

  std::string ToString() const;  // "eth/68"
  friend bool operator==(const Cap& a, const Cap& b) {
    return a.name == b.name && a.version == b.version;
  }
  friend bool operator!=(const Cap& a, const Cap& b) { return !(a == b); }
  friend bool operator<(const Cap& a, const Cap& b) {
    return a.name != b.name ? a.name < b.name : a.version < b.version;
  }
};

// The Hello message (go-ethereum protoHandshake):
// [protocolVersion, clientId, [[capName, capVersion], ...], listenPort,
//  nodeId, ...]. Extra trailing elements are kept verbatim in `rest` and
// ignored (forward compatibility).
struct Hello {
  uint64_t version = kBaseProtocolVersion;
  std::string name;  // Client id; raw bytes, not checked for UTF-8.
  std::vector<Cap> caps;
  uint64_t listen_port = 0;
  std::array<uint8_t, kHelloIdBytes> id{};  // The sender's public key X || Y.
  std::vector<std::vector<uint8_t>> rest;   // Encoded extra elements, in order.
};

// The Hello payload (without the message code).
std::vector<uint8_t> EncodeHello(const Hello& hello);

// Decodes a Hello payload. Errors:
//   InvalidArgument "invalid message: (code 0) (size N) <rlp error>" for a
//     payload that is not a Hello (go-ethereum msg.Decode's peerError);
//   DisconnectError(kInvalidIdentity) if the node id is not 64 bytes or is
//     all zero.
// Size is not checked here; see ReadProtocolHandshake.
absl::StatusOr<Hello> DecodeHello(absl::Span<const uint8_t> payload);

// go-ethereum readProtocolHandshake: what to make of the first message read
// during the protocol handshake. In order:
//   payload > kBaseProtocolMaxMsgSize -> InvalidArgument "message too big";
//   a Disconnect -> DisconnectError(the reason it carries);
//   any code but kHandshakeMsg -> InvalidArgument "expected handshake, got <hex>";
//   otherwise DecodeHello.
absl::StatusOr<Hello> ReadProtocolHandshake(uint64_t code, absl::Span<const uint8_t> payload);

// Disconnect payload [reason], as go-ethereum sends it.
std::vector<uint8_t> EncodeDisconnect(DisconnectReason reason);

// go-ethereum decodeDisconnectMessage: never fails. Accepts the list form
// [reason, ...] (only the first element is read) and the legacy bare form,
// the reason as an RLP byte string (e.g. 08, or 80 for 0). Anything else - an
// empty payload, an empty list, a non-canonical or >255 value, a first item
// over kMaxDisconnectBytes - reads as kInvalid. One difference: the payload's
// first item must be well-formed RLP throughout, where go-ethereum stops
// looking after the first list element.
DisconnectReason DecodeDisconnect(absl::Span<const uint8_t> payload);

// Ping and Pong payloads: the empty list, C0. Their content is ignored on
// receipt.
std::vector<uint8_t> EncodePing();
std::vector<uint8_t> EncodePong();

// A protocol we run (go-ethereum Protocol: Name, Version, Length = number of
// message codes it uses).
struct Protocol {
  std::string name;
  uint64_t version = 0;
  uint64_t length = 0;
};

// A protocol both sides support, with the first message code it owns on
// this connection.
struct MatchedProtocol {
  Protocol protocol;
  uint64_t offset = 0;
};

// go-ethereum matchProtocols: walks `their_caps` sorted by (name, version);
// each cap equal in name and version to one of `ours` (the first such) is
// matched, a later (higher) version of the same name replacing the earlier
// one and taking back its codes. Offsets start at kBaseProtocolLength and
// are assigned in name order. The result is sorted by name (hence by offset).
std::vector<MatchedProtocol> MatchProtocols(absl::Span<const Protocol> ours,
                                            absl::Span<const Cap> their_caps);

// go-ethereum countMatchingProtocols: the number of (cap, protocol) pairs with
// equal name and version; 0 means a useless peer (DiscUselessPeer).
size_t CountMatchingProtocols(absl::Span<const Protocol> ours, absl::Span<const Cap> their_caps);

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_P2P_PROTOCOL_H_
