#include "core/rlp/rlp.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/hex.h"
#include "core/rng.h"
#include "gtest/gtest.h"

namespace p2p {
namespace rlp {
namespace {

std::string Hex(absl::Span<const uint8_t> b) { return HexEncode(b); }

std::vector<uint8_t> Repeat(const std::string& hex, int n) {
  std::string all;
  for (int i = 0; i < n; ++i) all += hex;
  return HexOrDie(all);
}

// Re-encodes a decoded tree item by item.
void Reencode(const Item& item, Encoder& e) {
  if (!item.is_list()) {
    e.AddBytes(item.payload);
    return;
  }
  e.BeginList();
  ListReader r(item);
  while (!r.AtEnd()) {
    absl::StatusOr<Item> child = r.Next();
    ASSERT_TRUE(child.ok()) << child.status();
    Reencode(*child, e);
  }
  e.EndList();
}

// Decodes `hex`, checks that re-encoding gives the same bytes.
Item DecodeRoundTrip(const std::vector<uint8_t>& bytes) {
  absl::StatusOr<Item> item = DecodeExact(bytes);
  EXPECT_TRUE(item.ok()) << Hex(bytes) << ": " << item.status();
  if (!item.ok()) return Item();
  EXPECT_EQ(item->encoded.data(), bytes.data());
  EXPECT_EQ(item->encoded.size(), bytes.size());
  Encoder e;
  Reencode(*item, e);
  EXPECT_EQ(Hex(e.Finish()), Hex(bytes));
  return *item;
}

std::string DecodeError(const std::string& hex) {
  std::vector<uint8_t> bytes = HexOrDie(hex);
  absl::StatusOr<Item> item = DecodeExact(bytes);
  if (item.ok()) return "decoded OK";
  EXPECT_EQ(item.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(item.status().message());
}

// ---- Encoder: published vectors (RLP spec, go-ethereum encode_test.go) ----

std::string EncUint(uint64_t v) {
  Encoder e;
  e.AddUint(v);
  return Hex(e.Finish());
}

std::string EncString(absl::string_view s) {
  Encoder e;
  e.AddString(s);
  return Hex(e.Finish());
}

std::string EncBytes(const std::string& hex) {
  Encoder e;
  e.AddBytes(HexOrDie(hex));
  return Hex(e.Finish());
}

std::string EncUintBytes(const std::string& hex) {
  Encoder e;
  e.AddUintBytes(HexOrDie(hex));
  return Hex(e.Finish());
}

TEST(RlpEncodeTest, Integers) {
  EXPECT_EQ(EncUint(0), "80");
  EXPECT_EQ(EncUint(1), "01");
  EXPECT_EQ(EncUint(0x0f), "0f");
  EXPECT_EQ(EncUint(127), "7f");
  EXPECT_EQ(EncUint(128), "8180");
  EXPECT_EQ(EncUint(256), "820100");
  EXPECT_EQ(EncUint(1024), "820400");
  EXPECT_EQ(EncUint(0xffffff), "83ffffff");
  EXPECT_EQ(EncUint(0xffffffff), "84ffffffff");
  EXPECT_EQ(EncUint(0xffffffffffULL), "85ffffffffff");
  EXPECT_EQ(EncUint(0xffffffffffffULL), "86ffffffffffff");
  EXPECT_EQ(EncUint(0xffffffffffffffULL), "87ffffffffffffff");
  EXPECT_EQ(EncUint(0xffffffffffffffffULL), "88ffffffffffffffff");
}

TEST(RlpEncodeTest, BigIntegers) {
  EXPECT_EQ(EncUintBytes(""), "80");
  EXPECT_EQ(EncUintBytes("00"), "80");
  EXPECT_EQ(EncUintBytes("0000000000000000000000000000000000000000000000000000000000000000"), "80");
  EXPECT_EQ(EncUintBytes("01"), "01");
  EXPECT_EQ(EncUintBytes("007f"), "7f");
  EXPECT_EQ(EncUintBytes("0080"), "8180");
  EXPECT_EQ(EncUintBytes("00000400"), "820400");
  EXPECT_EQ(EncUintBytes("102030405060708090a0b0c0d0e0f2"), "8f102030405060708090a0b0c0d0e0f2");
  EXPECT_EQ(EncUintBytes("0100020003000400050006000700080009000a000b000c000d000e01"),
            "9c0100020003000400050006000700080009000a000b000c000d000e01");
  EXPECT_EQ(EncUintBytes("010000000000000000000000000000000000000000000000000000000000000000"),
            "a1010000000000000000000000000000000000000000000000000000000000000000");
}

TEST(RlpEncodeTest, Strings) {
  EXPECT_EQ(EncString(""), "80");
  EXPECT_EQ(EncString("dog"), "83646f67");
  EXPECT_EQ(EncString("\x7e"), "7e");
  EXPECT_EQ(EncString("\x7f"), "7f");
  EXPECT_EQ(EncString("\x80"), "8180");
  EXPECT_EQ(EncString(absl::string_view("\0", 1)), "00");
  EXPECT_EQ(EncBytes(""), "80");
  EXPECT_EQ(EncBytes("7e"), "7e");
  EXPECT_EQ(EncBytes("80"), "8180");
  EXPECT_EQ(EncBytes("010203"), "83010203");
  // 55 bytes: the longest short form.
  EXPECT_EQ(EncString("Lorem ipsum dolor sit amet, consectetur adipisicing eli"),
            "b74c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206"
            "164697069736963696e6720656c69");
  // 56 bytes: the shortest long form.
  EXPECT_EQ(EncString("Lorem ipsum dolor sit amet, consectetur adipisicing elit"),
            "b8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e736563746574757220"
            "6164697069736963696e6720656c6974");
  // 1024 bytes: two length bytes.
  std::string kb(1024, 'x');
  EXPECT_EQ(EncString(kb), "b90400" + Hex(Repeat("78", 1024)));
  // 65536 bytes: three length bytes.
  std::string big(65536, '\xab');
  EXPECT_EQ(EncString(big).substr(0, 8), "ba010000");
}

TEST(RlpEncodeTest, Lists) {
  Encoder e;
  e.BeginList();
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "c0");

  e.BeginList();
  e.AddString("cat");
  e.AddString("dog");
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "c88363617483646f67");

