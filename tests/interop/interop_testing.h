// Helpers shared by the interop tests (interop_test, server_interop_test,
// discv4_interop_test): they run our binaries and the Node.js peers in
// tests/interop as child processes on 127.0.0.1, read the JSON lines those
// print, and speak to p2pnode's admin HTTP endpoint. Test-only.
//
// Contract:
//  - Every wait is bounded by the caller's timeout, measured on the
//    monotonic clock (Deadline); nothing here sleeps longer than asked.
//  - Nothing here is thread-safe. A ChildProcess collects its stdout only
//    while its owner calls Pump/WaitUntil/WaitForLine/WaitExit, on the
//    owner's thread; between calls the pipe buffers the child's output
//    (64 KiB by default, far above what the peers print between polls).
//  - A ChildProcess is killed (SIGKILL) and reaped by Kill() or its
//    destructor, so a failing test leaves no process behind. Its stdout
//    lines are kept whole for failure messages (Output()).
//  - ParseJson accepts exactly one JSON value (RFC 8259) with surrounding
//    whitespace; numbers are doubles, which is exact for everything the
//    peers print (ports, codes, counts, seconds).
//  - StartP2pNode and INTEROP_SKIP_WITHOUT_JS_PACKAGES are specific to this
//    directory's tests: the p2pnode binary and node_modules must be in the
//    test's data.
//  - HttpRequest opens one loopback connection per call and closes it
//    ("Connection: close"); errors come back in HttpReply::error, never as
//    a crash or an exception.
#ifndef P2P_TESTS_INTEROP_INTEROP_TESTING_H_
#define P2P_TESTS_INTEROP_INTEROP_TESTING_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/node.h"

namespace p2p::interop {

// The absolute path of `path` (relative to the workspace root, e.g.
// "tests/interop/peer.mjs") in the test's runfiles ($TEST_SRCDIR and
// $TEST_WORKSPACE, which bazel test sets; the process aborts with a message
// when they are not set).
std::string Runfile(absl::string_view path);

// The test's private scratch directory ($TEST_TMPDIR, which bazel test
// sets; aborts like Runfile without it).
std::string TestTmpDir();

// Whether ./dev setup installed the npm packages the JS peers import
// (tests/interop/node_modules). Tests skip, visibly, when it did not:
// INTEROP_SKIP_WITHOUT_JS_PACKAGES() at the start of a test body or SetUp
// (gtest must be included where it is used).
bool JsPackagesInstalled();
#define INTEROP_SKIP_WITHOUT_JS_PACKAGES()                                     \
  do {                                                                         \
    if (!::p2p::interop::JsPackagesInstalled()) {                              \
      GTEST_SKIP() << "@ethereumjs/devp2p is not installed (run ./dev setup)"; \
    }                                                                          \
  } while (0)

// A point on the monotonic clock after which waiting stops.
class Deadline {
 public:
  explicit Deadline(absl::Duration timeout);
  bool expired() const;
  // Time left; zero once expired.
  absl::Duration remaining() const;

 private:
  std::chrono::steady_clock::time_point end_;
};

// A child process whose stdout is collected line by line while its owner
// waits on it. stdin is /dev/null; stderr goes to a file when one is given,
// else to the test log. Its pipe is close-on-exec, so later children do
// not inherit it (an inherited write end would hide this child's EOF).
class ChildProcess {
 public:
  // Starts argv[0] with arguments argv (argv[0] is looked up on PATH unless
  // it contains a '/'). With a non-empty `stderr_path` the child's stderr
  // goes to that file, created or truncated. Errors: pipe2() or
  // posix_spawnp() failed, mapped from errno (kNotFound when argv[0] does
  // not exist), with argv[0] in the message.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Spawn(std::vector<std::string> argv,
                                                             const std::string& stderr_path = "");
  // Kills and reaps the child, if still running.
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits up to `wait` for stdout to become readable (zero: does not
  // wait), then collects everything available into lines(). A last line
  // without '\n' is added once stdout reaches EOF.
  void Pump(absl::Duration wait);

  // Collects stdout until `done()` holds (true), or until `timeout` passes
  // or stdout reaches EOF (false; `done()` is checked once more after EOF).
  bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout);
  // The first stdout line containing `needle`, waiting for it up to
  // `timeout`; "" if none came.
  std::string WaitForLine(absl::string_view needle, absl::Duration timeout);

