// The devp2p server (go-ethereum p2p.Server) on one EventLoop, over the
// abstract transport: it listens, dials through a DialPolicy of either
// generation, sets every connection up through the RLPx handshakes and the
// server's checks, and runs the peers and their sub-protocols. The same code
// runs over real sockets (transport/) and in the simulator (sim/).
//
// Connection setup (go-ethereum SetupConn and its two checkpoints):
//   inbound only: NetRestrict, then the per-IP inbound throttle (an IP seen
//     within the last 30 s is refused "too many attempts", except LAN
//     addresses), before any handshake;
//   1. encryption handshake (5 s);
//   2. checkpoint "posthandshake": the trusted flag is set, then
//      postHandshakeChecks in go-ethereum's order:
//        !trusted && peers >= MaxPeers                          TooManyPeers
//        !trusted && inbound && inbound peers >= MaxInbound     TooManyPeers
//        already a peer                                         AlreadyConnected
//        our own ID                                             Self
//      An inbound connection passing it is reported to the dialer as pending
//      (so the dialer does not dial the same node meanwhile);
//   3. protocol handshake (Hello both ways, 5 s; RlpxConn checks it);
//   4. checkpoint "addpeer": no shared capability (when we run protocols)
//      -> UselessPeer, then postHandshakeChecks again; on success the peer is
//      added and its protocol sessions start.
// A failing step sends Disconnect(reason) (1 s to flush) unless the reason is
// a network error, and closes.
//
// Limits: MaxPeers in total; dialed peers are bounded by the dialer
// (MaxDialedConns = max(1, MaxPeers / DialRatio), 0 with NoDial or
// MaxPeers 0; the v1.8.24 generation uses MaxPeers / DialRatio); inbound
// peers by MaxPeers - MaxDialedConns; at most MaxPendingPeers inbound
// connections in setup at once (the listener stops accepting while all
// tokens are taken). Trusted nodes bypass both TooManyPeers checks.
//
// Lifetime: Start once; Stop once (a server cannot be restarted). Stop
// closes the listener, stops the dialer, sends DiscQuitting to every peer
// and ends every connection in setup; stopped() turns true, and the
// on_stopped callback runs (posted), when the last connection has closed.
// Destroying the server closes everything at once without callbacks.
// All methods must be called on the loop.
#ifndef P2P_CORE_SERVER_SERVER_H_
#define P2P_CORE_SERVER_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/crypto/secp256k1.h"
#include "core/dial/conn_flags.h"
#include "core/dial/dial_policy.h"
#include "core/dial/dial_services.h"
#include "core/dial/node_iterator.h"
#include "core/event_loop.h"
#include "core/log.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "core/node.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/rlpx_conn.h"
#include "core/rng.h"
#include "core/server/protocol.h"
#include "core/weak_flag.h"

