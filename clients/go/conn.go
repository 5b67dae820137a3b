package duplexclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// conn is one WebSocket connection of a client, from its handshake until
// it is lost. Its read loop (serve) runs on the client's run goroutine;
// watch, on a goroutine of its own, keeps the heartbeat.
type conn struct {
	c  *Client
	nc net.Conn
	rd wsutil.Reader
	t0 time.Time

	wmu     sync.Mutex
	closing bool   // a close frame was sent: nothing more is written
	wbuf    []byte // the frame being written, reused

	last atomic.Int64 // time.Since(t0) of the last frame read
	dead atomic.Bool  // watch dropped it for silence
	gone chan struct{}
	kick chan struct{} // the welcome came: watch starts the heartbeat

	// Guarded by c.mu.
	calls    map[int64]*pending
	welcomed bool
	hb       time.Duration // the welcome's heartbeat
	pre      []event       // events before the welcome
}

// closeFrameError is a close frame from the server.
type closeFrameError struct {
	code   int
	reason string
}

func (e *closeFrameError) Error() string { return fmt.Sprintf("close %d %s", e.code, e.reason) }

// dial opens a connection and sends its hello.
func (c *Client) dial() (*conn, error) {
	nc, br, _, err := c.o.Dialer.Dial(c.ctx, c.url)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", c.url, err)
	}
	cn := &conn{c: c, nc: nc, t0: time.Now(), gone: make(chan struct{}), kick: make(chan struct{}, 1), calls: make(map[int64]*pending)}
	var src io.Reader = nc
	if br != nil {
		src = br // frames the server sent right after its handshake
	}
	cn.rd = wsutil.Reader{Source: src, State: ws.StateClientSide, CheckUTF8: true, OnIntermediate: cn.control}
	if c.o.MaxMessageSize > 0 {
		cn.rd.MaxMessageSize = c.o.MaxMessageSize
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		_ = nc.Close()
		return nil, errors.New("client closed")
	}
	c.cur = cn
	hello := []byte(`{"hello":{}}`)
	if c.token != "" {
		hello = append(wire.AppendString([]byte(`{"hello":{"resume":`), c.token), `,"seq":`...)
		hello = append(strconv.AppendInt(hello, c.seq, 10), "}}"...)
	}
	c.mu.Unlock()
	if err := cn.write(hello); err != nil {
		_ = nc.Close()
		return cn, fmt.Errorf("send hello: %w", err)
	}
	return cn, nil
}

// write sends one text frame whose payload is the parts, one after the
// other; it fails once a close frame was sent.
func (cn *conn) write(parts ...[]byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if cn.closing {
		return net.ErrClosed
	}
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	cn.wbuf = appendClientFrame(cn.wbuf[:0], parts, n)
	_ = cn.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := cn.nc.Write(cn.wbuf)
	if cap(cn.wbuf) > 64<<10 {
		cn.wbuf = nil // a big call's buffer is not kept
	}
	return err
}

