// Test double for RlpxConn::Handler, shared by the RLPx and server tests.
//
// RecordingHandler records every handler call, in order, and answers the two
// handshake checkpoints as the test configures it:
//  - `events` gets "enc", "hello", "msg" or "closed" per call; the typed
//    fields (enc_remote, hello, messages, closed, info) keep what each call
//    carried, and enc_ns / hello_ns / closed_ns the clock's time of the last
//    such call in nanoseconds (-1 until it happens, or always without a clock).
//  - At OnEncryptionHandshake / OnHello it calls ContinueHandshake() (the
//    default), does nothing (kHold: the test continues later) or calls
//    Disconnect(enc_reason / hello_reason), after recording the call.
//  - OnClosed resets `*owner` if set (what a server does with a finished
//    connection), after recording.
//  - Every call fails the running test (a gtest non-fatal failure) if it runs
//    inside another handler call of the same object: RlpxConn must never call
//    back inline from a call the handler made into it.
//
// The object is copyable so a fixture can start over with
// `h = RecordingHandler(&loop)`; the clock, if given, must outlive it.
// Methods are virtual (from Handler) so a test may subclass to act on a call,
// calling the base method to keep the record.
#ifndef P2P_CORE_RLPX_RLPX_CONN_TESTING_H_
#define P2P_CORE_RLPX_RLPX_CONN_TESTING_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "core/crypto/secp256k1.h"
#include "core/event_loop.h"
#include "core/rlpx/p2p_protocol.h"
#include "core/rlpx/rlpx_conn.h"

namespace p2p::rlpx {

class RecordingHandler : public RlpxConn::Handler {
 public:
  // What to do at a handshake checkpoint.
  enum class Answer { kContinue, kHold, kDisconnect };

  // `clock` stamps the *_ns fields; may be null (they then stay -1).
  explicit RecordingHandler(const Clock* clock = nullptr) : clock_(clock) {}

  void OnEncryptionHandshake(RlpxConn* conn, const PublicKey& remote) override;
  void OnHello(RlpxConn* conn, const Hello& hello) override;
  void OnMessage(RlpxConn* conn, uint64_t code, absl::Span<const uint8_t> payload) override;
  void OnClosed(RlpxConn* conn, const CloseInfo& info) override;

  // The received messages as "code:payload", the payload read as text, for
  // compact assertions on readable payloads.
  std::vector<std::string> MessageTexts() const;

  // Configuration.
  Answer at_enc = Answer::kContinue;
  DisconnectReason enc_reason = DisconnectReason::kRequested;
  Answer at_hello = Answer::kContinue;
  DisconnectReason hello_reason = DisconnectReason::kRequested;
  std::unique_ptr<RlpxConn>* owner = nullptr;

  // Record.
  std::vector<std::string> events;
  std::optional<PublicKey> enc_remote;
  std::optional<Hello> hello;
  std::vector<std::pair<uint64_t, std::vector<uint8_t>>> messages;
  int closed = 0;  // How many OnClosed calls (RlpxConn promises at most one).
  CloseInfo info{DisconnectReason::kInvalid, false, absl::OkStatus()};
  int64_t enc_ns = -1, hello_ns = -1, closed_ns = -1;

 private:
  void AnswerCheckpoint(RlpxConn* conn, Answer answer, DisconnectReason reason);
  void Enter();
  void Leave() { --depth_; }
  int64_t NowNs() const { return clock_ == nullptr ? -1 : ToNanos(clock_->Now()); }

  const Clock* clock_;
  int depth_ = 0;
};

}  // namespace p2p::rlpx

#endif  // P2P_CORE_RLPX_RLPX_CONN_TESTING_H_