namespace p2p {

// go-ethereum inboundThrottleTime.
inline constexpr absl::Duration kInboundThrottleTime = absl::Seconds(30);
inline constexpr int kDefaultMaxPeers = 50;
inline constexpr absl::Duration kBootnodeCandidateInterval = absl::Seconds(1);
// go-ethereum's discmixTimeout: how long the discovery mix (a FairMix over
// the discovery sources, whose output is ServerDeps::candidates) waits for
// one source before taking a node from another.
inline constexpr absl::Duration kDiscmixTimeout = absl::Seconds(5);

struct ServerConfig {
  std::optional<PrivateKey> key;  // Required: the node key.
  std::string name = "p2pnode";   // Client id in our Hello.
  int max_peers = kDefaultMaxPeers;
  int max_pending_peers = 0;  // 0: kDefaultMaxPendingPeers (50).
  int dial_ratio = 0;         // 0: kDefaultDialRatio (3).
  bool no_dial = false;
  DialGeneration dial_generation = DialGeneration::kCurrent;
  // Listen address; nullopt: do not listen (dial only). Port 0 picks one.
  std::optional<Endpoint> listen;
  // Address advertised in our node record (ext IP); default: the listen IP.
  std::optional<IpAddress> ext_ip;
  std::vector<Node> static_nodes;
  std::vector<Node> trusted_nodes;
  // Bootnodes. v1.8.24 generation: the fallback dials when there are no
  // peers. Current generation without deps.candidates (no discovery): they
  // are its dynamic candidates, cycled one per kBootnodeCandidateInterval
  // (the dial history spaces repeats to the same node).
  std::vector<Node> bootnodes;
  std::optional<IpNetList> net_restrict;
  std::vector<Protocol> protocols;
  absl::Duration dial_timeout = kDefaultDialTimeout;
  rlpx::RlpxConnOptions conn_options;
  // Dial task watchdog (DialConfig::task_timeout).
  absl::Duration dial_task_timeout = absl::Seconds(60);
};

// One observable server step, for traces, metrics and tests.
struct ServerEvent {
  enum class Kind {
    kInboundRejected,  // Refused before any handshake (NetRestrict, throttle).
    kSetupFailed,      // A connection ended before becoming a peer.
    kPeerAdded,
    kPeerDropped,
  };
  Kind kind;
  NodeId id;  // Zero when not known yet.
  ConnFlags flags = 0;
  Endpoint remote;
  rlpx::DisconnectReason reason = rlpx::DisconnectReason::kRequested;
  bool remote_requested = false;
  std::string detail;                    // Error text (setup failures, rejections).
  std::string stage;                     // kSetupFailed: "encryption", "posthandshake",
                                         // "protocol", "addpeer".
  uint64_t msgs_in = 0, msgs_out = 0;    // kPeerDropped: sub-protocol msgs.
  uint64_t bytes_in = 0, bytes_out = 0;  // kPeerDropped, kSetupFailed.
  absl::Duration connected;              // kPeerDropped.
};

absl::string_view ServerEventKindName(ServerEvent::Kind kind);

class ServerObserver {
 public:
  virtual ~ServerObserver() = default;
  // Called synchronously on the loop; must not call back into the server.
  virtual void OnServerEvent(const ServerEvent& event) = 0;
};

// Counters; maps are ordered for deterministic output.
struct ServerStats {
  int64_t inbound_accepted = 0;
  std::map<std::string, int64_t> inbound_rejected;  // reason -> count
  // Setup failures by "<stage>: <reason>" text.
  std::map<std::string, int64_t> setup_failures;
  int64_t peers_added = 0;
  int64_t peak_peers = 0;                        // Most peers ever connected at once.
  std::map<std::string, int64_t> peers_dropped;  // reason -> count
  uint64_t bytes_in = 0;                         // All connections, closed and live.
  uint64_t bytes_out = 0;
};

struct PeerInfo {
  Node node;         // Dialed: the dial target; inbound: key + remote address.
  std::string name;  // Their client id.
  std::vector<rlpx::Cap> caps;
  ConnFlags flags = 0;
  Endpoint remote;
  Endpoint local;
  MonoTime added;
  uint64_t bytes_in = 0, bytes_out = 0, msgs_in = 0, msgs_out = 0;
  bool inbound() const { return (flags & kInboundConn) != 0; }
  bool is_static() const { return (flags & kStaticDialedConn) != 0; }
  bool trusted() const { return (flags & kTrustedConn) != 0; }
};

// What the server uses and does not own; pointers must outlive it.
struct ServerDeps {
  EventLoop* loop = nullptr;
  Network* net = nullptr;
  Entropy* entropy = nullptr;  // Handshake keys and nonces.
  Rng rng{0};                  // Dialer randomness (static picks).
  // Current generation: dynamic dial candidates (discovery). Nullable: the
  // bootnodes are cycled instead.
  NodeIterator* candidates = nullptr;
  DiscoveryTable* table = nullptr;        // v1.8.24 generation; nullable.
  NodeResolver* resolver = nullptr;       // Nullable.
  HostResolver* dns = nullptr;            // Nullable.
  Logger* log = nullptr;                  // Nullable.
  ServerObserver* observer = nullptr;     // Nullable.
  DialObserver* dial_observer = nullptr;  // Nullable.
};

class Server {
 public:
  Server(ServerConfig config, ServerDeps deps);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Validates the config (InvalidArgument naming the bad field), listens
  // and starts dialing. FailedPrecondition if started before.
  absl::Status Start();
  // Begins shutdown (see the file comment). Idempotent; `on_stopped` (may be
  // empty) runs once, posted, when the last connection is gone.
  void Stop(absl::AnyInvocable<void()> on_stopped = nullptr);
  bool running() const { return state_ == State::kRunning; }
  bool stopped() const { return state_ == State::kStopped; }

