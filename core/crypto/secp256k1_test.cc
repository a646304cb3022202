#include "core/crypto/secp256k1.h"

#include <array>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "core/crypto/keccak.h"
#include "core/hex.h"
#include "core/rng.h"
#include "gtest/gtest.h"

namespace p2p {
namespace {

// EIP-8 "RLPx Handshake" test keys.
constexpr char kStaticKeyA[] = "49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee";
constexpr char kStaticKeyB[] = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
constexpr char kEphemeralKeyA[] = "869d6ecf5211f1cc60418a13b9d870b22959d0c16f02bec714c960dd2298a32d";
constexpr char kEphemeralKeyB[] = "e238eb8e04fee6511ab04c6dd3c89ce097b11f25d584863ac2b6d5b35b1847e4";
constexpr char kNonceA[] = "7e968bba13b6c50e2c4cd7f241cc0d64d1ac25c7f5952df231ac6a2bda8ee5d6";

// Their public keys, as published:
//  - A and both ephemeral keys: the values decoded from the EIP-8 Auth/Ack
//    vectors in aleth's test/unittests/libp2p/eip-8.cpp
//    (checkAuthValuesEIP8 / checkAckValuesEIP8).
//  - B: the findnode target in EIP-8's discovery vectors (also
//    go-ethereum's v4wire_test.go); its compressed form 03ca634c... is the
//    secp256k1 entry of EIP-778's example record, which is signed by B.
constexpr char kPubA[] =
    "fda1cff674c90c9a197539fe3dfb53086ace64f83ed7c6eabec741f7f381cc80"
    "3e52ab2cd55d5569bce4347107a310dfd5f88a010cd2ffd1005ca406f1842877";
constexpr char kPubB[] =
    "ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138"
    "7574077f301b421bc84df7266c44e9e6d569fc56be00812904767bf5ccd1fc7f";
constexpr char kPubBCompressed[] =
    "03ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138";
constexpr char kEphemeralPubA[] =
    "654d1044b69c577a44e5f01a1209523adb4026e70c62d1c13a067acabc09d266"
    "7a49821a0ad4b634554d330a15a58fe61f8a8e0544b310c6de7b0c8da7528a8d";
constexpr char kEphemeralPubB[] =
    "b6d82fa3409da933dbf9cb0140c5dde89f4e64aec88d476af648880f4a10e1e4"
    "9fe35ef3e69e93dd300b4797765a747c6384a6ecf5db9c2690398607a86181e4";

// go-ethereum p2p/rlpx/rlpx_test.go TestHandshakeForwardCompatibility: the
// signature inside EIP-8's Auth2/Auth3, made by ephemeral key A over
// ecdh(A, B) XOR nonce A.
constexpr char kAuthSignature[] =
    "299ca6acfd35e3d72d8ba3d1e2b60b5561d5af5218eb5bc182045769eb422691"
    "0a301acae3b369fffc4a4899d6b02531e89fd4fe36a2cf0d93607ba470b50f7800";

PrivateKey Key(const char* hex) {
  absl::StatusOr<PrivateKey> k = PrivateKey::FromHex(hex);
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

PublicKey Pub(const char* hex) {
  absl::StatusOr<PublicKey> k = PublicKey::FromHex(hex);
  EXPECT_TRUE(k.ok()) << k.status();
  return k.ok() ? *k : PublicKey();
}

template <size_t N>
std::array<uint8_t, N> Arr(const char* hex) {
  std::vector<uint8_t> v = HexOrDie(hex);
  EXPECT_EQ(v.size(), N);
  std::array<uint8_t, N> a{};
  std::copy(v.begin(), v.begin() + std::min(N, v.size()), a.begin());
  return a;
}

TEST(Secp256k1Test, Eip8KeysDeriveThePublishedPublicKeys) {
  EXPECT_EQ(DerivePublicKey(Key(kStaticKeyA)).ToHex(), kPubA);
  EXPECT_EQ(DerivePublicKey(Key(kStaticKeyB)).ToHex(), kPubB);
  EXPECT_EQ(DerivePublicKey(Key(kEphemeralKeyA)).ToHex(), kEphemeralPubA);
  EXPECT_EQ(DerivePublicKey(Key(kEphemeralKeyB)).ToHex(), kEphemeralPubB);
  EXPECT_EQ(HexEncode(DerivePublicKey(Key(kStaticKeyB)).SerializeCompressed33()), kPubBCompressed);
}

// go-ethereum crypto_test.go: testPrivHex's address is the last 20 bytes of
// keccak256(X || Y).
TEST(Secp256k1Test, GethTestKeyAddress) {
  PublicKey pub =
      DerivePublicKey(Key("289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032"));
  std::array<uint8_t, 32> h = Keccak256Hash(pub.bytes());
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(h).subspan(12)), "970e8128ab834e8eac17ab8e3812f010678cf791");
}

// go-ethereum signature_test.go: TestEcrecover, TestDecompressPubkey,
// TestCompressPubkey.
TEST(Secp256k1Test, GethEcrecoverVector) {
  std::vector<uint8_t> msg =
      HexOrDie("ce0677bb30baa8cf067c88db9811f4333d131bf8bcf12fe7065d211dce971008");
  std::vector<uint8_t> sig = HexOrDie(
      "90f27b8b488db00b00606796d2987f6a5f59ae62ea05effe84fef5b8b0e549984a691139ad57a3f0b906637673"
      "aa2f63d1f55cb1a69199d4009eea23ceaddc9301");
  const char* want65 =
      "04e32df42865e97135acfb65f3bae71bdc86f4d49150ad6a440b6f15878109880a0a2b2667f7e725ceea70c673"
      "093bf67663e0312623c8e091b13cf2c0f11ef652";
  const char* want33 = "02e32df42865e97135acfb65f3bae71bdc86f4d49150ad6a440b6f15878109880a";
  absl::StatusOr<PublicKey> pub = RecoverPublicKey(msg, sig);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(HexEncode(pub->SerializeUncompressed65()), want65);
  EXPECT_EQ(HexEncode(pub->SerializeCompressed33()), want33);
  // Decompression gives back the full key; 65-byte parsing is the identity.
  EXPECT_EQ(Pub(want33), *pub);
  EXPECT_EQ(Pub(want65), *pub);
}

TEST(Secp256k1Test, Eip8AuthSignatureVector) {
  PrivateKey a = Key(kStaticKeyA);
  PrivateKey b = Key(kStaticKeyB);
  absl::StatusOr<std::array<uint8_t, 32>> shared_ab = Ecdh(a, Pub(kPubB));
  absl::StatusOr<std::array<uint8_t, 32>> shared_ba = Ecdh(b, Pub(kPubA));
  ASSERT_TRUE(shared_ab.ok()) << shared_ab.status();
  ASSERT_TRUE(shared_ba.ok()) << shared_ba.status();
  EXPECT_EQ(*shared_ab, *shared_ba);

  // The RLPx initiator signs static-shared-secret XOR initiator-nonce with
  // its ephemeral key; the recipient recovers the ephemeral public key.
  std::array<uint8_t, 32> nonce = Arr<32>(kNonceA);
  std::array<uint8_t, 32> signed_msg;
  for (size_t i = 0; i < 32; ++i) signed_msg[i] = (*shared_ab)[i] ^ nonce[i];

  std::array<uint8_t, 65> published = Arr<65>(kAuthSignature);
  absl::StatusOr<PublicKey> recovered = RecoverPublicKey(signed_msg, published);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->ToHex(), kEphemeralPubA);

