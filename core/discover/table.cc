#include "core/discover/table.h"

#include <algorithm>
#include <utility>

#include "absl/base/internal/raw_logging.h"

namespace p2p {
namespace discover {

int BucketIndexForDistance(int d) {
  if (d <= kBucketMinDistance) return 0;
  return d - kBucketMinDistance - 1;  // 240 -> 0 as well, 256 -> 16.
}

// ---------------------------------------------------------------------------
// DistinctNetSet

DistinctNetSet::Key DistinctNetSet::KeyOf(const IpAddress& ip) const {
  Key key;
  key.first = ip.is_v4();
  key.second.fill(0);
  if (key.first) {
    // Mask as a 32-bit address, as Go does for an IPv4 netip.Addr.
    const int bits = std::min(subnet_bits_, 32);
    const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    const uint32_t v = ip.v4() & mask;
    key.second[0] = static_cast<uint8_t>(v >> 24);
    key.second[1] = static_cast<uint8_t>(v >> 16);
    key.second[2] = static_cast<uint8_t>(v >> 8);
    key.second[3] = static_cast<uint8_t>(v);
    return key;
  }
  const std::array<uint8_t, 16>& b = ip.bytes16();
  const int bits = std::min(subnet_bits_, 128);
  for (int i = 0; i < 16; ++i) {
    const int keep = std::min(std::max(bits - 8 * i, 0), 8);  // Prefix bits in this byte.
    if (keep == 0) break;
    key.second[i] = static_cast<uint8_t>(b[i] & static_cast<uint8_t>(0xff00 >> keep));
  }
  return key;
}

bool DistinctNetSet::Add(const IpAddress& ip) {
  const Key key = KeyOf(ip);
  auto it = members_.find(key);
  const int n = it == members_.end() ? 0 : it->second;
  if (n >= limit_) return false;
  members_[key] = n + 1;
  return true;
}

void DistinctNetSet::Remove(const IpAddress& ip) {
  auto it = members_.find(KeyOf(ip));
  if (it == members_.end()) return;
  if (--it->second <= 0) members_.erase(it);
}

bool DistinctNetSet::Contains(const IpAddress& ip) const { return CountInNet(ip) > 0; }

int DistinctNetSet::CountInNet(const IpAddress& ip) const {
  auto it = members_.find(KeyOf(ip));
  return it == members_.end() ? 0 : it->second;
}

int DistinctNetSet::Len() const {
  int n = 0;
  for (const auto& [key, count] : members_) n += count;
  return n;
}

// ---------------------------------------------------------------------------
// Table

const char* AddResultName(AddResult r) {
  switch (r) {
    case AddResult::kAdded:
      return "added";
    case AddResult::kAddedReplacement:
      return "added-replacement";
    case AddResult::kBumped:
      return "bumped";
    case AddResult::kAlreadyPresent:
      return "already-present";
    case AddResult::kAlreadyReplacement:
      return "already-replacement";
    case AddResult::kBucketFull:
      return "bucket-full";
    case AddResult::kIpLimit:
      return "ip-limit";
    case AddResult::kNoIp:
      return "no-ip";
    case AddResult::kSelf:
      return "self";
  }
  return "unknown";
}

Table::Table(const NodeId& self, TableConfig cfg)
    : self_(self), cfg_(cfg), ips_(cfg.ip_subnet_bits, cfg.table_ip_limit) {
  ABSL_RAW_CHECK(cfg.bucket_size >= 1, "TableConfig::bucket_size must be >= 1");
  ABSL_RAW_CHECK(cfg.max_replacements >= 0, "TableConfig::max_replacements must be >= 0");
  ABSL_RAW_CHECK(cfg.bucket_ip_limit >= 1 && cfg.table_ip_limit >= 1,
                 "TableConfig IP limits must be >= 1");
  ABSL_RAW_CHECK(cfg.ip_subnet_bits >= 0 && cfg.ip_subnet_bits <= 128,
                 "TableConfig::ip_subnet_bits must be in 0..128");
  buckets_.reserve(kNumBuckets);
  for (int i = 0; i < kNumBuckets; ++i) buckets_.emplace_back(cfg_);
}

int Table::BucketOf(const NodeId& id) const {
  return BucketIndexForDistance(LogDistance(self_, id));
}

int Table::IndexIn(const std::vector<TableEntry>& list, const NodeId& id) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (list[i].node.id == id) return static_cast<int>(i);
  }
  return -1;
}

bool Table::AddIp(Bucket& b, const IpAddress& ip) {
  if (ip.IsUnspecified()) return false;  // Nodes without IP cannot be added.
  if (ip.IsLan()) return true;
  if (!ips_.Add(ip)) return false;
  if (!b.ips.Add(ip)) {
    ips_.Remove(ip);
    return false;
  }
  return true;
}

