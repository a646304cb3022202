// NewDialPolicy: picks the dialer generation.
#include <memory>
#include <utility>

#include "core/dial/dial_policy.h"
#include "core/dial/dial_scheduler.h"
#include "core/dial/legacy_dial.h"

namespace p2p {

absl::StatusOr<std::unique_ptr<DialPolicy>> NewDialPolicy(DialGeneration generation,
                                                          DialConfig config, DialDeps deps) {
  switch (generation) {
    case DialGeneration::kCurrent: {
      auto s = DialScheduler::Create(std::move(config), std::move(deps));
      if (!s.ok()) return s.status();
      return std::unique_ptr<DialPolicy>(std::move(*s));
    }
    case DialGeneration::kLegacy:
      return NewLegacyDialer(std::move(config), std::move(deps));
  }
  return absl::InvalidArgumentError("unknown dial generation");
}

}  // namespace p2p
