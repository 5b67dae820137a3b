package runtime

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of MemoryEngineOptions.
const (
	// DefaultHistoryLen is how many events each topic keeps: four times
	// DefaultReplayBuffer, so that a session that missed ReplayBuffer
	// events of one topic since its hello, plus those since its last
	// checkpoint, still finds them.
	DefaultHistoryLen = 1024
	// DefaultTopicTTL is how long a topic nobody subscribes to keeps its
	// history after its last event: well beyond DefaultResumeWindow.
	DefaultTopicTTL = 10 * time.Minute
)

// MemoryEngineOptions configures a MemoryEngine.
type MemoryEngineOptions struct {
	// HistoryLen bounds each topic's history to its last HistoryLen
	// events. 0 means DefaultHistoryLen; negative keeps none, so that a
	// resume that missed any event answers "overrun".
	HistoryLen int
	// HistoryAge drops events older than it from the histories; 0 keeps
	// them regardless of age.
	HistoryAge time.Duration
	// TopicTTL drops a topic, history and all, once no node subscribes
	// to it and nothing was published on it for this long. 0 means
	// DefaultTopicTTL; negative keeps topics for ever. History after a
	// position older than the newest event of a dropped topic reports a
	// topic it does not know as lost (it may be a dropped one), so
	// TopicTTL should exceed the longest a session record may wait for
	// its resume after its checkpoint (the resume window plus the
	// checkpoint refresh interval), or such resumes answer "overrun".
	TopicTTL time.Duration
}

// MemoryEngine is the in-process Engine, the default: the state that
// Redis holds for several processes (order, histories, claims, session
// records) lives in this process and is gone when it exits.
//
// A MemoryEngine value is one node. NewNode returns another node sharing
// the same state, as another process on the same Redis: tests run several
// servers in one binary that way.
//
// Publish delivers on the calling goroutine, before it returns, to every
// started node that subscribes to the topic, unless another goroutine is
// delivering on that node at the time: that one delivers it next, in Pos
// order, and Publish may return first. A node hands a long run of
// deliveries to a goroutine of its own after a while, so that no
// publisher delivers for ever. To a BatchReceiver, the events that queued
// up while a delivery ran go in one DeliverBatch.
//
// Safe for concurrent use.
type MemoryEngine struct {
	sh     *memShared
	closed atomic.Bool

	// guarded by sh.mu
	started bool // its subscriptions are in memShared.subs

	mu       sync.Mutex // guards what follows; taken inside sh.mu, never around it
	cond     sync.Cond  // on mu: signalled when draining ends
	recv     Receiver
	inbox    []memDelivery // in Pos order
	spare    []memDelivery // the other buffer: swapped with inbox by the drainer
	draining bool          // a goroutine is calling the Receiver
	evs      []Event       // the drainer's: a run of events for BatchReceiver.DeliverBatch
}

// memShared is the state of a MemoryEngine that all its nodes share.
type memShared struct {
	historyLen int // 0: none
	historyAge int64
	topicTTL   int64 // 0: for ever
	sweepEvery int64 // min(TopicTTL, topicSweepInterval)

	mu     sync.Mutex
	epoch  uint64
	gseq   uint64
	topics map[string]*memTopic       // those published on: their history
	subs   map[string][]*MemoryEngine // topic → the nodes subscribed to it
	nodes  []*MemoryEngine            // started, not closed
	swept  int64                      // monoNow of the last sweep of idle topics
	// dropped is the newest GSeq of the topics dropped by the sweep: a
	// topic History does not find may have had events up to it.
	dropped uint64

	pmu    sync.Mutex
	claims map[string]map[string]string // group → key → holder

	smu      sync.Mutex
	sessions records[SessionState]
}

// memTopic is the history of one topic that was published on: a ring of
// its last events. A topic only subscribed to has none (memShared.subs),
// so that a session's own topic that gets no push costs no history.
type memTopic struct {
	name    string
	ring    []memEntry // len(ring) is the ring's capacity
	head    int        // index of the oldest entry
	n       int        // entries held
	trimmed uint64     // GSeq of the newest entry dropped; 0 when none
	newest  uint64     // GSeq of the last event published; 0 when none
	last    int64      // monoNow of the last publish
}

