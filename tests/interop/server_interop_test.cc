// Interop through the full server path: our p2pnode binary (Server, dialer,
// admin HTTP endpoint; transport/p2pnode.cc) against an independent devp2p
// implementation, @ethereumjs/devp2p 10.0.0 (tests/interop/peer.mjs), on
// 127.0.0.1 only. interop_test.cc covers the bare RLPx connection; here real
// processes meet, so SetupConn's checkpoints, capability matching, static
// dials and the admin API are all on the path:
//  - the JS peer dials p2pnode, and p2pnode dials the JS peer (POST
//    /peers/static); each side reports the other as a peer with the right
//    identity, client name, direction and capabilities;
//  - DELETE /peers/static/ID and SIGTERM disconnect with reasons the JS peer
//    reports (DiscRequested, DiscQuitting), and p2pnode exits 0;
//  - with no shared capability the connection is refused as a useless peer,
//    which p2pnode's /metrics counts.
//
// Children are started with posix_spawn and their stdout is read through a
// pipe with poll() deadlines; the admin endpoint is spoken to with a minimal
// blocking HTTP/1.1 client. Every wait is bounded and TearDown kills every
// child. Tests skip (visibly) when ./dev setup did not install the npm peer.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/crypto/secp256k1.h"
#include "core/hex.h"
#include "core/node.h"
#include "gtest/gtest.h"

extern char** environ;

namespace p2p {
namespace {

const char kJsKey[] = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
const char kJsKey2[] = "a71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
// The Hello client id @ethereumjs/devp2p sends on this platform (README.md).
const char kJsClientId[] = "ethereumjs-devp2p/linux-x64/nodejs";

// Generous bounds: two cores may be busy with other builds. A passing run
// takes a few seconds.
constexpr absl::Duration kStartTimeout = absl::Seconds(30);
constexpr absl::Duration kEventTimeout = absl::Seconds(20);
constexpr absl::Duration kHttpTimeout = absl::Seconds(5);
// The JS peers' own backstop; TearDown kills them long before.
const char kJsLifetimeSeconds[] = "120";

std::string Runfile(const std::string& path) {
  return absl::StrCat(getenv("TEST_SRCDIR"), "/", getenv("TEST_WORKSPACE"), "/", path);
}

// A point on the monotonic clock after which waiting stops.
class Deadline {
 public:
  explicit Deadline(absl::Duration d)
      : end_(std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(d)) {}
  bool expired() const { return std::chrono::steady_clock::now() >= end_; }
  // For poll(): milliseconds left, 0 once expired.
  int RemainingMs() const {
    const int64_t left = std::chrono::duration_cast<std::chrono::milliseconds>(
                             end_ - std::chrono::steady_clock::now())
                             .count();
    return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
  }

 private:
  std::chrono::steady_clock::time_point end_;
};

// A child process whose stdout is collected line by line as the test waits
// for it. stdin is /dev/null; stderr goes to `stderr_path` (truncated) when
// given, else to the test log. The destructor kills and reaps the child.
class Child {
 public:
  Child(std::vector<std::string> argv, bool search_path, const std::string& stderr_path = "") {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      error_ = absl::StrCat("pipe2: ", strerror(errno));
      return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    if (!stderr_path.empty()) {
      posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                       0644);
    }
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    pid_t pid = -1;
    const int rc = search_path ? posix_spawnp(&pid, cargv[0], &fa, nullptr, cargv.data(), environ)
                               : posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (rc != 0) {
      close(fds[0]);
      error_ = absl::StrCat("spawn ", argv[0], ": ", strerror(rc));
      return;
    }
    pid_ = pid;
    fd_ = fds[0];
  }
  ~Child() {
    Kill();
    if (fd_ >= 0) close(fd_);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool spawned() const { return pid_ > 0; }
  const std::string& error() const { return error_; }

  // Reads stdout until `done()` holds (true), or until the deadline or EOF
  // (false; `done()` is checked once more after EOF).
  bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout) {
    Deadline d(timeout);
    while (!done()) {
      if (eof_ || d.expired()) return false;
      ReadSome(d.RemainingMs());
    }
    return true;
  }
  // The first stdout line containing `needle`, waiting for it up to
  // `timeout`; "" if none came.
  std::string WaitForLine(absl::string_view needle, absl::Duration timeout) {
    WaitUntil([&] { return !Find(needle).empty(); }, timeout);
    return Find(needle);
  }
  std::string Find(absl::string_view needle) const {
    for (const std::string& l : lines_) {
      if (absl::StrContains(l, needle)) return l;
    }
    return "";
  }
  int Count(absl::string_view needle) const {
    return static_cast<int>(std::count_if(lines_.begin(), lines_.end(), [&](const std::string& l) {
      return absl::StrContains(l, needle);
    }));
  }
  const std::vector<std::string>& lines() const { return lines_; }
  std::string Output() const { return absl::StrJoin(lines_, "\n"); }

