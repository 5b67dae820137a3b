package transport

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Conn is one WebSocket connection. Its methods are safe for concurrent use
// by any number of goroutines.
//
// Reading is done by the transport, which hands complete messages to the
// connection's ConnHandler. Writing goes through a bounded queue that one writer at a time
// drains, so a push never blocks on a slow peer: the peer is disconnected
// (1008) when its queue overflows instead.
type Conn struct {
	srv     *Server
	nc      net.Conn
	rc      syscall.RawConn // set for plain sockets: non-blocking reads (poller) and writes
	handler ConnHandler     // from Options.Accept; set before the connection is published

	// Owned by the reader (one worker or the read goroutine at a time).
	parser frameParser

	lastRead atomic.Int64 // unix nanoseconds of the last bytes read
	pingSent atomic.Int64 // unix nanoseconds of an unanswered health ping, 0 when none

	mu    sync.Mutex
	held  int       // queueCost of the chunks waiting and being written (see writing)
	queue []*[]byte // chunks of encoded frames waiting for the writer; its array is reused

	closing  atomic.Bool // a close frame was queued: the reader must stop interpreting data
	readBusy atomic.Bool // a worker owns the read side (readReady); see the protocol there
	readWake atomic.Bool // the poller reported the socket since the reader's last read round
	readHup  atomic.Bool // the poller reported a hang-up or error: read to EOF, not to a short read
	aborted  atomic.Bool // failed or evicted (closeFail, closeEvict): the peer's bytes are no longer processed
	fd       int32       // poller descriptor, -1 when a goroutine reads
	proto    uint16      // 1 + the subprotocol's index in Options.Subprotocols, 0 for none
	deflate  bool        // permessage-deflate negotiated (Options.Compression applies)
	winBits  uint8       // server_max_window_bits when below 15 (outgoingCompression), 0 otherwise

	writing   bool // a writer owns the socket's write side
	inRead    bool // the reader is feeding the parser: it writes what the handler queued when done
	closeSent bool // our close frame is queued or written: nothing may follow it
	closeRecv bool // the peer's close frame arrived
	finishing bool // close TCP as soon as the queue is written
	failed    bool // closeFail or closeEvict: once written, our close frame ends the connection (lingerClose)
	dropping  bool // an eviction cuts the writer's batch after the frame being written (flush)
	done      bool // finishing or finished: nothing more is written or read
	ended     bool // finished: TCP closed, OnClose returned, slot released

	canDefer bool  // the reader is a pool worker that runs a scheduled task when done; reader only
	shard    uint8 // the stripe of Server.traffic the connection counts in; set before it is published

	end      *connEnd // made when the close begins (or Done is called); guarded by mu
	deferred Task     // the task to run once reading is handed back (Schedule); reader only
}

// connEnd is the part of a connection's state that only its end needs,
// kept out of Conn so that an open connection does not carry it.
type connEnd struct {
	err    *CloseError // &ce once set: how the connection ends
	ce     CloseError
	timer  *time.Timer // bounds the close handshake
	doneCh chan struct{}
}

// replaceCloseErrLocked records how the connection ends, replacing what
// was recorded (with a new value: the earlier one may have been handed
// out). mu held.
func (c *Conn) replaceCloseErrLocked(ce CloseError) {
	e := c.endLocked()
	if e.err == nil {
		e.ce = ce
		e.err = &e.ce
		return
	}
	e.err = &ce
}

// endLocked returns the connection's connEnd, making it. mu held.
func (c *Conn) endLocked() *connEnd {
	if c.end == nil {
		c.end = new(connEnd)
	}
	return c.end
}

// closeErrLocked returns how the connection ends, nil while it is open.
// mu held.
func (c *Conn) closeErrLocked() *CloseError {
	if c.end == nil {
		return nil
	}
	return c.end.err
}

// setCloseErrLocked records how the connection ends unless that is known
// already. mu held.
func (c *Conn) setCloseErrLocked(ce CloseError) {
	e := c.endLocked()
	if e.err == nil {
		e.ce = ce
		e.err = &e.ce
	}
}

// Subprotocol returns the negotiated subprotocol, "" when none.
func (c *Conn) Subprotocol() string {
	if c.proto == 0 {
		return ""
	}
	return c.srv.cfg.Subprotocols[c.proto-1]
}

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.deflate }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Done returns a channel closed when the connection has ended: TCP
// closed, ConnHandler.Closed and Hooks.OnClose returned, and its slot free
// for a new connection.
func (c *Conn) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.endLocked()
	if e.doneCh == nil {
		e.doneCh = make(chan struct{})
		if c.ended {
			close(e.doneCh)
		}
	}
	return e.doneCh
}

// CloseError returns how the connection ended, or nil while it is open.
// During the close handshake it returns the close being negotiated.
func (c *Conn) CloseError() *CloseError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErrLocked()
}
