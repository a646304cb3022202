#include "core/dial/dial_policy.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace p2p {

absl::string_view DialGenerationName(DialGeneration g) {
  switch (g) {
    case DialGeneration::kCurrent: return "current";
    case DialGeneration::kLegacy: return "legacy";
  }
  return "?";
}

absl::StatusOr<DialGeneration> ParseDialGeneration(absl::string_view name) {
  if (name == "current") return DialGeneration::kCurrent;
  if (name == "legacy") return DialGeneration::kLegacy;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown dial policy \"", name, "\" (want \"current\" or \"legacy\")"));
}

std::string DialFailureReason(const absl::Status& status) {
  absl::string_view msg = status.message();
  if (absl::StartsWith(msg, "dial tcp ")) {
    const size_t sep = msg.find(": ");
    if (sep != absl::string_view::npos) msg.remove_prefix(sep + 2);
  }
  return std::string(msg);
}

absl::string_view DialEventKindName(DialEvent::Kind kind) {
  switch (kind) {
    case DialEvent::Kind::kDialStart: return "dial-start";
    case DialEvent::Kind::kDialDone: return "dial-done";
    case DialEvent::Kind::kDiscard: return "discard";
    case DialEvent::Kind::kResolve: return "resolve";
    case DialEvent::Kind::kDnsLookup: return "dns-lookup";
    case DialEvent::Kind::kLookup: return "lookup";
    case DialEvent::Kind::kTaskTimeout: return "task-timeout";
  }
  return "?";
}

}  // namespace p2p
