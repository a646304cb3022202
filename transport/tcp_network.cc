#include "transport/tcp_network.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "transport/errno_status.h"
#include "transport/sockaddr.h"

namespace p2p::transport {
namespace {

constexpr int kMaxIovecs = 64;
// Small writes are appended to the last queued chunk up to this size.
constexpr size_t kQueueChunkBytes = 64 * 1024;
constexpr absl::Duration kTemporaryErrorLogInterval = absl::Seconds(1);

void LogDebug(Logger* logger, const std::string& msg) {
  if (logger->Enabled(LogLevel::kDebug)) logger->Log(LogLevel::kDebug, msg);
}

bool SetIntOption(int fd, int level, int name, int value) {
  return setsockopt(fd, level, name, &value, sizeof(value)) == 0;
}

// The registration of one fd with the loop: registered while the wanted
// mask is non-empty, unregistered otherwise (EPOLLERR/EPOLLHUP cannot be
// masked, so "no interest" must mean "not in epoll").
class FdInterest {
 public:
  explicit FdInterest(EpollLoop* loop) : loop_(loop) {}

  template <typename MakeCallback>
  absl::Status Set(int fd, uint32_t events, MakeCallback make_callback) {
    if (events == events_) return absl::OkStatus();
    absl::Status s;
    if (events == 0) {
      loop_->Unwatch(fd);
    } else if (events_ == 0) {
      s = loop_->Watch(fd, events, make_callback());
    } else {
      s = loop_->Modify(fd, events);
    }
    if (s.ok()) events_ = events;
    return s;
  }
  void Clear(int fd) {
    if (events_ != 0) loop_->Unwatch(fd);
    events_ = 0;
  }

 private:
  EpollLoop* loop_;
  uint32_t events_ = 0;
};

// ---------------------------------------------------------------------------
// TCP connection.

class SocketConn final : public Conn {
 public:
  SocketConn(EpollLoop* loop, int fd, const Endpoint& local, const Endpoint& remote)
      : loop_(loop), fd_(fd), local_(local), remote_(remote), interest_(loop) {}

  ~SocketConn() override {
    if (fd_ >= 0) {
      interest_.Clear(fd_);
      close(fd_);
    }
  }

  void Start(ReadCallback on_read, CloseCallback on_close) override {
    ABSL_RAW_CHECK(!started_, "Conn::Start called twice");
    started_ = true;
    on_read_ = std::move(on_read);
    on_close_ = std::move(on_close);
    if (ended_) {
      PostClose();
      return;
    }
    UpdateInterest();
  }

  void Write(absl::Span<const uint8_t> data) override {
    if (ended_ || close_requested_ || data.empty()) return;
    if (queue_.empty()) {
      ssize_t n = send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          End(StatusFromErrno(errno, absl::StrCat("write tcp ", remote_.ToString())));
          return;
        }
        n = 0;
      }
      data.remove_prefix(static_cast<size_t>(n));
      if (data.empty()) return;
    }
    Enqueue(data);
    UpdateInterest();
  }

  size_t PendingWriteBytes() const override { return queued_bytes_; }

  void Close(const absl::Status& why, bool flush) override {
    if (ended_) return;
    if (close_requested_) {
      if (!flush) End(close_why_);  // Give up the flush in progress.
      return;
    }
    close_requested_ = true;
    close_why_ = why;
    if (!flush) {
      End(why);
    } else if (queue_.empty()) {
      FinishGracefulClose();
    } else {
      UpdateInterest();  // EPOLLOUT only: reading has stopped.
    }
  }

  Endpoint RemoteEndpoint() const override { return remote_; }
  Endpoint LocalEndpoint() const override { return local_; }