  // The published signature was made with a random nonce, so ours (RFC
  // 6979) differs in bytes; it must recover the same key.
  absl::StatusOr<std::array<uint8_t, 65>> sig = SignRecoverable(Key(kEphemeralKeyA), signed_msg);
  ASSERT_TRUE(sig.ok()) << sig.status();
  absl::StatusOr<PublicKey> ours = RecoverPublicKey(signed_msg, *sig);
  ASSERT_TRUE(ours.ok()) << ours.status();
  EXPECT_EQ(ours->ToHex(), kEphemeralPubA);
}

// EIP-155's worked example: a transaction signed with key 0x4646...46 over
// keccak256(signing data). Its (r, s) can only be reproduced with RFC 6979
// nonces and low-s normalisation, which is what go-ethereum's crypto.Sign
// does; v = 37 = 35 + 2 * chainId + recid gives recid 0.
TEST(Secp256k1Test, Eip155DeterministicSignatureVector) {
  std::vector<uint8_t> signing_data = HexOrDie(
      "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080");
  std::array<uint8_t, 32> hash = Keccak256Hash(signing_data);
  EXPECT_EQ(HexEncode(hash), "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
  PrivateKey key = Key("4646464646464646464646464646464646464646464646464646464646464646");
  absl::StatusOr<std::array<uint8_t, 65>> sig = SignRecoverable(key, hash);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_EQ(HexEncode(*sig),
            "28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276"
            "67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
            "00");
  absl::StatusOr<PublicKey> pub = RecoverPublicKey(hash, *sig);
  ASSERT_TRUE(pub.ok()) << pub.status();
  std::array<uint8_t, 32> h = Keccak256Hash(pub->bytes());
  EXPECT_EQ(HexEncode(absl::MakeConstSpan(h).subspan(12)), "9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f");
}

// EIP-8's discovery packets are signed by key B: hash || sig || type || data
// with sig over keccak256(type || data).
TEST(Secp256k1Test, Eip8DiscoveryPacketSignatureRecoversKeyB) {
  std::vector<uint8_t> packet = HexOrDie(
      "e9614ccfd9fc3e74360018522d30e1419a143407ffcce748de3e22116b7e8dc92ff74788c0b6663a"
      "aa3d67d641936511c8f8d6ad8698b820a7cf9e1be7155e9a241f556658c55428ec0563514365799a"
      "4be2be5a685a80971ddcfa80cb422cdd0101ec04cb847f000001820cfa8215a8d790000000000000"
      "000000000000000000018208ae820d058443b9a3550102");
  absl::Span<const uint8_t> p(packet);
  std::array<uint8_t, 32> signed_hash = Keccak256Hash(p.subspan(32 + 65));
  absl::StatusOr<PublicKey> pub = RecoverPublicKey(signed_hash, p.subspan(32, 65));
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(pub->ToHex(), kPubB);
}

// go-ethereum crypto_test.go TestSign: sign keccak("foo"), recover, compare.
TEST(Secp256k1Test, SignRecoverRoundTrip) {
  PrivateKey key = Key("289c2857d4598e37fb9647507e47a309d6133539bf21a8b9cb6df88fd5232032");
  std::array<uint8_t, 32> msg = Keccak256Hash("foo");
  absl::StatusOr<std::array<uint8_t, 65>> sig = SignRecoverable(key, msg);
  ASSERT_TRUE(sig.ok()) << sig.status();
  EXPECT_LE((*sig)[64], 1);
  absl::StatusOr<PublicKey> pub = RecoverPublicKey(msg, *sig);
  ASSERT_TRUE(pub.ok()) << pub.status();
  EXPECT_EQ(*pub, DerivePublicKey(key));
  // Deterministic.
  EXPECT_EQ(*SignRecoverable(key, msg), *sig);
}

TEST(Secp256k1Test, RandomKeysSignRecoverAndLowS) {
  // Half the group order, big-endian: s must not exceed it.
  const std::array<uint8_t, 32> half_n =
      Arr<32>("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0");
  RngEntropy entropy(Rng(7));
  Rng rng(8);
  for (int i = 0; i < 50; ++i) {
    PrivateKey key = PrivateKey::Generate(entropy);
    std::array<uint8_t, 32> msg;
    rng.Fill(absl::MakeSpan(msg));
    absl::StatusOr<std::array<uint8_t, 65>> sig = SignRecoverable(key, msg);
    ASSERT_TRUE(sig.ok()) << sig.status();
    EXPECT_LE((*sig)[64], 1);
    std::array<uint8_t, 32> s;
    std::copy(sig->begin() + 32, sig->begin() + 64, s.begin());
    EXPECT_LE(s, half_n);
    absl::StatusOr<PublicKey> pub = RecoverPublicKey(msg, *sig);
    ASSERT_TRUE(pub.ok()) << pub.status();
    EXPECT_EQ(*pub, DerivePublicKey(key));
    // A different message recovers a different key (or fails).
    msg[0] ^= 1;
    absl::StatusOr<PublicKey> other = RecoverPublicKey(msg, *sig);
    if (other.ok()) {
      EXPECT_NE(*other, DerivePublicKey(key));
    }
  }
}

TEST(Secp256k1Test, EcdhIsSymmetric) {
  RngEntropy entropy(Rng(9));
  for (int i = 0; i < 20; ++i) {
    PrivateKey a = PrivateKey::Generate(entropy);
    PrivateKey b = PrivateKey::Generate(entropy);
    absl::StatusOr<std::array<uint8_t, 32>> ab = Ecdh(a, DerivePublicKey(b));
    absl::StatusOr<std::array<uint8_t, 32>> ba = Ecdh(b, DerivePublicKey(a));
    ASSERT_TRUE(ab.ok() && ba.ok());
    EXPECT_EQ(*ab, *ba);
  }
}

// priv * G's X coordinate is ECDH with the generator: a fixed point check
// that the callback returns the raw X and not a hash of it.
TEST(Secp256k1Test, EcdhReturnsRawX) {
  std::array<uint8_t, 32> one{};
  one[31] = 1;
  absl::StatusOr<PrivateKey> k1 = PrivateKey::FromBytes(one);
  ASSERT_TRUE(k1.ok());
  absl::StatusOr<std::array<uint8_t, 32>> x = Ecdh(*k1, Pub(kPubB));
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(HexEncode(*x), std::string(kPubB).substr(0, 64));
}

TEST(Secp256k1Test, RejectsPointsOffTheCurve) {
  std::vector<uint8_t> b = HexOrDie(kPubB);
  b[63] ^= 0x01;  // Y changed: no longer on the curve.
  absl::StatusOr<PublicKey> bad = PublicKey::Parse(b);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "invalid public key: not a point on the secp256k1 curve");

  std::vector<uint8_t> b65 = HexOrDie(std::string("04") + kPubB);
  b65[40] ^= 0x10;
  EXPECT_EQ(PublicKey::Parse(b65).status().message(),
            "invalid public key: not a point on the secp256k1 curve");

  // X = 5: 5^3 + 7 = 132 is not a square mod p, so no point has this X.
  std::vector<uint8_t> c = HexOrDie("020000000000000000000000000000000000000000000000000000000000000005");
  EXPECT_EQ(PublicKey::Parse(c).status().message(),
            "invalid public key: X is not the coordinate of a secp256k1 curve point");

  // Coordinates must be below p.
  std::vector<uint8_t> big(64, 0xff);
  EXPECT_FALSE(PublicKey::Parse(big).ok());
  // The zero placeholder is not a point.
  EXPECT_FALSE(PublicKey::Parse(std::vector<uint8_t>(64, 0)).ok());
}

