package runtime_test

// Interceptors (interceptor.go) over real TCP, with the test methods of
// router_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// seen is what an interceptor saw of one call.
type seen struct {
	name    string
	conn    *runtime.Conn
	session *runtime.Session
	args    string
	trace   string
	result  string
	err     error
	code    string
	took    time.Duration
}

// observer returns an interceptor that reports every call's view to ch.
func observer(ch chan<- seen) runtime.Interceptor {
	return func(next runtime.MethodFunc) runtime.MethodFunc {
		return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
			// Copied now: Args and Trace are valid only during the call.
			s := seen{name: call.Name, conn: call.Conn, session: call.Session,
				args: string(call.Args), trace: string(call.Trace)}
			start := time.Now()
			out, err := next(ctx, call, dst)
			s.took = time.Since(start)
			s.err, s.code = err, runtime.ErrorCode(err)
			if err == nil {
				s.result = string(out[len(dst):])
			}
			ch <- s
			return out, err
		}
	}
}

// TestInterceptorChainOrder: the first interceptor given is the
// outermost, across calls of Use, for methods registered before and
// after Use.
func TestInterceptorChainOrder(t *testing.T) {
	var (
		mu    sync.Mutex
		trail []string
	)
	note := func(s string) {
		mu.Lock()
		trail = append(trail, s)
		mu.Unlock()
	}
	named := func(name string) runtime.Interceptor {
		return func(next runtime.MethodFunc) runtime.MethodFunc {
			return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
				note(name + ">")
				out, err := next(ctx, call, dst)
				note("<" + name)
				return out, err
			}
		}
	}
	m := newRPCMethods()
	r := m.router // "echo" and the rest are registered already
	r.Use(named("a"), named("b"))
	r.Handle("late", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		note("late")
		return append(dst, `{"late":true}`...), nil
	})
	r.Use(named("c"))
	e, c := startRPC(t, m, runtime.Options{})
	for i, method := range []string{"late", "echo"} {
		mu.Lock()
		trail = nil
		mu.Unlock()
		c.Text(fmt.Sprintf(`{"id":%d,"call":%q,"args":{"n":1}}`, i, method))
		reply := c.reply()
		mu.Lock()
		got := slices.Clone(trail)
		mu.Unlock()
		want := []string{"a>", "b>", "c>", "late", "<c", "<b", "<a"}
		if method == "echo" {
			want = slices.Delete(want, 3, 4)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: trail %q, want %q (reply %s)", method, got, want, reply)
		}
	}
	noErrors(t, e)
}

// TestInterceptorRefuses: an interceptor that returns a WireError without
// calling next refuses the call with a typed error reply; the handler
// does not run, nothing is reported, the connection stays open.
func TestInterceptorRefuses(t *testing.T) {
	forModes(t, func(t *testing.T, mode readMode) {
		m := newRPCMethods()
		m.router.Use(func(next runtime.MethodFunc) runtime.MethodFunc {
			return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
				if _, ok := call.Session.Get("user"); !ok && call.Name == "record" {
					// A code no command declares: interceptors' errors
					// are not checked, as guards' are not.
					return dst, &runtime.Error{Code: "unauthenticated", Message: "log in first"}
				}
				if call.Name == "nothing" {
					return dst, fmt.Errorf("rate limiter: %w", errSecret)
				}
				return next(ctx, call, dst)
			}
		})
		e, c := startRPC(t, m, runtime.Options{DisablePoller: mode.disablePoller})
		conn := e.rec.NextOpen(t)
		c.Text(`{"id":1,"call":"record","args":{"k":"v"}}`)
		c.expectReply(`{"id":1,"error":{"code":"unauthenticated","message":"log in first"}}`)
		select {
		case call := <-m.calls:
			t.Errorf("the refused call ran: %+v", call)
		default:
		}
		c.checkUsable(2)
		noErrors(t, e)
		// Any other error is "internal", its text not shown, and reported.
		c.Text(`{"id":3,"call":"nothing"}`)
		c.expectReply(`{"id":3,"error":{"code":"internal","message":"internal error"}}`)
		if ce := e.rec.NextError(t); !errors.Is(ce.Err, errSecret) || ce.Conn != conn {
			t.Errorf("OnError(%p, %v), want errSecret on %p", ce.Conn, ce.Err, conn)
		}
		// Once the session says who the user is, the call goes through.
		runtime.SessionOf(conn).Set("user", "ada")
		c.Text(`{"id":4,"call":"record","args":{"k":"v"}}`)
		c.expectReply(`{"id":4,"result":{}}`)
		wstest.Recv(t, m.calls, "the call")
		c.checkUsable(5)
		e.rec.NoClose(t, 20*time.Millisecond)
	})
}

