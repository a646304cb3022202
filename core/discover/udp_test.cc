#include "core/discover/udp.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/crypto/keccak.h"
#include "core/crypto/secp256k1.h"
#include "core/dial/node_iterator.h"
#include "core/discover/enr.h"
#include "core/discover/v4wire.h"
#include "core/event_loop.h"
#include "core/net/ip.h"
#include "core/net/mem_network.h"
#include "core/net/transport.h"
#include "core/node.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p {
namespace discover {
namespace {

constexpr absl::Duration kLatency = absl::Milliseconds(10);
constexpr uint16_t kPort = 30303;

// The Unix time at virtual time 0: well after 1970 so "expired" stamps exist.
absl::Time UnixBase() { return absl::FromUnixSeconds(1700000000); }

MemSwitchOptions SwitchOptions() {
  MemSwitchOptions o;
  o.default_latency = kLatency;
  return o;
}

// A datagram socket driven by the test: sends hand-made packets, records
// what arrives.
struct RawPeer {
  PrivateKey key;
  Node node;
  std::unique_ptr<PacketSocket> sock;
  std::vector<DecodedPacket> got;
  int undecodable = 0;

  void Send(const Node& to, const Packet& p) { SendBytes(to, Encode(p)); }
  void SendBytes(const Node& to, const std::vector<uint8_t>& bytes) {
    ASSERT_TRUE(sock->SendTo(to.UdpEndpoint(), bytes).ok());
  }
  std::vector<uint8_t> Encode(const Packet& p) {
    auto enc = EncodePacket(key, p);
    EXPECT_TRUE(enc.ok()) << enc.status();
    return *enc;
  }
  std::vector<const DecodedPacket*> OfType(uint8_t type) const {
    std::vector<const DecodedPacket*> out;
    for (const auto& d : got) {
      if (PacketType(d.packet) == type) out.push_back(&d);
    }
    return out;
  }
};

class World {
 public:
  explicit World(uint64_t seed) : sw_(SwitchOptions()), rng_(seed) {}

  absl::Time UnixNow() const { return UnixBase() + (q_.Now() - absl::UnixEpoch()); }
  uint64_t Exp() const { return MakeExpiration(UnixNow(), absl::Seconds(20)); }
  MonoTime Now() const { return q_.Now(); }
  void RunFor(absl::Duration d) { q_.RunUntil(q_.now_ns() + absl::ToInt64Nanoseconds(d)); }
  sim::EventQueue& queue() { return q_; }

  static IpAddress IpFor(int i) { return IpAddress::V4(10, 0, i / 250, i % 250 + 1); }

  UdpV4* AddNode(const IpAddress& ip, UdpV4Config cfg = {}) {
    RngEntropy ent(rng_.Fork());
    return AddNodeWithKey(ip, PrivateKey::Generate(ent), cfg);
  }

  UdpV4* AddNodeWithKey(const IpAddress& ip, const PrivateKey& key, UdpV4Config cfg = {}) {
    Network* net = AddHost(ip);
    auto u = UdpV4::Create(
        loops_.back().get(), net, Endpoint{ip, kPort}, key, kPort, [this] { return UnixNow(); },
        rng_.Fork(), cfg);
    EXPECT_TRUE(u.ok()) << u.status();
    udps_.push_back(std::move(*u));
    keys_.push_back(key);
    return udps_.back().get();
  }

  // n nodes at IpFor(1..n), started with node 0 as every other's bootnode.
  std::vector<UdpV4*> StartNetwork(int n, const UdpV4Config& cfg = {}) {
    std::vector<UdpV4*> nodes;
    for (int i = 0; i < n; ++i) nodes.push_back(AddNode(IpFor(i + 1), cfg));
    nodes[0]->Start({});
    for (int i = 1; i < n; ++i) nodes[i]->Start({nodes[0]->Self()});
    return nodes;
  }

  // The node stops (its socket closes; its host stays, silent) and comes
  // back with the same key at new_ip.
  UdpV4* Move(UdpV4* node, const IpAddress& new_ip) {
    for (size_t i = 0; i < udps_.size(); ++i) {
      if (udps_[i].get() != node) continue;
      const PrivateKey key = keys_[i];
      udps_[i].reset();
      return AddNodeWithKey(new_ip, key);
    }
    ADD_FAILURE() << "no such node";
    return nullptr;
  }

  RawPeer* AddRaw(const IpAddress& ip) {
    Network* net = AddHost(ip);
    RngEntropy ent(rng_.Fork());
    auto peer =
        std::make_unique<RawPeer>(RawPeer{PrivateKey::Generate(ent), Node{}, nullptr, {}, 0});
    RawPeer* raw = peer.get();
    raw->node = Node::FromPublicKey(DerivePublicKey(raw->key), ip, kPort, kPort);
    auto sock = net->OpenPacketSocket(Endpoint{ip, kPort},
                                      [raw](const Endpoint&, absl::Span<const uint8_t> data) {
                                        auto d = DecodePacket(data);
                                        if (d.ok()) {
                                          raw->got.push_back(std::move(*d));
                                        } else {
                                          ++raw->undecodable;
                                        }
                                      });
    EXPECT_TRUE(sock.ok());
    raw->sock = std::move(*sock);
    raws_.push_back(std::move(peer));
    return raw;
  }

  // A node with a fresh key at ip, not backed by any host.
  Node FakeNode(const IpAddress& ip) {
    RngEntropy ent(rng_.Fork());
    return Node::FromPublicKey(DerivePublicKey(PrivateKey::Generate(ent)), ip, kPort, kPort);
  }

  // Makes `a` hold a pong from raw peer c (c pings, answers a's ping back).
  // c pings a (from its own endpoint); runs until a has answered.
  void PingFromRaw(RawPeer* c, UdpV4* a) {
    c->Send(a->Self(), PingTo(c, a));
    RunFor(2 * kLatency);
  }

  // c answers every Ping it got from a with a Pong; runs until they arrived.
  // Returns how many it answered.
  size_t AnswerPingsFromRaw(RawPeer* c, UdpV4* a) {
    const std::vector<const DecodedPacket*> pings = c->OfType(kPingPacket);
    for (const DecodedPacket* d : pings) {
      Pong pong;
      pong.to = WireEndpoint{a->Self().ip, kPort, 0};
      pong.ping_hash = d->hash;
      pong.expiration = Exp();
      c->Send(a->Self(), pong);
    }
    RunFor(2 * kLatency);
    return pings.size();
  }

  // The endpoint proof both ways: c pings a and answers a's ping.
  void BondRaw(RawPeer* c, UdpV4* a) {
    PingFromRaw(c, a);
    ASSERT_EQ(AnswerPingsFromRaw(c, a), 1u);
    ASSERT_TRUE(a->IsBonded(c->node.id, c->node.ip));
    c->got.clear();
  }

  // A Ping from c's endpoint to a's, expiring as Exp().
  discover::Ping PingTo(RawPeer* c, UdpV4* a) {
    discover::Ping ping;
    ping.from = WireEndpoint{c->node.ip, kPort, kPort};
    ping.to = WireEndpoint{a->Self().ip, kPort, kPort};
    ping.expiration = Exp();
    return ping;
  }

 private:
  Network* AddHost(const IpAddress& ip) {
    loops_.push_back(std::make_unique<sim::SimLoop>(&q_));
    auto net = sw_.AddHost(loops_.back().get(), ip);
    EXPECT_TRUE(net.ok()) << net.status();
    nets_.push_back(std::move(*net));
    return nets_.back().get();
  }

