// Sub-protocols run on peers (go-ethereum p2p.Protocol and its MsgReadWriter),
// in event-loop form: instead of a goroutine that reads messages, a protocol
// gets a session object per peer whose OnMessage is called for each message.
//
// Message codes seen by a protocol are relative: 0 .. length-1. The server
// maps them to the connection's code space (offset from capability matching,
// rlpx::MatchProtocols) in both directions.
//
// Everything runs on the server's EventLoop. A session must not destroy the
// server or the peer from inside its callbacks; to end the connection it
// calls ProtocolConn::Disconnect (or returns an error from OnMessage).
#ifndef P2P_CORE_SERVER_PROTOCOL_H_
#define P2P_CORE_SERVER_PROTOCOL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "core/rlpx/p2p_protocol.h"

namespace p2p {

// The peer as one protocol sees it. Valid until the session's OnClose.
class ProtocolConn {
 public:
  virtual ~ProtocolConn() = default;
  virtual const Node& node() const = 0;
  virtual const std::string& name() const = 0;  // Their client id (Hello).
  virtual bool inbound() const = 0;
  // Sends message `code` (relative, < the protocol's length; otherwise
  // InvalidArgument "msg code out of range"). FailedPrecondition once the
  // connection is closing.
  virtual absl::Status Send(uint64_t code, absl::Span<const uint8_t> payload) = 0;
  // Ends the whole connection with `reason`.
  virtual void Disconnect(rlpx::DisconnectReason reason) = 0;
};

// One protocol running on one peer.
class ProtocolSession {
 public:
  virtual ~ProtocolSession() = default;
  // A message for this protocol (`code` relative). The payload is valid only
  // during the call. A non-OK result disconnects the peer with
  // DiscSubprotocolError (go-ethereum: a protocol's Run returning an error).
  virtual absl::Status OnMessage(uint64_t code, absl::Span<const uint8_t> payload) = 0;
  // The connection ended (the session is destroyed right after).
  virtual void OnClose(rlpx::DisconnectReason reason) { (void)reason; }
};

// A protocol the server offers. `run` is called when a peer that shares the
// capability is added; it may return nullptr (the protocol then accepts and
// ignores every message, as the no-op handlers of `p2pnode --caps` do).
struct Protocol {
  std::string name;
  uint64_t version = 0;
  uint64_t length = 0;  // Message codes used.
  absl::AnyInvocable<std::unique_ptr<ProtocolSession>(ProtocolConn* conn)> run;
};

}  // namespace p2p

#endif  // P2P_CORE_SERVER_PROTOCOL_H_
