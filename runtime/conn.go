package runtime

import (
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"
)

// Conn is one WebSocket connection. Its methods are safe for concurrent use
// by any number of goroutines.
//
// Reading is done by the runtime, which hands complete messages to the
// Handler. Writing goes through a bounded queue that one writer at a time
// drains, so a push never blocks on a slow peer: the peer is disconnected
// (1008) when its queue overflows instead.
type Conn struct {
	srv     *Server
	nc      net.Conn
	rc      syscall.RawConn // set for plain sockets: non-blocking reads (poller) and writes
	session atomic.Pointer[Session]

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

	rpcStarted bool // the Router has seen a frame (a hello must come first); reader only
	canDefer   bool // the reader is a pool worker that runs a deferred call when done; reader only

	end      *connEnd   // made when the close begins (or Done is called); guarded by mu
	calls    *calls     // RPC calls in flight (Router), created on the first call
	deferred *callState // the call to run once reading is handed back (deferCall); reader only
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

// Session returns the connection's session. It changes only when the
// client resumes an earlier session (Resume).
func (c *Conn) Session() *Session { return c.session.Load() }

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
// closed, the session detached, OnClose returned, and its slot free for a
// new connection.
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

// Resume replaces the connection's fresh session with the detached session
// whose ResumeToken is token, with its attributes; the fresh session ends
// (Hooks.OnSessionEnd). It returns ErrSessionNotFound when the token is
// unknown, expired or already used, leaving the connection's session as it
// was. A token works once.
func (c *Conn) Resume(token string) (*Session, error) {
	s, err := c.srv.sessions.resume(c.srv.ctx, token)
	if errors.Is(err, ErrSessionExpired) {
		return nil, ErrSessionNotFound
	}
	if err != nil {
		return nil, err
	}
	c.srv.endSession(c.attach(s))
	return s, nil
}

// attach makes s the connection's session and returns the session it
// replaces, detached from c; the caller ends it (after any replay, so that
// its hooks run last).
func (c *Conn) attach(s *Session) (replaced *Session) {
	s.mu.Lock()
	s.conn = c
	s.mu.Unlock()
	replaced = c.session.Swap(s)
	replaced.mu.Lock()
	replaced.conn = nil
	replaced.mu.Unlock()
	return replaced
}

// ---- reading ----

// readReady reads what the socket has, without blocking, on a pool worker
// that owns the reader role (readBusy), and runs the RPC call deferred by
// the read, if any, after giving that role up (or handing it to the pool)
// and after checking readWake: the call may block, a report must not wait
// for it.
//
// The registration is edge-triggered: the poller reports each arrival of
// bytes (or a hang-up, or an error) once, never what is merely still
// unread, and it may report while a worker is reading. Two flags keep
// every report without a second reader:
//
//   - Readable (pollHandler) sets readWake, then submits a read only if it
//     wins readBusy (false → true); the task owns readBusy from then on.
//   - The owner clears readWake before each read round, then reads until
//     the socket is drained. It then releases readBusy and loads readWake:
//     if set, a report came during the round (its bytes may be unread), so
//     it takes readBusy back and reads again; if it loses readBusy to
//     Readable, that Readable has submitted a read of its own.
//
// Interleavings (atomics are sequentially consistent): a report before the
// owner clears readWake is for bytes that the round's reads find, since
// they were queued before it. A report after the clear sets readWake and
// then tries readBusy; the owner releases readBusy and then loads
// readWake. Either Readable's attempt comes after the release (it wins
// and submits a read) or the owner's load comes after the store (it sees
// the flag and reads again), or both, and then exactly one of them wins
// readBusy. So no report is lost and there is one reader at a time. A
// report for bytes already read only costs a round that reads nothing.
//
// Stopping before the socket is drained (maxReadsPerWakeup full reads)
// keeps readBusy and resubmits the connection to the back of the pool's
// queue: no report will come for bytes already queued. A short read counts
// as drained: a non-blocking recv on a TCP (or Unix stream) socket copies
// until the buffer is full or the receive queue is empty, and every later
// arrival of data (or FIN, RST) runs the socket's wake-up callback, which
// epoll turns into a new report; so any byte not read by the short read
// arrived after it and is reported. That saves the read that would
// return EAGAIN. The exception is a FIN or RST that came with the bytes
// (before the report was taken): the short read returns the bytes, the
// EOF or error is left for the next read, and no new report comes for it.
// Such a report carries hup (the event mask is read when the report is
// taken), and Readable sets readHup before readWake; once readHup is set,
// a round reads until EAGAIN, EOF or an error. A FIN arriving after the
// report was taken makes a report of its own, which sets readHup.
//
// When aborted or done the reader stops without looking at readWake: the
// peer's bytes stay in the socket, and TCP flow control stops the peer
// until the connection is closed. Reports after Remove (a stale event),
// or of an aborted connection, are dropped or find the connection done.
func (c *Conn) readReady() {
	for {
		c.readWake.Store(false)
		drained, cs := c.readRound()
		again := !drained // fairness cap: still the owner
		if drained {
			c.readBusy.Store(false)
			again = !c.aborted.Load() && !c.isDone() &&
				c.readWake.Load() && c.readBusy.CompareAndSwap(false, true)
		}
		if !again {
			c.runDeferred(cs)
			return
		}
		if cs != nil || !drained {
			// The call may block (and the cap asks for the back of the
			// queue): another worker reads on, as the owner.
			c.srv.pool.submit(task{c: c})
			c.runDeferred(cs)
			return
		}
	}
}

// readRound reads until the socket is drained (a short read unless
// readHup is set, ErrWouldBlock, EOF or an error, which ends the connection), the connection is aborted
// or done, or maxReadsPerWakeup full reads. It reports whether it stopped
// for any reason but the last, and returns the call deferred by the read.
// The caller owns readBusy, and still does on return.
func (c *Conn) readRound() (drained bool, cs *callState) {
	c.canDefer = true
	buf := getBuffer(smallBufferSize)
	for range maxReadsPerWakeup {
		if c.aborted.Load() || c.isDone() {
			c.parser.releaseMessage()
			putBuffer(buf)
			return true, c.takeDeferred()
		}
		b := (*buf)[:cap(*buf)]
		n, err := readNonblock(c.rc, b)
		if err == errWouldBlock {
			putBuffer(buf)
			return true, c.takeDeferred()
		}
		if err != nil {
			c.parser.releaseMessage()
			putBuffer(buf)
			cs = c.takeDeferred()
			c.readFailed(err)
			return true, cs
		}
		c.received(b[:n])
		if n < len(b) && !c.readHup.Load() {
			putBuffer(buf)
			return true, c.takeDeferred() // drained: see readReady
		}
		if cap(b) == smallBufferSize {
			putBuffer(buf)
			buf = getBuffer(largeBufferSize) // a big message is arriving
		}
	}
	putBuffer(buf)
	return false, c.takeDeferred()
}

// takeDeferred returns the call that was deferred to the end of the read,
// if any, and stops deferring. Reader only.
func (c *Conn) takeDeferred() *callState {
	cs := c.deferred
	c.deferred, c.canDefer = nil, false
	return cs
}

// deferCall keeps cs to be run by the reading worker once it has given up
// the reader role (readReady), which saves handing the
// call to another goroutine: the common case is one call per read. It
// reports false when the reader cannot run calls (a reading goroutine,
// the handshake's leftover bytes); the caller then submits cs to the
// pool. A call deferred earlier in the same read goes to the pool now.
// Reader only.
func (c *Conn) deferCall(cs *callState) bool {
	if !c.canDefer {
		return false
	}
	if prev := c.deferred; prev != nil {
		c.srv.pool.submit(task{call: prev})
	}
	c.deferred = cs
	return true
}

// runDeferred runs a deferred call on the current pool worker.
func (c *Conn) runDeferred(cs *callState) {
	if cs == nil {
		return
	}
	c.srv.pool.enterCall()
	cs.run()
	c.srv.pool.exitCall()
}

// maxReadsPerWakeup bounds how long one busy connection keeps a worker
// before it goes to the back of the pool's queue (readReady).
const maxReadsPerWakeup = 16

// readLoop is the goroutine-per-connection reader used off Linux, for TLS
// and when the poller is disabled.
func (c *Conn) readLoop() {
	b := make([]byte, smallBufferSize)
	for {
		n, err := c.nc.Read(b)
		if n > 0 {
			c.received(b[:n])
		}
		if c.aborted.Load() {
			c.parser.releaseMessage()
			return // see readReady
		}
		if err != nil {
			c.parser.releaseMessage()
			c.readFailed(err)
			return
		}
		if c.isDone() {
			return
		}
	}
}

// received feeds bytes read from the peer to the parser. What the handler
// queues meanwhile is written once the bytes are parsed, so that replies to
// pipelined messages share one system call.
func (c *Conn) received(p []byte) {
	if c.aborted.Load() {
		c.parser.releaseMessage()
		return // failed or evicted: dropped unread (RFC 6455 §7.1.7)
	}
	c.lastRead.Store(time.Now().UnixNano())
	if c.closing.Load() {
		c.parser.startClosing()
	}
	c.mu.Lock()
	c.inRead = true
	c.mu.Unlock()
	c.parser.feed(p, c)
	c.mu.Lock()
	c.inRead = false
	start := len(c.queue) > 0 && c.startWriterLocked()
	c.mu.Unlock()
	if start {
		if c.rc == nil {
			c.flush(nil, 0) // the reading goroutine writes its handler's replies itself
		} else {
			c.writeQueued()
		}
	}
}

// readFailed ends the connection after a read error or EOF. It does not
// touch the parser (the caller may not own it). There is no
// resynchronisation: a deadline or error in the middle of a frame is fatal.
func (c *Conn) readFailed(err error) {
	c.mu.Lock()
	if err == io.EOF && c.closeRecv && c.writing {
		// The peer half-closed after its close frame; our answer is being
		// written and flush closes TCP after it (bounded by the close timer).
		c.mu.Unlock()
		return
	}
	c.setCloseErrLocked(CloseError{Code: CloseAbnormal, Initiator: ClosedByPeer, Err: err})
	c.mu.Unlock()
	c.finish()
}

func (c *Conn) isDone() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.done
}

