#include "core/dial/dial_history.h"

#include <algorithm>

namespace p2p {

void DialHistory::Add(const NodeId& id, MonoTime expiry) {
  heap_.push_back(Entry{expiry, next_seq_++, id});
  std::push_heap(heap_.begin(), heap_.end(), Later);
  count_[id]++;
}

void DialHistory::Remove(const NodeId& id) {
  if (count_.erase(id) == 0) return;
  heap_.erase(std::remove_if(heap_.begin(), heap_.end(),
                             [&](const Entry& e) { return e.id == id; }),
              heap_.end());
  std::make_heap(heap_.begin(), heap_.end(), Later);
}

void DialHistory::Expire(MonoTime now,
                         absl::FunctionRef<void(const NodeId&)> on_expired) {
  while (!heap_.empty() && heap_.front().expiry < now) {
    std::pop_heap(heap_.begin(), heap_.end(), Later);
    NodeId id = heap_.back().id;
    heap_.pop_back();
    auto it = count_.find(id);
    if (--it->second == 0) count_.erase(it);
    on_expired(id);
  }
}

std::optional<MonoTime> DialHistory::NextExpiry() const {
  if (heap_.empty()) return std::nullopt;
  return heap_.front().expiry;
}

}  // namespace p2p
