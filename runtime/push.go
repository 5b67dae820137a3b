package runtime

import "github.com/duplexrpc/duplex/runtime/wire"

// Push sends the event to the session's connection with the session's next
// sequence number: {"event":NAME,"seq":N,"data":DATA}. data is the event's
// JSON object (nil for {}). Events of one session are numbered, and queued,
// in the order of Push calls. The last ReplayBuffer events are kept for a
// client that resumes the session (docs/protocol.md), so a push to a
// session whose connection dropped is not lost while it may be resumed. It
// returns ErrClosed when the session has ended, or when it has no
// connection and keeps no events.
func (s *Session) Push(event string, data []byte) error {
	return s.push(newEvent(event, data))
}

// eventBody is an event's encoding without its sequence number, built once
// and shared by every session it is pushed to (Broadcast) and by their
// replay buffers: a session keeps a pointer per event, not a frame.
type eventBody struct {
	head []byte // {"event":NAME,"seq":
	tail []byte // ,"data":DATA}
}

func newEvent(event string, data []byte) *eventBody {
	if len(data) == 0 {
		data = []byte("{}")
	}
	b := make([]byte, 0, 20+len(event)+len(data))
	b = append(b, `{"event":`...)
	b = wire.AppendString(b, event)
	b = append(b, `,"seq":`...)
	h := len(b)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, '}')
	return &eventBody{head: b[:h:h], tail: b[h:]}
}

// write queues the event with sequence number seq on c, encoded in a
// pooled buffer.
func (e *eventBody) write(c *Conn, seq int64) error {
	buf := getBuffer(len(e.head) + 20 + len(e.tail))
	b := append((*buf)[:0], e.head...)
	b = wire.AppendInt(b, seq)
	b = append(b, e.tail...)
	err := c.WriteMessage(TextMessage, b)
	*buf = b
	putBuffer(buf)
	return err
}

// push numbers, queues and keeps one event; see Push.
func (s *Session) push(ev *eventBody) error {
	// pushMu, not mu, orders pushes: a failing write may end the
	// connection, and ending it takes mu to detach the session.
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	s.mu.Lock()
	c, ended := s.conn, s.ended
	s.mu.Unlock()
	keep := s.replayMax()
	if ended || c == nil && keep <= 0 {
		return ErrClosed
	}
	seq := s.seq + 1
	if c != nil {
		if err := ev.write(c, seq); err != nil && keep <= 0 {
			return err // nothing keeps it: no number for it, no gap for a resuming client
		}
	}
	if keep > 0 {
		if len(s.replay) == keep {
			s.replay[0] = nil
			s.replay = s.replay[1:]
		}
		s.replay = append(s.replay, ev)
	}
	s.seq = seq
	return nil
}

func (s *Session) replayMax() int {
	if s.srv == nil {
		return 0
	}
	return max(s.srv.cfg.ReplayBuffer, 0)
}

// missedSince returns the kept events after seq and the sequence number
// of the first, and false when some of them are no longer kept (or seq is
// ahead of the session). pushMu held.
func (s *Session) missedSince(seq int64) ([]*eventBody, int64, bool) {
	switch {
	case seq > s.seq || seq < 0:
		return nil, 0, false
	case seq == s.seq:
		return nil, 0, true
	}
	first := s.seq - int64(len(s.replay)) + 1 // seq of s.replay[0]
	if seq+1 < first {
		return nil, 0, false
	}
	return s.replay[seq+1-first:], seq + 1, true
}
