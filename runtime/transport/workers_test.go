package transport_test

import (
	"sync"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime/transport"
)

type taskFunc func()

func (f taskFunc) Run() { f() }

// Workers that have nothing to do exit once idle for the pool's idle
// timeout, not before, and a pool that is busy again starts new ones.
func TestIdleWorkersExit(t *testing.T) {
	const idle = 200 * time.Millisecond
	e := start(t, viaListener, transport.Options{})
	transport.SetWorkerIdleTimeout(e.srv, idle)
	for round := range 2 {
		const n = 4
		var started, release sync.WaitGroup
		started.Add(n)
		release.Add(1)
		for range n {
			e.srv.Go(taskFunc(func() { started.Done(); release.Wait() }))
		}
		started.Wait()         // n tasks at once: n workers
		idleFrom := time.Now() // no worker is idle before the release
		release.Done()
		for transport.Workers(e.srv) != 0 {
			if time.Since(idleFrom) > 20*time.Second {
				t.Fatalf("round %d: %d workers still live after 20 s idle", round, transport.Workers(e.srv))
			}
			time.Sleep(idle / 10)
		}
		// Only an upper bound on the exit depends on the machine's load.
		if took := time.Since(idleFrom); took < idle {
			t.Errorf("round %d: workers gone %v after going idle, want at least %v", round, took, idle)
		}
	}
}
