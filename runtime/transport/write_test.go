package transport_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// WriteMessage from 50 goroutines: every message arrives intact and each
// goroutine's messages arrive in the order it wrote them.
func TestWriteConcurrent(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		// The queue bound is not under test here: the client reads as fast
		// as it can, but 50 writers outrun it.
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, MaxQueuedBytes: 256 << 20})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		const writers, each = 50, 100
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for g := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					// Sizes vary so that frames of all three length encodings
					// are coalesced together.
					pad := strings.Repeat("p", (g*each+i)%300)
					if i%37 == 0 {
						pad = strings.Repeat("P", 70000)
					}
					if err := conn.WriteMessage(transport.TextMessage, fmt.Appendf(nil, "%d:%d:%s", g, i, pad)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		next := make([]int, writers)
		for n := 0; n < writers*each; n++ {
			f := c.NextData()
			parts := strings.SplitN(string(f.Payload), ":", 3)
			if len(parts) != 3 {
				t.Fatalf("mangled message %q", f.Payload[:min(len(f.Payload), 40)])
			}
			g, _ := strconv.Atoi(parts[0])
			i, _ := strconv.Atoi(parts[1])
			if g < 0 || g >= writers || i != next[g] {
				t.Fatalf("goroutine %d: message %d, want %d", g, i, next[g])
			}
			want := (g*each + i) % 300
			if i%37 == 0 {
				want = 70000
			}
			if len(parts[2]) != want {
				t.Fatalf("message %d:%d has %d padding bytes, want %d", g, i, len(parts[2]), want)
			}
			next[g]++
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("WriteMessage: %v", err)
		}
	})
}

// A client that stops reading is disconnected with 1008 once its queue
// passes MaxQueuedBytes; the writer gets ErrSlowConsumer and never
// blocks, and other connections are unaffected.
func TestWriteSlowConsumer(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, MaxQueuedBytes: 64 << 10, WriteTimeout: 5 * time.Second})
		slow := wstest.Dial(t, e.addr)
		slowConn := e.rec.NextOpen(t)
		fast := wstest.Dial(t, e.addr)
		fastConn := e.rec.NextOpen(t)

		msg := make([]byte, 16<<10)
		var err error
		start := time.Now()
		sent := 0
		for time.Since(start) < 10*time.Second && sent < 1<<30 {
			t0 := time.Now()
			err = slowConn.WriteMessage(transport.BinaryMessage, msg)
			if d := time.Since(t0); d > time.Second { // WriteTimeout is 5s: a blocked write would take that long
				t.Fatalf("WriteMessage blocked for %v", d)
			}
			if err != nil {
				break
			}
			sent += len(msg)
			if sent%(1<<20) == 0 {
				// Keep the other connection busy meanwhile.
				if err := fastConn.WriteMessage(transport.TextMessage, []byte("tick")); err != nil {
					t.Fatalf("fast connection: %v", err)
				}
				fast.ExpectText("tick")
			}
		}
		if !errors.Is(err, transport.ErrSlowConsumer) {
			t.Fatalf("after %d bytes: WriteMessage = %v, want ErrSlowConsumer", sent, err)
		}
		if err := slowConn.WriteMessage(transport.BinaryMessage, []byte("x")); !errors.Is(err, transport.ErrClosed) {
			t.Errorf("write after the slow-consumer close: %v, want ErrClosed", err)
		}
		ev := e.rec.NextClose(t)
		if ev.Conn != slowConn {
			t.Fatal("OnClose for the wrong connection")
		}
		if ev.Err.Code != 1008 || ev.Err.Initiator != transport.ClosedByServer || !errors.Is(ev.Err, transport.ErrSlowConsumer) {
			t.Errorf("OnClose %v, want 1008 by server caused by ErrSlowConsumer", ev.Err)
		}
		wstest.WaitDone(t, slowConn, time.Second)
		_ = slow
		for i := range 100 {
			s := fmt.Sprint("after ", i)
			if err := fastConn.WriteMessage(transport.TextMessage, []byte(s)); err != nil {
				t.Fatal(err)
			}
			fast.ExpectText(s)
		}
		fast.Text("echo")
		fast.ExpectText("echo")
	})
}

