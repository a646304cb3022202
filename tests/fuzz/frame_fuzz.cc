// Fuzz target for RLPx framing (core/rlpx/frame.h) and the p2p base protocol
// decoders (core/rlpx/p2p_protocol.h). Input: mode byte, chunk byte, data.
//   mode bit 0: the raw-stream reader decompresses (snappy on);
//   mode bit 1: the round trip runs with snappy on both ends;
//   mode bit 2: the round trip's writer sends plain, its reader expects
//               snappy, so `data` is decoded as a snappy block;
//   mode >> 3:  the message code.
// Properties checked on every input:
//  - nothing crashes or reads out of bounds;
//  - `data` fed as a raw stream (in chunks from the chunk byte) to a reader
//    with fixed session secrets either yields messages or fails, and a
//    failure is final: later Next()/Feed() return the same status;
//  - (code, data) written by one end and fed in chunks to the other comes
//    back identical, exactly once, with nothing left buffered; with the
//    snappy mismatch it comes back as SnappyDecompress(data) or fails;
//  - DecodeHello/DecodeDisconnect/ReadProtocolHandshake accept or reject
//    `data` and every delivered payload; an accepted Hello re-encodes to a
//    Hello that decodes to the same fields.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "core/crypto/keccak.h"
#include "core/hex.h"
#include "core/rlpx/frame.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/secrets.h"
#include "core/rlpx/snappy_codec.h"
#include "tests/fuzz/fuzz_testing.h"

