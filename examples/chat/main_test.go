package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

// The chat server's HTTP side has the limits of runtime.Server.HTTPServer:
// page clients that fetched a file and went quiet are closed after the
// idle timeout, and an oversized request head gets 431.
func TestHTTPLimits(t *testing.T) {
	srv, err := runtime.New(runtime.Options{Handler: runtime.NewRouter()})
	if err != nil {
		t.Fatal(err)
	}
	page, err := fs.Sub(web, "web")
	if err != nil {
		t.Fatal(err)
	}
	hs := httpServer(srv, page, nil)
	if hs.ReadHeaderTimeout <= 0 || hs.IdleTimeout != runtime.DefaultHTTPIdleTimeout || hs.MaxHeaderBytes <= 0 {
		t.Fatalf("chat http.Server: ReadHeaderTimeout %v, IdleTimeout %v, MaxHeaderBytes %d",
			hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes)
	}
	hs.IdleTimeout = 200 * time.Millisecond
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = hs.Shutdown(ctx)
	})
	addr := ln.Addr().String()

	const clients = 50
	conns := make([]net.Conn, clients)
	for i := range conns {
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		if _, err := io.WriteString(nc, "GET /style.css HTTP/1.1\r\nHost: chat\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 || resp.Close {
			t.Fatalf("GET /style.css: %d (close %v), want a kept-alive 200", resp.StatusCode, resp.Close)
		}
		conns[i] = nc
	}
	deadline := time.Now().Add(30 * time.Second) // nothing but the idle timeout closes them sooner
	for i, nc := range conns {
		_ = nc.SetReadDeadline(deadline)
		if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("page client %d: read %v, want EOF from the idle timeout", i, err)
		}
	}

	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	big := "GET / HTTP/1.1\r\nHost: chat\r\nCookie: " + strings.Repeat("c", 64<<10) + "\r\n\r\n"
	if _, err := io.WriteString(nc, big); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("64 KiB request head: status %d, want 431", resp.StatusCode)
	}
}
