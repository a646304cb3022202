// Writes p2pnode's node database (SaveNodeDb: write, fsync, rename, fsync of
// the directory) on a worker thread, so that the disk never blocks the
// node's event loop.
//
// Contract:
//  - One writer per database file. Save(), Close() and the destructor are
//    called on the loop thread (or any single thread while the loop is not
//    running).
//  - Save(nodes) hands over a snapshot and returns at once. One worker
//    thread writes, so at most one save is in flight. Snapshots coalesce:
//    one handed over while another is being written waits as the pending
//    one, and a newer one replaces it (the older is never written). Memory
//    is thus bounded by two snapshots, and the file always ends up holding
//    the newest one.
//  - Each write is reported once, in write order, to `on_done` on the loop
//    thread: OK, or SaveNodeDb's error (which names the file). Replaced
//    snapshots are not reported. Reports are posted to the loop, never run
//    inside Save().
//  - Close(): stops accepting snapshots, waits for the write in progress
//    and the pending snapshot to be written, joins the worker, then runs
//    `on_done` for the writes not yet reported (their posted callbacks then
//    do nothing), so that a caller shutting down after its loop stopped
//    still sees the last outcome. Idempotent. Save() after Close() crashes.
//  - Destruction without Close(): also writes the pending snapshot and
//    joins the worker, but reports nothing more (`on_done` may refer to
//    objects already gone).
//  - The EpollLoop must outlive the writer (the worker posts to it until it
//    is joined). No thread is ever detached.
#ifndef P2P_TRANSPORT_NODE_DB_WRITER_H_
#define P2P_TRANSPORT_NODE_DB_WRITER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "core/discover/udp.h"
#include "transport/epoll_loop.h"

namespace p2p::transport {

// SaveNodeDb's shape; runs on the worker thread.
using NodeDbSaveFn =
    std::function<absl::Status(const std::string& path, const std::vector<discover::KnownNode>&)>;

struct NodeDbWriterOptions {
  // Empty: SaveNodeDb. For tests (to hold the worker busy, or fail).
  NodeDbSaveFn save;
};

class NodeDbWriter {
 public:
  // The outcome of one write: SaveNodeDb's status and how many nodes the
  // written snapshot held.
  using DoneCallback = absl::AnyInvocable<void(const absl::Status& status, size_t nodes)>;

  // Starts the worker. `loop` must outlive the writer.
  NodeDbWriter(EpollLoop* loop, std::string path, DoneCallback on_done,
               NodeDbWriterOptions options = {});
  // See the file comment: waits for the write in progress and the pending one.
  ~NodeDbWriter();
  NodeDbWriter(const NodeDbWriter&) = delete;
  NodeDbWriter& operator=(const NodeDbWriter&) = delete;

  const std::string& path() const { return path_; }

  // Hands `nodes` to the worker, replacing a snapshot not yet started.
  void Save(std::vector<discover::KnownNode> nodes);

  // Writes what is pending, joins the worker and reports the writes not yet
  // reported (see the file comment).
  void Close();

 private:
  struct Shared;

  // Stops the worker after the pending snapshot and joins it.
  void StopWorker();

  const std::string path_;
  // Shared with the worker and with the callbacks posted to the loop, so
  // that a posted callback may outlive the writer harmlessly.
  std::shared_ptr<Shared> shared_;
  std::thread worker_;  // Joinable until StopWorker().
};

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_NODE_DB_WRITER_H_