void Table::RemoveIp(Bucket& b, const IpAddress& ip) {
  if (ip.IsUnspecified() || ip.IsLan()) return;
  ips_.Remove(ip);
  b.ips.Remove(ip);
}

AddResult Table::AddSeenNode(const Node& n, MonoTime now) { return Add(n, now, false); }

AddResult Table::AddVerifiedNode(const Node& n, MonoTime now) { return Add(n, now, true); }

AddResult Table::Add(const Node& n, MonoTime now, bool verified) {
  if (n.id == self_) return AddResult::kSelf;
  if (!n.has_ip()) return AddResult::kNoIp;
  Bucket& b = BucketFor(n.id);

  const int i = IndexIn(b.entries, n.id);
  if (i >= 0) {
    if (!verified) return AddResult::kAlreadyPresent;
    // go-ethereum's bumpInBucket: a new IP must fit the limits, else the
    // entry stays exactly as it was.
    TableEntry& e = b.entries[i];
    if (n.ip != e.node.ip) {
      RemoveIp(b, e.node.ip);
      if (!AddIp(b, n.ip)) {
        AddIp(b, e.node.ip);  // Cannot fail: it just held these slots.
        return AddResult::kIpLimit;
      }
    }
    if (n.ip != e.node.ip || n.udp != e.node.udp) e.liveness_checks = 0;
    e.node = n;
    std::rotate(b.entries.begin(), b.entries.begin() + i, b.entries.begin() + i + 1);
    return AddResult::kBumped;
  }

  if (static_cast<int>(b.entries.size()) >= cfg_.bucket_size) return AddReplacement(b, n, now);

  // Room in the bucket. If n waits in the replacement list, its slots there
  // are given back before n's own are taken, and restored if n does not fit.
  const int r = IndexIn(b.replacements, n.id);
  if (r >= 0) RemoveIp(b, b.replacements[r].node.ip);
  if (!AddIp(b, n.ip)) {
    if (r >= 0) AddIp(b, b.replacements[r].node.ip);  // Cannot fail, as above.
    return AddResult::kIpLimit;
  }
  if (r >= 0) b.replacements.erase(b.replacements.begin() + r);

  TableEntry e;
  e.node = n;
  e.added_at = now;
  if (verified) {
    b.entries.insert(b.entries.begin(), std::move(e));
  } else {
    b.entries.push_back(std::move(e));
  }
  return AddResult::kAdded;
}

AddResult Table::AddReplacement(Bucket& b, const Node& n, MonoTime now) {
  if (IndexIn(b.replacements, n.id) >= 0) return AddResult::kAlreadyReplacement;
  if (cfg_.max_replacements == 0) return AddResult::kBucketFull;
  if (!AddIp(b, n.ip)) return AddResult::kIpLimit;
  TableEntry e;
  e.node = n;
  e.added_at = now;
  b.replacements.insert(b.replacements.begin(), std::move(e));
  if (static_cast<int>(b.replacements.size()) > cfg_.max_replacements) {
    RemoveIp(b, b.replacements.back().node.ip);
    b.replacements.pop_back();
  }
  return AddResult::kAddedReplacement;
}

bool Table::Delete(const NodeId& id) {
  Bucket& b = BucketFor(id);
  const int i = IndexIn(b.entries, id);
  if (i < 0) return false;
  RemoveIp(b, b.entries[i].node.ip);
  b.entries.erase(b.entries.begin() + i);
  return true;
}

ReplaceResult Table::ReplaceDead(const NodeId& id, MonoTime now, Rng& rng) {
  ReplaceResult result;
  Bucket& b = BucketFor(id);
  // Only the entry NodeToRevalidate picked, and only if nothing bumped it
  // while its ping was out.
  if (b.entries.empty() || b.entries.back().node.id != id) return result;
  result.removed = true;
  RemoveIp(b, b.entries.back().node.ip);
  if (b.replacements.empty()) {
    b.entries.pop_back();
    return result;
  }
  // The replacement's IP slots move with it from the list to the entries.
  const int r = rng.Intn(static_cast<int>(b.replacements.size()));
  TableEntry rep = std::move(b.replacements[r]);
  b.replacements.erase(b.replacements.begin() + r);
  rep.added_at = now;
  rep.liveness_checks = 0;
  result.replacement = rep.node;
  b.entries.back() = std::move(rep);
  return result;
}

bool Table::NodeRevalidated(const NodeId& id, MonoTime now) {
  Bucket& b = BucketFor(id);
  const int i = IndexIn(b.entries, id);
  if (i < 0) return false;
  TableEntry& e = b.entries[i];
  ++e.liveness_checks;
  e.last_pong = now;
  std::rotate(b.entries.begin(), b.entries.begin() + i, b.entries.begin() + i + 1);
  return true;
}

