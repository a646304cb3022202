#include "core/rlpx/handshake.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "core/crypto/keccak.h"
#include "core/hex.h"
#include "core/rlp/rlp.h"
#include "core/rlpx/eip8_vectors_testing.h"
#include "core/rlpx/ecies.h"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace p2p::rlpx {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using eip8::kAck1;
using eip8::kAck2;
using eip8::kAck3;
using eip8::kAesSecret;
using eip8::kAuth1;
using eip8::kAuth2;
using eip8::kAuth3;
using eip8::kAuthSignature;
using eip8::kEphemeralKeyA;
using eip8::kEphemeralKeyB;
using eip8::kIngressMacFoo;
using eip8::kMacSecret;
using eip8::kNonceA;
using eip8::kNonceB;
using eip8::kStaticKeyA;
using eip8::kStaticKeyB;

PrivateKey Key(const char* hex) {
  absl::StatusOr<PrivateKey> k = PrivateKey::FromHex(hex);
  ABSL_RAW_CHECK(k.ok(), "bad test key");
  return *k;
}

PublicKey PubOf(const char* private_hex) { return DerivePublicKey(Key(private_hex)); }

Nonce NonceOf(const char* hex) {
  std::vector<uint8_t> v = HexOrDie(hex);
  ABSL_RAW_CHECK(v.size() == 32, "bad test nonce");
  Nonce n;
  std::copy(v.begin(), v.end(), n.begin());
  return n;
}

HandshakeOptions VectorOptionsA() {
  HandshakeOptions o;
  o.ephemeral_key = Key(kEphemeralKeyA);
  o.nonce = NonceOf(kNonceA);
  return o;
}

HandshakeOptions VectorOptionsB() {
  HandshakeOptions o;
  o.ephemeral_key = Key(kEphemeralKeyB);
  o.nonce = NonceOf(kNonceB);
  return o;
}

std::string FooHash(Keccak256 mac) {
  mac.Update(absl::string_view("foo"));
  return HexEncode(mac.Digest());
}

// The EIP-8 auth body rlp([sig, pubk, nonce, version, extra...]) signed
// like a real initiator would (static key `from`, ephemeral key `eph`).
std::vector<uint8_t> AuthBody(const PrivateKey& from, const PublicKey& to, const PrivateKey& eph,
                              const Nonce& nonce, uint64_t version = 4,
                              const std::vector<uint8_t>& extra_raw = {}) {
  absl::StatusOr<std::array<uint8_t, 32>> token = Ecdh(from, to);
  ABSL_RAW_CHECK(token.ok(), "ecdh");
  Nonce msg;
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = (*token)[i] ^ nonce[i];
  absl::StatusOr<std::array<uint8_t, 65>> sig = SignRecoverable(eph, msg);
  ABSL_RAW_CHECK(sig.ok(), "sign");
  rlp::Encoder enc;
  enc.BeginList();
  enc.AddBytes(*sig);
  enc.AddBytes(DerivePublicKey(from).bytes());
  enc.AddBytes(nonce);
  enc.AddUint(version);
  if (!extra_raw.empty()) enc.AddRaw(extra_raw);
  enc.EndList();
  return enc.Finish();
}

// size || ecies(body || zero padding up to `ecies_size`) to `to`.
std::vector<uint8_t> SealEip8(const PublicKey& to, std::vector<uint8_t> body,
                              size_t ecies_size = 0) {
  if (ecies_size == 0) ecies_size = body.size() + 100 + kEciesOverhead;
  ABSL_RAW_CHECK(ecies_size >= body.size() + kEciesOverhead, "ecies_size too small");
  body.resize(ecies_size - kEciesOverhead, 0);
  const std::vector<uint8_t> prefix = {static_cast<uint8_t>(ecies_size >> 8),
                                       static_cast<uint8_t>(ecies_size)};
  RngEntropy entropy(Rng(99));
  absl::StatusOr<std::vector<uint8_t>> enc = EciesEncrypt(to, body, prefix, entropy);
  ABSL_RAW_CHECK(enc.ok(), "encrypt");
  std::vector<uint8_t> packet(2 + enc->size());
  std::copy(prefix.begin(), prefix.end(), packet.begin());
  std::copy(enc->begin(), enc->end(), packet.begin() + 2);
  return packet;
}

// ---------------------------------------------------------------------------
// Published vectors

