// Package enginetest is the contract test of runtime.Engine: Run checks an
// engine's nodes against the interface's doc comments (ordering,
// Subscribe and Sync, History's merge, back reads and losses, the epoch,
// claims, session records, Close), with plain Receivers and again with
// BatchReceivers. runtime's tests run it against MemoryEngine,
// runtime/redisengine's against a real Redis.
package enginetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

// Config is what a test needs of the engine's state.
type Config struct {
	// HistoryLen bounds each topic's history; 0 means the engine's
	// default.
	HistoryLen int
}

// NewCluster returns four nodes, not started, of a new engine state
// configured by cfg, and wipe, which discards that state as an engine
// that lost it (a Redis restarted without its data): a new epoch, no
// history, claims or records. It closes the nodes when the test ends.
type NewCluster func(t *testing.T, cfg Config) (nodes []runtime.Engine, wipe func())

// Run runs the contract's tests, each on a new cluster: with the
// Receivers of the tests, then (subtest Batch) with each Receiver seen by
// the engine as a runtime.BatchReceiver (batchView), which checks
// DeliverBatch's rules on top of each test's own.
func Run(t *testing.T, nc NewCluster) {
	runAll(t, nc)
	t.Run("Batch", func(t *testing.T) {
		runAll(t, func(t *testing.T, cfg Config) ([]runtime.Engine, func()) {
			ns, wipe := nc(t, cfg)
			chk := new(batchCheck)
			t.Cleanup(func() {
				if msg := chk.bad.Load(); msg != nil {
					t.Error(*msg)
				}
			})
			out := make([]runtime.Engine, len(ns))
			for i, e := range ns {
				out[i] = batchEngine{Engine: e, chk: chk}
			}
			return out, wipe
		})
	})
}

func runAll(t *testing.T, nc NewCluster) {
	for _, c := range []struct {
		name string
		f    func(*testing.T, NewCluster)
	}{
		{"ClaimOneWinner", testClaimOneWinner},
		{"ClaimRelease", testClaimRelease},
		{"DeliveryOrder", testDeliveryOrder},
		{"ReentrantPublish", testReentrantPublish},
		{"SubscribeSync", testSubscribeSync},
		{"SyncOrder", testSyncOrder},
		{"HistoryMerge", testHistoryMerge},
		{"HistoryLost", testHistoryLost},
		{"Epoch", testEpoch},
		{"TakeSession", testTakeSession},
		{"TakeExpiredSessions", testTakeExpiredSessions},
		{"Lifecycle", testLifecycle},
	} {
		t.Run(c.name, func(t *testing.T) { c.f(t, nc) })
	}
}

// batchEngine is a node whose Receiver the engine sees as a
// runtime.BatchReceiver.
type batchEngine struct {
	runtime.Engine
	chk *batchCheck
}

func (e batchEngine) Start(ctx context.Context, r runtime.Receiver) error {
	if r == nil {
		return e.Engine.Start(ctx, nil)
	}
	return e.Engine.Start(ctx, &batchView{r: r, chk: e.chk})
}

// batchCheck holds the first broken rule of DeliverBatch seen by the
// nodes of a cluster.
type batchCheck struct{ bad atomic.Pointer[string] }

func (c *batchCheck) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	c.bad.CompareAndSwap(nil, &msg)
}

// batchView hands the events of each batch to r, one Deliver each,
// checking that every batch holds at least one event, that events are in
// strictly increasing Pos within and across batches (until a Lost), and
// that the engine delivers in batches only.
type batchView struct {
	r    runtime.Receiver
	chk  *batchCheck
	last uint64 // the delivery path's: one call at a time
}

func (v *batchView) Deliver(ev runtime.Event) {
	v.chk.fail("event %v delivered with Deliver to a BatchReceiver", ev.Pos)
	v.r.Deliver(ev)
}

func (v *batchView) DeliverBatch(evs []runtime.Event) {
	if len(evs) == 0 {
		v.chk.fail("an empty batch")
	}
	for _, ev := range evs {
		if ev.Pos.GSeq <= v.last {
			v.chk.fail("event %v delivered after %d", ev.Pos, v.last)
		}
		v.last = ev.Pos.GSeq
		v.r.Deliver(ev)
	}
}

func (v *batchView) Lost(topics []string, err error) {
	v.last = 0 // a new epoch starts over; a loss of history does not go back
	v.r.Lost(topics, err)
}

// engRecv records what an engine delivers to one node.
type engRecv struct {
	mu     sync.Mutex
	events []runtime.Event
	lost   []error
	// lostAt is how many events had been delivered when each loss came.
	lostAt []int
}

func (r *engRecv) Deliver(ev runtime.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *engRecv) Lost(topics []string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lost = append(r.lost, err)
	r.lostAt = append(r.lostAt, len(r.events))
}

