package runtime

import "sync"

// Buffers come from pools only while a frame or message is being read or
// written, so that an idle connection holds none.
const (
	smallBufferSize = 4 << 10
	largeBufferSize = 64 << 10
	// largeBufferCap leaves room for a frame header (ws.MaxHeaderSize)
	// after 64 KiB, and is 9 pages of Go's heap: it allocates objects over
	// 32 KiB in whole 8 KiB pages, so that 64 KiB + 14 would take as much.
	largeBufferCap = 72 << 10
)

var (
	smallBuffers = sync.Pool{New: func() any { b := make([]byte, 0, smallBufferSize); return &b }}
	largeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, largeBufferCap); return &b }}
)

// getBuffer returns an empty buffer with room for at least n bytes when
// n <= largeBufferSize (it grows by append beyond that).
func getBuffer(n int) *[]byte {
	if n <= smallBufferSize {
		return smallBuffers.Get().(*[]byte)
	}
	if n > largeBufferCap { // one exact allocation instead of growth
		b := make([]byte, 0, n)
		return &b
	}
	return largeBuffers.Get().(*[]byte)
}

// putBuffer returns b to its pool; buffers that grew beyond the large size
// are left to the garbage collector so that one huge message does not pin
// memory.
func putBuffer(b *[]byte) {
	switch c := cap(*b); {
	case c == smallBufferSize:
		*b = (*b)[:0]
		smallBuffers.Put(b)
	case c == largeBufferCap:
		*b = (*b)[:0]
		largeBuffers.Put(b)
	}
}
