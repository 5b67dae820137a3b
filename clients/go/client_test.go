package duplexclient_test

// The client against the real server (package runtime) over real TCP,
// through a proxy that breaks connections the way networks do.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	duplexclient "github.com/duplexrpc/duplex/clients/go"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/wire"
)

// bound bounds every wait for something that must happen: only a failure
// waits that long.
const bound = 20 * time.Second

// server is a runtime server with raw methods:
//
//	echo(args) -> args
//	fail() -> error name_taken
//	whoami() -> {"session": id}; remembers the session
//	tick({"n": k}) pushes k "tick" events {"n": next} to the caller
//	block() runs until its ctx ends, then reports it on canceled
//	again() blocks on its first run until its ctx ends; later runs return {"runs": n}
//	bye({"code": c}) replies, then closes the connection with c
//	trace() -> {"trace": the call's trace member as the server read it, or null}
type server struct {
	srv      *runtime.Server
	addr     string
	canceled chan struct{}
	started  chan struct{}
	runs     atomic.Int32
	ended    chan string // OnSessionEnd: the session ids
	closes   chan int    // OnClose: the close codes

	mu       sync.Mutex
	sessions map[string]*runtime.Session
	next     map[string]int // the next tick of each session
}

func startServer(t *testing.T, o runtime.Options) *server {
	t.Helper()
	s := &server{
		canceled: make(chan struct{}, 16),
		started:  make(chan struct{}, 16),
		ended:    make(chan string, 16),
		closes:   make(chan int, 16),
		sessions: make(map[string]*runtime.Session),
		next:     make(map[string]int),
	}
	r := runtime.NewRouter()
	r.Handle("echo", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return append(dst, call.Args...), nil
	})
	r.Handle("fail", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return dst, &runtime.Error{Code: "name_taken", Message: "ada is online already"}
	})
	r.Handle("whoami", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		s.mu.Lock()
		s.sessions[call.Session.ID()] = call.Session
		s.mu.Unlock()
		return fmt.Appendf(dst, `{"session":%q}`, call.Session.ID()), nil
	})
	r.Handle("tick", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		var a struct{ N int }
		if err := json.Unmarshal(call.Args, &a); err != nil {
			return dst, &runtime.Error{Code: runtime.CodeBadRequest, Message: err.Error()}
		}
		s.push(t, call.Session, a.N)
		return append(dst, "{}"...), nil
	})
	r.Handle("block", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		s.started <- struct{}{}
		<-ctx.Done()
		s.canceled <- struct{}{}
		return dst, ctx.Err()
	})
	r.Handle("again", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		n := s.runs.Add(1)
		if n == 1 {
			s.started <- struct{}{}
			<-ctx.Done()
			return dst, ctx.Err()
		}
		return fmt.Appendf(dst, `{"runs":%d}`, n), nil
	})
	r.Handle("bye", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		var a struct{ Code uint16 }
		_ = json.Unmarshal(call.Args, &a)
		runtime.CloseAfterReply(ctx, a.Code, "bye")
		return append(dst, "{}"...), nil
	})
	r.Handle("trace", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		dst = append(dst, `{"trace":`...)
		if call.Trace == nil {
			dst = append(dst, "null"...)
		}
		return append(append(dst, call.Trace...), '}'), nil
	})
	o.Handler = r
	o.Hooks.OnSessionEnd = func(ss *runtime.Session) { s.ended <- ss.ID() }
	o.Hooks.OnClose = func(c *runtime.Conn, e *runtime.CloseError) { s.closes <- int(e.Code) }
	srv, err := runtime.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	s.srv, s.addr = srv, ln.Addr().String()
	return s
}

// push sends n tick events to ss, numbered on from the session's last.
func (s *server) push(t *testing.T, ss *runtime.Session, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for range n {
		s.next[ss.ID()]++
		if err := ss.Push("tick", fmt.Appendf(nil, `{"n":%d}`, s.next[ss.ID()])); err != nil {
			t.Errorf("push: %v", err)
		}
	}
}

