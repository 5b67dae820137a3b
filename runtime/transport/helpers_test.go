package transport_test

// Shared test scaffolding for the black-box tests of the transport: a
// server on a real loopback listener (Serve) or under net/http (ServeHTTP)
// and a recorder of every hook call. The byte-level client is wstest's,
// shared with the runtime's tests.

import (
	"context"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// ioTimeout bounds every blocking read or write a test does (see
// wstest.IOTimeout); slowCloseTimeout is the CloseTimeout of tests that
// check the server closes TCP as soon as the close handshake is complete.
const (
	ioTimeout        = wstest.IOTimeout
	slowCloseTimeout = wstest.SlowCloseTimeout
)

// path says how the server is reached.
type path int

const (
	viaListener path = iota // transport.Server.Serve(ln)
	viaHTTP                 // httptest.Server with the runtime as handler
)

func (p path) String() string {
	if p == viaHTTP {
		return "http"
	}
	return "listener"
}

// readMode is one of the two ways the runtime reads connections.
type readMode struct {
	name          string
	disablePoller bool
}

var readModes = []readMode{{"poller", false}, {"goroutine", true}}

// ---- hook recorder ----

type closeEvent struct {
	conn *transport.Conn
	err  *transport.CloseError
	at   time.Time
}

type healthEvent struct {
	conn *transport.Conn
	h    transport.Health
}

type connErr struct {
	conn *transport.Conn
	err  error
}

type handshakeErr struct {
	req    *transport.Request
	status int
	err    error
}

// recorder records every hook call; the channels are buffered generously
// so that hooks never block the transport.
type recorder struct {
	mu         sync.Mutex
	opened     []*transport.Conn
	closeCount map[*transport.Conn]int
	connects   int

	opens     chan *transport.Conn
	closes    chan closeEvent
	health    chan healthEvent
	errs      chan connErr
	hsErrs    chan handshakeErr
	shutdowns chan uint16
}

func newRecorder() *recorder {
	return &recorder{
		closeCount: make(map[*transport.Conn]int),
		opens:      make(chan *transport.Conn, 1000),
		closes:     make(chan closeEvent, 1000),
		health:     make(chan healthEvent, 1000),
		errs:       make(chan connErr, 1000),
		hsErrs:     make(chan handshakeErr, 1000),
		shutdowns:  make(chan uint16, 10),
	}
}

// wrap returns hooks that record and then call the test's own hooks.
func (r *recorder) wrap(h transport.Hooks) transport.Hooks {
	return transport.Hooks{
		OnConnect: func(a net.Addr) {
			r.mu.Lock()
			r.connects++
			r.mu.Unlock()
			if h.OnConnect != nil {
				h.OnConnect(a)
			}
		},
		OnHandshakeError: func(req *transport.Request, status int, err error) {
			r.hsErrs <- handshakeErr{req, status, err}
			if h.OnHandshakeError != nil {
				h.OnHandshakeError(req, status, err)
			}
		},
		OnOpen: func(c *transport.Conn) {
			r.mu.Lock()
			r.opened = append(r.opened, c)
			r.mu.Unlock()
			if h.OnOpen != nil {
				h.OnOpen(c)
			}
			r.opens <- c
		},
		OnClose: func(c *transport.Conn, e *transport.CloseError) {
			r.mu.Lock()
			r.closeCount[c]++
			r.mu.Unlock()
			if h.OnClose != nil {
				h.OnClose(c, e)
			}
			r.closes <- closeEvent{c, e, time.Now()}
		},
		OnHealth: func(c *transport.Conn, hh transport.Health) {
			r.health <- healthEvent{c, hh}
			if h.OnHealth != nil {
				h.OnHealth(c, hh)
			}
		},
		OnError: func(c *transport.Conn, err error) {
			r.errs <- connErr{c, err}
			if h.OnError != nil {
				h.OnError(c, err)
			}
		},
		OnShutdown: func(code uint16) {
			r.shutdowns <- code
			if h.OnShutdown != nil {
				h.OnShutdown(code)
			}
		},
	}
}

func (r *recorder) nextOpen(t testing.TB) *transport.Conn {
	t.Helper()
	select {
	case c := <-r.opens:
		return c
	case <-time.After(ioTimeout):
		t.Fatal("timed out waiting for OnOpen")
		return nil
	}
}

func (r *recorder) nextClose(t testing.TB) closeEvent {
	t.Helper()
	select {
	case e := <-r.closes:
		return e
	case <-time.After(ioTimeout):
		t.Fatal("timed out waiting for OnClose")
		return closeEvent{}
	}
}

func (r *recorder) nextHandshakeErr(t testing.TB) handshakeErr {
	t.Helper()
	select {
	case e := <-r.hsErrs:
		return e
	case <-time.After(ioTimeout):
		t.Fatal("timed out waiting for OnHandshakeError")
		return handshakeErr{}
	}
}

func (r *recorder) nextError(t testing.TB) connErr {
	t.Helper()
	select {
	case e := <-r.errs:
		return e
	case <-time.After(ioTimeout):
		t.Fatal("timed out waiting for OnError")
		return connErr{}
	}
}

// noClose fails if an OnClose arrives within d.
func (r *recorder) noClose(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case e := <-r.closes:
		t.Fatalf("unexpected OnClose: %v", e.err)
	case <-time.After(d):
	}
}