TEST(Secp256k1Test, ParseRejectsBadLengthsAndPrefixes) {
  EXPECT_EQ(PublicKey::Parse(std::vector<uint8_t>(63, 1)).status().message(),
            "invalid public key length 63 (want 64, 65 or 33 bytes)");
  EXPECT_EQ(PublicKey::Parse({}).status().message(),
            "invalid public key length 0 (want 64, 65 or 33 bytes)");
  std::vector<uint8_t> hybrid = HexOrDie(std::string("07") + kPubB);  // Y odd: hybrid prefix 07.
  EXPECT_EQ(PublicKey::Parse(hybrid).status().message(),
            "invalid public key: 65-byte key must start with 0x04, got 0x07");
  std::vector<uint8_t> c = HexOrDie(kPubBCompressed);
  c[0] = 0x04;
  EXPECT_EQ(PublicKey::Parse(c).status().message(),
            "invalid public key: compressed key must start with 0x02 or 0x03, got 0x04");
  EXPECT_FALSE(PublicKey::FromHex("zz").ok());
}

TEST(Secp256k1Test, ParseAcceptsAllThreeForms) {
  PublicKey b = Pub(kPubB);
  EXPECT_EQ(*PublicKey::Parse(b.bytes()), b);
  EXPECT_EQ(*PublicKey::Parse(b.SerializeUncompressed65()), b);
  EXPECT_EQ(*PublicKey::Parse(b.SerializeCompressed33()), b);
  EXPECT_EQ(HexEncode(b.SerializeUncompressed65()), std::string("04") + kPubB);
  // Odd Y (..77): prefix 03; even Y (..e4): prefix 02.
  PublicKey a = Pub(kPubA);
  EXPECT_EQ(a.SerializeCompressed33()[0], 0x03);
  EXPECT_EQ(*PublicKey::Parse(a.SerializeCompressed33()), a);
  PublicKey e = Pub(kEphemeralPubB);
  EXPECT_EQ(e.SerializeCompressed33()[0], 0x02);
  EXPECT_EQ(*PublicKey::Parse(e.SerializeCompressed33()), e);
}

