#include "core/server/server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/crypto/keccak.h"

namespace p2p {

using rlpx::CloseInfo;
using rlpx::DisconnectReason;
using rlpx::DisconnectReasonString;
using rlpx::RlpxConn;

absl::string_view ServerEventKindName(ServerEvent::Kind kind) {
  switch (kind) {
    case ServerEvent::Kind::kInboundRejected:
      return "inbound-rejected";
    case ServerEvent::Kind::kSetupFailed:
      return "setup-failed";
    case ServerEvent::Kind::kPeerAdded:
      return "peer-added";
    case ServerEvent::Kind::kPeerDropped:
      return "peer-dropped";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------
// One connection, from accept/dial through setup to the end of the peer.

class Server::Conn final : public RlpxConn::Handler {
 public:
  enum class Stage { kEncryption, kPostHandshake, kProtocol, kAddPeer, kPeer };
  static const char* StageName(Stage stage) {
    switch (stage) {
      case Stage::kEncryption:
        return "encryption";
      case Stage::kPostHandshake:
        return "posthandshake";
      case Stage::kProtocol:
        return "protocol";
      case Stage::kAddPeer:
        return "addpeer";
      case Stage::kPeer:
        return "peer";
    }
    return "peer";
  }

  Conn(Server* srv, uint64_t seq, ConnFlags flags, std::optional<Node> dest,
       NodeDialer::DoneCallback done)
      : srv_(srv), seq_(seq), flags_(flags), dialed_(dest.has_value()), done_(std::move(done)) {
    if (dest) node_ = std::move(*dest);
  }

  void Begin(std::unique_ptr<p2p::Conn> conn) {
    remote_ = conn->RemoteEndpoint();
    local_ = conn->LocalEndpoint();
    if (dialed_) {
      rlpx_ =
          RlpxConn::Dial(srv_->deps_.loop, std::move(conn), &*srv_->config_.key, node_.pubkey,
                         srv_->our_hello_, srv_->deps_.entropy, this, srv_->config_.conn_options);
    } else {
      rlpx_ =
          RlpxConn::Accept(srv_->deps_.loop, std::move(conn), &*srv_->config_.key, srv_->our_hello_,
                           srv_->deps_.entropy, this, srv_->config_.conn_options);
    }
  }

  // RlpxConn::Handler.
  void OnEncryptionHandshake(RlpxConn* c, const PublicKey& remote) override {
    if (!dialed_) node_ = Node::FromPublicKey(remote, remote_.ip, remote_.port, remote_.port);
    stage_ = Stage::kPostHandshake;
    (void)c;
    srv_->PostHandshake(this);
  }
  void OnHello(RlpxConn* c, const rlpx::Hello& hello) override {
    (void)c;
    // RlpxConn already rejected a bad identity; the ID must also be the key
    // the encryption handshake authenticated.
    if (NodeId(Keccak256Hash(hello.id)) != node_.id) {
      Fail(DisconnectReason::kUnexpectedIdentity);
      return;
    }
    name_ = hello.name;
    caps_ = hello.caps;
    stage_ = Stage::kAddPeer;
    srv_->AddPeerCheckpoint(this);
  }
  void OnMessage(RlpxConn* c, uint64_t code, absl::Span<const uint8_t> payload) override {
    (void)c;
    for (size_t i = 0; i < matched_.size(); ++i) {
      const rlpx::MatchedProtocol& m = matched_[i];
      if (code < m.offset || code >= m.offset + m.protocol.length) continue;
      ++msgs_in_;
      if (sessions_[i] == nullptr) return;
      absl::Status s = sessions_[i]->OnMessage(code - m.offset, payload);
      if (!s.ok()) {
        LogDebug(absl::StrCat("protocol ", m.protocol.name, " error: ", s.message()));
        rlpx_->Disconnect(DisconnectReason::kSubprotocolError);
      }
      return;
    }
    // go-ethereum: errInvalidMsgCode, a protocol error.
    LogDebug(absl::StrCat("msg code out of range: ", code));
    rlpx_->Disconnect(DisconnectReason::kProtocolError);
  }
  void OnClosed(RlpxConn* c, const CloseInfo& info) override {
    (void)c;
    srv_->OnConnClosed(this, info);  // Destroys *this.
  }

  bool inbound() const { return (flags_ & kInboundConn) != 0; }
  void Disconnect(DisconnectReason reason) { rlpx_->Disconnect(reason); }

  // Continues past a checkpoint or ends the connection.
  void Continue() {
    if (stage_ == Stage::kPostHandshake) stage_ = Stage::kProtocol;
    rlpx_->ContinueHandshake();
  }
  void Fail(DisconnectReason reason) {
    fail_stage_ = stage_;
    rlpx_->Disconnect(reason);
  }

  // Starts the protocol sessions of a new peer.
  void StartPeer(std::vector<rlpx::MatchedProtocol> matched) {
    stage_ = Stage::kPeer;
    added_ = srv_->deps_.loop->Now();
    matched_ = std::move(matched);
    ports_.reserve(matched_.size());
    for (const rlpx::MatchedProtocol& m : matched_) {
      ports_.push_back(std::make_unique<ProtocolPort>(this, m.offset, m.protocol.length));
    }
    sessions_.resize(matched_.size());
    for (size_t i = 0; i < matched_.size(); ++i) {
      for (Protocol& p : srv_->config_.protocols) {
        if (p.name == matched_[i].protocol.name && p.version == matched_[i].protocol.version &&
            p.run) {
          sessions_[i] = p.run(ports_[i].get());
          break;
        }
      }
    }
  }

  void CloseSessions(DisconnectReason reason) {
    for (auto& s : sessions_) {
      if (s != nullptr) s->OnClose(reason);
    }
    sessions_.clear();
  }

  PeerInfo Info() const {
    PeerInfo p;
    p.node = node_;
    p.name = name_;
    p.caps = caps_;
    p.flags = flags_;
    p.remote = remote_;
    p.local = local_;
    p.added = added_;
    p.bytes_in = rlpx_->bytes_in();
    p.bytes_out = rlpx_->bytes_out();
    p.msgs_in = msgs_in_;
    p.msgs_out = msgs_out_;
    return p;
  }

  void LogDebug(const std::string& msg) const {
    Logger* log = srv_->log();
    if (log->Enabled(LogLevel::kDebug)) {
      log->Log(LogLevel::kDebug,
               absl::StrCat("p2p: ", node_.id.TerminalString(), " ", remote_.ToString(), " ", msg));
    }
  }

  uint64_t seq() const { return seq_; }
  ConnFlags flags() const { return flags_; }
  void set_flag(ConnFlags f, bool on) { flags_ = on ? (flags_ | f) : (flags_ & ~f); }
  bool is(ConnFlags f) const { return (flags_ & f) != 0; }
  const Node& peer_node() const { return node_; }
  const Endpoint& remote() const { return remote_; }
  Stage stage() const { return stage_; }
  std::optional<Stage> fail_stage() const { return fail_stage_; }
  const std::vector<rlpx::Cap>& caps() const { return caps_; }
  RlpxConn* rlpx() const { return rlpx_.get(); }
  MonoTime added() const { return added_; }
  uint64_t msgs_in() const { return msgs_in_; }
  uint64_t msgs_out() const { return msgs_out_; }
  bool pending_inbound = false;  // Reported to the dialer as pending.
  NodeDialer::DoneCallback TakeDone() { return std::move(done_); }

 private:
  // The ProtocolConn one protocol sees: relative codes.
  class ProtocolPort final : public ProtocolConn {
   public:
    ProtocolPort(Conn* c, uint64_t offset, uint64_t length)
        : c_(c), offset_(offset), length_(length) {}
    const Node& node() const override { return c_->node_; }
    const std::string& name() const override { return c_->name_; }
    bool inbound() const override { return c_->inbound(); }
    absl::Status Send(uint64_t code, absl::Span<const uint8_t> payload) override {
      if (code >= length_) {
        return absl::InvalidArgumentError(absl::StrCat("msg code out of range: ", code));
      }
      absl::Status s = c_->rlpx_->Send(offset_ + code, payload);
      if (s.ok()) ++c_->msgs_out_;
      return s;
    }
    void Disconnect(DisconnectReason reason) override { c_->rlpx_->Disconnect(reason); }

   private:
    Conn* c_;
    uint64_t offset_;
    uint64_t length_;
  };

  Server* srv_;
  uint64_t seq_;
  ConnFlags flags_;
  const bool dialed_;  // node_ is then the dial target from the start.
  NodeDialer::DoneCallback done_;
  Node node_;
  std::string name_;
  std::vector<rlpx::Cap> caps_;
  Endpoint remote_, local_;
  Stage stage_ = Stage::kEncryption;
  std::optional<Stage> fail_stage_;
  MonoTime added_;
  uint64_t msgs_in_ = 0, msgs_out_ = 0;
  std::vector<rlpx::MatchedProtocol> matched_;
  std::vector<std::unique_ptr<ProtocolPort>> ports_;
  std::vector<std::unique_ptr<ProtocolSession>> sessions_;
  std::unique_ptr<RlpxConn> rlpx_;  // Last: destroyed first.
};

// The NodeDialer the dial policy drives: TCP connect, then setup.
class Server::ConnDialer final : public NodeDialer {
 public:
  explicit ConnDialer(Server* srv) : srv_(srv) {}
  void Dial(const Node& dest, ConnFlags flags, DoneCallback done) override {
    srv_->StartDial(dest, flags, std::move(done));
  }

 private:
  Server* srv_;
};

// ---------------------------------------------------------------------------

Server::Server(ServerConfig config, ServerDeps deps)
    : config_(std::move(config)),
      deps_(std::move(deps)),
      log_(deps_.log != nullptr ? deps_.log : DiscardLogger()) {}

Server::~Server() {
  // Connections are destroyed without callbacks (RlpxConn's contract); the
  // dialer's in-flight tasks are dropped with it.
  peers_.clear();
  conns_.clear();
  dial_.reset();
}

absl::Status Server::ValidateConfig() const {
  if (deps_.loop == nullptr) return absl::InvalidArgumentError("server: deps.loop is required");
  if (deps_.net == nullptr) return absl::InvalidArgumentError("server: deps.net is required");
  if (deps_.entropy == nullptr) {
    return absl::InvalidArgumentError("server: deps.entropy is required");
  }
  if (!config_.key) return absl::InvalidArgumentError("server: config.key is required");
  if (config_.max_peers < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("server: max_peers must be >= 0, got ", config_.max_peers));
  }
  if (config_.max_pending_peers < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("server: max_pending_peers must be >= 0, got ", config_.max_pending_peers));
  }
  if (config_.dial_ratio < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("server: dial_ratio must be >= 0, got ", config_.dial_ratio));
  }
  std::set<std::pair<std::string, uint64_t>> seen;
  for (const Protocol& p : config_.protocols) {
    if (p.name.empty()) return absl::InvalidArgumentError("server: protocol with empty name");
    if (p.length == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("server: protocol ", p.name, "/", p.version, " has length 0"));
    }
    if (!seen.insert({p.name, p.version}).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("server: protocol ", p.name, "/", p.version, " given twice"));
    }
  }
  return absl::OkStatus();
}

