//go:build unix

package transport_test

import (
	"net"
	"syscall"
	"testing"

	"github.com/duplexrpc/duplex/runtime/transport"
)

// Listen's connections have no TCP keep-alive (the pings do its job) and
// have TCP_NODELAY; net.Listen's have both, which is what Listen saves.
func TestListenNoKeepAlive(t *testing.T) {
	for _, tc := range []struct {
		name      string
		listen    func(network, address string) (net.Listener, error)
		keepAlive int
	}{
		{"transport.Listen", transport.Listen, 0},
		{"net.Listen", net.Listen, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := tc.listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			client, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			nc, err := ln.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			if got := sockopt(t, nc, syscall.SOL_SOCKET, syscall.SO_KEEPALIVE); got != tc.keepAlive {
				t.Errorf("SO_KEEPALIVE = %d, want %d", got, tc.keepAlive)
			}
			if got := sockopt(t, nc, syscall.IPPROTO_TCP, syscall.TCP_NODELAY); got != 1 {
				t.Errorf("TCP_NODELAY = %d, want 1", got)
			}
		})
	}
}

// sockopt reads an integer socket option of nc's socket.
func sockopt(t *testing.T, nc net.Conn, level, opt int) int {
	t.Helper()
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var gerr error
	if err := rc.Control(func(fd uintptr) { v, gerr = syscall.GetsockoptInt(int(fd), level, opt) }); err != nil {
		t.Fatal(err)
	}
	if gerr != nil {
		t.Fatal(gerr)
	}
	return v
}
