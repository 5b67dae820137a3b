package transport

import "github.com/duplexrpc/duplex/runtime/internal/buffers"

// Buffers come from pools (shared with package runtime) only while a frame
// or message is being read or written, so that an idle connection holds
// none.
const (
	smallBufferSize = buffers.Small
	largeBufferSize = buffers.Large
	largeBufferCap  = buffers.LargeCap
)

func getBuffer(n int) *[]byte { return buffers.Get(n) }
func putBuffer(b *[]byte)     { buffers.Put(b) }
