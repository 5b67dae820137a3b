//go:build unix

package transport

import (
	"sync"
	"syscall"
)

// nbWrite carries one non-blocking write through RawConn.Write; its
// callback is bound once so that pooled values make writes allocation-free.
type nbWrite struct {
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

func (w *nbWrite) write(fd uintptr) bool {
	for {
		w.n, w.err = syscall.Write(int(fd), w.p)
		if w.err != syscall.EINTR {
			return true // never park in Go's poller
		}
	}
}

var nbWrites = sync.Pool{New: func() any {
	w := new(nbWrite)
	w.fn = w.write
	return w
}}

// writeNonblock writes as much of p as the socket takes now. It returns
// the count written and errWouldBlock when the socket buffer is full.
func writeNonblock(rc syscall.RawConn, p []byte) (int, error) {
	w := nbWrites.Get().(*nbWrite)
	w.p = p
	cerr := rc.Write(w.fn)
	n, err := w.n, w.err
	w.p, w.n, w.err = nil, 0, nil
	nbWrites.Put(w)
	switch {
	case cerr != nil:
		return 0, cerr
	case err == syscall.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	}
	return n, nil
}
