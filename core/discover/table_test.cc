#include "core/discover/table.h"

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "core/event_loop.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "core/rng.h"
#include "gtest/gtest.h"

namespace p2p {
namespace discover {
namespace {

const MonoTime kT0 = FromNanos(0);

NodeId IdFromByte(uint8_t first, uint8_t last) {
  std::array<uint8_t, NodeId::kBytes> b{};
  b[0] = first;
  b[NodeId::kBytes - 1] = last;
  return NodeId(b);
}

NodeId RandomId(Rng& rng) {
  std::array<uint8_t, NodeId::kBytes> b{};
  rng.Fill(absl::MakeSpan(b));
  return NodeId(b);
}

// A random ID whose log distance to `self` is exactly d (1..256): the XOR has
// bit d-1 (counting from the least significant bit) as its highest set bit.
NodeId IdAtDistance(const NodeId& self, int d, Rng& rng) {
  std::array<uint8_t, NodeId::kBytes> x{};
  rng.Fill(absl::MakeSpan(x));
  const int top = d - 1;
  for (int bit = 255; bit > top; --bit) x[31 - bit / 8] &= static_cast<uint8_t>(~(1u << (bit % 8)));
  x[31 - top / 8] |= static_cast<uint8_t>(1u << (top % 8));
  std::array<uint8_t, NodeId::kBytes> out = self.bytes();
  for (size_t i = 0; i < out.size(); ++i) out[i] ^= x[i];
  return NodeId(out);
}

IpAddress Ip(const char* text) {
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  EXPECT_TRUE(ip.ok()) << ip.status();
  return ip.ok() ? *ip : IpAddress();
}

Node MakeNode(const NodeId& id, const IpAddress& ip, uint16_t port = 30303) {
  Node n;
  n.id = id;
  n.ip = ip;
  n.tcp = port;
  n.udp = port;
  return n;
}

// A distinct LAN address per index (exempt from the IP limits).
IpAddress LanIp(int i) { return IpAddress::V4(10, 0, static_cast<uint8_t>(i / 256), i % 256); }

std::vector<NodeId> Ids(const std::vector<TableEntry>& entries) {
  std::vector<NodeId> out;
  for (const TableEntry& e : entries) out.push_back(e.node.id);
  return out;
}

std::vector<NodeId> Ids(const std::vector<Node>& nodes) {
  std::vector<NodeId> out;
  for (const Node& n : nodes) out.push_back(n.id);
  return out;
}

// XOR of a and b compared as big-endian numbers: a brute-force reference
// that does not use DistCmp.
std::array<uint8_t, 32> Xor(const NodeId& a, const NodeId& b) {
  std::array<uint8_t, 32> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = a.bytes()[i] ^ b.bytes()[i];
  return out;
}

// Fills bucket 16 (distance 256) of `tab` with bucket_size LAN nodes and
// returns their IDs in insertion order.
std::vector<NodeId> FillTopBucket(Table& tab, Rng& rng, int first_ip = 0) {
  std::vector<NodeId> ids;
  for (int i = 0; i < tab.config().bucket_size; ++i) {
    NodeId id = IdAtDistance(tab.self(), 256, rng);
    EXPECT_EQ(tab.AddSeenNode(MakeNode(id, LanIp(first_ip + i)), kT0), AddResult::kAdded);
    ids.push_back(id);
  }
  return ids;
}

// ---------------------------------------------------------------------------
// Bucket layout

TEST(TableTest, Constants) {
  EXPECT_EQ(kNumBuckets, 17);
  EXPECT_EQ(kBucketMinDistance, 239);
}

TEST(TableTest, BucketIndexForDistance) {
  EXPECT_EQ(BucketIndexForDistance(0), 0);
  EXPECT_EQ(BucketIndexForDistance(1), 0);
  EXPECT_EQ(BucketIndexForDistance(200), 0);
  EXPECT_EQ(BucketIndexForDistance(239), 0);
  EXPECT_EQ(BucketIndexForDistance(240), 0);
  EXPECT_EQ(BucketIndexForDistance(241), 1);
  EXPECT_EQ(BucketIndexForDistance(250), 10);
  EXPECT_EQ(BucketIndexForDistance(255), 15);
  EXPECT_EQ(BucketIndexForDistance(256), 16);
}

TEST(TableTest, BucketOfUsesLogDistanceToSelf) {
  Rng rng(1);
  const NodeId self = RandomId(rng);
  Table tab(self);
  for (int d = 1; d <= 256; ++d) {
    NodeId id = IdAtDistance(self, d, rng);
    ASSERT_EQ(LogDistance(self, id), d);
    EXPECT_EQ(tab.BucketOf(id), d <= 240 ? 0 : d - 240) << "d=" << d;
  }
  // Close nodes collapse into bucket 0 and are stored there.
  NodeId near1 = IdAtDistance(self, 1, rng);
  NodeId near239 = IdAtDistance(self, 239, rng);
  NodeId near240 = IdAtDistance(self, 240, rng);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(near1, LanIp(1)), kT0), AddResult::kAdded);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(near239, LanIp(2)), kT0), AddResult::kAdded);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(near240, LanIp(3)), kT0), AddResult::kAdded);
  EXPECT_EQ(Ids(tab.BucketEntries(0)), (std::vector<NodeId>{near1, near239, near240}));
  for (int i = 1; i < kNumBuckets; ++i) EXPECT_TRUE(tab.BucketEntries(i).empty());
}

TEST(TableTest, SelfAndNodesWithoutIpAreNeverAdded) {
  Rng rng(2);
  const NodeId self = RandomId(rng);
  Table tab(self);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(self, LanIp(1)), kT0), AddResult::kSelf);
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(self, LanIp(1)), kT0), AddResult::kSelf);
  NodeId other = IdAtDistance(self, 256, rng);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(other, IpAddress()), kT0), AddResult::kNoIp);
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(other, IpAddress()), kT0), AddResult::kNoIp);
  EXPECT_EQ(tab.Len(), 0u);
  EXPECT_FALSE(tab.Contains(self));
  EXPECT_FALSE(tab.Contains(other));
}