int Server::MaxDialedConns() const {
  if (config_.no_dial || config_.max_peers == 0) return 0;
  const int r = config_.dial_ratio == 0 ? kDefaultDialRatio : config_.dial_ratio;
  if (config_.dial_generation == DialGeneration::kLegacy) return config_.max_peers / r;
  return std::max(1, config_.max_peers / r);
}

int Server::MaxInboundConns() const { return config_.max_peers - MaxDialedConns(); }

absl::Status Server::Start() {
  if (state_ != State::kNew) {
    return absl::FailedPreconditionError(state_ == State::kRunning
                                             ? "server: already running"
                                             : "server: a stopped server cannot be restarted");
  }
  if (absl::Status s = ValidateConfig(); !s.ok()) return s;

  // Local node.
  self_pub_ = DerivePublicKey(*config_.key);
  caps_.clear();
  for (const Protocol& p : config_.protocols) caps_.push_back({p.name, p.version, p.length});
  our_hello_ = rlpx::Hello{};
  our_hello_.version = rlpx::kBaseProtocolVersion;
  our_hello_.name = config_.name;
  our_hello_.caps = Caps();
  our_hello_.id = self_pub_.bytes();
  IpAddress ip = config_.ext_ip.value_or(IpAddress());

  // Listening.
  uint16_t port = 0;
  accept_tokens_ =
      config_.max_pending_peers > 0 ? config_.max_pending_peers : kDefaultMaxPendingPeers;
  if (config_.listen) {
    auto l = deps_.net->Listen(*config_.listen,
                               [this, alive = alive_.Weak()](std::unique_ptr<p2p::Conn> c) {
                                 if (alive) OnAccept(std::move(c));
                               });
    if (!l.ok()) return l.status();
    listener_ = *std::move(l);
    port = listener_->LocalEndpoint().port;
    if (!config_.ext_ip) ip = listener_->LocalEndpoint().ip;
  }
  our_hello_.listen_port = port;
  self_ = Node::FromPublicKey(self_pub_, ip, port, port);

  for (const Node& n : config_.trusted_nodes) trusted_[n.id] = n;
  for (const Node& n : config_.static_nodes) static_[n.id] = n;

  // Dialing.
  node_dialer_ = std::make_unique<ConnDialer>(this);
  DialConfig dc;
  dc.self = self_.id;
  dc.max_dial_peers = MaxDialedConns();
  dc.max_active_dials =
      config_.max_pending_peers > 0 ? config_.max_pending_peers : kDefaultMaxPendingPeers;
  dc.net_restrict = config_.net_restrict;
  dc.static_nodes = config_.static_nodes;
  dc.bootnodes = config_.bootnodes;
  dc.task_timeout = config_.dial_task_timeout;
  DialDeps dd;
  dd.loop = deps_.loop;
  dd.dialer = node_dialer_.get();
  dd.rng = deps_.rng;
  dd.candidates = deps_.candidates;
  if (dd.candidates == nullptr && config_.dial_generation == DialGeneration::kCurrent &&
      !config_.bootnodes.empty()) {
    own_candidates_ = NewPacedIterator(deps_.loop, NewCycleIterator(deps_.loop, config_.bootnodes),
                                       kBootnodeCandidateInterval);
    dd.candidates = own_candidates_.get();
  }
  dd.table = deps_.table;
  dd.resolver = deps_.resolver;
  dd.dns = deps_.dns;
  dd.log = log_;
  dd.observer = deps_.dial_observer;
  auto policy = NewDialPolicy(config_.dial_generation, std::move(dc), std::move(dd));
  if (!policy.ok()) {
    listener_.reset();
    return policy.status();
  }
  dial_ = *std::move(policy);
  state_ = State::kRunning;
  if (log_->Enabled(LogLevel::kInfo)) {
    log_->Log(LogLevel::kInfo, absl::StrCat("p2p: started, self=", self_.ToEnode(), " dialer=",
                                            DialGenerationName(config_.dial_generation)));
  }
  if (!config_.no_dial) dial_->Start();
  return absl::OkStatus();
}

