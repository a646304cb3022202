#include "core/rlpx/ecies.h"

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "core/crypto/symmetric.h"
#include "core/hex.h"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace p2p::rlpx {
namespace {

using ::testing::HasSubstr;

// EIP-8 "RLPx Handshake" keys and the legacy (pre-EIP-8) Auth1 packet,
// which is a bare ECIES message to B (no size prefix, no shared MAC data).
constexpr char kStaticKeyA[] = "49a7b37aa6f6645917e7b807e9d1c00d4fa71f18343b0d4122a4d2df64dd6fee";
constexpr char kStaticKeyB[] = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
constexpr char kNonceA[] = "7e968bba13b6c50e2c4cd7f241cc0d64d1ac25c7f5952df231ac6a2bda8ee5d6";
constexpr char kAuth1[] =
    "048ca79ad18e4b0659fab4853fe5bc58eb83992980f4c9cc147d2aa31532efd29a3d3dc6a3d89eaf"
    "913150cfc777ce0ce4af2758bf4810235f6e6ceccfee1acc6b22c005e9e3a49d6448610a58e98744"
    "ba3ac0399e82692d67c1f58849050b3024e21a52c9d3b01d871ff5f210817912773e610443a9ef14"
    "2e91cdba0bd77b5fdf0769b05671fc35f83d83e4d3b0b000c6b2a1b1bba89e0fc51bf4e460df3105"
    "c444f14be226458940d6061c296350937ffd5e3acaceeaaefd3c6f74be8e23e0f45163cc7ebd7622"
    "0f0128410fd05250273156d548a414444ae2f7dea4dfca2d43c057adb701a715bf59f6fb66b2d1d2"
    "0f2c703f851cbf5ac47396d9ca65b6260bd141ac4d53e2de585a73d1750780db4c9ee4cd4d225173"
    "a4592ee77e2bd94d0be3691f3b406f9bba9b591fc63facc016bfa8";
// The EIP-8 Auth2 packet: size prefix 01b3, then ECIES with s2 = 01b3.
constexpr char kAuth2[] =
    "01b304ab7578555167be8154d5cc456f567d5ba302662433674222360f08d5f1534499d3678b513b"
    "0fca474f3a514b18e75683032eb63fccb16c156dc6eb2c0b1593f0d84ac74f6e475f1b8d56116b84"
    "9634a8c458705bf83a626ea0384d4d7341aae591fae42ce6bd5c850bfe0b999a694a49bbbaf3ef6c"
    "da61110601d3b4c02ab6c30437257a6e0117792631a4b47c1d52fc0f8f89caadeb7d02770bf999cc"
    "147d2df3b62e1ffb2c9d8c125a3984865356266bca11ce7d3a688663a51d82defaa8aad69da39ab6"
    "d5470e81ec5f2a7a47fb865ff7cca21516f9299a07b1bc63ba56c7a1a892112841ca44b6e0034dee"
    "70c9adabc15d76a54f443593fafdc3b27af8059703f88928e199cb122362a4b35f62386da7caad09"
    "c001edaeb5f8a06d2b26fb6cb93c52a9fca51853b68193916982358fe1e5369e249875bb8d0d0ec3"
    "6f917bc5e1eafd5896d46bd61ff23f1a863a8a8dcd54c7b109b771c8e61ec9c8908c733c0263440e"
    "2aa067241aaa433f0bb053c7b31a838504b148f570c0ad62837129e547678c5190341e4f1693956c"
    "3bf7678318e2d5b5340c9e488eefea198576344afbdf66db5f51204a6961a63ce072c8926c";
// go-ethereum TestHandshakeForwardCompatibility: the signature in the auths.
constexpr char kAuthSignature[] =
    "299ca6acfd35e3d72d8ba3d1e2b60b5561d5af5218eb5bc182045769eb422691"
    "0a301acae3b369fffc4a4899d6b02531e89fd4fe36a2cf0d93607ba470b50f7800";

PrivateKey Key(const char* hex) {
  absl::StatusOr<PrivateKey> k = PrivateKey::FromHex(hex);
  ABSL_RAW_CHECK(k.ok(), "bad test key");
  return *k;
}

std::vector<uint8_t> Bytes(absl::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

std::vector<uint8_t> Slice(const std::vector<uint8_t>& v, size_t from, size_t n) {
  return std::vector<uint8_t>(v.begin() + from, v.begin() + from + n);
}

TEST(EciesTest, DecryptsLegacyAuthVector) {
  absl::StatusOr<std::vector<uint8_t>> plain = EciesDecrypt(Key(kStaticKeyB), HexOrDie(kAuth1), {});
  ASSERT_TRUE(plain.ok()) << plain.status();
  // sig(65) || keccak(eph-pubk)(32) || pubk(64) || nonce(32) || 0x00.
  ASSERT_EQ(plain->size(), 194u);
  EXPECT_EQ(HexEncode(Slice(*plain, 0, 65)), kAuthSignature);
  EXPECT_EQ(HexEncode(Slice(*plain, 97, 64)), DerivePublicKey(Key(kStaticKeyA)).ToHex());
  EXPECT_EQ(HexEncode(Slice(*plain, 161, 32)), kNonceA);
  EXPECT_EQ((*plain)[193], 0x00);
}

TEST(EciesTest, DecryptsEip8AuthVectorWithSizePrefixAsSharedMacData) {
  const std::vector<uint8_t> packet = HexOrDie(kAuth2);
  const std::vector<uint8_t> prefix = Slice(packet, 0, 2);
  const std::vector<uint8_t> wire = Slice(packet, 2, packet.size() - 2);
  absl::StatusOr<std::vector<uint8_t>> plain = EciesDecrypt(Key(kStaticKeyB), wire, prefix);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->size(), wire.size() - kEciesOverhead);
  // rlp list header f8a7, then the 65-byte signature string b841 ...
  EXPECT_EQ(HexEncode(Slice(*plain, 0, 4)), "f8a7b841");
  EXPECT_EQ(HexEncode(Slice(*plain, 4, 65)), kAuthSignature);

  // Without the prefix as s2 (or with another one) the tag does not match.
  absl::StatusOr<std::vector<uint8_t>> no_s2 = EciesDecrypt(Key(kStaticKeyB), wire, {});
  EXPECT_EQ(no_s2.status(), absl::InvalidArgumentError("ecies: invalid message tag"));
  const std::vector<uint8_t> other_prefix = {0x01, 0xb4};
  EXPECT_EQ(EciesDecrypt(Key(kStaticKeyB), wire, other_prefix).status(),
            absl::InvalidArgumentError("ecies: invalid message tag"));
}

TEST(EciesTest, RoundTripsManySizes) {
  RngEntropy entropy(Rng(1));
  const PrivateKey priv = PrivateKey::Generate(entropy);
  const PublicKey pub = DerivePublicKey(priv);
  for (size_t n : {0, 1, 15, 16, 17, 100, 1000, 4096}) {
    std::vector<uint8_t> plain(n);
    entropy.Fill(absl::MakeSpan(plain));
    for (const std::vector<uint8_t>& s2 : {std::vector<uint8_t>{}, std::vector<uint8_t>{0x01, 0x2c}}) {
      absl::StatusOr<std::vector<uint8_t>> wire = EciesEncrypt(pub, plain, s2, entropy);
      ASSERT_TRUE(wire.ok()) << wire.status();
      EXPECT_EQ(wire->size(), n + kEciesOverhead);
      EXPECT_EQ((*wire)[0], 0x04);
      absl::StatusOr<std::vector<uint8_t>> back = EciesDecrypt(priv, *wire, s2);
      ASSERT_TRUE(back.ok()) << back.status();
      EXPECT_EQ(*back, plain);
    }
  }
}

TEST(EciesTest, EncryptIsDeterministicGivenTheEntropy) {
  const PublicKey pub = DerivePublicKey(Key(kStaticKeyB));
  const std::vector<uint8_t> plain = Bytes("hello rlpx");
  RngEntropy e1(Rng(7)), e2(Rng(7)), e3(Rng(8));
  absl::StatusOr<std::vector<uint8_t>> a = EciesEncrypt(pub, plain, {}, e1);
  absl::StatusOr<std::vector<uint8_t>> b = EciesEncrypt(pub, plain, {}, e2);
  absl::StatusOr<std::vector<uint8_t>> c = EciesEncrypt(pub, plain, {}, e3);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

// Rebuilds one message from the primitives, step by step as the
// construction is specified, and compares with EciesEncryptWith.
TEST(EciesTest, MatchesTheConstructionBuiltFromPrimitives) {
  const PrivateKey recipient = Key(kStaticKeyB);
  const PrivateKey ephemeral = Key(kStaticKeyA);
  std::array<uint8_t, 16> iv;
  for (size_t i = 0; i < iv.size(); ++i) iv[i] = static_cast<uint8_t>(0xa0 + i);
  const std::vector<uint8_t> plain = Bytes("The quick brown fox jumps over the lazy dog");
  const std::vector<uint8_t> s2 = {0x01, 0x02};

  absl::StatusOr<std::vector<uint8_t>> wire =
      EciesEncryptWith(DerivePublicKey(recipient), ephemeral, iv, plain, s2);
  ASSERT_TRUE(wire.ok()) << wire.status();

  absl::StatusOr<std::array<uint8_t, 32>> z = Ecdh(ephemeral, DerivePublicKey(recipient));
  ASSERT_TRUE(z.ok());
  std::vector<uint8_t> kdf_in = {0, 0, 0, 1};
  kdf_in.insert(kdf_in.end(), z->begin(), z->end());
  const std::array<uint8_t, 32> k = Sha256(kdf_in);
  const std::vector<uint8_t> ke(k.begin(), k.begin() + 16);
  const std::array<uint8_t, 32> km = Sha256(absl::MakeConstSpan(k.data() + 16, 16));
  absl::StatusOr<AesCtr> aes = AesCtr::Create(ke, iv);
  ASSERT_TRUE(aes.ok());
  std::vector<uint8_t> ct(plain.size());
  aes->Apply(plain, absl::MakeSpan(ct));
  std::vector<uint8_t> iv_ct(iv.begin(), iv.end());
  iv_ct.insert(iv_ct.end(), ct.begin(), ct.end());
  const std::array<uint8_t, 32> tag = HmacSha256(km, {iv_ct, s2});

  std::vector<uint8_t> want;
  const std::array<uint8_t, 65> r = DerivePublicKey(ephemeral).SerializeUncompressed65();
  want.insert(want.end(), r.begin(), r.end());
  want.insert(want.end(), iv_ct.begin(), iv_ct.end());
  want.insert(want.end(), tag.begin(), tag.end());
  EXPECT_EQ(HexEncode(*wire), HexEncode(want));
}

TEST(EciesTest, EncryptRejectsPlaceholderKey) {
  RngEntropy entropy(Rng(2));
  absl::StatusOr<std::vector<uint8_t>> wire = EciesEncrypt(PublicKey(), Bytes("x"), {}, entropy);
  EXPECT_EQ(wire.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(wire.status().message()), HasSubstr("ecies: "));
}

class EciesRejectTest : public ::testing::Test {
 protected:
  EciesRejectTest() : priv_(Key(kStaticKeyB)) {
    RngEntropy entropy(Rng(3));
    absl::StatusOr<std::vector<uint8_t>> wire =
        EciesEncrypt(DerivePublicKey(priv_), Bytes("secret message"), s2_, entropy);
    ABSL_RAW_CHECK(wire.ok(), "encrypt");
    wire_ = *wire;
  }
  absl::Status Decrypt(const std::vector<uint8_t>& wire) {
    return EciesDecrypt(priv_, wire, s2_).status();
  }

  PrivateKey priv_;
  std::vector<uint8_t> s2_ = {0x00, 0x7f};
  std::vector<uint8_t> wire_;
};

TEST_F(EciesRejectTest, Valid) { EXPECT_TRUE(Decrypt(wire_).ok()); }

TEST_F(EciesRejectTest, ShortInput) {
  EXPECT_EQ(Decrypt({}), absl::InvalidArgumentError(
                             "ecies: message too short: 0 bytes, need at least 113"));
  std::vector<uint8_t> w(wire_.begin(), wire_.begin() + 112);
  EXPECT_EQ(Decrypt(w), absl::InvalidArgumentError(
                            "ecies: message too short: 112 bytes, need at least 113"));
  // Exactly the overhead is an empty plaintext: the tag decides.
  w.push_back(0);
  EXPECT_EQ(Decrypt(w), absl::InvalidArgumentError("ecies: invalid message tag"));
}

TEST_F(EciesRejectTest, BadPublicKeyPrefix) {
  for (uint8_t prefix : {0x00, 0x02, 0x03, 0x05, 0x06, 0x07, 0xff}) {
    std::vector<uint8_t> w = wire_;
    w[0] = prefix;
    char want[64];
    std::snprintf(want, sizeof(want), "ecies: invalid public key prefix 0x%02x (want 0x04)", prefix);
    EXPECT_EQ(Decrypt(w), absl::InvalidArgumentError(want));
  }
}

TEST_F(EciesRejectTest, PublicKeyOffTheCurve) {
  std::vector<uint8_t> w = wire_;
  w[64] ^= 0x01;  // Last byte of Y: (X, Y') is not on the curve.
  absl::Status s = Decrypt(w);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("ecies: invalid public key"));
  EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr("prefix")));
}

TEST_F(EciesRejectTest, TamperedTagIvOrCiphertext) {
  for (size_t pos : {size_t{65}, size_t{80}, size_t{81}, wire_.size() - 33, wire_.size() - 32,
                     wire_.size() - 1}) {
    std::vector<uint8_t> w = wire_;
    w[pos] ^= 0x80;
    EXPECT_EQ(Decrypt(w), absl::InvalidArgumentError("ecies: invalid message tag")) << pos;
  }
  std::vector<uint8_t> longer = wire_;
  longer.push_back(0);
  EXPECT_EQ(Decrypt(longer), absl::InvalidArgumentError("ecies: invalid message tag"));
}

TEST_F(EciesRejectTest, WrongKeyOrSharedMacData) {
  EXPECT_EQ(EciesDecrypt(Key(kStaticKeyA), wire_, s2_).status(),
            absl::InvalidArgumentError("ecies: invalid message tag"));
  EXPECT_EQ(EciesDecrypt(priv_, wire_, {}).status(),
            absl::InvalidArgumentError("ecies: invalid message tag"));
}

}  // namespace
}  // namespace p2p::rlpx
