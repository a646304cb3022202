#include "core/node.h"

#include <algorithm>
#include <vector>

#include "absl/numeric/bits.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/crypto/keccak.h"
#include "core/hex.h"

namespace p2p {
namespace {

constexpr absl::string_view kScheme = "enode://";
constexpr size_t kPublicKeyHexDigits = 2 * PublicKey::kBytes;  // 128
constexpr size_t kMaxHostnameBytes = 253;                      // RFC 1035, without the root dot
constexpr size_t kMaxLabelBytes = 63;

uint64_t Load64Be(const std::array<uint8_t, 32>& b, size_t i) {
  uint64_t v = 0;
  for (size_t k = 0; k < 8; ++k) v = v << 8 | b[i + k];
  return v;
}

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

// Quotes a fragment of the input for an error message, escaping anything
// unprintable.
std::string Quote(absl::string_view s) { return absl::StrCat("\"", absl::CHexEscape(s), "\""); }

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// go-ethereum's parsePubkey: exactly 128 hex digits that decode to a point
// on the curve. Errors carry go-ethereum's "invalid public key (...)" form.
absl::StatusOr<PublicKey> ParsePubkeyHex(absl::string_view hex) {
  if (hex.empty()) return Invalid("invalid public key (missing, want 128 hex chars)");
  for (size_t i = 0; i < hex.size(); ++i) {
    if (!IsHexDigit(hex[i])) {
      return Invalid(absl::StrCat("invalid public key (invalid hex character ",
                                  Quote(hex.substr(i, 1)), " at offset ", i, ")"));
    }
  }
  if (hex.size() != kPublicKeyHexDigits) {
    return Invalid(absl::StrCat("invalid public key (wrong length, want 128 hex chars, got ",
                                hex.size(), ")"));
  }
  absl::StatusOr<std::vector<uint8_t>> bytes = HexDecode(hex);
  if (!bytes.ok())
    return Invalid(absl::StrCat("invalid public key (", bytes.status().message(), ")"));
  absl::StatusOr<PublicKey> pub = PublicKey::Parse(*bytes);
  if (!pub.ok()) return Invalid("invalid public key (not a point on the secp256k1 curve)");
  return pub;
}

// A port number: decimal digits only (leading zeros allowed, as Go's
// strconv.ParseUint), at most 65535. Returns -1 otherwise.
int ParsePortNumber(absl::string_view s) {
  if (s.empty()) return -1;
  int v = 0;
  for (char c : s) {
    if (!IsDigit(c)) return -1;
    v = v * 10 + (c - '0');
    if (v > 65535) return -1;
  }
  return v;
}

absl::StatusOr<uint16_t> ParsePort(absl::string_view s) {
  if (s.empty()) return Invalid("invalid port (missing)");
  int v = ParsePortNumber(s);
  if (v < 0) {
    bool digits = std::all_of(s.begin(), s.end(), IsDigit);
    return Invalid(absl::StrCat("invalid port ", Quote(s), digits ? " (out of range)" : ""));
  }
  return static_cast<uint16_t>(v);
}

// A DNS name as Go's resolver accepts one: dot-separated labels of letters,
// digits, '-' and '_', 1..63 bytes each, no label starting or ending with
// '-', at most 253 bytes, one optional trailing dot ("valid." is a name).
bool IsValidHostname(absl::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty() || name.size() > kMaxHostnameBytes) return false;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > kMaxLabelBytes) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      bool ok =
          (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' || c == '_';
      if (!ok) return false;
    }
  }
  return true;
}

// Fills node->ip or node->hostname from the host part of the authority.
absl::Status ParseHost(absl::string_view host, bool bracketed, Node* node) {
  if (host.empty()) return Invalid("missing IP address or host name");
  if (bracketed || host.find(':') != absl::string_view::npos) {
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(host);
    if (!ip.ok()) return ip.status();
    if (!bracketed) {
      return Invalid(
          absl::StrCat("invalid IP address ", Quote(host), ": IPv6 addresses must be in brackets"));
    }
    node->ip = *ip;
    return absl::OkStatus();
  }
  // Only digits and dots: meant as IPv4, never a DNS name.
  bool numeric =
      std::all_of(host.begin(), host.end(), [](char c) { return IsDigit(c) || c == '.'; });
  if (numeric) {
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(host);
    if (!ip.ok()) return ip.status();
    node->ip = *ip;
    return absl::OkStatus();
  }
  if (!IsValidHostname(host)) {
    return Invalid(absl::StrCat("invalid IP address or host name ", Quote(host)));
  }
  node->hostname = std::string(host);
  return absl::OkStatus();
}

