#include "core/net/mem_network.h"

#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/event_loop.h"
#include "core/net/conn_log_testing.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "core/rng.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr int64_t kMs = 1000 * 1000;

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }
IpAddress Ip(const char* text) { return IpAddress::Parse(text).value(); }
Endpoint Ep(const char* text) { return Endpoint::Parse(text).value(); }

// The outcome of one Dial.
struct DialLog {
  int calls = 0;
  int64_t time_ns = -1;
  absl::Status status;
  std::unique_ptr<Conn> conn;
};

// Connections an accept callback received.
struct AcceptLog {
  std::vector<std::unique_ptr<Conn>> conns;
  std::vector<int64_t> times_ns;
};

// A datagram a packet callback received.
struct Packet {
  int64_t time_ns;
  Endpoint from;
  std::string data;
};

class MemNetworkTest : public ::testing::Test {
 protected:
  // Three hosts, each on its own loop over the shared queue.
  void Make(MemSwitchOptions opts = {}) {
    sw_ = std::make_unique<MemSwitch>(std::move(opts));
    a_ = sw_->AddHost(&loop_a_, Ip("10.0.0.1")).value();
    b_ = sw_->AddHost(&loop_b_, Ip("10.0.0.2")).value();
    c_ = sw_->AddHost(&loop_c_, Ip("10.0.0.3")).value();
  }
  static MemSwitchOptions Latency(absl::Duration d) {
    MemSwitchOptions o;
    o.default_latency = d;
    return o;
  }

  void Dial(Network& from, const Endpoint& to, absl::Duration timeout, DialLog* log) {
    from.Dial(to, timeout, [this, log](absl::StatusOr<std::unique_ptr<Conn>> c) {
      ++log->calls;
      log->time_ns = q_.now_ns();
      if (c.ok()) {
        log->conn = std::move(*c);
      } else {
        log->status = c.status();
      }
    });
  }

  std::unique_ptr<Listener> Listen(Network& on, const Endpoint& local, AcceptLog* log) {
    return on
        .Listen(local,
                [this, log](std::unique_ptr<Conn> c) {
                  log->conns.push_back(std::move(c));
                  log->times_ns.push_back(q_.now_ns());
                })
        .value();
  }

  std::unique_ptr<PacketSocket> Open(Network& on, const Endpoint& local, std::vector<Packet>* log) {
    return on
        .OpenPacketSocket(local,
                          [this, log](const Endpoint& from, absl::Span<const uint8_t> d) {
                            log->push_back({q_.now_ns(), from, std::string(d.begin(), d.end())});
                          })
        .value();
  }

  sim::EventQueue q_;
  sim::SimLoop loop_a_{&q_};
  sim::SimLoop loop_b_{&q_};
  sim::SimLoop loop_c_{&q_};
  std::unique_ptr<MemSwitch> sw_;
  std::unique_ptr<Network> a_, b_, c_;  // Declared after sw_: destroyed first.
};

const absl::Duration kInf = absl::InfiniteDuration();

TEST_F(MemNetworkTest, DialAndAcceptTakeOneRoundTripAndBytesTakeTheLatency) {
  Make(Latency(absl::Milliseconds(10)));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);
  EXPECT_EQ(listener->LocalEndpoint(), Ep("10.0.0.2:30303"));
  DialLog dial;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Seconds(5), &dial);
  EXPECT_EQ(dial.calls, 0);  // Never inline, even in principle.

  q_.RunUntil(10 * kMs - 1);
  EXPECT_TRUE(accepted.conns.empty());
  q_.RunUntil(10 * kMs);
  ASSERT_EQ(accepted.conns.size(), 1u);
  EXPECT_EQ(accepted.times_ns[0], 10 * kMs);
  EXPECT_EQ(dial.calls, 0);
  q_.RunUntil(20 * kMs - 1);
  EXPECT_EQ(dial.calls, 0);
  q_.RunUntil(20 * kMs);
  ASSERT_EQ(dial.calls, 1);
  EXPECT_EQ(dial.time_ns, 20 * kMs);
  ASSERT_NE(dial.conn, nullptr) << dial.status;

  Conn& out = *dial.conn;
  Conn& in = *accepted.conns[0];
  EXPECT_EQ(out.LocalEndpoint(), Ep("10.0.0.1:32768"));
  EXPECT_EQ(out.RemoteEndpoint(), Ep("10.0.0.2:30303"));
  EXPECT_EQ(in.LocalEndpoint(), Ep("10.0.0.2:30303"));
  EXPECT_EQ(in.RemoteEndpoint(), Ep("10.0.0.1:32768"));

  ConnLog out_log, in_log;
  out_log.Attach(out, q_);
  in_log.Attach(in, q_);
  out.Write(B("ping"));
  q_.RunUntil(25 * kMs);
  in.Write(B("pong"));
  q_.RunUntilIdle();
  EXPECT_EQ(in_log.data, "ping");
  EXPECT_EQ(in_log.read_times_ns, std::vector<int64_t>{30 * kMs});
  EXPECT_EQ(out_log.data, "pong");
  EXPECT_EQ(out_log.read_times_ns, std::vector<int64_t>{35 * kMs});
  EXPECT_EQ(out_log.closes + in_log.closes, 0);

  EXPECT_EQ(sw_->stats().dials, 1);
  EXPECT_EQ(sw_->stats().accepted, 1);
  EXPECT_EQ(sw_->stats().refused, 0);
}

TEST_F(MemNetworkTest, ZeroLatencyDialIsStillPosted) {
  Make();
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:1"), &accepted);
  DialLog dial;
  Dial(*a_, Ep("10.0.0.2:1"), absl::ZeroDuration(), &dial);  // RTT 0 is within 0.
  EXPECT_EQ(dial.calls, 0);
  EXPECT_TRUE(accepted.conns.empty());
  q_.RunUntilIdle();
  EXPECT_EQ(q_.now_ns(), 0);
  EXPECT_EQ(dial.calls, 1);
  EXPECT_NE(dial.conn, nullptr) << dial.status;
  EXPECT_EQ(accepted.conns.size(), 1u);
}

TEST_F(MemNetworkTest, UnspecifiedListenerAcceptsDialsToTheHostIp) {
  Make(Latency(absl::Milliseconds(1)));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("0.0.0.0:30303"), &accepted);
  EXPECT_EQ(listener->LocalEndpoint(), Ep("0.0.0.0:30303"));
  DialLog dial;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &dial);
  q_.RunUntilIdle();
  ASSERT_NE(dial.conn, nullptr) << dial.status;
  ASSERT_EQ(accepted.conns.size(), 1u);
  EXPECT_EQ(accepted.conns[0]->LocalEndpoint(), Ep("10.0.0.2:30303"));
  EXPECT_EQ(accepted.conns[0]->RemoteEndpoint(), Ep("10.0.0.1:32768"));
}

