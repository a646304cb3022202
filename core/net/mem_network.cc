#include "core/net/mem_network.h"

#include <deque>
#include <string>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "core/net/pipe.h"

namespace p2p {
namespace {

// The next port of the ephemeral range not in `bound`, advancing `cursor`
// past it; 0 if every port of the range is bound.
template <typename T>
uint16_t NextFreePort(uint16_t* cursor, const std::map<uint16_t, T*>& bound) {
  constexpr int kRangeSize = kMemLastEphemeralPort - kMemFirstEphemeralPort + 1;
  for (int i = 0; i < kRangeSize; ++i) {
    const uint16_t port = *cursor;
    *cursor =
        port == kMemLastEphemeralPort ? kMemFirstEphemeralPort : static_cast<uint16_t>(port + 1);
    if (bound.count(port) == 0) return port;
  }
  return 0;
}

// A host has one IP: binding to it or to the unspecified address is the same.
bool IsLocalAddress(const IpAddress& bind_ip, const IpAddress& host_ip) {
  return bind_ip.IsUnspecified() || bind_ip == host_ip;
}

}  // namespace

// One host's Network. Owns the host's pending dials and indexes (without
// owning) its listeners and sockets, which unregister themselves.
class MemSwitch::Host final : public Network {
 public:
  Host(MemSwitch* sw, EventLoop* loop, IpAddress ip) : sw_(sw), loop_(loop), ip_(ip) {}
  ~Host() override;
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  void Dial(const Endpoint& to, absl::Duration timeout, DialCallback done) override;
  absl::StatusOr<std::unique_ptr<Listener>> Listen(const Endpoint& local,
                                                   Listener::AcceptCallback on_accept) override;
  absl::StatusOr<std::unique_ptr<PacketSocket>> OpenPacketSocket(
      const Endpoint& local, PacketSocket::PacketCallback on_packet) override;

  // Read by the listeners, sockets and the switch (all private to MemSwitch).
  MemSwitch* const sw_;
  EventLoop* const loop_;
  const IpAddress ip_;
  std::map<uint16_t, TcpListener*> listeners_;  // By port.
  std::map<uint16_t, UdpSocket*> sockets_;      // By port.

 private:
  struct PendingDial {
    Endpoint local;
    Endpoint to;
    absl::Duration latency;
    bool times_out = false;      // Finishes at the timeout, before the round trip.
    MonoTime deadline;           // Start + timeout.
    MonoTime syn_sent;           // When the latest SYN left.
    int retransmits = 0;         // SYNs sent after the first.
    absl::Status status;         // Set when the dial fails before finishing.
    std::unique_ptr<Conn> conn;  // The dialer's end, once a listener took the other.
    DialCallback done;
    TimerId arrive_timer = kNoTimer;
    TimerId finish_timer = kNoTimer;
  };

  // Sends a SYN at `sent` (now, or a retransmission time that may have
  // passed already when the dial learns of the loss): schedules its arrival
  // and the dial's end, at the round trip or the deadline, whichever is
  // first. The arrival is scheduled first so that, at equal times, it runs
  // first; a SYN that would arrive at or after the deadline is not sent.
  void SendSyn(uint64_t id, PendingDial& d, MonoTime sent);
  // The SYN reaches the destination: connect, refuse or lose it.
  void ArriveDial(uint64_t id);
  // The SYN was lost: retransmit it, or give up.
  void LoseSyn(uint64_t id, PendingDial& d);
  // Reports the outcome to the dialer.
  void FinishDial(uint64_t id);

  uint64_t next_dial_id_ = 1;
  std::map<uint64_t, PendingDial> dials_;
  uint16_t next_tcp_port_ = kMemFirstEphemeralPort;
  uint16_t next_udp_port_ = kMemFirstEphemeralPort;
};

class MemSwitch::TcpListener final : public Listener {
 public:
  TcpListener(Host* host, const Endpoint& local, AcceptCallback on_accept, size_t backlog_limit)
      : host_(host),
        loop_(host->loop_),
        local_(local),
        on_accept_(std::move(on_accept)),
        backlog_limit_(backlog_limit) {}