// A single message larger than MaxQueuedBytes is accepted into an empty
// queue: a message is refused only when the queue holds more than the
// bound already, so a big reply never fails on an idle connection.
func TestWriteLargeMessageIntoEmptyQueue(t *testing.T) {
	e := start(t, viaListener, transport.Options{MaxQueuedBytes: 1024})
	c := wstest.Dial(t, e.addr)
	conn := e.rec.NextOpen(t)
	big := strings.Repeat("b", 100<<10)
	if err := conn.WriteMessage(transport.TextMessage, []byte(big)); err != nil {
		t.Fatalf("WriteMessage: %v", err)
	}
	c.ExpectText(big)
	// Control frames (pongs) never trip the limit.
	c.WriteFrame(ws.OpPing, []byte("p"))
	if f := c.MustFrame(); f.H.OpCode != ws.OpPong {
		t.Fatalf("got %v", f.H.OpCode)
	}
}

// A message larger than MaxQueuedBytes that comes while other messages
// wait in the queue (within the bound) is accepted too, and everything
// arrives, in order, once the client reads.
func TestWriteLargeMessageAfterQueuedWrites(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		const bound = 64 << 10
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, MaxQueuedBytes: bound, WriteTimeout: time.Minute})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		// The client does not read: write until the socket is full and a
		// writer goroutine holds the rest (the queue holds something).
		small := func(i int) []byte { return fmt.Appendf(nil, "%d:%s", i, strings.Repeat("s", 1000)) }
		n := 0
		for transport.QueuedBytes(conn) == 0 {
			if n == 1<<16 {
				t.Fatal("the socket took 64 MiB without filling up")
			}
			if err := conn.WriteMessage(transport.TextMessage, small(n)); err != nil {
				t.Fatalf("message %d: %v", n, err)
			}
			n++
		}
		for range 3 {
			if err := conn.WriteMessage(transport.TextMessage, small(n)); err != nil {
				t.Fatalf("message %d: %v", n, err)
			}
			n++
		}
		if q := transport.QueuedBytes(conn); q > bound {
			t.Fatalf("the queue holds %d bytes, more than the bound (%d), before the large message", q, bound)
		}
		big := strings.Repeat("B", 4*bound)
		if err := conn.WriteMessage(transport.TextMessage, []byte(big)); err != nil {
			t.Fatalf("a message of 4 x MaxQueuedBytes after %d queued bytes: %v", transport.QueuedBytes(conn), err)
		}
		for i := range n {
			c.ExpectText(string(small(i)))
		}
		c.ExpectText(big)
	})
}

// A writer goroutine takes over when the socket is full; once the queue
// is written it exits and the next writes are non-blocking again, however
// long after: its write deadline does not outlive it (a deadline left in
// the past fails every later write).
func TestWriteAfterWriterGoroutine(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		const writeTimeout = time.Second
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, MaxQueuedBytes: 64 << 20, WriteTimeout: writeTimeout})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		msg := strings.Repeat("m", 1<<20)
		n := 0
		for transport.QueuedBytes(conn) == 0 { // until a writer goroutine holds the rest
			if n == 64 {
				t.Fatal("the socket took 64 MiB without filling up")
			}
			if err := conn.WriteMessage(transport.TextMessage, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			n++
		}
		for range n {
			c.ExpectText(msg)
		}
		for transport.QueuedBytes(conn) != 0 {
			time.Sleep(time.Millisecond) // the writer goroutine releases its batch
		}
		time.Sleep(writeTimeout + writeTimeout/4) // past its deadline
		if err := conn.WriteMessage(transport.TextMessage, []byte("later")); err != nil {
			t.Fatal(err)
		}
		c.ExpectText("later")
	})
}

