#include "transport/errno_status.h"

#include <errno.h>
#include <string.h>

#include "absl/strings/str_cat.h"

namespace p2p::transport {
namespace {

// strerror_r comes in two flavours (XSI returns int, GNU returns char*);
// these overloads pick whichever the C library declares.
[[maybe_unused]] const char* StrErrorResult(int rc, const char* buf) {
  return rc == 0 ? buf : nullptr;
}
[[maybe_unused]] const char* StrErrorResult(const char* msg, const char*) {
  return msg;
}

const char* ErrnoName(int err) {
  switch (err) {
#define P2P_ERRNO_CASE(e) \
  case e:                 \
    return #e;
    P2P_ERRNO_CASE(EPERM)
    P2P_ERRNO_CASE(EINTR)
    P2P_ERRNO_CASE(EBADF)
    P2P_ERRNO_CASE(EAGAIN)
    P2P_ERRNO_CASE(ENOMEM)
    P2P_ERRNO_CASE(EACCES)
    P2P_ERRNO_CASE(EFAULT)
    P2P_ERRNO_CASE(EINVAL)
    P2P_ERRNO_CASE(ENFILE)
    P2P_ERRNO_CASE(EMFILE)
    P2P_ERRNO_CASE(ENOSPC)
    P2P_ERRNO_CASE(EPIPE)
    P2P_ERRNO_CASE(EPROTO)
    P2P_ERRNO_CASE(ENOTSOCK)
    P2P_ERRNO_CASE(EDESTADDRREQ)
    P2P_ERRNO_CASE(EMSGSIZE)
    P2P_ERRNO_CASE(EPROTOTYPE)
    P2P_ERRNO_CASE(EPROTONOSUPPORT)
    P2P_ERRNO_CASE(EOPNOTSUPP)
    P2P_ERRNO_CASE(EAFNOSUPPORT)
    P2P_ERRNO_CASE(EADDRINUSE)
    P2P_ERRNO_CASE(EADDRNOTAVAIL)
    P2P_ERRNO_CASE(ENETDOWN)
    P2P_ERRNO_CASE(ENETUNREACH)
    P2P_ERRNO_CASE(ENETRESET)
    P2P_ERRNO_CASE(ECONNABORTED)
    P2P_ERRNO_CASE(ECONNRESET)
    P2P_ERRNO_CASE(ENOBUFS)
    P2P_ERRNO_CASE(EISCONN)
    P2P_ERRNO_CASE(ENOTCONN)
    P2P_ERRNO_CASE(ESHUTDOWN)
    P2P_ERRNO_CASE(ETIMEDOUT)
    P2P_ERRNO_CASE(ECONNREFUSED)
    P2P_ERRNO_CASE(EHOSTDOWN)
    P2P_ERRNO_CASE(EHOSTUNREACH)
    P2P_ERRNO_CASE(EALREADY)
    P2P_ERRNO_CASE(EINPROGRESS)
    P2P_ERRNO_CASE(ECANCELED)
#undef P2P_ERRNO_CASE
    default:
      return nullptr;
  }
}

}  // namespace

absl::StatusCode StatusCodeForErrno(int err) {
  switch (err) {
    case 0:
      return absl::StatusCode::kOk;
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
    case ENETRESET:
    case EHOSTDOWN:
    case EPIPE:
    case ENOTCONN:
    case ESHUTDOWN:
    case EADDRNOTAVAIL:
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINTR:
    case ENOBUFS:
    case EPROTO:
      return absl::StatusCode::kUnavailable;
    case ETIMEDOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case EADDRINUSE:
      return absl::StatusCode::kAlreadyExists;
    case EACCES:
    case EPERM:
      return absl::StatusCode::kPermissionDenied;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOSPC:
      return absl::StatusCode::kResourceExhausted;
    case EINVAL:
    case EAFNOSUPPORT:
    case EPROTONOSUPPORT:
    case EPROTOTYPE:
    case EDESTADDRREQ:
    case EMSGSIZE:
    case EOPNOTSUPP:
    case EISCONN:
      return absl::StatusCode::kInvalidArgument;
    case EBADF:
    case ENOTSOCK:
    case EFAULT:
      return absl::StatusCode::kInternal;
    case ECANCELED:
      return absl::StatusCode::kCancelled;
    default:
      return absl::StatusCode::kUnknown;
  }
}

std::string ErrnoText(int err) {
  char buf[256];
  buf[0] = '\0';
  const char* msg = StrErrorResult(strerror_r(err, buf, sizeof(buf)), buf);
  std::string text = (msg != nullptr && msg[0] != '\0')
                         ? std::string(msg)
                         : absl::StrCat("Unknown error ", err);
  if (const char* name = ErrnoName(err); name != nullptr) {
    absl::StrAppend(&text, " (", name, ")");
  } else {
    absl::StrAppend(&text, " (errno ", err, ")");
  }
  return text;
}

absl::Status StatusFromErrno(int err, absl::string_view what) {
  return absl::Status(StatusCodeForErrno(err),
                      absl::StrCat(what, ": ", ErrnoText(err)));
}

}  // namespace p2p::transport
