//go:build unix

package netpoll

import (
	"fmt"
	"io"
	"sync"
	"syscall"
)

// nbRead carries the arguments and results of one read through
// RawConn.Read. Its callback is bound once, when the value is created, so
// that a pooled nbRead makes ReadNonblock allocation-free.
type nbRead struct {
	p   []byte
	n   int
	fd  int
	err error
	fn  func(fd uintptr) bool
}

func (r *nbRead) read(fd uintptr) bool {
	r.fd = int(fd)
	for {
		r.n, r.err = syscall.Read(r.fd, r.p)
		if r.err != syscall.EINTR {
			return true // never ask the Go poller to park
		}
	}
}

var nbPool = sync.Pool{New: func() any {
	r := new(nbRead)
	r.fn = r.read
	return r
}}

// ReadNonblock reads into p without ever parking the calling goroutine. It
// calls rc.Read with a callback that issues one read(2) (retried on EINTR)
// and always returns true, so Go's poller never waits for readiness.
//
// It returns (n, nil) with n > 0 for data, (0, [io.EOF]) at end of stream,
// (0, [ErrWouldBlock]) when no data is available, and (0, err) otherwise;
// errors from read(2) wrap the errno (errors.Is(err, syscall.ECONNRESET)),
// and a closed connection gives rc.Read's error (wrapping net.ErrClosed for
// a net.Conn). An empty p returns (0, nil) without a system call.
//
// Obtain rc once per connection (SyscallConn allocates) and reuse it.
// ReadNonblock does not allocate. It honours the connection's read deadline
// (an expired deadline is returned as an error) and must not run
// concurrently with a blocking Read on the same connection, which holds the
// connection's read lock while parked.
func ReadNonblock(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r := nbPool.Get().(*nbRead)
	r.p = p
	cerr := rc.Read(r.fn)
	n, fd, err := r.n, r.fd, r.err
	r.p, r.n, r.err = nil, 0, nil
	nbPool.Put(r)
	switch {
	case cerr != nil:
		return 0, cerr
	case err == nil && n > 0:
		return n, nil
	case err == nil:
		return 0, io.EOF
	case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
		return 0, ErrWouldBlock
	default:
		return 0, fmt.Errorf("netpoll: read fd %d: %w", fd, err)
	}
}
