package otelduplex_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/baggage"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	duplexclient "github.com/duplexrpc/duplex/clients/go"
	"github.com/duplexrpc/duplex/examples/chat/chat"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/otelduplex"
)

// tracedChat is the chat room (examples/chat: generated server and
// client code) behind Interceptor, on a real loopback listener, with a
// Go client whose Options.Trace is ClientTrace.
type tracedChat struct {
	spans *tracetest.SpanRecorder // the server's
	rt    *duplexclient.Client
	cl    *chat.Client

	mu     sync.Mutex
	traces map[string]string // the trace member of each command's last call as the server read it; "-" for none
}

func startTracedChat(t *testing.T, o duplexclient.Options) *tracedChat {
	t.Helper()
	tc := &tracedChat{spans: tracetest.NewSpanRecorder(), traces: make(map[string]string)}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tc.spans))
	room := chat.NewRoom()
	r := runtime.NewRouter()
	r.Use(func(next runtime.MethodFunc) runtime.MethodFunc {
		return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
			got := "-"
			if call.Trace != nil {
				got = string(call.Trace)
			}
			tc.mu.Lock()
			tc.traces[call.Name] = got
			tc.mu.Unlock()
			return next(ctx, call, dst)
		}
	}, otelduplex.Interceptor(otelduplex.WithTracerProvider(tp)))
	chat.Register(r, room)
	srv, err := runtime.New(runtime.Options{Handler: r, Hooks: room.Hooks(runtime.Hooks{})})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	o.Trace = otelduplex.ClientTrace()
	tc.rt = duplexclient.New("ws://"+ln.Addr().String()+"/ws", o)
	tc.cl = chat.NewClient(tc.rt)
	if err := tc.rt.Connect(bounded(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tc.rt.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = tp.Shutdown(ctx)
	})
	return tc
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// serverSpan returns the server's last ended span named name and the
// trace member its call carried. A call's span ends before its reply is
// written, so it has ended once the call returned.
func (tc *tracedChat) serverSpan(t *testing.T, name string) (sdktrace.ReadOnlySpan, string) {
	t.Helper()
	ended := tc.spans.Ended()
	for i := len(ended) - 1; i >= 0; i-- {
		if ended[i].Name() == name {
			tc.mu.Lock()
			defer tc.mu.Unlock()
			return ended[i], tc.traces[name]
		}
	}
	t.Fatalf("no server span %q among %d", name, len(ended))
	return nil, ""
}

// TestClientTraceParentsServerSpan: a call made with a ctx that holds a
// span, through the generated client and through Client.Call, is served
// in a span whose parent is that span, in its trace, with its trace
// state; a call whose ctx holds none carries no trace member and is
// served in a new trace.
func TestClientTraceParentsServerSpan(t *testing.T) {
	tc := startTracedChat(t, duplexclient.Options{})
	app := sdktrace.NewTracerProvider().Tracer("app") // the client program's, sampling everything

	ctx, span := app.Start(bounded(t), "join", trace.WithSpanKind(trace.SpanKindClient))
	if _, err := tc.cl.Login(ctx, &chat.LoginArgs{Name: "ann"}); err != nil {
		t.Fatal(err)
	}
	span.End()
	want := span.SpanContext()
	s, member := tc.serverSpan(t, "login")
	if p := s.Parent(); p.TraceID() != want.TraceID() || p.SpanID() != want.SpanID() || !p.IsRemote() || !p.IsSampled() {
		t.Errorf("login: the server span's parent %+v, want the client's span %+v", p, want)
	}
	if s.SpanContext().TraceID() != want.TraceID() {
		t.Errorf("login: the server span is in trace %v, want %v", s.SpanContext().TraceID(), want.TraceID())
	}
	if w := `{"traceparent":"00-` + want.TraceID().String() + `-` + want.SpanID().String() + `-01"}`; member != w {
		t.Errorf("login: trace member %s, want %s", member, w)
	}

	// A span context with a trace state, such as one the program received.
	ts, err := trace.ParseTraceState("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7")
	if err != nil {
		t.Fatal(err)
	}
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
		TraceState: ts,
		Remote:     true,
	})
	if err := tc.cl.User(trace.ContextWithSpanContext(bounded(t), remote), &chat.UserArgs{Content: "hi"}); err != nil {
		t.Fatal(err)
	}
	s, member = tc.serverSpan(t, "user")
	if p := s.Parent(); p.TraceID() != remote.TraceID() || p.SpanID() != remote.SpanID() || !p.IsSampled() ||
		p.TraceState().String() != ts.String() {
		t.Errorf("user: the server span's parent %+v, want %+v", p, remote)
	}
	if w := `{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"}`; member != w {
		t.Errorf("user: trace member %s, want %s", member, w)
	}

	// No span in ctx: no trace member, a root span.
	if err := tc.cl.Logout(bounded(t)); err != nil {
		t.Fatal(err)
	}
	if s, member = tc.serverSpan(t, "logout"); member != "-" || s.Parent().IsValid() {
		t.Errorf("logout without a span: trace member %s, parent %+v; want none", member, s.Parent())
	}

	// Client.Call, untyped, passes its ctx to Options.Trace too.
	ctx, span = app.Start(bounded(t), "join again")
	if err := tc.rt.Call(ctx, "login", &chat.LoginArgs{Name: "bob"}, nil); err != nil {
		t.Fatal(err)
	}
	span.End()
	if s, _ = tc.serverSpan(t, "login"); s.Parent().SpanID() != span.SpanContext().SpanID() ||
		s.SpanContext().TraceID() != span.SpanContext().TraceID() {
		t.Errorf("Client.Call: the server span's parent %+v, want %+v", s.Parent(), span.SpanContext())
	}
}

// TestClientTracePropagator: ClientTrace writes what its propagator
// injects under the protocol's two keys and drops the rest (baggage);
// a propagator that injects no traceparent sends nothing.
func TestClientTracePropagator(t *testing.T) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	member, err := baggage.NewMember("user", "ann")
	if err != nil {
		t.Fatal(err)
	}
	bag, err := baggage.New(member)
	if err != nil {
		t.Fatal(err)
	}
	ctx := baggage.ContextWithBaggage(trace.ContextWithSpanContext(context.Background(), sc), bag)
	for _, tc := range []struct {
		name                    string
		opts                    []otelduplex.Option
		traceparent, tracestate string
	}{
		{"default", nil, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"composite", []otelduplex.Option{otelduplex.WithPropagator(propagation.NewCompositeTextMapPropagator(
			propagation.TraceContext{}, propagation.Baggage{}))},
			"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", ""},
		{"baggage only", []otelduplex.Option{otelduplex.WithPropagator(propagation.Baggage{})}, "", ""},
	} {
		if p, s := otelduplex.ClientTrace(tc.opts...)(ctx); p != tc.traceparent || s != tc.tracestate {
			t.Errorf("%s: %q %q, want %q %q", tc.name, p, s, tc.traceparent, tc.tracestate)
		}
	}
	if p, s := otelduplex.ClientTrace()(context.Background()); p != "" || s != "" {
		t.Errorf("no span: %q %q, want none", p, s)
	}
}
