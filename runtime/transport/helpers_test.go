package transport_test

// Shared test scaffolding for the black-box tests of the transport: a server on a real
// loopback listener (Serve) or under net/http (ServeHTTP), a recorder of
// every hook call, and a byte-level client that writes masked frames by
// hand and reads the server's frames with gobwas/ws's header reader.

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/transport"
)

// ioTimeout bounds every blocking read or write a test does, so that a
// broken transport fails a test instead of hanging the package. It is no
// measure of speed: on a loaded machine a reader can wait seconds for CPU.
const ioTimeout = 10 * time.Second

// slowCloseTimeout is the CloseTimeout of tests that check the server closes
// TCP as soon as the close handshake is complete: such a test allows half of
// it, far more than a loaded machine needs, far less than a server that
// waited for the timeout would take.
const slowCloseTimeout = 10 * time.Second

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

// client is a byte-level WebSocket client over a real TCP connection.
type client struct {
	t    testing.TB
	nc   net.Conn
	br   *bufio.Reader
	resp *http.Response
}

// request is an upgrade request head, editable header by header.
type request struct {
	method, target, proto string
	headers               [][2]string
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func upgradeRequest(host string) *request {
	return &request{method: "GET", target: "/ws", proto: "HTTP/1.1", headers: [][2]string{
		{"Host", host},
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", newKey()},
		{"Sec-WebSocket-Version", "13"},
	}}
}

// set replaces header k (or adds it).
func (r *request) set(k, v string) *request {
	for i, h := range r.headers {
		if strings.EqualFold(h[0], k) {
			r.headers[i][1] = v
			return r
		}
	}
	r.headers = append(r.headers, [2]string{k, v})
	return r
}

// add appends a header line, even when k is present.
func (r *request) add(k, v string) *request {
	r.headers = append(r.headers, [2]string{k, v})
	return r
}

func (r *request) del(k string) *request {
	out := r.headers[:0]
	for _, h := range r.headers {
		if !strings.EqualFold(h[0], k) {
			out = append(out, h)
		}
	}
	r.headers = out
	return r
}

func (r *request) get(k string) string {
	for _, h := range r.headers {
		if strings.EqualFold(h[0], k) {
			return h[1]
		}
	}
	return ""
}

func (r *request) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\n", r.method, r.target, r.proto)
	for _, h := range r.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	return b.String()
}

