// Fuzz target for the discv4 wire format (core/discover/v4wire.h).
//
// Almost every mutation of a packet breaks its hash, so raw inputs rarely get
// past the header checks. The target therefore decodes each input twice:
//  1. as it is, a whole datagram;
//  2. re-signed: the bytes from offset 97 (or the whole input, if shorter)
//     taken as type || packet-data, given a valid hash and a signature by a
//     fixed key. This drives the type dispatch and the field decoders.
// The corpus (tests/fuzz/corpus/v4wire) holds the EIP-8 and go-ethereum
// vectors as complete packets, and "body_*" seeds whose 97-byte header is
// zero: only the second pass accepts those, which is all they are for.
//
// Properties checked on every input:
//  - nothing crashes or reads out of bounds;
//  - a rejection is InvalidArgument with a message;
//  - a re-signed packet of legal size never fails the hash or signature
//    check, and a decoded one names the fixed key as sender;
//  - a decoded packet reports the sender's NodeId, the packet's first 32
//    bytes as its hash and the type byte it came with; it re-encodes (never
//    larger than the input, as extras are dropped and nothing grows), and
//    the re-encoding decodes to the same packet.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/crypto/keccak.h"
#include "core/crypto/secp256k1.h"
#include "core/discover/v4wire.h"
#include "core/hex.h"
#include "core/node.h"
#include "tests/fuzz/fuzz_testing.h"

namespace {

using p2p::discover::DecodedPacket;
using p2p::discover::kHeadSize;
using p2p::discover::kMaxPacketSize;
using p2p::discover::kMinPacketSize;
using p2p::discover::kPacketHashSize;

[[noreturn]] void Fail(absl::string_view what, absl::Span<const uint8_t> input) {
  p2p::fuzz::FailInput("v4wire_fuzz", what, input);
}

using p2p::fuzz::FixedKey;

const p2p::PublicKey& FixedPub() {
  static const p2p::PublicKey* pub = new p2p::PublicKey(p2p::DerivePublicKey(FixedKey()));
  return *pub;
}

// hash || sig || body, signed by FixedKey().
std::vector<uint8_t> Resign(absl::Span<const uint8_t> body, absl::Span<const uint8_t> input) {
  std::vector<uint8_t> out(kHeadSize);
  out.reserve(kHeadSize + body.size());
  out.insert(out.end(), body.begin(), body.end());
  absl::StatusOr<std::array<uint8_t, 65>> sig =
      p2p::SignRecoverable(FixedKey(), p2p::Keccak256Hash(body));
  if (!sig.ok()) Fail("SignRecoverable failed", input);
  std::copy(sig->begin(), sig->end(), out.begin() + kPacketHashSize);
  const std::array<uint8_t, 32> hash =
      p2p::Keccak256Hash(absl::MakeConstSpan(out).subspan(kPacketHashSize));
  std::copy(hash.begin(), hash.end(), out.begin());
  return out;
}

void Check(absl::Span<const uint8_t> packet, bool resigned, absl::Span<const uint8_t> input) {
  absl::StatusOr<DecodedPacket> d = p2p::discover::DecodePacket(packet);
  if (!d.ok()) {
    if (d.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("error is not InvalidArgument", input);
    }
    if (d.status().message().empty()) Fail("empty error message", input);
    const bool legal_size = packet.size() >= kMinPacketSize && packet.size() <= kMaxPacketSize;
    if (resigned && legal_size &&
        (d.status().message() == "bad hash" ||
         absl::StartsWith(d.status().message(), "invalid signature"))) {
      Fail("a correctly signed packet fails authentication", input);
    }
    return;
  }
  if (d->sender_id != p2p::NodeId::FromPublicKey(d->sender)) Fail("sender_id mismatch", input);
  if (resigned && d->sender != FixedPub()) Fail("wrong sender recovered", input);
  if (!std::equal(d->hash.begin(), d->hash.end(), packet.begin())) Fail("hash mismatch", input);
  if (p2p::discover::PacketType(d->packet) != packet[kHeadSize]) Fail("type mismatch", input);

  absl::StatusOr<std::vector<uint8_t>> again = p2p::discover::EncodePacket(FixedKey(), d->packet);
  if (!again.ok()) Fail("a decoded packet does not re-encode", input);
  if (again->size() > packet.size()) Fail("re-encoding grew", input);
  absl::StatusOr<DecodedPacket> d2 = p2p::discover::DecodePacket(*again);
  if (!d2.ok()) Fail("re-encoded packet does not decode", input);
  if (d2->packet != d->packet) Fail("re-encoded packet decodes differently", input);
  if (d2->sender != FixedPub()) Fail("re-encoded packet has the wrong sender", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::Span<const uint8_t> input(data, size);
  Check(input, /*resigned=*/false, input);
  absl::Span<const uint8_t> body = size > kHeadSize ? input.subspan(kHeadSize) : input;
  if (body.empty()) return 0;
  const std::vector<uint8_t> packet = Resign(body, input);
  Check(packet, /*resigned=*/true, input);
  return 0;
}