  e.BeginList();
  for (int i : {1, 2, 3}) e.AddUint(i);
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "c3010203");

  // The set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ].
  e.BeginList();
  e.BeginList();
  e.EndList();
  e.BeginList();
  e.BeginList();
  e.EndList();
  e.EndList();
  e.BeginList();
  e.BeginList();
  e.EndList();
  e.BeginList();
  e.BeginList();
  e.EndList();
  e.EndList();
  e.EndList();
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "c7c0c1c0c3c0c1c0");

  // [1, 0xffffff, [[4, 5, 5]], "abc"]
  e.BeginList();
  e.AddUint(1);
  e.AddUint(0xffffff);
  e.BeginList();
  e.BeginList();
  e.AddUint(4);
  e.AddUint(5);
  e.AddUint(5);
  e.EndList();
  e.EndList();
  e.AddString("abc");
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "ce0183ffffffc4c304050583616263");

  // Structs: [0, ""], [3, "foo"], recursive [5, [4, [3, []]]].
  e.BeginList();
  e.AddUint(0);
  e.AddString("");
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "c28080");
  e.BeginList();
  e.AddUint(3);
  e.AddString("foo");
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "c50383666f6f");
  e.BeginList();
  e.AddUint(5);
  e.BeginList();
  e.AddUint(4);
  e.BeginList();
  e.AddUint(3);
  e.BeginList();
  e.EndList();
  e.EndList();
  e.EndList();
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "c605c404c203c0");
}

TEST(RlpEncodeTest, LongLists) {
  // 15 three-letter strings: a 60-byte payload, one length byte.
  Encoder e;
  e.BeginList();
  for (char c = 'a'; c <= 'o'; ++c) e.AddString(std::string(3, c));
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()),
            "f83c836161618362626283636363836464648365656583666666836767678368686883696969836a6a6a"
            "836b6b6b836c6c6c836d6d6d836e6e6e836f6f6f");

  // 32 x ["asdf", "qwer", "zxcv"]: a 512-byte payload, two length bytes.
  e.BeginList();
  for (int i = 0; i < 32; ++i) {
    e.BeginList();
    e.AddString("asdf");
    e.AddString("qwer");
    e.AddString("zxcv");
    e.EndList();
  }
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "f90200" + Hex(Repeat("cf84617364668471776572847a786376", 32)));
}