TEST_F(MemNetworkTest, DialWithoutListenerIsRefusedAfterOneRoundTrip) {
  Make(Latency(absl::Milliseconds(10)));
  AcceptLog accepted;
  auto other_port = Listen(*b_, Ep("10.0.0.2:30304"), &accepted);
  DialLog no_listener, no_host;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Seconds(1), &no_listener);
  Dial(*a_, Ep("10.0.0.9:30303"), absl::Seconds(1), &no_host);
  q_.RunUntilIdle();
  EXPECT_EQ(no_listener.calls, 1);
  EXPECT_EQ(no_listener.time_ns, 20 * kMs);
  EXPECT_EQ(no_listener.status,
            absl::UnavailableError("dial tcp 10.0.0.2:30303: connection refused"));
  EXPECT_EQ(no_host.calls, 1);
  EXPECT_EQ(no_host.time_ns, 20 * kMs);
  EXPECT_EQ(no_host.status, absl::UnavailableError("dial tcp 10.0.0.9:30303: connection refused"));
  EXPECT_TRUE(accepted.conns.empty());
  EXPECT_EQ(sw_->stats().dials, 2);
  EXPECT_EQ(sw_->stats().refused, 2);
  EXPECT_EQ(sw_->stats().accepted, 0);
}

// The filter decides at arrival: kRefuse answers like a closed port, kDrop
// loses the SYN (the dial times out) and drops datagrams.
TEST_F(MemNetworkTest, FilterRefusesOrDropsAtArrival) {
  MemSwitchOptions opts = Latency(absl::Milliseconds(10));
  opts.filter = [](const IpAddress& from, const IpAddress& to, bool tcp) {
    if (to == Ip("10.0.0.2")) return MemVerdict::kRefuse;
    if (to == Ip("10.0.0.3") && from == Ip("10.0.0.1")) return MemVerdict::kDrop;
    (void)tcp;
    return MemVerdict::kDeliver;
  };
  Make(std::move(opts));
  AcceptLog accepted_b, accepted_c;
  auto lb = Listen(*b_, Ep("10.0.0.2:30303"), &accepted_b);
  auto lc = Listen(*c_, Ep("10.0.0.3:30303"), &accepted_c);
  DialLog refused, dropped, fine;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Seconds(1), &refused);
  Dial(*a_, Ep("10.0.0.3:30303"), absl::Seconds(1), &dropped);
  Dial(*b_, Ep("10.0.0.3:30303"), absl::Seconds(1), &fine);
  q_.RunUntilIdle();
  EXPECT_EQ(refused.time_ns, 20 * kMs);
  EXPECT_EQ(refused.status, absl::UnavailableError("dial tcp 10.0.0.2:30303: connection refused"));
  EXPECT_EQ(dropped.time_ns, 1000 * kMs);
  EXPECT_EQ(dropped.status, absl::DeadlineExceededError("dial tcp 10.0.0.3:30303: i/o timeout"));
  EXPECT_TRUE(fine.status.ok());
  EXPECT_TRUE(accepted_b.conns.empty());
  EXPECT_EQ(accepted_c.conns.size(), 1u);
  EXPECT_EQ(sw_->stats().filtered, 2);
}

// A filter that loses the first `lose` TCP SYNs (and, if `packets`, every
// other datagram), counting what it was asked.
struct LossyFilter {
  int lose = 0;
  bool packets = false;
  int syns_seen = 0;
  int packets_seen = 0;

  MemSwitchOptions Options(absl::Duration latency) {
    MemSwitchOptions o;
    o.default_latency = latency;
    o.filter = [this](const IpAddress&, const IpAddress&, bool tcp) {
      if (tcp) {
        ++syns_seen;
        if (lose > 0) {
          --lose;
          return MemVerdict::kLose;
        }
        return MemVerdict::kDeliver;
      }
      ++packets_seen;
      return packets && packets_seen % 2 == 1 ? MemVerdict::kLose : MemVerdict::kDeliver;
    };
    return o;
  }
};

constexpr int64_t kSec = 1000 * kMs;

// A lost SYN is retransmitted after 1 s, the next after 2 s more (3 s), and
// each retransmission is a new SYN with its own round trip.
TEST_F(MemNetworkTest, LostSynIsRetransmittedAfterTheRto) {
  LossyFilter loss{1};
  Make(loss.Options(absl::Milliseconds(10)));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);
  DialLog once;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Seconds(5), &once);
  q_.RunUntilIdle();
  ASSERT_EQ(once.calls, 1);
  EXPECT_EQ(once.time_ns, 1 * kSec + 20 * kMs);
  ASSERT_NE(once.conn, nullptr) << once.status;
  EXPECT_EQ(accepted.times_ns, std::vector<int64_t>{1 * kSec + 10 * kMs});
  EXPECT_EQ(loss.syns_seen, 2);

  // Two lost: retransmissions at +1 s and +3 s.
  loss.lose = 2;
  const int64_t t0 = q_.now_ns();
  DialLog twice;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Seconds(5), &twice);
  q_.RunUntilIdle();
  EXPECT_EQ(twice.time_ns, t0 + 3 * kSec + 20 * kMs);
  EXPECT_NE(twice.conn, nullptr) << twice.status;
  EXPECT_EQ(loss.syns_seen, 5);

  // A retransmission to a closed port is refused one round trip after it.
  loss.lose = 1;
  const int64_t t1 = q_.now_ns();
  DialLog refused;
  Dial(*a_, Ep("10.0.0.2:1"), absl::Seconds(5), &refused);
  q_.RunUntilIdle();
  EXPECT_EQ(refused.time_ns, t1 + 1 * kSec + 20 * kMs);
  EXPECT_EQ(refused.status, absl::UnavailableError("dial tcp 10.0.0.2:1: connection refused"));

  EXPECT_EQ(sw_->stats().syns_lost, 4);
  EXPECT_EQ(sw_->stats().filtered, 0);
  EXPECT_EQ(sw_->stats().dials, 3);
  EXPECT_EQ(sw_->stats().accepted, 2);
  EXPECT_EQ(sw_->stats().refused, 1);
}

