#include "core/net/ip.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace p2p {
namespace {

constexpr size_t kV4Offset = 12;  // IPv4 bytes sit at the end of ::ffff:a.b.c.d.

absl::Status BadAddress(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid IP address \"", absl::CHexEscape(text), "\": ", why));
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Parses a canonical decimal number: digits only, no sign, no leading zero
// (except "0" itself), at most max_digits digits. Returns -1 if malformed.
int64_t ParseDecimal(absl::string_view s, size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return -1;
  if (s.size() > 1 && s[0] == '0') return -1;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Dotted quad into out[0..3]. On failure returns false and sets *why.
bool ParseV4(absl::string_view s, uint8_t* out, const char** why) {
  std::vector<absl::string_view> parts = absl::StrSplit(s, '.');
  if (parts.size() != 4) {
    *why = "expected 4 decimal octets";
    return false;
  }
  for (size_t i = 0; i < 4; ++i) {
    absl::string_view p = parts[i];
    if (p.empty()) {
      *why = "empty IPv4 octet";
      return false;
    }
    for (char c : p) {
      if (c < '0' || c > '9') {
        *why = "non-digit in IPv4 octet";
        return false;
      }
    }
    if (p.size() > 1 && p[0] == '0') {
      *why = "leading zero in IPv4 octet";
      return false;
    }
    int64_t v = p.size() > 3 ? 256 : ParseDecimal(p, 3);
    if (v > 255) {
      *why = "IPv4 octet out of range";
      return false;
    }
    out[i] = static_cast<uint8_t>(v);
  }
  return true;
}

// Parses the colon-separated groups of one side of "::" (or of the whole
// address). An IPv4 dotted quad is allowed as the last group when
// v4_allowed, and counts as two groups.
bool ParseGroups(absl::string_view part, bool v4_allowed, std::vector<uint16_t>* groups,
                 const char** why) {
  if (part.empty()) return true;
  std::vector<absl::string_view> fields = absl::StrSplit(part, ':');
  for (size_t i = 0; i < fields.size(); ++i) {
    absl::string_view f = fields[i];
    if (f.find('.') != absl::string_view::npos) {
      if (!v4_allowed || i + 1 != fields.size()) {
        *why = "embedded IPv4 address must be the last group";
        return false;
      }
      uint8_t v4[4];
      if (!ParseV4(f, v4, why)) return false;
      groups->push_back(static_cast<uint16_t>(v4[0] << 8 | v4[1]));
      groups->push_back(static_cast<uint16_t>(v4[2] << 8 | v4[3]));
      continue;
    }
    if (f.empty()) {
      *why = "empty group";
      return false;
    }
    if (f.size() > 4) {
      *why = "group longer than 4 hex digits";
      return false;
    }
    uint32_t v = 0;
    for (char c : f) {
      int d = HexDigit(c);
      if (d < 0) {
        *why = "invalid character";
        return false;
      }
      v = v << 4 | static_cast<uint32_t>(d);
    }
    groups->push_back(static_cast<uint16_t>(v));
  }
  return true;
}

absl::StatusOr<IpAddress> ParseV6(absl::string_view text) {
  const char* why = nullptr;
  if (text.find('%') != absl::string_view::npos) {
    return BadAddress(text, "zone ids are not supported");
  }
  std::vector<uint16_t> head, tail;
  size_t dc = text.find("::");
  bool compressed = dc != absl::string_view::npos;
  if (compressed) {
    if (text.find("::", dc + 1) != absl::string_view::npos) {
      return BadAddress(text, "more than one \"::\"");
    }
    if (!ParseGroups(text.substr(0, dc), false, &head, &why) ||
        !ParseGroups(text.substr(dc + 2), true, &tail, &why)) {
      return BadAddress(text, why);
    }
    // "::" stands for at least one zero group.
    if (head.size() + tail.size() > 7) return BadAddress(text, "too many groups");
  } else {
    if (!ParseGroups(text, true, &head, &why)) return BadAddress(text, why);
    if (head.size() > 8) return BadAddress(text, "too many groups");
    if (head.size() < 8) return BadAddress(text, "too few groups");
  }
  std::array<uint8_t, 16> b{};
  for (size_t i = 0; i < head.size(); ++i) {
    b[2 * i] = static_cast<uint8_t>(head[i] >> 8);
    b[2 * i + 1] = static_cast<uint8_t>(head[i]);
  }
  size_t start = 8 - tail.size();
  for (size_t i = 0; i < tail.size(); ++i) {
    b[2 * (start + i)] = static_cast<uint8_t>(tail[i] >> 8);
    b[2 * (start + i) + 1] = static_cast<uint8_t>(tail[i]);
  }
  return IpAddress::FromBytes16(b);
}

// Clears every bit of b[start..] after the first `bits` bits.
void MaskFrom(std::array<uint8_t, 16>& b, size_t start, int bits) {
  for (size_t i = start; i < b.size(); ++i) {
    int keep = bits - static_cast<int>(i - start) * 8;
    if (keep >= 8) continue;
    b[i] = keep <= 0 ? 0 : static_cast<uint8_t>(b[i] & (0xff00 >> keep));
  }
}

// True if a and b agree on the first `bits` bits of a[start..], b[start..].
bool PrefixEqual(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, size_t start,
                 int bits) {
  for (size_t i = start; i < a.size() && bits > 0; ++i, bits -= 8) {
    uint8_t mask = bits >= 8 ? 0xff : static_cast<uint8_t>(0xff00 >> bits);
    if ((a[i] & mask) != (b[i] & mask)) return false;
  }
  return true;
}

}  // namespace

