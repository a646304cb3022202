// Connection flags (go-ethereum's connFlag): how a connection came about.
#ifndef P2P_CORE_DIAL_CONN_FLAGS_H_
#define P2P_CORE_DIAL_CONN_FLAGS_H_

#include <cstdint>
#include <string>

namespace p2p {

using ConnFlags = uint32_t;
inline constexpr ConnFlags kDynDialedConn = 1;
inline constexpr ConnFlags kStaticDialedConn = 2;
inline constexpr ConnFlags kInboundConn = 4;
inline constexpr ConnFlags kTrustedConn = 8;

// True for connections this node dialed (dynamic or static).
inline bool IsDialed(ConnFlags f) {
  return (f & (kDynDialedConn | kStaticDialedConn)) != 0;
}

// go-ethereum's connFlag.String(): "trusted-dyndial", "staticdial",
// "inbound", "" for none.
inline std::string ConnFlagsString(ConnFlags f) {
  std::string s;
  if (f & kTrustedConn) s += "-trusted";
  if (f & kDynDialedConn) s += "-dyndial";
  if (f & kStaticDialedConn) s += "-staticdial";
  if (f & kInboundConn) s += "-inbound";
  return s.empty() ? s : s.substr(1);
}

}  // namespace p2p

#endif  // P2P_CORE_DIAL_CONN_FLAGS_H_