// ---------------------------------------------------------------------------
// Entries and replacements

TEST(TableTest, AddSeenNodeAppendsAndIgnoresDuplicates) {
  Rng rng(3);
  Table tab(RandomId(rng));
  NodeId a = IdAtDistance(tab.self(), 256, rng);
  NodeId b = IdAtDistance(tab.self(), 256, rng);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(a, LanIp(1)), kT0), AddResult::kAdded);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(b, LanIp(2)), kT0 + absl::Seconds(5)), AddResult::kAdded);
  // A second sighting, even with a new endpoint, changes nothing.
  EXPECT_EQ(tab.AddSeenNode(MakeNode(a, LanIp(9), 1), kT0 + absl::Seconds(9)),
            AddResult::kAlreadyPresent);
  EXPECT_EQ(Ids(tab.BucketEntries(16)), (std::vector<NodeId>{a, b}));
  ASSERT_NE(tab.Get(a), nullptr);
  EXPECT_EQ(tab.Get(a)->node.ip, LanIp(1));
  EXPECT_EQ(tab.Get(a)->node.udp, 30303);
  EXPECT_EQ(tab.Get(a)->added_at, kT0);
  EXPECT_EQ(tab.Get(b)->added_at, kT0 + absl::Seconds(5));
  EXPECT_EQ(tab.Get(a)->liveness_checks, 0);
  EXPECT_FALSE(tab.Get(a)->last_pong.has_value());
  EXPECT_EQ(tab.Len(), 2u);
}

TEST(TableTest, FullBucketFillsReplacementListNewestFirstCappedAtTen) {
  Rng rng(4);
  Table tab(RandomId(rng));
  std::vector<NodeId> entries = FillTopBucket(tab, rng);
  std::vector<NodeId> extra;
  for (int i = 0; i < 14; ++i) {
    NodeId id = IdAtDistance(tab.self(), 256, rng);
    EXPECT_EQ(tab.AddSeenNode(MakeNode(id, LanIp(100 + i)), kT0), AddResult::kAddedReplacement);
    extra.push_back(id);
  }
  EXPECT_EQ(Ids(tab.BucketEntries(16)), entries);
  EXPECT_EQ(tab.Len(), 16u);
  // Newest first; the four oldest were dropped.
  std::vector<NodeId> want(extra.rbegin(), extra.rbegin() + 10);
  EXPECT_EQ(Ids(tab.BucketReplacements(16)), want);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(tab.IsReplacement(extra[i]));
  for (int i = 4; i < 14; ++i) EXPECT_TRUE(tab.IsReplacement(extra[i]));
  // Seen again: stays where it is, both as seen and as verified.
  EXPECT_EQ(tab.AddSeenNode(MakeNode(extra[5], LanIp(105)), kT0), AddResult::kAlreadyReplacement);
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(extra[5], LanIp(105)), kT0),
            AddResult::kAlreadyReplacement);
  EXPECT_EQ(Ids(tab.BucketReplacements(16)), want);
  // Other buckets are untouched.
  for (int i = 0; i < 16; ++i) EXPECT_TRUE(tab.BucketReplacements(i).empty());
}

TEST(TableTest, DroppedReplacementGivesBackItsIpSlot) {
  Rng rng(5);
  Table tab(RandomId(rng));
  FillTopBucket(tab, rng);
  std::vector<Node> reps;
  for (int i = 0; i < 11; ++i) {
    Node n = MakeNode(IdAtDistance(tab.self(), 256, rng),
                      IpAddress::V4(1, 0, static_cast<uint8_t>(i), 1));
    EXPECT_EQ(tab.AddSeenNode(n, kT0), AddResult::kAddedReplacement);
    reps.push_back(n);
  }
  EXPECT_FALSE(tab.IsReplacement(reps[0].id));
  EXPECT_EQ(tab.TableIpCount(reps[0].ip), 0);
  EXPECT_EQ(tab.BucketIpCount(16, reps[0].ip), 0);
  for (int i = 1; i < 11; ++i) {
    EXPECT_EQ(tab.TableIpCount(reps[i].ip), 1);
    EXPECT_EQ(tab.BucketIpCount(16, reps[i].ip), 1);
  }
}

TEST(TableTest, ZeroReplacementsDropsNodesForFullBucket) {
  Rng rng(6);
  TableConfig cfg;
  cfg.bucket_size = 2;
  cfg.max_replacements = 0;
  Table tab(RandomId(rng), cfg);
  FillTopBucket(tab, rng);
  Node n = MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("1.2.3.4"));
  EXPECT_EQ(tab.AddSeenNode(n, kT0), AddResult::kBucketFull);
  EXPECT_FALSE(tab.IsReplacement(n.id));
  EXPECT_EQ(tab.TableIpCount(n.ip), 0);
}

