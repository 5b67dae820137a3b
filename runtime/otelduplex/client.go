package otelduplex

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ClientTrace returns a function for the Go client's Options.Trace
// (package duplexclient, clients/go): it gives each call the span
// context of the call's ctx, as the traceparent and tracestate of the
// call envelope's trace member, so that a server with Interceptor makes
// the call's span a child of the caller's span. A ctx without a valid
// span context gives "" and the call carries no trace member.
// WithPropagator replaces the W3C propagator; WithTracerProvider has no
// effect here.
//
// It starts no span of its own: Options.Trace sees a call begin but not
// end. To have a client span per call, start one around the call, with
// trace.WithSpanKind(trace.SpanKindClient), and make the call with its
// ctx. The function is safe for concurrent use. With the default
// propagator it costs nothing for a ctx without a span context, and two
// allocations (the carrier, the traceparent) for one with.
func ClientTrace(opts ...Option) func(ctx context.Context) (traceparent, tracestate string) {
	c := config{propagator: propagation.TraceContext{}}
	for _, o := range opts {
		o(&c)
	}
	propagator := c.propagator
	// W3C's propagator injects nothing without a valid span context:
	// skip its carrier, which would escape.
	_, w3c := propagator.(propagation.TraceContext)
	return func(ctx context.Context) (string, string) {
		if w3c && !trace.SpanContextFromContext(ctx).IsValid() {
			return "", ""
		}
		var t traceCarrier
		propagator.Inject(ctx, &t)
		return t.traceparent, t.tracestate
	}
}
