//go:build linux

package main

// Server mode: one server of one kind per process, so that its RSS is its
// own. The first line on stdout is {"addr": ..., "pid": ...}; then it
// answers commands on stdin: "stats" and "gc" (runtime.GC and
// debug.FreeOSMemory first) with its connection count and memory,
// "broadcast" with the send time of the event it broadcast, "publish"
// (duplex-rpc) with the number of events it broadcast from its goroutines
// within a time. With -redis URL the duplex-rpc server is a node of a
// cluster on that Redis (runtime/redisengine).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	coder "github.com/coder/websocket"
	"github.com/duplexrpc/duplex/runtime_test/bench"
	gorilla "github.com/gorilla/websocket"

	duplex "github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// Server kinds.
const (
	kindDuplexRPC   = "duplex-rpc"   // typed RPC: Router + bench.Register; broadcasts with bench.BroadcastTick
	kindDuplexEcho  = "duplex-echo"  // examples/echo's handler and options
	kindGorillaEcho = "gorilla-echo" // gorilla/websocket, goroutine per connection
	kindCoderEcho   = "coder-echo"   // coder/websocket, goroutine per connection
	kindGorillaHub  = "gorilla-hub"  // gorilla/websocket chat-example hub
	kindCoderHub    = "coder-hub"    // coder/websocket chat-example pub/sub
)

// benchServer is one server under test.
type benchServer interface {
	serve(ln net.Listener) error
	conns() int
	// broadcast sends the tick event of round to every connection and
	// returns the wall clock (Unix ns) it put in the event.
	broadcast(round int32) (int64, error)
}

func newServer(kind, redisURL string, historyLen int) (benchServer, error) {
	if redisURL != "" && kind != kindDuplexRPC && kind != kindCentrifuge {
		return nil, fmt.Errorf("-redis: server kind %q has no engine", kind)
	}
	switch kind {
	case kindCentrifuge:
		return newCentrifuge(redisURL, false)
	case kindCentrifugeRPC:
		return newCentrifuge("", true)
	case kindNbioEcho:
		return &nbioServer{}, nil
	case kindDuplexRPC:
		return newDuplexRPC(redisURL, historyLen)
	case kindDuplexEcho:
		return newDuplexEcho()
	case kindGorillaEcho:
		return newHTTPServer(gorillaEcho), nil
	case kindCoderEcho:
		return newHTTPServer(coderEcho), nil
	case kindGorillaHub:
		return newGorillaHub(), nil
	case kindCoderHub:
		return newCoderHub(), nil
	}
	return nil, fmt.Errorf("unknown server kind %q", kind)
}

// serverReady is a server's first line.
type serverReady struct {
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
}

// serverStats answers "stats" and "gc".
type serverStats struct {
	Conns      int    `json:"conns"`
	RSS        uint64 `json:"rss"`         // VmRSS, bytes
	HeapInuse  uint64 `json:"heap_inuse"`  // runtime.MemStats
	StackInuse uint64 `json:"stack_inuse"` // runtime.MemStats
	Sys        uint64 `json:"sys"`         // runtime.MemStats
	Goroutines int    `json:"goroutines"`
	Sent       int64  `json:"sent,omitempty"`      // broadcast: the event's send time
	Took       int64  `json:"took,omitempty"`      // broadcast: ns in the broadcast call
	Published  int64  `json:"published,omitempty"` // publish: events broadcast
	Errors     int64  `json:"errors,omitempty"`    // Hooks.OnError calls so far (duplex)
}

