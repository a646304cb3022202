#include "core/crypto/secp256k1.h"

#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_recovery.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/hex.h"

namespace p2p {
namespace {

secp256k1_context* MutableContext() {
  // Created once, on first use, never destroyed (it must outlive every
  // static that might still sign or verify during shutdown).
  static secp256k1_context* const ctx = [] {
    secp256k1_context* c = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    ABSL_RAW_CHECK(c != nullptr, "secp256k1_context_create failed");
    return c;
  }();
  return ctx;
}

const secp256k1_context* Context() { return MutableContext(); }

// Parses our 64-byte X || Y form into the library's opaque point.
bool ToLibraryPoint(const std::array<uint8_t, 64>& xy, secp256k1_pubkey* out) {
  uint8_t buf[65];
  buf[0] = 0x04;
  std::memcpy(buf + 1, xy.data(), 64);
  return secp256k1_ec_pubkey_parse(Context(), out, buf, sizeof(buf)) == 1;
}

std::array<uint8_t, 64> FromLibraryPoint(const secp256k1_pubkey& p) {
  uint8_t buf[65];
  size_t len = sizeof(buf);
  int ok = secp256k1_ec_pubkey_serialize(Context(), buf, &len, &p, SECP256K1_EC_UNCOMPRESSED);
  ABSL_RAW_CHECK(ok == 1 && len == 65 && buf[0] == 0x04, "secp256k1_ec_pubkey_serialize failed");
  std::array<uint8_t, 64> xy;
  std::memcpy(xy.data(), buf + 1, 64);
  return xy;
}

// secp256k1_ecdh hashes the shared point through this callback; ours copies
// the X coordinate unchanged (go-ethereum's ecies uses the raw X).
int CopyX(unsigned char* output, const unsigned char* x32, const unsigned char* y32, void* data) {
  std::memcpy(output, x32, 32);
  return 1;
}

void Wipe(uint8_t* p, size_t n) {
  volatile uint8_t* v = p;
  for (size_t i = 0; i < n; ++i) v[i] = 0;
}

}  // namespace

// ---------------------------------------------------------------------------
// PrivateKey

absl::StatusOr<PrivateKey> PrivateKey::FromBytes(absl::Span<const uint8_t> bytes) {
  if (bytes.size() != kBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid private key length ", bytes.size(), " (want 32 bytes)"));
  }
  if (secp256k1_ec_seckey_verify(Context(), bytes.data()) != 1) {
    return absl::InvalidArgumentError(
        "invalid private key: scalar is zero or not below the secp256k1 group order");
  }
  PrivateKey k;
  std::copy(bytes.begin(), bytes.end(), k.b_.begin());
  return k;
}

absl::StatusOr<PrivateKey> PrivateKey::FromHex(absl::string_view hex) {
  absl::StatusOr<std::vector<uint8_t>> b = HexDecode(hex);
  if (!b.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid private key hex: ", b.status().message()));
  }
  absl::StatusOr<PrivateKey> k = FromBytes(*b);
  Wipe(b->data(), b->size());
  return k;
}

PrivateKey PrivateKey::Generate(Entropy& entropy) {
  PrivateKey k;
  do {
    entropy.Fill(absl::MakeSpan(k.b_));
  } while (secp256k1_ec_seckey_verify(Context(), k.b_.data()) != 1);
  return k;
}

PrivateKey::~PrivateKey() { Wipe(b_.data(), b_.size()); }

// ---------------------------------------------------------------------------
// PublicKey

absl::StatusOr<PublicKey> PublicKey::Parse(absl::Span<const uint8_t> bytes) {
  uint8_t buf[65];
  size_t len = 0;
  switch (bytes.size()) {
    case 64:
      buf[0] = 0x04;
      std::memcpy(buf + 1, bytes.data(), 64);
      len = 65;
      break;
    case 65:
      // libsecp256k1 would also take the "hybrid" prefixes 0x06/0x07, which
      // go-ethereum (elliptic.Unmarshal) rejects; so do we.
      if (bytes[0] != 0x04) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "invalid public key: 65-byte key must start with 0x04, got 0x%02x", bytes[0]));
      }
      std::memcpy(buf, bytes.data(), 65);
      len = 65;
      break;
    case 33:
      if (bytes[0] != 0x02 && bytes[0] != 0x03) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "invalid public key: compressed key must start with 0x02 or 0x03, got 0x%02x",
            bytes[0]));
      }
      std::memcpy(buf, bytes.data(), 33);
      len = 33;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid public key length ", bytes.size(), " (want 64, 65 or 33 bytes)"));
  }
  secp256k1_pubkey point;
  if (secp256k1_ec_pubkey_parse(Context(), &point, buf, len) != 1) {
    return absl::InvalidArgumentError(
        len == 33 ? "invalid public key: X is not the coordinate of a secp256k1 curve point"
                  : "invalid public key: not a point on the secp256k1 curve");
  }
  PublicKey k;
  k.b_ = FromLibraryPoint(point);
  return k;
}

absl::StatusOr<PublicKey> PublicKey::FromHex(absl::string_view hex) {
  absl::StatusOr<std::vector<uint8_t>> b = HexDecode(hex);
  if (!b.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("invalid public key hex: ", b.status().message()));
  }
  return Parse(*b);
}

bool PublicKey::IsZero() const {
  return std::all_of(b_.begin(), b_.end(), [](uint8_t v) { return v == 0; });
}