func dialTCP(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

// send writes the request (and any bytes after it, in the same write) and
// reads the response head. The body of a refusal is left in resp.Body.
func send(t testing.TB, addr string, req *request, after []byte) *client {
	t.Helper()
	nc := dialTCP(t, addr)
	_ = nc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := nc.Write(append([]byte(req.String()), after...)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	_ = nc.SetDeadline(time.Time{})
	return &client{t: t, nc: nc, br: br, resp: resp}
}

func acceptFor(key string) string {
	h := sha1.New()
	h.Write([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// upgrade performs a valid handshake, checks the 101 answer and syncs.
func upgrade(t testing.TB, addr string, req *request) *client {
	t.Helper()
	c := send(t, addr, req, nil)
	c.checkUpgraded(req)
	c.sync()
	return c
}

// sync makes a ping round trip. Besides proving the connection is served,
// it orders the runtime's registration of the connection (which happens
// after OnOpen) before anything the test does next with the *Conn: the
// reader locks the Conn's mutex while answering, and so does every Conn
// method. Without it, the race detector reports the publication race of
// TestConnPublishedBeforeRegistered in unrelated tests.
func (c *client) sync() {
	c.t.Helper()
	c.writeFrame(ws.OpPing, []byte("sync"))
	for {
		f := c.mustFrame()
		if f.h.OpCode == ws.OpPong && string(f.payload) == "sync" {
			return
		}
		if f.h.OpCode != ws.OpPing {
			c.t.Fatalf("sync: got %v %q before the pong", f.h.OpCode, f.payload)
		}
	}
}

func (c *client) checkUpgraded(req *request) {
	c.t.Helper()
	if c.resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(c.resp.Body)
		c.t.Fatalf("status %d %q, want 101", c.resp.StatusCode, body)
	}
	if got, want := c.resp.Header.Get("Sec-WebSocket-Accept"), acceptFor(req.get("Sec-WebSocket-Key")); got != want {
		c.t.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
}

func dial(t testing.TB, addr string) *client {
	t.Helper()
	return upgrade(t, addr, upgradeRequest(addr))
}

// clientFrame encodes one masked client frame. rsv is the 3-bit RSV value
// (4 = RSV1).
func clientFrame(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	b0 := rsv<<4 | byte(op)
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	ws.Cipher(b[start:], mask, 0)
	return b
}

func closeBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func (c *client) write(b []byte) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) writeFrame(op ws.OpCode, payload []byte) {
	c.t.Helper()
	c.write(clientFrame(true, 0, op, payload))
}

func (c *client) text(s string) { c.t.Helper(); c.writeFrame(ws.OpText, []byte(s)) }

func (c *client) sendClose(code uint16, reason string) {
	c.t.Helper()
	c.writeFrame(ws.OpClose, closeBody(code, reason))
}

// frame is one frame the server sent.
type frame struct {
	h       ws.Header
	payload []byte
}

// readFrame reads one server frame within d and checks it is unmasked.
func (c *client) readFrame(d time.Duration) (frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	h, err := ws.ReadHeader(c.br)
	if err != nil {
		return frame{}, err
	}
	if h.Masked {
		return frame{}, errors.New("server frame is masked")
	}
	if h.Length > 64<<20 {
		return frame{}, fmt.Errorf("absurd frame length %d", h.Length)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.br, p); err != nil {
		return frame{}, err
	}
	return frame{h, p}, nil
}

func (c *client) mustFrame() frame {
	c.t.Helper()
	f, err := c.readFrame(ioTimeout)
	if err != nil {
		c.t.Fatalf("read frame: %v", err)
	}
	return f
}

// nextData reads frames, skipping pings and pongs, until a data frame.
func (c *client) nextData() frame {
	c.t.Helper()
	for {
		f := c.mustFrame()
		switch f.h.OpCode {
		case ws.OpPing, ws.OpPong:
			continue
		case ws.OpClose:
			code, reason := parseClose(f.payload)
			c.t.Fatalf("got close %d %q, want a data frame", code, reason)
		}
		return f
	}
}

func (c *client) expectText(want string) {
	c.t.Helper()
	f := c.nextData()
	if f.h.OpCode != ws.OpText || string(f.payload) != want {
		c.t.Fatalf("got %v %q, want text %q", f.h.OpCode, f.payload, want)
	}
}

func parseClose(p []byte) (uint16, string) {
	if len(p) < 2 {
		return 0, ""
	}
	return binary.BigEndian.Uint16(p), string(p[2:])
}

// expectClose reads frames, skipping pings, pongs and data, until the
// close frame, and returns its code (0 for an empty body) and reason.
func (c *client) expectClose() (uint16, string) {
	c.t.Helper()
	for {
		f := c.mustFrame()
		if f.h.OpCode == ws.OpClose {
			if !f.h.Fin || len(f.payload) == 1 || len(f.payload) > 125 {
				c.t.Fatalf("malformed close frame %+v %q", f.h, f.payload)
			}
			return parseClose(f.payload)
		}
	}
}

// expectCloseCode is expectClose checking the code.
func (c *client) expectCloseCode(want uint16) string {
	c.t.Helper()
	code, reason := c.expectClose()
	if code != want {
		c.t.Fatalf("close code %d (%q), want %d", code, reason, want)
	}
	return reason
}

// expectEOF checks that the server closes TCP within d, with nothing more
// sent, and returns how long that took.
func (c *client) expectEOF(d time.Duration) time.Duration {
	c.t.Helper()
	start := time.Now()
	_ = c.nc.SetReadDeadline(start.Add(d))
	var buf [512]byte
	n, err := c.br.Read(buf[:])
	if n > 0 {
		c.t.Fatalf("got %d more bytes (% x), want EOF", n, buf[:n])
	}
	if err == nil || isTimeout(err) {
		c.t.Fatalf("connection still open after %v (err %v)", d, err)
	}
	return time.Since(start)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// answerCloses reads in the background, answering pings with pongs and a
// close with the same close, and reports the close it got.
func (c *client) answerCloses() <-chan uint16 {
	ch := make(chan uint16, 1)
	go func() {
		defer close(ch)
		for {
			f, err := c.readFrame(10 * time.Second)
			if err != nil {
				return
			}
			switch f.h.OpCode {
			case ws.OpPing:
				_, _ = c.nc.Write(clientFrame(true, 0, ws.OpPong, f.payload))
			case ws.OpClose:
				code, _ := parseClose(f.payload)
				_, _ = c.nc.Write(clientFrame(true, 0, ws.OpClose, f.payload))
				ch <- code
				return
			}
		}
	}()
	return ch
}

// hangUp closes the connection cleanly with 1001 (going away, as a
// browser leaving a page does) and waits for the server's answer.
func (c *client) hangUp() {
	c.t.Helper()
	c.sendClose(1001, "")
	c.expectClose()
	c.expectEOF(ioTimeout)
}

// waitDone waits for the connection to end on the server.
func waitDone(t testing.TB, c *transport.Conn, d time.Duration) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(d):
		t.Fatalf("connection not done after %v", d)
	}
}

func isOpen(c *transport.Conn) bool {
	select {
	case <-c.Done():
		return false
	default:
		return true
	}
}

// recv receives from ch within ioTimeout.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(ioTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
