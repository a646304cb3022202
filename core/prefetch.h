// Software prefetch of an object's hot members. The simulator runs events
// over far more state than the caches hold (10^5 connections), and each
// event's first touch of an object is a miss; asking for all of the lines
// it will read at once lets the misses overlap instead of each waiting for
// the one before. Only a hint: no effect on behaviour.
#ifndef P2P_CORE_PREFETCH_H_
#define P2P_CORE_PREFETCH_H_

#include <cstddef>
#include <cstdint>

namespace p2p {

inline constexpr size_t kCacheLineBytes = 64;

// Prefetches every cache line overlapping [begin, end).
inline void PrefetchRange(const void* begin, const void* end) {
  uintptr_t line = reinterpret_cast<uintptr_t>(begin) & ~(kCacheLineBytes - 1);
  const uintptr_t stop = reinterpret_cast<uintptr_t>(end);
  for (; line < stop; line += kCacheLineBytes) {
    __builtin_prefetch(reinterpret_cast<const void*>(line));
  }
}

}  // namespace p2p

#endif  // P2P_CORE_PREFETCH_H_
