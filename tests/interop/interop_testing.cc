#include "tests/interop/interop_testing.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace p2p::interop {
namespace {

// poll()'s timeout argument for `d`: whole milliseconds, rounded up so that
// a wait never ends just short of its deadline and spins.
int PollMs(absl::Duration d) {
  if (d <= absl::ZeroDuration()) return 0;
  const int64_t ms = absl::ToInt64Milliseconds(absl::Ceil(d, absl::Milliseconds(1)));
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

// Reads at most this many chunks per Pump, so a child that never stops
// printing cannot keep its owner in one call forever.
constexpr int kMaxReadsPerPump = 64;
// Slice of WaitExit's polling for the child's exit.
constexpr absl::Duration kExitPollSlice = absl::Milliseconds(10);
// Nesting bound of ParseJson (the peers print at most 3 levels).
constexpr int kMaxJsonDepth = 64;
// An HTTP response larger than this is an error (admin replies are small).
constexpr size_t kMaxHttpResponseBytes = 16 << 20;

const char* RequiredEnv(const char* name) {
  const char* v = getenv(name);
  if (v == nullptr) {
    std::fprintf(stderr, "interop_testing: $%s is not set (run under bazel test)\n", name);
    std::abort();
  }
  return v;
}

}  // namespace

std::string Runfile(absl::string_view path) {
  return absl::StrCat(RequiredEnv("TEST_SRCDIR"), "/", RequiredEnv("TEST_WORKSPACE"), "/", path);
}

std::string TestTmpDir() { return RequiredEnv("TEST_TMPDIR"); }

bool JsPackagesInstalled() {
  struct stat st;
  return stat(Runfile("tests/interop/node_modules/@ethereumjs/devp2p/package.json").c_str(), &st) ==
         0;
}

// ---------------------------------------------------------------- Deadline

Deadline::Deadline(absl::Duration timeout)
    : end_(std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(timeout)) {}

bool Deadline::expired() const { return std::chrono::steady_clock::now() >= end_; }

absl::Duration Deadline::remaining() const {
  const auto left = end_ - std::chrono::steady_clock::now();
  return std::max(absl::FromChrono(left), absl::ZeroDuration());
}

// ------------------------------------------------------------ ChildProcess

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Spawn(std::vector<std::string> argv,
                                                                  const std::string& stderr_path) {
  if (argv.empty()) return absl::InvalidArgumentError("Spawn: empty argv");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  // dup2 clears close-on-exec on the child's fd 1 only.
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  if (!stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
  }
  std::vector<char*> args;
  for (std::string& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return absl::ErrnoToStatus(rc, absl::StrCat("cannot start ", argv[0]));
  }
  // Non-blocking, so Pump can drain whatever is there and stop.
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid, fds[0]));
}

ChildProcess::~ChildProcess() {
  Kill();
  close(fd_);
}

void ChildProcess::Pump(absl::Duration wait) {
  if (eof_) return;
  pollfd p{fd_, POLLIN, 0};
  if (poll(&p, 1, PollMs(wait)) <= 0) return;
  char buf[8192];
  for (int reads = 0; reads < kMaxReadsPerPump; ++reads) {
    const ssize_t n = read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;  // Drained for now.
    if (n <= 0) {
      // EOF, or a read error, which ends the stream just the same.
      eof_ = true;
      if (!partial_.empty()) lines_.push_back(std::move(partial_));
      partial_.clear();
      return;
    }
    partial_.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
      lines_.push_back(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
  }
}

bool ChildProcess::WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
  const Deadline deadline(timeout);
  while (!done()) {
    if (eof_ || deadline.expired()) return false;
    Pump(deadline.remaining());
  }
  return true;
}

std::string ChildProcess::WaitForLine(absl::string_view needle, absl::Duration timeout) {
  WaitUntil([&] { return !Find(needle).empty(); }, timeout);
  return Find(needle);
}

std::string ChildProcess::Find(absl::string_view needle) const {
  for (const std::string& l : lines_) {
    if (absl::StrContains(l, needle)) return l;
  }
  return "";
}

int ChildProcess::Count(absl::string_view needle) const {
  return static_cast<int>(std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) {
    return absl::StrContains(l, needle);
  }));
}

std::string ChildProcess::Output() const { return absl::StrJoin(lines_, "\n"); }

bool ChildProcess::Signal(int sig) { return !reaped_ && kill(pid_, sig) == 0; }

std::optional<int> ChildProcess::WaitExit(absl::Duration timeout) {
  if (reaped_) return status_;
  const Deadline deadline(timeout);
  for (;;) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      reaped_ = true;
      status_ = status;
      return status;
    }
    if (deadline.expired()) return std::nullopt;
    const absl::Duration slice = std::min(deadline.remaining(), kExitPollSlice);
    if (eof_) {
      poll(nullptr, 0, PollMs(slice));
    } else {
      Pump(slice);
    }
  }
}

void ChildProcess::Kill() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
  }
  reaped_ = true;
}

