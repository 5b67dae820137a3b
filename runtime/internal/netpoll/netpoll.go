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
// data, [io.EOF] or an error. hup is true when the report includes a
// hang-up or an error: then the bytes still queued are followed by io.EOF
// or an error, which the reader must read too, since no report comes for
// them again (a short read does not show them).
//
// Readable is called from the poller's single event goroutine and must
// return quickly: it should hand the work to another goroutine. It may call
// [Poller.Add] and [Poller.Remove], but not [Poller.Close].
//
// Registration is edge-triggered (EPOLLET): the kernel reports each arrival
// of bytes, hang-up or error that comes after the previous notification was
// taken from it (arrivals meanwhile are merged into one notification), and
// never reports again what is merely still there. So:
//   - a reader must drain the descriptor (read until [ErrWouldBlock], or,
//     on a TCP or Unix stream socket and unless hup was reported, until a
//     short read: see the runtime's Conn.readReady) before it waits for the
//     next notification; one that stops earlier must carry on by itself,
//     as no notification comes for bytes already queued;
//   - Readable may be called while a worker is still reading after the
//     previous one, for bytes that this worker may or may not read: the
//     handler must neither start a second reader nor drop the
//     notification (the runtime records it in a flag that the worker
//     checks after it gives up the reader role);
//   - Readable may be spurious: the bytes it reports may have been read
//     already ([ReadNonblock] returns [ErrWouldBlock]), and a notification
//     that the event goroutine had already taken from the kernel when
//     [Poller.Remove] ran is still delivered, once, to the removed handler.
type Handler interface {
	Readable(hup bool)
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
