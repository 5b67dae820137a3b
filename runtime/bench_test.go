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
	"context"
	"fmt"
	"net"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"

	"github.com/duplexrpc/duplex/runtime/wire"
)

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
					c := newBenchClient(bs.dial(b), ws.OpText, wstest.BenchText(n))
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
				clients[i] = newBenchClient(bs.dial(b), ws.OpText, wstest.BenchText(size))
				if err := clients[i].roundTrip(); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("conns=100", func(b *testing.B) {
				b.SetBytes(size)
				benchParallel(b, clients, "msgs/s")
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

// ---- typed RPC calls ----

// benchSayArgs is the argument and result object of the "say" method of
// the RPC benchmarks.
type benchSayArgs struct{ Text string }

// benchSayHandler is the Handler interface generated code would have for
// "say"; benchEcho implements it, answering the arguments as the result.
type benchSayHandler interface {
	Say(ctx context.Context, s *Session, args benchSayArgs) (benchSayArgs, error)
}

type benchEcho struct{}

func (benchEcho) Say(_ context.Context, _ *Session, args benchSayArgs) (benchSayArgs, error) {
	return args, nil
}

var benchHandler benchSayHandler = benchEcho{}

// benchSay is the MethodFunc generated code registers for "say" (see
// gen/golang/testdata/chat/want/chat_duplex.go, Register): the typed
// adapter over the handler's method, which decodes the arguments with
// wire.Decoder into a struct, calls the handler and appends its result.
var benchSay = Method(benchHandler.Say, Command{})

// AppendJSON is benchSayArgs.AppendJSON as generated code has it.
func (m *benchSayArgs) AppendJSON(dst []byte) ([]byte, error) {
	dst = append(dst, `{"text":`...)
	dst = wire.AppendString(dst, m.Text)
	return append(dst, '}'), nil
}

// DecodeJSON is benchSayArgs.DecodeJSON as generated code has it.
func (m *benchSayArgs) DecodeJSON(d *wire.Decoder) error {
	*m = benchSayArgs{}
	hasText := false
	if err := d.BeginObject(); err != nil {
		return err
	}
	for {
		key, more, err := d.NextMember()
		if err != nil {
			return err
		}
		if !more {
			break
		}
		switch string(key) {
		case "text":
			if hasText {
				return d.Errorf("duplicate field")
			}
			hasText = true
			m.Text, err = d.String()
		default:
			err = d.Skip()
		}
		if err != nil {
			return err
		}
	}
	if !hasText {
		return d.Missing("text")
	}
	return nil
}

// benchRPCServer starts a server whose Handler is a Router with "say",
// wrapped in the interceptors given.
func benchRPCServer(b *testing.B, disable bool, interceptors ...Interceptor) *benchServer {
	r := NewRouter()
	r.Use(interceptors...)
	r.Handle("say", benchSay)
	return startBenchServer(b, Options{Handler: r, DisablePoller: disable})
}

// newBenchRPCClient returns a client whose round trip is one call of
// "say" and its reply; the same id is reused, which the protocol allows
// once the reply has arrived.
func newBenchRPCClient(nc net.Conn) *benchClient {
	req := []byte(`{"id":7,"call":"say","args":{"text":"hello, world"}}`)
	want := benchServerFrame(ws.OpText, []byte(`{"id":7,"result":{"text":"hello, world"}}`))
	return &benchClient{
		nc:   nc,
		req:  wstest.BenchClientFrame(nil, true, ws.OpText, req, wstest.BenchMask),
		resp: make([]byte, len(want)),
		want: want,
	}
}

// BenchmarkRPCCall measures sequential typed calls over one connection
// through a Router: envelope decoding, the call's context and goroutine,
// argument decoding and result encoding as generated code does them, and
// the reply. server-allocs/op is everything the server allocates per call.
func BenchmarkRPCCall(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) { benchRPCCall(b, mode.disable) })
	}
}

