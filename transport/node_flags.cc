#include "transport/node_flags.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/hex.h"

namespace p2p::transport {
namespace {

enum class Kind { kString, kBool };

struct FlagSpec {
  const char* name;
  Kind kind;
  const char* arg;
  const char* help;
};

constexpr FlagSpec kFlags[] = {
    {"datadir", Kind::kString, "DIR",
     "data directory: the node key is kept in DIR/nodekey, known discovery nodes in DIR/nodes"},
    {"nodekey", Kind::kString, "FILE", "node key file (64 hex digits)"},
    {"nodekeyhex", Kind::kString, "HEX", "node key as 64 hex digits"},
    {"listen", Kind::kString, "HOST:PORT", "RLPx listen address (default 0.0.0.0:30303)"},
    {"discport", Kind::kString, "PORT",
     "discovery UDP port (default: the TCP listen port; 0 picks one)"},
    {"nodiscover", Kind::kBool, "", "disable discovery; bootnodes are dialed directly"},
    {"maxpeers", Kind::kString, "N", "maximum number of peers (default 50)"},
    {"maxpendpeers", Kind::kString, "N", "maximum connections in handshake at once (default 50)"},
    {"dialratio", Kind::kString, "N", "1/N of the peer slots are dialed (default 3)"},
    {"nodial", Kind::kBool, "", "do not dial; accept inbound connections only"},
    {"bootnodes", Kind::kString, "URLS", "comma-separated enode URLs of bootnodes"},
    {"static", Kind::kString, "URLS", "comma-separated enode URLs to keep connected"},
    {"trusted", Kind::kString, "URLS", "comma-separated enode URLs allowed above the peer limits"},
    {"netrestrict", Kind::kString, "CIDRS", "only connect to these networks (comma-separated)"},
    {"extip", Kind::kString, "IP", "external IP advertised in our enode URL"},
    {"dial-policy", Kind::kString, "current|legacy",
     "dialer generation: current dialScheduler or v1.8.24 dialstate (default current)"},
    {"caps", Kind::kString, "NAME/VER[:LEN],...",
     "extra capabilities served by no-op handlers (LEN: message codes)"},
    {"admin", Kind::kString, "HOST:PORT",
     "admin HTTP endpoint (default 127.0.0.1:8550; \"off\" disables)"},
    {"verbosity", Kind::kString, "0-5",
     "log level: 0 silent, 1 error, 2 warn, 3 info, 4 debug, 5 trace (default 3)"},
    {"identity", Kind::kString, "NAME", "client name in our Hello (default p2pnode)"},
    {"help", Kind::kBool, "", "show this help"},
};

const FlagSpec* FindFlag(absl::string_view name) {
  for (const FlagSpec& f : kFlags) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

absl::Status BadValue(absl::string_view flag, absl::string_view value, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid value \"", value, "\" for --", flag, ": ", why));
}

absl::StatusOr<int> ParseCount(absl::string_view flag, absl::string_view v, int min) {
  int n = 0;
  if (!absl::SimpleAtoi(v, &n) || n < min || v.empty() || v[0] == '+') {
    return BadValue(flag, v, min == 0 ? "not a non-negative integer" : "not a positive integer");
  }
  return n;
}

absl::StatusOr<std::vector<Node>> ParseEnodeList(absl::string_view flag, absl::string_view v) {
  std::vector<Node> out;
  for (absl::string_view url : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
    url = absl::StripAsciiWhitespace(url);
    absl::StatusOr<Node> n = ParseEnode(url);
    if (!n.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid enode URL in --", flag, " \"", url, "\": ", n.status().message()));
    }
    if (!n->has_ip() && n->hostname.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid enode URL in --", flag, " \"", url,
                                                     "\": no address (want enode://ID@HOST:PORT)"));
    }
    out.push_back(*std::move(n));
  }
  return out;
}

absl::StatusOr<Endpoint> ParseHostPort(absl::string_view flag, absl::string_view v) {
  std::string text(v);
  if (absl::StartsWith(text, ":")) text = "0.0.0.0" + text;
  absl::StatusOr<Endpoint> e = Endpoint::Parse(text);
  if (!e.ok()) return BadValue(flag, v, "want HOST:PORT with an IP address");
  return e;
}