type memEntry struct {
	gseq    uint64
	at      int64 // monoNow at publish
	payload []byte
}

// memDelivery is one item of a node's inbox: an event, a loss, or a
// Sync's function (at ev.Pos).
type memDelivery struct {
	ev   Event
	lost error
	sync func(Position)
}

// topicSweepInterval is how often Publish looks for idle topics to drop
// (more often when TopicTTL is shorter).
const topicSweepInterval = int64(time.Minute)

// maxDrainRounds is how many batches a publisher delivers on a node
// before it hands the rest to a goroutine.
const maxDrainRounds = 16

// NewMemoryEngine returns a node of a new in-memory engine state, with a
// random epoch.
func NewMemoryEngine(opts MemoryEngineOptions) *MemoryEngine {
	sh := &memShared{
		epoch:  newEpoch(0),
		topics: make(map[string]*memTopic),
		subs:   make(map[string][]*MemoryEngine),
		claims: make(map[string]map[string]string),
		swept:  monoNow(),
	}
	sh.sessions.grace = expiredGrace
	switch {
	case opts.HistoryLen == 0:
		sh.historyLen = DefaultHistoryLen
	case opts.HistoryLen > 0:
		sh.historyLen = opts.HistoryLen
	}
	sh.historyAge = int64(max(opts.HistoryAge, 0))
	switch {
	case opts.TopicTTL == 0:
		sh.topicTTL = int64(DefaultTopicTTL)
	case opts.TopicTTL > 0:
		sh.topicTTL = int64(opts.TopicTTL)
	}
	sh.sweepEvery = topicSweepInterval
	if sh.topicTTL > 0 {
		sh.sweepEvery = min(sh.topicTTL, topicSweepInterval)
	}
	return sh.node()
}

// NewNode returns another node sharing m's state, not started.
func (m *MemoryEngine) NewNode() *MemoryEngine { return m.sh.node() }

func (sh *memShared) node() *MemoryEngine {
	m := &MemoryEngine{sh: sh}
	m.cond.L = &m.mu
	return m
}

// newEpoch returns a random non-zero epoch other than old.
func newEpoch(old uint64) uint64 {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		if e := binary.LittleEndian.Uint64(b[:]); e != 0 && e != old {
			return e
		}
	}
}

// Wipe discards the shared state, as a Redis that restarted without its
// data: a new epoch, the order starting over, no history, claims or
// session records. Subscriptions stay (nodes reconnect and subscribe
// again), and every started node's Receiver gets Lost(nil,
// ErrEpochChanged) after the events delivered before. For tests.
func (m *MemoryEngine) Wipe() {
	sh := m.sh
	sh.mu.Lock()
	sh.epoch = newEpoch(sh.epoch)
	sh.gseq, sh.dropped = 0, 0
	clear(sh.topics) // every history; subscriptions (sh.subs) stay
	nodes := slices.Clone(sh.nodes)
	for _, n := range nodes {
		n.enqueue(memDelivery{lost: fmt.Errorf("engine state lost: %w", ErrEpochChanged)})
	}
	sh.mu.Unlock()
	sh.pmu.Lock()
	sh.claims = make(map[string]map[string]string)
	sh.pmu.Unlock()
	sh.smu.Lock()
	sh.sessions.clear()
	sh.smu.Unlock()
	for _, n := range nodes {
		n.drain()
	}
}

// Start implements Engine.
func (m *MemoryEngine) Start(ctx context.Context, r Receiver) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if r == nil {
		return errors.New("runtime: start: nil Receiver")
	}
	sh := m.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch {
	case m.closed.Load():
		return ErrEngineClosed
	case m.started:
		return errors.New("runtime: start: started already")
	}
	m.started = true
	m.mu.Lock()
	m.recv = r
	m.mu.Unlock()
	sh.nodes = append(sh.nodes, m)
	return nil
}

