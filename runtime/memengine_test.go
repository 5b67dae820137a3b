package runtime_test

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
	"github.com/duplexrpc/duplex/runtime/enginetest"
)

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

// wait returns the events once there are n of them. A publisher that found
// another goroutine delivering on the node returns before its event is
// delivered; the wait covers that hand-over and nothing else.
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

func startNode(t *testing.T, e *runtime.MemoryEngine) *engRecv {
	t.Helper()
	r := &engRecv{}
	if err := e.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
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

// TestMemoryEngineContract runs the Engine contract on MemoryEngine.
func TestMemoryEngineContract(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, cfg enginetest.Config) ([]runtime.Engine, func()) {
		a := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{HistoryLen: cfg.HistoryLen})
		nodes := []runtime.Engine{a, a.NewNode(), a.NewNode(), a.NewNode()}
		t.Cleanup(func() {
			for _, n := range nodes {
				_ = n.Close()
			}
		})
		return nodes, a.Wipe
	})
}

func gseqs(evs []runtime.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.Pos.GSeq
	}
	return out
}

// Publish never waits for a delivery in progress on another goroutine:
// while a node's Receiver is busy, later events queue behind it, in order.
func TestMemoryEngineBusyReceiver(t *testing.T) {
	a := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	release := make(chan struct{})
	entered := make(chan struct{})
	r := &blockingRecv{release: release, entered: entered}
	if err := a.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mustSubscribe(t, a, "t")
	go func() { _, _ = a.Publish(context.Background(), "t", []byte("0")) }()
	<-entered // the first publisher is inside Deliver, and stays there
	var want []uint64
	for i := 1; i <= 50; i++ {
		want = append(want, mustPublish(t, a, "t", strconv.Itoa(i)).GSeq) // does not block
	}
	close(release)
	r.rec.wait(t, 51)
	got := gseqs(r.rec.snapshot())
	if !slices.Equal(got[1:], want) || got[0] >= want[0] {
		t.Fatalf("deliveries %v, want one earlier then %v", got, want)
	}
}

// To a BatchReceiver, the events that queued up behind a busy delivery
// come in one DeliverBatch, in order, and an idle node delivers each
// event alone: nothing waits for more.
func TestMemoryEngineBusyReceiverBatch(t *testing.T) {
	a := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	release := make(chan struct{})
	entered := make(chan struct{})
	r := &blockingBatchRecv{blockingRecv: blockingRecv{release: release, entered: entered}}
	if err := a.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	mustSubscribe(t, a, "t")
	go func() { _, _ = a.Publish(context.Background(), "t", []byte("0")) }()
	<-entered
	var want []uint64
	for i := 1; i <= 50; i++ {
		want = append(want, mustPublish(t, a, "t", strconv.Itoa(i)).GSeq)
	}
	close(release)
	r.rec.wait(t, 51)
	last := mustPublish(t, a, "t", "idle") // alone: nothing else is queued
	got := gseqs(r.rec.wait(t, 52))
	if !slices.Equal(got[1:51], want) || got[0] >= want[0] || got[51] != last.GSeq {
		t.Fatalf("deliveries %v, want one earlier, then %v, then %d", got, want, last.GSeq)
	}
	if sizes := r.sizes(); !slices.Equal(sizes, []int{1, 50, 1}) {
		t.Fatalf("batches of %v events, want [1 50 1]", sizes)
	}
}

type blockingBatchRecv struct {
	blockingRecv
	mu      sync.Mutex
	batches []int
}

func (r *blockingBatchRecv) DeliverBatch(evs []runtime.Event) {
	r.mu.Lock()
	r.batches = append(r.batches, len(evs))
	r.mu.Unlock()
	for _, ev := range evs {
		r.Deliver(ev)
	}
}

func (r *blockingBatchRecv) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.batches)
}

