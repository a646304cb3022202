// The Node Discovery v4 wire format (devp2p discv4.md, EIP-8, EIP-868), as
// go-ethereum's p2p/discover/v4wire implements it: pure bytes in, bytes out.
// No sockets, no clock, no randomness (signatures are RFC 6979, so encoding
// is deterministic).
//
// A packet is one UDP datagram of at most kMaxPacketSize (1280) bytes:
//
//   hash(32) || signature(65) || packet-type(1) || packet-data
//   hash      = keccak256(signature || packet-type || packet-data)
//   signature = recoverable secp256k1 signature over
//               keccak256(packet-type || packet-data), as r || s || v
//
// packet-data is one RLP list whose layout depends on the type:
//
//   0x01 Ping        [version, from, to, expiration, enr-seq?, ...]
//   0x02 Pong        [to, ping-hash, expiration, enr-seq?, ...]
//   0x03 FindNode    [target, expiration, ...]
//   0x04 Neighbors   [[node, ...], expiration, ...]
//   0x05 ENRRequest  [expiration, ...]
//   0x06 ENRResponse [request-hash, record, ...]
//   endpoint = [ip, udp-port, tcp-port, ...]
//   node     = [ip, udp-port, tcp-port, public-key(64), ...]
//
// Forward compatibility (EIP-8): extra list elements, in the packet-data list
// and in the nested endpoint and node lists, are ignored, and so are any bytes
// after the packet-data list. The Ping version is not checked.
//
// Deliberate differences from go-ethereum's decoder, all documented at the
// field they concern:
//  - enr-seq (EIP-868) is read only if the element in its place is a byte
//    string. A list there is an older extension and is ignored, as in EIP-8's
//    own vectors "ping packet with version 555" and "pong packet with
//    additional list elements", which predate EIP-868 and which go-ethereum
//    has rejected since it typed the field (go-ethereum #22842).
//  - go-ethereum also fails on extra elements in endpoint and node lists
//    (its structs have no tail field); EIP-8 asks to ignore them, so we do.
//  - Field sizes are checked here, where go-ethereum defers or skips them:
//    IPs must be 0, 4 or 16 bytes, ping-hash and request-hash 32 bytes.
//  - The ENR record is kept as raw RLP (it must be an RLP list); its content
//    (size limit, key order, signature) is the ENR parser's business.
//
// Every decoding failure is InvalidArgument with a message naming the check:
// "packet too small (...)", "packet too big (...)", "bad hash",
// "invalid signature: ...", "unknown packet type 0x..", or
// "invalid packet: <Type.field>: <reason>" where the reason is the RLP
// library's text or a size check, with byte offsets counted from the start of
// the whole packet.
//
// Thread-safe: all functions are pure.
#ifndef P2P_CORE_DISCOVER_V4WIRE_H_
#define P2P_CORE_DISCOVER_V4WIRE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/net/ip.h"
#include "core/node.h"

namespace p2p {
namespace discover {

// Packet layout sizes.
inline constexpr size_t kMaxPacketSize = 1280;
inline constexpr size_t kPacketHashSize = 32;
inline constexpr size_t kSignatureSize = 65;
inline constexpr size_t kHeadSize = kPacketHashSize + kSignatureSize;  // 97
// The header, the type byte and at least one byte of packet-data.
inline constexpr size_t kMinPacketSize = kHeadSize + 2;  // 99

// The most Neighbors entries that always fit one packet (go-ethereum's
// MaxNeighbors): 12 entries with 16-byte IPs and maximal ports and
// expiration. EncodePacket itself only enforces kMaxPacketSize.
inline constexpr size_t kMaxNeighbors = 12;

// Packet types (the byte after the signature). Zero is reserved.
inline constexpr uint8_t kPingPacket = 0x01;
inline constexpr uint8_t kPongPacket = 0x02;
inline constexpr uint8_t kFindNodePacket = 0x03;
inline constexpr uint8_t kNeighborsPacket = 0x04;
inline constexpr uint8_t kENRRequestPacket = 0x05;
inline constexpr uint8_t kENRResponsePacket = 0x06;

// A 64-byte secp256k1 public key X || Y as sent on the wire. Not checked to
// be a curve point when decoded: a FindNode target may be any 64 bytes, and
// neighbour keys are validated (PublicKey::Parse) where they become nodes.
using EncodedPubkey = std::array<uint8_t, 64>;
using PacketHash = std::array<uint8_t, kPacketHashSize>;

// An endpoint as carried by Ping and Pong.
//
// The IP is 4 bytes (IPv4), 16 bytes (IPv6) or empty on the wire. go-ethereum
// sends the empty string for an endpoint it does not know (its zero
// v4wire.Endpoint). So decoding maps the empty string to IpAddress() ("::"),
// and encoding writes IpAddress() as the empty string, any other IPv4 or
// IPv4-mapped address as 4 bytes and any other IPv6 address as 16 bytes.
// 0.0.0.0 is thus 4 zero bytes and 16 zero bytes decode to "::".
struct WireEndpoint {
  IpAddress ip;
  uint16_t udp = 0;  // Discovery port.
  uint16_t tcp = 0;  // RLPx port; 0 in a Ping's `to` (the spec says so).