TEST(TableTest, AddVerifiedNodeBumpsToFront) {
  Rng rng(7);
  Table tab(RandomId(rng));
  NodeId a = IdAtDistance(tab.self(), 255, rng);
  NodeId b = IdAtDistance(tab.self(), 255, rng);
  NodeId c = IdAtDistance(tab.self(), 255, rng);
  NodeId d = IdAtDistance(tab.self(), 255, rng);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(a, LanIp(1)), kT0), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(b, LanIp(2)), kT0), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(c, LanIp(3)), kT0), AddResult::kAdded);
  ASSERT_TRUE(tab.NodeRevalidated(c, kT0 + absl::Seconds(1)));  // c a b
  ASSERT_TRUE(tab.NodeRevalidated(a, kT0 + absl::Seconds(2)));  // a c b
  EXPECT_EQ(Ids(tab.BucketEntries(15)), (std::vector<NodeId>{a, c, b}));

  const MonoTime later = kT0 + absl::Seconds(10);
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(c, LanIp(3)), later), AddResult::kBumped);
  EXPECT_EQ(Ids(tab.BucketEntries(15)), (std::vector<NodeId>{c, a, b}));
  // Same endpoint: the entry keeps its history.
  EXPECT_EQ(tab.Get(c)->added_at, kT0);
  EXPECT_EQ(tab.Get(c)->liveness_checks, 1);
  EXPECT_EQ(tab.Get(c)->last_pong, kT0 + absl::Seconds(1));

  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(b, LanIp(2)), later), AddResult::kBumped);
  EXPECT_EQ(Ids(tab.BucketEntries(15)), (std::vector<NodeId>{b, c, a}));
  // A new verified node goes to the front, a new seen one to the end.
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(d, LanIp(4)), later), AddResult::kAdded);
  EXPECT_EQ(Ids(tab.BucketEntries(15)), (std::vector<NodeId>{d, b, c, a}));
  EXPECT_EQ(tab.Get(d)->added_at, later);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(a, LanIp(1)), later), AddResult::kAlreadyPresent);
  EXPECT_EQ(Ids(tab.BucketEntries(15)), (std::vector<NodeId>{d, b, c, a}));
}

TEST(TableTest, AddVerifiedNodeUpdatesEndpointWithinIpLimits) {
  Rng rng(8);
  Table tab(RandomId(rng));
  NodeId a = IdAtDistance(tab.self(), 256, rng);
  NodeId b = IdAtDistance(tab.self(), 256, rng);
  NodeId c = IdAtDistance(tab.self(), 256, rng);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(a, Ip("1.2.3.4")), kT0), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(b, Ip("5.6.7.1")), kT0), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(c, Ip("5.6.7.2")), kT0), AddResult::kAdded);
  ASSERT_TRUE(tab.NodeRevalidated(a, kT0));
  ASSERT_TRUE(tab.NodeRevalidated(b, kT0));  // b a c
  ASSERT_TRUE(tab.NodeRevalidated(c, kT0));  // c b a
  ASSERT_EQ(tab.Get(a)->liveness_checks, 1);

  // New UDP port, same IP: updated, liveness proof reset.
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(a, Ip("1.2.3.4"), 30304), kT0), AddResult::kBumped);
  EXPECT_EQ(Ids(tab.BucketEntries(16)), (std::vector<NodeId>{a, c, b}));
  EXPECT_EQ(tab.Get(a)->node.udp, 30304);
  EXPECT_EQ(tab.Get(a)->liveness_checks, 0);

  // Moving b into 1.2.3.0/24 fits (1 of 2 slots used there).
  ASSERT_TRUE(tab.NodeRevalidated(b, kT0));  // b a c
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(b, Ip("1.2.3.5")), kT0), AddResult::kBumped);
  EXPECT_EQ(tab.Get(b)->node.ip, Ip("1.2.3.5"));
  EXPECT_EQ(tab.BucketIpCount(16, Ip("1.2.3.0")), 2);
  EXPECT_EQ(tab.BucketIpCount(16, Ip("5.6.7.0")), 1);
  EXPECT_EQ(tab.TableIpCount(Ip("1.2.3.0")), 2);
  EXPECT_EQ(tab.TableIpCount(Ip("5.6.7.0")), 1);

  // Moving c there as well does not fit: c stays as it was, in place.
  ASSERT_EQ(Ids(tab.BucketEntries(16)), (std::vector<NodeId>{b, a, c}));
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(c, Ip("1.2.3.6")), kT0), AddResult::kIpLimit);
  EXPECT_EQ(Ids(tab.BucketEntries(16)), (std::vector<NodeId>{b, a, c}));
  EXPECT_EQ(tab.Get(c)->node.ip, Ip("5.6.7.2"));
  EXPECT_EQ(tab.Get(c)->liveness_checks, 1);
  EXPECT_EQ(tab.BucketIpCount(16, Ip("1.2.3.0")), 2);
  EXPECT_EQ(tab.BucketIpCount(16, Ip("5.6.7.0")), 1);
  EXPECT_EQ(tab.TableIpCount(Ip("1.2.3.0")), 2);

  // Moving to a LAN address frees the public slot.
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(a, LanIp(7)), kT0), AddResult::kBumped);
  EXPECT_EQ(tab.BucketIpCount(16, Ip("1.2.3.0")), 1);
  EXPECT_EQ(tab.TableIpCount(Ip("1.2.3.0")), 1);
}

TEST(TableTest, AddVerifiedNodeMovesFromReplacements) {
  Rng rng(9);
  Table tab(RandomId(rng));
  std::vector<NodeId> entries = FillTopBucket(tab, rng);
  Node x = MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("8.8.8.8"));
  Node y = MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("9.9.9.9"));
  ASSERT_EQ(tab.AddSeenNode(x, kT0), AddResult::kAddedReplacement);
  ASSERT_EQ(tab.AddSeenNode(y, kT0), AddResult::kAddedReplacement);
  EXPECT_EQ(tab.TableIpCount(x.ip), 1);

  ASSERT_TRUE(tab.Delete(entries[5]));
  EXPECT_EQ(tab.Len(), 15u);
  const MonoTime later = kT0 + absl::Minutes(1);
  EXPECT_EQ(tab.AddVerifiedNode(x, later), AddResult::kAdded);
  EXPECT_EQ(tab.BucketEntries(16).front().node.id, x.id);
  EXPECT_EQ(tab.Get(x.id)->added_at, later);
  EXPECT_FALSE(tab.IsReplacement(x.id));
  EXPECT_EQ(Ids(tab.BucketReplacements(16)), (std::vector<NodeId>{y.id}));
  // One slot for x, not one as entry plus a leaked one as replacement.
  EXPECT_EQ(tab.TableIpCount(x.ip), 1);
  EXPECT_EQ(tab.BucketIpCount(16, x.ip), 1);

  // A seen node leaves the replacements for the end of the bucket.
  ASSERT_TRUE(tab.Delete(entries[0]));
  EXPECT_EQ(tab.AddSeenNode(y, later), AddResult::kAdded);
  EXPECT_EQ(tab.BucketEntries(16).back().node.id, y.id);
  EXPECT_TRUE(tab.BucketReplacements(16).empty());
  EXPECT_EQ(tab.TableIpCount(y.ip), 1);
  EXPECT_EQ(tab.Len(), 16u);
}

