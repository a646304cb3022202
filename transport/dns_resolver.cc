#include "transport/dns_resolver.h"

#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <map>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/event_loop.h"
#include "transport/errno_status.h"
#include "transport/sockaddr.h"

namespace p2p::transport {
namespace {

using LookupResult = absl::StatusOr<std::vector<IpAddress>>;

bool IsNoSuchHost(int rc) {
  if (rc == EAI_NONAME) return true;
#ifdef EAI_NODATA  // glibc defines it only with _GNU_SOURCE.
  if (rc == EAI_NODATA) return true;
#endif
  return false;
}

absl::Status NoSuchHost(const std::string& host) {
  return absl::NotFoundError(absl::StrCat("lookup ", host, ": no such host"));
}

// Turns one getaddrinfo outcome into the caller's result. `err` is errno as
// it was right after the call (meaningful for EAI_SYSTEM only).
LookupResult ResultOf(const std::string& host, int rc, const addrinfo* list, int err) {
  if (rc == 0) {
    std::vector<IpAddress> ips = AddressesFromAddrInfo(list);
    if (ips.empty()) return NoSuchHost(host);
    return ips;
  }
  if (IsNoSuchHost(rc)) return NoSuchHost(host);
  std::string text = gai_strerror(rc);
  if (rc == EAI_SYSTEM) absl::StrAppend(&text, ": ", ErrnoText(err));
  return absl::UnavailableError(absl::StrCat("lookup ", host, ": ", text));
}

}  // namespace

int SystemAddrInfoLookup(const char* host, addrinfo** result) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  // One entry per address instead of one per socket type.
  hints.ai_socktype = SOCK_STREAM;
  return getaddrinfo(host, nullptr, &hints, result);
}

std::vector<IpAddress> AddressesFromAddrInfo(const addrinfo* list) {
  std::vector<IpAddress> ips;
  absl::flat_hash_set<IpAddress> seen;  // Membership only; order comes from `ips`.
  for (const addrinfo* ai = list; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addr == nullptr) continue;
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    absl::StatusOr<Endpoint> ep = FromSockAddr(ai->ai_addr, ai->ai_addrlen);
    if (!ep.ok()) continue;
    if (seen.insert(ep->ip).second) ips.push_back(ep->ip);
  }
  return ips;
}

struct ThreadDnsResolver::Shared {
  struct Job {
    uint64_t id;
    std::string host;
  };
  struct Pending {
    std::string host;
    LookupCallback done;
    TimerId timer = kNoTimer;
  };

  Shared(EpollLoop* l, AddrInfoLookup fn, size_t max_queued)
      : loop(l), lookup(std::move(fn)), max_queued_lookups(max_queued) {}

  bool WorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return stopping || !queue.empty();
  }

  // Loop thread: hands `result` to the lookup's callback, unless the lookup
  // already completed (timed out) or the resolver is gone.
  void Complete(uint64_t id, LookupResult result) {
    {
      absl::MutexLock lock(&mu);
      if (stopping) return;
    }
    auto it = pending.find(id);
    if (it == pending.end()) return;
    LookupCallback done = std::move(it->second.done);
    const TimerId timer = it->second.timer;
    pending.erase(it);
    if (timer != kNoTimer) loop->Cancel(timer);
    // Last: the callback may destroy the resolver (this block survives, as
    // the posted closure running us holds a reference).
    done(std::move(result));
  }

  // Loop thread: the lookup's deadline passed.
  void TimedOut(uint64_t id) {
    auto it = pending.find(id);
    if (it == pending.end()) return;
    it->second.timer = kNoTimer;  // Running now; nothing to cancel.
    {
      // A lookup still waiting for a worker will never be needed.
      absl::MutexLock lock(&mu);
      auto job =
          std::find_if(queue.begin(), queue.end(), [id](const Job& j) { return j.id == id; });
      if (job != queue.end()) queue.erase(job);
    }
    Complete(id,
             absl::DeadlineExceededError(absl::StrCat("lookup ", it->second.host, ": timeout")));
  }

  // Loop thread: completes `id` from a fresh loop callback.
  static void PostResult(const std::shared_ptr<Shared>& self, uint64_t id, LookupResult result) {
    self->loop->Post([self, id, result = std::move(result)]() mutable {
      self->Complete(id, std::move(result));
    });
  }

  static void WorkerMain(const std::shared_ptr<Shared>& self) {
    for (;;) {
      Job job;
      {
        absl::MutexLock lock(&self->mu);
        ++self->idle_workers;
        self->mu.Await(absl::Condition(self.get(), &Shared::WorkOrStopping));
        --self->idle_workers;
        if (self->stopping) return;
        job = std::move(self->queue.front());
        self->queue.pop_front();
      }
      addrinfo* list = nullptr;
      errno = 0;
      const int rc = self->lookup(job.host.c_str(), &list);
      const int err = errno;
      LookupResult result = ResultOf(job.host, rc, rc == 0 ? list : nullptr, err);
      if (rc == 0 && list != nullptr) freeaddrinfo(list);
      {
        absl::MutexLock lock(&self->mu);
        if (self->stopping) return;
      }
      // If the resolver is destroyed from here on, Complete drops this.
      PostResult(self, job.id, std::move(result));
    }
  }

  EpollLoop* const loop;
  const AddrInfoLookup lookup;
  const size_t max_queued_lookups;

  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::deque<Job> queue ABSL_GUARDED_BY(mu);
  size_t idle_workers ABSL_GUARDED_BY(mu) = 0;

  // Loop thread only.
  uint64_t next_id = 1;
  std::map<uint64_t, Pending> pending;
};

