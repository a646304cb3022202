#include "transport/node_db.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/node.h"
#include "transport/errno_status.h"

namespace p2p::transport {
namespace {

using discover::KnownNode;

constexpr absl::string_view kHeaderPrefix = "# p2pnode nodes v";
constexpr absl::string_view kVersion = "1";

std::string FormatTime(const std::optional<absl::Time>& t) {
  return t.has_value() ? absl::StrCat(absl::ToUnixMillis(*t)) : "-";
}

// "-" or a non-negative count of Unix milliseconds. SimpleAtoi alone would
// also take "+5" and " 5"; the file has one spelling per value.
bool ParseTime(absl::string_view field, std::optional<absl::Time>* out) {
  if (field == "-") {
    *out = std::nullopt;
    return true;
  }
  if (field.empty() || !std::all_of(field.begin(), field.end(), absl::ascii_isdigit)) return false;
  int64_t ms = 0;
  if (!absl::SimpleAtoi(field, &ms)) return false;  // Overflow.
  *out = absl::FromUnixMillis(ms);
  return true;
}

// The newer of two optional times (nullopt = never).
std::optional<absl::Time> Newer(const std::optional<absl::Time>& a,
                                const std::optional<absl::Time>& b) {
  if (!a.has_value()) return b;
  if (!b.has_value()) return a;
  return std::max(*a, *b);
}

// The directory holding `path` ("." for a bare name).
std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// mkdir -p with mode 0700 (as LoadOrCreateNodeKey makes DATADIR).
absl::Status MakeDirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) {
      return StatusFromErrno(errno, absl::StrCat("cannot create directory ", part));
    }
  }
  return absl::OkStatus();
}

// Writes all of `data` to fd; false with errno set on failure.
bool WriteAll(int fd, absl::string_view data) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace

std::string FormatNodeDb(const std::vector<KnownNode>& nodes) {
  std::string out = absl::StrCat(kNodeDbHeader, "\n");
  for (const KnownNode& k : nodes) {
    absl::StrAppend(&out, k.node.ToEnode(), " ", FormatTime(k.last_pong), " ",
                    FormatTime(k.last_ping), " ", k.findnode_failures, "\n");
  }
  return out;
}

absl::StatusOr<ParsedNodeDb> ParseNodeDb(absl::string_view text) {
  const std::vector<absl::string_view> lines = absl::StrSplit(text, '\n');
  // Trailing whitespace is dropped from every line, which also forgives
  // "\r\n" line ends left by an editor.
  const absl::string_view header = absl::StripTrailingAsciiWhitespace(lines[0]);
  absl::string_view version = header;
  if (!absl::ConsumePrefix(&version, kHeaderPrefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing header: the first line must be \"", kNodeDbHeader, "\""));
  }
  if (version != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported node database version \"", version, "\" (want ", kVersion, ")"));
  }

  ParsedNodeDb db;
  std::map<NodeId, size_t> first_line;  // Node ID -> line number of its first good line.
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t line_no = i + 1;
    const absl::string_view line = absl::StripAsciiWhitespace(lines[i]);
    if (line.empty() || line[0] == '#') continue;
    auto warn = [&](absl::string_view what) {
      db.warnings.push_back(absl::StrCat("line ", line_no, ": ", what));
    };
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 4) {
      warn(absl::StrCat("want 4 fields, got ", fields.size()));
      continue;
    }
    KnownNode k;
    absl::StatusOr<Node> node = ParseEnode(fields[0]);
    if (!node.ok()) {
      warn(absl::StrCat("invalid enode URL: ", node.status().message()));
      continue;
    }
    k.node = *std::move(node);
    if (!ParseTime(fields[1], &k.last_pong)) {
      warn(absl::StrCat("invalid last pong \"", fields[1], "\": want Unix milliseconds or -"));
      continue;
    }
    if (!ParseTime(fields[2], &k.last_ping)) {
      warn(absl::StrCat("invalid last ping \"", fields[2], "\": want Unix milliseconds or -"));
      continue;
    }
    if (!absl::SimpleAtoi(fields[3], &k.findnode_failures)) {
      warn(absl::StrCat("invalid findnode failures \"", fields[3], "\": want an integer"));
      continue;
    }
    if (k.findnode_failures < 0) {
      warn(absl::StrCat("negative findnode failures \"", fields[3], "\""));
      continue;
    }
    auto [it, inserted] = first_line.emplace(k.node.id, line_no);
    if (!inserted) {
      warn(absl::StrCat("duplicate node ID ", k.node.id.TerminalString(), " (first on line ",
                        it->second, ")"));
      continue;
    }
    db.nodes.push_back(std::move(k));
  }
  return db;
}

