package transport_test

import (
	"encoding/binary"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

func healthOptions(m readMode) transport.Options {
	return transport.Options{
		DisablePoller: m.disablePoller,
		PingInterval:  100 * time.Millisecond,
		PingTimeout:   200 * time.Millisecond,
	}
}

// A peer that neither reads nor answers is closed with 1001 "ping timeout"
// after PingInterval + PingTimeout + a sweep, without waiting for a close
// answer: well before half the CloseTimeout, however busy the machine.
func TestHealthSilentPeerClosed(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		o := healthOptions(m)
		o.CloseTimeout = slowCloseTimeout // the dead peer's answer is not awaited
		e := start(t, viaListener, o)
		start := time.Now() // before the connection's clock starts
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		ev := e.rec.NextClose(t)
		took := time.Since(start)
		if took < o.PingInterval+o.PingTimeout || took > o.CloseTimeout/2 {
			t.Errorf("closed after %v, want about 300-400ms (PingInterval %v + PingTimeout %v), and not after the CloseTimeout %v",
				took, o.PingInterval, o.PingTimeout, o.CloseTimeout)
		}
		if ev.Conn != conn {
			t.Fatal("OnClose for another connection")
		}
		checkCloseError(t, ev.Err, 1001, "ping timeout", transport.ClosedByServer, true)
		select {
		case h := <-e.rec.Health:
			if h.H.OK || h.Conn != conn {
				t.Errorf("OnHealth %+v, want not OK", h.H)
			}
		default:
			t.Error("OnHealth not called before the close")
		}
		// What the client finds: ping(s), then the close, then EOF.
		pings := 0
		for {
			f := c.MustFrame()
			if f.H.OpCode == ws.OpPing {
				pings++
				if len(f.Payload) != 8 {
					t.Errorf("ping payload %d bytes", len(f.Payload))
				}
				continue
			}
			if f.H.OpCode != ws.OpClose {
				t.Fatalf("unexpected %v", f.H.OpCode)
			}
			if code, reason := wstest.ParseClose(f.Payload); code != 1001 || reason != "ping timeout" {
				t.Errorf("close %d %q", code, reason)
			}
			break
		}
		if pings != 1 {
			t.Errorf("%d pings before the close, want 1", pings)
		}
		c.ExpectEOF(o.CloseTimeout / 2)
	})
}

// A peer that answers pings stays open; OnHealth reports OK with an RTT.
// The PingTimeout leaves a loaded machine time to answer; the peer is
// watched for more than twice PingInterval + PingTimeout, so a server that
// ignored its pongs would close it meanwhile.
func TestHealthAnsweringPeerStaysOpen(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		o := healthOptions(m)
		o.PingTimeout = time.Second
		watch := 2*(o.PingInterval+o.PingTimeout) + 300*time.Millisecond
		e := start(t, viaListener, o)
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		var pings atomic.Int32
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				f, err := c.ReadFrame(ioTimeout)
				if err != nil {
					return
				}
				if f.H.OpCode == ws.OpPing {
					pings.Add(1)
					_, _ = c.NC.Write(wstest.ClientFrame(true, 0, ws.OpPong, f.Payload))
				}
			}
		}()
		e.rec.NoClose(t, watch)
		close(stop)
		if !wstest.IsOpen(conn) {
			t.Fatal("connection closed")
		}
		// More than one ping: each answer made the server ping again.
		if n := pings.Load(); n < 2 {
			t.Errorf("%d pings in %v with PingInterval %v", n, watch, o.PingInterval)
		}
		oks := 0
		for len(e.rec.Health) > 0 {
			h := <-e.rec.Health
			if !h.H.OK || h.H.RTT <= 0 || h.H.RTT > o.PingTimeout {
				t.Errorf("OnHealth %+v", h.H)
			}
			oks++
		}
		if oks < 2 {
			t.Errorf("%d OK health reports", oks)
		}
		// Still usable.
		c.SendClose(1000, "")
		wstest.Recv(t, done, "the reader")
	})
}

// Pongs that answer no ping of ours are ignored (RFC 6455 §5.5.3).
func TestHealthUnsolicitedPong(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, PingInterval: time.Hour, PingTimeout: time.Hour})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		forged := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
		for _, p := range [][]byte{nil, []byte("x"), make([]byte, 8), forged, make([]byte, 125)} {
			c.WriteFrame(ws.OpPong, p)
		}
		c.Text("still fine")
		c.ExpectText("still fine")
		if !wstest.IsOpen(conn) {
			t.Fatal("connection closed by a pong")
		}
		select {
		case h := <-e.rec.Health:
			t.Errorf("OnHealth %+v for an unsolicited pong", h.H)
		case <-time.After(50 * time.Millisecond):
		}
	})
}

