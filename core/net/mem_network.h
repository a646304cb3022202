// An in-memory network: hosts joined by a switch that models one-way latency,
// for server tests now and the simulator later. Each host gets a p2p::Network
// (core/net/transport.h) whose objects and callbacks live on that host's
// EventLoop; stream connections are NewConnPair ends (core/net/pipe.h).
//
// Model, beyond the contracts in core/net/transport.h (L is the one-way
// latency from the dialing or sending host to the destination IP: the
// options' `latency` function if set, else `default_latency`; negative
// values count as zero; it is sampled once per dial and once per datagram):
//  - A host has exactly one IP. Listeners and packet sockets bind to that IP
//    or to the unspecified address (0.0.0.0 / ::), which is the same thing
//    here; any other IP is kUnavailable "cannot assign requested address".
//    TCP and UDP have separate port spaces per host. Binding a bound port is
//    kAlreadyExists "address already in use". Port 0 picks the next free
//    port of the host's ephemeral range [32768, 65535], counting up and
//    wrapping; dials take their local port from the same TCP counter (the
//    port is not reserved for the connection's lifetime; ports repeat only
//    after the range wraps).
//  - Dial(to, timeout): the dialer's SYN reaches the destination after L.
//    If `to` names a host with a listener on that port whose backlog has
//    room, the connection is set up then: the listener is offered its end
//    (at L) and the dialer gets its own after the round trip (at 2L); bytes
//    then take L each way. Otherwise (no such host, no listener, backlog
//    full) the dial fails at 2L with kUnavailable
//    "dial tcp <to>: connection refused". If 2L > timeout the dial fails at
//    `timeout` with kDeadlineExceeded "dial tcp <to>: i/o timeout" instead;
//    a listener that already took its end (L < timeout) sees it reset. Port
//    0 or an unspecified IP is kInvalidArgument "dial tcp <to>: invalid
//    address" (posted). The dialer's end has local endpoint
//    <dialer IP>:<ephemeral> and remote `to`; the listener's end the reverse.
//  - SYN loss (the filter says kLose): as Linux, the dialer retransmits the
//    SYN after an RTO of kMemSynInitialRto that doubles each time, so
//    retransmissions leave at start + 1 s, + 3 s, + 7 s, ... Each one is a
//    new SYN as above (the filter is asked again when it arrives): a dial
//    whose first SYN alone is lost connects at 1 s + 2L. The dial fails at
//    its timeout as usual when the next round trip would end after it (a
//    retransmission never leaves after the timeout); after
//    kMemSynRetries retransmissions are lost too, it fails when the next
//    one would be due (127 s after the start) with kDeadlineExceeded
//    "dial tcp <to>: connection timed out". One loss decision covers the
//    SYN and its answer.
//  - Streams: bytes take L each way, in order. Optionally
//    (MemSwitchOptions::bandwidth) each direction has a rate that adds
//    serialization delay and makes writes queue (see PipeRates in
//    core/net/pipe.h). Loss on an established connection is not modelled:
//    TCP would hide it as extra delay (retransmission), which the latency
//    and rate already stand for.
//  - Listener: connections wait in a FIFO backlog of at most
//    `listen_backlog` until the accept callback takes them, in arrival
//    order, from posted tasks; while SetAcceptEnabled(false) they just wait
//    (the dialer has its Conn regardless, as with a kernel backlog).
//    Destroying the listener frees the port and destroys the backlog, which
//    resets those connections' dialer ends.
//  - PacketSocket: SendTo accepts at most kMaxMemDatagramBytes; the datagram
//    arrives after L at whichever socket is bound to the destination port at
//    that moment, or is dropped silently (counted). `from` is the sender's
//    <host IP>:<bound port>. Delivery order between one pair of hosts
//    follows send order when L is constant. Datagrams are only delayed by L:
//    rates do not apply to them. A datagram the filter refuses, drops or
//    loses is dropped.
//  - Destroying a host's Network removes the host: its listeners and sockets
//    stop (no further callbacks; SendTo then returns kUnavailable), its
//    pending dials are abandoned without callbacks (an end already handed to
//    a listener is reset), and later dials to its IP are refused. A new host
//    may then take the IP. Connections already handed out are unaffected.
//  - In-flight SYNs and datagrams travel as events on the sender's loop, so
//    dropping a loop's pending events (a crashed node) loses its traffic in
//    flight too.
//
// Everything is deterministic: no clocks but the loops', ordered containers
// only, ports and ids from counters; randomness (e.g. loss) only through the
// option callbacks, which must be deterministic themselves.
//
// Threading and lifetimes: single-threaded; all hosts' loops run on one
// thread (normally SimLoops on one EventQueue; hosts may share a loop). The
// MemSwitch must outlive the Networks it creates; each host's loop must
// outlive its Network and every Listener, PacketSocket and Conn made from
// it. Listeners and sockets may outlive their Network (they are then inert).
#ifndef P2P_CORE_NET_MEM_NETWORK_H_
#define P2P_CORE_NET_MEM_NETWORK_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "core/event_loop.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "core/weak_flag.h"

