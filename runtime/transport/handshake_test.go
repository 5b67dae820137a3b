package transport_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/internal/wstest/hooktest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

var paths = []path{viaListener, viaHTTP}

func TestHandshakeAccepts(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			e := start(t, p, transport.Options{})
			req := wstest.UpgradeRequest(e.addr)
			c := wstest.Upgrade(t, e.addr, req)
			if got := c.Resp.Header.Get("Upgrade"); !strings.EqualFold(got, "websocket") {
				t.Errorf("Upgrade: %q", got)
			}
			if got := c.Resp.Header.Get("Connection"); !strings.EqualFold(got, "upgrade") {
				t.Errorf("Connection: %q", got)
			}
			if got := c.Resp.Header.Get("Sec-WebSocket-Protocol"); got != "" {
				t.Errorf("unexpected subprotocol %q", got)
			}
			if got := c.Resp.Header.Get("Sec-WebSocket-Extensions"); got != "" {
				t.Errorf("unexpected extensions %q", got)
			}
			conn := e.rec.NextOpen(t)
			if conn.Subprotocol() != "" || conn.Compressed() {
				t.Errorf("Subprotocol %q Compressed %v", conn.Subprotocol(), conn.Compressed())
			}
			if conn.RemoteAddr().String() != c.NC.LocalAddr().String() {
				t.Errorf("RemoteAddr %v, want %v", conn.RemoteAddr(), c.NC.LocalAddr())
			}
			c.Text("hello")
			c.ExpectText("hello")
			// Header names and the Upgrade/Connection tokens are case-insensitive,
			// Connection may list several tokens.
			req = wstest.UpgradeRequest(e.addr).Set("Upgrade", "WebSocket").Set("Connection", "keep-alive, Upgrade")
			req.Headers = append(req.Headers[:0:0], req.Headers...)
			for i := range req.Headers {
				req.Headers[i][0] = strings.ToLower(req.Headers[i][0])
			}
			c2 := wstest.Upgrade(t, e.addr, req)
			c2.Text("again")
			c2.ExpectText("again")
		})
	}
}

// refusalCase is an invalid upgrade request and the status it gets.
type refusalCase struct {
	name   string
	edit   func(r *request)
	status int
	header [2]string // a header the refusal must carry, when set
	only   path      // -1: both paths
}

