// Command-line flags of `p2pnode`, named after geth's where geth has one.
// Parsing is pure (no files, no sockets) so every rejection is unit-tested;
// the node key is loaded or created separately (LoadOrCreateNodeKey).
//
// Syntax: `--name value` or `--name=value`; a single leading dash works too
// (as geth's CLI library). Boolean flags take no value (`--nodial`) or an
// explicit `--nodial=true|false`. Every error names the flag and the bad
// value in one line, e.g.
//   invalid value "abc" for --maxpeers: not a non-negative integer
//   invalid enode URL in --static "enode://12@1.2.3.4:1": invalid public key (...)
#ifndef P2P_TRANSPORT_NODE_FLAGS_H_
#define P2P_TRANSPORT_NODE_FLAGS_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/crypto/secp256k1.h"
#include "core/dial/dial_policy.h"
#include "core/log.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "core/rng.h"
#include "core/server/protocol.h"

namespace p2p::transport {

struct NodeFlags {
  std::string datadir;
  std::string nodekey_file;
  std::string nodekey_hex;
  Endpoint listen;  // Default 0.0.0.0:30303.
  // --discport: the discovery UDP port. nullopt = the TCP listen port; 0 =
  // let the OS pick.
  std::optional<uint16_t> disc_port;
  bool no_discover = false;  // --nodiscover: no discovery; bootnodes are dialed.
  int max_peers = 50;
  int max_pending_peers = 50;
  int dial_ratio = 3;
  bool no_dial = false;
  std::vector<Node> bootnodes;
  std::vector<Node> static_nodes;
  std::vector<Node> trusted_nodes;
  std::optional<IpNetList> net_restrict;
  std::optional<IpAddress> ext_ip;
  DialGeneration dial_policy = DialGeneration::kCurrent;
  // --caps NAME/VER[:LEN],...: capabilities served by no-op handlers.
  struct CapFlag {
    std::string name;
    uint64_t version = 0;
    uint64_t length = 0;
  };
  std::vector<CapFlag> caps;
  std::optional<Endpoint> admin;  // Default 127.0.0.1:8550; "off" disables.
  LogLevel verbosity = LogLevel::kInfo;
  int verbosity_number = 3;  // 0 = silent.
  std::string identity = "p2pnode";
  bool help = false;
};

// The usage text for --help.
std::string NodeUsage();

// Parses argv[1..]. Errors: InvalidArgument with the one-line message.
absl::StatusOr<NodeFlags> ParseNodeFlags(const std::vector<std::string>& args);

// Message codes a no-op capability reserves when --caps gives no length:
// the lengths of the well-known protocols (eth/66..68: 17, eth/69: 18,
// snap/1: 8, les/2..4: 24, wit/0: 4), 16 otherwise.
uint64_t DefaultCapLength(absl::string_view name, uint64_t version);

// Protocols for the --caps entries, each accepting and ignoring messages.
std::vector<Protocol> NoOpProtocols(const std::vector<NodeFlags::CapFlag>& caps);

// The node key, as geth resolves it: --nodekeyhex, else --nodekey FILE
// (64 hex digits, surrounding whitespace allowed), else DATADIR/nodekey
// (created with mode 0600, and DATADIR with 0700, if absent), else a fresh
// key that is not persisted (`*ephemeral` set). Errors name the file.
absl::StatusOr<PrivateKey> LoadOrCreateNodeKey(const NodeFlags& flags, Entropy& entropy,
                                               bool* ephemeral);

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_NODE_FLAGS_H_