  ~TcpListener() override {
    if (host_ != nullptr) host_->listeners_.erase(local_.port);
    // The backlog goes with the members: each end resets its dialer's end.
  }

  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  Endpoint LocalEndpoint() const override { return local_; }

  void SetAcceptEnabled(bool enabled) override {
    enabled_ = enabled;
    if (enabled_ && !backlog_.empty()) PostDrain();
  }

  EventLoop* loop() const { return loop_; }
  bool HasRoom() const { return backlog_.size() < backlog_limit_; }

  // Queues an arriving connection; the accept callback gets it from a
  // posted task, after those that arrived earlier.
  void Offer(std::unique_ptr<Conn> conn) {
    backlog_.push_back(std::move(conn));
    if (enabled_) PostDrain();
  }

  // The host is going away: stop for good and reset the backlog.
  void Detach() {
    host_ = nullptr;
    backlog_.clear();
  }

 private:
  void PostDrain() {
    if (drain_posted_) return;
    drain_posted_ = true;
    loop_->Post([this, alive = alive_.Weak()] {
      if (!alive) return;
      drain_posted_ = false;
      Drain();
    });
  }

  void Drain() {
    WeakFlag::Ref alive = alive_.Weak();
    while (host_ != nullptr && enabled_ && !backlog_.empty()) {
      std::unique_ptr<Conn> conn = std::move(backlog_.front());
      backlog_.pop_front();
      if (on_accept_) on_accept_(std::move(conn));  // May destroy *this.
      if (!alive) return;
    }
  }

  Host* host_;  // Null once the host is gone.
  EventLoop* const loop_;
  const Endpoint local_;
  AcceptCallback on_accept_;
  const size_t backlog_limit_;
  bool enabled_ = true;
  bool drain_posted_ = false;
  std::deque<std::unique_ptr<Conn>> backlog_;  // Arrived, not yet accepted.
  WeakFlag alive_;                             // Last: dies first.
};

class MemSwitch::UdpSocket final : public PacketSocket {
 public:
  UdpSocket(Host* host, const Endpoint& local, PacketCallback on_packet)
      : host_(host),
        sw_(host->sw_),
        loop_(host->loop_),
        local_(local),
        source_{host->ip_, local.port},
        on_packet_(std::move(on_packet)) {}

  ~UdpSocket() override {
    if (host_ != nullptr) host_->sockets_.erase(local_.port);
  }

  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  absl::Status SendTo(const Endpoint& to, absl::Span<const uint8_t> data) override {
    const std::string what = absl::StrCat("write udp ", to.ToString());
    if (host_ == nullptr) return absl::UnavailableError(absl::StrCat(what, ": network is down"));
    if (data.size() > kMaxMemDatagramBytes) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": datagram of ", data.size(),
                                                     " bytes exceeds the ", kMaxMemDatagramBytes,
                                                     "-byte limit"));
    }
    if (to.port == 0) return absl::InvalidArgumentError(absl::StrCat(what, ": port 0"));
    if (to.ip.IsUnspecified()) {
      return absl::InvalidArgumentError(absl::StrCat(what, ": invalid address"));
    }
    ++sw_->stats_.packets_sent;
    const absl::Duration latency = sw_->OneWayLatency(host_->ip_, to.ip);
    // In flight on the sender's loop: the destination socket is looked up
    // on arrival, so one bound meanwhile still gets it.
    loop_->RunAfter(latency, [sw = sw_, alive = sw_->alive_.Weak(), from = source_, to,
                              bytes = std::vector<uint8_t>(data.begin(), data.end())]() mutable {
      if (!alive) return;
      sw->ArrivePacket(from, to, std::move(bytes));
    });
    return absl::OkStatus();
  }

  Endpoint LocalEndpoint() const override { return local_; }

  // Hands an arrived datagram to the callback from a task on this socket's
  // loop (the arrival event ran on the sender's).
  void Deliver(const Endpoint& from, std::vector<uint8_t> data) {
    loop_->Post([this, alive = alive_.Weak(), sw = sw_, sw_alive = sw_->alive_.Weak(), from,
                 data = std::move(data)] {
      if (!alive || host_ == nullptr) {
        if (sw_alive) ++sw->stats_.packets_dropped;
        return;
      }
      if (sw_alive) ++sw->stats_.packets_delivered;
      if (on_packet_) on_packet_(from, absl::Span<const uint8_t>(data));
    });
  }

  // The host is going away: stop for good.
  void Detach() { host_ = nullptr; }

 private:
  Host* host_;  // Null once the host is gone.
  MemSwitch* const sw_;
  EventLoop* const loop_;
  const Endpoint local_;   // As bound (the IP may be unspecified).
  const Endpoint source_;  // What receivers see: host IP and bound port.
  PacketCallback on_packet_;
  WeakFlag alive_;  // Last: dies first.
};

