package runtime

import (
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// BenchmarkHandshakeHello measures what the load harness's figure d does
// for duplex-rpc, sequentially on the listener path: connect, upgrade,
// hello, read the welcome, then drop the TCP connection without a close
// frame, so that the server saves the session for its resume window.
// server-allocs/op covers accept, upgrade, session, welcome and the
// detach; cpu-ns/op is the process's CPU time per handshake (client
// system calls included, the same for every variant).
// The echo case is the same exchange with an echo handler instead of the
// Router (the message echoed names "welcome" so that the same client
// accepts it): the transport alone, as the harness's duplex-echo. The
// rpc-shared case gives the server a MemoryEngine of its own as if it
// were shared (Options.Engine): the welcome writes the session's record
// (SaveSession) and the detach rewrites it (UpdateSession), the cost of
// sessions that outlive their node, without a remote engine's round trips.
func BenchmarkHandshakeHello(b *testing.B) {
	b.Run("rpc", func(b *testing.B) { benchHandshakeFirst(b, Options{Handler: NewRouter()}, `{"hello":{}}`) })
	b.Run("rpc-shared", func(b *testing.B) {
		e := NewMemoryEngine(MemoryEngineOptions{})
		benchHandshakeFirst(b, Options{Handler: NewRouter(), Engine: e}, `{"hello":{}}`)
	})
	b.Run("echo", func(b *testing.B) { benchHandshakeFirst(b, Options{Handler: benchEchoHandler}, `{"welcome":0}`) })
}

func benchHandshakeFirst(b *testing.B, opts Options, first string) {
	bs := startBenchServer(b, opts)
	defer bs.stop(b)
	d := newBenchRawDialer(bs.addr)
	hello := wstest.BenchClientFrame(nil, true, ws.OpText, []byte(first), wstest.BenchMask)
	once := func() {
		fd, err := d.dialHello(hello)
		if err != nil {
			b.Fatal(err)
		}
		_ = syscall.Close(fd)
	}
	const warm = 50
	for range warm {
		once()
	}
	bs.waitClosed(b, warm)
	b.ReportAllocs()
	ops := 0
	m0, c0 := benchMallocs(), benchCPU()
	t0 := time.Now()
	for b.Loop() {
		once()
		ops++
	}
	elapsed := time.Since(t0)
	bs.waitClosed(b, int64(warm+ops))
	m1, c1 := benchMallocs(), benchCPU()
	b.ReportMetric(float64(ops)/elapsed.Seconds(), "handshakes/s")
	b.ReportMetric(float64(m1-m0)/float64(ops), "server-allocs/op")
	b.ReportMetric(float64(c1-c0)/float64(ops), "cpu-ns/op")
}