TEST_F(MemNetworkTest, AlwaysLostSynTimesOutAtTheDialTimeout) {
  LossyFilter loss{1000};
  Make(loss.Options(absl::Milliseconds(10)));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);
  DialLog dial;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Seconds(10), &dial);
  q_.RunUntilIdle();
  EXPECT_EQ(dial.calls, 1);
  EXPECT_EQ(dial.time_ns, 10 * kSec);
  EXPECT_EQ(dial.status, absl::DeadlineExceededError("dial tcp 10.0.0.2:30303: i/o timeout"));
  EXPECT_TRUE(accepted.conns.empty());
  // SYNs at 0, 1, 3 and 7 s; the next would leave at 15 s.
  EXPECT_EQ(loss.syns_seen, 4);
  EXPECT_EQ(sw_->stats().syns_lost, 4);
  EXPECT_EQ(q_.pending(), 0u);
}

TEST_F(MemNetworkTest, AlwaysLostSynGivesUpAfterTheLastRetransmission) {
  LossyFilter loss{1000};
  Make(loss.Options(absl::Milliseconds(10)));
  DialLog dial;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &dial);
  q_.RunUntilIdle();
  // 1 + 2 + 4 + ... + 64 s: the first SYN and six retransmissions.
  EXPECT_EQ(dial.time_ns, 127 * kSec);
  EXPECT_EQ(dial.status,
            absl::DeadlineExceededError("dial tcp 10.0.0.2:30303: connection timed out"));
  EXPECT_EQ(loss.syns_seen, 1 + kMemSynRetries);

  // A timeout before that point wins.
  loss.syns_seen = 0;
  const int64_t t0 = q_.now_ns();
  DialLog shorter;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Seconds(126), &shorter);
  q_.RunUntilIdle();
  EXPECT_EQ(shorter.time_ns, t0 + 126 * kSec);
  EXPECT_EQ(shorter.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(shorter.status.message(), "dial tcp 10.0.0.2:30303: i/o timeout");
}

// A retransmission that reaches the listener before the timeout, with the
// answer due after it: the listener's end is reset, as for a first SYN.
TEST_F(MemNetworkTest, RetransmissionArrivingJustBeforeTheTimeout) {
  LossyFilter loss{1};
  Make(loss.Options(absl::Milliseconds(300)));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);
  DialLog dial;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Milliseconds(1500), &dial);
  q_.RunUntil(1300 * kMs);
  ASSERT_EQ(accepted.conns.size(), 1u);
  EXPECT_EQ(accepted.times_ns[0], 1300 * kMs);
  ConnLog in_log;
  in_log.Attach(*accepted.conns[0], q_);
  q_.RunUntilIdle();
  EXPECT_EQ(dial.time_ns, 1500 * kMs);
  EXPECT_EQ(dial.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(in_log.closes, 1);
  EXPECT_EQ(in_log.close_time_ns, 1800 * kMs);
  EXPECT_EQ(in_log.why, absl::UnavailableError("connection reset by peer"));
}

// With L beyond the RTO the retransmission left before the loss was known:
// it arrives 1 s after the first SYN would have.
TEST_F(MemNetworkTest, RetransmissionTimingHoldsWhenTheLatencyExceedsTheRto) {
  LossyFilter loss{1};
  Make(loss.Options(absl::Milliseconds(1500)));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);
  DialLog dial;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &dial);
  q_.RunUntilIdle();
  EXPECT_EQ(accepted.times_ns, std::vector<int64_t>{2500 * kMs});
  EXPECT_EQ(dial.time_ns, 4000 * kMs);
  EXPECT_NE(dial.conn, nullptr) << dial.status;
}

TEST_F(MemNetworkTest, LostDatagramsAreDroppedAndCounted) {
  LossyFilter loss{0, /*packets=*/true};
  Make(loss.Options(absl::Milliseconds(10)));
  std::vector<Packet> b_packets;
  auto a_socket = Open(*a_, Ep("10.0.0.1:30301"), &b_packets);
  auto b_socket = Open(*b_, Ep("10.0.0.2:30301"), &b_packets);
  for (const char* d : {"1", "2", "3", "4", "5"}) {
    ASSERT_TRUE(a_socket->SendTo(Ep("10.0.0.2:30301"), B(d)).ok());
  }
  q_.RunUntilIdle();
  ASSERT_EQ(b_packets.size(), 2u);  // The 1st, 3rd and 5th were lost.
  EXPECT_EQ(b_packets[0].data, "2");
  EXPECT_EQ(b_packets[1].data, "4");
  EXPECT_EQ(b_packets[1].time_ns, 10 * kMs);
  EXPECT_EQ(sw_->stats().packets_sent, 5);
  EXPECT_EQ(sw_->stats().packets_lost, 3);
  EXPECT_EQ(sw_->stats().packets_dropped, 3);
  EXPECT_EQ(sw_->stats().packets_delivered, 2);
  EXPECT_EQ(sw_->stats().filtered, 0);
  EXPECT_EQ(sw_->stats().syns_lost, 0);
}

// The bandwidth function gives each direction of a connection its rate.
TEST_F(MemNetworkTest, BandwidthAddsSerializationDelayPerDirection) {
  MemSwitchOptions opts = Latency(absl::Milliseconds(10));
  std::vector<std::string> asked;
  opts.bandwidth = [&asked](const IpAddress& from, const IpAddress& to) -> std::optional<int64_t> {
    asked.push_back(absl::StrCat(from.ToString(), ">", to.ToString()));
    if (from == Ip("10.0.0.1")) return 1000 * 1000;  // a sends at 1 Mbit/s.
    if (from == Ip("10.0.0.3")) return 0;            // Counts as unlimited.
    return std::nullopt;
  };
  Make(std::move(opts));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);
  DialLog dial;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &dial);
  q_.RunUntilIdle();
  ASSERT_NE(dial.conn, nullptr) << dial.status;
  ASSERT_EQ(accepted.conns.size(), 1u);
  EXPECT_EQ(asked, (std::vector<std::string>{"10.0.0.1>10.0.0.2", "10.0.0.2>10.0.0.1"}));

  ConnLog out_log, in_log;
  out_log.Attach(*dial.conn, q_);
  in_log.Attach(*accepted.conns[0], q_);
  const int64_t t0 = q_.now_ns();
  dial.conn->Write(Bytes(1250, 'x'));
  dial.conn->Write(Bytes(1250, 'y'));
  accepted.conns[0]->Write(Bytes(1250, 'z'));
  q_.RunUntilIdle();
  EXPECT_EQ(in_log.read_times_ns, (std::vector<int64_t>{t0 + 20 * kMs, t0 + 30 * kMs}));
  EXPECT_EQ(in_log.data, std::string(1250, 'x') + std::string(1250, 'y'));
  EXPECT_EQ(out_log.read_times_ns, std::vector<int64_t>{t0 + 10 * kMs});

  // c -> b: both directions unlimited.
  DialLog other;
  Dial(*c_, Ep("10.0.0.2:30303"), kInf, &other);
  q_.RunUntilIdle();
  ASSERT_NE(other.conn, nullptr);
  ConnLog other_in;
  ASSERT_EQ(accepted.conns.size(), 2u);
  other_in.Attach(*accepted.conns[1], q_);
  const int64_t t1 = q_.now_ns();
  other.conn->Write(Bytes(1250, 'w'));
  q_.RunUntilIdle();
  EXPECT_EQ(other_in.read_times_ns, std::vector<int64_t>{t1 + 10 * kMs});
}