void Server::Stop(absl::AnyInvocable<void()> on_stopped) {
  if (on_stopped) on_stopped_ = std::move(on_stopped);
  if (state_ == State::kNew) {
    state_ = State::kStopped;
    MaybeFinishStop();
    return;
  }
  if (state_ != State::kRunning) {
    MaybeFinishStop();
    return;
  }
  state_ = State::kStopping;
  listener_.reset();
  if (dial_ != nullptr) dial_->Stop();
  // Peers get DiscQuitting; connections in setup end too (go-ethereum: their
  // checkpoints fail with errServerStopped).
  std::vector<Conn*> all;
  for (auto& [seq, c] : conns_) all.push_back(c.get());
  for (Conn* c : all) c->Fail(DisconnectReason::kQuitting);
  MaybeFinishStop();
}

void Server::MaybeFinishStop() {
  if (state_ == State::kStopping && conns_.empty()) state_ = State::kStopped;
  if (state_ == State::kStopped && on_stopped_) {
    deps_.loop->Post([cb = std::move(on_stopped_)]() mutable { cb(); });
    on_stopped_ = nullptr;
  }
}

std::optional<Endpoint> Server::ListenEndpoint() const {
  if (listener_ == nullptr) return std::nullopt;
  return listener_->LocalEndpoint();
}

