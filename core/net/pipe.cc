#include "core/net/pipe.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/container/inlined_vector.h"
#include "absl/numeric/int128.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "core/fifo.h"
#include "core/prefetch.h"
#include "core/weak_flag.h"

namespace p2p {
namespace {

// Bytes a segment carries without a heap block: a keepalive Ping or Pong
// frame in the simulator's modelled framing (5 bytes) stays in the
// receiving end's queue, memory its delivery touches anyway.
inline constexpr size_t kInlineSegmentBytes = 16;

// What travels from one end to the other: bytes, or the end of the stream
// (OkStatus for an EOF, an error for a reset).
struct Segment {
  // The inline bytes are written once, so that moving a segment (an
  // InlinedVector copies its inline storage whole) copies no unwritten
  // memory, which GCC 12 warns about (as in PlainCodec).
  Segment() {
    data.resize(kInlineSegmentBytes);
    data.clear();
  }
  Segment(Segment&&) = default;
  Segment& operator=(Segment&&) = default;

  absl::InlinedVector<uint8_t, kInlineSegmentBytes> data;
  bool end = false;
  absl::Status status;
};

class PipeEnd;

// Every PipeEnd is allocated with this header just before it (see
// PipeEnd::operator new): the deliveries in flight toward an end, which may
// outlive it, and code running callbacks that may destroy it, check
// `destroyed` there and keep the memory until the last of them is gone. It
// sits next to the end's own state, which a delivery reads anyway, so the
// check costs no extra cache miss (a WeakFlag's block would).
struct alignas(alignof(std::max_align_t)) EndHeader {
  uint32_t pins = 0;  // Pending deliveries and running callers (Pin).
  bool destroyed = false;
};

// The segments on their way to one end, in send order, numbered from 0. They
// wait here rather than inside their delivery events, so a delivery event is
// a small functor the loop stores without allocating. The first kInline wait
// inside the receiving end itself (memory its delivery touches anyway); more
// overflow to a vector behind them.
class InFlightQueue {
 public:
  // Appends `s`; returns its number.
  uint64_t Push(Segment s) {
    if (overflow_head_ == overflow_.size() && count_ < kInline) {
      ring_[(head_ + count_) % kInline] = Entry{next_number_, std::move(s)};
      ++count_;
    } else {
      overflow_.push_back(Entry{next_number_, std::move(s)});
    }
    return next_number_++;
  }

  // Removes and returns segment `number`, which must still be queued. The
  // ones before it are dropped: their deliveries never ran (the receiving
  // loop discarded its pending events), so they are lost as they were.
  Segment Take(uint64_t number) {
    for (;;) {
      Entry& front = count_ > 0 ? ring_[head_] : overflow_[overflow_head_];
      if (front.number == number) {
        Segment s = std::move(front.segment);
        PopFront();
        return s;
      }
      PopFront();
    }
  }

 private:
  struct Entry {
    uint64_t number = 0;
    Segment segment;
  };
  static constexpr uint32_t kInline = 2;

  void PopFront() {
    if (count_ == 0) {  // The ring is refilled below, so only with no ring.
      overflow_[overflow_head_++].segment = Segment();
    } else {
      ring_[head_].segment = Segment();
      head_ = (head_ + 1) % kInline;
      --count_;
      // Keep the ring first: the overflow's oldest moves in behind it.
      if (overflow_head_ < overflow_.size()) {
        ring_[(head_ + count_) % kInline] = std::move(overflow_[overflow_head_++]);
        ++count_;
      }
    }
    if (overflow_head_ == overflow_.size()) {
      overflow_.clear();
      overflow_head_ = 0;
    } else if (overflow_head_ >= 64 && overflow_head_ * 2 >= overflow_.size()) {
      overflow_.erase(overflow_.begin(),
                      overflow_.begin() + static_cast<ptrdiff_t>(overflow_head_));
      overflow_head_ = 0;
    }
  }

  uint32_t head_ = 0;   // Oldest ring entry.
  uint32_t count_ = 0;  // Ring entries in use.
  uint64_t next_number_ = 0;
  size_t overflow_head_ = 0;  // Taken prefix of overflow_.
  std::vector<Entry> overflow_;
  Entry ring_[kInline];
};

// The event that hands segment `number` to its receiving end.
class Delivery {
 public:
  inline Delivery(PipeEnd* to, uint64_t number);
  Delivery(Delivery&& o) noexcept : to_(std::exchange(o.to_, nullptr)), number_(o.number_) {}
  Delivery(const Delivery&) = delete;
  Delivery& operator=(const Delivery&) = delete;
  Delivery& operator=(Delivery&&) = delete;
  inline ~Delivery();

  inline void operator()();

 private:
  PipeEnd* to_;  // Its memory lives while this exists; see EndHeader.
  uint64_t number_;
};

class PipeEnd final : public Conn {
 public:
  // `rate_bits_per_second` limits this end's outgoing direction (0: none).
  PipeEnd(EventLoop* loop, const Endpoint& local, const Endpoint& remote, absl::Duration delay,
          int64_t rate_bits_per_second)
      : loop_(loop),
        delay_ns_(absl::ToInt64Nanoseconds(delay)),
        rate_bits_per_second_(rate_bits_per_second),
        local_(local),
        remote_(remote) {}

