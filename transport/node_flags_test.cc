#include "transport/node_flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace p2p::transport {
namespace {

using ::testing::HasSubstr;

const char kKeyA[] = "49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee";

std::string Enode(const char* key_hex, const char* hostport) {
  const PublicKey pub = DerivePublicKey(*PrivateKey::FromHex(key_hex));
  return absl::StrCat("enode://", pub.ToHex(), "@", hostport);
}

std::string ErrorOf(std::vector<std::string> args) {
  absl::StatusOr<NodeFlags> f = ParseNodeFlags(args);
  EXPECT_FALSE(f.ok()) << "accepted: " << absl::StrJoin(args, " ");
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(f.status().message());
}

TEST(NodeFlagsTest, Defaults) {
  absl::StatusOr<NodeFlags> f = ParseNodeFlags({});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->listen.ToString(), "0.0.0.0:30303");
  EXPECT_EQ(f->max_peers, 50);
  EXPECT_EQ(f->max_pending_peers, 50);
  EXPECT_EQ(f->dial_ratio, 3);
  EXPECT_FALSE(f->no_dial);
  EXPECT_EQ(f->admin->ToString(), "127.0.0.1:8550");
  EXPECT_EQ(f->dial_policy, DialGeneration::kCurrent);
  EXPECT_EQ(f->verbosity, LogLevel::kInfo);
  EXPECT_TRUE(f->static_nodes.empty());
}

TEST(NodeFlagsTest, EveryFlagParses) {
  const std::string e1 = Enode(kKeyA, "127.0.0.1:30304");
  absl::StatusOr<NodeFlags> f = ParseNodeFlags({"--datadir",
                                                "/tmp/x",
                                                "--listen=127.0.0.1:0",
                                                "-maxpeers",
                                                "7",
                                                "--maxpendpeers=3",
                                                "--dialratio",
                                                "2",
                                                "--nodial",
                                                "--bootnodes",
                                                e1,
                                                "--static",
                                                e1 + "," + e1,
                                                "--trusted=" + e1,
                                                "--netrestrict",
                                                "127.0.0.0/8,10.0.0.0/8",
                                                "--extip",
                                                "1.2.3.4",
                                                "--dial-policy",
                                                "legacy",
                                                "--caps",
                                                "eth/68,foo/2:5",
                                                "--admin",
                                                "off",
                                                "--verbosity",
                                                "5",
                                                "--identity",
                                                "me"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->datadir, "/tmp/x");
  EXPECT_EQ(f->listen.ToString(), "127.0.0.1:0");
  EXPECT_EQ(f->max_peers, 7);
  EXPECT_EQ(f->max_pending_peers, 3);
  EXPECT_EQ(f->dial_ratio, 2);
  EXPECT_TRUE(f->no_dial);
  EXPECT_EQ(f->bootnodes.size(), 1u);
  EXPECT_EQ(f->static_nodes.size(), 2u);
  EXPECT_EQ(f->trusted_nodes.size(), 1u);
  EXPECT_EQ(f->static_nodes[0].ToEnode(), e1);
  EXPECT_TRUE(f->net_restrict->Contains(*IpAddress::Parse("10.1.2.3")));
  EXPECT_FALSE(f->net_restrict->Contains(*IpAddress::Parse("192.168.1.1")));
  EXPECT_EQ(f->ext_ip->ToString(), "1.2.3.4");
  EXPECT_EQ(f->dial_policy, DialGeneration::kLegacy);
  ASSERT_EQ(f->caps.size(), 2u);
  EXPECT_EQ(f->caps[0].name, "eth");
  EXPECT_EQ(f->caps[0].version, 68u);
  EXPECT_EQ(f->caps[0].length, 17u);
  EXPECT_EQ(f->caps[1].length, 5u);
  EXPECT_FALSE(f->admin.has_value());
  EXPECT_EQ(f->verbosity, LogLevel::kTrace);
  EXPECT_EQ(f->identity, "me");
  const std::vector<Protocol> ps = NoOpProtocols(f->caps);
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[1].name, "foo");
  EXPECT_EQ(ps[1].length, 5u);
}

