// Helpers shared by the fuzz targets in tests/fuzz (testonly).
//
// FailInput reports a broken property: "<target>: <what>" and the input in
// hex on stderr, then abort(), which libFuzzer and the replay runner
// (replay_main.cc) both report as a crash of that input.
//
// FixedKey is the EIP-8 test key: targets that must sign (to get mutated
// bodies past signature checks) sign with it, so corpus files stay valid
// across runs.
#ifndef P2P_TESTS_FUZZ_FUZZ_TESTING_H_
#define P2P_TESTS_FUZZ_FUZZ_TESTING_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/hex.h"

namespace p2p::fuzz {

[[noreturn]] inline void FailInput(absl::string_view target, absl::string_view what,
                                   absl::Span<const uint8_t> input) {
  std::fprintf(stderr, "%s: %s\ninput: %s\n", std::string(target).c_str(),
               std::string(what).c_str(), HexEncode(input).c_str());
  std::abort();
}

inline const PrivateKey& FixedKey() {
  static const PrivateKey* key = [] {
    absl::StatusOr<PrivateKey> k =
        PrivateKey::FromHex("b71c71a67e1177ad4e901695e1b4b9ee17ae16c6668d313eac2f96dbcda3f291");
    if (!k.ok()) std::abort();
    return new PrivateKey(*k);
  }();
  return *key;
}

}  // namespace p2p::fuzz

#endif  // P2P_TESTS_FUZZ_FUZZ_TESTING_H_
