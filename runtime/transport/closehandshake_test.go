package transport_test

// The closing handshake over real TCP (RFC 6455 §5.5.1, §7), in both read
// modes. Every test's cleanup also checks that each connection got exactly
// one OnClose.

import (
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// forModes runs f once per read mode (poller, goroutine per connection).
func forModes(t *testing.T, f func(t *testing.T, m readMode)) {
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) { f(t, m) })
	}
}

func checkCloseError(t *testing.T, got *transport.CloseError, code uint16, reason string, by transport.Initiator, wantErr bool) {
	t.Helper()
	if got == nil {
		t.Fatal("nil CloseError")
	}
	if got.Code != code || got.Reason != reason || got.Initiator != by || (got.Err != nil) != wantErr {
		t.Errorf("CloseError %+v (%v), want code %d reason %q by %v err=%v", *got, got, code, reason, by, wantErr)
	}
}

func TestEchoBothModes(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller})
		c := wstest.Dial(t, e.addr)
		big := strings.Repeat("0123456789", 20000) // 200 KB: many reads
		for _, s := range []string{"a", "", "ünïcödé", big} {
			c.Text(s)
			c.ExpectText(s)
		}
		c.WriteFrame(ws.OpBinary, []byte{0, 1, 2})
		if f := c.NextData(); f.H.OpCode != ws.OpBinary || string(f.Payload) != "\x00\x01\x02" {
			t.Fatalf("binary echo: %v %q", f.H.OpCode, f.Payload)
		}
		// A ping is answered with a pong carrying the same payload.
		c.WriteFrame(ws.OpPing, []byte("are you there"))
		f := c.MustFrame()
		if f.H.OpCode != ws.OpPong || string(f.Payload) != "are you there" {
			t.Fatalf("ping answered with %v %q", f.H.OpCode, f.Payload)
		}
		// Byte by byte, frames still parse.
		for _, b := range wstest.ClientFrame(true, 0, ws.OpText, []byte("slowly")) {
			c.Write([]byte{b})
		}
		c.ExpectText("slowly")
	})
}

func TestClientClose(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, CloseTimeout: slowCloseTimeout})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		if conn.CloseError() != nil {
			t.Fatal("CloseError set on an open connection")
		}
		c.SendClose(1000, "bye")
		code, reason := c.ExpectClose()
		if code != 1000 {
			t.Errorf("answer %d %q, want 1000", code, reason)
		}
		c.ExpectEOF(slowCloseTimeout / 2) // at once, not after CloseTimeout
		ev := e.rec.NextClose(t)
		checkCloseError(t, ev.Err, 1000, "bye", transport.ClosedByPeer, false)
		wstest.WaitDone(t, conn, ioTimeout)
		if ce := conn.CloseError(); ce == nil || ce.Code != 1000 {
			t.Errorf("Conn.CloseError() = %v", ce)
		}
		if err := conn.WriteMessage(transport.TextMessage, []byte("late")); !errors.Is(err, transport.ErrClosed) {
			t.Errorf("WriteMessage after close: %v, want ErrClosed", err)
		}
	})
}

func TestClientEmptyClose(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller})
		c := wstest.Dial(t, e.addr)
		c.WriteFrame(ws.OpClose, nil)
		f := c.MustFrame()
		if f.H.OpCode != ws.OpClose || len(f.Payload) != 0 {
			t.Fatalf("answer %v %q, want an empty close", f.H.OpCode, f.Payload)
		}
		c.ExpectEOF(ioTimeout)
		checkCloseError(t, e.rec.NextClose(t).Err, 1005, "", transport.ClosedByPeer, false)
	})
}

// The client closes and immediately closes TCP (or half-closes it): the
// handshake still counts as clean.
func TestClientCloseThenHangUp(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller})
		c := wstest.Dial(t, e.addr)
		c.SendClose(4001, "leaving")
		_ = c.NC.(*net.TCPConn).CloseWrite()
		c.ExpectCloseCode(4001)
		c.ExpectEOF(ioTimeout)
		checkCloseError(t, e.rec.NextClose(t).Err, 4001, "leaving", transport.ClosedByPeer, false)

		c = wstest.Dial(t, e.addr)
		c.SendClose(1000, "")
		c.NC.Close()
		checkCloseError(t, e.rec.NextClose(t).Err, 1000, "", transport.ClosedByPeer, false)
	})
}

func TestClientInvalidClose(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller})
		for _, tt := range []struct {
			name string
			body []byte
			want uint16
		}{
			{"one byte", []byte{3}, 1002},
			{"code 999", wstest.CloseBody(999, ""), 1002},
			{"code 1005", wstest.CloseBody(1005, ""), 1002},
			{"code 1006", wstest.CloseBody(1006, ""), 1002},
			{"code 5000", wstest.CloseBody(5000, ""), 1002},
			{"bad utf-8 reason", wstest.CloseBody(1000, "\xff\xfe"), 1007},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := wstest.Dial(t, e.addr)
				c.WriteFrame(ws.OpClose, tt.body)
				c.ExpectCloseCode(tt.want)
				c.ExpectEOF(ioTimeout)
				checkCloseError(t, e.rec.NextClose(t).Err, tt.want, "invalid close frame", transport.ClosedByServer, false)
			})
		}
	})
}