TEST(RlpEncodeTest, NestedLongHeadersArePatchedCorrectly) {
  // [[60-byte string]], [[]] : the inner and outer lists both need long
  // headers, followed by a sibling starting at the same buffer offset.
  std::string s60(60, 'z');
  Encoder e;
  e.BeginList();
  e.BeginList();
  e.AddString(s60);
  e.EndList();
  e.EndList();
  EXPECT_EQ(e.size(), 2u + 2u + 2u + 60u);
  e.BeginList();
  e.BeginList();
  e.EndList();
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "f840f83eb83c" + Hex(Repeat("7a", 60)) + "c1c0");
}

TEST(RlpEncodeTest, RawValues) {
  Encoder e;
  e.AddRaw(HexOrDie("82ffff"));
  EXPECT_EQ(Hex(e.Finish()), "82ffff");
  e.BeginList();
  e.AddRaw(HexOrDie("01"));
  e.AddRaw(HexOrDie("02"));
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "c20102");
  e.BeginList();
  e.AddUint(1);
  e.AddRaw(HexOrDie("0203"));  // Two items at once (go-ethereum's "rest" RawValues).
  e.EndList();
  EXPECT_EQ(Hex(e.Finish()), "c3010203");
}

TEST(RlpEncodeTest, SizeAndReuse) {
  Encoder e;
  EXPECT_EQ(e.size(), 0u);
  e.AddString("dog");
  EXPECT_EQ(e.size(), 4u);
  e.BeginList();
  e.AddUint(1024);
  EXPECT_EQ(e.size(), 7u);  // The open list's header is not counted yet.
  e.EndList();
  EXPECT_EQ(e.size(), 8u);
  // Several top-level items are concatenated.
  EXPECT_EQ(Hex(e.Finish()), "83646f67c3820400");
  EXPECT_EQ(e.size(), 0u);
  e.AddUint(5);
  EXPECT_EQ(Hex(e.Finish()), "05");
  EXPECT_EQ(Hex(e.Finish()), "");
}

TEST(RlpEncodeDeathTest, UnbalancedLists) {
  EXPECT_DEATH(
      {
        Encoder e;
        e.EndList();
      },
      "EndList without a matching BeginList");
  EXPECT_DEATH(
      {
        Encoder e;
        e.BeginList();
        e.BeginList();
        e.EndList();
        e.Finish();
      },
      "Finish with 1 list\\(s\\) still open");
}

// ---- Decoder ----

TEST(RlpDecodeTest, PublishedVectorsRoundTrip) {
  const char* kVectors[] = {
      "80",
      "00",
      "01",
      "0f",
      "7f",
      "8180",
      "820400",
      "83646f67",
      "88ffffffffffffffff",
      "c0",
      "c88363617483646f67",
      "c7c0c1c0c3c0c1c0",
      "ce0183ffffffc4c304050583616263",
      "c28080",
      "c605c404c203c0",
      "b8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e73656374657475722061646"
      "97069736963696e6720656c6974",
      "f83c836161618362626283636363836464648365656583666666836767678368686883696969836a6a6a836b6b"
      "6b836c6c6c836d6d6d836e6e6e836f6f6f"};
  for (const char* hex : kVectors) DecodeRoundTrip(HexOrDie(hex));
  DecodeRoundTrip(HexOrDie("f90200" + Hex(Repeat("cf84617364668471776572847a786376", 32))));
  DecodeRoundTrip(HexOrDie("b90400" + Hex(Repeat("78", 1024))));
}

TEST(RlpDecodeTest, Views) {
  std::vector<uint8_t> in = HexOrDie("c88363617483646f67");
  absl::StatusOr<Item> item = DecodeExact(in);
  ASSERT_TRUE(item.ok()) << item.status();
  EXPECT_TRUE(item->is_list());
  EXPECT_EQ(item->offset, 0u);
  EXPECT_EQ(item->payload.data(), in.data() + 1);
  EXPECT_EQ(item->payload.size(), 8u);
  ListReader r(*item);
  absl::StatusOr<Item> cat = r.Next();
  ASSERT_TRUE(cat.ok());
  EXPECT_EQ(cat->kind, Item::kBytes);
  EXPECT_EQ(cat->offset, 1u);
  EXPECT_EQ(Hex(cat->encoded), "83636174");
  EXPECT_EQ(Hex(cat->payload), "636174");
  absl::StatusOr<std::vector<uint8_t>> dog = r.NextBytes();
  ASSERT_TRUE(dog.ok());
  EXPECT_EQ(std::string(dog->begin(), dog->end()), "dog");
  EXPECT_TRUE(r.AtEnd());

  // A single byte is its own payload.
  std::vector<uint8_t> one = HexOrDie("0f");
  item = DecodeExact(one);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(Hex(item->payload), "0f");
  EXPECT_EQ(Hex(item->encoded), "0f");
}

