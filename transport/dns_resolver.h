// The real HostResolver: getaddrinfo on a small pool of worker threads, with
// the results posted back to the node's EpollLoop.
//
// getaddrinfo blocks (files, DNS over the network, with the system
// resolver's own timeouts and retries from resolv.conf), so it cannot run
// on the loop. Contract, on top of HostResolver's:
//  - LookupHost is called on the loop thread; `done` runs on the loop, never
//    inside LookupHost, exactly once, unless the resolver is destroyed first
//    (then it is destroyed without running).
//  - Results: OK with the IPv4 and IPv6 addresses of the name, duplicates
//    removed, in getaddrinfo order (AF_UNSPEC, SOCK_STREAM). Errors:
//      kNotFound          "lookup <host>: no such host" (EAI_NONAME,
//                         EAI_NODATA, or no usable address);
//      kUnavailable       "lookup <host>: <gai_strerror text>" for any other
//                         getaddrinfo failure (EAI_AGAIN, EAI_FAIL, ...;
//                         EAI_SYSTEM also names the errno);
//      kDeadlineExceeded  "lookup <host>: timeout" when the lookup has not
//                         finished within `timeout` (a loop timer; a result
//                         arriving later from the worker is dropped, and a
//                         lookup still queued is removed from the queue);
//                         a timeout <= 0 fails at once;
//      kResourceExhausted "lookup <host>: too many queued lookups (N)" when
//                         N lookups already wait for a worker.
//  - Literal addresses ("127.0.0.1", "::1") are parsed on the loop and
//    answered without a worker (still posted).
//  - Workers are started on demand, up to `worker_threads`; further lookups
//    wait in a FIFO queue bounded by `max_queued_lookups`.
//  - Destruction (on the loop thread, or while the loop is not running):
//    stops accepting work, drops the queue, cancels the timers, destroys
//    every pending callback without running it, and joins the workers.
//    Joining waits for the getaddrinfo calls in progress (at most one per
//    worker) to return, which can take as long as the system resolver's
//    timeout (resolv.conf "timeout" x "attempts" per name server, seconds).
//    Their results are dropped: the workers share a state block with the
//    resolver whose mutex-guarded `stopping` flag they check before posting,
//    and results already posted find no pending lookup when they run.
//  - The EpollLoop must outlive the resolver (workers Post to it until they
//    are joined).
#ifndef P2P_TRANSPORT_DNS_RESOLVER_H_
#define P2P_TRANSPORT_DNS_RESOLVER_H_

#include <netdb.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"
#include "core/dial/dial_services.h"
#include "core/net/ip.h"
#include "transport/epoll_loop.h"

namespace p2p::transport {

inline constexpr int kDefaultDnsWorkerThreads = 2;
inline constexpr size_t kDefaultMaxQueuedLookups = 256;

// getaddrinfo's shape: fills `*result` (released with freeaddrinfo, so it
// must come from getaddrinfo) and returns 0, or returns an EAI_* code (with
// errno set for EAI_SYSTEM). Called concurrently from the worker threads.
using AddrInfoLookup = std::function<int(const char* host, addrinfo** result)>;

// The default AddrInfoLookup: getaddrinfo(host, nullptr, {AF_UNSPEC,
// SOCK_STREAM}, result).
int SystemAddrInfoLookup(const char* host, addrinfo** result);

// The AF_INET and AF_INET6 addresses of a getaddrinfo list, in list order,
// each once; entries of other families are skipped.
std::vector<IpAddress> AddressesFromAddrInfo(const addrinfo* list);

struct ThreadDnsResolverOptions {
  int worker_threads = kDefaultDnsWorkerThreads;  // At least 1.
  size_t max_queued_lookups = kDefaultMaxQueuedLookups;
  AddrInfoLookup lookup;  // Empty: SystemAddrInfoLookup. For tests.
};

class ThreadDnsResolver : public HostResolver {
 public:
  // `loop` must outlive the resolver.
  explicit ThreadDnsResolver(EpollLoop* loop, ThreadDnsResolverOptions options = {});
  // See the file comment: may wait for getaddrinfo calls in progress.
  ~ThreadDnsResolver() override;
  ThreadDnsResolver(const ThreadDnsResolver&) = delete;
  ThreadDnsResolver& operator=(const ThreadDnsResolver&) = delete;

  void LookupHost(const std::string& host, absl::Duration timeout, LookupCallback done) override;

 private:
  struct Shared;

  // Shared with the workers and with the callbacks posted to the loop, so
  // that either may outlive the resolver harmlessly.
  std::shared_ptr<Shared> shared_;
  const int max_workers_;
  std::vector<std::thread> workers_;  // Loop thread only.
};

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_DNS_RESOLVER_H_