  // Runs connection setup on an already connected transport (go-ethereum
  // SetupConn): `dial_dest` set for connections we dialed (its key is the
  // identity the encryption handshake must prove), nullopt for inbound ones
  // (the inbound checks then apply, and an accept token is taken). Errors,
  // synchronous: FailedPrecondition "server stopped" when not running;
  // InvalidArgument "dial destination doesn't have a secp256k1 public key".
  // The outcome is reported through ServerObserver (and `done`, if given).
  absl::Status SetupConn(std::unique_ptr<p2p::Conn> conn, ConnFlags flags,
                         std::optional<Node> dial_dest, NodeDialer::DoneCallback done = nullptr);

  // Static peers (go-ethereum AddPeer/RemovePeer). RemovePeer also drops a
  // connected peer with DiscRequested.
  void AddPeer(const Node& node);
  void RemovePeer(const Node& node);
  // Trusted peers: bypass the peer limits; toggles the flag on a live peer.
  void AddTrustedPeer(const Node& node);
  void RemoveTrustedPeer(const Node& node);
  // Disconnects a connected peer with `reason`; false if not connected.
  bool DisconnectPeer(const NodeId& id, rlpx::DisconnectReason reason);

  // Our node: ID, advertised IP, listening TCP port (after Start).
  const Node& Self() const { return self_; }
  std::optional<Endpoint> ListenEndpoint() const;
  std::vector<rlpx::Cap> Caps() const;
  std::vector<PeerInfo> Peers() const;  // Ordered by node ID.
  int PeerCount() const { return static_cast<int>(peers_.size()); }
  int InboundCount() const { return inbound_count_; }
  std::vector<Node> StaticNodes() const;   // Ordered by node ID.
  std::vector<Node> TrustedNodes() const;  // Ordered by node ID.
  // Connections in setup (not yet peers).
  int PendingConnections() const { return static_cast<int>(conns_.size() - peers_.size()); }
  ServerStats stats() const;
  const DialPolicy* dialer() const { return dial_.get(); }
  int MaxDialedConns() const;
  int MaxInboundConns() const;

 private:
  class Conn;
  class ConnDialer;
  friend class Conn;
  enum class State { kNew, kRunning, kStopping, kStopped };

  absl::Status ValidateConfig() const;
  void OnAccept(std::unique_ptr<p2p::Conn> conn);
  absl::Status CheckInboundConn(const IpAddress& ip);
  void StartDial(const Node& dest, ConnFlags flags, NodeDialer::DoneCallback done);
  Conn* AddConn(std::unique_ptr<Conn> conn);
  // Checkpoints, called by Conn.
  void PostHandshake(Conn* c);
  void AddPeerCheckpoint(Conn* c);
  std::optional<rlpx::DisconnectReason> PostHandshakeChecks(const Conn* c) const;
  void OnConnClosed(Conn* c, const rlpx::CloseInfo& info);
  void ReleaseInboundToken();
  void Emit(const ServerEvent& e);
  void MaybeFinishStop();
  Logger* log() const { return log_; }

  ServerConfig config_;
  ServerDeps deps_;
  Logger* log_;
  State state_ = State::kNew;
  Node self_;
  PublicKey self_pub_;
  rlpx::Hello our_hello_;
  std::vector<rlpx::Protocol> caps_;  // Name/version/length of protocols.
  std::unique_ptr<Listener> listener_;
  int accept_tokens_ = 0;
  std::unique_ptr<ConnDialer> node_dialer_;
  std::unique_ptr<NodeIterator> own_candidates_;
  std::unique_ptr<DialPolicy> dial_;
  uint64_t next_conn_seq_ = 0;
  std::map<uint64_t, std::unique_ptr<Conn>> conns_;  // Every live connection.
  std::map<NodeId, Conn*> peers_;
  int inbound_count_ = 0;
  std::map<NodeId, Node> trusted_;
  std::map<NodeId, Node> static_;
  // Inbound throttle: (expiry, ip) in arrival order; expiries only grow.
  std::vector<std::pair<MonoTime, IpAddress>> inbound_history_;
  size_t inbound_history_head_ = 0;
  std::map<IpAddress, int> inbound_history_count_;
  ServerStats stats_;
  absl::AnyInvocable<void()> on_stopped_;
  WeakFlag alive_;  // Last: dies first.
};

}  // namespace p2p

#endif  // P2P_CORE_SERVER_SERVER_H_
