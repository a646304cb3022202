#include "transport/openssl_entropy.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "absl/base/internal/raw_logging.h"

namespace p2p::transport {
namespace {

void RandBytes(absl::Span<uint8_t> out) {
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

}  // namespace

OpenSslEntropy::~OpenSslEntropy() { OPENSSL_cleanse(buffer_.data(), buffer_.size()); }

void OpenSslEntropy::Fill(absl::Span<uint8_t> out) {
  if (out.empty()) return;
  if (out.size() > kBufferBytes) {
    RandBytes(out);
    return;
  }
  if (out.size() > available_) {
    RandBytes(absl::MakeSpan(buffer_));
    available_ = buffer_.size();
  }
  uint8_t* from = buffer_.data() + (buffer_.size() - available_);
  std::memcpy(out.data(), from, out.size());
  OPENSSL_cleanse(from, out.size());
  available_ -= out.size();
}

}  // namespace p2p::transport