TEST_F(MemNetworkTest, InvalidDialAddressesFailAtOnceButPosted) {
  Make(Latency(absl::Milliseconds(10)));
  DialLog port0, unspecified;
  Dial(*a_, Ep("10.0.0.2:0"), kInf, &port0);
  Dial(*a_, Ep("0.0.0.0:30303"), kInf, &unspecified);
  EXPECT_EQ(port0.calls + unspecified.calls, 0);
  q_.RunUntilIdle();
  EXPECT_EQ(port0.time_ns, 0);
  EXPECT_EQ(port0.status, absl::InvalidArgumentError("dial tcp 10.0.0.2:0: invalid address"));
  EXPECT_EQ(unspecified.status,
            absl::InvalidArgumentError("dial tcp 0.0.0.0:30303: invalid address"));
}

TEST_F(MemNetworkTest, TimeoutShorterThanTheRoundTripIsDeadlineExceeded) {
  Make(Latency(absl::Milliseconds(10)));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);

  // 5ms < L: the SYN never gets there.
  DialLog early;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Milliseconds(5), &early);
  q_.RunUntilIdle();
  EXPECT_EQ(early.calls, 1);
  EXPECT_EQ(early.time_ns, 5 * kMs);
  EXPECT_EQ(early.status, absl::DeadlineExceededError("dial tcp 10.0.0.2:30303: i/o timeout"));
  EXPECT_TRUE(accepted.conns.empty());

  // L < 15ms < 2L: the listener took its end, which is then reset.
  const int64_t t0 = q_.now_ns();
  DialLog late;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Milliseconds(15), &late);
  q_.RunUntil(t0 + 10 * kMs);
  ASSERT_EQ(accepted.conns.size(), 1u);
  ConnLog in_log;
  in_log.Attach(*accepted.conns[0], q_);
  q_.RunUntilIdle();
  EXPECT_EQ(late.time_ns, t0 + 15 * kMs);
  EXPECT_EQ(late.status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(late.conn, nullptr);
  EXPECT_EQ(in_log.closes, 1);
  EXPECT_EQ(in_log.close_time_ns, t0 + 25 * kMs);
  EXPECT_EQ(in_log.why, absl::UnavailableError("connection reset by peer"));

  // Exactly 2L is in time.
  const int64_t t1 = q_.now_ns();
  DialLog exact;
  Dial(*a_, Ep("10.0.0.2:30303"), absl::Milliseconds(20), &exact);
  q_.RunUntilIdle();
  EXPECT_EQ(exact.time_ns, t1 + 20 * kMs);
  EXPECT_NE(exact.conn, nullptr) << exact.status;

  // A refusal that would arrive after the timeout is a timeout.
  const int64_t t2 = q_.now_ns();
  DialLog refused_late;
  Dial(*a_, Ep("10.0.0.2:1"), absl::Milliseconds(19), &refused_late);
  q_.RunUntilIdle();
  EXPECT_EQ(refused_late.time_ns, t2 + 19 * kMs);
  EXPECT_EQ(refused_late.status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(MemNetworkTest, PortZeroPicksDistinctDeterministicPorts) {
  Make();
  AcceptLog ignored;
  std::vector<Packet> no_packets;
  auto l1 = Listen(*a_, Ep("10.0.0.1:0"), &ignored);
  auto l2 = Listen(*a_, Ep("0.0.0.0:0"), &ignored);
  auto fixed = Listen(*a_, Ep("10.0.0.1:32770"), &ignored);  // Skipped below.
  auto l3 = Listen(*a_, Ep("10.0.0.1:0"), &ignored);
  EXPECT_EQ(l1->LocalEndpoint(), Ep("10.0.0.1:32768"));
  EXPECT_EQ(l2->LocalEndpoint(), Ep("0.0.0.0:32769"));
  EXPECT_EQ(l3->LocalEndpoint(), Ep("10.0.0.1:32771"));

  // Dialer-side ports come from the same counter.
  auto target = Listen(*b_, Ep("10.0.0.2:30303"), &ignored);
  DialLog dial;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &dial);
  q_.RunUntilIdle();
  ASSERT_NE(dial.conn, nullptr);
  EXPECT_EQ(dial.conn->LocalEndpoint(), Ep("10.0.0.1:32772"));

  // UDP has its own port space, and every host its own counters.
  auto s1 = Open(*a_, Ep("10.0.0.1:0"), &no_packets);
  auto s2 = Open(*a_, Ep("10.0.0.1:0"), &no_packets);
  EXPECT_EQ(s1->LocalEndpoint(), Ep("10.0.0.1:32768"));
  EXPECT_EQ(s2->LocalEndpoint(), Ep("10.0.0.1:32769"));
  auto lb = Listen(*b_, Ep("10.0.0.2:0"), &ignored);
  EXPECT_EQ(lb->LocalEndpoint(), Ep("10.0.0.2:32768"));

  // A freed port is not reused until the counter wraps.
  l1.reset();
  auto l4 = Listen(*a_, Ep("10.0.0.1:0"), &ignored);
  EXPECT_EQ(l4->LocalEndpoint(), Ep("10.0.0.1:32773"));
}

TEST_F(MemNetworkTest, BindingABoundPortIsAddressInUse) {
  Make();
  AcceptLog ignored;
  std::vector<Packet> no_packets;
  auto first = Listen(*a_, Ep("10.0.0.1:30303"), &ignored);
  auto again = a_->Listen(Ep("10.0.0.1:30303"), [](std::unique_ptr<Conn>) {});
  EXPECT_EQ(again.status(),
            absl::AlreadyExistsError("listen tcp 10.0.0.1:30303: bind: address already in use"));
  auto any = a_->Listen(Ep("0.0.0.0:30303"), [](std::unique_ptr<Conn>) {});
  EXPECT_EQ(any.status().code(), absl::StatusCode::kAlreadyExists);
  // Another host's port space is separate.
  EXPECT_TRUE(b_->Listen(Ep("10.0.0.2:30303"), [](std::unique_ptr<Conn>) {}).ok());
  // A foreign address cannot be bound.
  auto foreign = a_->Listen(Ep("10.0.0.2:1"), [](std::unique_ptr<Conn>) {});
  EXPECT_EQ(foreign.status(),
            absl::UnavailableError("listen tcp 10.0.0.2:1: bind: cannot assign requested address"));

  // UDP: a separate space, with the same rule.
  auto udp = Open(*a_, Ep("10.0.0.1:30303"), &no_packets);
  auto udp_again = a_->OpenPacketSocket(Ep("0.0.0.0:30303"), nullptr);
  EXPECT_EQ(udp_again.status(),
            absl::AlreadyExistsError("listen udp 0.0.0.0:30303: bind: address already in use"));

  // Destroying frees the port.
  first.reset();
  udp.reset();
  EXPECT_TRUE(a_->Listen(Ep("10.0.0.1:30303"), [](std::unique_ptr<Conn>) {}).ok());
  EXPECT_TRUE(a_->OpenPacketSocket(Ep("10.0.0.1:30303"), nullptr).ok());
}

TEST_F(MemNetworkTest, DisabledAcceptKeepsConnectionsWaitingInOrder) {
  Make(Latency(absl::Milliseconds(10)));
  AcceptLog accepted;
  std::unique_ptr<Listener> listener;
  listener = b_->Listen(Ep("10.0.0.2:30303"), [&](std::unique_ptr<Conn> c) {
                 accepted.conns.push_back(std::move(c));
                 accepted.times_ns.push_back(q_.now_ns());
                 // Take one at a time, like a token.
                 listener->SetAcceptEnabled(false);
               }).value();
  listener->SetAcceptEnabled(false);
  DialLog d1, d2, d3;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &d1);
  Dial(*c_, Ep("10.0.0.2:30303"), kInf, &d2);
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &d3);
  q_.RunUntilIdle();
  // The dialers are connected (kernel backlog); nobody accepted.
  EXPECT_EQ(q_.now_ns(), 20 * kMs);
  ASSERT_NE(d1.conn, nullptr);
  ASSERT_NE(d2.conn, nullptr);
  ASSERT_NE(d3.conn, nullptr);
  EXPECT_TRUE(accepted.conns.empty());
  EXPECT_EQ(sw_->stats().accepted, 3);

  q_.RunUntil(50 * kMs);
  listener->SetAcceptEnabled(true);
  EXPECT_TRUE(accepted.conns.empty());  // Posted, not inline.
  q_.RunUntilIdle();
  ASSERT_EQ(accepted.conns.size(), 1u);
  EXPECT_EQ(accepted.times_ns[0], 50 * kMs);
  EXPECT_EQ(accepted.conns[0]->RemoteEndpoint(), Ep("10.0.0.1:32768"));

  q_.RunUntil(60 * kMs);
  listener->SetAcceptEnabled(true);
  q_.RunUntilIdle();
  q_.RunUntil(70 * kMs);
  listener->SetAcceptEnabled(true);
  q_.RunUntilIdle();
  ASSERT_EQ(accepted.conns.size(), 3u);
  EXPECT_EQ(accepted.times_ns, (std::vector<int64_t>{50 * kMs, 60 * kMs, 70 * kMs}));
  EXPECT_EQ(accepted.conns[1]->RemoteEndpoint(), Ep("10.0.0.3:32768"));
  EXPECT_EQ(accepted.conns[2]->RemoteEndpoint(), Ep("10.0.0.1:32769"));

  // Bytes sent by the dialer while waiting are all there.
  ConnLog log;
  d1.conn->Write(B("early"));
  q_.RunUntilIdle();
  log.Attach(*accepted.conns[0], q_);
  q_.RunUntilIdle();
  EXPECT_EQ(log.data, "early");
}