 private:
  void OnEvents(uint32_t events) {
    if (!queue_.empty() && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) {
      FlushQueue();  // Runs no user callback.
      if (ended_) return;
    }
    if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) ReadSome();
  }

  void ReadSome() {
    // On the stack, so the span stays valid even if on_read_ destroys us.
    uint8_t buf[kReadChunkBytes];
    WeakFlag::Ref alive = alive_.Weak();
    for (int i = 0; i < kMaxReadsPerEvent; ++i) {
      if (ended_ || close_requested_ || !started_) return;
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        if (on_read_) on_read_(absl::Span<const uint8_t>(buf, static_cast<size_t>(n)));
        if (!alive) return;
        if (static_cast<size_t>(n) < sizeof(buf)) return;  // Drained.
        continue;
      }
      if (n == 0) {
        End(absl::OkStatus());  // EOF: orderly close by the peer.
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      End(StatusFromErrno(errno, absl::StrCat("read tcp ", remote_.ToString())));
      return;
    }
  }

  void Enqueue(absl::Span<const uint8_t> data) {
    if (!queue_.empty() && queue_.back().size() + data.size() <= kQueueChunkBytes) {
      queue_.back().insert(queue_.back().end(), data.begin(), data.end());
    } else {
      queue_.emplace_back(data.begin(), data.end());
    }
    queued_bytes_ += data.size();
  }

  void Consume(size_t n) {
    while (n > 0) {
      std::vector<uint8_t>& front = queue_.front();
      const size_t avail = front.size() - head_offset_;
      if (n < avail) {
        head_offset_ += n;
        queued_bytes_ -= n;
        return;
      }
      n -= avail;
      queued_bytes_ -= avail;
      queue_.pop_front();
      head_offset_ = 0;
    }
  }

  void FlushQueue() {
    size_t sent_this_event = 0;
    while (!queue_.empty() && sent_this_event < kMaxWriteBytesPerEvent) {
      iovec iov[kMaxIovecs];
      int count = 0;
      size_t offered = 0;
      for (auto it = queue_.begin(); it != queue_.end() && count < kMaxIovecs; ++it) {
        const size_t skip = (it == queue_.begin()) ? head_offset_ : 0;
        iov[count].iov_base = it->data() + skip;
        iov[count].iov_len = it->size() - skip;
        offered += iov[count].iov_len;
        ++count;
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = static_cast<size_t>(count);
      ssize_t n = sendmsg(fd_, &msg, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        End(close_requested_
                ? close_why_
                : StatusFromErrno(errno, absl::StrCat("write tcp ", remote_.ToString())));
        return;
      }
      Consume(static_cast<size_t>(n));
      sent_this_event += static_cast<size_t>(n);
      if (static_cast<size_t>(n) < offered) break;  // Socket buffer full.
    }
    if (queue_.empty() && close_requested_) {
      FinishGracefulClose();
      return;
    }
    UpdateInterest();
  }

  void FinishGracefulClose() {
    shutdown(fd_, SHUT_WR);
    uint8_t discard[4096];
    for (int i = 0; i < 64; ++i) {
      ssize_t n = recv(fd_, discard, sizeof(discard), MSG_DONTWAIT);
      if (n > 0 || (n < 0 && errno == EINTR)) continue;
      break;
    }
    End(close_why_);
  }

  // Ends the stream: releases the socket and schedules the close callback.
  void End(absl::Status why) {
    if (ended_) return;
    ended_ = true;
    end_status_ = std::move(why);
    queue_.clear();
    queued_bytes_ = 0;
    head_offset_ = 0;
    interest_.Clear(fd_);
    close(fd_);
    fd_ = -1;
    if (started_) PostClose();
  }

  void PostClose() {
    loop_->Post([this, alive = alive_.Weak()] {
      if (!alive) return;
      CloseCallback cb = std::move(on_close_);
      const absl::Status why = end_status_;
      if (cb) cb(why);  // May destroy *this.
    });
  }

  void UpdateInterest() {
    if (ended_) return;
    uint32_t want = 0;
    if (started_ && !close_requested_) want |= EPOLLIN;
    if (!queue_.empty()) want |= EPOLLOUT;
    absl::Status s = interest_.Set(fd_, want, [this] {
      return [this](uint32_t events) { OnEvents(events); };
    });
    if (!s.ok()) End(s);
  }

  EpollLoop* loop_;
  int fd_;
  const Endpoint local_;
  const Endpoint remote_;
  FdInterest interest_;
  ReadCallback on_read_;
  CloseCallback on_close_;
  bool started_ = false;
  bool close_requested_ = false;
  bool ended_ = false;
  absl::Status close_why_;
  absl::Status end_status_;
  std::deque<std::vector<uint8_t>> queue_;
  size_t head_offset_ = 0;  // Bytes of queue_.front() already sent.
  size_t queued_bytes_ = 0;
  WeakFlag alive_;  // Last: dies first.
};

