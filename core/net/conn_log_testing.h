// ConnLog: records what one Conn delivers to its reader, for tests of Conn
// implementations (pipe, in-memory network).
//
// Attach(conn, clock) starts `conn` with callbacks that append each read to
// `data` and its time to `read_times_ns`, and on close count `closes`, keep
// the last status in `why` and its time in `close_time_ns` (-1 until then).
// Times are ToNanos(clock.Now()); the clock is any object with a
// `MonoTime Now() const` (an EventLoop, or the simulator's EventQueue) and,
// like the ConnLog itself, must outlive the Conn's callbacks.
#ifndef P2P_CORE_NET_CONN_LOG_TESTING_H_
#define P2P_CORE_NET_CONN_LOG_TESTING_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/event_loop.h"
#include "core/net/transport.h"

namespace p2p {

struct ConnLog {
  std::string data;
  std::vector<int64_t> read_times_ns;
  int closes = 0;
  absl::Status why;
  int64_t close_time_ns = -1;

  template <typename ClockLike>
  void Attach(Conn& c, const ClockLike& clock) {
    c.Start(
        [this, &clock](absl::Span<const uint8_t> d) {
          data.append(d.begin(), d.end());
          read_times_ns.push_back(ToNanos(clock.Now()));
        },
        [this, &clock](const absl::Status& s) {
          ++closes;
          why = s;
          close_time_ns = ToNanos(clock.Now());
        });
  }
};

}  // namespace p2p

#endif  // P2P_CORE_NET_CONN_LOG_TESTING_H_