TEST(HandshakeVectorTest, DecodeAuthVectors) {
  struct Case {
    const char* packet;
    bool legacy;
    uint64_t version;
    const char* rest;
  };
  for (const Case& c : {Case{kAuth1, true, 4, ""}, Case{kAuth2, false, 4, ""},
                        Case{kAuth3, false, 56, "0102c20405"}}) {
    SCOPED_TRACE(c.version);
    absl::StatusOr<AuthMessage> auth = DecodeAuth(Key(kStaticKeyB), HexOrDie(c.packet));
    ASSERT_TRUE(auth.ok()) << auth.status();
    EXPECT_EQ(auth->legacy, c.legacy);
    EXPECT_EQ(auth->version, c.version);
    EXPECT_EQ(HexEncode(auth->rest), c.rest);
    EXPECT_EQ(auth->initiator_static, PubOf(kStaticKeyA));
    EXPECT_EQ(HexEncode(auth->nonce), kNonceA);
    EXPECT_EQ(HexEncode(auth->signature), kAuthSignature);
  }
}

TEST(HandshakeVectorTest, DecodeAckVectors) {
  struct Case {
    const char* packet;
    bool legacy;
    uint64_t version;
    const char* rest;
  };
  for (const Case& c : {Case{kAck1, true, 4, ""}, Case{kAck2, false, 4, ""},
                        Case{kAck3, false, 57, "06c2070881fa"}}) {
    SCOPED_TRACE(c.version);
    absl::StatusOr<AckMessage> ack = DecodeAck(Key(kStaticKeyA), HexOrDie(c.packet));
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_EQ(ack->legacy, c.legacy);
    EXPECT_EQ(ack->version, c.version);
    EXPECT_EQ(HexEncode(ack->rest), c.rest);
    EXPECT_EQ(ack->recipient_ephemeral, PubOf(kEphemeralKeyB));
    EXPECT_EQ(HexEncode(ack->nonce), kNonceB);
  }
}

// B reads each auth vector, recovers A's ephemeral key and answers with
// the ephemeral key and nonce of the vectors: the secrets are the published
// ones. B's ingress MAC is seeded with the auth packet only, so for Auth2
// it reproduces the published ingress-mac("foo") although B's own ack
// bytes (fresh IV, ECIES key, padding) differ from Ack2.
TEST(HandshakeVectorTest, RecipientReadsAuthVectorsAndDerivesPublishedSecrets) {
  struct Case {
    const char* packet;
    bool legacy;
    uint64_t version;
  };
  for (const Case& c : {Case{kAuth1, true, 4}, Case{kAuth2, false, 4}, Case{kAuth3, false, 56}}) {
    SCOPED_TRACE(c.version);
    RngEntropy entropy(Rng(5));
    Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy, VectorOptionsB());
    const std::vector<uint8_t> auth = HexOrDie(c.packet);
    absl::StatusOr<size_t> size = b.PacketSize(auth);
    ASSERT_TRUE(size.ok()) << size.status();
    EXPECT_EQ(*size, auth.size());
    ASSERT_TRUE(b.ReadAuth(auth).ok());
    EXPECT_EQ(b.remote_static(), PubOf(kStaticKeyA));
    EXPECT_EQ(b.remote_ephemeral(), PubOf(kEphemeralKeyA));
    EXPECT_EQ(b.remote_version(), c.version);
    EXPECT_EQ(b.remote_legacy(), c.legacy);

    absl::StatusOr<Handshake::Ack> ack = b.MakeAck();
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_EQ(ack->secrets.remote_static, PubOf(kStaticKeyA));
    EXPECT_EQ(HexEncode(ack->secrets.aes), kAesSecret);
    EXPECT_EQ(HexEncode(ack->secrets.mac), kMacSecret);
    if (c.packet == kAuth2) {
      EXPECT_EQ(FooHash(ack->secrets.ingress_mac), kIngressMacFoo);
    }

    // Legacy auth -> legacy ack; EIP-8 auth -> EIP-8 ack. A can read it.
    if (c.legacy) {
      EXPECT_EQ(ack->packet.size(), kLegacyAckPacketBytes);
      EXPECT_EQ(ack->packet[0], 0x04);
    } else {
      EXPECT_EQ(ack->packet.size(), 2 + ((size_t{ack->packet[0]} << 8) | ack->packet[1]));
    }
    absl::StatusOr<AckMessage> decoded = DecodeAck(Key(kStaticKeyA), ack->packet);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->legacy, c.legacy);
    EXPECT_EQ(decoded->version, 4u);
    EXPECT_EQ(decoded->recipient_ephemeral, PubOf(kEphemeralKeyB));
    EXPECT_EQ(HexEncode(decoded->nonce), kNonceB);

    // A, knowing its own side of the vectors, derives matching secrets.
    absl::StatusOr<Secrets> a = DeriveSecrets(true, Key(kEphemeralKeyA), PubOf(kEphemeralKeyB),
                                              NonceOf(kNonceA), NonceOf(kNonceB), auth,
                                              ack->packet, PubOf(kStaticKeyB));
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(a->aes, ack->secrets.aes);
    EXPECT_EQ(a->mac, ack->secrets.mac);
    EXPECT_EQ(HexEncode(a->egress_mac.Digest()), HexEncode(ack->secrets.ingress_mac.Digest()));
    EXPECT_EQ(HexEncode(a->ingress_mac.Digest()), HexEncode(ack->secrets.egress_mac.Digest()));
  }
}

