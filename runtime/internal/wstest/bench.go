package wstest

import (
	"encoding/binary"
	"strings"

	"github.com/gobwas/ws"
)

// BenchMask is the client masking key of every benchmark frame. Its bytes
// are all below 0x80, so ASCII XOR mask is ASCII again: a frame that the
// parser has unmasked in place is, fed again, a valid frame whose text
// payload is (different) valid ASCII. The parse benchmarks therefore feed
// the same bytes every iteration with no re-copy, and the parser does
// exactly the work it does on fresh input (header decode, unmask of every
// byte, UTF-8 validation, delivery).
var BenchMask = [4]byte{0x12, 0x34, 0x56, 0x78}

// BenchText returns n bytes of ASCII JSON-like text.
func BenchText(n int) []byte {
	const unit = `{"method":"chat.send","id":42,"params":{"room":"lobby","text":"hello"}}`
	return []byte(strings.Repeat(unit, n/len(unit)+1)[:n])
}

// BenchClientFrame appends one masked client frame (RFC 6455 §5.2, §5.3).
func BenchClientFrame(dst []byte, fin bool, op ws.OpCode, payload []byte, mask [4]byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	dst = append(dst, b0)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[start+i] ^= mask[i%4]
	}
	return dst
}
