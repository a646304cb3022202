#include "transport/node_db.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/crypto/secp256k1.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/errno_status.h"

namespace p2p::transport {
namespace {

using discover::KnownNode;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The public key of private key 1 is the curve's generator point.
constexpr char kKey1Pub[] =
    "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";

// A node with private key `k` (1..65535).
Node TestNode(int k, IpAddress ip, uint16_t tcp, uint16_t udp) {
  char hex[65];
  std::snprintf(hex, sizeof(hex), "%060d%04x", 0, k);
  const absl::StatusOr<PrivateKey> priv = PrivateKey::FromHex(hex);
  EXPECT_TRUE(priv.ok()) << priv.status();
  return Node::FromPublicKey(DerivePublicKey(*priv), ip, tcp, udp);
}

Node TestNode(int k) {
  return TestNode(k, IpAddress::V4(0x0a000000u + static_cast<uint32_t>(k)), 30303, 30303);
}

absl::Time Ms(int64_t ms) { return absl::FromUnixMillis(ms); }

KnownNode Known(const Node& n, std::optional<absl::Time> pong, std::optional<absl::Time> ping,
                int failures = 0) {
  KnownNode k;
  k.node = n;
  k.last_pong = pong;
  k.last_ping = ping;
  k.findnode_failures = failures;
  return k;
}

std::string Line(const KnownNode& k, absl::string_view rest) {
  return absl::StrCat(k.node.ToEnode(), " ", rest, "\n");
}

TEST(NodeDbFormatTest, ExactText) {
  const std::vector<KnownNode> nodes = {
      Known(TestNode(1, IpAddress::V4(1, 2, 3, 4), 30303, 30301), Ms(1700000000123), std::nullopt,
            2),
      Known(TestNode(2, *IpAddress::Parse("::1"), 40000, 40000), std::nullopt, Ms(5), 0),
  };
  EXPECT_EQ(FormatNodeDb(nodes), absl::StrCat("# p2pnode nodes v1\n", "enode://", kKey1Pub,
                                              "@1.2.3.4:30303?discport=30301 1700000000123 - 2\n",
                                              nodes[1].node.ToEnode(), " - 5 0\n"));
  EXPECT_THAT(nodes[1].node.ToEnode(), HasSubstr("@[::1]:40000"));
  EXPECT_EQ(FormatNodeDb({}), "# p2pnode nodes v1\n");
}

TEST(NodeDbFormatTest, RoundTrip) {
  const std::vector<KnownNode> nodes = {
      Known(TestNode(1, IpAddress::V4(1, 2, 3, 4), 30303, 30301), Ms(1700000000123), Ms(1), 2),
      Known(TestNode(2, *IpAddress::Parse("fe80::1"), 1, 2), std::nullopt, std::nullopt, 0),
      Known(TestNode(3), Ms(0), Ms(1800000000000), 7),
  };
  const absl::StatusOr<ParsedNodeDb> db = ParseNodeDb(FormatNodeDb(nodes));
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(db->nodes, nodes);
  EXPECT_THAT(db->warnings, ElementsAre());
}

TEST(NodeDbFormatTest, TimesAreTruncatedToMilliseconds) {
  const KnownNode k = Known(TestNode(1), Ms(1234) + absl::Microseconds(999), std::nullopt);
  EXPECT_EQ(FormatNodeDb({k}), absl::StrCat(kNodeDbHeader, "\n", Line(k, "1234 - 0")));
}

TEST(NodeDbParseTest, HeaderErrors) {
  const std::string missing = "missing header: the first line must be \"# p2pnode nodes v1\"";
  for (const std::string& text :
       {std::string(), std::string("\n"), absl::StrCat(TestNode(1).ToEnode(), " - - 0\n"),
        std::string("# p2pnode nodes\n"), std::string("# p2p nodes v1\n")}) {
    const absl::StatusOr<ParsedNodeDb> db = ParseNodeDb(text);
    EXPECT_EQ(db.status(), absl::InvalidArgumentError(missing)) << text;
  }
  EXPECT_EQ(ParseNodeDb("# p2pnode nodes v2\n").status(),
            absl::InvalidArgumentError("unsupported node database version \"2\" (want 1)"));
  EXPECT_EQ(ParseNodeDb("# p2pnode nodes v\n").status(),
            absl::InvalidArgumentError("unsupported node database version \"\" (want 1)"));
  EXPECT_EQ(ParseNodeDb("# p2pnode nodes v10\n").status(),
            absl::InvalidArgumentError("unsupported node database version \"10\" (want 1)"));
  // Header only, without its line end, and with "\r\n": an empty database.
  for (absl::string_view text : {"# p2pnode nodes v1", "# p2pnode nodes v1\r\n"}) {
    const absl::StatusOr<ParsedNodeDb> db = ParseNodeDb(text);
    ASSERT_TRUE(db.ok()) << db.status();
    EXPECT_TRUE(db->nodes.empty());
    EXPECT_TRUE(db->warnings.empty());
  }
}

TEST(NodeDbParseTest, EveryWarningSkipsOnlyItsLine) {
  const KnownNode good1 = Known(TestNode(1), Ms(100), Ms(200), 1);
  const KnownNode good2 = Known(TestNode(2), std::nullopt, Ms(300), 0);
  const KnownNode good3 = Known(TestNode(3), Ms(400), std::nullopt, 0);
  const std::string e4 = TestNode(4).ToEnode();
  const std::string text = absl::StrCat(     //
      "# p2pnode nodes v1\n",                // 1
      Line(good1, "100 200 1"),              // 2
      "\n",                                  // 3: blank
      "# a comment\n",                       // 4
      e4, " 100 200\n",                      // 5
      "enode://1234@1.2.3.4:30303 - - 0\n",  // 6
      e4, " 12x - 0\n",                      // 7
      e4, " - -5 0\n",                       // 8
      e4, " +5 - 0\n",                       // 9
      e4, " - - many\n",                     // 10
      e4, " - - -3\n",                       // 11
      e4, " 99999999999999999999 - 0\n",     // 12
      "\t", Line(good2, "-\t300   0"),       // 13: tabs and runs of spaces
      Line(good1, "500 600 0"),              // 14: duplicate of line 2
      e4, " - - 0 extra\n",                  // 15
      Line(good3, "400 - 0\r"),              // 16: CRLF
      "   \n");                              // 17
  const absl::StatusOr<ParsedNodeDb> db = ParseNodeDb(text);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(db->nodes, (std::vector<KnownNode>{good1, good2, good3}));
  const absl::StatusOr<Node> bad = ParseEnode("enode://1234@1.2.3.4:30303");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(
      db->warnings,
      ElementsAre("line 5: want 4 fields, got 3",
                  absl::StrCat("line 6: invalid enode URL: ", bad.status().message()),
                  "line 7: invalid last pong \"12x\": want Unix milliseconds or -",
                  "line 8: invalid last ping \"-5\": want Unix milliseconds or -",
                  "line 9: invalid last pong \"+5\": want Unix milliseconds or -",
                  "line 10: invalid findnode failures \"many\": want an integer",
                  "line 11: negative findnode failures \"-3\"",
                  "line 12: invalid last pong \"99999999999999999999\": want Unix milliseconds "
                  "or -",
                  absl::StrCat("line 14: duplicate node ID ", good1.node.id.TerminalString(),
                               " (first on line 2)"),
                  "line 15: want 4 fields, got 5"));
  EXPECT_THAT(db->warnings[1], HasSubstr("invalid public key"));
}

TEST(NodeDbParseTest, DuplicateAfterBadLineKeepsFirstGoodLine) {
  const KnownNode k = Known(TestNode(1), Ms(100), std::nullopt);
  const std::string text =
      absl::StrCat(kNodeDbHeader, "\n", Line(k, "x - 0"), Line(k, "100 - 0"), Line(k, "200 - 0"));
  const absl::StatusOr<ParsedNodeDb> db = ParseNodeDb(text);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(db->nodes, std::vector<KnownNode>{k});
  EXPECT_THAT(db->warnings,
              ElementsAre("line 2: invalid last pong \"x\": want Unix milliseconds or -",
                          absl::StrCat("line 4: duplicate node ID ", k.node.id.TerminalString(),
                                       " (first on line 3)")));
}

// --- MergeKnownNodes ---

const absl::Time kNow = absl::FromUnixSeconds(1800000000);

TEST(MergeKnownNodesTest, CurrentWinsButKeepsNewerTimestamps) {
  const Node old_addr = TestNode(1, IpAddress::V4(10, 0, 0, 1), 1000, 1000);
  const Node new_addr = TestNode(1, IpAddress::V4(10, 0, 0, 9), 2000, 2001);
  const std::vector<KnownNode> previous = {
      Known(old_addr, kNow - absl::Seconds(10), kNow - absl::Seconds(100), 3)};
  const std::vector<KnownNode> current = {
      Known(new_addr, kNow - absl::Seconds(50), kNow - absl::Seconds(5), 0)};
  EXPECT_EQ(MergeKnownNodes(previous, current, kNow),
            (std::vector<KnownNode>{
                Known(new_addr, kNow - absl::Seconds(10), kNow - absl::Seconds(5), 0)}));
  // A timestamp the current entry lacks comes from the previous one.
  EXPECT_EQ(MergeKnownNodes({Known(old_addr, std::nullopt, kNow - absl::Seconds(7), 1)},
                            {Known(new_addr, kNow - absl::Seconds(8), std::nullopt, 2)}, kNow),
            (std::vector<KnownNode>{
                Known(new_addr, kNow - absl::Seconds(8), kNow - absl::Seconds(7), 2)}));
}

TEST(MergeKnownNodesTest, KeepsPreviousOnlyNodesAndDropsStaleOnes) {
  const absl::Duration age = absl::Hours(5 * 24);
  const KnownNode prev_only = Known(TestNode(1), kNow - absl::Hours(1), std::nullopt);
  const KnownNode at_limit = Known(TestNode(2), std::nullopt, kNow - age);  // Ping only.
  const KnownNode too_old =
      Known(TestNode(3), kNow - age - absl::Milliseconds(1), kNow - age - absl::Seconds(1));
  const KnownNode never = Known(TestNode(4), std::nullopt, std::nullopt, 0);
  const KnownNode cur = Known(TestNode(5), kNow, std::nullopt);
  // A stale previous entry revived by a fresh ping in the current table.
  const KnownNode stale_prev = Known(TestNode(6), kNow - age * 2, std::nullopt);
  const KnownNode fresh_cur = Known(TestNode(6), std::nullopt, kNow - absl::Seconds(1));
  EXPECT_EQ(
      MergeKnownNodes({prev_only, at_limit, too_old, never, stale_prev}, {cur, never, fresh_cur},
                      kNow),
      (std::vector<KnownNode>{
          cur, prev_only, Known(TestNode(6), kNow - age * 2, kNow - absl::Seconds(1)), at_limit}));
  // A shorter max_age drops more.
  EXPECT_EQ(MergeKnownNodes({prev_only, at_limit}, {cur}, kNow, absl::Minutes(30)),
            std::vector<KnownNode>{cur});
}

TEST(MergeKnownNodesTest, OrdersByNewestPongThenIdAndCaps) {
  std::vector<KnownNode> current;
  for (int k = 1; k <= 6; ++k) {
    // Nodes 1..4 share a pong time, 5 is newer, 6 has only a ping.
    current.push_back(Known(
        TestNode(k),
        k == 6 ? std::nullopt : std::optional<absl::Time>(kNow - absl::Seconds(k == 5 ? 1 : 60)),
        kNow));
  }
  std::vector<KnownNode> tied(current.begin(), current.begin() + 4);
  std::sort(tied.begin(), tied.end(),
            [](const KnownNode& a, const KnownNode& b) { return a.node.id < b.node.id; });
  std::vector<KnownNode> want = {current[4]};
  want.insert(want.end(), tied.begin(), tied.end());
  want.push_back(current[5]);
  // The input order does not matter.
  std::vector<KnownNode> reversed(current.rbegin(), current.rend());
  EXPECT_EQ(MergeKnownNodes({}, current, kNow), want);
  EXPECT_EQ(MergeKnownNodes({}, reversed, kNow), want);
  EXPECT_EQ(MergeKnownNodes(reversed, {}, kNow), want);
  // max_entries keeps the head of that order.
  EXPECT_EQ(MergeKnownNodes({}, current, kNow, kNodeDbMaxAge, 3),
            std::vector<KnownNode>(want.begin(), want.begin() + 3));
  EXPECT_TRUE(MergeKnownNodes({}, current, kNow, kNodeDbMaxAge, 0).empty());
}

TEST(MergeKnownNodesTest, DefaultCapIsKNodeDbMaxEntries) {
  ASSERT_EQ(kNodeDbMaxEntries, 1000u);
  std::vector<KnownNode> many;
  for (int k = 1; k <= 1001; ++k) {
    many.push_back(Known(TestNode(k), kNow - absl::Milliseconds(k), std::nullopt));
  }
  const std::vector<KnownNode> kept = MergeKnownNodes({}, many, kNow);
  ASSERT_EQ(kept.size(), 1000u);
  // The oldest pong is the one dropped.
  EXPECT_EQ(kept.front(), many.front());
  EXPECT_EQ(kept.back(), many[999]);
}

// --- LoadNodeDb / SaveNodeDb ---

class NodeDbFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/node_db_test_", getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_EQ(mkdir(dir_.c_str(), 0700), 0) << dir_;
    path_ = dir_ + "/nodes";
  }

