// The elliptic-curve work of one complete RLPx handshake (both sides), as
// core/rlpx/handshake.cc performs it, without the symmetric crypto, RLP,
// hashing or copies. Counted from the code:
//   scalar draws (PrivateKey::Generate)   x4: initiator ephemeral,
//       recipient ephemeral, ECIES R for the auth, ECIES R for the ack
//   base-point multiplications (DerivePublicKey) x4: ECIES R public key for
//       auth and ack, the recipient's ephemeral public key (sent in the ack),
//       the initiator's static public key (sent in the auth)
//   ECDH x8: static-static on each side (signed token), ECIES encrypt and
//       decrypt of the auth and of the ack, ephemeral-ephemeral on each side
//   sign x1 (initiator, ephemeral key), recover x1 (recipient)
// Shared by BM_HandshakeCryptoFloor and BM_LoopbackVsFloor.
#ifndef P2P_BENCH_HANDSHAKE_FLOOR_H_
#define P2P_BENCH_HANDSHAKE_FLOOR_H_

#include <array>
#include <cstdint>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "core/crypto/secp256k1.h"
#include "core/rng.h"

namespace p2p::bench {

template <typename T>
T MustOk(absl::StatusOr<T> v) {
  ABSL_RAW_CHECK(v.ok(), "benchmark step failed");
  return *std::move(v);
}

struct FloorKeys {
  explicit FloorKeys(Entropy& e)
      : init_static(PrivateKey::Generate(e)),
        resp_static(PrivateKey::Generate(e)),
        resp_static_pub(DerivePublicKey(resp_static)) {}
  PrivateKey init_static;
  PrivateKey resp_static;
  PublicKey resp_static_pub;
};

// One handshake's elliptic-curve operations, both sides.
inline void HandshakeCryptoFloorOnce(const FloorKeys& k, Entropy& entropy) {
  std::array<uint8_t, 32> token_msg{};
  // Initiator, MakeAuth.
  const PrivateKey init_eph = PrivateKey::Generate(entropy);
  const PublicKey init_static_pub = DerivePublicKey(k.init_static);
  const std::array<uint8_t, 32> token = MustOk(Ecdh(k.init_static, k.resp_static_pub));
  for (size_t i = 0; i < 32; ++i) token_msg[i] = token[i] ^ static_cast<uint8_t>(i);
  const std::array<uint8_t, 65> sig = MustOk(SignRecoverable(init_eph, token_msg));
  const PrivateKey auth_r = PrivateKey::Generate(entropy);
  const PublicKey auth_r_pub = DerivePublicKey(auth_r);
  benchmark::DoNotOptimize(MustOk(Ecdh(auth_r, k.resp_static_pub)));
  // Recipient, ReadAuth.
  benchmark::DoNotOptimize(MustOk(Ecdh(k.resp_static, auth_r_pub)));
  benchmark::DoNotOptimize(MustOk(Ecdh(k.resp_static, init_static_pub)));
  const PublicKey init_eph_pub = MustOk(RecoverPublicKey(token_msg, sig));
  // Recipient, MakeAck.
  const PrivateKey resp_eph = PrivateKey::Generate(entropy);
  const PublicKey resp_eph_pub = DerivePublicKey(resp_eph);
  const PrivateKey ack_r = PrivateKey::Generate(entropy);
  const PublicKey ack_r_pub = DerivePublicKey(ack_r);
  benchmark::DoNotOptimize(MustOk(Ecdh(ack_r, init_static_pub)));
  benchmark::DoNotOptimize(MustOk(Ecdh(resp_eph, init_eph_pub)));
  // Initiator, ReadAck.
  benchmark::DoNotOptimize(MustOk(Ecdh(k.init_static, ack_r_pub)));
  benchmark::DoNotOptimize(MustOk(Ecdh(init_eph, resp_eph_pub)));
}

}  // namespace p2p::bench

#endif  // P2P_BENCH_HANDSHAKE_FLOOR_H_