// ----------------------------------------------------------------- p2pnode

absl::StatusOr<P2pNode> StartP2pNode(const std::vector<std::string>& flags,
                                     const std::string& log_path, absl::Duration timeout) {
  std::vector<std::string> argv = {Runfile("transport/p2pnode")};
  argv.insert(argv.end(), flags.begin(), flags.end());
  absl::StatusOr<std::unique_ptr<ChildProcess>> proc = ChildProcess::Spawn(argv, log_path);
  if (!proc.ok()) return proc.status();
  P2pNode node;
  node.proc = *std::move(proc);
  ChildProcess& p = *node.proc;
  if (!p.WaitUntil([&] { return p.lines().size() >= 2; }, timeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("p2pnode did not print its enode and admin lines:\n", p.Output()));
  }
  node.enode = p.lines()[0];
  absl::StatusOr<Node> self = ParseEnode(node.enode);
  if (!self.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(node.enode, ": ", self.status().ToString()));
  }
  node.self = *self;
  const absl::string_view admin_prefix = "admin http://127.0.0.1:";
  int port = 0;
  if (!absl::StartsWith(p.lines()[1], admin_prefix) ||
      !absl::SimpleAtoi(absl::string_view(p.lines()[1]).substr(admin_prefix.size()), &port) ||
      port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("not an admin address: ", p.lines()[1]));
  }
  node.admin_port = static_cast<uint16_t>(port);
  return node;
}

// -------------------------------------------------------------------- JSON

const Json& Json::operator[](absl::string_view key) const {
  static const Json* const kMissing = new Json();
  for (const auto& [k, v] : members) {
    if (k == key) return v;
  }
  return *kMissing;
}

namespace {

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Recursive descent over one string; every method leaves i_ just past what
// it consumed and returns false at the first error (i_ marks it).
class JsonReader {
 public:
  explicit JsonReader(absl::string_view s) : s_(s) {}

  absl::StatusOr<Json> ReadAll() {
    Json v;
    if (Value(v, 0)) {
      Space();
      if (i_ == s_.size()) return v;
    }
    return absl::InvalidArgumentError(absl::StrCat("invalid JSON at byte ", i_, ": ", s_));
  }

