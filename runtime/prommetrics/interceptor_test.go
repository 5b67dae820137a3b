package prommetrics_test

import (
	"context"
	"testing"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/prommetrics"
)

// chainOf returns fn wrapped in the metrics' interceptor, as Router.Use
// wraps a command.
func chainOf(fn runtime.MethodFunc) runtime.MethodFunc {
	return prommetrics.New(prommetrics.Options{}).Interceptor()(fn)
}

var (
	okMethod = func(_ context.Context, _ *runtime.Call, dst []byte) ([]byte, error) {
		return append(dst, "{}"...), nil
	}
	errTaken     = &runtime.Error{Code: "name_taken", Message: "taken"}
	failMethod   = func(_ context.Context, _ *runtime.Call, dst []byte) ([]byte, error) { return dst, errTaken }
	benchCall    = &runtime.Call{Name: "greet", Args: []byte(`{}`)}
	benchContext = context.Background()
)

// Counting and timing a call allocates nothing once its command's series
// (and its error code's) exist: the interceptor keeps the per-call cost
// of the Router at its allocations without it.
func TestInterceptorAllocatesNothing(t *testing.T) {
	for name, fn := range map[string]runtime.MethodFunc{"ok": okMethod, "error": failMethod} {
		run := chainOf(fn)
		dst := make([]byte, 0, 64)
		_, _ = run(benchContext, benchCall, dst) // makes the series
		if n := testing.AllocsPerRun(1000, func() { _, _ = run(benchContext, benchCall, dst) }); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

// BenchmarkInterceptor measures what the interceptor adds to a call that
// does nothing: go test -bench Interceptor -benchmem ./runtime/prommetrics
func BenchmarkInterceptor(b *testing.B) {
	for _, bc := range []struct {
		name string
		fn   runtime.MethodFunc
	}{{"none", okMethod}, {"ok", chainOf(okMethod)}, {"error", chainOf(failMethod)}} {
		b.Run(bc.name, func(b *testing.B) {
			dst := make([]byte, 0, 64)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_, _ = bc.fn(benchContext, benchCall, dst)
				}
			})
		})
	}
}
