#include "core/dial/node_iterator.h"

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/event_loop.h"
#include "core/node.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p {
namespace {

constexpr int64_t kMs = 1000 * 1000;

// Makes nodes with distinct ids and maps them back to a readable label.
class Labels {
 public:
  Node Make(const std::string& label) {
    std::array<uint8_t, 32> id{};
    uint32_t n = next_++;
    id[0] = static_cast<uint8_t>(n >> 24);
    id[1] = static_cast<uint8_t>(n >> 16);
    id[2] = static_cast<uint8_t>(n >> 8);
    id[3] = static_cast<uint8_t>(n);
    Node node;
    node.id = NodeId(id);
    labels_[node.id] = label;
    return node;
  }
  std::vector<Node> MakeMany(const std::string& prefix, int count) {
    std::vector<Node> nodes;
    for (int i = 0; i < count; ++i) nodes.push_back(Make(absl::StrCat(prefix, i)));
    return nodes;
  }
  std::string Of(const std::optional<Node>& node) const {
    if (!node.has_value()) return "<end>";
    auto it = labels_.find(node->id);
    return it == labels_.end() ? "<unknown>" : it->second;
  }

 private:
  uint32_t next_ = 1;
  std::map<NodeId, std::string> labels_;
};

// What a request got. Shared with the callback so a late call is harmless.
struct Got {
  int calls = 0;
  std::string label = "<none>";
  int64_t at_ns = -1;
};

// Issues one Next and checks the callback did not run inline.
std::shared_ptr<Got> Request(NodeIterator& it, sim::EventQueue& queue, const Labels& labels) {
  auto got = std::make_shared<Got>();
  it.Next([got, &queue, &labels](std::optional<Node> node) {
    ++got->calls;
    got->label = labels.Of(node);
    got->at_ns = queue.now_ns();
  });
  EXPECT_EQ(got->calls, 0) << "callback ran inline";
  return got;
}

// A source answering each request after `delay` with the next of its nodes,
// cycling; follows the NodeIterator contract (posted, exactly once,
// cancelled on destruction). Counts requests and checks there is at most
// one outstanding.
class SlowCycle : public NodeIterator {
 public:
  SlowCycle(EventLoop* loop, std::vector<Node> nodes, absl::Duration delay)
      : loop_(loop), nodes_(std::move(nodes)), delay_(delay) {}
  ~SlowCycle() override {
    if (timer_ != kNoTimer) loop_->Cancel(timer_);
  }

  void Next(NextCallback cb) override {
    ++requests_;
    EXPECT_FALSE(outstanding_) << "asked for more than one node ahead";
    outstanding_ = true;
    std::optional<Node> node;
    absl::Duration delay = absl::ZeroDuration();
    if (!closed_) {
      node = nodes_[index_++ % nodes_.size()];
      delay = delay_;
    }
    timer_ = loop_->RunAfter(delay, [this, cb = std::move(cb), node]() mutable {
      timer_ = kNoTimer;
      outstanding_ = false;
      cb(closed_ ? std::nullopt : node);
    });
  }
  void Close() override { closed_ = true; }

  int requests() const { return requests_; }

 private:
  EventLoop* loop_;
  std::vector<Node> nodes_;
  absl::Duration delay_;
  size_t index_ = 0;
  TimerId timer_ = kNoTimer;
  bool outstanding_ = false;
  bool closed_ = false;
  int requests_ = 0;
};

// A source the test answers by hand.
class ManualSource : public NodeIterator {
 public:
  explicit ManualSource(EventLoop* loop) : loop_(loop) {}
  ~ManualSource() override {
    if (timer_ != kNoTimer) loop_->Cancel(timer_);
  }

  void Next(NextCallback cb) override {
    ++requests_;
    EXPECT_EQ(waiting_, nullptr) << "asked for more than one node ahead";
    waiting_ = std::move(cb);
    if (ended_) Answer(std::nullopt);
  }
  void Close() override {
    closed_ = true;
    End();
  }

