// The discv4 Kademlia node table: which nodes discovery knows and keeps, as
// go-ethereum's p2p/discover/table.go decides it (the addSeenNode /
// addVerifiedNode / revalidation generation). A pure data structure: no I/O,
// no timers, no randomness of its own. The owner (the discovery loop) passes
// the current time and an Rng into the calls that need them, and runs the
// pings, lookups and timers itself.
//
// Layout. Nodes are filed by the log distance d = LogDistance(self, id):
// kNumBuckets = 17 buckets; bucket i holds distance kBucketMinDistance + 1 + i
// (241..256 for buckets 1..16), and every closer node (d <= 240) collapses
// into bucket 0, since real IDs that close are vanishingly rare. Each bucket
// has up to bucket_size live entries, ordered most recently active first, and
// up to max_replacements replacements, newest first, that stand in when an
// entry dies.
//
// IP limits (go-ethereum's DistinctNetSet): at most bucket_ip_limit addresses
// from one /ip_subnet_bits network per bucket and table_ip_limit per table,
// counting entries and replacements alike. LAN addresses (IpAddress::IsLan:
// loopback, RFC 1918, fc00::/7, fe80::/10, 0/8) are exempt. A node without an
// IP address is never added.
//
// Determinism: every result depends only on the call sequence and the Rng
// streams passed in. Nothing iterates an unordered container, and listings
// come out in bucket order, then entry order.
//
// Deliberate differences from go-ethereum, each of which only removes an
// inconsistency:
//  - A node promoted straight from the replacement list into the entries
//    (AddSeenNode/AddVerifiedNode with room in the bucket) gives back the IP
//    slot its replacement held; go-ethereum counted it twice and leaked one.
//  - Updating an entry's record keeps its added_at, liveness_checks and
//    last_pong (go-ethereum's old bumpInBucket replaced the whole entry and
//    reset them), except that a changed endpoint (IP or UDP port) resets
//    liveness_checks to 0: the liveness was proven at the old address, as
//    current go-ethereum clears isValidatedLive.
//  - Delete never promotes a replacement; ReplaceDead does (the two cases of
//    go-ethereum's delete and replace).
//
// Not thread-safe; owned by one event loop.
#ifndef P2P_CORE_DISCOVER_TABLE_H_
#define P2P_CORE_DISCOVER_TABLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/event_loop.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "core/rng.h"

namespace p2p {
namespace discover {

// go-ethereum's constants: hashBits = 256, nBuckets = hashBits / 15,
// bucketMinDistance = hashBits - nBuckets.
inline constexpr int kHashBits = 256;
inline constexpr int kNumBuckets = kHashBits / 15;                  // 17
inline constexpr int kBucketMinDistance = kHashBits - kNumBuckets;  // 239

// The bucket index (0..kNumBuckets-1) for log distance d (0..256):
// go-ethereum's bucketAtDistance.
int BucketIndexForDistance(int d);

// Tracks IP addresses so that at most `limit` of them share one network
// prefix of `subnet_bits` bits (go-ethereum's netutil.DistinctNetSet). IPv4
// addresses are masked as 32-bit addresses, IPv6 ones as 128-bit, so /24 means
// a /24 for both, as in Go's netip.Addr.Prefix. A multiset: adding one address
// twice takes two slots, and each Remove gives one back.
class DistinctNetSet {
 public:
  DistinctNetSet(int subnet_bits, int limit) : subnet_bits_(subnet_bits), limit_(limit) {}

  // Adds ip and returns true, or returns false without adding it when its
  // network already holds `limit` addresses.
  bool Add(const IpAddress& ip);
  // Gives back one slot of ip's network; no effect if it holds none.
  void Remove(const IpAddress& ip);
  // Whether any address of ip's network is in the set.
  bool Contains(const IpAddress& ip) const;
  // How many addresses of ip's network are in the set.
  int CountInNet(const IpAddress& ip) const;
  // Total addresses in the set.
  int Len() const;