IpAddress IpAddress::V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress ip;
  ip.b_[10] = 0xff;
  ip.b_[11] = 0xff;
  ip.b_[12] = a;
  ip.b_[13] = b;
  ip.b_[14] = c;
  ip.b_[15] = d;
  return ip;
}

IpAddress IpAddress::V4(uint32_t host_order) {
  return V4(static_cast<uint8_t>(host_order >> 24), static_cast<uint8_t>(host_order >> 16),
            static_cast<uint8_t>(host_order >> 8), static_cast<uint8_t>(host_order));
}

IpAddress IpAddress::FromBytes16(const std::array<uint8_t, 16>& b) {
  IpAddress ip;
  ip.b_ = b;
  return ip;
}

absl::StatusOr<IpAddress> IpAddress::FromBytes(absl::Span<const uint8_t> b) {
  if (b.size() == 4) return V4(b[0], b[1], b[2], b[3]);
  if (b.size() == 16) {
    std::array<uint8_t, 16> a;
    std::copy(b.begin(), b.end(), a.begin());
    return FromBytes16(a);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("IP address must be 4 or 16 bytes, got ", b.size()));
}

absl::StatusOr<IpAddress> IpAddress::Parse(absl::string_view text) {
  if (text.empty()) return BadAddress(text, "empty");
  if (text.find(':') != absl::string_view::npos) return ParseV6(text);
  uint8_t v4[4];
  const char* why = nullptr;
  if (!ParseV4(text, v4, &why)) return BadAddress(text, why);
  return V4(v4[0], v4[1], v4[2], v4[3]);
}

bool IpAddress::is_v4() const {
  for (size_t i = 0; i < 10; ++i) {
    if (b_[i] != 0) return false;
  }
  return b_[10] == 0xff && b_[11] == 0xff;
}

uint32_t IpAddress::v4() const {
  return static_cast<uint32_t>(b_[12]) << 24 | static_cast<uint32_t>(b_[13]) << 16 |
         static_cast<uint32_t>(b_[14]) << 8 | static_cast<uint32_t>(b_[15]);
}

std::vector<uint8_t> IpAddress::WireBytes() const {
  if (is_v4()) return std::vector<uint8_t>(b_.begin() + kV4Offset, b_.end());
  return std::vector<uint8_t>(b_.begin(), b_.end());
}

bool IpAddress::IsUnspecified() const { return *this == IpAddress() || *this == V4(0, 0, 0, 0); }

bool IpAddress::IsLoopback() const {
  if (is_v4()) return b_[12] == 127;
  static const IpAddress kV6Loopback = [] {
    std::array<uint8_t, 16> b{};
    b[15] = 1;
    return FromBytes16(b);
  }();
  return *this == kV6Loopback;
}

bool IpAddress::IsLan() const {
  if (IsLoopback()) return true;
  if (is_v4()) {
    uint8_t a = b_[12], b = b_[13];
    return a == 0                             // 0.0.0.0/8 "this" network
           || a == 10                         // 10.0.0.0/8
           || (a == 172 && (b & 0xf0) == 16)  // 172.16.0.0/12
           || (a == 192 && b == 168);         // 192.168.0.0/16
  }
  return (b_[0] == 0xfe && (b_[1] & 0xc0) == 0x80)  // fe80::/10 link-local
         || (b_[0] & 0xfe) == 0xfc;                 // fc00::/7 unique-local
}

