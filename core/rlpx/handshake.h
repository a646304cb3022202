// The RLPx encryption handshake (devp2p rlpx.md, EIP-8) as bytes in, bytes
// out: no I/O, no clock. The transport (or the simulator) moves the packets;
// this code only builds and checks them and derives the session Secrets.
//
//   initiator (dialer)                         recipient (listener)
//   MakeAuth()      ---- auth packet ---->     PacketSize() / ReadAuth()
//   PacketSize() / ReadAck()  <---- ack ----   MakeAck()  -> Secrets
//   -> Secrets
//
// Packet formats (go-ethereum p2p/rlpx, v1.9 for the legacy format):
//   EIP-8 auth = size(2, BE) || ecies(rlp([sig, initiator-pubk, nonce, 4])
//                                     || random padding of 100..199 bytes)
//   EIP-8 ack  = size(2, BE) || ecies(rlp([eph-pubk, nonce, 4]) || padding)
//     size = length of the ECIES part; it is also ECIES's shared MAC data.
//     Decoding ignores the version, extra list elements and trailing data.
//   legacy auth (307 bytes) = ecies(sig(65) || keccak(eph-pubk)(32)
//                                   || initiator-pubk(64) || nonce(32) || 0x00)
//   legacy ack (210 bytes)  = ecies(eph-pubk(64) || nonce(32) || 0x00)
//     No size prefix and no shared MAC data. The hash of the ephemeral key
//     and the token flag are not checked (neither does go-ethereum).
//   sig = Sign(initiator-ephemeral-key, ecdh(static keys) XOR initiator-nonce)
//
// We always send EIP-8 auths. A recipient answers a legacy auth with a
// legacy ack and an EIP-8 auth with an EIP-8 ack, as go-ethereum v1.9 did;
// both sides accept either format.
#ifndef P2P_CORE_RLPX_HANDSHAKE_H_
#define P2P_CORE_RLPX_HANDSHAKE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/rlpx/secrets.h"
#include "core/rng.h"

namespace p2p::rlpx {

// The version we send in auth and ack bodies (auth-vsn, ack-vsn).
constexpr uint64_t kHandshakeVersion = 4;
// Largest accepted EIP-8 size prefix, i.e. ECIES part of a packet (go-ethereum:
// "message too big" above baseProtocolMaxMsgSize = 2 KiB). A complete packet
// is therefore at most 2 + kMaxHandshakePacket bytes.
constexpr size_t kMaxHandshakePacket = 2048;
// Sizes of the pre-EIP-8 packets.
constexpr size_t kLegacyAuthPacketBytes = 307;
constexpr size_t kLegacyAckPacketBytes = 210;
// Bytes of random padding we add to EIP-8 bodies: a length uniform in
// [kMinHandshakePadding, kMaxHandshakePadding], as go-ethereum.
constexpr size_t kMinHandshakePadding = 100;
constexpr size_t kMaxHandshakePadding = 199;

using Nonce = std::array<uint8_t, 32>;

// A decoded auth body.
struct AuthMessage {
  std::array<uint8_t, 65> signature{};
  PublicKey initiator_static;  // A point on the curve.
  Nonce nonce{};
  uint64_t version = 0;  // 4 for legacy packets.
  // The RLP encodings of list elements after the version, concatenated
  // (ignored; kept for tests and logging). Empty for legacy packets.
  std::vector<uint8_t> rest;
  bool legacy = false;
};

// A decoded ack body.
struct AckMessage {
  PublicKey recipient_ephemeral;  // A point on the curve.
  Nonce nonce{};
  uint64_t version = 0;
  std::vector<uint8_t> rest;
  bool legacy = false;
};

// Decrypts and decodes one complete auth packet (EIP-8, or legacy: exactly
// 307 bytes starting with 0x04) with the recipient's static key. Does not
// check the signature (Handshake::ReadAuth does). Errors (InvalidArgument)
// name the problem: "rlpx: ..." for framing and body errors, "ecies: ..."
// (see ecies.h) for decryption errors.
absl::StatusOr<AuthMessage> DecodeAuth(const PrivateKey& recipient_static,
                                       absl::Span<const uint8_t> packet);
// The same for an ack packet (legacy: exactly 210 bytes starting with 0x04)
// with the initiator's static key.
absl::StatusOr<AckMessage> DecodeAck(const PrivateKey& initiator_static,
                                     absl::Span<const uint8_t> packet);

// Derives the session secrets from the finished exchange (rlpx.md
// "Secrets"): with ecdhe = ecdh(local_ephemeral, remote_ephemeral),
//   shared = keccak(ecdhe || keccak(resp_nonce || init_nonce))
//   aes = keccak(ecdhe || shared), mac = keccak(ecdhe || aes)
//   mac1 = keccak-state((mac XOR resp_nonce) || auth_packet)
//   mac2 = keccak-state((mac XOR init_nonce) || ack_packet)
//   initiator: egress = mac1, ingress = mac2; recipient: the reverse.
// Packets are the complete packets as sent, size prefix included.
// Errors: InvalidArgument if remote_ephemeral is not a point.
absl::StatusOr<Secrets> DeriveSecrets(bool initiator, const PrivateKey& local_ephemeral,
                                      const PublicKey& remote_ephemeral, const Nonce& init_nonce,
                                      const Nonce& resp_nonce, absl::Span<const uint8_t> auth_packet,
                                      absl::Span<const uint8_t> ack_packet,
                                      const PublicKey& remote_static);

// Fixed values instead of fresh draws from the Entropy: for reproducing
// published vectors in tests. Leave empty in production.
struct HandshakeOptions {
  std::optional<PrivateKey> ephemeral_key;
  std::optional<Nonce> nonce;
};

// One side of one handshake. A state machine driven by its caller:
//   initiator: MakeAuth, then ReadAck (after PacketSize says the ack is in);
//   recipient: ReadAuth (after PacketSize says the auth is in), then MakeAck.
// Calling a method out of this order, on the wrong side, or again after a
// call failed or the handshake finished is a programmer error and crashes.
// Every error is final: the connection must be dropped.
//
// Randomness (ephemeral key, nonce, padding, ECIES key and IV) comes only
// from the Entropy given at creation, which must outlive this object.
// Copyable (a copy continues independently from the same state and shares
// the Entropy); not thread-safe.
class Handshake {
 public:
  // The dialing side, which knows the peer's node key.
  static Handshake Initiator(const PrivateKey& local_static, const PublicKey& remote_static,
                             Entropy& entropy, HandshakeOptions options = {});
  // The listening side.
  static Handshake Recipient(const PrivateKey& local_static, Entropy& entropy,
                             HandshakeOptions options = {});

