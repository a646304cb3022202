// One node's Node Discovery v4 endpoint (go-ethereum's p2p/discover/v4_udp.go
// and lookup.go) over a PacketSocket, driven by one EventLoop.
//
// What it does:
//  - Answers packets: Ping -> Pong (quoting the ping hash) and, if the sender
//    has not proven its endpoint to us within bond_expiration, a Ping back
//    (the endpoint proof); a Pong answers one of our pings; FindNode is
//    answered only for bonded senders (we hold a pong from them within
//    bond_expiration) with the 16 closest table nodes in Neighbors packets of
//    at most kMaxNeighbors (12); Neighbors feed a pending FindNode.
//    ENRRequest, from bonded senders only, -> ENRResponse quoting the
//    request hash and carrying this node's record (EIP-868).
//  - Drops and counts, by reason (UdpV4Stats::dropped), every packet that is
//    malformed, badly signed, expired, unsolicited (a reply nobody waits
//    for) or from an unbonded sender where a bond is needed. Never crashes
//    on input.
//  - Requests with timeouts: Ping (response_timeout), FindNode and
//    RequestENR (both bond first when the target has not pinged us lately;
//    FindNode's replies must all arrive within response_timeout of the
//    request). A FindNode that yields no node counts as a failure of that
//    node; max_findnode_failures of them delete it from the table; a useful
//    answer takes one back.
//  - Lookups (lookup.go): alpha concurrent FindNodes over the closest nodes
//    seen so far (at most kLookupResultSize kept) until no un-asked node is
//    left among them; the result is sorted by distance to the target.
//  - Start(bootnodes): seeds the table, pings the bootnodes, then refreshes:
//    a self-lookup followed by kRefreshRandomLookups random lookups, one at a
//    time (go-ethereum's doRefresh); afterwards revalidates one table node
//    every revalidate_interval (Ping; ReplaceDead on failure) and refreshes
//    again every refresh_interval.
//
// Time: timers run on `loop`; expiration stamps use `unix_now`, the Unix
// wall time the caller injects (the simulator passes its virtual time).
// Randomness (lookup targets, revalidation choice) comes from the Rng given
// at creation.
//
// Callbacks given to UdpV4 run exactly once, on the loop, never inside the
// call that scheduled them, unless the UdpV4 is destroyed first: then they
// are dropped without running. Iterators from NewLookupIterator must be
// destroyed before the UdpV4.
//
// Deliberate differences from go-ethereum:
//  - Bond state (last ping/pong received, findnode failures) lives in memory
//    (go-ethereum keeps it in its node database), keyed by node ID, and is
//    tied to the IP it was seen from; at most max_bond_records entries.
//  - A FindNode whose bonding Ping times out fails at once instead of
//    sending the FindNode anyway.
//  - Neighbor entries are not checked with CheckRelayIP (the simulator
//    mixes LAN and public addresses freely); low ports (<= 1024) and bad
//    keys are skipped as in go-ethereum.
//  - FindNode is answered from all table entries (v1.8.24's closest), not
//    only revalidated ones (newer go-ethereum's preferLive): with
//    revalidation every few seconds, few entries would qualify.
//  - A node is deleted after max_findnode_failures regardless of how full its
//    bucket is.
//  - Node records (enr.h): the local record is built once, at creation, from
//    Self() and UdpV4Config::enr_seq (go-ethereum's LocalNode updates it as
//    the endpoint changes). RequestENR does not compare the record's seq with
//    a known one (Node carries none) and skips CheckRelayIP.
//
// Not thread-safe; owned by one event loop.
#ifndef P2P_CORE_DISCOVER_UDP_H_
#define P2P_CORE_DISCOVER_UDP_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/dial/dial_services.h"
#include "core/dial/node_iterator.h"
#include "core/discover/enr.h"
#include "core/discover/table.h"
#include "core/discover/v4wire.h"
#include "core/event_loop.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "core/node.h"
#include "core/rng.h"
#include "core/weak_flag.h"