  bool Signal(int sig) { return spawned() && !reaped_ && kill(pid_, sig) == 0; }

  // The child's wait status once it exited, or nullopt at the deadline.
  // Keeps draining stdout meanwhile so the child never blocks on the pipe.
  std::optional<int> WaitExit(absl::Duration timeout) {
    if (!spawned()) return std::nullopt;
    if (reaped_) return status_;
    Deadline d(timeout);
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        reaped_ = true;
        status_ = status;
        return status;
      }
      if (d.expired()) return std::nullopt;
      const int slice = std::min(d.RemainingMs(), 10);
      if (eof_) {
        poll(nullptr, 0, slice);
      } else {
        ReadSome(slice);
      }
    }
  }

  void Kill() {
    if (!spawned() || reaped_) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
    reaped_ = true;
  }

 private:
  // Waits up to `ms` for output and splits what arrived into lines.
  void ReadSome(int ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0) return;
    char buf[4096];
    const ssize_t n = read(fd_, buf, sizeof buf);
    if (n < 0) {
      if (errno != EINTR && errno != EAGAIN) eof_ = true;
      return;
    }
    if (n == 0) {
      eof_ = true;
      if (!partial_.empty()) lines_.push_back(std::move(partial_));
      partial_.clear();
      return;
    }
    partial_.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = partial_.find('\n')) != std::string::npos) {
      lines_.push_back(partial_.substr(0, nl));
      partial_.erase(0, nl + 1);
    }
  }

  pid_t pid_ = -1;
  int fd_ = -1;
  bool eof_ = false;
  bool reaped_ = false;
  int status_ = 0;
  std::string error_;
  std::string partial_;
  std::vector<std::string> lines_;
};

// ------------------------------------------------------------------- JSON
// Just enough JSON for peer.mjs's lines and the admin API's compact output.

bool IsJsonSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// The index just past the JSON value that starts at `i`.
size_t SkipValue(absl::string_view s, size_t i) {
  if (i >= s.size()) return s.size();
  if (s[i] == '"') {
    for (++i; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        return i + 1;
      }
    }
    return s.size();
  }
  if (s[i] == '[' || s[i] == '{') {
    int depth = 0;
    while (i < s.size()) {
      const char c = s[i];
      if (c == '"') {
        i = SkipValue(s, i);
        continue;
      }
      if (c == '[' || c == '{') ++depth;
      if ((c == ']' || c == '}') && --depth == 0) return i + 1;
      ++i;
    }
    return s.size();
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && !IsJsonSpace(s[i])) ++i;
  return i;
}

size_t SkipSpace(absl::string_view s, size_t i) {
  while (i < s.size() && IsJsonSpace(s[i])) ++i;
  return i;
}

// The members of the top-level object (key, raw value) or the elements of
// the top-level array (empty key, raw value) in `s`.
std::vector<std::pair<std::string, std::string>> Children(absl::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = SkipSpace(s, 0);
  if (i >= s.size() || (s[i] != '{' && s[i] != '[')) return out;
  const bool object = s[i] == '{';
  i = SkipSpace(s, i + 1);
  while (i < s.size() && s[i] != '}' && s[i] != ']') {
    std::string key;
    if (object) {
      const size_t key_end = SkipValue(s, i);
      if (key_end - i < 2) return out;
      key = std::string(s.substr(i + 1, key_end - i - 2));
      i = SkipSpace(s, key_end);
      if (i >= s.size() || s[i] != ':') return out;
      i = SkipSpace(s, i + 1);
    }
    const size_t value_end = SkipValue(s, i);
    out.emplace_back(std::move(key), std::string(s.substr(i, value_end - i)));
    i = SkipSpace(s, value_end);
    if (i < s.size() && s[i] == ',') i = SkipSpace(s, i + 1);
  }
  return out;
}