  // Destruction order matters: nodes, then networks, loops, switch, queue.
  sim::EventQueue q_;
  MemSwitch sw_;
  Rng rng_;
  std::vector<std::unique_ptr<sim::SimLoop>> loops_;
  std::vector<std::unique_ptr<Network>> nets_;
  std::vector<std::unique_ptr<UdpV4>> udps_;
  std::vector<PrivateKey> keys_;  // Of udps_[i].
  std::vector<std::unique_ptr<RawPeer>> raws_;
};

TEST(UdpV4Test, PingPongBondsBothWays) {
  World w(1);
  UdpV4* a = w.AddNode(World::IpFor(1));
  UdpV4* b = w.AddNode(World::IpFor(2));
  std::optional<absl::Status> got;
  MonoTime at;
  a->Ping(b->Self(), [&](absl::Status s) {
    got = s;
    at = w.Now();
  });
  w.RunFor(absl::Seconds(2));
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(got->ok()) << *got;
  EXPECT_EQ(at, absl::UnixEpoch() + 2 * kLatency);
  // a holds b's pong; b pinged a back (a was not bonded) and holds a's pong.
  EXPECT_TRUE(a->IsBonded(b->Self().id, b->Self().ip));
  EXPECT_TRUE(b->IsBonded(a->Self().id, a->Self().ip));
  EXPECT_TRUE(a->table().Contains(b->Self().id));
  EXPECT_TRUE(b->table().Contains(a->Self().id));
  EXPECT_EQ(a->stats().sent.at("PING/v4"), 1);
  EXPECT_EQ(a->stats().sent.at("PONG/v4"), 1);
  EXPECT_EQ(b->stats().sent.at("PING/v4"), 1);
  EXPECT_EQ(b->stats().sent.at("PONG/v4"), 1);
  EXPECT_EQ(a->stats().requests_timed_out, 0);
  EXPECT_EQ(b->stats().requests_timed_out, 0);
  EXPECT_TRUE(a->stats().dropped.empty());
  EXPECT_TRUE(b->stats().dropped.empty());

  // A second ping from the now-bonded a gets no ping back.
  a->Ping(b->Self(), [](absl::Status) {});
  w.RunFor(absl::Seconds(1));
  EXPECT_EQ(b->stats().sent.at("PING/v4"), 1);
  EXPECT_EQ(a->stats().received.at("PONG/v4"), 2);
}

TEST(UdpV4Test, FindNodeRefusedBeforeBondingAnsweredAfter) {
  World w(2);
  UdpV4* a = w.AddNode(World::IpFor(1));
  RawPeer* c = w.AddRaw(World::IpFor(3));
  discover::FindNode fn;
  fn.target = c->node.pubkey.bytes();
  fn.expiration = w.Exp();
  c->Send(a->Self(), fn);
  w.RunFor(absl::Seconds(1));
  EXPECT_EQ(a->stats().Dropped(kDropUnknownNode), 1);
  EXPECT_TRUE(c->got.empty());

  w.BondRaw(c, a);
  fn.expiration = w.Exp();
  c->Send(a->Self(), fn);
  w.RunFor(2 * kLatency);
  auto neigh = c->OfType(kNeighborsPacket);
  ASSERT_EQ(neigh.size(), 1u);
  // a's table holds only c (added as verified when it answered a's ping).
  const auto& nodes = std::get<Neighbors>(neigh[0]->packet).nodes;
  ASSERT_EQ(nodes.size(), 1u);
  EXPECT_EQ(nodes[0].id, c->node.pubkey.bytes());
  EXPECT_EQ(nodes[0].ip, c->node.ip);
  EXPECT_EQ(nodes[0].udp, kPort);
  EXPECT_EQ(a->stats().Dropped(kDropUnknownNode), 1);
}

TEST(UdpV4Test, FindNodeThroughUdpV4BondsFirst) {
  World w(3);
  UdpV4* a = w.AddNode(World::IpFor(1));
  UdpV4* b = w.AddNode(World::IpFor(2));
  std::optional<absl::StatusOr<std::vector<Node>>> got;
  MonoTime at;
  b->FindNode(a->Self(), b->Self().pubkey.bytes(), [&](absl::StatusOr<std::vector<Node>> r) {
    got = std::move(r);
    at = w.Now();
  });
  w.RunFor(absl::Seconds(3));
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status();
  // Ping (2L), wait response_timeout, then FindNode: one Neighbors packet
  // with fewer than 16 nodes arrives, so the request runs to its timeout and
  // returns the partial answer (go-ethereum's findnode).
  EXPECT_EQ(at, absl::UnixEpoch() + 2 * kLatency + absl::Milliseconds(1000));
  // a's table: b (verified after a's ping back).
  ASSERT_EQ((*got)->size(), 1u);
  EXPECT_EQ((**got)[0].id, b->Self().id);
  EXPECT_EQ(a->stats().Dropped(kDropUnknownNode), 0);
}

// go-ethereum's NetRestrict for discovery: neighbours outside the allowed
// networks are ignored (and counted), those inside are returned.
TEST(UdpV4Test, NetRestrictFiltersNeighbors) {
  World w(5);
  UdpV4* a = w.AddNode(World::IpFor(1));
  std::vector<Node> fake;
  for (int i = 0; i < 3; ++i) fake.push_back(w.FakeNode(IpAddress::V4(10, 1, 0, i + 1)));
  for (int i = 0; i < 2; ++i) fake.push_back(w.FakeNode(IpAddress::V4(10, 2, 0, i + 1)));
  a->Start(fake);
  UdpV4Config cfg;
  cfg.net_restrict = *IpNetList::Parse("10.0.0.0/16,10.1.0.0/16");
  UdpV4* b = w.AddNode(World::IpFor(2), cfg);
  std::optional<absl::StatusOr<std::vector<Node>>> got;
  b->FindNode(a->Self(), b->Self().pubkey.bytes(),
              [&](absl::StatusOr<std::vector<Node>> r) { got = std::move(r); });
  w.RunFor(absl::Seconds(3));
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status();
  for (const Node& n : **got) {
    EXPECT_TRUE(cfg.net_restrict->Contains(n.ip)) << n.ip.ToString();
  }
  // a's table: the 5 fakes and b; the two 10.2/16 fakes are filtered.
  EXPECT_EQ((*got)->size(), 4u);
  EXPECT_EQ(b->stats().Dropped("netrestrict"), 2);
}

TEST(UdpV4Test, NeighborsSplitIntoPacketsOfTwelve) {
  World w(4);
  UdpV4* a = w.AddNode(World::IpFor(1));
  std::vector<Node> fake;
  for (int i = 0; i < 20; ++i) fake.push_back(w.FakeNode(IpAddress::V4(10, 1, 0, i + 1)));
  a->Start(fake);  // Seeds the table; the pings go nowhere.
  ASSERT_EQ(a->table().Len(), 20u);
  RawPeer* c = w.AddRaw(World::IpFor(3));
  w.BondRaw(c, a);
  ASSERT_EQ(a->table().Len(), 21u);
  discover::FindNode fn;
  fn.target = c->node.pubkey.bytes();
  fn.expiration = w.Exp();
  c->Send(a->Self(), fn);
  w.RunFor(2 * kLatency);
  auto neigh = c->OfType(kNeighborsPacket);
  ASSERT_EQ(neigh.size(), 2u);
  const auto& first = std::get<Neighbors>(neigh[0]->packet).nodes;
  const auto& second = std::get<Neighbors>(neigh[1]->packet).nodes;
  EXPECT_EQ(first.size(), 12u);
  EXPECT_EQ(second.size(), 4u);
  // Together: the 16 closest to the target, closest first.
  std::vector<Node> want = a->table().Closest(c->node.id, 16);
  std::vector<EncodedPubkey> got_keys;
  for (const auto& n : first) got_keys.push_back(n.id);
  for (const auto& n : second) got_keys.push_back(n.id);
  ASSERT_EQ(got_keys.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got_keys[i], want[i].pubkey.bytes());
}

TEST(UdpV4Test, BadPacketsCountedAndIgnored) {
  World w(5);
  UdpV4* a = w.AddNode(World::IpFor(1));
  RawPeer* c = w.AddRaw(World::IpFor(3));
  w.RunFor(absl::Seconds(5));

  discover::Ping ping = w.PingTo(c, a);

  // Too small, too big: malformed.
  c->SendBytes(a->Self(), std::vector<uint8_t>(10, 0xab));
  c->SendBytes(a->Self(), std::vector<uint8_t>(2000, 0));
  // A flipped bit in the body: the hash no longer matches.
  std::vector<uint8_t> bad_hash = c->Encode(ping);
  bad_hash.back() ^= 1;
  c->SendBytes(a->Self(), bad_hash);
  // A zero signature with a correct hash: recovery fails.
  std::vector<uint8_t> bad_sig = c->Encode(ping);
  std::fill(bad_sig.begin() + kPacketHashSize, bad_sig.begin() + kHeadSize, 0);
  auto h = Keccak256Hash(absl::Span<const uint8_t>(bad_sig.data() + kPacketHashSize,
                                                   bad_sig.size() - kPacketHashSize));
  std::copy(h.begin(), h.end(), bad_sig.begin());
  c->SendBytes(a->Self(), bad_sig);
  // Expired ping.
  discover::Ping old = ping;
  old.expiration = MakeExpiration(w.UnixNow(), -absl::Seconds(1));
  c->Send(a->Self(), old);
  // Replies nobody asked for.
  Pong pong;
  pong.ping_hash.fill(7);
  pong.expiration = w.Exp();
  c->Send(a->Self(), pong);
  Neighbors neigh;
  neigh.expiration = w.Exp();
  c->Send(a->Self(), neigh);
  // An unbonded ENRRequest.
  ENRRequest enr;
  enr.expiration = w.Exp();
  c->Send(a->Self(), enr);
  w.RunFor(absl::Seconds(1));

  std::map<std::string, int64_t> want = {
      {kDropMalformed, 2}, {kDropBadHash, 1},     {kDropBadSignature, 1},
      {kDropExpired, 1},   {kDropUnsolicited, 2}, {kDropUnknownNode, 1},
  };
  EXPECT_EQ(a->stats().dropped, want);
  EXPECT_TRUE(c->got.empty());
  EXPECT_EQ(a->table().Len(), 0u);

  // Still answering.
  c->Send(a->Self(), ping);
  w.RunFor(2 * kLatency);
  auto pongs = c->OfType(kPongPacket);
  ASSERT_EQ(pongs.size(), 1u);
  EXPECT_EQ(std::get<Pong>(pongs[0]->packet).to, (WireEndpoint{c->node.ip, kPort, kPort}));
  EXPECT_EQ(c->OfType(kPingPacket).size(), 1u);  // The endpoint proof.
  EXPECT_EQ(c->undecodable, 0);
}

TEST(UdpV4Test, ReplayedRepliesAreDroppedAsUnsolicited) {
  World w(6);
  UdpV4* a = w.AddNode(World::IpFor(1));
  RawPeer* c = w.AddRaw(World::IpFor(3));
  std::optional<absl::Status> pinged;
  a->Ping(c->node, [&](absl::Status s) { pinged = s; });
  w.RunFor(2 * kLatency);
  auto pings = c->OfType(kPingPacket);
  ASSERT_EQ(pings.size(), 1u);
  Pong pong;
  pong.to = WireEndpoint{a->Self().ip, kPort, 0};
  pong.ping_hash = pings[0]->hash;
  pong.expiration = w.Exp();
  const std::vector<uint8_t> pong_bytes = c->Encode(pong);
  c->SendBytes(a->Self(), pong_bytes);
  w.RunFor(2 * kLatency);
  ASSERT_TRUE(pinged.has_value() && pinged->ok());
  EXPECT_EQ(a->stats().received.at("PONG/v4"), 1);

  // The same datagram again, twice, within its expiration: nothing waits
  // for it any more.
  c->SendBytes(a->Self(), pong_bytes);
  c->SendBytes(a->Self(), pong_bytes);
  w.RunFor(2 * kLatency);
  EXPECT_EQ(a->stats().Dropped(kDropUnsolicited), 2);
  EXPECT_EQ(a->stats().received.at("PONG/v4"), 3);  // Decoded, then dropped.
  EXPECT_TRUE(a->IsBonded(c->node.id, c->node.ip));
}

TEST(UdpV4Test, PingTimesOutAfter500ms) {
  World w(6);
  UdpV4* a = w.AddNode(World::IpFor(1));
  Node dead = w.FakeNode(IpAddress::V4(10, 9, 9, 9));
  std::optional<absl::Status> got;
  MonoTime at;
  a->Ping(dead, [&](absl::Status s) {
    got = s;
    at = w.Now();
  });
  w.RunFor(absl::Milliseconds(499));
  EXPECT_FALSE(got.has_value());
  w.RunFor(absl::Seconds(1));
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(absl::IsDeadlineExceeded(*got)) << *got;
  EXPECT_EQ(got->message(), "RPC timeout");
  EXPECT_EQ(at, absl::UnixEpoch() + absl::Milliseconds(500));
  EXPECT_EQ(a->stats().requests_timed_out, 1);
}

TEST(UdpV4Test, FindNodeFailuresDeleteNode) {
  World w(7);
  UdpV4* a = w.AddNode(World::IpFor(1));
  // c bonds (so a holds it as a verified table entry and sends FindNode
  // without pinging first), then ignores every FindNode.
  RawPeer* c = w.AddRaw(World::IpFor(3));
  w.BondRaw(c, a);
  ASSERT_TRUE(a->table().Contains(c->node.id));
  int failures = 0;
  MonoTime start = w.Now();
  for (int i = 0; i < 4; ++i) {
    a->FindNode(c->node, c->node.pubkey.bytes(), [&](absl::StatusOr<std::vector<Node>> r) {
      EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
      EXPECT_EQ(w.Now(), start + absl::Milliseconds(500));
      ++failures;
    });
  }
  w.RunFor(absl::Seconds(1));
  EXPECT_EQ(failures, 4);
  EXPECT_EQ(c->OfType(kFindNodePacket).size(), 4u);
  EXPECT_EQ(c->OfType(kPingPacket).size(), 0u);
  EXPECT_TRUE(a->table().Contains(c->node.id));
  a->FindNode(c->node, c->node.pubkey.bytes(),
              [&](absl::StatusOr<std::vector<Node>> r) { ++failures; });
  w.RunFor(absl::Seconds(1));
  EXPECT_EQ(failures, 5);
  EXPECT_FALSE(a->table().Contains(c->node.id));
}

// max_bond_records: a new sender gets a record only if one is free or some
// have lapsed (no ping or pong within bond_expiration, no findnode
// failures); then every lapsed record is forgotten, and only those.
TEST(UdpV4Test, BondRecordsCappedAndOnlyLapsedOnesForgotten) {
  World w(31);
  UdpV4Config cfg;
  cfg.max_bond_records = 4;
  cfg.bond_expiration = absl::Seconds(60);
  UdpV4* a = w.AddNode(World::IpFor(1), cfg);  // Not started: no timers.
  std::vector<RawPeer*> p;
  // One /24 each: the table's IP limits must not keep any out.
  for (int i = 0; i < 9; ++i) p.push_back(w.AddRaw(World::IpFor(250 * (i + 1))));
  const MonoTime start = w.Now();
  auto run_until = [&](absl::Duration since_start) { w.RunFor(since_start - (w.Now() - start)); };
  // c pings a, then answers a's ping back, if any.
  auto ping = [&](RawPeer* c) {
    w.PingFromRaw(c, a);
    w.AnswerPingsFromRaw(c, a);
    c->got.clear();
  };
  // Whether a holds a bond record for c (every sender here pinged, so a
  // record has a last ping), and its findnode failures (-1: no record).
  auto failures = [&](RawPeer* c) {
    EXPECT_TRUE(a->table().Contains(c->node.id)) << "KnownNodes would not show it";
    for (const KnownNode& k : a->KnownNodes()) {
      if (k.node.id == c->node.id) return k.last_ping ? k.findnode_failures : -1;
    }
    return -1;
  };
  auto bonded = [&](RawPeer* c) { return a->IsBonded(c->node.id, c->node.ip); };

  // t=0: p0..p3 fill the four records; p4 is refused (it still gets its
  // pong, and goes into the table when it answers a's ping).
  for (int i = 0; i < 5; ++i) ping(p[i]);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(bonded(p[i])) << i;
  EXPECT_FALSE(bonded(p[4]));
  EXPECT_EQ(failures(p[4]), -1);
  EXPECT_EQ(a->stats().sent.at("PONG/v4"), 5);

  // p1 ignores a FindNode: one failure, which keeps its record.
  std::optional<absl::Status> find_status;
  a->FindNode(p[1]->node, p[1]->node.pubkey.bytes(),
              [&](absl::StatusOr<std::vector<Node>> r) { find_status = r.status(); });
  w.RunFor(absl::Seconds(1));
  ASSERT_TRUE(find_status.has_value());
  EXPECT_TRUE(absl::IsDeadlineExceeded(*find_status)) << *find_status;
  EXPECT_EQ(failures(p[1]), 1);
  p[1]->got.clear();

  // t=30 s: p2 pings again. t=59 s: nothing has lapsed, p5 is refused.
  run_until(absl::Seconds(30));
  ping(p[2]);
  run_until(absl::Seconds(59));
  ping(p[5]);
  EXPECT_FALSE(bonded(p[5]));
  EXPECT_EQ(failures(p[5]), -1);
  for (int i = 0; i < 4; ++i) EXPECT_GE(failures(p[i]), 0) << i;

  // t=61 s: p0's and p3's proofs have lapsed; p1's have too, but it has a
  // failure. p4 takes a freed record, p5 the other, p6 is refused.
  run_until(absl::Seconds(61));
  ping(p[4]);
  // Every lapsed record went at once, not just the one p4 needed.
  EXPECT_EQ(failures(p[0]), -1);
  EXPECT_EQ(failures(p[3]), -1);
  ping(p[5]);
  ping(p[6]);
  EXPECT_EQ(failures(p[0]), -1);
  EXPECT_EQ(failures(p[1]), 1);
  EXPECT_EQ(failures(p[2]), 0);
  EXPECT_EQ(failures(p[3]), -1);
  EXPECT_EQ(failures(p[4]), 0);
  EXPECT_EQ(failures(p[5]), 0);
  EXPECT_EQ(failures(p[6]), -1);
  EXPECT_TRUE(bonded(p[4]));
  EXPECT_TRUE(bonded(p[5]));
  EXPECT_FALSE(bonded(p[6]));

  // t=62 s: p1 pings, then answers a FindNode usefully: no failure left.
  run_until(absl::Seconds(62));
  ping(p[1]);
  std::optional<absl::StatusOr<std::vector<Node>>> found;
  a->FindNode(p[1]->node, p[1]->node.pubkey.bytes(),
              [&](absl::StatusOr<std::vector<Node>> r) { found = std::move(r); });
  w.RunFor(2 * kLatency);
  ASSERT_EQ(p[1]->OfType(kFindNodePacket).size(), 1u);
  const Node listed = w.FakeNode(World::IpFor(3000));
  Neighbors nb;
  nb.nodes.push_back(WireNode{listed.ip, listed.udp, listed.tcp, listed.pubkey.bytes()});
  nb.expiration = w.Exp();
  p[1]->Send(a->Self(), nb);
  w.RunFor(absl::Seconds(1));
  ASSERT_TRUE(found.has_value());
  ASSERT_TRUE(found->ok()) << found->status();
  ASSERT_EQ((*found)->size(), 1u);
  EXPECT_EQ((**found)[0].id, listed.id);
  EXPECT_EQ(failures(p[1]), 0);

  // t=100 s: only p2 (last proof at 30 s) has lapsed: p7 gets its record,
  // p8 is refused.
  run_until(absl::Seconds(100));
  ping(p[7]);
  ping(p[8]);
  EXPECT_EQ(failures(p[2]), -1);
  EXPECT_TRUE(bonded(p[7]));
  EXPECT_FALSE(bonded(p[8]));
  EXPECT_EQ(failures(p[8]), -1);
  for (int i : {1, 4, 5, 7}) EXPECT_EQ(failures(p[i]), 0) << i;

  // t=123 s: p1 (62 s), p4 and p5 (61 s) have lapsed, p7 (100 s) has not.
  run_until(absl::Seconds(123));
  ping(p[0]);
  for (int i : {1, 4, 5}) EXPECT_EQ(failures(p[i]), -1) << i;
  ping(p[8]);
  ping(p[6]);
  ping(p[3]);  // Refused: p0, p8, p6 and p7 hold the four records.
  for (int i : {0, 6, 7, 8}) EXPECT_EQ(failures(p[i]), 0) << i;
  for (int i : {1, 2, 3, 4, 5}) EXPECT_EQ(failures(p[i]), -1) << i;
  EXPECT_FALSE(bonded(p[3]));
}

TEST(UdpV4Test, StartBondsWithBootnodeAndSelfLooksUp) {
  World w(10);
  UdpV4* boot = w.AddNode(World::IpFor(1));
  UdpV4* a = w.AddNode(World::IpFor(2));
  boot->Start({});
  a->Start({boot->Self()});
  w.RunFor(absl::Seconds(5));
  EXPECT_TRUE(a->table().Contains(boot->Self().id));
  EXPECT_TRUE(boot->table().Contains(a->Self().id));
  EXPECT_TRUE(a->IsBonded(boot->Self().id, boot->Self().ip));
  EXPECT_TRUE(boot->IsBonded(a->Self().id, a->Self().ip));
  // The refresh: a self-lookup and three random ones. boot's ran on an empty
  // table; each of a's asked boot, its only other node, once.
  EXPECT_EQ(boot->stats().lookups_done, 4);
  EXPECT_EQ(a->stats().lookups_done, 4);
  EXPECT_EQ(a->stats().sent.at("FINDNODE/v4"), 4);
  EXPECT_EQ(boot->stats().sent.at("NEIGHBORS/v4"), 4);
  EXPECT_EQ(boot->stats().sent.count("FINDNODE/v4"), 0u);
}

TEST(UdpV4Test, RevalidationReplacesDeadNode) {
  World w(11);
  UdpV4* a = w.AddNode(World::IpFor(1));
  Node dead = w.FakeNode(IpAddress::V4(10, 9, 9, 9));
  a->Start({dead});
  w.RunFor(absl::Milliseconds(3400));
  // Revalidation pinged it at 3 s; the ping times out at 3.5 s.
  EXPECT_TRUE(a->table().Contains(dead.id));
  w.RunFor(absl::Milliseconds(200));
  EXPECT_FALSE(a->table().Contains(dead.id));
}

TEST(UdpV4Test, RefreshRunsLookupsPeriodically) {
  World w(12);
  UdpV4Config cfg;
  cfg.refresh_interval = absl::Seconds(10);
  UdpV4* a = w.AddNode(World::IpFor(1), cfg);
  a->Start({});
  w.RunFor(absl::Seconds(9));
  EXPECT_EQ(a->stats().lookups_done, 4);  // The initial refresh: self + 3 random.
  w.RunFor(absl::Seconds(2));
  EXPECT_EQ(a->stats().lookups_done, 8);  // The periodic one.
}

struct LookupOutcome {
  std::vector<NodeId> result;  // Of the first lookup.
  bool target_found = false;   // By the first lookup.
  bool sorted = false;         // The first lookup's result.
  int lookups_done = 0;        // Of all lookups.
  int targets_found = 0;       // Lookups whose result has their target.
  int full_results = 0;        // Lookups with kLookupResultSize nodes, sorted.
  uint64_t events = 0;
  std::vector<int64_t> table_sizes;
};

// n nodes bootstrap from node 0 and run for 30 s; then `lookups` nodes
// look up as many other nodes' keys at once (lookup k: source node
// 1 + 53k, target n/2 + 37k, modulo n).
LookupOutcome RunLookupNetwork(uint64_t seed, int n, bool modelled_signatures = false,
                               int lookups = 1) {
  World w(seed);
  UdpV4Config cfg;
  cfg.modelled_signatures = modelled_signatures;
  std::vector<UdpV4*> nodes = w.StartNetwork(n, cfg);
  w.RunFor(absl::Seconds(30));

  std::vector<std::optional<std::vector<Node>>> found(lookups);
  std::vector<NodeId> targets;
  for (int k = 0; k < lookups; ++k) {
    UdpV4* source = nodes[(1 + 53 * k) % n];
    const Node& target = nodes[(n / 2 + 37 * k) % n]->Self();
    if (target.id == source->Self().id) continue;
    targets.push_back(target.id);
    source->Lookup(target.pubkey.bytes(), [&found, k](std::vector<Node> r) { found[k] = r; });
  }
  w.RunFor(absl::Seconds(10));
  LookupOutcome out;
  for (int k = 0; k < static_cast<int>(targets.size()); ++k) {
    if (!found[k].has_value()) continue;
    ++out.lookups_done;
    std::vector<NodeId> ids;
    for (const Node& f : *found[k]) ids.push_back(f.id);
    const bool has_target = std::find(ids.begin(), ids.end(), targets[k]) != ids.end();
    bool sorted = true;
    for (size_t i = 1; i < ids.size(); ++i) {
      if (DistCmp(targets[k], ids[i - 1], ids[i]) >= 0) sorted = false;
    }
    out.targets_found += has_target;
    out.full_results += sorted && ids.size() == kLookupResultSize;
    if (k == 0) {
      out.result = ids;
      out.target_found = has_target;
      out.sorted = sorted;
    }
  }
  out.events = w.queue().events_run();
  for (const UdpV4* u : nodes) out.table_sizes.push_back(u->table().Len());
  return out;
}

TEST(UdpV4Test, LookupFindsTargetIn100Nodes) {
  LookupOutcome o = RunLookupNetwork(42, 100);
  EXPECT_TRUE(o.target_found);
  EXPECT_TRUE(o.sorted);
  EXPECT_EQ(o.result.size(), kLookupResultSize);
  // Every node learned more than its bootnode.
  for (int64_t s : o.table_sizes) EXPECT_GT(s, 1);
}

TEST(UdpV4Test, LookupFindsTargetIn300NodesWithRealSignatures) {
  // Real signatures on every packet (nearly all of the CPU is secp256k1).
  // Convergence at 1,000 nodes is covered with modelled signatures below,
  // which run exactly the same events (ModelledSignaturesChangeNothingButTheCost).
  LookupOutcome o = RunLookupNetwork(43, 300);
  EXPECT_TRUE(o.target_found);
  EXPECT_TRUE(o.sorted);
  EXPECT_EQ(o.result.size(), kLookupResultSize);
}

TEST(UdpV4Test, EveryLookupFindsItsTargetIn1000Nodes) {
  // Fifty lookups of existing IDs from fifty nodes at once, with modelled
  // signatures (same events as real ones, see
  // ModelledSignaturesChangeNothingButTheCost): every one finds its target
  // and returns a full result, closest first.
  LookupOutcome o = RunLookupNetwork(44, 1000, /*modelled_signatures=*/true, /*lookups=*/50);
  EXPECT_EQ(o.lookups_done, 50);
  EXPECT_EQ(o.targets_found, 50);
  EXPECT_EQ(o.full_results, 50);
}

TEST(UdpV4Test, ModelledSignaturesChangeNothingButTheCost) {
  // Modelled packets have the real packets' sizes and the same everything
  // after the signature, and nothing in the protocol depends on the
  // signature's bytes beyond authentication: so a network with modelled
  // signatures runs exactly the same events as one with real ones.
  LookupOutcome real = RunLookupNetwork(11, 60);
  LookupOutcome modelled = RunLookupNetwork(11, 60, /*modelled_signatures=*/true);
  EXPECT_TRUE(modelled.target_found);
  EXPECT_EQ(modelled.result, real.result);
  EXPECT_EQ(modelled.events, real.events);
  EXPECT_EQ(modelled.table_sizes, real.table_sizes);
}

TEST(UdpV4Test, ModelledNodeDropsRealPacketsAndRealNodeDropsModelled) {
  World w(12);
  UdpV4Config modelled;
  modelled.modelled_signatures = true;
  UdpV4* m = w.AddNode(World::IpFor(1), modelled);
  UdpV4* r = w.AddNode(World::IpFor(2));
  std::optional<absl::Status> m_ping, r_ping;
  m->Ping(r->Self(), [&](absl::Status s) { m_ping = s; });
  r->Ping(m->Self(), [&](absl::Status s) { r_ping = s; });
  w.RunFor(absl::Seconds(1));
  ASSERT_TRUE(m_ping.has_value() && r_ping.has_value());
  EXPECT_TRUE(absl::IsDeadlineExceeded(*m_ping)) << *m_ping;
  EXPECT_TRUE(absl::IsDeadlineExceeded(*r_ping)) << *r_ping;
  EXPECT_EQ(m->stats().Dropped(kDropBadSignature), 1);
  EXPECT_EQ(r->stats().Dropped(kDropBadSignature), 1);
}

TEST(UdpV4Test, KnownNodesRoundTripThroughSeed) {
  World w(21);
  UdpV4* a = w.AddNode(World::IpFor(1));
  UdpV4* b = w.AddNode(World::IpFor(2));
  b->Start({});
  a->Start({b->Self()});
  w.RunFor(absl::Seconds(1));  // Before the first revalidation (3 s).
  ASSERT_TRUE(a->IsBonded(b->Self().id, b->Self().ip));

  std::vector<KnownNode> known = a->KnownNodes();
  ASSERT_EQ(known.size(), 1u);
  EXPECT_EQ(known[0].node, b->Self());
  ASSERT_TRUE(known[0].last_pong.has_value());
  // The bootstrap ping was answered one round trip after the start; b's
  // ping back (the endpoint proof) arrived with its pong.
  EXPECT_EQ(*known[0].last_pong, w.UnixNow() - absl::Seconds(1) + 2 * kLatency);
  ASSERT_TRUE(known[0].last_ping.has_value());
  EXPECT_EQ(*known[0].last_ping, w.UnixNow() - absl::Seconds(1) + 2 * kLatency);
  EXPECT_EQ(known[0].findnode_failures, 0);

  // A node started later with that database: b is in its table and bonded,
  // as old as it was.
  w.RunFor(absl::Hours(1));
  UdpV4* c = w.AddNode(World::IpFor(3));
  EXPECT_EQ(c->Seed(known), 1);
  EXPECT_TRUE(c->table().Contains(b->Self().id));
  EXPECT_TRUE(c->IsBonded(b->Self().id, b->Self().ip));
  std::vector<KnownNode> again = c->KnownNodes();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0], known[0]);
  // So c's FindNode goes out at once, without a ping first.
  c->FindNode(b->Self(), c->Self().pubkey.bytes(), [](absl::StatusOr<std::vector<Node>>) {});
  EXPECT_EQ(c->stats().sent.count("PING/v4"), 0u);
  EXPECT_EQ(c->stats().sent.at("FINDNODE/v4"), 1);
}

