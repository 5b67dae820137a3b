package runtime_test

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

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// OnConnect, OnOpen, the messages and OnClose come in that order, even
// when the first messages were pipelined with the request.
func TestHooksOrder(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		var mu sync.Mutex
		var events []string
		record := func(s string) { mu.Lock(); events = append(events, s); mu.Unlock() }
		e := start(t, viaListener, runtime.Options{
			DisablePoller: m.disablePoller,
			Handler: runtime.HandlerFunc(func(c *runtime.Conn, _ runtime.MessageType, data []byte) {
				record("message " + string(data))
				if string(data) == "2" {
					_ = c.Close(1000, "")
				}
			}),
			Hooks: runtime.Hooks{
				OnConnect: func(net.Addr) { record("connect") },
				OnOpen:    func(*runtime.Conn) { time.Sleep(20 * time.Millisecond); record("open") },
				OnClose:   func(*runtime.Conn, *runtime.CloseError) { record("close") },
			},
		})
		after := append(wstest.ClientFrame(true, 0, ws.OpText, []byte("1")), wstest.ClientFrame(true, 0, ws.OpText, []byte("2"))...)
		c := send(t, e.addr, wstest.UpgradeRequest(e.addr), after)
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
	e := start(t, viaListener, runtime.Options{Logger: logger, Handler: runtime.HandlerFunc(func(*runtime.Conn, runtime.MessageType, []byte) {
		panic("logged")
	})})
	send(t, e.addr, wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Version", "1"), nil)
	e.rec.NextHandshakeErr(t)
	c := dial(t, e.addr)
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
		o    runtime.Options
	}{
		{"no handler", runtime.Options{}},
		{"negative MaxQueuedBytes", runtime.Options{Handler: echo, MaxQueuedBytes: -1}},
		{"negative MaxConnections", runtime.Options{Handler: echo, MaxConnections: -1}},
		{"negative HandshakeTimeout", runtime.Options{Handler: echo, HandshakeTimeout: -1}},
		{"negative CloseTimeout", runtime.Options{Handler: echo, CloseTimeout: -1}},
		{"negative WriteTimeout", runtime.Options{Handler: echo, WriteTimeout: -1}},
		{"negative PingTimeout", runtime.Options{Handler: echo, PingTimeout: -1}},
	} {
		if srv, err := runtime.New(tt.o); err == nil {
			_ = srv.Shutdown(context.Background())
			t.Errorf("%s: New accepted %+v", tt.name, tt.o)
		}
	}
	srv, err := runtime.New(runtime.Options{Handler: echo})
	if err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
	_ = srv.Shutdown(context.Background())
	for _, typ := range []struct {
		t    runtime.MessageType
		want string
	}{{runtime.TextMessage, "text"}, {runtime.BinaryMessage, "binary"}, {0, "invalid"}} {
		if got := typ.t.String(); got != typ.want {
			t.Errorf("MessageType(%d).String() = %q", typ.t, got)
		}
	}
	if got := (&runtime.HTTPError{Status: 401, Reason: "no"}).Error(); !strings.Contains(got, "Unauthorized") || !strings.Contains(got, "no") {
		t.Errorf("HTTPError.Error() = %q", got)
	}
}