// Parses "discport=N" and nothing else; an empty value keeps udp = tcp.
absl::Status ParseQuery(absl::string_view query, Node* node) {
  bool seen = false;
  for (absl::string_view param : absl::StrSplit(query, '&')) {
    if (param.empty()) continue;
    size_t eq = param.find('=');
    absl::string_view key = param.substr(0, eq);
    absl::string_view value = eq == absl::string_view::npos ? "" : param.substr(eq + 1);
    if (key != "discport") {
      return Invalid(
          absl::StrCat("unknown query parameter ", Quote(key), " (only discport is allowed)"));
    }
    if (seen) return Invalid("duplicate discport in query");
    seen = true;
    if (value.empty()) continue;
    int v = ParsePortNumber(value);
    if (v < 0) return Invalid(absl::StrCat("invalid discport in query ", Quote(value)));
    node->udp = static_cast<uint16_t>(v);
  }
  return absl::OkStatus();
}

// Parses "<host>:<port>[?<query>]" after the '@'.
absl::Status ParseAddress(absl::string_view rest, Node* node) {
  size_t garbage = rest.find_first_of("/#");
  size_t qmark = rest.find('?');
  if (garbage != absl::string_view::npos && (qmark == absl::string_view::npos || garbage < qmark)) {
    return Invalid(absl::StrCat("unexpected ", Quote(rest.substr(garbage)), " after address"));
  }
  absl::string_view hostport = rest.substr(0, qmark);
  absl::string_view query =
      qmark == absl::string_view::npos ? absl::string_view() : rest.substr(qmark + 1);
  if (query.find_first_of("/#?") != absl::string_view::npos) {
    return Invalid(
        absl::StrCat("unexpected ", Quote(query.substr(query.find_first_of("/#?"))), " in query"));
  }

  absl::string_view host;
  absl::string_view port;
  bool has_port = false;
  bool bracketed = !hostport.empty() && hostport[0] == '[';
  if (bracketed) {
    size_t close = hostport.find(']');
    if (close == absl::string_view::npos) {
      return Invalid(absl::StrCat("invalid IP address ", Quote(hostport), ": missing ']'"));
    }
    host = hostport.substr(1, close - 1);
    absl::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return Invalid(absl::StrCat("unexpected ", Quote(after), " after IP address"));
      }
      has_port = true;
      port = after.substr(1);
    }
  } else {
    size_t colon = hostport.rfind(':');
    host = hostport.substr(0, colon);
    if (colon != absl::string_view::npos) {
      has_port = true;
      port = hostport.substr(colon + 1);
    }
  }

  absl::Status s = ParseHost(host, bracketed, node);
  if (!s.ok()) return s;
  if (!has_port) return Invalid("invalid port (missing)");
  absl::StatusOr<uint16_t> tcp = ParsePort(port);
  if (!tcp.ok()) return tcp.status();
  node->tcp = *tcp;
  node->udp = *tcp;
  return ParseQuery(query, node);
}

}  // namespace

// ---------------------------------------------------------------------------
// NodeId

NodeId NodeId::FromPublicKey(const PublicKey& pub) { return NodeId(Keccak256Hash(pub.bytes())); }

absl::StatusOr<NodeId> NodeId::FromHex(absl::string_view hex) {
  absl::StatusOr<std::vector<uint8_t>> b = HexDecode(hex);
  if (!b.ok()) return Invalid(absl::StrCat("invalid node ID: ", b.status().message()));
  if (b->size() != kBytes) {
    return Invalid(
        absl::StrCat("invalid node ID: wrong length, want 64 hex chars, got ", 2 * b->size()));
  }
  std::array<uint8_t, kBytes> a;
  std::copy(b->begin(), b->end(), a.begin());
  return NodeId(a);
}