namespace p2p {
namespace discover {

// go-ethereum's lookup result size (bucketSize).
inline constexpr size_t kLookupResultSize = 16;
// Random lookups per table refresh, after the self-lookup (doRefresh).
inline constexpr int kRefreshRandomLookups = 3;

// Drop reasons in UdpV4Stats::dropped.
inline constexpr char kDropMalformed[] = "malformed";
inline constexpr char kDropBadHash[] = "bad hash";
inline constexpr char kDropBadSignature[] = "bad signature";
inline constexpr char kDropExpired[] = "expired";
inline constexpr char kDropUnsolicited[] = "unsolicited reply";
inline constexpr char kDropUnknownNode[] = "unknown node";  // Not bonded.
inline constexpr char kDropSelf[] = "from self";
// A Neighbors entry outside UdpV4Config::netrestrict.
inline constexpr char kDropNetrestrict[] = "netrestrict";

struct UdpV4Config {
  absl::Duration response_timeout = absl::Milliseconds(500);  // respTimeout
  absl::Duration expiration = absl::Seconds(20);              // expiration
  absl::Duration bond_expiration = absl::Hours(24);           // bondExpiration
  int max_findnode_failures = 5;                              // maxFindnodeFailures
  int alpha = 3;                                              // lookup concurrency
  absl::Duration revalidate_interval = absl::Seconds(3);
  absl::Duration refresh_interval = absl::Minutes(30);
  // Least time between the starts of two lookups of one lookup iterator.
  absl::Duration iterator_lookup_gap = absl::Seconds(1);
  // Bound on remembered bond records (nodes that pinged or ponged us).
  size_t max_bond_records = 10000;
  // go-ethereum Config.NetRestrict: nodes outside these networks, learned
  // from Neighbors replies, are ignored (counted as dropped "netrestrict").
  std::optional<IpNetList> net_restrict;
  // Sign and authenticate packets with modelled signatures (v4wire.h's
  // SignatureMode::kModelled) instead of secp256k1: for large simulations
  // only, where every node uses the same setting. Such a node neither
  // accepts nor sends a packet a real node would accept.
  bool modelled_signatures = false;
  // The local node record's sequence number (EIP-778), sent in Ping and
  // Pong (EIP-868). Raise it whenever the record's content changes.
  uint64_t enr_seq = 1;
  // Seed: at most seed_count known nodes whose last pong is within
  // seed_max_age (go-ethereum's seedCount and seedMaxAge).
  size_t seed_count = 30;
  absl::Duration seed_max_age = absl::Hours(5 * 24);
  TableConfig table;
};

// A node as a node database keeps it (go-ethereum's enode.DB: the record,
// when it last pinged us and answered our ping, how often its FindNode
// failed), so that a restarted node can seed its table. Unix times.
struct KnownNode {
  Node node;
  std::optional<absl::Time> last_pong;  // Last pong received from node.ip.
  std::optional<absl::Time> last_ping;  // Last ping received from node.ip.
  int findnode_failures = 0;

  friend bool operator==(const KnownNode& a, const KnownNode& b) {
    return a.node == b.node && a.last_pong == b.last_pong && a.last_ping == b.last_ping &&
           a.findnode_failures == b.findnode_failures;
  }
};

struct UdpV4Stats {
  // Packets handed to the socket / accepted after decoding, by PacketName.
  std::map<std::string, int64_t> sent;
  std::map<std::string, int64_t> received;
  // Packets dropped, by reason (kDrop...). Ordered: stable printing.
  std::map<std::string, int64_t> dropped;
  int64_t send_errors = 0;  // SendTo failures.
  int64_t requests_timed_out = 0;
  int64_t lookups_done = 0;