func (s *server) session(id string) *runtime.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

// raw is a result or argument object as raw JSON.
type raw []byte

func (r raw) AppendJSON(dst []byte) ([]byte, error) { return append(dst, r...), nil }

// rawResult keeps a result's JSON.
type rawResult struct{ b []byte }

func (r *rawResult) DecodeJSON(d *wire.Decoder) error {
	b, err := d.Raw()
	r.b = append([]byte(nil), b...)
	return err
}

// ticks collects the n of every tick event, in order.
type ticks struct {
	mu  sync.Mutex
	got []int
	ch  chan struct{} // poked on every event
}

func watchTicks(c *duplexclient.Client) *ticks {
	tk := &ticks{ch: make(chan struct{}, 1)}
	c.On("tick", func(data []byte) error {
		var ev struct{ N int }
		if err := json.Unmarshal(data, &ev); err != nil {
			return err
		}
		tk.mu.Lock()
		tk.got = append(tk.got, ev.N)
		tk.mu.Unlock()
		select {
		case tk.ch <- struct{}{}:
		default:
		}
		return nil
	})
	return tk
}

// wait waits until n ticks came and returns them.
func (tk *ticks) wait(t *testing.T, n int) []int {
	t.Helper()
	deadline := time.After(bound)
	for {
		tk.mu.Lock()
		got := slices.Clone(tk.got)
		tk.mu.Unlock()
		if len(got) >= n {
			return got
		}
		select {
		case <-tk.ch:
		case <-deadline:
			t.Fatalf("got ticks %v, want %d", got, n)
		}
	}
}

func seq(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// states records the states a client goes through.
type states struct {
	mu  sync.Mutex
	all []duplexclient.State
	ch  chan duplexclient.State
}

func (s *states) record(st duplexclient.State) {
	s.mu.Lock()
	s.all = append(s.all, st)
	s.mu.Unlock()
	s.ch <- st
}

// until waits for the state want.
func (s *states) until(t *testing.T, want duplexclient.State) {
	t.Helper()
	deadline := time.After(bound)
	for {
		select {
		case st := <-s.ch:
			if st == want {
				return
			}
		case <-deadline:
			t.Fatalf("no state %v within %v", want, bound)
		}
	}
}

// newClient makes a client of url with o, registers the tick watcher and
// the state recorder, connects it and closes it at the end of the test.
func newClient(t *testing.T, url string, o duplexclient.Options) (*duplexclient.Client, *ticks, *states) {
	t.Helper()
	st := &states{ch: make(chan duplexclient.State, 64)}
	o.OnState = st.record
	if o.BackoffBase == 0 {
		o.BackoffBase = 10 * time.Millisecond
	}
	if o.BackoffMax == 0 {
		o.BackoffMax = 100 * time.Millisecond
	}
	c := duplexclient.New(url, o)
	tk := watchTicks(c)
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, tk, st
}

func ctxBound(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	t.Cleanup(cancel)
	return ctx
}

func whoami(t *testing.T, c *duplexclient.Client) string {
	t.Helper()
	var r rawResult
	if err := c.Call(ctxBound(t), "whoami", nil, &r); err != nil {
		t.Fatalf("whoami: %v", err)
	}
	var v struct{ Session string }
	if err := json.Unmarshal(r.b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Session
}

func TestCallsAndErrors(t *testing.T) {
	s := startServer(t, runtime.Options{})
	c, _, _ := newClient(t, "ws://"+s.addr+"/", duplexclient.Options{})

	var r rawResult
	if err := c.Call(ctxBound(t), "echo", raw(`{"a":[1,"x"]}`), &r); err != nil || string(r.b) != `{"a":[1,"x"]}` {
		t.Fatalf("echo: %s, %v", r.b, err)
	}
	// Frames of every length encoding (RFC 6455 §5.2): 7 bits, 16, 64.
	for _, n := range []int{100, 1000, 100 << 10} {
		want := `{"s":"` + strings.Repeat("é", n/2) + `"}`
		if err := c.Call(ctxBound(t), "echo", raw(want), &r); err != nil || string(r.b) != want {
			t.Fatalf("echo of %d bytes: %d bytes back, %v", len(want), len(r.b), err)
		}
	}
	// Calls from many goroutines at once, more than MaxInFlight.
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r rawResult
			want := `{"i":` + strconv.Itoa(i) + `}`
			if err := c.Call(ctxBound(t), "echo", raw(want), &r); err != nil || string(r.b) != want {
				t.Errorf("echo %d: %s, %v", i, r.b, err)
			}
		}()
	}
	wg.Wait()

	err := c.Call(ctxBound(t), "fail", nil, nil)
	var we *duplexclient.Error
	if !errors.As(err, &we) || we.Code != "name_taken" || we.Message != "ada is online already" || we.Retryable {
		t.Fatalf("fail: %#v, want name_taken", err)
	}
	err = c.Call(ctxBound(t), "nope", nil, nil)
	if !errors.As(err, &we) || we.Code != runtime.CodeUnknownCommand {
		t.Fatalf("nope: %v, want unknown_command", err)
	}
	if got := c.Session(); got == "" || got != whoami(t, c) {
		t.Fatalf("Session() %q, server says %q", got, whoami(t, c))
	}
}