// ---------------------------------------------------------------------------
// TCP listener.

// accept(2) errors caused by the pending connection rather than the
// listener (the man page says to retry); plus EPERM (firewall).
bool IsFailedPendingConnection(int err) {
  switch (err) {
    case ECONNABORTED:
    case ECONNRESET:
    case ETIMEDOUT:
    case EPROTO:
    case ENOPROTOOPT:
    case ENETDOWN:
    case ENETUNREACH:
    case EHOSTDOWN:
    case EHOSTUNREACH:
    case ENONET:
    case EOPNOTSUPP:
    case EPERM:
      return true;
    default:
      return false;
  }
}

// Out of descriptors or memory: go-ethereum's "temporary" accept errors.
bool IsTemporaryAcceptError(int err) {
  return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

class SocketListener final : public Listener {
 public:
  SocketListener(EpollLoop* loop, Logger* logger, int fd, const Endpoint& local,
                 AcceptCallback on_accept)
      : loop_(loop),
        logger_(logger),
        fd_(fd),
        local_(local),
        on_accept_(std::move(on_accept)),
        interest_(loop) {}

  ~SocketListener() override {
    if (retry_timer_ != kNoTimer) loop_->Cancel(retry_timer_);
    interest_.Clear(fd_);
    close(fd_);
  }

  absl::Status Init() {
    return interest_.Set(fd_, EPOLLIN, [this] {
      return [this](uint32_t) { AcceptSome(); };
    });
  }

  Endpoint LocalEndpoint() const override { return local_; }

  void SetAcceptEnabled(bool enabled) override {
    enabled_ = enabled;
    UpdateInterest();
  }

 private:
  bool accepting() const { return enabled_ && !failed_ && retry_timer_ == kNoTimer; }

  void UpdateInterest() {
    absl::Status s = interest_.Set(fd_, accepting() ? uint32_t{EPOLLIN} : uint32_t{0}, [this] {
      return [this](uint32_t) { AcceptSome(); };
    });
    if (!s.ok()) Fail(s);
  }

  void Fail(const absl::Status& s) {
    LogDebug(logger_, absl::StrCat("Read error err=\"", s.message(), "\""));
    failed_ = true;
    interest_.Clear(fd_);
  }

  void AcceptSome() {
    WeakFlag::Ref alive = alive_.Weak();
    for (int i = 0; i < kMaxAcceptsPerEvent && accepting(); ++i) {
      SockAddr peer;
      peer.len = sizeof(peer.storage);
      int cfd = accept4(fd_, peer.get(), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (cfd < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) return;
        if (err == EINTR || IsFailedPendingConnection(err)) continue;
        const absl::Status s =
            StatusFromErrno(err, absl::StrCat("accept tcp ", local_.ToString()));
        if (IsTemporaryAcceptError(err)) {
          OnTemporaryError(s);
        } else {
          Fail(s);
        }
        return;
      }
      SetIntOption(cfd, IPPROTO_TCP, TCP_NODELAY, 1);
      absl::StatusOr<Endpoint> remote = FromSockAddr(peer.get(), peer.len);
      absl::StatusOr<Endpoint> local = LocalEndpointOf(cfd);
      auto conn = std::make_unique<SocketConn>(loop_, cfd, local.ok() ? *local : local_,
                                               remote.ok() ? *remote : Endpoint());
      if (on_accept_) on_accept_(std::move(conn));
      if (!alive) return;  // The callback destroyed the listener.
    }
  }

  void OnTemporaryError(const absl::Status& s) {
    const MonoTime now = loop_->Now();
    if (now - last_temporary_log_ > kTemporaryErrorLogInterval) {
      LogDebug(logger_, absl::StrCat("Temporary read error err=\"", s.message(), "\""));
      last_temporary_log_ = now;
    }
    retry_timer_ = loop_->RunAfter(kTemporaryAcceptErrorDelay, [this] {
      retry_timer_ = kNoTimer;
      UpdateInterest();
    });
    UpdateInterest();
  }

  EpollLoop* loop_;
  Logger* logger_;
  const int fd_;
  const Endpoint local_;
  AcceptCallback on_accept_;
  FdInterest interest_;
  bool enabled_ = true;
  bool failed_ = false;
  TimerId retry_timer_ = kNoTimer;
  MonoTime last_temporary_log_ = absl::InfinitePast();
  WeakFlag alive_;  // Last: dies first.
};

// ---------------------------------------------------------------------------
// UDP socket.

// Receive buffer: larger than any UDP payload (65527 for IPv6), so nothing
// is ever truncated.
constexpr size_t kDatagramBufferBytes = 65536;

class UdpSocket final : public PacketSocket {
 public:
  UdpSocket(EpollLoop* loop, Logger* logger, int fd, int family, const Endpoint& local,
            PacketCallback on_packet)
      : loop_(loop),
        logger_(logger),
        fd_(fd),
        family_(family),
        local_(local),
        on_packet_(std::move(on_packet)) {}

  ~UdpSocket() override {
    loop_->Unwatch(fd_);
    close(fd_);
  }

  absl::Status Init() {
    return loop_->Watch(fd_, EPOLLIN, [this](uint32_t) { ReceiveSome(); });
  }

  absl::Status SendTo(const Endpoint& to, absl::Span<const uint8_t> data) override {
    if (data.size() > kMaxDatagramBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("write udp ", to.ToString(), ": datagram of ", data.size(),
                       " bytes exceeds the ", kMaxDatagramBytes, "-byte limit"));
    }
    if (to.port == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("write udp ", to.ToString(), ": port 0"));
    }
    absl::StatusOr<SockAddr> sa = ToSockAddr(to, family_);
    if (!sa.ok()) return sa.status();
    for (;;) {
      ssize_t n = sendto(fd_, data.data(), data.size(), MSG_NOSIGNAL | MSG_DONTWAIT,
                         sa->get(), sa->len);
      if (n >= 0) return absl::OkStatus();
      if (errno == EINTR) continue;
      return StatusFromErrno(errno, absl::StrCat("write udp ", to.ToString()));
    }
  }

  Endpoint LocalEndpoint() const override { return local_; }

 private:
  void ReceiveSome() {
    // On the stack, so the span stays valid even if on_packet_ destroys us.
    uint8_t buf[kDatagramBufferBytes];
    WeakFlag::Ref alive = alive_.Weak();
    for (int i = 0; i < kMaxDatagramsPerEvent; ++i) {
      SockAddr from;
      from.len = sizeof(from.storage);
      ssize_t n = recvfrom(fd_, buf, sizeof(buf), 0, from.get(), &from.len);
      if (n < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK) return;
        // EINTR, and ICMP errors from earlier sends (refused, unreachable),
        // which UDP reports on the next receive; they concern no datagram.
        if (StatusCodeForErrno(err) == absl::StatusCode::kUnavailable) continue;
        LogDebug(logger_, absl::StrCat("UDP read error err=\"",
                                       StatusFromErrno(err, absl::StrCat("read udp ", local_.ToString())).message(),
                                       "\""));
        return;
      }
      absl::StatusOr<Endpoint> sender = FromSockAddr(from.get(), from.len);
      if (!sender.ok()) continue;
      if (on_packet_) on_packet_(*sender, absl::Span<const uint8_t>(buf, static_cast<size_t>(n)));
      if (!alive) return;
    }
  }

  EpollLoop* loop_;
  Logger* logger_;
  const int fd_;
  const int family_;
  const Endpoint local_;
  PacketCallback on_packet_;
  WeakFlag alive_;  // Last: dies first.
};