absl::Status Apply(NodeFlags& f, absl::string_view name, absl::string_view v) {
  if (name == "datadir") {
    if (v.empty()) return BadValue(name, v, "empty path");
    f.datadir = std::string(v);
  } else if (name == "nodekey") {
    if (v.empty()) return BadValue(name, v, "empty path");
    f.nodekey_file = std::string(v);
  } else if (name == "nodekeyhex") {
    if (!PrivateKey::FromHex(v).ok()) return BadValue(name, v, "not a valid secp256k1 key");
    f.nodekey_hex = std::string(v);
  } else if (name == "listen") {
    absl::StatusOr<Endpoint> e = ParseHostPort(name, v);
    if (!e.ok()) return e.status();
    f.listen = *e;
  } else if (name == "discport") {
    uint32_t port = 0;
    if (v.empty() || v[0] == '+' || v[0] == '-' || !absl::SimpleAtoi(v, &port) || port > 65535) {
      return BadValue(name, v, "want a port number 0-65535");
    }
    f.disc_port = static_cast<uint16_t>(port);
  } else if (name == "maxpeers" || name == "maxpendpeers") {
    absl::StatusOr<int> n = ParseCount(name, v, 0);
    if (!n.ok()) return n.status();
    (name == "maxpeers" ? f.max_peers : f.max_pending_peers) = *n;
  } else if (name == "dialratio") {
    absl::StatusOr<int> n = ParseCount(name, v, 1);
    if (!n.ok()) return n.status();
    f.dial_ratio = *n;
  } else if (name == "bootnodes" || name == "static" || name == "trusted") {
    absl::StatusOr<std::vector<Node>> l = ParseEnodeList(name, v);
    if (!l.ok()) return l.status();
    std::vector<Node>& dst =
        name == "bootnodes" ? f.bootnodes : (name == "static" ? f.static_nodes : f.trusted_nodes);
    dst.insert(dst.end(), l->begin(), l->end());
  } else if (name == "netrestrict") {
    absl::StatusOr<IpNetList> l = IpNetList::Parse(v);
    if (!l.ok()) return BadValue(name, v, l.status().message());
    f.net_restrict = *std::move(l);
  } else if (name == "extip") {
    absl::StatusOr<IpAddress> ip = IpAddress::Parse(v);
    if (!ip.ok() || ip->IsUnspecified()) return BadValue(name, v, "not an IP address");
    f.ext_ip = *ip;
  } else if (name == "dial-policy") {
    absl::StatusOr<DialGeneration> g = ParseDialGeneration(v);
    if (!g.ok()) return BadValue(name, v, "want current or legacy");
    f.dial_policy = *g;
  } else if (name == "caps") {
    for (absl::string_view item : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
      item = absl::StripAsciiWhitespace(item);
      NodeFlags::CapFlag c;
      std::vector<absl::string_view> nl = absl::StrSplit(item, absl::MaxSplits('/', 1));
      if (nl.size() != 2 || nl[0].empty()) {
        return BadValue(name, item, "want NAME/VERSION[:LENGTH]");
      }
      c.name = std::string(nl[0]);
      std::vector<absl::string_view> vl = absl::StrSplit(nl[1], absl::MaxSplits(':', 1));
      if (!absl::SimpleAtoi(vl[0], &c.version) || vl[0].empty() || vl[0][0] == '+') {
        return BadValue(name, item, "version is not a non-negative integer");
      }
      if (vl.size() == 2) {
        if (!absl::SimpleAtoi(vl[1], &c.length) || c.length == 0 || c.length > 1024) {
          return BadValue(name, item, "length must be 1..1024");
        }
      } else {
        c.length = DefaultCapLength(c.name, c.version);
      }
      if (c.name == "p2p" || c.name.size() > 8) {
        return BadValue(name, item, "name must be 1-8 characters and not p2p");
      }
      f.caps.push_back(c);
    }
  } else if (name == "admin") {
    if (v == "off" || v.empty()) {
      f.admin.reset();
    } else {
      absl::StatusOr<Endpoint> e = ParseHostPort(name, v);
      if (!e.ok()) return e.status();
      f.admin = *e;
    }
  } else if (name == "verbosity") {
    absl::StatusOr<int> n = ParseCount(name, v, 0);
    if (!n.ok() || *n > 5) return BadValue(name, v, "want 0-5");
    f.verbosity_number = *n;
    if (*n > 0) f.verbosity = static_cast<LogLevel>(*n);
  } else if (name == "identity") {
    if (v.empty() || v.size() > 256) return BadValue(name, v, "want 1-256 characters");
    f.identity = std::string(v);
  }
  return absl::OkStatus();
}

}  // namespace

std::string NodeUsage() {
  std::string s =
      "Usage: p2pnode [flags]\n\n"
      "A devp2p node: RLPx over TCP, the go-ethereum dialer and server, an admin\n"
      "HTTP endpoint. Prints its enode URL on start; stops cleanly on SIGINT/SIGTERM.\n\n"
      "Flags:\n";
  for (const FlagSpec& f : kFlags) {
    std::string left = absl::StrCat("  --", f.name, f.arg[0] ? " " : "", f.arg);
    if (left.size() < 30) left.resize(30, ' ');
    absl::StrAppend(&s, left, " ", f.help, "\n");
  }
  return s;
}

