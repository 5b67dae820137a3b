package transport_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/internal/wstest/hooktest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

func TestShutdown(t *testing.T) {
	for _, tt := range []struct {
		name   string
		code   uint16
		reason string
		stop   func(*transport.Server, context.Context) error
	}{
		{"Shutdown", 1001, "server shutting down", (*transport.Server).Shutdown},
		{"Restart", 1012, "server restarting", (*transport.Server).Restart},
	} {
		for _, m := range readModes {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, CloseTimeout: slowCloseTimeout})
				var answers []<-chan uint16
				for range 5 {
					c := wstest.Dial(t, e.addr)
					answers = append(answers, c.AnswerCloses())
				}
				ctx, cancel := context.WithTimeout(context.Background(), slowCloseTimeout)
				defer cancel()
				start := time.Now()
				if err := tt.stop(e.srv, ctx); err != nil {
					t.Fatalf("%s = %v, want nil", tt.name, err)
				}
				if d := time.Since(start); d > slowCloseTimeout/2 {
					t.Errorf("%s took %v with answering clients: it waited for the CloseTimeout %v", tt.name, d, slowCloseTimeout)
				}
				for i, ch := range answers {
					select {
					case code := <-ch:
						if code != tt.code {
							t.Errorf("client %d got close %d, want %d", i, code, tt.code)
						}
					case <-time.After(ioTimeout):
						t.Fatalf("client %d got no close", i)
					}
				}
				for range answers {
					ev := e.rec.NextClose(t)
					checkCloseError(t, ev.Err, tt.code, tt.reason, transport.ClosedByServer, false)
				}
				if n := e.srv.Len(); n != 0 {
					t.Errorf("Len() = %d after %s", n, tt.name)
				}
				select {
				case code := <-e.rec.Shutdowns:
					if code != tt.code {
						t.Errorf("OnShutdown(%d), want %d", code, tt.code)
					}
				default:
					t.Error("OnShutdown not called")
				}
				select {
				case err := <-e.serveErr:
					if !errors.Is(err, transport.ErrServerClosed) {
						t.Errorf("Serve returned %v, want ErrServerClosed", err)
					}
				case <-time.After(ioTimeout):
					t.Fatal("Serve did not return")
				}
				// The listener is closed: no new connections.
				if nc, err := net.DialTimeout("tcp", e.addr, time.Second); err == nil {
					nc.Close()
					t.Error("listener still accepts after shutdown")
				}
				// Serve on a new listener refuses at once.
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				if err := e.srv.Serve(ln); !errors.Is(err, transport.ErrServerClosed) {
					t.Errorf("Serve after shutdown = %v", err)
				}
				// Repeated calls return at once.
				if err := tt.stop(e.srv, ctx); err != nil {
					t.Errorf("second %s = %v", tt.name, err)
				}
				if len(e.rec.Shutdowns) != 0 {
					t.Error("OnShutdown called twice")
				}
			})
		}
	}
}

// A client that never answers the close: Shutdown gives up when ctx
// expires, closes the TCP connection and returns the context's error.
func TestShutdownDeadline(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, CloseTimeout: slowCloseTimeout})
		mute := wstest.Dial(t, e.addr)
		good := wstest.Dial(t, e.addr)
		goodAnswer := good.AnswerCloses()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := e.srv.Shutdown(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v, want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > slowCloseTimeout/2 {
			t.Errorf("Shutdown returned after %v, want about 300ms (its ctx), not the CloseTimeout %v", d, slowCloseTimeout)
		}
		mute.ExpectCloseCode(1001)
		mute.ExpectEOF(slowCloseTimeout / 2) // cut off when ctx expired, not at CloseTimeout
		if code := wstest.Recv(t, goodAnswer, "the close"); code != 1001 {
			t.Errorf("answering client got %d", code)
		}
		if n := e.srv.Len(); n != 0 {
			t.Errorf("Len() = %d after Shutdown", n)
		}
		for range 2 {
			e.rec.NextClose(t)
		}
	})
}

// During shutdown new upgrades are refused with 503 on the ServeHTTP
// path (the listener path closes its listeners).
func TestShutdownRefusesUpgrades(t *testing.T) {
	e := start(t, viaHTTP, transport.Options{CloseTimeout: 10 * time.Second})
	mute := wstest.Dial(t, e.addr) // keeps Shutdown waiting
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		done <- e.srv.Shutdown(ctx)
	}()
	mute.ExpectCloseCode(1001) // shutdown has begun
	c := wstest.Send(t, e.addr, wstest.UpgradeRequest(e.addr), nil)
	body, _ := io.ReadAll(c.Resp.Body)
	if c.Resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("upgrade during shutdown: %d %q, want 503", c.Resp.StatusCode, body)
	}
	if he := e.rec.NextHandshakeErr(t); he.Status != 503 || !errors.Is(he.Err, transport.ErrServerClosed) {
		t.Errorf("OnHandshakeError(%d, %v), want 503 and ErrServerClosed", he.Status, he.Err)
	}
	mute.SendClose(1001, "")
	if err := wstest.Recv(t, done, "Shutdown"); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	// Still refused after.
	c = wstest.Send(t, e.addr, wstest.UpgradeRequest(e.addr), nil)
	if c.Resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("upgrade after shutdown: %d, want 503", c.Resp.StatusCode)
	}
}

