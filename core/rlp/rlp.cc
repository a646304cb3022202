#include "core/rlp/rlp.h"

#include <algorithm>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"

namespace p2p {
namespace rlp {
namespace {

constexpr uint8_t kStringBase = 0x80;  // 0x80..0xb7 short string, 0xb8..0xbf long.
constexpr uint8_t kListBase = 0xc0;    // 0xc0..0xf7 short list, 0xf8..0xff long.
constexpr size_t kShortMax = 55;       // Longest payload with a one-byte prefix.

size_t ByteLength(uint64_t v) {
  size_t n = 0;
  for (; v != 0; v >>= 8) ++n;
  return n;
}

size_t HeaderSize(size_t payload_size) {
  return payload_size <= kShortMax ? 1 : 1 + ByteLength(payload_size);
}

void AppendBigEndian(std::vector<uint8_t>& out, uint64_t v, size_t n) {
  for (size_t i = n; i > 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * (i - 1))));
}

void AppendHeader(std::vector<uint8_t>& out, uint8_t base, size_t payload_size) {
  if (payload_size <= kShortMax) {
    out.push_back(static_cast<uint8_t>(base + payload_size));
    return;
  }
  size_t n = ByteLength(payload_size);
  out.push_back(static_cast<uint8_t>(base + kShortMax + n));
  AppendBigEndian(out, payload_size, n);
}

absl::Status Error(absl::string_view what, size_t offset) {
  return absl::InvalidArgumentError(absl::StrCat("rlp: ", what, " at offset ", offset));
}

struct Header {
  Item::Kind kind;
  size_t header_size;
  size_t payload_size;
};

// Parses and checks the prefix of the item starting at in[0] (`offset` in the
// decoded buffer): canonical size, payload within `in`. `in` is the rest of a
// list payload when in_list, else the rest of the input; only the error text
// differs, as in go-ethereum.
absl::Status ParseHeader(absl::Span<const uint8_t> in, size_t offset, bool in_list, Header* h) {
  const char* overrun = in_list ? "element is larger than containing list"
                                : "value size exceeds available input length";
  if (in.empty()) return Error(absl::StrCat(overrun, " (empty input)"), offset);
  const uint8_t b = in[0];
  if (b < kStringBase) {
    *h = {Item::kBytes, 0, 1};  // The byte is its own payload.
    return absl::OkStatus();
  }
  const bool is_list = b >= kListBase;
  const uint8_t base = is_list ? kListBase : kStringBase;
  h->kind = is_list ? Item::kList : Item::kBytes;
  if (b <= base + kShortMax) {
    h->header_size = 1;
    h->payload_size = b - base;
  } else {
    const size_t len_size = b - base - kShortMax;  // 1..8
    if (in.size() < 1 + len_size) {
      return Error(absl::StrCat(overrun, " (length prefix of ", len_size, " bytes truncated)"),
                   offset);
    }
    if (len_size > 1 && in[1] == 0) {
      return Error("non-canonical size information (length has leading zero bytes)", offset);
    }
    uint64_t size = 0;
    for (size_t i = 0; i < len_size; ++i) size = size << 8 | in[1 + i];
    if (size <= kShortMax) {
      return Error(
          absl::StrCat("non-canonical size information (long form for size ", size, " < 56)"),
          offset);
    }
    h->header_size = 1 + len_size;
    if (size > in.size() - h->header_size) {
      return Error(absl::StrCat(overrun, " (payload of ", size, " bytes, ",
                                in.size() - h->header_size, " available)"),
                   offset);
    }
    h->payload_size = static_cast<size_t>(size);
    return absl::OkStatus();
  }
  if (h->payload_size > in.size() - h->header_size) {
    return Error(absl::StrCat(overrun, " (payload of ", h->payload_size, " bytes, ",
                              in.size() - h->header_size, " available)"),
                 offset);
  }
  if (!is_list && h->payload_size == 1 && in[1] < kStringBase) {
    return Error(
        "non-canonical size information (single byte below 0x80 must be encoded as itself)",
        offset);
  }
  return absl::OkStatus();
}

Item MakeItem(absl::Span<const uint8_t> in, size_t offset, const Header& h) {
  Item item;
  item.kind = h.kind;
  item.encoded = in.subspan(0, h.header_size + h.payload_size);
  item.payload = h.header_size == 0 ? item.encoded : in.subspan(h.header_size, h.payload_size);
  item.offset = offset;
  return item;
}

// Checks every item in a list payload; `depth` is the depth of the list.
absl::Status ValidateListPayload(absl::Span<const uint8_t> payload, size_t offset, int depth) {
  while (!payload.empty()) {
    Header h;
    absl::Status s = ParseHeader(payload, offset, /*in_list=*/true, &h);
    if (!s.ok()) return s;
    if (h.kind == Item::kList) {
      if (depth + 1 > kMaxDepth) {
        return Error(absl::StrCat("nesting deeper than ", kMaxDepth, " lists"), offset);
      }
      s = ValidateListPayload(payload.subspan(h.header_size, h.payload_size),
                              offset + h.header_size, depth + 1);
      if (!s.ok()) return s;
    }
    const size_t total = h.header_size + h.payload_size;
    payload.remove_prefix(total);
    offset += total;
  }
  return absl::OkStatus();
}

absl::Status ExpectBytes(const Item& item) {
  if (item.kind != Item::kBytes) return Error("expected input string or byte", item.offset);
  return absl::OkStatus();
}

}  // namespace