  friend bool operator==(const WireEndpoint& a, const WireEndpoint& b) {
    return a.ip == b.ip && a.udp == b.udp && a.tcp == b.tcp;
  }
  friend bool operator!=(const WireEndpoint& a, const WireEndpoint& b) { return !(a == b); }
};

// One Neighbors entry. IP encoding as WireEndpoint.
struct WireNode {
  IpAddress ip;
  uint16_t udp = 0;
  uint16_t tcp = 0;
  EncodedPubkey id{};  // The node's public key (its NodeId is keccak256(id)).

  friend bool operator==(const WireNode& a, const WireNode& b) {
    return a.ip == b.ip && a.udp == b.udp && a.tcp == b.tcp && a.id == b.id;
  }
  friend bool operator!=(const WireNode& a, const WireNode& b) { return !(a == b); }
};

// Expiration fields are absolute Unix times in seconds (see Expired).

struct Ping {
  uint64_t version = 4;  // Sent as 4; any value is accepted.
  WireEndpoint from;
  WireEndpoint to;
  uint64_t expiration = 0;
  // The sender's ENR sequence number (EIP-868). Encoded only when set, so
  // absent and 0 stay distinct through a round trip.
  std::optional<uint64_t> enr_seq;

  friend bool operator==(const Ping& a, const Ping& b) {
    return a.version == b.version && a.from == b.from && a.to == b.to &&
           a.expiration == b.expiration && a.enr_seq == b.enr_seq;
  }
  friend bool operator!=(const Ping& a, const Ping& b) { return !(a == b); }
};

struct Pong {
  // Mirrors the UDP source address of the Ping: how a node behind NAT
  // learns its external endpoint.
  WireEndpoint to;
  PacketHash ping_hash{};  // Hash of the Ping this answers.
  uint64_t expiration = 0;
  std::optional<uint64_t> enr_seq;  // As in Ping.

  friend bool operator==(const Pong& a, const Pong& b) {
    return a.to == b.to && a.ping_hash == b.ping_hash && a.expiration == b.expiration &&
           a.enr_seq == b.enr_seq;
  }
  friend bool operator!=(const Pong& a, const Pong& b) { return !(a == b); }
};

struct FindNode {
  EncodedPubkey target{};
  uint64_t expiration = 0;

  friend bool operator==(const FindNode& a, const FindNode& b) {
    return a.target == b.target && a.expiration == b.expiration;
  }
  friend bool operator!=(const FindNode& a, const FindNode& b) { return !(a == b); }
};

struct Neighbors {
  std::vector<WireNode> nodes;  // Decoded in wire order.
  uint64_t expiration = 0;

  friend bool operator==(const Neighbors& a, const Neighbors& b) {
    return a.nodes == b.nodes && a.expiration == b.expiration;
  }
  friend bool operator!=(const Neighbors& a, const Neighbors& b) { return !(a == b); }
};

struct ENRRequest {
  uint64_t expiration = 0;

  friend bool operator==(const ENRRequest& a, const ENRRequest& b) {
    return a.expiration == b.expiration;
  }
  friend bool operator!=(const ENRRequest& a, const ENRRequest& b) { return !(a == b); }
};

struct ENRResponse {
  PacketHash request_hash{};  // Hash of the ENRRequest this answers.
  // The node record: the complete RLP encoding of one list (EIP-778),
  // undecoded and unverified.
  std::vector<uint8_t> record;

