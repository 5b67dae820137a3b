package prommetrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/duplexrpc/duplex/runtime"
)

// DefaultBuckets are the upper bounds, in seconds, of the latency
// histograms' buckets unless Options say otherwise: 100 µs to about 6.5 s,
// each four times the last, for calls that run in microseconds and
// engine round trips of a millisecond alike.
var DefaultBuckets = prometheus.ExponentialBuckets(0.0001, 4, 9)

// Options configure a Metrics. The zero value is the default.
type Options struct {
	// Namespace prefixes every metric's name; default "duplex".
	Namespace string
	// ConstLabels are added to every metric, for example the node's name
	// when several servers share one process.
	ConstLabels prometheus.Labels
	// CallBuckets and PublishBuckets are the upper bounds, in seconds, of
	// the buckets of duplex_call_duration_seconds and
	// duplex_engine_publish_duration_seconds; default DefaultBuckets.
	CallBuckets, PublishBuckets []float64
}

// Upgrade outcomes, the values of duplex_upgrades_total's label outcome.
const (
	UpgradeOK           = "ok"            // upgraded
	UpgradeOrigin       = "origin"        // 403: a browser's Origin not allowed (runtime.ErrOriginNotAllowed)
	UpgradeBadHandshake = "bad_handshake" // not a valid upgrade request (runtime.ErrBadHandshake)
	UpgradeTimeout      = "timeout"       // the request head did not come within HandshakeTimeout
	UpgradeLimit        = "limit"         // 503: MaxConnections open (runtime.ErrConnectionLimit)
	UpgradeShutdown     = "shutdown"      // 503: the server is shutting down (runtime.ErrServerClosed)
	UpgradeRefused      = "refused"       // Options.Authorize refused it
	UpgradeFailed       = "failed"        // the connection failed: closed mid-request, a failed write
)

// Close initiators, the values of duplex_closes_total's label initiator.
const (
	ClosedByServer = "server"   // the server sent the first close frame
	ClosedByClient = "client"   // the client sent the first close frame
	ClosedAbnormal = "abnormal" // no close handshake: the connection was lost or cut (code 1006)
)

// Metrics holds a server's metrics: a prometheus.Collector. Its methods
// are safe for concurrent use.
type Metrics struct {
	connections prometheus.Gauge
	upgrades    *prometheus.CounterVec
	upgradeBy   map[string]prometheus.Counter // by outcome, made at New
	calls       *prometheus.CounterVec
	callTime    *prometheus.HistogramVec
	closes      *prometheus.CounterVec
	evictions   prometheus.Counter
	resumes     *prometheus.CounterVec
	resumeBy    map[string]prometheus.Counter
	refusals    *prometheus.CounterVec
	refusedBy   map[string]prometheus.Counter
	publishTime prometheus.Histogram
	publishErrs prometheus.Counter

	// Read at every scrape (Collect).
	bytesIn, bytesOut, msgsIn, msgsOut, engineReady *prometheus.Desc

	methodsMu sync.Mutex
	methods   map[string]*methodMetrics // by command: the interceptor's cache

	mu      sync.Mutex
	servers []*runtime.Server // Watch
	engines []runtime.Engine  // Instrument, with an Engine set
}