bool Table::RecordPong(const NodeId& id, MonoTime now) {
  Bucket& b = BucketFor(id);
  const int i = IndexIn(b.entries, id);
  if (i < 0) return false;
  b.entries[i].last_pong = now;
  return true;
}

std::optional<Node> Table::NodeToRevalidate(Rng& rng) const {
  // Go's rand.Perm, so the visiting order is drawn the way go-ethereum draws it.
  std::array<int, kNumBuckets> perm{};
  for (int i = 0; i < kNumBuckets; ++i) {
    const int j = rng.Intn(i + 1);
    perm[i] = perm[j];
    perm[j] = i;
  }
  for (int bi : perm) {
    const Bucket& b = buckets_[bi];
    if (!b.entries.empty()) return b.entries.back().node;
  }
  return std::nullopt;
}

std::vector<Node> Table::Closest(const NodeId& target, size_t n, bool prefer_live) const {
  // Each candidate with its distance to the target, computed once.
  struct Candidate {
    DistanceKey key;
    const Node* node;
  };
  // Only the buckets that can hold the n closest are read. With
  // j = LogDistance(self, target) and i = LogDistance(self, node), the
  // XOR distance of node to target has its top bit below j if i == j, at j
  // if i < j, at i if i > j. So bucket(j) comes first, then all lower
  // buckets together, then each higher bucket in turn, and every group is
  // closer than all later ones; once n candidates are in hand the rest
  // cannot contribute. (Bucket 0 holds every i <= 240; when j falls in it,
  // it is the first group and there are no lower ones.)
  const int first = BucketIndexForDistance(LogDistance(self_, target));
  auto collect = [&](bool live_only) {
    std::vector<Candidate> out;
    auto add = [&](int b) {
      for (const TableEntry& e : buckets_[b].entries) {
        if (!live_only || e.liveness_checks > 0) {
          out.push_back({XorDistanceKey(target, e.node.id), &e.node});
        }
      }
    };
    add(first);
    if (out.size() < n) {
      for (int b = 0; b < first; ++b) add(b);
    }
    for (int b = first + 1; b < kNumBuckets && out.size() < n; ++b) add(b);
    return out;
  };
  std::vector<Candidate> candidates;
  if (prefer_live) candidates = collect(/*live_only=*/true);
  // Empty: no live node at all (every bucket was read) or n == 0.
  if (candidates.empty()) candidates = collect(/*live_only=*/false);
  const size_t k = std::min(n, candidates.size());
  // Distinct IDs have distinct XOR distances, so this order is total and the
  // result does not depend on the scan order.
  std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end(),
                    [](const Candidate& a, const Candidate& b) { return a.key < b.key; });
  std::vector<Node> out;
  out.reserve(k);
  for (size_t i = 0; i < k; ++i) out.push_back(*candidates[i].node);
  return out;
}

size_t Table::ReadRandomNodes(absl::Span<Node> buf, Rng& rng) const {
  std::vector<const Node*> all;
  for (const Bucket& b : buckets_) {
    for (const TableEntry& e : b.entries) all.push_back(&e.node);
  }
  const size_t k = std::min(buf.size(), all.size());
  // Partial Fisher-Yates: position i gets a uniform pick of the rest.
  for (size_t i = 0; i < k; ++i) {
    const size_t j = i + static_cast<size_t>(rng.Uniform(all.size() - i));
    std::swap(all[i], all[j]);
    buf[i] = *all[i];
  }
  return k;
}

size_t Table::Len() const {
  size_t n = 0;
  for (const Bucket& b : buckets_) n += b.entries.size();
  return n;
}

const std::vector<TableEntry>& Table::BucketEntries(int i) const {
  ABSL_RAW_CHECK(i >= 0 && i < kNumBuckets, "Table::BucketEntries: bad bucket index");
  return buckets_[i].entries;
}

std::vector<Node> Table::BucketReplacements(int i) const {
  ABSL_RAW_CHECK(i >= 0 && i < kNumBuckets, "Table::BucketReplacements: bad bucket index");
  std::vector<Node> out;
  for (const TableEntry& e : buckets_[i].replacements) out.push_back(e.node);
  return out;
}

const TableEntry* Table::Get(const NodeId& id) const {
  const Bucket& b = BucketFor(id);
  const int i = IndexIn(b.entries, id);
  return i < 0 ? nullptr : &b.entries[i];
}

bool Table::IsReplacement(const NodeId& id) const {
  return IndexIn(BucketFor(id).replacements, id) >= 0;
}

std::vector<TableNodeInfo> Table::Nodes() const {
  std::vector<TableNodeInfo> out;
  for (int i = 0; i < kNumBuckets; ++i) {
    for (const TableEntry& e : buckets_[i].entries) out.push_back(TableNodeInfo{i, e});
  }
  return out;
}

}  // namespace discover
}  // namespace p2p
