#include "core/discover/udp.h"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
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
  // Membership only, never iterated.
  absl::flat_hash_set<NodeId> asked;
  absl::flat_hash_set<NodeId> seen;
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
  absl::Status signed_record = u->SignLocalRecord(key);
  if (!signed_record.ok()) return signed_record;
  return u;
}

bool UdpV4::IsBonded(const NodeId& id, const IpAddress& ip) const {
  auto it = bonds_.find(id);
  if (it == bonds_.end() || it->second.ip != ip || !it->second.last_pong_received) return false;
  return loop_->Now() - *it->second.last_pong_received <= cfg_.bond_expiration;
}

UdpV4Stats UdpV4::stats() const {
  // One name per DropReason, in its order.
  static constexpr const char* kDropReasonNames[] = {
      kDropMalformed,   kDropBadHash,     kDropBadSignature, kDropExpired,
      kDropUnsolicited, kDropUnknownNode, kDropSelf,         kDropNetrestrict};
  static_assert(std::size(kDropReasonNames) == kDropReasonCount);
  UdpV4Stats out;
  // A map entry for every count that is not zero, as when the maps counted.
  for (size_t i = 0; i < counters_.sent.size(); ++i) {
    if (counters_.sent[i] != 0) out.sent[PacketTypeName(i)] = counters_.sent[i];
    if (counters_.received[i] != 0) out.received[PacketTypeName(i)] = counters_.received[i];
  }
  for (int r = 0; r < kDropReasonCount; ++r) {
    if (counters_.dropped[r] != 0) out.dropped[kDropReasonNames[r]] = counters_.dropped[r];
  }
  out.send_errors = counters_.send_errors;
  out.requests_timed_out = counters_.requests_timed_out;
  out.lookups_done = counters_.lookups_done;
  return out;
}

bool UdpV4::BondLapsed(const BondRecord& b, MonoTime now) const { return now > BondLapseTime(b); }

MonoTime UdpV4::BondLapseTime(const BondRecord& b) const {
  if (b.findnode_failures != 0) return absl::InfiniteFuture();
  MonoTime newest = absl::InfinitePast();  // No proof: lapsed already.
  if (b.last_ping_received) newest = std::max(newest, *b.last_ping_received);
  if (b.last_pong_received) newest = std::max(newest, *b.last_pong_received);
  return newest + cfg_.bond_expiration;
}

void UdpV4::EvictLapsedBonds() {
  const MonoTime now = loop_->Now();
  if (now <= next_bond_lapse_) return;  // None can have lapsed yet.
  MonoTime next = absl::InfiniteFuture();
  for (auto i = bonds_.begin(); i != bonds_.end();) {
    if (BondLapsed(i->second, now)) {
      bonds_.erase(i++);  // Other iterators stay valid. Which go does not
      continue;           // depend on the order of the visit.
    }
    next = std::min(next, BondLapseTime(i->second));
    ++i;
  }
  next_bond_lapse_ = next;
}

bool UdpV4::UpdateBond(const NodeId& id, const IpAddress& ip,
                       absl::FunctionRef<void(BondRecord&)> update) {
  auto it = bonds_.find(id);
  if (it == bonds_.end()) {
    if (bonds_.size() >= cfg_.max_bond_records) {
      // Forget records whose proofs have all lapsed, then refuse if still full.
      EvictLapsedBonds();
      if (bonds_.size() >= cfg_.max_bond_records) return false;
    }
    it = bonds_.emplace(id, BondRecord{ip, std::nullopt, std::nullopt, 0}).first;
  } else if (it->second.ip != ip) {
    // A record proves things only about the address it was made at.
    it->second = BondRecord{ip, std::nullopt, std::nullopt, 0};
  }
  update(it->second);
  // A ping or pong only moves a record's lapse time later; a reset, a
  // restored (Seed) or a cleared failure count may move it earlier.
  next_bond_lapse_ = std::min(next_bond_lapse_, BondLapseTime(it->second));
  return true;
}

WireEndpoint UdpV4::SelfEndpoint() const { return WireEndpoint{self_.ip, self_.udp, self_.tcp}; }

uint64_t UdpV4::Expiration() const { return MakeExpiration(unix_now_(), cfg_.expiration); }

void UdpV4::PostChecked(absl::AnyInvocable<void()> cb) {
  loop_->Post([alive = alive_.Weak(), cb = std::move(cb)]() mutable {
    if (alive) cb();
  });
}

