#include "transport/http_server.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "core/json_writer.h"

namespace p2p::transport {
namespace {

constexpr absl::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";
// Longest method accepted. Bounding it lets an unfinished first line be
// checked in constant time, so garbage is rejected before a newline comes.
constexpr size_t kMaxMethodBytes = 32;

// RFC 9110 tchar.
bool IsTchar(char ch) {
  if (absl::ascii_isalnum(static_cast<unsigned char>(ch))) return true;
  switch (ch) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool IsToken(absl::string_view s) {
  if (s.empty()) return false;
  for (char ch : s) {
    if (!IsTchar(ch)) return false;
  }
  return true;
}

// Field values: visible characters, SP, HTAB and obs-text (>= 0x80).
bool IsFieldValueChar(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return c == '\t' || (c >= 0x20 && c != 0x7F);
}

bool HasControlChar(absl::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7F) return true;
  }
  return false;
}

// The next line of `window` starting at *pos, without its LF or CRLF.
// False if no complete line follows *pos.
bool NextLine(absl::string_view window, size_t* pos, absl::string_view* line) {
  const size_t nl = window.find('\n', *pos);
  if (nl == absl::string_view::npos) return false;
  size_t end = nl;
  if (end > *pos && window[end - 1] == '\r') --end;
  *line = window.substr(*pos, end - *pos);
  *pos = nl + 1;
  return true;
}

// Whether an unfinished first line can still become a request line: it
// must start with a method token of bounded length.
bool CouldBeRequestLine(absl::string_view partial) {
  for (size_t i = 0; i < partial.size(); ++i) {
    const char ch = partial[i];
    if (ch == ' ') return i > 0;
    if (i >= kMaxMethodBytes) return false;
    if (ch == '\r' && i + 1 == partial.size()) return true;  // A CRLF may follow.
    if (!IsTchar(ch)) return false;
  }
  return true;
}

HttpParseResult ParseError(int status, std::string error) {
  HttpParseResult r;
  r.state = HttpParseResult::State::kError;
  r.error_status = status;
  r.error = std::move(error);
  return r;
}

// Parses "METHOD SP target SP HTTP/d.d" into `req` and the minor version.
// Returns 0, or the status to answer (*error says why).
int ParseRequestLine(absl::string_view line, HttpRequest* req, int* minor, std::string* error) {
  const size_t sp1 = line.find(' ');
  const size_t sp2 = sp1 == absl::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == absl::string_view::npos || line.find(' ', sp2 + 1) != absl::string_view::npos) {
    *error = "malformed request line";
    return 400;
  }
  const absl::string_view method = line.substr(0, sp1);
  const absl::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const absl::string_view version = line.substr(sp2 + 1);
  if (!IsToken(method) || method.size() > kMaxMethodBytes) {
    *error = "malformed request method";
    return 400;
  }
  if (version.size() != 8 || !absl::StartsWith(version, "HTTP/") ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[5])) || version[6] != '.' ||
      !absl::ascii_isdigit(static_cast<unsigned char>(version[7]))) {
    *error = "malformed HTTP version";
    return 400;
  }
  if (version[5] != '1') {
    *error = absl::StrCat("unsupported HTTP version ", version);
    return 505;
  }
  *minor = version[7] - '0';

  if (target.empty()) {
    *error = "malformed request target";
    return 400;
  }
  for (char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7F) {
      *error = "malformed request target";
      return 400;
    }
  }
  // The part that names the resource: origin form as is, absolute form
  // without scheme and authority.
  std::string resource;
  if (target == "*" || target[0] == '/') {
    resource = std::string(target);
  } else {
    absl::string_view rest = target;
    if (absl::StartsWithIgnoreCase(rest, "http://")) {
      rest.remove_prefix(7);
    } else if (absl::StartsWithIgnoreCase(rest, "https://")) {
      rest.remove_prefix(8);
    } else {
      *error = "malformed request target";
      return 400;
    }
    const size_t authority_end = rest.find_first_of("/?");
    rest =
        authority_end == absl::string_view::npos ? absl::string_view() : rest.substr(authority_end);
    resource = (rest.empty() || rest[0] == '?') ? absl::StrCat("/", rest) : std::string(rest);
  }
  req->method = std::string(method);
  req->target = std::string(target);
  const size_t q = resource.find('?');
  if (q == std::string::npos) {
    req->path = std::move(resource);
    req->query.clear();
  } else {
    req->path = resource.substr(0, q);
    req->query = resource.substr(q + 1);
  }
  return 0;
}

