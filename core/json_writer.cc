#include "core/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"

namespace p2p {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kReplacementChar[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8.

// Looks at the multi-byte sequence starting at s[i] (s[i] >= 0x80). Returns
// its length if it is well-formed UTF-8 (*valid = true); otherwise the
// length of its maximal ill-formed subpart (at least 1, *valid = false).
// The byte ranges are those of Table 3-7 of the Unicode Standard, which
// exclude overlong forms, surrogates and values above U+10FFFF.
size_t ScanUtf8(absl::string_view s, size_t i, bool* valid) {
  const uint8_t lead = static_cast<uint8_t>(s[i]);
  size_t len = 0;
  uint8_t second_lo = 0x80, second_hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    len = 2;
  } else if (lead == 0xE0) {
    len = 3;
    second_lo = 0xA0;
  } else if (lead >= 0xE1 && lead <= 0xEC) {
    len = 3;
  } else if (lead == 0xED) {
    len = 3;
    second_hi = 0x9F;  // ED A0..BF would encode a surrogate.
  } else if (lead >= 0xEE && lead <= 0xEF) {
    len = 3;
  } else if (lead == 0xF0) {
    len = 4;
    second_lo = 0x90;
  } else if (lead >= 0xF1 && lead <= 0xF3) {
    len = 4;
  } else if (lead == 0xF4) {
    len = 4;
    second_hi = 0x8F;  // Above F4 8F would exceed U+10FFFF.
  } else {
    *valid = false;  // A continuation byte, C0/C1 (overlong) or F5..FF.
    return 1;
  }
  for (size_t k = 1; k < len; ++k) {
    const uint8_t lo = k == 1 ? second_lo : 0x80;
    const uint8_t hi = k == 1 ? second_hi : 0xBF;
    if (i + k >= s.size()) {
      *valid = false;
      return k;
    }
    const uint8_t b = static_cast<uint8_t>(s[i + k]);
    if (b < lo || b > hi) {
      *valid = false;
      return k;
    }
  }
  *valid = true;
  return len;
}

}  // namespace

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      bool valid = false;
      const size_t n = ScanUtf8(s, i, &valid);
      if (valid) {
        out->append(s.data() + i, n);
      } else {
        out->append(kReplacementChar);
      }
      i += n;
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (c < 0x20) {
          const char esc[] = {'\\', 'u', '0', '0', kHexDigits[c >> 4], kHexDigits[c & 0xF]};
          out->append(esc, sizeof(esc));
        } else {
          out->push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
  out->push_back('"');
}

void JsonWriter::BeforeValue() {
  if (stack_.empty()) {
    ABSL_RAW_CHECK(!root_written_, "JsonWriter: a second top-level value");
    root_written_ = true;
    return;
  }
  Frame& top = stack_.back();
  if (top.is_object) {
    ABSL_RAW_CHECK(top.key_written, "JsonWriter: value inside an object without a Key()");
    top.key_written = false;
    return;
  }
  if (top.has_members) out_.push_back(',');
  top.has_members = true;
}

JsonWriter& JsonWriter::BeginObject() {
  BeforeValue();
  out_.push_back('{');
  stack_.push_back(Frame{/*is_object=*/true});
  return *this;
}

JsonWriter& JsonWriter::BeginArray() {
  BeforeValue();
  out_.push_back('[');
  stack_.push_back(Frame{/*is_object=*/false});
  return *this;
}

void JsonWriter::End(bool is_object) {
  ABSL_RAW_CHECK(!stack_.empty(), "JsonWriter: End without a matching Begin");
  const Frame& top = stack_.back();
  ABSL_RAW_CHECK(top.is_object == is_object, "JsonWriter: EndObject/EndArray mismatch");
  ABSL_RAW_CHECK(!top.key_written, "JsonWriter: EndObject right after a Key()");
  stack_.pop_back();
  out_.push_back(is_object ? '}' : ']');
}

JsonWriter& JsonWriter::EndObject() {
  End(/*is_object=*/true);
  return *this;
}

JsonWriter& JsonWriter::EndArray() {
  End(/*is_object=*/false);
  return *this;
}

JsonWriter& JsonWriter::Key(absl::string_view name) {
  ABSL_RAW_CHECK(!stack_.empty() && stack_.back().is_object, "JsonWriter: Key() outside an object");
  Frame& top = stack_.back();
  ABSL_RAW_CHECK(!top.key_written, "JsonWriter: two Key() calls without a value");
  if (top.has_members) out_.push_back(',');
  top.has_members = true;
  top.key_written = true;
  AppendJsonString(name, &out_);
  out_.push_back(':');
  return *this;
}

JsonWriter& JsonWriter::String(absl::string_view v) {
  BeforeValue();
  AppendJsonString(v, &out_);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  BeforeValue();
  absl::StrAppend(&out_, v);
  return *this;
}

JsonWriter& JsonWriter::Uint(uint64_t v) {
  BeforeValue();
  absl::StrAppend(&out_, v);
  return *this;
}

JsonWriter& JsonWriter::Double(double v) {
  if (!std::isfinite(v)) return Null();
  BeforeValue();
  // The longest shortest form is 24 characters (-2.2250738585072014e-308).
  char buf[32];
  const std::to_chars_result r = std::to_chars(buf, buf + sizeof(buf), v);
  ABSL_RAW_CHECK(r.ec == std::errc(), "JsonWriter: to_chars failed");
  out_.append(buf, static_cast<size_t>(r.ptr - buf));
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  BeforeValue();
  out_.append(v ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_.append("null");
  return *this;
}

std::string JsonWriter::Take() {
  ABSL_RAW_CHECK(root_written_ && stack_.empty(), "JsonWriter: Take() on an unfinished document");
  std::string result = std::move(out_);
  out_.clear();
  root_written_ = false;
  return result;
}

}  // namespace p2p