func TestServerClose(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		// A long CloseTimeout: TCP must close as soon as the answer arrives.
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, CloseTimeout: slowCloseTimeout})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		if err := conn.Close(4000, "x"); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if ce := conn.CloseError(); ce == nil || ce.Code != 4000 {
			t.Errorf("CloseError during the handshake: %v", ce)
		}
		if reason := c.ExpectCloseCode(4000); reason != "x" {
			t.Errorf("reason %q", reason)
		}
		start := time.Now()
		c.SendClose(4000, "")
		c.ExpectEOF(slowCloseTimeout / 2)
		ev := e.rec.NextClose(t)
		if took := ev.At.Sub(start); took > slowCloseTimeout/2 {
			t.Errorf("server closed TCP %v after the answer (CloseTimeout %v)", took, slowCloseTimeout)
		}
		checkCloseError(t, ev.Err, 4000, "x", transport.ClosedByServer, false)
		wstest.WaitDone(t, conn, ioTimeout)
	})
}

// A client that answers a server close with a different code (allowed)
// still completes the handshake; the server's code is what is reported.
func TestServerCloseDifferentAnswer(t *testing.T) {
	e := start(t, viaListener, transport.Options{CloseTimeout: slowCloseTimeout})
	c := wstest.Dial(t, e.addr)
	conn := e.rec.NextOpen(t)
	_ = conn.Close(1000, "done")
	c.ExpectCloseCode(1000)
	c.WriteFrame(ws.OpClose, nil)
	c.ExpectEOF(slowCloseTimeout / 2)
	checkCloseError(t, e.rec.NextClose(t).Err, 1000, "done", transport.ClosedByServer, false)
}

func TestServerCloseTimeout(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, CloseTimeout: 300 * time.Millisecond})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		start := time.Now()
		_ = conn.Close(1000, "bye")
		c.ExpectCloseCode(1000)
		c.ExpectEOF(ioTimeout) // never answered
		if took := time.Since(start); took < 250*time.Millisecond {
			t.Errorf("cut off after %v, before CloseTimeout", took)
		}
		ev := e.rec.NextClose(t)
		checkCloseError(t, ev.Err, 1000, "bye", transport.ClosedByServer, true)
		if !strings.Contains(ev.Err.Err.Error(), "CloseTimeout") {
			t.Errorf("Err %v does not name the close timeout", ev.Err.Err)
		}
	})
}

// Nothing follows the close frame: messages queued before Close go out
// before it, later writes fail with ErrClosed, pings get no pong, and the
// handler sees no more messages.
func TestNothingAfterClose(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		got := make(chan string, 10)
		e := start(t, viaListener, transport.Options{
			DisablePoller: m.disablePoller,
			CloseTimeout:  slowCloseTimeout,
			Accept: acceptAll(transport.HandlerFunc(func(c *transport.Conn, _ transport.MessageType, data []byte) {
				got <- string(data)
			})),
		})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		for _, s := range []string{"one", "two", "three"} {
			if err := conn.WriteMessage(transport.TextMessage, []byte(s)); err != nil {
				t.Fatal(err)
			}
		}
		_ = conn.Close(1001, "away")
		if err := conn.WriteMessage(transport.TextMessage, []byte("late")); !errors.Is(err, transport.ErrClosed) {
			t.Errorf("WriteMessage after Close: %v, want ErrClosed", err)
		}
		if err := conn.Close(4000, "again"); err != nil {
			t.Errorf("second Close: %v", err)
		}
		for _, s := range []string{"one", "two", "three"} {
			c.ExpectText(s)
		}
		c.ExpectCloseCode(1001)
		c.WriteFrame(ws.OpPing, []byte("hello?"))
		c.Text("ignored")
		time.Sleep(100 * time.Millisecond)
		c.SendClose(1001, "")
		c.ExpectEOF(slowCloseTimeout / 2) // no pong, no second close, no waiting
		select {
		case s := <-got:
			t.Errorf("handler got %q after the server's close", s)
		default:
		}
		checkCloseError(t, e.rec.NextClose(t).Err, 1001, "away", transport.ClosedByServer, false)
	})
}

