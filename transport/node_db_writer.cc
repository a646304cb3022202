#include "transport/node_db_writer.h"

#include <deque>
#include <optional>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/synchronization/mutex.h"
#include "transport/node_db.h"

namespace p2p::transport {

struct NodeDbWriter::Shared {
  struct Report {
    absl::Status status;
    size_t nodes;
  };

  Shared(EpollLoop* l, std::string p, NodeDbSaveFn fn, DoneCallback done)
      : loop(l), path(std::move(p)), save(std::move(fn)), on_done(std::move(done)) {}

  bool PendingOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return stopping || pending.has_value();
  }

  // Loop thread: reports the oldest write not yet reported. Finds none
  // once the writer is closed (Close took them) or destroyed (dropped).
  void DeliverOne() {
    std::optional<Report> report;
    {
      absl::MutexLock lock(&mu);
      if (reports.empty()) return;
      report = std::move(reports.front());
      reports.pop_front();
    }
    // Last: the callback may close or destroy the writer (this block
    // survives, as the posted closure running us holds a reference).
    on_done(report->status, report->nodes);
  }

  static void WorkerMain(const std::shared_ptr<Shared>& self) {
    for (;;) {
      std::vector<discover::KnownNode> nodes;
      {
        absl::MutexLock lock(&self->mu);
        self->mu.Await(absl::Condition(self.get(), &Shared::PendingOrStopping));
        // Stopping still writes what is pending: the last snapshot matters most.
        if (!self->pending.has_value()) return;
        nodes = *std::move(self->pending);
        self->pending.reset();
      }
      absl::Status status = self->save(self->path, nodes);
      {
        absl::MutexLock lock(&self->mu);
        self->reports.push_back(Report{std::move(status), nodes.size()});
      }
      // The writer joins us before the loop may go, so the loop is alive.
      self->loop->Post([self] { self->DeliverOne(); });
    }
  }

  EpollLoop* const loop;
  const std::string path;
  const NodeDbSaveFn save;
  DoneCallback on_done;  // Loop thread only.

  absl::Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  // The newest snapshot not yet taken by the worker.
  std::optional<std::vector<discover::KnownNode>> pending ABSL_GUARDED_BY(mu);
  // Writes done but not yet reported, oldest first (at most the writes
  // between two loop iterations).
  std::deque<Report> reports ABSL_GUARDED_BY(mu);
};

NodeDbWriter::NodeDbWriter(EpollLoop* loop, std::string path, DoneCallback on_done,
                           NodeDbWriterOptions options)
    : path_(path),
      shared_(std::make_shared<Shared>(
          loop, std::move(path), options.save ? std::move(options.save) : NodeDbSaveFn(SaveNodeDb),
          std::move(on_done))),
      worker_([shared = shared_] { Shared::WorkerMain(shared); }) {}

NodeDbWriter::~NodeDbWriter() {
  if (worker_.joinable()) StopWorker();
  // Joined: no more reports come. Nobody may be listening for these.
  absl::MutexLock lock(&shared_->mu);
  shared_->reports.clear();
}

void NodeDbWriter::Save(std::vector<discover::KnownNode> nodes) {
  ABSL_RAW_CHECK(worker_.joinable(), "NodeDbWriter::Save called after Close");
  absl::MutexLock lock(&shared_->mu);
  shared_->pending = std::move(nodes);  // Replaces a snapshot the worker has not taken.
}

void NodeDbWriter::Close() {
  if (!worker_.joinable()) return;
  StopWorker();
  std::deque<Shared::Report> left;
  {
    absl::MutexLock lock(&shared_->mu);
    left.swap(shared_->reports);
  }
  // A local reference: a callback may destroy the writer.
  const std::shared_ptr<Shared> shared = shared_;
  for (Shared::Report& r : left) shared->on_done(r.status, r.nodes);
}

void NodeDbWriter::StopWorker() {
  {
    absl::MutexLock lock(&shared_->mu);
    shared_->stopping = true;
  }
  worker_.join();
}

}  // namespace p2p::transport