func refusalCases() []refusalCase {
	both := path(-1)
	return []refusalCase{
		{"POST", func(r *request) { r.Method = "POST" }, 405, [2]string{"Allow", "GET"}, both},
		{"PUT", func(r *request) { r.Method = "PUT" }, 405, [2]string{}, both},
		{"Upgrade names another protocol", func(r *request) { r.Set("Upgrade", "h2c") }, 400, [2]string{}, both},
		{"Connection lacks upgrade", func(r *request) { r.Set("Connection", "keep-alive") }, 400, [2]string{}, both},
		{"no Connection header", func(r *request) { r.Del("Connection") }, 400, [2]string{}, both},
		{"no key", func(r *request) { r.Del("Sec-WebSocket-Key") }, 400, [2]string{}, both},
		{"two keys", func(r *request) { r.Add("Sec-WebSocket-Key", wstest.NewKey()) }, 400, [2]string{}, both},
		{"key not base64", func(r *request) { r.Set("Sec-WebSocket-Key", "not base64 at all!") }, 400, [2]string{}, both},
		{"key of 15 bytes", func(r *request) { r.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAA") }, 400, [2]string{}, both},
		{"key of 17 bytes", func(r *request) { r.Set("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=") }, 400, [2]string{}, both},
		{"version 8", func(r *request) { r.Set("Sec-WebSocket-Version", "8") }, 426, [2]string{"Sec-WebSocket-Version", "13"}, both},
		{"no version", func(r *request) { r.Del("Sec-WebSocket-Version") }, 426, [2]string{"Sec-WebSocket-Version", "13"}, both},
		{"two versions", func(r *request) { r.Add("Sec-WebSocket-Version", "13") }, 426, [2]string{"Sec-WebSocket-Version", "13"}, both},
		{"plain GET", func(r *request) { r.Del("Upgrade").Del("Connection") }, 426, [2]string{"Upgrade", "websocket"}, both},
		{"cross-origin", func(r *request) { r.Set("Origin", "http://evil.example") }, 403, [2]string{}, both},
		{"origin without host", func(r *request) { r.Set("Origin", "null") }, 403, [2]string{}, both},
		{"HTTP/1.0", func(r *request) { r.Proto = "HTTP/1.0" }, 505, [2]string{}, both},
		{"no Host", func(r *request) { r.Del("Host") }, 400, [2]string{}, both},
		{"two Host headers", func(r *request) { r.Add("Host", "other") }, 400, [2]string{}, both},
		{"malformed request line", func(r *request) { r.Target = "" }, 400, [2]string{}, viaListener},
		{"folded header", func(r *request) { r.Add(" folded", "x") }, 400, [2]string{}, viaListener},
		{"malformed header line", func(r *request) { r.Add("No colon here", "") }, 400, [2]string{}, viaListener},
	}
}

func TestHandshakeRefusals(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			e := start(t, p, transport.Options{})
			for _, tt := range refusalCases() {
				if tt.only >= 0 && tt.only != p {
					continue
				}
				t.Run(tt.name, func(t *testing.T) {
					req := wstest.UpgradeRequest(e.addr)
					tt.edit(req)
					raw := req.String()
					if tt.name == "malformed header line" {
						raw = strings.Replace(raw, "No colon here: \r\n", "No colon here\r\n", 1)
					}
					c := sendRaw(t, e.addr, raw)
					body, _ := io.ReadAll(io.LimitReader(c.Resp.Body, 4096))
					if c.Resp.StatusCode != tt.status {
						t.Fatalf("status %d %q, want %d", c.Resp.StatusCode, body, tt.status)
					}
					if len(strings.TrimSpace(string(body))) == 0 {
						t.Errorf("empty refusal body")
					}
					if k := tt.header[0]; k != "" && !strings.EqualFold(c.Resp.Header.Get(k), tt.header[1]) {
						t.Errorf("%s: %q, want %q", k, c.Resp.Header.Get(k), tt.header[1])
					}
					if c.Resp.Header.Get("Sec-WebSocket-Accept") != "" {
						t.Error("refusal carries Sec-WebSocket-Accept")
					}
					// The runtime's own refusals (not net/http's) are reported.
					if p == viaListener || tt.name != "no Host" && tt.name != "two Host headers" {
						he := e.rec.NextHandshakeErr(t)
						if he.Status != tt.status || he.Err == nil {
							t.Errorf("OnHandshakeError(status %d, %v), want status %d", he.Status, he.Err, tt.status)
						}
						var herr *transport.HTTPError
						if errors.As(he.Err, &herr) && herr.Status != tt.status {
							t.Errorf("HTTPError.Status %d", herr.Status)
						}
						// Its cause tells an origin refused from a bad request.
						cause := transport.ErrBadHandshake
						if tt.status == 403 {
							cause = transport.ErrOriginNotAllowed
						}
						if !errors.Is(he.Err, cause) {
							t.Errorf("OnHandshakeError(%v): not %v", he.Err, cause)
						}
					}
					// The server closes the connection after a refusal on the
					// listener path.
					if p == viaListener {
						c.ExpectEOF(ioTimeout)
					}
				})
			}
			if n := e.srv.Len(); n != 0 {
				t.Errorf("Len() = %d after refusals", n)
			}
		})
	}
}

