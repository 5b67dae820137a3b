package runtime_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/duplexrpc/duplex/runtime"
)

// gatedEngine is a MemoryEngine node whose deliveries wait at a gate
// while it is closed, so that what is published meanwhile queues up and
// comes in one batch once it opens. It records the sizes of the batches.
type gatedEngine struct {
	*runtime.MemoryEngine
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	arrived chan struct{} // a delivery waits at the gate
	batches []int
}

func newGatedEngine() *gatedEngine {
	return &gatedEngine{MemoryEngine: runtime.NewMemoryEngine(runtime.MemoryEngineOptions{}), arrived: make(chan struct{}, 1)}
}

func (g *gatedEngine) Start(ctx context.Context, r runtime.Receiver) error {
	return g.MemoryEngine.Start(ctx, &gatedRecv{g: g, r: r.(runtime.BatchReceiver)})
}

func (g *gatedEngine) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.gate = make(chan struct{})
}

func (g *gatedEngine) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	close(g.gate)
	g.gate = nil
}

func (g *gatedEngine) pass(n int) {
	g.mu.Lock()
	g.batches = append(g.batches, n)
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		select {
		case g.arrived <- struct{}{}:
		default:
		}
		<-gate
	}
}

func (g *gatedEngine) sizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]int(nil), g.batches...)
}

type gatedRecv struct {
	g *gatedEngine
	r runtime.BatchReceiver
}

func (r *gatedRecv) Deliver(ev runtime.Event) { r.g.pass(1); r.r.Deliver(ev) }
func (r *gatedRecv) DeliverBatch(evs []runtime.Event) {
	r.g.pass(len(evs))
	r.r.DeliverBatch(evs)
}
func (r *gatedRecv) Lost(topics []string, err error) { r.r.Lost(topics, err) }

// The events of a batch go out to each connection in one write: with the
// deliveries held while 50 broadcasts are published, the engine hands
// them over in one DeliverBatch, and each client gets them all, in order,
// numbered in sequence, written with one system call (without batches, 50
// each). After the batch, events go on as usual.
func TestDeliverBatchOneWritePerConnection(t *testing.T) {
	eng := newGatedEngine()
	e, cl := startCounting(t, runtime.Options{Handler: newRPCMethods().router, Engine: eng})
	const clients, events = 5, 50
	cs := make([]*client, clients)
	for i := range cs {
		cs[i] = dial(t, e.addr)
		hello(t, cs[i], "", 0)
	}
	eng.close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.srv.Broadcast("e0", nil) // delivers on this goroutine: waits at the gate
	}()
	<-eng.arrived
	for i := 1; i < events; i++ {
		e.srv.Broadcast(fmt.Sprint("e", i), nil) // queued behind e0
	}
	before := cl.Writes()
	eng.open()
	<-done
	for _, c := range cs {
		for i := range events {
			expectEvent(c, fmt.Sprint("e", i), i+1)
		}
	}
	// e0 alone, then the other 49 in one batch: two writes per
	// connection. A writer still finishing the welcome's write may
	// take the first events of a batch along (one write more, at most).
	if n := cl.Writes() - before; n < 2*clients || n > 3*clients {
		t.Errorf("%d writes for %d events to %d connections, want %d (or up to %d); batches %v", n, events, clients, 2*clients, 3*clients, eng.sizes())
	}
	if got := eng.sizes(); len(got) < 2 || got[len(got)-1] != events-1 {
		t.Errorf("batches %v, want the last of %d events", got, events-1)
	}
	// Every connection was uncorked and listed afresh by the next batch.
	e.srv.Broadcast("after", nil)
	for _, c := range cs {
		expectEvent(c, "after", events+1)
	}
}