TEST(UdpV4Test, SeedKeepsTheNewestThirtyWithinFiveDays) {
  World w(22);
  UdpV4* a = w.AddNode(World::IpFor(1));
  const absl::Time now = w.UnixNow();
  std::vector<KnownNode> known;
  // 40 nodes with pongs 1..40 hours old, oldest first; then the edge cases.
  for (int i = 40; i >= 1; --i) {
    known.push_back(
        KnownNode{w.FakeNode(World::IpFor(100 + i)), now - absl::Hours(i), std::nullopt, 2});
  }
  KnownNode never{w.FakeNode(World::IpFor(200)), std::nullopt, now, 0};
  KnownNode too_old{w.FakeNode(World::IpFor(201)), now - absl::Hours(5 * 24) - absl::Seconds(1),
                    std::nullopt, 0};
  KnownNode self{a->Self(), now, std::nullopt, 0};
  KnownNode no_ip{w.FakeNode(IpAddress()), now, std::nullopt, 0};
  known.insert(known.end(), {never, too_old, self, no_ip});

  EXPECT_EQ(a->Seed(known), 30);
  for (int i = 1; i <= 40; ++i) {
    const Node& n = known[40 - i].node;
    EXPECT_EQ(a->table().Contains(n.id), i <= 30) << i;
    // Bond state is restored only within bond_expiration (24 h).
    EXPECT_EQ(a->IsBonded(n.id, n.ip), i <= 24) << i;
  }
  EXPECT_FALSE(a->table().Contains(never.node.id));
  EXPECT_FALSE(a->table().Contains(too_old.node.id));
  EXPECT_FALSE(a->table().Contains(no_ip.node.id));
  EXPECT_EQ(a->table().Len(), 30u);
  // Failures come back with the bond: a restored node keeps its count.
  for (const KnownNode& k : a->KnownNodes()) {
    const bool bonded = a->IsBonded(k.node.id, k.node.ip);
    EXPECT_EQ(k.findnode_failures, bonded ? 2 : 0);
    ASSERT_EQ(k.last_pong.has_value(), bonded);
  }
}