TEST(Secp256k1Test, OperationsRejectTheZeroPlaceholder) {
  PublicKey zero;
  EXPECT_TRUE(zero.IsZero());
  EXPECT_FALSE(Pub(kPubA).IsZero());
  absl::StatusOr<std::array<uint8_t, 32>> x = Ecdh(Key(kStaticKeyA), zero);
  ASSERT_FALSE(x.ok());
  EXPECT_EQ(x.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(x.status().message(), "ECDH: public key is not a point on the secp256k1 curve");
}

// go-ethereum crypto_test.go TestToECDSAErrors, plus the range edges.
TEST(Secp256k1Test, PrivateKeyRange) {
  const char* kZero = "0000000000000000000000000000000000000000000000000000000000000000";
  const char* kOrder = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
  const char* kOrderMinus1 = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140";
  const char* kAllOnes = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
  for (const char* bad : {kZero, kOrder, kAllOnes}) {
    absl::StatusOr<PrivateKey> k = PrivateKey::FromHex(bad);
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(k.status().message(),
              "invalid private key: scalar is zero or not below the secp256k1 group order");
  }
  EXPECT_TRUE(PrivateKey::FromHex(kOrderMinus1).ok());
  EXPECT_EQ(PrivateKey::FromBytes(std::vector<uint8_t>(31, 1)).status().message(),
            "invalid private key length 31 (want 32 bytes)");
  EXPECT_FALSE(PrivateKey::FromHex("xyz").ok());
  EXPECT_EQ(HexEncode(Key(kStaticKeyA).bytes()), kStaticKeyA);
}

// An Entropy that first yields invalid scalars.
class ScriptedEntropy : public Entropy {
 public:
  explicit ScriptedEntropy(std::vector<std::vector<uint8_t>> draws) : draws_(std::move(draws)) {}
  void Fill(absl::Span<uint8_t> out) override {
    ASSERT_LT(next_, draws_.size());
    ASSERT_EQ(out.size(), draws_[next_].size());
    std::copy(draws_[next_].begin(), draws_[next_].end(), out.begin());
    ++next_;
  }
  size_t used() const { return next_; }

 private:
  std::vector<std::vector<uint8_t>> draws_;
  size_t next_ = 0;
};

TEST(Secp256k1Test, GenerateRedrawsInvalidScalars) {
  ScriptedEntropy entropy({std::vector<uint8_t>(32, 0x00), std::vector<uint8_t>(32, 0xff),
                           HexOrDie(kStaticKeyB)});
  PrivateKey k = PrivateKey::Generate(entropy);
  EXPECT_EQ(entropy.used(), 3u);
  EXPECT_EQ(HexEncode(k.bytes()), kStaticKeyB);
}

TEST(Secp256k1Test, GenerateIsReproducibleFromTheSeed) {
  RngEntropy e1(Rng(42)), e2(Rng(42));
  EXPECT_EQ(PrivateKey::Generate(e1), PrivateKey::Generate(e2));
  EXPECT_NE(PrivateKey::Generate(e1), PrivateKey::Generate(e1));
}

TEST(Secp256k1Test, RecoverRejectsMalformedInput) {
  std::array<uint8_t, 32> msg = Keccak256Hash("foo");
  absl::StatusOr<std::array<uint8_t, 65>> sig = SignRecoverable(Key(kStaticKeyA), msg);
  ASSERT_TRUE(sig.ok());

  std::array<uint8_t, 65> bad_v = *sig;
  bad_v[64] = 4;
  EXPECT_EQ(RecoverPublicKey(msg, bad_v).status().message(),
            "recover: invalid signature recovery id 4 (want 0..3)");
  bad_v[64] = 27;  // Ethereum's "v + 27" transaction form is not accepted here.
  EXPECT_FALSE(RecoverPublicKey(msg, bad_v).ok());

  EXPECT_EQ(RecoverPublicKey(absl::MakeConstSpan(msg).subspan(1), *sig).status().message(),
            "recover: hash must be 32 bytes, got 31");
  EXPECT_EQ(RecoverPublicKey(msg, absl::MakeConstSpan(*sig).subspan(0, 64)).status().message(),
            "recover: signature must be 65 bytes, got 64");

  std::array<uint8_t, 65> overflow = *sig;  // r = all ones >= n.
  std::fill(overflow.begin(), overflow.begin() + 32, 0xff);
  EXPECT_EQ(RecoverPublicKey(msg, overflow).status().message(),
            "recover: signature r or s is not below the group order");

  std::array<uint8_t, 65> zero{};  // r = s = 0.
  absl::StatusOr<PublicKey> z = RecoverPublicKey(msg, zero);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Secp256k1Test, SignRejectsWrongHashLength) {
  std::vector<uint8_t> h(33, 1);
  absl::StatusOr<std::array<uint8_t, 65>> sig = SignRecoverable(Key(kStaticKeyA), h);
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.status().message(), "sign: hash must be 32 bytes, got 33");
  EXPECT_FALSE(SignRecoverable(Key(kStaticKeyA), {}).ok());
}