TEST(HandshakeVectorTest, InitiatorReadsAckVectorsAndDerivesPublishedSecrets) {
  RngEntropy entropy(Rng(6));
  Handshake a = Handshake::Initiator(Key(kStaticKeyA), PubOf(kStaticKeyB), entropy,
                                     VectorOptionsA());
  absl::StatusOr<std::vector<uint8_t>> auth = a.MakeAuth();
  ASSERT_TRUE(auth.ok()) << auth.status();
  struct Case {
    const char* packet;
    bool legacy;
    uint64_t version;
  };
  for (const Case& c : {Case{kAck1, true, 4}, Case{kAck2, false, 4}, Case{kAck3, false, 57}}) {
    SCOPED_TRACE(c.version);
    Handshake copy = a;  // Each ack against the same sent auth.
    const std::vector<uint8_t> ack = HexOrDie(c.packet);
    absl::StatusOr<size_t> size = copy.PacketSize(ack);
    ASSERT_TRUE(size.ok()) << size.status();
    EXPECT_EQ(*size, ack.size());
    absl::StatusOr<Secrets> s = copy.ReadAck(ack);
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ(copy.remote_ephemeral(), PubOf(kEphemeralKeyB));
    EXPECT_EQ(copy.remote_version(), c.version);
    EXPECT_EQ(copy.remote_legacy(), c.legacy);
    EXPECT_EQ(s->remote_static, PubOf(kStaticKeyB));
    EXPECT_EQ(HexEncode(s->aes), kAesSecret);
    EXPECT_EQ(HexEncode(s->mac), kMacSecret);
    // A's ingress MAC is seeded with the ack; B's egress MAC must match it.
    absl::StatusOr<Secrets> b = DeriveSecrets(false, Key(kEphemeralKeyB), PubOf(kEphemeralKeyA),
                                              NonceOf(kNonceA), NonceOf(kNonceB), *auth, ack,
                                              PubOf(kStaticKeyA));
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(HexEncode(s->ingress_mac.Digest()), HexEncode(b->egress_mac.Digest()));
    EXPECT_EQ(HexEncode(s->egress_mac.Digest()), HexEncode(b->ingress_mac.Digest()));
  }
}

