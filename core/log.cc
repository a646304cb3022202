#include "core/log.h"

namespace p2p {

absl::string_view LogLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kTrace:
      return "TRACE";
  }
  return "?";
}

Logger* DiscardLogger() {
  static NullLogger* const kLogger = new NullLogger();
  return kLogger;
}

}  // namespace p2p
