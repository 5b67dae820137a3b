package runtime_test

// Shared test scaffolding for the black-box tests: a server on a real
// loopback listener (Serve) or under net/http (ServeHTTP) and a recorder of
// every hook call. The byte-level client is wstest's, shared with the
// transport's tests.

import (
	"bytes"
	"compress/flate"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
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
	viaListener path = iota // runtime.Server.Serve(ln)
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

var paths = []path{viaListener, viaHTTP}

// forModes runs f as a subtest in each read mode.
func forModes(t *testing.T, f func(t *testing.T, m readMode)) {
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

// ---- hook recorder ----

type closeEvent struct {
	conn *runtime.Conn
	err  *runtime.CloseError
	at   time.Time
}

type healthEvent struct {
	conn *runtime.Conn
	h    runtime.Health
}

type connErr struct {
	conn *runtime.Conn
	err  error
}

type handshakeErr struct {
	req    *runtime.Request
	status int
	err    error
}

// recorder records every hook call; the channels are buffered generously
// so that hooks never block the runtime.
type recorder struct {
	mu          sync.Mutex
	opened      []*runtime.Conn
	closeCount  map[*runtime.Conn]int
	connects    int
	sessionEnds map[*runtime.Session]int

	opens     chan *runtime.Conn
	closes    chan closeEvent
	health    chan healthEvent
	errs      chan connErr
	hsErrs    chan handshakeErr
	ended     chan *runtime.Session
	shutdowns chan uint16
}

func newRecorder() *recorder {
	return &recorder{
		closeCount:  make(map[*runtime.Conn]int),
		sessionEnds: make(map[*runtime.Session]int),
		opens:       make(chan *runtime.Conn, 1000),
		closes:      make(chan closeEvent, 1000),
		health:      make(chan healthEvent, 1000),
		errs:        make(chan connErr, 1000),
		hsErrs:      make(chan handshakeErr, 1000),
		ended:       make(chan *runtime.Session, 1000),
		shutdowns:   make(chan uint16, 10),
	}
}

// wrap returns hooks that record and then call the test's own hooks.
func (r *recorder) wrap(h runtime.Hooks) runtime.Hooks {
	return runtime.Hooks{
		OnConnect: func(a net.Addr) {
			r.mu.Lock()
			r.connects++
			r.mu.Unlock()
			if h.OnConnect != nil {
				h.OnConnect(a)
			}
		},
		OnHandshakeError: func(req *runtime.Request, status int, err error) {
			r.hsErrs <- handshakeErr{req, status, err}
			if h.OnHandshakeError != nil {
				h.OnHandshakeError(req, status, err)
			}
		},
		OnOpen: func(c *runtime.Conn) {
			r.mu.Lock()
			r.opened = append(r.opened, c)
			r.mu.Unlock()
			if h.OnOpen != nil {
				h.OnOpen(c)
			}
			r.opens <- c
		},
		OnClose: func(c *runtime.Conn, e *runtime.CloseError) {
			r.mu.Lock()
			r.closeCount[c]++
			r.mu.Unlock()
			if h.OnClose != nil {
				h.OnClose(c, e)
			}
			r.closes <- closeEvent{c, e, time.Now()}
		},
		OnHealth: func(c *runtime.Conn, hh runtime.Health) {
			r.health <- healthEvent{c, hh}
			if h.OnHealth != nil {
				h.OnHealth(c, hh)
			}
		},
		OnError: func(c *runtime.Conn, err error) {
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
		OnSessionEnd: func(s *runtime.Session) {
			r.mu.Lock()
			r.sessionEnds[s]++
			r.mu.Unlock()
			r.ended <- s
			if h.OnSessionEnd != nil {
				h.OnSessionEnd(s)
			}
		},
	}
}

func (r *recorder) nextOpen(t testing.TB) *runtime.Conn {
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

func (r *recorder) nextSessionEnd(t testing.TB) *runtime.Session {
	t.Helper()
	select {
	case s := <-r.ended:
		return s
	case <-time.After(ioTimeout):
		t.Fatal("timed out waiting for OnSessionEnd")
		return nil
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
	srv      *runtime.Server
	addr     string // host:port
	rec      *recorder
	path     path
	serveErr chan error // Serve's result on the listener path
	ln       net.Listener
	hs       *httptest.Server
}

// echo answers every message with the same message.
var echo = runtime.HandlerFunc(func(c *runtime.Conn, typ runtime.MessageType, data []byte) {
	_ = c.WriteMessage(typ, data)
})

// testOptions fills in small timeouts, an echo handler and no health
// checks unless the test set them.
func testOptions(o runtime.Options) runtime.Options {
	if o.Handler == nil {
		o.Handler = echo
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
func start(t testing.TB, p path, o runtime.Options) *env {
	t.Helper()
	rec := newRecorder()
	o = testOptions(o)
	o.Hooks = rec.wrap(o.Hooks)
	srv, err := runtime.New(o)
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

// client is wstest's raw client, with the RPC helpers of the tests as
// methods.
type client struct{ *wstest.Client }

type (
	request = wstest.Request
	frame   = wstest.Frame
)

// send is wstest.Send.
func send(t testing.TB, addr string, req *request, after []byte) *client {
	t.Helper()
	return &client{wstest.Send(t, addr, req, after)}
}

// upgrade is wstest.Upgrade.
func upgrade(t testing.TB, addr string, req *request) *client {
	t.Helper()
	return &client{wstest.Upgrade(t, addr, req)}
}

// dial is wstest.Dial.
func dial(t testing.TB, addr string) *client {
	t.Helper()
	return &client{wstest.Dial(t, addr)}
}

// ---- permessage-deflate ----

func dialDeflate(t testing.TB, e *env) *client {
	t.Helper()
	req := wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
	c := upgrade(t, e.addr, req)
	if !strings.HasPrefix(c.Resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Fatalf("permessage-deflate not negotiated: %q", c.Resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	return c
}

// inflateMessage inflates a message the server compressed (RFC 7692
// §7.2.2).
func inflateMessage(t testing.TB, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil && err != io.ErrUnexpectedEOF {
		t.Fatalf("inflate: %v", err)
	}
	return out
}