// go-ethereum TestHandshakeForwardCompatibility's derivation for (Auth2,
// Ack2) on B's side, and the mirror image on A's side.
TEST(HandshakeVectorTest, DeriveSecretsForAuth2Ack2) {
  const std::vector<uint8_t> auth = HexOrDie(kAuth2);
  const std::vector<uint8_t> ack = HexOrDie(kAck2);
  absl::StatusOr<Secrets> b = DeriveSecrets(false, Key(kEphemeralKeyB), PubOf(kEphemeralKeyA),
                                            NonceOf(kNonceA), NonceOf(kNonceB), auth, ack,
                                            PubOf(kStaticKeyA));
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(HexEncode(b->aes), kAesSecret);
  EXPECT_EQ(HexEncode(b->mac), kMacSecret);
  EXPECT_EQ(FooHash(b->ingress_mac), kIngressMacFoo);
  EXPECT_EQ(b->remote_static, PubOf(kStaticKeyA));

  absl::StatusOr<Secrets> a = DeriveSecrets(true, Key(kEphemeralKeyA), PubOf(kEphemeralKeyB),
                                            NonceOf(kNonceA), NonceOf(kNonceB), auth, ack,
                                            PubOf(kStaticKeyB));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(HexEncode(a->aes), kAesSecret);
  EXPECT_EQ(HexEncode(a->mac), kMacSecret);
  EXPECT_EQ(FooHash(a->egress_mac), kIngressMacFoo);
  EXPECT_EQ(FooHash(a->ingress_mac), FooHash(b->egress_mac));
  EXPECT_NE(FooHash(a->ingress_mac), FooHash(a->egress_mac));

  EXPECT_EQ(DeriveSecrets(true, Key(kEphemeralKeyA), PublicKey(), NonceOf(kNonceA),
                          NonceOf(kNonceB), auth, ack, PubOf(kStaticKeyB))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// With the vectors' ephemeral key and nonce our auth signs the same message
// as the vectors: both signatures recover ephemeral key A. (They differ:
// ours is RFC 6979, the vectors' was made with another nonce k.)
TEST(HandshakeVectorTest, MakeAuthWithVectorValues) {
  RngEntropy entropy(Rng(7));
  Handshake a = Handshake::Initiator(Key(kStaticKeyA), PubOf(kStaticKeyB), entropy,
                                     VectorOptionsA());
  absl::StatusOr<std::vector<uint8_t>> packet = a.MakeAuth();
  ASSERT_TRUE(packet.ok()) << packet.status();
  absl::StatusOr<AuthMessage> auth = DecodeAuth(Key(kStaticKeyB), *packet);
  ASSERT_TRUE(auth.ok()) << auth.status();
  EXPECT_FALSE(auth->legacy);
  EXPECT_EQ(auth->version, kHandshakeVersion);
  EXPECT_TRUE(auth->rest.empty());
  EXPECT_EQ(HexEncode(auth->nonce), kNonceA);
  EXPECT_EQ(auth->initiator_static, PubOf(kStaticKeyA));

  absl::StatusOr<std::array<uint8_t, 32>> token = Ecdh(Key(kStaticKeyB), PubOf(kStaticKeyA));
  ASSERT_TRUE(token.ok());
  Nonce msg;
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = (*token)[i] ^ NonceOf(kNonceA)[i];
  EXPECT_EQ(*RecoverPublicKey(msg, auth->signature), PubOf(kEphemeralKeyA));
  EXPECT_EQ(*RecoverPublicKey(msg, HexOrDie(kAuthSignature)), PubOf(kEphemeralKeyA));

  Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy);
  ASSERT_TRUE(b.ReadAuth(*packet).ok());
  EXPECT_EQ(b.remote_ephemeral(), PubOf(kEphemeralKeyA));
}

// ---------------------------------------------------------------------------
// Full exchanges

struct Pair {
  Secrets initiator;
  Secrets recipient;
  std::vector<uint8_t> auth;
  std::vector<uint8_t> ack;
};

Pair RunHandshake(uint64_t seed) {
  RngEntropy keys{Rng(seed)};
  const PrivateKey a = PrivateKey::Generate(keys);
  const PrivateKey b = PrivateKey::Generate(keys);
  RngEntropy ea(Rng(seed + 1000)), eb(Rng(seed + 2000));
  Handshake init = Handshake::Initiator(a, DerivePublicKey(b), ea);
  Handshake resp = Handshake::Recipient(b, eb);
  EXPECT_TRUE(init.initiator());
  EXPECT_FALSE(resp.initiator());

  absl::StatusOr<std::vector<uint8_t>> auth = init.MakeAuth();
  ABSL_RAW_CHECK(auth.ok(), "MakeAuth");
  absl::StatusOr<size_t> auth_size = resp.PacketSize(*auth);
  EXPECT_TRUE(auth_size.ok() && *auth_size == auth->size());
  absl::Status read = resp.ReadAuth(*auth);
  ABSL_RAW_CHECK(read.ok(), "ReadAuth");
  EXPECT_EQ(resp.remote_static(), DerivePublicKey(a));
  absl::StatusOr<Handshake::Ack> ack = resp.MakeAck();
  ABSL_RAW_CHECK(ack.ok(), "MakeAck");
  absl::StatusOr<size_t> ack_size = init.PacketSize(ack->packet);
  EXPECT_TRUE(ack_size.ok() && *ack_size == ack->packet.size());
  absl::StatusOr<Secrets> secrets = init.ReadAck(ack->packet);
  ABSL_RAW_CHECK(secrets.ok(), "ReadAck");
  EXPECT_EQ(secrets->remote_static, DerivePublicKey(b));
  EXPECT_EQ(ack->secrets.remote_static, DerivePublicKey(a));
  return Pair{*secrets, ack->secrets, *auth, ack->packet};
}

TEST(HandshakeTest, RoundTripAgreesOnSecrets) {
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    Pair p = RunHandshake(seed);
    EXPECT_EQ(p.initiator.aes, p.recipient.aes);
    EXPECT_EQ(p.initiator.mac, p.recipient.mac);
    EXPECT_EQ(p.initiator.egress_mac.Digest(), p.recipient.ingress_mac.Digest());
    EXPECT_EQ(p.initiator.ingress_mac.Digest(), p.recipient.egress_mac.Digest());
    EXPECT_NE(p.initiator.egress_mac.Digest(), p.initiator.ingress_mac.Digest());
    // The states keep agreeing as frames are absorbed.
    p.initiator.egress_mac.Update(absl::string_view("frame"));
    p.recipient.ingress_mac.Update(absl::string_view("frame"));
    EXPECT_EQ(p.initiator.egress_mac.Digest(), p.recipient.ingress_mac.Digest());
  }
}

TEST(HandshakeTest, SameSeedsGiveSamePackets) {
  Pair x = RunHandshake(42), y = RunHandshake(42), z = RunHandshake(43);
  EXPECT_EQ(x.auth, y.auth);
  EXPECT_EQ(x.ack, y.ack);
  EXPECT_EQ(x.initiator.aes, y.initiator.aes);
  EXPECT_NE(x.auth, z.auth);
}

