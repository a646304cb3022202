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
#include "core/rlpx/eip8_vectors_testing.h"
#include "core/rng.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace p2p::rlpx {
namespace {

using ::testing::HasSubstr;

// EIP-8 vectors; Auth1 is legacy, a bare ECIES message to B.
using eip8::kAuth1;
using eip8::kAuth2;
using eip8::kAuthSignature;
using eip8::kNonceA;
using eip8::kStaticKeyA;
using eip8::kStaticKeyB;

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