// A top-level member of an object: a string's contents (unescaped only of
// \" and \\, enough here), or the raw text of any other value. "" if absent.
std::string Field(absl::string_view obj, absl::string_view key) {
  for (const auto& [k, v] : Children(obj)) {
    if (k != key) continue;
    if (v.size() < 2 || v.front() != '"') return v;
    std::string out;
    for (size_t i = 1; i + 1 < v.size(); ++i) {
      if (v[i] == '\\' && i + 2 < v.size()) ++i;
      out += v[i];
    }
    return out;
  }
  return "";
}

// The /peers entry with node ID `id` (64 hex digits), or "".
std::string PeerEntry(absl::string_view peers_json, const std::string& id) {
  for (const auto& [unused, entry] : Children(peers_json)) {
    if (Field(entry, "id") == id) return entry;
  }
  return "";
}

// ---------------------------------------------------------------- metrics

// The sample lines of metric family `name` (comments excluded).
std::vector<std::string> Samples(absl::string_view metrics, absl::string_view name) {
  std::vector<std::string> out;
  std::istringstream in{std::string(metrics)};
  for (std::string line; std::getline(in, line);) {
    if (absl::StartsWith(line, name) && line.size() > name.size() &&
        (line[name.size()] == '{' || line[name.size()] == ' ')) {
      out.push_back(line);
    }
  }
  return out;
}

// The value of the sample printed as `sample` (name and labels, exactly), or
// -1 when there is no such line.
int64_t Metric(absl::string_view metrics, absl::string_view sample) {
  const std::string prefix = absl::StrCat(sample, " ");
  std::istringstream in{std::string(metrics)};
  for (std::string line; std::getline(in, line);) {
    int64_t v = 0;
    if (absl::StartsWith(line, prefix) && absl::SimpleAtoi(line.substr(prefix.size()), &v)) {
      return v;
    }
  }
  return -1;
}

// ------------------------------------------------------------------- HTTP

struct HttpReply {
  int status = 0;  // 0: no complete reply; see `error`.
  std::string body;
  std::string error;
};

// One request on a fresh loopback connection ("Connection: close"), read to
// EOF; the body is checked against Content-Length.
HttpReply HttpCall(uint16_t port, absl::string_view method, absl::string_view path,
                   absl::string_view body = "") {
  HttpReply out;
  Deadline deadline(kHttpTimeout);
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    out.error = absl::StrCat("socket: ", strerror(errno));
    return out;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Loopback connects complete (or are refused) at once.
  if (connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) {
    out.error = absl::StrCat("connect: ", strerror(errno));
    close(fd);
    return out;
  }
  const std::string request =
      absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                   "\r\nConnection: close\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
  for (size_t sent = 0; sent < request.size();) {
    pollfd p{fd, POLLOUT, 0};
    const ssize_t n = poll(&p, 1, deadline.RemainingMs()) == 1
                          ? send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL)
                          : -1;
    if (n <= 0) {
      out.error = "send failed or timed out";
      close(fd);
      return out;
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, deadline.RemainingMs()) != 1) {
      out.error = absl::StrCat("timed out reading the response; got: ", response);
      close(fd);
      return out;
    }
    char buf[4096];
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  const size_t header_end = response.find("\r\n\r\n");
  int status = 0;
  if (header_end == std::string::npos || !absl::StartsWith(response, "HTTP/1.1 ") ||
      !absl::SimpleAtoi(response.substr(9, 3), &status)) {
    out.error = absl::StrCat("malformed response: ", response);
    return out;
  }
  out.body = response.substr(header_end + 4);
  const std::string headers = absl::AsciiStrToLower(response.substr(0, header_end));
  const size_t cl = headers.find("\r\ncontent-length: ");
  size_t length = 0;
  if (cl == std::string::npos ||
      !absl::SimpleAtoi(headers.substr(cl + 18, headers.find("\r\n", cl + 2) - cl - 18), &length) ||
      length != out.body.size()) {
    out.error = absl::StrCat("body does not match Content-Length: ", response);
    return out;
  }
  out.status = status;
  return out;
}

// ---------------------------------------------------------------- fixture

struct JsPeer {
  std::unique_ptr<Child> proc;
  std::string enode;  // From its "listening" line.
  PublicKey pubkey;
  std::string pubkey_hex;  // How peer.mjs prints IDs.
  std::string node_id;     // How our admin API prints IDs.
};