TEST(TableTest, PromotionFromReplacementsWithNewIpRespectsLimits) {
  Rng rng(10);
  Table tab(RandomId(rng));
  // Bucket 16: two entries in 1.2.3.0/24, and a replacement elsewhere.
  ASSERT_EQ(tab.AddSeenNode(MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("1.2.3.1")), kT0),
            AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("1.2.3.2")), kT0),
            AddResult::kAdded);
  TableConfig cfg;
  Node x = MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("4.4.4.4"));
  for (int i = 2; i < cfg.bucket_size; ++i) {
    ASSERT_EQ(tab.AddSeenNode(MakeNode(IdAtDistance(tab.self(), 256, rng), LanIp(i)), kT0),
              AddResult::kAdded);
  }
  ASSERT_EQ(tab.AddSeenNode(x, kT0), AddResult::kAddedReplacement);
  ASSERT_TRUE(tab.Delete(tab.BucketEntries(16).back().node.id));
  // x now claims an address in the full /24: refused, and it keeps its
  // replacement place and slot.
  Node moved = x;
  moved.ip = Ip("1.2.3.3");
  EXPECT_EQ(tab.AddVerifiedNode(moved, kT0), AddResult::kIpLimit);
  EXPECT_TRUE(tab.IsReplacement(x.id));
  EXPECT_FALSE(tab.Contains(x.id));
  EXPECT_EQ(tab.TableIpCount(x.ip), 1);
  EXPECT_EQ(tab.BucketIpCount(16, Ip("1.2.3.0")), 2);
  // With its old address it moves in.
  EXPECT_EQ(tab.AddVerifiedNode(x, kT0), AddResult::kAdded);
  EXPECT_EQ(tab.TableIpCount(x.ip), 1);
}

// ---------------------------------------------------------------------------
// IP limits

TEST(TableTest, BucketIpLimitIsTwoPerSlash24) {
  Rng rng(11);
  Table tab(RandomId(rng));
  NodeId a = IdAtDistance(tab.self(), 256, rng);
  NodeId b = IdAtDistance(tab.self(), 256, rng);
  NodeId c = IdAtDistance(tab.self(), 256, rng);
  NodeId other_bucket = IdAtDistance(tab.self(), 255, rng);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(a, Ip("1.2.3.1")), kT0), AddResult::kAdded);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(b, Ip("1.2.3.2")), kT0), AddResult::kAdded);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(c, Ip("1.2.3.3")), kT0), AddResult::kIpLimit);
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(c, Ip("1.2.3.255")), kT0), AddResult::kIpLimit);
  EXPECT_FALSE(tab.Contains(c));
  // A different /24 and another bucket are fine.
  EXPECT_EQ(tab.AddSeenNode(MakeNode(c, Ip("1.2.4.3")), kT0), AddResult::kAdded);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(other_bucket, Ip("1.2.3.3")), kT0), AddResult::kAdded);
  EXPECT_EQ(tab.BucketIpCount(16, Ip("1.2.3.0")), 2);
  EXPECT_EQ(tab.BucketIpCount(15, Ip("1.2.3.0")), 1);
  EXPECT_EQ(tab.TableIpCount(Ip("1.2.3.0")), 3);
}

TEST(TableTest, ReplacementsCountAgainstBucketIpLimit) {
  Rng rng(12);
  Table tab(RandomId(rng));
  FillTopBucket(tab, rng);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("1.2.3.1")), kT0),
            AddResult::kAddedReplacement);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("1.2.3.2")), kT0),
            AddResult::kAddedReplacement);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("1.2.3.3")), kT0),
            AddResult::kIpLimit);
  EXPECT_EQ(tab.BucketReplacements(16).size(), 2u);
}

TEST(TableTest, TableIpLimitIsTenPerSlash24) {
  Rng rng(13);
  Table tab(RandomId(rng));
  // Two per bucket in buckets 16..12 reach the table limit of 10.
  std::vector<NodeId> added;
  for (int d = 256; d > 251; --d) {
    for (int k = 0; k < 2; ++k) {
      NodeId id = IdAtDistance(tab.self(), d, rng);
      IpAddress ip = IpAddress::V4(77, 1, 1, static_cast<uint8_t>(added.size() + 1));
      ASSERT_EQ(tab.AddSeenNode(MakeNode(id, ip), kT0), AddResult::kAdded);
      added.push_back(id);
    }
  }
  EXPECT_EQ(tab.TableIpCount(Ip("77.1.1.0")), 10);
  NodeId eleventh = IdAtDistance(tab.self(), 250, rng);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(eleventh, Ip("77.1.1.200")), kT0), AddResult::kIpLimit);
  EXPECT_EQ(tab.AddVerifiedNode(MakeNode(eleventh, Ip("77.1.1.200")), kT0), AddResult::kIpLimit);
  // The refused table slot did not leave a bucket slot behind.
  EXPECT_EQ(tab.BucketIpCount(10, Ip("77.1.1.0")), 0);
  EXPECT_EQ(tab.TableIpCount(Ip("77.1.1.0")), 10);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(eleventh, Ip("77.1.2.1")), kT0), AddResult::kAdded);
}

