#include "core/crypto/symmetric.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <initializer_list>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace p2p {
namespace {

// OpenSSL 3 looks algorithms up by name (a provider fetch, with locks and
// string compares) whenever a legacy EVP_aes_*()/EVP_sha256() handle is used
// to initialise a context. Fetch each algorithm once per process instead;
// function-local statics are initialised thread-safely and never freed.
const EVP_CIPHER* FetchCipher(const char* name) {
  const EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, name, nullptr);
  if (c == nullptr) ABSL_RAW_LOG(FATAL, "OpenSSL: cipher %s unavailable", name);
  return c;
}

const EVP_CIPHER* CtrCipher(size_t key_len) {
  static const EVP_CIPHER* const aes128 = FetchCipher("AES-128-CTR");
  static const EVP_CIPHER* const aes256 = FetchCipher("AES-256-CTR");
  return key_len == 16 ? aes128 : aes256;
}
const EVP_CIPHER* EcbCipher(size_t key_len) {
  static const EVP_CIPHER* const aes128 = FetchCipher("AES-128-ECB");
  static const EVP_CIPHER* const aes256 = FetchCipher("AES-256-ECB");
  return key_len == 16 ? aes128 : aes256;
}

const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    const EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) ABSL_RAW_LOG(FATAL, "OpenSSL: SHA256 unavailable");
    return m;
  }();
  return md;
}

// One SHA-256 over the concatenation of `parts`, on a caller-owned context.
void Sha256Parts(EVP_MD_CTX* ctx, std::initializer_list<absl::Span<const uint8_t>> parts,
                 uint8_t out[32]) {
  bool ok = EVP_DigestInit_ex(ctx, Sha256Md(), nullptr) == 1;
  for (const auto& p : parts) ok = ok && EVP_DigestUpdate(ctx, p.data(), p.size()) == 1;
  unsigned int outl = 0;
  ok = ok && EVP_DigestFinal_ex(ctx, out, &outl) == 1 && outl == 32;
  ABSL_RAW_CHECK(ok, "SHA-256: OpenSSL failed");
}

class MdCtx {
 public:
  MdCtx() : ctx_(EVP_MD_CTX_new()) { ABSL_RAW_CHECK(ctx_ != nullptr, "EVP_MD_CTX_new"); }
  ~MdCtx() { EVP_MD_CTX_free(ctx_); }
  MdCtx(const MdCtx&) = delete;
  MdCtx& operator=(const MdCtx&) = delete;
  EVP_MD_CTX* get() { return ctx_; }

 private:
  EVP_MD_CTX* ctx_;
};

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
  MdCtx ctx;
  Sha256Parts(ctx.get(), {data}, out.data());
  return out;
}

// HMAC (RFC 2104) with SHA-256's 64-byte block, on the fetched digest.
std::array<uint8_t, 32> HmacSha256(absl::Span<const uint8_t> key,
                                   std::initializer_list<absl::Span<const uint8_t>> parts) {
  constexpr size_t kBlock = 64;
  MdCtx ctx;
  uint8_t k[kBlock] = {};
  if (key.size() > kBlock) {
    Sha256Parts(ctx.get(), {key}, k);
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  uint8_t pad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x36;
  bool ok = EVP_DigestInit_ex(ctx.get(), Sha256Md(), nullptr) == 1 &&
            EVP_DigestUpdate(ctx.get(), pad, kBlock) == 1;
  for (const auto& p : parts) ok = ok && EVP_DigestUpdate(ctx.get(), p.data(), p.size()) == 1;
  uint8_t inner[32];
  unsigned int outl = 0;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), inner, &outl) == 1 && outl == 32;
  ABSL_RAW_CHECK(ok, "HMAC-SHA256: OpenSSL failed");
  for (size_t i = 0; i < kBlock; ++i) pad[i] = k[i] ^ 0x5c;
  std::array<uint8_t, 32> out;
  Sha256Parts(ctx.get(), {absl::MakeConstSpan(pad), absl::MakeConstSpan(inner)}, out.data());
  OPENSSL_cleanse(k, sizeof(k));
  OPENSSL_cleanse(pad, sizeof(pad));
  return out;
}

bool ConstantTimeEqual(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace p2p
