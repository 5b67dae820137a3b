package transport

// Benchmarks of the frame layer (white-box): parsing and encoding. They
// must report 0 allocs/op. Every benchmark is bounded, so that
//
//	go test -run '^$' -bench . -benchtime 100x ./runtime/transport
//
// is a quick smoke run.

import (
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// benchMask is the client masking key of every benchmark frame. Its bytes
// are all below 0x80, so ASCII XOR mask is ASCII again: a frame that the
// parser has unmasked in place is, fed again, a valid frame whose text
// payload is (different) valid ASCII. The parse benchmarks therefore feed
// the same bytes every iteration with no re-copy, and the parser does
// exactly the work it does on fresh input (header decode, unmask of every
// byte, UTF-8 validation, delivery).
var benchMask = [4]byte{0x12, 0x34, 0x56, 0x78}

// benchText returns n bytes of ASCII JSON-like text.
func benchText(n int) []byte {
	const unit = `{"method":"chat.send","id":42,"params":{"room":"lobby","text":"hello"}}`
	return []byte(strings.Repeat(unit, n/len(unit)+1)[:n])
}

// benchClientFrame appends one masked client frame (RFC 6455 §5.2, §5.3).
func benchClientFrame(dst []byte, fin bool, op ws.OpCode, payload []byte, mask [4]byte) []byte {
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

// benchSink is a frameSink that only counts; it keeps nothing.
type benchSink struct {
	msgs, ctrls int
	bytes       int64
	failed      *failure
}

func (s *benchSink) message(_ ws.OpCode, _ bool, data []byte) {
	s.msgs++
	s.bytes += int64(len(data))
}
func (s *benchSink) control(ws.OpCode, []byte) { s.ctrls++ }
func (s *benchSink) fail(f *failure)           { s.failed = f }

// ---- frame parsing ----

// benchParse feeds wire to a frameParser once per iteration, in chunks of
// chunk bytes (0: all at once), expecting msgs messages of payload bytes
// in total per iteration. The same bytes are fed every time: see benchMask.
func benchParse(b *testing.B, wire []byte, chunk, msgs, payload int) {
	b.ReportAllocs()
	b.SetBytes(int64(payload))
	fp := frameParser{maxMessage: DefaultMaxMessageSize}
	sink := &benchSink{}
	var s frameSink = sink
	n := 0
	for b.Loop() {
		if chunk == 0 {
			fp.feed(wire, s)
		} else {
			for p := wire; len(p) > 0; {
				k := min(chunk, len(p))
				fp.feed(p[:k], s)
				p = p[k:]
			}
		}
		n++
	}
	if sink.failed != nil {
		b.Fatalf("parser failed: %v", sink.failed)
	}
	if sink.msgs != n*msgs || sink.bytes != int64(n)*int64(payload) || fp.busy() {
		b.Fatalf("got %d messages, %d bytes, busy %v; want %d, %d, false",
			sink.msgs, sink.bytes, fp.busy(), n*msgs, int64(n)*int64(payload))
	}
}

func BenchmarkFrameParse(b *testing.B) {
	text := func(n int) []byte { return benchClientFrame(nil, true, ws.OpText, benchText(n), benchMask) }
	b.Run("text-16B", func(b *testing.B) { benchParse(b, text(16), 0, 1, 16) })
	b.Run("text-1KiB", func(b *testing.B) { benchParse(b, text(1<<10), 0, 1, 1<<10) })
	b.Run("binary-64KiB", func(b *testing.B) {
		p := make([]byte, 64<<10)
		for i := range p {
			p[i] = byte(i * 7)
		}
		benchParse(b, benchClientFrame(nil, true, ws.OpBinary, p, benchMask), 0, 1, len(p))
	})
	// The same frame as a connection sees it: in 4 KiB reads (the size of
	// readReady's first buffer), so that the payload goes through the
	// assembly buffer instead of being delivered from the read buffer.
	b.Run("binary-64KiB-4KiB-reads", func(b *testing.B) {
		p := make([]byte, 64<<10)
		for i := range p {
			p[i] = byte(i * 7)
		}
		benchParse(b, benchClientFrame(nil, true, ws.OpBinary, p, benchMask), 4<<10, 1, len(p))
	})
	b.Run("fragmented-4x1KiB", func(b *testing.B) {
		p := benchText(4 << 10)
		var wire []byte
		for i := range 4 {
			op := ws.OpContinuation
			if i == 0 {
				op = ws.OpText
			}
			wire = benchClientFrame(wire, i == 3, op, p[i<<10:(i+1)<<10], benchMask)
		}
		benchParse(b, wire, 0, 1, len(p))
	})
	// One 1 KiB text frame delivered one byte per read: the worst case for
	// per-call overhead, and the path through the assembly buffer.
	b.Run("split-1-byte-reads", func(b *testing.B) { benchParse(b, text(1<<10), 1, 1, 1<<10) })
}

// ---- frame encoding ----

func BenchmarkFrameEncode(b *testing.B) {
	for _, n := range []int{16, 1 << 10, 64 << 10} {
		b.Run(benchSizeName(n), func(b *testing.B) {
			p := make([]byte, n)
			b.ReportAllocs()
			b.SetBytes(int64(n))
			for b.Loop() {
				putBuffer(encodeFrame(opBinary, p, nil))
			}
		})
	}
	// permessage-deflate at the default level (BestSpeed) of 1 KiB of JSON
	// text; wire-B/op is the size of the compressed frame.
	b.Run("deflate-text-1KiB", func(b *testing.B) {
		p := benchText(1 << 10)
		comp := &CompressionOptions{}
		b.ReportAllocs()
		b.SetBytes(int64(len(p)))
		wire := 0
		for b.Loop() {
			f := encodeFrame(opText, p, comp)
			wire = len(*f)
			putBuffer(f)
		}
		b.ReportMetric(float64(wire), "wire-B/op")
	})
}

func benchSizeName(n int) string {
	switch {
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return fmt.Sprintf("%dB", n)
	}
}