// message implements frameSink: a complete data message.
func (c *Conn) message(op opcode, compressed bool, data []byte) {
	if compressed {
		out, err := inflate(data, c.parser.maxMessage)
		if err == errTooBig {
			c.fail(&failure{CloseTooBig, "inflated message too big"})
			return
		}
		if err != nil {
			c.fail(&failure{CloseInvalidPayload, "invalid deflate data"})
			return
		}
		defer putBuffer(out)
		data = *out
		if op == opText && !utf8.Valid(data) {
			c.fail(&failure{CloseInvalidPayload, "invalid UTF-8 in text message"})
			return
		}
	}
	typ := BinaryMessage
	if op == opText {
		typ = TextMessage
	}
	c.serve(typ, data)
}

// serve calls the handler, turning a panic into a 1011 close. Writes are
// deferred only while bytes are parsed, not while the handler runs: what is
// queued so far goes out first, and pushes from other goroutines, pings and
// closes are never held back by a slow handler.
func (c *Conn) serve(typ MessageType, data []byte) {
	c.mu.Lock()
	c.inRead = false
	start := len(c.queue) > 0 && c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.writeQueued()
	}
	defer func() {
		c.mu.Lock()
		c.inRead = true
		c.mu.Unlock()
	}()
	defer func() {
		if p := recover(); p != nil {
			c.srv.reportError(c, &PanicError{Value: p})
			c.closeWith(CloseInternalError, "internal error", nil, closeHandshake)
		}
	}()
	c.srv.cfg.Handler.ServeMessage(c, typ, data)
}

