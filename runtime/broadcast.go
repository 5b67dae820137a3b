package runtime

import "sync"

// broadcastChunk is the number of sessions below which a delivery does not
// split its work across goroutines.
const broadcastChunk = 512

// Broadcast publishes the event on BroadcastTopic, to which every session
// belongs: every session that has not ended, on every node sharing the
// engine, gets it, those of open connections and detached ones waiting for
// their client to resume them (the engine keeps it for the replay, so a
// client that reconnects misses nothing). The event is encoded once; each
// node fans it out to its sessions, each connection getting a copy with
// its session's sequence number, written at once without blocking when
// its socket has room, and otherwise queued for its writer goroutine, so
// that a slow connection delays no other. Large fan-outs are split across
// up to GOMAXPROCS goroutines. Events of Broadcast calls made one after
// the other reach every session in that order. Errors for single
// connections (closing, slow consumers) are not reported: they end those
// connections and no one else; an engine's error is reported to
// Hooks.OnError (BroadcastEvent returns it too).
func (s *Server) Broadcast(event string, data []byte) {
	_ = s.publish(s.ctx, BroadcastTopic, event, data)
}

// BroadcastEvent encodes ev, the data of the event named event, and
// broadcasts it to every session (Server.Broadcast). It fails when ev
// cannot be encoded, and with an error matching ErrUnavailable when the
// engine could not publish it (reported to Hooks.OnError as well): a
// handler returning it answers "unavailable". Generated BroadcastX
// functions call it.
func BroadcastEvent(srv *Server, event string, ev JSONAppender) error {
	data, err := encodeEvent(event, ev)
	if err != nil {
		return err
	}
	return srv.publish(srv.ctx, BroadcastTopic, event, data)
}

// audiences are the lists of sessions of a delivery, reused: a list of 10k
// sessions is 80 KB that each broadcast would otherwise allocate.
var audiences = sync.Pool{New: func() any { return new([]*Session) }}
