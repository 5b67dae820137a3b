package redisengine_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/internal/redistest"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// recorder records a node's deliveries and losses in order.
type recorder struct {
	mu   sync.Mutex
	log  []string // "gseq payload" or "lost topics: err"
	errs []error
}

func (r *recorder) Deliver(ev runtime.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, strconv.FormatUint(ev.Pos.GSeq, 10)+" "+string(ev.Payload))
}

func (r *recorder) Lost(topics []string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, "lost "+strings.Join(topics, ",")+": "+err.Error())
	r.errs = append(r.errs, err)
}

// waitFor waits up to 15 s for the log to hold n entries, and returns it.
func (r *recorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.log)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries after 15 s, want %d: %q", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// cluster starts a subscribed node a on topic "t" and a publishing node b.
func cluster(t *testing.T, srv *redistest.Server, opts redisengine.Options) (a, b *redisengine.Engine, r *recorder) {
	t.Helper()
	a, b = newNode(t, srv, opts), newNode(t, srv, opts)
	r = &recorder{}
	if err := a.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := a.Subscribe(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	return a, b, r
}

func publish(t *testing.T, e runtime.Engine, payload string) string {
	t.Helper()
	p, err := e.Publish(context.Background(), "t", []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatUint(p.GSeq, 10) + " " + payload
}

// waitReady waits for the node to report itself ready again.
func waitReady(t *testing.T, e *redisengine.Engine) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for e.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 15 s: %v", e.Ready())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blockReconnects makes nodes stop before reconnecting until the returned
// function is called, and tells on the channel when one does.
func blockReconnects(t *testing.T) (broke <-chan struct{}, release func()) {
	ch, rel := make(chan struct{}, 16), make(chan struct{})
	var once sync.Once
	redisengine.SetReconnectHook(func(*redisengine.Engine) {
		ch <- struct{}{}
		<-rel
	})
	release = func() { once.Do(func() { close(rel) }) }
	t.Cleanup(func() {
		release()
		redisengine.SetReconnectHook(nil) // cleanups run in reverse: after the nodes closed
	})
	return ch, release
}

// A killed pub/sub connection: the node notices, reconnects, and delivers
// the events published while it was disconnected from history, then the
// live ones, each once and in order.
func TestPubSubKilled(t *testing.T) {
	broke, release := blockReconnects(t)
	srv := redistest.Start(t)
	a, b, r := cluster(t, srv, redisengine.Options{})
	want := []string{publish(t, b, "before")}
	r.waitFor(t, 1)
	if err := a.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	srv.Do("CLIENT", "KILL", "TYPE", "pubsub")
	select {
	case <-broke:
	case <-time.After(15 * time.Second):
		t.Fatal("the node did not notice its pub/sub connection was killed")
	}
	if a.Ready() == nil {
		t.Error("Ready reports nil while the pub/sub connection is down")
	}
	for i := range 5 { // no node receives these live
		want = append(want, publish(t, b, "missed"+strconv.Itoa(i)))
	}
	release()
	waitReady(t, a)
	want = append(want, publish(t, b, "after"))
	if got := r.waitFor(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("deliveries %q, want %q", got, want)
	}
}

// A kill without the hook, as in production: delivery resumes by itself.
func TestPubSubKilledRecovers(t *testing.T) {
	srv := redistest.Start(t)
	_, b, r := cluster(t, srv, redisengine.Options{})
	var want []string
	for round := range 3 {
		srv.Do("CLIENT", "KILL", "TYPE", "pubsub")
		for i := range 20 {
			want = append(want, publish(t, b, strconv.Itoa(round)+"."+strconv.Itoa(i)))
		}
	}
	if got := r.waitFor(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("deliveries %q, want %q", got, want)
	}
}

// Events missed while disconnected that the history no longer holds:
// Lost for the topic, then the later events.
func TestPubSubKilledHistoryLost(t *testing.T) {
	broke, release := blockReconnects(t)
	srv := redistest.Start(t)
	a, b, r := cluster(t, srv, redisengine.Options{HistoryLen: 4})
	publish(t, b, "before")
	r.waitFor(t, 1)
	srv.Do("CLIENT", "KILL", "TYPE", "pubsub")
	<-broke
	for i := range 10 {
		publish(t, b, "missed"+strconv.Itoa(i))
	}
	release()
	waitReady(t, a)
	after := publish(t, b, "after")
	got := r.waitFor(t, 3)
	if len(got) != 3 || !strings.HasPrefix(got[1], "lost t: ") || !errors.Is(r.errs[0], runtime.ErrHistoryLost) || got[2] != after {
		t.Fatalf("deliveries %q; want the first event, a loss of t, %q", got, after)
	}
}

// DEBUG SLEEP stalls Redis: publishes wait (within the timeout), and every
// event published is delivered once, in order.
func TestRedisStall(t *testing.T) {
	srv := redistest.Start(t)
	_, b, r := cluster(t, srv, redisengine.Options{})
	var want []string
	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		srv.Do("DEBUG", "SLEEP", "2")
	}()
	for i := range 40 {
		want = append(want, publish(t, b, strconv.Itoa(i)))
		time.Sleep(time.Millisecond)
	}
	<-stalled
	want = append(want, publish(t, b, "after"))
	if got := r.waitFor(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("deliveries %q, want %q", got, want)
	}
}

// A stall longer than the timeout: commands fail within it, the node's
// ping fails and it reconnects; every event published (those whose publish
// timed out may have been too) is delivered once, in order.
func TestRedisStallPastTimeout(t *testing.T) {
	srv := redistest.Start(t)
	a, b, r := cluster(t, srv, redisengine.Options{Timeout: 500 * time.Millisecond})
	before := srv.Do("CLIENT", "LIST", "TYPE", "pubsub")
	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		srv.Do("DEBUG", "SLEEP", "2")
	}()
	var ok []string
	failed := 0
	for i := 0; ; i++ {
		select {
		case <-stalled:
		default:
			start := time.Now()
			p, err := b.Publish(context.Background(), "t", []byte(strconv.Itoa(i)))
			if err != nil {
				failed++
				if took := time.Since(start); took > 2*time.Second {
					t.Errorf("a publish failed after %v, beyond its 500 ms timeout", took)
				}
			} else {
				ok = append(ok, strconv.FormatUint(p.GSeq, 10)+" "+strconv.Itoa(i))
			}
			continue
		}
		break
	}
	if failed == 0 {
		t.Fatal("no publish failed during a 2 s stall with a 500 ms timeout")
	}
	waitReady(t, a)
	if now := srv.Do("CLIENT", "LIST", "TYPE", "pubsub"); clientID(now) == clientID(before) {
		t.Errorf("the node kept its pub/sub connection through a stall past its timeout: %s", now)
	}
	last := publishRetry(t, b, "after")
	ok = append(ok, last)
	deadline := time.Now().Add(15 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.log)
		r.mu.Unlock()
		if len(got) > 0 && got[len(got)-1] == last {
			var prev uint64
			for _, d := range got {
				g, err := strconv.ParseUint(strings.Fields(d)[0], 10, 64)
				if err != nil || g <= prev {
					t.Fatalf("deliveries out of order or not events: %q", got)
				}
				prev = g
			}
			for _, w := range ok {
				if !slices.Contains(got, w) {
					t.Fatalf("published %q not delivered: %q", w, got)
				}
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q not delivered after 15 s: %q", last, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A Redis restarted with its data (SAVE, or an append-only file synced
// on every write; kill -9, start): the node
// reconnects, nothing is lost, and the history reads across the restart.
func TestRedisRestartWithData(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		save bool
	}{
		{"snapshot", nil, true},
		{"append-only file", []string{"--appendonly", "yes", "--appendfsync", "always"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := redistest.Start(t, c.args...)
			a, b, r := cluster(t, srv, redisengine.Options{})
			want := []string{publish(t, b, "1"), publish(t, b, "2")}
			r.waitFor(t, 2)
			first, err := b.History(context.Background(), []string{"t"}, runtime.Position{Epoch: epochOf(t, b), GSeq: 0}, 0, 0)
			if err != nil || len(first) != 2 {
				t.Fatalf("History: %v, %v", first, err)
			}
			if c.save {
				srv.Do("SAVE")
			}
			srv.Restart()
			want = append(want, publishRetry(t, b, "3"))
			waitReady(t, a)
			want = append(want, publishRetry(t, b, "4"))
			if got := r.waitFor(t, len(want)); !slices.Equal(got, want) {
				t.Fatalf("deliveries %q, want %q", got, want)
			}
			evs, err := a.History(context.Background(), []string{"t"}, first[0].Pos, 0, 0)
			if err != nil || len(evs) != 3 {
				t.Fatalf("History across the restart: %v, %v", evs, err)
			}
		})
	}
}

// A Redis restarted without its data: the node reports Lost with
// ErrEpochChanged, History refuses the old positions, and delivery goes
// on in the new epoch.
func TestRedisRestartWithoutData(t *testing.T) {
	srv := redistest.Start(t)
	a, b, r := cluster(t, srv, redisengine.Options{})
	p, err := b.Publish(context.Background(), "t", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, 1)
	srv.Restart()
	after := publishRetry(t, b, "2")
	waitReady(t, a)
	got := r.waitFor(t, 3)
	if !strings.HasPrefix(got[1], "lost : ") || !errors.Is(r.errs[0], runtime.ErrEpochChanged) || got[2] != after || len(got) != 3 {
		t.Fatalf("deliveries %q; want the first event, a loss, %q", got, after)
	}
	if _, err := b.History(context.Background(), []string{"t"}, p, 0, 0); !errors.Is(err, runtime.ErrEpochChanged) {
		t.Fatalf("History after a position of the lost epoch: %v, want ErrEpochChanged", err)
	}
}

// A Redis restarted from an older snapshot, behind what the node
// delivered: the node replaces the epoch and reports Lost with
// ErrEpochChanged, rather than delivering other events at positions it
// delivered already.
func TestRedisRestartBehind(t *testing.T) {
	srv := redistest.Start(t)
	a, b, r := cluster(t, srv, redisengine.Options{})
	p, err := b.Publish(context.Background(), "t", []byte("1"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Do("SAVE")
	want := []string{"1 1", publish(t, b, "2"), publish(t, b, "3")}
	if got := r.waitFor(t, 3); !slices.Equal(got, want) {
		t.Fatalf("deliveries %q, want %q", got, want)
	}
	srv.Restart() // back at gseq 1
	waitReady(t, a)
	after := publishRetry(t, b, "4")
	got := r.waitFor(t, 5)
	if !strings.HasPrefix(got[3], "lost : ") || !errors.Is(r.errs[0], runtime.ErrEpochChanged) || got[4] != after || len(got) != 5 {
		t.Fatalf("deliveries %q; want three, a loss, %q", got, after)
	}
	if _, err := b.History(context.Background(), []string{"t"}, p, 0, 0); !errors.Is(err, runtime.ErrEpochChanged) {
		t.Fatalf("History after a position of the replaced epoch: %v, want ErrEpochChanged", err)
	}
}

// Commands to a Redis that is down fail within the timeout, with the
// transport's error; Ready says so, and recovers with Redis.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	a, b, _ := cluster(t, srv, redisengine.Options{Timeout: time.Second})
	srv.Stop()
	for name, call := range map[string]func() error{
		"Publish": func() error { _, err := b.Publish(context.Background(), "t", []byte("x")); return err },
		"History": func() error {
			_, err := b.History(context.Background(), []string{"t"}, runtime.Position{Epoch: 1}, 0, 0)
			return err
		},
		"Claim":       func() error { _, _, err := b.Claim(context.Background(), "g", "k", "o"); return err },
		"TakeSession": func() error { _, err := b.TakeSession(context.Background(), "k"); return err },
		"Sync":        func() error { return a.Sync(context.Background(), func(runtime.Position) {}) },
	} {
		start := time.Now()
		err := call()
		if took := time.Since(start); err == nil || took > 5*time.Second {
			t.Errorf("%s with Redis down: %v after %v; want an error within the timeout", name, err, took)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for a.Ready() == nil {
		if time.Now().After(deadline) {
			t.Fatal("Ready reports nil with Redis down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Restart()
	waitReady(t, a)
}

// clientID returns the id= field of CLIENT LIST's first line.
func clientID(list string) string {
	for _, f := range strings.Fields(list) {
		if strings.HasPrefix(f, "id=") {
			return f
		}
	}
	return ""
}

func epochOf(t *testing.T, e runtime.Engine) uint64 {
	t.Helper()
	p, err := e.Publish(context.Background(), "epoch-probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	return p.Epoch
}

// publishRetry publishes once Redis answers again after a restart.
func publishRetry(t *testing.T, e runtime.Engine, payload string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		p, err := e.Publish(context.Background(), "t", []byte(payload))
		if err == nil {
			return strconv.FormatUint(p.GSeq, 10) + " " + payload
		}
		if time.Now().After(deadline) {
			t.Fatalf("publish after the restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A Receiver that falls behind by more than the queue's bound: the node
// drops its pub/sub connection, as Redis drops a client whose output
// buffer overflows, and once the Receiver is back it catches up from
// history: every event once, in order.
func TestSlowReceiver(t *testing.T) {
	old := redisengine.SetMaxQueued(8)
	t.Cleanup(func() { redisengine.SetMaxQueued(old) }) // after the nodes closed
	srv := redistest.Start(t)
	a, b := newNode(t, srv, redisengine.Options{}), newNode(t, srv, redisengine.Options{})
	r := &slowRecv{entered: make(chan struct{}), release: make(chan struct{})}
	if err := a.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if err := a.Subscribe(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	before := srv.Do("CLIENT", "LIST", "TYPE", "pubsub")
	want := []string{publish(t, b, "first")}
	<-r.entered // and stays in Deliver
	for i := range 50 {
		want = append(want, publish(t, b, strconv.Itoa(i)))
	}
	close(r.release)
	if got := r.waitFor(t, len(want)); !slices.Equal(got, want) {
		t.Fatalf("deliveries %q, want %q", got, want)
	}
	if now := srv.Do("CLIENT", "LIST", "TYPE", "pubsub"); clientID(now) == clientID(before) {
		t.Errorf("the node kept its pub/sub connection with its queue overflowing: %s", now)
	}
}

// slowRecv blocks in its first Deliver until released.
type slowRecv struct {
	recorder
	once             sync.Once
	entered, release chan struct{}
}

func (r *slowRecv) Deliver(ev runtime.Event) {
	r.once.Do(func() {
		close(r.entered)
		<-r.release
	})
	r.recorder.Deliver(ev)
}
