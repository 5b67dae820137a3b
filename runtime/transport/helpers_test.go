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
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/internal/wstest/hooktest"
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

// The recorder of hook calls is hooktest's.
type (
	recorder     = hooktest.Recorder
	closeEvent   = hooktest.CloseEvent
	healthEvent  = hooktest.HealthEvent
	connErr      = hooktest.ConnErr
	handshakeErr = hooktest.HandshakeErr
)

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
	return startOn(t, p, o, nil)
}

// startCounting is start on the listener path, the listener counting the
// writes to its connections (wstest.CountWrites).
func startCounting(t testing.TB, o transport.Options) (*env, *wstest.CountingListener) {
	t.Helper()
	var cl *wstest.CountingListener
	e := startOn(t, viaListener, o, func(ln net.Listener) net.Listener {
		cl = wstest.CountWrites(ln)
		return cl
	})
	return e, cl
}

// startOn is start with the listener wrapped by wrap, when not nil.
func startOn(t testing.TB, p path, o transport.Options, wrap func(net.Listener) net.Listener) *env {
	t.Helper()
	rec := hooktest.New()
	o = testOptions(o)
	o.Hooks = rec.Wrap(o.Hooks)
	srv, err := transport.New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	e := &env{t: t, srv: srv, rec: rec, path: p}
	switch p {
	case viaListener:
		ln, err := transport.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if wrap != nil {
			ln = wrap(ln)
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
		rec.CheckClosedOnce(t)
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