  // Answers the outstanding request (posted).
  void Push(Node node) { Answer(std::move(node)); }
  void End() {
    ended_ = true;
    if (waiting_ != nullptr) Answer(std::nullopt);
  }
  int requests() const { return requests_; }
  bool waiting() const { return waiting_ != nullptr; }
  bool closed() const { return closed_; }

 private:
  void Answer(std::optional<Node> node) {
    ASSERT_NE(waiting_, nullptr);
    timer_ = loop_->RunAfter(absl::ZeroDuration(),
                             [this, cb = std::move(waiting_), node = std::move(node)]() mutable {
                               timer_ = kNoTimer;
                               cb(std::move(node));
                             });
    waiting_ = nullptr;
  }

  EventLoop* loop_;
  NextCallback waiting_;
  TimerId timer_ = kNoTimer;
  bool ended_ = false;
  bool closed_ = false;
  int requests_ = 0;
};

class NodeIteratorTest : public ::testing::Test {
 protected:
  // Requests one node, runs the loop until idle and returns its label
  // ("<end>" for nullopt).
  std::string Read(NodeIterator& it) {
    std::shared_ptr<Got> got = Request(it);
    queue_.RunUntilIdle();
    EXPECT_EQ(got->calls, 1);
    last_at_ns_ = got->at_ns;
    return got->label;
  }
  std::vector<std::string> ReadN(NodeIterator& it, int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(Read(it));
    return out;
  }
  std::shared_ptr<Got> Request(NodeIterator& it) { return p2p::Request(it, queue_, labels_); }

