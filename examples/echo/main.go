// Command echo is a raw WebSocket echo server on the duplex runtime, with no
// RPC layer: every data message is sent back with its opcode. It is the
// target of the conformance tests in runtime_test and of Autobahn-style runs.
//
//	go run ./examples/echo -addr 127.0.0.1:9001
//
// SIGINT and SIGTERM shut it down gracefully (close 1001 to every client);
// SIGHUP does the same with 1012 (service restart).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "echo:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		addr         = flag.String("addr", "127.0.0.1:9001", "address to listen on")
		mode         = flag.String("mode", "listener", "listener: zero-copy upgrade on a net.Listener; http: the runtime as an http.Handler under net/http")
		maxMessage   = flag.Int64("max-message", 16<<20, "largest incoming message in bytes (the largest Autobahn cases need 16 MiB)")
		deflate      = flag.Bool("deflate", false, "enable permessage-deflate (RFC 7692)")
		subprotocols = flag.String("subprotocols", "", "comma-separated subprotocols to accept")
		origins      = flag.String("origins", "", "comma-separated extra allowed origins")
		queue        = flag.Int("queue", 0, "outgoing queue limit per connection in bytes (default: twice -max-message)")
		maxConns     = flag.Int("max-conns", 0, "connection limit (0: none)")
		handshake    = flag.Duration("handshake-timeout", runtime.DefaultHandshakeTimeout, "time allowed for an upgrade request")
		closeTimeout = flag.Duration("close-timeout", runtime.DefaultCloseTimeout, "time a server-initiated close waits for the peer's close")
		pingInterval = flag.Duration("ping-interval", runtime.DefaultPingInterval, "ping a connection read-idle this long (negative: off)")
		pingTimeout  = flag.Duration("ping-timeout", runtime.DefaultPingTimeout, "close a connection silent this long after a ping")
		verbose      = flag.Bool("v", false, "log connection events to stderr")
	)
	flag.Parse()
	if *queue == 0 {
		*queue = int(2 * *maxMessage)
	}
	opts := runtime.Options{
		Handler: runtime.HandlerFunc(func(c *runtime.Conn, typ runtime.MessageType, data []byte) {
			_ = c.WriteMessage(typ, data)
		}),
		Subprotocols:     split(*subprotocols),
		AllowedOrigins:   split(*origins),
		MaxMessageSize:   *maxMessage,
		MaxQueuedBytes:   *queue,
		MaxConnections:   *maxConns,
		HandshakeTimeout: *handshake,
		CloseTimeout:     *closeTimeout,
		PingInterval:     *pingInterval,
		PingTimeout:      *pingTimeout,
	}
	if *deflate {
		opts.Compression = &runtime.CompressionOptions{}
	}
	if *verbose {
		opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := runtime.New(opts)
	if err != nil {
		return err
	}
	// Signals are caught before the address is announced, so that a
	// supervisor (or a test) that signals right away never kills us.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
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
	fmt.Printf("echo: listening on %s (mode %s)\n", ln.Addr(), *mode)

	served := make(chan error, 1)
	switch *mode {
	case "listener":
		go func() { served <- srv.Serve(ln) }()
	case "http":
		hs := srv.HTTPServer(*addr)
		go func() { served <- hs.Serve(ln) }()
		defer hs.Close()
	default:
		return fmt.Errorf("unknown -mode %q (want listener or http)", *mode)
	}

	select {
	case err := <-served:
		if errors.Is(err, runtime.ErrServerClosed) || errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case s := <-sig:
		ctx, cancel := context.WithTimeout(context.Background(), *closeTimeout+time.Second)
		defer cancel()
		_ = ln.Close()
		if s == syscall.SIGHUP {
			return ignoreTimeout(srv.Restart(ctx))
		}
		return ignoreTimeout(srv.Shutdown(ctx))
	}
}

// ignoreTimeout: clients that did not answer the close in time were cut
// off; that is not a failure of the server.
func ignoreTimeout(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}

func split(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}
