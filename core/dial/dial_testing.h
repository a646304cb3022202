// Test doubles for the dialer seams (testonly). Each records what it was
// asked, in order, and completes only when the test says so, so tests can
// assert exact dial sequences round by round on the simulated clock.
#ifndef P2P_CORE_DIAL_DIAL_TESTING_H_
#define P2P_CORE_DIAL_DIAL_TESTING_H_

#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "core/dial/dial_policy.h"
#include "core/dial/dial_services.h"
#include "core/event_loop.h"
#include "core/node.h"

namespace p2p::testing {

// go-ethereum's uintID: the number in the first two bytes of the ID.
inline NodeId UintId(uint16_t i) {
  std::array<uint8_t, 32> b{};
  b[0] = static_cast<uint8_t>(i >> 8);
  b[1] = static_cast<uint8_t>(i);
  return NodeId(b);
}

// go-ethereum's newNode(id, addr): addr "" means no IP (a node to resolve).
inline Node TestNode(uint16_t i, const std::string& addr = "") {
  Node n;
  n.id = UintId(i);
  if (!addr.empty()) {
    Endpoint ep = *Endpoint::Parse(addr);
    n.ip = ep.ip;
    n.tcp = ep.port;
    n.udp = ep.port;
  }
  return n;
}

// Records dials; the test completes them with Succeed/Fail.
class FakeNodeDialer : public NodeDialer {
 public:
  struct Attempt {
    Node dest;
    ConnFlags flags;
  };
  explicit FakeNodeDialer(EventLoop* loop) : loop_(loop) {}

  void Dial(const Node& dest, ConnFlags flags, DoneCallback done) override {
    attempts_.push_back({dest, flags});
    pending_.emplace(dest.id, Pending{dest, flags, std::move(done)});
  }

  // Attempts made since the last call, in order.
  std::vector<Attempt> TakeAttempts() {
    std::vector<Attempt> a = std::move(attempts_);
    attempts_.clear();
    return a;
  }
  bool IsPending(const NodeId& id) const { return pending_.count(id) > 0; }
  size_t num_pending() const { return pending_.size(); }
  std::vector<NodeId> PendingIds() const {
    std::vector<NodeId> ids;
    for (const auto& [id, p] : pending_) ids.push_back(id);
    return ids;
  }

  // Completes the oldest pending dial to `id` (posted, like a real dialer).
  void Finish(const NodeId& id, DialResult result) {
    auto it = pending_.find(id);
    ABSL_RAW_CHECK(it != pending_.end(), "FakeNodeDialer: no pending dial to that node");
    DoneCallback done = std::move(it->second.done);
    pending_.erase(it);
    loop_->Post([done = std::move(done), result]() mutable { done(result); });
  }
  void Succeed(const NodeId& id) { Finish(id, DialResult{absl::OkStatus(), false}); }
  // A TCP-level failure (triggers static re-resolve).
  void FailConnect(const NodeId& id) {
    Finish(id, DialResult{absl::UnavailableError("connection refused"), true});
  }
  // A failure after the connection existed (handshake).
  void FailHandshake(const NodeId& id) {
    Finish(id, DialResult{absl::PermissionDeniedError("handshake failed"), false});
  }
  const std::map<NodeId, ConnFlags> pending_flags() const {
    std::map<NodeId, ConnFlags> m;
    for (const auto& [id, p] : pending_) m[id] = p.flags;
    return m;
  }

 private:
  struct Pending {
    Node dest;
    ConnFlags flags;
    DoneCallback done;
  };
  EventLoop* loop_;
  std::vector<Attempt> attempts_;
  std::multimap<NodeId, Pending> pending_;  // Oldest first per node.
};

// Answers Resolve from a table the test fills; records every call.
class FakeResolver : public NodeResolver {
 public:
  explicit FakeResolver(EventLoop* loop) : loop_(loop) {}
  void Set(const NodeId& id, std::optional<Node> answer) { answers_[id] = std::move(answer); }
  void Resolve(const Node& node, ResolveCallback done) override {
    calls_.push_back(node.id);
    std::optional<Node> answer;
    auto it = answers_.find(node.id);
    if (it != answers_.end()) answer = it->second;
    loop_->Post([done = std::move(done), answer]() mutable { done(answer); });
  }
  std::vector<NodeId> TakeCalls() {
    std::vector<NodeId> c = std::move(calls_);
    calls_.clear();
    return c;
  }

