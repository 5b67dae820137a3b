package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// twoNodes starts two servers sharing one MemoryEngine, as two processes
// on one Redis.
func twoNodes(t *testing.T, opts runtime.MemoryEngineOptions, resumeWindow time.Duration) (a, b *env, eng *runtime.MemoryEngine) {
	t.Helper()
	eng = runtime.NewMemoryEngine(opts)
	a = start(t, viaListener, runtime.Options{Handler: newRPCMethods().router, Engine: eng, ResumeWindow: resumeWindow})
	b = start(t, viaListener, runtime.Options{Handler: newRPCMethods().router, Engine: eng.NewNode(), ResumeWindow: resumeWindow})
	return a, b, eng
}

func expectEvent(c *client, name string, seq int) {
	c.T.Helper()
	c.expectReply(fmt.Sprintf(`{"event":%q,"seq":%d,"data":{}}`, name, seq))
}

// A client whose connection to node A dropped resumes its session on node
// B and gets every event it missed, published meanwhile on either node on
// any of its topics (its own, the broadcast topic, a topic it joined),
// exactly once, in order, with the numbers A gave or would have given
// them; then B's live events go on from there. A's copy of the session
// goes away without its end hook: the session lives on, on B.
func TestResumeOnAnotherNode(t *testing.T) {
	a, b, _ := twoNodes(t, runtime.MemoryEngineOptions{}, 300*time.Millisecond)
	ctx := t.Context()
	c := dial(t, a.addr)
	sess := runtime.SessionOf(a.rec.NextOpen(t))
	sess.Set("user", "ada")
	w := hello(t, c, "", 0)
	if err := sess.Join(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	a.srv.Broadcast("b1", nil)
	if err := sess.Push("p1", nil); err != nil {
		t.Fatal(err)
	}
	if err := b.srv.Publish(ctx, "room", "r1", nil); err != nil {
		t.Fatal(err)
	}
	expectEvent(c, "b1", 1)
	expectEvent(c, "p1", 2)
	expectEvent(c, "r1", 3)
	// The client processed b1 only, then the connection dropped.
	c.NC.Close()
	a.rec.NextClose(t)
	b.srv.Broadcast("b2", nil)
	if err := b.srv.Publish(ctx, "room", "r2", nil); err != nil {
		t.Fatal(err)
	}
	if err := sess.Push("p2", nil); err != nil { // A's copy, detached
		t.Fatal(err)
	}
	if err := b.srv.Publish(ctx, "other", "x", nil); err != nil { // not its topic
		t.Fatal(err)
	}

	c2 := dial(t, b.addr)
	connB := b.rec.NextOpen(t)
	fresh := runtime.SessionOf(connB)
	w2 := hello(t, c2, w.Resume, 1)
	if !w2.Resumed || w2.Session != sess.ID() {
		t.Fatalf("welcome %+v, want session %s resumed", w2, sess.ID())
	}
	for i, ev := range []string{"p1", "r1", "b2", "r2", "p2"} {
		expectEvent(c2, ev, i+2)
	}
	if ended := b.rec.nextSessionEnd(t); ended != fresh {
		t.Errorf("OnSessionEnd for %s, want B's fresh session", ended.ID())
	}
	moved := runtime.SessionOf(connB)
	if moved.ID() != sess.ID() || moved == sess {
		t.Fatal("want a new *Session with the same ID on B")
	}
	if v, _ := moved.Get("user"); v != "ada" {
		t.Errorf("attribute user = %q on B", v)
	}
	if got := moved.Topics(); len(got) != 1 || got[0] != "room" {
		t.Errorf("topics on B %q, want [room]", got)
	}
	a.srv.Broadcast("b3", nil)
	expectEvent(c2, "b3", 7)
	if err := a.srv.Publish(ctx, "room", "r3", nil); err != nil {
		t.Fatal(err)
	}
	expectEvent(c2, "r3", 8)
	if err := moved.Push("p3", nil); err != nil {
		t.Fatal(err)
	}
	expectEvent(c2, "p3", 9)
	c2.checkUsable(1)

	// A's copy expires without ending the session, which lives on B.
	select {
	case s := <-a.rec.ended:
		t.Errorf("A ended session %s, resumed on B", s.ID())
	case <-time.After(600 * time.Millisecond):
	}
	// The token is spent on every node.
	c2.NC.Close()
	b.rec.NextClose(t)
	c3 := dial(t, a.addr)
	if w3 := hello(t, c3, w.Resume, 9); w3.Resumed || w3.Reason != "unknown" {
		t.Errorf("resume with a spent token on A: %+v, want unknown", w3)
	}
}

// A node that shuts down saves its sessions in the engine: their clients
// resume on another node and get what was published meanwhile.
func TestResumeAfterNodeShutdown(t *testing.T) {
	a, b, _ := twoNodes(t, runtime.MemoryEngineOptions{}, time.Minute)
	c := dial(t, a.addr)
	sess := runtime.SessionOf(a.rec.NextOpen(t))
	w := hello(t, c, "", 0)
	a.srv.Broadcast("b1", nil)
	expectEvent(c, "b1", 1)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	go func() { c.ExpectCloseCode(runtime.CloseGoingAway); c.SendClose(runtime.CloseGoingAway, "") }()
	if err := a.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	b.srv.Broadcast("b2", nil)
	b.srv.Broadcast("b3", nil)
	c2 := dial(t, b.addr)
	b.rec.NextOpen(t)
	if w2 := hello(t, c2, w.Resume, 1); !w2.Resumed || w2.Session != sess.ID() {
		t.Fatalf("welcome %+v, want session %s resumed", w2, sess.ID())
	}
	expectEvent(c2, "b2", 2)
	expectEvent(c2, "b3", 3)
	c2.checkUsable(1)
}

// A resume on another node that needs events the engine no longer keeps
// is refused (overrun), and so is one whose engine lost its state.
func TestResumeOnAnotherNodeRefused(t *testing.T) {
	t.Run("trimmed", func(t *testing.T) {
		a, b, _ := twoNodes(t, runtime.MemoryEngineOptions{HistoryLen: 2}, time.Minute)
		c := dial(t, a.addr)
		a.rec.NextOpen(t)
		w := hello(t, c, "", 0)
		c.NC.Close()
		a.rec.NextClose(t)
		for i := range 5 {
			b.srv.Broadcast(fmt.Sprint("b", i), nil)
		}
		c2 := dial(t, b.addr)
		fresh := runtime.SessionOf(b.rec.NextOpen(t))
		if w2 := hello(t, c2, w.Resume, 0); w2.Resumed || w2.Reason != "overrun" || w2.Session != fresh.ID() {
			t.Errorf("welcome %+v, want overrun and the fresh session", w2)
		}
		c2.checkUsable(1)
	})
	t.Run("enough kept", func(t *testing.T) {
		a, b, _ := twoNodes(t, runtime.MemoryEngineOptions{HistoryLen: 2}, time.Minute)
		c := dial(t, a.addr)
		a.rec.NextOpen(t)
		w := hello(t, c, "", 0)
		for i := range 3 {
			a.srv.Broadcast(fmt.Sprint("b", i), nil)
			expectEvent(c, fmt.Sprint("b", i), i+1)
		}
		c.NC.Close()
		a.rec.NextClose(t)
		b.srv.Broadcast("b3", nil)
		c2 := dial(t, b.addr)
		b.rec.NextOpen(t)
		if w2 := hello(t, c2, w.Resume, 3); !w2.Resumed {
			t.Fatalf("welcome %+v, want resumed", w2)
		}
		expectEvent(c2, "b3", 4)
	})
	t.Run("wiped", func(t *testing.T) {
		a, b, eng := twoNodes(t, runtime.MemoryEngineOptions{}, time.Minute)
		c := dial(t, a.addr)
		a.rec.NextOpen(t)
		w := hello(t, c, "", 0)
		// A connected client.
		c1 := dial(t, a.addr)
		a.rec.NextOpen(t)
		w1 := hello(t, c1, "", 0)
		c.NC.Close()
		a.rec.NextClose(t)
		a.srv.Broadcast("b1", nil)
		expectEvent(c1, "b1", 1)
		// A claim of the connected session's, and one of nobody's.
		online := a.srv.Presence("online")
		for key, owner := range map[string]string{"ada": w1.Session, "job": "not a session"} {
			if _, won, err := online.Claim(t.Context(), key, owner); !won || err != nil {
				t.Fatalf("claim %s: %v %v", key, won, err)
			}
		}
		eng.Wipe()
		// The node keeps its sessions across the loss (reassert.go):
		// the connected client goes on with the next seq.
		a.srv.Broadcast("b2", nil)
		expectEvent(c1, "b2", 2)
		// The session's claim is made again; nobody's is not.
		deadline := time.Now().Add(10 * time.Second)
		for {
			m, err := b.srv.Presence("online").Members(t.Context())
			if err == nil && len(m) == 1 && m["ada"] == w1.Session {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("presence after Wipe: %v %v, want ada claimed again by %s", m, err, w1.Session)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The detached session numbered b1 for a client that never saw
		// it, and the engine lost it: overrun.
		c2 := dial(t, b.addr)
		b.rec.NextOpen(t)
		if w2 := hello(t, c2, w.Resume, 0); w2.Resumed || w2.Reason != "overrun" {
			t.Errorf("welcome %+v after Wipe, want overrun", w2)
		}
		// The connected one's record is written again in the new epoch
		// (soon after the loss): it resumes on the other node, taking
		// the session over.
		deadline = time.Now().Add(10 * time.Second)
		for {
			c3 := dial(t, b.addr)
			b.rec.NextOpen(t)
			w3 := hello(t, c3, w1.Resume, 2)
			if w3.Resumed {
				if code, _ := c1.ExpectClose(); code != runtime.CloseTakenOver {
					t.Errorf("close %d of the taken-over connection, want 4001", code)
				}
				a.srv.Broadcast("b3", nil)
				expectEvent(c3, "b3", 3)
				break
			}
			if w3.Reason != "unknown" || time.Now().After(deadline) {
				t.Fatalf("welcome %+v after Wipe, want resumed", w3)
			}
			time.Sleep(10 * time.Millisecond)
		}
		// The engine goes on in its new epoch.
		c3 := dial(t, b.addr)
		b.rec.NextOpen(t)
		hello(t, c3, "", 0)
		a.srv.Broadcast("b2", nil)
		expectEvent(c3, "b2", 1)
	})
}

// With the default engine a client resuming on the same node gets what it
// missed when the session's topics changed before its seq, and is refused
// (overrun) when they changed after: those events were numbered with other
// topics.
func TestResumeAcrossJoin(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	w := hello(t, c, "", 0)
	ctx := t.Context()
	if err := sess.Push("p1", nil); err != nil {
		t.Fatal(err)
	}
	expectEvent(c, "p1", 1)
	if err := sess.Join(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if err := sess.Join(ctx, "room"); err != nil { // twice: nothing
		t.Fatal(err)
	}
	if err := e.srv.Publish(ctx, "room", "r1", nil); err != nil {
		t.Fatal(err)
	}
	expectEvent(c, "r1", 2)
	if err := sess.Leave(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Publish(ctx, "room", "r2", nil); err != nil {
		t.Fatal(err)
	}
	e.srv.Broadcast("b1", nil)
	expectEvent(c, "b1", 3) // not r2: it left
	if err := e.srv.Publish(ctx, "duplex.all", "x", nil); err == nil {
		t.Error("Publish on a reserved topic: no error")
	}
	c.NC.Close()
	e.rec.NextClose(t)
	c2 := dial(t, e.addr)
	e.rec.NextOpen(t)
	if w2 := hello(t, c2, w.Resume, 1); w2.Resumed || w2.Reason != "overrun" {
		t.Fatalf("welcome %+v, want overrun: the client's seq is before the leave", w2)
	}
}

// Handlers reach the server through the call's context and the session;
// presence claims are unique across the nodes of one engine.
func TestServerOfAndPresence(t *testing.T) {
	eng := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	m := newRPCMethods()
	got := make(chan *runtime.Server, 1)
	m.router.Handle("server", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		if runtime.ServerOf(ctx) != call.Session.Server() {
			return nil, fmt.Errorf("ServerOf and Session.Server differ")
		}
		got <- runtime.ServerOf(ctx)
		return append(dst, "{}"...), nil
	})
	e, c := startRPC(t, m, runtime.Options{Engine: eng})
	e.rec.NextOpen(t)
	hello(t, c, "", 0)
	c.Text(`{"id":1,"call":"server"}`)
	c.expectReply(`{"id":1,"result":{}}`)
	if s := wstest.Recv(t, got, "the handler's server"); s != e.srv {
		t.Error("ServerOf(ctx) is not the call's server")
	}
	if runtime.ServerOf(t.Context()) != nil {
		t.Error("ServerOf of a context that is no call's: want nil")
	}

	b := start(t, viaListener, runtime.Options{Engine: eng.NewNode()})
	ctx := t.Context()
	pa, pb := e.srv.Presence("online"), b.srv.Presence("online")
	if h, won, err := pa.Claim(ctx, "ada", "s1"); err != nil || !won || h != "s1" {
		t.Fatalf("Claim on A: %q %v %v", h, won, err)
	}
	if h, won, err := pb.Claim(ctx, "ada", "s2"); err != nil || won || h != "s1" {
		t.Fatalf("Claim of a held key on B: %q %v %v, want s1 holding it", h, won, err)
	}
	if members, err := pb.Members(ctx); err != nil || len(members) != 1 || members["ada"] != "s1" {
		t.Fatalf("Members on B: %v %v", members, err)
	}
	if ok, _ := pb.Release(ctx, "ada", "s2"); ok {
		t.Error("Release by a non-holder succeeded")
	}
	if ok, _ := pb.Release(ctx, "ada", "s1"); !ok {
		t.Error("Release by the holder failed")
	}
	if ok, _ := pa.Release(ctx, "ada", "s1"); ok {
		t.Error("second Release succeeded")
	}
}

// takeFails is a node's engine whose TakeSession fails while fail is set,
// as a Redis that does not answer would.
type takeFails struct {
	runtime.Engine
	fail atomic.Bool
}

func (e *takeFails) TakeSession(ctx context.Context, key string) (runtime.SessionState, error) {
	if e.fail.Load() {
		return runtime.SessionState{}, errors.New("engine unreachable")
	}
	return e.Engine.TakeSession(ctx, key)
}

// A resume that the engine fails is not answered "unknown", which would
// make the client start over while its session is intact: the connection
// is closed with 1013 (try again later), the error reported, and the same
// resume works once the engine answers.
func TestResumeEngineFails(t *testing.T) {
	eng := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	nb := &takeFails{Engine: eng.NewNode()}
	a := start(t, viaListener, runtime.Options{Handler: newRPCMethods().router, Engine: eng, ResumeWindow: time.Minute})
	b := start(t, viaListener, runtime.Options{Handler: newRPCMethods().router, Engine: nb, ResumeWindow: time.Minute})
	c := dial(t, a.addr)
	a.rec.NextOpen(t)
	w := hello(t, c, "", 0)
	a.srv.Broadcast("b1", nil)
	expectEvent(c, "b1", 1)
	c.NC.Close()
	a.rec.NextClose(t)

	nb.fail.Store(true)
	c2 := dial(t, b.addr)
	b.rec.NextOpen(t)
	c2.Text(fmt.Sprintf(`{"hello":{"resume":%q,"seq":0}}`, w.Resume))
	c2.ExpectCloseCode(runtime.CloseTryAgainLater)
	if e := b.rec.NextError(t); e.Err == nil || !strings.Contains(e.Err.Error(), "engine unreachable") {
		t.Errorf("reported %v, want the engine's error", e.Err)
	}

	nb.fail.Store(false)
	c3 := dial(t, b.addr)
	b.rec.NextOpen(t)
	if w3 := hello(t, c3, w.Resume, 0); !w3.Resumed {
		t.Fatalf("welcome %+v once the engine answers, want resumed", w3)
	}
	expectEvent(c3, "b1", 1)
}