ThreadDnsResolver::ThreadDnsResolver(EpollLoop* loop, ThreadDnsResolverOptions options)
    : shared_(std::make_shared<Shared>(
          loop, options.lookup ? std::move(options.lookup) : AddrInfoLookup(SystemAddrInfoLookup),
          options.max_queued_lookups)),
      max_workers_(std::max(1, options.worker_threads)) {}

ThreadDnsResolver::~ThreadDnsResolver() {
  {
    absl::MutexLock lock(&shared_->mu);
    shared_->stopping = true;
    shared_->queue.clear();
  }
  // Idle workers wake on `stopping`; busy ones finish their getaddrinfo.
  for (std::thread& t : workers_) t.join();
  std::map<uint64_t, Shared::Pending> pending = std::move(shared_->pending);
  shared_->pending.clear();
  for (auto& [id, p] : pending) {
    if (p.timer != kNoTimer) shared_->loop->Cancel(p.timer);
  }
  // `pending` goes out of scope here: the callbacks are destroyed unrun.
}

void ThreadDnsResolver::LookupHost(const std::string& host, absl::Duration timeout,
                                   LookupCallback done) {
  Shared& s = *shared_;
  const uint64_t id = s.next_id++;
  s.pending.emplace(id, Shared::Pending{host, std::move(done), kNoTimer});

  if (absl::StatusOr<IpAddress> literal = IpAddress::Parse(host); literal.ok()) {
    Shared::PostResult(shared_, id, std::vector<IpAddress>{*literal});
    return;
  }
  if (timeout <= absl::ZeroDuration()) {
    Shared::PostResult(shared_, id,
                       absl::DeadlineExceededError(absl::StrCat("lookup ", host, ": timeout")));
    return;
  }

  bool queue_full = false;
  bool start_worker = false;
  {
    absl::MutexLock lock(&s.mu);
    queue_full = s.queue.size() >= s.max_queued_lookups;
    if (!queue_full) {
      s.queue.push_back(Shared::Job{id, host});
      // Idle workers will take the queued jobs; start one more only when
      // they cannot cover them all.
      start_worker =
          s.queue.size() > s.idle_workers && workers_.size() < static_cast<size_t>(max_workers_);
    }
  }
  if (queue_full) {
    Shared::PostResult(
        shared_, id,
        absl::ResourceExhaustedError(absl::StrCat("lookup ", host, ": too many queued lookups (",
                                                  s.max_queued_lookups, ")")));
    return;
  }
  s.pending[id].timer = s.loop->RunAfter(timeout, [shared = shared_, id] { shared->TimedOut(id); });
  if (start_worker) {
    workers_.emplace_back([shared = shared_] { Shared::WorkerMain(shared); });
  }
}

}  // namespace p2p::transport