class ServerInteropTest : public ::testing::Test {
 protected:
  void SetUp() override {
    struct stat st;
    if (stat(Runfile("tests/interop/node_modules/@ethereumjs/devp2p/package.json").c_str(), &st) !=
        0) {
      GTEST_SKIP() << "@ethereumjs/devp2p is not installed (run ./dev setup)";
    }
    const char* tmp = getenv("TEST_TMPDIR");
    ASSERT_NE(tmp, nullptr);
    std::string dir = absl::StrCat(tmp, "/p2pnode.XXXXXX");
    ASSERT_NE(mkdtemp(dir.data()), nullptr) << strerror(errno);
    dir_ = dir;
  }

  void TearDown() override {
    if (HasFailure()) {
      // Whatever the children printed by now belongs in the report below.
      for (auto& js : js_) js->proc->WaitUntil([] { return false; }, absl::Milliseconds(200));
    }
    // Peers first, so p2pnode's log shows them leaving if it is still up.
    for (auto& js : js_) js->proc->Kill();
    if (node_) node_->Kill();
    if (HasFailure()) {
      for (size_t i = 0; i < js_.size(); ++i) {
        std::cerr << "--- JS peer " << i << " stdout:\n" << js_[i]->proc->Output() << "\n";
      }
      if (node_) std::cerr << "--- p2pnode stdout:\n" << node_->Output() << "\n";
      std::cerr << "--- p2pnode stderr:\n" << NodeLog() << "--- end\n";
    }
  }

  // Starts p2pnode on loopback with a fresh --datadir and `extra` flags, and
  // reads its two stdout lines: the enode URL and the admin address.
  void StartNode(const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {Runfile("transport/p2pnode"),
                                     "--listen",
                                     "127.0.0.1:0",
                                     "--admin",
                                     "127.0.0.1:0",
                                     "--datadir",
                                     dir_ + "/data",
                                     "--verbosity",
                                     "4"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    node_ = std::make_unique<Child>(argv, /*search_path=*/false, dir_ + "/p2pnode.log");
    ASSERT_TRUE(node_->spawned()) << node_->error();
    ASSERT_TRUE(node_->WaitUntil([&] { return node_->lines().size() >= 2; }, kStartTimeout))
        << "p2pnode did not print its enode and admin lines:\n"
        << node_->Output();
    enode_ = node_->lines()[0];
    absl::StatusOr<Node> self = ParseEnode(enode_);
    ASSERT_TRUE(self.ok()) << enode_ << ": " << self.status();
    self_ = *self;
    EXPECT_EQ(self_.ip.ToString(), "127.0.0.1");
    ASSERT_NE(self_.tcp, 0);
    const std::string admin_prefix = "admin http://127.0.0.1:";
    ASSERT_TRUE(absl::StartsWith(node_->lines()[1], admin_prefix)) << node_->lines()[1];
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(node_->lines()[1].substr(admin_prefix.size()), &port) &&
                port > 0 && port <= 65535)
        << node_->lines()[1];
    admin_port_ = static_cast<uint16_t>(port);
    // The identity is the key p2pnode created in the data directory.
    std::ifstream key_file(dir_ + "/data/nodekey");
    std::string key_hex((std::istreambuf_iterator<char>(key_file)),
                        std::istreambuf_iterator<char>());
    absl::StatusOr<PrivateKey> key = PrivateKey::FromHex(absl::StripAsciiWhitespace(key_hex));
    ASSERT_TRUE(key.ok()) << key.status();
    EXPECT_EQ(DerivePublicKey(*key), self_.pubkey);
  }

  // Starts a peer.mjs with `key` and `extra` flags and waits for its
  // "listening" line.
  JsPeer* StartJs(const char* key, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {
        "node", Runfile("tests/interop/peer.mjs"), "--key", key, "--timeout", kJsLifetimeSeconds};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto js = std::make_unique<JsPeer>();
    js->proc = std::make_unique<Child>(argv, /*search_path=*/true);
    js->pubkey = DerivePublicKey(*PrivateKey::FromHex(key));
    js->pubkey_hex = HexEncode(js->pubkey.bytes());
    js->node_id = NodeId::FromPublicKey(js->pubkey).ToString();
    js_.push_back(std::move(js));
    JsPeer* p = js_.back().get();
    EXPECT_TRUE(p->proc->spawned()) << p->proc->error() << " (is Node.js on PATH?)";
    if (!p->proc->spawned()) return nullptr;
    const std::string listening = p->proc->WaitForLine("\"event\":\"listening\"", kStartTimeout);
    EXPECT_FALSE(listening.empty()) << "peer.mjs did not start:\n" << p->proc->Output();
    if (listening.empty()) return nullptr;
    p->enode = Field(listening, "enode");
    EXPECT_TRUE(absl::StartsWith(p->enode, absl::StrCat("enode://", p->pubkey_hex, "@127.0.0.1:")))
        << listening;
    return p;
  }

