//go:build linux

package netpoll

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
)

const (
	// events is the interest set of every registration: edge-triggered,
	// so a notification costs no epoll_ctl to re-arm. EPOLLHUP and
	// EPOLLERR are always reported by the kernel.
	events = syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET

	// hupEvents are the events that Readable reports as hup.
	hupEvents = syscall.EPOLLRDHUP | syscall.EPOLLHUP | syscall.EPOLLERR

	// epollET is EPOLLET, which package syscall defines as a negative int.
	epollET = 1 << 31

	// batch is the number of events taken from the kernel per epoll_wait.
	batch = 128

	// efdCloexec and efdNonblock are EFD_CLOEXEC and EFD_NONBLOCK, which
	// package syscall does not define; they equal O_CLOEXEC and O_NONBLOCK.
	efdCloexec  = syscall.O_CLOEXEC
	efdNonblock = syscall.O_NONBLOCK
)

var errClosed = errors.New("poller closed")

// slot is the registration of one descriptor. gen tells registrations of a
// reused descriptor number apart: it is stored in the event's data next to
// the fd, and an event whose gen does not match the slot is dropped, so a
// stale event for a closed descriptor never reaches the handler of a new
// connection that got the same number.
type slot struct {
	h   Handler
	gen uint32
}

// Poller watches descriptors for read readiness with one epoll instance
// (epoll(7)) and one event goroutine.
//
// All methods are safe for concurrent use, and all but Close may be called
// from a Handler. Add and Remove make one epoll_ctl(2) call and do not
// block; Close waits for the event goroutine to finish the handlers it
// is running.
type Poller struct {
	epfd   int
	file   *os.File        // epfd, registered in Go's poller
	rc     syscall.RawConn // of file
	wakefd int             // eventfd written by Close to stop the loop
	done   chan struct{}   // closed when the event goroutine returns

	mu      sync.RWMutex
	slots   []slot // indexed by fd; read by the loop under mu.RLock
	gen     uint32 // last generation handed out
	closed  bool
	loopErr error // set by the loop before done is closed
}

// New creates an epoll instance (EPOLL_CLOEXEC) and an eventfd used to wake
// it, and starts the event goroutine. Call Close to release them.
func New() (*Poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netpoll: create epoll: %w", err)
	}
	r, _, errno := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, efdCloexec|efdNonblock, 0)
	if errno != 0 {
		syscall.Close(epfd)
		return nil, fmt.Errorf("netpoll: create eventfd: %w", errno)
	}
	wakefd := int(r)
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(wakefd)}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		syscall.Close(wakefd)
		syscall.Close(epfd)
		return nil, fmt.Errorf("netpoll: add eventfd: %w", err)
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		syscall.Close(wakefd)
		syscall.Close(epfd)
		return nil, fmt.Errorf("netpoll: epoll non-blocking: %w", err)
	}
	// os.NewFile registers the non-blocking epoll descriptor in Go's own
	// poller, so that the loop can park on its readability.
	f := os.NewFile(uintptr(epfd), "epoll")
	rc, err := f.SyscallConn()
	if err != nil {
		syscall.Close(wakefd)
		f.Close()
		return nil, fmt.Errorf("netpoll: epoll raw conn: %w", err)
	}
	p := &Poller{epfd: epfd, file: f, rc: rc, wakefd: wakefd, done: make(chan struct{})}
	go p.loop()
	return p, nil
}

// Add registers fd, edge-triggered (EPOLLIN | EPOLLRDHUP | EPOLLET), to
// notify h whenever new bytes arrive, the peer hangs up or an error is
// pending: one notification per such edge, none for data left unread (see
// [Handler]). If fd is readable already, a first notification comes at
// once. Adding a registered fd fails with an error wrapping
// syscall.EEXIST; every error names the fd.
func (p *Poller) Add(fd int, h Handler) error {
	if fd < 0 || h == nil {
		return fmt.Errorf("netpoll: add fd %d: %w", fd, syscall.EINVAL)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("netpoll: add fd %d: %w", fd, errClosed)
	}
	if fd >= len(p.slots) {
		n := max(fd+1, 2*len(p.slots), 64)
		slots := make([]slot, n)
		copy(slots, p.slots)
		p.slots = slots
	}
	// The slot may hold the handler of a descriptor that was closed
	// without Remove: the kernel dropped that registration when the
	// descriptor closed, so it accepts the new one, which replaces the
	// stale handler. For a live registration it reports EEXIST. The loop
	// cannot see the slot before the kernel answers: we hold mu.
	old := p.slots[fd]
	p.gen++
	p.slots[fd] = slot{h: h, gen: p.gen}
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(p.gen)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.slots[fd] = old
		return fmt.Errorf("netpoll: add fd %d: %w", fd, err)
	}
	return nil
}

