package runtime_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

// TakeExpiredSessions hands each expired record to exactly one of the
// nodes that call it at once, leaves the live ones, and TakeSession of an
// expired record returns it with ErrSessionExpired for its end.
func TestMemoryEngineTakeExpiredSessions(t *testing.T) {
	ctx := t.Context()
	eng := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	past, future := time.Now().Add(-time.Second), time.Now().Add(time.Hour)
	const n = 500
	for i := range n {
		at := past
		if i%5 == 0 {
			at = future
		}
		if err := eng.SaveSession(ctx, fmt.Sprint("k", i), runtime.SessionState{ID: fmt.Sprint(i), ExpiresAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		node := eng.NewNode()
		wg.Go(func() {
			for {
				sts, err := node.TakeExpiredSessions(ctx, 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(sts) > 7 {
					t.Errorf("%d records for a limit of 7", len(sts))
				}
				mu.Lock()
				for _, st := range sts {
					got[st.ID]++
				}
				mu.Unlock()
				if len(sts) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(got) != n-n/5 {
		t.Errorf("%d expired records taken, want %d", len(got), n-n/5)
	}
	for id, k := range got {
		if k != 1 {
			t.Errorf("record %s taken %d times", id, k)
		}
	}
	if _, err := eng.TakeSession(ctx, "k0"); err != nil {
		t.Errorf("live record: %v", err)
	}
	if err := eng.SaveSession(ctx, "old", runtime.SessionState{ID: "old", ExpiresAt: past}); err != nil {
		t.Fatal(err)
	}
	if st, err := eng.TakeSession(ctx, "old"); !errors.Is(err, runtime.ErrSessionExpired) || st.ID != "old" {
		t.Errorf("TakeSession of an expired record: %+v %v, want it with ErrSessionExpired", st, err)
	}
}
