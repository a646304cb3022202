#include "transport/dns_resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/net/ip.h"
#include "gtest/gtest.h"
#include "transport/epoll_loop.h"
#include "transport/errno_status.h"

namespace p2p::transport {
namespace {

using LookupResult = absl::StatusOr<std::vector<IpAddress>>;

// Bounds every wait; tests normally finish in milliseconds.
constexpr absl::Duration kWallLimit = absl::Seconds(10);
constexpr absl::Duration kLongTimeout = absl::Seconds(30);

IpAddress Ip(absl::string_view text) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  EXPECT_TRUE(ip.ok()) << ip.status();
  return ip.ok() ? *ip : IpAddress();
}

// A scripted getaddrinfo, called on the resolver's worker threads. Hosts are
// answered with a numeric getaddrinfo of their configured address (so the
// list can be released with freeaddrinfo), or with a configured error code.
// Blocked hosts wait inside the call until Release().
class FakeLookup {
 public:
  AddrInfoLookup Fn() {
    return [this](const char* host, addrinfo** result) { return Lookup(host, result); };
  }

  void SetAddress(const std::string& host, const std::string& literal, int socktype) {
    absl::MutexLock lock(&mu_);
    answers_[host] = Answer{literal, socktype, 0, 0};
  }
  void SetError(const std::string& host, int rc, int err = 0) {
    absl::MutexLock lock(&mu_);
    answers_[host] = Answer{"", SOCK_STREAM, rc, err};
  }
  void Block(const std::string& host) {
    absl::MutexLock lock(&mu_);
    blocked_.insert(host);
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

  // Waits (bounded) until `n` calls have started; false on time-out.
  bool AwaitEntered(size_t n) {
    absl::MutexLock lock(&mu_);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return calls_.size() >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), kWallLimit);
  }
  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  int returned() {
    absl::MutexLock lock(&mu_);
    return returned_;
  }
  int last_list_length() {
    absl::MutexLock lock(&mu_);
    return last_list_length_;
  }

 private:
  struct Answer {
    std::string literal;
    int socktype;
    int rc;
    int err;
  };

  int Lookup(const char* host, addrinfo** result) {
    Answer answer{"192.0.2.1", SOCK_STREAM, 0, 0};
    {
      absl::MutexLock lock(&mu_);
      calls_.push_back(host);
      if (blocked_.count(host) != 0) {
        // Bounded so that a failing test cannot hang the resolver's join.
        mu_.AwaitWithTimeout(absl::Condition(&released_), kWallLimit);
      }
      auto it = answers_.find(host);
      if (it != answers_.end()) answer = it->second;
    }
    int rc = answer.rc;
    if (rc == 0) {
      addrinfo hints{};
      hints.ai_flags = AI_NUMERICHOST;
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = answer.socktype;
      rc = getaddrinfo(answer.literal.c_str(), nullptr, &hints, result);
      int n = 0;
      if (rc == 0) {
        for (addrinfo* ai = *result; ai != nullptr; ai = ai->ai_next) ++n;
      }
      absl::MutexLock lock(&mu_);
      last_list_length_ = n;
    }
    {
      absl::MutexLock lock(&mu_);
      ++returned_;
    }
    errno = answer.err;  // After unlocking, which may touch errno.
    return rc;
  }

  absl::Mutex mu_;
  std::map<std::string, Answer> answers_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> blocked_ ABSL_GUARDED_BY(mu_);
  bool released_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  int returned_ ABSL_GUARDED_BY(mu_) = 0;
  int last_list_length_ ABSL_GUARDED_BY(mu_) = 0;
};

// Collects one lookup's outcome.
struct Outcome {
  int calls = 0;
  std::optional<LookupResult> result;
  MonoTime at;
};

class DnsResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<EpollLoop>> loop = EpollLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
  }

  ThreadDnsResolverOptions FakeOptions(int threads, size_t max_queued = kDefaultMaxQueuedLookups) {
    ThreadDnsResolverOptions o;
    o.worker_threads = threads;
    o.max_queued_lookups = max_queued;
    o.lookup = fake_.Fn();
    return o;
  }

  void Lookup(ThreadDnsResolver& r, const std::string& host, absl::Duration timeout, Outcome* out) {
    r.LookupHost(host, timeout, [this, out](LookupResult res) {
      ++out->calls;
      out->result = std::move(res);
      out->at = loop_->Now();
    });
  }

  bool RunUntilDone(const Outcome& o) {
    return loop_->RunUntil([&] { return o.calls > 0; }, kWallLimit);
  }

  // Declared first: destroyed after the resolvers the tests create, which
  // may still be joining a worker inside the fake.
  FakeLookup fake_;
  std::unique_ptr<EpollLoop> loop_;
};

