// Ethereum Node Records (EIP-778) with the "v4" identity scheme, as
// go-ethereum's p2p/enr and p2p/enode/idscheme.go define them: pure bytes in,
// bytes out.
//
// A record is the RLP list
//
//   [signature, seq, k1, v1, k2, v2, ...]
//
// with byte-string keys in strictly ascending byte order (so unique), values
// any RLP item, and at most kRecordSizeLimit (300) bytes in all. Under the
// "v4" scheme ("id" = "v4"), "secp256k1" holds the 33-byte compressed public
// key, the signature is the 64-byte r || s secp256k1 signature (low s) of
// keccak256(rlp([seq, k1, v1, ...])), and the node ID is keccak256 of the
// uncompressed 64-byte X || Y key. The text form is "enr:" followed by the
// RLP in unpadded base64url.
//
// Well-known keys and their value types (EIP-778): "id" (scheme name),
// "secp256k1" (33 bytes), "ip" (4 bytes), "ip6" (16 bytes), "tcp", "udp",
// "tcp6", "udp6" (integers; here at most 65535). Other keys are kept as raw
// RLP and round-trip untouched.
//
// A Record is either signed or not. Signed means: it came out of SignV4 or
// DecodeRecord, so it carries a signature that a known scheme ("v4") has
// verified, and the exact encoding that was signed or decoded. Any setter
// invalidates the signature (go-ethereum does the same); Encode,
// VerifiedNodeId and ToNode need a signed record.
//
// Every decoding failure is InvalidArgument with a message naming the check,
// go-ethereum's text where it has one: "record bigger than 300 bytes (N)",
// "record contains less than two list elements", "record contains
// incomplete k/v pair", "record contains duplicate key \"k\"", "record
// key/value pairs are not sorted by key (\"k\" after \"j\")", "missing ENR
// key \"id\"", "unknown identity scheme \"x\"", "invalid signature on node
// record" (with a reason), "ENR key \"k\": <reason>" for a malformed value,
// or "invalid record: <RLP library text>" for broken RLP.
//
// Deliberate differences from go-ethereum:
//  - Base64url text must be canonical: no padding, no characters outside the
//    alphabet, no length of 4n+1, and unused low bits of the last character
//    must be zero (Go's RawURLEncoding ignores those bits).
//  - A missing "id" or an unknown scheme has its own message (go-ethereum
//    reports both as "invalid signature on node record").
//
// Thread-safe: values and pure functions.
#ifndef P2P_CORE_DISCOVER_ENR_H_
#define P2P_CORE_DISCOVER_ENR_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/net/ip.h"
#include "core/node.h"

namespace p2p {
namespace enr {

// Largest encoded record (EIP-778, go-ethereum's SizeLimit).
inline constexpr size_t kRecordSizeLimit = 300;
// The "v4" scheme's signature: r || s.
inline constexpr size_t kV4SignatureSize = 64;

// Well-known keys.
inline constexpr char kKeyId[] = "id";
inline constexpr char kKeySecp256k1[] = "secp256k1";
inline constexpr char kKeyIp[] = "ip";
inline constexpr char kKeyTcp[] = "tcp";
inline constexpr char kKeyUdp[] = "udp";
inline constexpr char kKeyIp6[] = "ip6";
inline constexpr char kKeyTcp6[] = "tcp6";
inline constexpr char kKeyUdp6[] = "udp6";
// The one identity scheme we know.
inline constexpr char kSchemeV4[] = "v4";
// The text form's prefix.
inline constexpr char kTextPrefix[] = "enr:";

class Record {
 public:
  // Raw RLP values by key. std::map orders std::string keys bytewise
  // (char_traits<char> compares as unsigned char), as EIP-778 sorts them.
  using Pairs = std::map<std::string, std::vector<uint8_t>>;

  Record() = default;  // seq 0, no pairs, unsigned.

  uint64_t seq() const { return seq_; }
  const Pairs& pairs() const { return pairs_; }
  // Signed by SignV4 or verified by DecodeRecord, and unchanged since.
  bool is_signed() const { return !raw_.empty(); }
  // The 64-byte signature of a signed record; empty otherwise.
  const std::vector<uint8_t>& signature() const { return signature_; }

