package transport

import (
	"io"
	"time"
	"unicode/utf8"
)

// readReady reads what the socket has, without blocking, on a pool worker
// that owns the reader role (readBusy), and runs the task scheduled by
// the read (Conn.Schedule), if any, after giving that role up (or handing
// it to the pool) and after checking readWake: the task may block, a
// report must not wait for it.
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
			// The task may block (and the cap asks for the back of the
			// queue): another worker reads on, as the owner.
			c.srv.pool.submit(task{c: c})
			c.runDeferred(cs)
			return
		}
	}
}

// readRound reads until the socket is drained (a short read unless
// readHup is set, ErrWouldBlock, EOF or an error, which ends the
// connection), the connection is aborted or done, or maxReadsPerWakeup
// full reads. It reports whether it stopped for any reason but the last,
// and returns the task scheduled by the read.
// The caller owns readBusy, and still does on return.
func (c *Conn) readRound() (drained bool, cs Task) {
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

// takeDeferred returns the task that was scheduled to the end of the
// read, if any, and stops deferring. Reader only.
func (c *Conn) takeDeferred() Task {
	t := c.deferred
	c.deferred, c.canDefer = nil, false
	return t
}

// runDeferred runs a scheduled task on the current pool worker, counted
// as in a call (it may block).
func (c *Conn) runDeferred(t Task) {
	if t == nil {
		return
	}
	c.srv.pool.enterCall()
	t.Run()
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
	c.traffic().bytesIn.Add(uint64(len(p)))
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
	c.traffic().msgsIn.Add(1)
	defer func() {
		if p := recover(); p != nil {
			c.srv.reportError(c, &PanicError{Value: p})
			c.closeWith(CloseInternalError, "internal error", nil, closeHandshake)
		}
	}()
	c.handler.Message(c, typ, data)
}

// control implements frameSink: ping, pong or close (RFC 6455 §5.5).
func (c *Conn) control(op opcode, payload []byte) {
	switch op {
	case opPing:
		if !c.closing.Load() {
			c.enqueueFrame(opPong, payload, false, false)
		}
	case opPong:
		c.pong(payload)
	case opClose:
		c.peerClosed(payload)
	}
}