TEST(UdpV4Test, ResolveFindsAMovedNode) {
  // Twelve nodes: every lookup asks all of them (it keeps the 16 closest).
  World w(31);
  std::vector<UdpV4*> nodes = w.StartNetwork(12);
  w.RunFor(absl::Seconds(10));

  UdpV4* u = nodes[1];
  UdpV4* m = nodes[5];
  const Node old_m = m->Self();
  ASSERT_TRUE(u->table().Contains(old_m.id));

  // Before the move, the node answers at its endpoint: one ENR request.
  std::optional<std::optional<Node>> resolved;
  u->Resolve(old_m, [&](std::optional<Node> r) { resolved = std::move(r); });
  w.RunFor(absl::Seconds(1));
  ASSERT_TRUE(resolved.has_value() && resolved->has_value());
  EXPECT_EQ(**resolved, old_m);
  ASSERT_EQ(u->stats().sent.count("ENRREQUEST/v4"), 1u);
  EXPECT_EQ(u->stats().sent.at("ENRREQUEST/v4"), 1);

  // It moves (same key, new address) and bonds with nodes[0] only, so
  // nodes[0] knows the new endpoint while the others' tables have the old.
  UdpV4* moved = w.Move(m, World::IpFor(200));
  std::optional<absl::Status> pinged;
  moved->Ping(nodes[0]->Self(), [&](absl::Status s) { pinged = s; });
  w.RunFor(absl::Seconds(1));
  ASSERT_TRUE(pinged.has_value() && pinged->ok());
  ASSERT_TRUE(nodes[0]->table().Contains(old_m.id));
  EXPECT_EQ(nodes[0]->table().Get(old_m.id)->node.ip, World::IpFor(200));

  // nodes[0] asks the old endpoint (silent), then its table's newer entry,
  // which answers with the record: the new endpoint.
  resolved.reset();
  nodes[0]->Resolve(old_m, [&](std::optional<Node> r) { resolved = std::move(r); });
  w.RunFor(absl::Seconds(5));
  ASSERT_TRUE(resolved.has_value());
  ASSERT_TRUE(resolved->has_value()) << "the moved node was not found via the table";
  EXPECT_EQ(**resolved, moved->Self());

  // u still has the stale entry: asked, it is silent, and a lookup ends at
  // the same stale record (lookups keep the first record seen per ID, as
  // in go-ethereum), so nothing unverified comes back.
  ASSERT_EQ(u->table().Get(old_m.id)->node.ip, old_m.ip);
  resolved.reset();
  u->Resolve(old_m, [&](std::optional<Node> r) { resolved = std::move(r); });
  w.RunFor(absl::Seconds(20));
  ASSERT_TRUE(resolved.has_value());
  EXPECT_FALSE(resolved->has_value());

  // Once the moved node rejoins (bootstrap and refresh lookups, bonding
  // with every node it asks), u's table has the new endpoint and Resolve
  // confirms it with the node's record.
  moved->Start({nodes[0]->Self()});
  w.RunFor(absl::Seconds(2));
  ASSERT_EQ(u->table().Get(old_m.id)->node.ip, World::IpFor(200));
  resolved.reset();
  u->Resolve(old_m, [&](std::optional<Node> r) { resolved = std::move(r); });
  w.RunFor(absl::Seconds(5));
  ASSERT_TRUE(resolved.has_value());
  ASSERT_TRUE(resolved->has_value()) << "the moved node was not found";
  EXPECT_EQ(**resolved, moved->Self());

  // A node that is gone for good resolves to nothing.
  Node gone = w.FakeNode(World::IpFor(250));
  resolved.reset();
  u->Resolve(gone, [&](std::optional<Node> r) { resolved = std::move(r); });
  w.RunFor(absl::Seconds(20));
  ASSERT_TRUE(resolved.has_value());
  EXPECT_FALSE(resolved->has_value());
}

