// Package buffers holds the byte buffers that runtime/transport and
// runtime share: buffers come from pools only while a frame or message is
// being read or written, so that an idle connection holds none.
package buffers

import "sync"

const (
	Small = 4 << 10
	Large = 64 << 10
	// LargeCap leaves room for a frame header (ws.MaxHeaderSize) after
	// 64 KiB, and is 9 pages of Go's heap: it allocates objects over
	// 32 KiB in whole 8 KiB pages, so that 64 KiB + 14 would take as much.
	LargeCap = 72 << 10
)

var (
	small = sync.Pool{New: func() any { b := make([]byte, 0, Small); return &b }}
	large = sync.Pool{New: func() any { b := make([]byte, 0, LargeCap); return &b }}
)

// Get returns an empty buffer with room for at least n bytes when
// n <= Large (it grows by append beyond that).
func Get(n int) *[]byte {
	if n <= Small {
		return small.Get().(*[]byte)
	}
	if n > LargeCap { // one exact allocation instead of growth
		b := make([]byte, 0, n)
		return &b
	}
	return large.Get().(*[]byte)
}

// Put returns b to its pool; buffers that grew beyond the large size are
// left to the garbage collector so that one huge message does not pin
// memory.
func Put(b *[]byte) {
	switch c := cap(*b); {
	case c == Small:
		*b = (*b)[:0]
		small.Put(b)
	case c == LargeCap:
		*b = (*b)[:0]
		large.Put(b)
	}
}
