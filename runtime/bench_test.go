package runtime

// Benchmarks of the hot paths: frame parsing and encoding (white-box), echo
// round trips through a real Server, concurrent echo over 100 connections,
// and upgrades on the listener path. Every benchmark is bounded, so that
//
//	go test -run '^$' -bench . -benchtime 100x ./runtime
//
// is a quick smoke run. The network benchmarks report the server's heap
// allocations per operation as "server-allocs/op": the process-wide
// runtime.MemStats.Mallocs delta over the measured loop divided by the
// number of operations, the clients being allocation-free by construction
// (pre-built frames and buffers; raw system calls for the handshake).

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

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

// ---- echo round trip ----

var benchModes = []struct {
	name    string
	disable bool // Options.DisablePoller
}{
	{"poller", false},
	{"goroutine", true},
}

// BenchmarkEchoRoundTrip measures one client doing sequential round trips
// (write a masked text frame, read the echo) against a real Server on
// loopback, with the epoll readiness loop and with a goroutine per
// connection.
func BenchmarkEchoRoundTrip(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			for _, n := range []int{16, 1 << 10} {
				b.Run(benchSizeName(n), func(b *testing.B) {
					bs := startBenchServer(b, Options{DisablePoller: mode.disable})
					defer bs.stop(b)
					c := newBenchClient(bs.dial(b), ws.OpText, benchText(n))
					for range 200 { // warm pools, goroutine free lists, iovec cache
						if err := c.roundTrip(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportAllocs()
					b.SetBytes(int64(n))
					ops := 0
					m0 := benchMallocs()
					for b.Loop() {
						if err := c.roundTrip(); err != nil {
							b.Fatal(err)
						}
						ops++
					}
					m1 := benchMallocs()
					b.ReportMetric(float64(m1-m0)/float64(ops), "server-allocs/op")
				})
			}
		})
	}
}

// ---- concurrent echo ----

// benchParallelConns is the number of client connections of
// BenchmarkEchoParallel.
const benchParallelConns = 100

// BenchmarkEchoParallel runs 100 connections, each doing request/response
// round trips of 16-byte text messages concurrently, and reports the
// messages echoed per second. ns/op is wall time per echoed message.
func BenchmarkEchoParallel(b *testing.B) {
	const size = 16
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			bs := startBenchServer(b, Options{DisablePoller: mode.disable})
			defer bs.stop(b)
			clients := make([]*benchClient, benchParallelConns)
			for i := range clients {
				clients[i] = newBenchClient(bs.dial(b), ws.OpText, benchText(size))
				if err := clients[i].roundTrip(); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("conns=100", func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(size)
				var (
					left  atomic.Int64
					wg    sync.WaitGroup
					start = make(chan struct{})
					errs  = make(chan error, len(clients))
				)
				left.Store(int64(b.N))
				// The goroutines are started, and their allocations made,
				// before the counts begin.
				for _, c := range clients {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						for left.Add(-1) >= 0 {
							if err := c.roundTrip(); err != nil {
								errs <- err
								return
							}
						}
					}()
				}
				m0 := benchMallocs()
				b.ResetTimer()
				t0 := time.Now()
				close(start)
				wg.Wait()
				elapsed := time.Since(t0)
				b.StopTimer()
				m1 := benchMallocs()
				select {
				case err := <-errs:
					b.Fatal(err)
				default:
				}
				b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
				b.ReportMetric(float64(m1-m0)/float64(b.N), "server-allocs/op")
			})
		})
	}
}

// ---- handshake ----

// BenchmarkHandshake measures sequential upgrades on the listener path
// (Server.Serve): connect, send the upgrade request, read the 101, close.
// server-allocs/op covers everything the server does for one connection:
// accept, parsing and checking the request, the session, the 101, opening
// the connection (poller registration) and its teardown after the client's
// abrupt close, which the count waits for.
func BenchmarkHandshake(b *testing.B) {
	bs := startBenchServer(b, Options{})
	defer bs.stop(b)
	d := newBenchRawDialer(bs.addr)
	const warm = 50
	for range warm {
		if err := d.handshake(); err != nil {
			b.Fatal(err)
		}
	}
	bs.waitClosed(b, warm)
	b.ReportAllocs()
	ops := 0
	m0 := benchMallocs()
	t0 := time.Now()
	for b.Loop() {
		if err := d.handshake(); err != nil {
			b.Fatal(err)
		}
		ops++
	}
	elapsed := time.Since(t0)
	bs.waitClosed(b, int64(warm+ops))
	m1 := benchMallocs()
	b.ReportMetric(float64(ops)/elapsed.Seconds(), "handshakes/s")
	b.ReportMetric(float64(m1-m0)/float64(ops), "server-allocs/op")
}
