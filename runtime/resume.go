package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// hello answers a client's hello with the welcome (docs/protocol.md). With
// a resume token it first tries to take that session back (resumeOn): the
// welcome and the events the client missed are queued holding the
// session's delivery lock, so that no live event overtakes them. When the
// session cannot be resumed honestly (unknown or used token, expired,
// events no longer kept), the connection keeps its fresh session and the
// welcome says why. When the engine fails the resume, the connection is
// closed with 1013 without a welcome, so that the client tries again.
//
// The welcome comes before every event of the connection's session: the
// fresh session's deliveries are held while the hello is answered (its
// record written, the resumed session taken and its history read: engine
// round trips, during which broadcasts go on), then written after the
// welcome, or dropped with the fresh session when the resume replaced it.
// Without the hold, a client would take the fresh session's events,
// numbered from 1, for its resumed session's.
func (r *Router) hello(c *Conn, st *connState, token string, lastSeq int64) {
	srv := st.srv
	fresh := st.session.Load()
	srv.sessions.awaitOpened(fresh)
	fresh.pushMu.Lock()
	fresh.hold++
	fresh.pushMu.Unlock()
	release := func(c *Conn) {
		fresh.pushMu.Lock()
		fresh.releaseLocked(c)
		fresh.pushMu.Unlock()
	}
	if token == "" {
		srv.sessions.recordFresh(fresh)
		welcomeAndRelease(c, srv, fresh, "")
		return
	}
	_, err := srv.resumeOn(srv.ctx, c, st, token, lastSeq, true)
	reason := resumeOutcome(err)
	switch reason {
	case ResumeResumed:
		release(nil) // ended: its events are nobody's
		return
	case ResumeUnavailable:
		// The engine failed (unreachable, timed out): the token may be
		// good. Rather than a fresh session, which would make the client
		// start over, the connection is closed with 1013 (try again
		// later) and the client tries its resume again.
		srv.reportError(c, fmt.Errorf("resume session: %w", err))
		release(nil) // dropped, not held until the session ends: no welcome comes
		go c.Close(CloseTryAgainLater, "engine unavailable")
		return
	}
	srv.sessions.recordFresh(fresh)
	welcomeAndRelease(c, srv, fresh, reason)
}

// welcomeAndRelease writes the welcome of the connection's fresh session
// and ends the hello's hold in one critical section of its delivery lock:
// once the client has its welcome, the session's deliveries are its own
// again (a Join it triggers at once meets no hold).
func welcomeAndRelease(c *Conn, srv *Server, fresh *Session, reason string) {
	fresh.pushMu.Lock()
	welcome(c, srv, fresh, false, reason)
	fresh.releaseLocked(c)
	fresh.pushMu.Unlock()
}

// How a resume ended, as Hooks.OnResume reports it. The refusals are
// the welcome's reasons (docs/protocol.md).
const (
	ResumeResumed     = "resumed"     // the session was taken back
	ResumeUnknown     = "unknown"     // no such token, or used already
	ResumeExpired     = "expired"     // the resume window had passed
	ResumeOverrun     = "overrun"     // events the client missed are no longer held, or cannot be numbered as they were
	ResumeUnavailable = "unavailable" // the engine failed: a hello's connection is closed with 1013
)