// sendRaw writes a raw request head and reads the response.
func sendRaw(t testing.TB, addr, raw string) *client {
	t.Helper()
	nc := wstest.DialTCP(t, addr)
	_ = nc.SetDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(nc, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	return &client{T: t, NC: nc, BR: br, Resp: resp}
}

func TestHandshakeOrigins(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			e := start(t, p, transport.Options{AllowedOrigins: []string{"https://app.example", "HTTP://Other.Example:8080/"}})
			for _, tt := range []struct {
				origin string
				ok     bool
			}{
				{"", true},
				{"http://" + e.addr, true},
				{"https://app.example", true},
				{"https://APP.example", true},
				{"http://other.example:8080", true},
				{"https://app.example.evil", false},
				{"http://evil.example", false},
				{"https://app.example:444", false},
			} {
				req := wstest.UpgradeRequest(e.addr)
				if tt.origin != "" {
					req.Set("Origin", tt.origin)
				}
				c := wstest.Send(t, e.addr, req, nil)
				if got := c.Resp.StatusCode == 101; got != tt.ok {
					t.Errorf("origin %q: status %d, want ok=%v", tt.origin, c.Resp.StatusCode, tt.ok)
				}
				if c.Resp.StatusCode == 101 {
					c.Sync()
				}
				if !tt.ok {
					if he := e.rec.NextHandshakeErr(t); he.Status != 403 {
						t.Errorf("origin %q: OnHandshakeError status %d", tt.origin, he.Status)
					}
				}
			}
			star := start(t, p, transport.Options{AllowedOrigins: []string{"*"}})
			c := wstest.Send(t, star.addr, wstest.UpgradeRequest(star.addr).Set("Origin", "http://anything.example"), nil)
			if c.Resp.StatusCode != 101 {
				t.Fatalf(`AllowedOrigins "*": status %d`, c.Resp.StatusCode)
			}
			c.Sync()
		})
	}
}

func TestHandshakeSubprotocols(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			e := start(t, p, transport.Options{Subprotocols: []string{"v2.duplex", "v1.duplex"}})
			for _, tt := range []struct{ offer, want string }{
				{"", ""},
				{"v1.duplex", "v1.duplex"},
				{"v1.duplex, v2.duplex", "v2.duplex"}, // the server's preference wins
				{"chat, v1.duplex", "v1.duplex"},
				{"chat", ""},
				{"V1.DUPLEX", ""}, // subprotocols are case-sensitive
			} {
				req := wstest.UpgradeRequest(e.addr)
				if tt.offer != "" {
					req.Set("Sec-WebSocket-Protocol", tt.offer)
				}
				c := wstest.Upgrade(t, e.addr, req)
				if got := c.Resp.Header.Get("Sec-WebSocket-Protocol"); got != tt.want {
					t.Errorf("offer %q: answered %q, want %q", tt.offer, got, tt.want)
				}
				if conn := e.rec.NextOpen(t); conn.Subprotocol() != tt.want {
					t.Errorf("offer %q: Conn.Subprotocol %q", tt.offer, conn.Subprotocol())
				}
			}
			req := start(t, p, transport.Options{Subprotocols: []string{"v1"}, RequireSubprotocol: true})
			c := wstest.Send(t, req.addr, wstest.UpgradeRequest(req.addr).Set("Sec-WebSocket-Protocol", "v0"), nil)
			if c.Resp.StatusCode != 400 {
				t.Errorf("RequireSubprotocol: status %d, want 400", c.Resp.StatusCode)
			}
			c = wstest.Send(t, req.addr, wstest.UpgradeRequest(req.addr), nil)
			if c.Resp.StatusCode != 400 {
				t.Errorf("RequireSubprotocol without offer: status %d, want 400", c.Resp.StatusCode)
			}
		})
	}
}