  // Setters; each invalidates the signature.
  void SetSeq(uint64_t seq);
  // Sets `key` to `rlp_value`, which must be exactly one complete RLP item
  // (a string or a list). Errors: InvalidArgument if it is not.
  absl::Status SetRaw(absl::string_view key, absl::Span<const uint8_t> rlp_value);
  // Removes `key` if present.
  void Delete(absl::string_view key);
  void SetIdentityScheme(absl::string_view scheme);  // "id"
  void SetSecp256k1(const PublicKey& pub);           // "secp256k1", compressed
  // "ip" for an IPv4 (or IPv4-mapped) address, else "ip6".
  void SetIp(const IpAddress& ip);
  void SetTcp(uint16_t port);
  void SetUdp(uint16_t port);
  void SetTcp6(uint16_t port);
  void SetUdp6(uint16_t port);

  // Getters. Errors: NotFound "missing ENR key \"k\"" if absent;
  // InvalidArgument "ENR key \"k\": <reason>" if the value has the wrong
  // type or size.
  absl::StatusOr<std::vector<uint8_t>> GetRaw(absl::string_view key) const;
  absl::StatusOr<std::string> IdentityScheme() const;
  absl::StatusOr<PublicKey> Secp256k1() const;
  absl::StatusOr<IpAddress> Ip() const;   // "ip": 4 bytes
  absl::StatusOr<IpAddress> Ip6() const;  // "ip6": 16 bytes
  absl::StatusOr<uint16_t> Tcp() const;
  absl::StatusOr<uint16_t> Udp() const;
  absl::StatusOr<uint16_t> Tcp6() const;
  absl::StatusOr<uint16_t> Udp6() const;

  // Signs with the "v4" scheme: sets "id" = "v4" and "secp256k1" = the
  // key's public key, then signs. Errors (InvalidArgument "record bigger
  // than 300 bytes (N)"): the signed record would be too big; the record is
  // then left unsigned.
  absl::Status SignV4(const PrivateKey& key);

  // The record's RLP: exactly the bytes signed or decoded.
  // Errors: FailedPrecondition "can't encode unsigned record".
  absl::StatusOr<std::vector<uint8_t>> Encode() const;
  // "enr:" + base64url(Encode()). Errors as Encode.
  absl::StatusOr<std::string> ToText() const;

  // keccak256 of the uncompressed "secp256k1" key (the v4 node ID).
  // Errors: FailedPrecondition "unsigned record" if not signed.
  absl::StatusOr<NodeId> VerifiedNodeId() const;

  // The record as our Node: the "secp256k1" key and ID; "ip" with "tcp" and
  // "udp" if "ip" is present, else "ip6" with "tcp6" and "udp6" (each
  // defaulting to "tcp" and "udp", as EIP-778 says), else no IP. Absent
  // ports are 0. Errors: FailedPrecondition for an unsigned record; the
  // getters' errors for malformed fields.
  absl::StatusOr<Node> ToNode() const;

  // Same signed state, seq, pairs and signature.
  friend bool operator==(const Record& a, const Record& b) {
    return a.seq_ == b.seq_ && a.pairs_ == b.pairs_ && a.signature_ == b.signature_ &&
           a.raw_ == b.raw_;
  }
  friend bool operator!=(const Record& a, const Record& b) { return !(a == b); }

 private:
  friend absl::StatusOr<Record> DecodeRecord(absl::Span<const uint8_t> encoded);

  void Invalidate();
  void SetUintKey(absl::string_view key, uint64_t v);
  absl::StatusOr<uint16_t> GetPort(absl::string_view key) const;

  uint64_t seq_ = 0;
  Pairs pairs_;
  std::vector<uint8_t> signature_;  // Empty unless signed.
  std::vector<uint8_t> raw_;        // The full RLP; empty unless signed.
};

// keccak256(rlp([seq, k1, v1, ...])): the hash the "v4" scheme signs.
std::array<uint8_t, 32> SigningHash(const Record& r);

// Decodes and verifies a record (see the file comment for the checks and
// their order: size, RLP shape, key order, scheme, signature).
absl::StatusOr<Record> DecodeRecord(absl::Span<const uint8_t> encoded);

// Parses "enr:<base64url>" and decodes it. Errors: InvalidArgument
// "missing 'enr:' prefix", "invalid base64url: ...", or DecodeRecord's.
absl::StatusOr<Record> ParseText(absl::string_view text);

// Unpadded base64url (RFC 4648 section 5), canonical only (see the file
// comment). Decoding errors: InvalidArgument "invalid base64url: ...".
std::string Base64UrlEncode(absl::Span<const uint8_t> data);
absl::StatusOr<std::vector<uint8_t>> Base64UrlDecode(absl::string_view text);

}  // namespace enr
}  // namespace p2p

#endif  // P2P_CORE_DISCOVER_ENR_H_