// control implements frameSink: ping, pong or close (RFC 6455 §5.5).
func (c *Conn) control(op opcode, payload []byte) {
	switch op {
	case opPing:
		if !c.closing.Load() {
			c.enqueueFrame(opPong, payload, false)
		}
	case opPong:
		c.pong(payload)
	case opClose:
		c.peerClosed(payload)
	}
}

// fail implements frameSink: the peer broke the protocol. The connection
// is failed (RFC 6455 §7.1.7): our close frame goes out, nothing more the
// peer sends is processed, and TCP is closed once the close frame is
// written, without waiting for the peer's close.
func (c *Conn) fail(f *failure) {
	c.parser.discard()
	c.closeWith(f.code, f.reason, nil, closeFail)
}

// peerClosed handles the peer's close frame (RFC 6455 §5.5.1): answer with
// the same code (an empty body for an empty body), then close TCP once the
// answer is written. When our close was sent first, the handshake is
// complete and TCP is closed now. An invalid close frame fails the
// connection instead (closeFail).
func (c *Conn) peerClosed(payload []byte) {
	code, reason, bad := parseCloseBody(payload)
	// The answer carries the peer's code only; for an invalid close frame
	// it is our failure code with a reason.
	reply, replyReason, mode := code, "", closeHandshake
	switch {
	case bad != 0:
		reply, replyReason, mode = bad, "invalid close frame", closeFail
	case code == CloseNoStatus:
		reply = 0 // empty body answers an empty body
	}
	frame := encodeFrame(opClose, closePayload(reply, replyReason), nil)
	c.mu.Lock()
	c.closeRecv = true
	c.finishing = true // whichever close frame goes out, TCP closes after it
	if c.closeSent || c.done {
		// Our close went first: the handshake is complete. TCP closes now,
		// or once the writer has sent what is queued (our close frame may
		// still be waiting for the end of this read).
		finishNow := !c.writing && len(c.queue) == 0
		start := !finishNow && !c.inRead && c.startWriterLocked()
		c.mu.Unlock()
		putBuffer(frame)
		if finishNow {
			c.finish()
		}
		if start {
			c.writeQueued()
		}
		return
	}
	switch {
	case bad != 0:
		c.replaceCloseErrLocked(CloseError{Code: bad, Reason: replyReason, Initiator: ClosedByServer})
	case code == CloseNoStatus:
		c.replaceCloseErrLocked(CloseError{Code: CloseNoStatus, Initiator: ClosedByPeer})
	default:
		c.replaceCloseErrLocked(CloseError{Code: code, Reason: reason, Initiator: ClosedByPeer})
	}
	start := c.queueCloseLocked(frame, mode)
	c.mu.Unlock()
	if start {
		c.writeQueued()
	}
}