func TestHandshakeFallback(t *testing.T) {
	e := start(t, viaHTTP, transport.Options{Fallback: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "the page at "+r.URL.Path)
	})})
	resp, err := http.Get("http://" + e.addr + "/chat")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "the page at /chat" {
		t.Fatalf("fallback: %d %q", resp.StatusCode, body)
	}
	// Upgrades still upgrade; a broken upgrade is refused, not sent to
	// the fallback.
	c := wstest.Dial(t, e.addr)
	c.Text("x")
	c.ExpectText("x")
	bad := wstest.Send(t, e.addr, wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Version", "7"), nil)
	if bad.Resp.StatusCode != 426 {
		t.Fatalf("bad upgrade with fallback: status %d", bad.Resp.StatusCode)
	}
}

func TestHandshakeMaxConnections(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			e := start(t, p, transport.Options{MaxConnections: 2})
			a := wstest.Dial(t, e.addr)
			wstest.Dial(t, e.addr)
			conns := []*transport.Conn{e.rec.NextOpen(t), e.rec.NextOpen(t)}
			c := wstest.Send(t, e.addr, wstest.UpgradeRequest(e.addr), nil)
			body, _ := io.ReadAll(c.Resp.Body)
			if c.Resp.StatusCode != 503 {
				t.Fatalf("third connection: status %d %q, want 503", c.Resp.StatusCode, body)
			}
			if he := e.rec.NextHandshakeErr(t); he.Status != 503 || !errors.Is(he.Err, transport.ErrConnectionLimit) {
				t.Errorf("OnHandshakeError(%d, %v), want 503 and ErrConnectionLimit", he.Status, he.Err)
			}
			// Refusals release nothing they did not take; a closed
			// connection frees its slot.
			a.SendClose(1000, "")
			a.ExpectCloseCode(1000)
			for _, conn := range conns {
				if conn.RemoteAddr().String() == a.NC.LocalAddr().String() {
					wstest.WaitDone(t, conn, ioTimeout)
				}
			}
			b := wstest.Dial(t, e.addr)
			b.Text("in")
			b.ExpectText("in")
			if n := e.srv.Len(); n != 2 {
				t.Errorf("Len() = %d, want 2", n)
			}
		})
	}
}

// attrHandler is a connection's handler that answers a message with the
// value of the attribute it names.
type attrHandler map[string]string

func (attrHandler) Open(*transport.Conn) {}
func (h attrHandler) Message(c *transport.Conn, _ transport.MessageType, data []byte) {
	_ = c.WriteMessage(transport.TextMessage, []byte(h[string(data)]))
}
func (attrHandler) Closed(*transport.Conn, *transport.CloseError) {}