TEST(UdpV4Test, DeterministicAcrossRuns) {
  LookupOutcome a = RunLookupNetwork(7, 50);
  LookupOutcome b = RunLookupNetwork(7, 50);
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.events, b.events);
  EXPECT_EQ(a.table_sizes, b.table_sizes);
  EXPECT_GT(a.events, 0u);
}

TEST(UdpV4Test, IteratorResolveAndRandomNodes) {
  World w(9);
  std::vector<UdpV4*> nodes = w.StartNetwork(30);
  w.RunFor(absl::Seconds(5));

  UdpV4* u = nodes[1];
  // ReadRandomNodes: distinct table entries.
  std::vector<Node> buf(5);
  int got = u->ReadRandomNodes(absl::MakeSpan(buf));
  EXPECT_EQ(got, 5);
  for (int i = 0; i < got; ++i) EXPECT_TRUE(u->table().Contains(buf[i].id));

  // Resolve a node not in u's table (by key): the lookup finds its record.
  const Node* missing = nullptr;
  for (UdpV4* v : nodes) {
    if (v != u && !u->table().Contains(v->Self().id)) {
      missing = &v->Self();
      break;
    }
  }
  ASSERT_NE(missing, nullptr);
  {
    Node query = *missing;
    query.ip = IpAddress();  // Only the key is known.
    std::optional<std::optional<Node>> resolved;
    u->Resolve(query, [&](std::optional<Node> r) { resolved = std::move(r); });
    w.RunFor(absl::Seconds(20));
    ASSERT_TRUE(resolved.has_value());
    ASSERT_TRUE(resolved->has_value());
    EXPECT_EQ(**resolved, *missing);
  }

  // The iterator yields nodes from lookups, and nullopt after Close.
  std::unique_ptr<NodeIterator> it = u->NewLookupIterator();
  std::vector<Node> yielded;
  std::function<void()> ask;
  ask = [&] {
    it->Next([&](std::optional<Node> n) {
      if (!n.has_value()) return;
      yielded.push_back(*n);
      if (yielded.size() < 20) ask();
    });
  };
  ask();
  w.RunFor(absl::Seconds(10));
  EXPECT_EQ(yielded.size(), 20u);
  for (const Node& n : yielded) EXPECT_NE(n.id, u->Self().id);
  std::optional<std::optional<Node>> last;
  it->Next([&](std::optional<Node> n) { last = n; });
  it->Close();
  w.RunFor(absl::Seconds(1));
  ASSERT_TRUE(last.has_value());
  EXPECT_FALSE(last->has_value());
}