  sim::EventQueue queue_;
  sim::SimLoop loop_{&queue_};
  Labels labels_;
  int64_t last_at_ns_ = -1;
};

using Strings = std::vector<std::string>;

// ---- Fixed and cycle (enode.IterNodes / CycleNodes) ----

TEST_F(NodeIteratorTest, FixedYieldsInOrderThenEnds) {
  auto it = NewFixedIterator(&loop_, labels_.MakeMany("n", 3));
  EXPECT_EQ(ReadN(*it, 5), (Strings{"n0", "n1", "n2", "<end>", "<end>"}));
}

TEST_F(NodeIteratorTest, FixedEmptyEndsAtOnce) {
  auto it = NewFixedIterator(&loop_, {});
  EXPECT_EQ(Read(*it), "<end>");
  EXPECT_EQ(Read(*it), "<end>");
}

TEST_F(NodeIteratorTest, FixedClose) {
  auto it = NewFixedIterator(&loop_, labels_.MakeMany("n", 3));
  EXPECT_EQ(Read(*it), "n0");
  it->Close();
  it->Close();  // Idempotent.
  EXPECT_EQ(ReadN(*it, 2), (Strings{"<end>", "<end>"}));
}

TEST_F(NodeIteratorTest, CloseAfterNodeWasPostedGivesNullopt) {
  auto it = NewFixedIterator(&loop_, labels_.MakeMany("n", 3));
  std::shared_ptr<Got> got = Request(*it);
  it->Close();
  EXPECT_EQ(got->calls, 0);  // Close posts too.
  queue_.RunUntilIdle();
  EXPECT_EQ(got->calls, 1);
  EXPECT_EQ(got->label, "<end>");
}

TEST_F(NodeIteratorTest, CycleRepeats) {
  auto it = NewCycleIterator(&loop_, labels_.MakeMany("n", 2));
  EXPECT_EQ(ReadN(*it, 5), (Strings{"n0", "n1", "n0", "n1", "n0"}));
  it->Close();
  EXPECT_EQ(Read(*it), "<end>");
}

// ---- Paced ----

TEST_F(NodeIteratorTest, PacedDeliversOnePerGap) {
  auto it = NewPacedIterator(&loop_, NewCycleIterator(&loop_, labels_.MakeMany("n", 2)),
                             absl::Milliseconds(250));
  EXPECT_EQ(Read(*it), "n0");
  EXPECT_EQ(last_at_ns_, 250 * kMs);
  EXPECT_EQ(Read(*it), "n1");
  EXPECT_EQ(last_at_ns_, 500 * kMs);
  EXPECT_EQ(Read(*it), "n0");
  EXPECT_EQ(last_at_ns_, 750 * kMs);
}

TEST_F(NodeIteratorTest, PacedCloseWhileWaitingEndsAtOnce) {
  auto it = NewPacedIterator(&loop_, NewCycleIterator(&loop_, labels_.MakeMany("n", 2)),
                             absl::Seconds(10));
  std::shared_ptr<Got> got = Request(*it);
  queue_.RunUntil(1000 * kMs);  // The source answered; the gap is running.
  it->Close();
  EXPECT_EQ(got->calls, 0);
  queue_.RunUntilIdle();
  EXPECT_EQ(got->calls, 1);
  EXPECT_EQ(got->label, "<end>");
  EXPECT_EQ(got->at_ns, 1000 * kMs);
  EXPECT_EQ(Read(*it), "<end>");
}

TEST_F(NodeIteratorTest, PacedDestroyedWhileWaitingDropsTheRequest) {
  auto it = NewPacedIterator(&loop_, NewCycleIterator(&loop_, labels_.MakeMany("n", 1)),
                             absl::Seconds(1));
  std::shared_ptr<Got> got = Request(*it);
  queue_.RunUntil(100 * kMs);
  it.reset();
  queue_.RunUntilIdle();
  EXPECT_EQ(got->calls, 0);
}

TEST_F(NodeIteratorTest, EmptyCycleWaitsUntilClose) {
  auto it = NewCycleIterator(&loop_, {});
  std::shared_ptr<Got> got = Request(*it);
  queue_.RunUntil(3600 * 1000 * kMs);
  EXPECT_EQ(got->calls, 0);
  it->Close();
  EXPECT_EQ(got->calls, 0);
  queue_.RunUntilIdle();
  EXPECT_EQ(got->calls, 1);
  EXPECT_EQ(got->label, "<end>");
  EXPECT_EQ(Read(*it), "<end>");
}

TEST_F(NodeIteratorTest, CallbackMayRequestAgain) {
  auto it = NewFixedIterator(&loop_, labels_.MakeMany("n", 3));
  Strings seen;
  NodeIterator* raw = it.get();
  std::function<void(std::optional<Node>)> on_node = [&](std::optional<Node> node) {
    seen.push_back(labels_.Of(node));
    if (node.has_value()) raw->Next(on_node);
  };
  it->Next(on_node);
  queue_.RunUntilIdle();
  EXPECT_EQ(seen, (Strings{"n0", "n1", "n2", "<end>"}));
}

TEST_F(NodeIteratorTest, SecondOutstandingRequestIsFatal) {
  EXPECT_DEATH(
      {
        auto it = NewCycleIterator(&loop_, {});
        it->Next([](std::optional<Node>) {});
        it->Next([](std::optional<Node>) {});
      },
      "outstanding");
}

// ---- Filter (enode.Filter) ----

// go-ethereum TestFilterNodes.
TEST_F(NodeIteratorTest, FilterKeepsMatchingNodes) {
  std::vector<Node> nodes = labels_.MakeMany("n", 100);
  std::map<NodeId, int> index;
  for (int i = 0; i < 100; ++i) index[nodes[static_cast<size_t>(i)].id] = i;
  auto it = NewFilterIterator(NewFixedIterator(&loop_, nodes),
                              [&index](const Node& n) { return index.at(n.id) >= 50; });
  for (int i = 50; i < 100; ++i) EXPECT_EQ(Read(*it), absl::StrCat("n", i));
  EXPECT_EQ(Read(*it), "<end>");
  EXPECT_EQ(Read(*it), "<end>");
}

TEST_F(NodeIteratorTest, FilterCloseWhileWaiting) {
  auto it = NewFilterIterator(NewCycleIterator(&loop_, {}), [](const Node&) { return true; });
  std::shared_ptr<Got> got = Request(*it);
  queue_.RunUntil(1000 * kMs);
  EXPECT_EQ(got->calls, 0);
  it->Close();
  EXPECT_EQ(got->calls, 0);
  queue_.RunUntilIdle();
  EXPECT_EQ(got->label, "<end>");
  EXPECT_EQ(Read(*it), "<end>");
}

TEST_F(NodeIteratorTest, FilterRejectingEverythingWaitsOnCycle) {
  // A cycle of rejected nodes keeps the filter busy but never answers; Close
  // still ends it. Bounded run: each rejection is one posted round trip.
  auto it = NewFilterIterator(NewCycleIterator(&loop_, labels_.MakeMany("n", 2)),
                              [](const Node&) { return false; });
  std::shared_ptr<Got> got = Request(*it);
  queue_.RunUntilIdle(1000);
  EXPECT_EQ(got->calls, 0);
  it->Close();
  queue_.RunUntilIdle();
  EXPECT_EQ(got->label, "<end>");
}

// ---- Destruction with a request outstanding ----

TEST_F(NodeIteratorTest, DestroyWithRequestOutstandingDropsIt) {
  std::vector<std::shared_ptr<Got>> gots;
  {
    FairMix posted(&loop_, absl::Seconds(1));
    posted.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("c", 1)));
    queue_.RunUntilIdle();
    gots.push_back(Request(posted));  // c0 is buffered: delivery posted.
    auto fixed = NewFixedIterator(&loop_, labels_.MakeMany("f", 1));
    gots.push_back(Request(*fixed));  // Delivery posted.
    auto cycle = NewCycleIterator(&loop_, {});
    gots.push_back(Request(*cycle));  // Waiting.
    auto closed = NewCycleIterator(&loop_, {});
    gots.push_back(Request(*closed));
    closed->Close();  // Nullopt posted.
    auto filter = NewFilterIterator(NewFixedIterator(&loop_, labels_.MakeMany("g", 1)),
                                    [](const Node&) { return true; });
    gots.push_back(Request(*filter));
    FairMix waiting(&loop_, absl::Seconds(1));  // Waiting with a timer armed.
    waiting.AddSource(std::make_unique<ManualSource>(&loop_));
    gots.push_back(Request(waiting));
    EXPECT_GT(queue_.pending(), 0u);
  }
  EXPECT_EQ(queue_.pending(), 0u);  // Every timer was cancelled.
  queue_.RunUntilIdle();
  for (const auto& got : gots) EXPECT_EQ(got->calls, 0);
}

