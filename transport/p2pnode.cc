// p2pnode: a devp2p node over real TCP. The go-ethereum server and dialer
// from core/, on one epoll loop, with an admin HTTP endpoint (see
// core/server/admin_api.h) and clean shutdown on SIGINT/SIGTERM.
//
// Discovery: unless --nodiscover, a discv4 endpoint (core/discover/udp.h)
// runs on the listen IP and --discport (default: the TCP port), seeded with
// --bootnodes; its lookups are the dialer's candidates, its table is served
// at GET /table. With --datadir, the table's known nodes are kept in
// DATADIR/nodes (transport/node_db.h): loaded to seed the table at start,
// written every 30 s and at shutdown, off the loop by a worker thread
// (transport/node_db_writer.h). With --nodiscover the node behaves as
// before discovery existed: bootnodes are cycled as dial candidates.
//
// Output contract (scripts rely on it): the first line on stdout is the
// node's enode URL (with ?discport= when the UDP port differs), then
// "admin http://HOST:PORT" when the admin endpoint is enabled; logs go to
// stderr. Exit codes: 0 after a clean shutdown, 1 on a runtime failure
// (cannot listen, cannot write the key), 2 for bad flags.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/dial/node_iterator.h"
#include "core/discover/udp.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "core/server/admin_api.h"
#include "core/server/server.h"
#include "transport/dns_resolver.h"
#include "transport/epoll_loop.h"
#include "transport/http_server.h"
#include "transport/node_db.h"
#include "transport/node_db_writer.h"
#include "transport/node_flags.h"
#include "transport/openssl_entropy.h"
#include "transport/tcp_network.h"

namespace p2p::transport {
namespace {

EpollLoop* g_loop = nullptr;
volatile sig_atomic_t g_signals = 0;

void OnSignal(int) {
  ++g_signals;
  if (g_signals > 1) _exit(130);  // A second signal: give up on a clean stop.
  if (g_loop != nullptr) g_loop->RequestStopFromSignal();
}

// Log lines on stderr: "<wall time> LEVEL message".
class StderrLogger : public Logger {
 public:
  explicit StderrLogger(int verbosity) : verbosity_(verbosity) {}
  bool Enabled(LogLevel level) const override { return static_cast<int>(level) <= verbosity_; }
  void Log(LogLevel level, absl::string_view msg) override {
    if (!Enabled(level)) return;
    const std::string line =
        absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3S", absl::Now(), absl::UTCTimeZone()), " ",
                     LogLevelName(level), " ", msg, "\n");
    fwrite(line.data(), 1, line.size(), stderr);
  }