std::vector<rlpx::Cap> Server::Caps() const {
  std::vector<rlpx::Cap> caps;
  for (const Protocol& p : config_.protocols) caps.push_back({p.name, p.version});
  std::sort(caps.begin(), caps.end());
  return caps;
}

std::vector<PeerInfo> Server::Peers() const {
  std::vector<PeerInfo> out;
  out.reserve(peers_.size());
  for (const auto& [id, c] : peers_) out.push_back(c->Info());
  return out;
}

std::vector<Node> Server::StaticNodes() const {
  std::vector<Node> out;
  for (const auto& [id, n] : static_) out.push_back(n);
  return out;
}

std::vector<Node> Server::TrustedNodes() const {
  std::vector<Node> out;
  for (const auto& [id, n] : trusted_) out.push_back(n);
  return out;
}

ServerStats Server::stats() const {
  ServerStats s = stats_;
  for (const auto& [seq, c] : conns_) {
    s.bytes_in += c->rlpx()->bytes_in();
    s.bytes_out += c->rlpx()->bytes_out();
  }
  return s;
}

// ---------------------------------------------------------------------------
// Static and trusted peers.

void Server::AddPeer(const Node& node) {
  if (state_ != State::kRunning) return;
  static_[node.id] = node;
  dial_->AddStatic(node);
}