TEST(RlpDecodeTest, Integers) {
  auto dec = [](const std::string& hex) -> absl::StatusOr<uint64_t> {
    std::vector<uint8_t> in = HexOrDie(hex);
    absl::StatusOr<Item> item = DecodeExact(in);
    if (!item.ok()) return item.status();
    return ToUint64(*item);
  };
  EXPECT_EQ(*dec("80"), 0u);
  EXPECT_EQ(*dec("01"), 1u);
  EXPECT_EQ(*dec("0f"), 15u);
  EXPECT_EQ(*dec("7f"), 127u);
  EXPECT_EQ(*dec("8180"), 128u);
  EXPECT_EQ(*dec("820400"), 1024u);
  EXPECT_EQ(*dec("83050505"), 0x050505u);
  EXPECT_EQ(*dec("88ffffffffffffffff"), 0xffffffffffffffffULL);
  // go-ethereum decode_test.go: "00" and "820004" are non-canonical.
  EXPECT_EQ(dec("00").status(), absl::InvalidArgumentError(
                                    "rlp: non-canonical integer (leading zero bytes) at offset 0"));
  EXPECT_EQ(
      dec("820004").status(),
      absl::InvalidArgumentError("rlp: non-canonical integer (leading zero bytes) at offset 0"));
  EXPECT_EQ(
      dec("89010203040506070809").status(),
      absl::InvalidArgumentError("rlp: input string too long for uint64 (9 bytes) at offset 0"));
  EXPECT_EQ(dec("c0").status(),
            absl::InvalidArgumentError("rlp: expected input string or byte at offset 0"));
  EXPECT_EQ(dec("8105").status(),
            absl::InvalidArgumentError("rlp: non-canonical size information (single byte below "
                                       "0x80 must be encoded as itself) at offset 0"));
  EXPECT_EQ(dec("b8020004").status(),
            absl::InvalidArgumentError(
                "rlp: non-canonical size information (long form for size 2 < 56) at offset 0"));
}

TEST(RlpDecodeTest, BytesAndFixed) {
  std::vector<uint8_t> in = HexOrDie(
      "c7"
      "8401020304"
      "05"
      "c0");
  absl::StatusOr<Item> item = DecodeExact(in);
  ASSERT_TRUE(item.ok());
  ListReader r(*item);
  absl::StatusOr<Item> four = r.Next();
  ASSERT_TRUE(four.ok());
  absl::StatusOr<std::array<uint8_t, 4>> f4 = ToFixed<4>(*four);
  ASSERT_TRUE(f4.ok());
  EXPECT_EQ(*f4, (std::array<uint8_t, 4>{1, 2, 3, 4}));
  EXPECT_EQ(
      ToFixed<5>(*four).status(),
      absl::InvalidArgumentError("rlp: input string too short for [5]byte (4 bytes) at offset 1"));
  EXPECT_EQ(
      ToFixed<3>(*four).status(),
      absl::InvalidArgumentError("rlp: input string too long for [3]byte (4 bytes) at offset 1"));
  absl::StatusOr<Item> five = r.Next();
  ASSERT_TRUE(five.ok());
  absl::StatusOr<std::array<uint8_t, 1>> f1 = ToFixed<1>(*five);
  ASSERT_TRUE(f1.ok());
  EXPECT_EQ((*f1)[0], 5);
  absl::StatusOr<std::vector<uint8_t>> b = ToBytes(*five);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, std::vector<uint8_t>{5});
  absl::StatusOr<Item> list = r.Next();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(ToBytes(*list).status(),
            absl::InvalidArgumentError("rlp: expected input string or byte at offset 7"));
  EXPECT_EQ(ToFixed<0>(*list).status(),
            absl::InvalidArgumentError("rlp: expected input string or byte at offset 7"));
  EXPECT_TRUE(r.AtEnd());
}