// BenchmarkRPCCallIntercepted is BenchmarkRPCCall through one interceptor
// that does nothing but call the next function: what a chain costs
// beyond its interceptors' own work.
func BenchmarkRPCCallIntercepted(b *testing.B) {
	pass := func(next MethodFunc) MethodFunc {
		return func(ctx context.Context, call *Call, dst []byte) ([]byte, error) {
			return next(ctx, call, dst)
		}
	}
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) { benchRPCCall(b, mode.disable, pass) })
	}
}

func benchRPCCall(b *testing.B, disable bool, interceptors ...Interceptor) {
	bs := benchRPCServer(b, disable, interceptors...)
	defer bs.stop(b)
	c := newBenchRPCClient(bs.dial(b))
	for range 200 {
		if err := c.roundTrip(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
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
}

// benchSayClosure is the MethodFunc generated code had for "say" before
// the adapters: a closure per command doing inline what Method does.
func benchSayClosure(ctx context.Context, call *Call, dst []byte) ([]byte, error) {
	var (
		d    wire.Decoder
		args benchSayArgs
	)
	d.Reset(call.Args, "args")
	if err := args.DecodeJSON(&d); err != nil {
		return dst, &Error{Code: CodeBadRequest, Message: err.Error()}
	}
	res, err := benchHandler.Say(ctx, call.Session, args)
	if err != nil {
		return dst, err
	}
	if dst, err = res.AppendJSON(dst); err != nil {
		return dst, fmt.Errorf("encode say result: %w", err)
	}
	return dst, nil
}

// BenchmarkMethod measures the method of one typed call alone, without a
// connection, so that a loaded machine's scheduling does not drown it:
// Method against the closure it replaced (impl=closure), on a Call that
// carries its decoder as the Router's do. Compare the two with
// benchstat -col /impl.
func BenchmarkMethod(b *testing.B) {
	var d wire.Decoder
	call := &Call{Name: "say", Args: []byte(`{"text":"hello, world"}`), dec: &d}
	for _, impl := range []struct {
		name string
		fn   MethodFunc
	}{{"impl=closure", benchSayClosure}, {"impl=adapter", benchSay}} {
		b.Run(impl.name, func(b *testing.B) {
			b.ReportAllocs()
			dst := make([]byte, 0, 64)
			ctx := context.Background()
			for b.Loop() {
				if _, err := impl.fn(ctx, call, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRPCParallel is BenchmarkEchoParallel with typed calls: 100
// connections, each doing call/reply round trips concurrently; it reports
// calls per second.
func BenchmarkRPCParallel(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			bs := benchRPCServer(b, mode.disable)
			defer bs.stop(b)
			clients := make([]*benchClient, benchParallelConns)
			for i := range clients {
				clients[i] = newBenchRPCClient(bs.dial(b))
				if err := clients[i].roundTrip(); err != nil {
					b.Fatal(err)
				}
			}
			b.Run("conns=100", func(b *testing.B) { benchParallel(b, clients, "calls/s") })
		})
	}
}

// benchParallel runs b.N round trips spread over clients, each client on
// its own goroutine, and reports their rate as unit, the server's
// allocations per round trip, and the process's CPU time (user and
// system, clients included) per round trip as cpu-ns/op, which a shared,
// noisy machine disturbs less than the rate.
func benchParallel(b *testing.B, clients []*benchClient, unit string) {
	b.ReportAllocs()
	var (
		left  atomic.Int64
		wg    sync.WaitGroup
		start = make(chan struct{})
		errs  = make(chan error, len(clients))
	)
	left.Store(int64(b.N))
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
	c0 := benchCPU()
	b.ResetTimer()
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	b.StopTimer()
	c1 := benchCPU()
	m1 := benchMallocs()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), unit)
	b.ReportMetric(float64(m1-m0)/float64(b.N), "server-allocs/op")
	b.ReportMetric(float64(c1-c0)/float64(b.N), "cpu-ns/op")
}

// ---- memory of idle connections ----

// benchIdleConns is the number of connections of BenchmarkIdleConnMemory.
const benchIdleConns = 2000

// BenchmarkIdleConnMemory opens 2000 connections to a Router, each of
// which says hello and reads its welcome (so each holds a session with a
// resume token), lets them go idle, and reports what the server holds per
// connection: heap-B/conn is the growth of the heap in use after a
// collection, stack-B/conn that of goroutine stacks (zero on the epoll
// path: no goroutine per connection), total-B/conn their sum. The clients
// are raw sockets (no Go heap), so the growth is the server's. Socket
// buffers are the kernel's and not counted. Each iteration measures anew.
func BenchmarkIdleConnMemory(b *testing.B) {
	for _, mode := range benchModes {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				benchIdleMemory(b, mode.disable)
			}
		})
	}
}