// Codes that may not appear on the wire never do: they become 1011.
func TestCloseUnsendableCodes(t *testing.T) {
	e := start(t, viaListener, transport.Options{})
	for _, code := range []uint16{1004, 1005, 1006, 1010, 1015, 0, 999, 2000, 5000} {
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		_ = conn.Close(code, "r")
		if got := c.ExpectCloseCode(1011); got != "r" {
			t.Errorf("code %d: reason %q", code, got)
		}
		c.SendClose(1011, "")
		c.ExpectEOF(ioTimeout)
		if ev := e.rec.NextClose(t); ev.Err.Code != 1011 {
			t.Errorf("code %d: OnClose reports %d", code, ev.Err.Code)
		}
	}
	// Valid codes pass through; long or broken reasons are cut to a valid
	// 123-byte UTF-8 string.
	for _, tt := range []struct {
		code   uint16
		reason string
	}{{1000, ""}, {1012, "restart"}, {3000, "x"}, {4999, strings.Repeat("€", 60)}, {4000, "bad \xff utf-8"}} {
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		_ = conn.Close(tt.code, tt.reason)
		reason := c.ExpectCloseCode(tt.code)
		if len(reason) > 123 || !utf8.ValidString(reason) || len(tt.reason) <= 123 && utf8.ValidString(tt.reason) && reason != tt.reason {
			t.Errorf("code %d: reason %q", tt.code, reason)
		}
		c.SendClose(tt.code, "")
		c.ExpectEOF(ioTimeout)
		e.rec.NextClose(t)
	}
}

func TestPeerAbruptClose(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller})
		for _, tt := range []struct {
			name string
			end  func(c *client)
		}{
			{"idle FIN", func(c *client) { c.NC.Close() }},
			{"mid-frame FIN", func(c *client) {
				f := wstest.ClientFrame(true, 0, ws.OpText, []byte("never finished"))
				c.Write(f[:len(f)-3])
				c.NC.Close()
			}},
			{"mid-message FIN", func(c *client) {
				c.Write(wstest.ClientFrame(false, 0, ws.OpBinary, []byte("part")))
				c.NC.Close()
			}},
			{"RST", func(c *client) {
				_ = c.NC.(*net.TCPConn).SetLinger(0)
				c.NC.Close()
			}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := wstest.Dial(t, e.addr)
				c.Text("hi")
				c.ExpectText("hi")
				conn := e.rec.NextOpen(t)
				tt.end(c)
				ev := e.rec.NextClose(t)
				if ev.Conn != conn {
					t.Fatal("OnClose for another connection")
				}
				checkCloseError(t, ev.Err, 1006, "", transport.ClosedByPeer, true)
				wstest.WaitDone(t, conn, ioTimeout)
				e.rec.NoClose(t, 50*time.Millisecond)
			})
		}
	})
}

// Protocol violations on the wire close the connection with their code.
func TestProtocolViolationCloses(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, MaxMessageSize: 1000})
		unmasked := wstest.ClientFrame(true, 0, ws.OpText, []byte("hi"))
		unmasked[1] &^= 0x80
		unmasked = append(unmasked[:2], []byte("hi")...)
		for _, tt := range []struct {
			name  string
			bytes []byte
			code  uint16
		}{
			{"unmasked", unmasked, 1002},
			{"rsv1 without deflate", wstest.ClientFrame(true, 4, ws.OpText, []byte("x")), 1002},
			{"reserved opcode", wstest.ClientFrame(true, 0, 0x3, nil), 1002},
			{"invalid utf-8", wstest.ClientFrame(true, 0, ws.OpText, []byte("\xff")), 1007},
			{"too big, header only", wstest.ClientFrame(true, 0, ws.OpBinary, make([]byte, 2000))[:8], 1009},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := wstest.Dial(t, e.addr)
				c.Write(tt.bytes)
				c.ExpectCloseCode(tt.code)
				c.SendClose(tt.code, "")
				c.ExpectEOF(ioTimeout)
				ev := e.rec.NextClose(t)
				if ev.Err.Code != tt.code || ev.Err.Initiator != transport.ClosedByServer {
					t.Errorf("OnClose %v", ev.Err)
				}
			})
		}
	})
}

// The handler may close its own connection.
func TestCloseFromHandler(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{
			DisablePoller: m.disablePoller,
			Accept: acceptAll(transport.HandlerFunc(func(c *transport.Conn, _ transport.MessageType, data []byte) {
				_ = c.WriteMessage(transport.TextMessage, []byte("last words"))
				_ = c.Close(4002, string(data))
			})),
		})
		c := wstest.Dial(t, e.addr)
		c.Text("kick me")
		c.ExpectText("last words")
		if r := c.ExpectCloseCode(4002); r != "kick me" {
			t.Errorf("reason %q", r)
		}
		c.SendClose(4002, "")
		c.ExpectEOF(ioTimeout)
		checkCloseError(t, e.rec.NextClose(t).Err, 4002, "kick me", transport.ClosedByServer, false)
	})
}

// Close and WriteMessage from many goroutines at once: one close frame,
// one OnClose, no data after the close frame.
func TestConcurrentClose(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(2)
			go func() { defer wg.Done(); _ = conn.Close(uint16(4000+i), "") }()
			go func() { defer wg.Done(); _ = conn.WriteMessage(transport.TextMessage, []byte("x")) }()
		}
		wg.Wait()
		closes := 0
		for {
			f := c.MustFrame()
			if f.H.OpCode == ws.OpClose {
				closes++
				break
			}
			if string(f.Payload) != "x" {
				t.Fatalf("unexpected frame %v %q", f.H.OpCode, f.Payload)
			}
		}
		c.SendClose(1000, "")
		c.ExpectEOF(ioTimeout)
		e.rec.NextClose(t)
	})
}
