package transport_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// corkedMessage is message i of a burst, n bytes long, its number first so
// that a mangled or reordered message shows.
func corkedMessage(i, n int) string {
	s := fmt.Sprintf("%04d:", i)
	return s + strings.Repeat(string(rune('a'+i%26)), n-len(s))
}

// writeCorked queues the messages of sizes corked on conn.
func writeCorked(t *testing.T, conn *transport.Conn, sizes []int) {
	t.Helper()
	for i, n := range sizes {
		if err := conn.WriteMessageCorked(transport.TextMessage, []byte(corkedMessage(i, n))); err != nil {
			t.Fatalf("WriteMessageCorked %d: %v", i, err)
		}
	}
}

// idleWriter returns conn once no writer runs (the one that wrote the
// pong of the client's Sync may still be looking for more): a running
// writer takes corked messages along.
func idleWriter(t *testing.T, conn *transport.Conn) *transport.Conn {
	t.Helper()
	deadline := time.Now().Add(wstest.IOTimeout)
	for transport.Writing(conn) {
		if time.Now().After(deadline) {
			t.Fatal("the writer never finished")
		}
		time.Sleep(time.Millisecond)
	}
	return conn
}

func expectCorked(t *testing.T, c *client, sizes []int) {
	t.Helper()
	for i, n := range sizes {
		c.ExpectText(corkedMessage(i, n))
	}
}

// A burst of corked messages is not written until Uncork, which writes it
// with one system call: 80 messages of 100 bytes, more than the first
// chunk of the queue (a 4 KiB buffer) holds, so the burst spans two
// chunks, written with one writev.
func TestWriteCorkedBurstOneWrite(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e, cl := startCounting(t, transport.Options{DisablePoller: m.disablePoller})
		c := wstest.Dial(t, e.addr)
		conn := idleWriter(t, e.rec.NextOpen(t))
		sizes := make([]int, 80)
		for i := range sizes {
			sizes[i] = 100
		}
		before := cl.Writes()
		writeCorked(t, conn, sizes)
		if n := cl.Writes() - before; n != 0 {
			t.Fatalf("%d writes before Uncork, want none", n)
		}
		if q := transport.QueuedBytes(conn); q < 80*100 {
			t.Fatalf("queue holds %d bytes, want the burst's 8000 and more", q)
		}
		conn.Uncork()
		if n := cl.Writes() - before; n != 1 {
			t.Fatalf("the burst took %d writes, want 1", n)
		}
		expectCorked(t, c, sizes)
		conn.Uncork() // nothing queued: no write
		if n := cl.Writes() - before; n != 1 {
			t.Fatalf("an Uncork with nothing queued wrote: %d writes, want 1", n)
		}
	})
}

// A corked message that does not fit the room left in a chunk is split
// over two chunks (write.go, queueLocked): it arrives whole, in order, in
// the burst's one write. The first message (1000 bytes) makes the first
// chunk, a 4 KiB buffer; the next ones (1500) fill it up to 4006 bytes,
// and the fourth has 90 bytes in the first chunk and the rest in a 72 KiB
// one.
func TestWriteCorkedChunkBoundary(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e, cl := startCounting(t, transport.Options{DisablePoller: m.disablePoller})
		c := wstest.Dial(t, e.addr)
		conn := idleWriter(t, e.rec.NextOpen(t))
		// Frame headers: 4 bytes each (126 < length <= 65535).
		sizes := []int{998, 1498, 1498, 1498, 1498, 100, 10}
		before := cl.Writes()
		writeCorked(t, conn, sizes)
		conn.Uncork()
		if n := cl.Writes() - before; n != 1 {
			t.Fatalf("the burst took %d writes, want 1", n)
		}
		expectCorked(t, c, sizes)
	})
}

// Corked messages go out with the next message written the usual way,
// in order, with it in one write: nothing strands them behind a missing
// Uncork but silence.
func TestWriteCorkedThenWriteMessage(t *testing.T) {
	e, cl := startCounting(t, transport.Options{})
	c := wstest.Dial(t, e.addr)
	conn := idleWriter(t, e.rec.NextOpen(t))
	sizes := []int{10, 20, 30}
	before := cl.Writes()
	writeCorked(t, conn, sizes)
	if err := conn.WriteMessage(transport.TextMessage, []byte("last")); err != nil {
		t.Fatal(err)
	}
	if n := cl.Writes() - before; n != 1 {
		t.Fatalf("%d writes, want 1", n)
	}
	expectCorked(t, c, sizes)
	c.ExpectText("last")
	// And before a close frame.
	writeCorked(t, conn, sizes)
	_ = conn.Close(transport.CloseNormal, "bye")
	expectCorked(t, c, sizes)
	if code, _ := c.ExpectClose(); code != transport.CloseNormal {
		t.Fatalf("close %d, want 1000", code)
	}
}