// Publish implements Engine. In steady state it allocates nothing: the
// history is a ring per topic, and each subscribed node's inbox a reused
// buffer.
func (m *MemoryEngine) Publish(ctx context.Context, topic string, payload []byte) (Position, error) {
	if err := ctx.Err(); err != nil {
		return Position{}, fmt.Errorf("publish: %w", err)
	}
	if err := checkTopic("publish", topic); err != nil {
		return Position{}, err
	}
	if m.closed.Load() {
		return Position{}, ErrEngineClosed
	}
	sh := m.sh
	now := monoNow()
	var wake [4]*MemoryEngine
	woken := wake[:0]
	sh.mu.Lock()
	t := sh.topicLocked(topic, now)
	sh.gseq++
	pos := Position{Epoch: sh.epoch, GSeq: sh.gseq}
	t.last = now
	if sh.historyAge > 0 {
		t.trimAge(now - sh.historyAge)
	}
	t.push(memEntry{gseq: pos.GSeq, at: now, payload: payload}, sh.historyLen)
	for _, n := range sh.subs[topic] {
		if n.enqueue(memDelivery{ev: Event{Topic: t.name, Pos: pos, Payload: payload}}) {
			woken = append(woken, n)
		}
	}
	if now-sh.swept > sh.sweepEvery {
		sh.sweepLocked(now)
	}
	sh.mu.Unlock()
	for _, n := range woken {
		n.drain()
	}
	return pos, nil
}

// topicLocked returns the topic, created if needed. sh.mu held.
func (sh *memShared) topicLocked(name string, now int64) *memTopic {
	t := sh.topics[name]
	if t == nil {
		t = &memTopic{name: name, last: now}
		sh.topics[name] = t
	}
	return t
}

// sweepLocked drops the topics no node subscribes to that have been idle
// for TopicTTL. sh.mu held.
func (sh *memShared) sweepLocked(now int64) {
	sh.swept = now
	if sh.topicTTL <= 0 {
		return
	}
	for name, t := range sh.topics {
		if len(sh.subs[name]) == 0 && now-t.last > sh.topicTTL {
			delete(sh.topics, name)
			sh.dropped = max(sh.dropped, t.newest)
		}
	}
}

// push appends e to the history, dropping the oldest entry when the ring
// holds limit (limit 0: nothing is kept, every event counts as trimmed).
func (t *memTopic) push(e memEntry, limit int) {
	t.newest = e.gseq
	if limit <= 0 {
		t.trimmed = e.gseq
		return
	}
	if t.n == len(t.ring) {
		if t.n >= limit {
			t.dropOldest()
		} else {
			t.grow(min(max(2*len(t.ring), 8), limit))
		}
	}
	t.ring[(t.head+t.n)%len(t.ring)] = e
	t.n++
}

// grow gives the ring the capacity c, oldest entry first.
func (t *memTopic) grow(c int) {
	r := make([]memEntry, c)
	for i := range t.n {
		r[i] = t.ring[(t.head+i)%len(t.ring)]
	}
	t.ring, t.head = r, 0
}

func (t *memTopic) dropOldest() {
	e := &t.ring[t.head]
	t.trimmed = e.gseq
	*e = memEntry{}
	t.head = (t.head + 1) % len(t.ring)
	t.n--
}

// trimAge drops the entries published before cutoff.
func (t *memTopic) trimAge(cutoff int64) {
	for t.n > 0 && t.ring[t.head].at < cutoff {
		t.dropOldest()
	}
}

// entry returns the i-th oldest entry.
func (t *memTopic) entry(i int) *memEntry { return &t.ring[(t.head+i)%len(t.ring)] }

// enqueue adds d to the node's inbox and reports whether the caller must
// drain it (no goroutine is delivering on the node). sh.mu held, so that
// inboxes fill in Pos order.
func (m *MemoryEngine) enqueue(d memDelivery) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed.Load() {
		return false
	}
	m.inbox = append(m.inbox, d)
	return !m.draining
}

