#include "core/discover/enr.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "core/crypto/keccak.h"
#include "core/crypto/secp256k1.h"
#include "core/hex.h"
#include "core/net/ip.h"
#include "core/node.h"
#include "core/rlp/rlp.h"
#include "gtest/gtest.h"

namespace p2p {
namespace enr {
namespace {

// EIP-778 "Test Vectors": the example record and its key.
constexpr char kEipKey[] = "b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291";
constexpr char kEipText[] =
    "enr:-"
    "IS4QHCYrYZbAKWCBRlAy5zzaDZXJBGkcnh4MHcBFZntXNFrdvJjX04jRzjzCBOonrkTfj499SZuOh8R33Ls8RRcy5w"
    "BgmlkgnY0gmlwhH8AAAGJc2VjcDI1NmsxoQPKY0yuDUmstAHYpMa2_oxVtw0RW_QAdpzBQA8yWM0xOIN1ZHCCdl8";
constexpr char kEipRecordHex[] =
    "f884b8407098ad865b00a582051940cb9cf36836572411a47278783077011599ed5cd16b76f2635f"
    "4e234738f30813a89eb9137e3e3df5266e3a1f11df72ecf1145ccb9c01826964827634826970847f"
    "00000189736563703235366b31a103ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1"
    "400f3258cd31388375647082765f";
constexpr char kEipNodeId[] = "a448f24c6d18e575453db13171562b71999873db5b286df957af199ec94617f7";
constexpr char kEipPubCompressed[] =
    "03ca634cae0d49acb401d8a4c6b6fe8c55b70d115bf400769cc1400f3258cd3138";

PrivateKey Key(absl::string_view hex) {
  absl::StatusOr<PrivateKey> k = PrivateKey::FromHex(hex);
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

std::vector<uint8_t> RlpString(absl::string_view s) {
  rlp::Encoder e;
  e.AddString(s);
  return e.Finish();
}
std::vector<uint8_t> RlpBytes(const std::vector<uint8_t>& b) {
  rlp::Encoder e;
  e.AddBytes(b);
  return e.Finish();
}
std::vector<uint8_t> RlpUint(uint64_t v) {
  rlp::Encoder e;
  e.AddUint(v);
  return e.Finish();
}

// Key/value pairs in the order given (possibly unsorted or repeated), with
// raw RLP values.
using RawPairs = std::vector<std::pair<std::string, std::vector<uint8_t>>>;

// [seq, k, v, ...] encoded.
std::vector<uint8_t> Content(uint64_t seq, const RawPairs& pairs) {
  rlp::Encoder e;
  e.BeginList();
  e.AddUint(seq);
  for (const auto& [k, v] : pairs) {
    e.AddString(k);
    e.AddRaw(v);
  }
  e.EndList();
  return e.Finish();
}

// [sig, seq, k, v, ...] encoded with the given signature bytes.
std::vector<uint8_t> Build(const std::vector<uint8_t>& sig, uint64_t seq, const RawPairs& pairs) {
  rlp::Encoder e;
  e.BeginList();
  e.AddBytes(sig);
  e.AddUint(seq);
  for (const auto& [k, v] : pairs) {
    e.AddString(k);
    e.AddRaw(v);
  }
  e.EndList();
  return e.Finish();
}

// The v4 signature (r || s) of exactly these pairs, in this order.
std::vector<uint8_t> SignPairs(const PrivateKey& key, uint64_t seq, const RawPairs& pairs) {
  std::array<uint8_t, 32> hash = Keccak256Hash(absl::Span<const uint8_t>(Content(seq, pairs)));
  auto sig = SignRecoverable(key, hash);
  EXPECT_TRUE(sig.ok());
  return std::vector<uint8_t>(sig->begin(), sig->begin() + 64);
}

// A correctly signed record of these pairs in this order.
std::vector<uint8_t> BuildSigned(const PrivateKey& key, uint64_t seq, const RawPairs& pairs) {
  return Build(SignPairs(key, seq, pairs), seq, pairs);
}

// The usual v4 pairs for `key`, sorted.
RawPairs V4Pairs(const PrivateKey& key) {
  std::array<uint8_t, 33> c = DerivePublicKey(key).SerializeCompressed33();
  return {{"id", RlpString("v4")},
          {"ip", RlpBytes({127, 0, 0, 1})},
          {"secp256k1", RlpBytes(std::vector<uint8_t>(c.begin(), c.end()))},
          {"udp", RlpUint(30303)}};
}

void ExpectInvalid(const absl::StatusOr<Record>& r, absl::string_view want) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_TRUE(absl::StrContains(r.status().message(), want))
      << "got \"" << r.status().message() << "\", want it to contain \"" << want << "\"";
}

// ---- Base64url ----

TEST(Base64UrlTest, Rfc4648VectorsWithoutPadding) {
  auto enc = [](absl::string_view s) {
    return Base64UrlEncode(
        absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  };
  EXPECT_EQ(enc(""), "");
  EXPECT_EQ(enc("f"), "Zg");
  EXPECT_EQ(enc("fo"), "Zm8");
  EXPECT_EQ(enc("foo"), "Zm9v");
  EXPECT_EQ(enc("foob"), "Zm9vYg");
  EXPECT_EQ(enc("fooba"), "Zm9vYmE");
  EXPECT_EQ(enc("foobar"), "Zm9vYmFy");
  for (absl::string_view s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto dec = Base64UrlDecode(enc(s));
    ASSERT_TRUE(dec.ok()) << dec.status();
    EXPECT_EQ(std::string(dec->begin(), dec->end()), s);
  }
}

TEST(Base64UrlTest, UsesUrlAlphabet) {
  // 0xfb 0xff 0xbf is "+/+/" in standard base64.
  EXPECT_EQ(Base64UrlEncode(std::vector<uint8_t>{0xfb, 0xff, 0xbf}), "-_-_");
  auto dec = Base64UrlDecode("-_-_");
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ(*dec, (std::vector<uint8_t>{0xfb, 0xff, 0xbf}));
}

TEST(Base64UrlTest, RejectsNonCanonicalText) {
  auto expect = [](absl::string_view text, absl::string_view want) {
    auto r = Base64UrlDecode(text);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), want) << text;
  };
  expect("Zg==", "invalid base64url: illegal character 0x3d at offset 2");
  expect("Zm9v+A", "invalid base64url: illegal character 0x2b at offset 4");
  expect("Zm9v/A", "invalid base64url: illegal character 0x2f at offset 4");
  expect("Zm 9", "invalid base64url: illegal character 0x20 at offset 2");
  expect("Z", "invalid base64url: length 1 is truncated (4n+1)");
  expect("Zm9vY", "invalid base64url: length 5 is truncated (4n+1)");
  // "Zh" carries 12 bits, of which the last 4 are not zero.
  expect("Zh", "invalid base64url: non-zero trailing bits");
  expect("Zm9", "invalid base64url: non-zero trailing bits");
}

// ---- The EIP-778 example ----

TEST(EnrTest, Eip778ExampleDecodes) {
  auto r = ParseText(kEipText);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->is_signed());
  EXPECT_EQ(r->seq(), 1u);
  auto enc = r->Encode();
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(HexEncode(*enc), kEipRecordHex);
  auto text = r->ToText();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, kEipText);
  EXPECT_EQ(HexEncode(r->signature()),
            "7098ad865b00a582051940cb9cf36836572411a47278783077011599ed5cd16b76f2635f"
            "4e234738f30813a89eb9137e3e3df5266e3a1f11df72ecf1145ccb9c");