func serverMain(args []string) error {
	fs := flag.NewFlagSet("wsbench server", flag.ContinueOnError)
	kind := fs.String("kind", "", "server kind")
	redisURL := fs.String("redis", "", "duplex-rpc, centrifuge: the Redis engine (broker) on this URL instead of the memory one")
	historyLen := fs.Int("history-len", 0, "-redis: events kept per topic (default: the engine's)")
	timeout := fs.Duration("timeout", 10*time.Minute, "exit after this long whatever happens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	time.AfterFunc(*timeout, func() { os.Exit(3) })
	if _, err := raiseNoFile(); err != nil {
		return err
	}
	srv, err := newServer(*kind, *redisURL, *historyLen)
	if err != nil {
		return err
	}
	// Each server listens as its library's docs show: duplex with its
	// Listen (no TCP keep-alive, which its pings replace), the others
	// with net.Listen.
	listen := net.Listen
	if *kind == kindDuplexRPC || *kind == kindDuplexEcho {
		listen = duplex.Listen
	}
	ln, err := listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.serve(ln) }()
	out := stdoutReports
	out.emit(serverReady{Addr: ln.Addr().String(), PID: os.Getpid()})
	cmds := commands()
	var prof *os.File
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serve: %w", err)
		case cmd, ok := <-cmds:
			if !ok {
				return nil // the harness is done with us
			}
			var st serverStats
			switch cmd.Op {
			case "gc":
				runtime.GC()
				debug.FreeOSMemory()
			case "stats":
			case "cpuprofile":
				if prof != nil {
					return errors.New("a CPU profile is running already")
				}
				if prof, err = os.Create(cmd.File); err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(prof); err != nil {
					return err
				}
			case "cpuprofile-stop":
				if prof != nil {
					pprof.StopCPUProfile()
					if err := prof.Close(); err != nil {
						return err
					}
					prof = nil
				}
			case "heapprofile":
				runtime.GC()
				if err := writeHeapProfile(cmd.File); err != nil {
					return err
				}
			case "broadcast":
				t0 := time.Now()
				if st.Sent, err = srv.broadcast(cmd.Round); err != nil {
					return err
				}
				st.Took = int64(time.Since(t0))
			case "publish":
				ds, ok := srv.(*duplexServer)
				if !ok {
					return errNoBroadcast
				}
				st.Published = ds.publishFor(time.Duration(cmd.Millis)*time.Millisecond, cmd.Conc, cmd.Rate, cmd.Count, cmd.Size)
			default:
				return fmt.Errorf("unknown command %q", cmd.Op)
			}
			st.Conns = srv.conns()
			if st.RSS, err = readRSS("self"); err != nil {
				return err
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			st.HeapInuse, st.StackInuse, st.Sys = ms.HeapInuse, ms.StackInuse, ms.Sys
			st.Goroutines = runtime.NumGoroutine()
			if ds, ok := srv.(*duplexServer); ok {
				st.Errors = ds.errors.Load()
			}
			out.emit(st)
		}
	}
}