// Any data counts as a sign of life: a peer that keeps sending but never
// answers pings stays open.
func TestHealthDataCountsAsAlive(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		var served atomic.Int32
		o := healthOptions(m)
		o.PingTimeout = time.Second // slack for a loaded machine
		o.Accept = acceptAll(transport.HandlerFunc(func(*transport.Conn, transport.MessageType, []byte) { served.Add(1) }))
		e := start(t, viaListener, o)
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		var pings atomic.Int32
		go func() {
			for {
				f, err := c.ReadFrame(ioTimeout)
				if err != nil {
					return
				}
				if f.H.OpCode == ws.OpPing {
					pings.Add(1)
				}
			}
		}()
		// Every 150 ms: longer than PingInterval, so pings go out, shorter
		// than PingTimeout, so each ping is followed by data in time; the
		// client never answers a ping. For more than twice PingInterval +
		// PingTimeout, so that a server that did not count data as a sign
		// of life would close the connection meanwhile.
		deadline := time.Now().Add(2*(o.PingInterval+o.PingTimeout) + 300*time.Millisecond)
		for time.Now().Before(deadline) {
			c.Text("tick")
			time.Sleep(150 * time.Millisecond)
		}
		if !wstest.IsOpen(conn) {
			t.Fatalf("closed: %v", conn.CloseError())
		}
		if pings.Load() == 0 {
			t.Error("no pings were sent: the test proved nothing")
		}
		if served.Load() < 5 {
			t.Errorf("handler served %d messages", served.Load())
		}
		for len(e.rec.Health) > 0 {
			if h := <-e.rec.Health; !h.H.OK {
				t.Errorf("OnHealth not OK for a live peer")
			}
		}
	})
}

// A negative PingInterval disables health checks: a silent peer stays.
func TestHealthDisabled(t *testing.T) {
	e := start(t, viaListener, transport.Options{PingInterval: -1, PingTimeout: 50 * time.Millisecond})
	c := wstest.Dial(t, e.addr)
	conn := e.rec.NextOpen(t)
	_, err := c.ReadFrame(400 * time.Millisecond)
	if !wstest.IsTimeout(err) {
		t.Fatalf("got a frame or error %v, want silence", err)
	}
	if !wstest.IsOpen(conn) {
		t.Fatal("closed")
	}
}

// The ping timeout error is reported as the close's cause.
func TestHealthTimeoutCause(t *testing.T) {
	e := start(t, viaListener, healthOptions(readModes[0]))
	wstest.Dial(t, e.addr)
	ev := e.rec.NextClose(t)
	if ev.Err.Err == nil || !strings.Contains(ev.Err.Err.Error(), "PingTimeout") {
		t.Errorf("cause %v", ev.Err.Err)
	}
	var ce *transport.CloseError
	if !errors.As(error(ev.Err), &ce) {
		t.Error("not a *CloseError")
	}
}

// A peer that stops in the middle of a frame cannot answer pings (a pong
// cannot be put inside a frame), so the health check ends the connection;
// the partial frame is never resumed, whatever arrives later.
func TestHealthStallMidFrameIsFatal(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		o := healthOptions(m)
		o.CloseTimeout = slowCloseTimeout
		e := start(t, viaListener, o)
		c := wstest.Dial(t, e.addr)
		e.rec.NextOpen(t)
		whole := wstest.ClientFrame(true, 0, ws.OpText, []byte(strings.Repeat("x", 100)))
		c.Write(whole[:40]) // header and part of the payload, then silence
		start := time.Now()
		ev := e.rec.NextClose(t)
		if took := time.Since(start); took > o.CloseTimeout/2 {
			t.Errorf("stalled peer closed after %v, want about 300-400ms, and not after the CloseTimeout %v", took, o.CloseTimeout)
		}
		if ev.Err.Code != transport.CloseGoingAway || ev.Err.Reason != "ping timeout" {
			t.Errorf("close %d %q, want 1001 ping timeout", ev.Err.Code, ev.Err.Reason)
		}
		// The rest of the frame arriving now changes nothing: what the
		// client reads is pings, the close and the end, never an echo.
		_, _ = c.NC.Write(whole[40:])
		for {
			f, err := c.ReadFrame(time.Second)
			if err != nil {
				break
			}
			if f.H.OpCode == ws.OpText {
				t.Fatalf("the stalled frame was resumed and echoed: %q", f.Payload)
			}
		}
	})
}