// ---- closing ----

// closeMode says how a close that the server starts ends.
type closeMode uint8

const (
	// closeHandshake is the closing handshake (RFC 6455 §7.1.2): the close
	// frame goes out after what is queued, and TCP is closed when the
	// peer's close frame arrives or after CloseTimeout.
	closeHandshake closeMode = iota
	// closeFail fails the connection (RFC 6455 §7.1.7): the close frame
	// goes out after what is queued, nothing more from the peer is
	// processed (its close frame included), and TCP is closed as soon as
	// the close frame is written (lingerClose).
	closeFail
	// closeEvict is closeFail for a peer that does not read (a slow
	// consumer, a dead peer): what is queued is dropped, and the writer
	// finishes only the frame it is in the middle of before the close
	// frame.
	closeEvict
)

// Close starts the closing handshake (RFC 6455 §7.1.2) with code and
// reason (cut to 123 bytes at a UTF-8 boundary; codes that may not be sent
// become 1011). The close frame goes out after what is already queued;
// nothing is written after it. TCP is closed when the peer's close frame
// arrives or after CloseTimeout, whichever comes first. Close does not
// wait; use Done for that. Calls after the first do nothing.
func (c *Conn) Close(code uint16, reason string) error {
	c.closeWith(sendableCode(code), reason, nil, closeHandshake)
	return nil
}