TEST(AddressesFromAddrInfoTest, KeepsInetFamiliesInOrderWithoutDuplicates) {
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_addr = in6addr_loopback;
  sockaddr_in v4a{};
  v4a.sin_family = AF_INET;
  v4a.sin_addr.s_addr = htonl(0x0a000001);  // 10.0.0.1
  sockaddr_in v4b{};
  v4b.sin_family = AF_INET;
  v4b.sin_addr.s_addr = htonl(0x0a000002);  // 10.0.0.2
  sockaddr_un unix_addr{};
  unix_addr.sun_family = AF_UNIX;

  addrinfo e[6] = {};
  auto set = [](addrinfo& ai, int family, void* sa, size_t len) {
    ai.ai_family = family;
    ai.ai_addr = static_cast<sockaddr*>(sa);
    ai.ai_addrlen = static_cast<socklen_t>(len);
  };
  set(e[0], AF_INET6, &v6, sizeof(v6));
  set(e[1], AF_INET, &v4a, sizeof(v4a));
  set(e[2], AF_INET6, &v6, sizeof(v6));
  set(e[3], AF_UNIX, &unix_addr, sizeof(unix_addr));
  set(e[4], AF_INET, &v4b, sizeof(v4b));
  set(e[5], AF_INET, &v4a, sizeof(v4a));
  for (int i = 0; i < 5; ++i) e[i].ai_next = &e[i + 1];

  EXPECT_EQ(AddressesFromAddrInfo(e),
            (std::vector<IpAddress>{Ip("::1"), Ip("10.0.0.1"), Ip("10.0.0.2")}));
  EXPECT_TRUE(AddressesFromAddrInfo(nullptr).empty());
}

TEST_F(DnsResolverTest, ResolvesLocalhostToLoopback) {
  ThreadDnsResolver r(loop_.get());
  Outcome o;
  Lookup(r, "localhost", kLongTimeout, &o);
  ASSERT_TRUE(RunUntilDone(o));
  ASSERT_TRUE(o.result->ok()) << o.result->status();
  ASSERT_FALSE((*o.result)->empty());
  std::set<IpAddress> distinct;
  for (const IpAddress& ip : **o.result) {
    EXPECT_TRUE(ip == Ip("127.0.0.1") || ip == Ip("::1")) << ip.ToString();
    EXPECT_TRUE(distinct.insert(ip).second) << "duplicate " << ip.ToString();
  }
}

TEST_F(DnsResolverTest, ResolvesLiteralsToThemselves) {
  ThreadDnsResolver r(loop_.get());
  Outcome v4, v6;
  Lookup(r, "127.0.0.1", kLongTimeout, &v4);
  Lookup(r, "::1", kLongTimeout, &v6);
  ASSERT_TRUE(loop_->RunUntil([&] { return v4.calls > 0 && v6.calls > 0; }, kWallLimit));
  ASSERT_TRUE(v4.result->ok()) << v4.result->status();
  EXPECT_EQ(**v4.result, std::vector<IpAddress>{Ip("127.0.0.1")});
  ASSERT_TRUE(v6.result->ok()) << v6.result->status();
  EXPECT_EQ(**v6.result, std::vector<IpAddress>{Ip("::1")});
}

TEST_F(DnsResolverTest, LiteralsDoNotUseTheLookupFunction) {
  fake_.SetError("127.0.0.1", EAI_FAIL);
  ThreadDnsResolver r(loop_.get(), FakeOptions(1));
  Outcome o;
  Lookup(r, "127.0.0.1", kLongTimeout, &o);
  ASSERT_TRUE(RunUntilDone(o));
  ASSERT_TRUE(o.result->ok()) << o.result->status();
  EXPECT_EQ(**o.result, std::vector<IpAddress>{Ip("127.0.0.1")});
  EXPECT_TRUE(fake_.calls().empty());
}

