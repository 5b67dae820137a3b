package wstest

import (
	"net"
	"sync/atomic"
	"syscall"
)

// CountingListener is a real listener whose connections count the writes
// made to them: each Write call, and each write attempt through their
// RawConn (syscall.Conn), which is how a server writes a socket without
// blocking. A connection that writes without blocking makes one system
// call per attempt (writev for several buffers), so Writes counts the
// system calls that wrote to the peers. Reads are not counted.
type CountingListener struct {
	net.Listener
	writes atomic.Int64
}

// CountWrites wraps ln.
func CountWrites(ln net.Listener) *CountingListener { return &CountingListener{Listener: ln} }

// Writes returns the writes counted so far on every connection accepted.
func (l *CountingListener) Writes() int64 { return l.writes.Load() }

// Accept implements net.Listener.
func (l *CountingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: nc, n: &l.writes}, nil
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// SyscallConn hands out the socket's RawConn with its writes counted, so
// that the server sees a plain socket (non-blocking writes, the poller).
func (c *countingConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, syscall.EINVAL
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	return countingRawConn{RawConn: rc, n: c.n}, nil
}

type countingRawConn struct {
	syscall.RawConn
	n *atomic.Int64
}

func (rc countingRawConn) Write(f func(fd uintptr) bool) error {
	return rc.RawConn.Write(func(fd uintptr) bool {
		rc.n.Add(1)
		return f(fd)
	})
}
