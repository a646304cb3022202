#include "core/discover/udp.h"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "core/crypto/keccak.h"

namespace p2p {
namespace discover {

namespace {

NodeId TargetId(const EncodedPubkey& target) {
  return NodeId(Keccak256Hash(absl::Span<const uint8_t>(target.data(), target.size())));
}

// go-ethereum's nodeFromRPC, minus CheckRelayIP (see the header).
std::optional<Node> NodeFromWire(const WireNode& w) {
  if (w.udp <= 1024) return std::nullopt;  // errLowPort
  if (w.ip.IsUnspecified()) return std::nullopt;
  auto key = PublicKey::Parse(absl::Span<const uint8_t>(w.id.data(), w.id.size()));
  if (!key.ok()) return std::nullopt;
  return Node::FromPublicKey(*key, w.ip, w.tcp, w.udp);
}

WireNode NodeToWire(const Node& n) {
  WireNode w;
  w.ip = n.ip;
  w.udp = n.udp;
  w.tcp = n.tcp;
  w.id = n.pubkey.bytes();
  return w;
}

}  // namespace

// A reply matcher (go-ethereum's replyMatcher): packets of type `ptype` from
// node `from` at `ip` are offered to `match`, which says whether the packet
// belongs to the request and sets *done once the request is complete.
struct UdpV4::Pending {
  NodeId from;
  IpAddress ip;
  uint8_t ptype = 0;
  absl::AnyInvocable<bool(const DecodedPacket&, bool* done)> match;
  StatusCallback done;
  TimerId timer = kNoTimer;
  bool matched_any = false;
};

struct UdpV4::LookupState {
  EncodedPubkey target{};
  NodeId target_id;
  std::vector<Node> result;  // Closest first, at most kLookupResultSize.
  std::set<NodeId> asked;
  std::set<NodeId> seen;
  int queries = 0;
  NodesCallback done;

  // nodesByDistance.push.
  void Push(const Node& n) {
    auto pos = std::lower_bound(result.begin(), result.end(), n, [&](const Node& a, const Node& b) {
      return DistCmp(target_id, a.id, b.id) < 0;
    });
    if (pos == result.end() && result.size() >= kLookupResultSize) return;
    result.insert(pos, n);
    if (result.size() > kLookupResultSize) result.pop_back();
  }
};

// Runs random lookups on demand and hands out their results one by one.
class UdpV4::LookupIterator : public NodeIterator {
 public:
  explicit LookupIterator(UdpV4* udp) : udp_(udp) {}
  ~LookupIterator() override {
    if (timer_ != kNoTimer) udp_->loop_->Cancel(timer_);
  }

  void Next(NextCallback cb) override {
    if (cb_) {
      std::abort();  // Programmer error: one outstanding request at a time.
    }
    if (closed_) {
      udp_->loop_->Post([cb = std::move(cb)]() mutable { cb(std::nullopt); });
      return;
    }
    cb_ = std::move(cb);
    if (!buf_.empty()) {
      udp_->loop_->Post([this, alive = alive_.Weak()] {
        if (alive) Deliver();
      });
      return;
    }
    MaybeStartLookup();
  }

  void Close() override {
    if (closed_) return;
    closed_ = true;
    buf_.clear();
    if (timer_ != kNoTimer) {
      udp_->loop_->Cancel(timer_);
      timer_ = kNoTimer;
    }
    if (cb_) {
      udp_->loop_->Post([cb = std::move(cb_)]() mutable { cb(std::nullopt); });
      cb_ = nullptr;
    }
  }

 private:
  void Deliver() {
    if (!cb_ || closed_) return;
    if (buf_.empty()) {
      MaybeStartLookup();
      return;
    }
    Node n = std::move(buf_.front());
    buf_.pop_front();
    auto cb = std::move(cb_);
    cb_ = nullptr;
    cb(std::move(n));
  }

  void MaybeStartLookup() {
    if (lookup_running_ || timer_ != kNoTimer) return;
    MonoTime now = udp_->loop_->Now();
    MonoTime at = last_start_ ? *last_start_ + udp_->cfg_.iterator_lookup_gap : now;
    timer_ = udp_->loop_->RunAt(std::max(at, now), [this] {
      timer_ = kNoTimer;
      StartLookup();
    });
  }