  // Exactly these keys, in this order.
  std::vector<std::string> keys;
  for (const auto& [k, v] : r->pairs()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "ip", "secp256k1", "udp"}));

  EXPECT_EQ(*r->IdentityScheme(), "v4");
  EXPECT_EQ(*r->Ip(), IpAddress::V4(127, 0, 0, 1));
  EXPECT_EQ(*r->Udp(), 30303);
  EXPECT_EQ(r->Tcp().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(r->Tcp().status().message(), "missing ENR key \"tcp\"");
  EXPECT_EQ(r->Ip6().status().code(), absl::StatusCode::kNotFound);
  auto pub = r->Secp256k1();
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(HexEncode(pub->SerializeCompressed33()), kEipPubCompressed);
  EXPECT_EQ(*pub, DerivePublicKey(Key(kEipKey)));

  auto id = r->VerifiedNodeId();
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ToString(), kEipNodeId);

  auto n = r->ToNode();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->id.ToString(), kEipNodeId);
  EXPECT_EQ(n->pubkey, *pub);
  EXPECT_EQ(n->ip, IpAddress::V4(127, 0, 0, 1));
  EXPECT_EQ(n->udp, 30303);
  EXPECT_EQ(n->tcp, 0);

  // The binary form decodes to the same record.
  auto r2 = DecodeRecord(HexOrDie(kEipRecordHex));
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(*r2, *r);
}

