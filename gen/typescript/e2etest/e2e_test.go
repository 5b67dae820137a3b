package e2etest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/clients/ts"
	"github.com/duplexrpc/duplex/gen/typescript/e2etest/alltypes"
	"github.com/duplexrpc/duplex/runtime"
)

// handler implements alltypes.Handler for e2e.test.mjs; Nothing and UserID
// stay unimplemented.
type handler struct {
	alltypes.UnimplementedHandler
	canceled chan cancellation // one per slow call, when its context ends
	detached atomic.Int32      // the "detached" calls whose events were pushed
}

// cancellation is a slow call whose context ended: n is its Plain.N, open
// whether its connection was still open then (canceled by the client's
// cancel envelope, not by the connection's end).
type cancellation struct {
	n    int32
	open bool
}

// Echo returns its argument, fails with BoomError for plain.s "boom", and
// pushes happened and old before answering for plain.s "push".
func (h *handler) Echo(_ context.Context, s *runtime.Session, a alltypes.Everything) (alltypes.Everything, error) {
	switch a.Plain.S {
	case "boom":
		return alltypes.Everything{}, &alltypes.BoomError{Message: "it blew up"}
	case "push":
		if err := alltypes.PushHappened(s, &alltypes.HappenedEvent{Everything: a, Seq: -9223372036854775808}); err != nil {
			return alltypes.Everything{}, err
		}
		if err := alltypes.PushOld(s, &alltypes.OldEvent{At: time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC), Shade: alltypes.ShadeDark}); err != nil {
			return alltypes.Everything{}, err
		}
	}
	return a, nil
}

func (h *handler) EchoFields(_ context.Context, _ *runtime.Session, a alltypes.EchoFieldsArgs) (alltypes.EchoFieldsResult, error) {
	r := alltypes.EchoFieldsResult(a)
	return r, nil
}

// Plain returns its argument; for s "trace" the call's trace member as
// the server read it (recordTrace), "-" for none; for s "detached?" (in N) how many
// "detached" calls' events were pushed; for s "whoami" the session's user (set by
// authorizeHello); for s "slow" it waits for its context to end
// and reports the cancellation on h.canceled; for s "detached" it pushes
// plainEvent "missed 1" and "missed 2" once the session's connection is
// gone (the client drops it), for the client to get on resuming.
func (h *handler) Plain(ctx context.Context, s *runtime.Session, a alltypes.Plain) (alltypes.Plain, error) {
	if a.S == "detached" {
		go func() {
			for deadline := time.Now().Add(5 * time.Second); s.Conn() != nil; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					return
				}
			}
			_ = alltypes.PushPlainEvent(s, &alltypes.PlainEventEvent{S: "missed 1"})
			_ = alltypes.PushPlainEvent(s, &alltypes.PlainEventEvent{S: "missed 2"})
			h.detached.Add(1)
		}()
		return a, nil
	}
	if a.S == "detached?" {
		return alltypes.Plain{N: h.detached.Load()}, nil
	}
	if a.S == "trace" {
		return alltypes.Plain{S: ctx.Value(traceKey{}).(string)}, nil
	}
	if a.S == "whoami" {
		user, _ := s.Get("user")
		return alltypes.Plain{S: user}, nil
	}
	if a.S == "slow" {
		conn := s.Conn()
		<-ctx.Done()
		// A connection's end is recorded (CloseError) before its calls are
		// canceled; Done closes only later, after the session is detached
		// and OnClose returned, so it cannot tell the two apart.
		c := cancellation{n: a.N, open: conn != nil && conn.CloseError() == nil}
		select {
		case h.canceled <- c:
		default: // the buffer is bigger than the test's slow calls; never blocks a handler
		}
		return alltypes.Plain{}, ctx.Err()
	}
	return a, nil
}

func (h *handler) Thread(_ context.Context, _ *runtime.Session, a alltypes.Comment) (alltypes.Comment, error) {
	return a, nil
}

func (h *handler) Tree(_ context.Context, _ *runtime.Session, a alltypes.TreeArgs) (alltypes.TreeResult, error) {
	r := alltypes.TreeResult(a)
	return r, nil
}

func (h *handler) Search(_ context.Context, _ *runtime.Session, a alltypes.SearchArgs) (alltypes.SearchResult, error) {
	r := alltypes.SearchResult(a)
	return r, nil
}

func (h *handler) EchoOptionals(_ context.Context, _ *runtime.Session, a alltypes.Optionals) (alltypes.Optionals, error) {
	return a, nil
}

func (h *handler) Count(context.Context, *runtime.Session) (alltypes.CountResult, error) {
	return alltypes.CountResult{N: 9007199254740993}, nil
}