// Auth body rlp is 169 bytes, ack body 102; padding adds 100..199, ECIES
// 113, the prefix 2.
TEST(HandshakeTest, PaddingCoversTheWholeRange) {
  RngEntropy keys(Rng(8));
  const PrivateKey a = PrivateKey::Generate(keys);
  const PrivateKey b = PrivateKey::Generate(keys);
  RngEntropy entropy(Rng(9));
  Handshake init = Handshake::Initiator(a, DerivePublicKey(b), entropy, VectorOptionsA());
  size_t lo = SIZE_MAX, hi = 0;
  for (int i = 0; i < 1000; ++i) {
    Handshake h = init;
    absl::StatusOr<std::vector<uint8_t>> auth = h.MakeAuth();
    ASSERT_TRUE(auth.ok());
    lo = std::min(lo, auth->size());
    hi = std::max(hi, auth->size());
  }
  EXPECT_EQ(lo, 2 + kEciesOverhead + 169 + kMinHandshakePadding);
  EXPECT_EQ(hi, 2 + kEciesOverhead + 169 + kMaxHandshakePadding);
}

TEST(HandshakeTest, LegacyAckIsAnsweredToLegacyAuthOnly) {
  RngEntropy entropy(Rng(10));
  Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy);
  ASSERT_TRUE(b.ReadAuth(HexOrDie(kAuth1)).ok());
  absl::StatusOr<Handshake::Ack> ack = b.MakeAck();
  ASSERT_TRUE(ack.ok());
  EXPECT_EQ(ack->packet.size(), kLegacyAckPacketBytes);
  // A legacy ack is a bare ECIES message without shared MAC data.
  EXPECT_TRUE(EciesDecrypt(Key(kStaticKeyA), ack->packet, {}).ok());
}

// ---------------------------------------------------------------------------
// Stream framing: PacketSize

TEST(PacketSizeTest, Eip8NeedsPrefixThenSize) {
  RngEntropy entropy(Rng(11));
  Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy);
  const std::vector<uint8_t> auth = HexOrDie(kAuth2);  // Prefix 01b3 = 435.
  const absl::Span<const uint8_t> s(auth);
  EXPECT_EQ(*b.PacketSize(s.first(0)), 2u);
  EXPECT_EQ(*b.PacketSize(s.first(1)), 2u);
  EXPECT_EQ(*b.PacketSize(s.first(2)), 437u);
  EXPECT_EQ(*b.PacketSize(s.first(300)), 437u);
  EXPECT_EQ(*b.PacketSize(s), 437u);
  std::vector<uint8_t> more = auth;
  more.push_back(0xc0);  // The next packet's bytes do not matter.
  EXPECT_EQ(*b.PacketSize(more), 437u);
}

TEST(PacketSizeTest, LegacyNeedsFixedSizes) {
  RngEntropy entropy(Rng(12));
  Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy);
  const std::vector<uint8_t> auth = HexOrDie(kAuth1);
  const absl::Span<const uint8_t> s(auth);
  EXPECT_EQ(*b.PacketSize(s.first(1)), kLegacyAuthPacketBytes);
  EXPECT_EQ(*b.PacketSize(s.first(306)), kLegacyAuthPacketBytes);
  EXPECT_EQ(*b.PacketSize(s), kLegacyAuthPacketBytes);

  Handshake a = Handshake::Initiator(Key(kStaticKeyA), PubOf(kStaticKeyB), entropy);
  ASSERT_TRUE(a.MakeAuth().ok());
  const std::vector<uint8_t> ack = HexOrDie(kAck1);
  EXPECT_EQ(*a.PacketSize(absl::MakeConstSpan(ack).first(1)), kLegacyAckPacketBytes);
  EXPECT_EQ(*a.PacketSize(ack), kLegacyAckPacketBytes);
}

// An EIP-8 auth whose size prefix starts with 0x04 (1024..1279 bytes, e.g.
// a future version with more list elements) looks like a legacy packet
// until 307 bytes are in; then the trial decryption tells them apart.
TEST(PacketSizeTest, Eip8WithPrefix04IsToldApartFromLegacy) {
  const PrivateKey a = Key(kStaticKeyA);
  const std::vector<uint8_t> body =
      AuthBody(a, PubOf(kStaticKeyB), Key(kEphemeralKeyA), NonceOf(kNonceA), 5);
  const std::vector<uint8_t> packet = SealEip8(PubOf(kStaticKeyB), body, 0x0420);
  ASSERT_EQ(packet[0], 0x04);
  ASSERT_EQ(packet.size(), 2u + 0x0420);

  RngEntropy entropy(Rng(13));
  Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy);
  const absl::Span<const uint8_t> s(packet);
  EXPECT_EQ(*b.PacketSize(s.first(1)), kLegacyAuthPacketBytes);
  EXPECT_EQ(*b.PacketSize(s.first(306)), kLegacyAuthPacketBytes);
  EXPECT_EQ(*b.PacketSize(s.first(307)), packet.size());
  EXPECT_EQ(*b.PacketSize(s.first(500)), packet.size());
  EXPECT_EQ(*b.PacketSize(s), packet.size());
  ASSERT_TRUE(b.ReadAuth(packet).ok());
  EXPECT_EQ(b.remote_version(), 5u);
  EXPECT_FALSE(b.remote_legacy());
  EXPECT_EQ(b.remote_ephemeral(), PubOf(kEphemeralKeyA));
}