// resumeOutcome names how a resume that returned err ended.
func resumeOutcome(err error) string {
	switch {
	case err == nil:
		return ResumeResumed
	case errors.Is(err, errOverrun):
		return ResumeOverrun
	case errors.Is(err, ErrSessionExpired):
		return ResumeExpired
	case errors.Is(err, ErrSessionNotFound):
		return ResumeUnknown
	}
	return ResumeUnavailable
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
func (srv *Server) resumeOn(ctx context.Context, c *Conn, st *connState, token string, h int64, hello bool) (s *Session, err error) {
	if hook := srv.cfg.Hooks.OnResume; hook != nil {
		defer func() { hook(c, resumeOutcome(err)) }()
	}
	if u, _, ok := parseToken(token); ok && u == st.session.Load().uuid {
		return nil, ErrSessionNotFound // the connection's own session
	}
	s, rec, unlock, err := srv.sessions.resume(ctx, token)
	if err != nil {
		return nil, err
	}
	var fresh *Session
	if rec != nil {
		fresh, err = srv.resumeRecord(ctx, c, st, s, rec, h, hello)
	} else {
		fresh, err = srv.resumeHeld(ctx, c, st, s, h, hello)
	}
	unlock()
	if err != nil {
		srv.endSession(s) // taken, and not resumable: it ends here
		return nil, err
	}
	srv.endSession(fresh) // after the replay, so that its hooks run last
	return s, nil
}

// saveResumed writes the record of s, resumed, under its new token before
// the welcome hands it out, with st's topics and checkpoint. Its joinMu is
// held (sessions.resume). Without a shared engine the record is written
// at detach, as for a fresh session.
func (srv *Server) saveResumed(ctx context.Context, s *Session, st SessionState) error {
	if !srv.sessions.shared {
		return nil
	}
	return srv.sessions.saveRecordLocked(ctx, s, st)
}

// resumeHeld resumes s, a session this node holds: it went on numbering
// its events while detached, so (seq, pos) is an exact checkpoint, and the
// events between h and seq are the last seq-h of its topics at or before
// pos in the engine's history. Deliveries meanwhile are held, and numbered
// after the replay.
func (srv *Server) resumeHeld(ctx context.Context, c *Conn, st *connState, s *Session, h int64, hello bool) (*Session, error) {
	exp := srv.sessions.attachedExpiry()
	s.pushMu.Lock()
	if h < 0 {
		h = s.seq
	}
	if s.lost || h > s.seq || h < s.since {
		s.pushMu.Unlock()
		return nil, errOverrun
	}
	// Held from here: (seq, pos) stays the checkpoint the replay and the
	// record use.
	s.hold++
	back := int(s.seq - h)
	pos, topics := s.pos, s.topicListLocked()
	s.pushMu.Unlock()
	var missed []Event
	if back > 0 {
		evs, err := srv.engine.History(ctx, topics, pos, back, 1)
		if err != nil {
			s.pushMu.Lock()
			s.releaseLocked(nil)
			s.pushMu.Unlock()
			return nil, fmt.Errorf("%w: %w", errOverrun, err)
		}
		missed = evs[:back]
	}
	if err := srv.saveResumed(ctx, s, s.state(exp)); err != nil {
		s.pushMu.Lock()
		s.releaseLocked(nil)
		s.pushMu.Unlock()
		return nil, err
	}
	s.pushMu.Lock()
	old := s.Conn()
	fresh := st.attach(c, s)
	if hello {
		welcome(c, srv, s, true, "")
	}
	replay(c, missed, h)
	s.releaseLocked(c)
	s.pushMu.Unlock()
	if old != nil && old != c {
		// Taken over from a connection not yet found dead: it learns
		// that the session went elsewhere, and does not come back.
		_ = old.Close(CloseTakenOver, "session taken over")
	}
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
	s.seq, s.pos, s.since, s.hold = cp.Seq, cp.Pos, rec.TopicsSince, 1
	if h < rec.TopicsSince {
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
	// The checkpoint may be older than what the client saw (a record
	// refreshed while attached): the events after it that the client saw
	// are read forward and numbered, not sent.
	back := max(0, int(cp.Seq-h))
	evs, err := srv.engine.History(ctx, rec.Topics, cp.Pos, back, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errOverrun, err)
	}
	if n := countEvents(evs[back:]); cp.Seq+int64(n) < h {
		return nil, errOverrun // the engine forgot events the client saw
	}
	saved := *rec
	saved.ExpiresAt = srv.sessions.attachedExpiry()
	if n := srv.node; n != "" {
		saved.Attrs = maps.Clone(rec.Attrs)
		if saved.Attrs == nil {
			saved.Attrs = make(map[string]string, 1)
		}
		saved.Attrs[nodeAttr] = n
	}
	if err := srv.saveResumed(ctx, s, saved); err != nil {
		return nil, err
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
		if s.seq > h {
			_ = body.write(c, s.seq, true)
		}
	}
	s.releaseLocked(c)
	return fresh, nil
}

// countEvents counts the runtime's event payloads among evs.
func countEvents(evs []Event) int {
	n := 0
	for _, ev := range evs {
		if _, err := eventBodyFromPayload(ev.Payload); err == nil {
			n++
		}
	}
	return n
}

// replay queues the events read from the history, numbered from h+1,
// corked: releasing the caller's hold uncorks them with the held events.
func replay(c *Conn, evs []Event, h int64) {
	for i, ev := range evs {
		if body, err := eventBodyFromPayload(ev.Payload); err == nil {
			_ = body.write(c, h+1+int64(i), true)
		}
	}
}

// welcome queues {"welcome":{...}} for s on c, issuing its resume token
// (the ID and the token need no JSON escaping). It is corked, so that the
// welcome, the replayed events and the events held meanwhile go out in
// one write: every caller then releases its hold, which uncorks c.
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
	_ = c.WriteMessageCorked(TextMessage, b) // copies
	*buf = b
	putBuffer(buf)
}
