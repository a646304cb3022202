// Recursive Length Prefix (RLP), the serialisation of devp2p, discv4 and
// RLPx (https://ethereum.org/developers/docs/data-structures-and-encoding/rlp).
//
// Decoding is strict: only the canonical encoding of a value is accepted, so
// every value has exactly one encoding and re-encoding a decoded item gives
// back the input bytes. Error messages follow go-ethereum's rlp package
// ("rlp: non-canonical size information", ...) and end with the byte offset
// of the offending item in the decoded buffer. All errors are
// kInvalidArgument.
#ifndef P2P_CORE_RLP_RLP_H_
#define P2P_CORE_RLP_RLP_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace p2p {
namespace rlp {

// Lists nested deeper than this are rejected when decoding (a top-level list
// has depth 1). devp2p messages nest at most a handful of levels; the bound
// keeps recursion and work per byte small for hostile input.
constexpr int kMaxDepth = 64;

// Builds one encoding (or a sequence of top-level items) in memory. Lists are
// opened with BeginList and closed with EndList; their length prefixes are
// inserted once, in Finish, so nesting costs O(total size) whatever the depth.
// Not thread-safe; reusable after Finish.
class Encoder {
 public:
  Encoder() = default;

  // A byte string. A single byte below 0x80 is its own encoding.
  void AddBytes(absl::Span<const uint8_t> bytes);
  void AddString(absl::string_view s);
  // An integer as a minimal big-endian byte string: 0 -> 0x80, 15 -> 0x0f,
  // 1024 -> 0x820400.
  void AddUint(uint64_t v);
  // An arbitrary-width unsigned integer given big-endian (e.g. a uint256);
  // leading zero bytes are stripped, so all-zero or empty input gives 0x80.
  void AddUintBytes(absl::Span<const uint8_t> big_endian);
  // Bytes that already are one or more complete RLP items; copied verbatim
  // (the caller vouches for them).
  void AddRaw(absl::Span<const uint8_t> already_encoded);

  void BeginList();
  // Closes the innermost open list. Crashes if none is open.
  void EndList();

  // Returns the encoding and resets the encoder. Crashes if a list is still
  // open.
  std::vector<uint8_t> Finish();

  // Bytes encoded so far, counting the prefixes of closed lists but not those
  // of lists still open.
  size_t size() const { return out_.size() + closed_headers_size_; }

 private:
  struct ListHead {
    size_t offset;        // Position in out_ where the header goes.
    size_t payload_size;  // While open: size() at BeginList; then the payload size.
  };
  void AddHeader(uint8_t short_base, size_t payload_size);

  std::vector<uint8_t> out_;     // Everything except list headers.
  std::vector<ListHead> lists_;  // In BeginList order (= output order).
  std::vector<size_t> open_;     // Indices into lists_ of open lists.
  size_t closed_headers_size_ = 0;
};

// One decoded item: a view into the caller's buffer, which must outlive it.
struct Item {
  enum Kind { kBytes, kList };
  Kind kind = kBytes;
  // The string's bytes, or the concatenated encodings of the list's items.
  absl::Span<const uint8_t> payload;
  // The whole item including its prefix.
  absl::Span<const uint8_t> encoded;
  // Position of `encoded` in the buffer originally decoded (for errors).
  size_t offset = 0;

  bool is_list() const { return kind == kList; }
};

// Decodes exactly one item filling `input`: trailing bytes are an error.
// The whole tree is validated (canonical sizes, list payloads exactly
// consumed by their items, depth <= kMaxDepth), so walking it afterwards
// with ListReader cannot fail on structure. `base_offset` is added to every
// reported offset (use it when `input` is a slice of a larger message).
absl::StatusOr<Item> DecodeExact(absl::Span<const uint8_t> input, size_t base_offset = 0);

// Decodes and validates the first item of `input`; returns it and the bytes
// after it (for a sequence of items in one buffer).
absl::StatusOr<std::pair<Item, absl::Span<const uint8_t>>> DecodeFirst(
    absl::Span<const uint8_t> input, size_t base_offset = 0);

// Typed views of a single item.
// Strict unsigned integer: a byte string of at most 8 bytes with no leading
// zero byte; 0 is 0x80 (a single 0x00 byte is non-canonical, as in geth).
absl::StatusOr<uint64_t> ToUint64(const Item& item);
// A copy of a byte string's payload (error for a list).
absl::StatusOr<std::vector<uint8_t>> ToBytes(const Item& item);
// A byte string of exactly out.size() bytes, copied into out.
absl::Status ToFixedBytes(const Item& item, absl::Span<uint8_t> out);
template <size_t N>
absl::StatusOr<std::array<uint8_t, N>> ToFixed(const Item& item) {
  std::array<uint8_t, N> out;
  absl::Status s = ToFixedBytes(item, absl::MakeSpan(out));
  if (!s.ok()) return s;
  return out;
}

// Iterates over the items of a list, in order. Each Next* call consumes one
// item. Callers may stop before AtEnd(): devp2p ignores extra trailing list
// elements for forward compatibility, and that policy is the caller's.
// A Next* call at the end fails with "rlp: input list has too few elements".
// A typed Next* call that fails still consumes the item.
// Each item's prefix is checked as it is read; a tree from DecodeExact or
// DecodeFirst is already fully checked. Items are views into the decoded
// buffer, which must outlive the reader. Copyable.
class ListReader {
 public:
  // `list` must be a list (crashes otherwise); use Open for untrusted kinds.
  explicit ListReader(const Item& list);
  // Fails with "rlp: expected input list" if `item` is a byte string.
  static absl::StatusOr<ListReader> Open(const Item& item);

  bool AtEnd() const { return rest_.empty(); }

  absl::StatusOr<Item> Next();
  absl::StatusOr<uint64_t> NextUint();
  absl::StatusOr<std::vector<uint8_t>> NextBytes();
  // The next item must be a byte string of exactly out.size() bytes.
  absl::Status NextFixedBytes(absl::Span<uint8_t> out);
  absl::StatusOr<ListReader> NextList();

 private:
  absl::Span<const uint8_t> rest_;  // Unread part of the list payload.
  size_t rest_offset_ = 0;          // Offset of rest_ in the decoded buffer.
};

}  // namespace rlp
}  // namespace p2p

#endif  // P2P_CORE_RLP_RLP_H_