func writeHeapProfile(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readRSS returns VmRSS of /proc/PID/status in bytes.
func readRSS(pid string) (uint64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			kb, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("read RSS: %q: %w", sc.Bytes(), err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("read RSS: no VmRSS in /proc/%s/status", pid)
}

// tickJSON is the event every broadcast server sends, byte for byte what
// duplex sends for bench.TickEvent as the round+1'th event of a session.
func tickJSON(round int32, sent int64) []byte {
	b := make([]byte, 0, 96)
	b = append(b, `{"event":"tick","seq":`...)
	b = strconv.AppendInt(b, int64(round)+1, 10)
	b = append(b, `,"data":{"round":`...)
	b = strconv.AppendInt(b, int64(round), 10)
	b = append(b, `,"sent":"`...)
	b = strconv.AppendInt(b, sent, 10)
	b = append(b, `"}}`...)
	return b
}

var errNoBroadcast = errors.New("this server kind does not broadcast")

// ---- duplex ----

// echoHandler implements the bench schema.
type echoHandler struct{ bench.UnimplementedHandler }

func (echoHandler) Echo(_ context.Context, _ *duplex.Session, args bench.EchoArgs) (bench.EchoResult, error) {
	return bench.EchoResult{Text: args.Text}, nil
}

type duplexServer struct {
	srv    *duplex.Server
	errors atomic.Int64 // Hooks.OnError calls: a publish that failed, among others
}

// newDuplexRPC is a typed RPC server: the runtime's defaults, the bench
// schema's generated Register, duplex's subprotocol; with redisURL, a node
// on the Redis engine's defaults but historyLen (if not 0).
func newDuplexRPC(redisURL string, historyLen int) (*duplexServer, error) {
	r := duplex.NewRouter()
	bench.Register(r, echoHandler{})
	s := &duplexServer{}
	opts := duplex.Options{Handler: r, Subprotocols: []string{subprotocol}}
	opts.Hooks.OnError = func(_ *duplex.Conn, err error) {
		if s.errors.Add(1) == 1 {
			fmt.Fprintln(os.Stderr, "wsbench server: first error:", err)
		}
	}
	if redisURL != "" {
		e, err := redisengine.New(redisURL, redisengine.Options{HistoryLen: historyLen})
		if err != nil {
			return nil, err
		}
		opts.Engine = e
	}
	var err error
	s.srv, err = duplex.New(opts)
	return s, err
}

// publishFor broadcasts tick events from conc goroutines for d, each
// waiting for its publish (with the Redis engine, the round trip of the
// publish function) before the next; with rate > 0 the goroutines
// together publish at most rate events a second, with count > 0 at most
// count events. With size > 0 the events are "tick" events padded so
// that each one's engine payload (docs/engine.md) is size bytes, rather
// than bench.TickEvent. It returns how many were published; failures
// count in errors.
func (s *duplexServer) publishFor(d time.Duration, conc, rate, count, size int) int64 {
	// The payload is `{"event":"tick","seq":,"data":` DATA `}`: 31 bytes
	// and the data, here `{"pad":"` x… `"}`.
	var padded []byte
	if size > 0 {
		padded = append([]byte(`{"pad":"`), bytes.Repeat([]byte("x"), max(0, size-31-10))...)
		padded = append(padded, `"}`...)
	}
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for range max(conc, 1) {
		wg.Go(func() {
			for now := time.Now(); now.Before(end); now = time.Now() {
				i := n.Add(1)
				if count > 0 && i > int64(count) {
					n.Add(-1)
					return
				}
				if rate > 0 {
					// Event i is due at start + i/rate.
					if due := start.Add(time.Duration(i) * time.Second / time.Duration(rate)); due.After(now) {
						time.Sleep(due.Sub(now))
					}
				}
				if padded != nil {
					s.srv.Broadcast("tick", padded) // errors go to Hooks.OnError
					continue
				}
				sent := time.Now().UnixNano()
				if err := bench.BroadcastTick(s.srv, &bench.TickEvent{Round: 0, Sent: sent}); err != nil {
					s.errors.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return n.Load()
}

// newDuplexEcho is examples/echo with its default flags: the same handler,
// 16 MiB messages, a queue of twice that, listener mode.
func newDuplexEcho() (*duplexServer, error) {
	srv, err := duplex.New(duplex.Options{
		Handler: duplex.HandlerFunc(func(c *duplex.Conn, typ duplex.MessageType, data []byte) {
			_ = c.WriteMessage(typ, data)
		}),
		MaxMessageSize: 16 << 20,
		MaxQueuedBytes: 32 << 20,
	})
	return &duplexServer{srv: srv}, err
}

func (s *duplexServer) serve(ln net.Listener) error { return s.srv.Serve(ln) }
func (s *duplexServer) conns() int                  { return s.srv.Len() }

func (s *duplexServer) broadcast(round int32) (int64, error) {
	sent := time.Now().UnixNano()
	return sent, bench.BroadcastTick(s.srv, &bench.TickEvent{Round: round, Sent: sent})
}

// ---- reference echo servers, on net/http ----

type httpServer struct {
	h http.Handler
	n atomic.Int64
}

func newHTTPServer(mk func(n *atomic.Int64) http.Handler) *httpServer {
	s := &httpServer{}
	s.h = mk(&s.n)
	return s
}

func (s *httpServer) serve(ln net.Listener) error {
	hs := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
	return hs.Serve(ln)
}
func (s *httpServer) conns() int                     { return int(s.n.Load()) }
func (s *httpServer) broadcast(int32) (int64, error) { return 0, errNoBroadcast }

// gorillaEcho: a goroutine per connection in ReadMessage / WriteMessage,
// the library's default buffers, as in runtime_test's reference servers.
func gorillaEcho(n *atomic.Int64) http.Handler {
	up := gorilla.Upgrader{HandshakeTimeout: 10 * time.Second}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		n.Add(1)
		defer n.Add(-1)
		defer c.Close()
		c.SetReadLimit(16 << 20)
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	})
}

// coderEcho: a goroutine per connection in Read / Write.
func coderEcho(n *atomic.Int64) http.Handler {
	opts := &coder.AcceptOptions{CompressionMode: coder.CompressionDisabled}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, opts)
		if err != nil {
			return
		}
		n.Add(1)
		defer n.Add(-1)
		defer c.CloseNow()
		c.SetReadLimit(16 << 20)
		ctx := context.Background()
		for {
			typ, p, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, p); err != nil {
				return
			}
		}
	})
}

// ---- reference broadcast hubs ----

// gorillaHub is gorilla/websocket's chat example (examples/chat: hub.go,
// client.go): a hub goroutine owning the client set, a read pump and a
// write pump goroutine per connection, a send channel of 256 messages, a
// client that cannot take a message dropped. Unlike the example, each
// message is its own frame (the example joins queued messages with
// newlines into one), so that clients get the same frames from every
// server.
type gorillaHub struct {
	up         gorilla.Upgrader
	register   chan *gorillaClient
	unregister chan *gorillaClient
	bcast      chan []byte
	n          atomic.Int64
}

type gorillaClient struct {
	hub  *gorillaHub
	conn *gorilla.Conn
	send chan []byte
}

const (
	hubWriteWait  = 10 * time.Second
	hubPongWait   = 60 * time.Second
	hubPingPeriod = hubPongWait * 9 / 10
)

func newGorillaHub() *gorillaHub {
	h := &gorillaHub{
		up:         gorilla.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 1024},
		register:   make(chan *gorillaClient),
		unregister: make(chan *gorillaClient),
		bcast:      make(chan []byte),
	}
	go h.run()
	return h
}

