package runtime_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

// welcomeMsg is a decoded welcome frame.
type welcomeMsg struct {
	Session, Resume, Reason string
	Resumed                 bool
	Heartbeat               int64
}

func readWelcome(t *testing.T, c *client) welcomeMsg {
	t.Helper()
	frame := c.reply()
	var w struct{ Welcome *welcomeMsg }
	if err := json.Unmarshal([]byte(frame), &w); err != nil || w.Welcome == nil {
		t.Fatalf("want a welcome, got %s (%v)", frame, err)
	}
	return *w.Welcome
}

// hello starts a client's connection with a hello and returns the welcome.
func hello(t *testing.T, c *client, token string, seq int64) welcomeMsg {
	t.Helper()
	if token == "" {
		c.Text(`{"hello":{}}`)
	} else {
		c.Text(fmt.Sprintf(`{"hello":{"resume":%q,"seq":%d}}`, token, seq))
	}
	return readWelcome(t, c)
}

func TestHelloWelcomesAFreshSession(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{ClientHeartbeat: 7 * time.Second})
	conn := e.rec.NextOpen(t)
	w := hello(t, c, "", 0)
	if w.Session != runtime.SessionOf(conn).ID() || w.Resumed || w.Reason != "" || w.Heartbeat != 7000 {
		t.Errorf("welcome %+v, want session %s, not resumed, heartbeat 7000", w, runtime.SessionOf(conn).ID())
	}
	if !strings.HasPrefix(w.Resume, w.Session+".") || len(w.Resume) < len(w.Session)+40 {
		t.Errorf("resume token %q is not <id>.<secret>", w.Resume)
	}
	c.checkUsable(1)
	noErrors(t, e)
}

// A client that loses its connection and comes back with its token gets
// its session, its attributes and every event it missed, once each, in
// order, and the numbering continues.
func TestHelloResumesWithMissedEvents(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	conn := e.rec.NextOpen(t)
	sess := runtime.SessionOf(conn)
	sess.Set("user", "ada")
	w := hello(t, c, "", 0)
	for _, ev := range []string{"a", "b"} {
		if err := sess.Push(ev, nil); err != nil {
			t.Fatal(err)
		}
	}
	c.expectReply(`{"event":"a","seq":1,"data":{}}`)
	c.expectReply(`{"event":"b","seq":2,"data":{}}`)
	// The client processed a only, then the connection dropped.
	c.NC.Close()
	e.rec.NextClose(t)
	for _, ev := range []string{"c", "d"} {
		if err := sess.Push(ev, nil); err != nil {
			t.Fatalf("Push to a detached session: %v", err)
		}
	}

	c2 := dial(t, e.addr)
	conn2 := e.rec.NextOpen(t)
	fresh := runtime.SessionOf(conn2)
	w2 := hello(t, c2, w.Resume, 1)
	if !w2.Resumed || w2.Session != sess.ID() || w2.Resume == w.Resume {
		t.Fatalf("welcome %+v, want session %s resumed with a new token", w2, sess.ID())
	}
	for i, ev := range []string{"b", "c", "d"} {
		c2.expectReply(fmt.Sprintf(`{"event":%q,"seq":%d,"data":{}}`, ev, i+2))
	}
	if runtime.SessionOf(conn2) != sess {
		t.Error("the connection does not carry the resumed session")
	}
	if v, _ := runtime.SessionOf(conn2).Get("user"); v != "ada" {
		t.Errorf("attribute user = %q after resume", v)
	}
	if ended := e.rec.nextSessionEnd(t); ended != fresh {
		t.Errorf("OnSessionEnd for %s, want the fresh session %s", ended.ID(), fresh.ID())
	}
	if err := sess.Push("e", nil); err != nil {
		t.Fatal(err)
	}
	c2.expectReply(`{"event":"e","seq":5,"data":{}}`)
	c2.checkUsable(1)

	// The old token is spent.
	c2.NC.Close()
	e.rec.NextClose(t)
	c3 := dial(t, e.addr)
	if w3 := hello(t, c3, w.Resume, 5); w3.Resumed || w3.Reason != "unknown" {
		t.Errorf("resume with a spent token: %+v, want unknown", w3)
	}
	c3.checkUsable(1)
}