  bool initiator() const { return initiator_; }

  // TCP is a stream: tells how many bytes the packet this side expects
  // next (the recipient an auth, the initiator an ack) occupies, judging
  // from the first bytes of the stream `buffered`. The result is either
  // greater than buffered.size() (a lower bound: read at least that many
  // bytes and ask again) or the exact packet size, to be passed to
  // ReadAuth/ReadAck as buffered.first(n).
  //   - an EIP-8 packet needs 2 + size(BE16 of its first two bytes);
  //   - a first byte 0x04 may start a legacy packet (307 bytes for an auth,
  //     210 for an ack) or an EIP-8 one with a size of 0x04xx; once the
  //     legacy size is buffered it is told apart by a trial decryption
  //     (whose negative result is remembered, so keep passing the same
  //     stream).
  // Only while this side waits for that packet (the recipient before
  // ReadAuth, the initiator between MakeAuth and ReadAck).
  // Errors (InvalidArgument): a size prefix above kMaxHandshakePacket
  // ("rlpx: handshake packet too big: ...") or below kEciesOverhead.
  absl::StatusOr<size_t> PacketSize(absl::Span<const uint8_t> buffered);

  // Initiator: draws the nonce and ephemeral key and returns the EIP-8 auth
  // packet to send. Errors: InvalidArgument if the remote key is not a
  // point.
  absl::StatusOr<std::vector<uint8_t>> MakeAuth();
  // Initiator: checks exactly one complete ack packet and derives the
  // secrets. Errors: as DecodeAck.
  absl::StatusOr<Secrets> ReadAck(absl::Span<const uint8_t> packet);

  // Recipient: checks exactly one complete auth packet: decrypts it, checks
  // the initiator's key and recovers its ephemeral key from the signature.
  // Errors (InvalidArgument): as DecodeAuth, plus
  // "rlpx: invalid auth signature: ..." when no key can be recovered.
  // A signature by a wrong key recovers a wrong ephemeral key, which no
  // check here can notice: the secrets then differ and the first frame MAC
  // fails.
  absl::Status ReadAuth(absl::Span<const uint8_t> packet);
  // Recipient, after ReadAuth: draws the nonce and ephemeral key, returns
  // the ack packet to send (legacy iff the auth was legacy) and the
  // secrets.
  struct Ack {
    std::vector<uint8_t> packet;
    Secrets secrets;
  };
  absl::StatusOr<Ack> MakeAck();

  // What the peer sent, valid once its packet has been read.
  const PublicKey& remote_static() const { return remote_static_; }
  const PublicKey& remote_ephemeral() const { return remote_ephemeral_; }
  uint64_t remote_version() const { return remote_version_; }
  bool remote_legacy() const { return remote_legacy_; }

 private:
  enum class State { kStart, kAuthDone, kFinished, kFailed };
  enum class LegacyProbe { kUnknown, kNotLegacy };

  Handshake(bool initiator, const PrivateKey& local_static, Entropy& entropy,
            HandshakeOptions options);
  void Expect(bool initiator, State state, const char* method) const;
  void DrawEphemeralAndNonce();
  // size || ecies(body || padding) to the remote static key.
  absl::StatusOr<std::vector<uint8_t>> SealEip8(std::vector<uint8_t> body);

  bool initiator_;
  State state_ = State::kStart;
  PrivateKey local_static_;
  Entropy* entropy_;  // Not owned.
  HandshakeOptions options_;

  std::optional<PrivateKey> local_ephemeral_;
  Nonce local_nonce_{};
  PublicKey remote_static_;
  PublicKey remote_ephemeral_;
  Nonce remote_nonce_{};
  uint64_t remote_version_ = 0;
  bool remote_legacy_ = false;
  std::vector<uint8_t> auth_packet_;  // As sent or received.
  LegacyProbe probe_ = LegacyProbe::kUnknown;
};

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_HANDSHAKE_H_