// drain delivers the inbox unless a goroutine is doing so already.
func (m *MemoryEngine) drain() {
	m.mu.Lock()
	if m.draining || m.recv == nil {
		m.mu.Unlock()
		return
	}
	m.draining = true
	m.deliverLocked()
}

// deliverLocked delivers the inbox, batch by batch, until it is empty or
// the node closed; after maxDrainRounds batches it hands the rest to a
// new goroutine. m.mu is held on entry, and the caller holds the
// draining role; both are given up before it returns.
func (m *MemoryEngine) deliverLocked() {
	r := m.recv
	for round := 0; ; round++ {
		if len(m.inbox) == 0 || m.closed.Load() {
			clear(m.inbox)
			m.inbox = m.inbox[:0]
			m.draining = false
			m.cond.Broadcast()
			m.mu.Unlock()
			return
		}
		if round == maxDrainRounds {
			m.mu.Unlock()
			go func() {
				m.mu.Lock()
				m.deliverLocked()
			}()
			return
		}
		batch := m.inbox
		m.inbox = m.spare[:0]
		m.mu.Unlock()
		m.deliverRound(r, batch)
		clear(batch)
		m.mu.Lock()
		if cap(batch) <= 4096 {
			m.spare = batch[:0] // not kept after a burst
		} else {
			m.spare = nil
		}
	}
}

// deliverRound hands one batch of the inbox to r. For a BatchReceiver,
// each run of events between Sync functions and losses is one
// DeliverBatch. The caller holds the draining role.
func (m *MemoryEngine) deliverRound(r Receiver, batch []memDelivery) {
	br, _ := r.(BatchReceiver)
	evs := m.evs[:0]
	for i := range batch {
		d := &batch[i]
		if br != nil && d.sync == nil && d.lost == nil {
			evs = append(evs, d.ev)
			if i+1 < len(batch) {
				continue
			}
		}
		if len(evs) > 0 && !m.closed.Load() {
			br.DeliverBatch(evs)
		}
		clear(evs)
		evs = evs[:0]
		if m.closed.Load() {
			break
		}
		switch {
		case d.sync != nil:
			d.sync(d.ev.Pos)
		case d.lost != nil:
			r.Lost(nil, d.lost)
		case br == nil:
			r.Deliver(d.ev)
		}
	}
	if cap(evs) <= 4096 {
		m.evs = evs // not kept after a burst
	} else {
		m.evs = nil
	}
}

// Subscribe implements Engine.
func (m *MemoryEngine) Subscribe(ctx context.Context, topic string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := checkTopic("subscribe", topic); err != nil {
		return err
	}
	sh := m.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	switch {
	case m.closed.Load():
		return ErrEngineClosed
	case !m.started:
		return ErrNotStarted
	}
	if !slices.Contains(sh.subs[topic], m) {
		sh.subs[topic] = append(sh.subs[topic], m)
	}
	return nil
}

// Sync implements Engine: f joins the node's inbox behind every event
// ordered so far.
func (m *MemoryEngine) Sync(ctx context.Context, f func(Position)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	if f == nil {
		return errors.New("runtime: sync: nil function")
	}
	sh := m.sh
	sh.mu.Lock()
	switch {
	case m.closed.Load():
		sh.mu.Unlock()
		return ErrEngineClosed
	case !m.started:
		sh.mu.Unlock()
		return ErrNotStarted
	}
	wake := m.enqueue(memDelivery{ev: Event{Pos: Position{Epoch: sh.epoch, GSeq: sh.gseq}}, sync: f})
	sh.mu.Unlock()
	if wake {
		m.drain()
	}
	return nil
}

// Unsubscribe implements Engine.
func (m *MemoryEngine) Unsubscribe(ctx context.Context, topic string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	sh := m.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if m.closed.Load() {
		return ErrEngineClosed
	}
	m.unsubscribeLocked(topic)
	return nil
}

