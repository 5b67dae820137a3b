package otelduplex_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/otelduplex"
)

// traced is a server on a real loopback listener whose Router is traced
// into an in-memory recorder, and one connection to it.
type traced struct {
	spans   *tracetest.SpanRecorder
	client  *wstest.Client
	conn    *runtime.Conn
	errs    chan error
	handled chan trace.SpanContext // the span each "echo" handler's ctx carries
}

func startTraced(t *testing.T) *traced {
	t.Helper()
	tr := &traced{
		spans:   tracetest.NewSpanRecorder(),
		errs:    make(chan error, 10),
		handled: make(chan trace.SpanContext, 10),
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tr.spans))
	r := runtime.NewRouter()
	r.Use(otelduplex.Interceptor(otelduplex.WithTracerProvider(tp)))
	r.Handle("echo", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		tr.handled <- trace.SpanContextFromContext(ctx)
		return append(dst, call.Args...), nil
	})
	r.Handle("login", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return dst, &runtime.Error{Code: "name_taken", Message: "ada is online already"}
	})
	r.Handle("broken", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return dst, errors.New("connect db: refused")
	})
	opened := make(chan *runtime.Conn, 1)
	srv, err := runtime.New(runtime.Options{
		Handler:      r,
		PingInterval: -1,
		Hooks: runtime.Hooks{
			OnOpen:  func(c *runtime.Conn) { opened <- c },
			OnError: func(c *runtime.Conn, err error) { tr.errs <- err },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	tr.client = wstest.Dial(t, ln.Addr().String())
	tr.conn = wstest.Recv(t, opened, "the connection to open")
	return tr
}

// call sends the envelope and checks the reply is want; the call's span
// has ended by then (before the reply was written), and is returned.
func (tr *traced) call(t *testing.T, envelope, want string) sdktrace.ReadOnlySpan {
	t.Helper()
	n := len(tr.spans.Ended())
	tr.client.Text(envelope)
	tr.client.ExpectText(want)
	ended := tr.spans.Ended()
	if len(ended) != n+1 {
		t.Fatalf("%d spans ended by the call, want 1", len(ended)-n)
	}
	return ended[n]
}

func attrs(s sdktrace.ReadOnlySpan) map[attribute.Key]string {
	m := make(map[attribute.Key]string)
	for _, kv := range s.Attributes() {
		m[kv.Key] = kv.Value.Emit()
	}
	return m
}

// TestSpanPerCall: one server span per call, named after the command,
// with the command and the session id, and in the handler's context.
func TestSpanPerCall(t *testing.T) {
	tr := startTraced(t)
	session := runtime.SessionOf(tr.conn).ID()
	var ids []trace.SpanID
	for range 2 {
		s := tr.call(t, `{"id":1,"call":"echo","args":{"a":1}}`, `{"id":1,"result":{"a":1}}`)
		if s.Name() != "echo" || s.SpanKind() != trace.SpanKindServer {
			t.Errorf("span %q kind %v, want echo, server", s.Name(), s.SpanKind())
		}
		want := map[attribute.Key]string{
			otelduplex.KeySystem:  "duplex",
			otelduplex.KeyMethod:  "echo",
			otelduplex.KeySession: session,
		}
		if got := attrs(s); len(got) != len(want) || got[otelduplex.KeySystem] != "duplex" ||
			got[otelduplex.KeyMethod] != "echo" || got[otelduplex.KeySession] != session {
			t.Errorf("attributes %v, want %v", got, want)
		}
		if s.Status().Code != codes.Unset || s.Parent().IsValid() {
			t.Errorf("status %v, parent %v: want unset, none", s.Status(), s.Parent())
		}
		if sc := wstest.Recv(t, tr.handled, "the handler's span"); sc.SpanID() != s.SpanContext().SpanID() {
			t.Errorf("the handler's ctx carries span %v, want the call's %v", sc.SpanID(), s.SpanContext().SpanID())
		}
		ids = append(ids, s.SpanContext().SpanID())
	}
	if ids[0] == ids[1] {
		t.Errorf("two calls, one span id %v", ids[0])
	}
}

// TestSpanParentFromTraceparent: the call's span is a child of the span
// the client names in the envelope's trace member, with its trace state.
func TestSpanParentFromTraceparent(t *testing.T) {
	tr := startTraced(t)
	s := tr.call(t, `{"id":2,"call":"echo","trace":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"congo=t61rcWkgMzE","baggage":"ignored"}}`,
		`{"id":2,"result":{}}`)
	p := s.Parent()
	if p.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || p.SpanID().String() != "00f067aa0ba902b7" ||
		!p.IsRemote() || !p.IsSampled() || p.TraceState().String() != "congo=t61rcWkgMzE" {
		t.Errorf("parent %+v", p)
	}
	if s.SpanContext().TraceID() != p.TraceID() || s.SpanContext().TraceState().String() != "congo=t61rcWkgMzE" {
		t.Errorf("span %+v not in the client's trace", s.SpanContext())
	}
	wstest.Recv(t, tr.handled, "the handler's span")
}

// TestSpanErrorCode: an error reply's code is an attribute and the
// status; an internal error is recorded with its text.
func TestSpanErrorCode(t *testing.T) {
	tr := startTraced(t)
	s := tr.call(t, `{"id":3,"call":"login"}`, `{"id":3,"error":{"code":"name_taken","message":"ada is online already"}}`)
	if got := attrs(s)[otelduplex.KeyErrorCode]; got != "name_taken" || s.Status().Code != codes.Error || s.Status().Description != "name_taken" {
		t.Errorf("error code %q, status %+v", got, s.Status())
	}
	if len(s.Events()) != 0 {
		t.Errorf("a declared error recorded events %v", s.Events())
	}
	s = tr.call(t, `{"id":4,"call":"broken"}`, `{"id":4,"error":{"code":"internal","message":"internal error"}}`)
	if got := attrs(s)[otelduplex.KeyErrorCode]; got != "internal" || s.Status().Code != codes.Error {
		t.Errorf("error code %q, status %+v", got, s.Status())
	}
	if ev := s.Events(); len(ev) != 1 || ev[0].Name != "exception" {
		t.Errorf("events %v, want the recorded error", ev)
	}
	if err := wstest.Recv(t, tr.errs, "OnError"); err == nil {
		t.Error("no error reported")
	}
}

// TestSpanMalformedTraceIgnored: a trace member the server cannot use is
// ignored: the call succeeds with a root span and nothing is reported.
func TestSpanMalformedTraceIgnored(t *testing.T) {
	tr := startTraced(t)
	for _, trace := range []string{
		`{"traceparent":"garbage"}`,
		`{"traceparent":"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`, // version ff is invalid
		`{"traceparent":"00-00000000000000000000000000000000-00f067aa0ba902b7-01"}`, // zero trace id
		`{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7"}`,    // no flags
		`{"traceparent":7}`,
		`{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`,
		`{"tracestate":"k=v"}`,
		`{}`,
		`"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"`,
		`[1,2]`,
		`null`,
	} {
		s := tr.call(t, `{"id":5,"call":"echo","args":{"x":true},"trace":`+trace+`}`, `{"id":5,"result":{"x":true}}`)
		if s.Parent().IsValid() || s.Status().Code != codes.Unset {
			t.Errorf("trace %s: parent %+v, status %+v", trace, s.Parent(), s.Status())
		}
		wstest.Recv(t, tr.handled, "the handler's span")
	}
	select {
	case err := <-tr.errs:
		t.Errorf("OnError(%v)", err)
	default:
	}
}
