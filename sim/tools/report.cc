#include "sim/tools/report.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/json_writer.h"

namespace p2p::sim {
namespace {

void WriteCounts(JsonWriter& w, const std::map<std::string, int64_t>& m) {
  w.BeginObject();
  for (const auto& [k, v] : m) w.Key(k).Int(v);
  w.EndObject();
}

std::string XmlEscape(absl::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// A "nice" step for about `n` ticks over [0, max].
double TickStep(double max, int n) {
  if (max <= 0) return 1;
  const double raw = max / n;
  const double mag = std::pow(10, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * mag) return m * mag;
  }
  return 10 * mag;
}

}  // namespace

std::string SummaryJson(const World& w, const RunInfo& info) {
  const ScenarioSpec& spec = w.spec();
  const WorldStats& s = w.stats();
  JsonWriter j;
  j.BeginObject();
  j.Key("scenario").String(spec.name);
  j.Key("scenario_file").String(info.scenario_path);
  j.Key("seed").Uint(info.seed);
  j.Key("discovery").String(DiscoveryName(spec.discovery));
  j.Key("keepalive").String(KeepaliveName(spec.keepalive));
  j.Key("nodes").Int(w.node_count());
  j.Key("virtual_seconds").Double(absl::ToDoubleSeconds(w.Now()));
  j.Key("events").Uint(w.events());
  j.Key("wall_seconds").Double(std::round(info.wall_seconds * 1000) / 1000);
  j.Key("events_per_second")
      .Double(info.wall_seconds > 0 ? std::round(w.events() / info.wall_seconds) : 0);
  j.Key("virtual_hours_per_wall_hour")
      .Double(info.wall_seconds > 0
                  ? std::round(absl::ToDoubleSeconds(w.Now()) / info.wall_seconds * 100) / 100
                  : 0);
  j.Key("peak_rss_bytes").Int(info.peak_rss_bytes);
  j.Key("trace_hash").String(w.TraceHash());
  j.Key("trace_events").Int(s.trace_events);
  j.Key("online_at_end").Int(w.online_count());
  j.Key("dials").BeginObject();
  j.Key("started").Int(s.dials_started);
  j.Key("succeeded").Int(s.dials_succeeded);
  j.Key("failed").Int(s.dials_failed);
  j.Key("failures");
  WriteCounts(j, s.dial_failures);
  j.EndObject();
  j.Key("peers").BeginObject();
  j.Key("added").Int(s.peers_added);
  j.Key("dropped").Int(s.peers_dropped);
  j.Key("drop_reasons");
  WriteCounts(j, s.drop_reasons);
  j.Key("setup_failures");
  WriteCounts(j, s.setup_failures);
  j.Key("inbound_rejected").Int(s.inbound_rejected);
  j.EndObject();
  const MemSwitchStats& ns = w.network_stats();
  j.Key("network").BeginObject();
  j.Key("tcp_dials").Int(ns.dials);
  j.Key("tcp_refused").Int(ns.refused);
  j.Key("tcp_accepted").Int(ns.accepted);
  j.Key("syns_lost").Int(ns.syns_lost);
  j.Key("filtered").Int(ns.filtered);
  j.Key("datagrams_sent").Int(ns.packets_sent);
  j.Key("datagrams_lost").Int(ns.packets_lost);
  j.EndObject();
  if (spec.discovery == ScenarioSpec::Discovery::kDiscv4) {
    const Discv4Totals d = w.discv4_totals();
    j.Key("discv4").BeginObject();
    j.Key("signatures").String(spec.modelled_signatures ? "modelled" : "real");
    j.Key("sent");
    WriteCounts(j, d.sent);
    j.Key("received");
    WriteCounts(j, d.received);
    j.Key("dropped");
    WriteCounts(j, d.dropped);
    j.Key("send_errors").Int(d.send_errors);
    j.Key("requests_timed_out").Int(d.requests_timed_out);
    j.Key("lookups").Int(d.lookups);
    j.EndObject();
  }
  j.Key("churn").BeginObject();
  j.Key("joins").Int(s.joins);
  j.Key("leaves").Int(s.leaves);
  j.EndObject();
  if (!w.samples().empty()) {
    const PeerSample& last = w.samples().back();
    j.Key("final_peers").BeginObject();
    j.Key("online").Int(last.online);
    j.Key("min").Int(last.min);
    j.Key("p10").Int(last.p10);
    j.Key("p50").Int(last.p50);
    j.Key("p90").Int(last.p90);
    j.Key("max").Int(last.max);
    j.Key("mean").Double(std::round(last.mean * 100) / 100);
    j.EndObject();
  }
  j.Key("time_to_peers").BeginArray();
  for (const TimeToPeers& t : w.TimeToPeerStats()) {
    j.BeginObject().Key("peers").Int(t.threshold).Key("nodes").Int(t.nodes);
    j.Key("reached").Int(t.reached);
    j.Key("p50_seconds").Double(absl::ToDoubleSeconds(t.p50));
    j.Key("p90_seconds").Double(absl::ToDoubleSeconds(t.p90));
    j.Key("max_seconds").Double(absl::ToDoubleSeconds(t.max));
    j.EndObject();
  }
  j.EndArray();
  bool all_passed = true;
  j.Key("assertions").BeginArray();
  for (const AssertionResult& a : w.assertions()) {
    all_passed = all_passed && a.passed;
    j.BeginObject().Key("name").String(a.name).Key("passed").Bool(a.passed);
    j.Key("detail").String(a.detail).EndObject();
  }
  j.EndArray();
  j.Key("assertions_passed").Bool(all_passed);
  j.EndObject();
  return j.Take() + "\n";
}

std::string TimeseriesCsv(const World& w) {
  std::string out = "t_seconds,online,min,p10,p50,p90,max,mean,connections,dials_ok,dials_failed\n";
  for (const PeerSample& s : w.samples()) {
    absl::StrAppendFormat(&out, "%.3f,%d,%d,%d,%d,%d,%d,%.3f,%d,%d,%d\n",
                          absl::ToDoubleSeconds(s.t), s.online, s.min, s.p10, s.p50, s.p90, s.max,
                          s.mean, s.connections, s.dials_ok, s.dials_failed);
  }
  return out;
}

namespace {

// One chart panel: axes, grid and tick labels for [0, tmax] x [0, ymax].
struct Panel {
  double left, top, width, height, tmax, ymax, tunit;
  double X(double t) const { return left + width * t / tmax; }
  double Y(double v) const { return top + height * (1 - v / ymax); }
};

void DrawAxes(std::string& o, const Panel& p, const char* ylabel, bool time_labels,
              const char* tname) {
  const double ystep = TickStep(p.ymax, 5);
  for (double v = 0; v <= p.ymax + 1e-9; v += ystep) {
    absl::StrAppendFormat(&o,
                          "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                          "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                          p.left, p.Y(v), p.left + p.width, p.Y(v), p.left - 6, p.Y(v) + 4, v);
  }
  const double tstep = TickStep(p.tmax / p.tunit, 8);
  for (double t = 0; t <= p.tmax / p.tunit + 1e-9; t += tstep) {
    absl::StrAppendFormat(&o, "<line x1=\"%.1f\" y1=\"%g\" x2=\"%.1f\" y2=\"%g\" stroke=\"#ddd\"/>",
                          p.X(t * p.tunit), p.top, p.X(t * p.tunit), p.top + p.height);
    if (time_labels) {
      absl::StrAppendFormat(&o, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%g</text>",
                            p.X(t * p.tunit), p.top + p.height + 16, t);
    }
    o += "\n";
  }
  absl::StrAppendFormat(&o,
                        "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"none\" "
                        "stroke=\"black\"/>\n<text x=\"%g\" y=\"%g\" font-size=\"13\">%s</text>\n",
                        p.left, p.top, p.width, p.height, p.left, p.top - 6, ylabel);
  if (time_labels) {
    absl::StrAppendFormat(
        &o, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">virtual time (%s)</text>\n",
        p.left + p.width / 2, p.top + p.height + 34, tname);
  }
}

void DrawSeries(std::string& o, const Panel& p, const std::vector<PeerSample>& ss,
                double (*get)(const PeerSample&), const char* color, const char* dash,
                const char* name, int legend_row) {
  std::string pts;
  for (const PeerSample& s : ss) {
    absl::StrAppendFormat(&pts, "%.1f,%.1f ", p.X(absl::ToDoubleSeconds(s.t)), p.Y(get(s)));
  }
  const double lx = p.left + p.width - 150, ly = p.top + 14 + 16 * legend_row;
  absl::StrAppendFormat(&o,
                        "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
                        "stroke-dasharray=\"%s\" points=\"%s\"/>\n"
                        "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" "
                        "stroke-width=\"2\" stroke-dasharray=\"%s\"/>"
                        "<text x=\"%g\" y=\"%g\">%s</text>\n",
                        color, dash, pts, lx, ly, lx + 20, ly, color, dash, lx + 25, ly + 4,
                        XmlEscape(name));
}

}  // namespace

std::string PeersSvg(const World& w) {
  const std::vector<PeerSample>& ss = w.samples();
  constexpr double kW = 820, kH = 640, kL = 60, kR = 20;
  const double tmax = std::max(1.0, absl::ToDoubleSeconds(w.duration()));
  const bool minutes = tmax > 600;
  double peak_peers = 1, peak_dials = 1;
  for (const PeerSample& s : ss) {
    peak_peers = std::max<double>(peak_peers, s.max);
    peak_dials = std::max<double>(peak_dials, std::max(s.dials_ok, s.dials_failed));
  }
  Panel top{kL, 50, kW - kL - kR, 330, tmax, 0, minutes ? 60.0 : 1.0};
  top.ymax = std::ceil(peak_peers / TickStep(peak_peers, 5)) * TickStep(peak_peers, 5);
  Panel bottom{kL, 430, kW - kL - kR, 150, tmax, 0, top.tunit};
  bottom.ymax = std::ceil(peak_dials / TickStep(peak_dials, 5)) * TickStep(peak_dials, 5);

  std::string o = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
      "viewBox=\"0 0 %g %g\" font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
      "<text x=\"%g\" y=\"22\" font-size=\"15\">%s: %d nodes, seed %d</text>\n",
      kW, kH, kW, kH, kL, XmlEscape(w.spec().name.empty() ? "p2psim" : w.spec().name),
      w.node_count(), w.seed());
  DrawAxes(o, top, "peers per online node", false, "");
  DrawSeries(
      o, top, ss, [](const PeerSample& s) { return double(s.p90); }, "#1f77b4", "none", "p90", 0);
  DrawSeries(
      o, top, ss, [](const PeerSample& s) { return double(s.p50); }, "#d62728", "none", "median",
      1);
  DrawSeries(
      o, top, ss, [](const PeerSample& s) { return double(s.p10); }, "#2ca02c", "none", "p10", 2);
  if (w.node_count() > 0) {
    // Online nodes as a fraction of all nodes, scaled to the panel height.
    const double scale = top.ymax / w.node_count();
    std::string pts;
    for (const PeerSample& s : ss) {
      absl::StrAppendFormat(&pts, "%.1f,%.1f ", top.X(absl::ToDoubleSeconds(s.t)),
                            top.Y(s.online * scale));
    }
    absl::StrAppendFormat(&o,
                          "<polyline fill=\"none\" stroke=\"#888\" stroke-dasharray=\"4 3\" "
                          "points=\"%s\"/>\n<text x=\"%g\" y=\"%g\" fill=\"#666\">- - online "
                          "nodes (top = all %d)</text>\n",
                          pts, top.left + top.width - 150, top.top + 14 + 16 * 3 + 4,
                          w.node_count());
  }
  DrawAxes(o, bottom,
           absl::StrFormat("dials per %s", absl::FormatDuration(w.spec().sample_interval)).c_str(),
           true, minutes ? "minutes" : "seconds");
  DrawSeries(
      o, bottom, ss, [](const PeerSample& s) { return double(s.dials_ok); }, "#2ca02c", "none",
      "became peers", 0);
  DrawSeries(
      o, bottom, ss, [](const PeerSample& s) { return double(s.dials_failed); }, "#d62728", "none",
      "failed", 1);
  o += "</svg>\n";
  return o;
}

}  // namespace p2p::sim