TEST(EnrTest, SigningTheEip778ExampleReproducesItExactly) {
  // Signatures are RFC 6979 (deterministic), so signing the same content
  // with the same key gives the published bytes, signature included.
  Record r;
  r.SetSeq(1);
  r.SetIp(IpAddress::V4(127, 0, 0, 1));
  r.SetUdp(30303);
  ASSERT_TRUE(r.SignV4(Key(kEipKey)).ok());
  auto text = r.ToText();
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, kEipText);
  auto id = r.VerifiedNodeId();
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(id->ToString(), kEipNodeId);
}

// ---- Our own records ----

TEST(EnrTest, SignAndDecodeRoundTrip) {
  PrivateKey key = Key("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
  Record r;
  r.SetSeq(42);
  r.SetIp(*IpAddress::Parse("2001:db8::7"));
  r.SetIp(IpAddress::V4(10, 1, 2, 3));
  r.SetTcp(30303);
  r.SetUdp(30301);
  r.SetTcp6(40404);
  // An unknown key with a list value survives untouched.
  std::vector<uint8_t> custom = HexOrDie("c3010203");
  ASSERT_TRUE(r.SetRaw("zz", custom).ok());
  EXPECT_FALSE(r.is_signed());
  EXPECT_EQ(r.Encode().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.Encode().status().message(), "can't encode unsigned record");
  EXPECT_EQ(r.ToText().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.VerifiedNodeId().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(r.ToNode().status().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE(r.SignV4(key).ok());
  EXPECT_TRUE(r.is_signed());
  EXPECT_EQ(r.signature().size(), 64u);
  auto enc = r.Encode();
  ASSERT_TRUE(enc.ok());
  auto d = DecodeRecord(*enc);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, r);
  EXPECT_EQ(d->seq(), 42u);
  EXPECT_EQ(*d->GetRaw("zz"), custom);
  EXPECT_EQ(*d->Ip6(), *IpAddress::Parse("2001:db8::7"));
  EXPECT_EQ(*d->Tcp6(), 40404);
  EXPECT_EQ(d->Udp6().status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*d->VerifiedNodeId(), NodeId::FromPublicKey(DerivePublicKey(key)));

  auto text = d->ToText();
  ASSERT_TRUE(text.ok());
  auto t = ParseText(*text);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(*t, r);

  // ToNode prefers "ip" with "tcp"/"udp".
  auto n = d->ToNode();
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n,
            Node::FromPublicKey(DerivePublicKey(key), IpAddress::V4(10, 1, 2, 3), 30303, 30301));

  // Without "ip": "ip6" with "tcp6", and "udp6" falling back to "udp".
  Record r6 = r;
  r6.Delete("ip");
  EXPECT_FALSE(r6.is_signed());
  ASSERT_TRUE(r6.SignV4(key).ok());
  auto n6 = r6.ToNode();
  ASSERT_TRUE(n6.ok()) << n6.status();
  EXPECT_EQ(*n6, Node::FromPublicKey(DerivePublicKey(key), *IpAddress::Parse("2001:db8::7"), 40404,
                                     30301));

  // No IP at all: an incomplete node.
  Record none;
  ASSERT_TRUE(none.SignV4(key).ok());
  auto n0 = none.ToNode();
  ASSERT_TRUE(n0.ok());
  EXPECT_EQ(*n0, Node::FromPublicKey(DerivePublicKey(key), IpAddress(), 0, 0));
}

TEST(EnrTest, SettersInvalidateTheSignature) {
  auto r = ParseText(kEipText);
  ASSERT_TRUE(r.ok());
  Record changed = *r;
  changed.SetUdp(30304);
  EXPECT_FALSE(changed.is_signed());
  EXPECT_TRUE(changed.signature().empty());
  Record seq = *r;
  seq.SetSeq(2);
  EXPECT_FALSE(seq.is_signed());
  // Deleting an absent key changes nothing.
  Record same = *r;
  same.Delete("tcp");
  EXPECT_TRUE(same.is_signed());
  // Re-signing keeps the seq (callers bump it).
  ASSERT_TRUE(changed.SignV4(Key(kEipKey)).ok());
  EXPECT_EQ(changed.seq(), 1u);
  EXPECT_EQ(*changed.Udp(), 30304);
  EXPECT_NE(*changed.Encode(), *r->Encode());
}

TEST(EnrTest, SetRawRejectsIncompleteRlp) {
  Record r;
  absl::Status s = r.SetRaw("x", HexOrDie("8201"));
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.message(), "ENR key \"x\": rlp:")) << s;
  EXPECT_TRUE(r.pairs().empty());
  s = r.SetRaw("x", HexOrDie("0102"));  // Two items.
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
}

