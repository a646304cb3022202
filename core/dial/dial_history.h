// Recently dialed nodes with expiry times: go-ethereum's expHeap (current
// dialer) and dialHistory (v1.8.24). Members are not dialed again until they
// expire. Deterministic: entries with equal expiry leave in insertion order.
#ifndef P2P_CORE_DIAL_DIAL_HISTORY_H_
#define P2P_CORE_DIAL_DIAL_HISTORY_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "core/event_loop.h"
#include "core/node.h"

namespace p2p {

class DialHistory {
 public:
  // Records `id` until `expiry`. An id may be present more than once.
  void Add(const NodeId& id, MonoTime expiry);
  bool Contains(const NodeId& id) const { return count_.contains(id); }
  // Drops every entry for `id` (v1.8.24's removeStatic). O(size).
  void Remove(const NodeId& id);
  // Removes the entries whose expiry is strictly before `now`, earliest
  // first, calling on_expired for each.
  void Expire(MonoTime now, absl::FunctionRef<void(const NodeId&)> on_expired);
  void Expire(MonoTime now) {
    Expire(now, [](const NodeId&) {});
  }
  // The earliest expiry, if any.
  std::optional<MonoTime> NextExpiry() const;
  size_t size() const { return heap_.size(); }
  bool empty() const { return heap_.empty(); }

 private:
  struct Entry {
    MonoTime expiry;
    uint64_t seq;
    NodeId id;
  };
  static bool Later(const Entry& a, const Entry& b) {
    return a.expiry > b.expiry || (a.expiry == b.expiry && a.seq > b.seq);
  }
  std::vector<Entry> heap_;  // Min-heap by (expiry, seq) via Later.
  absl::flat_hash_map<NodeId, int> count_;  // Lookup only, never iterated.
  uint64_t next_seq_ = 0;
};

}  // namespace p2p

#endif  // P2P_CORE_DIAL_DIAL_HISTORY_H_
