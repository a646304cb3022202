// A streaming writer for compact JSON (RFC 8259), for the admin endpoint's
// responses. Write-only: there is no parser.
//
// Contract:
//  - Output is compact (no whitespace) and built in one std::string; Take()
//    hands it over once exactly one complete top-level value was written.
//  - Commas and colons are inserted automatically. Inside an object every
//    value must be preceded by Key(); inside an array Key() is not allowed.
//    Misuse (a value without a key, a key outside an object, an End that
//    does not match its Begin, a second top-level value, Take() on an
//    unfinished document) is a programming error and crashes.
//  - The output is always valid JSON, whatever bytes the caller passes:
//    strings are escaped as described at AppendJsonString, and non-finite
//    doubles are written as null.
//  - Numbers: Int/Uint are exact decimal. Double uses the shortest decimal
//    form that parses back to the same double (std::to_chars without a
//    precision): 0.5 -> 0.5, 0.1 -> 0.1, 100.0 -> 100, 1e21 -> 1e+21,
//    -0.0 -> -0. Deterministic across platforms (the shortest round-trip
//    form is unique, ties resolved by the standard).
//
// Not thread-safe; a JsonWriter is a local value.
#ifndef P2P_CORE_JSON_WRITER_H_
#define P2P_CORE_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace p2p {

// Appends `s` to `out` as a JSON string literal, quotes included:
//  - '"' and '\\' are backslash-escaped; \b \f \n \r \t use their short
//    forms and the other control characters (U+0000..U+001F) are written as
//    \u00XX with lower-case hex. '/' and DEL (0x7F) are written as-is.
//  - Well-formed UTF-8 (bytes >= 0x80) is copied unchanged.
//  - Ill-formed UTF-8 is replaced by U+FFFD (EF BF BD), one replacement per
//    maximal subpart of an ill-formed sequence (the Unicode "substitution of
//    maximal subparts" practice, as in WHATWG's decoder): an invalid lead
//    byte, a truncated sequence, an overlong form, a surrogate (ED A0..BF)
//    or a code point above U+10FFFF each become one U+FFFD.
void AppendJsonString(absl::string_view s, std::string* out);

class JsonWriter {
 public:
  JsonWriter() = default;
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  // Each method returns *this so calls can be chained.
  JsonWriter& BeginObject();
  JsonWriter& EndObject();
  JsonWriter& BeginArray();
  JsonWriter& EndArray();
  // The name of the next member; only directly inside an object.
  JsonWriter& Key(absl::string_view name);

  JsonWriter& String(absl::string_view v);
  JsonWriter& Int(int64_t v);
  JsonWriter& Uint(uint64_t v);
  // Finite values only; NaN and infinities are written as null.
  JsonWriter& Double(double v);
  JsonWriter& Bool(bool v);
  JsonWriter& Null();

  // Returns the document and resets the writer for reuse. Crashes unless
  // exactly one top-level value was written and every Begin was ended.
  std::string Take();

 private:
  struct Frame {
    bool is_object;
    bool has_members = false;
    bool key_written = false;  // Objects: a Key() awaits its value.
  };

  // Emits the separator a new value needs and checks it is allowed here.
  void BeforeValue();
  void End(bool is_object);

  std::string out_;
  std::vector<Frame> stack_;
  bool root_written_ = false;
};

}  // namespace p2p

#endif  // P2P_CORE_JSON_WRITER_H_
