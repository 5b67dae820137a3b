//go:build !unix

package transport

import "syscall"

// writeNonblock is never reached off unix: connections there have no
// RawConn for the poller and are written by the writer goroutine.
func writeNonblock(rc syscall.RawConn, p []byte) (int, error) { return 0, errWouldBlock }

func writevNonblock(rc syscall.RawConn, q []*[]byte) (int, error) { return 0, errWouldBlock }
