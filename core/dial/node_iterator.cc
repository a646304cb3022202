#include "core/dial/node_iterator.h"

#include <cstdint>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "core/weak_flag.h"

namespace p2p {
namespace {

using NextCallback = NodeIterator::NextCallback;

// The one-request-at-a-time bookkeeping every iterator here shares: holds the
// waiting callback, posts its completion, and remembers that the iterator has
// ended (closed or exhausted).
//
// A completion is posted, and the request stays outstanding until its
// callback runs. If the iterator ends in between, the callback gets nullopt
// instead of the node, so a consumer that called Close never sees a node
// afterwards. If the owner is destroyed in between, the callback is dropped:
// the completion is a zero-delay timer (Post is RunAfter(0)) that the
// destructor cancels.
class Request {
 public:
  explicit Request(EventLoop* loop) : loop_(loop) {}
  ~Request() {
    if (posted_ != kNoTimer) loop_->Cancel(posted_);
  }
  Request(const Request&) = delete;
  Request& operator=(const Request&) = delete;

  // Accepts a new request. Returns true if the owner should now produce a
  // node (and later call Deliver or Finish); false if the iterator has ended,
  // in which case nullopt is already on its way.
  bool Start(NextCallback cb) {
    if (outstanding_) {
      ABSL_RAW_LOG(FATAL, "NodeIterator::Next called while a request is outstanding");
    }
    outstanding_ = true;
    waiting_ = std::move(cb);
    if (done_) {
      Post(std::nullopt);
      return false;
    }
    return true;
  }

  // Completes the waiting request with `node` (posted).
  void Deliver(Node node) { Post(std::move(node)); }

  // Ends the iterator: the waiting request, if any, and every later one get
  // nullopt. Idempotent.
  void Finish() {
    done_ = true;
    if (waiting_ != nullptr) Post(std::nullopt);
  }

  bool done() const { return done_; }

 private:
  void Post(std::optional<Node> node) {
    ABSL_RAW_CHECK(waiting_ != nullptr, "NodeIterator: completing a request that is not waiting");
    posted_ = loop_->RunAfter(absl::ZeroDuration(),
                              [this, cb = std::move(waiting_), node = std::move(node)]() mutable {
                                posted_ = kNoTimer;
                                outstanding_ = false;
                                if (done_) node.reset();
                                cb(std::move(node));  // May call Next again.
                              });
    waiting_ = nullptr;
  }

  EventLoop* loop_;
  NextCallback waiting_;
  TimerId posted_ = kNoTimer;  // The posted completion, if any.
  bool outstanding_ = false;
  bool done_ = false;
};

// enode.IterNodes / enode.CycleNodes.
class SliceIterator : public NodeIterator {
 public:
  SliceIterator(EventLoop* loop, std::vector<Node> nodes, bool cycle)
      : request_(loop), nodes_(std::move(nodes)), cycle_(cycle) {}

  void Next(NextCallback cb) override {
    if (!request_.Start(std::move(cb))) return;
    if (nodes_.empty()) {
      // Per our header an empty cycle waits until Close (go-ethereum's
      // CycleNodes(nil) would end at once); an empty fixed list is exhausted.
      if (!cycle_) request_.Finish();
      return;
    }
    if (index_ == nodes_.size()) {
      if (!cycle_) {
        request_.Finish();
        return;
      }
      index_ = 0;
    }
    request_.Deliver(nodes_[index_++]);
  }

  void Close() override {
    request_.Finish();
    nodes_.clear();
  }

 private:
  Request request_;
  std::vector<Node> nodes_;
  bool cycle_;
  size_t index_ = 0;
};

// enode.Filter.
//
// NewFilterIterator gets no loop, so the filter never completes a request by
// itself: every request goes to the source, and the consumer's callback runs
// inside the source's completion, which the source posts. So the callback is
// still on the loop and never inline, and after Close or the end the source's
// own nullopt is what the consumer gets. The source is ours, so it dies with
// us and never calls back after that.
class FilterIterator : public NodeIterator {
 public:
  FilterIterator(std::unique_ptr<NodeIterator> source, absl::AnyInvocable<bool(const Node&)> keep)
      : source_(std::move(source)), keep_(std::move(keep)) {}