 private:
  bool AtEnd() const { return i_ >= s_.size(); }
  void Space() {
    while (!AtEnd() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  bool Consume(char c) {
    if (AtEnd() || s_[i_] != c) return false;
    ++i_;
    return true;
  }
  bool Literal(absl::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool Hex4(uint32_t& out) {
    if (s_.size() - i_ < 4) return false;
    out = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      out <<= 4;
      if (c >= '0' && c <= '9') {
        out |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        out |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        out |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }
  bool String(std::string& out) {
    if (!Consume('"')) return false;
    while (!AtEnd()) {
      const char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;  // Unescaped control character.
      if (c != '\\') {
        out += c;
        continue;
      }
      if (AtEnd()) return false;
      const char e = s_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!Hex4(cp)) return false;
          // A high surrogate followed by an escaped low one is one code
          // point; a lone surrogate is kept as U+FFFD.
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(i_, 2) == "\\u") {
            const size_t save = i_;
            i_ += 2;
            uint32_t low = 0;
            if (Hex4(low) && low >= 0xdc00 && low < 0xe000) {
              cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
            } else {
              i_ = save;
            }
          }
          if (cp >= 0xd800 && cp < 0xe000) cp = 0xfffd;
          AppendUtf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }
  bool Digits() {
    const size_t start = i_;
    while (!AtEnd() && absl::ascii_isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ > start;
  }
  // -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  bool Number(double& out) {
    const size_t start = i_;
    Consume('-');
    if (Consume('0')) {
      if (!AtEnd() && absl::ascii_isdigit(static_cast<unsigned char>(s_[i_]))) return false;
    } else if (!Digits()) {
      return false;
    }
    if (Consume('.') && !Digits()) return false;
    if (!AtEnd() && (s_[i_] == 'e' || s_[i_] == 'E')) {
      ++i_;
      if (!Consume('+')) Consume('-');
      if (!Digits()) return false;
    }
    return absl::SimpleAtod(s_.substr(start, i_ - start), &out);
  }
  bool Value(Json& v, int depth) {
    Space();
    if (AtEnd() || depth > kMaxJsonDepth) return false;
    const size_t start = i_;
    if (!Body(v, depth)) return false;
    v.text = std::string(s_.substr(start, i_ - start));
    return true;
  }
  // The elements of an array or the members of an object, after the
  // opening bracket up to `close`; `element` reads one.
  bool Sequence(char close, const std::function<bool()>& element) {
    Space();
    if (Consume(close)) return true;
    for (;;) {
      if (!element()) return false;
      Space();
      if (Consume(close)) return true;
      if (!Consume(',')) return false;
    }
  }
  bool Body(Json& v, int depth) {
    const char c = s_[i_];
    if (c == '{') {
      v.type = Json::kObject;
      ++i_;
      return Sequence('}', [&] {
        Space();
        std::string key;
        Json member;
        if (!String(key)) return false;
        Space();
        if (!Consume(':') || !Value(member, depth + 1)) return false;
        v.members.emplace_back(std::move(key), std::move(member));
        return true;
      });
    }
    if (c == '[') {
      v.type = Json::kArray;
      ++i_;
      return Sequence(']', [&] {
        Json item;
        if (!Value(item, depth + 1)) return false;
        v.items.push_back(std::move(item));
        return true;
      });
    }
    if (c == '"') {
      v.type = Json::kString;
      return String(v.str);
    }
    if (Literal("null")) return true;
    if (Literal("true")) {
      v.type = Json::kBool;
      v.boolean = true;
      return true;
    }
    if (Literal("false")) {
      v.type = Json::kBool;
      return true;
    }
    v.type = Json::kNumber;
    return Number(v.number);
  }

  absl::string_view s_;
  size_t i_ = 0;
};

}  // namespace

absl::StatusOr<Json> ParseJson(absl::string_view s) { return JsonReader(s).ReadAll(); }

std::string JsonField(absl::string_view object_text, absl::string_view key) {
  absl::StatusOr<Json> j = ParseJson(object_text);
  if (!j.ok() || j->type != Json::kObject) return "";
  for (const auto& [k, v] : j->members) {
    if (k == key) return v.type == Json::kString ? v.str : v.text;
  }
  return "";
}

// -------------------------------------------------------------------- HTTP

namespace {

// Closes the descriptor on every return path.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ~ScopedFd() {
    if (fd_ >= 0) close(fd_);
  }
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on `fd` until `deadline`, retrying after signals.
// False on timeout or error.
bool PollFd(int fd, short events, const Deadline& deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int rc = poll(&p, 1, PollMs(deadline.remaining()));
    if (rc == 1) return true;
    if (rc < 0 && errno == EINTR && !deadline.expired()) continue;
    return false;
  }
}

// Splits a raw HTTP/1.1 response into `out` (status and body), checking the
// body against Content-Length.
void ParseHttpResponse(const std::string& response, HttpReply& out) {
  const size_t header_end = response.find("\r\n\r\n");
  int status = 0;
  if (header_end == std::string::npos || !absl::StartsWith(response, "HTTP/1.1 ") ||
      response.size() < 12 || !absl::SimpleAtoi(response.substr(9, 3), &status)) {
    out.error = absl::StrCat("malformed response: ", response);
    return;
  }
  std::optional<size_t> length;
  const std::vector<std::string> header_lines =
      absl::StrSplit(response.substr(0, header_end), "\r\n");
  for (size_t i = 1; i < header_lines.size(); ++i) {
    const size_t colon = header_lines[i].find(':');
    if (colon == std::string::npos ||
        absl::AsciiStrToLower(header_lines[i].substr(0, colon)) != "content-length") {
      continue;
    }
    size_t n = 0;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(header_lines[i].substr(colon + 1)), &n)) {
      length = n;
    }
  }
  out.body = response.substr(header_end + 4);
  if (!length.has_value() || *length != out.body.size()) {
    out.error = absl::StrCat("body does not match Content-Length: ", response);
    return;
  }
  out.status = status;
}

}  // namespace

HttpReply HttpRequest(uint16_t port, absl::string_view method, absl::string_view path,
                      absl::string_view body, absl::Duration timeout) {
  HttpReply out;
  const Deadline deadline(timeout);
  const ScopedFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) {
    out.error = absl::StrCat("socket: ", strerror(errno));
    return out;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    if (errno != EINPROGRESS) {
      out.error = absl::StrCat("connect: ", strerror(errno));
      return out;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (!PollFd(fd.get(), POLLOUT, deadline)) {
      out.error = "connect timed out";
      return out;
    }
    if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      out.error = absl::StrCat("connect: ", strerror(err != 0 ? err : errno));
      return out;
    }
  }
  const std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                   "\r\nConnection: close\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
  for (size_t sent = 0; sent < request.size();) {
    if (!PollFd(fd.get(), POLLOUT, deadline)) {
      out.error = "timed out sending the request";
      return out;
    }
    const ssize_t n = send(fd.get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) {
      out.error = absl::StrCat("send: ", strerror(errno));
      return out;
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  for (;;) {
    if (!PollFd(fd.get(), POLLIN, deadline)) {
      out.error = absl::StrCat("timed out reading the response; got: ", response);
      return out;
    }
    char buf[8192];
    const ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n < 0) {
      out.error = absl::StrCat("read: ", strerror(errno), "; got: ", response);
      return out;
    }
    if (n == 0) break;
    response.append(buf, static_cast<size_t>(n));
    if (response.size() > kMaxHttpResponseBytes) {
      out.error = absl::StrCat("response larger than ", kMaxHttpResponseBytes, " bytes");
      return out;
    }
  }
  ParseHttpResponse(response, out);
  return out;
}

}  // namespace p2p::interop
