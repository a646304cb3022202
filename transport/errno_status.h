// The one place where OS errno values become absl::Status (STYLE.md: errors
// are mapped once, at the OS edge). Everything in transport/ that sees a
// failed system call reports it through StatusFromErrno (named apart from
// absl::ErrnoToStatus, whose table is not ours).
//
// Canonical codes, chosen so core/ can act on the code alone:
//   kUnavailable       the peer or network refused or dropped us, or the
//                      condition is transient: ECONNREFUSED, ECONNRESET,
//                      ECONNABORTED, EHOSTUNREACH, ENETUNREACH, ENETDOWN,
//                      ENETRESET, EHOSTDOWN, EPIPE, ENOTCONN, ESHUTDOWN,
//                      EADDRNOTAVAIL (no local address/port left), EAGAIN,
//                      EWOULDBLOCK, EINTR, ENOBUFS, EPROTO.
//   kDeadlineExceeded  ETIMEDOUT.
//   kAlreadyExists     EADDRINUSE (the address we bind is taken: a
//                      configuration conflict, retrying will not help).
//   kPermissionDenied  EACCES, EPERM.
//   kResourceExhausted EMFILE, ENFILE, ENOMEM, ENOSPC.
//   kInvalidArgument   EINVAL, EAFNOSUPPORT, EPROTONOSUPPORT, EPROTOTYPE,
//                      EDESTADDRREQ, EMSGSIZE, EOPNOTSUPP, EISCONN.
//   kInternal          EBADF, ENOTSOCK, EFAULT (a bug in transport/).
//   kCancelled         ECANCELED.
//   kUnknown           anything else (the message still names the errno).
//   kOk                errno 0 (never produced by a failed call; mapped so
//                      SO_ERROR == 0 converts naturally).
#ifndef P2P_TRANSPORT_ERRNO_STATUS_H_
#define P2P_TRANSPORT_ERRNO_STATUS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace p2p::transport {

// The canonical code for `err` (see the table above).
absl::StatusCode StatusCodeForErrno(int err);

// "strerror text (ENAME)", e.g. "Connection refused (ECONNREFUSED)".
// Thread-safe.
std::string ErrnoText(int err);

// A Status for `err` whose message is "<what>: <ErrnoText(err)>". `what`
// names the operation and address, e.g. "dial tcp 127.0.0.1:30303".
absl::Status StatusFromErrno(int err, absl::string_view what);

}  // namespace p2p::transport

#endif  // P2P_TRANSPORT_ERRNO_STATUS_H_