func benchIdleMemory(b *testing.B, disable bool) {
	bs := startBenchServer(b, Options{Handler: NewRouter(), DisablePoller: disable})
	defer bs.stop(b)
	d := newBenchRawDialer(bs.addr)
	hello := wstest.BenchClientFrame(nil, true, ws.OpText, []byte(`{"hello":{}}`), wstest.BenchMask)
	// Warm up: pools, the poller's slot table, the pool of workers.
	fds := make([]int, 0, benchIdleConns+100)
	defer func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	}()
	open := func(n int) {
		for range n {
			fd, err := d.dialHello(hello)
			if err != nil {
				b.Fatal(err)
			}
			fds = append(fds, fd)
		}
	}
	open(100)
	for bs.srv.Len() < 100 {
		time.Sleep(time.Millisecond)
	}
	heap0, stack0 := benchSettledMemory()
	open(benchIdleConns)
	for bs.srv.Len() < benchIdleConns+100 {
		time.Sleep(time.Millisecond)
	}
	heap1, stack1 := benchSettledMemory()
	heap := float64(int64(heap1)-int64(heap0)) / benchIdleConns
	stack := float64(int64(stack1)-int64(stack0)) / benchIdleConns
	b.ReportMetric(heap, "heap-B/conn")
	b.ReportMetric(stack, "stack-B/conn")
	b.ReportMetric(heap+stack, "total-B/conn")
}

// benchSettledMemory returns the heap and stack memory in use once
// garbage is collected and worker goroutines have gone idle.
func benchSettledMemory() (heap, stack uint64) {
	time.Sleep(50 * time.Millisecond)
	goruntime.GC()
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

// ---- broadcast ----

// BenchmarkBroadcast pushes one event to 2000 connections that said hello
// and waits until every client socket has read its frame: ns/op is the
// time until the last connection has the event; server-allocs/op counts
// the server's allocations per broadcast (not per connection).
func BenchmarkBroadcast(b *testing.B) {
	const conns = 2000
	bs := startBenchServer(b, Options{Handler: NewRouter(), ReplayBuffer: -1})
	defer bs.stop(b)
	d := newBenchRawDialer(bs.addr)
	hello := wstest.BenchClientFrame(nil, true, ws.OpText, []byte(`{"hello":{}}`), wstest.BenchMask)
	fds := make([]int, 0, conns)
	defer func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	}()
	for range conns {
		fd, err := d.dialHello(hello)
		if err != nil {
			b.Fatal(err)
		}
		fds = append(fds, fd)
	}
	for bs.srv.Len() < conns {
		time.Sleep(time.Millisecond)
	}
	data := []byte(`{"from":"ada","content":"hello, everyone"}`)
	buf := make([]byte, 256)
	// Every frame is {"event":"said","seq":N,"data":...} with N of the
	// same width within a run of fewer than 9 broadcasts per digit: read
	// up to the closing brace of each frame.
	recv := func() {
		for _, fd := range fds {
			got := 0
			for got < 2 || got < 2+int(buf[1]&0x7f) {
				n, err := syscall.Read(fd, buf[got:])
				if err == syscall.EINTR {
					continue
				}
				if err != nil || n == 0 {
					b.Fatalf("read event: %v", err)
				}
				got += n
			}
		}
	}
	bs.srv.Broadcast("said", data)
	recv()
	b.ReportAllocs()
	ops := 0
	m0 := benchMallocs()
	for b.Loop() {
		bs.srv.Broadcast("said", data)
		recv()
		ops++
	}
	m1 := benchMallocs()
	b.ReportMetric(float64(m1-m0)/float64(ops), "server-allocs/op")
}
