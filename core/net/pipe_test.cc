#include "core/net/pipe.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/event_loop.h"
#include "core/net/conn_log_testing.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes B(const std::string& s) { return Bytes(s.begin(), s.end()); }

Endpoint Ep(const char* text) { return Endpoint::Parse(text).value(); }

class PipeTest : public ::testing::Test {
 protected:
  void MakePair(absl::Duration delay, PipeRates rates = {}) {
    auto p =
        NewConnPair(&loop_a_, &loop_b_, Ep("10.0.0.1:1000"), Ep("10.0.0.2:2000"), delay, rates);
    a_ = std::move(p.first);
    b_ = std::move(p.second);
  }

  sim::EventQueue q_;
  sim::SimLoop loop_a_{&q_};
  sim::SimLoop loop_b_{&q_};
  std::unique_ptr<Conn> a_, b_;
  ConnLog ra_, rb_;  // What each end delivers, with virtual times.
};

constexpr int64_t kMs = 1000 * 1000;

TEST_F(PipeTest, EndpointsAreMirrored) {
  MakePair(absl::ZeroDuration());
  EXPECT_EQ(a_->LocalEndpoint(), Ep("10.0.0.1:1000"));
  EXPECT_EQ(a_->RemoteEndpoint(), Ep("10.0.0.2:2000"));
  EXPECT_EQ(b_->LocalEndpoint(), Ep("10.0.0.2:2000"));
  EXPECT_EQ(b_->RemoteEndpoint(), Ep("10.0.0.1:1000"));
}

TEST_F(PipeTest, BytesArriveInOrderAfterTheDelay) {
  MakePair(absl::Milliseconds(10));
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(B("hello "));
  a_->Write(B("world"));
  EXPECT_EQ(a_->PendingWriteBytes(), 0u);
  EXPECT_TRUE(rb_.data.empty());  // Never inline.
  q_.RunUntil(10 * kMs - 1);
  EXPECT_TRUE(rb_.data.empty());
  q_.RunUntil(10 * kMs);
  EXPECT_EQ(rb_.data, "hello world");
  EXPECT_EQ(rb_.read_times_ns, (std::vector<int64_t>{10 * kMs, 10 * kMs}));
  // And back, from a later instant.
  q_.RunUntil(25 * kMs);
  b_->Write(B("pong"));
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.data, "pong");
  EXPECT_EQ(ra_.read_times_ns, (std::vector<int64_t>{35 * kMs}));
  EXPECT_EQ(ra_.closes, 0);
  EXPECT_EQ(rb_.closes, 0);
}

TEST_F(PipeTest, ZeroDelayIsStillPosted) {
  MakePair(absl::ZeroDuration());
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(B("x"));
  EXPECT_TRUE(rb_.data.empty());
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data, "x");
}

TEST_F(PipeTest, FlushCloseDeliversBytesThenEof) {
  MakePair(absl::Milliseconds(5));
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(B("last words"));
  a_->Close(absl::CancelledError("done"), /*flush=*/true);
  EXPECT_EQ(ra_.closes, 0);                        // Posted, not inline.
  a_->Write(B("dropped"));                         // After Close.
  a_->Close(absl::InternalError("again"), false);  // No effect.
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.closes, 1);
  EXPECT_EQ(ra_.why, absl::CancelledError("done"));
  EXPECT_EQ(ra_.close_time_ns, 0);
  EXPECT_EQ(rb_.data, "last words");
  EXPECT_EQ(rb_.closes, 1);
  EXPECT_TRUE(rb_.why.ok()) << rb_.why;
  EXPECT_EQ(rb_.close_time_ns, 5 * kMs);
}

TEST_F(PipeTest, ResetCloseIsAResetAtTheOtherEnd) {
  MakePair(absl::Milliseconds(5));
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(B("in flight"));
  a_->Close(absl::AbortedError("bye"), /*flush=*/false);
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.closes, 1);
  EXPECT_EQ(ra_.why, absl::AbortedError("bye"));
  EXPECT_EQ(rb_.data, "in flight");  // It had left already.
  EXPECT_EQ(rb_.closes, 1);
  EXPECT_EQ(rb_.why, absl::UnavailableError("connection reset by peer"));
}

