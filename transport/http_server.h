// A small HTTP/1.1 server for the node's admin endpoint (GET /nodeinfo,
// GET /peers, POST /peers/static, ...). It provides the machinery only:
// parsing, framing, keep-alive and limits. Routing is the handler's job.
//
// It runs over the p2p::Network seam, so it serves real sockets
// (SocketNetwork) and in-memory networks alike.
//
// Protocol (RFC 9112), as implemented:
//  - Requests: HTTP/1.0 and HTTP/1.1 (HTTP/1.x with x > 1 is served as
//    1.1). Any other version is answered 505. Lines end in CRLF or a bare
//    LF; empty lines before a request line are skipped. Bodies only with
//    Content-Length; a request with Transfer-Encoding (chunked or any
//    other) is answered 411 Length Required. HTTP/1.1 requests need exactly
//    one Host header. Targets in origin form ("/path?query"), absolute form
//    ("http://host/path": the authority is dropped) or "*".
//  - The handler is called synchronously from the read path, once per
//    complete request, in order; pipelined requests are answered in order.
//    `path` is the raw target up to '?' (not percent-decoded) and `query`
//    what follows it.
//  - Responses are "HTTP/1.1 <code> <reason>" with Content-Type (when not
//    empty), Content-Length and "Connection: keep-alive" or "close". 204
//    and 304 carry neither a body nor Content-Length; HEAD responses carry
//    the headers but not the body. `Expect: 100-continue` gets an interim
//    "100 Continue" once the headers were accepted.
//  - Keep-alive: HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with
//    "Connection: keep-alive".
//  - Errors: the server answers with a JSON body {"error":"..."} and closes
//    the connection after sending: 400 (malformed request line or header,
//    bad Content-Length, missing Host), 411 (Transfer-Encoding), 413 (body
//    over max_body_bytes, answered as soon as the headers arrive), 431
//    (header section over max_header_bytes), 505 (version), 408 (see
//    idle_timeout). A handler returning a status outside 200..599 or a
//    Content-Type containing control characters gets a 500 sent instead.
//
// Limits (HttpServerOptions):
//  - max_connections: connections accepted beyond it are closed at once
//    (counted in rejected_connections()).
//  - idle_timeout: each connection must deliver a complete request within
//    idle_timeout of being accepted or of its previous request; trickling
//    bytes does not extend it, so a slowloris client cannot hold a slot.
//    On expiry a partly received request is answered 408; then the
//    connection is closed. Closing connections get the same time again to
//    flush their last response, then are dropped.
//  - max_pending_write_bytes: a client that pipelines requests without
//    reading the responses is disconnected once more than this is queued.
//
// Lifetimes and threading: `loop` and `net` must outlive the server; all
// calls on the loop thread. The handler must not destroy the server.
// Destroying the server stops listening and closes every connection at
// once; no handler or other callback runs afterwards.
#ifndef P2P_TRANSPORT_HTTP_SERVER_H_
#define P2P_TRANSPORT_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/event_loop.h"
#include "core/net/ip.h"
#include "core/net/transport.h"
#include "core/weak_flag.h"

namespace p2p::transport {

struct HttpRequest {
  std::string method;  // Case-sensitive token, e.g. "GET".
  std::string target;  // As sent, e.g. "/peers?limit=5".
  std::string path;    // Raw (not percent-decoded) target up to '?'.
  std::string query;   // After the first '?', without it; may be empty.
  // Names lower-cased, values without surrounding whitespace, in order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  Endpoint remote;  // Set by the server; ParseHttpRequest leaves it empty.
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";  // Empty: no header.
  std::string body;
};

struct HttpServerOptions {
  size_t max_header_bytes = 16 * 1024;  // Request line + headers + blank line.
  size_t max_body_bytes = 64 * 1024;
  int max_connections = 64;
  absl::Duration idle_timeout = absl::Seconds(10);
  size_t max_pending_write_bytes = 1024 * 1024;
};

// The standard reason phrase ("OK", "Not Found"); "" for codes without one
// here (the status line then ends "<code> ", which RFC 9112 allows).
absl::string_view HttpReasonPhrase(int status);

// The result of looking at the start of a connection's receive buffer.
struct HttpParseResult {
  enum class State {
    kIncomplete,  // Need more bytes.
    kComplete,    // `request` is ready and occupied `consumed` bytes.
    kError,       // Answer `error_status` and close.
  };
  State state = State::kIncomplete;

  // kComplete.
  HttpRequest request;
  size_t consumed = 0;
  bool keep_alive = false;  // What the request's version and headers ask.

  // kIncomplete: once the header section is complete, the buffer size at
  // which the request will be complete (0 before), and whether the client
  // waits for "100 Continue" before sending the body.
  size_t needed_bytes = 0;
  bool expect_continue = false;

  // kError.
  int error_status = 0;
  std::string error;  // Short description, sent in the response body.
};

// Parses one request from the start of `data`. Pure: no state between
// calls; call again with more bytes after kIncomplete. Errors are reported
// as early as possible: a malformed complete line, or a first line whose
// start is already not a method, is an error before the header section
// ends.
HttpParseResult ParseHttpRequest(absl::string_view data, size_t max_header_bytes,
                                 size_t max_body_bytes);

class HttpServer {
 public:
  using Handler = absl::AnyInvocable<HttpResponse(const HttpRequest&)>;

  // Listens on `listen` (port 0 picks a free port). Errors: kInvalidArgument
  // for unusable options (a zero limit, a non-positive timeout), and those
  // of Network::Listen.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(EventLoop* loop, Network* net,
                                                           const Endpoint& listen, Handler handler,
                                                           HttpServerOptions opts = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  Endpoint LocalEndpoint() const;
  // Accepted connections not yet fully closed (including ones flushing
  // their last response).
  int open_connections() const { return static_cast<int>(conns_.size()); }
  // Connections closed on accept because max_connections were open.
  int64_t rejected_connections() const { return rejected_connections_; }

 private:
  struct Connection;

  HttpServer(EventLoop* loop, Handler handler, HttpServerOptions opts);

  void OnAccept(std::unique_ptr<Conn> conn);
  void OnRead(uint64_t id, absl::Span<const uint8_t> data);
  void OnClosed(uint64_t id);
  void OnTimer(uint64_t id);
  void ArmTimer(Connection& c);
  // Writes a response; `head` omits the body.
  void WriteResponse(Connection& c, const HttpResponse& resp, bool keep_alive, bool head);
  // Sends an error response and closes after it.
  void FailRequest(Connection& c, int status, absl::string_view error);
  // Stops reading and closes once the queued responses are sent (bounded
  // by a timer).
  void CloseAfterFlush(Connection& c, const absl::Status& why);

  EventLoop* loop_;
  Handler handler_;
  const HttpServerOptions opts_;
  std::unique_ptr<Listener> listener_;
  uint64_t next_conn_id_ = 1;
  std::map<uint64_t, std::unique_ptr<Connection>> conns_;
  int64_t rejected_connections_ = 0;
  WeakFlag alive_;  // Last: dies first.
};

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_HTTP_SERVER_H_