TEST(TableTest, LanAddressesAreExemptFromIpLimits) {
  for (const char* base : {"10.1.2.", "127.0.0.", "192.168.1.", "172.16.5."}) {
    SCOPED_TRACE(base);
    Rng rng(14);
    Table tab(RandomId(rng));
    for (int i = 1; i <= 20; ++i) {
      NodeId id = IdAtDistance(tab.self(), 256, rng);
      IpAddress ip = Ip(absl::StrCat(base, i).c_str());
      EXPECT_EQ(tab.AddSeenNode(MakeNode(id, ip), kT0),
                i <= 16 ? AddResult::kAdded : AddResult::kAddedReplacement);
    }
    // Twelve more in other buckets: beyond the table limit of 10.
    for (int i = 21; i <= 32; ++i) {
      NodeId id = IdAtDistance(tab.self(), 250, rng);
      EXPECT_EQ(tab.AddSeenNode(MakeNode(id, Ip(absl::StrCat(base, i).c_str())), kT0),
                AddResult::kAdded);
    }
    EXPECT_EQ(tab.Len(), 28u);
    EXPECT_EQ(tab.BucketReplacements(16).size(), 4u);
    EXPECT_EQ(tab.TableIpCount(Ip(absl::StrCat(base, 1).c_str())), 0);
  }
  // IPv4 link-local is not LAN for go-ethereum, so it is limited.
  Rng rng(15);
  Table tab(RandomId(rng));
  for (int i = 1; i <= 3; ++i) {
    NodeId id = IdAtDistance(tab.self(), 256, rng);
    EXPECT_EQ(
        tab.AddSeenNode(MakeNode(id, IpAddress::V4(169, 254, 0, static_cast<uint8_t>(i))), kT0),
        i <= 2 ? AddResult::kAdded : AddResult::kIpLimit);
  }
}

TEST(TableTest, DeleteFreesIpSlots) {
  Rng rng(16);
  Table tab(RandomId(rng));
  NodeId a = IdAtDistance(tab.self(), 256, rng);
  NodeId b = IdAtDistance(tab.self(), 256, rng);
  NodeId c = IdAtDistance(tab.self(), 256, rng);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(a, Ip("1.2.3.1")), kT0), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(b, Ip("1.2.3.2")), kT0), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(c, Ip("1.2.3.3")), kT0), AddResult::kIpLimit);
  EXPECT_TRUE(tab.Delete(a));
  EXPECT_FALSE(tab.Delete(a));
  EXPECT_FALSE(tab.Contains(a));
  EXPECT_EQ(tab.BucketIpCount(16, Ip("1.2.3.0")), 1);
  EXPECT_EQ(tab.TableIpCount(Ip("1.2.3.0")), 1);
  EXPECT_EQ(tab.AddSeenNode(MakeNode(c, Ip("1.2.3.3")), kT0), AddResult::kAdded);

  // Table-wide: ten in the /24 across buckets, one deleted, one more fits.
  Table tab2(RandomId(rng));
  std::vector<NodeId> ids;
  for (int i = 0; i < 10; ++i) {
    NodeId id = IdAtDistance(tab2.self(), 256 - i / 2, rng);
    ASSERT_EQ(
        tab2.AddSeenNode(MakeNode(id, IpAddress::V4(3, 3, 3, static_cast<uint8_t>(i + 1))), kT0),
        AddResult::kAdded);
    ids.push_back(id);
  }
  NodeId late = IdAtDistance(tab2.self(), 245, rng);
  ASSERT_EQ(tab2.AddSeenNode(MakeNode(late, Ip("3.3.3.99")), kT0), AddResult::kIpLimit);
  ASSERT_TRUE(tab2.Delete(ids[3]));
  EXPECT_EQ(tab2.AddSeenNode(MakeNode(late, Ip("3.3.3.99")), kT0), AddResult::kAdded);
  EXPECT_EQ(tab2.TableIpCount(Ip("3.3.3.0")), 10);
}

TEST(TableTest, DeleteDoesNotPromoteReplacements) {
  Rng rng(17);
  Table tab(RandomId(rng));
  std::vector<NodeId> entries = FillTopBucket(tab, rng);
  NodeId rep = IdAtDistance(tab.self(), 256, rng);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(rep, LanIp(500)), kT0), AddResult::kAddedReplacement);
  EXPECT_TRUE(tab.Delete(entries[0]));
  EXPECT_EQ(tab.Len(), 15u);
  EXPECT_TRUE(tab.IsReplacement(rep));
  // Replacements are not entries and cannot be deleted as such.
  EXPECT_FALSE(tab.Delete(rep));
  EXPECT_TRUE(tab.IsReplacement(rep));
}

// ---------------------------------------------------------------------------
// Revalidation

TEST(TableTest, ReplaceDeadPromotesRandomReplacement) {
  Rng rng(18);
  Table tab(RandomId(rng));
  std::vector<NodeId> entries = FillTopBucket(tab, rng);
  std::vector<Node> reps;
  for (int i = 0; i < 3; ++i) {
    Node n = MakeNode(IdAtDistance(tab.self(), 256, rng),
                      IpAddress::V4(20, static_cast<uint8_t>(i), 0, 1));
    ASSERT_EQ(tab.AddSeenNode(n, kT0), AddResult::kAddedReplacement);
    reps.push_back(n);
  }
  const std::vector<Node> before = tab.BucketReplacements(16);
  const NodeId dead = entries.back();

  Rng pick(99);
  Rng predict = pick;
  const Node expected = before[predict.Intn(3)];
  const MonoTime now = kT0 + absl::Minutes(3);
  ReplaceResult r = tab.ReplaceDead(dead, now, pick);
  EXPECT_TRUE(r.removed);
  ASSERT_TRUE(r.replacement.has_value());
  EXPECT_EQ(*r.replacement, expected);
  EXPECT_FALSE(tab.Contains(dead));
  EXPECT_EQ(tab.Len(), 16u);
  EXPECT_EQ(tab.BucketEntries(16).back().node, expected);
  EXPECT_EQ(tab.BucketEntries(16).back().added_at, now);
  EXPECT_FALSE(tab.IsReplacement(expected.id));
  EXPECT_EQ(tab.BucketReplacements(16).size(), 2u);
  // The promoted node keeps exactly its one slot.
  EXPECT_EQ(tab.TableIpCount(expected.ip), 1);
  EXPECT_EQ(tab.BucketIpCount(16, expected.ip), 1);
  for (int i = 0; i + 1 < 16; ++i) EXPECT_EQ(tab.BucketEntries(16)[i].node.id, entries[i]);
}

