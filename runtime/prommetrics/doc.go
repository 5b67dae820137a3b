// Package prommetrics exports a duplex server's metrics to Prometheus
// through github.com/prometheus/client_golang: connections, upgrades,
// calls and their latency, traffic, closes, slow consumers, resumes and
// the engine. It is a package of its own so that applications that do not
// import it do not link client_golang.
//
//	m := prommetrics.New(prommetrics.Options{})
//	r := runtime.NewRouter()
//	r.Use(m.Interceptor()) // first: it sees every call, those other interceptors refuse too
//	chat.Register(r, room)
//	srv, err := runtime.New(m.Instrument(runtime.Options{Handler: r}))
//	m.Watch(srv)
//	prometheus.MustRegister(m)
//	http.Handle("/metrics", promhttp.Handler())
//
// The three parts come from the runtime's three places to observe:
// Instrument chains hooks in front of those Options already has
// (runtime.Hooks: upgrades, opens and closes, resumes, publishes);
// Interceptor counts and times the Router's calls (runtime.Interceptor);
// Watch reads what the server counts itself (Server.Traffic) and the
// engine's state at every scrape. docs/observability.md lists every
// metric with its type, labels and meaning, and the cost of each.
//
// A Metrics is a prometheus.Collector; register it once. One Metrics may
// instrument several servers: their counts add up.
package prommetrics
