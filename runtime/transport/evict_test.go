package transport_test

// Evicting a slow consumer (MaxQueuedBytes): what was queued is dropped,
// the frame being written is finished, the 1008 close frame follows
// whenever the socket takes it, and TCP closes right after it.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// evictSizes are the payload sizes of evictMessage, in turn: frames of all
// three length encodings, some larger than a queue chunk (64 KiB), most
// not a multiple of anything.
var evictSizes = []int{100, 3000, 70000, 500, 20000, 125, 65536}

// evictMessage is message i: "i:" and padding up to its size.
func evictMessage(i int) []byte {
	n := evictSizes[i%len(evictSizes)]
	b := fmt.Appendf(nil, "%d:", i)
	return append(b, strings.Repeat("x", max(n-len(b), 0))...)
}

// fillUntilEvicted writes numbered messages to conn, whose client does not
// read, until the write that finds the queue full, and returns how many
// were accepted.
func fillUntilEvicted(t *testing.T, conn *transport.Conn) int {
	t.Helper()
	total := 0
	for i := 0; ; i++ {
		msg := evictMessage(i)
		err := conn.WriteMessage(transport.TextMessage, msg)
		if errors.Is(err, transport.ErrSlowConsumer) {
			return i
		}
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if total += len(msg); total > 256<<20 {
			t.Fatal("256 MiB accepted without an eviction")
		}
	}
}

// The client stops reading, is evicted, and reads only later, after
// WriteTimeout has passed: it still gets a prefix of the messages, each
// frame whole, then the 1008 close frame, then EOF, without waiting for
// CloseTimeout.
func TestEvictionDeliversCloseFrame(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		const writeTimeout = 2 * time.Second
		e := start(t, viaListener, transport.Options{
			DisablePoller:  m.disablePoller,
			MaxQueuedBytes: 64 << 10,
			WriteTimeout:   writeTimeout,
			CloseTimeout:   time.Minute,
		})
		c := wstest.Dial(t, e.addr)
		conn := e.rec.NextOpen(t)
		accepted := fillUntilEvicted(t, conn)
		if ce := conn.CloseError(); ce == nil || ce.Code != transport.ClosePolicy {
			t.Fatalf("after the eviction: CloseError %v", ce)
		}
		// Past the write deadline of the writer that was blocked: the
		// eviction's writes are bounded by CloseTimeout.
		time.Sleep(writeTimeout + writeTimeout/4)
		got := 0
		for {
			f := c.MustFrame()
			if f.H.OpCode == ws.OpClose {
				if code, reason := wstest.ParseClose(f.Payload); code != 1008 || !strings.Contains(reason, "slow consumer") {
					t.Fatalf("close %d %q, want 1008 slow consumer", code, reason)
				}
				break
			}
			if want := evictMessage(got); f.H.OpCode != ws.OpText || string(f.Payload) != string(want) {
				i, _, _ := strings.Cut(string(f.Payload[:min(len(f.Payload), 12)]), ":")
				t.Fatalf("frame %d: %v of %d bytes, message %s; want message %d of %d bytes", got, f.H.OpCode, len(f.Payload), strconv.Quote(i), got, len(want))
			}
			got++
		}
		// None at all is right when the writer had not started on any of
		// them (a loaded machine can keep it from running before the
		// eviction): what was not started is dropped, whole.
		if got > accepted {
			t.Errorf("got %d messages before the close frame; %d were accepted", got, accepted)
		}
		c.ExpectEOF(2 * time.Second)
		ev := e.rec.NextClose(t)
		if ev.Err.Code != 1008 || ev.Err.Initiator != transport.ClosedByServer || !errors.Is(ev.Err, transport.ErrSlowConsumer) {
			t.Errorf("OnClose %v, want 1008 by server caused by ErrSlowConsumer", ev.Err)
		}
	})
}