// New returns the metrics of Options o, unregistered and not yet fed by
// any server: see Instrument, Interceptor and Watch.
func New(o Options) *Metrics {
	ns := o.Namespace
	if ns == "" {
		ns = "duplex"
	}
	callBuckets, publishBuckets := o.CallBuckets, o.PublishBuckets
	if callBuckets == nil {
		callBuckets = DefaultBuckets
	}
	if publishBuckets == nil {
		publishBuckets = DefaultBuckets
	}
	cl := o.ConstLabels
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(ns, "", name), help, nil, cl)
	}
	m := &Metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: ns, Name: "connections_open", ConstLabels: cl,
			Help: "WebSocket connections open now.",
		}),
		upgrades: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "upgrades_total", ConstLabels: cl,
			Help: "WebSocket upgrade requests by outcome: ok, origin, bad_handshake, timeout, limit, shutdown, refused, failed.",
		}, []string{"outcome"}),
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "calls_total", ConstLabels: cl,
			Help: "Calls run by the Router, by command and reply: ok, or the error reply's code.",
		}, []string{"method", "code"}),
		callTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "call_duration_seconds", ConstLabels: cl, Buckets: callBuckets,
			Help: "Time a call took to run, from its arguments' decoding to its result's encoding, by command.",
		}, []string{"method"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "closes_total", ConstLabels: cl,
			Help: "Connections ended, by close code and by who started the close: server, client, or abnormal (1006, no close handshake).",
		}, []string{"code", "initiator"}),
		evictions: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "slow_consumer_evictions_total", ConstLabels: cl,
			Help: "Connections closed with 1008 because their outgoing queue was full (MaxQueuedBytes).",
		}),
		resumes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "resumes_total", ConstLabels: cl,
			Help: "Session resumes asked for, by outcome: resumed, unknown, expired, overrun, unavailable.",
		}, []string{"outcome"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "calls_refused_total", ConstLabels: cl,
			Help: "Messages the Router answered with an error of its own, running no command, by code: bad_request, unknown_command, overloaded.",
		}, []string{"code"}),
		publishTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: ns, Subsystem: "engine", Name: "publish_duration_seconds", ConstLabels: cl, Buckets: publishBuckets,
			Help: "Time the engine took to order a published event (Push, Broadcast, Publish), failed publishes included.",
		}),
		publishErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Subsystem: "engine", Name: "publish_errors_total", ConstLabels: cl,
			Help: "Publishes the engine failed.",
		}),
		bytesIn:     desc("received_bytes_total", "WebSocket bytes read from clients: frames with their headers, as on the wire."),
		bytesOut:    desc("sent_bytes_total", "WebSocket bytes written to clients: frames with their headers, as on the wire."),
		msgsIn:      desc("received_messages_total", "Data messages received from clients."),
		msgsOut:     desc("sent_messages_total", "Data messages queued for clients: replies, events, welcomes."),
		engineReady: prometheus.NewDesc(prometheus.BuildFQName(ns, "engine", "ready"), "1 while the engine works (its Ready reports no error), 0 otherwise.", nil, cl),
		upgradeBy:   make(map[string]prometheus.Counter),
		resumeBy:    make(map[string]prometheus.Counter),
		refusedBy:   make(map[string]prometheus.Counter),
		methods:     make(map[string]*methodMetrics),
	}
	// Every outcome is exported from the start, at 0, so that rates and
	// alerts on them work before the first one happens.
	for _, o := range []string{UpgradeOK, UpgradeOrigin, UpgradeBadHandshake, UpgradeTimeout, UpgradeLimit, UpgradeShutdown, UpgradeRefused, UpgradeFailed} {
		m.upgradeBy[o] = m.upgrades.WithLabelValues(o)
	}
	for _, o := range []string{runtime.ResumeResumed, runtime.ResumeUnknown, runtime.ResumeExpired, runtime.ResumeOverrun, runtime.ResumeUnavailable} {
		m.resumeBy[o] = m.resumes.WithLabelValues(o)
	}
	for _, c := range []string{runtime.CodeBadRequest, runtime.CodeUnknownCommand, runtime.CodeOverloaded} {
		m.refusedBy[c] = m.refusals.WithLabelValues(c)
	}
	return m
}

// Watch makes the metrics read srv's traffic (runtime.Server.Traffic) at
// every scrape: duplex_received_bytes_total and the three others. Call it
// once per server; the traffic of several servers adds up.
func (m *Metrics) Watch(srv *runtime.Server) {
	m.mu.Lock()
	m.servers = append(m.servers, srv)
	m.mu.Unlock()
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
	for _, d := range []*prometheus.Desc{m.bytesIn, m.bytesOut, m.msgsIn, m.msgsOut, m.engineReady} {
		ch <- d
	}
}

// Collect implements prometheus.Collector. It reads the traffic of the
// watched servers (a sum of a few counters each, no lock) and asks each
// engine with a Ready method for its state (a lock or two, never the
// network). The engine's metrics are exported only when Instrument saw
// an Engine, the traffic only once a server is watched.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.mu.Lock()
	servers, engines := m.servers, m.engines
	m.mu.Unlock()
	for _, c := range m.collectors() {
		if (c == m.publishTime || c == m.publishErrs) && len(engines) == 0 {
			continue
		}
		c.Collect(ch)
	}
	if len(servers) > 0 {
		var t runtime.Traffic
		for _, s := range servers {
			st := s.Traffic()
			t.BytesIn += st.BytesIn
			t.BytesOut += st.BytesOut
			t.MessagesIn += st.MessagesIn
			t.MessagesOut += st.MessagesOut
		}
		constMetric(ch, m.bytesIn, prometheus.CounterValue, t.BytesIn)
		constMetric(ch, m.bytesOut, prometheus.CounterValue, t.BytesOut)
		constMetric(ch, m.msgsIn, prometheus.CounterValue, t.MessagesIn)
		constMetric(ch, m.msgsOut, prometheus.CounterValue, t.MessagesOut)
	}
	if len(engines) > 0 {
		var ready uint64 = 1
		for _, e := range engines {
			if r, ok := e.(interface{ Ready() error }); ok && r.Ready() != nil {
				ready = 0
			}
		}
		constMetric(ch, m.engineReady, prometheus.GaugeValue, ready)
	}
}

// constMetric sends the value of a metric without labels (whose making
// cannot fail: its Desc has no variable labels).
func constMetric(ch chan<- prometheus.Metric, d *prometheus.Desc, typ prometheus.ValueType, v uint64) {
	if cm, err := prometheus.NewConstMetric(d, typ, float64(v)); err == nil {
		ch <- cm
	}
}

// collectors returns the metrics kept by the hooks and the interceptor.
func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.connections, m.upgrades, m.calls, m.callTime, m.closes,
		m.evictions, m.resumes, m.refusals, m.publishTime, m.publishErrs,
	}
}
