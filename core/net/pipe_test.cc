#include "core/net/pipe.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/event_loop.h"
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

// Records what one end delivers, with the virtual time of each event.
struct Recorder {
  std::string data;
  std::vector<int64_t> read_times_ns;
  int closes = 0;
  absl::Status why;
  int64_t close_time_ns = -1;

  void Attach(Conn& c, sim::EventQueue& q) {
    c.Start(
        [this, &q](absl::Span<const uint8_t> d) {
          data.append(d.begin(), d.end());
          read_times_ns.push_back(q.now_ns());
        },
        [this, &q](const absl::Status& s) {
          ++closes;
          why = s;
          close_time_ns = q.now_ns();
        });
  }
};

class PipeTest : public ::testing::Test {
 protected:
  void MakePair(absl::Duration delay) {
    auto p = NewConnPair(&loop_a_, &loop_b_, Ep("10.0.0.1:1000"), Ep("10.0.0.2:2000"), delay);
    a_ = std::move(p.first);
    b_ = std::move(p.second);
  }

  sim::EventQueue q_;
  sim::SimLoop loop_a_{&q_};
  sim::SimLoop loop_b_{&q_};
  std::unique_ptr<Conn> a_, b_;
  Recorder ra_, rb_;
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

}  // namespace
}  // namespace p2p