// A call whose context ends sends a cancel: the handler's context ends.
func TestCancel(t *testing.T) {
	s := startServer(t, runtime.Options{})
	c, _, _ := newClient(t, "ws://"+s.addr+"/", duplexclient.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Call(ctx, "block", nil, nil) }()
	select {
	case <-s.started:
	case <-time.After(bound):
		t.Fatal("block did not start")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("block: %v, want context.Canceled", err)
	}
	select {
	case <-s.canceled:
	case <-time.After(bound):
		t.Fatal("the handler's context did not end: no cancel reached the server")
	}
	// The connection is fine.
	if err := c.Call(ctxBound(t), "echo", nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestEventsInOrder(t *testing.T) {
	s := startServer(t, runtime.Options{})
	c, tk, _ := newClient(t, "ws://"+s.addr+"/", duplexclient.Options{})
	if err := c.Call(ctxBound(t), "tick", raw(`{"n":500}`), nil); err != nil {
		t.Fatal(err)
	}
	if got := tk.wait(t, 500); !slices.Equal(got, seq(1, 500)) {
		t.Fatalf("ticks %v", got)
	}
}

// The server drops the TCP connection; events pushed while the client is
// away are replayed once, in order, on the resumed session.
func TestReconnectResumes(t *testing.T) {
	s := startServer(t, runtime.Options{})
	p := newProxy(t, s.addr)
	var startOvers atomic.Int32
	c, tk, st := newClient(t, p.url(), duplexclient.Options{OnStartOver: func(string) { startOvers.Add(1) }})
	id := whoami(t, c)
	if err := c.Call(ctxBound(t), "tick", raw(`{"n":3}`), nil); err != nil {
		t.Fatal(err)
	}
	tk.wait(t, 3)

	p.refuse(true)
	p.cut()
	st.until(t, duplexclient.StateReconnecting)
	s.push(t, s.session(id), 5) // 4..8, while the client is away
	// A call made now waits for the connection, bounded by its ctx.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Call(short, "echo", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("call while reconnecting: %v, want its deadline", err)
	}
	waited := make(chan error, 1)
	go func() { waited <- c.Call(ctxBound(t), "tick", raw(`{"n":2}`), nil) }() // 9, 10
	p.refuse(false)
	if err := <-waited; err != nil {
		t.Fatalf("call that waited for the reconnect: %v", err)
	}
	if got := tk.wait(t, 10); !slices.Equal(got, seq(1, 10)) {
		t.Fatalf("ticks %v, want 1..10 once each", got)
	}
	if c.Session() != id || whoami(t, c) != id || startOvers.Load() != 0 {
		t.Fatalf("session %q (server %q), start-overs %d: want %q resumed", c.Session(), whoami(t, c), startOvers.Load(), id)
	}
}

// A resume the server refuses (the session ended) gives a new session
// and calls OnStartOver; its events are numbered from 1 again.
func TestResumeRefusedStartsOver(t *testing.T) {
	s := startServer(t, runtime.Options{ResumeWindow: 50 * time.Millisecond})
	p := newProxy(t, s.addr)
	reasons := make(chan string, 4)
	c, tk, st := newClient(t, p.url(), duplexclient.Options{OnStartOver: func(r string) { reasons <- r }})
	id := whoami(t, c)
	if err := c.Call(ctxBound(t), "tick", raw(`{"n":2}`), nil); err != nil {
		t.Fatal(err)
	}
	tk.wait(t, 2)
	p.refuse(true)
	p.cut()
	st.until(t, duplexclient.StateReconnecting)
	select {
	case ended := <-s.ended:
		if ended != id {
			t.Fatalf("session %s ended, want %s", ended, id)
		}
	case <-time.After(bound):
		t.Fatal("the detached session did not end")
	}
	p.refuse(false)
	select {
	case r := <-reasons:
		if r != "expired" && r != "unknown" {
			t.Fatalf("start-over reason %q", r)
		}
	case <-time.After(bound):
		t.Fatal("no start-over")
	}
	id2 := whoami(t, c)
	if id2 == id || c.Session() != id2 {
		t.Fatalf("session %q after the start-over (client says %q), was %q", id2, c.Session(), id)
	}
	if err := c.Call(ctxBound(t), "tick", raw(`{"n":2}`), nil); err != nil {
		t.Fatal(err)
	}
	if got := tk.wait(t, 4); !slices.Equal(got, []int{1, 2, 1, 2}) {
		t.Fatalf("ticks %v, want 1 2 then the new session's 1 2", got)
	}
}

// A call in flight when the connection is lost fails as retryable; an
// idempotent one is sent again on the next connection.
func TestCallsInFlightWhenLost(t *testing.T) {
	s := startServer(t, runtime.Options{})
	p := newProxy(t, s.addr)
	c, _, st := newClient(t, p.url(), duplexclient.Options{})

	done := make(chan error, 1)
	go func() { done <- c.Call(ctxBound(t), "block", nil, nil) }()
	<-s.started
	p.cut()
	var we *duplexclient.Error
	if err := <-done; !errors.As(err, &we) || we.Code != duplexclient.CodeDisconnected || !we.Retryable {
		t.Fatalf("block across a lost connection: %v, want retryable disconnected", err)
	}
	st.until(t, duplexclient.StateOpen)

	var r rawResult
	go func() { done <- c.CallIdempotent(ctxBound(t), "again", nil, &r) }()
	<-s.started
	p.cut()
	if err := <-done; err != nil || string(r.b) != `{"runs":2}` {
		t.Fatalf("idempotent call across a lost connection: %s, %v; want it run again", r.b, err)
	}
}

// Close codes from the server: 1000 and 4000-4099 end the client; others
// reconnect and resume.
func TestServerCloseCodes(t *testing.T) {
	for _, tc := range []struct {
		code     int
		terminal bool
	}{{1000, true}, {4001, true}, {1008, true}, {4100, false}, {1012, false}, {1011, false}} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			s := startServer(t, runtime.Options{})
			p := newProxy(t, s.addr)
			closes := make(chan duplexclient.CloseInfo, 4)
			c, _, st := newClient(t, p.url(), duplexclient.Options{OnClose: func(i duplexclient.CloseInfo) { closes <- i }})
			id := whoami(t, c)
			if err := c.Call(ctxBound(t), "bye", raw(`{"code":`+strconv.Itoa(tc.code)+`}`), nil); err != nil {
				t.Fatalf("bye: %v", err)
			}
			select {
			case i := <-closes:
				if i.Code != tc.code || i.Reason != "bye" {
					t.Fatalf("OnClose %v, want %d bye", i, tc.code)
				}
			case <-time.After(bound):
				t.Fatal("no OnClose")
			}
			if !tc.terminal {
				st.until(t, duplexclient.StateOpen)
				if whoami(t, c) != id {
					t.Fatal("not resumed")
				}
				return
			}
			st.until(t, duplexclient.StateClosed)
			err := c.Call(ctxBound(t), "echo", nil, nil)
			var ce *duplexclient.ClosedError
			if !errors.Is(err, duplexclient.ErrClosed) || !errors.As(err, &ce) || ce.Code != tc.code {
				t.Fatalf("call after close %d: %v", tc.code, err)
			}
			if err := c.Connect(ctxBound(t)); !errors.Is(err, duplexclient.ErrClosed) {
				t.Fatalf("Connect after close %d: %v", tc.code, err)
			}
			if n := p.acceptCount(); n != 1 {
				t.Fatalf("%d connections, want no reconnect", n)
			}
		})
	}
}

