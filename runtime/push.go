package runtime

import (
	"fmt"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// Push sends the event to the session: it is published on the session's
// own topic through the engine, and reaches the session, on whichever node
// holds it, numbered with its next sequence number:
// {"event":NAME,"seq":N,"data":DATA}. data is the event's JSON object (nil
// for {}). Events of one session are numbered, and queued, in the engine's
// order, which is the order of Push calls made one after the other. The
// engine keeps the last events of each topic (Options.ReplayBuffer with
// the default engine) for a client that resumes the session
// (docs/protocol.md), so a push to a session whose connection dropped is
// not lost while it may be resumed. It returns ErrClosed when the session
// has ended, or when it has no connection and ReplayBuffer is negative
// (nothing would keep the event), and an error matching ErrUnavailable
// when the engine could not publish (within its timeout).
func (s *Session) Push(event string, data []byte) error {
	s.mu.Lock()
	ended, c := s.ended, s.conn
	s.mu.Unlock()
	if ended || s.own == "" || s.srv.noHistory() && (c == nil || c.CloseError() != nil) {
		return ErrClosed
	}
	return s.srv.publish(s.srv.ctx, s.own, event, data)
}

// PushEvent encodes ev, the data of the event named event, and pushes it
// to s (Session.Push). Generated PushX functions call it.
func PushEvent(s *Session, event string, ev JSONAppender) error {
	data, err := encodeEvent(event, ev)
	if err != nil {
		return err
	}
	return s.Push(event, data)
}

// PushEventTo encodes ev once and pushes it to each of sessions
// (Session.Push). It tries every session and returns the first error.
// Generated PushXTo functions call it.
func PushEventTo(sessions []*Session, event string, ev JSONAppender) error {
	data, err := encodeEvent(event, ev)
	if err != nil {
		return err
	}
	var first error
	for _, s := range sessions {
		if err := s.Push(event, data); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// encodeEvent returns the JSON of ev, an error naming the event when it
// has none.
func encodeEvent(event string, ev JSONAppender) ([]byte, error) {
	data, err := ev.AppendJSON(nil)
	if err != nil {
		return nil, fmt.Errorf("encode %s event: %w", event, err)
	}
	return data, nil
}

// eventBody is an event's encoding without its sequence number, made once
// per node from the engine's payload (eventBodyFromPayload) and shared by
// every session it is delivered to.
type eventBody struct {
	head []byte // {"event":NAME,"seq":
	tail []byte // ,"data":DATA}
}

// write queues the event with sequence number seq on c, encoded in a
// pooled buffer; corked, it waits for c.Uncork (Conn.WriteMessageCorked).
func (e *eventBody) write(c *Conn, seq int64, corked bool) error {
	buf := getBuffer(len(e.head) + 20 + len(e.tail))
	b := append((*buf)[:0], e.head...)
	b = wire.AppendInt(b, seq)
	b = append(b, e.tail...)
	var err error
	if corked {
		err = c.WriteMessageCorked(TextMessage, b)
	} else {
		err = c.WriteMessage(TextMessage, b)
	}
	*buf = b
	putBuffer(buf)
	return err
}

// heldEvent is an event delivered to a session while a resume reads its
// history, numbered when the resume is done; without body, a Sync point.
type heldEvent struct {
	pos  Position
	body *eventBody
}

// after reports whether h, released after the session's position pos,
// takes effect: an event is numbered unless it is not after pos (replayed
// from the history already, or of another epoch); a Sync point moves the
// checkpoint to it unless pos is past it (any Sync point does when the
// session has no position yet).
func (h heldEvent) after(pos Position) bool {
	if h.body == nil {
		return pos.IsZero() || h.pos.Epoch == pos.Epoch && h.pos.GSeq >= pos.GSeq
	}
	return h.pos.Epoch == pos.Epoch && h.pos.GSeq > pos.GSeq
}

// deliver numbers one event of the session's topics, delivered in the
// engine's order, and queues it on its connection (if it has one, and no
// resume holds it). Numbering goes on while the session is detached: the
// engine keeps the events, and a resume replays them with these numbers.
// With a batch (a part of a deliveryBatch), the event is queued corked and
// the connection listed in the batch, once, to be uncorked at its end.
func (s *Session) deliver(pos Position, body *eventBody, batch *[]corkedConn) {
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	switch {
	case s.lost:
		return
	case pos.Epoch != s.pos.Epoch && s.pos != Position{}:
		// The zero position: rebased (reassert.go), any epoch follows.
		s.lost = true // Lost comes first; this is a safety net
		return
	case pos.GSeq <= s.pos.GSeq:
		return // before the session's topics took effect, or seen already
	case s.hold > 0:
		l := s.listsLocked()
		l.held = append(l.held, heldEvent{pos, body})
		return
	}
	s.mu.Lock()
	c := s.conn
	list := batch != nil && c != nil && !s.corked
	if list {
		s.corked = true
	}
	s.mu.Unlock()
	if list {
		*batch = append(*batch, corkedConn{s, c})
	}
	if c == nil || body.write(c, s.seq+1, batch != nil) != nil {
		// A failed write ends the connection. Without a history
		// nothing keeps the event either: no number for it, no gap for
		// a resuming client.
		if s.srv.noHistory() {
			s.pos = pos
			return
		}
	}
	s.seq++
	s.pos = pos
}

// noHistory reports whether the default engine keeps no events
// (ReplayBuffer negative).
func (s *Server) noHistory() bool { return s.cfg.Engine == nil && s.cfg.ReplayBuffer < 0 }

// releaseLocked numbers and writes the held events after the session's
// position, and ends the hold: the last of its holds, when a Join waiting
// for its record and a resume hold it at once. It uncorks c (when not
// nil) in every case, so that what the caller queued corked (a welcome,
// replayed events) goes out with the held events in one write, and is
// not left queued by a hold that another holder still keeps. pushMu held.
func (s *Session) releaseLocked(c *Conn) {
	if c != nil {
		defer c.Uncork()
	}
	if s.hold--; s.hold > 0 {
		return
	}
	var held []heldEvent
	if s.lists != nil {
		held = s.lists.held
	}
	for _, h := range held {
		if !h.after(s.pos) {
			continue // replayed from the history already
		}
		if h.body == nil { // a Sync point (open, Join, Leave) met during the hold
			s.since, s.pos = s.seq, h.pos
			continue
		}
		s.seq++
		s.pos = h.pos
		if c != nil {
			_ = h.body.write(c, s.seq, true)
		}
	}
	s.dropHeldLocked()
}