// closeWith records why the server closes and queues the close frame; see
// closeMode. It does nothing once a close frame is queued.
func (c *Conn) closeWith(code uint16, reason string, cause error, mode closeMode) {
	reason = truncateReason(reason)
	frame := encodeFrame(opClose, closePayload(code, reason), nil)
	c.mu.Lock()
	if c.closeSent || c.done {
		c.mu.Unlock()
		putBuffer(frame)
		return
	}
	c.setCloseErrLocked(CloseError{Code: code, Reason: reason, Initiator: ClosedByServer, Err: cause})
	start := c.queueCloseLocked(frame, mode)
	c.mu.Unlock()
	if start {
		c.writeQueued()
	}
}

// queueCloseLocked queues our close frame, after which nothing is
// written, and arms the close timer, which closes TCP after CloseTimeout
// whatever the close is waiting for. It reports whether the caller became
// the writer. mu held.
func (c *Conn) queueCloseLocked(frame *[]byte, mode closeMode) bool {
	if mode != closeHandshake {
		c.aborted.Store(true)
		c.failed, c.finishing = true, true
	}
	if mode == closeEvict {
		c.dropQueueLocked()
		if c.writing && c.rc != nil {
			// The writer may be blocked on a full socket: a past
			// deadline wakes it up, and it cuts its batch after the
			// frame it is writing (flush). Not on TLS, where a write
			// cut short breaks the connection for good.
			c.dropping = true
			_ = c.nc.SetWriteDeadline(aLongTimeAgo)
		}
	}
	c.closeSent = true
	c.closing.Store(true)
	c.queueLocked(frame)
	c.endLocked().timer = time.AfterFunc(c.srv.cfg.CloseTimeout, c.closeTimedOut)
	return !c.inRead && c.startWriterLocked()
}

// aLongTimeAgo is a deadline in the past: it wakes up a blocked write.
var aLongTimeAgo = time.Unix(1, 0)

func (c *Conn) closeTimedOut() {
	c.mu.Lock()
	if ce := c.closeErrLocked(); ce != nil && ce.Err == nil && !c.closeRecv && ce.Initiator == ClosedByServer {
		ce.Err = errCloseTimeout
	}
	c.mu.Unlock()
	c.finish()
}

// lingerClose ends a connection whose last frame, a close frame that waits
// for no answer (closeFail, closeEvict), is written. TCP is half-closed,
// so that the peer gets a FIN right after the close frame, and what the
// peer still sends is read and dropped until it closes, for at most
// lingerTime (or CloseTimeout, when shorter) and lingerBytes, before the
// socket is closed: closing a socket with unread bytes makes the kernel
// reset the connection, which can destroy the close frame before the peer
// reads it (linger).
func (c *Conn) lingerClose() {
	c.mu.Lock()
	if e := c.end; e != nil && e.timer != nil {
		e.timer.Stop() // the close frame is out: nothing timed out
	}
	c.mu.Unlock()
	linger(c.nc, min(lingerTime, c.srv.cfg.CloseTimeout))
	c.finish()
}

// finish closes TCP and reports the end, once.
func (c *Conn) finish() {
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	c.done = true
	c.closing.Store(true)
	c.dropQueueLocked()
	c.setCloseErrLocked(CloseError{Code: CloseAbnormal, Initiator: ClosedByPeer})
	e := c.end
	if e.timer != nil {
		e.timer.Stop()
	}
	ce := e.err
	calls := c.calls
	c.mu.Unlock()
	if calls != nil {
		calls.cancelAll() // handlers of a closed connection see their context end
	}

	if c.fd >= 0 {
		_ = c.srv.poller.Remove(int(c.fd))
	}
	_ = c.nc.Close()
	c.srv.connClosed(c, ce)

	c.mu.Lock()
	c.ended = true
	if e.doneCh != nil {
		close(e.doneCh)
	}
	c.mu.Unlock()
}

// ---- writing ----

// Frames wait for the writer in a queue of chunks: pooled buffers into
// which queued frames are copied back to back (queueLocked). A queued
// frame thus costs its own bytes, not the buffer it was encoded in, which
// can be 40 times as large (a 100-byte event in a 4 KiB buffer, a 5 KiB
// one in a 64 KiB buffer). held counts what the chunks hold, waiting and
// being written: their capacity, except the free room at the end of the
// queue's last chunk and of the batch being written (queueCost), at most
// 72 KiB each. It is what MaxQueuedBytes bounds.

