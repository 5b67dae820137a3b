package duplexclient_test

import (
	"context"
	"net"
	"testing"

	duplexclient "github.com/duplexrpc/duplex/clients/go"
	"github.com/duplexrpc/duplex/runtime"
)

// BenchmarkCall is one call and its reply over loopback, client and
// server in this process; allocs/op counts both sides.
func BenchmarkCall(b *testing.B) { benchmarkCall(b, duplexclient.Options{}) }

// BenchmarkCallTraced is BenchmarkCall with every call carrying a trace
// member (Options.Trace returns constants: what the member costs on the
// wire and in the server's envelope reader, not a tracer's cost).
func BenchmarkCallTraced(b *testing.B) {
	benchmarkCall(b, duplexclient.Options{Trace: func(context.Context) (string, string) {
		return "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "congo=t61rcWkgMzE"
	}})
}

func benchmarkCall(b *testing.B, o duplexclient.Options) {
	s := startServerB(b)
	c := duplexclient.New("ws://"+s+"/", o)
	defer c.Close()
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	args := raw(`{"name":"ada"}`)
	var r rawResult
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Call(ctx, "echo", args, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func startServerB(b *testing.B) string {
	r := runtime.NewRouter()
	r.Handle("echo", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return append(dst, call.Args...), nil
	})
	srv, err := runtime.New(runtime.Options{Handler: r})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	return ln.Addr().String()
}