  int64_t Dropped(const std::string& reason) const {
    auto it = dropped.find(reason);
    return it == dropped.end() ? 0 : it->second;
  }
};

class UdpV4 : public NodeResolver, public DiscoveryTable {
 public:
  using UnixNowFn = absl::AnyInvocable<absl::Time() const>;
  using StatusCallback = absl::AnyInvocable<void(absl::Status status)>;
  using NodesCallback = absl::AnyInvocable<void(std::vector<Node> nodes)>;
  // FindNode's answer: the nodes received (possibly a partial answer that
  // ended in a timeout), or the error if nothing came back
  // (kDeadlineExceeded "RPC timeout", kUnavailable on send failure).
  using FindNodeCallback = absl::AnyInvocable<void(absl::StatusOr<std::vector<Node>> nodes)>;
  // RequestENR's answer: the node's verified record, or the error.
  using RecordCallback = absl::AnyInvocable<void(absl::StatusOr<enr::Record> record)>;

  // Opens a packet socket on `local` through `net` and starts answering.
  // `tcp_port` is advertised in Pings. `loop` and `net` must outlive the
  // result. Also signs the local node record (see LocalRecord).
  static absl::StatusOr<std::unique_ptr<UdpV4>> Create(EventLoop* loop, Network* net,
                                                       const Endpoint& local, const PrivateKey& key,
                                                       uint16_t tcp_port, UnixNowFn unix_now,
                                                       Rng rng, UdpV4Config cfg = {});
  ~UdpV4() override;
  UdpV4(const UdpV4&) = delete;
  UdpV4& operator=(const UdpV4&) = delete;

  // This node as others see it (socket IP and port, tcp_port).
  const Node& Self() const { return self_; }
  const Table& table() const { return table_; }
  // A snapshot of the counters (built on each call; the hot path counts in
  // fixed arrays, not in these maps).
  UdpV4Stats stats() const;
  // This node's record, signed with its key: seq = cfg.enr_seq, "id" "v4",
  // "secp256k1", and Self()'s address: "ip", "udp", "tcp" for IPv4 or
  // "ip6", "udp6", "tcp6" for IPv6 (no address keys for an unspecified IP,
  // no port key for port 0). Answers ENRRequest; its seq goes into Ping
  // and Pong.
  const enr::Record& LocalRecord() const { return local_record_; }
  // Whether we hold a pong from id, received from ip within bond_expiration.
  bool IsBonded(const NodeId& id, const IpAddress& ip) const;

  // Seeds the table with `bootnodes` (AddSeenNode), pings them, then runs a
  // refresh; starts revalidation and refresh timers. Call once.
  void Start(const std::vector<Node>& bootnodes);

  // Before Start: seeds the table from a node database (go-ethereum's
  // loadSeedNodes). Of `known`, the seed_count nodes with the most recent
  // last pong within seed_max_age (newest first; ties in the given order)
  // are added as seen, and their bond state is restored: pings and pongs
  // within bond_expiration still count, so they need not bond again. Nodes without
  // a last pong, with this node's ID or without an IP are skipped. Returns
  // how many were added to the table. go-ethereum picks its seeds at random;
  // the newest are the likeliest to be alive.
  int Seed(const std::vector<KnownNode>& known);

  // The table's live entries with their bond state, for a node database:
  // bucket order, then entry order. last_pong is the newest pong we hold
  // from the node at its current IP (bond record or revalidation);
  // last_ping and findnode_failures come from its bond record.
  std::vector<KnownNode> KnownNodes() const;

  // Pings n; OK once the matching Pong arrives (the node is then bonded
  // and added to the table as verified), kDeadlineExceeded "RPC timeout"
  // after response_timeout.
  void Ping(const Node& n, StatusCallback done);

  // Asks n for the nodes closest to `target` (see FindNodeCallback).
  void FindNode(const Node& n, const EncodedPubkey& target, FindNodeCallback done);

  // Asks n for its node record (EIP-868; go-ethereum's RequestENR), bonding
  // first as FindNode does. The reply must come from n.id at n.ip and quote
  // the request's hash; anything else is dropped as unsolicited. Errors:
  // kDeadlineExceeded "RPC timeout" (no reply within response_timeout, or
  // the bonding Ping failed), kUnavailable or other send errors,
  // kInvalidArgument "invalid record in ENRResponse: <enr.h's text>" and
  // "invalid ID in response record" (verified, but not n's).
  void RequestENR(const Node& n, RecordCallback done);

