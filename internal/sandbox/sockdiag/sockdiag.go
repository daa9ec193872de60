// Package sockdiag asks the kernel who owns a TCP socket on this host, with
// one exact NETLINK_SOCK_DIAG query (SOCK_DIAG_BY_FAMILY, inet_diag_req_v2,
// no dump). The sandbox uses it to tell which environment's process is at
// the other end of a loopback connection to a Runtime API endpoint.
package sockdiag

import "errors"

// ErrNotFound means no socket has that address pair: the peer closed the
// connection, or it is not on this host's network namespace.
var ErrNotFound = errors.New("sockdiag: no such socket")

// ErrUnsupported means the kernel cannot answer (not Linux, or the inet_diag
// module is unavailable).
var ErrUnsupported = errors.New("sockdiag: not supported here")