TEST(RlpDecodeTest, ListReaderTypedAccess) {
  // [4, [ip, 30303, 30303], "", [[]]] with a trailing element a newer peer added.
  Encoder e;
  e.BeginList();
  e.AddUint(4);
  e.BeginList();
  e.AddBytes({127, 0, 0, 1});
  e.AddUint(30303);
  e.AddUint(30303);
  e.EndList();
  e.AddString("");
  e.BeginList();
  e.BeginList();
  e.EndList();
  e.EndList();
  e.AddString("future field");
  e.EndList();
  std::vector<uint8_t> in = e.Finish();
  absl::StatusOr<Item> item = DecodeExact(in);
  ASSERT_TRUE(item.ok()) << item.status();
  absl::StatusOr<ListReader> r = ListReader::Open(*item);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r->NextUint(), 4u);
  absl::StatusOr<ListReader> ep = r->NextList();
  ASSERT_TRUE(ep.ok());
  uint8_t ip[4];
  ASSERT_TRUE(ep->NextFixedBytes(absl::MakeSpan(ip)).ok());
  EXPECT_EQ(ip[0], 127);
  EXPECT_EQ(ip[3], 1);
  EXPECT_EQ(*ep->NextUint(), 30303u);
  EXPECT_EQ(*ep->NextUint(), 30303u);
  EXPECT_TRUE(ep->AtEnd());
  EXPECT_EQ(ep->Next().status(),
            absl::InvalidArgumentError("rlp: input list has too few elements at offset 14"));
  EXPECT_EQ(ep->NextUint().status(),
            absl::InvalidArgumentError("rlp: input list has too few elements at offset 14"));
  EXPECT_EQ(r->NextList().status(),
            absl::InvalidArgumentError("rlp: expected input list at offset 14"));
  // The failed NextList consumed "": the next item is [[]].
  absl::StatusOr<ListReader> nested = r->NextList();
  ASSERT_TRUE(nested.ok());
  EXPECT_TRUE(nested->NextList()->AtEnd());
  EXPECT_TRUE(nested->AtEnd());
  // Stopping here, with "future field" unread, is the caller's choice.
  EXPECT_FALSE(r->AtEnd());

  std::vector<uint8_t> dog = HexOrDie("83646f67");
  absl::StatusOr<Item> bytes_item = DecodeExact(dog);
  ASSERT_TRUE(bytes_item.ok());
  EXPECT_EQ(ListReader::Open(*bytes_item).status(),
            absl::InvalidArgumentError("rlp: expected input list at offset 0"));
}

TEST(RlpDecodeTest, NextUintRejectsNonCanonicalInsideList) {
  std::vector<uint8_t> in = HexOrDie(
      "c3"
      "00"
      "8180");
  absl::StatusOr<Item> item = DecodeExact(in);
  ASSERT_TRUE(item.ok());
  ListReader r(*item);
  EXPECT_EQ(
      r.NextUint().status(),
      absl::InvalidArgumentError("rlp: non-canonical integer (leading zero bytes) at offset 1"));
  EXPECT_EQ(*r.NextUint(), 128u);
}

TEST(RlpDecodeTest, DecodeFirstSequence) {
  std::vector<uint8_t> in = HexOrDie(
      "83646f67"
      "c0"
      "05");
  absl::Span<const uint8_t> rest(in);
  std::vector<std::string> seen;
  size_t base = 100;
  while (!rest.empty()) {
    absl::StatusOr<std::pair<Item, absl::Span<const uint8_t>>> r = DecodeFirst(rest, base);
    ASSERT_TRUE(r.ok()) << r.status();
    seen.push_back(absl::StrCat(r->first.offset, ":", Hex(r->first.encoded)));
    base += r->first.encoded.size();
    rest = r->second;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"100:83646f67", "104:c0", "105:05"}));

  // Errors in a later item report their absolute offset.
  std::vector<uint8_t> bad = HexOrDie(
      "c0"
      "c28105");
  absl::StatusOr<std::pair<Item, absl::Span<const uint8_t>>> r = DecodeFirst(bad);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(DecodeFirst(r->second, 1).status(),
            absl::InvalidArgumentError("rlp: non-canonical size information (single byte below "
                                       "0x80 must be encoded as itself) at offset 2"));
  EXPECT_EQ(DecodeExact(bad).status(),
            absl::InvalidArgumentError(
                "rlp: input contains more than one value (3 trailing bytes) at offset 1"));
}

