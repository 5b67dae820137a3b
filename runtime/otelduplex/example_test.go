package otelduplex_test

import (
	"context"
	"log"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	duplexclient "github.com/duplexrpc/duplex/clients/go"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/otelduplex"
)

// A Router whose calls are traced: each call is a server span named after
// its command, the child of the client's span when its envelope carries a
// traceparent. Here the provider is the SDK's, given explicitly; without
// WithTracerProvider the global one is used.
func ExampleInterceptor() {
	tp := sdktrace.NewTracerProvider() // plus an exporter: sdktrace.WithBatcher(exp)
	defer tp.Shutdown(context.Background())

	r := runtime.NewRouter()
	r.Use(otelduplex.Interceptor(otelduplex.WithTracerProvider(tp)))
	r.Handle("say", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		// ctx carries the call's span: spans started from it are its children.
		return append(dst, "{}"...), nil
	})
	srv, err := runtime.New(runtime.Options{Handler: r})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	// go srv.Serve(ln)
}

// A Go client whose calls carry the span of their ctx, so that a server
// with Interceptor continues the caller's trace. The span around the call
// is the program's own: ClientTrace starts none.
func ExampleClientTrace() {
	rt := duplexclient.New("ws://localhost:8080/ws", duplexclient.Options{Trace: otelduplex.ClientTrace()})
	defer rt.Close()

	tracer := otel.Tracer("app")
	ctx, span := tracer.Start(context.Background(), "login", trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	if err := rt.Connect(ctx); err != nil {
		log.Print(err)
		return
	}
	_ = rt.Call(ctx, "login", nil, nil) // its envelope: "trace":{"traceparent":"00-<trace id>-<span id>-01"}
}