func (r *engRecv) snapshot() []runtime.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// wait returns the events once there are n of them: deliveries may come
// after Publish returns.
func (r *engRecv) wait(t *testing.T, n int) []runtime.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ev := r.snapshot()
		if len(ev) >= n {
			if len(ev) > n {
				t.Fatalf("%d events delivered, want %d", len(ev), n)
			}
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events delivered after 10 s, want %d", len(ev), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func startNode(t *testing.T, e runtime.Engine) *engRecv {
	t.Helper()
	r := &engRecv{}
	if err := e.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return r
}

func mustPublish(t *testing.T, e runtime.Engine, topic, payload string) runtime.Position {
	t.Helper()
	p, err := e.Publish(context.Background(), topic, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustSubscribe(t *testing.T, e runtime.Engine, topics ...string) {
	t.Helper()
	for _, topic := range topics {
		if err := e.Subscribe(context.Background(), topic); err != nil {
			t.Fatal(err)
		}
	}
}

func gseqs(evs []runtime.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Pos.GSeq
	}
	return out
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }

func testClaimOneWinner(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, _ := nc(t, Config{})
	a := ns[0]
	nodes := ns[:3]
	const claimers = 8
	for round := range 300 {
		key := "k" + strconv.Itoa(round)
		var (
			start   = make(chan struct{})
			wg      sync.WaitGroup
			wins    atomic.Int32
			holders [claimers]string
		)
		for i := range claimers {
			wg.Go(func() {
				<-start
				holder, won, err := nodes[i%len(nodes)].Claim(ctx, "online", key, "owner"+strconv.Itoa(i))
				if err != nil {
					t.Error(err)
				}
				if won {
					wins.Add(1)
				}
				holders[i] = holder
			})
		}
		close(start)
		wg.Wait()
		if n := wins.Load(); n != 1 {
			t.Fatalf("round %d: %d claims won, want exactly 1", round, n)
		}
		for i, h := range holders {
			if h != holders[0] {
				t.Fatalf("round %d: claimer %d saw holder %q, claimer 0 saw %q", round, i, h, holders[0])
			}
		}
	}
	m, err := a.Members(ctx, "online")
	if err != nil || len(m) != 300 {
		t.Fatalf("Members: %d members, %v; want 300", len(m), err)
	}
}

func testClaimRelease(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, _ := nc(t, Config{})
	a := ns[0]
	b := ns[1]
	if h, won, err := a.Claim(ctx, "online", "ada", "s1"); h != "s1" || !won || err != nil {
		t.Fatalf("first claim: %q %v %v", h, won, err)
	}
	if h, won, _ := b.Claim(ctx, "online", "ada", "s2"); h != "s1" || won {
		t.Fatalf("claim of a held key: holder %q, won %v; want s1, false", h, won)
	}
	if h, won, _ := b.Claim(ctx, "online", "ada", "s1"); h != "s1" || !won {
		t.Fatalf("repeated claim by the holder: holder %q, won %v; want s1, true", h, won)
	}
	if _, _, err := a.Claim(ctx, "online", "x", ""); err == nil {
		t.Error("a claim with an empty owner succeeded")
	}
	_, _, _ = a.Claim(ctx, "online", "grace", "s3")
	_, _, _ = a.Claim(ctx, "other", "ada", "s9") // groups are separate
	if m, _ := b.Members(ctx, "online"); len(m) != 2 || m["ada"] != "s1" || m["grace"] != "s3" {
		t.Fatalf("Members = %v", m)
	}
	if ok, _ := b.Release(ctx, "online", "ada", "s2"); ok {
		t.Fatal("Release by a non-holder released")
	}
	if ok, _ := b.Release(ctx, "online", "nobody", "s2"); ok {
		t.Fatal("Release of a free key released")
	}
	if ok, _ := b.Release(ctx, "online", "ada", "s1"); !ok {
		t.Fatal("Release by the holder did not release")
	}
	if ok, _ := b.Release(ctx, "online", "ada", "s1"); ok {
		t.Fatal("second Release released again")
	}
	if h, won, _ := b.Claim(ctx, "online", "ada", "s2"); h != "s2" || !won {
		t.Fatalf("claim after release: %q %v", h, won)
	}
	m, _ := a.Members(ctx, "online")
	m["mallory"] = "x" // a snapshot: the caller's to change
	if m2, _ := a.Members(ctx, "online"); len(m2) != 2 || m2["ada"] != "s2" {
		t.Fatalf("Members = %v", m2)
	}
	if m, err := a.Members(ctx, "none"); err != nil || m == nil || len(m) != 0 {
		t.Fatalf("Members of an empty group = %v, %v", m, err)
	}

	// Concurrent releases by the holder and claims by others: the key is
	// never held twice, and the holder's release succeeds once.
	for round := range 200 {
		key := "r" + strconv.Itoa(round)
		_, _, _ = a.Claim(ctx, "g", key, "first")
		var wg sync.WaitGroup
		var released, won atomic.Int32
		for i := range 6 {
			wg.Go(func() {
				if ok, _ := b.Release(ctx, "g", key, "first"); ok {
					released.Add(1)
				}
				if _, ok, _ := a.Claim(ctx, "g", key, "o"+strconv.Itoa(i)); ok {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if released.Load() != 1 || won.Load() != 1 {
			t.Fatalf("round %d: %d releases, %d claims won; want 1 and 1", round, released.Load(), won.Load())
		}
	}
}

// Events of several topics published concurrently from several nodes
// reach every subscribed node in Pos order, each once; nodes with the
// same subscriptions see the same sequence, and a node with fewer sees
// its part of it.
func testDeliveryOrder(t *testing.T, nc NewCluster) {
	ns, _ := nc(t, Config{})
	a := ns[0]
	b, c, pub := ns[1], ns[2], ns[3]
	ra, rb, rc := startNode(t, a), startNode(t, b), startNode(t, c)
	topics := []string{"room1", "room2", "s:1"}
	mustSubscribe(t, a, topics...)
	mustSubscribe(t, b, topics...)
	mustSubscribe(t, c, "room2")
	mustSubscribe(t, c, "room2") // idempotent

	const publishers, each = 4, 250
	var wg sync.WaitGroup
	var mu sync.Mutex
	published := map[uint64]string{} // gseq → topic
	for i := range publishers {
		node := []runtime.Engine{a, b, c, pub}[i]
		wg.Go(func() {
			for j := range each {
				topic := topics[(i+j)%len(topics)]
				p, err := node.Publish(context.Background(), topic, []byte(topic))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				published[p.GSeq] = topic
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(published) != publishers*each {
		t.Fatalf("%d distinct positions for %d publishes", len(published), publishers*each)
	}
	want := make([]uint64, 0, len(published))
	var wantRoom2 []uint64
	for g := range published {
		want = append(want, g)
	}
	slices.Sort(want)
	for _, g := range want {
		if published[g] == "room2" {
			wantRoom2 = append(wantRoom2, g)
		}
	}
	evA, evB := ra.wait(t, len(want)), rb.wait(t, len(want))
	if !slices.Equal(gseqs(evA), want) {
		t.Errorf("node a: deliveries not in Pos order or not each once")
	}
	if !slices.Equal(gseqs(evB), gseqs(evA)) {
		t.Errorf("nodes a and b saw different sequences")
	}
	if got := gseqs(rc.wait(t, len(wantRoom2))); !slices.Equal(got, wantRoom2) {
		t.Errorf("node c (room2 only): %d events, not room2's in Pos order", len(got))
	}
	for _, ev := range evA {
		if ev.Topic != published[ev.Pos.GSeq] || string(ev.Payload) != ev.Topic || ev.Pos.Epoch != evA[0].Pos.Epoch {
			t.Fatalf("event %v: topic %q, payload %q; published on %q", ev.Pos, ev.Topic, ev.Payload, published[ev.Pos.GSeq])
		}
	}
}

// A Receiver may publish; its event is delivered after the current one.
func testReentrantPublish(t *testing.T, nc NewCluster) {
	ns, _ := nc(t, Config{})
	a := ns[0]
	r := &echoRecv{e: a}
	if err := a.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mustSubscribe(t, a, "ping", "pong")
	mustPublish(t, a, "ping", "1")
	got := r.rec.wait(t, 2)
	if got[0].Topic != "ping" || got[1].Topic != "pong" || got[0].Pos.GSeq >= got[1].Pos.GSeq {
		t.Fatalf("got %v", got)
	}
	if r.nested.Load() {
		t.Fatal("the pong was delivered inside the ping's Deliver")
	}
}

// Subscribe takes effect for events published after it; Sync's position
// splits the node's deliveries; Unsubscribe stops later events.
func testSubscribeSync(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, _ := nc(t, Config{})
	a := ns[0]
	b := ns[1]
	if err := b.Sync(ctx, func(runtime.Position) {}); !errors.Is(err, runtime.ErrNotStarted) {
		t.Fatalf("Sync before Start: %v, want ErrNotStarted", err)
	}
	sr := &logRecv{}
	if err := b.Start(ctx, sr); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustPublish(t, a, "t", "before")
	mustSubscribe(t, b, "t")
	q := mustPublish(t, a, "t", "after")
	u := mustPublish(t, a, "u", "elsewhere")
	if err := b.Sync(ctx, func(p runtime.Position) { sr.mark(p) }); err != nil {
		t.Fatal(err)
	}
	r := mustPublish(t, a, "t", "after the sync")
	got := sr.wait(t, 3)
	if got[0] != q.String() || got[1] != "sync "+u.String() || got[2] != r.String() {
		t.Fatalf("deliveries %v; want %v, a sync at %v, %v", got, q, u, r)
	}
	if err := b.Unsubscribe(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, a, "t", "gone")
	if err := b.Unsubscribe(ctx, "t"); err != nil { // not subscribed: nothing to do
		t.Fatal(err)
	}
	_ = b.Sync(ctx, func(p runtime.Position) { sr.mark(p) })
	if got := sr.wait(t, 4); got[3][:5] != "sync " {
		t.Fatalf("delivered after Unsubscribe: %v", got)
	}
}

// Sync's function runs after every event ordered before it on the node's
// topics, and before every later one, under concurrent publishers.
func testSyncOrder(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, _ := nc(t, Config{})
	a := ns[0]
	b := ns[1]
	r := &syncOrderRecv{}
	if err := b.Start(ctx, r); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustSubscribe(t, b, "t1", "t2")
	const syncs = 200
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() {
			for j := range 300 {
				if _, err := a.Publish(ctx, []string{"t1", "t2", "t3"}[(i+j)%3], nil); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range syncs {
			if err := b.Sync(ctx, r.sync); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for r.syncs.Load() < syncs {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d Sync functions ran after 10 s", r.syncs.Load(), syncs)
		}
		time.Sleep(time.Millisecond)
	}
	if msg := r.bad.Load(); msg != nil {
		t.Fatal(*msg)
	}
}

func testHistoryMerge(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, _ := nc(t, Config{})
	a := ns[0]
	b := ns[1]
	start := mustPublish(t, a, "marker", "") // a position before the events
	topics := []string{"t1", "t2", "t3"}
	var all []runtime.Position
	var payloads []string
	for i := range 60 {
		topic := topics[(i*i+i/3)%3] // an irregular interleaving
		if i%7 == 0 {
			mustPublish(t, a, "noise", "n")
		}
		payload := fmt.Sprintf("%s#%d", topic, i)
		all = append(all, mustPublish(t, []runtime.Engine{a, b}[i%2], topic, payload))
		payloads = append(payloads, payload)
	}
	got, err := b.History(ctx, topics, start, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(all) {
		t.Fatalf("History: %d events, want %d", len(got), len(all))
	}
	for i, ev := range got {
		if ev.Pos != all[i] || string(ev.Payload) != payloads[i] {
			t.Fatalf("History[%d] = %v %q, want %v %q", i, ev.Pos, ev.Payload, all[i], payloads[i])
		}
	}
	// From the middle, paged, with a topic listed twice and an unknown one.
	var paged []runtime.Event
	after := all[19]
	for {
		page, err := a.History(ctx, []string{"t3", "t1", "t2", "t1", "unknown"}, after, 0, 7)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page...)
		if len(page) < 7 {
			break
		}
		after = page[len(page)-1].Pos
	}
	if !slices.Equal(gseqs(paged), gseqs(got[20:])) {
		t.Fatalf("paged History after event 19: %v, want %v", gseqs(paged), gseqs(got[20:]))
	}
	// One topic.
	one, _ := a.History(ctx, []string{"t2"}, start, 0, 0)
	for i, ev := range one {
		if ev.Topic != "t2" || i > 0 && ev.Pos.GSeq <= one[i-1].Pos.GSeq {
			t.Fatalf("History of t2: %v", one)
		}
	}
	// After the last event: nothing, and no error.
	if evs, err := a.History(ctx, topics, all[len(all)-1], 0, 0); err != nil || len(evs) != 0 {
		t.Fatalf("History after the last event: %v, %v", evs, err)
	}
	// Back: the last events at or before the position, then those after.
	for _, c := range []struct{ back, limit, from, to int }{
		{10, 5, 20, 35},
		{1, 0, 29, 60},
		{30, 1, 0, 31}, // every event of the topics at or before all[29]
		{0, 0, 30, 60},
	} {
		evs, err := a.History(ctx, topics, all[29], c.back, c.limit)
		if err != nil || !slices.Equal(gseqs(evs), gseqs(got[c.from:c.to])) {
			t.Fatalf("History(back %d, limit %d): %v, %v; want events %d to %d", c.back, c.limit, gseqs(evs), err, c.from, c.to)
		}
	}
	if _, err := a.History(ctx, topics, all[29], 31, 0); !errors.Is(err, runtime.ErrHistoryLost) {
		t.Fatalf("History back past the first event: %v, want ErrHistoryLost", err)
	}
}

func testTakeSession(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, _ := nc(t, Config{})
	a := ns[0]
	b := ns[1]
	if _, err := a.TakeSession(ctx, "none"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Fatalf("TakeSession of a missing key: %v", err)
	}
	attrs := map[string]string{"name": "ada"}
	topics := []string{"room", "s:1"}
	cp := runtime.Checkpoint{Seq: 7, Pos: mustPublish(t, a, "room", "x")}
	st := runtime.SessionState{ID: "id1", Attrs: attrs, ExpiresAt: time.Now().Add(time.Minute), Checkpoint: cp, Topics: topics}
	if err := a.SaveSession(ctx, "k1", st); err != nil {
		t.Fatal(err)
	}
	attrs["name"], topics[0] = "changed", "changed" // the engine keeps its own copy
	got, err := b.TakeSession(ctx, "k1")
	if err != nil || got.ID != "id1" || got.Attrs["name"] != "ada" || got.Checkpoint != cp || !slices.Equal(got.Topics, []string{"room", "s:1"}) {
		t.Fatalf("TakeSession = %+v, %v", got, err)
	}
	if _, err := a.TakeSession(ctx, "k1"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Fatalf("second TakeSession: %v", err)
	}
	_ = a.SaveSession(ctx, "k2", runtime.SessionState{ID: "old", ExpiresAt: time.Now().Add(time.Minute)})
	_ = a.SaveSession(ctx, "k2", runtime.SessionState{ID: "new", ExpiresAt: time.Now().Add(time.Minute)})
	if got, _ := b.TakeSession(ctx, "k2"); got.ID != "new" {
		t.Fatalf("SaveSession did not replace: %q", got.ID)
	}
	// Expiry.
	_ = a.SaveSession(ctx, "k3", runtime.SessionState{ID: "short", ExpiresAt: time.Now().Add(-time.Millisecond)})
	if got, err := b.TakeSession(ctx, "k3"); !errors.Is(err, runtime.ErrSessionExpired) || got.ID != "short" {
		t.Fatalf("TakeSession of an expired record: %+v, %v; want it with ErrSessionExpired (its taker ends it)", got, err)
	}
	if _, err := b.TakeSession(ctx, "k3"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Fatalf("TakeSession after expiry: %v, want ErrSessionNotFound", err)
	}
	// UpdateSession replaces a record that is there, and only then.
	if err := a.UpdateSession(ctx, "absent", runtime.SessionState{ID: "x", ExpiresAt: time.Now().Add(time.Minute)}); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Fatalf("UpdateSession of a missing key: %v, want ErrSessionNotFound", err)
	}
	if _, err := a.TakeSession(ctx, "absent"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Fatalf("UpdateSession created a record: %v", err)
	}
	_ = a.SaveSession(ctx, "k5", runtime.SessionState{ID: "v1", ExpiresAt: time.Now().Add(time.Minute)})
	if err := b.UpdateSession(ctx, "k5", runtime.SessionState{ID: "v2", ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.TakeSession(ctx, "k5"); got.ID != "v2" {
		t.Fatalf("UpdateSession did not replace: %q", got.ID)
	}
	if err := b.UpdateSession(ctx, "k5", runtime.SessionState{ID: "v3", ExpiresAt: time.Now().Add(time.Minute)}); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Fatalf("UpdateSession after TakeSession: %v, want ErrSessionNotFound", err)
	}
	_ = a.SaveSession(ctx, "k6", runtime.SessionState{ID: "short", ExpiresAt: time.Now().Add(-time.Millisecond)})
	if err := b.UpdateSession(ctx, "k6", runtime.SessionState{ID: "v2", ExpiresAt: time.Now().Add(time.Minute)}); !errors.Is(err, runtime.ErrSessionExpired) {
		t.Fatalf("UpdateSession of an expired record: %v, want ErrSessionExpired", err)
	}
	if _, err := a.TakeSession(ctx, "k6"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Fatalf("an expired record survived UpdateSession: %v", err)
	}
	// A take racing with updates: the taker gets the record once, and no
	// update lands after it.
	for round := range 200 {
		key := "upd" + strconv.Itoa(round)
		_ = a.SaveSession(ctx, key, runtime.SessionState{ID: "0", ExpiresAt: time.Now().Add(time.Minute)})
		var wg sync.WaitGroup
		wg.Go(func() {
			for i := 1; ; i++ {
				if err := b.UpdateSession(ctx, key, runtime.SessionState{ID: strconv.Itoa(i), ExpiresAt: time.Now().Add(time.Minute)}); err != nil {
					if !errors.Is(err, runtime.ErrSessionNotFound) {
						t.Error(err)
					}
					return
				}
			}
		})
		if _, err := a.TakeSession(ctx, key); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if st, err := a.TakeSession(ctx, key); !errors.Is(err, runtime.ErrSessionNotFound) {
			t.Fatalf("round %d: an update wrote the record back after the take: %+v, %v", round, st, err)
		}
	}
	// Concurrent takes from several nodes: exactly one gets the record.
	nodes := ns[:3]
	for round := range 300 {
		key := "race" + strconv.Itoa(round)
		_ = a.SaveSession(ctx, key, runtime.SessionState{ID: key, ExpiresAt: time.Now().Add(time.Minute)})
		start := make(chan struct{})
		var wg sync.WaitGroup
		var wins, notFound atomic.Int32
		for i := range 8 {
			wg.Go(func() {
				<-start
				got, err := nodes[i%len(nodes)].TakeSession(ctx, key)
				switch {
				case err == nil && got.ID == key:
					wins.Add(1)
				case errors.Is(err, runtime.ErrSessionNotFound):
					notFound.Add(1)
				default:
					t.Errorf("TakeSession: %+v, %v", got, err)
				}
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 || notFound.Load() != 7 {
			t.Fatalf("round %d: %d takes got the record, %d found none; want 1 and 7", round, wins.Load(), notFound.Load())
		}
	}
}

func testTakeExpiredSessions(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, _ := nc(t, Config{})
	a := ns[0]
	nodes := ns[:3]
	expired := make(map[string]bool)
	for i := range 60 {
		id := "dead" + strconv.Itoa(i)
		expired[id] = true
		_ = a.SaveSession(ctx, "k"+id, runtime.SessionState{ID: id, ExpiresAt: time.Now().Add(-time.Duration(i+1) * time.Millisecond)})
		_ = a.SaveSession(ctx, "klive"+strconv.Itoa(i), runtime.SessionState{ID: "live", ExpiresAt: time.Now().Add(time.Minute)})
	}
	if got, err := a.TakeExpiredSessions(ctx, 0); err != nil || len(got) != 0 {
		t.Fatalf("TakeExpiredSessions(0) = %d records, %v; want none", len(got), err)
	}
	var mu sync.Mutex
	taken := make(map[string]int)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Go(func() {
			for {
				got, err := nodes[i%len(nodes)].TakeExpiredSessions(ctx, 4)
				if err != nil || len(got) > 4 {
					t.Errorf("TakeExpiredSessions: %d records, %v", len(got), err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, st := range got {
					taken[st.ID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for id, n := range taken {
		if n != 1 || !expired[id] {
			t.Errorf("record %q taken %d times (expired: %v)", id, n, expired[id])
		}
	}
	if len(taken) != len(expired) {
		t.Errorf("%d expired records taken, want %d", len(taken), len(expired))
	}
	if _, err := a.TakeSession(ctx, "klive7"); err != nil {
		t.Errorf("a live record was taken: %v", err)
	}
	if _, err := a.TakeSession(ctx, "kdead7"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("an expired record is still there after its take: %v", err)
	}
}

func testLifecycle(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, _ := nc(t, Config{})
	a := ns[0]
	if err := a.Subscribe(ctx, "t"); !errors.Is(err, runtime.ErrNotStarted) {
		t.Fatalf("Subscribe before Start: %v, want ErrNotStarted", err)
	}
	if err := a.Start(ctx, nil); err == nil {
		t.Fatal("Start with a nil Receiver succeeded")
	}
	ra := startNode(t, a)
	if err := a.Start(ctx, &engRecv{}); err == nil {
		t.Fatal("second Start succeeded")
	}
	if _, err := a.Publish(ctx, "", nil); err == nil {
		t.Fatal("Publish on the empty topic succeeded")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	for name, err := range map[string]error{
		"Publish":             second(a.Publish(canceled, "t", nil)),
		"Subscribe":           a.Subscribe(canceled, "t"),
		"Sync":                a.Sync(canceled, func(runtime.Position) {}),
		"Unsubscribe":         a.Unsubscribe(canceled, "t"),
		"History":             second(a.History(canceled, []string{"t"}, runtime.Position{}, 0, 0)),
		"Claim":               third(a.Claim(canceled, "g", "k", "a")),
		"Release":             second(a.Release(canceled, "g", "k", "a")),
		"Members":             second(a.Members(canceled, "g")),
		"SaveSession":         a.SaveSession(canceled, "k", runtime.SessionState{}),
		"UpdateSession":       a.UpdateSession(canceled, "k", runtime.SessionState{}),
		"TakeSession":         second(a.TakeSession(canceled, "k")),
		"TakeExpiredSessions": second(a.TakeExpiredSessions(canceled, 1)),
	} {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: %v, want context.Canceled", name, err)
		}
	}

	b := ns[1]
	startNode(t, b)
	mustSubscribe(t, a, "t")
	mustSubscribe(t, b, "t")
	p := mustPublish(t, b, "t", "1")
	ra.wait(t, 1)
	_, _, _ = b.Claim(ctx, "g", "k", "b")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	mustPublish(t, b, "t", "2")
	if got := ra.snapshot(); len(got) != 1 {
		t.Fatalf("a closed node got %d events", len(got))
	}
	for name, err := range map[string]error{
		"Start":               a.Start(ctx, &engRecv{}),
		"Publish":             second(a.Publish(ctx, "t", nil)),
		"Subscribe":           a.Subscribe(ctx, "t"),
		"Sync":                a.Sync(ctx, func(runtime.Position) {}),
		"Unsubscribe":         a.Unsubscribe(ctx, "t"),
		"History":             second(a.History(ctx, []string{"t"}, p, 0, 0)),
		"Claim":               third(a.Claim(ctx, "g", "k", "a")),
		"Release":             second(a.Release(ctx, "g", "k", "b")),
		"Members":             second(a.Members(ctx, "g")),
		"SaveSession":         a.SaveSession(ctx, "k", runtime.SessionState{}),
		"UpdateSession":       a.UpdateSession(ctx, "k", runtime.SessionState{}),
		"TakeSession":         second(a.TakeSession(ctx, "k")),
		"TakeExpiredSessions": second(a.TakeExpiredSessions(ctx, 1)),
	} {
		if !errors.Is(err, runtime.ErrEngineClosed) {
			t.Errorf("%s after Close: %v, want ErrEngineClosed", name, err)
		}
	}
	// The shared state stays for the other nodes.
	if evs, err := b.History(ctx, []string{"t"}, p, 0, 0); err != nil || len(evs) != 1 {
		t.Fatalf("History on another node after Close: %v, %v", evs, err)
	}
	if m, _ := b.Members(ctx, "g"); m["k"] != "b" {
		t.Fatalf("claims after another node's Close: %v", m)
	}
}

func testHistoryLost(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, _ := nc(t, Config{HistoryLen: 4})
	a := ns[0]
	quiet := mustPublish(t, a, "quiet", "q") // keeps its only event
	var pa []runtime.Position
	for i := range 10 {
		pa = append(pa, mustPublish(t, a, "busy", strconv.Itoa(i))) // keeps 6..9
	}
	// busy lost events 0..5: after 4 needs 5.
	if _, err := a.History(ctx, []string{"busy"}, pa[4], 0, 0); !errors.Is(err, runtime.ErrHistoryLost) {
		t.Fatalf("History after a trimmed event: %v, want ErrHistoryLost", err)
	}
	if _, err := a.History(ctx, []string{"quiet", "busy"}, quiet, 0, 0); !errors.Is(err, runtime.ErrHistoryLost) {
		t.Fatalf("History of two topics, one trimmed past the position: %v, want ErrHistoryLost", err)
	}
	// After 5, all of 6..9 are there.
	evs, err := a.History(ctx, []string{"busy", "quiet"}, pa[5], 0, 0)
	if err != nil || !slices.Equal(gseqs(evs), []uint64{pa[6].GSeq, pa[7].GSeq, pa[8].GSeq, pa[9].GSeq}) {
		t.Fatalf("History after the last trimmed event: %v, %v", gseqs(evs), err)
	}
	// Back: busy's last 4 are kept; a fifth would be older than what it
	// kept, whether from busy or quiet (busy's 5 would come before it).
	if evs, err := a.History(ctx, []string{"busy", "quiet"}, pa[9], 4, 0); err != nil || !slices.Equal(gseqs(evs), []uint64{pa[6].GSeq, pa[7].GSeq, pa[8].GSeq, pa[9].GSeq}) {
		t.Fatalf("History back 4: %v, %v", gseqs(evs), err)
	}
	for _, topics := range [][]string{{"busy"}, {"busy", "quiet"}} {
		if evs, err := a.History(ctx, topics, pa[9], 5, 0); !errors.Is(err, runtime.ErrHistoryLost) {
			t.Fatalf("History of %v back 5: %v, %v; want ErrHistoryLost", topics, gseqs(evs), err)
		}
	}
	// quiet has nothing after `quiet` and lost nothing; busy was trimmed
	// only up to pa[5], before pa[7]: neither is lost after pa[7].
	mustPublish(t, a, "quiet", "q2")
	if evs, err := a.History(ctx, []string{"quiet", "busy"}, pa[7], 0, 0); err != nil || len(evs) != 3 {
		t.Fatalf("History after pa[7]: %v, %v; want 3 events", gseqs(evs), err)
	}
	// A topic trimmed only before the position is not lost, even when it
	// has no event after it.
	var lastOld runtime.Position
	for range 5 {
		lastOld = mustPublish(t, a, "old", "o") // keeps the last 4
	}
	late := mustPublish(t, a, "busy", "late")
	if evs, err := a.History(ctx, []string{"old", "busy"}, lastOld, 0, 0); err != nil || len(evs) != 1 || evs[0].Pos != late {
		t.Fatalf("History with a topic trimmed before the position: %v, %v", evs, err)
	}
	// A position ahead of the engine: it forgot events.
	ahead := late
	ahead.GSeq += 100
	if _, err := a.History(ctx, []string{"busy"}, ahead, 0, 0); !errors.Is(err, runtime.ErrHistoryLost) {
		t.Fatalf("History after a position ahead of the engine: %v, want ErrHistoryLost", err)
	}
}

func testEpoch(t *testing.T, nc NewCluster) {
	ctx := context.Background()
	ns, wipe := nc(t, Config{})
	a := ns[0]
	pa := mustPublish(t, a, "t", "1")
	if pa.Epoch == 0 {
		t.Fatalf("position %v: want a non-zero epoch", pa)
	}
	if p := mustPublish(t, ns[1], "t", "2"); p.Epoch != pa.Epoch || p.GSeq != pa.GSeq+1 {
		t.Fatalf("a second node published at %v after %v", p, pa)
	}
	if _, err := a.History(ctx, []string{"t"}, runtime.Position{}, 0, 0); !errors.Is(err, runtime.ErrEpochChanged) {
		t.Fatalf("History after the zero position: %v, want ErrEpochChanged", err)
	}
	other := pa
	other.Epoch++
	if _, err := a.History(ctx, []string{"t"}, other, 0, 0); !errors.Is(err, runtime.ErrEpochChanged) {
		t.Fatalf("History after a position of another epoch: %v, want ErrEpochChanged", err)
	}

	// Wipe: a new epoch, the order starting over, receivers told after
	// the events delivered before, and the shared state gone.
	ra := startNode(t, a)
	mustSubscribe(t, a, "t")
	mustPublish(t, a, "t", "3")
	_, _, _ = a.Claim(ctx, "g", "k", "o")
	_ = a.SaveSession(ctx, "s", runtime.SessionState{ID: "id", ExpiresAt: time.Now().Add(time.Minute)})
	wipe()
	p := mustPublish(t, a, "t", "4")
	if p.Epoch == pa.Epoch || p.GSeq != 1 {
		t.Fatalf("after Wipe: %v, want a new epoch and gseq 1", p)
	}
	evs := ra.wait(t, 2)
	ra.mu.Lock()
	lost, lostAt := slices.Clone(ra.lost), slices.Clone(ra.lostAt)
	ra.mu.Unlock()
	if len(lost) != 1 || !errors.Is(lost[0], runtime.ErrEpochChanged) || lostAt[0] != 1 || evs[1].Pos != p {
		t.Fatalf("after Wipe: lost %v at %v, events %v", lost, lostAt, evs)
	}
	if _, err := a.History(ctx, []string{"t"}, pa, 0, 0); !errors.Is(err, runtime.ErrEpochChanged) {
		t.Fatalf("History after a position of the wiped epoch: %v", err)
	}
	if m, _ := a.Members(ctx, "g"); len(m) != 0 {
		t.Fatalf("claims survived Wipe: %v", m)
	}
	if _, err := a.TakeSession(ctx, "s"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Fatalf("a session record survived Wipe: %v", err)
	}
}

type echoRecv struct {
	e      runtime.Engine
	rec    engRecv
	depth  atomic.Int32
	nested atomic.Bool
}

func (r *echoRecv) Deliver(ev runtime.Event) {
	if r.depth.Add(1) > 1 {
		r.nested.Store(true)
	}
	defer r.depth.Add(-1)
	r.rec.Deliver(ev)
	if ev.Topic == "ping" {
		if _, err := r.e.Publish(context.Background(), "pong", ev.Payload); err != nil {
			panic(err)
		}
	}
}

func (r *echoRecv) Lost(topics []string, err error) { r.rec.Lost(topics, err) }

// logRecv records deliveries and Sync marks in their order.
type logRecv struct {
	mu  sync.Mutex
	log []string
}

func (r *logRecv) Deliver(ev runtime.Event) { r.add(ev.Pos.String()) }

func (r *logRecv) Lost(topics []string, err error) { r.add("lost " + err.Error()) }

func (r *logRecv) mark(p runtime.Position) { r.add("sync " + p.String()) }

func (r *logRecv) add(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, s)
}

func (r *logRecv) wait(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		got := slices.Clone(r.log)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries after 10 s, want %d: %v", len(got), n, got)
		}
		time.Sleep(time.Millisecond)
	}
}

type syncOrderRecv struct {
	last  uint64 // the delivery path's: one call at a time
	syncs atomic.Int32
	bad   atomic.Pointer[string]
}

func (r *syncOrderRecv) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.bad.CompareAndSwap(nil, &msg)
}

func (r *syncOrderRecv) Deliver(ev runtime.Event) {
	if ev.Pos.GSeq <= r.last {
		r.fail("event %d delivered after a sync or event at %d", ev.Pos.GSeq, r.last)
	}
	r.last = ev.Pos.GSeq
}

func (r *syncOrderRecv) sync(p runtime.Position) {
	if p.GSeq < r.last {
		r.fail("sync at %d after event %d", p.GSeq, r.last)
	}
	r.last = p.GSeq
	r.syncs.Add(1)
}

func (r *syncOrderRecv) Lost([]string, error) { r.fail("lost") }