// ---- Node records (EIP-868) ----

// A record for `key` at ip:kPort (udp only), signed.
enr::Record SignedRecord(const PrivateKey& key, const IpAddress& ip, uint64_t seq = 1) {
  enr::Record r;
  r.SetSeq(seq);
  r.SetIp(ip);
  r.SetUdp(kPort);
  absl::Status s = r.SignV4(key);
  EXPECT_TRUE(s.ok()) << s;
  return r;
}

std::vector<uint8_t> EncodedRecord(const enr::Record& r) {
  auto enc = r.Encode();
  EXPECT_TRUE(enc.ok()) << enc.status();
  return *enc;
}

TEST(UdpV4Test, LocalRecordDescribesSelf) {
  World w(21);
  UdpV4Config cfg;
  cfg.enr_seq = 9;
  UdpV4* a = w.AddNode(World::IpFor(1), cfg);
  const enr::Record& rec = a->LocalRecord();
  ASSERT_TRUE(rec.is_signed());
  EXPECT_EQ(rec.seq(), 9u);
  std::vector<std::string> keys;
  for (const auto& [k, v] : rec.pairs()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "ip", "secp256k1", "tcp", "udp"}));
  EXPECT_EQ(*rec.IdentityScheme(), "v4");
  EXPECT_EQ(*rec.Secp256k1(), a->Self().pubkey);
  EXPECT_EQ(*rec.Ip(), World::IpFor(1));
  EXPECT_EQ(*rec.Udp(), kPort);
  EXPECT_EQ(*rec.Tcp(), kPort);
  EXPECT_EQ(*rec.VerifiedNodeId(), a->Self().id);
  EXPECT_EQ(*rec.ToNode(), a->Self());
  // It survives its own text form.
  auto parsed = enr::ParseText(*rec.ToText());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, rec);
  // The default seq is 1.
  UdpV4* b = w.AddNode(World::IpFor(2));
  EXPECT_EQ(b->LocalRecord().seq(), 1u);
}