type blockingRecv struct {
	rec     engRecv
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (r *blockingRecv) Deliver(ev runtime.Event) {
	r.once.Do(func() {
		close(r.entered)
		<-r.release
	})
	r.rec.Deliver(ev)
}

func (r *blockingRecv) Lost(topics []string, err error) { r.rec.Lost(topics, err) }

// HistoryLen -1 and HistoryAge, which the contract suite (enginetest)
// does not cover.
func TestMemoryEngineHistoryLost(t *testing.T) {
	ctx := context.Background()
	// No history at all: lost as soon as the topic had an event after
	// the position; fine when it had none.
	none := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{HistoryLen: -1})
	p1 := mustPublish(t, none, "t", "1")
	if evs, err := none.History(ctx, []string{"t", "u"}, p1, 0, 0); err != nil || len(evs) != 0 {
		t.Fatalf("no history, nothing after: %v, %v", evs, err)
	}
	mustPublish(t, none, "t", "2")
	if _, err := none.History(ctx, []string{"t"}, p1, 0, 0); !errors.Is(err, runtime.ErrHistoryLost) {
		t.Fatalf("no history, an event after: %v, want ErrHistoryLost", err)
	}

	// Age: events older than HistoryAge are trimmed, also without a
	// publish after them.
	aged := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{HistoryAge: 20 * time.Millisecond})
	p0 := mustPublish(t, aged, "marker", "")
	mustPublish(t, aged, "t", "old")
	if evs, err := aged.History(ctx, []string{"t"}, p0, 0, 0); err != nil || len(evs) != 1 {
		t.Fatalf("young history: %v, %v", evs, err)
	}
	time.Sleep(50 * time.Millisecond)
	if _, err := aged.History(ctx, []string{"t"}, p0, 0, 0); !errors.Is(err, runtime.ErrHistoryLost) {
		t.Fatalf("history older than HistoryAge: %v, want ErrHistoryLost", err)
	}
}

func TestMemoryEngineEpoch(t *testing.T) {
	ctx := context.Background()
	a := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	other := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	pa := mustPublish(t, a, "t", "1")
	po := mustPublish(t, other, "t", "1")
	if pa.Epoch == 0 || pa.Epoch == po.Epoch || pa.GSeq != 1 || po.GSeq != 1 {
		t.Fatalf("positions %v and %v: want distinct non-zero epochs, gseq 1", pa, po)
	}
	if b := a.NewNode(); mustPublish(t, b, "t", "2").Epoch != pa.Epoch {
		t.Fatal("a second node has another epoch")
	}
	if _, err := a.History(ctx, []string{"t"}, po, 0, 0); !errors.Is(err, runtime.ErrEpochChanged) {
		t.Fatalf("History after another engine's position: %v, want ErrEpochChanged", err)
	}
	if _, err := a.History(ctx, []string{"t"}, runtime.Position{}, 0, 0); !errors.Is(err, runtime.ErrEpochChanged) {
		t.Fatalf("History after the zero position: %v, want ErrEpochChanged", err)
	}
}

