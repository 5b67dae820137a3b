package transport_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// Server.HTTPServer carries the limits of the listener path: a bound on
// the request head's time and size, and on keep-alive idleness.
func TestHTTPServerLimits(t *testing.T) {
	srv, err := transport.New(testOptions(transport.Options{HandshakeTimeout: 7 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer("127.0.0.1:0")
	if hs.ReadHeaderTimeout != 7*time.Second || hs.IdleTimeout != transport.DefaultHTTPIdleTimeout ||
		hs.MaxHeaderBytes != 16<<10 || hs.Handler != srv {
		t.Fatalf("HTTPServer: ReadHeaderTimeout %v, IdleTimeout %v, MaxHeaderBytes %d, Handler %T",
			hs.ReadHeaderTimeout, hs.IdleTimeout, hs.MaxHeaderBytes, hs.Handler)
	}
}

// A keep-alive connection that went quiet after a request is closed after
// the idle timeout; an upgraded connection is not (net/http no longer owns
// it); a request head over the header limit gets 431.
func TestHTTPServerClosesIdleKeepAlive(t *testing.T) {
	const idle = 200 * time.Millisecond
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "page")
	})
	srv, err := transport.New(testOptions(transport.Options{Fallback: page}))
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer("127.0.0.1:0")
	hs.IdleTimeout = idle
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	addr := ln.Addr().String()

	ws := wstest.Dial(t, addr) // upgraded before the keep-alive connections idle out

	const n = 20
	conns := make([]net.Conn, n)
	for i := range conns {
		nc := wstest.DialTCP(t, addr)
		if _, err := io.WriteString(nc, "GET /style.css HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || string(body) != "page" || resp.Close {
			t.Fatalf("keep-alive request: %d %q (close %v)", resp.StatusCode, body, resp.Close)
		}
		conns[i] = nc
	}
	// Far longer than the idle timeout, far shorter than anything else
	// that could close them (no other timeout is that short here).
	deadline := time.Now().Add(30 * time.Second)
	for i, nc := range conns {
		_ = nc.SetReadDeadline(deadline)
		if _, err := nc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("keep-alive connection %d: read %v, want EOF (closed by the idle timeout)", i, err)
		}
	}

	time.Sleep(2 * idle) // past the idle timeout for the upgraded connection too
	ws.Text("still open")
	ws.ExpectText("still open")

	nc := wstest.DialTCP(t, addr)
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 32<<10) + "\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(ioTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("32 KiB header: status %d, want 431", resp.StatusCode)
	}
}
