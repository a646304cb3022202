#include "transport/errno_status.h"

#include <errno.h>

#include "gtest/gtest.h"

namespace p2p::transport {
namespace {

TEST(ErrnoStatusTest, CodesFollowTheDocumentedTable) {
  struct Case {
    int err;
    absl::StatusCode code;
  } cases[] = {
      {ECONNREFUSED, absl::StatusCode::kUnavailable},
      {ECONNRESET, absl::StatusCode::kUnavailable},
      {ECONNABORTED, absl::StatusCode::kUnavailable},
      {EHOSTUNREACH, absl::StatusCode::kUnavailable},
      {ENETUNREACH, absl::StatusCode::kUnavailable},
      {ENETDOWN, absl::StatusCode::kUnavailable},
      {EPIPE, absl::StatusCode::kUnavailable},
      {ENOTCONN, absl::StatusCode::kUnavailable},
      {EAGAIN, absl::StatusCode::kUnavailable},
      {ENOBUFS, absl::StatusCode::kUnavailable},
      {EADDRNOTAVAIL, absl::StatusCode::kUnavailable},
      {ETIMEDOUT, absl::StatusCode::kDeadlineExceeded},
      {EADDRINUSE, absl::StatusCode::kAlreadyExists},
      {EACCES, absl::StatusCode::kPermissionDenied},
      {EPERM, absl::StatusCode::kPermissionDenied},
      {EMFILE, absl::StatusCode::kResourceExhausted},
      {ENFILE, absl::StatusCode::kResourceExhausted},
      {ENOMEM, absl::StatusCode::kResourceExhausted},
      {EINVAL, absl::StatusCode::kInvalidArgument},
      {EAFNOSUPPORT, absl::StatusCode::kInvalidArgument},
      {EMSGSIZE, absl::StatusCode::kInvalidArgument},
      {EBADF, absl::StatusCode::kInternal},
      {ENOTSOCK, absl::StatusCode::kInternal},
      {ECANCELED, absl::StatusCode::kCancelled},
      {EDOM, absl::StatusCode::kUnknown},
      {0, absl::StatusCode::kOk},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(StatusCodeForErrno(c.err), c.code) << "errno " << c.err;
    EXPECT_EQ(StatusFromErrno(c.err, "op").code(), c.code) << "errno " << c.err;
  }
}

TEST(ErrnoStatusTest, MessageNamesOperationStrerrorAndErrno) {
  absl::Status s = StatusFromErrno(ECONNREFUSED, "dial tcp 127.0.0.1:1");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "dial tcp 127.0.0.1:1: Connection refused (ECONNREFUSED)");

  s = StatusFromErrno(EADDRINUSE, "listen tcp 0.0.0.0:30303");
  EXPECT_EQ(s.message(), "listen tcp 0.0.0.0:30303: Address already in use (EADDRINUSE)");
}

TEST(ErrnoStatusTest, UnnamedErrnoShowsItsNumber) {
  EXPECT_EQ(ErrnoText(EDOM), "Numerical argument out of domain (errno 33)");
  EXPECT_EQ(ErrnoText(9999), "Unknown error 9999 (errno 9999)");
}

TEST(ErrnoStatusTest, ZeroIsOk) { EXPECT_TRUE(StatusFromErrno(0, "op").ok()); }

}  // namespace
}  // namespace p2p::transport