// Once the queue holds corkLimit bytes (64 KiB by default), a corked
// message starts the writer itself: corking never piles up more than
// that for a connection that reads. Messages larger than a chunk (72 KiB)
// are chunks of their own; everything arrives in order.
func TestWriteCorkedLimit(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e, cl := startCounting(t, transport.Options{DisablePoller: m.disablePoller})
		c := wstest.Dial(t, e.addr)
		conn := idleWriter(t, e.rec.NextOpen(t))
		before := cl.Writes()
		sizes := make([]int, 0, 70)
		for i := range 60 {
			sizes = append(sizes, 1000)
			if err := conn.WriteMessageCorked(transport.TextMessage, []byte(corkedMessage(i, 1000))); err != nil {
				t.Fatal(err)
			}
		}
		if n := cl.Writes() - before; n != 0 {
			t.Fatalf("%d writes after 60 000 bytes corked, want none below the limit", n)
		}
		for i := 60; i < 70; i++ {
			n := 1000
			if i == 65 {
				n = 100 << 10 // a chunk of its own
			}
			sizes = append(sizes, n)
			if err := conn.WriteMessageCorked(transport.TextMessage, []byte(corkedMessage(i, n))); err != nil {
				t.Fatal(err)
			}
		}
		if cl.Writes() == before {
			t.Fatal("no write after 170 KB corked: the limit did not start the writer")
		}
		conn.Uncork()
		expectCorked(t, c, sizes)
	})
}

// Corked writes keep WriteMessage's bound: to a client that stops
// reading, the queue grows past MaxQueuedBytes and the connection is
// evicted with 1008, the write returning ErrSlowConsumer; it never
// blocks.
func TestWriteCorkedSlowConsumer(t *testing.T) {
	e := start(t, viaListener, transport.Options{MaxQueuedBytes: 64 << 10, WriteTimeout: 5 * time.Second})
	_ = wstest.Dial(t, e.addr) // never reads
	conn := e.rec.NextOpen(t)
	msg := make([]byte, 16<<10)
	var err error
	for sent := 0; sent < 1<<30; sent += len(msg) {
		t0 := time.Now()
		err = conn.WriteMessageCorked(transport.BinaryMessage, msg)
		if d := time.Since(t0); d > time.Second { // WriteTimeout is 5s: a blocked write would take that long
			t.Fatalf("WriteMessageCorked blocked for %v", d)
		}
		if err != nil {
			break
		}
		conn.Uncork()
	}
	if !errors.Is(err, transport.ErrSlowConsumer) {
		t.Fatalf("WriteMessageCorked = %v, want ErrSlowConsumer", err)
	}
	if err := conn.WriteMessageCorked(transport.BinaryMessage, []byte("x")); !errors.Is(err, transport.ErrClosed) {
		t.Errorf("corked write after the slow-consumer close: %v, want ErrClosed", err)
	}
	conn.Uncork() // harmless after the end
	ev := e.rec.NextClose(t)
	if ev.Err.Code != 1008 || !errors.Is(ev.Err, transport.ErrSlowConsumer) {
		t.Errorf("OnClose %v, want 1008 caused by ErrSlowConsumer", ev.Err)
	}
}

// Corked and plain writes from many goroutines, each uncorking now and
// then and after its last message: every message arrives intact, each
// goroutine's in order, none stranded.
func TestWriteCorkedConcurrent(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{DisablePoller: m.disablePoller, MaxQueuedBytes: 256 << 20})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		const writers, each = 20, 200
		var wg sync.WaitGroup
		for g := range writers {
			wg.Go(func() {
				for i := range each {
					msg := fmt.Appendf(nil, "%d:%d:%s", g, i, strings.Repeat("p", (g*each+i)%700))
					var err error
					if g%4 == 0 {
						err = conn.WriteMessage(transport.TextMessage, msg)
					} else {
						err = conn.WriteMessageCorked(transport.TextMessage, msg)
						if i%(g+1) == 0 {
							conn.Uncork()
						}
					}
					if err != nil {
						t.Error(err)
						return
					}
				}
				conn.Uncork()
			})
		}
		next := make([]int, writers)
		for range writers * each {
			f := c.NextData()
			parts := strings.SplitN(string(f.Payload), ":", 3)
			g, _ := strconv.Atoi(parts[0])
			i, _ := strconv.Atoi(parts[1])
			if len(parts) != 3 || g < 0 || g >= writers || i != next[g] || len(parts[2]) != (g*each+i)%700 {
				t.Fatalf("message %q, want %d:%d", f.Payload[:min(len(f.Payload), 20)], g, next[g])
			}
			next[g]++
		}
		wg.Wait()
	})
}