  static std::string ReadFile(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  static void WriteFile(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
  }

  std::string dir_;
  std::string path_;
};

TEST_F(NodeDbFileTest, MissingFileIsAnEmptyDatabase) {
  const absl::StatusOr<ParsedNodeDb> db = LoadNodeDb(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_TRUE(db->nodes.empty());
  EXPECT_TRUE(db->warnings.empty());
}

TEST_F(NodeDbFileTest, SaveThenLoadRoundTrips) {
  const std::vector<KnownNode> nodes = {
      Known(TestNode(1, IpAddress::V4(127, 0, 0, 1), 30303, 30304), Ms(1700000000001), Ms(2), 1),
      Known(TestNode(2), std::nullopt, Ms(1700000000002), 0),
  };
  ASSERT_TRUE(SaveNodeDb(path_, nodes).ok());
  EXPECT_EQ(ReadFile(path_), FormatNodeDb(nodes));
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_NE(access((path_ + ".tmp").c_str(), F_OK), 0) << "temp file left behind";
  absl::StatusOr<ParsedNodeDb> db = LoadNodeDb(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(db->nodes, nodes);
  EXPECT_TRUE(db->warnings.empty());

  // Saving again replaces the file as a whole.
  ASSERT_TRUE(SaveNodeDb(path_, {nodes[1]}).ok());
  db = LoadNodeDb(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(db->nodes, std::vector<KnownNode>{nodes[1]});
}

TEST_F(NodeDbFileTest, SaveReplacesAStaleTempFileAndFixesItsMode) {
  WriteFile(path_ + ".tmp", "garbage from a crashed save, longer than the new content\n");
  ASSERT_EQ(chmod((path_ + ".tmp").c_str(), 0644), 0);
  ASSERT_TRUE(SaveNodeDb(path_, {}).ok());
  EXPECT_EQ(ReadFile(path_), "# p2pnode nodes v1\n");
  struct stat st;
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(NodeDbFileTest, SaveCreatesMissingDirectories) {
  const std::string path = dir_ + "/a/b/nodes";
  ASSERT_TRUE(SaveNodeDb(path, {}).ok());
  EXPECT_EQ(ReadFile(path), "# p2pnode nodes v1\n");
  struct stat st;
  ASSERT_EQ(stat((dir_ + "/a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST_F(NodeDbFileTest, SaveErrorsNameThePathAndKeepTheOldFile) {
  ASSERT_TRUE(SaveNodeDb(path_, {Known(TestNode(1), Ms(1), std::nullopt)}).ok());
  const std::string before = ReadFile(path_);
  // The temp file's name is taken by a directory: open fails.
  ASSERT_EQ(mkdir((path_ + ".tmp").c_str(), 0700), 0);
  const absl::Status s = SaveNodeDb(path_, {});
  EXPECT_EQ(s, StatusFromErrno(EISDIR, absl::StrCat("cannot write node database ", path_, ".tmp")));
  EXPECT_EQ(ReadFile(path_), before);

  // A parent that is a file.
  WriteFile(dir_ + "/file", "x");
  const absl::Status s2 = SaveNodeDb(dir_ + "/file/nodes", {});
  EXPECT_FALSE(s2.ok());
  EXPECT_THAT(s2.message(), HasSubstr(dir_ + "/file"));
}

TEST_F(NodeDbFileTest, LoadErrorsNameThePath) {
  WriteFile(path_, "not a node database\n");
  EXPECT_EQ(LoadNodeDb(path_).status(),
            absl::InvalidArgumentError(
                absl::StrCat("node database ", path_,
                             ": missing header: the first line must be \"# p2pnode nodes v1\"")));
  WriteFile(path_, "# p2pnode nodes v7\n");
  EXPECT_EQ(LoadNodeDb(path_).status(),
            absl::InvalidArgumentError(absl::StrCat(
                "node database ", path_, ": unsupported node database version \"7\" (want 1)")));
  // A directory where the file should be.
  const absl::Status s = LoadNodeDb(dir_).status();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr(dir_));
}

TEST_F(NodeDbFileTest, LoadRefusesOversizedFiles) {
  WriteFile(path_, absl::StrCat(kNodeDbHeader, "\n", std::string(kNodeDbMaxFileBytes, '#')));
  const absl::Status s = LoadNodeDb(path_).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr(path_));
  // Exactly the limit is fine.
  WriteFile(path_, absl::StrCat(kNodeDbHeader, "\n#",
                                std::string(kNodeDbMaxFileBytes - kNodeDbHeader.size() - 2, 'x')));
  EXPECT_TRUE(LoadNodeDb(path_).ok());
}

TEST_F(NodeDbFileTest, PartlyCorruptFileLoadsItsGoodLines) {
  const std::vector<KnownNode> nodes = {Known(TestNode(1), Ms(10), Ms(20), 0),
                                        Known(TestNode(2), Ms(30), std::nullopt, 4),
                                        Known(TestNode(3), std::nullopt, Ms(40), 0)};
  ASSERT_TRUE(SaveNodeDb(path_, nodes).ok());
  // Damage the second node's line and cut the third one short, as a bad
  // disk or a careless edit might.
  std::string text = ReadFile(path_);
  const std::string e2 = nodes[1].node.ToEnode();
  text = absl::StrReplaceAll(text, {{e2, "enode://zz@1.2.3.4:1"}});
  text.resize(text.size() - 5);  // "40 0\n" -> the third line has 3 fields.
  text += " 0\n";
  WriteFile(path_, text);
  const absl::StatusOr<ParsedNodeDb> db = LoadNodeDb(path_);
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(db->nodes, std::vector<KnownNode>{nodes[0]});
  ASSERT_EQ(db->warnings.size(), 2u);
  EXPECT_THAT(db->warnings[0], HasSubstr("line 3: invalid enode URL: "));
  EXPECT_EQ(db->warnings[1], "line 4: want 4 fields, got 3");
}

}  // namespace
}  // namespace p2p::transport