func (h *gorillaHub) run() {
	clients := map[*gorillaClient]bool{}
	for {
		select {
		case c := <-h.register:
			clients[c] = true
			h.n.Store(int64(len(clients)))
		case c := <-h.unregister:
			if clients[c] {
				delete(clients, c)
				close(c.send)
			}
			h.n.Store(int64(len(clients)))
		case msg := <-h.bcast:
			for c := range clients {
				select {
				case c.send <- msg:
				default:
					close(c.send)
					delete(clients, c)
				}
			}
			h.n.Store(int64(len(clients)))
		}
	}
}

func (h *gorillaHub) serve(ln net.Listener) error {
	hs := &http.Server{Handler: http.HandlerFunc(h.serveWS), ReadHeaderTimeout: 10 * time.Second}
	return hs.Serve(ln)
}

func (h *gorillaHub) conns() int { return int(h.n.Load()) }

func (h *gorillaHub) broadcast(round int32) (int64, error) {
	sent := time.Now().UnixNano()
	h.bcast <- tickJSON(round, sent)
	return sent, nil
}

func (h *gorillaHub) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := h.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &gorillaClient{hub: h, conn: conn, send: make(chan []byte, 256)}
	h.register <- c
	go c.writePump()
	go c.readPump()
}

func (c *gorillaClient) readPump() {
	defer func() {
		c.hub.unregister <- c
		c.conn.Close()
	}()
	c.conn.SetReadLimit(512)
	_ = c.conn.SetReadDeadline(time.Now().Add(hubPongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(time.Now().Add(hubPongWait)) })
	for {
		if _, _, err := c.conn.ReadMessage(); err != nil {
			return
		}
	}
}

func (c *gorillaClient) writePump() {
	ticker := time.NewTicker(hubPingPeriod)
	defer func() {
		ticker.Stop()
		c.conn.Close()
	}()
	for {
		select {
		case msg, ok := <-c.send:
			_ = c.conn.SetWriteDeadline(time.Now().Add(hubWriteWait))
			if !ok {
				_ = c.conn.WriteMessage(gorilla.CloseMessage, []byte{})
				return
			}
			w, err := c.conn.NextWriter(gorilla.TextMessage)
			if err != nil {
				return
			}
			_, _ = w.Write(msg)
			if err := w.Close(); err != nil {
				return
			}
		case <-ticker.C:
			_ = c.conn.SetWriteDeadline(time.Now().Add(hubWriteWait))
			if err := c.conn.WriteMessage(gorilla.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

// coderHub is coder/websocket's chat example (internal/examples/chat):
// subscribers in a mutex-guarded set, each with a channel of 16 messages
// drained by its handler goroutine with a write timeout per message,
// CloseRead for the read side, a slow subscriber closed.
type coderHub struct {
	mu   sync.Mutex
	subs map[*coderSub]struct{}
}

type coderSub struct {
	msgs      chan []byte
	closeSlow func()
}

func newCoderHub() *coderHub { return &coderHub{subs: map[*coderSub]struct{}{}} }

func (h *coderHub) serve(ln net.Listener) error {
	hs := &http.Server{Handler: http.HandlerFunc(h.serveWS), ReadHeaderTimeout: 10 * time.Second}
	return hs.Serve(ln)
}

func (h *coderHub) conns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

func (h *coderHub) broadcast(round int32) (int64, error) {
	sent := time.Now().UnixNano()
	msg := tickJSON(round, sent)
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		select {
		case s.msgs <- msg:
		default:
			go s.closeSlow()
		}
	}
	return sent, nil
}

func (h *coderHub) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := coder.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	s := &coderSub{msgs: make(chan []byte, 16), closeSlow: func() {
		c.Close(coder.StatusPolicyViolation, "connection too slow to keep up with messages")
	}}
	h.mu.Lock()
	h.subs[s] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
	}()
	ctx := c.CloseRead(r.Context())
	for {
		select {
		case msg := <-s.msgs:
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := c.Write(wctx, coder.MessageText, msg)
			cancel()
			if err != nil {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}