TEST(PacketSizeTest, RejectsOversizedAndUndersizedPrefixes) {
  RngEntropy entropy(Rng(14));
  Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy);
  const std::vector<uint8_t> max_ok = {0x08, 0x00};
  EXPECT_EQ(*b.PacketSize(max_ok), 2u + kMaxHandshakePacket);
  const std::vector<uint8_t> too_big = {0x08, 0x01};
  EXPECT_EQ(b.PacketSize(too_big).status(),
            absl::InvalidArgumentError("rlpx: handshake packet too big: size prefix 2049 > 2048"));
  const std::vector<uint8_t> huge = {0xff, 0xff};
  EXPECT_EQ(b.PacketSize(huge).status(),
            absl::InvalidArgumentError("rlpx: handshake packet too big: size prefix 65535 > 2048"));
  const std::vector<uint8_t> too_small = {0x00, 0x70};
  EXPECT_EQ(b.PacketSize(too_small).status(),
            absl::InvalidArgumentError("rlpx: handshake packet too small: size prefix 112 < 113"));
}

// ---------------------------------------------------------------------------
// Rejections: each one a clear error, never a crash.

class RejectTest : public ::testing::Test {
 protected:
  absl::Status ReadAuth(const std::vector<uint8_t>& packet, const char* key = kStaticKeyB) {
    Handshake b = Handshake::Recipient(Key(key), entropy_);
    return b.ReadAuth(packet);
  }
  absl::Status ReadAck(const std::vector<uint8_t>& packet) {
    Handshake a = Handshake::Initiator(Key(kStaticKeyA), PubOf(kStaticKeyB), entropy_);
    absl::StatusOr<std::vector<uint8_t>> auth = a.MakeAuth();
    ABSL_RAW_CHECK(auth.ok(), "MakeAuth");
    return a.ReadAck(packet).status();
  }
  static std::string Message(const absl::Status& s) { return std::string(s.message()); }

  RngEntropy entropy_{Rng(15)};
};

TEST_F(RejectTest, Truncated) {
  std::vector<uint8_t> auth = HexOrDie(kAuth2);
  EXPECT_EQ(ReadAuth({}), absl::InvalidArgumentError("rlpx: truncated auth packet: 0 bytes"));
  EXPECT_EQ(ReadAuth({0x01}), absl::InvalidArgumentError("rlpx: truncated auth packet: 1 bytes"));
  auth.pop_back();
  EXPECT_EQ(ReadAuth(auth), absl::InvalidArgumentError(
                                "rlpx: truncated auth packet: 436 bytes, size prefix needs 437"));
  std::vector<uint8_t> ack = HexOrDie(kAck2);
  ack.resize(100);
  EXPECT_EQ(ReadAck(ack), absl::InvalidArgumentError(
                              "rlpx: truncated ack packet: 100 bytes, size prefix needs 492"));
  // A legacy packet cut short is read as EIP-8 (its "prefix" 048c is too big).
  std::vector<uint8_t> legacy = HexOrDie(kAuth1);
  legacy.pop_back();
  EXPECT_EQ(ReadAuth(legacy), absl::InvalidArgumentError(
                                  "rlpx: truncated auth packet: 306 bytes, size prefix needs 1166"));
}

TEST_F(RejectTest, TrailingBytes) {
  std::vector<uint8_t> auth = HexOrDie(kAuth2);
  auth.push_back(0);
  EXPECT_EQ(ReadAuth(auth),
            absl::InvalidArgumentError("rlpx: auth packet is 438 bytes, size prefix says 437"));
}

TEST_F(RejectTest, Oversized) {
  std::vector<uint8_t> packet(2 + 2049, 0);
  packet[0] = 0x08;
  packet[1] = 0x01;
  EXPECT_EQ(ReadAuth(packet),
            absl::InvalidArgumentError("rlpx: handshake packet too big: size prefix 2049 > 2048"));
  EXPECT_EQ(ReadAck(packet),
            absl::InvalidArgumentError("rlpx: handshake packet too big: size prefix 2049 > 2048"));
}