TEST_F(MemNetworkTest, FullBacklogRefusesFurtherDials) {
  MemSwitchOptions opts = Latency(absl::Milliseconds(10));
  opts.listen_backlog = 2;
  Make(std::move(opts));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);
  listener->SetAcceptEnabled(false);
  DialLog d1, d2, d3;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &d1);
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &d2);
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &d3);
  q_.RunUntilIdle();
  EXPECT_NE(d1.conn, nullptr);
  EXPECT_NE(d2.conn, nullptr);
  EXPECT_EQ(d3.time_ns, 20 * kMs);
  EXPECT_EQ(d3.status, absl::UnavailableError("dial tcp 10.0.0.2:30303: connection refused"));
  EXPECT_EQ(sw_->stats().accepted, 2);
  EXPECT_EQ(sw_->stats().refused, 1);

  // Accepting makes room again.
  listener->SetAcceptEnabled(true);
  q_.RunUntilIdle();
  EXPECT_EQ(accepted.conns.size(), 2u);
  DialLog d4;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &d4);
  q_.RunUntilIdle();
  EXPECT_NE(d4.conn, nullptr) << d4.status;
  EXPECT_EQ(accepted.conns.size(), 3u);
}

TEST_F(MemNetworkTest, DestroyedListenerResetsItsBacklogAndFreesThePort) {
  Make(Latency(absl::Milliseconds(10)));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);
  listener->SetAcceptEnabled(false);
  DialLog d1, d2;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &d1);
  Dial(*c_, Ep("10.0.0.2:30303"), kInf, &d2);
  q_.RunUntilIdle();
  ASSERT_NE(d1.conn, nullptr);
  ASSERT_NE(d2.conn, nullptr);
  ConnLog l1, l2;
  l1.Attach(*d1.conn, q_);
  l2.Attach(*d2.conn, q_);

  q_.RunUntil(30 * kMs);
  listener.reset();
  q_.RunUntilIdle();
  EXPECT_TRUE(accepted.conns.empty());
  EXPECT_EQ(l1.closes, 1);
  EXPECT_EQ(l1.close_time_ns, 40 * kMs);
  EXPECT_EQ(l1.why, absl::UnavailableError("connection reset by peer"));
  EXPECT_EQ(l2.closes, 1);
  EXPECT_EQ(l2.close_time_ns, 40 * kMs);

  // Dials now find nothing; the port can be bound again.
  DialLog d3;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &d3);
  q_.RunUntilIdle();
  EXPECT_EQ(d3.status.code(), absl::StatusCode::kUnavailable);
  AcceptLog accepted2;
  auto again = Listen(*b_, Ep("10.0.0.2:30303"), &accepted2);
  DialLog d4;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &d4);
  q_.RunUntilIdle();
  EXPECT_NE(d4.conn, nullptr) << d4.status;
  EXPECT_EQ(accepted2.conns.size(), 1u);
}