// Accept sees the request (all of it with FullRequest, on both paths),
// refuses with its status or 403, and gives each connection its handler.
func TestHandshakeAccept(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			var mu sync.Mutex
			var sawHTTP []bool
			opts := transport.Options{
				FullRequest: true,
				Accept: func(r *transport.Request) (transport.ConnHandler, error) {
					mu.Lock()
					sawHTTP = append(sawHTTP, r.HTTP != nil)
					mu.Unlock()
					switch r.Header.Get("X-Mode") {
					case "401":
						return nil, &transport.HTTPError{Status: 401, Reason: "token expired", Header: http.Header{"Www-Authenticate": {"Bearer"}}}
					case "429":
						return nil, &transport.HTTPError{Status: 429, Reason: "slow down"}
					case "plain":
						return nil, errors.New("banned user")
					}
					ck, err := r.Cookie("sid")
					if err != nil {
						return nil, &transport.HTTPError{Status: 401, Reason: "no cookie"}
					}
					return attrHandler{
						"user":   r.Header.Get("X-User"),
						"sid":    ck.Value,
						"room":   r.Query().Get("room"),
						"path":   r.URL.Path,
						"host":   r.Host,
						"method": r.Method,
					}, nil
				},
			}
			var openAttrs map[string]string
			opts.Hooks.OnOpen = func(c *transport.Conn) { openAttrs = c.Handler().(attrHandler) }
			e := start(t, p, opts)

			req := wstest.UpgradeRequest(e.addr).Set("X-User", "ann").Set("Cookie", "a=1; sid=s3cr3t")
			req.Target = "/ws/chat?room=42&x=y"
			c := wstest.Upgrade(t, e.addr, req)
			e.rec.NextOpen(t)
			want := map[string]string{"user": "ann", "sid": "s3cr3t", "room": "42", "path": "/ws/chat", "host": e.addr, "method": "GET"}
			for k, v := range want {
				if openAttrs[k] != v {
					t.Errorf("OnOpen sees %s=%q, want %q", k, openAttrs[k], v)
				}
				c.Text(k)
				c.ExpectText(v)
			}

			for _, tt := range []struct {
				mode, cookie string
				status       int
				body         string
			}{
				{"401", "sid=1", 401, "token expired"},
				{"429", "sid=1", 429, "slow down"},
				{"plain", "sid=1", 403, "banned user"},
				{"", "", 401, "no cookie"},
			} {
				req := wstest.UpgradeRequest(e.addr)
				if tt.mode != "" {
					req.Set("X-Mode", tt.mode)
				}
				if tt.cookie != "" {
					req.Set("Cookie", tt.cookie)
				}
				c := wstest.Send(t, e.addr, req, nil)
				body, _ := io.ReadAll(c.Resp.Body)
				if c.Resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
					t.Errorf("mode %q: %d %q, want %d with %q", tt.mode, c.Resp.StatusCode, body, tt.status, tt.body)
				}
				if tt.mode == "401" && c.Resp.Header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("401 lacks the WWW-Authenticate header Accept set: %v", c.Resp.Header)
				}
				he := e.rec.NextHandshakeErr(t)
				if he.Status != tt.status {
					t.Errorf("mode %q: OnHandshakeError status %d", tt.mode, he.Status)
				}
				// Accept's refusal is neither a bad request nor the origin's,
				// and one that was not an HTTPError unwraps to Accept's error.
				if errors.Is(he.Err, transport.ErrBadHandshake) || errors.Is(he.Err, transport.ErrOriginNotAllowed) {
					t.Errorf("mode %q: Accept's refusal %v has the transport's cause", tt.mode, he.Err)
				}
				if tt.mode == "plain" && (errors.Unwrap(he.Err) == nil || errors.Unwrap(he.Err).Error() != "banned user") {
					t.Errorf("mode plain: %v unwraps to %v, want Accept's error", he.Err, errors.Unwrap(he.Err))
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for _, h := range sawHTTP {
				if h != (p == viaHTTP) {
					t.Errorf("Request.HTTP set=%v on the %v path", h, p)
				}
			}
		})
	}
}