  void Next(NextCallback cb) override {
    if (waiting_ != nullptr) {
      ABSL_RAW_LOG(FATAL, "NodeIterator::Next called while a request is outstanding");
    }
    waiting_ = std::move(cb);
    Ask();
  }

  // The source completes our outstanding request with nullopt, posted.
  void Close() override {
    if (closed_) return;
    closed_ = true;
    source_->Close();
  }

 private:
  void Ask() {
    source_->Next([this](std::optional<Node> node) { OnSourceNode(std::move(node)); });
  }

  void OnSourceNode(std::optional<Node> node) {
    if (closed_ || ended_) node.reset();
    if (node.has_value()) {
      if (!keep_(*node)) {
        Ask();  // Skip it; each skipped node costs one posted round trip.
        return;
      }
      if (closed_) node.reset();  // keep() closed us.
    } else {
      ended_ = true;
    }
    NextCallback cb = std::move(waiting_);
    waiting_ = nullptr;
    cb(std::move(node));  // May call Next again.
  }

  std::unique_ptr<NodeIterator> source_;
  absl::AnyInvocable<bool(const Node&)> keep_;
  NextCallback waiting_;
  bool closed_ = false;
  bool ended_ = false;
};

}  // namespace

std::unique_ptr<NodeIterator> NewFixedIterator(EventLoop* loop, std::vector<Node> nodes) {
  return std::make_unique<SliceIterator>(loop, std::move(nodes), /*cycle=*/false);
}

namespace {

class PacedIterator : public NodeIterator {
 public:
  PacedIterator(EventLoop* loop, std::unique_ptr<NodeIterator> source, absl::Duration gap)
      : loop_(loop), source_(std::move(source)), gap_(gap) {}
  ~PacedIterator() override {
    if (timer_ != 0) loop_->Cancel(timer_);
  }
  void Next(NextCallback cb) override {
    source_->Next([this, alive = alive_.Weak(), cb = std::move(cb)](std::optional<Node> n) mutable {
      if (!alive) return;
      if (!n) {  // Ended: no reason to wait.
        cb(std::nullopt);
        return;
      }
      pending_ = std::move(cb);
      timer_ = loop_->RunAfter(gap_, [this, n = std::move(n)]() mutable {
        timer_ = 0;
        NextCallback done = std::move(pending_);
        pending_ = nullptr;
        done(std::move(n));
      });
    });
  }
  void Close() override {
    source_->Close();
    if (timer_ != 0) {
      loop_->Cancel(timer_);
      timer_ = 0;
      loop_->Post([cb = std::move(pending_)]() mutable { cb(std::nullopt); });
      pending_ = nullptr;
    }
  }

