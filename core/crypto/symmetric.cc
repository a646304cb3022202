#include "core/crypto/symmetric.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace p2p {
namespace {

const EVP_CIPHER* CtrCipher(size_t key_len) {
  return key_len == 16 ? EVP_aes_128_ctr() : EVP_aes_256_ctr();
}
const EVP_CIPHER* EcbCipher(size_t key_len) {
  return key_len == 16 ? EVP_aes_128_ecb() : EVP_aes_256_ecb();
}

}  // namespace

struct AesCtr::State {
  EVP_CIPHER_CTX* ctx = nullptr;
  ~State() { EVP_CIPHER_CTX_free(ctx); }
};

AesCtr::AesCtr(std::unique_ptr<State> s) : s_(std::move(s)) {}
AesCtr::AesCtr(AesCtr&&) noexcept = default;
AesCtr& AesCtr::operator=(AesCtr&&) noexcept = default;
AesCtr::~AesCtr() = default;

absl::StatusOr<AesCtr> AesCtr::Create(absl::Span<const uint8_t> key, absl::Span<const uint8_t> iv) {
  if (key.size() != 16 && key.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-CTR: key must be 16 or 32 bytes, got ", key.size()));
  }
  if (iv.size() != 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES-CTR: IV must be 16 bytes, got ", iv.size()));
  }
  auto s = std::make_unique<State>();
  s->ctx = EVP_CIPHER_CTX_new();
  if (s->ctx == nullptr ||
      EVP_EncryptInit_ex(s->ctx, CtrCipher(key.size()), nullptr, key.data(), iv.data()) != 1) {
    return absl::InternalError("AES-CTR: OpenSSL cipher initialisation failed");
  }
  return AesCtr(std::move(s));
}

void AesCtr::Apply(absl::Span<const uint8_t> in, absl::Span<uint8_t> out) {
  ABSL_RAW_CHECK(in.size() == out.size(), "AesCtr::Apply: size mismatch");
  size_t done = 0;
  // EVP_EncryptUpdate takes an int length; feed large inputs in pieces.
  while (done < in.size()) {
    int n = static_cast<int>(std::min<size_t>(in.size() - done, 1 << 30));
    int outl = 0;
    if (EVP_EncryptUpdate(s_->ctx, out.data() + done, &outl, in.data() + done, n) != 1 ||
        outl != n) {
      ABSL_RAW_LOG(FATAL, "AES-CTR: EVP_EncryptUpdate failed");
    }
    done += static_cast<size_t>(n);
  }
}

struct AesBlock::State {
  EVP_CIPHER_CTX* ctx = nullptr;
  ~State() { EVP_CIPHER_CTX_free(ctx); }
};

AesBlock::AesBlock(std::unique_ptr<State> s) : s_(std::move(s)) {}
AesBlock::AesBlock(AesBlock&&) noexcept = default;
AesBlock& AesBlock::operator=(AesBlock&&) noexcept = default;
AesBlock::~AesBlock() = default;

absl::StatusOr<AesBlock> AesBlock::Create(absl::Span<const uint8_t> key) {
  if (key.size() != 16 && key.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("AES: key must be 16 or 32 bytes, got ", key.size()));
  }
  auto s = std::make_unique<State>();
  s->ctx = EVP_CIPHER_CTX_new();
  if (s->ctx == nullptr ||
      EVP_EncryptInit_ex(s->ctx, EcbCipher(key.size()), nullptr, key.data(), nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(s->ctx, 0) != 1) {
    return absl::InternalError("AES: OpenSSL cipher initialisation failed");
  }
  return AesBlock(std::move(s));
}

void AesBlock::Encrypt(const uint8_t in[16], uint8_t out[16]) {
  int outl = 0;
  if (EVP_EncryptUpdate(s_->ctx, out, &outl, in, 16) != 1 || outl != 16) {
    ABSL_RAW_LOG(FATAL, "AES: EVP_EncryptUpdate failed");
  }
}

std::array<uint8_t, 32> Sha256(absl::Span<const uint8_t> data) {
  std::array<uint8_t, 32> out;
  ::SHA256(data.data(), data.size(), out.data());
  return out;
}

std::array<uint8_t, 32> HmacSha256(absl::Span<const uint8_t> key,
                                   std::initializer_list<absl::Span<const uint8_t>> parts) {
  std::array<uint8_t, 32> out{};
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  ABSL_RAW_CHECK(mac != nullptr, "HMAC: EVP_MAC_fetch failed");
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string("digest", const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end(),
  };
  bool ok = ctx != nullptr && EVP_MAC_init(ctx, key.data(), key.size(), params) == 1;
  for (const auto& p : parts) ok = ok && EVP_MAC_update(ctx, p.data(), p.size()) == 1;
  size_t outl = 0;
  ok = ok && EVP_MAC_final(ctx, out.data(), &outl, out.size()) == 1 && outl == 32;
  EVP_MAC_CTX_free(ctx);
  EVP_MAC_free(mac);
  ABSL_RAW_CHECK(ok, "HMAC-SHA256: OpenSSL failed");
  return out;
}

bool ConstantTimeEqual(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace p2p