  ~PipeEnd() override {
    // A socket closed without Close() is a reset for the other side.
    NotifyPeer(absl::UnavailableError("connection reset by peer"));
    if (peer_ != nullptr) peer_->peer_ = nullptr;
    Header(this)->destroyed = true;  // Deliveries still on their way find no one.
  }

  // Allocates the EndHeader in front of the end.
  static void* operator new(size_t size) {
    void* block = ::operator new(sizeof(EndHeader) + size);
    new (block) EndHeader();
    return static_cast<char*>(block) + sizeof(EndHeader);
  }
  // The memory stays until nothing pins it any more.
  static void operator delete(void* p) {
    EndHeader* h = Header(p);
    if (h->pins == 0) ::operator delete(h);
  }
  static EndHeader* Header(void* p) {
    return reinterpret_cast<EndHeader*>(static_cast<char*>(p) - sizeof(EndHeader));
  }

  // Keeps an end's memory (not the object) while something that may destroy
  // it runs, so the caller can tell afterwards whether it still exists;
  // cheaper than a WeakFlag ref, whose block is another cache miss.
  class Pin {
   public:
    explicit Pin(PipeEnd* end) : h_(Header(end)) { ++h_->pins; }
    Pin(const Pin&) = delete;
    Pin& operator=(const Pin&) = delete;
    ~Pin() {
      if (--h_->pins == 0 && h_->destroyed) ::operator delete(h_);
    }
    bool destroyed() const { return h_->destroyed; }

   private:
    EndHeader* h_;
  };

  PipeEnd(const PipeEnd&) = delete;
  PipeEnd& operator=(const PipeEnd&) = delete;

  void Link(PipeEnd* peer) { peer_ = peer; }

  void Start(ReadCallback on_read, CloseCallback on_close) override {
    ABSL_RAW_CHECK(!started_, "Conn::Start called twice");
    started_ = true;
    on_read_ = std::move(on_read);
    on_close_ = std::move(on_close);
    if (!inbox_.empty()) PostPump();
  }

  void Write(absl::Span<const uint8_t> data) override {
    if (ended_ || data.empty()) return;
    Segment s;
    s.data.assign(data.begin(), data.end());
    SendToPeer(std::move(s));
  }

  size_t PendingWriteBytes() const override { return 0; }

  void Close(const absl::Status& why, bool flush) override {
    if (ended_) return;
    NotifyPeer(flush ? absl::OkStatus() : absl::UnavailableError("connection reset by peer"));
    EndLocally(why);
    if (started_) PostPump();
  }

  Endpoint RemoteEndpoint() const override { return remote_; }
  Endpoint LocalEndpoint() const override { return local_; }

 private:
  friend class Delivery;

  // Schedules `s` to arrive at the other end after the delay, behind what
  // this direction already carries, plus its serialization time under a
  // rate. Arrival times never decrease, and the loops run events due at the
  // same instant in the order they were scheduled: segments arrive in order.
  void SendToPeer(Segment s) {
    PipeEnd* peer = peer_;
    if (peer == nullptr) return;  // The peer is gone.
    peer->PrefetchHot();
    MonoTime arrival = std::max(loop_->Now() + absl::Nanoseconds(delay_ns_), last_arrival_);
    if (rate_bits_per_second_ > 0 && !s.end) {
      arrival += SerializationDelay(s.data.size(), rate_bits_per_second_);
    }
    last_arrival_ = arrival;
    const uint64_t number = peer->incoming_.Push(std::move(s));
    // Both loops share one clock (see the header), so the deadline means the
    // same instant on the peer's loop.
    peer->loop_->RunAt(arrival, Delivery(peer, number));
  }

  // Sends the end of the stream (EOF or reset) once.
  void NotifyPeer(absl::Status status) {
    if (peer_notified_) return;
    peer_notified_ = true;
    Segment s;
    s.end = true;
    s.status = std::move(status);
    SendToPeer(std::move(s));
  }

  // This end stops reading and writing; only the close callback is left.
  void EndLocally(absl::Status why) {
    ended_ = true;
    inbox_.clear();
    inbox_bytes_ = 0;
    Segment s;
    s.end = true;
    s.status = std::move(why);
    inbox_.push_back(std::move(s));
  }

  // The lines a write to this end and its delivery read (see the members).
  void PrefetchHot() const { PrefetchRange(Header(const_cast<PipeEnd*>(this)), &on_read_ + 1); }

