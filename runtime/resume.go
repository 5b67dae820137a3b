package runtime

import (
	"errors"
	"fmt"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// hello answers a client's hello with the welcome (docs/protocol.md). With
// a resume token it first tries to take that session back: the welcome and
// the events the client missed are queued holding the session's push lock,
// so that no live event overtakes them. When the session cannot be resumed
// honestly (unknown or used token, expired, events no longer kept), the
// connection keeps its fresh session and the welcome says why.
func (r *Router) hello(c *Conn, st *connState, token string, lastSeq int64) {
	srv := st.srv
	if token == "" {
		welcome(c, srv, st.session.Load(), false, "")
		return
	}
	s, err := srv.sessions.resume(srv.ctx, token)
	var reason string
	switch {
	case err == nil:
		s.pushMu.Lock()
		missed, first, ok := s.missedSince(lastSeq)
		if !ok {
			s.pushMu.Unlock()
			srv.endSession(s) // taken from the store, and not resumable: it ends here
			reason = "overrun"
			break
		}
		fresh := st.attach(c, s)
		welcome(c, srv, s, true, "")
		for i, ev := range missed {
			_ = ev.write(c, first+int64(i))
		}
		s.pushMu.Unlock()
		srv.endSession(fresh)
		return
	case errors.Is(err, ErrSessionExpired):
		reason = "expired"
	case errors.Is(err, ErrSessionNotFound):
		reason = "unknown"
	default:
		srv.reportError(c, fmt.Errorf("resume session: %w", err))
		reason = "unknown"
	}
	welcome(c, srv, st.session.Load(), false, reason)
}

// welcome writes {"welcome":{...}} for s on c, issuing its resume token (the
// ID and the token need no JSON escaping).
func welcome(c *Conn, srv *Server, s *Session, resumed bool, reason string) {
	buf := getBuffer(smallBufferSize)
	b := append((*buf)[:0], `{"welcome":{"session":"`...)
	b = appendUUID(b, &s.uuid)
	b = append(b, `","resume":"`...)
	b = s.appendResumeToken(b)
	b = append(b, `","resumed":`...)
	b = wire.AppendBool(b, resumed)
	if reason != "" {
		b = append(b, `,"reason":`...)
		b = wire.AppendString(b, reason)
	}
	b = append(b, `,"heartbeat":`...)
	b = wire.AppendInt(b, srv.cfg.ClientHeartbeat.Milliseconds())
	b = append(b, "}}"...)
	_ = c.WriteMessage(TextMessage, b) // copies
	*buf = b
	putBuffer(buf)
}