TEST_F(MemNetworkTest, AddHostRejectsDuplicateAndUnspecifiedAddresses) {
  Make();
  sim::SimLoop loop{&q_};
  auto dup = sw_->AddHost(&loop, Ip("10.0.0.1"));
  EXPECT_EQ(dup.status(), absl::AlreadyExistsError("mem network: host 10.0.0.1 already exists"));
  EXPECT_EQ(sw_->AddHost(&loop, IpAddress()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(sw_->host_count(), 3u);
  // A removed host's address is free again.
  a_.reset();
  EXPECT_EQ(sw_->host_count(), 2u);
  auto again = sw_->AddHost(&loop, Ip("10.0.0.1"));
  EXPECT_TRUE(again.ok()) << again.status();
}

TEST_F(MemNetworkTest, DestroyedHostIsUnreachableAndItsObjectsGoQuiet) {
  Make(Latency(absl::Milliseconds(10)));
  AcceptLog accepted;
  std::vector<Packet> b_packets;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);
  auto b_socket = Open(*b_, Ep("10.0.0.2:30301"), &b_packets);
  std::vector<Packet> a_packets;
  auto a_socket = Open(*a_, Ep("10.0.0.1:30301"), &a_packets);

  // One connection waits in the backlog; one datagram is in flight to b.
  listener->SetAcceptEnabled(false);
  DialLog waiting;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &waiting);
  q_.RunUntilIdle();
  ASSERT_NE(waiting.conn, nullptr);
  ConnLog waiting_log;
  waiting_log.Attach(*waiting.conn, q_);
  ASSERT_TRUE(a_socket->SendTo(Ep("10.0.0.2:30301"), B("lost")).ok());
  listener->SetAcceptEnabled(true);  // Its drain task is posted.

  const int64_t t0 = q_.now_ns();
  b_.reset();  // The listener and socket objects outlive their host.
  q_.RunUntilIdle();
  EXPECT_TRUE(accepted.conns.empty());
  EXPECT_TRUE(b_packets.empty());
  EXPECT_EQ(waiting_log.closes, 1);
  EXPECT_EQ(waiting_log.close_time_ns, t0 + 10 * kMs);
  EXPECT_EQ(waiting_log.why, absl::UnavailableError("connection reset by peer"));
  EXPECT_EQ(sw_->stats().packets_dropped, 1);
  EXPECT_EQ(b_socket->SendTo(Ep("10.0.0.1:30301"), B("x")),
            absl::UnavailableError("write udp 10.0.0.1:30301: network is down"));
  listener->SetAcceptEnabled(true);  // Harmless.

  // Dials to it are refused.
  DialLog refused;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &refused);
  q_.RunUntilIdle();
  EXPECT_EQ(refused.status, absl::UnavailableError("dial tcp 10.0.0.2:30303: connection refused"));
  listener.reset();
  b_socket.reset();
}

TEST_F(MemNetworkTest, DestroyedDialerNeverCallsBack) {
  Make(Latency(absl::Milliseconds(10)));
  AcceptLog accepted;
  auto listener = Listen(*b_, Ep("10.0.0.2:30303"), &accepted);

  // Destroyed before the SYN arrives: the listener sees nothing.
  DialLog before_arrival;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &before_arrival);
  q_.RunUntil(5 * kMs);
  a_.reset();
  q_.RunUntilIdle();
  EXPECT_EQ(before_arrival.calls, 0);
  EXPECT_TRUE(accepted.conns.empty());

  // Destroyed after the listener took its end: that end is reset.
  const int64_t t0 = q_.now_ns();
  DialLog after_arrival;
  Dial(*c_, Ep("10.0.0.2:30303"), kInf, &after_arrival);
  q_.RunUntil(t0 + 15 * kMs);
  ASSERT_EQ(accepted.conns.size(), 1u);
  ConnLog in_log;
  in_log.Attach(*accepted.conns[0], q_);
  c_.reset();
  q_.RunUntilIdle();
  EXPECT_EQ(after_arrival.calls, 0);
  EXPECT_EQ(in_log.closes, 1);
  EXPECT_EQ(in_log.close_time_ns, t0 + 25 * kMs);
  EXPECT_EQ(in_log.why, absl::UnavailableError("connection reset by peer"));
  EXPECT_EQ(sw_->stats().dials, 2);
  EXPECT_EQ(q_.pending(), 0u);
}

TEST_F(MemNetworkTest, PacketsArriveAfterTheLatency) {
  Make(Latency(absl::Milliseconds(10)));
  std::vector<Packet> a_packets, b_packets;
  auto a_socket = Open(*a_, Ep("0.0.0.0:30301"), &a_packets);
  auto b_socket = Open(*b_, Ep("10.0.0.2:30301"), &b_packets);
  EXPECT_EQ(a_socket->LocalEndpoint(), Ep("0.0.0.0:30301"));

  ASSERT_TRUE(a_socket->SendTo(Ep("10.0.0.2:30301"), B("one")).ok());
  ASSERT_TRUE(a_socket->SendTo(Ep("10.0.0.2:30301"), B("two")).ok());
  q_.RunUntil(3 * kMs);
  ASSERT_TRUE(b_socket->SendTo(Ep("10.0.0.1:30301"), B("back")).ok());
  EXPECT_TRUE(b_packets.empty());
  q_.RunUntilIdle();
  ASSERT_EQ(b_packets.size(), 2u);
  EXPECT_EQ(b_packets[0].time_ns, 10 * kMs);
  EXPECT_EQ(b_packets[0].data, "one");
  EXPECT_EQ(b_packets[1].data, "two");
  // The sender's host IP, not the unspecified address it bound.
  EXPECT_EQ(b_packets[0].from, Ep("10.0.0.1:30301"));
  ASSERT_EQ(a_packets.size(), 1u);
  EXPECT_EQ(a_packets[0].time_ns, 13 * kMs);
  EXPECT_EQ(a_packets[0].from, Ep("10.0.0.2:30301"));
  EXPECT_EQ(a_packets[0].data, "back");
  EXPECT_EQ(sw_->stats().packets_sent, 3);
  EXPECT_EQ(sw_->stats().packets_delivered, 3);
  EXPECT_EQ(sw_->stats().packets_dropped, 0);
}