std::array<uint8_t, 65> PublicKey::SerializeUncompressed65() const {
  std::array<uint8_t, 65> out;
  out[0] = 0x04;
  std::copy(b_.begin(), b_.end(), out.begin() + 1);
  return out;
}

std::array<uint8_t, 33> PublicKey::SerializeCompressed33() const {
  std::array<uint8_t, 33> out;
  out[0] = static_cast<uint8_t>(0x02 | (b_[63] & 1));
  std::copy(b_.begin(), b_.begin() + 32, out.begin() + 1);
  return out;
}

std::string PublicKey::ToHex() const { return HexEncode(b_); }

// ---------------------------------------------------------------------------
// Operations

PublicKey DerivePublicKey(const PrivateKey& priv) {
  secp256k1_pubkey point;
  // Cannot fail: a PrivateKey is always a valid scalar.
  int ok = secp256k1_ec_pubkey_create(Context(), &point, priv.bytes().data());
  ABSL_RAW_CHECK(ok == 1, "secp256k1_ec_pubkey_create rejected a valid private key");
  absl::StatusOr<PublicKey> pub = PublicKey::Parse(FromLibraryPoint(point));
  ABSL_RAW_CHECK(pub.ok(), "derived public key does not parse");
  return *pub;
}

absl::StatusOr<std::array<uint8_t, 32>> Ecdh(const PrivateKey& priv, const PublicKey& pub) {
  secp256k1_pubkey point;
  if (!ToLibraryPoint(pub.bytes(), &point)) {
    return absl::InvalidArgumentError("ECDH: public key is not a point on the secp256k1 curve");
  }
  std::array<uint8_t, 32> x;
  if (secp256k1_ecdh(Context(), x.data(), &point, priv.bytes().data(), CopyX, nullptr) != 1) {
    return absl::InternalError("ECDH: secp256k1_ecdh failed");
  }
  return x;
}

absl::StatusOr<std::array<uint8_t, 65>> SignRecoverable(const PrivateKey& priv,
                                                        absl::Span<const uint8_t> hash) {
  if (hash.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("sign: hash must be 32 bytes, got ", hash.size()));
  }
  secp256k1_ecdsa_recoverable_signature sig;
  // nullptr nonce function = RFC 6979, as go-ethereum's secp256k1 binding.
  if (secp256k1_ecdsa_sign_recoverable(Context(), &sig, hash.data(), priv.bytes().data(), nullptr,
                                       nullptr) != 1) {
    return absl::InternalError("sign: secp256k1_ecdsa_sign_recoverable failed");
  }
  std::array<uint8_t, 65> out;
  int recid = -1;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(Context(), out.data(), &recid, &sig);
  ABSL_RAW_CHECK(recid >= 0 && recid <= 3, "recovery id out of range");
  out[64] = static_cast<uint8_t>(recid);
  return out;
}

absl::StatusOr<PublicKey> RecoverPublicKey(absl::Span<const uint8_t> hash,
                                           absl::Span<const uint8_t> sig) {
  if (hash.size() != 32) {
    return absl::InvalidArgumentError(
        absl::StrCat("recover: hash must be 32 bytes, got ", hash.size()));
  }
  if (sig.size() != 65) {
    return absl::InvalidArgumentError(
        absl::StrCat("recover: signature must be 65 bytes, got ", sig.size()));
  }
  if (sig[64] > 3) {
    return absl::InvalidArgumentError(
        absl::StrCat("recover: invalid signature recovery id ", sig[64], " (want 0..3)"));
  }
  secp256k1_ecdsa_recoverable_signature parsed;
  if (secp256k1_ecdsa_recoverable_signature_parse_compact(Context(), &parsed, sig.data(),
                                                          sig[64]) != 1) {
    return absl::InvalidArgumentError("recover: signature r or s is not below the group order");
  }
  secp256k1_pubkey point;
  if (secp256k1_ecdsa_recover(Context(), &point, &parsed, hash.data()) != 1) {
    return absl::InvalidArgumentError("recover: invalid signature, no public key recovers");
  }
  absl::StatusOr<PublicKey> pub = PublicKey::Parse(FromLibraryPoint(point));
  ABSL_RAW_CHECK(pub.ok(), "recovered public key does not parse");
  return *pub;
}

bool VerifySignature(const PublicKey& pub, absl::Span<const uint8_t> hash,
                     absl::Span<const uint8_t> sig) {
  if (hash.size() != 32 || sig.size() != 64) return false;
  secp256k1_pubkey point;
  if (!ToLibraryPoint(pub.bytes(), &point)) return false;
  secp256k1_ecdsa_signature parsed;
  if (secp256k1_ecdsa_signature_parse_compact(Context(), &parsed, sig.data()) != 1) return false;
  // secp256k1_ecdsa_verify itself rejects a non-normalized (high) s.
  return secp256k1_ecdsa_verify(Context(), &parsed, hash.data(), &point) == 1;
}

absl::Status RandomizeSecp256k1Context(Entropy& entropy) {
  uint8_t seed[32];
  entropy.Fill(absl::MakeSpan(seed));
  int ok = secp256k1_context_randomize(MutableContext(), seed);
  Wipe(seed, sizeof(seed));
  if (ok != 1) return absl::InternalError("secp256k1_context_randomize failed");
  return absl::OkStatus();
}

}  // namespace p2p
