package runtime

import (
	"encoding/binary"
	"fmt"
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