TEST_F(MemNetworkTest, PacketsToUnboundPortsAreDroppedAndCounted) {
  Make(Latency(absl::Milliseconds(10)));
  std::vector<Packet> a_packets, b_packets;
  auto a_socket = Open(*a_, Ep("10.0.0.1:30301"), &a_packets);
  auto b_tcp_only = b_->Listen(Ep("10.0.0.2:30302"), [](std::unique_ptr<Conn>) {}).value();
  EXPECT_TRUE(a_socket->SendTo(Ep("10.0.0.2:30302"), B("no udp there")).ok());
  EXPECT_TRUE(a_socket->SendTo(Ep("10.0.0.9:30301"), B("no host")).ok());
  // Bound after sending, before arrival: it gets the datagram.
  EXPECT_TRUE(a_socket->SendTo(Ep("10.0.0.2:30303"), B("just in time")).ok());
  q_.RunUntil(5 * kMs);
  auto b_late = Open(*b_, Ep("10.0.0.2:30303"), &b_packets);
  q_.RunUntilIdle();
  ASSERT_EQ(b_packets.size(), 1u);
  EXPECT_EQ(b_packets[0].data, "just in time");
  EXPECT_EQ(sw_->stats().packets_sent, 3);
  EXPECT_EQ(sw_->stats().packets_dropped, 2);
  EXPECT_EQ(sw_->stats().packets_delivered, 1);

  // A socket destroyed while a datagram is in flight to it.
  EXPECT_TRUE(a_socket->SendTo(Ep("10.0.0.2:30303"), B("too late")).ok());
  b_late.reset();
  q_.RunUntilIdle();
  EXPECT_EQ(b_packets.size(), 1u);
  EXPECT_EQ(sw_->stats().packets_dropped, 3);
}

