package prommetrics_test

// Shared scaffolding: a real server on a loopback listener, instrumented,
// with its /metrics served by promhttp on another listener; scrapes read
// the text exposition as Prometheus would and look values up by labels.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/prommetrics"
)

const ioTimeout = wstest.IOTimeout

type env struct {
	t       *testing.T
	srv     *runtime.Server
	m       *prommetrics.Metrics
	addr    string // the WebSocket server's host:port
	metrics string // the /metrics URL
	closed  chan *runtime.CloseError
	refused chan int // the status of each refused upgrade
}

// start serves opts (a Router with the metrics' interceptor first, when
// router is set) on a loopback listener, instrumented by a fresh Metrics
// registered in a registry of its own.
func start(t *testing.T, router *runtime.Router, opts runtime.Options) *env {
	t.Helper()
	m := prommetrics.New(prommetrics.Options{})
	e := &env{t: t, m: m, closed: make(chan *runtime.CloseError, 100), refused: make(chan int, 100)}
	if router != nil {
		router.Use(m.Interceptor())
		opts.Handler = router
	}
	if opts.Handler == nil {
		opts.Handler = runtime.NewRouter()
	}
	if opts.CloseTimeout == 0 {
		opts.CloseTimeout = 300 * time.Millisecond
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = -1
	}
	// The test's own hook runs after the metrics' (Instrument chains
	// them): once it has run, the close is counted.
	opts.Hooks.OnClose = func(_ *runtime.Conn, ce *runtime.CloseError) { e.closed <- ce }
	opts.Hooks.OnHandshakeError = func(_ *runtime.Request, status int, _ error) { e.refused <- status }
	srv, err := runtime.New(m.Instrument(opts))
	if err != nil {
		t.Fatal(err)
	}
	m.Watch(srv)
	e.srv = srv
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	hs := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
	e.metrics = hs.URL + "/metrics"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		hs.Close()
	})
	return e
}

// nextClose waits until the server has ended a connection (and counted
// it).
func (e *env) nextClose() *runtime.CloseError {
	e.t.Helper()
	return wstest.Recv(e.t, e.closed, "OnClose")
}

// nextRefusal waits until the server has refused an upgrade (and counted
// it), and returns the status it sent.
func (e *env) nextRefusal() int {
	e.t.Helper()
	return wstest.Recv(e.t, e.refused, "OnHandshakeError")
}

// scrape is one scrape of /metrics, parsed.
type scrape map[string]*dto.MetricFamily

func (e *env) scrape() scrape {
	e.t.Helper()
	resp, err := http.Get(e.metrics)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		e.t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// get returns the value of the series of name with labels (name=value
// pairs, all of the series' labels): a counter's or gauge's value, a
// histogram's count. ok is false when there is no such series.
func (s scrape) get(name string, labels ...string) (v float64, ok bool) {
	f := s[name]
	if f == nil {
		return 0, false
	}
	want := strings.Join(labels, ",")
next:
	for _, m := range f.GetMetric() {
		var got []string
		for _, lp := range m.GetLabel() {
			got = append(got, lp.GetName()+"="+lp.GetValue())
		}
		if strings.Join(got, ",") != want {
			continue next
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// want checks one series' value.
func (s scrape) want(t *testing.T, v float64, name string, labels ...string) {
	t.Helper()
	got, ok := s.get(name, labels...)
	switch {
	case !ok:
		t.Errorf("%s{%s}: no such series", name, strings.Join(labels, ","))
	case got != v:
		t.Errorf("%s{%s} = %v, want %v", name, strings.Join(labels, ","), got, v)
	}
}

// call makes a call on c and returns its reply.
func call(c *wstest.Client, id int, method, args string) string {
	c.T.Helper()
	c.Text(fmt.Sprintf(`{"id":%d,"call":%q,"args":%s}`, id, method, args))
	return string(c.NextData().Payload)
}

// waitFor polls the scrape until ok, for values the server sets after
// its reply (a close, a gauge read at scrape time).
func (e *env) waitFor(what string, ok func(scrape) bool) scrape {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := e.scrape()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%s: not within 15 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