TEST_F(RejectTest, TamperedTag) {
  for (const char* hex : {kAuth1, kAuth2}) {
    std::vector<uint8_t> auth = HexOrDie(hex);
    auth.back() ^= 0x01;
    EXPECT_EQ(ReadAuth(auth), absl::InvalidArgumentError("ecies: invalid message tag"));
  }
  for (const char* hex : {kAck1, kAck2}) {
    std::vector<uint8_t> ack = HexOrDie(hex);
    ack[ack.size() / 2] ^= 0x01;
    EXPECT_EQ(ReadAck(ack), absl::InvalidArgumentError("ecies: invalid message tag"));
  }
}

TEST_F(RejectTest, TamperedSizePrefixIsAuthenticated) {
  // Same length, different prefix: caught by the length check; a prefix
  // that still matches the length cannot be forged without the tag.
  std::vector<uint8_t> auth = HexOrDie(kAuth2);
  auth[1] ^= 0x01;
  EXPECT_THAT(Message(ReadAuth(auth)), StartsWith("rlpx: "));
}

TEST_F(RejectTest, EphemeralEciesKeyOffTheCurve) {
  std::vector<uint8_t> auth = HexOrDie(kAuth2);
  auth[2 + 64] ^= 0x01;  // Last byte of R's Y.
  absl::Status s = ReadAuth(auth);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), StartsWith("ecies: invalid public key"));
  auth = HexOrDie(kAuth2);
  auth[2] = 0x03;
  EXPECT_EQ(ReadAuth(auth),
            absl::InvalidArgumentError("ecies: invalid public key prefix 0x03 (want 0x04)"));
}

TEST_F(RejectTest, WrongRecipientKey) {
  RngEntropy keys(Rng(16));
  const PrivateKey c = PrivateKey::Generate(keys);
  Handshake other = Handshake::Recipient(c, entropy_);
  EXPECT_EQ(other.ReadAuth(HexOrDie(kAuth2)),
            absl::InvalidArgumentError("ecies: invalid message tag"));
  EXPECT_EQ(ReadAuth(HexOrDie(kAuth2), kStaticKeyA),
            absl::InvalidArgumentError("ecies: invalid message tag"));
  // The initiator expecting an ack for A cannot read one meant for B.
  Handshake a = Handshake::Initiator(Key(kStaticKeyB), PubOf(kStaticKeyA), entropy_);
  ASSERT_TRUE(a.MakeAuth().ok());
  EXPECT_EQ(a.ReadAck(HexOrDie(kAck2)).status(),
            absl::InvalidArgumentError("ecies: invalid message tag"));
}

TEST_F(RejectTest, UnrecoverableSignature) {
  std::vector<uint8_t> body =
      AuthBody(Key(kStaticKeyA), PubOf(kStaticKeyB), Key(kEphemeralKeyA), NonceOf(kNonceA));
  // body = f8a7 b841 <sig 65> ...: zero r and s recover no key.
  std::fill(body.begin() + 4, body.begin() + 4 + 65, 0);
  absl::Status s = ReadAuth(SealEip8(PubOf(kStaticKeyB), body));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), StartsWith("rlpx: invalid auth signature: "));

  body = AuthBody(Key(kStaticKeyA), PubOf(kStaticKeyB), Key(kEphemeralKeyA), NonceOf(kNonceA));
  body[4 + 64] = 7;  // Recovery id out of range.
  s = ReadAuth(SealEip8(PubOf(kStaticKeyB), body));
  EXPECT_THAT(Message(s), StartsWith("rlpx: invalid auth signature: "));
}

// A signature over the wrong message recovers some other key: not
// detectable here, but the two sides end up with different secrets.
TEST_F(RejectTest, WrongSignatureGivesDisagreeingSecrets) {
  const Nonce wrong_nonce = NonceOf(kNonceB);
  std::vector<uint8_t> body =
      AuthBody(Key(kStaticKeyA), PubOf(kStaticKeyB), Key(kEphemeralKeyA), wrong_nonce);
  // Claim nonce A while the signature covers nonce B: body = ... a0 <nonce>.
  const std::vector<uint8_t> nonce_a = HexOrDie(kNonceA);
  auto at = std::search(body.begin(), body.end(), wrong_nonce.begin(), wrong_nonce.end());
  ASSERT_NE(at, body.end());
  std::copy(nonce_a.begin(), nonce_a.end(), at);
  Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy_);
  ASSERT_TRUE(b.ReadAuth(SealEip8(PubOf(kStaticKeyB), body)).ok());
  EXPECT_NE(b.remote_ephemeral(), PubOf(kEphemeralKeyA));
}