// WriteMessage queues one message. It copies data, never blocks, and is
// safe for concurrent use; messages from one goroutine go out in order.
// It returns ErrClosed once the close has started, and ErrSlowConsumer
// when the queue already holds more than MaxQueuedBytes, in which case
// the connection is being closed with 1008.
func (c *Conn) WriteMessage(typ MessageType, data []byte) error {
	op := opText
	if typ == BinaryMessage {
		op = opBinary
	}
	return c.enqueueFrame(op, data, c.deflate)
}

// enqueueFrame encodes one frame (compressing it when allowed and worth it,
// see outgoingCompression) and queues it.
func (c *Conn) enqueueFrame(op opcode, payload []byte, mayCompress bool) error {
	var comp *CompressionOptions
	if mayCompress {
		comp = c.outgoingCompression(len(payload))
	}
	return c.enqueue(encodeFrame(op, payload, comp), op.IsControl())
}

// enqueue queues one encoded frame (a pooled buffer, which it takes over).
// When nothing is queued and nobody writes, the caller becomes the writer
// and writes the frame at once, without queueing it. A data frame is
// refused, and the connection evicted, when the queue holds more than
// MaxQueuedBytes already: one message, however large, is never refused
// for its own size.
func (c *Conn) enqueue(frame *[]byte, control bool) error {
	c.mu.Lock()
	if c.closeSent || c.done {
		c.mu.Unlock()
		putBuffer(frame)
		return ErrClosed
	}
	if !control && c.held > c.srv.cfg.MaxQueuedBytes {
		c.mu.Unlock()
		putBuffer(frame)
		c.closeWith(ClosePolicy, "slow consumer: outgoing queue full", ErrSlowConsumer, closeEvict)
		return ErrSlowConsumer
	}
	if len(c.queue) == 0 && c.rc != nil && !c.inRead && c.startWriterLocked() {
		c.mu.Unlock()
		c.writeFrom(frame)
		return nil
	}
	c.queueLocked(frame)
	start := !c.inRead && c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.writeQueued()
	}
	return nil
}

// queueLocked appends an encoded frame (a pooled buffer, which it takes
// over) to the queue. A frame that fits the room left in the last chunk
// is copied there; one of up to 72 KiB that does not fit fills that room
// and continues in a new 72 KiB chunk; any other frame (the first, one
// after a full chunk, one larger than 72 KiB) is a chunk of its own. So
// every chunk but the last is full, except one followed by a frame larger
// than the room it leaves, whose room is then counted (queueCost). mu
// held.
func (c *Conn) queueLocked(f *[]byte) {
	if n := len(c.queue); n > 0 {
		tail := c.queue[n-1]
		room := cap(*tail) - len(*tail)
		switch {
		case len(*f) <= room:
			*tail = append(*tail, *f...)
			c.held += len(*f)
			putBuffer(f)
			return
		case room > 0 && len(*f) <= largeBufferCap:
			*tail = append(*tail, (*f)[:room]...)
			next := getBuffer(largeBufferSize)
			*next = append(*next, (*f)[room:]...)
			putBuffer(f)
			f = next
		}
		c.held += room // filled, or left unused for good
	}
	c.queue = append(c.queue, f)
	c.held += len(*f)
}

// queueCost is what chunks q count against MaxQueuedBytes (held): the
// capacity of each, except for the room left at the end of the last one,
// which the next frames fill (in a batch being written, it is never used:
// it is one of the constants of MaxQueuedBytes' bound).
func queueCost(q []*[]byte) int {
	n := 0
	for _, f := range q {
		n += cap(*f)
	}
	if len(q) > 0 {
		last := *q[len(q)-1]
		n -= cap(last) - len(last)
	}
	return n
}

func (c *Conn) startWriterLocked() bool {
	if c.writing || c.done {
		return false
	}
	c.writing = true
	return true
}

