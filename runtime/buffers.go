package runtime

import "github.com/duplexrpc/duplex/runtime/internal/buffers"

// Buffers are the transport's pools (internal/buffers): taken only while a
// message is being encoded.
const smallBufferSize = buffers.Small

func getBuffer(n int) *[]byte { return buffers.Get(n) }
func putBuffer(b *[]byte)     { buffers.Put(b) }
