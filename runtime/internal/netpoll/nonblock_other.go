//go:build !unix

package netpoll

import "syscall"

// ReadNonblock is not supported on this system; it returns [ErrUnsupported].
func ReadNonblock(rc syscall.RawConn, p []byte) (int, error) {
	return 0, ErrUnsupported
}
