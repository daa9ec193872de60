//go:build !linux

package sockdiag

import "net/netip"

// TCPOwner is unsupported off Linux.
func TCPOwner(local, remote netip.AddrPort) (uint32, error) { return 0, ErrUnsupported }
