#include "transport/http_server.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "transport/epoll_loop.h"
#include "transport/tcp_network.h"

namespace p2p::transport {
namespace {

using State = HttpParseResult::State;
using ::testing::ElementsAre;
using ::testing::Pair;

constexpr size_t kHeaderLimit = 16 * 1024;
constexpr size_t kBodyLimit = 64 * 1024;

HttpParseResult Parse(absl::string_view data, size_t max_header = kHeaderLimit,
                      size_t max_body = kBodyLimit) {
  return ParseHttpRequest(data, max_header, max_body);
}

// --- The parser, without sockets ---

TEST(ParseHttpRequestTest, SimpleGet) {
  const std::string req =
      "GET /peers?limit=5&x HTTP/1.1\r\nHost: localhost:8545\r\nX-Empty:\r\n"
      "ACCEPT: \t application/json \t\r\n\r\n";
  HttpParseResult r = Parse(req);
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.consumed, req.size());
  EXPECT_TRUE(r.keep_alive);
  EXPECT_EQ(r.request.method, "GET");
  EXPECT_EQ(r.request.target, "/peers?limit=5&x");
  EXPECT_EQ(r.request.path, "/peers");
  EXPECT_EQ(r.request.query, "limit=5&x");
  EXPECT_THAT(r.request.headers, ElementsAre(Pair("host", "localhost:8545"), Pair("x-empty", ""),
                                             Pair("accept", "application/json")));
  EXPECT_EQ(r.request.body, "");
}

TEST(ParseHttpRequestTest, PathIsNotDecodedAndQueryMayBeEmpty) {
  HttpParseResult r = Parse("GET /a%20b/%3F? HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.request.path, "/a%20b/%3F");
  EXPECT_EQ(r.request.query, "");
  r = Parse("GET /x?a=1?b=2 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.request.path, "/x");
  EXPECT_EQ(r.request.query, "a=1?b=2");
}

TEST(ParseHttpRequestTest, BodyAndPipelinedRemainder) {
  const std::string first =
      "POST /peers/static HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n{\"a\":\"b\"}\n";
  const std::string second = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
  HttpParseResult r = Parse(first + second);
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(r.request.method, "POST");
  EXPECT_EQ(r.request.body, "{\"a\":\"b\"}\n");
  r = Parse(absl::string_view(first + second).substr(first.size()));
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.request.method, "GET");
}

TEST(ParseHttpRequestTest, EveryProperPrefixIsIncomplete) {
  const std::string req = "\r\nPUT /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX: y\r\n\r\nabc";
  const size_t header_bytes = req.size() - 3;
  for (size_t n = 0; n < req.size(); ++n) {
    HttpParseResult r = Parse(absl::string_view(req).substr(0, n));
    ASSERT_EQ(r.state, State::kIncomplete) << "prefix " << n << ": " << r.error;
    EXPECT_EQ(r.needed_bytes, n >= header_bytes ? req.size() : 0u) << "prefix " << n;
  }
  HttpParseResult r = Parse(req);
  ASSERT_EQ(r.state, State::kComplete);
  EXPECT_EQ(r.request.body, "abc");
}

TEST(ParseHttpRequestTest, BareLfLineEndingsAndLeadingEmptyLines) {
  HttpParseResult r = Parse("\r\n\n\r\nGET / HTTP/1.1\nHost: h\n\n");
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.request.path, "/");
  EXPECT_THAT(r.request.headers, ElementsAre(Pair("host", "h")));
}

TEST(ParseHttpRequestTest, AbsoluteFormAndAsterisk) {
  HttpParseResult r = Parse("GET http://127.0.0.1:8545/nodeinfo?x=1 HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.request.target, "http://127.0.0.1:8545/nodeinfo?x=1");
  EXPECT_EQ(r.request.path, "/nodeinfo");
  EXPECT_EQ(r.request.query, "x=1");
  r = Parse("GET HTTPS://example.com HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.request.path, "/");
  r = Parse("GET Http://example.com?q HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.request.path, "/");
  EXPECT_EQ(r.request.query, "q");
  r = Parse("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.request.path, "*");
}

TEST(ParseHttpRequestTest, KeepAliveRules) {
  struct Case {
    const char* request;
    bool keep_alive;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
      // HTTP/1.x with x > 1 is served as HTTP/1.1.
      {"GET / HTTP/1.2\r\nHost: h\r\n\r\n", true},
  };
  for (const Case& c : cases) {
    HttpParseResult r = Parse(c.request);
    ASSERT_EQ(r.state, State::kComplete) << c.request << r.error;
    EXPECT_EQ(r.keep_alive, c.keep_alive) << c.request;
  }
}

TEST(ParseHttpRequestTest, RepeatedEqualContentLengthIsAccepted) {
  HttpParseResult r =
      Parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_EQ(r.state, State::kComplete) << r.error;
  EXPECT_EQ(r.request.body, "ok");
}

TEST(ParseHttpRequestTest, Errors) {
  struct Case {
    std::string request;
    int status;
  };
  const Case cases[] = {
      // Request line.
      {"GET\r\n\r\n", 400},
      {"GET /\r\n\r\n", 400},  // HTTP/0.9.
      {"GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1 x\r\nHost: h\r\n\r\n", 400},
      {"G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {std::string(33, 'A') + " / HTTP/1.1\r\nHost: h\r\n\r\n", 400},  // Method too long.
      {"GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTX/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / http/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", 400},
      {"GET foo HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET ftp://x/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET /a\x01z HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      {"GET /caf\xC3\xA9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
      // Version.
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
      {"GET / HTTP/0.9\r\n\r\n", 505},
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
      // Header lines.
      {"GET / HTTP/1.1\r\nHost h\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n: h\r\nHost: h\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  continued\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: \x7f\r\n\r\n", 400},
      {"GET / HTTP/1.1\r\n\r\n", 400},                        // No Host.
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},  // Two Hosts.
      {"GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400},  // Even equal ones.
      // Framing.
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
       411},
      {"POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 411},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n", 413},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413},
  };
  for (const Case& c : cases) {
    HttpParseResult r = Parse(c.request);
    EXPECT_EQ(r.state, State::kError) << c.request;
    EXPECT_EQ(r.error_status, c.status) << c.request << " -> " << r.error;
    EXPECT_FALSE(r.error.empty());
  }
}

TEST(ParseHttpRequestTest, ErrorMessages) {
  EXPECT_EQ(Parse("GET\r\n").error, "malformed request line");
  EXPECT_EQ(Parse("GET / HTTP/3.0\r\n").error, "unsupported HTTP version HTTP/3.0");
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\n\r\n").error, "missing Host header");
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n").error,
            "Transfer-Encoding is not supported; send Content-Length");
  EXPECT_EQ(Parse("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n").error,
            "request body exceeds 65536 bytes");
  EXPECT_EQ(Parse("GET /" + std::string(95, 'a'), 100).error,
            "request header section exceeds 100 bytes");
}

TEST(ParseHttpRequestTest, ErrorsAreReportedBeforeTheHeaderSectionEnds) {
  // A complete bad line is enough; the rest need not arrive.
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nbad line\r\n").error_status, 400);
  EXPECT_EQ(Parse("GET / HTTP/2.0\r\n").error_status, 505);
  // An unfinished first line that cannot start a request (a TLS handshake,
  // binary noise, an over-long method).
  EXPECT_EQ(Parse("\x16\x03\x01\x02\x00\x01").error_status, 400);
  EXPECT_EQ(Parse("\r\n\xff").error_status, 400);
  EXPECT_EQ(Parse(std::string(33, 'G')).error_status, 400);
  // But an unfinished line that still could is just incomplete.
  EXPECT_EQ(Parse(std::string(32, 'G')).state, State::kIncomplete);
  EXPECT_EQ(Parse("GET /\x01").state, State::kIncomplete);  // Judged once complete.
  EXPECT_EQ(Parse("GET\r").state, State::kIncomplete);
}

TEST(ParseHttpRequestTest, HeaderSectionLimitIsInclusive) {
  const std::string head = "GET / HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  const std::string req = head + std::string(100, 'p') + "\r\n\r\n";
  EXPECT_EQ(Parse(req, req.size()).state, State::kComplete);
  HttpParseResult r = Parse(req, req.size() - 1);
  EXPECT_EQ(r.state, State::kError);
  EXPECT_EQ(r.error_status, 431);
  // Unfinished: incomplete below the limit, 431 once the limit is reached.
  const std::string partial = req.substr(0, 50);
  EXPECT_EQ(Parse(partial, 51).state, State::kIncomplete);
  EXPECT_EQ(Parse(partial, 50).error_status, 431);
  // The body does not count toward the header limit.
  const std::string post =
      "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + std::string(100, 'b');
  EXPECT_EQ(Parse(post, post.size() - 100).state, State::kComplete);
}

TEST(ParseHttpRequestTest, BodyLimitIsInclusiveAndCheckedBeforeTheBodyArrives) {
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n";
  EXPECT_EQ(Parse(head + "0123456789", kHeaderLimit, 10).state, State::kComplete);
  HttpParseResult r = Parse(head, kHeaderLimit, 9);  // No body bytes yet.
  EXPECT_EQ(r.state, State::kError);
  EXPECT_EQ(r.error_status, 413);
  // A limit of zero allows bodiless requests only.
  EXPECT_EQ(Parse("GET / HTTP/1.1\r\nHost: h\r\n\r\n", kHeaderLimit, 0).state, State::kComplete);
}

TEST(ParseHttpRequestTest, ExpectContinue) {
  const std::string head =
      "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 4\r\n\r\n";
  HttpParseResult r = Parse(head);
  EXPECT_EQ(r.state, State::kIncomplete);
  EXPECT_TRUE(r.expect_continue);
  EXPECT_EQ(r.needed_bytes, head.size() + 4);
  EXPECT_FALSE(Parse(head.substr(0, head.size() - 1)).expect_continue);  // Headers unfinished.
  // HTTP/1.0 clients do not know 100 Continue.
  EXPECT_FALSE(Parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
                   .expect_continue);
}

TEST(HttpReasonPhraseTest, EmittedCodes) {
  EXPECT_EQ(HttpReasonPhrase(200), "OK");
  EXPECT_EQ(HttpReasonPhrase(201), "Created");
  EXPECT_EQ(HttpReasonPhrase(204), "No Content");
  EXPECT_EQ(HttpReasonPhrase(400), "Bad Request");
  EXPECT_EQ(HttpReasonPhrase(404), "Not Found");
  EXPECT_EQ(HttpReasonPhrase(405), "Method Not Allowed");
  EXPECT_EQ(HttpReasonPhrase(408), "Request Timeout");
  EXPECT_EQ(HttpReasonPhrase(411), "Length Required");
  EXPECT_EQ(HttpReasonPhrase(413), "Content Too Large");
  EXPECT_EQ(HttpReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(HttpReasonPhrase(500), "Internal Server Error");
  EXPECT_EQ(HttpReasonPhrase(501), "Not Implemented");
  EXPECT_EQ(HttpReasonPhrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(HttpReasonPhrase(299), "");
}

// --- The server over loopback TCP ---

// Generous: every test normally finishes in milliseconds (the timeout tests
// in well under a second); the limit only matters on an overloaded machine.
constexpr absl::Duration kWallLimit = absl::Seconds(10);

Endpoint Ep(absl::string_view text) {
  absl::StatusOr<Endpoint> ep = Endpoint::Parse(text);
  EXPECT_TRUE(ep.ok()) << ep.status();
  return ep.ok() ? *ep : Endpoint();
}

absl::Span<const uint8_t> Bytes(absl::string_view s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// The expected bytes of a response, spelled out independently of the server.
std::string Response(absl::string_view status_line, absl::string_view body, bool keep_alive,
                     absl::string_view content_type = "application/json") {
  return absl::StrCat("HTTP/1.1 ", status_line, "\r\nContent-Type: ", content_type,
                      "\r\nContent-Length: ", body.size(),
                      "\r\nConnection: ", keep_alive ? "keep-alive" : "close", "\r\n\r\n", body);
}

// A client connection and everything it saw.
struct Client {
  std::unique_ptr<Conn> conn;
  std::string received;
  int closes = 0;
  absl::Status why;

  void Start() {
    conn->Start(
        [this](absl::Span<const uint8_t> d) {
          received.append(reinterpret_cast<const char*>(d.data()), d.size());
        },
        [this](const absl::Status& s) {
          ++closes;
          why = s;
        });
  }
  void Send(absl::string_view s) { conn->Write(Bytes(s)); }
};

constexpr char kOkBody[] = "{\"ok\":true}";

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerTest()
      : loop_(std::move(*EpollLoop::Create())),
        net_(std::make_unique<SocketNetwork>(loop_.get())) {}

  void StartServer(HttpServerOptions opts = {}) {
    absl::StatusOr<std::unique_ptr<HttpServer>> s = HttpServer::Start(
        loop_.get(), net_.get(), Ep("127.0.0.1:0"),
        [this](const HttpRequest& r) {
          requests_.push_back(r);
          return respond_(r);
        },
        opts);
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
  }

  bool RunUntil(absl::FunctionRef<bool()> done) { return loop_->RunUntil(done, kWallLimit); }

  // Lets everything already due (posted callbacks, ready sockets) run.
  void Settle() {
    bool tick = false;
    loop_->RunAfter(absl::Milliseconds(20), [&] { tick = true; });
    ASSERT_TRUE(RunUntil([&] { return tick; }));
  }

  // A started client connected to the server, after the server accepted it.
  std::unique_ptr<Client> Connect() {
    auto client = std::make_unique<Client>();
    bool done = false;
    net_->Dial(server_->LocalEndpoint(), kWallLimit, [&](absl::StatusOr<std::unique_ptr<Conn>> c) {
      done = true;
      EXPECT_TRUE(c.ok()) << c.status();
      if (c.ok()) client->conn = std::move(*c);
    });
    EXPECT_TRUE(RunUntil([&] { return done; }));
    if (client->conn == nullptr) return nullptr;
    client->Start();
    return client;
  }

  // Sends `request` and runs until `want` bytes arrived (or the stream ended).
  void Exchange(Client* c, absl::string_view request, size_t want) {
    c->Send(request);
    EXPECT_TRUE(RunUntil([&] { return c->received.size() >= want || c->closes > 0; }));
  }

  std::unique_ptr<EpollLoop> loop_;
  std::unique_ptr<SocketNetwork> net_;
  std::vector<HttpRequest> requests_;
  std::function<HttpResponse(const HttpRequest&)> respond_ = [](const HttpRequest&) {
    return HttpResponse{200, "application/json", kOkBody};
  };
  std::unique_ptr<HttpServer> server_;  // Last: destroyed first.
};

TEST_F(HttpServerTest, GetReturnsTheExactResponse) {
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string want =
      "HTTP/1.1 200 OK\r\n"
      "Content-Type: application/json\r\n"
      "Content-Length: 11\r\n"
      "Connection: keep-alive\r\n"
      "\r\n"
      "{\"ok\":true}";
  Exchange(c.get(), "GET /nodeinfo?verbose=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n\r\n",
           want.size());
  EXPECT_EQ(c->received, want);
  ASSERT_EQ(requests_.size(), 1u);
  const HttpRequest& r = requests_[0];
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.target, "/nodeinfo?verbose=1");
  EXPECT_EQ(r.path, "/nodeinfo");
  EXPECT_EQ(r.query, "verbose=1");
  EXPECT_THAT(r.headers, ElementsAre(Pair("host", "127.0.0.1"), Pair("user-agent", "t")));
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.remote, c->conn->LocalEndpoint());
  Settle();
  EXPECT_EQ(c->closes, 0);  // Kept alive.
  EXPECT_EQ(server_->open_connections(), 1);
}

TEST_F(HttpServerTest, PostBodyReachesTheHandler) {
  respond_ = [](const HttpRequest& r) {
    return HttpResponse{201, "text/plain", absl::StrCat("got ", r.body.size())};
  };
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string body = "{\"enode\":\"enode://ab@10.0.0.1:30303\"}";
  const std::string want =
      Response("201 Created", absl::StrCat("got ", body.size()), true, "text/plain");
  Exchange(c.get(),
           absl::StrCat("POST /peers/static HTTP/1.1\r\nHost: h\r\nContent-Type: "
                        "application/json\r\nContent-Length: ",
                        body.size(), "\r\n\r\n", body),
           want.size());
  EXPECT_EQ(c->received, want);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].method, "POST");
  EXPECT_EQ(requests_[0].path, "/peers/static");
  EXPECT_EQ(requests_[0].body, body);
}

TEST_F(HttpServerTest, KeepAliveServesSequentialRequests) {
  respond_ = [](const HttpRequest& r) { return HttpResponse{200, "text/plain", r.path}; };
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string first = Response("200 OK", "/one", true, "text/plain");
  Exchange(c.get(), "GET /one HTTP/1.1\r\nHost: h\r\n\r\n", first.size());
  EXPECT_EQ(c->received, first);
  const std::string second = Response("200 OK", "/two", true, "text/plain");
  Exchange(c.get(), "GET /two HTTP/1.1\r\nHost: h\r\n\r\n", first.size() + second.size());
  EXPECT_EQ(c->received, first + second);
  EXPECT_EQ(requests_.size(), 2u);
  EXPECT_EQ(server_->open_connections(), 1);
  EXPECT_EQ(c->closes, 0);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  respond_ = [](const HttpRequest& r) {
    return HttpResponse{200, "text/plain", absl::StrCat(r.method, " ", r.path, " ", r.body)};
  };
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string want = Response("200 OK", "GET /a ", true, "text/plain") +
                           Response("200 OK", "POST /b xyz", true, "text/plain") +
                           Response("200 OK", "GET /c ", false, "text/plain");
  Exchange(c.get(),
           "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
           "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
           "GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
           "GET /never HTTP/1.1\r\nHost: h\r\n\r\n",  // After "close": ignored.
           want.size());
  ASSERT_TRUE(RunUntil([&] { return c->closes > 0; }));
  EXPECT_EQ(c->received, want);
  EXPECT_TRUE(c->why.ok()) << c->why;  // An orderly close (FIN), not a reset.
  EXPECT_EQ(requests_.size(), 3u);
  ASSERT_TRUE(RunUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, Http10ClosesAfterTheResponse) {
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  c->Send("GET / HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return c->closes > 0; }));
  EXPECT_EQ(c->received, Response("200 OK", kOkBody, false));
  EXPECT_TRUE(c->why.ok()) << c->why;
  ASSERT_TRUE(RunUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, Http10KeepAliveOnRequest) {
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string one = Response("200 OK", kOkBody, true);
  Exchange(c.get(), "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", one.size());
  EXPECT_EQ(c->received, one);
  Exchange(c.get(), "GET / HTTP/1.0\r\n\r\n", 2 * one.size());
  ASSERT_TRUE(RunUntil([&] { return c->closes > 0; }));
  EXPECT_EQ(c->received, one + Response("200 OK", kOkBody, false));
}

TEST_F(HttpServerTest, HeadOmitsTheBodyButKeepsItsLength) {
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string head_response =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n"
      "Connection: keep-alive\r\n\r\n";
  const std::string get_response = Response("200 OK", kOkBody, true);
  Exchange(c.get(), "HEAD / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
           head_response.size() + get_response.size());
  EXPECT_EQ(c->received, head_response + get_response);
}

TEST_F(HttpServerTest, NoContentHasNoBodyHeaders) {
  respond_ = [](const HttpRequest&) { return HttpResponse{204, "application/json", "ignored"}; };
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string want = "HTTP/1.1 204 No Content\r\nConnection: keep-alive\r\n\r\n";
  Exchange(c.get(), "DELETE /peers/static/x HTTP/1.1\r\nHost: h\r\n\r\n", want.size());
  Settle();
  EXPECT_EQ(c->received, want);
}

TEST_F(HttpServerTest, EmptyContentTypeIsOmitted) {
  respond_ = [](const HttpRequest&) { return HttpResponse{404, "", ""}; };
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string want =
      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n";
  Exchange(c.get(), "GET /nope HTTP/1.1\r\nHost: h\r\n\r\n", want.size());
  EXPECT_EQ(c->received, want);
}

TEST_F(HttpServerTest, InvalidHandlerResponsesBecome500) {
  int calls = 0;
  respond_ = [&](const HttpRequest&) {
    ++calls;
    return calls == 1 ? HttpResponse{99, "text/plain", "x"}
                      : HttpResponse{200, "text/plain\r\nX-Injected: 1", "x"};
  };
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string one =
      Response("500 Internal Server Error", "{\"error\":\"invalid response from handler\"}", true);
  Exchange(c.get(), "GET / HTTP/1.1\r\nHost: h\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
           2 * one.size());
  EXPECT_EQ(c->received, one + one);
}

// Each error class: its exact status line, then the server closes.
TEST_F(HttpServerTest, ErrorsAreAnsweredAndClose) {
  HttpServerOptions opts;
  opts.max_header_bytes = 1024;
  StartServer(opts);
  struct Case {
    std::string request;
    std::string status_line;
  };
  const Case cases[] = {
      {"GET / HTTP/1.1\r\nHost h\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n"},
      {"GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(2000, 'x') + "\r\n\r\n",
       "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
      {"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n",
       "HTTP/1.1 413 Content Too Large\r\n"},
      {"GET / HTTP/2.0\r\nHost: h\r\n\r\n", "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
      {"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
       "HTTP/1.1 411 Length Required\r\n"},
  };
  for (const Case& tc : cases) {
    std::unique_ptr<Client> c = Connect();
    ASSERT_NE(c, nullptr);
    c->Send(tc.request);
    ASSERT_TRUE(RunUntil([&] { return c->closes > 0; })) << tc.status_line;
    EXPECT_TRUE(absl::StartsWith(c->received, tc.status_line)) << c->received;
    EXPECT_TRUE(absl::StrContains(c->received, "\r\nConnection: close\r\n\r\n{\"error\":\""))
        << c->received;
  }
  EXPECT_TRUE(requests_.empty());
  ASSERT_TRUE(RunUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, BadRequestExactBytes) {
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  c->Send("GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return c->closes > 0; }));
  EXPECT_EQ(c->received,
            "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: "
            "31\r\nConnection: close\r\n\r\n{\"error\":\"missing Host header\"}");
}

TEST_F(HttpServerTest, KeepsServingAfterGarbage) {
  StartServer();
  const std::string garbage[] = {
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // A TLS ClientHello.
      std::string("\0\0\0\0\xff\xfe\n\n\n", 9),
      "hello world\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef",
  };
  for (const std::string& g : garbage) {
    std::unique_ptr<Client> bad = Connect();
    ASSERT_NE(bad, nullptr);
    bad->Send(g);
    ASSERT_TRUE(RunUntil([&] { return bad->closes > 0; }));
    EXPECT_TRUE(absl::StartsWith(bad->received, "HTTP/1.1 400 Bad Request\r\n")) << bad->received;

    std::unique_ptr<Client> good = Connect();
    ASSERT_NE(good, nullptr);
    const std::string want = Response("200 OK", kOkBody, true);
    Exchange(good.get(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n", want.size());
    EXPECT_EQ(good->received, want);
  }
  EXPECT_EQ(requests_.size(), 4u);
}

TEST_F(HttpServerTest, MaxConnectionsIsEnforced) {
  HttpServerOptions opts;
  opts.max_connections = 2;
  StartServer(opts);
  std::unique_ptr<Client> a = Connect();
  std::unique_ptr<Client> b = Connect();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(RunUntil([&] { return server_->open_connections() == 2; }));

  std::unique_ptr<Client> rejected = Connect();
  ASSERT_NE(rejected, nullptr);
  rejected->Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return rejected->closes > 0; }));
  EXPECT_EQ(rejected->received, "");
  EXPECT_EQ(server_->rejected_connections(), 1);
  EXPECT_EQ(server_->open_connections(), 2);

  // The admitted ones are still served.
  const std::string want = Response("200 OK", kOkBody, true);
  Exchange(a.get(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n", want.size());
  EXPECT_EQ(a->received, want);

  // A freed slot is reused.
  b->conn->Close(absl::OkStatus(), /*flush=*/true);
  ASSERT_TRUE(RunUntil([&] { return server_->open_connections() == 1; }));
  std::unique_ptr<Client> d = Connect();
  ASSERT_NE(d, nullptr);
  Exchange(d.get(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n", want.size());
  EXPECT_EQ(d->received, want);
  EXPECT_EQ(server_->rejected_connections(), 1);
  EXPECT_EQ(requests_.size(), 2u);
}

TEST_F(HttpServerTest, IdleConnectionIsClosed) {
  HttpServerOptions opts;
  opts.idle_timeout = absl::Milliseconds(200);
  StartServer(opts);
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const MonoTime start = loop_->Now();
  ASSERT_TRUE(RunUntil([&] { return c->closes > 0; }));
  EXPECT_GE(loop_->Now() - start, absl::Milliseconds(200));
  EXPECT_EQ(c->received, "");
  EXPECT_TRUE(c->why.ok()) << c->why;
  ASSERT_TRUE(RunUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, IdleTimeoutRestartsAfterEachRequest) {
  HttpServerOptions opts;
  opts.idle_timeout = absl::Milliseconds(500);
  StartServer(opts);
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string want = Response("200 OK", kOkBody, true);
  // Requests 200 ms apart: 800 ms in all, but never 500 ms without one
  // (unless the machine stalls for 300 ms).
  for (size_t i = 1; i <= 4; ++i) {
    bool tick = false;
    loop_->RunAfter(absl::Milliseconds(200), [&] { tick = true; });
    ASSERT_TRUE(RunUntil([&] { return tick; }));
    Exchange(c.get(), "GET / HTTP/1.1\r\nHost: h\r\n\r\n", i * want.size());
    if (c->closes > 0) break;
  }
  EXPECT_EQ(requests_.size(), 4u);
  EXPECT_EQ(c->closes, 0);
  ASSERT_TRUE(RunUntil([&] { return c->closes > 0; }));
}

TEST_F(HttpServerTest, TricklingClientIsNotKeptAlive) {
  HttpServerOptions opts;
  opts.idle_timeout = absl::Milliseconds(300);
  StartServer(opts);
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  c->Send("GET / HTTP/1.1\r\nHost: h\r\n");
  // A new header line every 20 ms: always busy, never finished.
  std::function<void()> trickle = [&] {
    if (c->closes > 0) return;
    c->Send("X-Slow: 1\r\n");
    loop_->RunAfter(absl::Milliseconds(20), [&] { trickle(); });
  };
  trickle();
  ASSERT_TRUE(RunUntil([&] { return c->closes > 0; }));
  EXPECT_TRUE(absl::StartsWith(c->received, "HTTP/1.1 408 Request Timeout\r\n")) << c->received;
  EXPECT_TRUE(requests_.empty());
  ASSERT_TRUE(RunUntil([&] { return server_->open_connections() == 0; }));
}

TEST_F(HttpServerTest, RequestDeliveredOneByteAtATime) {
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string req =
      "POST /peers/static?x=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\nabc\r\ndeGET";
  // The trailing "GET" starts a second request that never completes.
  size_t next = 0;
  std::function<void()> send_one = [&] {
    c->Send(absl::string_view(req).substr(next, 1));
    if (++next < req.size()) loop_->RunAfter(absl::Milliseconds(1), [&] { send_one(); });
  };
  send_one();
  const std::string want = Response("200 OK", kOkBody, true);
  ASSERT_TRUE(RunUntil([&] { return next == req.size() && c->received.size() >= want.size(); }));
  Settle();
  EXPECT_EQ(c->received, want);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].path, "/peers/static");
  EXPECT_EQ(requests_[0].query, "x=1");
  EXPECT_EQ(requests_[0].body, "abc\r\nde");
  EXPECT_EQ(c->closes, 0);
}

TEST_F(HttpServerTest, ExpectContinueGetsAnInterimResponse) {
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  const std::string cont = "HTTP/1.1 100 Continue\r\n\r\n";
  Exchange(c.get(),
           "POST /peers/static HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
           "Content-Length: 4\r\n\r\n",
           cont.size());
  EXPECT_EQ(c->received, cont);
  EXPECT_TRUE(requests_.empty());
  const std::string want = Response("200 OK", kOkBody, true);
  Exchange(c.get(), "body", cont.size() + want.size());
  EXPECT_EQ(c->received, cont + want);
  ASSERT_EQ(requests_.size(), 1u);
  EXPECT_EQ(requests_[0].body, "body");
}

TEST_F(HttpServerTest, ClientThatDoesNotReadIsDisconnected) {
  HttpServerOptions opts;
  opts.max_pending_write_bytes = 64 * 1024;
  constexpr int kRequests = 64;
  respond_ = [](const HttpRequest&) {
    return HttpResponse{200, "application/octet-stream", std::string(1 << 20, 'z')};
  };
  StartServer(opts);
  // Not started: the client never reads, so the kernel buffers fill up.
  bool done = false;
  std::unique_ptr<Conn> conn;
  net_->Dial(server_->LocalEndpoint(), kWallLimit, [&](absl::StatusOr<std::unique_ptr<Conn>> c) {
    done = true;
    ASSERT_TRUE(c.ok()) << c.status();
    conn = std::move(*c);
  });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  ASSERT_NE(conn, nullptr);
  std::string pipeline;
  for (int i = 0; i < kRequests; ++i) pipeline += "GET /big HTTP/1.1\r\nHost: h\r\n\r\n";
  conn->Write(Bytes(pipeline));
  ASSERT_TRUE(RunUntil([&] { return !requests_.empty() && server_->open_connections() == 0; }));
  // 64 MiB of responses cannot fit in the socket buffers.
  EXPECT_LT(requests_.size(), static_cast<size_t>(kRequests));
}

TEST_F(HttpServerTest, DestroyingTheServerClosesConnectionsAndRunsNothingMore) {
  StartServer();
  std::unique_ptr<Client> c = Connect();
  ASSERT_NE(c, nullptr);
  ASSERT_TRUE(RunUntil([&] { return server_->open_connections() == 1; }));
  c->Send("GET / HTTP/1.1\r\nHost: h\r\n\r\n");  // Not read by the server yet.
  server_.reset();
  ASSERT_TRUE(RunUntil([&] { return c->closes > 0; }));
  Settle();
  EXPECT_TRUE(requests_.empty());
  EXPECT_EQ(c->received, "");
}

TEST_F(HttpServerTest, StartErrors) {
  HttpServerOptions bad;
  bad.max_connections = 0;
  absl::StatusOr<std::unique_ptr<HttpServer>> s = HttpServer::Start(
      loop_.get(), net_.get(), Ep("127.0.0.1:0"), [](const HttpRequest&) { return HttpResponse{}; },
      bad);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  bad = HttpServerOptions();
  bad.idle_timeout = absl::ZeroDuration();
  s = HttpServer::Start(
      loop_.get(), net_.get(), Ep("127.0.0.1:0"), [](const HttpRequest&) { return HttpResponse{}; },
      bad);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);

  StartServer();
  s = HttpServer::Start(loop_.get(), net_.get(), server_->LocalEndpoint(),
                        [](const HttpRequest&) { return HttpResponse{}; });
  EXPECT_EQ(s.status().code(), absl::StatusCode::kAlreadyExists) << s.status();
  EXPECT_NE(server_->LocalEndpoint().port, 0);
}

}  // namespace
}  // namespace p2p::transport