// Remove unregisters fd (EPOLL_CTL_DEL) and forgets its handler. Call it
// before closing fd: after the close, EPOLL_CTL_DEL fails with EBADF (the
// handler is forgotten all the same). If fd was closed without Remove, the
// kernel dropped the registration and a later Add of the same number
// replaces the stale handler. A notification that the event goroutine had already
// taken from the kernel may still be delivered once to the removed handler
// after Remove returns; it is never delivered to a handler registered later
// for the same descriptor number.
func (p *Poller) Remove(fd int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("netpoll: remove fd %d: %w", fd, errClosed)
	}
	if fd < 0 || fd >= len(p.slots) || p.slots[fd].h == nil {
		return fmt.Errorf("netpoll: remove fd %d: %w", fd, syscall.ENOENT)
	}
	p.slots[fd] = slot{}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil); err != nil {
		return fmt.Errorf("netpoll: remove fd %d: %w", fd, err)
	}
	return nil
}

// Close stops the event goroutine, waiting for it to return (so no Handler
// runs after Close returns), and closes the epoll instance and the eventfd.
// Registered descriptors are not closed. Later calls to Add and Remove
// fail. Close is safe to call more than once; later calls wait for
// the first to stop the goroutine and return nil. It must not be called
// from a Handler, whose return it would wait for.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.done
		return nil
	}
	p.closed = true
	p.slots = nil
	p.mu.Unlock()

	one := [8]byte{1, 0, 0, 0, 0, 0, 0, 0} // any non-zero eventfd counter
	var werr error
	for {
		_, werr = syscall.Write(p.wakefd, one[:])
		if werr != syscall.EINTR {
			break
		}
	}
	if werr != nil && werr != syscall.EAGAIN {
		// The loop cannot be woken; leave it blocked rather than close
		// a descriptor it is waiting on.
		return fmt.Errorf("netpoll: wake event loop: %w", werr)
	}
	<-p.done
	err := p.loopErr
	if cerr := syscall.Close(p.wakefd); cerr != nil {
		err = errors.Join(err, fmt.Errorf("netpoll: close eventfd: %w", cerr))
	}
	if cerr := p.file.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("netpoll: close epoll: %w", cerr))
	}
	return err
}

// loop is the event goroutine. It takes up to batch events per
// epoll_wait, looks their handlers up under the read lock, and calls them
// after releasing it, so that handlers may call Add and Remove.
//
// It never blocks in epoll_wait: it parks in Go's poller on the epoll
// descriptor's readability instead, so that it holds no thread and no P
// while idle, and Go's scheduler need not steal them back for every
// event. It stays inside one RawRead for its whole life, because RawRead
// forgets a readiness that came before it started (pollDesc.prepareRead):
// the callback takes and dispatches events, and asks to park (returns
// false) when the instance is drained.
//
// An epoll_wait that returns fewer than batch events counts as drained,
// which saves the epoll_wait that would return none: it reported every
// registration that was ready when it scanned (all are edge-triggered, so
// none is put back), and every later event runs ep_poll_callback, which
// wakes the instances watching this one (the epoll instance's poll_wait:
// Go's poller) even while a scan is running, so Go's poller reports the
// descriptor readable again and RawRead calls back. A full batch may have
// left events behind, so it is followed by another epoll_wait at once.
func (p *Poller) loop() {
	defer close(p.done)
	var (
		evs      [batch]syscall.EpollEvent
		handlers [batch]Handler
		hups     [batch]bool
		err      error
		stop     bool
	)
	take := func(fd uintptr) bool {
		for {
			var n int
			n, err = syscall.EpollWait(int(fd), evs[:], 0)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return true
			}
			if n == 0 {
				return false // park until Go's poller reports more
			}
			k := 0
			p.mu.RLock()
			for i := range n {
				fd := int(evs[i].Fd)
				if fd == p.wakefd {
					stop = true
					continue
				}
				if fd < len(p.slots) {
					if s := p.slots[fd]; s.h != nil && s.gen == uint32(evs[i].Pad) {
						handlers[k] = s.h
						hups[k] = evs[i].Events&hupEvents != 0
						k++
					}
				}
			}
			p.mu.RUnlock()
			for i := range k {
				handlers[i].Readable(hups[i])
				handlers[i] = nil
			}
			if stop {
				return true
			}
			if n < batch {
				return false // drained: see above
			}
		}
	}
	if rerr := p.rc.Read(take); rerr != nil {
		p.loopErr = fmt.Errorf("netpoll: wait: %w", rerr)
		return
	}
	if err != nil {
		p.loopErr = fmt.Errorf("netpoll: wait: %w", err)
	}
}