bool NodeId::IsZero() const {
  return std::all_of(b_.begin(), b_.end(), [](uint8_t v) { return v == 0; });
}

std::string NodeId::ToString() const { return HexEncode(b_); }

std::string NodeId::TerminalString() const { return HexEncode(absl::MakeConstSpan(b_.data(), 8)); }

int LogDistance(const NodeId& a, const NodeId& b) {
  int leading_zeros = 0;
  for (size_t i = 0; i < NodeId::kBytes; i += 8) {
    uint64_t x = Load64Be(a.bytes(), i) ^ Load64Be(b.bytes(), i);
    if (x != 0) {
      leading_zeros += absl::countl_zero(x);
      return 256 - leading_zeros;
    }
    leading_zeros += 64;
  }
  return 0;
}

int DistCmp(const NodeId& target, const NodeId& a, const NodeId& b) {
  for (size_t i = 0; i < NodeId::kBytes; i += 8) {
    uint64_t t = Load64Be(target.bytes(), i);
    uint64_t da = t ^ Load64Be(a.bytes(), i);
    uint64_t db = t ^ Load64Be(b.bytes(), i);
    if (da > db) return 1;
    if (da < db) return -1;
  }
  return 0;
}

DistanceKey XorDistanceKey(const NodeId& target, const NodeId& id) {
  DistanceKey k;
  for (size_t w = 0; w < k.size(); ++w) {
    k[w] = Load64Be(target.bytes(), 8 * w) ^ Load64Be(id.bytes(), 8 * w);
  }
  return k;
}

// ---------------------------------------------------------------------------
// Node

Node Node::FromPublicKey(const PublicKey& pubkey, const IpAddress& ip, uint16_t tcp, uint16_t udp) {
  Node n;
  n.id = NodeId::FromPublicKey(pubkey);
  n.pubkey = pubkey;
  n.ip = ip;
  n.tcp = tcp;
  n.udp = udp;
  return n;
}

std::string Node::ToEnode() const {
  std::string out = absl::StrCat(kScheme, pubkey.ToHex());
  if (!hostname.empty()) {
    absl::StrAppend(&out, "@", hostname, ":", tcp);
  } else if (ip != IpAddress() || tcp != 0 || udp != 0) {
    // Any address but the default "::" is printed, 0.0.0.0 included, so
    // that the URL parses back to the same node.
    absl::StrAppend(&out, "@", TcpEndpoint().ToString());
  } else {
    return out;
  }
  if (udp != tcp) absl::StrAppend(&out, "?discport=", udp);
  return out;
}

absl::StatusOr<Node> ParseEnode(absl::string_view url) {
  if (url.substr(0, kScheme.size()) != kScheme) {
    size_t sep = url.find("://");
    if (sep != absl::string_view::npos && sep > 0) {
      return Invalid(
          absl::StrCat("invalid URL scheme ", Quote(url.substr(0, sep)), ", want \"enode\""));
    }
    return Invalid("not an enode URL: missing \"enode://\" prefix");
  }
  absl::string_view rest = url.substr(kScheme.size());
  size_t at = rest.find('@');
  absl::string_view key_hex = rest.substr(0, at);
  if (at == absl::string_view::npos && key_hex.find_first_of(":/?#") != absl::string_view::npos) {
    // "enode://1.2.3.4:30303" and the like: an address but no key.
    return Invalid("does not contain node ID (want enode://<hex public key>@<ip>:<port>)");
  }
  absl::StatusOr<PublicKey> pub = ParsePubkeyHex(key_hex);
  if (!pub.ok()) return pub.status();
  Node node = Node::FromPublicKey(*pub, IpAddress(), 0, 0);
  if (at == absl::string_view::npos) return node;  // Incomplete: key only.
  absl::Status s = ParseAddress(rest.substr(at + 1), &node);
  if (!s.ok()) return s;
  return node;
}

}  // namespace p2p
