package transport

// Benchmarks of the frame layer (white-box): parsing and encoding. They
// must report 0 allocs/op. Every benchmark is bounded, so that
//
//	go test -run '^$' -bench . -benchtime 100x ./runtime/transport
//
// is a quick smoke run.

import (
	"fmt"
	"testing"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

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
// in total per iteration. The same bytes are fed every time: see wstest.BenchMask.
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
	text := func(n int) []byte {
		return wstest.BenchClientFrame(nil, true, ws.OpText, wstest.BenchText(n), wstest.BenchMask)
	}
	b.Run("text-16B", func(b *testing.B) { benchParse(b, text(16), 0, 1, 16) })
	b.Run("text-1KiB", func(b *testing.B) { benchParse(b, text(1<<10), 0, 1, 1<<10) })
	b.Run("binary-64KiB", func(b *testing.B) {
		p := make([]byte, 64<<10)
		for i := range p {
			p[i] = byte(i * 7)
		}
		benchParse(b, wstest.BenchClientFrame(nil, true, ws.OpBinary, p, wstest.BenchMask), 0, 1, len(p))
	})
	// The same frame as a connection sees it: in 4 KiB reads (the size of
	// readReady's first buffer), so that the payload goes through the
	// assembly buffer instead of being delivered from the read buffer.
	b.Run("binary-64KiB-4KiB-reads", func(b *testing.B) {
		p := make([]byte, 64<<10)
		for i := range p {
			p[i] = byte(i * 7)
		}
		benchParse(b, wstest.BenchClientFrame(nil, true, ws.OpBinary, p, wstest.BenchMask), 4<<10, 1, len(p))
	})
	b.Run("fragmented-4x1KiB", func(b *testing.B) {
		p := wstest.BenchText(4 << 10)
		var wire []byte
		for i := range 4 {
			op := ws.OpContinuation
			if i == 0 {
				op = ws.OpText
			}
			wire = wstest.BenchClientFrame(wire, i == 3, op, p[i<<10:(i+1)<<10], wstest.BenchMask)
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
		p := wstest.BenchText(1 << 10)
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