// dropQueueLocked discards the chunks not yet handed to the writer: whole
// frames, none of them started.
func (c *Conn) dropQueueLocked() {
	c.held -= queueCost(c.queue)
	for _, f := range c.queue {
		putBuffer(f)
	}
	clear(c.queue)
	c.queue = c.queue[:0]
}

// writeQueued is called by whoever just became the writer (writing set).
// On a plain socket it first tries to write everything queued right away,
// without blocking and without a goroutine: the common case of a socket
// with room. Whatever does not fit now is left to a writer goroutine
// (flush), which blocks in Go's poller under WriteTimeout.
func (c *Conn) writeQueued() {
	if c.rc == nil {
		go c.flush(nil, 0)
		return
	}
	c.writeFrom(nil)
}

// writeFrom writes frame (when not nil: a frame that was never queued),
// then what is queued, as writeQueued does. The caller is the writer.
// When the socket does not take everything, or a write fails, the batch
// goes to a writer goroutine (flush), which waits for the socket or finds
// out about the error.
func (c *Conn) writeFrom(frame *[]byte) {
	if frame != nil {
		n, err := writeNonblock(c.rc, *frame)
		if err != nil || n < len(*frame) {
			c.mu.Lock()
			c.held += len(*frame) // queued from now on: queueCost of the batch
			c.mu.Unlock()
			go c.flush([]*[]byte{frame}, n)
			return
		}
		putBuffer(frame)
	}
	var batch [4]*[]byte // the chunks of a batch, on the stack unless there are more
	for {
		q, ok := c.nextBatch(batch[:0], false)
		if !ok {
			return
		}
		written := 0
		for _, f := range q {
			n, err := writeNonblock(c.rc, *f)
			written += n
			if err != nil || n < len(*f) {
				go c.flush(slices.Clone(q), written)
				return
			}
		}
		c.release(q)
	}
}

