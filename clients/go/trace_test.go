package duplexclient_test

import (
	"context"
	"testing"

	duplexclient "github.com/duplexrpc/duplex/clients/go"
	"github.com/duplexrpc/duplex/runtime"
)

// traceKey holds, in a call's ctx, what the test's Options.Trace returns.
type traceKey struct{}

// TestTraceMember: what Options.Trace returns for a call's ctx is the
// call's trace member on the server, tracestate left out when empty; no
// traceparent, or no Trace hook, sends no member.
func TestTraceMember(t *testing.T) {
	s := startServer(t, runtime.Options{})
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traced, _, _ := newClient(t, "ws://"+s.addr+"/", duplexclient.Options{
		Trace: func(ctx context.Context) (string, string) {
			v, _ := ctx.Value(traceKey{}).([2]string)
			return v[0], v[1]
		},
	})
	plain, _, _ := newClient(t, "ws://"+s.addr+"/", duplexclient.Options{})
	for _, tc := range []struct {
		c                       *duplexclient.Client
		traceparent, tracestate string
		want                    string
	}{
		{traced, parent, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
			`{"trace":{"traceparent":"` + parent + `","tracestate":"congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"}}`},
		{traced, parent, "", `{"trace":{"traceparent":"` + parent + `"}}`},
		{traced, "", "k=v", `{"trace":null}`},
		{traced, "", "", `{"trace":null}`},
		// Not checked by the client, but always valid JSON.
		{traced, `a"b\<`, "", `{"trace":{"traceparent":"a\"b\\\u003c"}}`},
		{plain, parent, "k=v", `{"trace":null}`},
	} {
		ctx := context.WithValue(ctxBound(t), traceKey{}, [2]string{tc.traceparent, tc.tracestate})
		var r rawResult
		if err := tc.c.Call(ctx, "trace", nil, &r); err != nil {
			t.Fatalf("trace %q %q: %v", tc.traceparent, tc.tracestate, err)
		}
		if string(r.b) != tc.want {
			t.Errorf("trace %q %q: the server read %s, want %s", tc.traceparent, tc.tracestate, r.b, tc.want)
		}
	}
}
