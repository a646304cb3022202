// An in-memory stream connection: two Conn ends joined back to back, for
// tests and the simulator (the analogue of Go's net.Pipe, with a latency).
//
// Behaviour, beyond the Conn contract in core/net/transport.h:
//  - Bytes written on one end are handed to the "network" at once (so
//    PendingWriteBytes() is always 0) and arrive at the other end
//    `one_way_delay` later, in order, as one read callback per Write, run on
//    the receiving end's loop. There is no flow control.
//  - Optionally each direction has a rate (PipeRates; unlimited by
//    default), which adds serialization delay: a Write of n bytes at time
//    `now` arrives at max(previous arrival in that direction,
//    now + one_way_delay) + n*8/rate (whole nanoseconds, rounded up), so
//    back-to-back writes queue behind each other and order is kept. The EOF
//    or reset of a direction takes no serialization time but still arrives
//    after every byte written before it, queued ones included (the model
//    has no send buffer to discard). Without a rate the arrival time is
//    simply now + one_way_delay.
//  - Close(why, flush=true) ends this end at once (its close callback runs,
//    posted, with `why`) and sends an EOF after the bytes already written:
//    the other end reads them, then its close callback runs with OkStatus.
//    Close(why, flush=false) is a reset: the bytes already in flight are
//    still delivered (they had left), then the other end's close callback
//    runs with kUnavailable "connection reset by peer". Destroying an end
//    that has not ended resets the other end the same way.
//  - An end whose stream has ended (by Close, EOF or reset) drops later
//    writes, and bytes that arrive for it are discarded.
//  - Bytes (and an EOF or reset) arriving before Start are buffered, at most
//    kMaxPipeUnstartedBytes; more than that resets both ends (the receiving
//    end's close callback reports kUnavailable "pipe: ... before Start").
//    Start posts their delivery; nothing is ever delivered inside Start,
//    Write or Close.
//  - Destroying an end cancels all of its pending callbacks.
//  - Cost: a Write copies its bytes once (writes of up to 16 bytes, such
//    as the simulator's keepalive frames, into the receiving end itself;
//    larger ones into a heap block); its delivery event allocates nothing
//    more (the bytes wait in the receiving end, in order, and the event
//    only names them), which matters at millions of writes.
//
// Threading: both ends must be used on one thread, and both loops must run
// on it (e.g. two SimLoops on one EventQueue, or the same loop twice): a
// Write schedules work directly on the other end's loop. The loops must
// outlive both ends.
#ifndef P2P_CORE_NET_PIPE_H_
#define P2P_CORE_NET_PIPE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "absl/time/time.h"
#include "core/event_loop.h"
#include "core/net/ip.h"
#include "core/net/transport.h"

namespace p2p {

// Bytes an end buffers before Start is called.
inline constexpr size_t kMaxPipeUnstartedBytes = 16 * 1024 * 1024;

// Link rates of a pipe, in bits per second per direction; 0 (or negative)
// means unlimited: no serialization delay.
struct PipeRates {
  int64_t a_to_b_bits_per_second = 0;
  int64_t b_to_a_bits_per_second = 0;
};

// The time `bytes` take to leave a link of `bits_per_second` (> 0): whole
// nanoseconds, rounded up, exact for any size (no overflow).
absl::Duration SerializationDelay(size_t bytes, int64_t bits_per_second);

// Returns the two ends: first lives on `loop_a` with local endpoint `a` and
// remote endpoint `b`; second on `loop_b` with the reverse. Negative delays
// count as zero.
std::pair<std::unique_ptr<Conn>, std::unique_ptr<Conn>> NewConnPair(
    EventLoop* loop_a, EventLoop* loop_b, Endpoint a, Endpoint b,
    absl::Duration one_way_delay = absl::ZeroDuration(), PipeRates rates = {});

}  // namespace p2p

#endif  // P2P_CORE_NET_PIPE_H_