  // The first line collected so far that contains `needle`, or "".
  std::string Find(absl::string_view needle) const;
  // How many lines collected so far contain `needle`.
  int Count(absl::string_view needle) const;
  // Complete stdout lines so far, without their '\n'.
  const std::vector<std::string>& lines() const { return lines_; }
  // lines() joined by '\n', for failure messages.
  std::string Output() const;
  bool eof() const { return eof_; }

  // Sends `sig`; false if the child was already reaped or kill() failed.
  bool Signal(int sig);
  // The child's wait status once it exited, or nullopt if it is still
  // running after `timeout`. Keeps collecting stdout meanwhile, so the
  // child never blocks on a full pipe.
  std::optional<int> WaitExit(absl::Duration timeout);
  // SIGKILLs and reaps the child; no-op once reaped. Lines collected so far
  // stay readable.
  void Kill();

 private:
  ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), fd_(stdout_fd) {}

  pid_t pid_;
  int fd_;  // Read end of the stdout pipe, non-blocking.
  bool eof_ = false;
  bool reaped_ = false;
  int status_ = 0;
  std::string partial_;  // Bytes after the last '\n'.
  std::vector<std::string> lines_;
};

// A running p2pnode (transport/p2pnode) that has printed its two start-up
// lines on stdout: its enode URL, then "admin http://127.0.0.1:PORT".
struct P2pNode {
  std::unique_ptr<ChildProcess> proc;
  std::string enode;  // The first line, as printed.
  Node self;          // `enode`, parsed.
  uint16_t admin_port = 0;
};

// Starts the p2pnode binary from the runfiles with `flags` (which should
// include "--admin 127.0.0.1:0"), its stderr to `log_path`, and waits up
// to `timeout` for its two start-up lines. Errors: the spawn failed
// (ChildProcess::Spawn), kDeadlineExceeded when the lines did not come in
// time (the message quotes stdout so far), kInvalidArgument when the first
// is not an enode URL or the second not a loopback admin address with a
// port in 1..65535. The process is killed on error.
absl::StatusOr<P2pNode> StartP2pNode(const std::vector<std::string>& flags,
                                     const std::string& log_path, absl::Duration timeout);

// A parsed JSON value.
struct Json {
  enum Type { kNull, kBool, kNumber, kString, kArray, kObject };
  Type type = kNull;
  bool boolean = false;
  double number = 0;
  std::string str;                                    // kString, unescaped.
  std::vector<Json> items;                            // kArray.
  std::vector<std::pair<std::string, Json>> members;  // kObject, in order.
  std::string text;  // The value's exact source text (compact if the input was).

  // The first member `key` of an object; a null value when absent or when
  // this is not an object.
  const Json& operator[](absl::string_view key) const;
  bool is_null() const { return type == kNull; }
  // The number truncated toward zero.
  int64_t Int() const { return static_cast<int64_t>(number); }
};

// Parses `s`, which must hold exactly one JSON value. kInvalidArgument
// naming the byte offset otherwise.
absl::StatusOr<Json> ParseJson(absl::string_view s);

// A top-level member of the JSON object `object_text`: a string's contents,
// or the exact source text of any other value ("true", "5", "[\"a\"]").
// "" when the member is absent or the text is not a JSON object.
std::string JsonField(absl::string_view object_text, absl::string_view key);

struct HttpReply {
  int status = 0;  // 0: no complete reply; see `error`.
  std::string body;
  std::string error;
};

// One HTTP/1.1 request to 127.0.0.1:`port` on a fresh connection
// ("Connection: close", with Content-Length for `body`), read to EOF. The
// whole exchange, connect included, is bounded by `timeout`. A reply whose
// body does not match its Content-Length counts as no reply.
HttpReply HttpRequest(uint16_t port, absl::string_view method, absl::string_view path,
                      absl::string_view body, absl::Duration timeout);

}  // namespace p2p::interop

#endif  // P2P_TESTS_INTEROP_INTEROP_TESTING_H_
