package transport

import (
	"encoding/binary"
	"fmt"
	"time"
	"unicode/utf8"
)

// Close codes (RFC 6455 §7.4.1 and the IANA registry). The runtime sends only
// codes that may appear on the wire: never 1005, 1006 or 1015.
const (
	CloseNormal          uint16 = 1000 // normal closure, the requested end
	CloseGoingAway       uint16 = 1001 // server shutting down, or a peer that stopped answering pings
	CloseProtocolError   uint16 = 1002 // RFC 6455 framing violated
	CloseUnsupportedData uint16 = 1003 // a data type the endpoint does not accept
	CloseNoStatus        uint16 = 1005 // local only: a close frame with an empty body was received
	CloseAbnormal        uint16 = 1006 // local only: the connection ended without a close frame
	CloseInvalidPayload  uint16 = 1007 // invalid UTF-8 text, undecodable payload
	ClosePolicy          uint16 = 1008 // policy: auth, origin, slow consumer
	CloseTooBig          uint16 = 1009 // message larger than the configured limit
	CloseMandatoryExt    uint16 = 1010 // sent by clients only
	CloseInternalError   uint16 = 1011 // the server hit an unexpected condition
	CloseServiceRestart  uint16 = 1012 // server restarting; reconnect
	CloseTryAgainLater   uint16 = 1013 // overloaded; reconnect later
	CloseTLSHandshake    uint16 = 1015 // local only
)

// maxCloseReason is the longest reason that fits a control frame: 125 bytes
// of payload minus the 2-byte code (RFC 6455 §5.5).
const maxCloseReason = 123

// Initiator tells who started a close.
type Initiator uint8

const (
	// ClosedByPeer: the peer sent the first close frame, or the connection
	// was lost (code 1006).
	ClosedByPeer Initiator = iota + 1
	// ClosedByServer: this server sent the first close frame (a call to
	// Conn.Close, a protocol violation by the peer, a failed health check,
	// a slow consumer, shutdown).
	ClosedByServer
)

func (i Initiator) String() string {
	switch i {
	case ClosedByPeer:
		return "peer"
	case ClosedByServer:
		return "server"
	}
	return "unknown"
}

// CloseError describes how a connection ended. Code is the code of the first
// close frame (sent or received); 1005 when the peer's close frame had no
// body; 1006 when the connection ended without a close handshake, in which
// case Err holds the cause (read error, timeout).
type CloseError struct {
	Code      uint16
	Reason    string
	Initiator Initiator
	Err       error
}

func (e *CloseError) Error() string {
	s := fmt.Sprintf("websocket closed by %s: %d", e.Initiator, e.Code)
	if e.Reason != "" {
		s += " " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *CloseError) Unwrap() error { return e.Err }

// validWireCloseCode reports whether a peer may send code in a close frame
// (RFC 6455 §7.4.1, §7.4.2 and the IANA registry: 1012-1014 are registered).
func validWireCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// parseCloseBody validates a received close payload (RFC 6455 §5.5.1). It
// returns the code (1005 for an empty body), the reason, and the code to fail
// the connection with when the body is invalid (0 when valid).
func parseCloseBody(p []byte) (code uint16, reason string, fail uint16) {
	switch {
	case len(p) == 0:
		return CloseNoStatus, "", 0
	case len(p) == 1:
		return 0, "", CloseProtocolError
	}
	code = binary.BigEndian.Uint16(p)
	if !validWireCloseCode(code) {
		return code, "", CloseProtocolError
	}
	if !utf8.Valid(p[2:]) {
		return code, "", CloseInvalidPayload
	}
	return code, string(p[2:]), 0
}

// sendableCode maps a code the app asked for onto one that may go on the
// wire: 1005, 1006, 1015 and codes outside the registered ranges become
// 1011 (internal error), so that a wrong argument never produces an invalid
// frame.
func sendableCode(code uint16) uint16 {
	if code == CloseMandatoryExt || !validWireCloseCode(code) {
		return CloseInternalError
	}
	return code
}

// truncateReason cuts reason to at most 123 bytes at a UTF-8 boundary and
// replaces invalid UTF-8, so that a close frame is always valid.
func truncateReason(reason string) string {
	if !utf8.ValidString(reason) {
		reason = string([]rune(reason)) // replaces invalid bytes with U+FFFD
	}
	if len(reason) <= maxCloseReason {
		return reason
	}
	cut := maxCloseReason
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}

// closePayload encodes a close frame body. Code 0 means an empty body (used
// only to answer a peer's empty close).
func closePayload(code uint16, reason string) []byte {
	if code == 0 {
		return nil
	}
	reason = truncateReason(reason)
	p := make([]byte, 2+len(reason))
	binary.BigEndian.PutUint16(p, code)
	copy(p[2:], reason)
	return p
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
	c.mu.Unlock()

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