func TestHelloResumeRefusals(t *testing.T) {
	t.Run("unknown token", func(t *testing.T) {
		m := newRPCMethods()
		e, c := startRPC(t, m, runtime.Options{})
		conn := e.rec.NextOpen(t)
		w := hello(t, c, "00000000-0000-0000-0000-000000000000.nope", 3)
		if w.Resumed || w.Reason != "unknown" || w.Session != runtime.SessionOf(conn).ID() {
			t.Errorf("welcome %+v, want the fresh session and reason unknown", w)
		}
		c.checkUsable(1) // the connection goes on with its fresh session
	})
	t.Run("expired", func(t *testing.T) {
		m := newRPCMethods()
		e, c := startRPC(t, m, runtime.Options{ResumeWindow: 150 * time.Millisecond})
		old := runtime.SessionOf(e.rec.NextOpen(t))
		w := hello(t, c, "", 0)
		c.NC.Close()
		e.rec.NextClose(t)
		if ended := e.rec.nextSessionEnd(t); ended != old {
			t.Fatalf("OnSessionEnd for %s, want %s", ended.ID(), old.ID())
		}
		c2 := dial(t, e.addr)
		if w2 := hello(t, c2, w.Resume, 0); w2.Resumed || w2.Reason != "unknown" && w2.Reason != "expired" {
			t.Errorf("welcome %+v, want a refusal", w2)
		}
	})
	t.Run("expired record still in the store", func(t *testing.T) {
		// A store that keeps records past expiry reports them expired.
		store := runtime.NewMemoryStore()
		m := newRPCMethods()
		e, c := startRPC(t, m, runtime.Options{Store: store, ResumeWindow: time.Hour})
		conn := e.rec.NextOpen(t)
		w := hello(t, c, "", 0)
		c.NC.Close()
		e.rec.NextClose(t)
		// Rewrite the record as expired, as a shared store might hold it.
		rec := runtime.SessionRecord{ID: runtime.SessionOf(conn).ID(), ExpiresAt: time.Now().Add(-time.Second)}
		if err := store.Save(t.Context(), runtime.TokenKey(w.Resume), rec); err != nil {
			t.Fatal(err)
		}
		c2 := dial(t, e.addr)
		if w2 := hello(t, c2, w.Resume, 0); w2.Resumed || w2.Reason != "expired" {
			t.Errorf("welcome %+v, want reason expired", w2)
		}
		if ended := e.rec.nextSessionEnd(t); ended != runtime.SessionOf(conn) {
			t.Errorf("OnSessionEnd for %s, want the expired session", ended.ID())
		}
	})
	t.Run("overrun", func(t *testing.T) {
		m := newRPCMethods()
		e, c := startRPC(t, m, runtime.Options{ReplayBuffer: 2})
		sess := runtime.SessionOf(e.rec.NextOpen(t))
		w := hello(t, c, "", 0)
		c.NC.Close()
		e.rec.NextClose(t)
		for i := range 5 {
			if err := sess.Push(fmt.Sprint("e", i), nil); err != nil {
				t.Fatal(err)
			}
		}
		c2 := dial(t, e.addr)
		fresh := runtime.SessionOf(e.rec.NextOpen(t))
		w2 := hello(t, c2, w.Resume, 1) // needs 2..5, only 4 and 5 are kept
		if w2.Resumed || w2.Reason != "overrun" || w2.Session != fresh.ID() {
			t.Errorf("welcome %+v, want overrun and the fresh session", w2)
		}
		if ended := e.rec.nextSessionEnd(t); ended != sess {
			t.Errorf("OnSessionEnd for %s, want the overrun session", ended.ID())
		}
		c2.checkUsable(1) // no event of the old session reaches it
	})
	t.Run("seq ahead of the server", func(t *testing.T) {
		m := newRPCMethods()
		e, c := startRPC(t, m, runtime.Options{})
		e.rec.NextOpen(t)
		w := hello(t, c, "", 0)
		c.NC.Close()
		e.rec.NextClose(t)
		c2 := dial(t, e.addr)
		if w2 := hello(t, c2, w.Resume, 9); w2.Resumed || w2.Reason != "overrun" {
			t.Errorf("welcome %+v, want overrun", w2)
		}
	})
}

// Nothing is replayed twice: a client that saw everything gets no events.
func TestHelloResumeNothingMissed(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	w := hello(t, c, "", 0)
	_ = sess.Push("a", nil)
	c.expectReply(`{"event":"a","seq":1,"data":{}}`)
	c.NC.Close()
	e.rec.NextClose(t)
	c2 := dial(t, e.addr)
	if w2 := hello(t, c2, w.Resume, 1); !w2.Resumed {
		t.Fatalf("welcome %+v", w2)
	}
	c2.checkUsable(1) // the next frame is the call's answer, not a replay
}

func TestHelloMustComeFirst(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	e.rec.NextOpen(t)
	c.checkUsable(1)
	c.Text(`{"hello":{}}`)
	if reason := c.ExpectCloseCode(runtime.ClosePolicy); reason != "a hello must come before any call, cancel or ping, and only once" {
		t.Errorf("reason %q", reason)
	}
}

func TestHeartbeatPingPong(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"ping":42}`)
	c.expectReply(`{"pong":42}`)
	c.checkUsable(1)
}

// A resume writes its welcome, the events the client missed and those
// held meanwhile in one write, on the session's node and on another one
// (figure i of docs/benchmarks.md: 100 missed events were 101 writes).
func TestResumeOneWrite(t *testing.T) {
	const missed = 100
	for _, where := range []string{"same node", "other node"} {
		t.Run(where, func(t *testing.T) {
			eng := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
			o := runtime.Options{Handler: newRPCMethods().router, Engine: eng, ResumeWindow: time.Minute}
			a, cl := startCounting(t, o)
			b := a
			if where == "other node" {
				o.Engine = eng.NewNode()
				b, cl = startCounting(t, o)
			}
			c := dial(t, a.addr)
			sess := runtime.SessionOf(a.rec.NextOpen(t))
			w := hello(t, c, "", 0)
			c.NC.Close()
			a.rec.NextClose(t)
			for i := range missed {
				if err := sess.Push(fmt.Sprint("m", i), nil); err != nil {
					t.Fatal(err)
				}
			}
			c2 := dial(t, b.addr)
			b.rec.NextOpen(t)
			before := cl.Writes()
			if w2 := hello(t, c2, w.Resume, 0); !w2.Resumed {
				t.Fatalf("welcome %+v, want resumed", w2)
			}
			for i := range missed {
				expectEvent(c2, fmt.Sprint("m", i), i+1)
			}
			if n := cl.Writes() - before; n != 1 {
				t.Errorf("%d writes for a welcome and %d missed events, want 1", n, missed)
			}
			c2.checkUsable(1)
		})
	}
}