  // Runs on this end's loop, from a scheduled event.
  void Arrive(Segment s) {
    if (ended_) return;  // Reading has stopped; the bytes are discarded.
    if (s.end) {
      ended_ = true;
      peer_notified_ = true;  // The other side is gone already.
      inbox_.push_back(std::move(s));
    } else {
      if (!started_ && inbox_bytes_ + s.data.size() > kMaxPipeUnstartedBytes) {
        EndLocally(absl::UnavailableError(absl::StrCat("pipe: more than ", kMaxPipeUnstartedBytes,
                                                       " bytes arrived before Start")));
        NotifyPeer(absl::UnavailableError("connection reset by peer"));
        return;
      }
      if (started_ && inbox_.empty()) {
        // What Pump would do with a one-segment inbox, without the queueing.
        {
          Pin pin(this);
          if (on_read_) on_read_(absl::Span<const uint8_t>(s.data));
          if (pin.destroyed()) return;
        }
        Pump();  // Whatever the callback queued (a Close's end).
        return;
      }
      inbox_bytes_ += s.data.size();
      inbox_.push_back(std::move(s));
    }
    if (started_) Pump();
  }

  void PostPump() {
    if (pump_posted_) return;
    pump_posted_ = true;
    loop_->Post([this, alive = alive_.Weak()] {
      if (!alive) return;
      pump_posted_ = false;
      Pump();
    });
  }

  // Delivers the inbox in order. Callbacks may Close or destroy this end.
  void Pump() {
    Pin pin(this);
    while (started_ && !inbox_.empty()) {
      Segment s = std::move(inbox_.front());
      inbox_.pop_front();
      if (s.end) {
        CloseCallback cb = std::move(on_close_);
        on_close_ = nullptr;
        on_read_ = nullptr;
        if (cb) cb(s.status);  // May destroy *this.
        return;
      }
      inbox_bytes_ -= s.data.size();
      if (on_read_) on_read_(absl::Span<const uint8_t>(s.data));
      if (pin.destroyed()) return;
    }
  }

  // Ordered by use: a write reads the first line (after the EndHeader) and
  // last_arrival_; a delivery reads the header line, incoming_ and on_read_.
  // At hundreds of thousands of ends each of these is a cache miss.
  EventLoop* loop_;
  PipeEnd* peer_ = nullptr;  // Null once the peer is destroyed.
  bool started_ = false;
  bool ended_ = false;          // No more reads or writes.
  bool peer_notified_ = false;  // EOF or reset sent, or the peer ended first.
  bool pump_posted_ = false;
  const int64_t delay_ns_;
  const int64_t rate_bits_per_second_;            // Outgoing; 0: unlimited.
  MonoTime last_arrival_ = absl::InfinitePast();  // Of the latest segment sent.
  InFlightQueue incoming_;                        // Sent by the peer, not yet arrived.
  ReadCallback on_read_;
  Fifo<Segment> inbox_;  // Undelivered bytes, then possibly the end.
  size_t inbox_bytes_ = 0;
  CloseCallback on_close_;
  const Endpoint local_;
  const Endpoint remote_;
  WeakFlag alive_;  // Last: dies first.
};

Delivery::Delivery(PipeEnd* to, uint64_t number) : to_(to), number_(number) {
  ++PipeEnd::Header(to)->pins;
}

Delivery::~Delivery() {
  if (to_ == nullptr) return;
  EndHeader* h = PipeEnd::Header(to_);
  if (--h->pins == 0 && h->destroyed) ::operator delete(h);
}

void Delivery::operator()() {
  if (PipeEnd::Header(to_)->destroyed) return;  // The receiver was destroyed.
  to_->PrefetchHot();
  to_->Arrive(to_->incoming_.Take(number_));
}

}  // namespace

absl::Duration SerializationDelay(size_t bytes, int64_t bits_per_second) {
  ABSL_RAW_CHECK(bits_per_second > 0, "SerializationDelay: rate must be > 0");
  // bits * 1e9 / rate in 128 bits: no size or rate can overflow it.
  const absl::uint128 rate = static_cast<uint64_t>(bits_per_second);
  const absl::uint128 scaled = absl::uint128(bytes) * 8 * 1000000000;
  const absl::uint128 ns = (scaled + rate - 1) / rate;
  // Beyond int64 nanoseconds (about 292 years) is forever for the simulator.
  if (ns > static_cast<uint64_t>(INT64_MAX)) return absl::InfiniteDuration();
  return absl::Nanoseconds(static_cast<int64_t>(absl::Uint128Low64(ns)));
}

std::pair<std::unique_ptr<Conn>, std::unique_ptr<Conn>> NewConnPair(EventLoop* loop_a,
                                                                    EventLoop* loop_b, Endpoint a,
                                                                    Endpoint b,
                                                                    absl::Duration one_way_delay,
                                                                    PipeRates rates) {
  ABSL_RAW_CHECK(loop_a != nullptr && loop_b != nullptr, "NewConnPair: null loop");
  if (one_way_delay < absl::ZeroDuration()) one_way_delay = absl::ZeroDuration();
  auto end_a = std::make_unique<PipeEnd>(loop_a, a, b, one_way_delay,
                                         std::max<int64_t>(rates.a_to_b_bits_per_second, 0));
  auto end_b = std::make_unique<PipeEnd>(loop_b, b, a, one_way_delay,
                                         std::max<int64_t>(rates.b_to_a_bits_per_second, 0));
  end_a->Link(end_b.get());
  end_b->Link(end_a.get());
  return {std::unique_ptr<Conn>(std::move(end_a)), std::unique_ptr<Conn>(std::move(end_b))};
}

}  // namespace p2p