MemSwitch::Host::~Host() {
  for (auto& [id, d] : dials_) {
    if (d.arrive_timer != kNoTimer) loop_->Cancel(d.arrive_timer);
    if (d.finish_timer != kNoTimer) loop_->Cancel(d.finish_timer);
  }
  dials_.clear();  // Ends already handed to listeners are reset.
  for (auto& [port, listener] : listeners_) listener->Detach();
  listeners_.clear();
  for (auto& [port, socket] : sockets_) socket->Detach();
  sockets_.clear();
  sw_->hosts_.erase(ip_);
}

void MemSwitch::Host::Dial(const Endpoint& to, absl::Duration timeout, DialCallback done) {
  ++sw_->stats_.dials;
  const uint64_t id = next_dial_id_++;
  PendingDial& d = dials_[id];
  d.to = to;
  d.done = std::move(done);
  const std::string what = absl::StrCat("dial tcp ", to.ToString());
  auto finish_after = [this, id, &d](absl::Duration delay) {
    d.finish_timer = loop_->RunAfter(delay, [this, id] { FinishDial(id); });
  };

  if (to.port == 0 || to.ip.IsUnspecified()) {
    d.status = absl::InvalidArgumentError(absl::StrCat(what, ": invalid address"));
    finish_after(absl::ZeroDuration());
    return;
  }
  const uint16_t local_port = NextFreePort(&next_tcp_port_, listeners_);
  if (local_port == 0) {
    d.status = absl::UnavailableError(absl::StrCat(what, ": cannot assign requested address"));
    finish_after(absl::ZeroDuration());
    return;
  }
  d.local = Endpoint{ip_, local_port};
  d.latency = sw_->OneWayLatency(ip_, to.ip);
  if (timeout < absl::ZeroDuration()) timeout = absl::ZeroDuration();
  d.deadline = loop_->Now() + timeout;
  SendSyn(id, d, loop_->Now());
}

void MemSwitch::Host::SendSyn(uint64_t id, PendingDial& d, MonoTime sent) {
  d.syn_sent = sent;
  const MonoTime arrival = sent + d.latency;
  const MonoTime round_trip_end = arrival + d.latency;
  d.times_out = round_trip_end > d.deadline;
  if (!d.times_out || arrival < d.deadline) {
    d.arrive_timer = loop_->RunAt(arrival, [this, id] { ArriveDial(id); });
  }
  d.finish_timer =
      loop_->RunAt(d.times_out ? d.deadline : round_trip_end, [this, id] { FinishDial(id); });
}

