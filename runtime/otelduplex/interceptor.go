package otelduplex

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/wire"
)

// ScopeName is the instrumentation scope of the spans: the tracer's name.
const ScopeName = "github.com/duplexrpc/duplex/runtime/otelduplex"

// Attribute keys of a call's span.
const (
	// KeySystem is "rpc.system", always "duplex".
	KeySystem = attribute.Key("rpc.system")
	// KeyMethod is "rpc.method": the command's wire name, as the span's.
	KeyMethod = attribute.Key("rpc.method")
	// KeySession is "duplex.session.id": the id of the call's session
	// (the welcome's "session"; never the resume token).
	KeySession = attribute.Key("duplex.session.id")
	// KeyErrorCode is "duplex.error.code": the code of the error reply
	// (runtime.ErrorCode), absent on success.
	KeyErrorCode = attribute.Key("duplex.error.code")
)

// Option configures Interceptor.
type Option func(*config)

type config struct {
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
}

// WithTracerProvider sets the provider of the tracer; default the global
// one (otel.GetTracerProvider) at the time Interceptor is called.
func WithTracerProvider(p trace.TracerProvider) Option {
	return func(c *config) { c.provider = p }
}

// WithPropagator sets how the call's trace member is read (Interceptor)
// or written (ClientTrace), as a carrier of the keys "traceparent" and
// "tracestate"; default propagation.TraceContext (W3C Trace Context),
// which the protocol specifies. The global propagator is not the
// default: what a client sends is fixed by the protocol, not by the
// program's other transports.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.propagator = p }
}

// Interceptor returns an interceptor that wraps each call in a server
// span (see the package doc). The span ends when the call's method (and
// the interceptors inside this one) returns, before the reply is written.
// On an error reply, the span has the attribute KeyErrorCode and the
// status Error with the code as its description, for every code (a
// declared error, bad_request and canceled included); an internal error
// is also recorded on the span (RecordError) with its text, which the
// client never sees. It is safe for concurrent use.
func Interceptor(opts ...Option) runtime.Interceptor {
	c := config{provider: otel.GetTracerProvider(), propagator: propagation.TraceContext{}}
	for _, o := range opts {
		o(&c)
	}
	tracer := c.provider.Tracer(ScopeName)
	propagator := c.propagator
	return func(next runtime.MethodFunc) runtime.MethodFunc {
		return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
			if call.Trace != nil {
				if carrier, ok := readTrace(call.Trace); ok {
					ctx = propagator.Extract(ctx, carrier)
				}
			}
			attrs := []attribute.KeyValue{KeySystem.String("duplex"), KeyMethod.String(call.Name)}
			if call.Session != nil {
				attrs = append(attrs, KeySession.String(call.Session.ID()))
			}
			ctx, span := tracer.Start(ctx, call.Name,
				trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
			out, err := next(ctx, call, dst)
			if err != nil {
				code := runtime.ErrorCode(err)
				span.SetAttributes(KeyErrorCode.String(code))
				span.SetStatus(codes.Error, code)
				if code == runtime.CodeInternal {
					span.RecordError(err)
				}
			}
			span.End()
			return out, err
		}
	}
}

// traceCarrier is the trace member of a call envelope as a
// propagation.TextMapCarrier: read by Interceptor, written by
// ClientTrace. Keys other than the protocol's two are dropped.
type traceCarrier struct{ traceparent, tracestate string }

var _ propagation.TextMapCarrier = (*traceCarrier)(nil)

// Get implements propagation.TextMapCarrier.
func (t *traceCarrier) Get(key string) string {
	switch key {
	case "traceparent":
		return t.traceparent
	case "tracestate":
		return t.tracestate
	}
	return ""
}

// Set implements propagation.TextMapCarrier.
func (t *traceCarrier) Set(key, value string) {
	switch key {
	case "traceparent":
		t.traceparent = value
	case "tracestate":
		t.tracestate = value
	}
}

// Keys implements propagation.TextMapCarrier.
func (t *traceCarrier) Keys() []string { return []string{"traceparent", "tracestate"} }

// readTrace reads the trace member, a JSON object, into a carrier. A
// member that is not what the protocol says (a value that is not a
// string, a key given twice, JSON that wire's decoder refuses) gives no
// carrier: the call is traced as if it had none. The propagator judges
// the strings themselves.
func readTrace(raw []byte) (*traceCarrier, bool) {
	var (
		d wire.Decoder
		t traceCarrier
	)
	d.Reset(raw, "trace")
	if err := d.BeginObject(); err != nil {
		return nil, false
	}
	var hasParent, hasState bool
	for {
		key, more, err := d.NextMember()
		if err != nil {
			return nil, false
		}
		if !more {
			break
		}
		switch string(key) {
		case "traceparent":
			if err = d.Once(&hasParent); err == nil {
				t.traceparent, err = d.String()
			}
		case "tracestate":
			if err = d.Once(&hasState); err == nil {
				t.tracestate, err = d.String()
			}
		default:
			err = d.Skip()
		}
		if err != nil {
			return nil, false
		}
	}
	return &t, hasParent
}
