// Command chat is the chat example: a room where people log in, see who is
// online, say things and leave, served with duplex. One port serves the
// page at / (the files of web/, with the generated browser client as
// native ES modules) and the WebSocket at /ws.
//
//	go run ./examples/chat              # then open http://127.0.0.1:8080 in two tabs
//
// SIGINT and SIGTERM shut down gracefully: every connection gets close
// 1001 (going away) and the pages reconnect when the server is back. The
// room's presence and sessions live in the default in-memory engine; after
// a restart the pages start over and log in again by themselves. The room
// keeps no state of its own: servers sharing one engine (Options.Engine)
// serve one room. With -redis, the engine is that Redis, and several
// chat processes behind a load balancer serve one room; a page resumes on
// any of them:
//
//	go run ./examples/chat -addr 127.0.0.1:8081 -redis redis://127.0.0.1:6379/0
//
// GET /readyz answers 200 while the node serves and reaches its engine,
// 503 with the reason otherwise: the load balancer's health check. With
// -metrics, GET /metrics serves the server's Prometheus metrics
// (runtime/prommetrics, docs/observability.md) and Go's and the process's.
package main

import (
	"context"
	"embed"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/duplexrpc/duplex/examples/chat/chat"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/prommetrics"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

//go:embed web
var web embed.FS

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chat:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		addr         = flag.String("addr", "127.0.0.1:8080", "address to serve the page and the socket on")
		resumeWindow = flag.Duration("resume-window", 30*time.Second, "how long a lost connection's session (and its user's place in the room) waits for the client to come back")
		pingInterval = flag.Duration("ping-interval", runtime.DefaultPingInterval, "ping a connection read-idle this long (negative: off)")
		pingTimeout  = flag.Duration("ping-timeout", runtime.DefaultPingTimeout, "close a connection silent this long after a ping")
		idleTimeout  = flag.Duration("http-idle-timeout", runtime.DefaultHTTPIdleTimeout, "close a keep-alive HTTP connection idle this long (page requests; not WebSockets)")
		redisURL     = flag.String("redis", "", "run as one node of a cluster on this Redis (redis://[:password@]host:port/db); default: in memory, this process alone")
		verbose      = flag.Bool("v", false, "log connection events to stderr")
		metrics      = flag.Bool("metrics", false, "serve Prometheus metrics at /metrics")
	)
	flag.Parse()

	room := chat.NewRoom()
	router := runtime.NewRouter()
	var m *prommetrics.Metrics
	if *metrics {
		m = prommetrics.New(prommetrics.Options{})
		router.Use(m.Interceptor())
	}
	chat.Register(router, room)
	opts := runtime.Options{
		Handler:      router,
		ResumeWindow: *resumeWindow,
		PingInterval: *pingInterval,
		PingTimeout:  *pingTimeout,
		Hooks:        room.Hooks(runtime.Hooks{}),
	}
	if *redisURL != "" {
		// The server starts the engine and closes it at Shutdown.
		eng, err := redisengine.New(*redisURL, redisengine.Options{})
		if err != nil {
			return err
		}
		opts.Engine = eng
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if m != nil {
		opts = m.Instrument(opts)
	}
	srv, err := runtime.New(opts)
	if err != nil {
		if opts.Engine != nil {
			_ = opts.Engine.Close()
		}
		return err
	}
	page, err := fs.Sub(web, "web")
	if err != nil {
		return err
	}
	var metricsPage http.Handler
	if m != nil {
		m.Watch(srv)
		reg := prometheus.NewRegistry()
		reg.MustRegister(m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		metricsPage = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	hs := httpServer(srv, page, metricsPage)
	hs.IdleTimeout = *idleTimeout

	// runtime.Listen: no TCP keep-alive, the pings find dead peers; with
	// them off (-ping-interval < 0), net.Listen keeps the kernel's probes.
	listen := runtime.Listen
	if *pingInterval < 0 {
		listen = net.Listen
	}
	ln, err := listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Printf("chat: listening on %s: open http://%s\n", ln.Addr(), ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-sig:
	}
	// Close 1001 to every connection (upgrades meanwhile get 503) and wait
	// for the closing handshakes, then stop serving the page.
	ctx, cancel := context.WithTimeout(context.Background(), runtime.DefaultCloseTimeout+time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return hs.Shutdown(ctx)
}

// httpServer serves the page at /, the socket at /ws, the readiness
// check at /readyz and metrics at /metrics when it is not nil, with the
// HTTP limits of runtime.Server.HTTPServer: a bounded request head (time
// and size) and idle keep-alive connections closed after
// runtime.DefaultHTTPIdleTimeout.
func httpServer(srv *runtime.Server, page fs.FS, metrics http.Handler) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(page))
	mux.Handle("GET /ws", srv)
	if metrics != nil {
		mux.Handle("GET /metrics", metrics)
	}
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := srv.Ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	hs := srv.HTTPServer("")
	hs.Handler = mux
	return hs
}