// Accept runs only for valid upgrades.
func TestHandshakeAcceptAfterValidation(t *testing.T) {
	called := make(chan struct{}, 10)
	e := start(t, viaListener, transport.Options{Accept: func(*transport.Request) (transport.ConnHandler, error) {
		called <- struct{}{}
		return echo, nil
	}})
	c := wstest.Send(t, e.addr, wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Version", "12"), nil)
	if c.Resp.StatusCode != 426 {
		t.Fatalf("status %d", c.Resp.StatusCode)
	}
	select {
	case <-called:
		t.Fatal("Accept called for an invalid upgrade")
	default:
	}
}

// Frames sent in the same write as the request head are not lost.
func TestHandshakePipelinedFrames(t *testing.T) {
	for _, p := range paths {
		for _, m := range readModes {
			t.Run(p.String()+"/"+m.name, func(t *testing.T) {
				e := start(t, p, transport.Options{DisablePoller: m.disablePoller})
				after := append(wstest.ClientFrame(true, 0, ws.OpText, []byte("first")), wstest.ClientFrame(true, 0, ws.OpBinary, []byte("second"))...)
				after = append(after, wstest.ClientFrame(false, 0, ws.OpText, []byte("thi"))...) // an incomplete message
				req := wstest.UpgradeRequest(e.addr)
				c := wstest.Send(t, e.addr, req, after)
				c.CheckUpgraded(req)
				c.ExpectText("first")
				if f := c.NextData(); f.H.OpCode != ws.OpBinary || string(f.Payload) != "second" {
					t.Fatalf("got %v %q", f.H.OpCode, f.Payload)
				}
				c.Write(wstest.ClientFrame(true, 0, ws.OpContinuation, []byte("rd")))
				c.ExpectText("third")
			})
		}
	}
}

// A client that sends half a request is disconnected after
// HandshakeTimeout on the listener path.
func TestHandshakeTimeoutListener(t *testing.T) {
	e := start(t, viaListener, transport.Options{HandshakeTimeout: 200 * time.Millisecond})
	start := time.Now() // before the server can start its clock
	nc := wstest.DialTCP(t, e.addr)
	if _, err := io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	c := &client{T: t, NC: nc, BR: bufio.NewReader(nc)}
	c.ExpectEOF(ioTimeout)
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("closed after %v, before HandshakeTimeout", took)
	}
	he := e.rec.NextHandshakeErr(t)
	if he.Status != 0 || !errors.Is(he.Err, os.ErrDeadlineExceeded) {
		t.Errorf("OnHandshakeError(status %d, %v), want status 0 and os.ErrDeadlineExceeded", he.Status, he.Err)
	}
	// A connection that sends nothing at all is cut off too.
	silent := &client{T: t, NC: wstest.DialTCP(t, e.addr)}
	silent.BR = bufio.NewReader(silent.NC)
	silent.ExpectEOF(ioTimeout)
	// The deadline is lifted after the upgrade.
	ok := wstest.Dial(t, e.addr)
	time.Sleep(300 * time.Millisecond)
	ok.Text("still here")
	ok.ExpectText("still here")
}