TEST(RlpDecodeTest, Rejections) {
  // A single byte below 0x80 must be encoded as itself.
  EXPECT_EQ(DecodeError("8105"),
            "rlp: non-canonical size information (single byte below 0x80 must be encoded as "
            "itself) at offset 0");
  EXPECT_EQ(DecodeError("817f"),
            "rlp: non-canonical size information (single byte below 0x80 must be encoded as "
            "itself) at offset 0");
  EXPECT_EQ(DecodeError("8100"),
            "rlp: non-canonical size information (single byte below 0x80 must be encoded as "
            "itself) at offset 0");
  EXPECT_EQ(DecodeError("c3808105"),
            "rlp: non-canonical size information (single byte below 0x80 must be encoded as "
            "itself) at offset 2");
  // Long form for a size below 56.
  EXPECT_EQ(DecodeError("b80100"),
            "rlp: non-canonical size information (long form for size 1 < 56) at offset 0");
  EXPECT_EQ(DecodeError("b837" + Hex(Repeat("61", 55))),
            "rlp: non-canonical size information (long form for size 55 < 56) at offset 0");
  EXPECT_EQ(DecodeError("b800"),
            "rlp: non-canonical size information (long form for size 0 < 56) at offset 0");
  EXPECT_EQ(DecodeError("f8020004"),
            "rlp: non-canonical size information (long form for size 2 < 56) at offset 0");
  EXPECT_EQ(DecodeError("c4f8020004"),
            "rlp: non-canonical size information (long form for size 2 < 56) at offset 1");
  // Length with leading zero bytes.
  EXPECT_EQ(DecodeError("b90038" + Hex(Repeat("61", 56))),
            "rlp: non-canonical size information (length has leading zero bytes) at offset 0");
  EXPECT_EQ(DecodeError("f90038" + Hex(Repeat("80", 56))),
            "rlp: non-canonical size information (length has leading zero bytes) at offset 0");
  EXPECT_EQ(DecodeError("bf0000000000000038" + Hex(Repeat("61", 56))),
            "rlp: non-canonical size information (length has leading zero bytes) at offset 0");
  // Truncated: empty, short payload, short length prefix, huge length.
  EXPECT_EQ(DecodeError(""),
            "rlp: value size exceeds available input length (empty input) at offset 0");
  EXPECT_EQ(DecodeError("83646f"),
            "rlp: value size exceeds available input length (payload of 3 bytes, 2 available) "
            "at offset 0");
  EXPECT_EQ(DecodeError("c1"),
            "rlp: value size exceeds available input length (payload of 1 bytes, 0 available) "
            "at offset 0");
  EXPECT_EQ(DecodeError("b9"),
            "rlp: value size exceeds available input length (length prefix of 2 bytes truncated) "
            "at offset 0");
  EXPECT_EQ(DecodeError("b904"),
            "rlp: value size exceeds available input length (length prefix of 2 bytes truncated) "
            "at offset 0");
  EXPECT_EQ(DecodeError("b90400" + Hex(Repeat("78", 1023))),
            "rlp: value size exceeds available input length (payload of 1024 bytes, 1023 "
            "available) at offset 0");
  EXPECT_EQ(DecodeError("bfffffffffffffffff"),
            "rlp: value size exceeds available input length (payload of 18446744073709551615 "
            "bytes, 0 available) at offset 0");
  EXPECT_EQ(DecodeError("ffffffffffffffffff00"),
            "rlp: value size exceeds available input length (payload of 18446744073709551615 "
            "bytes, 1 available) at offset 0");
  // A list payload not exactly consumed by its items (the last one overruns).
  EXPECT_EQ(DecodeError("c28363"),
            "rlp: element is larger than containing list (payload of 3 bytes, 1 available) at "
            "offset 1");
  EXPECT_EQ(DecodeError("c3"
                        "83636174"),
            "rlp: element is larger than containing list (payload of 3 bytes, 2 available) at "
            "offset 1");
  EXPECT_EQ(DecodeError("c3"
                        "80"
                        "b9"
                        "04"),
            "rlp: element is larger than containing list (length prefix of 2 bytes truncated) at "
            "offset 2");
  EXPECT_EQ(DecodeError("c2"
                        "80"
                        "b9"
                        "00"),
            "rlp: element is larger than containing list (length prefix of 2 bytes truncated) at "
            "offset 2");
  EXPECT_EQ(DecodeError("c4"
                        "c4"
                        "80"
                        "80"
                        "80"),
            "rlp: element is larger than containing list (payload of 4 bytes, 3 available) at "
            "offset 1");
  // Trailing bytes.
  EXPECT_EQ(DecodeError("8080"),
            "rlp: input contains more than one value (1 trailing bytes) at offset 1");
  EXPECT_EQ(DecodeError("c0c0c0"),
            "rlp: input contains more than one value (2 trailing bytes) at offset 1");
}