 private:
  EventLoop* loop_;
  std::unique_ptr<NodeIterator> source_;
  absl::Duration gap_;
  NextCallback pending_;
  TimerId timer_ = 0;
  WeakFlag alive_;  // Last: dies first.
};

}  // namespace

std::unique_ptr<NodeIterator> NewPacedIterator(EventLoop* loop,
                                               std::unique_ptr<NodeIterator> source,
                                               absl::Duration gap) {
  return std::make_unique<PacedIterator>(loop, std::move(source), gap);
}

std::unique_ptr<NodeIterator> NewCycleIterator(EventLoop* loop, std::vector<Node> nodes) {
  return std::make_unique<SliceIterator>(loop, std::move(nodes), /*cycle=*/true);
}

std::unique_ptr<NodeIterator> NewFilterIterator(std::unique_ptr<NodeIterator> source,
                                                absl::AnyInvocable<bool(const Node&)> keep) {
  ABSL_RAW_CHECK(source != nullptr, "NewFilterIterator: null source");
  return std::make_unique<FilterIterator>(std::move(source), std::move(keep));
}

// FairMix in event-loop form.
//
// go-ethereum runs one goroutine per source that calls Next and then blocks
// until its node is taken, either through the source's own channel (when the
// mix picked that source) or through the shared fromAny channel. Here each
// source keeps one request outstanding or one node buffered, which is the
// same "at most one node ahead"; the goroutine's blocking send becomes the
// buffer.
//
// Next(): pickSource takes the sources round-robin. If the picked source has
// a node buffered, that node is the answer and the source's timeout is reset
// to the configured value. Otherwise the mix waits for it up to its timeout;
// if it delivers in time, likewise. If it ends while we wait, it is removed
// and the pick is repeated. On timeout its timeout is halved and the mix
// falls back to nextFromAny: a buffered node of any source (the first in
// source order, where Go's select would pick at random), or else the first
// node any source delivers. As in go-ethereum, a node taken through
// nextFromAny does not reset its source's timeout. With no sources at all the
// mix waits in nextFromAny until a source is added or the mix is closed.
//
// Differences from go-ethereum, for determinism and fairness: Go's cursor
// starts at 0 and picks last+1 first (so the second source); ours picks the
// first source first. Go removes an ended source only when the cursor lands
// on it, and the cursor then skips the source that slid into its place; ours
// removes a source as soon as it ends and keeps the cursor on the source
// that followed it.
struct FairMix::Impl {
  struct Source {
    uint64_t id;  // Never reused; callbacks find their source by it.
    std::unique_ptr<NodeIterator> it;
    absl::Duration timeout;
    std::optional<Node> ready;  // The one node fetched ahead.
    bool busy = false;          // A request to `it` is outstanding.
  };
  enum class Mode {
    kIdle,     // No request waiting.
    kFair,     // Waiting for the picked source (`picked_id`).
    kFromAny,  // Waiting for whichever source delivers first.
  };

  Impl(EventLoop* loop, absl::Duration timeout)
      : loop(loop), timeout(timeout), request(loop), alarm(loop, [this] { OnTimeout(); }) {}
  ~Impl() {
    if (retire_timer != kNoTimer) loop->Cancel(retire_timer);
  }

  int IndexOf(uint64_t id) const {
    for (size_t i = 0; i < sources.size(); ++i) {
      if (sources[i].id == id) return static_cast<int>(i);
    }
    return -1;
  }

  void AddSource(std::unique_ptr<NodeIterator> it) {
    ABSL_RAW_CHECK(it != nullptr, "FairMix::AddSource: null source");
    if (request.done()) return;
    sources.push_back(Source{next_id++, std::move(it), timeout, std::nullopt, false});
    Ask(sources.back());
  }

  void Ask(Source& s) {
    s.busy = true;
    // The sources die with the mix, so this never runs after it.
    s.it->Next([this, id = s.id](std::optional<Node> node) { OnSourceNode(id, std::move(node)); });
  }

  void Next(NextCallback cb) {
    if (!request.Start(std::move(cb))) return;
    Pick();
  }

  // One pass of go-ethereum's Next loop; OnSourceNode repeats it when the
  // picked source ends.
  void Pick() {
    if (sources.empty()) {
      NextFromAny();
      return;
    }
    if (cursor >= sources.size()) cursor = 0;
    Source& s = sources[cursor++];
    if (s.ready.has_value()) {
      s.timeout = timeout;  // Delivered: reset.
      Take(s);
      return;
    }
    // A source without a buffered node has a request out: ended sources are
    // removed at once.
    ABSL_RAW_CHECK(s.busy, "FairMix: source neither ready nor busy");
    mode = Mode::kFair;
    picked_id = s.id;
    alarm.Stop();
    if (s.timeout >= absl::ZeroDuration() && s.timeout != absl::InfiniteDuration()) {
      alarm.Schedule(loop->Now() + s.timeout);
    }
  }

