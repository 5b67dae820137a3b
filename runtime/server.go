package runtime

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/duplexrpc/duplex/runtime/transport"
)

// SupportsV1 is referenced by generated code (const _ = runtime.SupportsV1)
// so that code generated for wire protocol v1 fails to compile against a
// runtime that no longer speaks it.
const SupportsV1 = true

// Server is duplex's server: WebSocket connections (a transport.Server)
// whose messages go to a Handler (a Router for typed RPC), each with a
// Session that outlives it for resume. Create it with New; serve it with
// Serve (a net.Listener, zero-copy upgrade) or as an http.Handler; stop it
// with Shutdown or Restart. Safe for concurrent use.
type Server struct {
	t        *transport.Server
	cfg      config
	ctx      context.Context // canceled at the end of Shutdown: store calls
	cancel   context.CancelFunc
	sessions sessions
	engine   Engine

	// The sessions held here, by topic: the audiences of the engine's
	// deliveries (topics.go). all holds every session that has not
	// ended, attached to a connection or detached and waiting to be
	// resumed (BroadcastTopic); own the sessions by ID (their own
	// topics); rooms the members of the topics joined with Join.
	// Guarded by dmu.
	dmu   sync.Mutex
	all   map[*Session]struct{}
	own   map[[16]byte]*Session
	rooms map[string]map[*Session]struct{}
	// refs counts the sessions of this node that want each joined topic:
	// the node subscribes on the first. Guarded by subMu, held around
	// the engine's Subscribe and Unsubscribe.
	subMu sync.Mutex
	refs  map[string]int

	// With a shared engine (sessionrecords.go): the node's random name
	// and its control topic.
	node, nodeTopic string
	// reasserts wakes reassertLoop after the engine lost its state
	// (reassert.go); a shared engine only.
	reasserts chan struct{}
	// epoch is the engine's epoch of the node's last delivery or Sync
	// point (0: none yet), written on the delivery path.
	epoch atomic.Uint64
	// batch is DeliverBatch's, on the delivery path.
	batch deliveryBatch
	// killed: a test stopped the node as kill -9 would (export_test.go):
	// nothing it holds ends or detaches any more.
	killed atomic.Bool
}

// New returns a Server configured by opts. On Linux it starts one epoll
// goroutine, plus the health-check goroutine; they stop at Shutdown. Reads
// and RPC calls run on a pool of worker goroutines that grows with the
// load and shrinks when it is idle.
func New(opts Options) (*Server, error) {
	cfg, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:   cfg,
		all:   make(map[*Session]struct{}),
		own:   make(map[[16]byte]*Session),
		rooms: make(map[string]map[*Session]struct{}),
		refs:  make(map[string]int),
	}
	s.sessions.srv = s
	// Nobody else can reach the records of the default engine without a
	// Store: detached sessions are kept here only.
	s.sessions.local = opts.Engine == nil && opts.Store == nil
	// A shared engine: records are written from the welcome on.
	s.sessions.shared = opts.Engine != nil && cfg.ResumeWindow >= 0
	t, err := transport.New(cfg.transportOptions(s.accept))
	if err != nil {
		return nil, err
	}
	s.t = t
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.engine = cfg.engine()
	err = s.engine.Start(s.ctx, (*receiver)(s))
	if err == nil {
		err = s.engine.Subscribe(s.ctx, BroadcastTopic)
	}
	if err == nil && s.sessions.shared {
		err = s.startRecords()
	}
	if err != nil {
		s.cancel()
		_ = s.engine.Close()
		return nil, fmt.Errorf("runtime: start the engine: %w", err)
	}
	return s, nil
}