// RFC 6761: .invalid names never resolve. Depending on the machine's
// resolver (offline, no name server) that is "no such host" or a failure.
TEST_F(DnsResolverTest, InvalidTldFails) {
  ThreadDnsResolver r(loop_.get());
  Outcome o;
  Lookup(r, "nonexistent.invalid", kLongTimeout, &o);
  ASSERT_TRUE(loop_->RunUntil([&] { return o.calls > 0; }, kLongTimeout + absl::Seconds(5)));
  ASSERT_FALSE(o.result->ok());
  const absl::Status& s = o.result->status();
  EXPECT_TRUE(s.code() == absl::StatusCode::kNotFound || s.code() == absl::StatusCode::kUnavailable)
      << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "lookup nonexistent.invalid: ")) << s;
  if (s.code() == absl::StatusCode::kNotFound) {
    EXPECT_EQ(s.message(), "lookup nonexistent.invalid: no such host");
  }
}

TEST_F(DnsResolverTest, MapsLookupErrors) {
  fake_.SetError("noname.test", EAI_NONAME);
  fake_.SetError("again.test", EAI_AGAIN);
  fake_.SetError("system.test", EAI_SYSTEM, ECONNREFUSED);
#ifdef EAI_NODATA
  fake_.SetError("nodata.test", EAI_NODATA);
#endif
  ThreadDnsResolver r(loop_.get(), FakeOptions(2));
  Outcome noname, again, system, nodata;
  Lookup(r, "noname.test", kLongTimeout, &noname);
  Lookup(r, "again.test", kLongTimeout, &again);
  Lookup(r, "system.test", kLongTimeout, &system);
#ifdef EAI_NODATA
  Lookup(r, "nodata.test", kLongTimeout, &nodata);
#else
  nodata.calls = 1;
  nodata.result = absl::NotFoundError("lookup nodata.test: no such host");
#endif
  ASSERT_TRUE(loop_->RunUntil(
      [&] { return noname.calls > 0 && again.calls > 0 && system.calls > 0 && nodata.calls > 0; },
      kWallLimit));
  EXPECT_EQ(noname.result->status(), absl::NotFoundError("lookup noname.test: no such host"));
  EXPECT_EQ(nodata.result->status(), absl::NotFoundError("lookup nodata.test: no such host"));
  EXPECT_EQ(again.result->status(),
            absl::UnavailableError(std::string("lookup again.test: ") + gai_strerror(EAI_AGAIN)));
  EXPECT_EQ(system.result->status(),
            absl::UnavailableError(std::string("lookup system.test: ") + gai_strerror(EAI_SYSTEM) +
                                   ": " + ErrnoText(ECONNREFUSED)));
}

TEST_F(DnsResolverTest, DeduplicatesAddresses) {
  // Socket type 0: getaddrinfo lists the address once per socket type.
  fake_.SetAddress("multi.test", "10.1.2.3", 0);
  fake_.SetAddress("v6.test", "2001:db8::7", SOCK_STREAM);
  ThreadDnsResolver r(loop_.get(), FakeOptions(1));
  Outcome multi;
  Lookup(r, "multi.test", kLongTimeout, &multi);
  ASSERT_TRUE(RunUntilDone(multi));
  EXPECT_GT(fake_.last_list_length(), 1);  // The duplicates really were there.
  ASSERT_TRUE(multi.result->ok()) << multi.result->status();
  EXPECT_EQ(**multi.result, std::vector<IpAddress>{Ip("10.1.2.3")});

  Outcome v6;
  Lookup(r, "v6.test", kLongTimeout, &v6);
  ASSERT_TRUE(RunUntilDone(v6));
  ASSERT_TRUE(v6.result->ok()) << v6.result->status();
  EXPECT_EQ(**v6.result, std::vector<IpAddress>{Ip("2001:db8::7")});
}