TEST_F(PipeTest, DestroyingAnEndResetsTheOther) {
  MakePair(absl::Milliseconds(1));
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(B("abc"));
  a_.reset();
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data, "abc");
  EXPECT_EQ(rb_.closes, 1);
  EXPECT_EQ(rb_.why, absl::UnavailableError("connection reset by peer"));
  EXPECT_EQ(ra_.closes, 0);   // Nothing after destruction.
  b_->Write(B("to nobody"));  // Ended: dropped, no crash.
  q_.RunUntilIdle();
}

TEST_F(PipeTest, WritesToADestroyedEndAreDropped) {
  MakePair(absl::Milliseconds(1));
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(B("abc"));
  b_.reset();  // The delivery in flight finds b gone.
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data, "");
  EXPECT_EQ(ra_.closes, 1);
  EXPECT_EQ(ra_.why, absl::UnavailableError("connection reset by peer"));
}

TEST_F(PipeTest, DestroyedEndRunsNoPendingCallbacks) {
  MakePair(absl::Milliseconds(1));
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  b_->Write(B("for a"));
  a_->Close(absl::OkStatus(), true);  // a's close callback is now posted.
  a_.reset();
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.closes, 0);
  EXPECT_EQ(ra_.data, "");
  EXPECT_EQ(rb_.closes, 1);
  EXPECT_TRUE(rb_.why.ok());  // EOF: the flush close came first.
}

TEST_F(PipeTest, DataAndEofBeforeStartAreBuffered) {
  MakePair(absl::Milliseconds(1));
  ra_.Attach(*a_, q_);
  a_->Write(B("early "));
  a_->Write(B("bird"));
  a_->Close(absl::OkStatus(), true);
  q_.RunUntilIdle();
  EXPECT_EQ(q_.now_ns(), 1 * kMs);
  q_.RunUntil(100 * kMs);
  rb_.Attach(*b_, q_);
  EXPECT_TRUE(rb_.data.empty());  // Start never delivers inline.
  EXPECT_EQ(rb_.closes, 0);
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data, "early bird");
  EXPECT_EQ(rb_.read_times_ns, (std::vector<int64_t>{100 * kMs, 100 * kMs}));
  EXPECT_EQ(rb_.closes, 1);
  EXPECT_TRUE(rb_.why.ok());
}

TEST_F(PipeTest, BytesArrivingWhileBufferedDataIsPendingKeepTheirOrder) {
  MakePair(absl::ZeroDuration());
  a_->Write(B("1"));
  q_.RunUntilIdle();
  // b is started inside an event scheduled before the next delivery: the
  // delivery then runs before the posted drain of the buffer.
  loop_b_.Post([&] { rb_.Attach(*b_, q_); });
  a_->Write(B("2"));
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data, "12");
}

TEST_F(PipeTest, CloseBeforeStartReportsOnStart) {
  MakePair(absl::ZeroDuration());
  a_->Close(absl::CancelledError("early"), false);
  q_.RunUntilIdle();
  ra_.Attach(*a_, q_);
  EXPECT_EQ(ra_.closes, 0);
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.closes, 1);
  EXPECT_EQ(ra_.why, absl::CancelledError("early"));
}

TEST_F(PipeTest, CloseDiscardsUnreadBytes) {
  MakePair(absl::ZeroDuration());
  b_->Write(B("unread"));
  q_.RunUntilIdle();
  a_->Close(absl::OkStatus(), true);
  ra_.Attach(*a_, q_);
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.data, "");
  EXPECT_EQ(ra_.closes, 1);
}

TEST_F(PipeTest, CloseCallbackRunsOnceEvenWhenBothEndsClose) {
  MakePair(absl::Milliseconds(3));
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Close(absl::CancelledError("a"), true);
  b_->Close(absl::CancelledError("b"), true);
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.closes, 1);
  EXPECT_EQ(ra_.why, absl::CancelledError("a"));
  EXPECT_EQ(rb_.closes, 1);
  EXPECT_EQ(rb_.why, absl::CancelledError("b"));
  a_.reset();
  b_.reset();
  q_.RunUntilIdle();
}