  // Iterative lookup of `target` (a public key: v4 FindNode names targets by
  // key). Returns up to kLookupResultSize nodes, closest to
  // keccak256(target) first. Nodes found are added to the table as seen.
  void Lookup(const EncodedPubkey& target, NodesCallback done);
  void LookupSelf(NodesCallback done);

  // A lookup iterator: yields the nodes found by successive random lookups
  // (each started at least iterator_lookup_gap after the previous one).
  // Must be destroyed before this UdpV4.
  std::unique_ptr<NodeIterator> NewLookupIterator();

  // NodeResolver, as go-ethereum's UDPv4.Resolve: the node's own record
  // (RequestENR) from, in turn, the endpoint given, the table's entry if it
  // names another endpoint, and the node with that ID found by a lookup of
  // its key; nullopt if none answers. The result is the record's endpoint
  // (a port or address the record lacks is taken from the node that sent
  // it). Unlike v1.8.24's Table.Resolve, which both dialers used to call,
  // a table entry is never returned unasked: a node that moved would be
  // redialled at its old address for as long as the stale entry lived.
  // While our table holds a stale record, the lookup ends at it too (a
  // lookup keeps the first record it sees per ID), so the answer is nullopt
  // until revalidation drops the entry or the node bonds with us again.
  void Resolve(const Node& node, ResolveCallback done) override;

  // DiscoveryTable (the v1.8.24 dialer).
  int ReadRandomNodes(absl::Span<Node> out) override;
  void LookupRandom(LookupCallback done) override;

 private:
  struct Pending;
  struct LookupState;
  struct BondRecord {
    IpAddress ip;
    std::optional<MonoTime> last_ping_received;
    std::optional<MonoTime> last_pong_received;
    int findnode_failures = 0;
  };
  class LookupIterator;

  UdpV4(EventLoop* loop, const PrivateKey& key, UnixNowFn unix_now, Rng rng, UdpV4Config cfg);

  void OnPacket(const Endpoint& from, absl::Span<const uint8_t> data);
  void HandlePing(const Endpoint& from, const DecodedPacket& p, const discover::Ping& ping);
  void HandleFindNode(const Endpoint& from, const DecodedPacket& p, const discover::FindNode& req);
  // Feeds a reply to the pending requests; false if none wanted it.
  bool HandleReply(const Endpoint& from, const DecodedPacket& p);

  // The request bodies. Their callbacks run from loop events, never inline.
  void PingInternal(const Node& n, StatusCallback done);
  void SendFindNodeNow(const Node& n, const EncodedPubkey& target, FindNodeCallback done);
  void SendENRRequestNow(const Node& n, RecordCallback done);
  void HandleENRRequest(const Endpoint& from, const DecodedPacket& p);
  // Builds and signs local_record_ from self_ and cfg_.enr_seq.
  absl::Status SignLocalRecord(const PrivateKey& key);
  // go-ethereum's ensureBond test: n has not pinged us within
  // bond_expiration (so probably holds no pong from us), or failed too often.
  bool NeedsBond(const Node& n) const;
  // go-ethereum's ensureBond, before a request to n. If !NeedsBond(n), runs
  // then(OK) at once (inline). Otherwise pings n: if the ping fails, then
  // gets its error; if it succeeds, then(OK) runs response_timeout later,
  // giving n time to ping us back and process our pong (or it would ignore
  // the request). Dropped unrun if this UdpV4 is destroyed first.
  void EnsureBond(const Node& n, StatusCallback then);

  // Encodes, signs and sends; returns the packet hash.
  absl::StatusOr<PacketHash> Send(const Endpoint& to, const Packet& packet);
  // Registers a reply matcher; see Pending. Returns its id.
  uint64_t AddPending(const NodeId& from, const IpAddress& ip, uint8_t ptype,
                      absl::AnyInvocable<bool(const DecodedPacket&, bool* done)> match,
                      StatusCallback done);
  void FinishPending(uint64_t id, absl::Status status);