// accept is the transport's Options.Accept: every valid upgrade request
// gets a fresh session, which Authorize sees, and a connState that the
// connection keeps, both in one allocation (newConnSession).
func (s *Server) accept(r *Request) (transport.ConnHandler, error) {
	st := newConnSession(s)
	if auth := s.cfg.Authorize; auth != nil {
		if err := auth(r, st.session.Load()); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// Serve accepts connections on ln and upgrades them without net/http: the
// request head is read into a pooled buffer and parsed in place,
// nothing of it is kept after the upgrade but what Authorize stored in the
// session. Each handshake must complete within HandshakeTimeout, so that
// half-sent requests cannot pile up. Serve returns ErrServerClosed after
// Shutdown, or the listener's error. It may be called for several
// listeners at once.
func (s *Server) Serve(ln net.Listener) error { return s.t.Serve(ln) }

// Listen announces on a local network address as net.Listen does, for
// Serve, but the TCP connections it accepts get no keep-alive probes: the
// server's pings (Options.PingInterval) find dead peers sooner, and each
// connection costs four setsockopt calls fewer. With pings off and no
// other check of the peers, use net.Listen.
func Listen(network, address string) (net.Listener, error) {
	return transport.Listen(network, address)
}

// ServeHTTP upgrades the request to a WebSocket connection: it is the
// http.Handler path, under any mux and with TLS through http.Server.
// Requests that are not upgrades go to Options.Fallback, or get 426.
// Bound the time to read the request with http.Server.ReadHeaderTimeout
// (Server.HTTPServer sets it to HandshakeTimeout).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.t.ServeHTTP(w, r) }

// HTTPServer returns an http.Server serving s at every path of addr, with
// the limits a server facing the internet needs; see
// transport.Server.HTTPServer.
func (s *Server) HTTPServer(addr string) *http.Server {
	hs := s.t.HTTPServer(addr)
	hs.Handler = s
	return hs
}

// Shutdown stops the server gracefully: listeners given to Serve are
// closed, new upgrades get 503, every connection is sent close 1001 (going
// away), and Shutdown waits until their close handshakes end (and upgrades
// already in progress have opened and closed the same way) or ctx is done,
// then closes whatever is left. It returns ctx.Err() when it had to
// cut connections off, and closes the node's engine (Options.Engine).
// Detached sessions of the in-memory engine are lost with the process.
// Calls after the first wait like the first.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.t.Shutdown(ctx)
	s.stop()
	return err
}

// stop ends what Shutdown and Restart leave once the connections are
// closed: the engine calls, then the node's engine.
func (s *Server) stop() {
	s.cancel()
	_ = s.engine.Close()
}

// Restart is Shutdown with close code 1012 (service restart), which tells
// clients to reconnect promptly.
func (s *Server) Restart(ctx context.Context) error {
	err := s.t.Restart(ctx)
	s.stop()
	return err
}

// ErrShuttingDown is what Ready reports once Shutdown or Restart began.
var ErrShuttingDown = errors.New("runtime: server shutting down")

// Ready reports whether this node should be sent new clients, for a load
// balancer's readiness check: nil while it serves and its engine works;
// ErrShuttingDown after Shutdown or Restart began; otherwise the engine's
// own report, for an engine with a method Ready() error (the Redis
// engine's: nil while its pub/sub connection is up). It takes a lock or
// two and never blocks on the network: call it per check.
func (s *Server) Ready() error {
	if s.t.Closing() {
		return ErrShuttingDown
	}
	if r, ok := s.engine.(interface{ Ready() error }); ok {
		return r.Ready()
	}
	return nil
}

// Len returns the number of open connections.
func (s *Server) Len() int { return s.t.Len() }

// Traffic returns the bytes and data messages that the server's
// connections read and wrote, open and ended; see transport.Traffic. It
// sums a few striped counters, takes no lock, and is cheap enough for
// every scrape. The runtime's own messages (welcome, replies, events)
// are data messages.
func (s *Server) Traffic() Traffic { return s.t.Traffic() }

// Range calls fn for each open connection until fn returns false. It works
// on a snapshot: connections opened meanwhile may be missed.
func (s *Server) Range(fn func(c *Conn) bool) { s.t.Range(fn) }

// endSession ends sess for good: it leaves the node's audiences, and
// Hooks.OnSessionEnd runs. A session with a record removes it first: when
// another node took it (a resume, or the sweep of a node that ran the end
// hook), the session is dropped here without the hook.
func (s *Server) endSession(sess *Session) {
	if s.killed.Load() {
		return
	}
	if !s.takeRecord(sess) {
		s.dropTaken(sess)
		return
	}
	s.endTaken(sess)
}

// takeRecord removes the record of sess, if it has one, and reports
// whether this node ends the session: false when another node took the
// record (a resume, where the session lives on, or the sweep of a node
// that ended it).
func (s *Server) takeRecord(sess *Session) bool {
	k := sess.rkey.Swap(nil)
	if k == nil {
		return true
	}
	_, err := s.engine.TakeSession(context.Background(), *k)
	switch {
	case errors.Is(err, ErrSessionNotFound):
		return false
	case errors.Is(err, ErrEngineClosed):
		return false // the node stopped: the record is the cluster's to end
	case err != nil && !errors.Is(err, ErrSessionExpired):
		// The engine is failing; the session ends here rather than
		// leaks, and its record may be swept and ended again.
		s.reportError(nil, fmt.Errorf("end session %s: %w", sess.ID(), err))
	}
	return true
}

// endTaken is endSession for a session without a record, or whose record
// this node removed.
func (s *Server) endTaken(sess *Session) {
	if s.killed.Load() {
		return
	}
	sess.mu.Lock()
	hooked := sess.hooked
	sess.ended, sess.hooked = true, true
	sess.mu.Unlock()
	if hooked {
		// Ended already: by the sweep that took its record and a local
		// end that found no record left, say.
		return
	}
	s.dropSession(sess)
	sess.pushMu.Lock()
	sess.dropHeldLocked()
	sess.pushMu.Unlock()
	if h := s.cfg.Hooks.OnSessionEnd; h != nil {
		h(sess)
	}
}

// reportError reports an error of the session layer as the transport
// reports its own: to Hooks.OnError and the Logger.
func (s *Server) reportError(c *Conn, err error) {
	if h := s.cfg.Hooks.OnError; h != nil {
		h(c, err)
	}
	if l := s.cfg.Logger; l != nil {
		l.Warn("websocket error", "err", err)
	}
}
