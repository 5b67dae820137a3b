package redisengine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/internal/redistest"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// A server on the Redis engine is Ready while Redis answers, reports the
// engine's trouble while Redis is down, is Ready again once the node has
// reconnected by itself, and reports ErrShuttingDown from the moment
// Shutdown begins.
func TestServerReady(t *testing.T) {
	srv := redistest.Start(t)
	eng, err := redisengine.New(srv.URL(), redisengine.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	s, err := runtime.New(runtime.Options{Handler: runtime.NewRouter(), Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func(error) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for err := s.Ready(); !ok(err); err = s.Ready() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: Ready() = %v after 15 s", what, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("started", func(err error) bool { return err == nil })
	srv.Stop()
	waitFor("Redis down", func(err error) bool { return err != nil && !errors.Is(err, runtime.ErrShuttingDown) })
	srv.Restart()
	waitFor("Redis back", func(err error) bool { return err == nil })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Ready(); !errors.Is(err, runtime.ErrShuttingDown) {
		t.Fatalf("after Shutdown: Ready() = %v, want ErrShuttingDown", err)
	}
}