 private:
  // (is IPv4, address masked to the prefix).
  using Key = std::pair<bool, std::array<uint8_t, 16>>;
  Key KeyOf(const IpAddress& ip) const;

  int subnet_bits_;
  int limit_;
  // Hashed: looked up on every table insertion and removal (a hot path in
  // large simulations). Only Len() iterates it, and a sum has no order.
  absl::flat_hash_map<Key, int> members_;
};

// Limits of one Table. The constructor crashes on bucket_size < 1,
// max_replacements < 0, IP limits < 1 or ip_subnet_bits outside 0..128.
struct TableConfig {
  int bucket_size = 16;       // bucketSize
  int max_replacements = 10;  // maxReplacements
  int bucket_ip_limit = 2;    // bucketIPLimit
  int table_ip_limit = 10;    // tableIPLimit
  int ip_subnet_bits = 24;    // bucketSubnet and tableSubnet
};

// One live entry of a bucket.
struct TableEntry {
  Node node;
  // When it entered the bucket's live entries (promotion from the
  // replacement list counts as entering).
  MonoTime added_at;
  // Revalidation pings answered at the current endpoint. > 0 means "live"
  // for Closest(prefer_live).
  int liveness_checks = 0;
  // The last pong recorded for it, if any (RecordPong, NodeRevalidated).
  std::optional<MonoTime> last_pong;
};

// One row of Table::Nodes(), for the admin endpoint.
struct TableNodeInfo {
  int bucket = 0;
  TableEntry entry;
};

// What an Add call did.
enum class AddResult {
  kAdded,               // New live entry.
  kAddedReplacement,    // Bucket full: put at the front of its replacement list.
  kBumped,              // Already an entry: moved to the front (record updated).
  kAlreadyPresent,      // Already an entry; AddSeenNode leaves it alone.
  kAlreadyReplacement,  // Bucket full and already a replacement: unchanged.
  kBucketFull,          // Bucket full and max_replacements == 0: dropped.
  kIpLimit,             // Refused by the bucket or table IP limit; nothing changed.
  kNoIp,                // The node has no IP address.
  kSelf,                // The node is this table's own ID.
};
const char* AddResultName(AddResult r);

// What ReplaceDead did.
struct ReplaceResult {
  // The dead node was removed (it was still the last entry of its bucket).
  bool removed = false;
  // The replacement that took its place, if the bucket had any.
  std::optional<Node> replacement;
};

class Table {
 public:
  explicit Table(const NodeId& self, TableConfig cfg = {});

  const NodeId& self() const { return self_; }
  const TableConfig& config() const { return cfg_; }

  // Index of the bucket that holds (or would hold) id.
  int BucketOf(const NodeId& id) const;

  // go-ethereum's addSeenNode: a node learned from a Neighbors reply, whose
  // liveness is unknown. If it is already an entry, nothing changes
  // (kAlreadyPresent). If its bucket is full it goes to the replacement list
  // (the oldest replacement is dropped beyond max_replacements). Otherwise,
  // IP limits permitting, it is appended at the end of the bucket with
  // added_at = now, leaving the replacement list if it was there.
  AddResult AddSeenNode(const Node& n, MonoTime now);

  // go-ethereum's addVerifiedNode: a node that just proved its endpoint (it
  // pinged us and we hold a recent pong from it). If it is already an entry it
  // moves to the front and its record is replaced by n (kBumped); if n's IP
  // differs and does not fit the IP limits, the entry stays as it was, in
  // place (kIpLimit). Else as AddSeenNode, but a new entry goes to the front.
  // go-ethereum ignores verified nodes until the table's first refresh has
  // finished (an anti-flooding measure); that gate is the caller's.
  AddResult AddVerifiedNode(const Node& n, MonoTime now);

  // Removes id from the live entries (not from the replacement lists) and
  // frees its IP slots. No replacement is promoted. Returns whether it was
  // an entry. go-ethereum's delete (a node failing findnode too often).
  bool Delete(const NodeId& id);