// TestInterceptorSeesCall: an interceptor sees the name, connection,
// session, arguments and trace context of each call, its result or its
// error with the code the client gets, and how long it took.
func TestInterceptorSeesCall(t *testing.T) {
	m := newRPCMethods()
	const nap = 30 * time.Millisecond
	m.router.Handle("nap", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		time.Sleep(nap)
		return dst, nil
	})
	views := make(chan seen, 10)
	m.router.Use(observer(views))
	e, c := startRPC(t, m, runtime.Options{})
	conn := e.rec.NextOpen(t)
	session := runtime.SessionOf(conn)

	c.Text(`{"id":1,"call":"echo","args":{"name": "ada"},"trace":{"traceparent":"00-x"}}`)
	c.expectReply(`{"id":1,"result":{"name": "ada"}}`)
	v := wstest.Recv(t, views, "the call's view")
	if v.name != "echo" || v.conn != conn || v.session != session || v.args != `{"name": "ada"}` ||
		v.trace != `{"traceparent":"00-x"}` || v.result != `{"name": "ada"}` || v.err != nil || v.code != "" {
		t.Errorf("saw %+v", v)
	}

	for _, tc := range []struct{ call, code, reply string }{
		{"fail", "name_taken", `{"id":2,"error":{"code":"name_taken","message":"ada is \"online\" already"}}`},
		{"failTyped", "not_found", `{"id":2,"error":{"code":"not_found","message":"user ada not found"}}`},
		{"plain", "internal", `{"id":2,"error":{"code":"internal","message":"internal error"}}`},
	} {
		c.Text(`{"id":2,"call":"` + tc.call + `"}`)
		c.expectReply(tc.reply)
		v := wstest.Recv(t, views, "the call's view")
		if v.name != tc.call || v.code != tc.code || v.err == nil || v.trace != "" || v.args != "{}" {
			t.Errorf("%s: saw %+v, want code %s", tc.call, v, tc.code)
		}
	}
	if ce := e.rec.NextError(t); !errors.Is(ce.Err, errSecret) {
		t.Errorf("OnError(%v), want plain's error", ce.Err)
	}

	// A handler's panic reaches the interceptor as a *PanicError; the
	// reply and the report are those of a panic without interceptors.
	c.Text(`{"id":3,"call":"panic"}`)
	c.expectReply(`{"id":3,"error":{"code":"internal","message":"internal error"}}`)
	v = wstest.Recv(t, views, "the call's view")
	var pe *runtime.PanicError
	if !errors.As(v.err, &pe) || pe.Value != "boom" || v.code != runtime.CodeInternal {
		t.Errorf("panic: saw %+v", v)
	}
	if ce := e.rec.NextError(t); !errors.As(ce.Err, &pe) || ce.Conn != conn {
		t.Errorf("OnError(%p, %v), want the panic on %p", ce.Conn, ce.Err, conn)
	}

	// The time next takes is at least the handler's.
	c.Text(`{"id":4,"call":"nap"}`)
	c.expectReply(`{"id":4,"result":{}}`)
	if v := wstest.Recv(t, views, "the call's view"); v.took < nap || v.result != "" {
		t.Errorf("nap: took %v (want ≥ %v), result %q", v.took, nap, v.result)
	}
	c.checkUsable(5)
	wstest.Recv(t, views, "the call's view")
	noErrors(t, e)
}

// TestInterceptorPanics: a panic in an interceptor, before or after next,
// is handled as a handler's: "internal", reported, the connection and
// the server go on.
func TestInterceptorPanics(t *testing.T) {
	forModes(t, func(t *testing.T, mode readMode) {
		m := newRPCMethods()
		m.router.Use(func(next runtime.MethodFunc) runtime.MethodFunc {
			return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
				switch string(call.Args) {
				case `{"panic":"before"}`:
					panic("before")
				case `{"panic":"after"}`:
					out, err := next(ctx, call, dst)
					if err == nil {
						panic("after")
					}
					return out, err
				}
				return next(ctx, call, dst)
			}
		})
		e, c := startRPC(t, m, runtime.Options{DisablePoller: mode.disablePoller})
		conn := e.rec.NextOpen(t)
		for i, when := range []string{"before", "after"} {
			c.Text(fmt.Sprintf(`{"id":%d,"call":"record","args":{"panic":%q}}`, i, when))
			c.expectReply(fmt.Sprintf(`{"id":%d,"error":{"code":"internal","message":"internal error"}}`, i))
			ce := e.rec.NextError(t)
			var pe *runtime.PanicError
			if !errors.As(ce.Err, &pe) || pe.Value != when || ce.Conn != conn {
				t.Errorf("OnError(%p, %v), want a *PanicError of %q on %p", ce.Conn, ce.Err, when, conn)
			}
			c.checkUsable(10 + i)
		}
		if n := len(m.calls); n != 1 { // only "after" reached the method
			t.Errorf("the method ran %d times, want 1", n)
		}
		e.rec.NoClose(t, 20*time.Millisecond)
		// The server serves new connections.
		dial(t, e.addr).checkUsable(1)
	})
}

