package prommetrics

import (
	"context"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duplexrpc/duplex/runtime"
)

// Values of duplex_calls_total's label code besides the error codes.
const (
	CodeOK    = "ok"    // the call returned a result
	CodeOther = "other" // an error code past the first MaxCodesPerMethod of its command
)

// MaxCodesPerMethod bounds the error codes counted apart per command, so
// that a handler whose codes are made from its input cannot make series
// without end: the codes seen after these are counted as CodeOther.
const MaxCodesPerMethod = 64

// Interceptor returns the interceptor that counts the Router's calls by
// command and reply (duplex_calls_total: "ok", or the error reply's
// code, runtime.ErrorCode) and times them by command
// (duplex_call_duration_seconds: what next takes, see
// runtime.Interceptor). Give it to Router.Use before the other
// interceptors, so that it sees the calls they refuse too; after them, it
// counts only the calls that reach the handlers.
//
// Calls the Router answers without running a command (an unknown
// command, a bad envelope, overloaded) never reach an interceptor and are
// not counted here; the method label takes only the Router's commands.
// A call that succeeds allocates nothing here: the counter and the
// histogram of each command are looked up once, when its first call
// comes, and those of each error code on its first error.
func (m *Metrics) Interceptor() runtime.Interceptor {
	return func(next runtime.MethodFunc) runtime.MethodFunc {
		// Router.Use builds one chain per command: the command of this
		// chain's first call is every call's, which the check below
		// only confirms.
		var cached atomic.Pointer[methodMetrics]
		return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
			mm := cached.Load()
			if mm == nil || mm.name != call.Name {
				mm = m.method(call.Name)
				cached.Store(mm)
			}
			start := time.Now()
			out, err := next(ctx, call, dst)
			mm.duration.Observe(time.Since(start).Seconds())
			switch we := err.(type) {
			case nil:
				mm.ok.Inc()
			case runtime.WireError:
				// The common error, without ErrorCode's errors.As, which
				// allocates.
				code, _ := we.WireError()
				mm.failed(code)
			default:
				mm.failed(runtime.ErrorCode(err))
			}
			return out, err
		}
	}
}

// methodMetrics are the series of one command.
type methodMetrics struct {
	m        *Metrics
	name     string
	duration prometheus.Observer
	ok       prometheus.Counter
	// byCode holds the counters of the error codes seen so far, copied
	// on write: reading it takes no lock.
	byCode atomic.Pointer[map[string]prometheus.Counter]
	mu     sync.Mutex // writers of byCode
}

// method returns the series of the command name, made on its first call.
func (m *Metrics) method(name string) *methodMetrics {
	m.methodsMu.Lock()
	defer m.methodsMu.Unlock()
	mm := m.methods[name]
	if mm == nil {
		mm = &methodMetrics{
			m:        m,
			name:     name,
			duration: m.callTime.WithLabelValues(name),
			ok:       m.calls.WithLabelValues(name, CodeOK),
		}
		m.methods[name] = mm
	}
	return mm
}

// failed counts a call of the command that answered with code.
func (mm *methodMetrics) failed(code string) {
	if p := mm.byCode.Load(); p != nil {
		if c, ok := (*p)[code]; ok {
			c.Inc()
			return
		}
	}
	mm.mu.Lock()
	var codes map[string]prometheus.Counter
	if p := mm.byCode.Load(); p != nil {
		codes = maps.Clone(*p)
	} else {
		codes = make(map[string]prometheus.Counter, 1)
	}
	if _, ok := codes[code]; !ok && len(codes) >= MaxCodesPerMethod {
		code = CodeOther
	}
	c, ok := codes[code]
	if !ok {
		c = mm.m.calls.WithLabelValues(mm.name, code)
		codes[code] = c
		mm.byCode.Store(&codes)
	}
	mm.mu.Unlock()
	c.Inc()
}