std::string IpAddress::ToString() const {
  if (is_v4()) {
    return absl::StrCat(b_[12], ".", b_[13], ".", b_[14], ".", b_[15]);
  }
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>(b_[2 * i] << 8 | b_[2 * i + 1]);
  // RFC 5952 4.2: compress the longest run of two or more zero groups, the
  // leftmost one on a tie.
  int best_start = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) {
      best_start = i;
      best_len = j - i;
    }
    i = j;
  }
  std::string out;
  for (int i = 0; i < 8; ++i) {
    if (i == best_start) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    absl::StrAppend(&out, absl::Hex(g[i]));
  }
  return out;
}

absl::StatusOr<Endpoint> Endpoint::Parse(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid endpoint \"", absl::CHexEscape(text), "\": ", why));
  };
  absl::string_view host, port;
  if (!text.empty() && text[0] == '[') {
    size_t close = text.find(']');
    if (close == absl::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    absl::string_view after = text.substr(close + 1);
    if (after.empty()) return bad("missing port");
    if (after[0] != ':') return bad("expected ':' after ']'");
    port = after.substr(1);
  } else {
    size_t colon = text.rfind(':');
    if (colon == absl::string_view::npos) return bad("missing port");
    host = text.substr(0, colon);
    if (host.find(':') != absl::string_view::npos) {
      return bad("IPv6 address must be in brackets");
    }
    port = text.substr(colon + 1);
  }
  int64_t p = ParseDecimal(port, 5);
  if (p < 0 || p > 65535) return bad("bad port");
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(host);
  if (!ip.ok()) return bad(ip.status().message());
  Endpoint e;
  e.ip = *ip;
  e.port = static_cast<uint16_t>(p);
  return e;
}

std::string Endpoint::ToString() const {
  if (ip.is_v4()) return absl::StrCat(ip.ToString(), ":", port);
  return absl::StrCat("[", ip.ToString(), "]:", port);
}

absl::StatusOr<IpNet> IpNet::Parse(absl::string_view text) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid CIDR \"", absl::CHexEscape(text), "\": ", why));
  };
  size_t slash = text.find('/');
  if (slash == absl::string_view::npos) return bad("missing '/'");
  absl::string_view addr_text = text.substr(0, slash);
  absl::StatusOr<IpAddress> addr = IpAddress::Parse(addr_text);
  if (!addr.ok()) return bad(addr.status().message());
  bool v4_text = addr_text.find(':') == absl::string_view::npos;
  int max_bits = v4_text ? 32 : 128;
  int64_t bits = ParseDecimal(text.substr(slash + 1), 3);
  if (bits < 0 || bits > max_bits) {
    return bad(absl::StrCat("prefix length must be 0..", max_bits));
  }
  IpNet net;
  net.prefix_bits = static_cast<int>(bits);
  std::array<uint8_t, 16> b = addr->bytes16();
  if (v4_text) {
    MaskFrom(b, kV4Offset, net.prefix_bits);
  } else {
    MaskFrom(b, 0, net.prefix_bits);
    // A block inside ::ffff:0:0/96 is an IPv4 block (Go's IPNet.Contains
    // treats it so); below /96 the mask clears the ffff marker, so the base
    // cannot look like IPv4.
    if (IpAddress::FromBytes16(b).is_v4()) net.prefix_bits -= 96;
  }
  net.base = IpAddress::FromBytes16(b);
  return net;
}

bool IpNet::Contains(const IpAddress& ip) const {
  if (base.is_v4() != ip.is_v4()) return false;
  if (base.is_v4()) {
    return PrefixEqual(base.bytes16(), ip.bytes16(), kV4Offset,
                       std::min(std::max(prefix_bits, 0), 32));
  }
  return PrefixEqual(base.bytes16(), ip.bytes16(), 0, std::min(std::max(prefix_bits, 0), 128));
}

std::string IpNet::ToString() const { return absl::StrCat(base.ToString(), "/", prefix_bits); }

absl::StatusOr<IpNetList> IpNetList::Parse(absl::string_view text) {
  IpNetList list;
  for (absl::string_view entry : absl::StrSplit(text, ',')) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty()) continue;  // Like geth: extra commas are ignored.
    absl::StatusOr<IpNet> net = IpNet::Parse(entry);
    if (!net.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid net list: ", net.status().message()));
    }
    list.Add(*net);
  }
  return list;
}

bool IpNetList::Contains(const IpAddress& ip) const {
  for (const IpNet& net : nets_) {
    if (net.Contains(ip)) return true;
  }
  return false;
}

std::string IpNetList::ToString() const {
  return absl::StrJoin(nets_, ",",
                       [](std::string* out, const IpNet& n) { out->append(n.ToString()); });
}

}  // namespace p2p
