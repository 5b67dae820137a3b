package runtime_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

func TestHandshakeAuthorize(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			var mu sync.Mutex
			var sawHTTP []bool
			opts := runtime.Options{
				Authorize: func(r *runtime.Request, s *runtime.Session) error {
					mu.Lock()
					sawHTTP = append(sawHTTP, r.HTTP != nil)
					mu.Unlock()
					switch r.Header.Get("X-Mode") {
					case "401":
						return &runtime.HTTPError{Status: 401, Reason: "token expired", Header: http.Header{"Www-Authenticate": {"Bearer"}}}
					case "429":
						return &runtime.HTTPError{Status: 429, Reason: "slow down"}
					case "plain":
						return errors.New("banned user")
					}
					ck, err := r.Cookie("sid")
					if err != nil {
						return &runtime.HTTPError{Status: 401, Reason: "no cookie"}
					}
					s.Set("user", r.Header.Get("X-User"))
					s.Set("sid", ck.Value)
					s.Set("room", r.Query().Get("room"))
					s.Set("path", r.URL.Path)
					s.Set("host", r.Host)
					s.Set("method", r.Method)
					return nil
				},
				Handler: runtime.HandlerFunc(func(c *runtime.Conn, _ runtime.MessageType, data []byte) {
					v, _ := runtime.SessionOf(c).Get(string(data))
					_ = c.WriteMessage(runtime.TextMessage, []byte(v))
				}),
			}
			var openAttrs map[string]string
			opts.Hooks.OnOpen = func(c *runtime.Conn) { openAttrs = runtime.SessionOf(c).Attrs() }
			e := start(t, p, opts)

			req := wstest.UpgradeRequest(e.addr).Set("X-User", "ann").Set("Cookie", "a=1; sid=s3cr3t")
			req.Target = "/ws/chat?room=42&x=y"
			c := upgrade(t, e.addr, req)
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
				c := send(t, e.addr, req, nil)
				body, _ := io.ReadAll(c.Resp.Body)
				if c.Resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
					t.Errorf("mode %q: %d %q, want %d with %q", tt.mode, c.Resp.StatusCode, body, tt.status, tt.body)
				}
				if tt.mode == "401" && c.Resp.Header.Get("WWW-Authenticate") != "Bearer" {
					t.Errorf("401 lacks the WWW-Authenticate header Authorize set: %v", c.Resp.Header)
				}
				if he := e.rec.NextHandshakeErr(t); he.Status != tt.status {
					t.Errorf("mode %q: OnHandshakeError status %d", tt.mode, he.Status)
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

// Authorize runs only for valid upgrades.
func TestHandshakeAuthorizeAfterValidation(t *testing.T) {
	called := make(chan struct{}, 10)
	e := start(t, viaListener, runtime.Options{Authorize: func(*runtime.Request, *runtime.Session) error {
		called <- struct{}{}
		return nil
	}})
	c := send(t, e.addr, wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Version", "12"), nil)
	if c.Resp.StatusCode != 426 {
		t.Fatalf("status %d", c.Resp.StatusCode)
	}
	select {
	case <-called:
		t.Fatal("Authorize called for an invalid upgrade")
	default:
	}
}
