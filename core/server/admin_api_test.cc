#include "core/server/admin_api.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/discover/table.h"
#include "core/net/mem_network.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "sim/event_queue.h"
#include "sim/sim_loop.h"

namespace p2p {
namespace {

using ::testing::HasSubstr;

class AdminApiTest : public ::testing::Test {
 protected:
  struct Node_ {
    std::unique_ptr<sim::SimLoop> loop;
    std::unique_ptr<Network> net;
    std::unique_ptr<Server> server;
    std::unique_ptr<AdminApi> api;
  };

  void SetUp() override {
    for (int i = 0; i < 2; ++i) {
      Node_& n = nodes_[i];
      n.loop = std::make_unique<sim::SimLoop>(&queue_);
      const std::string ip = absl::StrCat("10.0.0.", i + 1);
      n.net = *switch_.AddHost(n.loop.get(), *IpAddress::Parse(ip));
      ServerConfig c;
      c.key = PrivateKey::Generate(entropy_);
      c.name = absl::StrCat("node", i);
      c.listen = *Endpoint::Parse(ip + ":30303");
      c.protocols.push_back(Protocol{"tst", 1, 2, nullptr});
      c.protocols.push_back(Protocol{"abc", 7, 2, nullptr});
      ServerDeps d;
      d.loop = n.loop.get();
      d.net = n.net.get();
      d.entropy = &entropy_;
      d.rng = Rng(i);
      n.server = std::make_unique<Server>(std::move(c), d);
      ASSERT_TRUE(n.server->Start().ok());
      n.api = std::make_unique<AdminApi>(n.server.get(), n.loop.get());
    }
  }
  void TearDown() override {
    for (Node_& n : nodes_) {
      n.api.reset();
      n.server.reset();
      n.net.reset();
    }
  }
  void RunFor(absl::Duration d) {
    queue_.RunUntil(absl::ToInt64Nanoseconds(queue_.Now() + d - absl::UnixEpoch()));
  }
  AdminResponse Call(int i, absl::string_view method, absl::string_view path,
                     absl::string_view body = "") {
    return nodes_[i].api->Handle(method, path, body);
  }

  sim::EventQueue queue_;
  MemSwitch switch_;
  RngEntropy entropy_{Rng(5)};
  Node_ nodes_[2];
};

TEST_F(AdminApiTest, NodeInfo) {
  const Node& self = nodes_[0].server->Self();
  AdminResponse r = Call(0, "GET", "/nodeinfo");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, absl::StrCat("{\"id\":\"", self.id.ToString(), "\",\"enode\":\"enode://",
                                 self.pubkey.ToHex(),
                                 "@10.0.0.1:30303\",\"listen\":\"10.0.0.1:30303\","
                                 "\"caps\":[\"abc/7\",\"tst/1\"]}\n"));
}

TEST_F(AdminApiTest, StaticPeerLifecycleThroughTheApi) {
  const std::string enode1 = nodes_[1].server->Self().ToEnode();
  AdminResponse r = Call(0, "POST", "/peers/static", enode1 + "\n");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, absl::StrCat("{\"added\":\"", enode1, "\"}\n"));
  RunFor(absl::Milliseconds(2500));

  r = Call(0, "GET", "/peers");
  EXPECT_EQ(r.status, 200);
  const NodeId id1 = nodes_[1].server->Self().id;
  EXPECT_THAT(r.body, HasSubstr(absl::StrCat("\"id\":\"", id1.ToString(), "\"")));
  EXPECT_THAT(r.body, HasSubstr("\"name\":\"node1\",\"caps\":[\"abc/7\",\"tst/1\"],"
                                "\"inbound\":false,\"static\":true,\"trusted\":false,"
                                "\"connected_seconds\":2.5,"));
  r = Call(1, "GET", "/peers");
  EXPECT_THAT(r.body, HasSubstr("\"inbound\":true,\"static\":false"));

