// The session secrets an RLPx handshake produces and the frame codec
// consumes (devp2p rlpx.md, "Secrets").
#ifndef P2P_CORE_RLPX_SECRETS_H_
#define P2P_CORE_RLPX_SECRETS_H_

#include <array>
#include <cstdint>

#include "core/crypto/keccak.h"
#include "core/crypto/secp256k1.h"

namespace p2p::rlpx {

struct Secrets {
  PublicKey remote_static;          // The peer's node key.
  std::array<uint8_t, 32> aes{};    // keccak(ephemeral-key || shared-secret)
  std::array<uint8_t, 32> mac{};    // keccak(ephemeral-key || aes-secret)
  // Running MAC states, already seeded as the spec says:
  //   initiator: egress = keccak((mac ^ recipient-nonce) || auth),
  //              ingress = keccak((mac ^ initiator-nonce) || ack);
  //   recipient: the reverse. Packets include their size prefix (EIP-8).
  Keccak256 egress_mac;
  Keccak256 ingress_mac;
};

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_SECRETS_H_