TEST(TableTest, ReplaceDeadFreesDeadNodesSlot) {
  Rng rng(19);
  Table tab(RandomId(rng));
  Node a = MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("1.2.3.1"));
  Node b = MakeNode(IdAtDistance(tab.self(), 256, rng), Ip("1.2.3.2"));
  ASSERT_EQ(tab.AddSeenNode(a, kT0), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(b, kT0), AddResult::kAdded);
  Rng pick(1);
  ReplaceResult r = tab.ReplaceDead(b.id, kT0, pick);
  EXPECT_TRUE(r.removed);
  EXPECT_FALSE(r.replacement.has_value());
  EXPECT_EQ(tab.Len(), 1u);
  EXPECT_EQ(tab.BucketIpCount(16, a.ip), 1);
  EXPECT_EQ(tab.TableIpCount(a.ip), 1);
}

TEST(TableTest, ReplaceDeadIgnoresNodesThatAreNotLast) {
  Rng rng(20);
  Table tab(RandomId(rng));
  std::vector<NodeId> entries = FillTopBucket(tab, rng);
  NodeId rep = IdAtDistance(tab.self(), 256, rng);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(rep, LanIp(300)), kT0), AddResult::kAddedReplacement);
  Rng pick(2);
  // Picked for revalidation, then bumped by a ping before its pong timed out.
  std::optional<Node> last = tab.NodeToRevalidate(pick);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->id, entries.back());
  ASSERT_EQ(tab.AddVerifiedNode(*last, kT0), AddResult::kBumped);
  ReplaceResult r = tab.ReplaceDead(last->id, kT0, pick);
  EXPECT_FALSE(r.removed);
  EXPECT_FALSE(r.replacement.has_value());
  EXPECT_TRUE(tab.Contains(last->id));
  EXPECT_TRUE(tab.IsReplacement(rep));
  EXPECT_EQ(tab.Len(), 16u);
  // Unknown IDs are ignored too.
  EXPECT_FALSE(tab.ReplaceDead(IdAtDistance(tab.self(), 256, rng), kT0, pick).removed);
}

TEST(TableTest, NodeRevalidatedCountsAndBumps) {
  Rng rng(21);
  Table tab(RandomId(rng));
  std::vector<NodeId> entries = FillTopBucket(tab, rng);
  const MonoTime t1 = kT0 + absl::Seconds(3);
  const MonoTime t2 = kT0 + absl::Seconds(6);
  EXPECT_TRUE(tab.NodeRevalidated(entries.back(), t1));
  EXPECT_TRUE(tab.NodeRevalidated(entries.back(), t2));
  EXPECT_EQ(tab.BucketEntries(16).front().node.id, entries.back());
  EXPECT_EQ(tab.Get(entries.back())->liveness_checks, 2);
  EXPECT_EQ(tab.Get(entries.back())->last_pong, t2);
  EXPECT_EQ(tab.BucketEntries(16).back().node.id, entries[14]);
  EXPECT_FALSE(tab.NodeRevalidated(IdAtDistance(tab.self(), 256, rng), t1));

  EXPECT_TRUE(tab.RecordPong(entries[3], t1));
  EXPECT_EQ(tab.Get(entries[3])->last_pong, t1);
  EXPECT_EQ(tab.Get(entries[3])->liveness_checks, 0);
  EXPECT_EQ(tab.BucketEntries(16)[4].node.id, entries[3]);  // Not moved.
  EXPECT_FALSE(tab.RecordPong(IdAtDistance(tab.self(), 256, rng), t1));
}

TEST(TableTest, NodeToRevalidatePicksLastOfRandomNonEmptyBucket) {
  Rng rng(22);
  Table tab(RandomId(rng));
  Rng pick(5);
  EXPECT_FALSE(tab.NodeToRevalidate(pick).has_value());

  std::set<NodeId> lasts;
  for (int d : {256, 250, 241, 100}) {
    for (int k = 0; k < 3; ++k) {
      NodeId id = IdAtDistance(tab.self(), d, rng);
      ASSERT_EQ(tab.AddSeenNode(MakeNode(id, LanIp(static_cast<int>(tab.Len()))), kT0),
                AddResult::kAdded);
      if (k == 2) lasts.insert(id);
    }
  }
  std::set<NodeId> seen;
  for (int i = 0; i < 200; ++i) {
    std::optional<Node> n = tab.NodeToRevalidate(pick);
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(lasts.count(n->id), 1u);
    seen.insert(n->id);
  }
  EXPECT_EQ(seen, lasts);

  // The visiting order is Go's rand.Perm over the 17 buckets.
  Rng a(77), b(77);
  std::array<int, kNumBuckets> perm{};
  for (int i = 0; i < kNumBuckets; ++i) {
    int j = b.Intn(i + 1);
    perm[i] = perm[j];
    perm[j] = i;
  }
  int first = -1;
  for (int bi : perm) {
    if (!tab.BucketEntries(bi).empty()) {
      first = bi;
      break;
    }
  }
  ASSERT_GE(first, 0);
  EXPECT_EQ(tab.NodeToRevalidate(a)->id, tab.BucketEntries(first).back().node.id);
}

