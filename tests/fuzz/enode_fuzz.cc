// Fuzz target for ParseEnode: no input may crash it, and every URL it
// accepts must format (ToEnode) into a URL that parses back to the same
// Node and formats identically again.
//
// Almost any mutation of the 128 key digits leaves a point off the curve, so
// besides the raw input the target also checks the input's address part
// (from its first '@') behind a fixed valid key: that keeps the success
// path busy even under the default build's simple mutator.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "core/node.h"

namespace {

constexpr absl::string_view kValidKey =
    "1dd9d65c4552b5eb43d5ad55a2ee3f56c6cbc1c64a5c8d659f51fcd51bace243"
    "51232b8d7821617d2b29b54b81cdefb9b3e9c37d7fd5f63270bcc9e1a6f6a439";

[[noreturn]] void Fail(absl::string_view input, absl::string_view what) {
  std::fprintf(stderr, "enode_fuzz: %.*s\ninput: \"%s\"\n", static_cast<int>(what.size()),
               what.data(), absl::CHexEscape(input).c_str());
  std::abort();
}

void Check(absl::string_view input) {
  absl::StatusOr<p2p::Node> node = p2p::ParseEnode(input);
  if (!node.ok()) {
    if (node.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail(input, "error is not InvalidArgument: " + node.status().ToString());
    }
    if (node.status().message().empty()) Fail(input, "empty error message");
    return;
  }
  if (node->id != p2p::NodeId::FromPublicKey(node->pubkey)) Fail(input, "id is not keccak(pubkey)");
  const std::string url = node->ToEnode();
  absl::StatusOr<p2p::Node> again = p2p::ParseEnode(url);
  if (!again.ok()) {
    Fail(input, "ToEnode() does not re-parse: " + again.status().ToString() + " " + url);
  }
  if (*again != *node) Fail(input, "re-parsed node differs: " + url);
  if (again->ToEnode() != url) Fail(input, "ToEnode() is not stable: " + url);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  Check(input);
  size_t at = input.find('@');
  if (at != absl::string_view::npos) Check(absl::StrCat("enode://", kValidKey, input.substr(at)));
  return 0;
}