// Creates a non-blocking, close-on-exec socket for `ip`'s family.
absl::StatusOr<int> NewSocket(const IpAddress& ip, int type, absl::string_view what) {
  int fd = socket(FamilyFor(ip), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return StatusFromErrno(errno, what);
  return fd;
}

// Binds `fd` to `local`; "::" is made dual-stack.
absl::Status Bind(int fd, const Endpoint& local, absl::string_view what) {
  if (!local.ip.is_v4() && local.ip.IsUnspecified() &&
      !SetIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0)) {
    return StatusFromErrno(errno, what);
  }
  const SockAddr sa = ToNativeSockAddr(local);
  if (bind(fd, sa.get(), sa.len) != 0) return StatusFromErrno(errno, what);
  return absl::OkStatus();
}

}  // namespace

// ---------------------------------------------------------------------------
// SocketNetwork.

struct SocketNetwork::PendingDial {
  Endpoint to;
  DialCallback done;
  int fd = -1;
  bool watched = false;
  TimerId timer = kNoTimer;
};

SocketNetwork::SocketNetwork(EpollLoop* loop, Logger* logger)
    : loop_(loop), logger_(logger != nullptr ? logger : DiscardLogger()) {}

SocketNetwork::~SocketNetwork() {
  std::map<uint64_t, std::unique_ptr<PendingDial>> dials = std::move(dials_);
  dials_.clear();
  for (auto& [id, d] : dials) ReleaseDialSocket(*d);
  // `dials` now destroys the callbacks without running them.
}