TEST(EnrTest, GettersRejectMalformedValues) {
  Record r;
  ASSERT_TRUE(r.SetRaw("ip", RlpBytes({1, 2, 3, 4, 5})).ok());
  ASSERT_TRUE(r.SetRaw("ip6", RlpBytes({1, 2, 3, 4})).ok());
  ASSERT_TRUE(r.SetRaw("udp", RlpUint(65536)).ok());
  ASSERT_TRUE(r.SetRaw("tcp", HexOrDie("c0")).ok());
  std::vector<uint8_t> off_curve(33, 0);
  off_curve[0] = 0x02;
  off_curve[32] = 0x05;  // x = 5 is no curve point's X.
  ASSERT_TRUE(r.SetRaw("secp256k1", RlpBytes(off_curve)).ok());
  ASSERT_TRUE(r.SetRaw("id", HexOrDie("c0")).ok());
  EXPECT_EQ(r.Ip().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(r.Ip().status().message(), "ENR key \"ip\": "));
  EXPECT_TRUE(absl::StartsWith(r.Ip6().status().message(), "ENR key \"ip6\": "));
  EXPECT_EQ(r.Udp().status().message(), "ENR key \"udp\": port 65536 out of range");
  EXPECT_TRUE(absl::StartsWith(r.Tcp().status().message(), "ENR key \"tcp\": rlp: "));
  EXPECT_TRUE(absl::StartsWith(r.Secp256k1().status().message(),
                               "ENR key \"secp256k1\": invalid public key"))
      << r.Secp256k1().status();
  EXPECT_TRUE(absl::StartsWith(r.IdentityScheme().status().message(), "ENR key \"id\": rlp: "));
  EXPECT_EQ(r.GetRaw("nope").status().message(), "missing ENR key \"nope\"");
}

// ---- Rejections ----

TEST(EnrDecodeTest, SizeLimitIsExactly300Bytes) {
  PrivateKey key = Key(kEipKey);
  // Pad with a "zz" value until the signed record is 300, then 301 bytes.
  auto with_pad = [&](size_t n) {
    RawPairs p = V4Pairs(key);
    p.push_back({"zz", RlpBytes(std::vector<uint8_t>(n, 0xaa))});
    return BuildSigned(key, 1, p);
  };
  size_t n = 0;
  while (with_pad(n).size() < 300) ++n;
  std::vector<uint8_t> at_limit = with_pad(n);
  ASSERT_EQ(at_limit.size(), 300u);
  EXPECT_TRUE(DecodeRecord(at_limit).ok()) << DecodeRecord(at_limit).status();
  std::vector<uint8_t> over = with_pad(n + 1);
  ASSERT_EQ(over.size(), 301u);
  auto r = DecodeRecord(over);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "record bigger than 300 bytes (301)");

  // SignV4 refuses to produce such a record and leaves it unsigned.
  Record big;
  big.SetSeq(1);
  big.SetIp(IpAddress::V4(127, 0, 0, 1));
  big.SetUdp(30303);
  ASSERT_TRUE(big.SetRaw("zz", RlpBytes(std::vector<uint8_t>(n + 1, 0xaa))).ok());
  absl::Status s = big.SignV4(key);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "record bigger than 300 bytes (301)");
  EXPECT_FALSE(big.is_signed());
  // One byte less fits.
  ASSERT_TRUE(big.SetRaw("zz", RlpBytes(std::vector<uint8_t>(n, 0xaa))).ok());
  ASSERT_TRUE(big.SignV4(key).ok());
  EXPECT_EQ(big.Encode()->size(), 300u);
}

