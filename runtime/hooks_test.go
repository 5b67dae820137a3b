package runtime_test

import (
	"bytes"
	"context"
	"fmt"
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

// OnResume reports how each resume ended, with the welcome's reason; a
// hello without a token is no resume.
func TestHooksResume(t *testing.T) {
	outcomes := make(chan string, 10)
	next := func(want string) {
		t.Helper()
		select {
		case got := <-outcomes:
			if got != want {
				t.Errorf("OnResume(%q), want %q", got, want)
			}
		case <-time.After(ioTimeout):
			t.Fatalf("no OnResume, want %q", want)
		}
	}
	store := runtime.NewMemoryStore()
	e, c := startRPC(t, newRPCMethods(), runtime.Options{
		Store:        store,
		ReplayBuffer: 2,
		Hooks:        runtime.Hooks{OnResume: func(_ *runtime.Conn, o string) { outcomes <- o }},
	})
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	w := hello(t, c, "", 0)
	c.NC.Close()
	e.rec.NextClose(t)

	c2 := dial(t, e.addr)
	w2 := hello(t, c2, w.Resume, 0)
	next(runtime.ResumeResumed)
	c3 := dial(t, e.addr)
	hello(t, c3, w.Resume, 0) // spent
	next(runtime.ResumeUnknown)

	c2.NC.Close()
	e.rec.NextClose(t)
	for i := range 5 {
		if err := sess.Push(fmt.Sprint("e", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	c4 := dial(t, e.addr)
	w4 := hello(t, c4, w2.Resume, 0) // needs 1..5, only 4 and 5 are kept
	next(runtime.ResumeOverrun)

	// A record the store keeps past its expiry is reported expired.
	e.rec.NextOpen(t) // c2's
	e.rec.NextOpen(t) // c3's
	conn4 := e.rec.NextOpen(t)
	if w4.Session != runtime.SessionOf(conn4).ID() {
		t.Fatalf("welcome %+v, want c4's fresh session %s", w4, runtime.SessionOf(conn4).ID())
	}
	c4.NC.Close()
	e.rec.NextClose(t)
	rec := runtime.SessionRecord{ID: runtime.SessionOf(conn4).ID(), ExpiresAt: time.Now().Add(-time.Second)}
	if err := store.Save(t.Context(), runtime.TokenKey(w4.Resume), rec); err != nil {
		t.Fatal(err)
	}
	c5 := dial(t, e.addr)
	hello(t, c5, w4.Resume, 0)
	next(runtime.ResumeExpired)
	select {
	case o := <-outcomes:
		t.Errorf("one OnResume too many: %q", o)
	default:
	}
}

// OnPublish sees every event that goes through the engine, and its error.
func TestHooksPublish(t *testing.T) {
	type publish struct {
		d   time.Duration
		err error
	}
	published := make(chan publish, 10)
	e, c := startRPC(t, newRPCMethods(), runtime.Options{
		Hooks: runtime.Hooks{OnPublish: func(d time.Duration, err error) { published <- publish{d, err} }},
	})
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	hello(t, c, "", 0)
	if err := sess.Push("a", nil); err != nil {
		t.Fatal(err)
	}
	e.srv.Broadcast("b", nil)
	if err := e.srv.Publish(t.Context(), "room", "c", nil); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if p := wstest.Recv(t, published, "OnPublish"); p.err != nil || p.d < 0 {
			t.Errorf("OnPublish(%v, %v), want a duration and no error", p.d, p.err)
		}
	}
	// After Shutdown the engine is closed: the publish fails, and says so.
	if err := e.srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Publish(t.Context(), "room", "d", nil); err == nil {
		t.Fatal("Publish after Shutdown: no error")
	}
	if p := wstest.Recv(t, published, "OnPublish"); p.err == nil {
		t.Error("OnPublish after Shutdown: no error")
	}
}