// Close sends 1000: the server ends the session at once.
func TestCloseEndsSession(t *testing.T) {
	s := startServer(t, runtime.Options{})
	c, _, _ := newClient(t, "ws://"+s.addr+"/", duplexclient.Options{})
	id := whoami(t, c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if code := <-s.closes; code != 1000 {
		t.Fatalf("server saw close %d, want 1000", code)
	}
	select {
	case ended := <-s.ended:
		if ended != id {
			t.Fatalf("ended %s, want %s", ended, id)
		}
	case <-time.After(bound):
		t.Fatal("the session did not end")
	}
	if c.State() != duplexclient.StateClosed {
		t.Fatalf("state %v", c.State())
	}
	if err := c.Call(ctxBound(t), "echo", nil, nil); !errors.Is(err, duplexclient.ErrClosed) {
		t.Fatalf("call after Close: %v", err)
	}
}

// Heartbeat: a quiet healthy server keeps the connection (its pongs
// answer the client's pings); a connection that goes silent is dropped
// with 3008 and replaced, resuming the session.
func TestHeartbeat(t *testing.T) {
	s := startServer(t, runtime.Options{ClientHeartbeat: 20 * time.Millisecond, PingInterval: -1})
	p := newProxy(t, s.addr)
	closes := make(chan duplexclient.CloseInfo, 4)
	c, _, st := newClient(t, p.url(), duplexclient.Options{PingTimeout: 2 * time.Second, OnClose: func(i duplexclient.CloseInfo) { closes <- i }})
	id := whoami(t, c)
	// No calls from here on: what the client sends are its pings.
	before := p.upBytes()
	deadline := time.Now().Add(bound)
	for p.upBytes() < before+5*len(`{"ping":1}`) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if p.upBytes() < before+5*len(`{"ping":1}`) {
		t.Fatal("a quiet connection: the client sent no pings")
	}
	select {
	case i := <-closes:
		t.Fatalf("a healthy quiet connection was dropped: %v", i)
	default:
	}
	p.blackhole()
	select {
	case i := <-closes:
		if i.Code != duplexclient.CloseDead {
			t.Fatalf("OnClose %v, want %d", i, duplexclient.CloseDead)
		}
	case <-time.After(bound):
		t.Fatal("a silent connection was not dropped")
	}
	st.until(t, duplexclient.StateOpen)
	if whoami(t, c) != id {
		t.Fatal("not resumed after the heartbeat drop")
	}
}

// MaxAttempts: a client that cannot reconnect gives up and closes.
func TestGiveUp(t *testing.T) {
	s := startServer(t, runtime.Options{})
	p := newProxy(t, s.addr)
	c, _, st := newClient(t, p.url(), duplexclient.Options{MaxAttempts: 3})
	p.refuse(true)
	p.cut()
	st.until(t, duplexclient.StateClosed)
	var ce *duplexclient.ClosedError
	if err := c.Call(ctxBound(t), "echo", nil, nil); !errors.As(err, &ce) || !ce.GaveUp {
		t.Fatalf("call after giving up: %v", err)
	}
	if n := p.acceptCount(); n != 1+3 {
		t.Fatalf("%d connections, want the first and 3 attempts", n)
	}
}

// A handshake the server refuses with a 4xx status closes the client:
// trying again would not help.
func TestRefusedHandshakeCloses(t *testing.T) {
	s := startServer(t, runtime.Options{Authorize: func(*runtime.Request, *runtime.Session) error {
		return errors.New("no")
	}})
	c := duplexclient.New("ws://"+s.addr+"/", duplexclient.Options{})
	defer c.Close()
	err := c.Connect(ctxBound(t))
	var ce *duplexclient.ClosedError
	var st ws.StatusError
	if !errors.As(err, &ce) || !errors.As(err, &st) || st != 403 {
		t.Fatalf("Connect: %v, want the client closed by the 403", err)
	}
}

// A client that was never connected fails calls at once.
func TestCallBeforeConnect(t *testing.T) {
	c := duplexclient.New("ws://127.0.0.1:1/", duplexclient.Options{})
	if err := c.Call(ctxBound(t), "echo", nil, nil); !errors.Is(err, duplexclient.ErrClosed) {
		t.Fatalf("call before Connect: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{"http://127.0.0.1:1/", "127.0.0.1:1", "ws:///x", "ws://[::1"} {
		c := duplexclient.New(url, duplexclient.Options{})
		if err := c.Connect(ctxBound(t)); !errors.Is(err, duplexclient.ErrClosed) || !strings.Contains(err.Error(), "ws:// or wss://") {
			t.Errorf("Connect(%q): %v, want the client closed for its URL", url, err)
		}
	}
}

// A message over MaxMessageSize closes the connection with 1009, decided
// from its header.
func TestMessageTooBig(t *testing.T) {
	s := startServer(t, runtime.Options{})
	closes := make(chan duplexclient.CloseInfo, 4)
	c, _, _ := newClient(t, "ws://"+s.addr+"/", duplexclient.Options{MaxMessageSize: 1 << 10, OnClose: func(i duplexclient.CloseInfo) { closes <- i }})
	big := `{"x":"` + strings.Repeat("x", 2<<10) + `"}`
	err := c.Call(ctxBound(t), "echo", raw(big), nil)
	var we *duplexclient.Error
	if !errors.As(err, &we) || we.Code != duplexclient.CodeDisconnected {
		t.Fatalf("a call whose reply is too big: %v, want disconnected", err)
	}
	select {
	case i := <-closes:
		if i.Code != 1009 || !errors.Is(i.Err, wsutil.ErrMessageTooLarge) {
			t.Fatalf("OnClose %v, want 1009", i)
		}
	case <-time.After(bound):
		t.Fatal("no OnClose")
	}
	if code := <-s.closes; code != 1009 {
		t.Fatalf("the server saw %d, want 1009", code)
	}
}

// The server's own health checks (RFC 6455 pings) are answered with
// pongs: they succeed, and the connection stays.
func TestAnswersServerPings(t *testing.T) {
	health := make(chan runtime.Health, 64)
	s := startServer(t, runtime.Options{
		PingInterval: 20 * time.Millisecond,
		PingTimeout:  bound,
		Hooks: runtime.Hooks{OnHealth: func(_ *runtime.Conn, h runtime.Health) {
			select {
			case health <- h:
			default:
			}
		}},
	})
	c, _, _ := newClient(t, "ws://"+s.addr+"/", duplexclient.Options{})
	for range 3 {
		select {
		case h := <-health:
			if !h.OK {
				t.Fatalf("health check %+v, want OK", h)
			}
		case <-time.After(bound):
			t.Fatal("no health check")
		}
	}
	if err := c.Call(ctxBound(t), "echo", nil, nil); err != nil {
		t.Fatal(err)
	}
}