  void NextFromAny() {
    alarm.Stop();
    for (Source& s : sources) {
      if (s.ready.has_value()) {
        Take(s);
        return;
      }
    }
    mode = Mode::kFromAny;
  }

  // Hands s's buffered node to the waiting request and fetches the next one.
  void Take(Source& s) {
    mode = Mode::kIdle;
    alarm.Stop();
    Node node = std::move(*s.ready);
    s.ready.reset();
    Ask(s);
    request.Deliver(std::move(node));
  }

  void OnTimeout() {
    if (mode != Mode::kFair) return;
    int i = IndexOf(picked_id);
    if (i >= 0) {
      // Halve in whole nanoseconds, like Go's integer Duration.
      Source& s = sources[static_cast<size_t>(i)];
      s.timeout = absl::Nanoseconds(absl::ToInt64Nanoseconds(s.timeout) / 2);
    }
    NextFromAny();
  }

  void OnSourceNode(uint64_t id, std::optional<Node> node) {
    int i = IndexOf(id);
    if (i < 0 || request.done()) return;  // Removed, or the mix is closed.
    size_t index = static_cast<size_t>(i);
    Source& s = sources[index];
    s.busy = false;
    if (!node.has_value()) {
      RemoveSource(index);
      if (mode == Mode::kFair && picked_id == id) {
        alarm.Stop();
        Pick();  // go-ethereum: deleteSource, then loop to pick again.
      }
      return;
    }
    s.ready = std::move(node);
    if (mode == Mode::kFair && picked_id == id) {
      s.timeout = timeout;  // Delivered in time: reset.
      Take(s);
    } else if (mode == Mode::kFromAny) {
      Take(s);
    }
    // Otherwise it waits in the buffer (Go: the goroutine blocks sending).
  }

  void RemoveSource(size_t index) {
    Retire(std::move(sources[index].it));
    sources.erase(sources.begin() + static_cast<std::ptrdiff_t>(index));
    if (index < cursor) --cursor;
  }

  // Destroys a source later, in its own loop task: we may be inside that
  // source's callback right now.
  void Retire(std::unique_ptr<NodeIterator> it) {
    retired.push_back(std::move(it));
    if (retire_timer == kNoTimer) {
      retire_timer = loop->RunAfter(absl::ZeroDuration(), [this] {
        retire_timer = kNoTimer;
        retired.clear();
      });
    }
  }

  void Close() {
    if (request.done()) return;
    alarm.Stop();
    mode = Mode::kIdle;
    request.Finish();
    // Their final callbacks find no source by id and are ignored.
    for (Source& s : sources) {
      s.it->Close();
      Retire(std::move(s.it));
    }
    sources.clear();
  }

  EventLoop* loop;
  absl::Duration timeout;
  Request request;
  std::vector<Source> sources;
  std::vector<std::unique_ptr<NodeIterator>> retired;  // See Retire.
  TimerId retire_timer = kNoTimer;
  size_t cursor = 0;  // Index of the next source pickSource returns.
  uint64_t next_id = 1;
  Mode mode = Mode::kIdle;
  uint64_t picked_id = 0;
  Alarm alarm;
};

FairMix::FairMix(EventLoop* loop, absl::Duration timeout)
    : impl_(std::make_unique<Impl>(loop, timeout)) {}

FairMix::~FairMix() = default;

void FairMix::AddSource(std::unique_ptr<NodeIterator> source) {
  impl_->AddSource(std::move(source));
}

void FairMix::Next(NextCallback cb) { impl_->Next(std::move(cb)); }

void FairMix::Close() { impl_->Close(); }

size_t FairMix::num_sources() const { return impl_->sources.size(); }

}  // namespace p2p