// ---------------------------------------------------------------------------
// Queries

TEST(TableTest, ClosestMatchesBruteForce) {
  Rng rng(2024);
  for (int round = 0; round < 1000; ++round) {
    SCOPED_TRACE(round);
    Table tab(RandomId(rng));
    const int count = rng.Intn(200);
    for (int i = 0; i < count; ++i) {
      NodeId id = IdAtDistance(tab.self(), 230 + rng.Intn(27), rng);
      tab.AddSeenNode(MakeNode(id, LanIp(i)), kT0);
    }
    std::vector<NodeId> all;
    std::vector<NodeId> live;
    for (const TableNodeInfo& info : tab.Nodes()) {
      all.push_back(info.entry.node.id);
      if (rng.Chance(1, 4)) live.push_back(info.entry.node.id);
    }
    for (const NodeId& id : live) ASSERT_TRUE(tab.NodeRevalidated(id, kT0));

    // A random target, or one at any distance from the table's own ID (so
    // that every bucket is the first one read), or one in the table, or the
    // table's own ID.
    NodeId target = RandomId(rng);
    if (rng.Chance(1, 2)) target = IdAtDistance(tab.self(), 200 + rng.Intn(57), rng);
    if (!all.empty() && rng.Chance(1, 5)) target = all[rng.Intn(static_cast<int>(all.size()))];
    if (rng.Chance(1, 10)) target = tab.self();
    const size_t n = static_cast<size_t>(rng.Intn(20));

    auto brute = [&](std::vector<NodeId> ids) {
      std::sort(ids.begin(), ids.end(),
                [&](const NodeId& x, const NodeId& y) { return Xor(x, target) < Xor(y, target); });
      if (ids.size() > n) ids.resize(n);
      return ids;
    };
    EXPECT_EQ(Ids(tab.Closest(target, n)), brute(all));
    EXPECT_EQ(Ids(tab.Closest(target, n, /*prefer_live=*/true)), brute(live.empty() ? all : live));
  }
}

TEST(TableTest, ClosestReturnsFullRecords) {
  Rng rng(23);
  Table tab(RandomId(rng));
  Node a = MakeNode(IdFromByte(0x80, 1), Ip("1.2.3.4"), 30301);
  Node b = MakeNode(IdFromByte(0x80, 2), Ip("5.6.7.8"), 30302);
  ASSERT_EQ(tab.AddSeenNode(a, kT0), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(b, kT0), AddResult::kAdded);
  EXPECT_EQ(tab.Closest(IdFromByte(0x80, 3), 5), (std::vector<Node>{b, a}));
  EXPECT_EQ(tab.Closest(IdFromByte(0x80, 0), 1), (std::vector<Node>{a}));
  EXPECT_TRUE(tab.Closest(IdFromByte(0x80, 0), 0).empty());
}

TEST(TableTest, ReadRandomNodesReturnsDistinctTableNodes) {
  Rng rng(24);
  Table tab(RandomId(rng));
  std::vector<Node> buf(100);
  Rng pick(3);
  EXPECT_EQ(tab.ReadRandomNodes(absl::MakeSpan(buf), pick), 0u);

  std::set<NodeId> members;
  for (int i = 0; i < 40; ++i) {
    NodeId id = IdAtDistance(tab.self(), 240 + rng.Intn(17), rng);
    if (tab.AddSeenNode(MakeNode(id, LanIp(i)), kT0) == AddResult::kAdded) members.insert(id);
  }
  ASSERT_EQ(members.size(), tab.Len());
  ASSERT_GT(members.size(), 20u);

  // Larger buffer: every node exactly once.
  size_t got = tab.ReadRandomNodes(absl::MakeSpan(buf), pick);
  ASSERT_EQ(got, members.size());
  std::vector<NodeId> got_ids = Ids(std::vector<Node>(buf.begin(), buf.begin() + got));
  std::set<NodeId> all(got_ids.begin(), got_ids.end());
  EXPECT_EQ(all.size(), got);
  EXPECT_EQ(all, members);

  // Smaller buffers: distinct members, and not always the same ones.
  std::set<NodeId> union_of_small;
  std::vector<Node> small(10);
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(tab.ReadRandomNodes(absl::MakeSpan(small), pick), 10u);
    std::set<NodeId> distinct;
    for (const Node& n : small) {
      EXPECT_EQ(members.count(n.id), 1u);
      ASSERT_NE(tab.Get(n.id), nullptr);
      EXPECT_EQ(tab.Get(n.id)->node, n);
      distinct.insert(n.id);
      union_of_small.insert(n.id);
    }
    EXPECT_EQ(distinct.size(), 10u);
  }
  EXPECT_GT(union_of_small.size(), 10u);
}

TEST(TableTest, NodesListsBucketsInOrder) {
  Rng rng(25);
  Table tab(RandomId(rng));
  NodeId far1 = IdAtDistance(tab.self(), 256, rng);
  NodeId far2 = IdAtDistance(tab.self(), 256, rng);
  NodeId mid = IdAtDistance(tab.self(), 245, rng);
  NodeId near = IdAtDistance(tab.self(), 12, rng);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(far1, LanIp(1)), kT0), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(mid, LanIp(2)), kT0 + absl::Seconds(1)), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(far2, LanIp(3)), kT0 + absl::Seconds(2)), AddResult::kAdded);
  ASSERT_EQ(tab.AddSeenNode(MakeNode(near, LanIp(4)), kT0 + absl::Seconds(3)), AddResult::kAdded);
  ASSERT_TRUE(tab.NodeRevalidated(far2, kT0 + absl::Seconds(4)));
  std::vector<TableNodeInfo> nodes = tab.Nodes();
  ASSERT_EQ(nodes.size(), 4u);
  EXPECT_EQ(nodes[0].bucket, 0);
  EXPECT_EQ(nodes[0].entry.node.id, near);
  EXPECT_EQ(nodes[1].bucket, 5);
  EXPECT_EQ(nodes[1].entry.node.id, mid);
  EXPECT_EQ(nodes[1].entry.added_at, kT0 + absl::Seconds(1));
  EXPECT_EQ(nodes[2].bucket, 16);
  EXPECT_EQ(nodes[2].entry.node.id, far2);
  EXPECT_EQ(nodes[2].entry.liveness_checks, 1);
  EXPECT_EQ(nodes[3].bucket, 16);
  EXPECT_EQ(nodes[3].entry.node.id, far1);
}