// unsubscribeLocked removes the node from topic's subscribers. sh.mu held.
func (m *MemoryEngine) unsubscribeLocked(topic string) {
	subs := m.sh.subs[topic]
	i := slices.Index(subs, m)
	if i < 0 {
		return
	}
	subs = slices.Delete(subs, i, i+1)
	if len(subs) == 0 {
		delete(m.sh.subs, topic) // its history, if any, stays for TopicTTL
	} else {
		m.sh.subs[topic] = subs
	}
}

// History implements Engine.
func (m *MemoryEngine) History(ctx context.Context, topics []string, after Position, back, limit int) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if m.closed.Load() {
		return nil, ErrEngineClosed
	}
	back = max(back, 0)
	sh := m.sh
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if after.Epoch != sh.epoch {
		return nil, fmt.Errorf("history after %v: the engine is at epoch %x: %w", after, sh.epoch, ErrEpochChanged)
	}
	if after.GSeq > sh.gseq {
		return nil, fmt.Errorf("history after %v: the engine is at %d: %w", after, sh.gseq, ErrHistoryLost)
	}
	now := monoNow()
	var backs, fwds [][]Event
	var kept []*memTopic // the topics asked for that exist, once each
	nback, nfwd := 0, 0
	for i, name := range topics {
		t := sh.topics[name]
		if t == nil && after.GSeq < sh.dropped {
			return nil, fmt.Errorf("history of %q after %v: unknown, and idle topics with events up to %d were dropped: %w", name, after, sh.dropped, ErrHistoryLost)
		}
		if t == nil || slices.Contains(topics[:i], name) {
			continue // no event ever, or none since `after` (it was dropped before), or listed twice
		}
		kept = append(kept, t)
		if sh.historyAge > 0 {
			t.trimAge(now - sh.historyAge)
		}
		if t.trimmed > after.GSeq {
			return nil, fmt.Errorf("history of %q after %v: trimmed up to %d: %w", name, after, t.trimmed, ErrHistoryLost)
		}
		first := sort.Search(t.n, func(i int) bool { return t.entry(i).gseq > after.GSeq })
		if k := min(first, back); k > 0 {
			backs = append(backs, t.events(sh.epoch, first-k, k))
			nback += k
		}
		k := t.n - first
		if limit > 0 {
			k = min(k, limit)
		}
		if k > 0 {
			fwds = append(fwds, t.events(sh.epoch, first, k))
			nfwd += k
		}
	}
	if nback < back {
		return nil, fmt.Errorf("history of %d events at or before %v: %d kept: %w", back, after, nback, ErrHistoryLost)
	}
	if limit <= 0 || limit > nfwd {
		limit = nfwd
	}
	out := make([]Event, 0, back+limit)
	if back > 0 {
		out = mergeByPos(out, backs, 0)
		out = out[len(out)-back:]
		oldest := out[0].Pos.GSeq
		for _, t := range kept {
			if t.trimmed > oldest {
				return nil, fmt.Errorf("history of %d events at or before %v: %q trimmed up to %d: %w", back, after, t.name, t.trimmed, ErrHistoryLost)
			}
		}
		out = slices.Clip(out)
	}
	if len(out) == 0 && len(fwds) == 1 {
		return fwds[0], nil
	}
	return mergeByPos(out, fwds, back+limit), nil
}

// events returns k entries from the i-th oldest as Events.
func (t *memTopic) events(epoch uint64, i, k int) []Event {
	l := make([]Event, k)
	for j := range l {
		e := t.entry(i + j)
		l[j] = Event{Topic: t.name, Pos: Position{Epoch: epoch, GSeq: e.gseq}, Payload: e.payload}
	}
	return l
}

// Claim implements Engine.
func (m *MemoryEngine) Claim(ctx context.Context, group, key, owner string) (string, bool, error) {
	if err := ctx.Err(); err != nil {
		return "", false, fmt.Errorf("claim: %w", err)
	}
	if owner == "" {
		return "", false, errors.New("runtime: claim: empty owner")
	}
	if m.closed.Load() {
		return "", false, ErrEngineClosed
	}
	sh := m.sh
	sh.pmu.Lock()
	defer sh.pmu.Unlock()
	g := sh.claims[group]
	if g == nil {
		g = make(map[string]string)
		sh.claims[group] = g
	}
	if holder, ok := g[key]; ok {
		return holder, holder == owner, nil
	}
	g[key] = owner
	return owner, true, nil
}

