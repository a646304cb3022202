// RLP encode/decode throughput on a realistic message: the body of a discv4
// Neighbors packet, [[ip, udp, tcp, id]*12, expiration], about 960 bytes.
// Items processed = messages; bytes processed = encoded message bytes.
#include <array>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "core/rlp/rlp.h"

namespace p2p {
namespace {

constexpr int kNodes = 12;  // discv4 maxNeighbors per packet.
constexpr uint64_t kExpiration = 1700000020;

struct BenchNode {
  std::array<uint8_t, 4> ip;
  uint16_t udp;
  uint16_t tcp;
  std::array<uint8_t, 64> id;
};

std::vector<BenchNode> MakeNodes() {
  std::vector<BenchNode> nodes(kNodes);
  for (int i = 0; i < kNodes; ++i) {
    nodes[i].ip = {static_cast<uint8_t>(10 + i), 0, static_cast<uint8_t>(i), 1};
    nodes[i].udp = static_cast<uint16_t>(30303 + i);
    nodes[i].tcp = static_cast<uint16_t>(30303 + i);
    for (int j = 0; j < 64; ++j) nodes[i].id[j] = static_cast<uint8_t>(i * 64 + j + 1);
  }
  return nodes;
}

std::vector<uint8_t> EncodeNeighbors(const std::vector<BenchNode>& nodes) {
  rlp::Encoder e;
  e.BeginList();
  e.BeginList();
  for (const BenchNode& n : nodes) {
    e.BeginList();
    e.AddBytes(n.ip);
    e.AddUint(n.udp);
    e.AddUint(n.tcp);
    e.AddBytes(n.id);
    e.EndList();
  }
  e.EndList();
  e.AddUint(kExpiration);
  e.EndList();
  return e.Finish();
}

void BM_RlpEncode(benchmark::State& state) {
  const std::vector<BenchNode> nodes = MakeNodes();
  size_t bytes = 0;
  for (auto _ : state) {
    std::vector<uint8_t> out = EncodeNeighbors(nodes);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_RlpEncode);

// Full decode as a protocol handler would do it: validate, then read every
// field into typed values.
absl::Status DecodeNeighbors(absl::Span<const uint8_t> msg, std::vector<BenchNode>& nodes,
                             uint64_t& expiration) {
  absl::StatusOr<rlp::Item> item = rlp::DecodeExact(msg);
  if (!item.ok()) return item.status();
  absl::StatusOr<rlp::ListReader> packet = rlp::ListReader::Open(*item);
  if (!packet.ok()) return packet.status();
  absl::StatusOr<rlp::ListReader> list = packet->NextList();
  if (!list.ok()) return list.status();
  nodes.clear();
  while (!list->AtEnd() && nodes.size() < kNodes) {
    absl::StatusOr<rlp::ListReader> n = list->NextList();
    if (!n.ok()) return n.status();
    BenchNode node;
    absl::Status s = n->NextFixedBytes(absl::MakeSpan(node.ip));
    if (!s.ok()) return s;
    absl::StatusOr<uint64_t> udp = n->NextUint();
    if (!udp.ok()) return udp.status();
    absl::StatusOr<uint64_t> tcp = n->NextUint();
    if (!tcp.ok()) return tcp.status();
    s = n->NextFixedBytes(absl::MakeSpan(node.id));
    if (!s.ok()) return s;
    node.udp = static_cast<uint16_t>(*udp);
    node.tcp = static_cast<uint16_t>(*tcp);
    nodes.push_back(node);
  }
  absl::StatusOr<uint64_t> exp = packet->NextUint();
  if (!exp.ok()) return exp.status();
  expiration = *exp;
  return absl::OkStatus();
}

void BM_RlpDecode(benchmark::State& state) {
  const std::vector<uint8_t> msg = EncodeNeighbors(MakeNodes());
  std::vector<BenchNode> nodes;
  nodes.reserve(kNodes);
  uint64_t expiration = 0;
  for (auto _ : state) {
    absl::Status s = DecodeNeighbors(msg, nodes, expiration);
    if (!s.ok() || nodes.size() != kNodes || expiration != kExpiration) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(nodes.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * msg.size()));
}
BENCHMARK(BM_RlpDecode);

}  // namespace
}  // namespace p2p