namespace p2p {

// Largest datagram SendTo accepts (as transport/'s UDP: 65535 - 20 - 8).
inline constexpr size_t kMaxMemDatagramBytes = 65507;
// The per-host ephemeral port range, for port 0 and dialer-side ports.
inline constexpr uint16_t kMemFirstEphemeralPort = 32768;
inline constexpr uint16_t kMemLastEphemeralPort = 65535;
// Lost SYNs: the first retransmission timeout, doubled after each
// retransmission, and how many retransmissions a dial makes before it gives
// up (Linux's TCP_TIMEOUT_INIT and the default net.ipv4.tcp_syn_retries).
inline constexpr absl::Duration kMemSynInitialRto = absl::Seconds(1);
inline constexpr int kMemSynRetries = 6;

// What happens to a connection attempt or datagram from one host to an
// address, decided when it arrives (see MemSwitchOptions::filter).
enum class MemVerdict {
  kDeliver,  // Normal delivery.
  kRefuse,   // TCP: the destination answers with a reset ("connection
             // refused" at 2L). Datagrams: dropped.
  kDrop,     // Lost on the way for good (NAT, firewall, partition): a dial
             // times out at its timeout; datagrams are dropped.
  kLose,     // Lost this once (packet loss): a SYN is retransmitted after the
             // RTO (see the file comment); datagrams are dropped.
};

struct MemSwitchOptions {
  // One-way delay used when `latency` is not set.
  absl::Duration default_latency = absl::ZeroDuration();
  // Connections a listener holds before its accept callback takes them;
  // more are refused. Must be at least 1 (the constructor checks).
  size_t listen_backlog = 128;
  // Optional: the one-way delay from host `from` to address `to`. Must be
  // deterministic (a pure function or driven by a seeded Rng).
  absl::AnyInvocable<absl::Duration(const IpAddress& from, const IpAddress& to)> latency;
  // Optional: decides the fate of each SYN (retransmissions included) and
  // datagram when it arrives (`from` host, `to` address; `tcp` tells which).
  // Unset: kDeliver. Must be deterministic (called in event order, so a
  // seeded Rng drawn from inside it is). kRefuse and kDrop are counted in
  // MemSwitchStats::filtered, kLose in syns_lost or packets_lost.
  absl::AnyInvocable<MemVerdict(const IpAddress& from, const IpAddress& to, bool tcp)> filter;
  // Optional: the rate of the stream direction from host `from` to host
  // `to` in bits per second, asked for both directions when a connection is
  // set up. nullopt or a value <= 0: unlimited. Unset: all unlimited. Must
  // be deterministic.
  absl::AnyInvocable<std::optional<int64_t>(const IpAddress& from, const IpAddress& to)> bandwidth;
};

// Counters over the switch's lifetime.
struct MemSwitchStats {
  int64_t dials = 0;              // Dial calls.
  int64_t refused = 0;            // Dials that found no listener or a full backlog.
  int64_t accepted = 0;           // Dials that reached a listener's backlog.
  int64_t packets_sent = 0;       // Datagrams SendTo accepted.
  int64_t packets_delivered = 0;  // Datagrams handed to a packet callback.
  int64_t packets_dropped = 0;    // Datagrams not delivered: no socket, filtered or lost.
  int64_t filtered = 0;           // SYNs and datagrams refused or dropped by the filter.
  int64_t syns_lost = 0;          // SYNs (retransmissions included) lost (kLose).
  int64_t packets_lost = 0;       // Datagrams lost (kLose); also in packets_dropped.
};

// The wiring between in-memory hosts. See the file comment for the model.
class MemSwitch {
 public:
  explicit MemSwitch(MemSwitchOptions opts = {});
  ~MemSwitch();  // Every host's Network must be gone already.
  MemSwitch(const MemSwitch&) = delete;
  MemSwitch& operator=(const MemSwitch&) = delete;

  // Creates the Network of host `ip`, whose objects and callbacks live on
  // `loop`. kAlreadyExists if a live host has `ip`; kInvalidArgument for the
  // unspecified address. Destroying the Network removes the host.
  absl::StatusOr<std::unique_ptr<Network>> AddHost(EventLoop* loop, IpAddress ip);

  const MemSwitchStats& stats() const { return stats_; }
  // Hosts whose Network is alive.
  size_t host_count() const { return hosts_.size(); }

 private:
  class Host;
  class TcpListener;
  class UdpSocket;

  // The one-way delay from `from` to `to`, never negative.
  absl::Duration OneWayLatency(const IpAddress& from, const IpAddress& to);
  // The stream rate from `from` to `to` in bits per second; 0: unlimited.
  int64_t Rate(const IpAddress& from, const IpAddress& to);
  // Runs when a datagram sent at `from` reaches `to`'s IP.
  void ArrivePacket(const Endpoint& from, const Endpoint& to, std::vector<uint8_t> data);

  MemSwitchOptions opts_;
  // Not owned; each Host removes itself. Lookup only, never iterated.
  absl::flat_hash_map<IpAddress, Host*> hosts_;
  MemSwitchStats stats_;
  WeakFlag alive_;  // Last: dies first.
};

}  // namespace p2p

#endif  // P2P_CORE_NET_MEM_NETWORK_H_
