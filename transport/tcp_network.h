// p2p::Network over real sockets, driven by an EpollLoop: TCP for Dial and
// Listen, UDP for OpenPacketSocket. IPv4 and IPv6; listening on "::" is
// dual-stack (IPv4 peers appear as IPv4 endpoints).
//
// Behaviour beyond the contracts in core/net/transport.h:
//  - Every TCP connection has TCP_NODELAY; listeners set SO_REUSEADDR.
//    Writes use MSG_NOSIGNAL, so a closed peer never raises SIGPIPE.
//  - Dial is a non-blocking connect completed by EPOLLOUT + SO_ERROR. On
//    timeout the socket is closed and the callback gets kDeadlineExceeded
//    "dial tcp <addr>: i/o timeout". Port 0 or an unspecified address is
//    kInvalidArgument. OS errors are mapped by StatusFromErrno (refused,
//    reset, unreachable: kUnavailable).
//  - Conn: Write sends directly while nothing is queued and queues the rest
//    (unbounded; the caller watches PendingWriteBytes), flushed on EPOLLOUT.
//    Bytes arriving before Start stay in the kernel (the socket is not read
//    until Start). EOF ends the stream with OkStatus; read/write errors with
//    the mapped error. Close(why, flush=true) stops reading, sends the
//    queue, then shuts down the sending side (FIN), discards whatever the
//    peer had already sent (closing with unread data would make the kernel
//    send RST) and closes; a write error during the flush still reports
//    `why`. A second Close(why2, false) while flushing abandons the flush;
//    the callback still reports the first `why`. The close callback is
//    always posted, runs exactly once (also when the stream ended before
//    Start: it is then posted by Start), and never after the Conn is gone.
//  - Listener: accepts in a loop (at most kMaxAcceptsPerEvent per wake-up)
//    while enabled; SetAcceptEnabled(false) drops the EPOLLIN interest, so
//    pending connections wait in the kernel backlog. The accept callback
//    runs on the loop, never inside SetAcceptEnabled or Listen. Temporary
//    accept errors (EMFILE, ENFILE, ENOBUFS, ENOMEM) are logged at Debug as
//    go-ethereum does ("Temporary read error", at most once a second) and
//    accepting resumes after kTemporaryAcceptErrorDelay; connections that
//    failed before being accepted (ECONNABORTED and Linux's other
//    pass-through errors) are skipped; any other error is logged ("Read
//    error") and the listener stops accepting for good.
//  - PacketSocket: SendTo rejects payloads over kMaxDatagramBytes with
//    kInvalidArgument, returns kUnavailable when the socket buffer is full
//    (EAGAIN/ENOBUFS), and never blocks. Received datagrams are delivered
//    as (sender, bytes), at most kMaxDatagramsPerEvent per wake-up. ICMP
//    errors reported on receive are ignored. An IPv4 socket cannot send to
//    an IPv6 endpoint (kInvalidArgument); an IPv6 socket bound to "::" can
//    send to both.
//
// Lifetimes: `loop` and `logger` must outlive the SocketNetwork and every
// Conn, Listener and PacketSocket it creates; those objects do not depend on
// the SocketNetwork itself. Loop-thread only.
#ifndef P2P_TRANSPORT_TCP_NETWORK_H_
#define P2P_TRANSPORT_TCP_NETWORK_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "core/weak_flag.h"
#include "transport/epoll_loop.h"

namespace p2p::transport {

// Largest UDP payload SendTo accepts: 65535 - 20 (IPv4 header) - 8 (UDP
// header). Also applied to IPv6, whose limit is slightly higher, so a
// message that fits one family fits the other.
inline constexpr size_t kMaxDatagramBytes = 65507;
// go-ethereum's listenLoop sleeps this long after a temporary accept error.
inline constexpr absl::Duration kTemporaryAcceptErrorDelay = absl::Milliseconds(200);
// Accept queue length passed to listen(2).
inline constexpr int kListenBacklog = 128;
// Per-wake-up bounds, so one busy socket cannot monopolise the loop.
inline constexpr int kMaxAcceptsPerEvent = 64;
inline constexpr int kMaxDatagramsPerEvent = 64;
inline constexpr size_t kReadChunkBytes = 64 * 1024;
inline constexpr int kMaxReadsPerEvent = 16;
inline constexpr size_t kMaxWriteBytesPerEvent = 4 * 1024 * 1024;

class SocketNetwork : public Network {
 public:
  // `logger` may be null (logs are discarded).
  explicit SocketNetwork(EpollLoop* loop, Logger* logger = nullptr);
  // Abandons pending dials: their sockets are closed and their callbacks
  // destroyed without running. Connections already handed out live on.
  ~SocketNetwork() override;
  SocketNetwork(const SocketNetwork&) = delete;
  SocketNetwork& operator=(const SocketNetwork&) = delete;

  void Dial(const Endpoint& to, absl::Duration timeout,
            DialCallback done) override;
  absl::StatusOr<std::unique_ptr<Listener>> Listen(
      const Endpoint& local, Listener::AcceptCallback on_accept) override;
  absl::StatusOr<std::unique_ptr<PacketSocket>> OpenPacketSocket(
      const Endpoint& local, PacketSocket::PacketCallback on_packet) override;

  // Dials whose callback has not run yet.
  size_t pending_dials() const { return dials_.size(); }

 private:
  struct PendingDial;

  void OnDialReady(uint64_t id);
  // Cleans up dial `id` and runs its callback now (on the loop).
  void FinishDial(uint64_t id, absl::StatusOr<std::unique_ptr<Conn>> result);
  // Cleans up dial `id` now and runs its callback from a posted task.
  void PostDialResult(uint64_t id, absl::StatusOr<std::unique_ptr<Conn>> result);
  void ReleaseDialSocket(PendingDial& d);

  EpollLoop* loop_;
  Logger* logger_;
  uint64_t next_dial_id_ = 1;
  std::map<uint64_t, std::unique_ptr<PendingDial>> dials_;
  WeakFlag alive_;  // Last: dies first.
};

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_TCP_NETWORK_H_