TEST(UdpV4Test, ENRRequestAnsweredWithLocalRecord) {
  World w(22);
  UdpV4Config cfg;
  cfg.enr_seq = 9;
  UdpV4* a = w.AddNode(World::IpFor(1), cfg);
  RawPeer* c = w.AddRaw(World::IpFor(3));
  w.BondRaw(c, a);
  ENRRequest req;
  req.expiration = w.Exp();
  std::vector<uint8_t> bytes = c->Encode(req);
  c->SendBytes(a->Self(), bytes);
  w.RunFor(2 * kLatency);
  auto resps = c->OfType(kENRResponsePacket);
  ASSERT_EQ(resps.size(), 1u);
  EXPECT_EQ(c->got.size(), 1u);
  EXPECT_EQ(resps[0]->sender_id, a->Self().id);
  const auto& resp = std::get<ENRResponse>(resps[0]->packet);
  PacketHash want_hash;
  std::copy(bytes.begin(), bytes.begin() + kPacketHashSize, want_hash.begin());
  EXPECT_EQ(resp.request_hash, want_hash);
  EXPECT_EQ(resp.record, EncodedRecord(a->LocalRecord()));
  auto got = enr::DecodeRecord(resp.record);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->seq(), 9u);
  EXPECT_EQ(*got->ToNode(), a->Self());
  EXPECT_EQ(a->stats().received.at("ENRREQUEST/v4"), 1);
  EXPECT_EQ(a->stats().sent.at("ENRRESPONSE/v4"), 1);
  EXPECT_TRUE(a->stats().dropped.empty());
}

TEST(UdpV4Test, ENRRequestFromUnbondedOrExpiredDropped) {
  World w(23);
  UdpV4* a = w.AddNode(World::IpFor(1));
  RawPeer* c = w.AddRaw(World::IpFor(3));
  ENRRequest req;
  req.expiration = w.Exp();
  // Never seen.
  c->Send(a->Self(), req);
  w.RunFor(2 * kLatency);
  EXPECT_EQ(a->stats().Dropped(kDropUnknownNode), 1);
  // Pinged a, but never answered a's ping: the endpoint is not proven.
  w.PingFromRaw(c, a);
  req.expiration = w.Exp();
  c->Send(a->Self(), req);
  w.RunFor(2 * kLatency);
  EXPECT_EQ(a->stats().Dropped(kDropUnknownNode), 2);
  EXPECT_TRUE(c->OfType(kENRResponsePacket).empty());
  EXPECT_EQ(a->stats().sent.count("ENRRESPONSE/v4"), 0u);

  // Bonded, but expired.
  w.RunFor(absl::Seconds(1));  // Let a's endpoint-proof ping time out.
  c->got.clear();
  w.BondRaw(c, a);
  req.expiration = MakeExpiration(w.UnixNow(), -absl::Seconds(1));
  c->Send(a->Self(), req);
  w.RunFor(2 * kLatency);
  EXPECT_EQ(a->stats().Dropped(kDropExpired), 1);
  EXPECT_TRUE(c->OfType(kENRResponsePacket).empty());
}

TEST(UdpV4Test, PingAndPongCarryEnrSeq) {
  World w(24);
  UdpV4Config cfg;
  cfg.enr_seq = 5;
  UdpV4* a = w.AddNode(World::IpFor(1), cfg);
  RawPeer* c = w.AddRaw(World::IpFor(3));
  a->Ping(c->node, [](absl::Status) {});
  w.RunFor(2 * kLatency);
  auto pings = c->OfType(kPingPacket);
  ASSERT_EQ(pings.size(), 1u);
  EXPECT_EQ(std::get<discover::Ping>(pings[0]->packet).enr_seq, std::optional<uint64_t>(5));

  w.PingFromRaw(c, a);
  auto pongs = c->OfType(kPongPacket);
  ASSERT_EQ(pongs.size(), 1u);
  EXPECT_EQ(std::get<Pong>(pongs[0]->packet).enr_seq, std::optional<uint64_t>(5));
}

