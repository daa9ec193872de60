//go:build linux

package sockdiag

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Sizes and offsets of the kernel's structures (linux/netlink.h,
// linux/inet_diag.h); they are part of the ABI.
const (
	nlmsgHdrLen = 16
	// inet_diag_sockid: sport, dport (big-endian), src[4], dst[4] (network
	// order), if, cookie[2].
	sockIDLen = 48
	// inet_diag_req_v2: family, protocol, ext, pad, states, id.
	reqLen = 8 + sockIDLen
	// inet_diag_msg: family, state, timer, retrans, id, expires, rqueue,
	// wqueue, uid, inode.
	msgUIDOff = 4 + sockIDLen + 12
	msgLen    = msgUIDOff + 8
	noCookie  = 0xffffffff
)

// TCPOwner returns the uid that owns the TCP socket whose own address is
// local and whose peer is remote. For the client end of a connection
// accepted on a listener, local is the client's address (the accepted
// connection's RemoteAddr) and remote is the listener's (its LocalAddr).
func TCPOwner(local, remote netip.AddrPort) (uint32, error) {
	la, ra := local.Addr().Unmap(), remote.Addr().Unmap()
	family := uint8(unix.AF_INET6)
	if la.Is4() && ra.Is4() {
		family = unix.AF_INET
	}
	msg := make([]byte, nlmsgHdrLen+reqLen)
	ne := binary.NativeEndian
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], unix.SOCK_DIAG_BY_FAMILY)
	ne.PutUint16(msg[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(msg[8:], 1) // seq
	req := msg[nlmsgHdrLen:]
	req[0] = family
	req[1] = unix.IPPROTO_TCP
	ne.PutUint32(req[4:], 0xffffffff) // every state
	putSockID(req[8:], family, la, local.Port(), ra, remote.Port())

	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_SOCK_DIAG)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrUnsupported, err)
	}
	defer unix.Close(fd)
	// The kernel answers synchronously while handling sendto; the timeout
	// only guards against a reply that never comes.
	tv := unix.Timeval{Sec: 1}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return 0, err
	}
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return 0, fmt.Errorf("sockdiag: send: %w", err)
	}
	var buf [1024]byte
	for {
		n, from, err := unix.Recvfrom(fd, buf[:], 0)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return 0, fmt.Errorf("sockdiag: receive: %w", err)
		}
		if sa, ok := from.(*unix.SockaddrNetlink); !ok || sa.Pid != 0 {
			continue // only the kernel answers this
		}
		return parseReply(buf[:n], req[8:8+sockIDLen])
	}
}

func putSockID(b []byte, family uint8, src netip.Addr, sport uint16, dst netip.Addr, dport uint16) {
	binary.BigEndian.PutUint16(b[0:], sport)
	binary.BigEndian.PutUint16(b[2:], dport)
	if family == unix.AF_INET {
		s, d := src.As4(), dst.As4()
		copy(b[4:], s[:])
		copy(b[20:], d[:])
	} else {
		s, d := src.As16(), dst.As16()
		copy(b[4:], s[:])
		copy(b[20:], d[:])
	}
	binary.NativeEndian.PutUint32(b[36:], 0) // any interface
	binary.NativeEndian.PutUint32(b[40:], noCookie)
	binary.NativeEndian.PutUint32(b[44:], noCookie)
}

// parseReply reads the one message the kernel sends for an exact query:
// an inet_diag_msg, or an error.
func parseReply(b []byte, wantID []byte) (uint32, error) {
	ne := binary.NativeEndian
	if len(b) < nlmsgHdrLen {
		return 0, errors.New("sockdiag: short reply")
	}
	n := int(ne.Uint32(b[0:]))
	if n < nlmsgHdrLen || n > len(b) {
		return 0, errors.New("sockdiag: malformed reply")
	}
	body := b[nlmsgHdrLen:n]
	switch ne.Uint16(b[4:]) {
	case unix.NLMSG_ERROR:
		if len(body) < 4 {
			return 0, errors.New("sockdiag: malformed error reply")
		}
		errno := unix.Errno(-int32(ne.Uint32(body)))
		switch errno {
		case unix.ENOENT:
			return 0, ErrNotFound
		case unix.EINVAL, unix.EOPNOTSUPP, unix.EPROTONOSUPPORT, unix.EAFNOSUPPORT:
			return 0, fmt.Errorf("%w: %v", ErrUnsupported, errno)
		}
		return 0, fmt.Errorf("sockdiag: %w", errno)
	case unix.SOCK_DIAG_BY_FAMILY:
		if len(body) < msgLen {
			return 0, errors.New("sockdiag: short inet_diag_msg")
		}
		// The kernel matched the pair exactly; check the ports and
		// addresses anyway (the cookie and interface may differ).
		if string(body[4:4+36]) != string(wantID[:36]) {
			return 0, errors.New("sockdiag: reply is about another socket")
		}
		return ne.Uint32(body[msgUIDOff:]), nil
	}
	return 0, fmt.Errorf("sockdiag: unexpected reply type %d", ne.Uint16(b[4:]))
}