// Release implements Engine.
func (m *MemoryEngine) Release(ctx context.Context, group, key, owner string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("release: %w", err)
	}
	if m.closed.Load() {
		return false, ErrEngineClosed
	}
	sh := m.sh
	sh.pmu.Lock()
	defer sh.pmu.Unlock()
	g := sh.claims[group]
	if holder, ok := g[key]; !ok || holder != owner {
		return false, nil
	}
	delete(g, key)
	if len(g) == 0 {
		delete(sh.claims, group)
	}
	return true, nil
}

// Members implements Engine.
func (m *MemoryEngine) Members(ctx context.Context, group string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	if m.closed.Load() {
		return nil, ErrEngineClosed
	}
	sh := m.sh
	sh.pmu.Lock()
	defer sh.pmu.Unlock()
	g := maps.Clone(sh.claims[group])
	if g == nil {
		g = make(map[string]string)
	}
	return g, nil
}

// SaveSession implements Engine, as MemoryStore's Save, except that
// an expired record stays for expiredGrace, to be taken (TakeSession,
// TakeExpiredSessions).
func (m *MemoryEngine) SaveSession(ctx context.Context, key string, st SessionState) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	if m.closed.Load() {
		return ErrEngineClosed
	}
	st.Attrs = maps.Clone(st.Attrs)
	st.Topics = slices.Clone(st.Topics)
	sh := m.sh
	sh.smu.Lock()
	defer sh.smu.Unlock()
	sh.sessions.save(key, st, st.ExpiresAt)
	return nil
}

// UpdateSession implements Engine.
func (m *MemoryEngine) UpdateSession(ctx context.Context, key string, st SessionState) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update session: %w", err)
	}
	if m.closed.Load() {
		return ErrEngineClosed
	}
	st.Attrs = maps.Clone(st.Attrs)
	st.Topics = slices.Clone(st.Topics)
	sh := m.sh
	sh.smu.Lock()
	defer sh.smu.Unlock()
	return sh.sessions.update(key, st, st.ExpiresAt)
}

// TakeSession implements Engine.
func (m *MemoryEngine) TakeSession(ctx context.Context, key string) (SessionState, error) {
	if err := ctx.Err(); err != nil {
		return SessionState{}, fmt.Errorf("take session: %w", err)
	}
	if m.closed.Load() {
		return SessionState{}, ErrEngineClosed
	}
	sh := m.sh
	sh.smu.Lock()
	defer sh.smu.Unlock()
	return sh.sessions.take(key)
}

// expiredGrace is how long a MemoryEngine keeps an expired session record
// for TakeExpiredSessions before its sweep drops it.
const expiredGrace = 10 * time.Minute

// TakeExpiredSessions implements Engine.
func (m *MemoryEngine) TakeExpiredSessions(ctx context.Context, limit int) ([]SessionState, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("take expired sessions: %w", err)
	}
	if m.closed.Load() {
		return nil, ErrEngineClosed
	}
	sh := m.sh
	sh.smu.Lock()
	defer sh.smu.Unlock()
	return sh.sessions.takeExpired(limit), nil
}

// Close implements Engine.
func (m *MemoryEngine) Close() error {
	if m.closed.Swap(true) {
		return nil
	}
	sh := m.sh
	sh.mu.Lock()
	for topic := range sh.subs { // deleting while ranging is allowed
		m.unsubscribeLocked(topic)
	}
	if i := slices.Index(sh.nodes, m); i >= 0 {
		sh.nodes = slices.Delete(sh.nodes, i, i+1)
	}
	sh.mu.Unlock()
	m.mu.Lock()
	clear(m.inbox)
	m.inbox = m.inbox[:0]
	for m.draining {
		m.cond.Wait()
	}
	m.mu.Unlock()
	return nil
}

var _ Engine = (*MemoryEngine)(nil)
