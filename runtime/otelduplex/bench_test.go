package otelduplex_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/otelduplex"
)

// BenchmarkInterceptor measures what the interceptor adds to one call,
// without a connection: with a tracer that records nothing (noop), and
// with the SDK sampling every span into an in-memory recorder, with and
// without a client's trace member.
func BenchmarkInterceptor(b *testing.B) {
	method := func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return append(dst, "{}"...), nil
	}
	for _, bc := range []struct {
		name     string
		provider func() trace.TracerProvider
		trace    string
	}{
		{"provider=noop", func() trace.TracerProvider { return noop.NewTracerProvider() }, ""},
		{"provider=sdk", func() trace.TracerProvider {
			return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{}))
		}, ""},
		{"provider=sdk/traceparent", func() trace.TracerProvider {
			return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(discard{}))
		}, `{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fn := otelduplex.Interceptor(otelduplex.WithTracerProvider(bc.provider()))(method)
			call := &runtime.Call{Name: "say", Args: []byte(`{}`)}
			if bc.trace != "" {
				call.Trace = []byte(bc.trace)
			}
			dst := make([]byte, 0, 64)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fn(ctx, call, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// discard is a span processor that keeps nothing, so that a long run
// does not grow a recorder.
type discard struct{}

func (discard) OnStart(context.Context, sdktrace.ReadWriteSpan) {}
func (discard) OnEnd(sdktrace.ReadOnlySpan)                     {}
func (discard) Shutdown(context.Context) error                  { return nil }
func (discard) ForceFlush(context.Context) error                { return nil }

// BenchmarkClientTrace measures ClientTrace's function, the Go client's
// Options.Trace, for a ctx with a span context and one without.
func BenchmarkClientTrace(b *testing.B) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36},
		SpanID:     trace.SpanID{0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7},
		TraceFlags: trace.FlagsSampled,
	})
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{
		{"span=none", context.Background()},
		{"span=valid", trace.ContextWithSpanContext(context.Background(), sc)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			fn := otelduplex.ClientTrace()
			b.ReportAllocs()
			for b.Loop() {
				fn(bc.ctx)
			}
		})
	}
}