// ---- FairMix ----

// Three always-ready sources are drawn round-robin in source order
// (go-ethereum TestFairMix, exact instead of approximate).
TEST_F(NodeIteratorTest, FairMixRoundRobin) {
  FairMix mix(&loop_, absl::Seconds(1));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("a", 1000)));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("b", 1000)));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("c", 1000)));
  EXPECT_EQ(mix.num_sources(), 3u);
  Strings got = ReadN(mix, 300);
  EXPECT_EQ(Strings(got.begin(), got.begin() + 7),
            (Strings{"a0", "b0", "c0", "a1", "b1", "c1", "a2"}));
  std::map<char, int> counts;
  for (const std::string& label : got) ++counts[label[0]];
  EXPECT_EQ(counts, (std::map<char, int>{{'a', 100}, {'b', 100}, {'c', 100}}));
  EXPECT_EQ(got.back(), "c99");
  EXPECT_EQ(queue_.now_ns(), 0);  // Nobody waited.
  mix.Close();
}

// A source is fetched one node ahead, and asked again only once that node
// is taken.
TEST_F(NodeIteratorTest, FairMixAsksSourcesOneAhead) {
  FairMix mix(&loop_, absl::Seconds(1));
  auto a = std::make_unique<SlowCycle>(&loop_, labels_.MakeMany("a", 10), absl::ZeroDuration());
  auto b = std::make_unique<SlowCycle>(&loop_, labels_.MakeMany("b", 10), absl::ZeroDuration());
  SlowCycle* ra = a.get();
  SlowCycle* rb = b.get();
  mix.AddSource(std::move(a));
  mix.AddSource(std::move(b));
  EXPECT_EQ(ra->requests(), 1);  // Prefetch, as go-ethereum's runSource.
  EXPECT_EQ(rb->requests(), 1);
  queue_.RunUntilIdle();
  EXPECT_EQ(ra->requests(), 1);  // Nobody asked the mix: nodes wait.
  EXPECT_EQ(Read(mix), "a0");
  EXPECT_EQ(ra->requests(), 2);
  EXPECT_EQ(rb->requests(), 1);
  EXPECT_EQ(Read(mix), "b0");
  EXPECT_EQ(ra->requests(), 2);
  EXPECT_EQ(rb->requests(), 2);
}