  HttpReply Admin(absl::string_view method, absl::string_view path, absl::string_view body = "") {
    return HttpCall(admin_port_, method, path, body);
  }

  // GET `path`, polled until `done(body)` holds or kEventTimeout passes;
  // returns the last body.
  std::string PollAdmin(absl::string_view path,
                        const std::function<bool(const std::string&)>& done) {
    Deadline d(kEventTimeout);
    std::string last;
    for (;;) {
      HttpReply r = Admin("GET", path);
      EXPECT_EQ(r.status, 200) << path << ": " << r.error << r.body;
      if (r.status != 200) return last;
      last = r.body;
      if (done(last) || d.expired()) return last;
      // Drain p2pnode's stdout meanwhile (it prints nothing more, but EOF
      // would reveal a crash) and pace the polling.
      node_->WaitUntil([] { return false; }, absl::Milliseconds(20));
    }
  }

  // The /peers entry for `js` once it appears ("" after kEventTimeout).
  std::string WaitForPeer(const JsPeer& js) {
    return PeerEntry(
        PollAdmin("/peers",
                  [&](const std::string& b) { return !PeerEntry(b, js.node_id).empty(); }),
        js.node_id);
  }

  // POST /peers/static with `js`'s enode; p2pnode dials it.
  void AddStatic(const JsPeer& js) {
    HttpReply r = Admin("POST", "/peers/static", js.enode);
    ASSERT_EQ(r.status, 200) << r.error << r.body;
    EXPECT_EQ(r.body, absl::StrCat("{\"added\":\"", js.enode, "\"}\n"));
  }

  std::string NodeLog() const {
    std::ifstream f(dir_ + "/p2pnode.log");
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }

  std::string dir_;
  std::unique_ptr<Child> node_;
  std::string enode_;
  Node self_;
  uint16_t admin_port_ = 0;
  std::vector<std::unique_ptr<JsPeer>> js_;
};

// peer.mjs's report of the peer p2pnode: our identity, client name and
// capabilities as the JS library decoded them from our Hello.
void ExpectJsSawUs(const std::string& added, const Node& self, const std::string& name,
                   bool js_inbound) {
  ASSERT_FALSE(added.empty());
  EXPECT_EQ(Field(added, "id"), HexEncode(self.pubkey.bytes()));
  EXPECT_EQ(Field(added, "name"), name);
  EXPECT_EQ(Field(added, "caps"), "[\"tst/1\"]");
  EXPECT_EQ(Field(added, "inbound"), js_inbound ? "true" : "false");
  EXPECT_EQ(Field(added, "protocol_version"), "5");
  EXPECT_EQ(Field(added, "listen_port"), absl::StrCat(self.tcp));
  EXPECT_EQ(Field(added, "shared"), "[{\"cap\":\"tst/1\",\"offset\":16,\"length\":4}]");
  // The library only speaks EIP-8; what it received from us was EIP-8 too.
  EXPECT_EQ(Field(added, js_inbound ? "eip8_auth" : "eip8_ack"), "true");
}

