// Command server is the Go server that process.test.mjs runs as a separate
// process: the runtime serving the generated alltypes handler, with a
// background pusher and signals that end or break its connections the ways
// a real deployment does (docs/protocol.md, clients/ts/README.md).
//
//	server -addr 127.0.0.1:0 -heartbeat 25s -resume-window 2m
//
// It prints "listening on ADDR" once listening, then "open N" for the N-th
// connection opened and "closed CODE" for each connection's end. Every 20 ms
// it pushes plainEvent {s: COUNTER} to every session that said hello,
// attached or detached (a detached session keeps it for its resume), with a
// counter of its own per session: 1, 2, 3…
//
// Signals: SIGTERM shuts down (close 1001) and exits; SIGHUP restarts (close
// 1012) and exits; SIGUSR1 cuts every TCP connection without a close frame
// and keeps serving, so that clients resume on the same process.
//
// The command plain with s "bye" answers, then closes its connection with
// 1000; with s "whoami" it answers with the session's user.
//
// Hellos are authorized by their params (runtime.Options.AuthorizeHello):
// a hello without params passes, {"token": "good-<user>"} passes and makes
// <user> the session's user, any other token is refused with 4401. With
// -origin, browser pages of that origin may connect (the browser tests
// serve theirs from another port).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/duplexrpc/duplex/gen/typescript/e2etest/alltypes"
	"github.com/duplexrpc/duplex/runtime"
)

// handler implements plain (echo, "bye" and "whoami") and count.
type handler struct {
	alltypes.UnimplementedHandler
}

func (handler) Plain(_ context.Context, s *runtime.Session, a alltypes.Plain) (alltypes.Plain, error) {
	if a.S == "whoami" {
		user, _ := s.Get("user")
		return alltypes.Plain{S: user}, nil
	}
	if a.S == "bye" {
		if c := s.Conn(); c != nil {
			// The reply is queued when Plain returns; the close frame goes
			// out after what is queued by then.
			time.AfterFunc(50*time.Millisecond, func() { _ = c.Close(runtime.CloseNormal, "bye") })
		}
	}
	return a, nil
}

func (handler) Count(context.Context, *runtime.Session) (alltypes.CountResult, error) {
	return alltypes.CountResult{N: 1}, nil
}

// authorizeHello passes hellos without params and those whose token is
// "good-<user>", which it makes the session's user.
func authorizeHello(_ *runtime.Conn, s *runtime.Session, params []byte) error {
	if params == nil {
		return nil
	}
	var p struct{ Token string }
	if err := json.Unmarshal(params, &p); err != nil {
		return fmt.Errorf("decode params: %w", err)
	}
	user, ok := strings.CutPrefix(p.Token, "good-")
	if !ok {
		return errors.New("bad token")
	}
	s.Set("user", user)
	return nil
}

// listener records the TCP connections it accepts, so that cut can end
// them under the runtime's feet.
type listener struct {
	net.Listener
	mu    sync.Mutex
	conns []*net.TCPConn
}

func (l *listener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if tc, ok := nc.(*net.TCPConn); ok {
		l.mu.Lock()
		l.conns = append(l.conns, tc)
		l.mu.Unlock()
	}
	return nc, err // the connection itself, so the runtime still polls its fd
}

// cut shuts every accepted connection down both ways: the peer gets a FIN
// and no close frame, the runtime reads EOF (its poller sees it at once,
// which closing the fd would hide) and can write nothing more.
func (l *listener) cut() int {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.CloseWrite()
		_ = c.CloseRead()
	}
	return len(conns)
}

// pusher counts events per session that said hello.
type pusher struct {
	mu       sync.Mutex
	sessions map[string]*tracked // by session id
}

type tracked struct {
	s *runtime.Session
	n int
}

func (p *pusher) add(s *runtime.Session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.sessions[s.ID()]; !ok {
		p.sessions[s.ID()] = &tracked{s: s}
	}
}

func (p *pusher) remove(s *runtime.Session) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.sessions[s.ID()]; ok && t.s == s {
		delete(p.sessions, s.ID())
	}
}

// push sends the next counter to every tracked session. A session whose
// push fails has ended (or keeps nothing): it is dropped.
func (p *pusher) push() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, t := range p.sessions {
		if err := alltypes.PushPlainEvent(t.s, &alltypes.PlainEventEvent{S: strconv.Itoa(t.n + 1)}); err != nil {
			delete(p.sessions, id)
			continue
		}
		t.n++
	}
}

// listen listens on addr, retrying for a while when the address is still
// in use (a previous process on it may be dying).
func listen(addr string) (net.Listener, error) {
	deadline := time.Now().Add(3 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to listen on")
	heartbeat := flag.Duration("heartbeat", 25*time.Second, "heartbeat interval told to clients")
	resumeWindow := flag.Duration("resume-window", 2*time.Minute, "how long a detached session may be resumed")
	origin := flag.String("origin", "", "an origin (scheme://host:port) whose pages may connect")
	flag.Parse()

	var out sync.Mutex // one line at a time
	say := func(format string, args ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Printf(format+"\n", args...)
	}

	p := &pusher{sessions: make(map[string]*tracked)}
	router := runtime.NewRouter()
	alltypes.Register(router, handler{})
	var opened atomic.Int64
	var origins []string
	if *origin != "" {
		origins = []string{*origin}
	}
	srv, err := runtime.New(runtime.Options{
		AllowedOrigins: origins,
		// A connection's hello is answered synchronously by the router: once
		// it returns, the connection's session is the one the client holds.
		Handler: runtime.HandlerFunc(func(c *runtime.Conn, typ runtime.MessageType, data []byte) {
			hello := typ == runtime.TextMessage && bytes.HasPrefix(bytes.TrimSpace(data), []byte(`{"hello"`))
			router.ServeMessage(c, typ, data)
			if hello && c.CloseError() == nil {
				if s := runtime.SessionOf(c); s != nil {
					p.add(s)
				}
			}
		}),
		Subprotocols:    []string{runtime.SubprotocolV1},
		ClientHeartbeat: *heartbeat,
		ResumeWindow:    *resumeWindow,
		AuthorizeHello:  authorizeHello,
		Hooks: runtime.Hooks{
			OnOpen:       func(*runtime.Conn) { say("open %d", opened.Add(1)) },
			OnClose:      func(_ *runtime.Conn, e *runtime.CloseError) { say("closed %d", e.Code) },
			OnSessionEnd: p.remove,
			OnError:      func(_ *runtime.Conn, err error) { say("error %v", err) },
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	raw, err := listen(*addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln := &listener{Listener: raw}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	say("listening on %s", raw.Addr())

	go func() {
		for range time.Tick(20 * time.Millisecond) {
			p.push()
		}
	}()

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGUSR1)
	for {
		var stop func(context.Context) error
		switch <-sigs {
		case syscall.SIGUSR1:
			say("cut %d", ln.cut())
			continue
		case syscall.SIGTERM:
			stop = srv.Shutdown
		case syscall.SIGHUP:
			stop = srv.Restart
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := stop(ctx)
		cancel()
		<-served
		if err != nil {
			say("stopped: %v", err)
			os.Exit(1)
		}
		say("stopped")
		os.Exit(0)
	}
}
