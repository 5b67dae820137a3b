package main

import (
	"context"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// redisServer starts a redis-server without persistence on a free port,
// killed at the end of the test, and returns its port and a function that
// kills it. It fails (not skips) when redis-server is missing:
// scripts/test.sh installs it.
func redisServer(t *testing.T, port int) (stop func()) {
	t.Helper()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	stop = func() { _ = cmd.Process.Kill(); <-done }
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on port %d does not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// GET /readyz answers 200 while the node reaches its Redis, 503 while
// Redis is down, and 200 again once the node has reconnected by itself.
func TestReadyzFollowsRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	stop := redisServer(t, port)
	eng, err := redisengine.New("redis://127.0.0.1:"+strconv.Itoa(port)+"/0", redisengine.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := runtime.New(runtime.Options{Handler: runtime.NewRouter(), Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	hs := httpServer(srv, nil)
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
	stop()
	waitStatus("Redis down", http.StatusServiceUnavailable)
	redisServer(t, port)
	waitStatus("Redis back", http.StatusOK)
}
