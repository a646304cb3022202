#include "core/fifo.h"

#include <deque>
#include <memory>
#include <string>

#include "core/rng.h"
#include "gtest/gtest.h"

namespace p2p {
namespace {

TEST(FifoTest, FirstInFirstOut) {
  Fifo<int> q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.size(), 0u);
  q.push_back(1);
  q.push_back(2);
  q.push_back(3);
  EXPECT_EQ(q.size(), 3u);
  EXPECT_EQ(q.front(), 1);
  EXPECT_EQ(q.back(), 3);
  q.pop_front();
  EXPECT_EQ(q.front(), 2);
  q.back() = 30;
  q.pop_front();
  EXPECT_EQ(q.front(), 30);
  q.pop_front();
  EXPECT_TRUE(q.empty());
  q.push_back(4);
  EXPECT_EQ(q.front(), 4);
  EXPECT_EQ(q.back(), 4);
  q.clear();
  EXPECT_TRUE(q.empty());
}

TEST(FifoTest, PopReleasesTheElement) {
  Fifo<std::shared_ptr<int>> q;
  auto p = std::make_shared<int>(7);
  q.push_back(p);
  q.push_back(std::make_shared<int>(8));
  EXPECT_EQ(p.use_count(), 2);
  q.pop_front();
  EXPECT_EQ(p.use_count(), 1);  // Not kept until the prefix is compacted.
  EXPECT_EQ(*q.front(), 8);
}

// Against std::deque under a random mix of operations that crosses the
// compaction threshold many times.
TEST(FifoTest, MatchesDequeUnderRandomOperations) {
  Rng rng(11);
  Fifo<std::string> q;
  std::deque<std::string> ref;
  for (int i = 0; i < 20000; ++i) {
    const uint64_t op = rng.Intn(10);
    if (op < 6) {
      std::string v = std::to_string(i);
      q.push_back(v);
      ref.push_back(v);
    } else if (op < 9) {
      if (!ref.empty()) {
        ASSERT_EQ(q.front(), ref.front()) << "step " << i;
        q.pop_front();
        ref.pop_front();
      }
    } else if (rng.Intn(50) == 0) {
      q.clear();
      ref.clear();
    }
    ASSERT_EQ(q.size(), ref.size()) << "step " << i;
    ASSERT_EQ(q.empty(), ref.empty());
    if (!ref.empty()) {
      ASSERT_EQ(q.front(), ref.front());
      ASSERT_EQ(q.back(), ref.back());
    }
  }
}

}  // namespace
}  // namespace p2p