  // A revalidation ping to id went unanswered: go-ethereum's replace. Only if
  // id is still the last entry of its bucket (it was picked by
  // NodeToRevalidate and has not been bumped since) it is removed, and a
  // replacement chosen uniformly by rng, if any, takes its place at the end
  // of the bucket with added_at = now. Otherwise nothing changes.
  ReplaceResult ReplaceDead(const NodeId& id, MonoTime now, Rng& rng);

  // A revalidation ping to id was answered: liveness_checks + 1, last_pong =
  // now, and the entry moves to the front of its bucket. Returns false (and
  // does nothing) if id is not an entry.
  bool NodeRevalidated(const NodeId& id, MonoTime now);

  // Records a pong from id (any ping, e.g. a bond before findnode) without
  // reordering. Returns false if id is not an entry.
  bool RecordPong(const NodeId& id, MonoTime now);

  // go-ethereum's nodeToRevalidate: the last (least recently active) entry of
  // a random non-empty bucket, buckets visited in the order of a random
  // permutation drawn from rng as Go's rand.Perm draws it. nullopt if the
  // table is empty (rng is used even then).
  std::optional<Node> NodeToRevalidate(Rng& rng) const;

  // The up to n entries closest to target by XOR distance, closest first.
  // Distinct IDs always have distinct distances, so the order is total. With
  // prefer_live, only entries with liveness_checks > 0 are returned, unless
  // there are none, then all (go-ethereum's findnodeByID preferLive).
  std::vector<Node> Closest(const NodeId& target, size_t n, bool prefer_live = false) const;

  // Fills buf with distinct random entries (a uniform shuffle of all
  // entries, drawn from rng) and returns how many it wrote: min(buf.size(),
  // Len()). go-ethereum's ReadRandomNodes (without its init-done gate).
  size_t ReadRandomNodes(absl::Span<Node> buf, Rng& rng) const;

  // Number of live entries.
  size_t Len() const;
  // Live entries of bucket i (0 <= i < kNumBuckets), front (most recently
  // active) first.
  const std::vector<TableEntry>& BucketEntries(int i) const;
  // Replacements of bucket i, newest first.
  std::vector<Node> BucketReplacements(int i) const;
  // The live entry for id, or nullptr. The pointer is valid until the next
  // non-const call.
  const TableEntry* Get(const NodeId& id) const;
  bool Contains(const NodeId& id) const { return Get(id) != nullptr; }
  bool IsReplacement(const NodeId& id) const;

  // Every live entry with its bucket, in bucket order then entry order.
  std::vector<TableNodeInfo> Nodes() const;

  // IP slots in use in ip's network, for tests and diagnostics (LAN
  // addresses never take any).
  int TableIpCount(const IpAddress& ip) const { return ips_.CountInNet(ip); }
  int BucketIpCount(int i, const IpAddress& ip) const { return buckets_[i].ips.CountInNet(ip); }

 private:
  struct Bucket {
    explicit Bucket(const TableConfig& cfg) : ips(cfg.ip_subnet_bits, cfg.bucket_ip_limit) {}
    std::vector<TableEntry> entries;       // Most recently active first.
    std::vector<TableEntry> replacements;  // Newest first.
    DistinctNetSet ips;
  };

  AddResult Add(const Node& n, MonoTime now, bool verified);
  AddResult AddReplacement(Bucket& b, const Node& n, MonoTime now);
  // Reserves IP slots for ip in the table and in b (go-ethereum's addIP).
  bool AddIp(Bucket& b, const IpAddress& ip);
  void RemoveIp(Bucket& b, const IpAddress& ip);
  Bucket& BucketFor(const NodeId& id) { return buckets_[BucketOf(id)]; }
  const Bucket& BucketFor(const NodeId& id) const { return buckets_[BucketOf(id)]; }
  static int IndexIn(const std::vector<TableEntry>& list, const NodeId& id);

  NodeId self_;
  TableConfig cfg_;
  std::vector<Bucket> buckets_;  // kNumBuckets of them.
  DistinctNetSet ips_;
};

}  // namespace discover
}  // namespace p2p

#endif  // P2P_CORE_DISCOVER_TABLE_H_