  void StartLookup() {
    last_start_ = udp_->loop_->Now();
    lookup_running_ = true;
    udp_->LookupRandom([this, alive = alive_.Weak()](std::vector<Node> found) {
      if (!alive) return;
      lookup_running_ = false;
      if (closed_) return;
      for (Node& n : found) buf_.push_back(std::move(n));
      Deliver();
    });
  }

  UdpV4* udp_;
  std::deque<Node> buf_;
  NextCallback cb_;
  bool closed_ = false;
  bool lookup_running_ = false;
  std::optional<MonoTime> last_start_;
  TimerId timer_ = kNoTimer;
  WeakFlag alive_;
};

UdpV4::UdpV4(EventLoop* loop, const PrivateKey& key, UnixNowFn unix_now, Rng rng, UdpV4Config cfg)
    : loop_(loop),
      key_(key),
      unix_now_(std::move(unix_now)),
      rng_(rng),
      cfg_(std::move(cfg)),
      table_(NodeId::FromPublicKey(DerivePublicKey(key)), cfg_.table),
      revalidate_alarm_(loop, [this] { Revalidate(); }),
      refresh_alarm_(loop, [this] { Refresh(); }) {}

UdpV4::~UdpV4() {
  for (auto& [id, p] : pending_) {
    if (p->timer != kNoTimer) loop_->Cancel(p->timer);
  }
}

absl::StatusOr<std::unique_ptr<UdpV4>> UdpV4::Create(EventLoop* loop, Network* net,
                                                     const Endpoint& local, const PrivateKey& key,
                                                     uint16_t tcp_port, UnixNowFn unix_now, Rng rng,
                                                     UdpV4Config cfg) {
  std::unique_ptr<UdpV4> u(new UdpV4(loop, key, std::move(unix_now), rng, std::move(cfg)));
  UdpV4* raw = u.get();
  // The socket is owned by *u and cancels its callbacks when destroyed, so
  // the raw pointer cannot dangle.
  auto sock = net->OpenPacketSocket(
      local,
      [raw](const Endpoint& from, absl::Span<const uint8_t> data) { raw->OnPacket(from, data); });
  if (!sock.ok()) return sock.status();
  u->socket_ = std::move(*sock);
  Endpoint bound = u->socket_->LocalEndpoint();
  u->self_ = Node::FromPublicKey(DerivePublicKey(key), bound.ip, tcp_port, bound.port);
  return u;
}

bool UdpV4::IsBonded(const NodeId& id, const IpAddress& ip) const {
  auto it = bonds_.find(id);
  if (it == bonds_.end() || it->second.ip != ip || !it->second.last_pong_received) return false;
  return loop_->Now() - *it->second.last_pong_received <= cfg_.bond_expiration;
}

UdpV4::BondRecord* UdpV4::Bond(const NodeId& id, const IpAddress& ip) {
  auto it = bonds_.find(id);
  if (it != bonds_.end()) {
    // A record proves things only about the address it was made at.
    if (it->second.ip != ip) it->second = BondRecord{ip, std::nullopt, std::nullopt, 0};
    return &it->second;
  }
  if (bonds_.size() >= cfg_.max_bond_records) {
    // Forget records whose proofs have all lapsed, then refuse if still full.
    MonoTime now = loop_->Now();
    auto stale = [&](const std::optional<MonoTime>& t) {
      return !t || now - *t > cfg_.bond_expiration;
    };
    for (auto i = bonds_.begin(); i != bonds_.end();) {
      if (stale(i->second.last_ping_received) && stale(i->second.last_pong_received) &&
          i->second.findnode_failures == 0) {
        i = bonds_.erase(i);
      } else {
        ++i;
      }
    }
    if (bonds_.size() >= cfg_.max_bond_records) return nullptr;
  }
  return &bonds_.emplace(id, BondRecord{ip, std::nullopt, std::nullopt, 0}).first->second;
}

WireEndpoint UdpV4::SelfEndpoint() const { return WireEndpoint{self_.ip, self_.udp, self_.tcp}; }

uint64_t UdpV4::Expiration() const { return MakeExpiration(unix_now_(), cfg_.expiration); }

void UdpV4::PostChecked(absl::AnyInvocable<void()> cb) {
  loop_->Post([alive = alive_.Weak(), cb = std::move(cb)]() mutable {
    if (alive) cb();
  });
}

absl::StatusOr<PacketHash> UdpV4::Send(const Endpoint& to, const Packet& packet) {
  auto enc = EncodePacket(key_, packet);
  if (!enc.ok()) {
    ++stats_.send_errors;
    return enc.status();
  }
  PacketHash hash;
  std::copy(enc->begin(), enc->begin() + kPacketHashSize, hash.begin());
  absl::Status s = socket_->SendTo(to, *enc);
  if (!s.ok()) {
    ++stats_.send_errors;
    return s;
  }
  ++stats_.sent[PacketName(packet)];
  return hash;
}

uint64_t UdpV4::AddPending(const NodeId& from, const IpAddress& ip, uint8_t ptype,
                           absl::AnyInvocable<bool(const DecodedPacket&, bool* done)> match,
                           StatusCallback done) {
  uint64_t id = next_pending_id_++;
  auto p = std::make_unique<Pending>();
  p->from = from;
  p->ip = ip;
  p->ptype = ptype;
  p->match = std::move(match);
  p->done = std::move(done);
  p->timer = loop_->RunAfter(cfg_.response_timeout, [this, id] {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    it->second->timer = kNoTimer;
    ++stats_.requests_timed_out;
    FinishPending(id, absl::DeadlineExceededError("RPC timeout"));
  });
  pending_.emplace(id, std::move(p));
  return id;
}

void UdpV4::FinishPending(uint64_t id, absl::Status status) {
  auto it = pending_.find(id);
  if (it == pending_.end()) return;
  std::unique_ptr<Pending> p = std::move(it->second);
  pending_.erase(it);
  if (p->timer != kNoTimer) loop_->Cancel(p->timer);
  // As go-ethereum: a request that got some reply before timing out is not
  // reported as a timeout.
  if (absl::IsDeadlineExceeded(status) && p->matched_any) status = absl::OkStatus();
  p->done(std::move(status));
}

bool UdpV4::HandleReply(const Endpoint& from, const DecodedPacket& p) {
  uint8_t ptype = PacketType(p.packet);
  bool matched = false;
  std::vector<uint64_t> complete;
  for (auto& [id, pend] : pending_) {
    if (pend->from != p.sender_id || pend->ptype != ptype || pend->ip != from.ip) continue;
    bool done = false;
    if (pend->match(p, &done)) {
      matched = true;
      pend->matched_any = true;
      if (done) complete.push_back(id);
    }
  }
  for (uint64_t id : complete) FinishPending(id, absl::OkStatus());
  return matched;
}

void UdpV4::OnPacket(const Endpoint& from, absl::Span<const uint8_t> data) {
  auto d = DecodePacket(data);
  if (!d.ok()) {
    absl::string_view msg = d.status().message();
    if (absl::StartsWith(msg, "bad hash")) {
      Drop(kDropBadHash);
    } else if (absl::StartsWith(msg, "invalid signature")) {
      Drop(kDropBadSignature);
    } else {
      Drop(kDropMalformed);
    }
    return;
  }
  if (d->sender_id == self_.id) {
    Drop(kDropSelf);
    return;
  }
  ++stats_.received[PacketName(d->packet)];
  absl::Time unix_now = unix_now_();
  switch (PacketType(d->packet)) {
    case kPingPacket: {
      const auto& ping = std::get<discover::Ping>(d->packet);
      if (Expired(ping.expiration, unix_now)) return Drop(kDropExpired);
      HandlePing(from, *d, ping);
      return;
    }
    case kPongPacket: {
      if (Expired(std::get<Pong>(d->packet).expiration, unix_now)) return Drop(kDropExpired);
      if (!HandleReply(from, *d)) Drop(kDropUnsolicited);
      return;
    }
    case kFindNodePacket: {
      const auto& req = std::get<discover::FindNode>(d->packet);
      if (Expired(req.expiration, unix_now)) return Drop(kDropExpired);
      HandleFindNode(from, *d, req);
      return;
    }
    case kNeighborsPacket: {
      if (Expired(std::get<Neighbors>(d->packet).expiration, unix_now)) return Drop(kDropExpired);
      if (!HandleReply(from, *d)) Drop(kDropUnsolicited);
      return;
    }
    case kENRRequestPacket: {
      if (Expired(std::get<ENRRequest>(d->packet).expiration, unix_now)) {
        return Drop(kDropExpired);
      }
      if (!IsBonded(d->sender_id, from.ip)) return Drop(kDropUnknownNode);
      Drop(kDropNoRecord);
      return;
    }
    case kENRResponsePacket: {
      if (!HandleReply(from, *d)) Drop(kDropUnsolicited);
      return;
    }
  }
}

void UdpV4::HandlePing(const Endpoint& from, const DecodedPacket& p, const discover::Ping& ping) {
  Pong pong;
  // `to` mirrors the UDP source: how the sender learns its external address.
  pong.to = WireEndpoint{from.ip, from.port, ping.from.tcp};
  pong.ping_hash = p.hash;
  pong.expiration = Expiration();
  (void)Send(from, pong);

  Node n = Node::FromPublicKey(p.sender, from.ip, ping.from.tcp, from.port);
  MonoTime now = loop_->Now();
  if (BondRecord* b = Bond(p.sender_id, from.ip)) b->last_ping_received = now;
  if (!IsBonded(p.sender_id, from.ip)) {
    // Endpoint proof: the sender goes into the table once it answers our
    // ping (PingInternal's pong handling adds it as verified).
    PingInternal(n, [](absl::Status) {});
  } else {
    table_.AddVerifiedNode(n, now);
  }
}

void UdpV4::HandleFindNode(const Endpoint& from, const DecodedPacket& p,
                           const discover::FindNode& req) {
  // Only bonded senders: otherwise FindNode would be a traffic amplifier
  // towards a spoofed source address.
  if (!IsBonded(p.sender_id, from.ip)) return Drop(kDropUnknownNode);
  std::vector<Node> closest = table_.Closest(TargetId(req.target), kLookupResultSize);
  Neighbors out;
  out.expiration = Expiration();
  bool sent = false;
  for (const Node& n : closest) {
    out.nodes.push_back(NodeToWire(n));
    if (out.nodes.size() == kMaxNeighbors) {
      (void)Send(from, out);
      out.nodes.clear();
      sent = true;
    }
  }
  if (!out.nodes.empty() || !sent) (void)Send(from, out);
}

void UdpV4::PingInternal(const Node& n, StatusCallback done) {
  discover::Ping ping;
  ping.from = SelfEndpoint();
  ping.to = WireEndpoint{n.ip, n.udp, n.tcp};
  ping.expiration = Expiration();
  auto hash = Send(n.UdpEndpoint(), ping);
  if (!hash.ok()) {
    PostChecked([done = std::move(done), s = hash.status()]() mutable { done(s); });
    return;
  }
  AddPending(
      n.id, n.ip, kPongPacket,
      [this, n, h = *hash](const DecodedPacket& p, bool* complete) {
        if (std::get<Pong>(p.packet).ping_hash != h) return false;
        *complete = true;
        MonoTime now = loop_->Now();
        if (BondRecord* b = Bond(n.id, n.ip)) b->last_pong_received = now;
        table_.AddVerifiedNode(n, now);
        table_.RecordPong(n.id, now);
        return true;
      },
      std::move(done));
}

void UdpV4::Ping(const Node& n, StatusCallback done) { PingInternal(n, std::move(done)); }

void UdpV4::FindNode(const Node& n, const EncodedPubkey& target, FindNodeCallback done) {
  SendFindNode(n, target, std::move(done));
}

void UdpV4::SendFindNode(const Node& n, const EncodedPubkey& target, FindNodeCallback done) {
  // go-ethereum's ensureBond: if n has not pinged us lately it probably does
  // not hold a pong from us, and would ignore the FindNode.
  auto it = bonds_.find(n.id);
  bool need_bond = true;
  if (it != bonds_.end() && it->second.ip == n.ip) {
    const BondRecord& b = it->second;
    need_bond = !b.last_ping_received ||
                loop_->Now() - *b.last_ping_received > cfg_.bond_expiration ||
                b.findnode_failures > cfg_.max_findnode_failures;
  }
  if (!need_bond) {
    SendFindNodeNow(n, target, std::move(done));
    return;
  }
  PingInternal(n, [this, n, target, done = std::move(done)](absl::Status s) mutable {
    if (!s.ok()) {
      FindNodeDone(n, false);
      done(std::move(s));
      return;
    }
    // Give the node time to ping us back and process our pong.
    loop_->RunAfter(cfg_.response_timeout,
                    [this, alive = alive_.Weak(), n, target, done = std::move(done)]() mutable {
                      if (alive) SendFindNodeNow(n, target, std::move(done));
                    });
  });
}

void UdpV4::SendFindNodeNow(const Node& n, const EncodedPubkey& target, FindNodeCallback done) {
  discover::FindNode req;
  req.target = target;
  req.expiration = Expiration();
  auto hash = Send(n.UdpEndpoint(), req);
  if (!hash.ok()) {
    FindNodeDone(n, false);
    PostChecked([done = std::move(done), s = hash.status()]() mutable { done(s); });
    return;
  }
  // The nodes live in the completion callback; the matcher, destroyed with
  // it, fills them through a raw pointer.
  auto nodes = std::make_unique<std::vector<Node>>();
  std::vector<Node>* sink = nodes.get();
  auto received = std::make_unique<size_t>(0);
  size_t* count = received.get();
  AddPending(
      n.id, n.ip, kNeighborsPacket,
      [this, sink, count, received = std::move(received)](const DecodedPacket& p, bool* complete) {
        for (const WireNode& w : std::get<Neighbors>(p.packet).nodes) {
          ++*count;
          std::optional<Node> node = NodeFromWire(w);
          if (!node) continue;
          if (cfg_.net_restrict && !cfg_.net_restrict->Contains(node->ip)) {
            ++stats_.dropped["netrestrict"];
            continue;
          }
          sink->push_back(std::move(*node));
        }
        *complete = *count >= kLookupResultSize;
        return true;
      },
      [this, n, nodes = std::move(nodes), done = std::move(done)](absl::Status s) mutable {
        if (!s.ok()) {
          FindNodeDone(n, false);
          done(std::move(s));
          return;
        }
        FindNodeDone(n, !nodes->empty());
        done(std::move(*nodes));
      });
}

void UdpV4::FindNodeDone(const Node& n, bool useful) {
  BondRecord* b = Bond(n.id, n.ip);
  if (b == nullptr) return;
  if (useful) {
    if (b->findnode_failures > 0) --b->findnode_failures;
    return;
  }
  ++b->findnode_failures;
  if (b->findnode_failures >= cfg_.max_findnode_failures) table_.Delete(n.id);
}

void UdpV4::Lookup(const EncodedPubkey& target, NodesCallback done) {
  uint64_t id = next_lookup_id_++;
  auto st = std::make_unique<LookupState>();
  st->target = target;
  st->target_id = TargetId(target);
  st->done = std::move(done);
  st->seen.insert(self_.id);
  for (const Node& n : table_.Closest(st->target_id, kLookupResultSize)) {
    if (st->seen.insert(n.id).second) st->Push(n);
  }
  lookups_.emplace(id, std::move(st));
  PostChecked([this, id] { LookupAdvance(id); });
}

void UdpV4::LookupSelf(NodesCallback done) { Lookup(self_.pubkey.bytes(), std::move(done)); }

void UdpV4::LookupAdvance(uint64_t lookup_id) {
  auto it = lookups_.find(lookup_id);
  if (it == lookups_.end()) return;
  LookupState& st = *it->second;
  // Copy: the loop below may not see `result` change (callbacks are never
  // inline), but be explicit about what is iterated.
  std::vector<Node> candidates = st.result;
  for (const Node& n : candidates) {
    if (st.queries >= cfg_.alpha) break;
    if (!st.asked.insert(n.id).second) continue;
    ++st.queries;
    SendFindNode(n, st.target, [this, lookup_id](absl::StatusOr<std::vector<Node>> r) {
      auto it = lookups_.find(lookup_id);
      if (it == lookups_.end()) return;
      LookupState& st = *it->second;
      --st.queries;
      if (r.ok()) {
        MonoTime now = loop_->Now();
        for (const Node& found : *r) {
          if (found.id == self_.id) continue;
          table_.AddSeenNode(found, now);
          if (st.seen.insert(found.id).second) st.Push(found);
        }
      }
      LookupAdvance(lookup_id);
    });
  }
  if (st.queries == 0) LookupFinish(lookup_id);
}

void UdpV4::LookupFinish(uint64_t lookup_id) {
  auto it = lookups_.find(lookup_id);
  if (it == lookups_.end()) return;
  std::unique_ptr<LookupState> st = std::move(it->second);
  lookups_.erase(it);
  ++stats_.lookups_done;
  st->done(std::move(st->result));
}

void UdpV4::LookupRandom(LookupCallback done) {
  EncodedPubkey target;
  rng_.Fill(absl::Span<uint8_t>(target.data(), target.size()));
  Lookup(target, std::move(done));
}

std::unique_ptr<NodeIterator> UdpV4::NewLookupIterator() {
  return std::make_unique<LookupIterator>(this);
}

void UdpV4::Resolve(const Node& node, ResolveCallback done) {
  // go-ethereum v1.8.24 Table.Resolve: the table's record needs no traffic.
  if (const TableEntry* e = table_.Get(node.id)) {
    PostChecked([done = std::move(done), n = e->node]() mutable { done(std::move(n)); });
    return;
  }
  NodeId want = node.id;
  Lookup(node.pubkey.bytes(), [want, done = std::move(done)](std::vector<Node> found) mutable {
    for (Node& n : found) {
      if (n.id == want) {
        done(std::move(n));
        return;
      }
    }
    done(std::nullopt);
  });
}

int UdpV4::ReadRandomNodes(absl::Span<Node> out) {
  return static_cast<int>(table_.ReadRandomNodes(out, rng_));
}

void UdpV4::Start(const std::vector<Node>& bootnodes) {
  if (started_) std::abort();  // Programmer error: Start runs once.
  started_ = true;
  MonoTime now = loop_->Now();
  for (const Node& b : bootnodes) {
    if (b.id == self_.id) continue;
    table_.AddSeenNode(b, now);
    ++bootstrap_pings_;
    PingInternal(b, [this](absl::Status) {
      if (--bootstrap_pings_ == 0) Refresh();
    });
  }
  if (bootstrap_pings_ == 0) PostChecked([this] { Refresh(); });
  revalidate_alarm_.Schedule(now + cfg_.revalidate_interval);
  refresh_alarm_.Schedule(now + cfg_.refresh_interval);
}

void UdpV4::Revalidate() {
  if (auto n = table_.NodeToRevalidate(rng_)) {
    NodeId id = n->id;
    PingInternal(*n, [this, id](absl::Status s) {
      if (s.ok()) {
        table_.NodeRevalidated(id, loop_->Now());
      } else {
        table_.ReplaceDead(id, loop_->Now(), rng_);
      }
    });
  }
  revalidate_alarm_.Schedule(loop_->Now() + cfg_.revalidate_interval);
}

void UdpV4::Refresh() {
  // go-ethereum's doRefresh: a self-lookup fills the closest buckets, random
  // lookups the far ones; one after the other.
  refresh_alarm_.Schedule(loop_->Now() + cfg_.refresh_interval);
  if (refreshing_) return;
  refreshing_ = true;
  LookupSelf([this](std::vector<Node>) { RefreshRandom(kRefreshRandomLookups); });
}

void UdpV4::RefreshRandom(int left) {
  if (left == 0) {
    refreshing_ = false;
    return;
  }
  LookupRandom([this, left](std::vector<Node>) { RefreshRandom(left - 1); });
}

}  // namespace discover
}  // namespace p2p