void SocketNetwork::ReleaseDialSocket(PendingDial& d) {
  if (d.timer != kNoTimer) {
    loop_->Cancel(d.timer);
    d.timer = kNoTimer;
  }
  if (d.watched) {
    loop_->Unwatch(d.fd);
    d.watched = false;
  }
  if (d.fd >= 0) {
    close(d.fd);
    d.fd = -1;
  }
}

void SocketNetwork::Dial(const Endpoint& to, absl::Duration timeout, DialCallback done) {
  const uint64_t id = next_dial_id_++;
  auto owned = std::make_unique<PendingDial>();
  PendingDial& d = *owned;
  d.to = to;
  d.done = std::move(done);
  dials_.emplace(id, std::move(owned));

  const std::string what = absl::StrCat("dial tcp ", to.ToString());
  if (to.port == 0 || to.ip.IsUnspecified()) {
    PostDialResult(id, absl::InvalidArgumentError(absl::StrCat(what, ": invalid address")));
    return;
  }
  absl::StatusOr<int> fd = NewSocket(to.ip, SOCK_STREAM, what);
  if (!fd.ok()) {
    PostDialResult(id, fd.status());
    return;
  }
  d.fd = *fd;
  if (!SetIntOption(d.fd, IPPROTO_TCP, TCP_NODELAY, 1)) {
    PostDialResult(id, StatusFromErrno(errno, what));
    return;
  }
  const SockAddr sa = ToNativeSockAddr(to);
  if (connect(d.fd, sa.get(), sa.len) == 0) {
    // Connected at once (possible on loopback); still reported from the loop.
    absl::StatusOr<Endpoint> local = LocalEndpointOf(d.fd);
    auto conn = std::make_unique<SocketConn>(loop_, d.fd, local.ok() ? *local : Endpoint(), to);
    d.fd = -1;
    PostDialResult(id, std::unique_ptr<Conn>(std::move(conn)));
    return;
  }
  if (errno != EINPROGRESS) {
    PostDialResult(id, StatusFromErrno(errno, what));
    return;
  }
  absl::Status s = loop_->Watch(d.fd, EPOLLOUT, [this, id](uint32_t) { OnDialReady(id); });
  if (!s.ok()) {
    PostDialResult(id, s);
    return;
  }
  d.watched = true;
  d.timer = loop_->RunAfter(timeout, [this, id, what] {
    auto it = dials_.find(id);
    if (it == dials_.end()) return;
    it->second->timer = kNoTimer;
    FinishDial(id, absl::DeadlineExceededError(absl::StrCat(what, ": i/o timeout")));
  });
}

