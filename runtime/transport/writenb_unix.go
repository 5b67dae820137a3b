//go:build unix

package transport

import (
	"sync"
	"syscall"
)

// nbWrite carries one non-blocking write through RawConn.Write; its
// callbacks are bound once so that pooled values make writes
// allocation-free.
type nbWrite struct {
	p   []byte
	q   []*[]byte // writev's chunks
	n   int
	err error
	fn  func(fd uintptr) bool
	vfn func(fd uintptr) bool
	iov [maxIovecs]syscall.Iovec
}

// maxIovecs is how many chunks one writev takes (IOV_MAX is 1024 on Linux).
const maxIovecs = 64

func (w *nbWrite) write(fd uintptr) bool {
	for {
		w.n, w.err = syscall.Write(int(fd), w.p)
		if w.err != syscall.EINTR {
			return true // never park in Go's poller
		}
	}
}

// writev writes the chunks w.q back to back until the socket is full,
// one system call per maxIovecs chunks (writeChunks).
func (w *nbWrite) writev(fd uintptr) bool {
	q := w.q
	for len(q) > 0 {
		k := min(len(q), maxIovecs)
		want := 0
		for _, f := range q[:k] {
			want += len(*f)
		}
		n, err := writeChunks(int(fd), q[:k], w.iov[:k])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			w.err = err
			return true
		}
		w.n += n
		if n < want {
			return true // the socket is full
		}
		q = q[k:]
	}
	return true // never park in Go's poller
}

var nbWrites = sync.Pool{New: func() any {
	w := new(nbWrite)
	w.fn = w.write
	w.vfn = w.writev
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

// writevNonblock writes the chunks of q back to back, as much as the
// socket takes now: with one writev on Linux when it takes them all (up
// to maxIovecs chunks). It returns the count written, and errWouldBlock
// when the socket took nothing.
func writevNonblock(rc syscall.RawConn, q []*[]byte) (int, error) {
	w := nbWrites.Get().(*nbWrite)
	w.q = q
	cerr := rc.Write(w.vfn)
	n, err := w.n, w.err
	w.q, w.n, w.err = nil, 0, nil
	nbWrites.Put(w)
	switch {
	case cerr != nil:
		return 0, cerr
	case n > 0:
		return n, nil // a later error shows again on the next write
	case err == syscall.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	}
	return n, nil
}
