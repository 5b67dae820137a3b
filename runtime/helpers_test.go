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
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
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

type (
	closeEvent   = hooktest.CloseEvent
	healthEvent  = hooktest.HealthEvent
	connErr      = hooktest.ConnErr
	handshakeErr = hooktest.HandshakeErr
)

// recorder is hooktest's recorder of the transport's hooks, recording
// OnSessionEnd too (under the same mutex).
type recorder struct {
	*hooktest.Recorder
	sessionEnds map[*runtime.Session]int
	ended       chan *runtime.Session
}

func newRecorder() *recorder {
	return &recorder{
		Recorder:    hooktest.New(),
		sessionEnds: make(map[*runtime.Session]int),
		ended:       make(chan *runtime.Session, 1000),
	}
}

// wrap returns hooks that record and then call the test's own hooks.
func (r *recorder) wrap(h runtime.Hooks) runtime.Hooks {
	th := r.Wrap(transport.Hooks{
		OnConnect:        h.OnConnect,
		OnHandshakeError: h.OnHandshakeError,
		OnOpen:           h.OnOpen,
		OnClose:          h.OnClose,
		OnHealth:         h.OnHealth,
		OnError:          h.OnError,
		OnShutdown:       h.OnShutdown,
	})
	return runtime.Hooks{
		OnConnect:        th.OnConnect,
		OnHandshakeError: th.OnHandshakeError,
		OnOpen:           th.OnOpen,
		OnClose:          th.OnClose,
		OnHealth:         th.OnHealth,
		OnError:          th.OnError,
		OnShutdown:       th.OnShutdown,
		OnResume:         h.OnResume,
		OnPublish:        h.OnPublish,
		OnSessionEnd: func(s *runtime.Session) {
			r.Mu.Lock()
			r.sessionEnds[s]++
			r.Mu.Unlock()
			r.ended <- s
			if h.OnSessionEnd != nil {
				h.OnSessionEnd(s)
			}
		},
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
	return startOn(t, p, o, nil)
}

// startCounting is start on the listener path, the listener counting the
// writes to its connections (wstest.CountWrites).
func startCounting(t testing.TB, o runtime.Options) (*env, *wstest.CountingListener) {
	t.Helper()
	var cl *wstest.CountingListener
	e := startOn(t, viaListener, o, func(ln net.Listener) net.Listener {
		cl = wstest.CountWrites(ln)
		return cl
	})
	return e, cl
}

// startOn is start with the listener wrapped by wrap, when not nil.
func startOn(t testing.TB, p path, o runtime.Options, wrap func(net.Listener) net.Listener) *env {
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
		ln, err := runtime.Listen("tcp", "127.0.0.1:0")
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