TEST(Secp256k1Test, PublicKeyOrderingAndHashing) {
  PublicKey a = Pub(kPubA), b = Pub(kPubB);
  EXPECT_TRUE(b < a);  // 0xca... < 0xfd...
  EXPECT_FALSE(a < b);
  EXPECT_NE(a, b);
  absl::flat_hash_set<PublicKey> set = {a, b, Pub(kPubA)};
  EXPECT_EQ(set.size(), 2u);
  EXPECT_TRUE(set.contains(b));
}

TEST(Secp256k1Test, RandomizedContextGivesTheSameResults) {
  RngEntropy entropy(Rng(11));
  ASSERT_TRUE(RandomizeSecp256k1Context(entropy).ok());
  EXPECT_EQ(DerivePublicKey(Key(kStaticKeyA)).ToHex(), kPubA);
  std::array<uint8_t, 32> msg = Keccak256Hash("foo");
  absl::StatusOr<std::array<uint8_t, 65>> s1 = SignRecoverable(Key(kStaticKeyA), msg);
  ASSERT_TRUE(RandomizeSecp256k1Context(entropy).ok());
  absl::StatusOr<std::array<uint8_t, 65>> s2 = SignRecoverable(Key(kStaticKeyA), msg);
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(*s1, *s2);
}

}  // namespace
}  // namespace p2p