TEST_F(ServerInteropTest, EthereumJsDialsP2pNode) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--nodial", "--caps", "tst/1:4"}));
  JsPeer* js = StartJs(kJsKey, {"--dial", enode_, "--cap", "tst/1/4"});
  ASSERT_NE(js, nullptr);

  const std::string added = js->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout);
  ASSERT_FALSE(added.empty()) << js->proc->Output();
  ExpectJsSawUs(added, self_, "p2pnode", /*js_inbound=*/false);
  EXPECT_EQ(Field(added, "address"), absl::StrCat("127.0.0.1:", self_.tcp));

  const std::string peer = WaitForPeer(*js);
  ASSERT_FALSE(peer.empty()) << "p2pnode never listed the JS peer";
  EXPECT_EQ(Field(peer, "name"), kJsClientId);
  EXPECT_EQ(Field(peer, "caps"), "[\"tst/1\"]");
  EXPECT_EQ(Field(peer, "inbound"), "true");
  EXPECT_EQ(Field(peer, "static"), "false");
  EXPECT_EQ(Field(peer, "trusted"), "false");
  const std::string remote = Field(peer, "remote");
  EXPECT_TRUE(absl::StartsWith(remote, "127.0.0.1:")) << remote;
  // The inbound node is the key from the handshake at the remote address.
  EXPECT_TRUE(
      absl::StartsWith(Field(peer, "enode"), absl::StrCat("enode://", js->pubkey_hex, "@", remote)))
      << peer;

  HttpReply info = Admin("GET", "/nodeinfo");
  ASSERT_EQ(info.status, 200) << info.error;
  EXPECT_EQ(Field(info.body, "enode"), enode_);
  EXPECT_EQ(Field(info.body, "id"), self_.id.ToString());
  EXPECT_EQ(Field(info.body, "caps"), "[\"tst/1\"]");

  HttpReply metrics = Admin("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(Metric(metrics.body, "p2p_peers{direction=\"inbound\"}"), 1) << metrics.body;
  EXPECT_EQ(Metric(metrics.body, "p2p_peers{direction=\"outbound\"}"), 0);
  EXPECT_EQ(Metric(metrics.body, "p2p_inbound_accepted_total"), 1);
  EXPECT_EQ(Metric(metrics.body, "p2p_peers_added_total"), 1);
  EXPECT_EQ(Samples(metrics.body, "p2p_handshake_failures_total"), std::vector<std::string>{});
  // --nodial: p2pnode never dialed.
  EXPECT_EQ(Metric(metrics.body, "p2p_dials_total{outcome=\"success\"}"), 0);
  EXPECT_EQ(Metric(metrics.body, "p2p_dials_total{outcome=\"failure\"}"), 0);
}

TEST_F(ServerInteropTest, P2pNodeDialsEthereumJs) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--caps", "tst/1:4", "--identity", "p2pnode-interop/v1"}));
  JsPeer* js = StartJs(kJsKey, {});
  ASSERT_NE(js, nullptr);
  ASSERT_NO_FATAL_FAILURE(AddStatic(*js));

  const std::string peer = WaitForPeer(*js);
  ASSERT_FALSE(peer.empty()) << "p2pnode never listed the JS peer";
  EXPECT_EQ(Field(peer, "enode"), js->enode);
  EXPECT_EQ(Field(peer, "name"), kJsClientId);
  EXPECT_EQ(Field(peer, "caps"), "[\"tst/1\"]");
  EXPECT_EQ(Field(peer, "inbound"), "false");
  EXPECT_EQ(Field(peer, "static"), "true");
  EXPECT_EQ(Field(peer, "trusted"), "false");
  EXPECT_EQ(Field(peer, "remote"), js->enode.substr(js->enode.find('@') + 1));

  const std::string added = js->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout);
  ASSERT_FALSE(added.empty()) << js->proc->Output();
  ExpectJsSawUs(added, self_, "p2pnode-interop/v1", /*js_inbound=*/true);

  // The dialer counts the result when its completion callback runs.
  const std::string metrics = PollAdmin("/metrics", [](const std::string& b) {
    return Metric(b, "p2p_dials_total{outcome=\"success\"}") > 0;
  });
  EXPECT_EQ(Metric(metrics, "p2p_dials_total{outcome=\"success\"}"), 1) << metrics;
  EXPECT_EQ(Metric(metrics, "p2p_dials_total{outcome=\"failure\"}"), 0);
  EXPECT_EQ(Metric(metrics, "p2p_peers{direction=\"outbound\"}"), 1);
  EXPECT_EQ(Metric(metrics, "p2p_inbound_accepted_total"), 0);
}