  r = Call(0, "GET", "/metrics");
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4");
  EXPECT_THAT(r.body, HasSubstr("p2p_peers{direction=\"inbound\"} 0\n"
                                "p2p_peers{direction=\"outbound\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("p2p_dials_total{outcome=\"success\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("# TYPE p2p_egress_bytes_total counter\n"));
  r = Call(1, "GET", "/metrics");
  EXPECT_THAT(r.body, HasSubstr("p2p_peers{direction=\"inbound\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("p2p_inbound_accepted_total 1\n"));

  r = Call(0, "DELETE", absl::StrCat("/peers/static/", id1.ToString()));
  EXPECT_EQ(r.status, 200);
  RunFor(absl::Seconds(1));
  EXPECT_EQ(Call(0, "GET", "/peers").body, "[]\n");
  r = Call(1, "GET", "/metrics");
  EXPECT_THAT(r.body, HasSubstr("p2p_peers_dropped_total{reason=\"disconnect requested\"} 1\n"));
  // Gone from the static list: a second delete is a 404.
  r = Call(0, "DELETE", absl::StrCat("/peers/static/", id1.ToString()));
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, absl::StrCat("{\"error\":\"no static node ", id1.ToString(), "\"}\n"));
}

TEST_F(AdminApiTest, TrustedToggleShowsOnLivePeer) {
  nodes_[0].server->AddPeer(nodes_[1].server->Self());
  RunFor(absl::Seconds(1));
  const std::string id0 = nodes_[0].server->Self().id.ToString();
  ASSERT_EQ(Call(1, "POST", "/peers/trusted", nodes_[0].server->Self().ToEnode()).status, 200);
  EXPECT_THAT(Call(1, "GET", "/peers").body, HasSubstr("\"trusted\":true"));
  ASSERT_EQ(Call(1, "DELETE", "/peers/trusted/" + id0).status, 200);
  EXPECT_THAT(Call(1, "GET", "/peers").body, HasSubstr("\"trusted\":false"));
}

TEST_F(AdminApiTest, BadRequestsNameWhatIsWrong) {
  AdminResponse r = Call(0, "POST", "/peers/static", "enode://1234@1.2.3.4:1");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("bad enode URL: invalid public key"));
  r = Call(0, "POST", "/peers/static", absl::StrCat("enode://", std::string(128, 'a')));
  EXPECT_EQ(r.status, 400);
  r = Call(0, "DELETE", "/peers/trusted/xyz");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("bad node ID \\\"xyz\\\""));
  r = Call(0, "GET", "/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "{\"error\":\"no route for /nope\"}\n");
  r = Call(0, "POST", "/peers");
  EXPECT_EQ(r.status, 405);
  r = Call(0, "GET", "/peers/static");
  EXPECT_EQ(r.status, 405);
  r = Call(0, "GET", "/peers/static/" + std::string(64, '0'));
  EXPECT_EQ(r.status, 405);
  // The node still serves.
  EXPECT_EQ(Call(0, "GET", "/nodeinfo").status, 200);
}

TEST_F(AdminApiTest, TableWithoutDiscoveryIs404) {
  AdminResponse r = Call(0, "GET", "/table");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, "{\"error\":\"discovery disabled\"}\n");
}

TEST_F(AdminApiTest, TableListsNodesByBucketThenPosition) {
  discover::Table table(nodes_[0].server->Self().id);
  AdminApi api(nodes_[0].server.get(), nodes_[0].loop.get(), &table, 30399);
  EXPECT_EQ(api.Handle("GET", "/table", "").body, "[]\n");

  // Five nodes added as seen (each appended to its bucket), one then moved
  // to the front of its bucket by a verified add, one with a pong recorded.
  std::vector<Node> added;
  for (int i = 0; i < 5; ++i) {
    const PublicKey pub = DerivePublicKey(PrivateKey::Generate(entropy_));
    const Node n = Node::FromPublicKey(pub, *IpAddress::Parse(absl::StrCat("10.1.0.", i + 1)),
                                       30303, i == 2 ? 30400 : 30303);
    ASSERT_EQ(table.AddSeenNode(n, nodes_[0].loop->Now()), discover::AddResult::kAdded);
    added.push_back(n);
    RunFor(absl::Milliseconds(250));
  }
  ASSERT_TRUE(table.RecordPong(added[1].id, nodes_[0].loop->Now()));
  ASSERT_EQ(table.AddVerifiedNode(added[4], nodes_[0].loop->Now()), discover::AddResult::kBumped);
  RunFor(absl::Milliseconds(1500));

  // Expected order, computed independently: by bucket, and within a bucket
  // added[4] first (bumped), then the rest in insertion order.
  std::vector<int> idx = {0, 1, 2, 3, 4};
  std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) {
    const int ba = table.BucketOf(added[a].id), bb = table.BucketOf(added[b].id);
    if (ba != bb) return ba < bb;
    return (a == 4 ? -1 : a) < (b == 4 ? -1 : b);
  });
  std::string want = "[";
  for (size_t k = 0; k < idx.size(); ++k) {
    const Node& n = added[idx[k]];
    absl::StrAppend(&want, k ? "," : "", "{\"enode\":\"", n.ToEnode(),
                    "\",\"bucket\":", table.BucketOf(n.id),
                    ",\"last_pong_seconds\":", idx[k] == 1 ? "1.5" : "null", "}");
  }
  want += "]\n";
  AdminResponse r = api.Handle("GET", "/table", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, want);
  // The node with a distinct discovery port shows it.
  EXPECT_THAT(r.body, HasSubstr(":30303?discport=30400\""));
  EXPECT_EQ(api.Handle("POST", "/table", "").status, 405);

  // /nodeinfo carries the discovery port.
  EXPECT_THAT(api.Handle("GET", "/nodeinfo", "").body,
              HasSubstr("@10.0.0.1:30303?discport=30399\""));
}

TEST_F(AdminApiTest, NodeInfoShowsTheNodeRecordWhenGiven) {
  const Node& self = nodes_[0].server->Self();
  AdminApi api(nodes_[0].server.get(), nodes_[0].loop.get(), nullptr, 0, "enr:-IS4QHCY");
  EXPECT_EQ(
      api.Handle("GET", "/nodeinfo", "").body,
      absl::StrCat("{\"id\":\"", self.id.ToString(), "\",\"enode\":\"enode://", self.pubkey.ToHex(),
                   "@10.0.0.1:30303\",\"enr\":\"enr:-IS4QHCY\",\"listen\":\"10.0.0.1:"
                   "30303\",\"caps\":[\"abc/7\",\"tst/1\"]}\n"));
  // Without one (the fixture's API), no "enr" key.
  EXPECT_THAT(Call(0, "GET", "/nodeinfo").body, ::testing::Not(HasSubstr("\"enr\"")));
}

}  // namespace
}  // namespace p2p