// appendClientFrame appends a final, masked text frame (RFC 6455 §5.2,
// §5.3: a client masks every frame with a fresh random key) of n payload
// bytes, the parts, to dst.
func appendClientFrame(dst []byte, parts [][]byte, n int) []byte {
	dst = append(dst, 0x80|byte(ws.OpText))
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	mask := ws.NewMask()
	dst = append(dst, mask[:]...)
	start := len(dst)
	for _, p := range parts {
		dst = append(dst, p...)
	}
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// sendClose sends a close frame (RFC 6455 §5.5.1), once; the connection
// writes nothing after it.
func (cn *conn) sendClose(code ws.StatusCode, reason string) {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if cn.closing {
		return
	}
	cn.closing = true
	_ = cn.nc.SetWriteDeadline(time.Now().Add(closeTimeout))
	_ = wsutil.WriteClientMessage(cn.nc, ws.OpClose, ws.NewCloseFrameBody(code, reason))
}

// control handles a control frame: answers a ping (RFC 6455 §5.5.2),
// ignores a pong, answers a close unless the client sent one first
// (§5.5.1) and returns it as a *closeFrameError.
func (cn *conn) control(h ws.Header, r io.Reader) error {
	p, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	switch h.OpCode {
	case ws.OpPing:
		cn.wmu.Lock()
		defer cn.wmu.Unlock()
		if !cn.closing {
			_ = cn.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
			return wsutil.WriteClientMessage(cn.nc, ws.OpPong, p)
		}
	case ws.OpClose:
		code, reason := ws.StatusNoStatusRcvd, ""
		if len(p) > 0 {
			code, reason = ws.ParseCloseFrameData(p)
		}
		echo := code
		if code == ws.StatusNoStatusRcvd {
			echo = ws.StatusNormalClosure
		}
		cn.sendClose(echo, "")
		return &closeFrameError{code: int(code), reason: reason}
	}
	return nil
}

// next returns the next text message.
func (cn *conn) next() ([]byte, error) {
	for {
		h, err := cn.rd.NextFrame()
		if err != nil {
			return nil, err
		}
		if h.OpCode.IsControl() {
			if err := cn.control(h, &cn.rd); err != nil {
				return nil, err
			}
			continue
		}
		if h.OpCode != ws.OpText {
			// Servers of v1 send text only; skip anything else.
			if err := cn.rd.Discard(); err != nil {
				return nil, err
			}
			continue
		}
		return io.ReadAll(&cn.rd)
	}
}

// serve reads the connection until it is lost and returns how it ended.
func (cn *conn) serve() CloseInfo {
	go cn.watch()
	defer close(cn.gone)
	defer cn.nc.Close()
	for {
		data, err := cn.next()
		if err != nil {
			var cf *closeFrameError
			switch {
			case errors.As(err, &cf):
				return CloseInfo{Code: cf.code, Reason: cf.reason}
			case cn.dead.Load():
				return CloseInfo{Code: CloseDead, Reason: "timeout"}
			case errors.Is(err, wsutil.ErrMessageTooLarge), errors.Is(err, wsutil.ErrFrameTooLarge):
				cn.sendClose(ws.StatusMessageTooBig, "message too big")
				return CloseInfo{Code: int(ws.StatusMessageTooBig), Reason: "message too big", Err: err}
			}
			return CloseInfo{Code: int(ws.StatusAbnormalClosure), Err: err}
		}
		cn.last.Store(int64(time.Since(cn.t0)))
		cn.c.recv(cn, data)
	}
}

// watch keeps the heartbeat (see the package doc): a ping after the
// welcome's heartbeat interval of silence, and the connection dropped
// with CloseDead after PingTimeout more, or PingTimeout of silence before
// the welcome.
func (cn *conn) watch() {
	c := cn.c
	pt := int64(c.o.PingTimeout)
	t := time.NewTimer(c.o.PingTimeout)
	defer t.Stop()
	var pingAt int64 // time.Since(t0) of the outstanding ping; 0: none
	var n int64
	for {
		select {
		case <-cn.gone:
			return
		case <-t.C:
		case <-cn.kick:
			t.Stop() // no stale tick to drain since Go 1.23
		}
		now, last := int64(time.Since(cn.t0)), cn.last.Load()
		c.mu.Lock()
		hb := int64(cn.hb)
		if !cn.welcomed {
			hb = 0
		}
		c.mu.Unlock()
		if pingAt != 0 && last >= pingAt {
			pingAt = 0 // heard from since the ping
		}
		if pingAt != 0 || hb == 0 {
			base := last
			if pingAt != 0 {
				base = pingAt
			}
			if now >= base+pt {
				cn.dead.Store(true)
				cn.sendClose(CloseDead, "timeout")
				_ = cn.nc.Close()
				return
			}
			wait := base + pt - now
			if hb > 0 {
				wait = min(wait, hb) // a frame may come first: look again then
			}
			t.Reset(time.Duration(wait))
			continue
		}
		if now >= last+hb {
			n++
			_ = cn.write(append(strconv.AppendInt([]byte(`{"ping":`), n, 10), '}'))
			pingAt = max(now, 1)
			t.Reset(time.Duration(min(pt, hb)))
			continue
		}
		t.Reset(time.Duration(last + hb - now))
	}
}

// fail settles every call in flight on cn with err; c.mu is held. lost:
// the connection was lost, and idempotent calls go again.
func (cn *conn) fail(err error, lost bool) {
	if !lost {
		if ce, ok := err.(*ClosedError); ok {
			err = &Error{Code: CodeDisconnected, Message: ce.Error(), Err: ce}
		}
	}
	for id, p := range cn.calls {
		p.ch <- reply{err: err, lost: lost}
		delete(cn.calls, id)
	}
}

// event is an event envelope.
type event struct {
	name string
	seq  int64
	data []byte
}

// welcome is the server's welcome.
type welcome struct {
	session, resume, reason string
	resumed                 bool
	heartbeat               int64
}

// envelope is a frame from the server; null members count as absent.
type envelope struct {
	hasID   bool
	id      int64
	result  []byte
	err     *Error
	ev      *event
	welcome *welcome
}

// parse reads a server frame. Members it does not know are skipped.
func parse(data []byte) (envelope, error) {
	var (
		env envelope
		d   wire.Decoder
		ev  event
		has bool
	)
	d.Reset(data, "")
	err := d.Object(func(key []byte) error {
		if d.Null() {
			return nil
		}
		var err error
		switch string(key) {
		case "id":
			env.id, err = d.Int()
			env.hasID = err == nil
		case "result":
			env.result, err = d.Raw()
		case "error":
			env.err = &Error{}
			err = d.Object(func(k []byte) error {
				var err error
				switch string(k) {
				case "code":
					env.err.Code, err = d.String()
				case "message":
					env.err.Message, err = d.String()
				default:
					err = d.Skip()
				}
				return err
			})
		case "event":
			ev.name, err = d.String()
			has = true
		case "seq":
			ev.seq, err = d.Int()
		case "data":
			ev.data, err = d.Raw()
		case "welcome":
			w := &welcome{}
			env.welcome = w
			err = d.Object(func(k []byte) error {
				if d.Null() {
					return nil
				}
				var err error
				switch string(k) {
				case "session":
					w.session, err = d.String()
				case "resume":
					w.resume, err = d.String()
				case "resumed":
					w.resumed, err = d.Bool()
				case "reason":
					w.reason, err = d.String()
				case "heartbeat":
					w.heartbeat, err = d.Int()
				default:
					err = d.Skip()
				}
				return err
			})
		default:
			err = d.Skip()
		}
		return err
	})
	if err == nil {
		err = d.End()
	}
	if has {
		env.ev = &ev
	}
	return env, err
}

// recv handles a frame of cn.
func (c *Client) recv(cn *conn, data []byte) {
	env, err := parse(data)
	if err != nil {
		return // not a v1 frame: ignored, as the TypeScript client does
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ended || c.cur != cn {
		return
	}
	switch {
	case env.welcome != nil:
		w := env.welcome
		fresh := !w.resumed
		restart := fresh && c.session != "" // had a session, lost it
		c.session, c.token = w.session, w.resume
		cn.hb = DefaultHeartbeat
		if w.heartbeat > 0 {
			cn.hb = time.Duration(w.heartbeat) * time.Millisecond
		}
		cn.welcomed = true
		select {
		case cn.kick <- struct{}{}:
		default:
		}
		pre := cn.pre
		cn.pre = nil
		if fresh {
			c.seq = 0
		}
		c.setState(StateOpen)
		if fn := c.o.OnStartOver; restart && fn != nil {
			reason := w.reason
			if reason == "" {
				reason = "restarted"
			}
			c.ev.post(item{fn: func() { fn(reason) }})
		}
		if fresh {
			for _, e := range pre {
				c.event(e)
			}
		}
	case env.hasID:
		p := cn.calls[env.id]
		if p == nil {
			return // cancelled, or not ours
		}
		delete(cn.calls, env.id)
		if env.err != nil {
			p.ch <- reply{err: env.err}
		} else {
			p.ch <- reply{result: env.result}
		}
	case env.ev != nil:
		if !cn.welcomed {
			cn.pre = append(cn.pre, *env.ev)
		} else {
			c.event(*env.ev)
		}
	}
}

// event hands an event of the current session to the dispatcher, once:
// seqs at or below the last one processed are repeats; c.mu is held.
func (c *Client) event(e event) {
	if e.seq <= c.seq {
		return
	}
	c.seq = e.seq
	c.ev.post(item{event: e.name, data: e.data})
}
