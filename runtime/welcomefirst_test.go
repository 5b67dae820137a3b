package runtime_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// stalled is a node's engine whose SaveSession and TakeSession wait, once
// gate is set, until the test opens it, having said that they entered:
// a hello's engine round trips, slowed down.
type stalled struct {
	runtime.Engine
	gate             atomic.Bool
	entered, release chan struct{}
	once             sync.Once
}

func newStalled(e runtime.Engine) *stalled {
	return &stalled{Engine: e, entered: make(chan struct{}), release: make(chan struct{})}
}

func (e *stalled) wait() {
	if e.gate.Load() {
		e.entered <- struct{}{}
		<-e.release
	}
}

func (e *stalled) open() { e.once.Do(func() { e.gate.Store(false); close(e.release) }) }

func (e *stalled) SaveSession(ctx context.Context, key string, st runtime.SessionState) error {
	e.wait()
	return e.Engine.SaveSession(ctx, key, st)
}

func (e *stalled) TakeSession(ctx context.Context, key string) (runtime.SessionState, error) {
	e.wait()
	return e.Engine.TakeSession(ctx, key)
}

// delivered waits until the node of e has been delivered everything
// published before the call.
func delivered(t *testing.T, e runtime.Engine) {
	t.Helper()
	done := make(chan struct{})
	if err := e.Sync(t.Context(), func(runtime.Position) { close(done) }); err != nil {
		t.Fatal(err)
	}
	wstest.Recv(t, done, "the Sync point")
}

// The welcome is the first frame of a connection that said hello, however
// long the hello's engine round trips take while events are published:
// the fresh session's events are held until the welcome, or dropped with
// it when a resume replaced it. Otherwise a resuming client would take the
// fresh session's events, numbered from 1, for its own session's.
func TestWelcomeBeforeEvents(t *testing.T) {
	t.Run("fresh", func(t *testing.T) {
		eng := newStalled(runtime.NewMemoryEngine(runtime.MemoryEngineOptions{}))
		t.Cleanup(eng.open)
		e := start(t, viaListener, runtime.Options{Handler: newRPCMethods().router, Engine: eng, ResumeWindow: time.Hour})
		c := dial(t, e.addr)
		e.rec.NextOpen(t)
		eng.gate.Store(true)
		c.Text(`{"hello":{}}`)
		wstest.Recv(t, eng.entered, "the welcome's record write")
		e.srv.Broadcast("b1", nil)
		delivered(t, eng)
		eng.open()
		readWelcome(t, c)
		expectEvent(c, "b1", 1)
	})
	t.Run("resumed on another node", func(t *testing.T) {
		mem := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
		engB := newStalled(mem.NewNode())
		t.Cleanup(engB.open)
		a := start(t, viaListener, runtime.Options{Handler: newRPCMethods().router, Engine: mem, ResumeWindow: time.Hour})
		b := start(t, viaListener, runtime.Options{Handler: newRPCMethods().router, Engine: engB, ResumeWindow: time.Hour})
		c0 := dial(t, a.addr)
		a.rec.NextOpen(t)
		w := hello(t, c0, "", 0)
		a.srv.Broadcast("b1", nil)
		expectEvent(c0, "b1", 1)
		c0.NC.Close()
		a.rec.NextClose(t)

		c := dial(t, b.addr)
		b.rec.NextOpen(t)
		engB.gate.Store(true)
		c.Text(`{"hello":{"resume":"` + w.Resume + `","seq":1}}`)
		wstest.Recv(t, engB.entered, "the resume's take")
		b.srv.Broadcast("b2", nil)
		delivered(t, engB)
		engB.open()
		if w2 := readWelcome(t, c); !w2.Resumed {
			t.Fatalf("welcome %+v, want resumed", w2)
		}
		expectEvent(c, "b2", 2)
		c.checkUsable(1) // nothing else came
	})
}

// lateSync is a node's engine whose Sync functions wait, while gate is
// set, until open runs them in order: an engine whose Sync returns long
// before its function runs (the Redis engine's marker round trip, slowed
// down). syncs says when Sync is called and saves when SaveSession is.
type lateSync struct {
	runtime.Engine
	mu      sync.Mutex
	gate    bool
	pending []func()
	syncs   chan struct{}
	saves   chan struct{}
}

func (e *lateSync) Sync(ctx context.Context, f func(runtime.Position)) error {
	err := e.Engine.Sync(ctx, func(p runtime.Position) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.gate {
			e.pending = append(e.pending, func() { f(p) })
			return
		}
		f(p)
	})
	e.syncs <- struct{}{}
	return err
}

func (e *lateSync) SaveSession(ctx context.Context, key string, st runtime.SessionState) error {
	e.saves <- struct{}{}
	return e.Engine.SaveSession(ctx, key, st)
}

func (e *lateSync) open() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gate = false
	for _, f := range e.pending {
		f()
	}
	e.pending = nil
}

// The record written at the welcome carries the position of the session's
// opening Sync point, even when the engine runs that point after the
// hello: without it, a client whose node died right after its welcome
// would get "overrun" from a resume on another node, though it missed
// nothing.
func TestRecordWaitsForOpeningSyncPoint(t *testing.T) {
	mem := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	late := &lateSync{Engine: mem, gate: true, syncs: make(chan struct{}, 8), saves: make(chan struct{}, 8)}
	t.Cleanup(late.open)
	a := start(t, viaListener, runtime.Options{Handler: newRPCMethods().router, Engine: late, ResumeWindow: time.Hour})
	b := start(t, viaListener, runtime.Options{Handler: newRPCMethods().router, Engine: mem.NewNode(), ResumeWindow: time.Hour})
	c0 := dial(t, a.addr)
	a.rec.NextOpen(t)
	wstest.Recv(t, late.syncs, "the opening Sync point")
	c0.Text(`{"hello":{}}`)
	// The hello either writes its record at once (without a position) or
	// waits for the opening point behind a Sync of its own.
	select {
	case <-late.syncs:
	case <-late.saves:
	case <-time.After(10 * time.Second):
		t.Fatal("the hello neither wrote its record nor waited for a Sync point")
	}
	late.open()
	w := readWelcome(t, c0)
	a.srv.Kill() // before any refresh or detach rewrites the record

	c := dial(t, b.addr)
	b.rec.NextOpen(t)
	if w2 := hello(t, c, w.Resume, 0); !w2.Resumed {
		t.Fatalf("resume on another node of a session dropped after its welcome: %+v, want resumed", w2)
	}
}