TEST_F(PipeTest, EndMayBeDestroyedInsideItsCallbacks) {
  MakePair(absl::ZeroDuration());
  int reads = 0;
  b_->Start(
      [&](absl::Span<const uint8_t>) {
        ++reads;
        b_.reset();  // Further segments must not be delivered.
      },
      [&](const absl::Status&) { ADD_FAILURE() << "close after destruction"; });
  a_->Write(B("1"));
  a_->Write(B("2"));
  a_->Close(absl::OkStatus(), true);
  q_.RunUntilIdle();
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(b_, nullptr);

  MakePair(absl::ZeroDuration());
  int closes = 0;
  a_->Start([](absl::Span<const uint8_t>) {},
            [&](const absl::Status&) {
              ++closes;
              a_.reset();
            });
  b_->Close(absl::OkStatus(), false);
  q_.RunUntilIdle();
  EXPECT_EQ(closes, 1);
}

TEST_F(PipeTest, ReadCallbackMayCloseItsEnd) {
  MakePair(absl::ZeroDuration());
  int reads = 0;
  int closes = 0;
  b_->Start(
      [&](absl::Span<const uint8_t>) {
        ++reads;
        b_->Close(absl::CancelledError("enough"), true);
      },
      [&](const absl::Status& s) {
        ++closes;
        EXPECT_EQ(s, absl::CancelledError("enough"));
      });
  a_->Write(B("1"));
  a_->Write(B("2"));
  q_.RunUntilIdle();
  EXPECT_EQ(reads, 1);
  EXPECT_EQ(closes, 1);
}

TEST_F(PipeTest, EndsOnDifferentLoopsOfOneQueue) {
  // Killing b's loop (a crashed node) drops its deliveries; a is unaffected.
  MakePair(absl::Milliseconds(2));
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(B("lost"));
  loop_b_.DropPending();
  b_->Write(B("kept"));
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data, "");
  EXPECT_EQ(ra_.data, "kept");
}

TEST_F(PipeTest, UnstartedBufferIsBounded) {
  MakePair(absl::ZeroDuration());
  ra_.Attach(*a_, q_);
  const Bytes chunk(1024 * 1024, 0x55);
  for (size_t sent = 0; sent < kMaxPipeUnstartedBytes; sent += chunk.size()) a_->Write(chunk);
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.closes, 0);  // Exactly at the limit: still fine.
  a_->Write(B("!"));
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.closes, 1);
  EXPECT_EQ(ra_.why, absl::UnavailableError("connection reset by peer"));
  rb_.Attach(*b_, q_);
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data.size(), 0u);
  EXPECT_EQ(rb_.closes, 1);
  EXPECT_EQ(rb_.why.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(rb_.why.message(), "pipe: more than 16777216 bytes arrived before Start");
}

TEST(SerializationDelayTest, IsExactAndRoundsUp) {
  // 1250 bytes = 10000 bits at 1 Mbit/s.
  EXPECT_EQ(SerializationDelay(1250, 1000 * 1000), absl::Milliseconds(10));
  EXPECT_EQ(SerializationDelay(0, 1000), absl::ZeroDuration());
  // 8 bits at 3 bit/s: 2.666...s, rounded up to the next nanosecond.
  EXPECT_EQ(SerializationDelay(1, 3), absl::Nanoseconds(2666666667));
  // 1 byte at 1 Tbit/s: 0.008 ns, still one whole nanosecond.
  EXPECT_EQ(SerializationDelay(1, int64_t{1000} * 1000 * 1000 * 1000), absl::Nanoseconds(1));
  // No overflow: the largest write at the lowest rate is simply forever.
  EXPECT_EQ(SerializationDelay(SIZE_MAX, 1), absl::InfiniteDuration());
  EXPECT_EQ(SerializationDelay(16 * 1024 * 1024, 1), absl::Seconds(134217728));
}