TEST_F(ServerInteropTest, RemovingStaticPeerDisconnectsWithDiscRequested) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--caps", "tst/1:4"}));
  JsPeer* js = StartJs(kJsKey, {});
  ASSERT_NE(js, nullptr);
  ASSERT_NO_FATAL_FAILURE(AddStatic(*js));
  ASSERT_FALSE(WaitForPeer(*js).empty());
  ASSERT_FALSE(js->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout).empty());

  HttpReply r = Admin("DELETE", absl::StrCat("/peers/static/", js->node_id));
  ASSERT_EQ(r.status, 200) << r.error << r.body;
  EXPECT_EQ(r.body, absl::StrCat("{\"removed\":\"", js->node_id, "\"}\n"));

  const std::string removed = js->proc->WaitForLine("\"event\":\"peer_removed\"", kEventTimeout);
  ASSERT_FALSE(removed.empty()) << js->proc->Output();
  EXPECT_EQ(Field(removed, "id"), HexEncode(self_.pubkey.bytes()));
  EXPECT_EQ(Field(removed, "reason"), "0");
  EXPECT_EQ(Field(removed, "reason_text"), "DISCONNECT_REQUESTED");
  EXPECT_EQ(Field(removed, "remote"), "true");

  EXPECT_EQ(PollAdmin("/peers", [](const std::string& b) { return b == "[]\n"; }), "[]\n");
  HttpReply metrics = Admin("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(Samples(metrics.body, "p2p_peers_dropped_total"),
            std::vector<std::string>{"p2p_peers_dropped_total{reason=\"disconnect requested\"} 1"});
  // The node is no longer static: a second DELETE finds nothing.
  HttpReply again = Admin("DELETE", absl::StrCat("/peers/static/", js->node_id));
  EXPECT_EQ(again.status, 404) << again.error;
  EXPECT_EQ(again.body, absl::StrCat("{\"error\":\"no static node ", js->node_id, "\"}\n"));
}

TEST_F(ServerInteropTest, SigtermDisconnectsPeersWithDiscQuittingAndExitsZero) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--caps", "tst/1:4"}));
  // One peer in each direction.
  JsPeer* in = StartJs(kJsKey, {"--dial", enode_});
  ASSERT_NE(in, nullptr);
  JsPeer* out = StartJs(kJsKey2, {});
  ASSERT_NE(out, nullptr);
  ASSERT_NO_FATAL_FAILURE(AddStatic(*out));
  EXPECT_FALSE(WaitForPeer(*in).empty());
  EXPECT_FALSE(WaitForPeer(*out).empty());
  ASSERT_FALSE(in->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout).empty());
  ASSERT_FALSE(out->proc->WaitForLine("\"event\":\"peer_added\"", kEventTimeout).empty());

  ASSERT_TRUE(node_->Signal(SIGTERM));
  for (JsPeer* js : {in, out}) {
    const std::string removed = js->proc->WaitForLine("\"event\":\"peer_removed\"", kEventTimeout);
    ASSERT_FALSE(removed.empty()) << js->proc->Output();
    EXPECT_EQ(Field(removed, "id"), HexEncode(self_.pubkey.bytes()));
    EXPECT_EQ(Field(removed, "reason"), "8");
    EXPECT_EQ(Field(removed, "reason_text"), "CLIENT_QUITTING");
    EXPECT_EQ(Field(removed, "remote"), "true");
  }
  const std::optional<int> status = node_->WaitExit(kEventTimeout);
  ASSERT_TRUE(status.has_value()) << "p2pnode did not exit after SIGTERM";
  ASSERT_TRUE(WIFEXITED(*status)) << "wait status " << *status;
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  // Logs go to stderr only; stdout kept its two lines.
  EXPECT_EQ(node_->lines().size(), 2u) << node_->Output();
  const std::string log = NodeLog();
  EXPECT_TRUE(absl::StrContains(log, " INFO shutting down: 2 peers\n")) << log;
  EXPECT_TRUE(absl::StrContains(log, " INFO stopped\n")) << log;
}

// With no shared capability the connection never becomes a peer. The JS
// library disconnects with USELESS_PEER when it reads our Hello, and
// p2pnode's addpeer checkpoint does the same; whichever p2pnode sees first
// decides the stage in the label (a Disconnect from the JS side arriving in
// the same read as its Hello fails the "protocol" stage), the reason is the
// same. peer.mjs reports no Disconnect for connections that were never
// added, only the closed socket.
bool IsUselessPeerSetupFailure(const std::vector<std::string>& samples) {
  return samples ==
             std::vector<std::string>{
                 "p2p_handshake_failures_total{reason=\"addpeer: useless peer\"} 1"} ||
         samples == std::vector<std::string>{
                        "p2p_handshake_failures_total{reason=\"protocol: useless peer\"} 1"};
}