// nextBatch hands the writer everything queued: it appends the chunks to
// dst and empties the queue, whose array stays with the connection. When
// there is nothing (or the connection is done) it gives up the writer role
// instead, closing TCP if a close was waiting for the queue to drain.
// blocking says that the writer is a writer goroutine (flush), whose write
// deadline it clears: once passed, a deadline left behind would fail the
// next non-blocking write.
func (c *Conn) nextBatch(dst []*[]byte, blocking bool) ([]*[]byte, bool) {
	c.mu.Lock()
	if c.dropping {
		// An eviction came after the last batch was written: nothing to
		// cut, but the deadline that was to wake the writer is past.
		c.dropping = false
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	if len(c.queue) == 0 || c.done {
		c.writing = false
		if blocking {
			_ = c.nc.SetWriteDeadline(time.Time{})
		}
		finish := c.finishing && !c.done
		failed := c.failed
		c.mu.Unlock()
		switch {
		case finish && failed:
			go c.lingerClose()
		case finish:
			go c.finish() // see writeFailed
		}
		return nil, false
	}
	dst = append(dst, c.queue...)
	clear(c.queue)
	c.queue = c.queue[:0]
	c.mu.Unlock()
	return dst, true
}

// release returns the chunks of a batch, written or dropped, to their
// pools.
func (c *Conn) release(q []*[]byte) {
	size := queueCost(q)
	for _, f := range q {
		putBuffer(f)
	}
	clear(q)
	c.mu.Lock()
	c.held -= size
	c.mu.Unlock()
}

// writeFailed ends the connection after a write error; the caller owns the
// writer role. The end (TCP close, hooks, session detach) runs on a
// goroutine of its own: writes happen inline in WriteMessage, Push and
// Close, on the app's goroutines, which may hold the app's locks that its
// OnClose hook wants, or the session's.
func (c *Conn) writeFailed(err error) {
	c.mu.Lock()
	c.writing = false
	c.setCloseErrLocked(CloseError{Code: CloseAbnormal, Initiator: ClosedByPeer, Err: err})
	c.mu.Unlock()
	go c.finish()
}

// iovecs are the writev vectors of writer goroutines (flush).
var iovecs = sync.Pool{New: func() any { return new(net.Buffers) }}

// flush is the writer goroutine. It writes the rest of batch q (whose
// first written bytes are written; nil for no batch yet), then whatever
// is queued, one writev per batch, blocking under WriteTimeout (under the
// close timer, CloseTimeout, once our close frame is queued), and exits
// when the queue is empty, so that an idle connection holds no goroutine.
// Exactly one writer runs per connection at a time (the writing flag).
//
// An eviction (closeEvict) that finds it blocked on a full socket wakes
// it up with a past deadline and sets dropping: it then writes only the
// rest of the frame it was in the middle of (its batch holds whole frames
// from its first byte, so walking their headers finds where that frame
// ends), then the close frame, whenever the socket takes them within
// CloseTimeout of the eviction.
func (c *Conn) flush(q []*[]byte, written int) {
	iov := iovecs.Get().(*net.Buffers)
	defer iovecs.Put(iov)
	var batch [8]*[]byte
	for {
		if q == nil {
			var ok bool
			if q, ok = c.nextBatch(batch[:0], true); !ok {
				return
			}
			written = 0
		}
		end := 0
		for _, f := range q {
			end += len(*f)
		}
		for written < end {
			// The deadline is set holding mu, as an eviction sets its
			// own: either this one comes first, and the eviction's
			// interrupts the write, or the eviction does, and the
			// writer sees dropping now. Once our close frame is queued,
			// the close timer bounds the writes instead (CloseTimeout).
			c.mu.Lock()
			cut := c.dropping
			c.dropping = false
			var deadline time.Time
			if !c.closeSent {
				deadline = time.Now().Add(c.srv.cfg.WriteTimeout)
			}
			_ = c.nc.SetWriteDeadline(deadline)
			c.mu.Unlock()
			if cut {
				end = frameEnd(q, written)
			}
			n, err := c.writeRange(iov, q, written, end)
			written += n
			if err == nil {
				continue
			}
			c.mu.Lock()
			evicted := c.dropping
			c.mu.Unlock()
			if !evicted {
				c.release(q)
				c.writeFailed(err)
				return
			}
		}
		c.release(q)
		q = nil
	}
}

// writeRange writes bytes [from, to) of batch q with one writev, blocking
// under the connection's write deadline, and returns how many it wrote.
func (c *Conn) writeRange(iov *net.Buffers, q []*[]byte, from, to int) (int, error) {
	full := (*iov)[:0]
	lo := 0
	for _, f := range q {
		b := *f
		hi := lo + len(b)
		if hi > from && lo < to {
			full = append(full, b[max(from-lo, 0):min(to, hi)-lo])
		}
		lo = hi
	}
	*iov = full
	n, err := iov.WriteTo(c.nc)
	clear(full)
	*iov = full[:0]
	return int(n), err
}

// frameEnd returns the offset in the bytes of batch q at which the frame
// that holds offset off ends: off itself when a frame starts there. q
// holds whole frames that this server encoded (unmasked, RFC 6455 §5.2),
// the first at offset 0; a frame may continue from one chunk into the
// next.
func frameEnd(q []*[]byte, off int) int {
	s := chunkReader{q: q}
	end := 0
	for end < off {
		n, hdr := int(s.at(end+1)&0x7f), 2
		switch n {
		case 126:
			n, hdr = int(s.at(end+2))<<8|int(s.at(end+3)), 4
		case 127:
			n, hdr = 0, 10
			for i := 2; i < 10; i++ {
				n = n<<8 | int(s.at(end+i))
			}
		}
		end += hdr + n
	}
	return end
}

// chunkReader reads the bytes of a batch at offsets that never decrease.
type chunkReader struct {
	q    []*[]byte
	i    int // the chunk that holds offset base
	base int
}

func (r *chunkReader) at(off int) byte {
	for off-r.base >= len(*r.q[r.i]) {
		r.base += len(*r.q[r.i])
		r.i++
	}
	return (*r.q[r.i])[off-r.base]
}