 private:
  EventLoop* loop_;
  std::map<NodeId, std::optional<Node>> answers_;
  std::vector<NodeId> calls_;
};

// Answers host lookups from a table; unknown names fail with NotFound.
class FakeHostResolver : public HostResolver {
 public:
  explicit FakeHostResolver(EventLoop* loop) : loop_(loop) {}
  void Set(const std::string& host, std::vector<IpAddress> ips) { answers_[host] = std::move(ips); }
  void LookupHost(const std::string& host, absl::Duration timeout, LookupCallback done) override {
    calls_.push_back(host);
    absl::StatusOr<std::vector<IpAddress>> r = absl::NotFoundError("no such host: " + host);
    auto it = answers_.find(host);
    if (it != answers_.end()) r = it->second;
    loop_->Post([done = std::move(done), r]() mutable { done(r); });
  }
  const std::vector<std::string>& calls() const { return calls_; }

 private:
  EventLoop* loop_;
  std::map<std::string, std::vector<IpAddress>> answers_;
  std::vector<std::string> calls_;
};

// A discovery table for the legacy dialer: fixed random-node answers and a
// queue of lookup results (each LookupRandom takes the next; empty if none).
class FakeDiscoveryTable : public DiscoveryTable {
 public:
  explicit FakeDiscoveryTable(EventLoop* loop) : loop_(loop) {}
  void SetRandomNodes(std::vector<Node> nodes) { random_ = std::move(nodes); }
  void QueueLookupResult(std::vector<Node> nodes) { lookups_.push_back(std::move(nodes)); }
  int ReadRandomNodes(absl::Span<Node> out) override {
    size_t n = std::min(out.size(), random_.size());
    for (size_t i = 0; i < n; ++i) out[i] = random_[i];
    return static_cast<int>(n);
  }
  void LookupRandom(LookupCallback done) override {
    lookup_times_.push_back(loop_->Now());
    std::vector<Node> r;
    if (!lookups_.empty()) {
      r = std::move(lookups_.front());
      lookups_.pop_front();
    }
    loop_->Post([done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
  }
  const std::vector<MonoTime>& lookup_times() const { return lookup_times_; }

 private:
  EventLoop* loop_;
  std::vector<Node> random_;
  std::deque<std::vector<Node>> lookups_;
  std::vector<MonoTime> lookup_times_;
};

// An iterator the test feeds (go-ethereum's test "discovered" nodes): Push
// appends nodes; Next waits for one. Records how many nodes were taken.
class QueueIterator : public NodeIterator {
 public:
  explicit QueueIterator(EventLoop* loop) : loop_(loop) {}
  void Push(std::vector<Node> nodes) {
    for (Node& n : nodes) queue_.push_back(std::move(n));
    Deliver();
  }
  void Next(NextCallback cb) override {
    ABSL_RAW_CHECK(!waiting_, "QueueIterator: two outstanding Next calls");
    waiting_ = std::move(cb);
    Deliver();
  }
  void Close() override {
    closed_ = true;
    Deliver();
  }
  size_t queued() const { return queue_.size(); }
  size_t taken() const { return taken_; }
  bool closed() const { return closed_; }

 private:
  void Deliver() {
    if (!waiting_) return;
    std::optional<Node> n;
    if (closed_) {
      n = std::nullopt;
    } else if (!queue_.empty()) {
      n = std::move(queue_.front());
      queue_.pop_front();
      taken_++;
    } else {
      return;
    }
    NextCallback cb = std::move(waiting_);
    waiting_ = nullptr;
    loop_->Post([cb = std::move(cb), n = std::move(n)]() mutable { cb(std::move(n)); });
  }
  EventLoop* loop_;
  std::deque<Node> queue_;
  NextCallback waiting_;
  bool closed_ = false;
  size_t taken_ = 0;
};

}  // namespace p2p::testing

#endif  // P2P_CORE_DIAL_DIAL_TESTING_H_