// ---- Encoder ----

void Encoder::AddBytes(absl::Span<const uint8_t> bytes) {
  if (bytes.size() == 1 && bytes[0] < kStringBase) {
    out_.push_back(bytes[0]);
    return;
  }
  AppendHeader(out_, kStringBase, bytes.size());
  out_.insert(out_.end(), bytes.begin(), bytes.end());
}

void Encoder::AddString(absl::string_view s) {
  AddBytes(absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
}

void Encoder::AddUint(uint64_t v) {
  if (v == 0) {
    out_.push_back(kStringBase);
  } else if (v < kStringBase) {
    out_.push_back(static_cast<uint8_t>(v));
  } else {
    const size_t n = ByteLength(v);
    out_.push_back(static_cast<uint8_t>(kStringBase + n));
    AppendBigEndian(out_, v, n);
  }
}

void Encoder::AddUintBytes(absl::Span<const uint8_t> big_endian) {
  size_t skip = 0;
  while (skip < big_endian.size() && big_endian[skip] == 0) ++skip;
  AddBytes(big_endian.subspan(skip));
}

void Encoder::AddRaw(absl::Span<const uint8_t> already_encoded) {
  out_.insert(out_.end(), already_encoded.begin(), already_encoded.end());
}

void Encoder::BeginList() {
  open_.push_back(lists_.size());
  lists_.push_back({out_.size(), size()});
}

void Encoder::EndList() {
  ABSL_RAW_CHECK(!open_.empty(), "rlp::Encoder::EndList without a matching BeginList");
  ListHead& head = lists_[open_.back()];
  open_.pop_back();
  head.payload_size = size() - head.payload_size;
  closed_headers_size_ += HeaderSize(head.payload_size);
}

std::vector<uint8_t> Encoder::Finish() {
  if (!open_.empty()) {
    ABSL_RAW_LOG(FATAL, "rlp::Encoder::Finish with %zu list(s) still open", open_.size());
  }
  std::vector<uint8_t> result;
  if (lists_.empty()) {
    result.swap(out_);
  } else {
    result.reserve(size());
    size_t pos = 0;
    for (const ListHead& head : lists_) {
      result.insert(result.end(), out_.begin() + pos, out_.begin() + head.offset);
      AppendHeader(result, kListBase, head.payload_size);
      pos = head.offset;
    }
    result.insert(result.end(), out_.begin() + pos, out_.end());
    out_.clear();
    lists_.clear();
  }
  closed_headers_size_ = 0;
  return result;
}

// ---- Decoding ----

absl::StatusOr<std::pair<Item, absl::Span<const uint8_t>>> DecodeFirst(
    absl::Span<const uint8_t> input, size_t base_offset) {
  Header h;
  absl::Status s = ParseHeader(input, base_offset, /*in_list=*/false, &h);
  if (!s.ok()) return s;
  if (h.kind == Item::kList) {
    s = ValidateListPayload(input.subspan(h.header_size, h.payload_size),
                            base_offset + h.header_size, 1);
    if (!s.ok()) return s;
  }
  Item item = MakeItem(input, base_offset, h);
  return std::make_pair(item, input.subspan(item.encoded.size()));
}

absl::StatusOr<Item> DecodeExact(absl::Span<const uint8_t> input, size_t base_offset) {
  absl::StatusOr<std::pair<Item, absl::Span<const uint8_t>>> first =
      DecodeFirst(input, base_offset);
  if (!first.ok()) return first.status();
  if (!first->second.empty()) {
    return Error(absl::StrCat("input contains more than one value (", first->second.size(),
                              " trailing bytes)"),
                 base_offset + first->first.encoded.size());
  }
  return first->first;
}

absl::StatusOr<uint64_t> ToUint64(const Item& item) {
  absl::Status s = ExpectBytes(item);
  if (!s.ok()) return s;
  const absl::Span<const uint8_t> p = item.payload;
  if (p.size() > 8) {
    return Error(absl::StrCat("input string too long for uint64 (", p.size(), " bytes)"),
                 item.offset);
  }
  if (!p.empty() && p[0] == 0) {
    return Error("non-canonical integer (leading zero bytes)", item.offset);
  }
  uint64_t v = 0;
  for (uint8_t b : p) v = v << 8 | b;
  return v;
}

absl::StatusOr<std::vector<uint8_t>> ToBytes(const Item& item) {
  absl::Status s = ExpectBytes(item);
  if (!s.ok()) return s;
  return std::vector<uint8_t>(item.payload.begin(), item.payload.end());
}

absl::Status ToFixedBytes(const Item& item, absl::Span<uint8_t> out) {
  absl::Status s = ExpectBytes(item);
  if (!s.ok()) return s;
  if (item.payload.size() != out.size()) {
    return Error(
        absl::StrCat("input string too ", item.payload.size() > out.size() ? "long" : "short",
                     " for [", out.size(), "]byte (", item.payload.size(), " bytes)"),
        item.offset);
  }
  std::copy(item.payload.begin(), item.payload.end(), out.begin());
  return absl::OkStatus();
}

// ---- ListReader ----

ListReader::ListReader(const Item& list)
    : rest_(list.payload), rest_offset_(list.offset + (list.encoded.size() - list.payload.size())) {
  ABSL_RAW_CHECK(list.kind == Item::kList, "rlp::ListReader needs a list item");
}

absl::StatusOr<ListReader> ListReader::Open(const Item& item) {
  if (item.kind != Item::kList) return Error("expected input list", item.offset);
  return ListReader(item);
}

absl::StatusOr<Item> ListReader::Next() {
  if (rest_.empty()) return Error("input list has too few elements", rest_offset_);
  Header h;
  absl::Status s = ParseHeader(rest_, rest_offset_, /*in_list=*/true, &h);
  if (!s.ok()) return s;
  Item item = MakeItem(rest_, rest_offset_, h);
  rest_.remove_prefix(item.encoded.size());
  rest_offset_ += item.encoded.size();
  return item;
}

absl::StatusOr<uint64_t> ListReader::NextUint() {
  absl::StatusOr<Item> item = Next();
  if (!item.ok()) return item.status();
  return ToUint64(*item);
}

absl::StatusOr<std::vector<uint8_t>> ListReader::NextBytes() {
  absl::StatusOr<Item> item = Next();
  if (!item.ok()) return item.status();
  return ToBytes(*item);
}

absl::Status ListReader::NextFixedBytes(absl::Span<uint8_t> out) {
  absl::StatusOr<Item> item = Next();
  if (!item.ok()) return item.status();
  return ToFixedBytes(*item, out);
}

absl::StatusOr<ListReader> ListReader::NextList() {
  absl::StatusOr<Item> item = Next();
  if (!item.ok()) return item.status();
  return Open(*item);
}

}  // namespace rlp
}  // namespace p2p
