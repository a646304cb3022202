#include "core/crypto/keccak.h"

#include <openssl/evp.h>

#include <array>
#include <string>
#include <vector>

#include "core/hex.h"
#include "core/rng.h"
#include "gtest/gtest.h"

namespace p2p {
namespace {

std::string Hex(const std::array<uint8_t, 32>& d) { return HexEncode(d); }

// Keccak-256 known answers.
//  - "", 0xcc, 33 bytes, 134..137 bytes (around the 136-byte rate): the
//    Keccak team's KAT for the round-3 submission (ShortMsgKAT_256,
//    KeccakKAT-3.zip), as listed in pycryptodome's test_SHA3_256.py; the
//    message bytes of the 135/136/137-byte entries are also in Tor's
//    src/test/test_crypto.c.
//  - "abc": go-ethereum crypto_test.go TestKeccak256Hash.
//  - the two NIST-style strings and one million 'a': the same pycryptodome
//    list (di-mgt.com.au vectors run through Keccak).
struct Kat {
  const char* msg_hex;
  const char* digest;
};

const Kat kKats[] = {
    {"", "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
    {"cc", "eead6dbfc7340a56caedc044696a168870549a6a7f6f56961e84a54bd9970b8a"},
    {"616263", "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
    // 135 bytes: rate - 1, so padding bytes 0x01 and 0x80 share one byte.
    {"b771d5cef5d1a41a93d15643d7181d2a2ef0a8e84d91812f20ed21f147bef732bf3a60ef4067c3734b85bc8cd4"
     "71780f10dc9e8291b58339a677b960218f71e793f2797aea349406512829065d37bb55ea796fa4f56fd8896b49"
     "b2cd19b43215ad967c712b24e5032d065232e02c127409d2ed4146b9d75d763d52db98d949d3b0fed6a8052fbb",
     "bd6f5492582a7c1b116304de28314df9fffe95b0da11af52fe9440a717a34859"},
    // Exactly 136 bytes: one full block, then a block of pure padding.
    {"b32d95b0b9aad2a8816de6d06d1f86008505bd8c14124f6e9a163b5a2ade55f835d0ec3880ef50700d3b25e42c"
     "c0af050ccd1be5e555b23087e04d7bf9813622780c7313a1954f8740b6ee2d3f71f768dd417f520482bd3a08d4"
     "f222b4ee9dbd015447b33507dd50f3ab4247c5de9a8abd62a8decea01e3b87c8b927f5b08beb37674c6f8e380c"
     "04",
     "e717a7769448abbe5fef8187954a88ac56ded1d22e63940ab80d029585a21921"},
    // 137 bytes: rate + 1.
    {"04410e31082a47584b406f051398a6abe74e4da59bb6f85e6b49e8a1f7f2ca00dfba5462c2cd2bfde8b64fb21d"
     "70c083f11318b56a52d03b81cac5eec29eb31bd0078b6156786da3d6d8c33098c5c47bb67ac64db14165af65b4"
     "4544d806dde5f487d5373c7f9792c299e9686b7e5821e7c8e2458315b996b5677d926dac57b3f22da873c60101"
     "6a0d",
     "a95d50b50b4545f0947441df74a1e9d74622eb3baa49c1bbfc3a0cce6619c1aa"},
};

TEST(Keccak256Test, KnownAnswers) {
  for (const Kat& k : kKats) {
    std::vector<uint8_t> msg = HexOrDie(k.msg_hex);
    EXPECT_EQ(Hex(Keccak256Hash(msg)), k.digest) << "message of " << msg.size() << " bytes";
  }
}

TEST(Keccak256Test, KnownAnswerStrings) {
  EXPECT_EQ(Hex(Keccak256Hash("")), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(Hex(Keccak256Hash("abc")), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  EXPECT_EQ(Hex(Keccak256Hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "45d3b367a6904e6e8d502ee04999a7c27647f91fa845d456525fd352ae3d7371");
  EXPECT_EQ(Hex(Keccak256Hash("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmn"
                              "opjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")),
            "f519747ed599024f3882238e5ab43960132572b7345fbeb9a90769dafd21ad67");
}

TEST(Keccak256Test, OneMillionA) {
  std::string a(1000000, 'a');
  EXPECT_EQ(Hex(Keccak256Hash(a)), "fadae6b49f129bbb812be8407b7b2894f34aecf6dbd1f9b0f0c7e9853098fc96");
  // The same, fed in uneven pieces.
  Keccak256 h;
  size_t fed = 0;
  for (size_t step = 1; fed < a.size(); step = step * 7 % 1000 + 1) {
    size_t n = std::min(step, a.size() - fed);
    h.Update(absl::string_view(a).substr(fed, n));
    fed += n;
  }
  EXPECT_EQ(Hex(h.Digest()), "fadae6b49f129bbb812be8407b7b2894f34aecf6dbd1f9b0f0c7e9853098fc96");
}

// EIP-8 "Discovery" test packets: hash(32) || sig(65) || type || data, where
// hash = keccak256(sig || type || data). The hashed part spans one block
// (ping v4, 111 bytes), two blocks (ping v555, 252 bytes) and four
// (neighbours, 429 bytes).
TEST(Keccak256Test, Eip8DiscoveryPacketHashes) {
  const char* kPackets[] = {
      // ping packet with version 4, additional list elements
      "e9614ccfd9fc3e74360018522d30e1419a143407ffcce748de3e22116b7e8dc92ff74788c0b6663a"
      "aa3d67d641936511c8f8d6ad8698b820a7cf9e1be7155e9a241f556658c55428ec0563514365799a"
      "4be2be5a685a80971ddcfa80cb422cdd0101ec04cb847f000001820cfa8215a8d790000000000000"
      "000000000000000000018208ae820d058443b9a3550102",
      // ping packet with version 555, additional list elements and random data
      "577be4349c4dd26768081f58de4c6f375a7a22f3f7adda654d1428637412c3d7fe917cadc56d4e5e"
      "7ffae1dbe3efffb9849feb71b262de37977e7c7a44e677295680e9e38ab26bee2fcbae207fba3ff3"
      "d74069a50b902a82c9903ed37cc993c50001f83e82022bd79020010db83c4d001500000000abcdef"
      "12820cfa8215a8d79020010db885a308d313198a2e037073488208ae82823a8443b9a355c5010203"
      "040531b9019afde696e582a78fa8d95ea13ce3297d4afb8ba6433e4154caa5ac6431af1b80ba7602"
      "3fa4090c408f6b4bc3701562c031041d4702971d102c9ab7fa5eed4cd6bab8f7af956f7d565ee191"
      "7084a95398b6a21eac920fe3dd1345ec0a7ef39367ee69ddf092cbfe5b93e5e568ebc491983c09c7"
      "6d922dc3",
      // neighbours packet with additional list elements and random data
      "c679fc8fe0b8b12f06577f2e802d34f6fa257e6137a995f6f4cbfc9ee50ed3710faf6e66f932c4c8"
      "d81d64343f429651328758b47d3dbc02c4042f0fff6946a50f4a49037a72bb550f3a7872363a83e1"
      "b9ee6469856c24eb4ef80b7535bcf99c0004f9015bf90150f84d846321163782115c82115db84031"
      "55e1427f85f10a5c9a7755877748041af1bcd8d474ec065eb33df57a97babf54bfd2103575fa8291"
      "15d224c523596b401065a97f74010610fce76382c0bf32f84984010203040101b840312c55512422"
      "cf9b8a4097e9a6ad79402e87a15ae909a4bfefa22398f03d20951933beea1e4dfa6f968212385e82"
      "9f04c2d314fc2d4e255e0d3bc08792b069dbf8599020010db83c4d001500000000abcdef12820d05"
      "820d05b84038643200b172dcfef857492156971f0e6aa2c538d8b74010f8e140811d53b98c765dd2"
      "d96126051913f44582e8c199ad7c6d6819e9a56483f637feaac9448aacf8599020010db885a308d3"
      "13198a2e037073488203e78203e8b8408dcab8618c3253b558d459da53bd8fa68935a719aff8b811"
      "197101a4b2b47dd2d47295286fc00cc081bb542d760717d1bdd6bec2c37cd72eca367d6dd3b9df73"
      "8443b9a355010203b525a138aa34383fec3d2719a0",
  };
  const size_t kHashedBytes[] = {111, 252, 429};
  for (size_t i = 0; i < 3; ++i) {
    std::vector<uint8_t> packet = HexOrDie(kPackets[i]);
    ASSERT_EQ(packet.size() - 32, kHashedBytes[i]);
    std::array<uint8_t, 32> want;
    std::copy(packet.begin(), packet.begin() + 32, want.begin());
    EXPECT_EQ(Keccak256Hash(absl::MakeConstSpan(packet).subspan(32)), want) << "packet " << i;
  }
}

std::vector<uint8_t> RandomBytes(Rng& rng, size_t n) {
  std::vector<uint8_t> v(n);
  rng.Fill(absl::MakeSpan(v));
  return v;
}

std::array<uint8_t, 32> OpenSslSha3_256(const std::vector<uint8_t>& data) {
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  EXPECT_EQ(EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha3_256(), nullptr), 1);
  EXPECT_EQ(len, 32u);
  return out;
}

// Keccak-256 and SHA3-256 share the permutation and the sponge; only the
// padding byte differs. Checking our sponge with SHA3 padding against
// OpenSSL at every length up to 4.5 blocks covers the permutation and every
// block-boundary case of absorption and padding.
TEST(Keccak256Test, SpongeMatchesOpenSslSha3AtEveryLength) {
  Rng rng(1);
  for (size_t n = 0; n <= 4 * Keccak256::kRateBytes + 68; ++n) {
    std::vector<uint8_t> msg = RandomBytes(rng, n);
    ASSERT_EQ(Sha3_256ForTesting(msg), OpenSslSha3_256(msg)) << "length " << n;
  }
}

TEST(Keccak256Test, Sha3KnownAnswer) {
  // FIPS 202 SHA3-256(""), to pin the test hook itself.
  EXPECT_EQ(Hex(Sha3_256ForTesting({})),
            "a7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a");
}

TEST(Keccak256Test, IncrementalEqualsOneShotAtEverySplit) {
  Rng rng(2);
  std::vector<uint8_t> msg = RandomBytes(rng, 3 * Keccak256::kRateBytes + 5);
  const std::array<uint8_t, 32> want = Keccak256Hash(msg);
  absl::Span<const uint8_t> all(msg);
  for (size_t split = 0; split <= msg.size(); ++split) {
    Keccak256 h;
    h.Update(all.subspan(0, split));
    h.Update(all.subspan(split));
    ASSERT_EQ(h.Digest(), want) << "split at " << split;
  }
}

TEST(Keccak256Test, IncrementalRandomChunks) {
  Rng rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<uint8_t> msg = RandomBytes(rng, rng.Uniform(1000));
    Keccak256 h;
    size_t pos = 0;
    while (pos < msg.size()) {
      size_t n = std::min<size_t>(rng.Uniform(300), msg.size() - pos);
      h.Update(absl::MakeConstSpan(msg).subspan(pos, n));
      pos += n;
    }
    ASSERT_EQ(h.Digest(), Keccak256Hash(msg)) << "trial " << trial;
  }
}

TEST(Keccak256Test, DigestIsNonDestructive) {
  Keccak256 h;
  h.Update("ab");
  const std::array<uint8_t, 32> first = h.Digest();
  EXPECT_EQ(h.Digest(), first);  // Twice in a row: same answer.
  EXPECT_EQ(first, Keccak256Hash("ab"));
  h.Update("c");  // Absorbing continues after a digest.
  EXPECT_EQ(Hex(h.Digest()), "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  EXPECT_EQ(h.Digest(), Keccak256Hash("abc"));

  // Interleaved digests across block boundaries, as the RLPx MACs do.
  Rng rng(4);
  std::vector<uint8_t> msg = RandomBytes(rng, 700);
  Keccak256 mac;
  for (size_t pos = 0; pos < msg.size(); pos += 50) {
    mac.Update(absl::MakeConstSpan(msg).subspan(pos, 50));
    ASSERT_EQ(mac.Digest(), Keccak256Hash(absl::MakeConstSpan(msg).subspan(0, pos + 50)));
  }
}

TEST(Keccak256Test, CopyForksState) {
  Keccak256 a;
  a.Update("abc");
  Keccak256 b = a;
  b.Update("def");
  EXPECT_EQ(a.Digest(), Keccak256Hash("abc"));
  EXPECT_EQ(b.Digest(), Keccak256Hash("abcdef"));
}

TEST(Keccak256Test, Reset) {
  Keccak256 h;
  h.Update(std::string(200, 'x'));
  h.Reset();
  EXPECT_EQ(Hex(h.Digest()), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  h.Update("abc");
  EXPECT_EQ(h.Digest(), Keccak256Hash("abc"));
}

TEST(Keccak256Test, EmptyUpdatesAreNoOps) {
  Keccak256 h;
  h.Update(absl::Span<const uint8_t>());
  h.Update("a");
  h.Update(absl::string_view());
  h.Update("bc");
  h.Update(absl::Span<const uint8_t>());
  EXPECT_EQ(h.Digest(), Keccak256Hash("abc"));
}

TEST(Keccak256Test, StringAndSpanOverloadsAgree) {
  const std::string s = "The quick brown fox jumps over the lazy dog";
  std::vector<uint8_t> v(s.begin(), s.end());
  EXPECT_EQ(Keccak256Hash(s), Keccak256Hash(v));
  EXPECT_EQ(Hex(Keccak256Hash(s)), "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
}

}  // namespace
}  // namespace p2p