TEST(EnrDecodeTest, RejectsOddShapes) {
  ExpectInvalid(DecodeRecord({}), "invalid record: rlp: ");
  ExpectInvalid(DecodeRecord(HexOrDie("8401020304")),
                "invalid record: rlp: expected input list at offset 0");
  ExpectInvalid(DecodeRecord(HexOrDie("c0")), "record contains less than two list elements");
  ExpectInvalid(DecodeRecord(HexOrDie("c180")), "record contains less than two list elements");
  // Signature is a list.
  ExpectInvalid(DecodeRecord(HexOrDie("c2c001")),
                "invalid record signature: rlp: expected input string or byte");
  // seq is a list; seq has a leading zero byte; seq does not fit 64 bits.
  ExpectInvalid(DecodeRecord(HexOrDie("c280c0")), "invalid record seq: rlp: expected input");
  ExpectInvalid(DecodeRecord(HexOrDie("c480820001")),
                "invalid record seq: rlp: non-canonical integer");
  ExpectInvalid(DecodeRecord(HexOrDie("cb8089010000000000000000")),
                "invalid record seq: rlp: input string too long for uint64");
  // A key that is a list.
  ExpectInvalid(DecodeRecord(HexOrDie("c48001c080")),
                "invalid record key: rlp: expected input string or byte");
  // A key without a value.
  ExpectInvalid(DecodeRecord(HexOrDie("c58001826964")), "record contains incomplete k/v pair");
  // Bytes after the list; the list cut short.
  std::vector<uint8_t> eip = HexOrDie(kEipRecordHex);
  std::vector<uint8_t> trailing = eip;
  trailing.push_back(0x00);
  ExpectInvalid(DecodeRecord(trailing), "invalid record: rlp: input contains more than one value");
  std::vector<uint8_t> cut(eip.begin(), eip.end() - 1);
  ExpectInvalid(DecodeRecord(cut), "invalid record: rlp: ");
}

TEST(EnrDecodeTest, RejectsUnsortedAndDuplicateKeys) {
  PrivateKey key = Key(kEipKey);
  RawPairs p = V4Pairs(key);  // id, ip, secp256k1, udp
  // Correctly signed, so only the order check can fail.
  RawPairs unsorted = {p[0], p[2], p[1], p[3]};
  ExpectInvalid(DecodeRecord(BuildSigned(key, 1, unsorted)),
                "record key/value pairs are not sorted by key (\"ip\" after \"secp256k1\")");
  RawPairs dup = {p[0], p[1], p[1], p[2], p[3]};
  ExpectInvalid(DecodeRecord(BuildSigned(key, 1, dup)), "record contains duplicate key \"ip\"");
  // Byte order, not length order: "udp" < "udp6" < "z".
  RawPairs ordered = p;
  ordered.push_back({"udp6", RlpUint(1)});
  ordered.push_back({"z", RlpUint(2)});
  EXPECT_TRUE(DecodeRecord(BuildSigned(key, 1, ordered)).ok());
  RawPairs misordered = p;
  misordered.push_back({"z", RlpUint(2)});
  misordered.push_back({"udp6", RlpUint(1)});
  ExpectInvalid(DecodeRecord(BuildSigned(key, 1, misordered)),
                "record key/value pairs are not sorted by key (\"udp6\" after \"z\")");
}

TEST(EnrDecodeTest, RejectsMissingOrUnknownScheme) {
  PrivateKey key = Key(kEipKey);
  RawPairs p = V4Pairs(key);
  RawPairs no_id = {p[1], p[2], p[3]};
  ExpectInvalid(DecodeRecord(BuildSigned(key, 1, no_id)), "missing ENR key \"id\"");
  RawPairs v5 = p;
  v5[0].second = RlpString("v5");
  ExpectInvalid(DecodeRecord(BuildSigned(key, 1, v5)), "unknown identity scheme \"v5\"");
  RawPairs bad_id = p;
  bad_id[0].second = HexOrDie("c0");
  ExpectInvalid(DecodeRecord(BuildSigned(key, 1, bad_id)), "ENR key \"id\": rlp: expected input");
}

TEST(EnrDecodeTest, RejectsMissingOrMalformedKey) {
  PrivateKey key = Key(kEipKey);
  RawPairs p = V4Pairs(key);
  RawPairs no_key = {p[0], p[1], p[3]};
  ExpectInvalid(DecodeRecord(BuildSigned(key, 1, no_key)), "missing ENR key \"secp256k1\"");
  RawPairs uncompressed = p;
  std::array<uint8_t, 64> xy = DerivePublicKey(key).bytes();
  uncompressed[2].second = RlpBytes(std::vector<uint8_t>(xy.begin(), xy.end()));
  ExpectInvalid(DecodeRecord(BuildSigned(key, 1, uncompressed)),
                "ENR key \"secp256k1\": invalid public key: 64 bytes (want 33)");
  RawPairs off_curve = p;
  std::vector<uint8_t> c(33, 0);
  c[0] = 0x02;
  c[32] = 0x05;  // x = 5: 125 + 7 = 132 is not a square mod p.
  off_curve[2].second = RlpBytes(c);
  ExpectInvalid(DecodeRecord(BuildSigned(key, 1, off_curve)),
                "ENR key \"secp256k1\": invalid public key");
}