// go-ethereum TestFairMixNextFromAll: one source never delivers, so every
// other node comes through nextFromAny after its (halving) timeout.
TEST_F(NodeIteratorTest, FairMixNextFromAll) {
  FairMix mix(&loop_, absl::Milliseconds(1));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("a", 1000)));
  mix.AddSource(NewCycleIterator(&loop_, {}));
  Strings got = ReadN(mix, 500);
  for (int i = 0; i < 500; ++i) EXPECT_EQ(got[static_cast<size_t>(i)], absl::StrCat("a", i));
  // The empty source's timeout halves on each miss: 1 ms + 0.5 ms + ... (in
  // whole ns) until it reaches zero.
  int64_t want = 0;
  for (int64_t t = kMs; t > 0; t /= 2) want += t;
  EXPECT_EQ(queue_.now_ns(), want);
  mix.Close();
}

// A slow picked source: after its timeout the node comes from another
// source and its timeout halves; once it delivers it is back to the full
// timeout.
TEST_F(NodeIteratorTest, FairMixSlowSourceTimeout) {
  FairMix mix(&loop_, absl::Milliseconds(100));
  auto a = std::make_unique<ManualSource>(&loop_);
  ManualSource* slow = a.get();
  mix.AddSource(std::move(a));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("b", 100)));

  EXPECT_EQ(Read(mix), "b0");  // Picked A, waited 100 ms.
  EXPECT_EQ(last_at_ns_, 100 * kMs);
  EXPECT_EQ(Read(mix), "b1");  // Picked B: ready.
  EXPECT_EQ(last_at_ns_, 100 * kMs);
  EXPECT_EQ(Read(mix), "b2");  // Picked A, waited 50 ms.
  EXPECT_EQ(last_at_ns_, 150 * kMs);
  EXPECT_EQ(Read(mix), "b3");
  EXPECT_EQ(last_at_ns_, 150 * kMs);

  // Picked A with 25 ms; it delivers after 10 ms.
  std::shared_ptr<Got> got = Request(mix);
  queue_.RunUntil(160 * kMs);
  EXPECT_EQ(got->calls, 0);
  slow->Push(labels_.Make("a0"));
  queue_.RunUntilIdle();
  EXPECT_EQ(got->label, "a0");
  EXPECT_EQ(got->at_ns, 160 * kMs);
  EXPECT_EQ(slow->requests(), 2);  // Asked again once a0 was taken.

  EXPECT_EQ(Read(mix), "b4");
  EXPECT_EQ(Read(mix), "b5");  // Picked A: the full 100 ms again.
  EXPECT_EQ(last_at_ns_, 260 * kMs);
  mix.Close();
  EXPECT_TRUE(slow->closed());
}