void MemSwitch::Host::ArriveDial(uint64_t id) {
  auto it = dials_.find(id);
  if (it == dials_.end()) return;
  PendingDial& d = it->second;
  d.arrive_timer = kNoTimer;

  const MemVerdict verdict =
      sw_->opts_.filter ? sw_->opts_.filter(ip_, d.to.ip, true) : MemVerdict::kDeliver;
  if (verdict == MemVerdict::kLose) {
    ++sw_->stats_.syns_lost;
    LoseSyn(id, d);
    return;
  }
  if (verdict != MemVerdict::kDeliver) ++sw_->stats_.filtered;
  if (verdict == MemVerdict::kDrop) {
    // The SYN is lost: the dialer waits for its timeout.
    if (!d.times_out) {
      loop_->Cancel(d.finish_timer);
      d.times_out = true;
      d.finish_timer = loop_->RunAt(d.deadline, [this, id] { FinishDial(id); });
    }
    return;
  }
  TcpListener* listener = nullptr;
  auto host = verdict == MemVerdict::kRefuse ? sw_->hosts_.end() : sw_->hosts_.find(d.to.ip);
  if (host != sw_->hosts_.end()) {
    auto l = host->second->listeners_.find(d.to.port);
    if (l != host->second->listeners_.end()) listener = l->second;
  }
  if (listener == nullptr || !listener->HasRoom()) {
    ++sw_->stats_.refused;
    d.status =
        absl::UnavailableError(absl::StrCat("dial tcp ", d.to.ToString(), ": connection refused"));
    return;
  }
  ++sw_->stats_.accepted;
  const PipeRates rates{sw_->Rate(ip_, d.to.ip), sw_->Rate(d.to.ip, ip_)};
  auto ends = NewConnPair(loop_, listener->loop(), d.local, d.to, d.latency, rates);
  d.conn = std::move(ends.first);
  listener->Offer(std::move(ends.second));
}

void MemSwitch::Host::LoseSyn(uint64_t id, PendingDial& d) {
  // The finish timer is rescheduled below, after the next SYN's arrival.
  loop_->Cancel(d.finish_timer);
  d.finish_timer = kNoTimer;
  // The SYN sent with this RTO was lost; the next one is due when it ends.
  const MonoTime next = d.syn_sent + kMemSynInitialRto * (int64_t{1} << d.retransmits);
  if (d.retransmits < kMemSynRetries) {
    ++d.retransmits;
    SendSyn(id, d, next);
    return;
  }
  // Out of retransmissions: the kernel gives up when the next would be due,
  // unless the dialer's own timeout comes first.
  d.times_out = next >= d.deadline;
  if (!d.times_out) {
    d.status = absl::DeadlineExceededError(
        absl::StrCat("dial tcp ", d.to.ToString(), ": connection timed out"));
  }
  d.finish_timer = loop_->RunAt(d.times_out ? d.deadline : next, [this, id] { FinishDial(id); });
}

void MemSwitch::Host::FinishDial(uint64_t id) {
  auto it = dials_.find(id);
  if (it == dials_.end()) return;
  PendingDial d = std::move(it->second);
  dials_.erase(it);
  if (d.arrive_timer != kNoTimer) loop_->Cancel(d.arrive_timer);

  absl::StatusOr<std::unique_ptr<Conn>> result;
  if (d.times_out) {
    result =
        absl::DeadlineExceededError(absl::StrCat("dial tcp ", d.to.ToString(), ": i/o timeout"));
    d.conn.reset();  // A listener that took the other end sees a reset.
  } else if (!d.status.ok()) {
    result = d.status;
  } else {
    result = std::move(d.conn);
  }
  DialCallback done = std::move(d.done);
  done(std::move(result));  // May destroy *this: nothing follows.
}

absl::StatusOr<std::unique_ptr<Listener>> MemSwitch::Host::Listen(
    const Endpoint& local, Listener::AcceptCallback on_accept) {
  const std::string what = absl::StrCat("listen tcp ", local.ToString());
  if (!IsLocalAddress(local.ip, ip_)) {
    return absl::UnavailableError(absl::StrCat(what, ": bind: cannot assign requested address"));
  }
  uint16_t port = local.port;
  if (port == 0) {
    port = NextFreePort(&next_tcp_port_, listeners_);
    if (port == 0) return absl::ResourceExhaustedError(absl::StrCat(what, ": no free port"));
  } else if (listeners_.count(port) != 0) {
    return absl::AlreadyExistsError(absl::StrCat(what, ": bind: address already in use"));
  }
  auto listener = std::make_unique<TcpListener>(this, Endpoint{local.ip, port},
                                                std::move(on_accept), sw_->opts_.listen_backlog);
  listeners_[port] = listener.get();
  return std::unique_ptr<Listener>(std::move(listener));
}