// ctxKey marks a context an interceptor derived.
type ctxKey struct{}

// TestInterceptorCancel: a cancel reaches the handler through a chain
// that hands it a derived context, the interceptors see the code
// canceled, and CloseAfterReply works through the derived context.
func TestInterceptorCancel(t *testing.T) {
	for _, method := range []string{"wait", "waitWrapped", "waitChild"} {
		t.Run(method, func(t *testing.T) {
			m := newRPCMethods()
			views := make(chan seen, 10)
			m.router.Use(observer(views), func(next runtime.MethodFunc) runtime.MethodFunc {
				return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
					return next(context.WithValue(ctx, ctxKey{}, call.Name), call, dst)
				}
			})
			e, c := startRPC(t, m, runtime.Options{})
			c.Text(`{"id":10,"call":"` + method + `"}`)
			wstest.Recv(t, m.started, "the call to start")
			c.Text(`{"cancel":10}`)
			if err := wstest.Recv(t, m.ended, "the call's context to end"); !errors.Is(err, context.Canceled) {
				t.Errorf("ctx.Err() = %v", err)
			}
			c.expectReply(`{"id":10,"error":{"code":"canceled","message":"call canceled"}}`)
			if v := wstest.Recv(t, views, "the call's view"); v.code != runtime.CodeCanceled {
				t.Errorf("saw %+v, want code canceled", v)
			}
			noErrors(t, e)
			c.Text(`{"id":11,"call":"bye"}`)
			c.expectReply(`{"id":11,"result":{"ok":true}}`)
			if reason := c.ExpectCloseCode(runtime.CloseNormal); reason != "bye" {
				t.Errorf("close reason %q, want bye", reason)
			}
			c.SendClose(runtime.CloseNormal, "")
		})
	}
}

// TestRPCTraceMember: the optional trace member of a call reaches
// Call.Trace as the client sent it; absent, or not an object, it is nil,
// and it never makes an envelope bad.
func TestRPCTraceMember(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	for i, tc := range []struct{ envelope, trace string }{
		{`{"id":%d,"call":"record","args":{"k":1},"trace":{"traceparent":"00-a-b-01","tracestate":"k=v"}}`, `{"traceparent":"00-a-b-01","tracestate":"k=v"}`},
		{`{"trace": {} ,"id":%d,"call":"record"}`, `{}`},
		{`{"id":%d,"call":"record"}`, ``},
		{`{"id":%d,"call":"record","trace":"00-a-b-01"}`, ``},
		{`{"id":%d,"call":"record","trace":null}`, ``},
		{`{"id":%d,"call":"record","trace":{"a":1},"trace":{"b":2}}`, `{"a":1}`},
		// The slow path of envelopes that wire's decoder refuses in a
		// member v1 does not know (a lone surrogate).
		{`{"id":%d,"call":"record","x":"\udc00","trace":{"traceparent":"t"}}`, `{"traceparent":"t"}`},
	} {
		c.Text(fmt.Sprintf(tc.envelope, i))
		c.expectReply(fmt.Sprintf(`{"id":%d,"result":{}}`, i))
		call := wstest.Recv(t, m.calls, "the call")
		if got := string(call.Trace); got != tc.trace || (tc.trace == "" && call.Trace != nil) {
			t.Errorf("%s: Trace %q, want %q", tc.envelope, call.Trace, tc.trace)
		}
		if bytes.Contains(call.Args, []byte("trace")) {
			t.Errorf("%s: Args %q", tc.envelope, call.Args)
		}
	}
	// A trace member alone does not make an envelope a call.
	c.Text(`{"trace":{"traceparent":"t"}}`)
	c.expectReply(`{"id":null,"error":{"code":"bad_request","message":"the envelope has no call, cancel, ping or hello member"}}`)
	c.checkUsable(100)
	noErrors(t, e)
}

// TestErrorCode: the code of the reply each kind of error becomes; an
// unwrapped WireError's costs no allocation.
func TestErrorCode(t *testing.T) {
	typed := &runtime.Error{Code: "name_taken", Message: "taken"}
	for _, tc := range []struct {
		err  error
		code string
	}{
		{nil, ""},
		{typed, "name_taken"},
		{notFound{"ada"}, "not_found"},
		{fmt.Errorf("login: %w", typed), "name_taken"},
		{errSecret, runtime.CodeInternal},
		{&runtime.PanicError{Value: "boom"}, runtime.CodeInternal},
		{context.Canceled, runtime.CodeInternal},
	} {
		if got := runtime.ErrorCode(tc.err); got != tc.code {
			t.Errorf("ErrorCode(%v) = %q, want %q", tc.err, got, tc.code)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = runtime.ErrorCode(typed) }); n != 0 {
		t.Errorf("ErrorCode of a *Error: %v allocations, want 0", n)
	}
}