uint64_t DefaultCapLength(absl::string_view name, uint64_t version) {
  if (name == "eth") return version >= 69 ? 18 : 17;
  if (name == "snap") return 8;
  if (name == "les") return 24;
  if (name == "wit") return 4;
  return 16;
}

std::vector<Protocol> NoOpProtocols(const std::vector<NodeFlags::CapFlag>& caps) {
  std::vector<Protocol> out;
  for (const NodeFlags::CapFlag& c : caps) out.push_back(Protocol{c.name, c.version, c.length, {}});
  return out;
}

absl::StatusOr<NodeFlags> ParseNodeFlags(const std::vector<std::string>& args) {
  NodeFlags f;
  f.listen = *Endpoint::Parse("0.0.0.0:30303");
  f.admin = *Endpoint::Parse("127.0.0.1:8550");
  std::map<std::string, int> seen;
  for (size_t i = 0; i < args.size(); ++i) {
    absl::string_view a = args[i];
    if (!absl::StartsWith(a, "-") || a == "-" || a == "--") {
      return absl::InvalidArgumentError(absl::StrCat("unexpected argument \"", a, "\""));
    }
    a.remove_prefix(absl::StartsWith(a, "--") ? 2 : 1);
    std::string name;
    std::optional<std::string> value;
    if (size_t eq = a.find('='); eq != absl::string_view::npos) {
      name = std::string(a.substr(0, eq));
      value = std::string(a.substr(eq + 1));
    } else {
      name = std::string(a);
    }
    const FlagSpec* spec = FindFlag(name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (see --help)"));
    }
    if (spec->kind == Kind::kBool) {
      bool b = true;
      if (value && !absl::SimpleAtob(*value, &b))
        return BadValue(name, *value, "want true or false");
      if (name == "nodial") f.no_dial = b;
      if (name == "nodiscover") f.no_discover = b;
      if (name == "help") f.help = b;
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat("flag --", name, " needs a value"));
      }
      value = args[++i];
    }
    // List flags accumulate; the others may be given once.
    const bool list =
        name == "bootnodes" || name == "static" || name == "trusted" || name == "caps";
    if (!list && ++seen[name] > 1) {
      return absl::InvalidArgumentError(absl::StrCat("flag --", name, " given twice"));
    }
    if (absl::Status s = Apply(f, name, *value); !s.ok()) return s;
  }
  if (!f.nodekey_file.empty() && !f.nodekey_hex.empty()) {
    return absl::InvalidArgumentError("--nodekey and --nodekeyhex are mutually exclusive");
  }
  return f;
}

namespace {

absl::StatusOr<PrivateKey> ReadKeyFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read node key file ", path, ": ", std::strerror(errno)));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text(absl::StripAsciiWhitespace(ss.str()));
  absl::StatusOr<PrivateKey> k = PrivateKey::FromHex(text);
  if (!k.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid node key in ", path, ": ", k.status().message()));
  }
  return k;
}

}  // namespace

absl::StatusOr<PrivateKey> LoadOrCreateNodeKey(const NodeFlags& flags, Entropy& entropy,
                                               bool* ephemeral) {
  *ephemeral = false;
  if (!flags.nodekey_hex.empty()) return PrivateKey::FromHex(flags.nodekey_hex);
  if (!flags.nodekey_file.empty()) return ReadKeyFile(flags.nodekey_file);
  if (flags.datadir.empty()) {
    *ephemeral = true;
    return PrivateKey::Generate(entropy);
  }
  const std::string path = flags.datadir + "/nodekey";
  if (access(path.c_str(), F_OK) == 0) return ReadKeyFile(path);
  // mkdir -p: create every missing component (geth's MkdirAll).
  for (size_t pos = 1; pos <= flags.datadir.size(); ++pos) {
    if (pos != flags.datadir.size() && flags.datadir[pos] != '/') continue;
    const std::string part = flags.datadir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(
          absl::StrCat("cannot create data directory ", part, ": ", std::strerror(errno)));
    }
  }
  const PrivateKey key = PrivateKey::Generate(entropy);
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write node key file ", tmp, ": ", std::strerror(errno)));
  }
  const std::string hex = HexEncode(key.bytes());
  const bool ok =
      write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && fsync(fd) == 0;
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("cannot write node key file ", path, ": ", std::strerror(errno)));
  }
  return key;
}

}  // namespace p2p::transport
