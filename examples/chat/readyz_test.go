package main

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/internal/redistest"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// GET /readyz answers 200 while the node reaches its Redis, 503 while
// Redis is down, and 200 again once the node has reconnected by itself.
func TestReadyzFollowsRedis(t *testing.T) {
	redis := redistest.Start(t)
	eng, err := redisengine.New(redis.URL(), redisengine.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := runtime.New(runtime.Options{Handler: runtime.NewRouter(), Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	hs := httpServer(srv, nil, nil)
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(hl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = hs.Close()
	})
	waitStatus := func(what string, want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			resp, err := http.Get("http://" + hl.Addr().String() + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == want {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: GET /readyz: %v %v after 20 s, want %d", what, resp, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStatus("started", http.StatusOK)
	redis.Stop()
	waitStatus("Redis down", http.StatusServiceUnavailable)
	redis.Restart()
	waitStatus("Redis back", http.StatusOK)
}
