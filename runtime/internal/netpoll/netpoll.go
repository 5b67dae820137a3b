package netpoll

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrUnsupported is returned by [New] on systems without epoll.
var ErrUnsupported = errors.New("netpoll: not supported on this system")

// ErrWouldBlock is returned by [ReadNonblock] when no data is available.
var ErrWouldBlock = errors.New("netpoll: read would block")

// Handler is notified when its descriptor is readable, hung up (EPOLLRDHUP,
// EPOLLHUP) or in error (EPOLLERR). The handler learns which by reading:
// data, [io.EOF] or an error.
//
// Readable is called from the poller's single event goroutine and must
// return quickly: it should hand the work to another goroutine. It may call
// [Poller.Add], [Poller.Resume] and [Poller.Remove], but not [Poller.Close].
//
// Registration is one-shot: after a notification no further one arrives
// until [Poller.Resume]. Handlers must nevertheless tolerate a spurious
// Readable: a notification that the event goroutine had already taken from
// the kernel when [Poller.Remove] ran is still delivered, once, to the
// removed handler, and a readiness report may be stale by the time the
// worker reads (ReadNonblock then returns [ErrWouldBlock]; call Resume).
type Handler interface {
	Readable()
}

// FD returns the file descriptor of c (a *net.TCPConn, *net.UnixConn or any
// [syscall.Conn]) without duplicating it, using SyscallConn().Control. The
// descriptor stays owned by c: it is valid only until c is closed, and it is
// left in non-blocking mode.
func FD(c syscall.Conn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("netpoll: get fd: %w", err)
	}
	fd := -1
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil {
		return -1, fmt.Errorf("netpoll: get fd: %w", err)
	}
	return fd, nil
}
