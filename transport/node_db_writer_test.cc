#include "transport/node_db_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/crypto/secp256k1.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/epoll_loop.h"
#include "transport/node_db.h"

namespace p2p::transport {
namespace {

using discover::KnownNode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// Only a bound for a broken writer; the tests wait for conditions.
constexpr absl::Duration kMaxWait = absl::Seconds(60);

// A node with private key `k` (1..65535).
Node TestNode(int k) {
  char hex[65];
  std::snprintf(hex, sizeof(hex), "%060d%04x", 0, k);
  const absl::StatusOr<PrivateKey> priv = PrivateKey::FromHex(hex);
  EXPECT_TRUE(priv.ok()) << priv.status();
  return Node::FromPublicKey(DerivePublicKey(*priv),
                             IpAddress::V4(0x0a000000u + static_cast<uint32_t>(k)), 30303, 30303);
}

// A snapshot of `count` nodes, told apart by their findnode failures.
std::vector<KnownNode> Snapshot(int count, int failures) {
  std::vector<KnownNode> nodes;
  for (int i = 1; i <= count; ++i) {
    KnownNode k;
    k.node = TestNode(i);
    k.last_pong = absl::FromUnixMillis(1700000000000 + i);
    k.findnode_failures = failures;
    nodes.push_back(std::move(k));
  }
  return nodes;
}

struct Report {
  absl::Status status;
  size_t nodes;
  std::thread::id thread;
};

// A save hook that records every snapshot the worker writes and holds the
// worker inside the first write until released.
struct BlockingSave {
  absl::Mutex mu;
  std::vector<std::vector<KnownNode>> written ABSL_GUARDED_BY(mu);
  absl::Notification first_entered;
  absl::Notification release_first;

