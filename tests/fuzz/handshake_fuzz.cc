// Fuzz target for the RLPx handshake readers: any bytes fed to the
// recipient's PacketSize/ReadAuth (node key B) and to the initiator's
// PacketSize/ReadAck (node key A, after sending its auth to B) must give
// either success or an InvalidArgument error with a message; never a crash.
// Accepted packets must lead to a complete handshake step: an accepted auth
// is answered (MakeAck) with an ack that A's key decodes, and an accepted
// ack yields secrets for B's key.
//
// Keys are the EIP-8 test keys, so the seed corpus (the EIP-8 Auth1-3 and
// Ack1-3 vectors) exercises the success paths.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/rlpx/handshake.h"
#include "core/rng.h"

namespace {

using p2p::PrivateKey;
using p2p::rlpx::Handshake;

constexpr char kStaticKeyA[] = "49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee";
constexpr char kStaticKeyB[] = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";

[[noreturn]] void Fail(absl::Span<const uint8_t> input, const std::string& what) {
  std::fprintf(stderr, "handshake_fuzz: %s\ninput (%zu bytes):", what.c_str(), input.size());
  for (uint8_t b : input) std::fprintf(stderr, "%02x", b);
  std::fprintf(stderr, "\n");
  std::abort();
}

void CheckError(absl::Span<const uint8_t> input, const absl::Status& s, const char* where) {
  if (s.ok()) return;
  if (s.code() != absl::StatusCode::kInvalidArgument || s.message().empty()) {
    Fail(input, std::string(where) + ": unexpected error " + s.ToString());
  }
}

PrivateKey Key(const char* hex) {
  absl::StatusOr<PrivateKey> k = PrivateKey::FromHex(hex);
  if (!k.ok()) std::abort();
  return *k;
}

struct Fixture {
  PrivateKey key_a = Key(kStaticKeyA);
  PrivateKey key_b = Key(kStaticKeyB);
  p2p::RngEntropy entropy{p2p::Rng(0x4a5d)};
  // A, with its auth to B already sent: copied for every input.
  Handshake initiator = Handshake::Initiator(key_a, p2p::DerivePublicKey(key_b), entropy);

  Fixture() {
    if (!initiator.MakeAuth().ok()) std::abort();
  }
};

Fixture& F() {
  static Fixture* const f = new Fixture();
  return *f;
}

void CheckPacketSize(absl::Span<const uint8_t> input, Handshake& h, const char* where) {
  absl::StatusOr<size_t> n = h.PacketSize(input);
  CheckError(input, n.status(), where);
  if (n.ok() && (*n < 2 || *n > 2 + p2p::rlpx::kMaxHandshakePacket)) {
    Fail(input, std::string(where) + ": packet size out of range: " + std::to_string(*n));
  }
}

void FuzzRecipient(absl::Span<const uint8_t> input) {
  Fixture& f = F();
  Handshake sizer = Handshake::Recipient(f.key_b, f.entropy);
  CheckPacketSize(input, sizer, "recipient PacketSize");

  Handshake b = Handshake::Recipient(f.key_b, f.entropy);
  absl::Status s = b.ReadAuth(input);
  CheckError(input, s, "ReadAuth");
  if (!s.ok()) return;
  absl::StatusOr<Handshake::Ack> ack = b.MakeAck();
  if (!ack.ok()) Fail(input, "MakeAck after an accepted auth: " + ack.status().ToString());
  absl::StatusOr<p2p::rlpx::AckMessage> decoded = p2p::rlpx::DecodeAck(f.key_a, ack->packet);
  // The auth may name any initiator key; only A can decode the answer.
  if (b.remote_static() == p2p::DerivePublicKey(f.key_a) && !decoded.ok()) {
    Fail(input, "A cannot decode B's ack: " + decoded.status().ToString());
  }
  if (ack->secrets.remote_static != b.remote_static()) Fail(input, "secrets name another peer");
}

void FuzzInitiator(absl::Span<const uint8_t> input) {
  Fixture& f = F();
  Handshake sizer = f.initiator;
  CheckPacketSize(input, sizer, "initiator PacketSize");

  Handshake a = f.initiator;
  absl::StatusOr<p2p::rlpx::Secrets> secrets = a.ReadAck(input);
  CheckError(input, secrets.status(), "ReadAck");
  if (secrets.ok() && secrets->remote_static != p2p::DerivePublicKey(f.key_b)) {
    Fail(input, "secrets name another peer");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> input(data, size);
  FuzzRecipient(input);
  FuzzInitiator(input);
  return 0;
}