TEST_F(DnsResolverTest, TimesOutAndDropsTheLateResult) {
  fake_.Block("slow.test");
  ThreadDnsResolver r(loop_.get(), FakeOptions(1));
  const absl::Duration timeout = absl::Milliseconds(100);
  const MonoTime start = loop_->Now();
  Outcome slow;
  Lookup(r, "slow.test", timeout, &slow);
  ASSERT_TRUE(RunUntilDone(slow));
  EXPECT_EQ(slow.result->status(), absl::DeadlineExceededError("lookup slow.test: timeout"));
  EXPECT_GE(slow.at - start, timeout);
  EXPECT_LT(slow.at - start, timeout + absl::Seconds(2));

  // The worker now returns and posts the late result; the next lookup runs
  // on the same worker afterwards, and posts from one thread run in order,
  // so by the time it completes the late result has been delivered (to
  // nobody).
  fake_.Release();
  Outcome after;
  Lookup(r, "after.test", kLongTimeout, &after);
  ASSERT_TRUE(RunUntilDone(after));
  ASSERT_TRUE(after.result->ok()) << after.result->status();
  EXPECT_EQ(fake_.calls(), (std::vector<std::string>{"slow.test", "after.test"}));
  EXPECT_EQ(slow.calls, 1);
  EXPECT_EQ(slow.result->status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(DnsResolverTest, QueuedLookupThatTimesOutNeverRuns) {
  fake_.Block("busy.test");
  ThreadDnsResolver r(loop_.get(), FakeOptions(1, 1));
  Outcome busy, queued;
  Lookup(r, "busy.test", kLongTimeout, &busy);
  ASSERT_TRUE(fake_.AwaitEntered(1));
  Lookup(r, "queued.test", absl::Milliseconds(50), &queued);
  ASSERT_TRUE(RunUntilDone(queued));
  EXPECT_EQ(queued.result->status(), absl::DeadlineExceededError("lookup queued.test: timeout"));

  // Its queue slot is free again (the bound is 1).
  Outcome next;
  Lookup(r, "next.test", kLongTimeout, &next);
  fake_.Release();
  ASSERT_TRUE(loop_->RunUntil([&] { return busy.calls > 0 && next.calls > 0; }, kWallLimit));
  EXPECT_TRUE(busy.result->ok()) << busy.result->status();
  EXPECT_TRUE(next.result->ok()) << next.result->status();
  EXPECT_EQ(fake_.calls(), (std::vector<std::string>{"busy.test", "next.test"}));
  EXPECT_EQ(queued.calls, 1);
}

TEST_F(DnsResolverTest, QueueIsBounded) {
  fake_.Block("h0.test");
  ThreadDnsResolver r(loop_.get(), FakeOptions(1, 2));
  Outcome o[4];
  Lookup(r, "h0.test", kLongTimeout, &o[0]);
  ASSERT_TRUE(fake_.AwaitEntered(1));  // The worker holds h0; the queue is empty.
  Lookup(r, "h1.test", kLongTimeout, &o[1]);
  Lookup(r, "h2.test", kLongTimeout, &o[2]);
  bool inline_call = false;
  r.LookupHost("h3.test", kLongTimeout, [&](LookupResult res) {
    inline_call = true;  // Checked below only before the loop runs.
    ++o[3].calls;
    o[3].result = std::move(res);
  });
  EXPECT_FALSE(inline_call);
  ASSERT_TRUE(RunUntilDone(o[3]));
  EXPECT_EQ(o[3].result->status(),
            absl::ResourceExhaustedError("lookup h3.test: too many queued lookups (2)"));
  EXPECT_EQ(o[0].calls + o[1].calls + o[2].calls, 0);

  fake_.Release();
  ASSERT_TRUE(
      loop_->RunUntil([&] { return o[0].calls + o[1].calls + o[2].calls == 3; }, kWallLimit));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(o[i].result->ok()) << i << ": " << o[i].result->status();
    EXPECT_EQ(**o[i].result, std::vector<IpAddress>{Ip("192.0.2.1")});
  }
  EXPECT_EQ(o[3].calls, 1);
}

TEST_F(DnsResolverTest, DefaultBoundsAreNamed) {
  ThreadDnsResolverOptions o;
  EXPECT_EQ(o.worker_threads, kDefaultDnsWorkerThreads);
  EXPECT_EQ(o.max_queued_lookups, kDefaultMaxQueuedLookups);
  EXPECT_EQ(kDefaultDnsWorkerThreads, 2);
  EXPECT_EQ(kDefaultMaxQueuedLookups, 256u);
}

TEST_F(DnsResolverTest, RunsAtMostWorkerThreadsLookupsAtOnce) {
  fake_.Block("a.test");
  fake_.Block("b.test");
  fake_.Block("c.test");
  ThreadDnsResolver r(loop_.get(), FakeOptions(2));
  Outcome o[3];
  Lookup(r, "a.test", kLongTimeout, &o[0]);
  Lookup(r, "b.test", kLongTimeout, &o[1]);
  Lookup(r, "c.test", kLongTimeout, &o[2]);
  // Two workers run two lookups in parallel; the third waits in the queue.
  ASSERT_TRUE(fake_.AwaitEntered(2));
  // Let the loop run a little: the third must not have been started.
  loop_->RunUntil([] { return false; }, absl::Milliseconds(100));
  EXPECT_EQ(fake_.calls().size(), 2u);
  fake_.Release();
  ASSERT_TRUE(
      loop_->RunUntil([&] { return o[0].calls + o[1].calls + o[2].calls == 3; }, kWallLimit));
  EXPECT_EQ(fake_.calls().size(), 3u);
}

TEST_F(DnsResolverTest, CallbacksNeverRunInline) {
  ThreadDnsResolver r(loop_.get(), FakeOptions(1, 0));
  int ran = 0;
  auto cb = [&ran](LookupResult) { ++ran; };
  r.LookupHost("127.0.0.1", kLongTimeout, cb);           // Literal.
  r.LookupHost("zero.test", absl::ZeroDuration(), cb);   // Timed out already.
  r.LookupHost("negative.test", absl::Seconds(-1), cb);  // Negative timeout.
  r.LookupHost("full.test", kLongTimeout, cb);           // Queue bound 0: full.
  EXPECT_EQ(ran, 0);
  ASSERT_TRUE(loop_->RunUntil([&] { return ran == 4; }, kWallLimit));
  EXPECT_TRUE(fake_.calls().empty());
}

TEST_F(DnsResolverTest, CallbacksRunOnTheLoopThread) {
  ThreadDnsResolver r(loop_.get(), FakeOptions(2));
  std::thread::id seen;
  Outcome o;
  r.LookupHost("x.test", kLongTimeout, [&](LookupResult res) {
    seen = std::this_thread::get_id();
    ++o.calls;
    o.result = std::move(res);
  });
  ASSERT_TRUE(RunUntilDone(o));
  EXPECT_EQ(seen, std::this_thread::get_id());
}

TEST_F(DnsResolverTest, DestructionWithLookupsPendingRunsNoCallbacks) {
  fake_.Block("b.test");
  int ran = 0;
  auto cb = [&ran](LookupResult) { ++ran; };
  std::thread releaser;
  {
    ThreadDnsResolver r(loop_.get(), FakeOptions(1));
    r.LookupHost("a.test", absl::Milliseconds(100), cb);  // Finishes, result posted.
    r.LookupHost("b.test", absl::Milliseconds(100), cb);  // In getaddrinfo at destruction.
    r.LookupHost("c.test", absl::Milliseconds(100), cb);  // Still queued.
    // One worker: b has started, so a's result is already in the loop's queue.
    ASSERT_TRUE(fake_.AwaitEntered(2));
    // Destruction must wait for b's lookup to return; let it return a little
    // after the destructor started.
    releaser = std::thread([this] {
      absl::SleepFor(absl::Milliseconds(50));
      fake_.Release();
    });
  }
  releaser.join();
  EXPECT_EQ(fake_.returned(), 2);  // The destructor joined the worker.
  EXPECT_EQ(fake_.calls(), (std::vector<std::string>{"a.test", "b.test"}));
  // Past the timeouts: neither the posted result nor a timer may run.
  loop_->RunUntil([] { return false; }, absl::Milliseconds(300));
  EXPECT_EQ(ran, 0);
}

TEST_F(DnsResolverTest, CallbackMayDestroyTheResolver) {
  auto r = std::make_unique<ThreadDnsResolver>(loop_.get(), FakeOptions(2));
  Outcome first, second;
  Lookup(*r, "first.test", kLongTimeout, &first);
  r->LookupHost("second.test", kLongTimeout, [&](LookupResult res) {
    ++second.calls;
    second.result = std::move(res);
    r.reset();
  });
  ASSERT_TRUE(loop_->RunUntil([&] { return r == nullptr; }, kWallLimit));
  // Whatever had not completed is dropped; nothing runs later.
  loop_->RunUntil([] { return false; }, absl::Milliseconds(100));
  EXPECT_EQ(second.calls, 1);
  EXPECT_LE(first.calls, 1);
}

}  // namespace
}  // namespace p2p::transport
