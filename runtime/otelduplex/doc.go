// Package otelduplex traces the calls of a duplex server with
// OpenTelemetry: Interceptor returns a runtime.Interceptor that starts one
// server span per call, named after the command's wire name, with the
// command, the session id and the error code as attributes and the span
// status Error on an error reply.
//
// A client may send its trace context with a call, as the optional
// "trace" member of the call envelope (W3C Trace Context, docs/protocol.md):
//
//	{"id": 7, "call": "login", "args": {...},
//	 "trace": {"traceparent": "00-4bf9…36-00f0…b7-01", "tracestate": "k=v"}}
//
// The call's span is then a child of the client's; without it, or when it
// is malformed, the span starts a new trace (or continues one the
// context already carries) and the call goes on as usual.
//
// Install it on the Router, first when other interceptors should run
// inside the span:
//
//	r := runtime.NewRouter()
//	r.Use(otelduplex.Interceptor())
//	chat.Register(r, handler)
//
// The handler's ctx carries the span (trace.SpanFromContext), so that its
// own spans are children of the call's.
//
// ClientTrace is the client half, for the Go client (clients/go): it
// sends the span context of each call's ctx as the call's trace member.
//
//	rt := duplexclient.New(url, duplexclient.Options{Trace: otelduplex.ClientTrace()})
//
// This package is the only part of duplex that imports OpenTelemetry: a
// server that does not import it does not link it.
package otelduplex
