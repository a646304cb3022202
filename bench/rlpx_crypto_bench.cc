// RLPx handshake cost, in handshakes per second (items/s):
//
// BM_HandshakeCryptoFloor: only the elliptic-curve operations one complete
//   handshake (both sides) performs in core/rlpx/handshake.cc, without the
//   symmetric crypto, RLP, hashing or copies. Counted from the code:
//     scalar draws (PrivateKey::Generate)   x4: initiator ephemeral,
//         recipient ephemeral, ECIES R for the auth, ECIES R for the ack
//     base-point multiplications (DerivePublicKey) x4: ECIES R public key
//         for auth and ack, the recipient's ephemeral public key (sent in
//         the ack), the initiator's static public key (sent in the auth)
//     ECDH x8: static-static on each side (signed token), ECIES encrypt
//         and decrypt of the auth and of the ack, ephemeral-ephemeral on
//         each side (secrets)
//     sign x1 (initiator, ephemeral key), recover x1 (recipient)
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
  const PrivateKey init_static = PrivateKey::Generate(entropy);
  const PrivateKey resp_static = PrivateKey::Generate(entropy);
  const PublicKey resp_static_pub = DerivePublicKey(resp_static);
  std::array<uint8_t, 32> token_msg{};
  for (auto _ : state) {
    // Initiator, MakeAuth.
    const PrivateKey init_eph = PrivateKey::Generate(entropy);
    const PublicKey init_static_pub = DerivePublicKey(init_static);
    std::array<uint8_t, 32> token = Must(Ecdh(init_static, resp_static_pub));
    for (size_t i = 0; i < 32; ++i) token_msg[i] = token[i] ^ static_cast<uint8_t>(i);
    const std::array<uint8_t, 65> sig = Must(p2p::SignRecoverable(init_eph, token_msg));
    const PrivateKey auth_r = PrivateKey::Generate(entropy);
    const PublicKey auth_r_pub = DerivePublicKey(auth_r);
    benchmark::DoNotOptimize(Must(Ecdh(auth_r, resp_static_pub)));

    // Recipient, ReadAuth.
    benchmark::DoNotOptimize(Must(Ecdh(resp_static, auth_r_pub)));
    benchmark::DoNotOptimize(Must(Ecdh(resp_static, init_static_pub)));
    const PublicKey init_eph_pub = Must(p2p::RecoverPublicKey(token_msg, sig));

    // Recipient, MakeAck.
    const PrivateKey resp_eph = PrivateKey::Generate(entropy);
    const PublicKey resp_eph_pub = DerivePublicKey(resp_eph);
    const PrivateKey ack_r = PrivateKey::Generate(entropy);
    const PublicKey ack_r_pub = DerivePublicKey(ack_r);
    benchmark::DoNotOptimize(Must(Ecdh(ack_r, init_static_pub)));
    benchmark::DoNotOptimize(Must(Ecdh(resp_eph, init_eph_pub)));

    // Initiator, ReadAck.
    benchmark::DoNotOptimize(Must(Ecdh(init_static, ack_r_pub)));
    benchmark::DoNotOptimize(Must(Ecdh(init_eph, resp_eph_pub)));
  }
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
