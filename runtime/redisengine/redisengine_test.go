package redisengine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/internal/redistest"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/enginetest"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// newNode returns a node on srv, closed when the test ends.
func newNode(t *testing.T, srv *redistest.Server, opts redisengine.Options) *redisengine.Engine {
	t.Helper()
	e, err := redisengine.New(srv.URL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// TestContract runs the Engine contract on nodes of one real Redis; its
// wipe is FLUSHALL and FUNCTION FLUSH, what a restart without data leaves.
func TestContract(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) ([]runtime.Engine, func()) {
		srv := redistest.Start(t)
		nodes := make([]runtime.Engine, 4)
		for i := range nodes {
			nodes[i] = newNode(t, srv, redisengine.Options{HistoryLen: cfg.HistoryLen})
		}
		return nodes, func() {
			srv.Do("FLUSHALL")
			srv.Do("FUNCTION", "FLUSH")
		}
	})
}

// Deployments with different prefixes share a Redis without seeing each
// other: separate orders, histories and deliveries.
func TestPrefix(t *testing.T) {
	srv := redistest.Start(t)
	x := newNode(t, srv, redisengine.Options{Prefix: "{x}"})
	y := newNode(t, srv, redisengine.Options{Prefix: "{y}"})
	got := make(chan string, 10)
	for _, e := range []*redisengine.Engine{x, y} {
		if err := e.Start(context.Background(), recvFunc(func(ev runtime.Event) { got <- string(ev.Payload) })); err != nil {
			t.Fatal(err)
		}
		if err := e.Subscribe(context.Background(), "t"); err != nil {
			t.Fatal(err)
		}
	}
	px, err := x.Publish(context.Background(), "t", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if p := <-got; p != "x" {
		t.Fatalf("delivered %q", p)
	}
	py, err := y.Publish(context.Background(), "t", []byte("y"))
	if err != nil || px.GSeq != 1 || py.GSeq != 1 || px.Epoch == py.Epoch {
		t.Fatalf("positions %v and %v (%v): want two orders", px, py, err)
	}
	if p := <-got; p != "y" {
		t.Fatalf("delivered %q after y's publish: x's event reached y", p)
	}
	if keys := srv.Do("KEYS", "*"); !strings.Contains(keys, "{x}:t:t") || !strings.Contains(keys, "{y}:t:t") {
		t.Fatalf("keys %q", keys)
	}
}

// recvFunc is a Receiver that delivers to a function and expects no loss.
type recvFunc func(runtime.Event)

func (f recvFunc) Deliver(ev runtime.Event)   { f(ev) }
func (f recvFunc) Lost(_ []string, err error) { panic(err) }