// A slow source that delivers while the mix waits in nextFromAny gives the
// node from there; it keeps its halved timeout (as in go-ethereum).
TEST_F(NodeIteratorTest, FairMixFromAnyTakesFirstDelivery) {
  FairMix mix(&loop_, absl::Milliseconds(100));
  auto a = std::make_unique<ManualSource>(&loop_);
  auto b = std::make_unique<ManualSource>(&loop_);
  ManualSource* ra = a.get();
  ManualSource* rb = b.get();
  mix.AddSource(std::move(a));
  mix.AddSource(std::move(b));
  std::shared_ptr<Got> got = Request(mix);
  queue_.RunUntil(500 * kMs);  // Timed out at 100 ms; now waiting for anyone.
  EXPECT_EQ(got->calls, 0);
  rb->Push(labels_.Make("b0"));
  ra->Push(labels_.Make("a0"));
  queue_.RunUntilIdle();
  EXPECT_EQ(got->label, "b0");  // First delivered.
  // Next pick is B (not ready), then the buffered a0 arrives via fromAny.
  got = Request(mix);
  queue_.RunUntilIdle();
  EXPECT_EQ(got->label, "a0");
  EXPECT_EQ(got->at_ns, 600 * kMs);
  // a0 came through nextFromAny, so A keeps its halved 50 ms.
  rb->Push(labels_.Make("b1"));
  queue_.RunUntilIdle();
  got = Request(mix);  // Picks A.
  queue_.RunUntilIdle();
  EXPECT_EQ(got->label, "b1");
  EXPECT_EQ(got->at_ns, 650 * kMs);
  mix.Close();
}

// When several sources have a node buffered, nextFromAny takes the first in
// source order (go-ethereum's select would choose at random).
TEST_F(NodeIteratorTest, FairMixFromAnyPrefersSourceOrder) {
  FairMix mix(&loop_, absl::Milliseconds(100));
  mix.AddSource(std::make_unique<ManualSource>(&loop_));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("b", 10)));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("c", 10)));
  EXPECT_EQ(ReadN(mix, 4), (Strings{"b0", "b1", "c0", "b2"}));
  EXPECT_EQ(last_at_ns_, 150 * kMs);
  mix.Close();
}

// With a negative timeout the mix waits for the picked source forever.
TEST_F(NodeIteratorTest, FairMixNegativeTimeoutIsFullyFair) {
  FairMix mix(&loop_, absl::Milliseconds(-1));
  mix.AddSource(std::make_unique<SlowCycle>(&loop_, labels_.MakeMany("a", 10), absl::Seconds(1)));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("b", 10)));
  EXPECT_EQ(Read(mix), "a0");
  EXPECT_EQ(last_at_ns_, 1000 * kMs);
  EXPECT_EQ(Read(mix), "b0");
  EXPECT_EQ(Read(mix), "a1");
  EXPECT_EQ(last_at_ns_, 2000 * kMs);
  mix.Close();
}

// A source that ends is removed, and the round-robin carries on with the
// source that followed it.
TEST_F(NodeIteratorTest, FairMixSourceEndingIsRemoved) {
  FairMix mix(&loop_, absl::Seconds(1));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("a", 100)));
  mix.AddSource(NewFixedIterator(&loop_, labels_.MakeMany("f", 2)));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("c", 100)));
  EXPECT_EQ(ReadN(mix, 6), (Strings{"a0", "f0", "c0", "a1", "f1", "c1"}));
  EXPECT_EQ(mix.num_sources(), 2u);  // f ended after f1 was taken.
  EXPECT_EQ(ReadN(mix, 4), (Strings{"a2", "c2", "a3", "c3"}));
  EXPECT_EQ(queue_.now_ns(), 0);
  mix.Close();
}

