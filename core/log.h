// Logging seam. core/ formats messages but never writes them anywhere: the
// embedding (p2pnode, the simulator, tests) supplies a Logger. Levels follow
// go-ethereum's (Error..Trace); call sites check Enabled() before building
// expensive messages.
#ifndef P2P_CORE_LOG_H_
#define P2P_CORE_LOG_H_

#include "absl/strings/string_view.h"

namespace p2p {

enum class LogLevel { kError = 1, kWarn = 2, kInfo = 3, kDebug = 4, kTrace = 5 };

// Short upper-case name: "ERROR", "WARN", "INFO", "DEBUG", "TRACE".
absl::string_view LogLevelName(LogLevel level);

class Logger {
 public:
  virtual ~Logger() = default;
  virtual bool Enabled(LogLevel level) const = 0;
  // `msg` is one line without a trailing newline.
  virtual void Log(LogLevel level, absl::string_view msg) = 0;
};

// Discards everything.
class NullLogger : public Logger {
 public:
  bool Enabled(LogLevel) const override { return false; }
  void Log(LogLevel, absl::string_view) override {}
};

// A process-wide NullLogger, for components created without a logger.
Logger* DiscardLogger();

}  // namespace p2p

#endif  // P2P_CORE_LOG_H_