TEST(EnrDecodeTest, RejectsBadSignatures) {
  PrivateKey key = Key(kEipKey);
  RawPairs p = V4Pairs(key);
  const char kNoVerify[] =
      "invalid signature on node record: does not verify under its secp256k1 key";

  // One flipped bit in the published signature (it starts at byte 4).
  std::vector<uint8_t> eip = HexOrDie(kEipRecordHex);
  std::vector<uint8_t> flipped = eip;
  flipped[4 + 10] ^= 0x01;
  ExpectInvalid(DecodeRecord(flipped), kNoVerify);

  // The published signature over different content (udp 30304).
  auto r = DecodeRecord(eip);
  ASSERT_TRUE(r.ok());
  RawPairs moved = p;
  moved[3].second = RlpUint(30304);
  ExpectInvalid(DecodeRecord(Build(r->signature(), 1, moved)), kNoVerify);
  // ... or a different seq.
  ExpectInvalid(DecodeRecord(Build(r->signature(), 2, p)), kNoVerify);

  // Signed by another key than the one in the record.
  PrivateKey other = Key("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8");
  ExpectInvalid(DecodeRecord(Build(SignPairs(other, 1, p), 1, p)), kNoVerify);

  // Wrong lengths: the 65-byte recoverable form, and none at all.
  std::array<uint8_t, 32> hash = Keccak256Hash(absl::Span<const uint8_t>(Content(1, p)));
  auto sig65 = SignRecoverable(key, hash);
  ASSERT_TRUE(sig65.ok());
  ExpectInvalid(DecodeRecord(Build(std::vector<uint8_t>(sig65->begin(), sig65->end()), 1, p)),
                "invalid signature on node record: 65 bytes (want 64)");
  ExpectInvalid(DecodeRecord(Build({}, 1, p)),
                "invalid signature on node record: 0 bytes (want 64)");

  // The high-s twin (r, n - s) of a valid signature verifies mathematically
  // but is malleable; go-ethereum (and we) reject it.
  std::vector<uint8_t> good = SignPairs(key, 1, p);
  ASSERT_TRUE(DecodeRecord(Build(good, 1, p)).ok());
  std::vector<uint8_t> n =
      HexOrDie("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
  std::vector<uint8_t> twin = good;
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int d = n[i] - good[32 + i] - borrow;
    borrow = d < 0 ? 1 : 0;
    twin[32 + i] = static_cast<uint8_t>(d + 256 * borrow);
  }
  ASSERT_EQ(borrow, 0);
  ASSERT_NE(twin, good);
  ExpectInvalid(DecodeRecord(Build(twin, 1, p)), kNoVerify);
}

TEST(EnrTextTest, RejectsBadText) {
  ExpectInvalid(ParseText("enode://abc"), "missing 'enr:' prefix");
  ExpectInvalid(ParseText("ENR:-IS4QHCY"), "missing 'enr:' prefix");
  ExpectInvalid(ParseText(""), "missing 'enr:' prefix");
  ExpectInvalid(ParseText("enr:"), "invalid record: rlp: ");
  std::string text = kEipText;
  ASSERT_EQ(text.size(), 4u + 179u);  // 134 bytes of RLP.
  // Two characters short: a length no base64 text can have.
  ExpectInvalid(ParseText(text.substr(0, text.size() - 2)),
                "invalid base64url: length 177 is truncated (4n+1)");
  // Three short: whole bytes, but the RLP list is cut.
  ExpectInvalid(ParseText(text.substr(0, text.size() - 3)), "invalid record: rlp: ");
  // Padding is not part of the text form.
  ExpectInvalid(ParseText(text + "="), "invalid base64url: illegal character 0x3d");
  // Standard base64's alphabet is not base64url's.
  std::string std_alphabet = text;
  std::replace(std_alphabet.begin(), std_alphabet.end(), '-', '+');
  ExpectInvalid(ParseText(std_alphabet), "invalid base64url: illegal character 0x2b at offset 0");
}

}  // namespace
}  // namespace enr
}  // namespace p2p