TEST_F(MemNetworkTest, OversizeAndInvalidDatagramsAreRejected) {
  Make();
  std::vector<Packet> b_packets;
  auto a_socket = Open(*a_, Ep("10.0.0.1:30301"), &b_packets);
  auto b_socket = Open(*b_, Ep("10.0.0.2:30301"), &b_packets);
  Bytes max(kMaxMemDatagramBytes, 0xab);
  EXPECT_TRUE(a_socket->SendTo(Ep("10.0.0.2:30301"), max).ok());
  Bytes over(kMaxMemDatagramBytes + 1, 0xab);
  EXPECT_EQ(a_socket->SendTo(Ep("10.0.0.2:30301"), over),
            absl::InvalidArgumentError(
                "write udp 10.0.0.2:30301: datagram of 65508 bytes exceeds the 65507-byte limit"));
  EXPECT_EQ(a_socket->SendTo(Ep("10.0.0.2:0"), B("x")).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(a_socket->SendTo(Ep("0.0.0.0:30301"), B("x")).code(),
            absl::StatusCode::kInvalidArgument);
  q_.RunUntilIdle();
  ASSERT_EQ(b_packets.size(), 1u);
  EXPECT_EQ(b_packets[0].data.size(), kMaxMemDatagramBytes);
  EXPECT_EQ(sw_->stats().packets_sent, 1);
}

TEST_F(MemNetworkTest, LatencyFunctionGivesThePerPairDelay) {
  MemSwitchOptions opts;
  opts.default_latency = absl::Hours(1);  // Unused when the function is set.
  // a->b 4ms, b->a 6ms, anything involving c 30ms.
  opts.latency = [](const IpAddress& from, const IpAddress& to) {
    if (from == Ip("10.0.0.1") && to == Ip("10.0.0.2")) return absl::Milliseconds(4);
    if (from == Ip("10.0.0.2") && to == Ip("10.0.0.1")) return absl::Milliseconds(6);
    return absl::Milliseconds(30);
  };
  Make(std::move(opts));
  AcceptLog at_b, at_a;
  auto lb = Listen(*b_, Ep("10.0.0.2:30303"), &at_b);
  auto la = Listen(*a_, Ep("10.0.0.1:30303"), &at_a);
  DialLog ab, ba;
  Dial(*a_, Ep("10.0.0.2:30303"), kInf, &ab);
  Dial(*b_, Ep("10.0.0.1:30303"), kInf, &ba);
  q_.RunUntilIdle();
  EXPECT_EQ(at_b.times_ns, std::vector<int64_t>{4 * kMs});
  EXPECT_EQ(ab.time_ns, 8 * kMs);
  EXPECT_EQ(at_a.times_ns, std::vector<int64_t>{6 * kMs});
  EXPECT_EQ(ba.time_ns, 12 * kMs);

  // A stream uses the dialer's one-way delay in both directions.
  ASSERT_NE(ab.conn, nullptr);
  ConnLog back;
  back.Attach(*ab.conn, q_);
  const int64_t t0 = q_.now_ns();
  at_b.conns[0]->Write(B("x"));
  q_.RunUntilIdle();
  EXPECT_EQ(back.read_times_ns, std::vector<int64_t>{t0 + 4 * kMs});

  std::vector<Packet> pa, pb, pc;
  auto sa = Open(*a_, Ep("10.0.0.1:1"), &pa);
  auto sb = Open(*b_, Ep("10.0.0.2:1"), &pb);
  auto sc = Open(*c_, Ep("10.0.0.3:1"), &pc);
  const int64_t t1 = q_.now_ns();
  ASSERT_TRUE(sa->SendTo(Ep("10.0.0.2:1"), B("ab")).ok());
  ASSERT_TRUE(sb->SendTo(Ep("10.0.0.1:1"), B("ba")).ok());
  ASSERT_TRUE(sa->SendTo(Ep("10.0.0.3:1"), B("ac")).ok());
  q_.RunUntilIdle();
  ASSERT_EQ(pb.size(), 1u);
  EXPECT_EQ(pb[0].time_ns, t1 + 4 * kMs);
  ASSERT_EQ(pa.size(), 1u);
  EXPECT_EQ(pa[0].time_ns, t1 + 6 * kMs);
  ASSERT_EQ(pc.size(), 1u);
  EXPECT_EQ(pc[0].time_ns, t1 + 30 * kMs);
}

// A random workload over five addresses (four hosts, one missing): dials with
// random timeouts, accept toggling, writes, closes, resets and datagrams. The
// log records every callback with its virtual time.
class Workload {
 public:
  explicit Workload(uint64_t seed) : rng_(seed) {
    MemSwitchOptions opts;
    opts.latency = [](const IpAddress& from, const IpAddress& to) {
      return absl::Milliseconds(1 + (from.v4() * 7 + to.v4() * 3) % 11);
    };
    opts.listen_backlog = 3;
    sw_ = std::make_unique<MemSwitch>(std::move(opts));
    for (int i = 0; i < kHosts; ++i) {
      loops_.push_back(std::make_unique<sim::SimLoop>(&q_));
      nets_.push_back(sw_->AddHost(loops_.back().get(), HostIp(i)).value());
      listeners_.push_back(
          nets_[i]
              ->Listen(Endpoint{IpAddress(), 30303},
                       [this, i](std::unique_ptr<Conn> c) {
                         Log(absl::StrCat("accept@", i, " from ", c->RemoteEndpoint().ToString()));
                         Adopt(std::move(c));
                       })
              .value());
      sockets_.push_back(
          nets_[i]
              ->OpenPacketSocket(Endpoint{HostIp(i), 30301},
                                 [this, i](const Endpoint& from, absl::Span<const uint8_t> d) {
                                   Log(absl::StrCat("packet@", i, " from ", from.ToString(), " ",
                                                    d.size(), "B"));
                                 })
              .value());
    }
  }

  std::vector<std::string> Run() {
    sim::SimLoop driver(&q_);
    for (int step = 0; step < 400; ++step) {
      driver.RunAfter(absl::Microseconds(500 * step), [this] { Step(); });
    }
    q_.RunUntilIdle();
    const MemSwitchStats& s = sw_->stats();
    Log(absl::StrCat("stats ", s.dials, " ", s.refused, " ", s.accepted, " ", s.packets_sent, " ",
                     s.packets_delivered, " ", s.packets_dropped));
    return log_;
  }

 private:
  static constexpr int kHosts = 4;
  static IpAddress HostIp(int i) { return IpAddress::V4(10, 0, 0, static_cast<uint8_t>(i + 1)); }

  void Log(const std::string& what) { log_.push_back(absl::StrCat(q_.now_ns(), " ", what)); }

  void Adopt(std::unique_ptr<Conn> c) {
    const int id = next_conn_++;
    Conn& conn = *c;
    conns_[id] = std::move(c);
    conn.Start(
        [this, id](absl::Span<const uint8_t> d) {
          Log(absl::StrCat("read#", id, " ", d.size(), "B"));
        },
        [this, id](const absl::Status& why) {
          Log(absl::StrCat("close#", id, " ", why.ToString()));
          conns_.erase(id);  // Destroys the conn inside its own callback.
        });
  }

  // An existing connection id, chosen in key order, or -1.
  int PickConn() {
    if (conns_.empty()) return -1;
    auto it = conns_.begin();
    std::advance(it, rng_.Intn(static_cast<int>(conns_.size())));
    return it->first;
  }

  void Step() {
    const int from = rng_.Intn(kHosts);
    const int to = rng_.Intn(kHosts + 1);  // kHosts: no such host.
    switch (rng_.Intn(7)) {
      case 0:
      case 1: {
        const absl::Duration timeout = absl::Milliseconds(rng_.Range(1, 30));
        const uint16_t port = rng_.Chance(1, 5) ? 9 : 30303;
        nets_[from]->Dial(
            Endpoint{HostIp(to), port}, timeout,
            [this, from](absl::StatusOr<std::unique_ptr<Conn>> c) {
              if (!c.ok()) {
                Log(absl::StrCat("dial@", from, " ", c.status().ToString()));
                return;
              }
              Log(absl::StrCat("dial@", from, " ok ", (*c)->LocalEndpoint().ToString(), "->",
                               (*c)->RemoteEndpoint().ToString()));
              Adopt(std::move(*c));
            });
        break;
      }
      case 2: {
        Bytes data(static_cast<size_t>(rng_.Range(0, 200)), 0x5a);
        const uint16_t port = rng_.Chance(1, 4) ? 30309 : 30301;
        absl::Status s = sockets_[from]->SendTo(Endpoint{HostIp(to), port}, data);
        if (!s.ok()) Log(s.ToString());
        break;
      }
      case 3:
        listeners_[from]->SetAcceptEnabled(rng_.Chance(2, 3));
        break;
      case 4: {
        const int id = PickConn();
        if (id >= 0) conns_[id]->Write(Bytes(static_cast<size_t>(rng_.Range(1, 64)), 1));
        break;
      }
      case 5: {
        const int id = PickConn();
        if (id >= 0) conns_[id]->Close(absl::CancelledError("bye"), rng_.Chance(1, 2));
        break;
      }
      case 6: {
        const int id = PickConn();
        if (id >= 0) conns_.erase(id);
        break;
      }
    }
  }

  Rng rng_;
  sim::EventQueue q_;
  std::vector<std::unique_ptr<sim::SimLoop>> loops_;
  std::unique_ptr<MemSwitch> sw_;
  std::vector<std::unique_ptr<Network>> nets_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::vector<std::unique_ptr<PacketSocket>> sockets_;
  std::map<int, std::unique_ptr<Conn>> conns_;
  int next_conn_ = 0;
  std::vector<std::string> log_;
};

TEST(MemNetworkDeterminismTest, SameSeedGivesTheSameEventLog) {
  const std::vector<std::string> first = Workload(42).Run();
  const std::vector<std::string> second = Workload(42).Run();
  EXPECT_EQ(first, second);
  // The workload exercises the interesting paths, and the seed matters.
  auto count = [&](const std::string& needle) {
    int n = 0;
    for (const std::string& line : first) n += line.find(needle) != std::string::npos;
    return n;
  };
  EXPECT_GT(count("accept@"), 10);
  EXPECT_GT(count("connection refused"), 5);
  EXPECT_GT(count("i/o timeout"), 5);
  EXPECT_GT(count("connection reset by peer"), 5);
  EXPECT_GT(count("packet@"), 10);
  EXPECT_GT(count("read#"), 10);
  EXPECT_NE(first, Workload(43).Run());
}

}  // namespace
}  // namespace p2p