  void SendFindNode(const Node& n, const EncodedPubkey& target, FindNodeCallback done);

  // Resolve's second and third steps.
  void ResolveFromTable(const Node& node, ResolveCallback done);
  void ResolveByLookup(const Node& node, ResolveCallback done);
  void FindNodeDone(const Node& n, bool useful);

  // Lookup driving.
  void LookupAdvance(uint64_t lookup_id);
  void LookupFinish(uint64_t lookup_id);

  void Revalidate();
  // Self-lookup, then kRefreshRandomLookups random ones; skipped while one
  // is still running.
  void Refresh();
  void RefreshRandom(int left);

  // Finds id's bond record (reset if it was made at another IP) or creates
  // one, and applies `update` to it; the only way records change. Creating
  // one when max_bond_records are held first forgets every lapsed record
  // (EvictLapsedBonds); false, and no update, if none had lapsed.
  bool UpdateBond(const NodeId& id, const IpAddress& ip,
                  absl::FunctionRef<void(BondRecord&)> update);
  // No proof within bond_expiration of `now` and no findnode failures:
  // `now` is past BondLapseTime(b).
  bool BondLapsed(const BondRecord& b, MonoTime now) const;
  // The last instant at which b has not lapsed yet (it lapses after it, if
  // nothing changes): its newest proof plus bond_expiration; never while it
  // has findnode failures.
  MonoTime BondLapseTime(const BondRecord& b) const;
  // Erases every lapsed record. Scans the records, but only once the
  // earliest lapse time seen (next_bond_lapse_) has passed: a bootnode at
  // the cap refuses new senders in O(1) until some record can have lapsed.
  void EvictLapsedBonds();
  WireEndpoint SelfEndpoint() const;
  uint64_t Expiration() const;
  // Drop reasons, in the order of kDropReasonNames (udp.cc).
  enum DropReason {
    kDropReasonMalformed,
    kDropReasonBadHash,
    kDropReasonBadSignature,
    kDropReasonExpired,
    kDropReasonUnsolicited,
    kDropReasonUnknownNode,
    kDropReasonSelf,
    kDropReasonNetrestrict,
    kDropReasonCount
  };
  void Drop(DropReason reason) { ++counters_.dropped[reason]; }
  // Posts cb with `alive` checked.
  void PostChecked(absl::AnyInvocable<void()> cb);

  EventLoop* loop_;
  PrivateKey key_;
  Node self_;
  enr::Record local_record_;  // Signed in Create.
  UnixNowFn unix_now_;
  Rng rng_;
  UdpV4Config cfg_;
  Table table_;
  std::unique_ptr<PacketSocket> socket_;
  // What stats() reports: packets by type (Packet's variant index) and
  // drops by reason, in arrays, as every packet counts.
  struct Counters {
    std::array<int64_t, std::variant_size_v<Packet>> sent{};
    std::array<int64_t, std::variant_size_v<Packet>> received{};
    std::array<int64_t, kDropReasonCount> dropped{};
    int64_t send_errors = 0;
    int64_t requests_timed_out = 0;
    int64_t lookups_done = 0;
  };
  Counters counters_;
  // Looked up on every packet; never iterated.
  absl::node_hash_map<NodeId, BondRecord> bonds_;
  // No bond record lapses at or before this instant (a lower bound of
  // BondLapseTime over bonds_: exact after a scan, lowered by updates).
  MonoTime next_bond_lapse_ = absl::InfinitePast();
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;  // By id: creation order.
  uint64_t next_pending_id_ = 1;
  std::map<uint64_t, std::unique_ptr<LookupState>> lookups_;
  uint64_t next_lookup_id_ = 1;
  bool started_ = false;
  int bootstrap_pings_ = 0;  // Bootnode pings still out (Start).
  bool refreshing_ = false;
  Alarm revalidate_alarm_;
  Alarm refresh_alarm_;
  WeakFlag alive_;  // Last: dies first.
};

}  // namespace discover
}  // namespace p2p

#endif  // P2P_CORE_DISCOVER_UDP_H_