void Server::RemovePeer(const Node& node) {
  if (state_ != State::kRunning) return;
  static_.erase(node.id);
  dial_->RemoveStatic(node.id);
  auto it = peers_.find(node.id);
  if (it != peers_.end()) it->second->Disconnect(DisconnectReason::kRequested);
}

void Server::AddTrustedPeer(const Node& node) {
  trusted_[node.id] = node;
  auto it = peers_.find(node.id);
  if (it != peers_.end()) it->second->set_flag(kTrustedConn, true);
}

void Server::RemoveTrustedPeer(const Node& node) {
  trusted_.erase(node.id);
  auto it = peers_.find(node.id);
  if (it != peers_.end()) it->second->set_flag(kTrustedConn, false);
}

bool Server::DisconnectPeer(const NodeId& id, DisconnectReason reason) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return false;
  it->second->Disconnect(reason);
  return true;
}

// ---------------------------------------------------------------------------
// Inbound.

void Server::OnAccept(std::unique_ptr<p2p::Conn> raw) {
  if (state_ != State::kRunning) return;  // Dropping `raw` closes it.
  const Endpoint remote = raw->RemoteEndpoint();
  if (absl::Status s = CheckInboundConn(remote.ip); !s.ok()) {
    ++stats_.inbound_rejected[std::string(s.message())];
    if (log_->Enabled(LogLevel::kDebug)) {
      log_->Log(LogLevel::kDebug, absl::StrCat("p2p: rejected inbound connection from ",
                                               remote.ToString(), ": ", s.message()));
    }
    ServerEvent e{ServerEvent::Kind::kInboundRejected, NodeId(), kInboundConn, remote};
    e.detail = std::string(s.message());
    Emit(e);
    raw->Close(absl::OkStatus(), false);
    return;
  }
  ++stats_.inbound_accepted;
  if (--accept_tokens_ == 0 && listener_ != nullptr) listener_->SetAcceptEnabled(false);
  Conn* c =
      AddConn(std::make_unique<Conn>(this, next_conn_seq_++, kInboundConn, std::nullopt, nullptr));
  c->Begin(std::move(raw));
}

absl::Status Server::CheckInboundConn(const IpAddress& ip) {
  if (config_.net_restrict && !config_.net_restrict->Contains(ip)) {
    return absl::PermissionDeniedError("not in netrestrict list");
  }
  // Expire (strictly before now, as the dial history).
  const MonoTime now = deps_.loop->Now();
  while (inbound_history_head_ < inbound_history_.size() &&
         inbound_history_[inbound_history_head_].first < now) {
    const IpAddress& old = inbound_history_[inbound_history_head_].second;
    auto it = inbound_history_count_.find(old);
    if (--it->second == 0) inbound_history_count_.erase(it);
    ++inbound_history_head_;
  }
  if (inbound_history_head_ > 1024 && inbound_history_head_ * 2 > inbound_history_.size()) {
    inbound_history_.erase(inbound_history_.begin(),
                           inbound_history_.begin() + static_cast<long>(inbound_history_head_));
    inbound_history_head_ = 0;
  }
  if (!ip.IsLan() && inbound_history_count_.count(ip) > 0) {
    return absl::ResourceExhaustedError("too many attempts");
  }
  inbound_history_.emplace_back(now + kInboundThrottleTime, ip);
  ++inbound_history_count_[ip];
  return absl::OkStatus();
}

