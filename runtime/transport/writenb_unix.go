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
	p    []byte
	q    []*[]byte // writev's chunks: a copy in qbuf, so that the caller's slice stays on its stack
	n    int
	err  error
	fn   func(fd uintptr) bool
	vfn  func(fd uintptr) bool
	iov  [maxIovecs]syscall.Iovec
	qbuf [maxIovecs]*[]byte
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

// writev writes the chunks w.q (at most maxIovecs) back to back, with
// one system call (writeChunks), as far as the socket takes them.
func (w *nbWrite) writev(fd uintptr) bool {
	for {
		n, err := writeChunks(int(fd), w.q, w.iov[:len(w.q)])
		if err == syscall.EINTR {
			continue
		}
		w.n, w.err = n, err
		return true // never park in Go's poller
	}
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
	n := 0
	var cerr, err error
	for len(q) > 0 {
		k := min(len(q), maxIovecs)
		want := 0
		for _, f := range q[:k] {
			want += len(*f)
		}
		// A copy: storing q itself in the pooled value would move every
		// caller's batch array to the heap.
		w.q = append(w.qbuf[:0], q[:k]...)
		cerr = rc.Write(w.vfn)
		m := w.n
		err = w.err
		w.n, w.err = 0, nil
		if cerr != nil || err != nil {
			break
		}
		n += m
		if m < want {
			break // the socket is full
		}
		q = q[k:]
	}
	clear(w.qbuf[:])
	w.q = nil
	nbWrites.Put(w)
	switch {
	case cerr != nil && n == 0:
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