// 1 Mbit/s from a to b, unlimited back: 1250-byte writes take 10 ms each on
// top of the 5 ms delay, and queue behind each other.
TEST_F(PipeTest, RateAddsSerializationDelayAndWritesQueue) {
  MakePair(absl::Milliseconds(5), PipeRates{1000 * 1000, 0});
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(Bytes(1250, '1'));
  a_->Write(Bytes(1250, '2'));
  a_->Write(Bytes(1250, '3'));
  EXPECT_EQ(a_->PendingWriteBytes(), 0u);
  q_.RunUntil(20 * kMs);
  EXPECT_EQ(rb_.read_times_ns, (std::vector<int64_t>{15 * kMs}));
  // Written while the link is busy: behind the third, not at 20 + 5 + 10.
  a_->Write(Bytes(1250, '4'));
  q_.RunUntil(100 * kMs);
  // The link has been idle: latency first, then serialization.
  a_->Write(Bytes(125, '5'));   // 1 ms.
  b_->Write(Bytes(1250, 'r'));  // Unlimited direction: latency only.
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.read_times_ns,
            (std::vector<int64_t>{15 * kMs, 25 * kMs, 35 * kMs, 45 * kMs, 106 * kMs}));
  EXPECT_EQ(rb_.data, std::string(1250, '1') + std::string(1250, '2') + std::string(1250, '3') +
                          std::string(1250, '4') + std::string(125, '5'));
  EXPECT_EQ(ra_.read_times_ns, (std::vector<int64_t>{105 * kMs}));
  EXPECT_EQ(ra_.data, std::string(1250, 'r'));
}

TEST_F(PipeTest, EachDirectionHasItsOwnRate) {
  MakePair(absl::Milliseconds(1), PipeRates{8 * 1000, 16 * 1000});  // 1000 and 2000 bytes/s.
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(Bytes(100, 'a'));  // 100 ms.
  b_->Write(Bytes(100, 'b'));  // 50 ms.
  b_->Write(Bytes(100, 'c'));  // 50 ms more.
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.read_times_ns, (std::vector<int64_t>{101 * kMs}));
  EXPECT_EQ(ra_.read_times_ns, (std::vector<int64_t>{51 * kMs, 101 * kMs}));
  EXPECT_EQ(ra_.data, std::string(100, 'b') + std::string(100, 'c'));
}

TEST_F(PipeTest, EofArrivesAfterQueuedBytes) {
  MakePair(absl::Milliseconds(5), PipeRates{1000 * 1000, 1000 * 1000});
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(Bytes(1250, 'x'));
  a_->Write(Bytes(1250, 'y'));
  a_->Close(absl::CancelledError("done"), /*flush=*/true);
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.closes, 1);
  EXPECT_EQ(ra_.close_time_ns, 0);
  // The EOF takes no serialization time but waits for the bytes before it.
  EXPECT_EQ(rb_.data, std::string(1250, 'x') + std::string(1250, 'y'));
  EXPECT_EQ(rb_.read_times_ns, (std::vector<int64_t>{15 * kMs, 25 * kMs}));
  EXPECT_EQ(rb_.closes, 1);
  EXPECT_EQ(rb_.close_time_ns, 25 * kMs);
  EXPECT_TRUE(rb_.why.ok()) << rb_.why;
}

TEST_F(PipeTest, ResetAfterQueuedBytesReachesAStartedReader) {
  MakePair(absl::Milliseconds(5), PipeRates{1000 * 1000, 0});
  ra_.Attach(*a_, q_);
  rb_.Attach(*b_, q_);
  a_->Write(Bytes(1250, 'x'));
  a_->Write(Bytes(1250, 'y'));
  a_.reset();  // Reset: the queued bytes had "left", then the reset.
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data.size(), 2500u);
  EXPECT_EQ(rb_.read_times_ns, (std::vector<int64_t>{15 * kMs, 25 * kMs}));
  EXPECT_EQ(rb_.closes, 1);
  EXPECT_EQ(rb_.close_time_ns, 25 * kMs);
  EXPECT_EQ(rb_.why, absl::UnavailableError("connection reset by peer"));
}

