// Keccak-256 throughput: one-shot hashes of typical sizes (a 32-byte ID or
// hash, exactly one 136-byte block, a 1 KiB message such as a discv4
// packet), and the RLPx MAC pattern of absorbing 16 bytes and taking a
// non-destructive digest.
#include <cstdint>
#include <vector>

#include "benchmark/benchmark.h"
#include "core/crypto/keccak.h"

namespace {

void BM_Keccak256(benchmark::State& state) {
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)));
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  for (auto _ : state) {
    std::array<uint8_t, 32> d = p2p::Keccak256Hash(data);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Keccak256)->Arg(32)->Arg(136)->Arg(1024)->Arg(64 * 1024);

// RLPx frame MAC step: Update(16 bytes) then Digest() on a running state.
void BM_Keccak256UpdateDigest16(benchmark::State& state) {
  p2p::Keccak256 mac;
  uint8_t block[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  for (auto _ : state) {
    mac.Update(absl::MakeConstSpan(block));
    std::array<uint8_t, 32> d = mac.Digest();
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 16);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Keccak256UpdateDigest16);

}  // namespace