TEST_F(RejectTest, InvalidInitiatorKey) {
  std::vector<uint8_t> body =
      AuthBody(Key(kStaticKeyA), PubOf(kStaticKeyB), Key(kEphemeralKeyA), NonceOf(kNonceA));
  body[4 + 65 + 2 + 63] ^= 0x01;  // Last byte of the public key's Y.
  absl::Status s = ReadAuth(SealEip8(PubOf(kStaticKeyB), body));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(s), StartsWith("rlpx: invalid initiator public key: "));
}

TEST_F(RejectTest, MalformedAuthBody) {
  const PublicKey b = PubOf(kStaticKeyB);
  // Not a list.
  EXPECT_THAT(Message(ReadAuth(SealEip8(b, {0x83, 'd', 'o', 'g'}))),
              StartsWith("rlpx: invalid auth body: rlp: expected input list"));
  // Too few elements (no version).
  rlp::Encoder enc;
  enc.BeginList();
  enc.AddBytes(std::vector<uint8_t>(65, 1));
  enc.AddBytes(PubOf(kStaticKeyA).bytes());
  enc.AddBytes(NonceOf(kNonceA));
  enc.EndList();
  EXPECT_THAT(Message(ReadAuth(SealEip8(b, enc.Finish()))),
              StartsWith("rlpx: invalid auth body: rlp: input list has too few elements"));
  // Signature of the wrong length.
  enc.BeginList();
  enc.AddBytes(std::vector<uint8_t>(64, 1));
  enc.AddBytes(PubOf(kStaticKeyA).bytes());
  enc.AddBytes(NonceOf(kNonceA));
  enc.AddUint(4);
  enc.EndList();
  EXPECT_THAT(Message(ReadAuth(SealEip8(b, enc.Finish()))), StartsWith("rlpx: invalid auth body: "));
  // Garbage body (the padding only).
  EXPECT_THAT(Message(ReadAuth(SealEip8(b, {}))), StartsWith("rlpx: invalid auth body: "));
}

TEST_F(RejectTest, MalformedAckBody) {
  const PublicKey a = PubOf(kStaticKeyA);
  rlp::Encoder enc;
  enc.BeginList();
  enc.AddBytes(PubOf(kEphemeralKeyB).bytes());
  enc.AddBytes(NonceOf(kNonceB));
  enc.EndList();
  EXPECT_THAT(Message(ReadAck(SealEip8(a, enc.Finish()))),
              StartsWith("rlpx: invalid ack body: rlp: input list has too few elements"));
  std::array<uint8_t, 64> off_curve = PubOf(kEphemeralKeyB).bytes();
  off_curve[63] ^= 0x01;
  enc.BeginList();
  enc.AddBytes(off_curve);
  enc.AddBytes(NonceOf(kNonceB));
  enc.AddUint(4);
  enc.EndList();
  EXPECT_THAT(Message(ReadAck(SealEip8(a, enc.Finish()))),
              StartsWith("rlpx: invalid recipient ephemeral public key: "));
}

TEST_F(RejectTest, AcceptsExtraElementsAndAnyVersion) {
  const std::vector<uint8_t> extra = {0xc3, 0x01, 0x02, 0x03, 0x82, 0xff, 0xff};
  std::vector<uint8_t> body = AuthBody(Key(kStaticKeyA), PubOf(kStaticKeyB), Key(kEphemeralKeyA),
                                       NonceOf(kNonceA), 0xffffffffffffffffull, extra);
  Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy_);
  ASSERT_TRUE(b.ReadAuth(SealEip8(PubOf(kStaticKeyB), body)).ok());
  EXPECT_EQ(b.remote_version(), 0xffffffffffffffffull);
  EXPECT_EQ(b.remote_ephemeral(), PubOf(kEphemeralKeyA));
}

// ---------------------------------------------------------------------------
// Misuse is a programmer error.

TEST(HandshakeDeathTest, WrongSideOrOrderCrashes) {
  RngEntropy entropy(Rng(17));
  EXPECT_DEATH(
      {
        Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy);
        (void)b.MakeAuth();
      },
      "MakeAuth called on the recipient side");
  EXPECT_DEATH(
      {
        Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy);
        (void)b.MakeAck();
      },
      "MakeAck called out of order");
  EXPECT_DEATH(
      {
        Handshake a = Handshake::Initiator(Key(kStaticKeyA), PubOf(kStaticKeyB), entropy);
        (void)a.ReadAck(HexOrDie(kAck2));
      },
      "ReadAck called out of order");
  EXPECT_DEATH(
      {
        Handshake b = Handshake::Recipient(Key(kStaticKeyB), entropy);
        (void)b.ReadAuth({});
        (void)b.ReadAuth(HexOrDie(kAuth2));
      },
      "after a failed step");
}

}  // namespace
}  // namespace p2p::rlpx
