// Sources of dial candidates: go-ethereum's enode.Iterator in event-loop
// form, plus the simple sources and the FairMix merger.
//
// go-ethereum's Iterator blocks in Next(); a loop cannot block, so here Next
// takes a callback that runs once a node is available. The consumer (the dial
// scheduler) asks for one node at a time, which gives the same back-pressure
// as go-ethereum's unbuffered channel: while no one asks, nodes wait in the
// source.
#ifndef P2P_CORE_DIAL_NODE_ITERATOR_H_
#define P2P_CORE_DIAL_NODE_ITERATOR_H_

#include <memory>
#include <optional>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "core/event_loop.h"
#include "core/node.h"

namespace p2p {

class NodeIterator {
 public:
  // Gets the next node, or nullopt once the iterator has ended (exhausted or
  // closed); after nullopt every later request also gets nullopt.
  using NextCallback = absl::AnyInvocable<void(std::optional<Node> node)>;

  virtual ~NodeIterator() = default;

  // Requests the next node. `cb` runs exactly once, on the loop, never
  // inline; it may wait indefinitely for a node to appear. At most one
  // request may be outstanding (a second one is a programmer error).
  virtual void Next(NextCallback cb) = 0;

  // Ends the iteration: an outstanding request completes with nullopt (posted)
  // and later ones too. Idempotent.
  virtual void Close() = 0;
};

// Yields the given nodes once, in order, then ends (enode.IterNodes).
std::unique_ptr<NodeIterator> NewFixedIterator(EventLoop* loop,
                                               std::vector<Node> nodes);

// Yields the given nodes in order, cycling forever until closed
// (enode.CycleNodes). With no nodes, a request waits until Close.
std::unique_ptr<NodeIterator> NewCycleIterator(EventLoop* loop,
                                               std::vector<Node> nodes);

// Hands out the nodes of `source` no faster than one per `gap` (each node is
// delivered `gap` after the source produced it). A source that never blocks
// (a cycle over a fixed list) would otherwise let the dialer spin through
// candidates that all fail its checks at one instant. Owns `source`.
std::unique_ptr<NodeIterator> NewPacedIterator(EventLoop* loop,
                                               std::unique_ptr<NodeIterator> source,
                                               absl::Duration gap);

// Yields the nodes of `source` for which `keep` is true (enode.Filter).
// Owns `source`.
std::unique_ptr<NodeIterator> NewFilterIterator(
    std::unique_ptr<NodeIterator> source,
    absl::AnyInvocable<bool(const Node&)> keep);

// Merges several sources (enode.FairMix). Next draws from the sources in
// round-robin order; if the chosen source has no node within its timeout,
// the node comes from whichever source has one first, and that source's
// timeout is halved (reset to the configured value when it delivers). A
// source that ends is removed. The mix itself ends only on Close. Sources
// are asked for at most one node ahead. Deterministic: ties are broken by
// source order. A negative timeout means wait for the chosen source forever.
class FairMix : public NodeIterator {
 public:
  // `loop` must outlive the mix.
  FairMix(EventLoop* loop, absl::Duration timeout);
  ~FairMix() override;

  // Adds a source; the mix owns it. Ignored after Close.
  void AddSource(std::unique_ptr<NodeIterator> source);

  void Next(NextCallback cb) override;
  void Close() override;

  size_t num_sources() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace p2p

#endif  // P2P_CORE_DIAL_NODE_ITERATOR_H_