// 1*DIGIT, saturating at the uint64 maximum (which is over any limit).
bool ParseContentLength(absl::string_view s, uint64_t* n) {
  if (s.empty()) return false;
  uint64_t v = 0;
  for (char ch : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(ch))) return false;
    const uint64_t digit = static_cast<uint64_t>(ch - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      v = std::numeric_limits<uint64_t>::max();
    } else {
      v = v * 10 + digit;
    }
  }
  *n = v;
  return true;
}

HttpResponse ErrorResponse(int status, absl::string_view error) {
  HttpResponse resp;
  resp.status = status;
  JsonWriter w;
  w.BeginObject().Key("error").String(error).EndObject();
  resp.body = w.Take();
  return resp;
}

absl::Span<const uint8_t> AsBytes(absl::string_view s) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

}  // namespace

absl::string_view HttpReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";  // RFC 9110's name; formerly "Payload Too Large".
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Content";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "";
  }
}

HttpParseResult ParseHttpRequest(absl::string_view data, size_t max_header_bytes,
                                 size_t max_body_bytes) {
  // The header section must end within the window; once the buffer holds a
  // full window without its end, it can only be too large.
  const absl::string_view window = data.substr(0, max_header_bytes);
  const bool window_full = data.size() >= max_header_bytes;
  auto incomplete_header = [&]() {
    if (window_full) {
      return ParseError(
          431, absl::StrCat("request header section exceeds ", max_header_bytes, " bytes"));
    }
    return HttpParseResult();
  };

  size_t pos = 0;
  absl::string_view line;
  // RFC 9112 2.2: empty lines before the request line are ignored.
  do {
    if (!NextLine(window, &pos, &line)) {
      if (!CouldBeRequestLine(window.substr(pos))) {
        return ParseError(400, "malformed request line");
      }
      return incomplete_header();
    }
  } while (line.empty());

  HttpRequest req;
  int minor = 0;
  std::string error;
  if (int status = ParseRequestLine(line, &req, &minor, &error); status != 0) {
    return ParseError(status, std::move(error));
  }

  while (true) {
    if (!NextLine(window, &pos, &line)) return incomplete_header();
    if (line.empty()) break;
    if (line[0] == ' ' || line[0] == '\t') {
      return ParseError(400, "obsolete header line folding");
    }
    const size_t colon = line.find(':');
    if (colon == absl::string_view::npos || !IsToken(line.substr(0, colon))) {
      return ParseError(400, "malformed header line");
    }
    absl::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
      value.remove_prefix(1);
    }
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
      value.remove_suffix(1);
    }
    for (char ch : value) {
      if (!IsFieldValueChar(ch)) return ParseError(400, "invalid character in header value");
    }
    req.headers.emplace_back(absl::AsciiStrToLower(line.substr(0, colon)), std::string(value));
  }
  const size_t header_bytes = pos;

  bool has_content_length = false;
  uint64_t content_length = 0;
  bool has_transfer_encoding = false;
  int hosts = 0;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool expect_continue = false;
  for (const auto& [name, value] : req.headers) {
    if (name == "content-length") {
      uint64_t n = 0;
      if (!ParseContentLength(value, &n)) return ParseError(400, "malformed Content-Length");
      if (has_content_length && n != content_length) {
        return ParseError(400, "conflicting Content-Length headers");
      }
      has_content_length = true;
      content_length = n;
    } else if (name == "transfer-encoding") {
      has_transfer_encoding = true;
    } else if (name == "host") {
      ++hosts;
    } else if (name == "connection") {
      for (absl::string_view token : absl::StrSplit(value, ',')) {
        token = absl::StripAsciiWhitespace(token);
        if (absl::EqualsIgnoreCase(token, "close")) connection_close = true;
        if (absl::EqualsIgnoreCase(token, "keep-alive")) connection_keep_alive = true;
      }
    } else if (name == "expect") {
      if (absl::EqualsIgnoreCase(value, "100-continue")) expect_continue = true;
    }
  }
  // Without Transfer-Encoding support the body's end cannot be found, and
  // accepting it next to Content-Length would invite request smuggling.
  if (has_transfer_encoding) {
    return ParseError(411, "Transfer-Encoding is not supported; send Content-Length");
  }
  if (minor >= 1 && hosts != 1) {
    return ParseError(400, hosts == 0 ? "missing Host header" : "multiple Host headers");
  }
  if (content_length > max_body_bytes) {
    return ParseError(413, absl::StrCat("request body exceeds ", max_body_bytes, " bytes"));
  }

  HttpParseResult r;
  const size_t total = header_bytes + static_cast<size_t>(content_length);
  if (data.size() < total) {
    r.needed_bytes = total;
    r.expect_continue = expect_continue && minor >= 1;
    return r;
  }
  req.body = std::string(data.substr(header_bytes, static_cast<size_t>(content_length)));
  r.state = HttpParseResult::State::kComplete;
  r.request = std::move(req);
  r.consumed = total;
  r.keep_alive = minor >= 1 ? !connection_close : (connection_keep_alive && !connection_close);
  return r;
}