// Close waits for a delivery in progress, and none follows it.
func TestMemoryEngineCloseWaitsForDelivery(t *testing.T) {
	a := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	release, entered := make(chan struct{}), make(chan struct{})
	r := &blockingRecv{release: release, entered: entered}
	if err := a.Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	mustSubscribe(t, a, "t")
	go func() { _, _ = a.Publish(context.Background(), "t", []byte("0")) }()
	<-entered
	mustPublish(t, a, "t", "1") // queued behind the one in Deliver
	closed := make(chan struct{})
	go func() {
		_ = a.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while the Receiver was running")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-closed
	if got := r.rec.snapshot(); len(got) != 1 {
		t.Fatalf("%d events delivered; want only the one in progress at Close", len(got))
	}
}

func TestMemoryEngineTopicTTL(t *testing.T) {
	ctx := context.Background()
	a := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{TopicTTL: 10 * time.Millisecond})
	startNode(t, a)
	mustSubscribe(t, a, "kept")
	p0 := mustPublish(t, a, "marker", "")
	mustPublish(t, a, "idle", "1")
	mustPublish(t, a, "kept", "1")
	p1 := mustPublish(t, a, "marker", "")
	if evs, err := a.History(ctx, []string{"idle", "kept", "never"}, p0, 0, 0); err != nil || len(evs) != 2 {
		t.Fatalf("before the sweep: %v, %v", evs, err)
	}
	time.Sleep(30 * time.Millisecond)
	mustPublish(t, a, "other", "sweeps") // the sweep runs on a publish
	// idle is gone with its event after p0: lost after p0, and so is any
	// topic History does not know (it cannot tell which were dropped).
	for _, topic := range []string{"idle", "never"} {
		if evs, err := a.History(ctx, []string{topic}, p0, 0, 0); !errors.Is(err, runtime.ErrHistoryLost) {
			t.Fatalf("%s after a position before a dropped topic's event: %v, %v; want ErrHistoryLost", topic, evs, err)
		}
	}
	// After every dropped event: nothing lost, nothing there.
	if evs, err := a.History(ctx, []string{"idle", "never"}, p1, 0, 0); err != nil || len(evs) != 0 {
		t.Fatalf("History after the dropped events: %v, %v", evs, err)
	}
	// A subscribed topic is kept.
	if evs, err := a.History(ctx, []string{"kept"}, p0, 0, 0); err != nil || len(evs) != 1 {
		t.Fatalf("a subscribed topic lost its history: %v, %v", evs, err)
	}
}

// The resume argument of docs/engine.md, run with the runtime's algorithm:
// a session on node A numbers the events of its own topic, joins a room at
// a Sync, saves checkpoints, and A dies while publishers go on. Node B
// takes the record, subscribes, reads the history around the checkpoint
// and numbers from it, then goes on with live events. Every event gets the
// same seq on both nodes, B numbers without a gap or a duplicate, and the
// replay starts right after the client's seq, whether that is before the
// checkpoint (read back), at it or after it; a seq from before the join
// is refused (overrun).
func TestMemoryEngineResumeNumbering(t *testing.T) {
	deltas := []int64{-35, -10, -1, 0, 1, 20, 1000, -1000} // the client's seq minus the checkpoint's
	for round := range 2 * len(deltas) {
		delta := deltas[round%len(deltas)]
		t.Run(fmt.Sprintf("%d/seq%+d", round, delta), func(t *testing.T) { testResumeNumbering(t, delta) })
	}
}

// simSession numbers the events of its topics as the runtime will; its
// mutex stands for the node's delivery lock.
type simSession struct {
	mu      sync.Mutex
	topics  []string
	seq     int64
	last    uint64           // the GSeq up to which its events are numbered
	seqOf   map[uint64]int64 // GSeq → seq
	held    bool             // events wait in pending (a record is being saved, or a resume read)
	pending []runtime.Event
	lost    atomic.Bool
}

func newSimSession(topics ...string) *simSession {
	return &simSession{topics: topics, seqOf: map[uint64]int64{}}
}

func (s *simSession) numberLocked(ev runtime.Event) {
	if !slices.Contains(s.topics, ev.Topic) || ev.Pos.GSeq <= s.last {
		return
	}
	s.seq++
	s.last = ev.Pos.GSeq
	s.seqOf[ev.Pos.GSeq] = s.seq
}

func (s *simSession) Deliver(ev runtime.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held {
		s.pending = append(s.pending, ev)
		return
	}
	s.numberLocked(ev)
}

func (s *simSession) Lost([]string, error) { s.lost.Store(true) }

// release numbers the events that waited.
func (s *simSession) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.pending {
		s.numberLocked(ev)
	}
	s.pending, s.held = nil, false
}

// checkpoint returns a consistent (seq, position) pair.
func (s *simSession) checkpoint(epoch uint64) runtime.Checkpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	return runtime.Checkpoint{Seq: s.seq, Pos: runtime.Position{Epoch: epoch, GSeq: s.last}}
}

