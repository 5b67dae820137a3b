package redisengine_test

import (
	"testing"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/enginetest"
	"github.com/duplexrpc/duplex/runtime/internal/redistest"
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