std::vector<KnownNode> MergeKnownNodes(const std::vector<KnownNode>& previous,
                                       const std::vector<KnownNode>& current, absl::Time now,
                                       absl::Duration max_age, size_t max_entries) {
  std::map<NodeId, KnownNode> by_id;  // Ordered: no hash order can leak out.
  for (const KnownNode& k : previous) by_id.emplace(k.node.id, k);
  for (const KnownNode& k : current) {
    auto [it, inserted] = by_id.emplace(k.node.id, k);
    if (inserted) continue;
    KnownNode merged = k;
    merged.last_pong = Newer(it->second.last_pong, k.last_pong);
    merged.last_ping = Newer(it->second.last_ping, k.last_ping);
    it->second = std::move(merged);
  }

  const absl::Time oldest = now - max_age;
  std::vector<KnownNode> out;
  for (auto& [id, k] : by_id) {
    const std::optional<absl::Time> newest = Newer(k.last_pong, k.last_ping);
    if (!newest.has_value() || *newest < oldest) continue;
    out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end(), [](const KnownNode& a, const KnownNode& b) {
    if (a.last_pong.has_value() != b.last_pong.has_value()) return a.last_pong.has_value();
    if (a.last_pong.has_value() && *a.last_pong != *b.last_pong) {
      return *a.last_pong > *b.last_pong;
    }
    return a.node.id < b.node.id;
  });
  if (out.size() > max_entries) out.resize(max_entries);
  return out;
}

absl::StatusOr<ParsedNodeDb> LoadNodeDb(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return ParsedNodeDb{};
    return StatusFromErrno(errno, absl::StrCat("cannot read node database ", path));
  }
  std::string text;
  char buf[8192];
  int read_errno = 0;
  while (text.size() <= kNodeDbMaxFileBytes) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      read_errno = errno;
      break;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (read_errno != 0) {
    return StatusFromErrno(read_errno, absl::StrCat("cannot read node database ", path));
  }
  if (text.size() > kNodeDbMaxFileBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("node database ", path, " is larger than ", kNodeDbMaxFileBytes, " bytes"));
  }
  absl::StatusOr<ParsedNodeDb> db = ParseNodeDb(text);
  if (!db.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("node database ", path, ": ", db.status().message()));
  }
  return db;
}

absl::Status SaveNodeDb(const std::string& path, const std::vector<KnownNode>& nodes) {
  const std::string dir = DirName(path);
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    if (absl::Status s = MakeDirs(dir); !s.ok()) return s;
  }
  const std::string tmp = path + ".tmp";
  const std::string what = absl::StrCat("cannot write node database ", tmp);
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return StatusFromErrno(errno, what);
  // A leftover temp file keeps its old mode through O_TRUNC; the database
  // lists peers' addresses, so it is private like the node key.
  bool ok = fchmod(fd, 0600) == 0 && WriteAll(fd, FormatNodeDb(nodes)) && fsync(fd) == 0;
  int err = ok ? 0 : errno;
  if (close(fd) != 0 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    unlink(tmp.c_str());
    return StatusFromErrno(err, what);
  }
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    err = errno;
    unlink(tmp.c_str());
    return StatusFromErrno(err, absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  // The rename is durable only once the directory entry is on disk.
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return StatusFromErrno(errno, absl::StrCat("cannot sync directory ", dir));
  ok = fsync(dir_fd) == 0;
  err = ok ? 0 : errno;
  close(dir_fd);
  if (!ok) return StatusFromErrno(err, absl::StrCat("cannot sync directory ", dir));
  return absl::OkStatus();
}

}  // namespace p2p::transport