TEST(NodeFlagsTest, DiscoveryFlags) {
  absl::StatusOr<NodeFlags> f = ParseNodeFlags({});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->disc_port.has_value());  // Follows the TCP listen port.
  EXPECT_FALSE(f->no_discover);

  f = ParseNodeFlags({"--discport", "30399", "--nodiscover"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->disc_port, std::optional<uint16_t>(30399));
  EXPECT_TRUE(f->no_discover);

  f = ParseNodeFlags({"--discport=0", "--nodiscover=false"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->disc_port, std::optional<uint16_t>(0));
  EXPECT_FALSE(f->no_discover);

  f = ParseNodeFlags({"--discport=65535"});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->disc_port, std::optional<uint16_t>(65535));
}

TEST(NodeFlagsTest, BadDiscoveryFlagsAreNamed) {
  EXPECT_EQ(ErrorOf({"--discport", "65536"}),
            "invalid value \"65536\" for --discport: want a port number 0-65535");
  EXPECT_EQ(ErrorOf({"--discport=-1"}),
            "invalid value \"-1\" for --discport: want a port number 0-65535");
  EXPECT_EQ(ErrorOf({"--discport", "+5"}),
            "invalid value \"+5\" for --discport: want a port number 0-65535");
  EXPECT_EQ(ErrorOf({"--discport", "udp"}),
            "invalid value \"udp\" for --discport: want a port number 0-65535");
  EXPECT_EQ(ErrorOf({"--discport="}),
            "invalid value \"\" for --discport: want a port number 0-65535");
  EXPECT_EQ(ErrorOf({"--discport", "1", "--discport", "2"}), "flag --discport given twice");
  EXPECT_EQ(ErrorOf({"--nodiscover=maybe"}),
            "invalid value \"maybe\" for --nodiscover: want true or false");
  EXPECT_EQ(ErrorOf({"--discport"}), "flag --discport needs a value");
}

TEST(NodeFlagsTest, ListenAcceptsPortOnlyForm) {
  absl::StatusOr<NodeFlags> f = ParseNodeFlags({"--listen", ":30399"});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->listen.ToString(), "0.0.0.0:30399");
}

TEST(NodeFlagsTest, BadValuesAreNamed) {
  EXPECT_EQ(ErrorOf({"--maxpeers", "abc"}),
            "invalid value \"abc\" for --maxpeers: not a non-negative integer");
  EXPECT_EQ(ErrorOf({"--maxpeers=-1"}),
            "invalid value \"-1\" for --maxpeers: not a non-negative integer");
  EXPECT_EQ(ErrorOf({"--dialratio", "0"}),
            "invalid value \"0\" for --dialratio: not a positive integer");
  EXPECT_EQ(ErrorOf({"--listen", "localhost:30303"}),
            "invalid value \"localhost:30303\" for --listen: want HOST:PORT with an IP address");
  EXPECT_EQ(ErrorOf({"--dial-policy", "newest"}),
            "invalid value \"newest\" for --dial-policy: want current or legacy");
  EXPECT_EQ(ErrorOf({"--verbosity", "6"}), "invalid value \"6\" for --verbosity: want 0-5");
  EXPECT_EQ(ErrorOf({"--extip", "1.2.3"}),
            "invalid value \"1.2.3\" for --extip: not an IP address");
  EXPECT_THAT(ErrorOf({"--netrestrict", "10.0.0.0/33"}),
              HasSubstr("invalid value \"10.0.0.0/33\" for --netrestrict: "));
  EXPECT_EQ(ErrorOf({"--caps", "eth"}),
            "invalid value \"eth\" for --caps: want NAME/VERSION[:LENGTH]");
  EXPECT_EQ(ErrorOf({"--caps", "eth/x"}),
            "invalid value \"eth/x\" for --caps: version is not a non-negative integer");
  EXPECT_EQ(ErrorOf({"--nodekeyhex", "1234"}),
            "invalid value \"1234\" for --nodekeyhex: not a valid secp256k1 key");
  EXPECT_EQ(ErrorOf({"--nodial=maybe"}),
            "invalid value \"maybe\" for --nodial: want true or false");
  EXPECT_EQ(ErrorOf({"--bogus", "1"}), "unknown flag --bogus (see --help)");
  EXPECT_EQ(ErrorOf({"--maxpeers"}), "flag --maxpeers needs a value");
  EXPECT_EQ(ErrorOf({"stray"}), "unexpected argument \"stray\"");
  EXPECT_EQ(ErrorOf({"--maxpeers", "1", "--maxpeers", "2"}), "flag --maxpeers given twice");
  EXPECT_EQ(ErrorOf({"--nodekey", "/x", "--nodekeyhex", kKeyA}),
            "--nodekey and --nodekeyhex are mutually exclusive");
}

