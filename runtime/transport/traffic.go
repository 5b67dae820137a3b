package transport

import (
	"runtime"
	"sync/atomic"
)

// Traffic is what a server's connections have read and written since it
// was made: every connection's, open or ended. The counts only grow.
type Traffic struct {
	// BytesIn and BytesOut count WebSocket bytes as read from and written
	// to the sockets: frames with their headers, compressed when
	// permessage-deflate applies, control frames included; not the
	// upgrade's HTTP request and response.
	BytesIn, BytesOut uint64
	// MessagesIn counts the data messages handed to the handlers
	// (ConnHandler.Message); MessagesOut those that WriteMessage queued
	// (a message dropped by an eviction or a failed connection counts,
	// one refused with an error does not).
	MessagesIn, MessagesOut uint64
}

// trafficShard is one stripe of a server's Traffic counters, alone on its
// cache lines: connections are spread over the stripes (Conn.shard), so
// that the atomic additions of connections served on different cores
// seldom share a line.
type trafficShard struct {
	bytesIn, bytesOut, msgsIn, msgsOut atomic.Uint64
	_                                  [128 - 4*8]byte
}

// newTrafficShards returns the stripes of a server: a power of two, at
// least twice GOMAXPROCS, at most 256 (Conn.shard is a byte).
func newTrafficShards() []trafficShard {
	n := 1
	for n < 2*runtime.GOMAXPROCS(0) && n < 256 {
		n *= 2
	}
	return make([]trafficShard, n)
}

// traffic returns the connection's stripe.
func (c *Conn) traffic() *trafficShard { return &c.srv.traffic[c.shard] }

// Traffic returns the totals of every connection the server has served:
// a sum of the stripes, cheap enough to call at every scrape; it takes no
// lock. The four counts are read one after the other, not as one
// snapshot. Safe for concurrent use.
func (s *Server) Traffic() Traffic {
	var t Traffic
	for i := range s.traffic {
		sh := &s.traffic[i]
		t.BytesIn += sh.bytesIn.Load()
		t.BytesOut += sh.bytesOut.Load()
		t.MessagesIn += sh.msgsIn.Load()
		t.MessagesOut += sh.msgsOut.Load()
	}
	return t
}