// authorizeHello is the server's AuthorizeHello: a hello without params
// passes (the tests that send none), {"token": "good-<user>"} passes and
// sets the session's user, {"token": "banned"} is refused with 4003, and
// any other token with CloseHelloRefused.
func authorizeHello(_ *runtime.Conn, s *runtime.Session, params []byte) error {
	if params == nil {
		return nil
	}
	var p struct{ Token string }
	if err := json.Unmarshal(params, &p); err != nil {
		return fmt.Errorf("decode params: %w", err)
	}
	if user, ok := strings.CutPrefix(p.Token, "good-"); ok {
		s.Set("user", user)
		return nil
	}
	if p.Token == "banned" {
		return &runtime.HelloError{Code: 4003, Reason: "banned"}
	}
	return errors.New("bad token")
}

// traceKey holds in a call's ctx its trace member as the server read it.
type traceKey struct{}

// recordTrace is an interceptor that puts each call's trace member
// (runtime.Call.Trace) in its ctx, for Plain: "-" when it has none.
func recordTrace(next runtime.MethodFunc) runtime.MethodFunc {
	return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		trace := "-"
		if call.Trace != nil {
			trace = string(call.Trace)
		}
		return next(context.WithValue(ctx, traceKey{}, trace), call, dst)
	}
}

// server is the runtime serving handler on 127.0.0.1.
type server struct {
	addr string
	h    *handler

	mu     sync.Mutex
	errors []error // reported to Hooks.OnError
}

func (s *server) reported() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errors...)
}

func startServer(t *testing.T) *server {
	t.Helper()
	s := &server{h: &handler{canceled: make(chan cancellation, 16)}}
	router := runtime.NewRouter()
	router.Use(recordTrace)
	alltypes.Register(router, s.h)
	srv, err := runtime.New(runtime.Options{
		Handler:      router,
		Subprotocols: []string{"duplex.v1+json"},
		// Quiet clients ping every 300 ms: e2e.test.mjs checks that the
		// server's pongs keep them open.
		ClientHeartbeat: 300 * time.Millisecond,
		AuthorizeHello:  authorizeHello,
		Hooks: runtime.Hooks{OnError: func(_ *runtime.Conn, err error) {
			s.mu.Lock()
			s.errors = append(s.errors, err)
			s.mu.Unlock()
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, runtime.ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return s
}

// nodeDir returns a new directory holding e2e.test.mjs beside the committed
// generated client (../testdata/alltypes/alltypes.duplex.js, the golden of
// gen/typescript) and the runtime it imports as ./duplex.js, which the
// golden folder does not hold.
func nodeDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{ts.JSName: ts.JS()} // clients/ts/dist/duplex.js
	for name, from := range map[string]string{
		"alltypes.duplex.js": filepath.Join("..", "testdata", "alltypes", "alltypes.duplex.js"),
		"e2e.test.mjs":       "e2e.test.mjs",
	} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestNodeAgainstGoServer runs e2e.test.mjs under node:test: the generated
// TypeScript client (as a browser would load it, over Node's WebSocket)
// against the Go runtime serving the generated Go handler in this process.
// Then it checks that the calls the client aborted or timed out ended their
// handlers' contexts on the server while the connection was open, and the
// call left pending at close when the connection ended.
func TestNodeAgainstGoServer(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: install Node 20 or later (%v)", err)
	}
	s := startServer(t)
	dir := nodeDir(t)

	// Only stops a hung run: on a loaded machine the tests take far longer
	// than their few seconds.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Node 20 has a WebSocket global only behind --experimental-websocket.
	cmd := exec.CommandContext(ctx, node, "--experimental-websocket", "--test", "--test-reporter=spec", "e2e.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DUPLEX_E2E_ADDR="+s.addr)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (killed after %v)", err, time.Since(start).Round(time.Millisecond))
		}
		t.Fatalf("node %s: %v\n%s\nerrors reported by the server: %v", strings.Join(cmd.Args[1:], " "), err, out.Bytes(), s.reported())
	}
	t.Logf("node (%v):\n%s", time.Since(start).Round(time.Millisecond), out.Bytes())

	// The slow calls of "abort and timeout cancel the handler" (n 1:
	// aborted, n 2: timed out) end by the client's cancel envelopes, on an
	// open connection; the one of "close 1000 and disconnect" (n 3) by the
	// connection's end, which the server may see only after node exits.
	want := []cancellation{{1, true}, {2, true}, {3, false}}
	var got []cancellation
	deadline := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case c := <-s.h.canceled:
			got = append(got, c)
		case <-deadline:
			t.Fatalf("server saw slow calls canceled %+v, want %+v", got, want)
		}
	}
	slices.SortFunc(got, func(a, b cancellation) int { return int(a.n - b.n) })
	if !slices.Equal(got, want) {
		t.Errorf("server saw slow calls canceled %+v, want %+v", got, want)
	}
}
