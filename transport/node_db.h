// p2pnode's node database: the discovery table's known nodes with their bond
// state (discover::KnownNode), kept in DATADIR/nodes so that a restarted node
// seeds its table (UdpV4::Seed) instead of depending on its bootnodes alone.
// go-ethereum keeps the same facts in a LevelDB (enode.DB); a small text file
// is enough for the few hundred nodes one table holds, and can be read and
// edited by hand.
//
// File format, version 1 (UTF-8 text, '\n' line ends):
//   # p2pnode nodes v1
//   ENODE-URL LAST-PONG LAST-PING FINDNODE-FAILURES
//   ...
// The first line is the header and names the version. Each further line is
// one node: its enode URL (core/node.h, with ?discport= when the UDP port
// differs), when it last answered our ping and when it last pinged us, as
// Unix milliseconds or "-" for never, and how many FindNode requests to it
// failed in a row. Fields are separated by spaces or tabs; blank lines and
// lines starting with '#' are ignored.
//
// Parsing is lenient per line, strict per file: a bad line is skipped with a
// warning that names it, so a partly corrupt file still yields its good
// nodes; a missing header or an unknown version is an error (the file is not
// ours to interpret). Formatting and parsing are pure; LoadNodeDb and
// SaveNodeDb are the blocking file I/O and share no state, so any thread may
// call them (two saves of one path must not overlap: they share the temp
// file). p2pnode loads once before its loop runs and saves through
// NodeDbWriter (node_db_writer.h), whose worker thread keeps the fsyncs off
// the loop.
#ifndef P2P_TRANSPORT_NODE_DB_H_
#define P2P_TRANSPORT_NODE_DB_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/discover/udp.h"

namespace p2p::transport {

// The header line of version 1 (without its '\n').
inline constexpr absl::string_view kNodeDbHeader = "# p2pnode nodes v1";

// Nodes not heard from (no pong, no ping) for this long are forgotten:
// UdpV4Config::seed_max_age would skip them anyway.
inline constexpr absl::Duration kNodeDbMaxAge = absl::Hours(5 * 24);
// At most this many nodes are kept (a full table holds 17 buckets of 16).
inline constexpr size_t kNodeDbMaxEntries = 1000;
// How often p2pnode writes the database while running (it also writes it
// at shutdown): a crash loses at most this much of the table's history.
inline constexpr absl::Duration kNodeDbSaveInterval = absl::Seconds(30);
// LoadNodeDb refuses larger files (1000 lines are about 250 KB).
inline constexpr size_t kNodeDbMaxFileBytes = 4 << 20;

// A parsed node database: the good lines' nodes in file order, and one
// warning per skipped line, e.g. "line 7: invalid enode URL: invalid port".
struct ParsedNodeDb {
  std::vector<discover::KnownNode> nodes;
  std::vector<std::string> warnings;
};

// The file text for `nodes`, in the given order: the header, then one line
// per node. Times are truncated to whole milliseconds.
std::string FormatNodeDb(const std::vector<discover::KnownNode>& nodes);

// Parses a node database. Errors (InvalidArgument): the first line is not a
// "# p2pnode nodes vN" header ("missing header ..."), or N is not 1
// ("unsupported node database version ..."). Lines skipped with a warning:
//   line N: want 4 fields, got K
//   line N: invalid enode URL: <ParseEnode's message>
//   line N: invalid last pong "X": want Unix milliseconds or -
//   line N: invalid last ping "X": want Unix milliseconds or -
//   line N: invalid findnode failures "X": want an integer
//   line N: negative findnode failures "X"
//   line N: duplicate node <ID> (first on line M)      the first line wins
absl::StatusOr<ParsedNodeDb> ParseNodeDb(absl::string_view text);

// What to save after a run: `previous` (the nodes loaded or last saved)
// updated with `current` (UdpV4::KnownNodes()). Per node ID, the current
// entry wins (endpoint, findnode failures) but keeps the newer of each
// timestamp; a node only in `previous` is kept as it was. Nodes whose newest
// timestamp (pong or ping) is older than now - max_age, or that have none,
// are dropped. The result is ordered by last pong, newest first (nodes
// without one last), ties by node ID, and holds at most max_entries nodes:
// the order UdpV4::Seed prefers, and the same text for the same inputs.
std::vector<discover::KnownNode> MergeKnownNodes(const std::vector<discover::KnownNode>& previous,
                                                 const std::vector<discover::KnownNode>& current,
                                                 absl::Time now,
                                                 absl::Duration max_age = kNodeDbMaxAge,
                                                 size_t max_entries = kNodeDbMaxEntries);

// Reads and parses the node database at `path`. A missing file is not an
// error: an empty database (a first start). Errors name the path: the file
// cannot be read (the errno's code, see errno_status.h), is larger than
// kNodeDbMaxFileBytes (kResourceExhausted), or ParseNodeDb fails.
absl::StatusOr<ParsedNodeDb> LoadNodeDb(const std::string& path);

// Writes FormatNodeDb(nodes) to `path` atomically: into "<path>.tmp" in the
// same directory (mode 0600), fsync, rename over `path`, fsync the
// directory. A crash leaves either the old file or the new one, never a mix.
// Creates the directory (mode 0700, with its parents) if it is missing.
// Errors name the file and carry the errno's code (errno_status.h); the old
// file is then left as it was.
absl::Status SaveNodeDb(const std::string& path, const std::vector<discover::KnownNode>& nodes);

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_NODE_DB_H_