  NodeDbSaveFn Fn() {
    return [this](const std::string& path, const std::vector<KnownNode>& nodes) {
      bool first = false;
      {
        absl::MutexLock lock(&mu);
        written.push_back(nodes);
        first = written.size() == 1;
      }
      if (first) {
        first_entered.Notify();
        release_first.WaitForNotification();
      }
      return SaveNodeDb(path, nodes);
    };
  }
  std::vector<std::vector<KnownNode>> Written() {
    absl::MutexLock lock(&mu);
    return written;
  }
};

class NodeDbWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/node_db_writer_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0) << dir_;
    path_ = dir_ + "/nodes";
    absl::StatusOr<std::unique_ptr<EpollLoop>> loop = EpollLoop::Create();
    ASSERT_TRUE(loop.ok()) << loop.status();
    loop_ = *std::move(loop);
  }

  std::unique_ptr<NodeDbWriter> NewWriter(const std::string& path, NodeDbSaveFn save = {}) {
    NodeDbWriterOptions options;
    options.save = std::move(save);
    return std::make_unique<NodeDbWriter>(
        loop_.get(), path,
        [this](const absl::Status& s, size_t nodes) {
          reports_.push_back(Report{s, nodes, std::this_thread::get_id()});
        },
        std::move(options));
  }

  // Runs the loop until everything posted so far (by any thread, before
  // this call) has run.
  void RunPosted() {
    bool marker = false;
    loop_->Post([&marker] { marker = true; });
    ASSERT_TRUE(loop_->RunUntil([&] { return marker; }, kMaxWait));
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  std::vector<KnownNode> LoadNodes() {
    absl::StatusOr<ParsedNodeDb> db = LoadNodeDb(path_);
    EXPECT_TRUE(db.ok()) << db.status();
    if (!db.ok()) return {};
    EXPECT_THAT(db->warnings, IsEmpty());
    return db->nodes;
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<EpollLoop> loop_;
  std::vector<Report> reports_;  // Loop thread (= this thread) only.
};

TEST_F(NodeDbWriterTest, SaveLandsOnDiskAndIsReportedOnTheLoop) {
  const std::vector<KnownNode> a = Snapshot(2, 1);
  std::unique_ptr<NodeDbWriter> writer = NewWriter(path_);
  EXPECT_EQ(writer->path(), path_);
  writer->Save(a);
  EXPECT_THAT(reports_, IsEmpty()) << "reported inside Save";

  ASSERT_TRUE(loop_->RunUntil([&] { return !reports_.empty(); }, kMaxWait));
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_TRUE(reports_[0].status.ok()) << reports_[0].status;
  EXPECT_EQ(reports_[0].nodes, 2u);
  EXPECT_EQ(reports_[0].thread, std::this_thread::get_id());
  EXPECT_EQ(ReadFile(path_), FormatNodeDb(a));
  EXPECT_EQ(LoadNodes(), a);

  writer->Close();
  writer->Close();  // Idempotent.
  RunPosted();
  EXPECT_EQ(reports_.size(), 1u);
}

TEST_F(NodeDbWriterTest, CoalescesToTheNewestSnapshot) {
  const std::vector<KnownNode> a = Snapshot(1, 0);
  const std::vector<KnownNode> b = Snapshot(2, 1);
  const std::vector<KnownNode> c = Snapshot(3, 2);
  BlockingSave hook;
  std::unique_ptr<NodeDbWriter> writer = NewWriter(path_, hook.Fn());

  writer->Save(a);
  hook.first_entered.WaitForNotification();
  // The worker is inside the write of `a`: `b` waits, `c` replaces it.
  writer->Save(b);
  writer->Save(c);
  hook.release_first.Notify();
  // Close writes the pending snapshot and reports both writes, in order,
  // without the loop running.
  writer->Close();

  EXPECT_THAT(hook.Written(), ElementsAre(a, c));
  ASSERT_EQ(reports_.size(), 2u);
  EXPECT_TRUE(reports_[0].status.ok()) << reports_[0].status;
  EXPECT_EQ(reports_[0].nodes, 1u);
  EXPECT_TRUE(reports_[1].status.ok()) << reports_[1].status;
  EXPECT_EQ(reports_[1].nodes, 3u);
  EXPECT_EQ(LoadNodes(), c);

  // The worker's posted callbacks find nothing left to report.
  RunPosted();
  EXPECT_EQ(reports_.size(), 2u);
}

TEST_F(NodeDbWriterTest, ErrorsReachTheCallbackWithThePath) {
  // The database's directory is a regular file: open(".../nodes.tmp") fails.
  const std::string not_a_dir = dir_ + "/file";
  std::ofstream(not_a_dir) << "x";
  const std::string path = not_a_dir + "/nodes";
  std::unique_ptr<NodeDbWriter> writer = NewWriter(path);
  writer->Save(Snapshot(1, 0));

  ASSERT_TRUE(loop_->RunUntil([&] { return !reports_.empty(); }, kMaxWait));
  ASSERT_EQ(reports_.size(), 1u);
  EXPECT_FALSE(reports_[0].status.ok());
  EXPECT_THAT(std::string(reports_[0].status.message()),
              StartsWith(absl::StrCat("cannot write node database ", path, ".tmp: ")));
  EXPECT_EQ(reports_[0].nodes, 1u);
  EXPECT_EQ(reports_[0].thread, std::this_thread::get_id());

  // The writer keeps going after a failure.
  writer->Save(Snapshot(2, 0));
  writer->Close();
  ASSERT_EQ(reports_.size(), 2u);
  EXPECT_THAT(std::string(reports_[1].status.message()), HasSubstr(path));
}

TEST_F(NodeDbWriterTest, DestructionWritesThePendingSnapshot) {
  const std::vector<KnownNode> a = Snapshot(1, 0);
  const std::vector<KnownNode> b = Snapshot(2, 1);
  BlockingSave hook;
  std::unique_ptr<NodeDbWriter> writer = NewWriter(path_, hook.Fn());

  writer->Save(a);
  hook.first_entered.WaitForNotification();
  writer->Save(b);  // Pending: the worker is inside the write of `a`.
  hook.release_first.Notify();
  writer.reset();  // Waits for `b` to be written.

  EXPECT_THAT(hook.Written(), ElementsAre(a, b));
  EXPECT_EQ(LoadNodes(), b);
  // Destroyed without Close: nothing more is reported, even by the
  // callbacks the worker posted.
  RunPosted();
  EXPECT_THAT(reports_, IsEmpty());
}

TEST_F(NodeDbWriterTest, CloseWithNothingPendingReportsNothing) {
  std::unique_ptr<NodeDbWriter> writer = NewWriter(path_);
  writer->Close();
  EXPECT_THAT(reports_, IsEmpty());
  struct stat st;
  EXPECT_NE(stat(path_.c_str(), &st), 0) << "nothing to save, yet a file was written";
}

TEST(NodeDbWriterDeathTest, SaveAfterCloseCrashes) {
  absl::StatusOr<std::unique_ptr<EpollLoop>> loop = EpollLoop::Create();
  ASSERT_TRUE(loop.ok()) << loop.status();
  NodeDbWriter writer(loop->get(), "/nonexistent/nodes", [](const absl::Status&, size_t) {});
  writer.Close();
  EXPECT_DEATH(writer.Save({}), "NodeDbWriter::Save called after Close");
}

}  // namespace
}  // namespace p2p::transport