// The picked source ends while the mix waits on it: pick again.
TEST_F(NodeIteratorTest, FairMixPickedSourceEndsWhileWaiting) {
  FairMix mix(&loop_, absl::Seconds(1));
  auto a = std::make_unique<ManualSource>(&loop_);
  ManualSource* ra = a.get();
  mix.AddSource(std::move(a));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("b", 10)));
  std::shared_ptr<Got> got = Request(mix);
  queue_.RunUntil(10 * kMs);
  EXPECT_EQ(got->calls, 0);
  ra->End();
  queue_.RunUntilIdle();
  EXPECT_EQ(got->label, "b0");
  EXPECT_EQ(got->at_ns, 10 * kMs);
  EXPECT_EQ(mix.num_sources(), 1u);
  mix.Close();
}

// go-ethereum TestFairMixRemoveSource: the only source ends during Next;
// the mix keeps waiting and takes the node of a source added later.
TEST_F(NodeIteratorTest, FairMixRemoveSource) {
  FairMix mix(&loop_, absl::Seconds(1));
  auto a = std::make_unique<ManualSource>(&loop_);
  ManualSource* ra = a.get();
  mix.AddSource(std::move(a));
  std::shared_ptr<Got> got = Request(mix);
  queue_.RunUntil(10 * kMs);
  ra->End();
  queue_.RunUntil(5000 * kMs);
  EXPECT_EQ(got->calls, 0);  // The mix ends only on Close.
  EXPECT_EQ(mix.num_sources(), 0u);
  mix.AddSource(NewCycleIterator(&loop_, {labels_.Make("want")}));
  queue_.RunUntilIdle();
  EXPECT_EQ(got->label, "want");
  EXPECT_EQ(mix.num_sources(), 1u);
  mix.Close();
}

// go-ethereum TestFairMixEmpty.
TEST_F(NodeIteratorTest, FairMixEmptyWaitsForSource) {
  FairMix mix(&loop_, absl::Seconds(1));
  std::shared_ptr<Got> got = Request(mix);
  queue_.RunUntil(5000 * kMs);
  EXPECT_EQ(got->calls, 0);
  mix.AddSource(NewCycleIterator(&loop_, {labels_.Make("n")}));
  queue_.RunUntilIdle();
  EXPECT_EQ(got->label, "n");
  mix.Close();
}

// go-ethereum TestFairMixClose.
TEST_F(NodeIteratorTest, FairMixCloseWhileWaiting) {
  FairMix mix(&loop_, absl::Milliseconds(-1));
  auto a = std::make_unique<ManualSource>(&loop_);
  ManualSource* ra = a.get();
  mix.AddSource(std::move(a));
  mix.AddSource(NewCycleIterator(&loop_, {}));
  std::shared_ptr<Got> got = Request(mix);
  queue_.RunUntil(3600 * 1000 * kMs);
  EXPECT_EQ(got->calls, 0);
  mix.Close();
  EXPECT_TRUE(ra->closed());
  EXPECT_EQ(got->calls, 0);
  queue_.RunUntilIdle();
  EXPECT_EQ(got->calls, 1);
  EXPECT_EQ(got->label, "<end>");
  mix.Close();  // Shouldn't crash.
  EXPECT_EQ(mix.num_sources(), 0u);
  EXPECT_EQ(Read(mix), "<end>");
}

TEST_F(NodeIteratorTest, FairMixCloseAfterDeliveryPostedGivesNullopt) {
  FairMix mix(&loop_, absl::Seconds(1));
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("a", 3)));
  queue_.RunUntilIdle();
  std::shared_ptr<Got> got = Request(mix);  // a0 is buffered: delivery posted.
  mix.Close();
  queue_.RunUntilIdle();
  EXPECT_EQ(got->calls, 1);
  EXPECT_EQ(got->label, "<end>");
}

