package transport

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// dialRaw completes a WebSocket handshake over plain TCP and returns the
// connection, reading nothing more.
func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(nc, "GET /ws HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", addr)
	resp, err := http.ReadResponse(bufio.NewReaderSize(nc, 256), nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %s", resp.Status)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc
}

// TestIdleConnectionsHoldNoGoroutineOrBuffer opens many connections and
// checks that, once idle, they cost the server no goroutine and no buffer
// (the epoll read path); with DisablePoller each one has its reader.
func TestIdleConnectionsHoldNoGoroutineOrBuffer(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisablePoller=%v", disable), func(t *testing.T) {
			var checking atomic.Bool
			checking.Store(true)
			srv, err := New(Options{
				Accept: func(*Request) (ConnHandler, error) {
					return HandlerFunc(func(c *Conn, typ MessageType, data []byte) { _ = c.WriteMessage(typ, data) }), nil
				},
				Hooks: Hooks{OnClose: func(c *Conn, e *CloseError) {
					if checking.Load() {
						t.Errorf("connection closed during the test: %v", e)
					}
				}},
				PingInterval:  -1,
				DisablePoller: disable,
			})
			if err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Shutdown(t.Context())

			const n = 300
			before := settledGoroutines()
			clients := make([]net.Conn, 0, n)
			for range n {
				nc := dialRaw(t, ln.Addr().String())
				defer nc.Close()
				clients = append(clients, nc)
			}
			// Each client sends one message and gets it back, so every
			// connection has been through the read and write paths.
			frame := []byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1}
			for _, nc := range clients {
				if _, err := nc.Write(frame); err != nil {
					t.Fatal(err)
				}
			}
			buf := make([]byte, 7)
			for _, nc := range clients {
				_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := readFull(nc, buf); err != nil || string(buf[2:]) != "hello" {
					t.Fatalf("echo: %q, %v", buf, err)
				}
			}
			deadline := time.Now().Add(5 * time.Second)
			var grown int
			for {
				grown = runtime.NumGoroutine() - before
				if !disable && grown < 20 || disable && grown >= n-20 || time.Now().After(deadline) {
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
			if !disable && grown >= 20 {
				t.Fatalf("%d idle connections added %d goroutines; want none per connection", n, grown)
			}
			if disable && grown < n-20 { // a few goroutines of the previous run may still be exiting
				t.Fatalf("with DisablePoller, %d connections added only %d goroutines", n, grown)
			}
			if srv.Len() != n {
				t.Fatalf("server has %d connections, want %d", srv.Len(), n)
			}
			srv.Range(func(c *Conn) bool {
				c.mu.Lock()
				queued := len(c.queue)
				c.mu.Unlock()
				if disable {
					return queued == 0
				}
				for !c.readBusy.CompareAndSwap(false, true) { // own the parser to look at it
					time.Sleep(time.Millisecond)
				}
				defer c.readBusy.Store(false)
				if queued != 0 || c.parser.msg != nil || c.parser.busy() {
					t.Errorf("idle connection holds a buffer: queue %d, parser busy %v", queued, c.parser.busy())
					return false
				}
				return true
			})
			checking.Store(false)
		})
	}
}

// settledGoroutines waits until goroutines of earlier tests have exited.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m == n {
			return m
		}
		n = m
	}
	return n
}

func readFull(nc net.Conn, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := nc.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