  friend bool operator==(const ENRResponse& a, const ENRResponse& b) {
    return a.request_hash == b.request_hash && a.record == b.record;
  }
  friend bool operator!=(const ENRResponse& a, const ENRResponse& b) { return !(a == b); }
};

// Alternatives in type-byte order: index() + 1 is the packet type.
using Packet = std::variant<Ping, Pong, FindNode, Neighbors, ENRRequest, ENRResponse>;

// The type byte of `p` (kPingPacket...).
uint8_t PacketType(const Packet& p);
// go-ethereum's log names: "PING/v4", "PONG/v4", "FINDNODE/v4",
// "NEIGHBORS/v4", "ENRREQUEST/v4", "ENRRESPONSE/v4".
const char* PacketName(const Packet& p);
// The same by Packet's variant index ("?" if out of range).
const char* PacketTypeName(size_t index);

// A packet that passed every check.
struct DecodedPacket {
  Packet packet;
  PublicKey sender;  // Recovered from the signature.
  NodeId sender_id;  // NodeId::FromPublicKey(sender).
  PacketHash hash;   // The packet's first 32 bytes: what Pong and
                     // ENRResponse quote back.
};

// How packets are authenticated.
//  - kReal: the recoverable secp256k1 signature above, as every real node.
//  - kModelled: for large simulations, where signing and recovering every
//    datagram would cost most of the run. The signature field carries the
//    sender's public key X || Y followed by kModelledSignatureV (0xff, never
//    a real recovery id), so sizes, hashes and everything after the
//    signature are byte-identical to a real packet. Decoding accepts only
//    that shape (and a key that is a curve point); each mode rejects the
//    other's packets as "invalid signature".
enum class SignatureMode { kReal, kModelled };
inline constexpr uint8_t kModelledSignatureV = 0xff;

// Encodes and signs `packet` with `key`: hash || signature || type || RLP.
// The hash of the result (for matching the reply) is its first 32 bytes.
// Errors (InvalidArgument): the packet would exceed kMaxPacketSize (e.g. too
// many neighbours, or a large record): "packet too big (N bytes, max 1280)";
// an ENRResponse record that is not exactly one RLP list.
absl::StatusOr<std::vector<uint8_t>> EncodePacket(const PrivateKey& key, const Packet& packet);
// As EncodePacket with a modelled signature naming `sender` (see
// SignatureMode). Errors as EncodePacket, plus the zero key.
absl::StatusOr<std::vector<uint8_t>> EncodePacketModelled(const PublicKey& sender,
                                                          const Packet& packet);

// Decodes and authenticates one datagram. Checks, in order (go-ethereum's):
// size (kMinPacketSize..kMaxPacketSize), hash, signature (recovering the
// sender), type, packet-data. See the file comment for what is ignored and
// for the error texts. `mode` says which signatures are valid.
absl::StatusOr<DecodedPacket> DecodePacket(absl::Span<const uint8_t> packet,
                                           SignatureMode mode = SignatureMode::kReal);

// Whether the expiration time stamp lies in the past (go-ethereum's
// v4wire.Expired: time.Unix(expiration, 0) is before now). `now` is Unix time
// (absl::UnixEpoch() = 1970-01-01), which the caller supplies: core/ has no
// wall clock, and a MonoTime only means Unix time where the loop's origin is
// the Unix epoch (the simulator's convention). Unlike go-ethereum, which
// converts to int64 and so treats stamps of 2^63 and above as long expired,
// such stamps count as far in the future.
bool Expired(uint64_t expiration, absl::Time now);

// The expiration stamp for a packet sent at `now` that stays valid for `ttl`:
// Unix seconds of now + ttl, rounded down (go-ethereum:
// uint64(time.Now().Add(ttl).Unix())); 0 if that is before 1970.
uint64_t MakeExpiration(absl::Time now, absl::Duration ttl);

}  // namespace discover
}  // namespace p2p

#endif  // P2P_CORE_DISCOVER_V4WIRE_H_
