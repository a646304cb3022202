#include "transport/openssl_entropy.h"

#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>

#include "absl/base/internal/raw_logging.h"

namespace p2p::transport {

void OpenSslEntropy::Fill(absl::Span<uint8_t> out) {
  // RAND_bytes takes an int length; feed large spans in pieces.
  while (!out.empty()) {
    const size_t n = std::min<size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
      char err[256];
      ERR_error_string_n(ERR_get_error(), err, sizeof(err));
      ABSL_RAW_LOG(FATAL, "RAND_bytes failed: %s", err);
    }
    out.remove_prefix(n);
  }
}

}  // namespace p2p::transport