func (s *simSession) waitSeq(t *testing.T, n int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		seq := s.seq
		s.mu.Unlock()
		if seq >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session has seq %d after 10 s, want %d", seq, n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// joinAt changes the session's topics at a Sync of node e and returns
// the checkpoint there, with the session held: its record is saved with
// the new topics before it numbers anything with them.
func (s *simSession) joinAt(t *testing.T, e runtime.Engine, topics []string) (since int64, cp runtime.Checkpoint) {
	t.Helper()
	done := make(chan struct{})
	err := e.Sync(context.Background(), func(p runtime.Position) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.topics = topics
		s.last = max(s.last, p.GSeq) // every event up to p was delivered before
		s.held = true
		since, cp = s.seq, runtime.Checkpoint{Seq: s.seq, Pos: p}
		close(done)
	})
	if err != nil {
		t.Fatal(err)
	}
	<-done
	return since, cp
}

func testResumeNumbering(t *testing.T, delta int64) {
	ctx := context.Background()
	a := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{HistoryLen: 1 << 20})
	b, pub, pub2 := a.NewNode(), a.NewNode(), a.NewNode()
	save := func(topics []string, since int64, cp runtime.Checkpoint) {
		st := runtime.SessionState{ID: "s1", ExpiresAt: time.Now().Add(time.Minute), Topics: topics, TopicsSince: since, Checkpoint: cp}
		if err := a.SaveSession(ctx, "token", st); err != nil {
			t.Fatal(err)
		}
	}

	// On A, the session starts with its own topic.
	sa := newSimSession()
	if err := a.Start(ctx, sa); err != nil {
		t.Fatal(err)
	}
	mustPublish(t, pub, "s:1", "before the session")
	mustSubscribe(t, a, "s:1")
	own := []string{"s:1"}
	since, cp := sa.joinAt(t, a, own)
	save(own, since, cp)
	sa.release()

	// Publishers on three topics, the session's two among them, go on
	// through A's death and B's resume.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	topicOf := map[uint64]string{}
	for i, topic := range []string{"room", "s:1", "elsewhere"} {
		wg.Go(func() {
			for j := 0; ; j++ {
				select {
				case <-stop:
					return
				default:
				}
				p, err := []runtime.Engine{pub, pub2, b}[(i+j)%3].Publish(ctx, topic, []byte(topic))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				topicOf[p.GSeq] = topic
				mu.Unlock()
				if j%16 == 0 {
					time.Sleep(time.Microsecond)
				}
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	// The session joins the room.
	sa.waitSeq(t, 20)
	mustSubscribe(t, a, "room")
	both := []string{"s:1", "room"}
	joinSince, joinCp := sa.joinAt(t, a, both)
	save(both, joinSince, joinCp)
	sa.release()
	// A checkpoint refresh, then A dies.
	sa.waitSeq(t, joinSince+40)
	cp = sa.checkpoint(joinCp.Pos.Epoch)
	save(both, joinSince, cp)
	sa.waitSeq(t, cp.Seq+60)
	_ = a.Close()
	sa.mu.Lock()
	final := sa.seq
	sa.mu.Unlock()
	if sa.lost.Load() {
		t.Fatal("A's deliveries were lost")
	}
	hello := min(max(cp.Seq+delta, 0), final) // the client's seq
	if delta == -1000 {
		hello = joinSince - 1 // from before the join
	}

	// B resumes: the record, the session registered and held, the
	// subscriptions, the history around the checkpoint.
	st, err := b.TakeSession(ctx, "token")
	if err != nil {
		t.Fatal(err)
	}
	if hello < st.TopicsSince {
		return // overrun: its events before the join were of other topics
	}
	sb := newSimSession(st.Topics...)
	sb.held = true
	if err := b.Start(ctx, sb); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustSubscribe(t, b, st.Topics...)
	back := int(max(st.Checkpoint.Seq-hello, 0))
	hist, err := b.History(ctx, st.Topics, st.Checkpoint.Pos, back, 0)
	if err != nil {
		t.Fatal(err)
	}
	sb.mu.Lock()
	sb.seq = st.Checkpoint.Seq - int64(back)
	for i, ev := range hist {
		sb.numberLocked(ev)
		if i == back-1 && (sb.seq != st.Checkpoint.Seq || ev.Pos.GSeq > st.Checkpoint.Pos.GSeq) {
			t.Fatalf("the back read ends at seq %d, position %v; the checkpoint is %+v", sb.seq, ev.Pos, st.Checkpoint)
		}
	}
	if hello > sb.seq {
		t.Fatalf("the client has seq %d, the history ends at %d", hello, sb.seq)
	}
	sb.mu.Unlock()
	sb.release()
	sb.waitSeq(t, final+50) // live events after the resume
	close(stop)
	wg.Wait()

	// The session's events: its own topic's, and the room's after the
	// join; seq i+1 for the i-th.
	mu.Lock()
	var mine []uint64
	for g, topic := range topicOf {
		if topic == "s:1" || topic == "room" && g > joinCp.Pos.GSeq {
			mine = append(mine, g)
		}
	}
	mu.Unlock()
	slices.Sort(mine)
	last := mine[len(mine)-1]
	deadline := time.Now().Add(10 * time.Second)
	for {
		sb.mu.Lock()
		done := sb.last == last
		sb.mu.Unlock()
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B did not number the session's last event")
		}
		time.Sleep(time.Millisecond)
	}
	sa.mu.Lock()
	defer sa.mu.Unlock()
	sb.mu.Lock()
	defer sb.mu.Unlock()
	from := st.Checkpoint.Seq - int64(back) // B numbered from from+1
	if from > hello || len(sa.seqOf) != int(final) || len(sb.seqOf) != len(mine)-int(from) || int(sb.seq) != len(mine) {
		t.Fatalf("A numbered %d events (seq %d), B %d from %d (seq %d), of %d; the client had %d", len(sa.seqOf), final, len(sb.seqOf), from+1, sb.seq, len(mine), hello)
	}
	for i, g := range mine {
		want := int64(i + 1)
		if got, ok := sa.seqOf[g]; ok && got != want || !ok && want <= final {
			t.Fatalf("A: event %d has seq %d (%v), want %d", g, got, ok, want)
		}
		if got, ok := sb.seqOf[g]; ok && got != want || !ok && want > from {
			t.Fatalf("B: event %d has seq %d (%v), want %d; checkpoint %+v, client %d", g, got, ok, want, st.Checkpoint, hello)
		}
	}
}

func BenchmarkMemoryEnginePublish(b *testing.B) {
	for _, subs := range []int{0, 1, 100} {
		b.Run("subscribers="+strconv.Itoa(subs), func(b *testing.B) {
			e := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
			r := &fanOut{sessions: make([]int, subs)}
			if err := e.Start(context.Background(), r); err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			if subs > 0 {
				if err := e.Subscribe(context.Background(), "room"); err != nil {
					b.Fatal(err)
				}
			}
			payload := []byte(`{"event":"said","seq":,"data":{"from":"ada","content":"hello"}}`)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Publish(ctx, "room", payload); err != nil {
					b.Fatal(err)
				}
			}
			if subs > 0 && r.delivered == 0 {
				b.Fatal("nothing delivered")
			}
		})
	}
}

// fanOut stands for the runtime's Receiver: one delivery per node, fanned
// out to the node's sessions of the topic.
type fanOut struct {
	sessions  []int
	delivered int
}

func (f *fanOut) Deliver(ev runtime.Event) {
	f.delivered++
	for i := range f.sessions {
		f.sessions[i] += len(ev.Payload)
	}
}

func (f *fanOut) Lost([]string, error) {}