// ---------------------------------------------------------------------------
// HttpServer.

struct HttpServer::Connection {
  uint64_t id = 0;
  std::unique_ptr<Conn> conn;
  Endpoint remote;
  std::string in;            // Received, not yet parsed into requests.
  size_t needed_bytes = 0;   // From the last kIncomplete parse.
  TimerId timer = kNoTimer;  // Request deadline, or flush deadline once closing.
  bool closing = false;      // Close requested; reads are over.
  bool sent_continue = false;
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(EventLoop* loop, Network* net,
                                                              const Endpoint& listen,
                                                              Handler handler,
                                                              HttpServerOptions opts) {
  if (opts.max_header_bytes == 0 || opts.max_connections <= 0 ||
      opts.idle_timeout <= absl::ZeroDuration() || opts.max_pending_write_bytes == 0) {
    return absl::InvalidArgumentError(
        "http server: max_header_bytes, max_connections, idle_timeout and "
        "max_pending_write_bytes must be positive");
  }
  std::unique_ptr<HttpServer> server(new HttpServer(loop, std::move(handler), opts));
  HttpServer* raw = server.get();
  absl::StatusOr<std::unique_ptr<Listener>> listener =
      net->Listen(listen, [raw](std::unique_ptr<Conn> conn) { raw->OnAccept(std::move(conn)); });
  if (!listener.ok()) return listener.status();
  server->listener_ = std::move(*listener);
  return server;
}

HttpServer::HttpServer(EventLoop* loop, Handler handler, HttpServerOptions opts)
    : loop_(loop), handler_(std::move(handler)), opts_(opts) {}

HttpServer::~HttpServer() {
  listener_.reset();
  for (auto& [id, c] : conns_) {
    if (c->timer != kNoTimer) loop_->Cancel(c->timer);
  }
  conns_.clear();  // Destroying a Conn closes it and drops its callbacks.
}

Endpoint HttpServer::LocalEndpoint() const { return listener_->LocalEndpoint(); }

void HttpServer::OnAccept(std::unique_ptr<Conn> conn) {
  if (static_cast<int>(conns_.size()) >= opts_.max_connections) {
    ++rejected_connections_;
    return;  // Destroying the unstarted Conn closes the socket.
  }
  auto owned = std::make_unique<Connection>();
  Connection& c = *owned;
  c.id = next_conn_id_++;
  c.remote = conn->RemoteEndpoint();
  c.conn = std::move(conn);
  conns_.emplace(c.id, std::move(owned));
  const uint64_t id = c.id;
  c.conn->Start([this, id](absl::Span<const uint8_t> data) { OnRead(id, data); },
                [this, id](const absl::Status&) { OnClosed(id); });
  ArmTimer(c);
}

void HttpServer::OnRead(uint64_t id, absl::Span<const uint8_t> data) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = *it->second;
  if (c.closing) return;
  c.in.append(reinterpret_cast<const char*>(data.data()), data.size());

  // Parse again only when it can make progress, so a client trickling
  // bytes does not make the server rescan its buffer for every byte: a
  // body is complete, a line was finished, the header limit was reached,
  // or the first line is still unfinished (checked cheaply for garbage).
  bool parse;
  if (c.needed_bytes > 0) {
    parse = c.in.size() >= c.needed_bytes;
  } else {
    parse = std::memchr(data.data(), '\n', data.size()) != nullptr ||
            c.in.size() >= opts_.max_header_bytes || c.in.find('\n') == std::string::npos;
  }

