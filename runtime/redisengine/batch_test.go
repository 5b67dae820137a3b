package redisengine_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/internal/redistest"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// batchLog is a BatchReceiver that logs its batches and Sync marks, and
// holds its first batch until released.
type batchLog struct {
	entered, release chan struct{}
	once             sync.Once
	mu               sync.Mutex
	log              []string
}

func (r *batchLog) Deliver(ev runtime.Event) { r.DeliverBatch([]runtime.Event{ev}) }

func (r *batchLog) DeliverBatch(evs []runtime.Event) {
	r.once.Do(func() {
		close(r.entered)
		<-r.release
	})
	var b strings.Builder
	for i, ev := range evs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(ev.Payload)
	}
	r.add(b.String())
}

func (r *batchLog) Lost(_ []string, err error) { r.add("lost") }

func (r *batchLog) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, s)
}

func (r *batchLog) wait(t *testing.T, entries int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.log)
		r.mu.Unlock()
		if len(got) >= entries {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("log %q after 10 s, want %d entries", got, entries)
		}
		time.Sleep(time.Millisecond)
	}
}

// To a BatchReceiver, the node hands what queued up behind a busy
// delivery in one DeliverBatch per run of events, cut at Sync points, in
// order; an idle node delivers each event alone, nothing waits for more.
func TestDeliverBatch(t *testing.T) {
	ctx := context.Background()
	srv := redistest.Start(t)
	a := newNode(t, srv, redisengine.Options{})
	b := newNode(t, srv, redisengine.Options{})
	r := &batchLog{entered: make(chan struct{}), release: make(chan struct{})}
	if err := b.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribe(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := a.Publish(ctx, "t", fmt.Append(nil, i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(0, 1)
	<-r.entered // the delivery goroutine holds event 0
	publish(1, 11)
	if err := b.Sync(ctx, func(runtime.Position) { r.add("sync") }); err != nil {
		t.Fatal(err)
	}
	publish(11, 21)
	deadline := time.Now().Add(10 * time.Second)
	for redisengine.Queued(b) < 21 { // 20 events and the Sync marker, on their way from Redis
		if time.Now().After(deadline) {
			t.Fatalf("%d messages queued after 10 s, want 21", redisengine.Queued(b))
		}
		time.Sleep(time.Millisecond)
	}
	close(r.release)
	got := r.wait(t, 4)
	want := []string{"0", "1 2 3 4 5 6 7 8 9 10", "sync", "11 12 13 14 15 16 17 18 19 20"}
	if !slices.Equal(got, want) {
		t.Fatalf("batches %q, want %q", got, want)
	}
	publish(21, 22)
	if got := r.wait(t, 5); got[4] != "21" {
		t.Fatalf("batches %q, want 21 alone last", got)
	}
}
