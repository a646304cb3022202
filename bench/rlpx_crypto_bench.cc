// RLPx handshake cost, in handshakes per second (items/s):
//
// BM_HandshakeCryptoFloor: the elliptic-curve operations of one complete
//   handshake, both sides (bench/handshake_floor.h lists them).
// BM_HandshakeInMemory: a full auth/ack exchange between two Handshake
//   objects in memory: MakeAuth, PacketSize, ReadAuth, MakeAck, PacketSize,
//   ReadAck. The difference to the floor is the non-EC work (AES, HMAC,
//   SHA-256, Keccak, RLP, allocation).
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/handshake_floor.h"
#include "benchmark/benchmark.h"
#include "core/crypto/secp256k1.h"
#include "core/rlpx/handshake.h"
#include "core/rng.h"

namespace {

using p2p::DerivePublicKey;
using p2p::Ecdh;
using p2p::PrivateKey;
using p2p::PublicKey;

template <typename T>
T Must(absl::StatusOr<T> v) {
  ABSL_RAW_CHECK(v.ok(), "benchmark setup failed");
  return *std::move(v);
}

void BM_HandshakeCryptoFloor(benchmark::State& state) {
  p2p::RngEntropy entropy(p2p::Rng(1));
  const p2p::bench::FloorKeys keys(entropy);
  for (auto _ : state) p2p::bench::HandshakeCryptoFloorOnce(keys, entropy);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_HandshakeCryptoFloor);

void BM_HandshakeInMemory(benchmark::State& state) {
  p2p::RngEntropy keys(p2p::Rng(2));
  const PrivateKey init_static = PrivateKey::Generate(keys);
  const PrivateKey resp_static = PrivateKey::Generate(keys);
  const PublicKey resp_static_pub = DerivePublicKey(resp_static);
  p2p::RngEntropy init_entropy(p2p::Rng(3));
  p2p::RngEntropy resp_entropy(p2p::Rng(4));
  int64_t bytes = 0;
  for (auto _ : state) {
    p2p::rlpx::Handshake init =
        p2p::rlpx::Handshake::Initiator(init_static, resp_static_pub, init_entropy);
    p2p::rlpx::Handshake resp = p2p::rlpx::Handshake::Recipient(resp_static, resp_entropy);
    const std::vector<uint8_t> auth = Must(init.MakeAuth());
    ABSL_RAW_CHECK(Must(resp.PacketSize(auth)) == auth.size(), "auth size");
    const absl::Status read = resp.ReadAuth(auth);
    ABSL_RAW_CHECK(read.ok(), "ReadAuth");
    p2p::rlpx::Handshake::Ack ack = Must(resp.MakeAck());
    ABSL_RAW_CHECK(Must(init.PacketSize(ack.packet)) == ack.packet.size(), "ack size");
    p2p::rlpx::Secrets secrets = Must(init.ReadAck(ack.packet));
    benchmark::DoNotOptimize(secrets.aes);
    benchmark::DoNotOptimize(ack.secrets.aes);
    bytes += static_cast<int64_t>(auth.size() + ack.packet.size());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_HandshakeInMemory);

}  // namespace