namespace {

using p2p::rlpx::FrameCodec;
using p2p::rlpx::Message;
using p2p::rlpx::Secrets;

[[noreturn]] void Fail(absl::string_view what, absl::Span<const uint8_t> input) {
  p2p::fuzz::FailInput("frame_fuzz", what, input);
}

// Session secrets for two ends A and B with mirrored MAC states (A's egress
// is B's ingress). Built once; fixed so corpus frames stay valid.
struct Ends {
  Secrets a;
  Secrets b;
};

const Ends& FixedEnds() {
  static const Ends* ends = [] {
    auto* e = new Ends;
    std::vector<uint8_t> aes =
        p2p::HexOrDie("80e8632c05fed6fc2a13b0f8d31a3cf645366239170ea067065aba8e28bac487");
    std::vector<uint8_t> mac =
        p2p::HexOrDie("2ea74ec5dae199227dff1af715362700e989d889d7a493cb0639691efb8e5f98");
    p2p::Keccak256 a_to_b;
    a_to_b.Update(absl::string_view("frame_fuzz a->b"));
    p2p::Keccak256 b_to_a;
    b_to_a.Update(absl::string_view("frame_fuzz b->a"));
    for (Secrets* s : {&e->a, &e->b}) {
      std::copy(aes.begin(), aes.end(), s->aes.begin());
      std::copy(mac.begin(), mac.end(), s->mac.begin());
    }
    e->a.egress_mac = a_to_b;
    e->a.ingress_mac = b_to_a;
    e->b.egress_mac = b_to_a;
    e->b.ingress_mac = a_to_b;
    return e;
  }();
  return *ends;
}

FrameCodec Codec(const Secrets& s, absl::Span<const uint8_t> input) {
  absl::StatusOr<FrameCodec> c = FrameCodec::Create(s);
  if (!c.ok()) Fail("FrameCodec::Create failed", input);
  return std::move(*c);
}

void CheckProtocol(uint64_t code, absl::Span<const uint8_t> payload,
                   absl::Span<const uint8_t> input) {
  absl::StatusOr<p2p::rlpx::Hello> hello = p2p::rlpx::DecodeHello(payload);
  if (hello.ok()) {
    absl::StatusOr<p2p::rlpx::Hello> again = p2p::rlpx::DecodeHello(p2p::rlpx::EncodeHello(*hello));
    if (!again.ok() || again->version != hello->version || again->name != hello->name ||
        again->caps != hello->caps || again->listen_port != hello->listen_port ||
        again->id != hello->id || again->rest != hello->rest) {
      Fail("Hello does not survive re-encoding", input);
    }
  }
  p2p::rlpx::DisconnectReason r = p2p::rlpx::DecodeDisconnect(payload);
  if (p2p::rlpx::DecodeDisconnect(p2p::rlpx::EncodeDisconnect(r)) != r) {
    Fail("Disconnect does not survive re-encoding", input);
  }
  (void)p2p::rlpx::ReadProtocolHandshake(code, payload);
}

// Feeds `wire` in chunks whose sizes follow `chunk_seed`; collects messages.
absl::Status FeedAll(FrameCodec& c, absl::Span<const uint8_t> wire, uint8_t chunk_seed,
                     std::vector<Message>& got, absl::Span<const uint8_t> input) {
  uint32_t x = chunk_seed * 2654435761u + 1;
  size_t pos = 0;
  for (;;) {
    size_t n = 0;
    if (pos < wire.size()) {
      x = x * 1103515245u + 12345u;
      n = std::min<size_t>(wire.size() - pos, 1 + (x >> 16) % (1 + chunk_seed));
      absl::Status s = c.Feed(wire.subspan(pos, n));
      if (!s.ok()) return s;
      pos += n;
    }
    for (;;) {
      absl::StatusOr<std::optional<Message>> m = c.Next();
      if (!m.ok()) {
        // Errors are final.
        if (c.Next().status() != m.status() || c.Feed(wire.first(0)) != m.status() ||
            !c.reader().failed()) {
          Fail("reader error is not sticky", input);
        }
        return m.status();
      }
      if (!m->has_value()) break;
      got.push_back(std::move(**m));
    }
    if (pos == wire.size()) return absl::OkStatus();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::Span<const uint8_t> input(data, size);
  if (size < 2) {
    CheckProtocol(0, input, input);
    return 0;
  }
  const uint8_t mode = data[0];
  const uint8_t chunk = data[1];
  const uint64_t code = mode >> 3;
  absl::Span<const uint8_t> body = input.subspan(2);
  const Ends& ends = FixedEnds();

  // 1. Arbitrary bytes as B's ingress stream.
  {
    FrameCodec b = Codec(ends.b, input);
    b.reader().SetSnappy(mode & 1);
    std::vector<Message> got;
    (void)FeedAll(b, body, chunk, got, input);
    for (const Message& m : got) CheckProtocol(m.code, m.payload, input);
  }

  // 2. (code, body) framed by A and read by B.
  {
    FrameCodec a = Codec(ends.a, input);
    FrameCodec b = Codec(ends.b, input);
    const bool both = mode & 2;
    const bool mismatch = !both && (mode & 4);
    a.SetSnappy(both);
    b.SetSnappy(both);
    if (mismatch) b.reader().SetSnappy(true);
    std::vector<uint8_t> wire;
    if (!a.WriteMessage(code, body, wire).ok()) Fail("WriteMessage failed", input);
    std::vector<Message> got;
    absl::Status s = FeedAll(b, wire, chunk, got, input);
    if (mismatch) {
      absl::StatusOr<std::vector<uint8_t>> plain =
          p2p::rlpx::SnappyDecompress(body, p2p::rlpx::kMaxFrameSize);
      // The reader takes a tiny Disconnect that is not valid snappy as raw
      // bytes (ethereumjs sends it uncompressed).
      const bool raw_disconnect = !plain.ok() && code == 0x01 && body.size() <= 2;
      if ((plain.ok() || raw_disconnect) != s.ok())
        Fail("reader and SnappyDecompress disagree", input);
      if (s.ok() && !raw_disconnect && (got.size() != 1 || got[0].payload != *plain)) {
        Fail("snappy payload differs", input);
      }
      if (s.ok() && raw_disconnect &&
          (got.size() != 1 || absl::Span<const uint8_t>(got[0].payload) != body)) {
        Fail("raw disconnect payload differs", input);
      }
    } else {
      if (!s.ok()) Fail("round trip failed", input);
      if (got.size() != 1 || got[0].code != code ||
          absl::Span<const uint8_t>(got[0].payload) != body) {
        Fail("round trip changed the message", input);
      }
    }
    if (s.ok() && b.reader().buffered_bytes() != 0) Fail("bytes left buffered", input);
  }

  // 3. The data as a base protocol payload.
  CheckProtocol(code, body, input);
  return 0;
}