void Server::ReleaseInboundToken() {
  if (accept_tokens_++ == 0 && listener_ != nullptr) listener_->SetAcceptEnabled(true);
}

// ---------------------------------------------------------------------------
// Outbound.

void Server::StartDial(const Node& dest, ConnFlags flags, NodeDialer::DoneCallback done) {
  if (state_ != State::kRunning) {
    deps_.loop->Post([done = std::move(done)]() mutable {
      done(DialResult{absl::FailedPreconditionError("server stopped"), false});
    });
    return;
  }
  const Endpoint to = dest.TcpEndpoint();
  deps_.net->Dial(to, config_.dial_timeout,
                  [this, alive = alive_.Weak(), dest, flags, done = std::move(done)](
                      absl::StatusOr<std::unique_ptr<p2p::Conn>> conn) mutable {
                    if (!alive) return;
                    if (!conn.ok()) {
                      done(DialResult{conn.status(), true});
                      return;
                    }
                    absl::Status s = SetupConn(*std::move(conn), flags, dest, std::move(done));
                    (void)s;  // On error `done` has been posted with it.
                  });
}

absl::Status Server::SetupConn(std::unique_ptr<p2p::Conn> raw, ConnFlags flags,
                               std::optional<Node> dial_dest, NodeDialer::DoneCallback done) {
  absl::Status err;
  if (state_ != State::kRunning) {
    err = absl::FailedPreconditionError("server stopped");
  } else if (dial_dest && dial_dest->pubkey.IsZero()) {
    err = absl::InvalidArgumentError("dial destination doesn't have a secp256k1 public key");
  }
  if (!err.ok()) {
    raw->Close(err, false);
    if (done) {
      deps_.loop->Post([done = std::move(done), err]() mutable { done(DialResult{err, false}); });
    }
    return err;
  }
  if (!dial_dest) {
    OnAccept(std::move(raw));
    return absl::OkStatus();
  }
  Conn* c = AddConn(
      std::make_unique<Conn>(this, next_conn_seq_++, flags, std::move(dial_dest), std::move(done)));
  c->Begin(std::move(raw));
  return absl::OkStatus();
}

Server::Conn* Server::AddConn(std::unique_ptr<Conn> conn) {
  Conn* c = conn.get();
  conns_.emplace(c->seq(), std::move(conn));
  return c;
}

// ---------------------------------------------------------------------------
// Checkpoints.

std::optional<DisconnectReason> Server::PostHandshakeChecks(const Conn* c) const {
  if (!c->is(kTrustedConn) && static_cast<int>(peers_.size()) >= config_.max_peers) {
    return DisconnectReason::kTooManyPeers;
  }
  if (!c->is(kTrustedConn) && c->is(kInboundConn) && inbound_count_ >= MaxInboundConns()) {
    return DisconnectReason::kTooManyPeers;
  }
  if (peers_.count(c->peer_node().id) > 0) return DisconnectReason::kAlreadyConnected;
  if (c->peer_node().id == self_.id) return DisconnectReason::kSelf;
  return std::nullopt;
}

void Server::PostHandshake(Conn* c) {
  if (state_ != State::kRunning) {
    c->Fail(DisconnectReason::kQuitting);
    return;
  }
  if (trusted_.count(c->peer_node().id) > 0) c->set_flag(kTrustedConn, true);
  if (std::optional<DisconnectReason> r = PostHandshakeChecks(c)) {
    c->Fail(*r);
    return;
  }
  if (c->is(kInboundConn)) {
    c->pending_inbound = true;
    dial_->InboundPending(c->peer_node().id);
  }
  c->Continue();
}

