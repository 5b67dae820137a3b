package runtime_test

// Evicting a slow consumer (MaxQueuedBytes): what was queued is dropped,
// the frame being written is finished, the 1008 close frame follows
// whenever the socket takes it, and TCP closes right after it.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
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
func fillUntilEvicted(t *testing.T, conn *runtime.Conn) int {
	t.Helper()
	total := 0
	for i := 0; ; i++ {
		msg := evictMessage(i)
		err := conn.WriteMessage(runtime.TextMessage, msg)
		if errors.Is(err, runtime.ErrSlowConsumer) {
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

// A session whose connection was evicted ends with the connection, not
// after the resume window: a client told 1008 does not come back.
func TestEvictionEndsSession(t *testing.T) {
	e := start(t, viaListener, runtime.Options{
		MaxQueuedBytes: 64 << 10,
		WriteTimeout:   time.Minute,
		CloseTimeout:   time.Minute,
		ResumeWindow:   time.Minute,
	})
	c := dial(t, e.addr)
	conn := e.rec.NextOpen(t)
	sess := runtime.SessionOf(conn)
	_ = sess.ResumeToken() // handed out: the session could be resumed
	fillUntilEvicted(t, conn)
	c.ExpectCloseCode(1008)
	c.ExpectEOF(2 * time.Second)
	_ = c.NC.Close()
	if ev := e.rec.NextClose(t); ev.Err.Code != 1008 {
		t.Fatalf("OnClose %v", ev.Err)
	}
	if ended := e.rec.nextSessionEnd(t); ended != sess {
		t.Fatalf("OnSessionEnd for %s, want the evicted connection's session", ended.ID())
	}
}
