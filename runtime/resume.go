package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// hello answers a client's hello with the welcome (docs/protocol.md). With
// a resume token it first tries to take that session back (resumeOn): the
// welcome and the events the client missed are queued holding the
// session's delivery lock, so that no live event overtakes them. When the
// session cannot be resumed honestly (unknown or used token, expired,
// events no longer kept), the connection keeps its fresh session and the
// welcome says why.
func (r *Router) hello(c *Conn, st *connState, token string, lastSeq int64) {
	srv := st.srv
	if token == "" {
		welcome(c, srv, st.session.Load(), false, "")
		return
	}
	_, err := srv.resumeOn(srv.ctx, c, st, token, lastSeq, true)
	var reason string
	switch {
	case err == nil:
		return
	case errors.Is(err, errOverrun):
		reason = "overrun"
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

// errOverrun: the session's events after the client's seq cannot all be
// given to it (no longer in the engine's history, numbered with other
// topics, lost by the node, or the seq is ahead of the session).
var errOverrun = errors.New("overrun")

// resumeOn takes the session of token back onto c, in place of the
// connection's fresh session (which ends), and, when hello is set, writes
// the welcome. It then queues the events the client missed after its seq
// h (h < 0: none missed, for Resume), numbered as they were, and the
// session's live events after them. A session taken from the engine that
// cannot be resumed honestly ends here (errOverrun).
func (srv *Server) resumeOn(ctx context.Context, c *Conn, st *connState, token string, h int64, hello bool) (*Session, error) {
	s, rec, err := srv.sessions.resume(ctx, token)
	if err != nil {
		return nil, err
	}
	var fresh *Session
	if rec != nil {
		fresh, err = srv.resumeRecord(ctx, c, st, s, rec, h, hello)
	} else {
		fresh, err = srv.resumeHeld(ctx, c, st, s, h, hello)
	}
	if err != nil {
		srv.endSession(s) // taken, and not resumable: it ends here
		return nil, err
	}
	srv.endSession(fresh) // after the replay, so that its hooks run last
	return s, nil
}

// resumeHeld resumes s, a session this node holds: it went on numbering
// its events while detached, so (seq, pos) is an exact checkpoint, and the
// events between h and seq are the last seq-h of its topics at or before
// pos in the engine's history. Deliveries meanwhile are held, and numbered
// after the replay.
func (srv *Server) resumeHeld(ctx context.Context, c *Conn, st *connState, s *Session, h int64, hello bool) (*Session, error) {
	s.pushMu.Lock()
	if h < 0 {
		h = s.seq
	}
	if s.lost || h > s.seq || h < s.since {
		s.pushMu.Unlock()
		return nil, errOverrun
	}
	var missed []Event
	if back := int(s.seq - h); back > 0 {
		pos, topics := s.pos, s.topicListLocked()
		s.hold = true
		s.pushMu.Unlock()
		evs, err := srv.engine.History(ctx, topics, pos, back, 1)
		s.pushMu.Lock()
		if err != nil {
			s.releaseLocked(nil)
			s.pushMu.Unlock()
			return nil, fmt.Errorf("%w: %w", errOverrun, err)
		}
		missed = evs[:back]
	}
	fresh := st.attach(c, s)
	if hello {
		welcome(c, srv, s, true, "")
	}
	replay(c, missed, h)
	s.releaseLocked(c)
	s.pushMu.Unlock()
	return fresh, nil
}

// resumeRecord resumes s, new on this node, from its record rec (detached
// on another node, which may have died since): docs/engine.md, "Resume on
// any node". s joins its topics here, held, then the history gives the
// events between h and the checkpoint (read back from it) and those after
// it; the held live events follow, each numbered once.
func (srv *Server) resumeRecord(ctx context.Context, c *Conn, st *connState, s *Session, rec *SessionState, h int64, hello bool) (*Session, error) {
	cp := rec.Checkpoint
	if h < 0 {
		h = cp.Seq
	}
	s.own = ownTopic(&s.uuid)
	s.seq, s.pos, s.since, s.hold = cp.Seq, cp.Pos, rec.TopicsSince, true
	if h > cp.Seq || h < rec.TopicsSince {
		return nil, errOverrun
	}
	if err := srv.engine.Subscribe(ctx, s.own); err != nil {
		return nil, err
	}
	for _, t := range rec.Topics {
		if t == s.own || t == BroadcastTopic {
			continue
		}
		if err := srv.ref(ctx, t); err != nil {
			return nil, err
		}
		l := s.listsLocked()
		l.joined = append(l.joined, t) // counted: dropSession uncounts it
	}
	srv.register(s)
	back := int(cp.Seq - h)
	evs, err := srv.engine.History(ctx, rec.Topics, cp.Pos, back, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errOverrun, err)
	}
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	fresh := st.attach(c, s)
	if hello {
		welcome(c, srv, s, true, "")
	}
	replay(c, evs[:back], h)
	for _, ev := range evs[back:] {
		body, err := eventBodyFromPayload(ev.Payload)
		if err != nil {
			continue // not the runtime's: Deliver skips it too
		}
		s.seq++
		s.pos = ev.Pos
		_ = body.write(c, s.seq)
	}
	s.releaseLocked(c)
	return fresh, nil
}

// replay writes the events read from the history, numbered from h+1.
func replay(c *Conn, evs []Event, h int64) {
	for i, ev := range evs {
		if body, err := eventBodyFromPayload(ev.Payload); err == nil {
			_ = body.write(c, h+1+int64(i))
		}
	}
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