TEST_F(NodeIteratorTest, FairMixAddSourceAfterCloseIgnored) {
  FairMix mix(&loop_, absl::Seconds(1));
  mix.Close();
  mix.AddSource(NewCycleIterator(&loop_, labels_.MakeMany("a", 3)));
  EXPECT_EQ(mix.num_sources(), 0u);
  EXPECT_EQ(Read(mix), "<end>");
  EXPECT_EQ(Read(mix), "<end>");
}

TEST_F(NodeIteratorTest, NoInlineCallbacks) {
  std::vector<std::unique_ptr<NodeIterator>> its;
  its.push_back(NewFixedIterator(&loop_, labels_.MakeMany("f", 1)));
  its.push_back(NewFixedIterator(&loop_, {}));
  its.push_back(NewCycleIterator(&loop_, labels_.MakeMany("c", 1)));
  its.push_back(NewFilterIterator(NewFixedIterator(&loop_, labels_.MakeMany("g", 1)),
                                  [](const Node&) { return true; }));
  auto mix = std::make_unique<FairMix>(&loop_, absl::Seconds(1));
  mix->AddSource(NewCycleIterator(&loop_, labels_.MakeMany("m", 1)));
  its.push_back(std::move(mix));
  queue_.RunUntilIdle();  // The mix's source node is buffered.
  // Live, then closed: Request() checks that no callback runs inline.
  for (auto& it : its) {
    std::shared_ptr<Got> got = Request(*it);
    queue_.RunUntilIdle();
    EXPECT_EQ(got->calls, 1);
  }
  for (auto& it : its) {
    it->Close();
    std::shared_ptr<Got> got = Request(*it);
    queue_.RunUntilIdle();
    EXPECT_EQ(got->calls, 1);
    EXPECT_EQ(got->label, "<end>");
  }
}

// A mixed scenario: sources of different speeds, one ending, one added
// later, a timeout that fires often, and a consumer that asks again as soon
// as it gets a node (as the dial scheduler does). Returns "label@ns" for
// every node.
Strings RunScenario() {
  sim::EventQueue queue;
  sim::SimLoop loop(&queue);
  Labels labels;
  FairMix mix(&loop, absl::Milliseconds(10));
  mix.AddSource(
      std::make_unique<SlowCycle>(&loop, labels.MakeMany("a", 50), absl::Milliseconds(3)));
  mix.AddSource(
      std::make_unique<SlowCycle>(&loop, labels.MakeMany("b", 50), absl::Milliseconds(17)));
  mix.AddSource(NewFixedIterator(&loop, labels.MakeMany("f", 5)));
  mix.AddSource(
      std::make_unique<SlowCycle>(&loop, labels.MakeMany("c", 50), absl::Milliseconds(40)));
  Strings out;
  std::function<void(std::optional<Node>)> consume = [&](std::optional<Node> node) {
    out.push_back(absl::StrCat(labels.Of(node), "@", queue.now_ns()));
    if (out.size() == 100) {
      mix.AddSource(
          std::make_unique<SlowCycle>(&loop, labels.MakeMany("d", 50), absl::Milliseconds(1)));
    }
    if (out.size() < 200) mix.Next(consume);
  };
  mix.Next(consume);
  queue.RunUntilIdle();
  EXPECT_EQ(out.size(), 200u);
  mix.Close();
  queue.RunUntilIdle();
  return out;
}

TEST(NodeIteratorDeterminismTest, TwoRunsGiveTheSameSequence) {
  Strings first = RunScenario();
  Strings second = RunScenario();
  EXPECT_EQ(first, second);
  std::map<char, int> counts;
  for (const std::string& s : first) ++counts[s[0]];
  EXPECT_EQ(counts['f'], 5);
  EXPECT_GT(counts['a'], 0);
  EXPECT_GT(counts['b'], 0);
  EXPECT_GT(counts['c'], 0);
  EXPECT_GT(counts['d'], 0);
}

}  // namespace
}  // namespace p2p