std::vector<uint8_t> NestedLists(int depth) {
  Encoder e;
  for (int i = 0; i < depth; ++i) e.BeginList();
  for (int i = 0; i < depth; ++i) e.EndList();
  return e.Finish();
}

TEST(RlpDecodeTest, DepthBound) {
  std::vector<uint8_t> ok = NestedLists(kMaxDepth);
  DecodeRoundTrip(ok);
  std::vector<uint8_t> deep = NestedLists(kMaxDepth + 1);
  absl::StatusOr<Item> item = DecodeExact(deep);
  // The 65th list is the innermost c0, the last byte; the 9 outermost lists
  // have two-byte headers, so it sits at 9 * 2 + 55 = 73.
  ASSERT_EQ(deep.size(), 74u);
  EXPECT_EQ(item.status(),
            absl::InvalidArgumentError("rlp: nesting deeper than 64 lists at offset 73"));
  // Deep nesting of a 1 MB input would otherwise recurse 100k+ times.
  std::vector<uint8_t> hostile = NestedLists(100000);
  EXPECT_FALSE(DecodeExact(hostile).ok());
}

TEST(RlpDecodeDeathTest, ListReaderOnBytes) {
  std::vector<uint8_t> in = HexOrDie("80");
  absl::StatusOr<Item> item = DecodeExact(in);
  ASSERT_TRUE(item.ok());
  EXPECT_DEATH(ListReader r(*item), "ListReader needs a list item");
}

// ---- Random trees: the Encoder against a naive recursive encoder ----

struct Node {
  bool list = false;
  std::vector<uint8_t> bytes;
  std::vector<Node> kids;
};

std::vector<uint8_t> NaiveHeader(uint8_t base, size_t n) {
  if (n < 56) return {static_cast<uint8_t>(base + n)};
  std::vector<uint8_t> len;
  for (size_t v = n; v != 0; v >>= 8) len.insert(len.begin(), static_cast<uint8_t>(v));
  std::vector<uint8_t> h = {static_cast<uint8_t>(base + 55 + len.size())};
  h.insert(h.end(), len.begin(), len.end());
  return h;
}

std::vector<uint8_t> NaiveEncode(const Node& n) {
  std::vector<uint8_t> payload;
  if (!n.list) {
    if (n.bytes.size() == 1 && n.bytes[0] < 0x80) return n.bytes;
    payload = n.bytes;
  } else {
    for (const Node& k : n.kids) {
      std::vector<uint8_t> e = NaiveEncode(k);
      payload.insert(payload.end(), e.begin(), e.end());
    }
  }
  std::vector<uint8_t> out = NaiveHeader(n.list ? 0xc0 : 0x80, payload.size());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Node RandomNode(Rng& rng, int depth) {
  Node n;
  if (depth < 6 && rng.Chance(1, 3)) {
    n.list = true;
    int kids = rng.Intn(depth == 0 ? 20 : 6);
    for (int i = 0; i < kids; ++i) n.kids.push_back(RandomNode(rng, depth + 1));
  } else {
    static const int kSizes[] = {0, 1, 1, 2, 3, 20, 55, 56, 57, 200, 300};
    n.bytes.resize(kSizes[rng.Intn(11)]);
    rng.Fill(absl::MakeSpan(n.bytes));
  }
  return n;
}

void EncodeNode(const Node& n, Encoder& e) {
  if (!n.list) {
    e.AddBytes(n.bytes);
    return;
  }
  e.BeginList();
  for (const Node& k : n.kids) EncodeNode(k, e);
  e.EndList();
}

TEST(RlpRandomTest, EncoderMatchesNaiveAndRoundTrips) {
  Rng rng(20240601);
  for (int i = 0; i < 500; ++i) {
    Node n = RandomNode(rng, 0);
    Encoder e;
    EncodeNode(n, e);
    size_t size = e.size();
    std::vector<uint8_t> got = e.Finish();
    std::vector<uint8_t> want = NaiveEncode(n);
    ASSERT_EQ(Hex(got), Hex(want)) << "tree " << i;
    ASSERT_EQ(size, want.size());
    DecodeRoundTrip(got);
  }
}

}  // namespace
}  // namespace rlp
}  // namespace p2p