TEST(NodeFlagsTest, MalformedEnodeUrlsAreNamed) {
  EXPECT_EQ(ErrorOf({"--static", "enode://1234@1.2.3.4:30303"}),
            absl::StrCat("invalid enode URL in --static \"enode://1234@1.2.3.4:30303\": ",
                         ParseEnode("enode://1234@1.2.3.4:30303").status().message()));
  const std::string no_addr =
      absl::StrCat("enode://", DerivePublicKey(*PrivateKey::FromHex(kKeyA)).ToHex());
  EXPECT_EQ(ErrorOf({"--bootnodes", no_addr}),
            absl::StrCat("invalid enode URL in --bootnodes \"", no_addr,
                         "\": no address (want enode://ID@HOST:PORT)"));
  const std::string good = Enode(kKeyA, "127.0.0.1:1");
  EXPECT_THAT(ErrorOf({"--trusted", good + ",enode://zz@1.2.3.4:1"}),
              HasSubstr("invalid enode URL in --trusted \"enode://zz@1.2.3.4:1\""));
}

TEST(NodeFlagsTest, UsageListsEveryFlag) {
  const std::string u = NodeUsage();
  for (const char* name :
       {"--datadir", "--nodekey", "--nodekeyhex", "--listen", "--maxpeers", "--maxpendpeers",
        "--dialratio", "--nodial", "--bootnodes", "--static", "--trusted", "--netrestrict",
        "--extip", "--dial-policy", "--caps", "--admin", "--verbosity"}) {
    EXPECT_THAT(u, HasSubstr(name));
  }
}

class NodeKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/nodekey_test_", getpid());
  }
  std::string dir_;
  RngEntropy entropy_{Rng(3)};
};

TEST_F(NodeKeyTest, DatadirKeyIsCreatedOnceAndReused) {
  NodeFlags f;
  f.datadir = dir_ + "/data";
  bool eph = true;
  absl::StatusOr<PrivateKey> k1 = LoadOrCreateNodeKey(f, entropy_, &eph);
  ASSERT_TRUE(k1.ok()) << k1.status();
  EXPECT_FALSE(eph);
  struct stat st;
  ASSERT_EQ(stat((f.datadir + "/nodekey").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<PrivateKey> k2 = LoadOrCreateNodeKey(f, entropy_, &eph);
  ASSERT_TRUE(k2.ok());
  EXPECT_EQ(*k1, *k2);
}

TEST_F(NodeKeyTest, KeyFileAndHexAndEphemeral) {
  mkdir(dir_.c_str(), 0700);
  const std::string path = dir_ + "/key";
  std::ofstream(path) << "  " << kKeyA << "\n";
  NodeFlags f;
  f.nodekey_file = path;
  bool eph = true;
  absl::StatusOr<PrivateKey> k = LoadOrCreateNodeKey(f, entropy_, &eph);
  ASSERT_TRUE(k.ok()) << k.status();
  EXPECT_EQ(*k, *PrivateKey::FromHex(kKeyA));

  std::ofstream(path) << "not a key";
  k = LoadOrCreateNodeKey(f, entropy_, &eph);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(std::string(k.status().message()), HasSubstr("invalid node key in " + path));

  f.nodekey_file = dir_ + "/missing";
  k = LoadOrCreateNodeKey(f, entropy_, &eph);
  ASSERT_FALSE(k.ok());
  EXPECT_THAT(std::string(k.status().message()),
              HasSubstr("cannot read node key file " + dir_ + "/missing"));

  NodeFlags none;
  k = LoadOrCreateNodeKey(none, entropy_, &eph);
  ASSERT_TRUE(k.ok());
  EXPECT_TRUE(eph);
}

}  // namespace
}  // namespace p2p::transport
