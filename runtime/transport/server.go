package transport

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/duplexrpc/duplex/runtime/internal/netpoll"
)

// Server accepts WebSocket connections, reads their messages into the
// ConnHandler that Options.Accept gives each of them, checks their health
// and closes them cleanly. Create it with
// New; serve it with Serve (a net.Listener, zero-copy upgrade) or as an
// http.Handler; stop it with Shutdown or Restart. Safe for concurrent use.
type Server struct {
	cfg    config
	ctx    context.Context
	cancel context.CancelFunc
	poller *netpoll.Poller // nil: a goroutine reads each connection
	pool   workerPool      // reads of ready connections, Tasks

	traffic   []trafficShard // Traffic's counters, striped (traffic.go)
	nextShard atomic.Uint32  // the stripe of the next connection

	closing   atomic.Bool
	closeCode atomic.Uint32 // code sent to connections that open during shutdown

	mu        sync.Mutex
	conns     map[*Conn]struct{}
	slots     int // open connections plus upgrades in progress
	listeners map[net.Listener]struct{}
	drained   chan struct{} // closed when the last connection ends during shutdown
	stopOnce  sync.Once
}

// New returns a Server configured by opts. On Linux it starts one epoll
// goroutine, plus the health-check goroutine; they stop at Shutdown. Reads
// and Tasks run on a pool of worker goroutines that grows with the
// load and shrinks when it is idle (workerPool).
func New(opts Options) (*Server, error) {
	cfg, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if len(cfg.Subprotocols) > maxSubprotocols {
		return nil, fmt.Errorf("transport: %d subprotocols, at most %d", len(cfg.Subprotocols), maxSubprotocols)
	}
	cfg.Subprotocols = slices.Clone(cfg.Subprotocols) // connections keep an index into it
	s := &Server{
		cfg:       cfg,
		conns:     make(map[*Conn]struct{}),
		listeners: make(map[net.Listener]struct{}),
		traffic:   newTrafficShards(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.pool.srv = s
	s.pool.maxReaders = max(4, 2*runtime.GOMAXPROCS(0))
	s.pool.idleTimeout = workerIdleTimeout
	if !cfg.DisablePoller {
		if p, err := netpoll.New(); err == nil {
			s.poller = p
		}
	}
	if cfg.PingInterval > 0 {
		go s.healthLoop()
	}
	return s, nil
}

// pollHandler adapts a Conn to netpoll.Handler without exporting Readable.
type pollHandler Conn

// Readable records the report (readHup, then readWake) and submits a read
// only if no worker owns the reader role, taking it for the task;
// otherwise the owner sees readWake once it gives the role up and reads
// again. The protocol
// and its interleavings are described at Conn.readReady. Nothing more is
// read of an aborted connection, so its reports are dropped.
func (h *pollHandler) Readable(hup bool) {
	c := (*Conn)(h)
	if hup {
		c.readHup.Store(true)
	}
	c.readWake.Store(true)
	if !c.aborted.Load() && c.readBusy.CompareAndSwap(false, true) {
		c.srv.pool.submit(task{c: c})
	}
}

func readNonblock(rc syscall.RawConn, b []byte) (int, error) { return netpoll.ReadNonblock(rc, b) }

var errWouldBlock = netpoll.ErrWouldBlock

// open starts serving an upgraded connection. leftover holds bytes the
// client sent right after its request. Everything other goroutines may read
// (rc, fd) is set before the connection is published.
func (s *Server) open(nc net.Conn, h ConnHandler, res handshakeResult, leftover []byte) {
	c := &Conn{srv: s, nc: nc, handler: h, fd: -1, proto: res.proto, deflate: res.deflate, winBits: res.winBits}
	c.shard = uint8(s.nextShard.Add(1) & uint32(len(s.traffic)-1))
	c.parser.maxMessage = s.cfg.maxMessage
	c.parser.deflate = res.deflate
	c.lastRead.Store(time.Now().UnixNano())
	// A plain socket is written without blocking first, in both read
	// modes, and read through the poller when there is one.
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			if s.poller != nil {
				c.fd = int32(descriptor(rc))
			}
		}
	}
	h.Open(c)

	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	if hook := s.cfg.Hooks.OnOpen; hook != nil {
		hook(c)
	}
	if s.closing.Load() {
		c.closeWith(uint16(s.closeCode.Load()), "server shutting down", nil, closeHandshake)
	}
	if len(leftover) > 0 {
		c.received(leftover)
	}
	if c.fd >= 0 && s.poller.Add(int(c.fd), (*pollHandler)(c)) == nil {
		return
	}
	// No poller, TLS, or the poller is closed (shutdown): a goroutine
	// reads. c.fd stays as it is; finish's Remove of it is harmless.
	go c.readLoop()
}

// fdGetter reads a descriptor through RawConn.Control; its callback is
// bound once so that pooled values make the call allocation-free.
type fdGetter struct {
	fd int
	fn func(fd uintptr)
}

var fdGetters = sync.Pool{New: func() any {
	g := &fdGetter{fd: -1}
	g.fn = func(fd uintptr) { g.fd = int(fd) }
	return g
}}

// descriptor returns rc's file descriptor, -1 when it has none.
func descriptor(rc syscall.RawConn) int {
	g := fdGetters.Get().(*fdGetter)
	g.fd = -1
	if rc.Control(g.fn) != nil {
		g.fd = -1
	}
	fd := g.fd
	fdGetters.Put(g)
	return fd
}

// connClosed is called once per connection by Conn.finish. The
// connection's slot is released last, after its handler and the hooks, so
// that Shutdown returns only once every Closed and OnClose has run.
func (s *Server) connClosed(c *Conn, ce *CloseError) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	defer s.release()
	c.handler.Closed(c, ce)
	if h := s.cfg.Hooks.OnClose; h != nil {
		h(c, ce)
	}
	if l := s.cfg.Logger; l != nil {
		l.Debug("websocket closed", "remote", c.RemoteAddr().String(), "code", ce.Code, "reason", ce.Reason, "by", ce.Initiator.String(), "err", ce.Err)
	}
}

func (s *Server) reportError(c *Conn, err error) {
	if h := s.cfg.Hooks.OnError; h != nil {
		h(c, err)
	}
	if l := s.cfg.Logger; l != nil {
		l.Warn("websocket error", "err", err)
	}
}

// reserve takes a connection slot for an upgrade, or reports that the
// limit is reached or the server is shutting down.
func (s *Server) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing.Load() || s.cfg.MaxConnections > 0 && s.slots >= s.cfg.MaxConnections {
		return false
	}
	s.slots++
	return true
}

// release gives back a connection slot: an upgrade that failed, or a
// connection that ended. Shutdown waits for the last one.
func (s *Server) release() {
	s.mu.Lock()
	s.slots--
	if s.drained != nil && s.slots == 0 {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
}

// Len returns the number of open connections.
func (s *Server) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Range calls fn for each open connection until fn returns false. It works
// on a snapshot: connections opened meanwhile may be missed.
func (s *Server) Range(fn func(c *Conn) bool) {
	for _, c := range s.snapshot(nil) {
		if !fn(c) {
			return
		}
	}
}

func (s *Server) snapshot(dst []*Conn) []*Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		dst = append(dst, c)
	}
	return dst
}

func (s *Server) trackListener(ln net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.closing.Load() {
			return false
		}
		s.listeners[ln] = struct{}{}
	} else {
		delete(s.listeners, ln)
	}
	return true
}
