#include "core/server/admin_api.h"

#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/json_writer.h"

namespace p2p {
namespace {

AdminResponse JsonError(int status, absl::string_view msg) {
  JsonWriter w;
  w.BeginObject().Key("error").String(msg).EndObject();
  return AdminResponse{status, "application/json", w.Take() + "\n"};
}

AdminResponse JsonOk(std::string body, int status = 200) {
  return AdminResponse{status, "application/json", std::move(body) + "\n"};
}

void WriteCaps(JsonWriter& w, const std::vector<rlpx::Cap>& caps) {
  w.BeginArray();
  for (const rlpx::Cap& c : caps) w.String(c.ToString());
  w.EndArray();
}

// Prometheus label value escaping: backslash, double quote, newline.
std::string LabelValue(absl::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class MetricsText {
 public:
  void Header(absl::string_view name, absl::string_view type, absl::string_view help) {
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  void Sample(absl::string_view name, int64_t v) { absl::StrAppend(&out_, name, " ", v, "\n"); }
  void Sample(absl::string_view name, absl::string_view label, absl::string_view value, int64_t v) {
    absl::StrAppend(&out_, name, "{", label, "=\"", LabelValue(value), "\"} ", v, "\n");
  }
  void Family(absl::string_view name, absl::string_view help, absl::string_view label,
              const std::map<std::string, int64_t>& values) {
    Header(name, "counter", help);
    for (const auto& [k, v] : values) Sample(name, label, k, v);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string AdminApi::NodeInfoJson() const {
  Node self = server_->Self();
  if (disc_port_ != 0) self.udp = disc_port_;
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String(self.id.ToString());
  w.Key("enode").String(self.ToEnode());
  if (!enr_.empty()) w.Key("enr").String(enr_);
  const std::optional<Endpoint> l = server_->ListenEndpoint();
  w.Key("listen").String(l ? l->ToString() : "");
  w.Key("caps");
  WriteCaps(w, server_->Caps());
  w.EndObject();
  return w.Take();
}

std::string AdminApi::PeersJson() const {
  JsonWriter w;
  w.BeginArray();
  for (const PeerInfo& p : server_->Peers()) {
    w.BeginObject();
    w.Key("id").String(p.node.id.ToString());
    w.Key("enode").String(p.node.ToEnode());
    w.Key("name").String(p.name);
    w.Key("caps");
    WriteCaps(w, p.caps);
    w.Key("inbound").Bool(p.inbound());
    w.Key("static").Bool(p.is_static());
    w.Key("trusted").Bool(p.trusted());
    w.Key("connected_seconds")
        .Double(std::floor(absl::ToDoubleSeconds(clock_->Now() - p.added) * 1000) / 1000);
    w.Key("remote").String(p.remote.ToString());
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

std::string AdminApi::Metrics() const {
  MetricsText m;
  const std::vector<PeerInfo> peers = server_->Peers();
  int64_t inbound = 0;
  for (const PeerInfo& p : peers) inbound += p.inbound() ? 1 : 0;
  m.Header("p2p_peers", "gauge", "Connected peers by direction.");
  m.Sample("p2p_peers", "direction", "inbound", inbound);
  m.Sample("p2p_peers", "direction", "outbound", static_cast<int64_t>(peers.size()) - inbound);
  m.Header("p2p_peers_peak", "gauge", "Most peers connected at once since start.");
  m.Sample("p2p_peers_peak", server_->stats().peak_peers);
  m.Header("p2p_pending_connections", "gauge", "Connections in setup (not yet peers).");
  m.Sample("p2p_pending_connections", server_->PendingConnections());

  const ServerStats s = server_->stats();
  if (const DialPolicy* d = server_->dialer()) {
    const DialStats& ds = d->stats();
    m.Header("p2p_dials_total", "counter", "Dial attempts by outcome.");
    m.Sample("p2p_dials_total", "outcome", "success", ds.dials_succeeded);
    m.Sample("p2p_dials_total", "outcome", "failure", ds.dials_failed);
    m.Sample("p2p_dials_total", "outcome", "timeout", ds.task_timeouts);
    m.Family("p2p_dial_failures_total", "Failed dials by reason.", "reason", ds.failures);
    m.Family("p2p_dial_candidates_skipped_total", "Dial candidates skipped, by reason.", "reason",
             ds.discarded);
  }
  m.Header("p2p_inbound_accepted_total", "counter", "Inbound connections accepted.");
  m.Sample("p2p_inbound_accepted_total", s.inbound_accepted);
  m.Family("p2p_inbound_rejected_total", "Inbound connections refused before any handshake.",
           "reason", s.inbound_rejected);
  m.Family("p2p_handshake_failures_total",
           "Connections that failed before becoming peers, by stage and reason.", "reason",
           s.setup_failures);
  m.Header("p2p_peers_added_total", "counter", "Peers added.");
  m.Sample("p2p_peers_added_total", s.peers_added);
  m.Family("p2p_peers_dropped_total", "Peers dropped, by disconnect reason.", "reason",
           s.peers_dropped);
  m.Header("p2p_ingress_bytes_total", "counter", "Bytes received on RLPx connections.");
  m.Sample("p2p_ingress_bytes_total", static_cast<int64_t>(s.bytes_in));
  m.Header("p2p_egress_bytes_total", "counter", "Bytes sent on RLPx connections.");
  m.Sample("p2p_egress_bytes_total", static_cast<int64_t>(s.bytes_out));
  return m.Take();
}

std::string AdminApi::TableJson() const {
  JsonWriter w;
  w.BeginArray();
  for (const discover::TableNodeInfo& n : table_->Nodes()) {
    w.BeginObject();
    w.Key("enode").String(n.entry.node.ToEnode());
    w.Key("bucket").Int(n.bucket);
    w.Key("last_pong_seconds");
    if (n.entry.last_pong) {
      w.Double(std::floor(absl::ToDoubleSeconds(clock_->Now() - *n.entry.last_pong) * 1000) / 1000);
    } else {
      w.Null();
    }
    w.EndObject();
  }
  w.EndArray();
  return w.Take();
}

AdminResponse AdminApi::Handle(absl::string_view method, absl::string_view path,
                               absl::string_view body) {
  const bool get = method == "GET";
  if (path == "/table") {
    if (!get) return JsonError(405, absl::StrCat("method ", method, " not allowed on ", path));
    if (table_ == nullptr) return JsonError(404, "discovery disabled");
    return JsonOk(TableJson());
  }
  if (path == "/nodeinfo" || path == "/peers" || path == "/metrics") {
    if (!get) return JsonError(405, absl::StrCat("method ", method, " not allowed on ", path));
    if (path == "/nodeinfo") return JsonOk(NodeInfoJson());
    if (path == "/peers") return JsonOk(PeersJson());
    return AdminResponse{200, "text/plain; version=0.0.4", Metrics()};
  }
  for (const bool trusted : {false, true}) {
    const std::string base = trusted ? "/peers/trusted" : "/peers/static";
    if (path == base) {
      if (method != "POST") {
        return JsonError(405, absl::StrCat("method ", method, " not allowed on ", path));
      }
      absl::StatusOr<Node> n = ParseEnode(absl::StripAsciiWhitespace(body));
      if (!n.ok()) {
        return JsonError(400, absl::StrCat("bad enode URL: ", n.status().message()));
      }
      if (!server_->running()) return JsonError(503, "server not running");
      if (trusted) {
        server_->AddTrustedPeer(*n);
      } else {
        if (!n->has_ip() && n->hostname.empty()) {
          return JsonError(400, "static node needs an address (enode://ID@HOST:PORT)");
        }
        server_->AddPeer(*n);
      }
      JsonWriter w;
      w.BeginObject().Key("added").String(n->ToEnode()).EndObject();
      return JsonOk(w.Take());
    }
    if (absl::StartsWith(path, base + "/")) {
      if (method != "DELETE") {
        return JsonError(405, absl::StrCat("method ", method, " not allowed on ", path));
      }
      absl::string_view hex = path.substr(base.size() + 1);
      absl::StatusOr<NodeId> id = NodeId::FromHex(hex);
      if (!id.ok()) {
        return JsonError(400, absl::StrCat("bad node ID \"", hex, "\": ", id.status().message()));
      }
      const std::vector<Node> list = trusted ? server_->TrustedNodes() : server_->StaticNodes();
      for (const Node& n : list) {
        if (n.id != *id) continue;
        if (trusted) {
          server_->RemoveTrustedPeer(n);
        } else {
          server_->RemovePeer(n);
        }
        JsonWriter w;
        w.BeginObject().Key("removed").String(n.id.ToString()).EndObject();
        return JsonOk(w.Take());
      }
      return JsonError(
          404, absl::StrCat("no ", trusted ? "trusted" : "static", " node ", id->ToString()));
    }
  }
  return JsonError(404, absl::StrCat("no route for ", path));
}

}  // namespace p2p