absl::StatusOr<PacketHash> UdpV4::Send(const Endpoint& to, const Packet& packet) {
  auto enc = cfg_.modelled_signatures ? EncodePacketModelled(self_.pubkey, packet)
                                      : EncodePacket(key_, packet);
  if (!enc.ok()) {
    ++counters_.send_errors;
    return enc.status();
  }
  PacketHash hash;
  std::copy(enc->begin(), enc->begin() + kPacketHashSize, hash.begin());
  absl::Status s = socket_->SendTo(to, *enc);
  if (!s.ok()) {
    ++counters_.send_errors;
    return s;
  }
  ++counters_.sent[packet.index()];
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
    ++counters_.requests_timed_out;
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
  auto d = DecodePacket(data,
                        cfg_.modelled_signatures ? SignatureMode::kModelled : SignatureMode::kReal);
  if (!d.ok()) {
    absl::string_view msg = d.status().message();
    if (absl::StartsWith(msg, "bad hash")) {
      Drop(kDropReasonBadHash);
    } else if (absl::StartsWith(msg, "invalid signature")) {
      Drop(kDropReasonBadSignature);
    } else {
      Drop(kDropReasonMalformed);
    }
    return;
  }
  if (d->sender_id == self_.id) {
    Drop(kDropReasonSelf);
    return;
  }
  ++counters_.received[d->packet.index()];
  absl::Time unix_now = unix_now_();
  switch (PacketType(d->packet)) {
    case kPingPacket: {
      const auto& ping = std::get<discover::Ping>(d->packet);
      if (Expired(ping.expiration, unix_now)) return Drop(kDropReasonExpired);
      HandlePing(from, *d, ping);
      return;
    }
    case kPongPacket: {
      if (Expired(std::get<Pong>(d->packet).expiration, unix_now)) return Drop(kDropReasonExpired);
      if (!HandleReply(from, *d)) Drop(kDropReasonUnsolicited);
      return;
    }
    case kFindNodePacket: {
      const auto& req = std::get<discover::FindNode>(d->packet);
      if (Expired(req.expiration, unix_now)) return Drop(kDropReasonExpired);
      HandleFindNode(from, *d, req);
      return;
    }
    case kNeighborsPacket: {
      if (Expired(std::get<Neighbors>(d->packet).expiration, unix_now))
        return Drop(kDropReasonExpired);
      if (!HandleReply(from, *d)) Drop(kDropReasonUnsolicited);
      return;
    }
    case kENRRequestPacket: {
      if (Expired(std::get<ENRRequest>(d->packet).expiration, unix_now)) {
        return Drop(kDropReasonExpired);
      }
      // go-ethereum's rule: only bonded senders, or the record would be a
      // traffic amplifier towards a spoofed source address.
      if (!IsBonded(d->sender_id, from.ip)) return Drop(kDropReasonUnknownNode);
      HandleENRRequest(from, *d);
      return;
    }
    case kENRResponsePacket: {
      if (!HandleReply(from, *d)) Drop(kDropReasonUnsolicited);
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
  pong.enr_seq = local_record_.seq();  // EIP-868
  (void)Send(from, pong);

  Node n = Node::FromPublicKey(p.sender, from.ip, ping.from.tcp, from.port);
  MonoTime now = loop_->Now();
  UpdateBond(p.sender_id, from.ip, [&](BondRecord& b) { b.last_ping_received = now; });
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
  if (!IsBonded(p.sender_id, from.ip)) return Drop(kDropReasonUnknownNode);
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
  ping.enr_seq = local_record_.seq();  // EIP-868
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
        UpdateBond(n.id, n.ip, [&](BondRecord& b) { b.last_pong_received = now; });
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

void UdpV4::EnsureBond(const Node& n, StatusCallback then) {
  if (!NeedsBond(n)) {
    then(absl::OkStatus());
    return;
  }
  PingInternal(n, [this, then = std::move(then)](absl::Status s) mutable {
    if (!s.ok()) {
      then(std::move(s));
      return;
    }
    // Give n time to ping us back and process our pong, or it would ignore
    // the request.
    loop_->RunAfter(cfg_.response_timeout,
                    [alive = alive_.Weak(), then = std::move(then)]() mutable {
                      if (alive) then(absl::OkStatus());
                    });
  });
}

void UdpV4::SendFindNode(const Node& n, const EncodedPubkey& target, FindNodeCallback done) {
  EnsureBond(n, [this, n, target, done = std::move(done)](absl::Status s) mutable {
    if (!s.ok()) {
      FindNodeDone(n, false);
      done(std::move(s));
      return;
    }
    SendFindNodeNow(n, target, std::move(done));
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
            Drop(kDropReasonNetrestrict);
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

absl::Status UdpV4::SignLocalRecord(const PrivateKey& key) {
  // go-ethereum's LocalNode keeps "ip"/"udp"/"tcp" for an IPv4 endpoint and
  // the "6" keys for an IPv6 one; ports without an address say nothing.
  local_record_.SetSeq(cfg_.enr_seq);
  if (self_.has_ip()) {
    local_record_.SetIp(self_.ip);
    bool v4 = self_.ip.is_v4();
    if (self_.udp != 0) v4 ? local_record_.SetUdp(self_.udp) : local_record_.SetUdp6(self_.udp);
    if (self_.tcp != 0) v4 ? local_record_.SetTcp(self_.tcp) : local_record_.SetTcp6(self_.tcp);
  }
  return local_record_.SignV4(key);
}

void UdpV4::HandleENRRequest(const Endpoint& from, const DecodedPacket& p) {
  ENRResponse resp;
  resp.request_hash = p.hash;
  absl::StatusOr<std::vector<uint8_t>> rec = local_record_.Encode();
  if (!rec.ok()) std::abort();  // Programmer error: Create signs the record.
  resp.record = std::move(*rec);
  (void)Send(from, resp);
}

bool UdpV4::NeedsBond(const Node& n) const {
  auto it = bonds_.find(n.id);
  if (it == bonds_.end() || it->second.ip != n.ip) return true;
  const BondRecord& b = it->second;
  return !b.last_ping_received || loop_->Now() - *b.last_ping_received > cfg_.bond_expiration ||
         b.findnode_failures > cfg_.max_findnode_failures;
}

void UdpV4::RequestENR(const Node& n, RecordCallback done) {
  EnsureBond(n, [this, n, done = std::move(done)](absl::Status s) mutable {
    if (!s.ok()) {
      done(std::move(s));
      return;
    }
    SendENRRequestNow(n, std::move(done));
  });
}

void UdpV4::SendENRRequestNow(const Node& n, RecordCallback done) {
  ENRRequest req;
  req.expiration = Expiration();
  auto hash = Send(n.UdpEndpoint(), req);
  if (!hash.ok()) {
    PostChecked([done = std::move(done), s = hash.status()]() mutable { done(s); });
    return;
  }
  // The record bytes live in the completion callback; the matcher, destroyed
  // with it, fills them through a raw pointer.
  auto record = std::make_unique<std::vector<uint8_t>>();
  std::vector<uint8_t>* sink = record.get();
  AddPending(
      n.id, n.ip, kENRResponsePacket,
      [sink, h = *hash](const DecodedPacket& p, bool* complete) {
        const auto& resp = std::get<ENRResponse>(p.packet);
        if (resp.request_hash != h) return false;
        *sink = resp.record;
        *complete = true;
        return true;
      },
      [want = n.id, record = std::move(record), done = std::move(done)](absl::Status s) mutable {
        if (!s.ok()) {
          done(std::move(s));
          return;
        }
        absl::StatusOr<enr::Record> r = enr::DecodeRecord(*record);
        if (!r.ok()) {
          done(absl::InvalidArgumentError(
              absl::StrCat("invalid record in ENRResponse: ", r.status().message())));
          return;
        }
        absl::StatusOr<NodeId> id = r->VerifiedNodeId();
        if (!id.ok() || *id != want) {
          done(absl::InvalidArgumentError("invalid ID in response record"));
          return;
        }
        done(std::move(*r));
      });
}

void UdpV4::FindNodeDone(const Node& n, bool useful) {
  int failures = 0;
  bool kept = UpdateBond(n.id, n.ip, [&](BondRecord& b) {
    if (useful) {
      if (b.findnode_failures > 0) --b.findnode_failures;
    } else {
      ++b.findnode_failures;
    }
    failures = b.findnode_failures;
  });
  if (kept && !useful && failures >= cfg_.max_findnode_failures) table_.Delete(n.id);
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
  ++counters_.lookups_done;
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

namespace {

// The node a verified record describes, falling back to `asked` (the node
// that answered with it) for an address or port the record lacks.
Node NodeFromRecord(const enr::Record& rec, const Node& asked) {
  absl::StatusOr<Node> n = rec.ToNode();
  if (!n.ok() || !n->has_ip()) return asked;
  if (n->udp == 0) n->udp = asked.udp;
  if (n->tcp == 0) n->tcp = asked.tcp;
  return *std::move(n);
}

bool SameEndpoint(const Node& a, const Node& b) { return a.ip == b.ip && a.udp == b.udp; }

}  // namespace

void UdpV4::Resolve(const Node& node, ResolveCallback done) {
  // go-ethereum's UDPv4.Resolve. First ask the node itself: this works while
  // it is still at the endpoint we have.
  if (!node.has_ip() || node.udp == 0) {
    ResolveFromTable(node, std::move(done));
    return;
  }
  RequestENR(node, [this, node, done = std::move(done)](absl::StatusOr<enr::Record> r) mutable {
    if (r.ok()) {
      done(NodeFromRecord(*r, node));
      return;
    }
    ResolveFromTable(node, std::move(done));
  });
}

void UdpV4::ResolveFromTable(const Node& node, ResolveCallback done) {
  // Then the table's record, if it names another endpoint (the node may
  // have moved and bonded with us from its new one).
  const TableEntry* e = table_.Get(node.id);
  if (e == nullptr || SameEndpoint(e->node, node)) {
    ResolveByLookup(node, std::move(done));
    return;
  }
  Node in_table = e->node;
  RequestENR(in_table,
             [this, node, in_table, done = std::move(done)](absl::StatusOr<enr::Record> r) mutable {
               if (r.ok()) {
                 done(NodeFromRecord(*r, in_table));
                 return;
               }
               ResolveByLookup(node, std::move(done));
             });
}

void UdpV4::ResolveByLookup(const Node& node, ResolveCallback done) {
  // Last, a lookup of its key: the nodes closest to it know where it is
  // now. The answer must still come from the node itself.
  NodeId want = node.id;
  Lookup(node.pubkey.bytes(),
         [this, want, done = std::move(done)](std::vector<Node> found) mutable {
           for (const Node& n : found) {
             if (n.id != want) continue;
             RequestENR(n, [n, done = std::move(done)](absl::StatusOr<enr::Record> r) mutable {
               if (r.ok()) {
                 done(NodeFromRecord(*r, n));
               } else {
                 done(std::nullopt);
               }
             });
             return;
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

int UdpV4::Seed(const std::vector<KnownNode>& known) {
  if (started_) std::abort();  // Programmer error: seeds come before Start.
  const absl::Time unix_now = unix_now_();
  const MonoTime now = loop_->Now();
  std::vector<const KnownNode*> fresh;
  for (const KnownNode& k : known) {
    if (!k.last_pong || unix_now - *k.last_pong > cfg_.seed_max_age) continue;
    if (k.node.id == self_.id || k.node.ip.IsUnspecified()) continue;
    fresh.push_back(&k);
  }
  std::stable_sort(fresh.begin(), fresh.end(), [](const KnownNode* a, const KnownNode* b) {
    return *a->last_pong > *b->last_pong;
  });
  if (fresh.size() > cfg_.seed_count) fresh.resize(cfg_.seed_count);
  int added = 0;
  for (const KnownNode* k : fresh) {
    AddResult r = table_.AddSeenNode(k->node, now);
    if (r != AddResult::kAdded && r != AddResult::kAddedReplacement) continue;
    ++added;
    // Unix stamps back to loop time; lapsed ones are not restored.
    auto restore = [&](const std::optional<absl::Time>& t) -> std::optional<MonoTime> {
      if (!t) return std::nullopt;
      const absl::Duration age = std::max(absl::ZeroDuration(), unix_now - *t);
      if (age > cfg_.bond_expiration) return std::nullopt;
      return now - age;
    };
    std::optional<MonoTime> pong = restore(k->last_pong);
    std::optional<MonoTime> ping = restore(k->last_ping);
    if (!pong && !ping) continue;
    UpdateBond(k->node.id, k->node.ip, [&](BondRecord& b) {
      b.last_pong_received = pong;
      b.last_ping_received = ping;
      b.findnode_failures = k->findnode_failures;
    });
  }
  return added;
}

std::vector<KnownNode> UdpV4::KnownNodes() const {
  const absl::Time unix_now = unix_now_();
  const MonoTime now = loop_->Now();
  std::vector<KnownNode> out;
  for (const TableNodeInfo& info : table_.Nodes()) {
    KnownNode k;
    k.node = info.entry.node;
    std::optional<MonoTime> pong = info.entry.last_pong;
    auto it = bonds_.find(k.node.id);
    if (it != bonds_.end() && it->second.ip == k.node.ip) {
      const BondRecord& b = it->second;
      if (b.last_pong_received && (!pong || *b.last_pong_received > *pong)) {
        pong = b.last_pong_received;
      }
      k.findnode_failures = b.findnode_failures;
      if (b.last_ping_received) k.last_ping = unix_now - (now - *b.last_ping_received);
    }
    if (pong) k.last_pong = unix_now - (now - *pong);
    out.push_back(std::move(k));
  }
  return out;
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
