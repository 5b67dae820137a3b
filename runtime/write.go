package runtime

import (
	"encoding/binary"

	"github.com/gobwas/ws"
)

// opcode aliases gobwas/ws's frame opcode (RFC 6455 §5.2).
type opcode = ws.OpCode

const (
	opText   = ws.OpText
	opBinary = ws.OpBinary
	opClose  = ws.OpClose
	opPing   = ws.OpPing
	opPong   = ws.OpPong
)

// rsv1 is the per-message-compressed bit in the first header byte
// (RFC 7692 §6).
const rsv1 = 0x40

// encodeFrame builds one unmasked, final server frame (RFC 6455 §5.2) in a
// pooled buffer. With comp set, the payload is deflated (RFC 7692 §7.2.1)
// and sent compressed when that makes it smaller.
func encodeFrame(op opcode, payload []byte, comp *CompressionOptions) *[]byte {
	var first byte = 0x80 | byte(op)
	if comp != nil {
		tmp := getBuffer(len(payload))
		if z, err := deflate((*tmp)[:0], payload, comp.level()); err == nil && len(z) < len(payload) {
			buf := appendFrame(getBuffer(ws.MaxHeaderSize+len(z)), first|rsv1, z)
			*tmp = z[:0]
			putBuffer(tmp)
			return buf
		}
		putBuffer(tmp)
	}
	return appendFrame(getBuffer(ws.MaxHeaderSize+len(payload)), first, payload)
}

func appendFrame(buf *[]byte, first byte, payload []byte) *[]byte {
	b := append((*buf)[:0], first)
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	*buf = append(b, payload...)
	return buf
}