absl::StatusOr<std::unique_ptr<PacketSocket>> MemSwitch::Host::OpenPacketSocket(
    const Endpoint& local, PacketSocket::PacketCallback on_packet) {
  const std::string what = absl::StrCat("listen udp ", local.ToString());
  if (!IsLocalAddress(local.ip, ip_)) {
    return absl::UnavailableError(absl::StrCat(what, ": bind: cannot assign requested address"));
  }
  uint16_t port = local.port;
  if (port == 0) {
    port = NextFreePort(&next_udp_port_, sockets_);
    if (port == 0) return absl::ResourceExhaustedError(absl::StrCat(what, ": no free port"));
  } else if (sockets_.count(port) != 0) {
    return absl::AlreadyExistsError(absl::StrCat(what, ": bind: address already in use"));
  }
  auto socket = std::make_unique<UdpSocket>(this, Endpoint{local.ip, port}, std::move(on_packet));
  sockets_[port] = socket.get();
  return std::unique_ptr<PacketSocket>(std::move(socket));
}

MemSwitch::MemSwitch(MemSwitchOptions opts) : opts_(std::move(opts)) {
  ABSL_RAW_CHECK(opts_.listen_backlog >= 1, "MemSwitchOptions::listen_backlog must be >= 1");
}

MemSwitch::~MemSwitch() {
  ABSL_RAW_CHECK(hosts_.empty(), "MemSwitch destroyed before the Networks of its hosts");
}

absl::StatusOr<std::unique_ptr<Network>> MemSwitch::AddHost(EventLoop* loop, IpAddress ip) {
  ABSL_RAW_CHECK(loop != nullptr, "MemSwitch::AddHost: null loop");
  if (ip.IsUnspecified()) {
    return absl::InvalidArgumentError("mem network: a host needs a specified IP address");
  }
  if (hosts_.count(ip) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("mem network: host ", ip.ToString(), " already exists"));
  }
  auto host = std::make_unique<Host>(this, loop, ip);
  hosts_[ip] = host.get();
  return std::unique_ptr<Network>(std::move(host));
}

absl::Duration MemSwitch::OneWayLatency(const IpAddress& from, const IpAddress& to) {
  absl::Duration d = opts_.latency ? opts_.latency(from, to) : opts_.default_latency;
  return d < absl::ZeroDuration() ? absl::ZeroDuration() : d;
}

int64_t MemSwitch::Rate(const IpAddress& from, const IpAddress& to) {
  if (!opts_.bandwidth) return 0;
  const std::optional<int64_t> rate = opts_.bandwidth(from, to);
  return rate.has_value() && *rate > 0 ? *rate : 0;
}

void MemSwitch::ArrivePacket(const Endpoint& from, const Endpoint& to, std::vector<uint8_t> data) {
  const MemVerdict verdict =
      opts_.filter ? opts_.filter(from.ip, to.ip, false) : MemVerdict::kDeliver;
  if (verdict != MemVerdict::kDeliver) {
    ++(verdict == MemVerdict::kLose ? stats_.packets_lost : stats_.filtered);
    ++stats_.packets_dropped;
    return;
  }
  auto host = hosts_.find(to.ip);
  if (host != hosts_.end()) {
    auto socket = host->second->sockets_.find(to.port);
    if (socket != host->second->sockets_.end()) {
      socket->second->Deliver(from, std::move(data));
      return;
    }
  }
  ++stats_.packets_dropped;
}

}  // namespace p2p
