#include "core/crypto/symmetric.h"

#include <string>
#include <vector>

#include "core/hex.h"
#include "gtest/gtest.h"

namespace p2p {
namespace {

std::vector<uint8_t> Bytes(const std::string& s) {
  return std::vector<uint8_t>(s.begin(), s.end());
}

// NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt), first two blocks.
TEST(SymmetricTest, AesCtr128Nist) {
  auto key = HexOrDie("2b7e151628aed2a6abf7158809cf4f3c");
  auto iv = HexOrDie("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  auto pt = HexOrDie("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
  auto ctr = AesCtr::Create(key, iv);
  ASSERT_TRUE(ctr.ok());
  std::vector<uint8_t> ct(pt.size());
  // Streaming in uneven pieces gives the same keystream.
  ctr->Apply(absl::MakeConstSpan(pt).subspan(0, 5), absl::MakeSpan(ct).subspan(0, 5));
  ctr->Apply(absl::MakeConstSpan(pt).subspan(5), absl::MakeSpan(ct).subspan(5));
  EXPECT_EQ(HexEncode(ct), "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff");
}

// NIST SP 800-38A F.5.5 (CTR-AES256.Encrypt), first block.
TEST(SymmetricTest, AesCtr256Nist) {
  auto key = HexOrDie("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  auto iv = HexOrDie("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  auto data = HexOrDie("6bc1bee22e409f96e93d7e117393172a");
  auto ctr = AesCtr::Create(key, iv);
  ASSERT_TRUE(ctr.ok());
  ctr->ApplyInPlace(absl::MakeSpan(data));
  EXPECT_EQ(HexEncode(data), "601ec313775789a5b7a7f504bbf3d228");
}

// FIPS-197 appendix C.3 (AES-256) and C.1 (AES-128).
TEST(SymmetricTest, AesBlockFips197) {
  auto pt = HexOrDie("00112233445566778899aabbccddeeff");
  uint8_t out[16];
  auto b256 = AesBlock::Create(
      HexOrDie("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"));
  ASSERT_TRUE(b256.ok());
  b256->Encrypt(pt.data(), out);
  EXPECT_EQ(HexEncode(out), "8ea2b7ca516745bfeafc49904b496089");
  auto b128 = AesBlock::Create(HexOrDie("000102030405060708090a0b0c0d0e0f"));
  ASSERT_TRUE(b128.ok());
  b128->Encrypt(pt.data(), out);
  EXPECT_EQ(HexEncode(out), "69c4e0d86a7b0430d8cdb78070b4c55a");
}

TEST(SymmetricTest, BadKeysAreErrors) {
  auto iv = std::vector<uint8_t>(16);
  EXPECT_EQ(AesCtr::Create(std::vector<uint8_t>(24), iv).status().message(),
            "AES-CTR: key must be 16 or 32 bytes, got 24");
  EXPECT_EQ(AesCtr::Create(std::vector<uint8_t>(16), std::vector<uint8_t>(8)).status().message(),
            "AES-CTR: IV must be 16 bytes, got 8");
  EXPECT_FALSE(AesBlock::Create(std::vector<uint8_t>(7)).ok());
}

TEST(SymmetricTest, Sha256KnownAnswer) {
  EXPECT_EQ(HexEncode(Sha256(Bytes("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// RFC 4231 test case 2, with the message split across parts.
TEST(SymmetricTest, HmacSha256Rfc4231) {
  auto key = Bytes("Jefe");
  auto a = Bytes("what do ya want ");
  auto b = Bytes("for nothing?");
  EXPECT_EQ(HexEncode(HmacSha256(key, {a, b})),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(SymmetricTest, ConstantTimeEqual) {
  EXPECT_TRUE(ConstantTimeEqual(Bytes("abc"), Bytes("abc")));
  EXPECT_FALSE(ConstantTimeEqual(Bytes("abc"), Bytes("abd")));
  EXPECT_FALSE(ConstantTimeEqual(Bytes("abc"), Bytes("ab")));
}

}  // namespace
}  // namespace p2p