TEST_F(ServerInteropTest, NoSharedCapabilityWhenEthereumJsDials) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--nodial", "--caps", "zzz/1"}));
  JsPeer* js = StartJs(kJsKey, {"--dial", enode_, "--exit-after-close"});
  ASSERT_NE(js, nullptr);

  const std::string closed = js->proc->WaitForLine("\"event\":\"socket_closed\"", kEventTimeout);
  ASSERT_FALSE(closed.empty()) << js->proc->Output();
  EXPECT_EQ(Field(closed, "inbound"), "false");
  EXPECT_EQ(Field(closed, "peer_added"), "false");
  EXPECT_EQ(js->proc->Count("\"event\":\"peer_added\""), 0) << js->proc->Output();

  const std::string metrics = PollAdmin("/metrics", [](const std::string& b) {
    return !Samples(b, "p2p_handshake_failures_total").empty();
  });
  EXPECT_TRUE(IsUselessPeerSetupFailure(Samples(metrics, "p2p_handshake_failures_total")))
      << metrics;
  EXPECT_EQ(Metric(metrics, "p2p_inbound_accepted_total"), 1);
  EXPECT_EQ(Metric(metrics, "p2p_peers_added_total"), 0);
  HttpReply peers = Admin("GET", "/peers");
  EXPECT_EQ(peers.body, "[]\n");

  const std::optional<int> status = js->proc->WaitExit(kEventTimeout);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_EQ(Field(js->proc->Find("\"event\":\"exit\""), "why"), "closed");
}

TEST_F(ServerInteropTest, NoSharedCapabilityWhenP2pNodeDials) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--caps", "zzz/1"}));
  JsPeer* js = StartJs(kJsKey, {"--exit-after-close"});
  ASSERT_NE(js, nullptr);
  ASSERT_NO_FATAL_FAILURE(AddStatic(*js));

  const std::string closed = js->proc->WaitForLine("\"event\":\"socket_closed\"", kEventTimeout);
  ASSERT_FALSE(closed.empty()) << js->proc->Output();
  EXPECT_EQ(Field(closed, "inbound"), "true");
  EXPECT_EQ(Field(closed, "peer_added"), "false");
  EXPECT_EQ(js->proc->Count("\"event\":\"peer_added\""), 0) << js->proc->Output();

  const std::string metrics = PollAdmin("/metrics", [](const std::string& b) {
    return Metric(b, "p2p_dials_total{outcome=\"failure\"}") > 0 &&
           !Samples(b, "p2p_handshake_failures_total").empty();
  });
  EXPECT_EQ(Samples(metrics, "p2p_dial_failures_total"),
            std::vector<std::string>{"p2p_dial_failures_total{reason=\"useless peer\"} 1"})
      << metrics;
  EXPECT_EQ(Metric(metrics, "p2p_dials_total{outcome=\"failure\"}"), 1);
  EXPECT_EQ(Metric(metrics, "p2p_dials_total{outcome=\"success\"}"), 0);
  EXPECT_TRUE(IsUselessPeerSetupFailure(Samples(metrics, "p2p_handshake_failures_total")))
      << metrics;
  EXPECT_EQ(Metric(metrics, "p2p_peers_added_total"), 0);
  HttpReply peers = Admin("GET", "/peers");
  EXPECT_EQ(peers.body, "[]\n");
}

// go-ethereum names an inbound peer by the remote TCP address with the UDP
// port equal to the TCP port (server.go nodeFromConn: enode.NewV4(pubkey,
// ip, port, port)), so admin_peers shows "enode://ID@IP:PORT"; so do we.
TEST_F(ServerInteropTest, InboundPeerEnodeIsRemoteAddressLikeGeth) {
  ASSERT_NO_FATAL_FAILURE(StartNode({"--nodial", "--caps", "tst/1:4"}));
  JsPeer* js = StartJs(kJsKey, {"--dial", enode_});
  ASSERT_NE(js, nullptr);
  const std::string peer = WaitForPeer(*js);
  ASSERT_FALSE(peer.empty());
  EXPECT_EQ(Field(peer, "enode"),
            absl::StrCat("enode://", js->pubkey_hex, "@", Field(peer, "remote")));
}

}  // namespace
}  // namespace p2p
