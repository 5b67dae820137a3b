package chat_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

// cutEngine is a node's engine that a test cuts off: from then on the
// node writes, takes and claims nothing, as if it had died (its process
// killed) while its clients' connections stay open. noWrites cuts off the
// writes of session records only.
type cutEngine struct {
	runtime.Engine
	cut, noWrites atomic.Bool
}

var errCut = errors.New("engine cut off")

func (e *cutEngine) SaveSession(ctx context.Context, key string, st runtime.SessionState) error {
	if e.cut.Load() || e.noWrites.Load() {
		return errCut
	}
	return e.Engine.SaveSession(ctx, key, st)
}

func (e *cutEngine) UpdateSession(ctx context.Context, key string, st runtime.SessionState) error {
	if e.cut.Load() || e.noWrites.Load() {
		return errCut
	}
	return e.Engine.UpdateSession(ctx, key, st)
}

func (e *cutEngine) TakeSession(ctx context.Context, key string) (runtime.SessionState, error) {
	if e.cut.Load() {
		return runtime.SessionState{}, errCut
	}
	return e.Engine.TakeSession(ctx, key)
}

func (e *cutEngine) TakeExpiredSessions(ctx context.Context, limit int) ([]runtime.SessionState, error) {
	if e.cut.Load() {
		return nil, errCut
	}
	return e.Engine.TakeExpiredSessions(ctx, limit)
}

func (e *cutEngine) Release(ctx context.Context, group, key, owner string) (bool, error) {
	if e.cut.Load() {
		return false, errCut
	}
	return e.Engine.Release(ctx, group, key, owner)
}

func (e *cutEngine) Publish(ctx context.Context, topic string, payload []byte) (runtime.Position, error) {
	if e.cut.Load() {
		return runtime.Position{}, errCut
	}
	return e.Engine.Publish(ctx, topic, payload)
}

// A user logged in on a node that dies leaves once in the whole cluster:
// the session's record expires one resume window after the node's last
// refresh, one surviving node takes it and runs the room's end hook there,
// which frees the name through the engine's presence and says left to
// everyone on every node, once. The node dies right after the login, before
// the record got the login's attribute: the hook finds the name by its
// claim.
func TestDeadNodeUserLeavesOnce(t *testing.T) {
	const window = 300 * time.Millisecond
	eng := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	dying := &cutEngine{Engine: eng}
	addrA, _ := start(t, runtime.Options{Engine: dying, ResumeWindow: window})
	addrB, srvB := start(t, runtime.Options{Engine: eng.NewNode(), ResumeWindow: window})
	addrC, _ := start(t, runtime.Options{Engine: eng.NewNode(), ResumeWindow: window})
	ann, _ := dial(t, addrA, "", 0)
	onB, _ := dial(t, addrB, "", 0)
	onC, _ := dial(t, addrC, "", 0)
	dying.noWrites.Store(true)
	ann.ok("login", `{"name":"ann"}`)
	for _, c := range []*client{ann, onB, onC} {
		c.event("joined", `{"name":"ann","users":["ann"]}`)
	}
	dying.cut.Store(true)
	for _, c := range []*client{onB, onC} {
		c.event("left", `{"name":"ann","users":[]}`)
	}
	if got := strings.Join(online(t, srvB), ","); got != "" {
		t.Errorf("online %q after ann's node died, want nobody", got)
	}
	// The name is free on every node.
	bob, _ := dial(t, addrC, "", 0)
	bob.ok("login", `{"name":"ann"}`)
	for _, c := range []*client{onB, onC} {
		c.event("joined", `{"name":"ann","users":["ann"]}`)
		if n := leftCount(c, "ann"); n != 0 {
			t.Errorf("%d more left events for ann", n)
		}
	}
}