  WeakFlag::Ref alive = alive_.Weak();
  bool served = false;
  while (parse && !c.closing) {
    HttpParseResult r = ParseHttpRequest(c.in, opts_.max_header_bytes, opts_.max_body_bytes);
    if (r.state == HttpParseResult::State::kIncomplete) {
      c.needed_bytes = r.needed_bytes;
      if (r.expect_continue && !c.sent_continue) {
        c.sent_continue = true;
        c.conn->Write(AsBytes(kContinueResponse));
      }
      break;
    }
    if (r.state == HttpParseResult::State::kError) {
      FailRequest(c, r.error_status, r.error);
      break;
    }
    c.in.erase(0, r.consumed);
    c.needed_bytes = 0;
    c.sent_continue = false;
    served = true;
    r.request.remote = c.remote;
    const bool head = r.request.method == "HEAD";
    const HttpResponse resp = handler_(r.request);
    if (!alive) return;  // The handler destroyed the server (a contract breach).
    WriteResponse(c, resp, r.keep_alive, head);
    if (!r.keep_alive) {
      CloseAfterFlush(c, absl::OkStatus());
    } else if (c.conn->PendingWriteBytes() > opts_.max_pending_write_bytes) {
      c.closing = true;
      c.conn->Close(absl::ResourceExhaustedError("http: client does not read its responses"),
                    /*flush=*/false);
    }
  }
  if (served && !c.closing) ArmTimer(c);  // A new deadline for the next request.
}

void HttpServer::OnClosed(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  if (it->second->timer != kNoTimer) loop_->Cancel(it->second->timer);
  // Safe inside the Conn's own close callback: it is the last one.
  conns_.erase(it);
}

void HttpServer::ArmTimer(Connection& c) {
  if (c.timer != kNoTimer) loop_->Cancel(c.timer);
  c.timer = loop_->RunAfter(opts_.idle_timeout, [this, id = c.id] { OnTimer(id); });
}

void HttpServer::OnTimer(uint64_t id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) return;
  Connection& c = *it->second;
  c.timer = kNoTimer;
  if (c.closing) {
    // The client does not take the last response; give up on it.
    c.conn->Close(absl::DeadlineExceededError("http: flush timeout"), /*flush=*/false);
    return;
  }
  if (!c.in.empty()) {
    FailRequest(c, 408, "request not received in time");
  } else {
    CloseAfterFlush(c, absl::DeadlineExceededError("http: idle timeout"));
  }
}

void HttpServer::WriteResponse(Connection& c, const HttpResponse& resp, bool keep_alive,
                               bool head) {
  const HttpResponse* r = &resp;
  HttpResponse replacement;
  if (resp.status < 200 || resp.status > 599 || HasControlChar(resp.content_type)) {
    replacement = ErrorResponse(500, "invalid response from handler");
    r = &replacement;
  }
  const bool no_content = r->status == 204 || r->status == 304;
  std::string out = absl::StrCat("HTTP/1.1 ", r->status, " ", HttpReasonPhrase(r->status), "\r\n");
  if (!no_content) {
    if (!r->content_type.empty()) absl::StrAppend(&out, "Content-Type: ", r->content_type, "\r\n");
    absl::StrAppend(&out, "Content-Length: ", r->body.size(), "\r\n");
  }
  absl::StrAppend(&out, "Connection: ", keep_alive ? "keep-alive" : "close", "\r\n\r\n");
  if (!no_content && !head) out.append(r->body);
  c.conn->Write(AsBytes(out));
}

void HttpServer::FailRequest(Connection& c, int status, absl::string_view error) {
  WriteResponse(c, ErrorResponse(status, error), /*keep_alive=*/false, /*head=*/false);
  CloseAfterFlush(c, absl::InvalidArgumentError(absl::StrCat("http: ", error)));
}

void HttpServer::CloseAfterFlush(Connection& c, const absl::Status& why) {
  c.closing = true;
  c.conn->Close(why, /*flush=*/true);
  ArmTimer(c);  // Bounds the flush.
}

}  // namespace p2p::transport
