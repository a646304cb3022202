// RLPx frame throughput, after go-ethereum's rlpx BenchmarkThroughput: 1 KiB
// messages of random (incompressible) bytes with snappy on, written by one
// FrameCodec and read back by its mirror, with no I/O in between. Each
// iteration is one message's full cost: compress, encrypt and MAC, then
// authenticate, decrypt and decompress.
// Bytes processed = plaintext payload bytes; items processed = messages.
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "core/crypto/keccak.h"
#include "core/rlpx/frame.h"
#include "core/rlpx/secrets.h"
#include "core/rng.h"

namespace p2p::rlpx {
namespace {

constexpr size_t kMessageBytes = 1024;

void BM_FrameThroughput1KiB(benchmark::State& state) {
  Rng rng(1337);
  Secrets a, b;
  rng.Fill(absl::MakeSpan(a.aes));
  rng.Fill(absl::MakeSpan(a.mac));
  b.aes = a.aes;
  b.mac = a.mac;
  a.egress_mac.Update(absl::string_view("a->b"));
  a.ingress_mac.Update(absl::string_view("b->a"));
  b.egress_mac = a.ingress_mac;
  b.ingress_mac = a.egress_mac;
  absl::StatusOr<FrameCodec> writer = FrameCodec::Create(a);
  absl::StatusOr<FrameCodec> reader = FrameCodec::Create(b);
  if (!writer.ok() || !reader.ok()) {
    state.SkipWithError("FrameCodec::Create failed");
    return;
  }
  writer->SetSnappy(true);
  reader->SetSnappy(true);

  std::vector<uint8_t> msg(kMessageBytes);
  rng.Fill(absl::MakeSpan(msg));
  std::vector<uint8_t> wire;
  wire.reserve(2 * kMessageBytes);
  for (auto _ : state) {
    wire.clear();
    if (!writer->WriteMessage(0x10, msg, wire).ok() || !reader->Feed(wire).ok()) {
      state.SkipWithError("write failed");
      break;
    }
    absl::StatusOr<std::optional<Message>> m = reader->Next();
    if (!m.ok() || !m->has_value() || (*m)->payload.size() != kMessageBytes) {
      state.SkipWithError("read failed");
      break;
    }
    benchmark::DoNotOptimize((*m)->payload.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kMessageBytes);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_FrameThroughput1KiB);

}  // namespace
}  // namespace p2p::rlpx