// On the http path, Server.HTTPServer bounds the request head with
// ReadHeaderTimeout = HandshakeTimeout.
func TestHandshakeTimeoutHTTPServer(t *testing.T) {
	srv, err := transport.New(testOptions(transport.Options{HandshakeTimeout: 200 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer("127.0.0.1:0")
	if hs.ReadHeaderTimeout != 200*time.Millisecond || hs.Handler != srv {
		t.Fatalf("HTTPServer: ReadHeaderTimeout %v, handler %T", hs.ReadHeaderTimeout, hs.Handler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
		_ = srv.Shutdown(ctx)
	})
	addr := ln.Addr().String()
	start := time.Now() // before the server can start its clock
	nc := wstest.DialTCP(t, addr)
	if _, err := io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(ioTimeout))
	_, err = io.ReadAll(nc) // net/http may answer 408 before closing
	if wstest.IsTimeout(err) {
		t.Fatalf("half-sent request still open after %v", ioTimeout)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("closed after %v, before the timeout", took)
	}
	c := wstest.Dial(t, addr)
	c.Text("ok")
	c.ExpectText("ok")
}

// A request head over 16 KiB gets 431 on the listener path.
func TestHandshakeHeaderTooLarge(t *testing.T) {
	e := start(t, viaListener, transport.Options{})
	t.Run("many lines", func(t *testing.T) {
		// Sent in full and ending exactly where the limit is crossed, so
		// that the server has read everything before it answers.
		var b strings.Builder
		b.WriteString("GET /ws HTTP/1.1\r\n")
		for i := 0; b.Len() <= 16<<10; i++ {
			b.WriteString("X-Filler: " + strings.Repeat("f", 1000) + "\r\n")
		}
		c := sendRaw(t, e.addr, b.String())
		if c.Resp.StatusCode != 431 {
			t.Fatalf("status %d, want 431", c.Resp.StatusCode)
		}
		if he := e.rec.NextHandshakeErr(t); he.Status != 431 {
			t.Errorf("OnHandshakeError status %d", he.Status)
		}
	})
	t.Run("one long line", func(t *testing.T) {
		raw := "GET /" + strings.Repeat("a", 16<<10) // one line over the whole limit
		c := sendRaw(t, e.addr, raw)
		if c.Resp.StatusCode != 431 {
			t.Fatalf("status %d, want 431", c.Resp.StatusCode)
		}
		e.rec.NextHandshakeErr(t)
	})
	t.Run("just under the limit", func(t *testing.T) {
		req := wstest.UpgradeRequest(e.addr)
		for i := 0; len(req.String())+4000 < 16<<10; i++ {
			req.Add("X-Filler", strings.Repeat("f", 3980))
		}
		req.Add("X-Last", strings.Repeat("l", 16<<10-len(req.String())-len("X-Last: \r\n")))
		if n := len(req.String()); n != 16<<10 {
			t.Fatalf("head is %d bytes", n)
		}
		c := wstest.Upgrade(t, e.addr, req)
		c.Text("fits")
		c.ExpectText("fits")
	})
}

// A single header line longer than the 4 KiB read buffer, in a head well
// under the 16 KiB limit (a 6 KiB Cookie header is common in browsers),
// must be accepted.
func TestHandshakeLongHeaderLine(t *testing.T) {
	e := start(t, viaListener, transport.Options{})
	req := wstest.UpgradeRequest(e.addr).Set("Cookie", "session="+strings.Repeat("c", 6<<10))
	c := wstest.Send(t, e.addr, req, nil)
	if c.Resp.StatusCode != 101 {
		body, _ := io.ReadAll(c.Resp.Body)
		t.Fatalf("upgrade.go readRequest: a %d-byte head with one 6 KiB header line gets %d %q: lines are capped by "+
			"the 4096-byte bufio.Reader (ErrBufferFull -> 431), not by maxRequestHeader", len(req.String()), c.Resp.StatusCode, body)
	}
	c.CheckUpgraded(req)
	c.Text("ok")
	c.ExpectText("ok")
}

// A client that sends a huge head in one go, as a browser with a bloated
// cookie does, must still read the 431: the server must not reset the
// connection (RST) by closing it with unread bytes.
func TestHandshakeHeaderTooLargeDelivered(t *testing.T) {
	e := start(t, viaListener, transport.Options{})
	for i := range 20 {
		req := wstest.UpgradeRequest(e.addr).Set("Cookie", "big="+strings.Repeat("c", 64<<10))
		nc := wstest.DialTCP(t, e.addr)
		_ = nc.SetDeadline(time.Now().Add(ioTimeout))
		go func() { _, _ = io.WriteString(nc, req.String()) }()
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("upgrade.go handshakeListener: a 431 refusal is followed by nc.Close() with the rest of the "+
				"head unread, so the kernel resets the connection and the client loses the response (attempt %d: %v)", i, err)
		}
		if resp.StatusCode != 431 {
			t.Fatalf("status %d, want 431", resp.StatusCode)
		}
		e.rec.NextHandshakeErr(t)
	}
}

// A ResponseWriter that cannot be hijacked (HTTP/2, a recorder) gets 500
// and does not leak the connection slot.
func TestHandshakeNotHijackable(t *testing.T) {
	rec := hooktest.New()
	o := testOptions(transport.Options{MaxConnections: 1})
	o.Hooks = rec.Wrap(transport.Hooks{})
	srv, err := transport.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	for range 3 {
		hr := httptest.NewRequest("GET", "http://example.com/ws", nil)
		hr.Header.Set("Upgrade", "websocket")
		hr.Header.Set("Connection", "Upgrade")
		hr.Header.Set("Sec-WebSocket-Key", wstest.NewKey())
		hr.Header.Set("Sec-WebSocket-Version", "13")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, hr)
		if w.Code != 500 {
			t.Fatalf("status %d %q, want 500", w.Code, w.Body)
		}
		if he := rec.NextHandshakeErr(t); he.Status != 500 {
			t.Errorf("OnHandshakeError status %d", he.Status)
		}
	}
}

