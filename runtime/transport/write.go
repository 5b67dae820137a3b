package transport

import (
	"encoding/binary"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// opcode aliases gobwas/ws's frame opcode (RFC 6455 §5.2).
type opcode = ws.OpCode

const (
	opText   = ws.OpText
	opBinary = ws.OpBinary
	opClose  = ws.OpClose
	opPing   = ws.OpPing
	opPong   = ws.OpPong
)

// rsv1 is the per-message-compressed bit in the first header byte
// (RFC 7692 §6).
const rsv1 = 0x40

// encodeFrame builds one unmasked, final server frame (RFC 6455 §5.2) in a
// pooled buffer. With comp set, the payload is deflated (RFC 7692 §7.2.1)
// and sent compressed when that makes it smaller.
func encodeFrame(op opcode, payload []byte, comp *CompressionOptions) *[]byte {
	var first byte = 0x80 | byte(op)
	if comp != nil {
		tmp := getBuffer(len(payload))
		if z, err := deflate((*tmp)[:0], payload, comp.level()); err == nil && len(z) < len(payload) {
			buf := appendFrame(getBuffer(ws.MaxHeaderSize+len(z)), first|rsv1, z)
			*tmp = z[:0]
			putBuffer(tmp)
			return buf
		}
		putBuffer(tmp)
	}
	return appendFrame(getBuffer(ws.MaxHeaderSize+len(payload)), first, payload)
}

func appendFrame(buf *[]byte, first byte, payload []byte) *[]byte {
	b := append((*buf)[:0], first)
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	*buf = append(b, payload...)
	return buf
}

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
	return c.enqueueFrame(op, data, c.deflate, false)
}

// WriteMessageCorked queues one message as WriteMessage does (it copies
// data, never blocks, is safe for concurrent use, and has the same
// errors, queue bound and slow-consumer eviction), but does not start
// writing it: the message waits in the queue for Uncork, so that a burst
// of messages goes out in one system call (one writev) instead of one
// each. It also goes out with anything the connection writes before
// that: a WriteMessage, a pong, a close frame, or a writer already
// running. Once the queue holds corkLimit bytes (64 KiB, or half of
// MaxQueuedBytes when that is smaller), a corked message starts the
// writer as WriteMessage would, so that corking never makes a connection
// that reads look like a slow consumer.
//
// Whoever writes corked must call Uncork after its last corked message
// (of the burst), whatever the errors: until then, what it queued may
// sit in the queue for as long as nothing else is written.
func (c *Conn) WriteMessageCorked(typ MessageType, data []byte) error {
	op := opText
	if typ == BinaryMessage {
		op = opBinary
	}
	return c.enqueueFrame(op, data, c.deflate, true)
}

// Uncork writes what WriteMessageCorked queued: it starts the writer,
// unless one is running (it writes the queue anyway) or the reader is
// feeding the parser (it starts the writer when done). One call writes
// everything queued since the writer last ran, with one writev on a
// plain socket that takes it all. It never blocks, is safe for concurrent
// use, and does nothing when nothing is queued or the connection has
// ended, so extra calls are harmless.
func (c *Conn) Uncork() {
	c.mu.Lock()
	start := len(c.queue) > 0 && !c.inRead && c.startWriterLocked()
	c.mu.Unlock()
	if start {
		c.writeQueued()
	}
}

// corkLimit is what a connection's queue holds before a corked message
// starts the writer: 64 KiB, or half of MaxQueuedBytes when smaller.
func (c *Conn) corkLimit() int {
	return min(64<<10, c.srv.cfg.MaxQueuedBytes/2)
}

// enqueueFrame encodes one frame (compressing it when allowed and worth it,
// see outgoingCompression) and queues it.
func (c *Conn) enqueueFrame(op opcode, payload []byte, mayCompress, corked bool) error {
	var comp *CompressionOptions
	if mayCompress {
		comp = c.outgoingCompression(len(payload))
	}
	return c.enqueue(encodeFrame(op, payload, comp), op.IsControl(), corked)
}

// enqueue queues one encoded frame (a pooled buffer, which it takes over).
// When nothing is queued and nobody writes, the caller becomes the writer
// and writes the frame at once, without queueing it. A data frame is
// refused, and the connection evicted, when the queue holds more than
// MaxQueuedBytes already: one message, however large, is never refused
// for its own size. A corked frame (WriteMessageCorked) is only queued,
// until the queue holds corkLimit bytes.
func (c *Conn) enqueue(frame *[]byte, control, corked bool) error {
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
	if !control {
		// Counted before it can be written: whoever reads the message
		// finds it counted (Server.Traffic).
		c.traffic().msgsOut.Add(1)
	}
	if corked {
		c.queueLocked(frame)
		if c.held < c.corkLimit() {
			c.mu.Unlock()
			return nil
		}
	} else if len(c.queue) == 0 && c.rc != nil && !c.inRead && c.startWriterLocked() {
		c.mu.Unlock()
		c.writeFrom(frame)
		return nil
	} else {
		c.queueLocked(frame)
	}
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
		c.wrote(n)
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
		end := 0
		for _, f := range q {
			end += len(*f)
		}
		written, err := writevNonblock(c.rc, q)
		c.wrote(written)
		if err != nil || written < end {
			go c.flush(slices.Clone(q), written)
			return
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

// wrote counts n bytes written to the socket (Traffic).
func (c *Conn) wrote(n int) {
	if n > 0 {
		c.traffic().bytesOut.Add(uint64(n))
	}
}

// writeFailed ends the connection after a write error; the caller owns the
// writer role. The end (TCP close, ConnHandler.Closed, hooks) runs on a
// goroutine of its own: writes happen inline in WriteMessage and Close,
// on the app's goroutines (a push from the layer above), which may hold
// locks that its OnClose hook or its handler's Closed wants (a session's).
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
			c.wrote(n)
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
