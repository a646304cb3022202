// The admin API of a node: JSON over HTTP-like requests, and Prometheus
// metrics. Transport-free (the HTTP server in transport/ calls Handle), so the
// same API can be driven in tests and in the simulator.
//
// Routes:
//   GET    /nodeinfo            {"id","enode","enr"?,"listen","caps"}; "enr"
//                               (the node record's text form) only when given
//   GET    /peers               [{"id","enode","name","caps","inbound","static",
//                                 "trusted","connected_seconds","remote"}...]
//                               ordered by node ID
//   POST   /peers/static        body: an enode URL -> AddPeer
//   DELETE /peers/static/ID     RemovePeer (ID: 64 hex digits)
//   POST   /peers/trusted       body: an enode URL -> AddTrustedPeer
//   DELETE /peers/trusted/ID    RemoveTrustedPeer
//   GET    /metrics             Prometheus text format 0.0.4
//   GET    /table               [{"enode","bucket","last_pong_seconds"}...]
//                               the discovery table's live entries in bucket
//                               order, then position (most recently active
//                               first); last_pong_seconds is the age of the
//                               last pong, null if none. 404 {"error":
//                               "discovery disabled"} without a table.
// Errors are JSON {"error": "..."} with 400 (bad input, naming it), 404
// (unknown route or ID) or 405 (known route, wrong method).
#ifndef P2P_CORE_SERVER_ADMIN_API_H_
#define P2P_CORE_SERVER_ADMIN_API_H_

#include <string>
#include <utility>

#include "absl/strings/string_view.h"
#include "core/discover/table.h"
#include "core/server/server.h"

namespace p2p {

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

class AdminApi {
 public:
  // `server` and `clock` must outlive the API, and so must `table` if not
  // null (null: discovery is disabled). `disc_port`, if not 0, is the
  // discovery UDP port shown in /nodeinfo's enode URL (?discport= when it
  // differs from the TCP port). The table's times must come from `clock`.
  // `enr`, if not empty, is the node record ("enr:...") shown in /nodeinfo.
  AdminApi(Server* server, const Clock* clock, const discover::Table* table = nullptr,
           uint16_t disc_port = 0, std::string enr = "")
      : server_(server),
        clock_(clock),
        table_(table),
        disc_port_(disc_port),
        enr_(std::move(enr)) {}

  AdminResponse Handle(absl::string_view method, absl::string_view path, absl::string_view body);

  std::string NodeInfoJson() const;
  std::string PeersJson() const;
  std::string Metrics() const;
  // The /table body; requires a table.
  std::string TableJson() const;

 private:
  Server* server_;
  const Clock* clock_;
  const discover::Table* table_;
  uint16_t disc_port_;
  std::string enr_;
};

}  // namespace p2p

#endif  // P2P_CORE_SERVER_ADMIN_API_H_
