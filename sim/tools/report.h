// Output files of a p2psim run, rendered from a finished World: the summary
// (JSON), the peer-count time series (CSV) and its plot (SVG). Pure string
// building; the caller writes the files.
#ifndef P2P_SIM_TOOLS_REPORT_H_
#define P2P_SIM_TOOLS_REPORT_H_

#include <cstdint>
#include <string>

#include "sim/world.h"

namespace p2p::sim {

// What only the front end knows (wall clock, process resources).
struct RunInfo {
  std::string scenario_path;
  uint64_t seed = 0;
  double wall_seconds = 0;
  int64_t peak_rss_bytes = 0;
};

// summary.json: at least nodes, virtual_seconds, events, wall_seconds,
// events_per_second, peak_rss_bytes, trace_hash; then the scenario, the
// totals, the final peer distribution and the assertion results.
std::string SummaryJson(const World& w, const RunInfo& info);

// timeseries.csv: one row per sample: t_seconds, online, min, p10, p50,
// p90, max, mean, connections, dials_ok, dials_failed (dials since the
// previous sample).
std::string TimeseriesCsv(const World& w);

// peers.svg: two panels over virtual time: p10/p50/p90 peer counts with the
// online fraction, and dial outcomes (succeeded, failed) per sample
// interval; axes and legends; self-contained, no scripts.
std::string PeersSvg(const World& w);

}  // namespace p2p::sim

#endif  // P2P_SIM_TOOLS_REPORT_H_