 private:
  int verbosity_;
};

// The admin endpoint listens on loopback, where any web page the operator
// visits could reach it. Requests that change state are refused when they
// carry an Origin header (browsers always send one for cross-site POSTs) or
// name a Host that is not a loopback name (DNS rebinding).
absl::string_view CrossSiteRefusal(const HttpRequest& req) {
  if (req.method == "GET" || req.method == "HEAD") return "";
  for (const auto& [name, value] : req.headers) {
    if (name == "origin") return "cross-origin requests may not change state";
    if (name == "host") {
      absl::string_view host = value;
      if (absl::StartsWith(host, "[")) {
        host = host.substr(0, host.find(']') + 1);
      } else {
        host = host.substr(0, host.find(':'));
      }
      if (host != "localhost" && host != "[::1]" && !absl::StartsWith(host, "127.")) {
        return "Host must be a loopback name for requests that change state";
      }
    }
  }
  return "";
}

int Run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<NodeFlags> flags = ParseNodeFlags(args);
  if (!flags.ok()) {
    std::cerr << "p2pnode: " << flags.status().message() << "\n";
    return 2;
  }
  if (flags->help) {
    std::cout << NodeUsage();
    return 0;
  }
  StderrLogger log(flags->verbosity_number);
  OpenSslEntropy entropy;
  bool ephemeral = false;
  absl::StatusOr<PrivateKey> key = LoadOrCreateNodeKey(*flags, entropy, &ephemeral);
  if (!key.ok()) {
    std::cerr << "p2pnode: " << key.status().message() << "\n";
    return key.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  if (ephemeral) log.Log(LogLevel::kWarn, "no --datadir or --nodekey: using a temporary node key");

  absl::StatusOr<std::unique_ptr<EpollLoop>> loop = EpollLoop::Create();
  if (!loop.ok()) {
    std::cerr << "p2pnode: " << loop.status().message() << "\n";
    return 1;
  }
  SocketNetwork net(loop->get(), &log);
  // Static nodes named by DNS. Declared before the server, so destroyed after it.
  ThreadDnsResolver resolver(loop->get());

  ServerConfig cfg;
  cfg.key = *key;
  cfg.name = flags->identity;
  cfg.max_peers = flags->max_peers;
  cfg.max_pending_peers = flags->max_pending_peers;
  cfg.dial_ratio = flags->dial_ratio;
  cfg.no_dial = flags->no_dial;
  cfg.dial_generation = flags->dial_policy;
  cfg.listen = flags->listen;
  if (!flags->no_discover && flags->listen.port == 0) {
    // Discovery advertises the TCP port in its Pings and must be created
    // before the server (which listens in Start), so a port-0 listen address
    // is resolved here: bind, read the port, release it; the server binds it
    // again at once (listeners use SO_REUSEADDR).
    auto probe = net.Listen(flags->listen, [](std::unique_ptr<Conn>) {});
    if (!probe.ok()) {
      std::cerr << "p2pnode: cannot listen on " << flags->listen.ToString() << ": "
                << probe.status().message() << "\n";
      return 1;
    }
    cfg.listen->port = (*probe)->LocalEndpoint().port;
  }
  cfg.ext_ip = flags->ext_ip;
  cfg.static_nodes = flags->static_nodes;
  cfg.trusted_nodes = flags->trusted_nodes;
  cfg.bootnodes = flags->bootnodes;
  cfg.net_restrict = flags->net_restrict;
  cfg.protocols = NoOpProtocols(flags->caps);
  ServerDeps deps;
  deps.loop = loop->get();
  deps.net = &net;
  deps.entropy = &entropy;
  deps.dns = &resolver;
  // One random root; the dialer and discovery fork their own streams.
  uint64_t seed = 0;
  entropy.Fill(absl::MakeSpan(reinterpret_cast<uint8_t*>(&seed), sizeof(seed)));
  Rng root_rng(seed);
  deps.rng = root_rng.Fork();
  deps.log = &log;

  // Discovery. Declared before the server, so destroyed after it (and the
  // lookup iterator before the UdpV4, as udp.h requires).
  std::unique_ptr<discover::UdpV4> disc;
  std::unique_ptr<NodeIterator> lookups;
  if (!flags->no_discover) {
    const Endpoint udp_local{flags->listen.ip, flags->disc_port.value_or(cfg.listen->port)};
    discover::UdpV4Config dcfg;
    dcfg.net_restrict = flags->net_restrict;  // NetRestrict applies to discovery too.
    auto u = discover::UdpV4::Create(
        loop->get(), &net, udp_local, *key, cfg.listen->port, [] { return absl::Now(); },
        root_rng.Fork(), dcfg);
    if (!u.ok()) {
      std::cerr << "p2pnode: cannot start discovery on UDP " << udp_local.ToString() << ": "
                << u.status().message() << "\n";
      return 1;
    }
    disc = *std::move(u);
    // As go-ethereum's setupDiscovery: the dialer reads a FairMix of the
    // discovery sources (here the one discv4 lookup iterator).
    auto mix = std::make_unique<FairMix>(loop->get(), kDiscmixTimeout);
    mix->AddSource(disc->NewLookupIterator());
    lookups = std::move(mix);
    deps.candidates = lookups.get();
    deps.table = disc.get();
    deps.resolver = disc.get();
  }
  Server server(std::move(cfg), deps);
  if (absl::Status s = server.Start(); !s.ok()) {
    std::cerr << "p2pnode: cannot start: " << s.message() << "\n";
    return 1;
  }

  Node self = server.Self();
  // The node database (--datadir): no writer without one, or when the file
  // could not be read (then it is left alone, not overwritten). The loop
  // only merges and snapshots; the writer's worker thread does the disk I/O
  // and posts each outcome back. Declared after the loop and the logger, so
  // its worker is joined before they go.
  std::unique_ptr<NodeDbWriter> nodes_writer;
  // As loaded, then merged with the table at each save (whether or not that
  // write succeeds: it is the newest knowledge either way).
  std::vector<discover::KnownNode> known_nodes;
  auto save_nodes = [&] {
    known_nodes = MergeKnownNodes(known_nodes, disc->KnownNodes(), absl::Now());
    nodes_writer->Save(known_nodes);  // A copy: the loop keeps merging into its own.
  };
  std::unique_ptr<Alarm> save_nodes_alarm;  // Destroyed before disc.
  if (disc) {
    self.udp = disc->Self().udp;
    if (!flags->datadir.empty()) {
      const std::string path = flags->datadir + "/nodes";
      absl::StatusOr<ParsedNodeDb> db = LoadNodeDb(path);
      if (!db.ok()) {
        log.Log(LogLevel::kWarn, absl::StrCat("discovery: ", db.status().message(),
                                              "; not seeding from it or saving to it"));
      } else {
        for (const std::string& w : db->warnings) {
          log.Log(LogLevel::kWarn, absl::StrCat("discovery: node database ", path, ": ", w));
        }
        nodes_writer = std::make_unique<NodeDbWriter>(
            loop->get(), path, [&log, path](const absl::Status& s, size_t saved) {
              if (!s.ok()) {
                log.Log(LogLevel::kWarn, absl::StrCat("discovery: ", s.message()));
                return;
              }
              log.Log(LogLevel::kDebug,
                      absl::StrCat("discovery: saved ", saved, " known nodes to ", path));
            });
        known_nodes = std::move(db->nodes);
        const int seeded = disc->Seed(known_nodes);
        log.Log(LogLevel::kInfo, absl::StrCat("discovery: seeded ", seeded, " of ",
                                              known_nodes.size(), " known nodes"));
        save_nodes_alarm = std::make_unique<Alarm>(loop->get(), [&] {
          save_nodes();
          save_nodes_alarm->Schedule((*loop)->Now() + kNodeDbSaveInterval);
        });
        save_nodes_alarm->Schedule((*loop)->Now() + kNodeDbSaveInterval);
      }
    }
    disc->Start(flags->bootnodes);
    log.Log(LogLevel::kInfo, absl::StrCat("discovery: started on UDP ",
                                          Endpoint{flags->listen.ip, self.udp}.ToString(), " with ",
                                          flags->bootnodes.size(), " bootnodes"));
  }

  // The record is signed in UdpV4::Create, so ToText cannot fail.
  AdminApi api(&server, loop->get(), disc ? &disc->table() : nullptr, disc ? self.udp : 0,
               disc ? *disc->LocalRecord().ToText() : std::string());
  std::unique_ptr<HttpServer> admin;
  if (flags->admin) {
    auto h = HttpServer::Start(loop->get(), &net, *flags->admin, [&api](const HttpRequest& req) {
      if (absl::string_view why = CrossSiteRefusal(req); !why.empty()) {
        JsonWriter w;
        w.BeginObject().Key("error").String(why).EndObject();
        return HttpResponse{403, "application/json", w.Take() + "\n"};
      }
      AdminResponse r = api.Handle(req.method, req.path, req.body);
      return HttpResponse{r.status, r.content_type, std::move(r.body)};
    });
    if (!h.ok()) {
      std::cerr << "p2pnode: cannot start admin endpoint on " << flags->admin->ToString() << ": "
                << h.status().message() << "\n";
      return 1;
    }
    admin = *std::move(h);
  }

  std::cout << self.ToEnode() << "\n";
  if (admin) std::cout << "admin http://" << admin->LocalEndpoint().ToString() << "\n";
  std::cout.flush();
  log.Log(LogLevel::kInfo,
          absl::StrCat("started p2p node ", self.ToEnode(), " maxpeers=", flags->max_peers,
                       " dialer=", DialGenerationName(flags->dial_policy)));

  g_loop = loop->get();
  struct sigaction sa = {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  (*loop)->Run();
  if (save_nodes_alarm) {
    // Now, before the shutdown below: a second signal exits at once.
    save_nodes_alarm->Stop();
    save_nodes();
    // Waits for the final write (and one still in progress), joins the
    // worker and reports the outcome: the file is complete from here on.
    nodes_writer->Close();
  }

  log.Log(LogLevel::kInfo, absl::StrCat("shutting down: ", server.PeerCount(), " peers"));
  admin.reset();
  server.Stop();
  // Peers get DiscQuitting (1 s to flush it); then everything is closed.
  const bool clean = (*loop)->RunUntil([&] { return server.stopped(); }, absl::Seconds(3));
  log.Log(LogLevel::kInfo, clean ? "stopped" : "stopped (some connections did not close in time)");
  g_loop = nullptr;
  return 0;
}

}  // namespace
}  // namespace p2p::transport

int main(int argc, char** argv) { return p2p::transport::Run(argc, argv); }