// Shutdown with no connections returns at once, waiting for none of the
// server's timers (all 10 s here, the idle worker timeout 5 s); with a
// context already done it still closes everything.
func TestShutdownIdle(t *testing.T) {
	e := start(t, viaListener, transport.Options{CloseTimeout: slowCloseTimeout, HandshakeTimeout: slowCloseTimeout, WriteTimeout: slowCloseTimeout})
	t0 := time.Now()
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("idle Shutdown took %v: it waited for a timer", d)
	}
	if err := wstest.Recv(t, e.serveErr, "Serve"); !errors.Is(err, transport.ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}

	e2 := start(t, viaListener, transport.Options{CloseTimeout: 10 * time.Second})
	c := wstest.Dial(t, e2.addr)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e2.srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown(canceled ctx) = %v", err)
	}
	// TCP is closed at once. The close frame goes out first unless the
	// connection's writer (here, the one of the sync pong) still held the
	// writer role when Shutdown queued it: it is then dropped with the
	// queue.
	for {
		f, err := c.ReadFrame(slowCloseTimeout / 2)
		if err != nil {
			if wstest.IsTimeout(err) {
				t.Fatal("connection still open long after Shutdown(canceled ctx), not cut off at once")
			}
			break
		}
		if code, _ := wstest.ParseClose(f.Payload); f.H.OpCode != ws.OpClose || code != 1001 {
			t.Fatalf("got %v %q, want close 1001 or EOF", f.H.OpCode, f.Payload)
		}
	}
}

// After Shutdown returns, every OnClose hook has run: a metrics flush
// right after Shutdown must see every connection's end.
func TestShutdownWaitsForOnClose(t *testing.T) {
	var closed atomic.Int32
	e := start(t, viaListener, transport.Options{Hooks: transport.Hooks{OnClose: func(*transport.Conn, *transport.CloseError) {
		time.Sleep(100 * time.Millisecond) // a slow metrics exporter
		closed.Add(1)
	}}})
	c := wstest.Dial(t, e.addr)
	c.AnswerCloses()
	if err := e.srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if closed.Load() != 1 {
		t.Fatal("server.go connClosed closes s.drained before calling Hooks.OnClose (and detaching the session), " +
			"so Shutdown returns while the last OnClose hooks are still running")
	}
}

// An upgrade already past the connection limit check when Shutdown begins
// completes, and the new connection is closed with the shutdown's code at
// once. Shutdown waits for it like for any other connection.
func TestShutdownDuringUpgrade(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			inAccept := make(chan struct{}, 1)
			release := make(chan struct{})
			e := start(t, p, transport.Options{
				CloseTimeout: slowCloseTimeout,
				Accept: func(*transport.Request) (transport.ConnHandler, error) {
					inAccept <- struct{}{}
					<-release
					return echo, nil
				},
			})
			req := wstest.UpgradeRequest(e.addr)
			nc := wstest.DialTCP(t, e.addr)
			_ = nc.SetDeadline(time.Now().Add(ioTimeout))
			if _, err := nc.Write([]byte(req.String())); err != nil {
				t.Fatal(err)
			}
			wstest.Recv(t, inAccept, "Accept")
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), slowCloseTimeout)
				defer cancel()
				done <- e.srv.Restart(ctx)
			}()
			time.Sleep(100 * time.Millisecond)
			returnedEarly := len(done) > 0
			close(release)
			c := &client{T: t, NC: nc, BR: bufio.NewReader(nc)}
			resp, err := http.ReadResponse(c.BR, nil)
			if err != nil {
				t.Fatal(err)
			}
			c.Resp = resp
			c.CheckUpgraded(req)
			if reason := c.ExpectCloseCode(1012); reason != "server shutting down" && reason != "server restarting" {
				t.Errorf("reason %q", reason)
			}
			c.SendClose(1012, "")
			c.ExpectEOF(slowCloseTimeout / 2)
			if err := wstest.Recv(t, done, "Restart"); err != nil {
				t.Errorf("Restart = %v", err)
			}
			if returnedEarly {
				t.Fatal("shutdown.go: Shutdown/Restart only wait for connections in s.conns; an upgrade in progress " +
					"(slot reserved, Accept running) is not waited for, so Shutdown returns nil while that connection " +
					"is about to open and be closed")
			}
		})
	}
}

// Serve backs off and retries on temporary accept errors (reporting
// them), and returns a permanent one.
func TestServeAcceptErrors(t *testing.T) {
	permanent := errors.New("listener broke")
	ln := &flakyListener{errs: []error{tempErr{}, tempErr{}, permanent}}
	rec := hooktest.New()
	o := testOptions(transport.Options{})
	o.Hooks = rec.Wrap(transport.Hooks{})
	srv, err := transport.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	err = wstest.Recv(t, done, "Serve")
	if !errors.Is(err, permanent) {
		t.Errorf("Serve = %v, want the listener's error", err)
	}
	for range 2 {
		if ce := rec.NextError(t); ce.Conn != nil || !strings.Contains(ce.Err.Error(), "accept") {
			t.Errorf("OnError(%v, %v)", ce.Conn, ce.Err)
		}
	}
}

type tempErr struct{}

func (tempErr) Error() string   { return "temporary accept failure" }
func (tempErr) Timeout() bool   { return true }
func (tempErr) Temporary() bool { return true }

type flakyListener struct {
	mu   sync.Mutex
	errs []error
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.errs[0]
	if len(l.errs) > 1 {
		l.errs = l.errs[1:]
	}
	return nil, err
}
func (l *flakyListener) Close() error   { return nil }
func (l *flakyListener) Addr() net.Addr { return &net.TCPAddr{} }