// Negotiation through both upgrade paths; negotiate_test.go has the full
// table of offers.
func TestHandshakeCompressionNegotiation(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			e := start(t, p, transport.Options{Compression: &transport.CompressionOptions{}})
			const both = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
			for _, tt := range []struct {
				offers []string // one Sec-WebSocket-Extensions header each
				want   string   // the answer, "" for none
			}{
				{nil, ""},
				{[]string{"permessage-deflate"}, both},
				{[]string{"permessage-deflate; client_max_window_bits"}, both},
				{[]string{"x-webkit-deflate-frame"}, ""},
				{[]string{"foo, permessage-deflate; client_no_context_takeover"}, both},
				{[]string{"permessage-deflate; server_max_window_bits=10"}, both + "; server_max_window_bits=10"},
				{[]string{"permessage-deflate; server_max_window_bits=15"}, both + "; server_max_window_bits=15"},
				{[]string{"permessage-deflate; server_max_window_bits=16"}, ""},
				{[]string{"permessage-deflate; server_max_window_bits=16, permessage-deflate"}, both},
				{[]string{"permessage-deflate; foo", "permessage-deflate; server_max_window_bits=9"}, both + "; server_max_window_bits=9"},
			} {
				req := wstest.UpgradeRequest(e.addr)
				for _, o := range tt.offers {
					req.Add("Sec-WebSocket-Extensions", o)
				}
				c := wstest.Upgrade(t, e.addr, req)
				ext := c.Resp.Header.Values("Sec-WebSocket-Extensions")
				conn := e.rec.NextOpen(t)
				if got := strings.Join(ext, ", "); got != tt.want || len(ext) > 1 || conn.Compressed() != (tt.want != "") {
					t.Errorf("offers %q: answered %q, Compressed %v, want %q", tt.offers, ext, conn.Compressed(), tt.want)
				}
			}
			off := start(t, p, transport.Options{})
			c := wstest.Upgrade(t, off.addr, wstest.UpgradeRequest(off.addr).Set("Sec-WebSocket-Extensions", "permessage-deflate"))
			if ext := c.Resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
				t.Errorf("compression off: answered %q", ext)
			}
		})
	}
}

// OnConnect sees every connection, refused or not.
func TestHandshakeOnConnect(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			connected := make(chan net.Addr, 10)
			e := start(t, p, transport.Options{Hooks: transport.Hooks{OnConnect: func(a net.Addr) { connected <- a }}})
			c := wstest.Dial(t, e.addr)
			wstest.Send(t, e.addr, wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Version", "1"), nil)
			for i := range 2 {
				select {
				case a := <-connected:
					if a == nil || !strings.HasPrefix(a.String(), "127.0.0.1:") {
						t.Errorf("OnConnect addr %v", a)
					}
					if i == 0 && a.String() != c.NC.LocalAddr().String() {
						t.Errorf("OnConnect addr %v, want %v", a, c.NC.LocalAddr())
					}
				case <-time.After(ioTimeout):
					t.Fatal("OnConnect not called")
				}
			}
		})
	}
}

// A request with two Host headers is refused even when the first is
// empty (RFC 9112 §3.2: more than one Host field is a 400).
func TestHandshakeEmptyThenSecondHost(t *testing.T) {
	e := start(t, viaListener, transport.Options{})
	req := wstest.UpgradeRequest(e.addr).Set("Host", "")
	req.Add("Host", e.addr)
	c := wstest.Send(t, e.addr, req, nil)
	if c.Resp.StatusCode != 400 {
		if c.Resp.StatusCode == 101 {
			c.Sync()
		}
		t.Fatalf("upgrade.go readRequest: the duplicate-Host check tests r.Host != \"\", so an empty first Host "+
			"header followed by a second one is accepted (status %d); track that a Host line was seen instead", c.Resp.StatusCode)
	}
}
