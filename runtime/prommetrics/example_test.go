package prommetrics_test

import (
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/prommetrics"
)

// A server with its metrics on /metrics of the same address.
func Example() {
	m := prommetrics.New(prommetrics.Options{})
	r := runtime.NewRouter()
	r.Use(m.Interceptor()) // before the app's interceptors: it sees the calls they refuse
	// chat.Register(r, room), and the app's own interceptors
	srv, err := runtime.New(m.Instrument(runtime.Options{Handler: r}))
	if err != nil {
		log.Fatal(err)
	}
	m.Watch(srv)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/ws", srv)
	hs := srv.HTTPServer("localhost:8080")
	hs.Handler = mux
	go func() { _ = hs.ListenAndServe() }()
}