// WriteMessage copies its argument: the caller may reuse the buffer.
func TestWriteCopiesData(t *testing.T) {
	e := start(t, viaListener, transport.Options{})
	c := wstest.Dial(t, e.addr)
	conn := e.rec.NextOpen(t)
	buf := []byte("original")
	for range 50 {
		_ = conn.WriteMessage(transport.BinaryMessage, buf)
		copy(buf, "CLOBBERD")
		copy(buf, "original")
	}
	buf2 := []byte("first")
	_ = conn.WriteMessage(transport.BinaryMessage, buf2)
	copy(buf2, "XXXXX")
	for range 50 {
		if f := c.NextData(); string(f.Payload) != "original" {
			t.Fatalf("got %q", f.Payload)
		}
	}
	if f := c.NextData(); string(f.Payload) != "first" {
		t.Fatalf("got %q: WriteMessage kept the caller's buffer", f.Payload)
	}
}

// A panicking handler closes its connection with 1011 and reports a
// *PanicError; the server and other connections keep working.
func TestHandlerPanic(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{
			DisablePoller: m.disablePoller,
			Accept: acceptAll(transport.HandlerFunc(func(c *transport.Conn, typ transport.MessageType, data []byte) {
				if string(data) == "boom" {
					panic("kaboom")
				}
				_ = c.WriteMessage(typ, data)
			})),
		})
		bad := wstest.Dial(t, e.addr)
		badConn := e.rec.NextOpen(t)
		good := wstest.Dial(t, e.addr)
		e.rec.NextOpen(t)

		bad.Text("boom")
		bad.ExpectCloseCode(1011)
		bad.SendClose(1011, "")
		bad.ExpectEOF(ioTimeout)
		ce := e.rec.NextError(t)
		var pe *transport.PanicError
		if !errors.As(ce.Err, &pe) || pe.Value != "kaboom" || ce.Conn != badConn {
			t.Errorf("OnError(%v, %v), want *PanicError kaboom for the panicking connection", ce.Conn, ce.Err)
		}
		if pe != nil && !strings.Contains(pe.Error(), "kaboom") {
			t.Errorf("PanicError.Error() = %q", pe.Error())
		}
		ev := e.rec.NextClose(t)
		if ev.Conn != badConn || ev.Err.Code != 1011 || ev.Err.Initiator != transport.ClosedByServer {
			t.Errorf("OnClose %v", ev.Err)
		}
		for i := range 10 {
			s := fmt.Sprint("fine ", i)
			good.Text(s)
			good.ExpectText(s)
		}
		again := wstest.Dial(t, e.addr)
		again.Text("new")
		again.ExpectText("new")
	})
}

// A handler that blocks delays only its own connection's next messages
// (options.go): pushes from other goroutines to that connection still go
// out while it runs.
func TestWriteWhileHandlerBlocks(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		release := make(chan struct{})
		var once sync.Once
		unblock := func() { once.Do(func() { close(release) }) }
		defer unblock()
		entered := make(chan struct{}, 1)
		e := start(t, viaListener, transport.Options{
			DisablePoller: m.disablePoller,
			Accept: acceptAll(transport.HandlerFunc(func(c *transport.Conn, typ transport.MessageType, data []byte) {
				if string(data) == "block" {
					entered <- struct{}{}
					<-release
					return
				}
				_ = c.WriteMessage(typ, data)
			})),
		})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		c.Text("block")
		wstest.Recv(t, entered, "the handler")
		if err := conn.WriteMessage(transport.TextMessage, []byte("push")); err != nil {
			t.Fatal(err)
		}
		f, err := c.ReadFrame(ioTimeout)
		unblock()
		if err != nil {
			t.Fatalf("read.go received, write.go enqueue: while the reader feeds the parser (inRead), enqueue and sendClose "+
				"do not start a writer, so a push from another goroutine (and health pings, and close frames) wait "+
				"until the handler returns: push not delivered within %v while the handler blocked (%v)", ioTimeout, err)
		}
		if f.H.OpCode != ws.OpText || string(f.Payload) != "push" {
			t.Fatalf("got %v %q", f.H.OpCode, f.Payload)
		}
	})
}