// ---------------------------------------------------------------------------
// Determinism

// A scripted run: random adds (seen and verified), revalidations, deaths and
// queries, all drawn from one seed. Returns everything observable.
std::vector<std::vector<NodeId>> Script(uint64_t seed) {
  Rng rng(seed);
  Table tab(RandomId(rng));
  std::vector<std::vector<NodeId>> out;
  MonoTime now = kT0;
  for (int step = 0; step < 400; ++step) {
    now += absl::Milliseconds(100);
    NodeId id = IdAtDistance(tab.self(), 245 + rng.Intn(12), rng);
    IpAddress ip = IpAddress::V4(static_cast<uint8_t>(1 + rng.Intn(5)), 0,
                                 static_cast<uint8_t>(rng.Intn(3)), static_cast<uint8_t>(step));
    switch (rng.Intn(4)) {
      case 0:
      case 1:
        tab.AddSeenNode(MakeNode(id, ip), now);
        break;
      case 2:
        tab.AddVerifiedNode(MakeNode(id, ip), now);
        break;
      case 3: {
        std::optional<Node> n = tab.NodeToRevalidate(rng);
        if (!n.has_value()) break;
        if (rng.Chance(1, 2)) {
          tab.NodeRevalidated(n->id, now);
        } else {
          ReplaceResult r = tab.ReplaceDead(n->id, now, rng);
          if (r.replacement.has_value()) out.push_back({r.replacement->id});
        }
        break;
      }
    }
  }
  std::vector<Node> buf(20);
  size_t got = tab.ReadRandomNodes(absl::MakeSpan(buf), rng);
  buf.resize(got);
  out.push_back(Ids(buf));
  out.push_back(Ids(tab.Closest(RandomId(rng), 16, true)));
  std::vector<NodeId> listing;
  for (const TableNodeInfo& info : tab.Nodes()) listing.push_back(info.entry.node.id);
  out.push_back(listing);
  for (int i = 0; i < kNumBuckets; ++i) out.push_back(Ids(tab.BucketReplacements(i)));
  return out;
}

TEST(TableTest, SameSeedSameResults) {
  std::vector<std::vector<NodeId>> a = Script(42);
  std::vector<std::vector<NodeId>> b = Script(42);
  EXPECT_EQ(a, b);
  EXPECT_GT(a.size(), static_cast<size_t>(3 + kNumBuckets));  // Some replacements happened.
  EXPECT_NE(Script(43), a);
}

// ---------------------------------------------------------------------------
// DistinctNetSet

TEST(DistinctNetSetTest, LimitsPerPrefix) {
  DistinctNetSet set(24, 2);
  EXPECT_TRUE(set.Add(Ip("1.2.3.4")));
  EXPECT_TRUE(set.Add(Ip("1.2.3.4")));  // A multiset: the same address twice.
  EXPECT_FALSE(set.Add(Ip("1.2.3.200")));
  EXPECT_TRUE(set.Add(Ip("1.2.4.1")));
  EXPECT_EQ(set.CountInNet(Ip("1.2.3.99")), 2);
  EXPECT_EQ(set.Len(), 3);
  set.Remove(Ip("1.2.3.77"));
  EXPECT_EQ(set.CountInNet(Ip("1.2.3.0")), 1);
  EXPECT_TRUE(set.Add(Ip("1.2.3.200")));
  set.Remove(Ip("9.9.9.9"));  // Not present: no effect.
  EXPECT_EQ(set.Len(), 3);
  set.Remove(Ip("1.2.3.1"));
  set.Remove(Ip("1.2.3.1"));
  set.Remove(Ip("1.2.3.1"));
  EXPECT_FALSE(set.Contains(Ip("1.2.3.1")));
  EXPECT_TRUE(set.Contains(Ip("1.2.4.255")));
  EXPECT_EQ(set.Len(), 1);
}

TEST(DistinctNetSetTest, Ipv6UsesLeadingBitsOfTheFullAddress) {
  DistinctNetSet set(24, 1);
  EXPECT_TRUE(set.Add(Ip("2001:db8::1")));
  EXPECT_FALSE(set.Add(Ip("2001:dff:1::1")));  // Same first 24 bits (2001:0d).
  EXPECT_TRUE(set.Add(Ip("2001:e00::1")));
  // IPv4 and IPv6 never share a key, even with equal masked bytes.
  DistinctNetSet v(0, 1);
  EXPECT_TRUE(v.Add(Ip("1.2.3.4")));
  EXPECT_FALSE(v.Add(Ip("5.6.7.8")));
  EXPECT_TRUE(v.Add(Ip("::2")));
}

TEST(TableTest, AddResultNames) {
  EXPECT_STREQ(AddResultName(AddResult::kAdded), "added");
  EXPECT_STREQ(AddResultName(AddResult::kIpLimit), "ip-limit");
  EXPECT_STREQ(AddResultName(AddResult::kSelf), "self");
}

}  // namespace
}  // namespace discover
}  // namespace p2p
