// The transport seam: stream connections, dialing, listening and datagrams.
// core/ talks to the network only through these interfaces; transport/
// implements them over real sockets (epoll), sim/ over a modelled network.
//
// Rules shared by every implementation:
//  - Everything is called on, and every callback runs on, the EventLoop the
//    object was created for. No callback ever runs inside the call that
//    caused it (it is posted), so callers may hold state across calls.
//  - Errors are absl::Status values; OS errno codes are mapped once, in
//    transport/.
//  - Ownership: whoever receives a std::unique_ptr owns it; destroying an
//    object cancels its callbacks (none run afterwards) and releases the
//    socket. Raw pointers never own.
#ifndef P2P_CORE_NET_TRANSPORT_H_
#define P2P_CORE_NET_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/net/ip.h"

namespace p2p {

// A reliable, ordered byte stream (TCP-like).
class Conn {
 public:
  // Receives bytes in order. The span is valid only during the call.
  using ReadCallback = absl::AnyInvocable<void(absl::Span<const uint8_t> data)>;
  // Called once when the stream ends: OkStatus for an orderly close by the
  // peer (EOF) or by Close(), an error (kUnavailable: reset/refused/network,
  // kDeadlineExceeded: timeout) otherwise.
  using CloseCallback = absl::AnyInvocable<void(const absl::Status& why)>;

  virtual ~Conn() = default;

  // Starts delivering data. Call once; data arriving earlier is buffered.
  virtual void Start(ReadCallback on_read, CloseCallback on_close) = 0;

  // Queues bytes for sending; never blocks, never fails synchronously (a
  // failure surfaces through the close callback). Writes after Close are
  // dropped.
  virtual void Write(absl::Span<const uint8_t> data) = 0;

  // Bytes queued but not yet handed to the network, for back-pressure.
  virtual size_t PendingWriteBytes() const = 0;

  // Stops reading and closes. If `flush`, queued writes are sent first
  // (the caller bounds this with its own timer and calls Close(false) to
  // give up). The close callback then runs once with `why`.
  virtual void Close(const absl::Status& why, bool flush) = 0;

  virtual Endpoint RemoteEndpoint() const = 0;
  virtual Endpoint LocalEndpoint() const = 0;
};

// Opens outbound connections.
class Dialer {
 public:
  // Gets the connection, or why it failed: kUnavailable (refused, reset,
  // unreachable), kDeadlineExceeded (timeout), kInvalidArgument (bad
  // address). Called exactly once, never inline, on the loop. If the Dialer
  // is destroyed first, pending callbacks are dropped without running.
  using DialCallback =
      absl::AnyInvocable<void(absl::StatusOr<std::unique_ptr<Conn>> conn)>;

  virtual ~Dialer() = default;

  // Connects to `to`, giving up after `timeout`.
  virtual void Dial(const Endpoint& to, absl::Duration timeout,
                    DialCallback done) = 0;
};

// Accepts inbound connections on a bound address.
class Listener {
 public:
  using AcceptCallback = absl::AnyInvocable<void(std::unique_ptr<Conn> conn)>;

  virtual ~Listener() = default;  // Stops listening.

  // The bound address (with the real port when bound to port 0).
  virtual Endpoint LocalEndpoint() const = 0;

  // Flow control for the accept loop (go-ethereum's MaxPendingPeers
  // tokens): while disabled no connection is accepted and the backlog is
  // left to the network. Enabled when created.
  virtual void SetAcceptEnabled(bool enabled) = 0;
};

// Unreliable datagrams (UDP-like), for discovery.
class PacketSocket {
 public:
  // The span is valid only during the call.
  using PacketCallback =
      absl::AnyInvocable<void(const Endpoint& from, absl::Span<const uint8_t> data)>;

  virtual ~PacketSocket() = default;

  // Sends one datagram; kInvalidArgument if too large for the transport,
  // kUnavailable if it could not be queued. Delivery is never guaranteed.
  virtual absl::Status SendTo(const Endpoint& to,
                              absl::Span<const uint8_t> data) = 0;
  virtual Endpoint LocalEndpoint() const = 0;
};

// A node's access to the network: the factory for the three objects above.
// Wrappers (fault injection, accounting) derive from NetworkWrapper and
// override only what they change, as leveldb's EnvWrapper.
class Network : public Dialer {
 public:
  // Binds and listens on `local` (port 0 picks a free port).
  virtual absl::StatusOr<std::unique_ptr<Listener>> Listen(
      const Endpoint& local, Listener::AcceptCallback on_accept) = 0;

  // Binds a datagram socket on `local` (port 0 picks a free port).
  virtual absl::StatusOr<std::unique_ptr<PacketSocket>> OpenPacketSocket(
      const Endpoint& local, PacketSocket::PacketCallback on_packet) = 0;
};

// Forwards every call to another Network, which must outlive it.
class NetworkWrapper : public Network {
 public:
  explicit NetworkWrapper(Network* target) : target_(target) {}
  Network* target() const { return target_; }

  void Dial(const Endpoint& to, absl::Duration timeout,
            DialCallback done) override {
    target_->Dial(to, timeout, std::move(done));
  }
  absl::StatusOr<std::unique_ptr<Listener>> Listen(
      const Endpoint& local, Listener::AcceptCallback on_accept) override {
    return target_->Listen(local, std::move(on_accept));
  }
  absl::StatusOr<std::unique_ptr<PacketSocket>> OpenPacketSocket(
      const Endpoint& local, PacketSocket::PacketCallback on_packet) override {
    return target_->OpenPacketSocket(local, std::move(on_packet));
  }

 private:
  Network* target_;
};

}  // namespace p2p

#endif  // P2P_CORE_NET_TRANSPORT_H_