void Server::AddPeerCheckpoint(Conn* c) {
  if (state_ != State::kRunning) {
    c->Fail(DisconnectReason::kQuitting);
    return;
  }
  if (!caps_.empty() && rlpx::CountMatchingProtocols(caps_, c->caps()) == 0) {
    c->Fail(DisconnectReason::kUselessPeer);
    return;
  }
  if (std::optional<DisconnectReason> r = PostHandshakeChecks(c)) {
    c->Fail(*r);
    return;
  }
  const NodeId id = c->peer_node().id;
  peers_[id] = c;
  if (c->is(kInboundConn)) {
    ++inbound_count_;
    ReleaseInboundToken();
  }
  ++stats_.peers_added;
  stats_.peak_peers = std::max<int64_t>(stats_.peak_peers, static_cast<int64_t>(peers_.size()));
  c->Continue();
  if (c->pending_inbound) {
    c->pending_inbound = false;
    dial_->InboundDone(id);
  }
  dial_->PeerAdded(id, c->flags());
  if (log_->Enabled(LogLevel::kDebug)) {
    log_->Log(LogLevel::kDebug,
              absl::StrCat("p2p: adding peer ", id.TerminalString(), " ", c->remote().ToString(),
                           " ", ConnFlagsString(c->flags())));
  }
  ServerEvent e{ServerEvent::Kind::kPeerAdded, id, c->flags(), c->remote()};
  Emit(e);
  if (NodeDialer::DoneCallback done = c->TakeDone()) done(DialResult{absl::OkStatus(), false});
  c->StartPeer(rlpx::MatchProtocols(caps_, c->caps()));
}

// ---------------------------------------------------------------------------
// Ends.

void Server::OnConnClosed(Conn* c, const CloseInfo& info) {
  const NodeId id = c->peer_node().id;
  stats_.bytes_in += c->rlpx()->bytes_in();
  stats_.bytes_out += c->rlpx()->bytes_out();
  ServerEvent e;
  e.id = id;
  e.flags = c->flags();
  e.remote = c->remote();
  e.reason = info.reason;
  e.remote_requested = info.remote_requested;
  e.detail = info.detail.ok() ? "" : std::string(info.detail.message());
  e.bytes_in = c->rlpx()->bytes_in();
  e.bytes_out = c->rlpx()->bytes_out();
  if (c->stage() == Conn::Stage::kPeer) {
    peers_.erase(id);
    if (c->is(kInboundConn)) --inbound_count_;
    c->CloseSessions(info.reason);
    ++stats_.peers_dropped[DisconnectReasonString(info.reason)];
    dial_->PeerRemoved(id, c->flags());
    e.kind = ServerEvent::Kind::kPeerDropped;
    e.msgs_in = c->msgs_in();
    e.msgs_out = c->msgs_out();
    e.connected = deps_.loop->Now() - c->added();
    if (log_->Enabled(LogLevel::kDebug)) {
      log_->Log(LogLevel::kDebug, absl::StrCat("p2p: removing peer ", id.TerminalString(), " ",
                                               c->remote().ToString(),
                                               " reason=", DisconnectReasonString(info.reason),
                                               info.remote_requested ? " (remote)" : ""));
    }
  } else {
    const Conn::Stage stage = c->fail_stage().value_or(c->stage());
    e.kind = ServerEvent::Kind::kSetupFailed;
    e.stage = Conn::StageName(stage);
    const std::string what = e.detail.empty() ? DisconnectReasonString(info.reason) : e.detail;
    ++stats_.setup_failures[absl::StrCat(e.stage, ": ", DisconnectReasonString(info.reason))];
    if (c->is(kInboundConn)) ReleaseInboundToken();
    if (c->pending_inbound) dial_->InboundDone(id);
    if (log_->Enabled(LogLevel::kDebug)) {
      log_->Log(LogLevel::kDebug,
                absl::StrCat("p2p: setting up connection with ", c->remote().ToString(),
                             " failed at ", e.stage, ": ", what));
    }
    if (NodeDialer::DoneCallback done = c->TakeDone()) {
      absl::Status why = info.detail.ok() ? rlpx::DisconnectError(info.reason) : info.detail;
      if (info.remote_requested) why = rlpx::DisconnectError(info.reason);
      done(DialResult{why, false});
    }
  }
  Emit(e);
  conns_.erase(c->seq());  // Destroys c and its RlpxConn (allowed in OnClosed).
  MaybeFinishStop();
}

void Server::Emit(const ServerEvent& e) {
  if (deps_.observer != nullptr) deps_.observer->OnServerEvent(e);
}

}  // namespace p2p
