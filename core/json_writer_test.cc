#include "core/json_writer.h"

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>

#include "gtest/gtest.h"

namespace p2p {
namespace {

std::string Quoted(absl::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST(JsonWriterTest, EmptyContainers) {
  JsonWriter w;
  EXPECT_EQ(w.BeginObject().EndObject().Take(), "{}");
  EXPECT_EQ(w.BeginArray().EndArray().Take(), "[]");
}

TEST(JsonWriterTest, TopLevelScalars) {
  JsonWriter w;
  EXPECT_EQ(w.String("x").Take(), "\"x\"");
  EXPECT_EQ(w.Int(7).Take(), "7");
  EXPECT_EQ(w.Null().Take(), "null");
  EXPECT_EQ(w.Bool(false).Take(), "false");
}

TEST(JsonWriterTest, NestedStructure) {
  JsonWriter w;
  w.BeginObject();
  w.Key("id").String("abc");
  w.Key("ports").BeginObject().Key("tcp").Int(30303).Key("udp").Int(30301).EndObject();
  w.Key("peers").BeginArray();
  w.BeginObject().Key("inbound").Bool(true).Key("caps").BeginArray().EndArray().EndObject();
  w.BeginObject().Key("inbound").Bool(false).Key("caps").BeginArray().String("eth/68").String(
      "snap/1");
  w.EndArray().EndObject();
  w.EndArray();
  w.Key("empty").BeginObject().EndObject();
  w.Key("nothing").Null();
  w.Key("matrix").BeginArray().BeginArray().Int(1).Int(2).EndArray().BeginArray().EndArray();
  w.BeginArray().Int(3).EndArray().EndArray();
  w.EndObject();
  EXPECT_EQ(w.Take(),
            "{\"id\":\"abc\",\"ports\":{\"tcp\":30303,\"udp\":30301},\"peers\":[{\"inbound\":true,"
            "\"caps\":[]},{\"inbound\":false,\"caps\":[\"eth/68\",\"snap/1\"]}],\"empty\":{},"
            "\"nothing\":null,\"matrix\":[[1,2],[],[3]]}");
}

TEST(JsonWriterTest, TakeResetsTheWriter) {
  JsonWriter w;
  w.BeginArray().Int(1).EndArray();
  EXPECT_EQ(w.Take(), "[1]");
  w.BeginArray().Int(2).EndArray();
  EXPECT_EQ(w.Take(), "[2]");
}

TEST(JsonWriterTest, KeysAreEscaped) {
  JsonWriter w;
  w.BeginObject().Key("a\"b\n").Int(1).Key("").Int(2).EndObject();
  EXPECT_EQ(w.Take(), "{\"a\\\"b\\n\":1,\"\":2}");
}

TEST(JsonStringTest, EveryControlCharacter) {
  std::string all;
  for (int c = 0; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(Quoted(all),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007"
            "\\b\\t\\n\\u000b\\f\\r\\u000e\\u000f"
            "\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017"
            "\\u0018\\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\"");
}

TEST(JsonStringTest, QuoteBackslashAndPrintableAscii) {
  EXPECT_EQ(Quoted("say \"hi\" \\o/"), "\"say \\\"hi\\\" \\\\o/\"");
  // '/', DEL and the rest of printable ASCII pass through.
  EXPECT_EQ(Quoted("a/b\x7f~ "), "\"a/b\x7f~ \"");
  EXPECT_EQ(Quoted(""), "\"\"");
}

TEST(JsonStringTest, WellFormedUtf8PassesThrough) {
  // The first and last code point of every encoded length, around the
  // surrogate gap, and some everyday text.
  const std::string ok =
      "\xC2\x80"                                    // U+0080
      "\xDF\xBF"                                    // U+07FF
      "\xE0\xA0\x80"                                // U+0800
      "\xED\x9F\xBF"                                // U+D7FF
      "\xEE\x80\x80"                                // U+E000
      "\xEF\xBF\xBF"                                // U+FFFF
      "\xF0\x90\x80\x80"                            // U+10000
      "\xF4\x8F\xBF\xBF"                            // U+10FFFF
      "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80";  // "café € 😀"
  EXPECT_EQ(Quoted(ok), "\"" + ok + "\"");
}

TEST(JsonStringTest, IllFormedUtf8IsReplaced) {
  const std::string r = "\xEF\xBF\xBD";  // U+FFFD
  struct Case {
    std::string in;
    std::string want;
  };
  const Case cases[] = {
      {"\x80", r},                          // Lone continuation byte.
      {"a\xBFz", "a" + r + "z"},            //
      {"\xC0\x80", r + r},                  // Overlong NUL.
      {"\xC1\xBF", r + r},                  // Overlong.
      {"\xE0\x80\x80", r + r + r},          // Overlong 3-byte form.
      {"\xF0\x80\x80\x80", r + r + r + r},  // Overlong 4-byte form.
      {"\xED\xA0\x80", r + r + r},          // Surrogate U+D800.
      {"\xED\xBF\xBF", r + r + r},          // Surrogate U+DFFF.
      {"\xF4\x90\x80\x80", r + r + r + r},  // U+110000.
      {"\xF5\x80", r + r},                  // Lead byte never valid.
      {"\xFF", r},                          //
      {"\xE2\x82", r},                      // Truncated at the end.
      {"\xE2\x82"
       "A",
       r + "A"},  // Truncated by ASCII.
      {"\xF0\x9F\x98"
       "x",
       r + "x"},                         //
      {"\xC3\xC3\xA9", r + "\xC3\xA9"},  // Truncated by a new lead.
      {"\xE2\x82\"", r + "\\\""},        // Truncated by a quote.
      // Table 3-8 of the Unicode Standard: one U+FFFD per maximal subpart.
      {"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64",
       "a" + r + r + r + "b" + r + "c" + r + r + "d"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Quoted(c.in), "\"" + c.want + "\"") << "input bytes: " << c.in.size();
  }
}

TEST(JsonWriterTest, Integers) {
  JsonWriter w;
  w.BeginArray()
      .Int(0)
      .Int(-1)
      .Int(42)
      .Int(std::numeric_limits<int64_t>::min())
      .Int(std::numeric_limits<int64_t>::max())
      .Uint(0)
      .Uint(std::numeric_limits<uint64_t>::max())
      .EndArray();
  EXPECT_EQ(w.Take(), "[0,-1,42,-9223372036854775808,9223372036854775807,0,18446744073709551615]");
}

TEST(JsonWriterTest, DoublesUseTheShortestRoundTripForm) {
  struct Case {
    double v;
    const char* want;
  };
  const Case cases[] = {
      {0.0, "0"},
      {-0.0, "-0"},
      {0.5, "0.5"},
      {-2.25, "-2.25"},
      {0.1, "0.1"},
      {100.0, "100"},
      {1.0 / 3.0, "0.3333333333333333"},
      {1e21, "1e+21"},
      {1e-7, "1e-07"},
      {123456789012.5, "123456789012.5"},
      {std::numeric_limits<double>::max(), "1.7976931348623157e+308"},
      {std::numeric_limits<double>::denorm_min(), "5e-324"},
  };
  for (const Case& c : cases) {
    JsonWriter w;
    const std::string got = w.Double(c.v).Take();
    EXPECT_EQ(got, c.want);
    EXPECT_EQ(std::strtod(got.c_str(), nullptr), c.v) << got;  // Round-trips.
  }
}

TEST(JsonWriterTest, NonFiniteDoublesAreNull) {
  JsonWriter w;
  w.BeginObject()
      .Key("nan")
      .Double(std::numeric_limits<double>::quiet_NaN())
      .Key("inf")
      .Double(std::numeric_limits<double>::infinity())
      .Key("-inf")
      .Double(-std::numeric_limits<double>::infinity())
      .Key("x")
      .Double(1.5)
      .EndObject();
  EXPECT_EQ(w.Take(), "{\"nan\":null,\"inf\":null,\"-inf\":null,\"x\":1.5}");
}

TEST(JsonWriterDeathTest, ValueWithoutKeyInObject) {
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.BeginObject().Int(1);
      },
      "without a Key");
}

TEST(JsonWriterDeathTest, KeyInsideArray) {
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.BeginArray().Key("k");
      },
      "Key\\(\\) outside an object");
}

TEST(JsonWriterDeathTest, MismatchedEnd) {
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.BeginObject().EndArray();
      },
      "mismatch");
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.EndObject();
      },
      "End without a matching Begin");
}

TEST(JsonWriterDeathTest, KeyWithoutValue) {
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.BeginObject().Key("a").EndObject();
      },
      "right after a Key");
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.BeginObject().Key("a").Key("b");
      },
      "two Key");
}

TEST(JsonWriterDeathTest, IncompleteOrExtraDocuments) {
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.BeginArray();
        w.Take();
      },
      "unfinished");
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.Take();
      },
      "unfinished");
  EXPECT_DEATH(
      {
        JsonWriter w;
        w.Int(1).Int(2);
      },
      "second top-level value");
}

}  // namespace
}  // namespace p2p
