package runtime

import (
	goruntime "runtime"
	"sync"
)

// broadcastChunk is the number of sessions below which Broadcast does not
// split its work across goroutines.
const broadcastChunk = 512

// Broadcast pushes the event to every session of this process that has
// not ended: those of open connections, and detached ones waiting for
// their client to resume them, which keep it for the replay (so a client
// that reconnects misses nothing). The event is encoded once; each
// connection gets a copy with its session's sequence number, written at
// once without blocking when its socket has room, and otherwise queued for
// its writer goroutine, so that a slow connection delays no other. Large
// fan-outs are split across up to GOMAXPROCS goroutines. Broadcast returns
// once the event is written, queued or kept everywhere; events of
// Broadcast calls made one after the other reach every session in that
// order. Errors for single connections (closing, slow consumers) are not
// reported: they end those connections and no one else.
func (s *Server) Broadcast(event string, data []byte) {
	ev := newEvent(event, data)
	list := audiences.Get().(*[]*Session)
	all := s.liveSessions((*list)[:0])
	defer func() {
		clear(all)
		*list = all[:0]
		audiences.Put(list)
	}()
	parts := min(goruntime.GOMAXPROCS(0), (len(all)+broadcastChunk-1)/broadcastChunk)
	if parts <= 1 {
		pushAll(all, ev)
		return
	}
	size := (len(all) + parts - 1) / parts
	var wg sync.WaitGroup
	for i := size; i < len(all); i += size {
		part := all[i:min(i+size, len(all))]
		wg.Go(func() { pushAll(part, ev) })
	}
	pushAll(all[:size], ev)
	wg.Wait()
}

// audiences are Broadcast's lists of sessions, reused: a list of 10k
// sessions is 80 KB that each broadcast would otherwise allocate.
var audiences = sync.Pool{New: func() any { return new([]*Session) }}

func pushAll(sessions []*Session, ev *eventBody) {
	for _, sess := range sessions {
		_ = sess.push(ev)
	}
}
