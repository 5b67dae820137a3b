//go:build linux

package main

// Figure f: heap allocations per operation on the server, measured in
// this process with testing.Benchmark the way runtime/bench_test.go does:
// a loopback server and one client doing sequential round trips whose loop
// allocates nothing (pre-built masked frames, pre-sized buffers, direct
// reads and writes on the TCP connection), so that the process-wide
// runtime.MemStats.Mallocs delta over the loop, divided by the round
// trips, is the server's.

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	duplex "github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime_test/bench"
)

// allocCase is one server of figure f.
type allocCase struct {
	name  string
	rpc   bool // duplex protocol: subprotocol, hello, calls
	start func(ln net.Listener) (stop func(), err error)
}

var allocCases = []allocCase{
	{"duplex-rpc call", true, func(ln net.Listener) (func(), error) {
		r := duplex.NewRouter()
		bench.Register(r, echoHandler{})
		// Health checks off, as in runtime/bench_test.go: their sweeps
		// cost per interval, not per call.
		return startDuplex(ln, duplex.Options{Handler: r, Subprotocols: []string{subprotocol}, PingInterval: -1})
	}},
	{"duplex-echo round trip", false, func(ln net.Listener) (func(), error) {
		return startDuplex(ln, duplex.Options{
			Handler: duplex.HandlerFunc(func(c *duplex.Conn, typ duplex.MessageType, data []byte) {
				_ = c.WriteMessage(typ, data)
			}),
			MaxMessageSize: 16 << 20, MaxQueuedBytes: 32 << 20, PingInterval: -1,
		})
	}},
	{"gorilla-echo round trip", false, func(ln net.Listener) (func(), error) {
		var n atomic.Int64
		hs := &http.Server{Handler: gorillaEcho(&n), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		return func() { _ = hs.Close() }, nil
	}},
}

func startDuplex(ln net.Listener, opts duplex.Options) (func(), error) {
	srv, err := duplex.New(opts)
	if err != nil {
		return nil, err
	}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = ln.Close()
		_ = srv.Shutdown(ctx)
	}, nil
}

func (h *harness) figureAllocs() ([]*figure, error) {
	f := &figure{
		ID: "f", Unit: unitAllocs, Duplex: "duplex-rpc call",
		Title: "server allocations per operation: testing.Benchmark in process, one connection, sequential round trips, " +
			"process-wide Mallocs delta / operations",
		Notes: []string{
			"the frame layer (parse and encode) allocates at most what a duplex-echo round trip does, which includes it; " +
				"`go test -run '^$' -bench 'Frame' ./runtime` measures it alone",
		},
	}
	if err := setBenchtime(h.cfg.benchtime); err != nil {
		return nil, err
	}
	text := payloadText(h.cfg.payload)
	for _, c := range allocCases {
		h.logf("f: %s", c.name)
		allocs, ns, err := benchAllocs(c, text)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		f.Values = append(f.Values, value{Server: c.name, Value: allocs, Detail: map[string]float64{"ns_per_op": ns}})
	}
	f.targetOn("duplex-rpc call", "<=", 1) // issue 15
	f.targetOn("duplex-echo round trip", "<=", 0)
	return []*figure{f}, nil
}

// targetOn records an absolute target on the value of server.
func (f *figure) targetOn(server, op string, limit float64) {
	d := f.Duplex
	f.Duplex = server
	f.target(targetAbsolute, op, limit)
	f.Duplex = d
	f.Targets[len(f.Targets)-1].On = server
}

// setBenchtime sets testing.Benchmark's -test.benchtime, registering the
// testing flags first outside a test binary.
func setBenchtime(v string) error {
	if flag.Lookup("test.benchtime") == nil {
		testing.Init()
	}
	if err := flag.Set("test.benchtime", v); err != nil {
		return fmt.Errorf("-benchtime %q: %w", v, err)
	}
	return nil
}

// benchAllocs measures one case: server allocations and ns per round trip.
func benchAllocs(c allocCase, text string) (float64, float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, err
	}
	stop, err := c.start(ln)
	if err != nil {
		ln.Close()
		return 0, 0, err
	}
	defer stop()
	addr := ln.Addr().String()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, 0, err
	}
	defer nc.Close()
	proto := ""
	if c.rpc {
		proto = subprotocol
	}
	wc, err := upgrade(nc, addr, proto, 5*time.Second, 4096)
	if err != nil {
		return 0, 0, err
	}
	if c.rpc {
		if err := wc.hello(5*time.Second, true); err != nil {
			return 0, 0, err
		}
	}
	if wc.br.Buffered() != 0 {
		return 0, 0, errors.New("unexpected bytes after the welcome")
	}
	// Sixteen calls with different ids, reused round robin: an id is free
	// again once its reply is read. Their replies are recorded once, with
	// the frame reader, and compared byte for byte afterwards.
	const ids = 16
	f := newCallFrame(text)
	var reqs, wants [ids][]byte
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	for i := range ids {
		reqs[i] = appendFrame(nil, opText, f.withID(idBase+int64(i)), wc.mask)
		if _, err := nc.Write(reqs[i]); err != nil {
			return 0, 0, err
		}
		op, p, err := wc.readMessage()
		if err != nil {
			return 0, 0, fmt.Errorf("first reply: %w", err)
		}
		if id, ok := parseID(p); !ok || id != idBase+int64(i) || op != opText || len(p) > 125 {
			return 0, 0, fmt.Errorf("unexpected reply %.200q", p)
		}
		wants[i] = append([]byte{0x80 | opText, byte(len(p))}, p...)
	}
	_ = nc.SetDeadline(time.Time{})
	buf := make([]byte, 256)
	i := 0
	roundTrip := func() error {
		if _, err := nc.Write(reqs[i]); err != nil {
			return err
		}
		w := wants[i]
		if _, err := io.ReadFull(nc, buf[:len(w)]); err != nil {
			return err
		}
		if !bytes.Equal(buf[:len(w)], w) {
			return fmt.Errorf("reply %q, want %q", buf[:len(w)], w)
		}
		i = (i + 1) % ids
		return nil
	}
	for range 500 { // warm pools, goroutine free lists, buffers
		if err := roundTrip(); err != nil {
			return 0, 0, err
		}
	}
	var (
		allocs, ns float64
		loopErr    error
	)
	res := testing.Benchmark(func(b *testing.B) {
		_ = nc.SetDeadline(time.Now().Add(time.Minute))
		ops := 0
		m0 := mallocs()
		for b.Loop() {
			if err := roundTrip(); err != nil {
				loopErr = err
				return
			}
			ops++
		}
		m1 := mallocs()
		allocs = float64(m1-m0) / float64(ops)
		b.ReportMetric(allocs, "server-allocs/op")
	})
	if loopErr != nil {
		return 0, 0, loopErr
	}
	if res.N == 0 {
		return 0, 0, errors.New("benchmark did not run")
	}
	ns = float64(res.T.Nanoseconds()) / float64(res.N)
	return allocs, ns, nil
}

func mallocs() uint64 {
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.Mallocs
}