// checkClosedOnce verifies that every opened connection got exactly one
// OnClose, waiting a little for hooks still running.
func (r *recorder) checkClosedOnce(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		r.mu.Lock()
		var missing, extra int
		for _, c := range r.opened {
			switch n := r.closeCount[c]; {
			case n == 0:
				missing++
			case n > 1:
				extra++
			}
		}
		r.mu.Unlock()
		if extra > 0 {
			t.Errorf("%d connections got OnClose more than once", extra)
			return
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d connections never got OnClose", missing)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ---- server ----

type env struct {
	t        testing.TB
	srv      *transport.Server
	addr     string // host:port
	rec      *recorder
	path     path
	serveErr chan error // Serve's result on the listener path
	ln       net.Listener
	hs       *httptest.Server
}

// echo answers every message with the same message.
var echo = transport.HandlerFunc(func(c *transport.Conn, typ transport.MessageType, data []byte) {
	_ = c.WriteMessage(typ, data)
})

// acceptAll returns an Options.Accept that gives every connection h.
func acceptAll(h transport.ConnHandler) func(*transport.Request) (transport.ConnHandler, error) {
	return func(*transport.Request) (transport.ConnHandler, error) { return h, nil }
}

// testOptions fills in small timeouts, an echo handler and no health
// checks unless the test set them.
func testOptions(o transport.Options) transport.Options {
	if o.Accept == nil {
		o.Accept = acceptAll(echo)
	}
	if o.CloseTimeout == 0 {
		o.CloseTimeout = 300 * time.Millisecond
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 2 * time.Second
	}
	if o.WriteTimeout == 0 {
		// One write can carry megabytes of coalesced frames, which a
		// reader starved of CPU on a loaded machine takes seconds to drain.
		o.WriteTimeout = 10 * time.Second
	}
	if o.PingInterval == 0 {
		o.PingInterval = -1
	}
	return o
}

// start runs a server for the test and shuts it down at cleanup, checking
// that every connection got exactly one OnClose.
func start(t testing.TB, p path, o transport.Options) *env {
	t.Helper()
	rec := newRecorder()
	o = testOptions(o)
	o.Hooks = rec.wrap(o.Hooks)
	srv, err := transport.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e := &env{t: t, srv: srv, rec: rec, path: p}
	switch p {
	case viaListener:
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		e.ln, e.addr = ln, ln.Addr().String()
		e.serveErr = make(chan error, 1)
		go func() { e.serveErr <- srv.Serve(ln) }()
	case viaHTTP:
		e.hs = httptest.NewServer(srv)
		e.addr = strings.TrimPrefix(e.hs.URL, "http://")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if e.hs != nil {
			e.hs.Close()
		}
		rec.checkClosedOnce(t)
	})
	return e
}

// ---- client ----

// The raw client is wstest's.
type (
	client  = wstest.Client
	request = wstest.Request
	frame   = wstest.Frame
)
