#include "core/rlpx/ecies.h"

#include <algorithm>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/crypto/symmetric.h"

namespace p2p::rlpx {
namespace {

constexpr size_t kRBytes = 65;
constexpr size_t kIvBytes = 16;
constexpr size_t kTagBytes = 32;
constexpr size_t kKeyBytes = 16;  // AES-128; kM is SHA-256 of the other half.

struct DerivedKeys {
  std::array<uint8_t, kKeyBytes> ke;
  std::array<uint8_t, 32> km;
};

// NIST SP 800-56 concatenation KDF with SHA-256 and empty s1, cut to
// 2 * kKeyBytes = 32 bytes (a single round, counter = 1), then
// kM = SHA-256(second half), as go-ethereum's deriveKeys.
DerivedKeys DeriveKeys(const std::array<uint8_t, 32>& z) {
  std::array<uint8_t, 4 + 32> input;
  input[0] = 0;
  input[1] = 0;
  input[2] = 0;
  input[3] = 1;
  std::copy(z.begin(), z.end(), input.begin() + 4);
  const std::array<uint8_t, 32> k = Sha256(input);
  DerivedKeys keys;
  std::copy(k.begin(), k.begin() + kKeyBytes, keys.ke.begin());
  keys.km = Sha256(absl::MakeConstSpan(k.data() + kKeyBytes, kKeyBytes));
  return keys;
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> EciesEncryptWith(const PublicKey& remote,
                                                      const PrivateKey& ephemeral,
                                                      const std::array<uint8_t, 16>& iv,
                                                      absl::Span<const uint8_t> plaintext,
                                                      absl::Span<const uint8_t> shared_mac_data) {
  absl::StatusOr<std::array<uint8_t, 32>> z = Ecdh(ephemeral, remote);
  if (!z.ok()) return absl::InvalidArgumentError(absl::StrCat("ecies: ", z.status().message()));
  const DerivedKeys keys = DeriveKeys(*z);

  std::vector<uint8_t> wire(plaintext.size() + kEciesOverhead);
  const std::array<uint8_t, 65> r = DerivePublicKey(ephemeral).SerializeUncompressed65();
  std::copy(r.begin(), r.end(), wire.begin());
  std::copy(iv.begin(), iv.end(), wire.begin() + kRBytes);
  const absl::Span<uint8_t> ct = absl::MakeSpan(wire.data() + kRBytes + kIvBytes, plaintext.size());

  absl::StatusOr<AesCtr> aes = AesCtr::Create(keys.ke, iv);
  if (!aes.ok()) return aes.status();
  aes->Apply(plaintext, ct);

  const std::array<uint8_t, 32> tag = HmacSha256(
      keys.km, {absl::MakeConstSpan(wire.data() + kRBytes, kIvBytes + plaintext.size()), shared_mac_data});
  std::copy(tag.begin(), tag.end(), wire.end() - kTagBytes);
  return wire;
}

absl::StatusOr<std::vector<uint8_t>> EciesEncrypt(const PublicKey& remote,
                                                  absl::Span<const uint8_t> plaintext,
                                                  absl::Span<const uint8_t> shared_mac_data,
                                                  Entropy& entropy) {
  const PrivateKey ephemeral = PrivateKey::Generate(entropy);
  std::array<uint8_t, 16> iv;
  entropy.Fill(absl::MakeSpan(iv));
  return EciesEncryptWith(remote, ephemeral, iv, plaintext, shared_mac_data);
}

absl::StatusOr<std::vector<uint8_t>> EciesDecrypt(const PrivateKey& priv,
                                                  absl::Span<const uint8_t> wire,
                                                  absl::Span<const uint8_t> shared_mac_data) {
  if (wire.size() < kEciesOverhead) {
    return absl::InvalidArgumentError(absl::StrCat("ecies: message too short: ", wire.size(),
                                                   " bytes, need at least ", kEciesOverhead));
  }
  if (wire[0] != 0x04) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ecies: invalid public key prefix 0x%02x (want 0x04)", wire[0]));
  }
  absl::StatusOr<PublicKey> r = PublicKey::Parse(wire.subspan(0, kRBytes));
  if (!r.ok()) return absl::InvalidArgumentError(absl::StrCat("ecies: ", r.status().message()));
  absl::StatusOr<std::array<uint8_t, 32>> z = Ecdh(priv, *r);
  if (!z.ok()) return absl::InvalidArgumentError(absl::StrCat("ecies: ", z.status().message()));
  const DerivedKeys keys = DeriveKeys(*z);

  const size_t body_end = wire.size() - kTagBytes;
  const absl::Span<const uint8_t> iv_and_ct = wire.subspan(kRBytes, body_end - kRBytes);
  const std::array<uint8_t, 32> tag = HmacSha256(keys.km, {iv_and_ct, shared_mac_data});
  if (!ConstantTimeEqual(tag, wire.subspan(body_end))) {
    return absl::InvalidArgumentError("ecies: invalid message tag");
  }

  absl::StatusOr<AesCtr> aes = AesCtr::Create(keys.ke, iv_and_ct.subspan(0, kIvBytes));
  if (!aes.ok()) return aes.status();
  const absl::Span<const uint8_t> ct = iv_and_ct.subspan(kIvBytes);
  std::vector<uint8_t> plaintext(ct.size());
  aes->Apply(ct, absl::MakeSpan(plaintext));
  return plaintext;
}

}  // namespace p2p::rlpx
