// Default-build driver for fuzz targets (see tools/fuzz.bzl): replays every
// corpus file named on the command line, then a fixed number of inputs
// mutated from them with a seeded Rng, so the run is deterministic. A crash
// or sanitizer report fails the test; the input is printed in hex first.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/rng.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr int kMutatedInputs = 20000;
constexpr size_t kMaxInputBytes = 4096;

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void Mutate(p2p::Rng& rng, std::vector<uint8_t>& v) {
  int edits = 1 + rng.Intn(4);
  for (int e = 0; e < edits; ++e) {
    switch (rng.Intn(5)) {
      case 0:  // flip a byte
        if (!v.empty()) v[rng.Uniform(v.size())] ^= static_cast<uint8_t>(1 + rng.Intn(255));
        break;
      case 1:  // insert a byte
        if (v.size() < kMaxInputBytes)
          v.insert(v.begin() + rng.Uniform(v.size() + 1), static_cast<uint8_t>(rng.Intn(256)));
        break;
      case 2:  // delete a byte
        if (!v.empty()) v.erase(v.begin() + rng.Uniform(v.size()));
        break;
      case 3:  // truncate
        if (!v.empty()) v.resize(rng.Uniform(v.size()));
        break;
      default:  // set an interesting value
        if (!v.empty()) {
          static const uint8_t kInteresting[] = {0x00, 0x7f, 0x80, 0x81, 0xb7, 0xb8,
                                                 0xbf, 0xc0, 0xf7, 0xf8, 0xff};
          v[rng.Uniform(v.size())] = kInteresting[rng.Uniform(sizeof(kInteresting))];
        }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::vector<uint8_t>> corpus;
  for (int i = 1; i < argc; ++i) corpus.push_back(ReadFile(argv[i]));
  for (const auto& input : corpus) LLVMFuzzerTestOneInput(input.data(), input.size());
  p2p::Rng rng(0x5eed);
  for (int i = 0; i < kMutatedInputs; ++i) {
    std::vector<uint8_t> v;
    if (!corpus.empty() && rng.Chance(7, 8)) {
      v = corpus[rng.Uniform(corpus.size())];
    } else {
      v.resize(rng.Uniform(64));
      rng.Fill(absl::MakeSpan(v));
    }
    Mutate(rng, v);
    LLVMFuzzerTestOneInput(v.data(), v.size());
  }
  std::printf("replayed %zu corpus inputs and %d mutated inputs\n", corpus.size(), kMutatedInputs);
  return 0;
}
