// A first-in first-out queue that allocates nothing while empty.
//
// std::deque (libstdc++) allocates a 512-byte block and its map when it is
// constructed, empty or not; the simulator keeps a few queues per connection
// end for hundreds of thousands of connections that are almost always empty,
// so that was ~1 KiB per end for nothing. Fifo is a vector with a read index:
// push_back appends, pop_front advances the index, and the consumed prefix is
// dropped when the queue empties or once it is at least half the vector
// (amortised O(1) per element). References are invalidated by push_back.
#ifndef P2P_CORE_FIFO_H_
#define P2P_CORE_FIFO_H_

#include <cstddef>
#include <utility>
#include <vector>

namespace p2p {

template <typename T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  size_t size() const { return items_.size() - head_; }

  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  T& back() { return items_.back(); }
  const T& back() const { return items_.back(); }

  void push_back(T v) { items_.push_back(std::move(v)); }

  // Removes the front element (which must exist).
  void pop_front() {
    items_[head_] = T();  // Release what it holds now, not at compaction.
    ++head_;
    if (head_ == items_.size()) {
      clear();
    } else if (head_ >= 32 && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  // Empties the queue; keeps the capacity.
  void clear() {
    items_.clear();
    head_ = 0;
  }

 private:
  std::vector<T> items_;
  size_t head_ = 0;  // Index of the front element.
};

}  // namespace p2p

#endif  // P2P_CORE_FIFO_H_