TEST(UdpV4Test, RequestENRBetweenTwoNodes) {
  World w(25);
  UdpV4* a = w.AddNode(World::IpFor(1));
  UdpV4Config cfg;
  cfg.enr_seq = 3;
  UdpV4* b = w.AddNode(World::IpFor(2), cfg);
  std::optional<absl::StatusOr<enr::Record>> got;
  MonoTime at;
  a->RequestENR(b->Self(), [&](absl::StatusOr<enr::Record> r) {
    got = std::move(r);
    at = w.Now();
  });
  w.RunFor(absl::Seconds(2));
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status();
  EXPECT_EQ(**got, b->LocalRecord());
  EXPECT_EQ((*got)->seq(), 3u);
  EXPECT_EQ(*(*got)->ToNode(), b->Self());
  // Bonding first: ping, pong (2 latencies), a pause of response_timeout
  // for b to ping back, then the request and its answer (2 latencies).
  EXPECT_EQ(at, absl::UnixEpoch() + 4 * kLatency + absl::Milliseconds(500));
  EXPECT_EQ(a->stats().sent.at("PING/v4"), 1);

  // Now bonded both ways: no ping, the answer comes after a round trip.
  got.reset();
  MonoTime start = w.Now();
  a->RequestENR(b->Self(), [&](absl::StatusOr<enr::Record> r) {
    got = std::move(r);
    at = w.Now();
  });
  w.RunFor(absl::Seconds(1));
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << got->status();
  EXPECT_EQ(**got, b->LocalRecord());
  EXPECT_EQ(at, start + 2 * kLatency);
  EXPECT_EQ(a->stats().sent.at("PING/v4"), 1);
  EXPECT_EQ(a->stats().sent.at("ENRREQUEST/v4"), 2);
  EXPECT_EQ(b->stats().sent.at("ENRRESPONSE/v4"), 2);
  EXPECT_TRUE(a->stats().dropped.empty());
  EXPECT_TRUE(b->stats().dropped.empty());
  EXPECT_EQ(a->stats().requests_timed_out, 0);
}

// A bonded raw peer c answers a's ENRRequest with `answer(request hash)`,
// sent by `from`; returns what RequestENR reported.
absl::StatusOr<enr::Record> RequestFromRaw(
    World& w, UdpV4* a, RawPeer* c, RawPeer* from,
    const std::function<std::optional<ENRResponse>(const PacketHash&)>& answer) {
  std::optional<absl::StatusOr<enr::Record>> got;
  c->got.clear();
  a->RequestENR(c->node, [&](absl::StatusOr<enr::Record> r) { got = std::move(r); });
  w.RunFor(kLatency);
  auto reqs = c->OfType(kENRRequestPacket);
  EXPECT_EQ(reqs.size(), 1u);  // Sent at once: c pinged a lately.
  if (reqs.empty()) return absl::InternalError("no request");
  if (std::optional<ENRResponse> resp = answer(reqs[0]->hash)) from->Send(a->Self(), *resp);
  w.RunFor(absl::Seconds(1));
  EXPECT_TRUE(got.has_value());
  if (!got.has_value()) return absl::InternalError("no answer");
  return *got;
}

TEST(UdpV4Test, RequestENRVerifiesTheRecord) {
  World w(26);
  UdpV4* a = w.AddNode(World::IpFor(1));
  RawPeer* c = w.AddRaw(World::IpFor(3));
  RawPeer* d = w.AddRaw(World::IpFor(4));
  w.BondRaw(c, a);

  // c's own record: accepted.
  enr::Record own = SignedRecord(c->key, c->node.ip, 7);
  auto r = RequestFromRaw(w, a, c, c, [&](const PacketHash& h) {
    return ENRResponse{h, EncodedRecord(own)};
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, own);
  EXPECT_EQ(r->seq(), 7u);
  EXPECT_EQ(*r->ToNode(), Node::FromPublicKey(c->node.pubkey, c->node.ip, 0, kPort));

  // A valid record of another node.
  enr::Record other = SignedRecord(d->key, c->node.ip);
  r = RequestFromRaw(w, a, c, c, [&](const PacketHash& h) {
    return ENRResponse{h, EncodedRecord(other)};
  });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "invalid ID in response record");

  // c's record with a broken signature (it starts at byte 4 of the RLP).
  std::vector<uint8_t> broken = EncodedRecord(own);
  ASSERT_EQ(broken[2], 0xb8);
  broken[4 + 10] ^= 0x01;
  r = RequestFromRaw(w, a, c, c, [&](const PacketHash& h) { return ENRResponse{h, broken}; });
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "invalid record in ENRResponse: invalid signature on node record: does not verify "
            "under its secp256k1 key");
  EXPECT_TRUE(a->stats().dropped.empty());

  // Wrong request hash, or the right one from another node: unsolicited,
  // and the request times out.
  r = RequestFromRaw(w, a, c, c, [&](const PacketHash& h) {
    PacketHash wrong = h;
    wrong[0] ^= 1;
    return ENRResponse{wrong, EncodedRecord(own)};
  });
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_EQ(r.status().message(), "RPC timeout");
  EXPECT_EQ(a->stats().Dropped(kDropUnsolicited), 1);
  r = RequestFromRaw(w, a, c, d, [&](const PacketHash& h) {
    return ENRResponse{h, EncodedRecord(own)};
  });
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status())) << r.status();
  EXPECT_EQ(a->stats().Dropped(kDropUnsolicited), 2);
  EXPECT_EQ(a->stats().requests_timed_out, 2);
}

TEST(UdpV4Test, RequestENRTimesOut) {
  World w(27);
  UdpV4* a = w.AddNode(World::IpFor(1));
  RawPeer* c = w.AddRaw(World::IpFor(3));
  w.BondRaw(c, a);
  // c is bonded but never answers.
  std::optional<absl::StatusOr<enr::Record>> got;
  MonoTime at;
  MonoTime start = w.Now();
  a->RequestENR(c->node, [&](absl::StatusOr<enr::Record> r) {
    got = std::move(r);
    at = w.Now();
  });
  w.RunFor(absl::Milliseconds(499));
  EXPECT_FALSE(got.has_value());
  w.RunFor(absl::Seconds(1));
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(absl::IsDeadlineExceeded(got->status())) << got->status();
  EXPECT_EQ(got->status().message(), "RPC timeout");
  EXPECT_EQ(at, start + absl::Milliseconds(500));
  EXPECT_EQ(c->OfType(kENRRequestPacket).size(), 1u);
  EXPECT_EQ(a->stats().requests_timed_out, 1);

  // A dead node: the bonding ping times out, no request is sent.
  Node dead = w.FakeNode(IpAddress::V4(10, 9, 9, 9));
  got.reset();
  start = w.Now();
  a->RequestENR(dead, [&](absl::StatusOr<enr::Record> r) {
    got = std::move(r);
    at = w.Now();
  });
  w.RunFor(absl::Seconds(2));
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(absl::IsDeadlineExceeded(got->status())) << got->status();
  EXPECT_EQ(at, start + absl::Milliseconds(500));
  EXPECT_EQ(a->stats().sent.at("ENRREQUEST/v4"), 1);
}

}  // namespace
}  // namespace discover
}  // namespace p2p