// Many segments in flight at once (more than wait inside the receiving end),
// sent while earlier ones are being delivered: order and times are kept.
TEST_F(PipeTest, ManySegmentsInFlightKeepOrderAndTimes) {
  MakePair(absl::Milliseconds(10));
  rb_.Attach(*b_, q_);
  std::string sent;
  std::vector<int64_t> times;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 3 + 5 * round; ++i) {
      const std::string piece = std::to_string(round) + ":" + std::to_string(i) + ",";
      a_->Write(B(piece));
      sent += piece;
      times.push_back(q_.now_ns() + 10 * kMs);
    }
    q_.RunUntil(q_.now_ns() + 4 * kMs);  // Part of the earlier rounds arrives.
  }
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data, sent);
  EXPECT_EQ(rb_.read_times_ns, times);
}

// Writes of up to 16 bytes travel inside the receiving end, longer ones in a
// heap block: every size around the boundary arrives intact, in order, also
// when many are in flight at once (past the inline slots, into the overflow
// queue) and when they wait for Start.
TEST_F(PipeTest, SmallAndLargeWritesArriveIntact) {
  MakePair(absl::Milliseconds(1));
  std::string sent;
  for (const size_t n : {1, 2, 15, 16, 17, 31, 32, 33, 1000, 16, 17, 5}) {
    std::string piece;
    for (size_t i = 0; i < n; ++i) piece += static_cast<char>('a' + (sent.size() + i) % 26);
    a_->Write(B(piece));
    sent += piece;
  }
  q_.RunUntilIdle();  // All arrive before Start and wait in b's inbox.
  rb_.Attach(*b_, q_);
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data, sent);
  EXPECT_EQ(rb_.read_times_ns.size(), 12u);
  // And while started: one delivery per write.
  const std::string more = sent.substr(0, 300);
  for (size_t at = 0; at < more.size(); at += 15) a_->Write(B(more.substr(at, 15 + at % 4)));
  q_.RunUntilIdle();
  std::string expected = sent;
  for (size_t at = 0; at < more.size(); at += 15) expected += more.substr(at, 15 + at % 4);
  EXPECT_EQ(rb_.data, expected);
}

// A receiving loop that drops its pending events (a crashed node whose end
// lives on) loses exactly the segments in flight then, including ones due at
// the same instant as later ones; later segments arrive normally.
TEST_F(PipeTest, DroppedDeliveriesLoseOnlyTheirSegments) {
  MakePair(absl::Milliseconds(10));
  rb_.Attach(*b_, q_);
  a_->Write(B("lost1,"));
  a_->Write(B("lost2,"));
  a_->Write(B("lost3,"));
  loop_b_.DropPending();   // All three were due at 10 ms.
  a_->Write(B("kept1,"));  // Also due at 10 ms.
  q_.RunUntil(5 * kMs);
  a_->Write(B("kept2,"));
  loop_b_.DropPending();  // Drops both again...
  a_->Write(B("kept3,"));
  q_.RunUntilIdle();
  EXPECT_EQ(rb_.data, "kept3,");
  EXPECT_EQ(rb_.read_times_ns, (std::vector<int64_t>{15 * kMs}));
  // ...and the pipe keeps working both ways.
  b_->Write(B("back"));
  a_->Write(B("more"));
  ra_.Attach(*a_, q_);
  q_.RunUntilIdle();
  EXPECT_EQ(ra_.data, "back");
  EXPECT_EQ(rb_.data, "kept3,more");
  EXPECT_EQ(rb_.closes, 0);
}

// Deliveries still pending when both ends are gone do nothing (and free the
// shared state when they are dropped or run).
TEST_F(PipeTest, DeliveriesOutliveBothEnds) {
  MakePair(absl::Milliseconds(10));
  rb_.Attach(*b_, q_);
  for (int i = 0; i < 5; ++i) a_->Write(B("x"));
  b_.reset();  // Also sends a reset toward a.
  a_.reset();
  EXPECT_EQ(q_.RunUntilIdle(), 6u);
  EXPECT_TRUE(rb_.data.empty());
  EXPECT_EQ(rb_.closes, 0);
}

}  // namespace
}  // namespace p2p
