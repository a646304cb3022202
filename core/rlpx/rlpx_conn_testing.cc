#include "core/rlpx/rlpx_conn_testing.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace p2p::rlpx {

void RecordingHandler::OnEncryptionHandshake(RlpxConn* conn, const PublicKey& remote) {
  Enter();
  enc_remote = remote;
  enc_ns = NowNs();
  events.push_back("enc");
  AnswerCheckpoint(conn, at_enc, enc_reason);
  Leave();
}

void RecordingHandler::OnHello(RlpxConn* conn, const Hello& h) {
  Enter();
  hello = h;
  hello_ns = NowNs();
  events.push_back("hello");
  AnswerCheckpoint(conn, at_hello, hello_reason);
  Leave();
}

void RecordingHandler::OnMessage(RlpxConn*, uint64_t code, absl::Span<const uint8_t> payload) {
  Enter();
  messages.emplace_back(code, std::vector<uint8_t>(payload.begin(), payload.end()));
  events.push_back("msg");
  Leave();
}

void RecordingHandler::OnClosed(RlpxConn*, const CloseInfo& i) {
  Enter();
  ++closed;
  info = i;
  closed_ns = NowNs();
  events.push_back("closed");
  Leave();
  // Last: resetting may destroy the connection that is calling us.
  if (owner != nullptr) owner->reset();
}

std::vector<std::string> RecordingHandler::MessageTexts() const {
  std::vector<std::string> out;
  for (const auto& [code, payload] : messages) {
    out.push_back(absl::StrCat(code, ":", std::string(payload.begin(), payload.end())));
  }
  return out;
}

void RecordingHandler::AnswerCheckpoint(RlpxConn* conn, Answer answer, DisconnectReason reason) {
  if (answer == Answer::kContinue) conn->ContinueHandshake();
  if (answer == Answer::kDisconnect) conn->Disconnect(reason);
}

void RecordingHandler::Enter() {
  EXPECT_EQ(depth_, 0) << "handler called inside a handler call";
  ++depth_;
}

}  // namespace p2p::rlpx
