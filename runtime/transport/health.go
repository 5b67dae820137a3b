package transport

import (
	"encoding/binary"
	"time"
)

// Health checks (RFC 6455 §5.5.2, §5.5.3): one goroutine per server sweeps
// the connections every healthTick. A connection from which nothing has
// been read for PingInterval gets a ping whose payload is its send time;
// any bytes from the peer count as a sign of life, a matching pong also
// measures the round trip; a connection that stays silent PingTimeout after
// the ping is closed with 1001 "ping timeout" without waiting for a close
// answer. A dead peer is therefore noticed within PingInterval +
// PingTimeout + healthTick. Pongs that answer no ping of ours are ignored.

// healthTick is the sweep period: a quarter of the shorter timeout,
// between 10 ms and 5 s.
func (s *Server) healthTick() time.Duration {
	return min(max(min(s.cfg.PingInterval, s.cfg.PingTimeout)/4, 10*time.Millisecond), 5*time.Second)
}

func (s *Server) healthLoop() {
	t := time.NewTicker(s.healthTick())
	defer t.Stop()
	var batch []*Conn
	for {
		select {
		case <-s.ctx.Done():
			return
		case now := <-t.C:
			batch = s.snapshot(batch[:0])
			for _, c := range batch {
				c.checkHealth(now.UnixNano())
			}
			clear(batch)
		}
	}
}

func (c *Conn) checkHealth(now int64) {
	if c.closing.Load() {
		return
	}
	cfg := &c.srv.cfg
	last := c.lastRead.Load()
	if sent := c.pingSent.Load(); sent != 0 {
		switch {
		case last >= sent:
			c.pingSent.CompareAndSwap(sent, 0) // alive: something arrived after the ping
		case now-sent >= int64(cfg.PingTimeout):
			if h := cfg.Hooks.OnHealth; h != nil {
				h(c, Health{OK: false})
			}
			c.closeWith(CloseGoingAway, "ping timeout", errPingTimeout, closeEvict)
		}
		return
	}
	if now-last >= int64(cfg.PingInterval) {
		var p [8]byte
		binary.BigEndian.PutUint64(p[:], uint64(now))
		c.pingSent.Store(now)
		_ = c.enqueueFrame(opPing, p[:], false, false)
	}
}

// pong handles a pong frame: a matching one reports the round trip.
func (c *Conn) pong(p []byte) {
	if len(p) != 8 {
		return // unsolicited (RFC 6455 §5.5.3): ignored
	}
	sent := int64(binary.BigEndian.Uint64(p))
	if sent == 0 || !c.pingSent.CompareAndSwap(sent, 0) {
		return
	}
	if h := c.srv.cfg.Hooks.OnHealth; h != nil {
		h(c, Health{OK: true, RTT: time.Duration(time.Now().UnixNano() - sent)})
	}
}