void SocketNetwork::OnDialReady(uint64_t id) {
  auto it = dials_.find(id);
  if (it == dials_.end()) return;
  PendingDial& d = *it->second;
  const std::string what = absl::StrCat("dial tcp ", d.to.ToString());
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(d.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  if (err == 0 && !RemoteEndpointOf(d.fd).ok()) err = ENOTCONN;  // Hung up.
  if (err != 0) {
    FinishDial(id, StatusFromErrno(err, what));
    return;
  }
  loop_->Unwatch(d.fd);
  d.watched = false;
  absl::StatusOr<Endpoint> local = LocalEndpointOf(d.fd);
  auto conn = std::make_unique<SocketConn>(loop_, d.fd, local.ok() ? *local : Endpoint(), d.to);
  d.fd = -1;
  FinishDial(id, std::unique_ptr<Conn>(std::move(conn)));
}

void SocketNetwork::FinishDial(uint64_t id, absl::StatusOr<std::unique_ptr<Conn>> result) {
  auto it = dials_.find(id);
  if (it == dials_.end()) return;
  std::unique_ptr<PendingDial> d = std::move(it->second);
  dials_.erase(it);
  ReleaseDialSocket(*d);
  DialCallback done = std::move(d->done);
  d.reset();
  done(std::move(result));  // May destroy *this: nothing follows.
}

void SocketNetwork::PostDialResult(uint64_t id,
                                   absl::StatusOr<std::unique_ptr<Conn>> result) {
  ReleaseDialSocket(*dials_.at(id));
  loop_->Post([this, alive = alive_.Weak(), id, result = std::move(result)]() mutable {
    if (!alive) return;
    FinishDial(id, std::move(result));
  });
}

absl::StatusOr<std::unique_ptr<Listener>> SocketNetwork::Listen(
    const Endpoint& local, Listener::AcceptCallback on_accept) {
  const std::string what = absl::StrCat("listen tcp ", local.ToString());
  absl::StatusOr<int> fd = NewSocket(local.ip, SOCK_STREAM, what);
  if (!fd.ok()) return fd.status();
  absl::Status s;
  if (!SetIntOption(*fd, SOL_SOCKET, SO_REUSEADDR, 1)) s = StatusFromErrno(errno, what);
  if (s.ok()) s = Bind(*fd, local, what);
  if (s.ok() && listen(*fd, kListenBacklog) != 0) s = StatusFromErrno(errno, what);
  absl::StatusOr<Endpoint> bound = s.ok() ? LocalEndpointOf(*fd) : absl::StatusOr<Endpoint>(s);
  if (!bound.ok()) {
    close(*fd);
    return bound.status();
  }
  auto listener =
      std::make_unique<SocketListener>(loop_, logger_, *fd, *bound, std::move(on_accept));
  s = listener->Init();
  if (!s.ok()) return s;  // The listener closes the fd.
  return std::unique_ptr<Listener>(std::move(listener));
}

absl::StatusOr<std::unique_ptr<PacketSocket>> SocketNetwork::OpenPacketSocket(
    const Endpoint& local, PacketSocket::PacketCallback on_packet) {
  const std::string what = absl::StrCat("listen udp ", local.ToString());
  absl::StatusOr<int> fd = NewSocket(local.ip, SOCK_DGRAM, what);
  if (!fd.ok()) return fd.status();
  absl::Status s = Bind(*fd, local, what);
  absl::StatusOr<Endpoint> bound = s.ok() ? LocalEndpointOf(*fd) : absl::StatusOr<Endpoint>(s);
  if (!bound.ok()) {
    close(*fd);
    return bound.status();
  }
  auto sock = std::make_unique<UdpSocket>(loop_, logger_, *fd, FamilyFor(local.ip), *bound,
                                          std::move(on_packet));
  s = sock->Init();
  if (!s.ok()) return s;
  return std::unique_ptr<PacketSocket>(std::move(sock));
}

}  // namespace p2p::transport
