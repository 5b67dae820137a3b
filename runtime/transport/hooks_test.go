package transport_test

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// OnConnect, OnOpen, the messages and OnClose come in that order, even
// when the first messages were pipelined with the request.
func TestHooksOrder(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		var mu sync.Mutex
		var events []string
		record := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
		e := start(t, viaListener, transport.Options{
			DisablePoller: m.disablePoller,
			Accept: acceptAll(transport.HandlerFunc(func(c *transport.Conn, _ transport.MessageType, data []byte) {
				record("message " + string(data))
				if string(data) == "2" {
					_ = c.Close(1000, "")
				}
			})),
			Hooks: transport.Hooks{
				OnConnect: func(net.Addr) { record("connect") },
				OnOpen:    func(*transport.Conn) { time.Sleep(20 * time.Millisecond); record("open") },
				OnClose:   func(*transport.Conn, *transport.CloseError) { record("close") },
			},
		})
		after := append(wstest.ClientFrame(true, 0, ws.OpText, []byte("1")), wstest.ClientFrame(true, 0, ws.OpText, []byte("2"))...)
		c := wstest.Send(t, e.addr, wstest.UpgradeRequest(e.addr), after)
		c.ExpectCloseCode(1000)
		c.SendClose(1000, "")
		c.ExpectEOF(ioTimeout)
		e.rec.NextClose(t)
		mu.Lock()
		defer mu.Unlock()
		if got, want := strings.Join(events, ", "), "connect, open, message 1, message 2, close"; got != want {
			t.Errorf("events: %s\nwant:   %s", got, want)
		}
	})
}

// Options.Logger receives the runtime's records.
func TestHooksLogger(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := start(t, viaListener, transport.Options{Logger: logger, Accept: acceptAll(transport.HandlerFunc(func(*transport.Conn, transport.MessageType, []byte) {
		panic("logged")
	}))})
	wstest.Send(t, e.addr, wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Version", "1"), nil)
	e.rec.NextHandshakeErr(t)
	c := wstest.Dial(t, e.addr)
	c.Text("x")
	c.ExpectCloseCode(1011)
	c.SendClose(1011, "")
	c.ExpectEOF(ioTimeout)
	e.rec.NextClose(t)
	// The close is logged after OnClose returns.
	for deadline := time.Now().Add(ioTimeout); !strings.Contains(buf.String(), "websocket closed") && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	out := buf.String()
	for _, want := range []string{"handshake refused", "status=426", "websocket closed", "code=1011", "handler panic"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestOptionsValidation(t *testing.T) {
	for _, tt := range []struct {
		name string
		o    transport.Options
	}{
		{"no handler", transport.Options{}},
		{"negative MaxQueuedBytes", transport.Options{Accept: acceptAll(echo), MaxQueuedBytes: -1}},
		{"negative MaxConnections", transport.Options{Accept: acceptAll(echo), MaxConnections: -1}},
		{"negative HandshakeTimeout", transport.Options{Accept: acceptAll(echo), HandshakeTimeout: -1}},
		{"negative CloseTimeout", transport.Options{Accept: acceptAll(echo), CloseTimeout: -1}},
		{"negative WriteTimeout", transport.Options{Accept: acceptAll(echo), WriteTimeout: -1}},
		{"negative PingTimeout", transport.Options{Accept: acceptAll(echo), PingTimeout: -1}},
	} {
		if srv, err := transport.New(tt.o); err == nil {
			_ = srv.Shutdown(context.Background())
			t.Errorf("%s: New accepted %+v", tt.name, tt.o)
		}
	}
	srv, err := transport.New(transport.Options{Accept: acceptAll(echo)})
	if err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
	_ = srv.Shutdown(context.Background())
	for _, typ := range []struct {
		t    transport.MessageType
		want string
	}{{transport.TextMessage, "text"}, {transport.BinaryMessage, "binary"}, {0, "invalid"}} {
		if got := typ.t.String(); got != typ.want {
			t.Errorf("MessageType(%d).String() = %q", typ.t, got)
		}
	}
	if got := (&transport.HTTPError{Status: 401, Reason: "no"}).Error(); !strings.Contains(got, "Unauthorized") || !strings.Contains(got, "no") {
		t.Errorf("HTTPError.Error() = %q", got)
	}
}

// MaxMessageSize -1 means no limit; the default is 1 MiB.
func TestMaxMessageSize(t *testing.T) {
	unlimited := start(t, viaListener, transport.Options{MaxMessageSize: -1})
	c := wstest.Dial(t, unlimited.addr)
	big := strings.Repeat("u", 2<<20)
	c.Text(big)
	c.ExpectText(big)

	def := start(t, viaListener, transport.Options{})
	c = wstest.Dial(t, def.addr)
	c.Write(wstest.ClientFrame(true, 0, ws.OpBinary, make([]byte, 1<<20)))
	if f := c.NextData(); len(f.Payload) != 1<<20 {
		t.Fatalf("echo of 1 MiB: %d bytes", len(f.Payload))
	}
	c.Write(wstest.ClientFrame(true, 0, ws.OpBinary, make([]byte, 1<<20+1))[:14]) // the header only
	c.ExpectCloseCode(1009)
}

func TestServerLenRange(t *testing.T) {
	e := start(t, viaListener, transport.Options{})
	var clients []*client
	for range 5 {
		clients = append(clients, wstest.Dial(t, e.addr))
	}
	if n := e.srv.Len(); n != 5 {
		t.Errorf("Len() = %d, want 5", n)
	}
	// Broadcast through Range.
	n := 0
	e.srv.Range(func(c *transport.Conn) bool {
		n++
		return c.WriteMessage(transport.TextMessage, []byte("broadcast")) == nil
	})
	if n != 5 {
		t.Errorf("Range visited %d connections", n)
	}
	for _, c := range clients {
		c.ExpectText("broadcast")
	}
	n = 0
	e.srv.Range(func(*transport.Conn) bool { n++; return false })
	if n != 1 {
		t.Errorf("Range continued after false: %d calls", n)
	}
	clients[0].HangUp()
	e.rec.NextClose(t)
	if n := e.srv.Len(); n != 4 {
		t.Errorf("Len() = %d after one left, want 4", n)
	}
}

// A *Conn handed out by OnOpen (or found by Server.Range) may be written
// from another goroutine at once. The race detector must find no race with
// the runtime's registration of the connection.
func TestConnPublishedBeforeRegistered(t *testing.T) {
	e := start(t, viaListener, transport.Options{Hooks: transport.Hooks{OnOpen: func(c *transport.Conn) {
		go func() { _ = c.WriteMessage(transport.TextMessage, []byte("welcome")) }()
	}}})
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a broadcaster
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			e.srv.Range(func(c *transport.Conn) bool { _ = c.WriteMessage(transport.TextMessage, []byte("tick")); return true })
			time.Sleep(time.Millisecond)
		}
	}()
	for range 20 {
		req := wstest.UpgradeRequest(e.addr)
		c := wstest.Send(t, e.addr, req, nil)
		c.CheckUpgraded(req)
	}
	close(stop)
	wg.Wait()
}
