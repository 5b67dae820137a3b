package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// The engine seam (docs/engine.md): everything that must cross server
// processes ("nodes") goes through one Engine. MemoryEngine is the
// in-process default; a Redis engine implements the same interface for
// several nodes behind a load balancer.

// Position is a place in the engine's global order of published events.
//
// GSeq counts publishes cluster-wide: every Publish, on any topic and from
// any node, takes the next value (1 for the first). Epoch names the
// engine's state: it is random, chosen when that state was created, and a
// new one means that the state was lost (a Redis that restarted without
// its data) and GSeq started over. Positions compare only within one
// epoch. The zero Position belongs to no epoch: it is "no position".
type Position struct {
	Epoch uint64
	GSeq  uint64
}

// IsZero reports whether p is the zero Position.
func (p Position) IsZero() bool { return p == Position{} }

// String formats p as "epoch/gseq", the epoch in hex.
func (p Position) String() string {
	return strconv.FormatUint(p.Epoch, 16) + "/" + strconv.FormatUint(p.GSeq, 10)
}

// Event is one published event as the engine hands it out, by delivery or
// from History.
//
// Payload is opaque to the engine and shared, never copied: the slice
// given to Publish is the one every local delivery and History return,
// so nobody may modify it. The runtime's payload is the event's frame
// without its per-session seq (see newEventPayload).
type Event struct {
	Topic   string
	Pos     Position
	Payload []byte
}

// Receiver is what a node's engine delivers to. The runtime implements it
// by fanning each event out to the local sessions of its topic through
// their connections' queues, which never block.
//
// The engine calls Deliver, Lost and the functions given to Sync on one
// delivery path per node: one call at a time, in order.
type Receiver interface {
	// Deliver is called for every event published, by any node, on a
	// topic this node subscribes to, in strictly increasing Pos, each
	// event at most once.
	//
	// Deliver must not block: it holds up every delivery of the node
	// (with Redis, the node's pub/sub connection, which Redis drops
	// when its output buffer overflows). It may call the engine's
	// methods except Close; an event it publishes is delivered after it
	// returns.
	Deliver(ev Event)
	// Lost reports that events published on the node's topics after
	// the last one delivered may never be delivered: the node's
	// connection to the engine broke and the events it missed are no
	// longer in the history (err wraps ErrHistoryLost), or the engine
	// lost its state (ErrEpochChanged). topics are the topics
	// concerned; nil means all of them. Deliveries continue after it
	// with later events. A session of those topics cannot number its
	// events without a gap any more: the runtime ends it and refuses
	// its resume (reason "overrun").
	Lost(topics []string, err error)
}

// BatchReceiver is a Receiver that also takes events in batches. An
// engine whose Receiver implements it hands over the events it has ready
// at once (those that arrived while the previous delivery ran) in one
// DeliverBatch call instead of one Deliver each; the runtime's Receiver
// then writes each connection's events of the batch with one system call
// (Conn.WriteMessageCorked, Uncork). The runtime's Receiver implements it.
//
// An engine never waits for more events to make a batch: an idle node
// delivers each event as it comes, in a batch of one (or with Deliver).
// Batches do not cross the other calls of the delivery path: an event
// ordered before a Sync point or a Lost is in a batch that returns before
// that function or Lost is called, and one ordered after it in a later
// batch.
type BatchReceiver interface {
	Receiver
	// DeliverBatch delivers evs as as many calls of Deliver would, one
	// after the other: under Deliver's contract (every event of a
	// subscribed topic once, in strictly increasing Pos, within the
	// batch and across calls; not blocking; the engine's methods but
	// Close may be called, and an event published meanwhile is
	// delivered after it returns). evs holds at least one event. The
	// slice is the engine's, reused once DeliverBatch returns: the
	// Receiver must not keep it (the events' payloads it may keep, as
	// with Deliver).
	DeliverBatch(evs []Event)
}

// Checkpoint ties a session's seq to the engine's order: the session's
// events up to Pos have been numbered up to Seq, and those after Pos are
// numbered from Seq+1 in Pos order. Any such pair will do: a resume reads
// the history around it, back to the client's seq and forward.
type Checkpoint struct {
	Seq int64
	Pos Position
}

// SessionState is what an engine keeps of a session so that any node can
// resume it: the fields of SessionRecord (whose Seq is Checkpoint.Seq),
// the session's topics and a checkpoint. See docs/engine.md for how a
// resume numbers events from it.
type SessionState struct {
	ID        string
	Attrs     map[string]string
	ExpiresAt time.Time
	// Topics are the session's topics since its seq was TopicsSince:
	// the events numbered after TopicsSince are all the events of
	// Topics after the position where they became its topics (its own
	// topic among them). The record is rewritten when they change,
	// before any event is numbered with the new topics.
	Topics      []string
	TopicsSince int64
	// Checkpoint, with Seq >= TopicsSince.
	Checkpoint Checkpoint
}

// Record returns the SessionRecord of st: its checkpoint's Seq, without
// its position and topics.
func (st SessionState) Record() SessionRecord {
	return SessionRecord{ID: st.ID, Attrs: st.Attrs, Seq: st.Checkpoint.Seq, ExpiresAt: st.ExpiresAt}
}

// Engine carries what crosses the server processes of one deployment: a
// global order of published events and their delivery to the nodes that
// subscribe to their topics, the bounded history a resuming session
// reads, presence with atomic claims, and the records of sessions to
// resume. One Engine value is one node's handle; nodes share the
// engine's state (one Redis, or one MemoryEngine in one process).
//
// Implementations are safe for concurrent use. Every method but Close
// honours ctx for its deadline and cancellation and then returns ctx's
// error (wrapped); an engine that cannot be reached returns an error
// wrapping the transport's. Errors listed for a method are matched with
// errors.Is.
type Engine interface {
	// Start connects the node and names its Receiver; deliveries begin
	// once it returns. Start succeeds once per Engine value;
	// ErrEngineClosed after Close.
	Start(ctx context.Context, r Receiver) error

	// Publish appends payload to topic's history and delivers it to
	// every node that subscribes to topic, each in Pos order, and
	// returns its Position. The engine keeps payload; the caller must
	// not modify it afterwards. Publishes are ordered: one that returns
	// before another starts has the smaller Position. Delivery may
	// happen before or after Publish returns, on any goroutine. A
	// Publish that fails with a transport error or ctx may still have
	// been published.
	Publish(ctx context.Context, topic string, payload []byte) (Position, error)

	// Subscribe makes the node receive topic's events: every event
	// published on topic after Subscribe returns is delivered to the
	// node, none published before it was called (unless the node
	// subscribed earlier). Sync tells where, in the node's deliveries,
	// that happens. Subscribing is node-level and idempotent: the
	// runtime counts its sessions per topic, subscribes on the first
	// and unsubscribes after the last. ErrNotStarted before Start.
	Subscribe(ctx context.Context, topic string) error

	// Unsubscribe ends the node's interest in topic: no event published
	// after it returns is delivered. Events ordered before may still be.
	Unsubscribe(ctx context.Context, topic string) error

	// Sync calls f(p) once on the node's delivery path, in order with
	// the deliveries: every event with Pos <= p on a topic the node
	// subscribed to before Sync was called is delivered before f, and
	// every event delivered after f has Pos > p. It is where a session
	// joins or leaves a topic, so that its seq and p make a checkpoint.
	// f must not block, like Deliver. Sync returns before or after f
	// runs; f does not run when the node closes first. ErrNotStarted
	// before Start.
	Sync(ctx context.Context, f func(p Position)) error

	// History returns events of topics merged in Pos order: the last
	// back events at or before `after`, then the events after `after`,
	// at most limit of those (limit <= 0: all the engine has). When it
	// returns limit events after `after`, call again (back 0) after the
	// last one's Pos for more. The whole answer is one consistent
	// snapshot, holding everything published before History started
	// (up to limit).
	//
	// It returns ErrEpochChanged when after.Epoch is not the engine's
	// current epoch (the zero Position included), and ErrHistoryLost
	// when the engine cannot answer exactly: one of the topics has been
	// trimmed (by length or age) past the oldest event the answer
	// needs, fewer than back events are at or before `after`, or
	// `after` is ahead of the engine (it forgot events it ordered). A
	// topic with no event in the range asked for is not lost.
	History(ctx context.Context, topics []string, after Position, back, limit int) ([]Event, error)

	// Claim makes owner the holder of key in group if nobody holds it,
	// atomically: of any number of concurrent claims of a free key,
	// exactly one wins. It returns the holder after the call, and
	// whether that is owner (a repeated claim by the holder wins
	// again). owner must not be empty. A claim lasts until released.
	Claim(ctx context.Context, group, key, owner string) (holder string, won bool, err error)

	// Release frees key in group if owner holds it (compare and delete)
	// and reports whether it did.
	Release(ctx context.Context, group, key, owner string) (bool, error)

	// Members returns the keys held in group with their holders: a
	// snapshot, the caller's to keep.
	Members(ctx context.Context, group string) (map[string]string, error)

	// SaveSession stores st under key (the hash of a resume token) until
	// st.ExpiresAt, replacing any record under that key; the engine
	// keeps its own copy. It is for a record's first write, under a
	// token just issued.
	SaveSession(ctx context.Context, key string, st SessionState) error

	// UpdateSession replaces the record under key with st only if there
	// is one: ErrSessionNotFound when it was taken (the session was
	// resumed, maybe on another node: the caller's copy is stale and
	// must end without its end hook) or never saved; ErrSessionExpired
	// (removing it) when it is past its ExpiresAt. Checkpoint refreshes,
	// topic changes and detaches write with it, so that a record taken
	// by a resume is never written back.
	UpdateSession(ctx context.Context, key string, st SessionState) error

	// TakeSession returns and removes the record under key in one atomic
	// step, so that a session is resumed at most once across nodes:
	// ErrSessionNotFound when there is none, ErrSessionExpired when it is
	// past its ExpiresAt, removing it and returning it too: the caller
	// removed it, so it ends the session (its end hook runs there). Store's
	// Take, for SessionState.
	TakeSession(ctx context.Context, key string) (SessionState, error)

	// TakeExpiredSessions removes and returns, in one atomic step per
	// record, up to limit session records whose ExpiresAt has passed
	// (none when limit <= 0), so that each expired record is returned
	// to exactly one caller across all nodes: the way to end the
	// sessions of a dead node once. An engine keeps expired records
	// for a grace period after their ExpiresAt for this; records older
	// than that may be gone unreturned. An engine that cannot list its
	// records (StoreSessions) fails with an error wrapping
	// errors.ErrUnsupported; the runtime then does not sweep.
	TakeExpiredSessions(ctx context.Context, limit int) ([]SessionState, error)

	// Close disconnects the node: its subscriptions end, and once Close
	// returns nothing on its delivery path is called again. The shared
	// state (history, claims, records) stays for the other nodes. Close
	// must not be called from the delivery path. Later calls return
	// ErrEngineClosed; repeated Closes return nil.
	Close() error
}

// Errors of the engine.
var (
	// ErrHistoryLost: events a caller needs are no longer in the
	// engine's history. A resume that meets it answers "overrun".
	ErrHistoryLost = errors.New("runtime: history lost")
	// ErrEpochChanged: a position belongs to another epoch; the engine
	// lost its state since (or the position is the zero one). A resume
	// that meets it answers "overrun".
	ErrEpochChanged = errors.New("runtime: epoch changed")
	// ErrEngineClosed: the node was closed.
	ErrEngineClosed = errors.New("runtime: engine closed")
	// ErrNotStarted: the node was not started.
	ErrNotStarted = errors.New("runtime: engine not started")
)

// checkTopic refuses the empty topic, a mistake rather than a name.
func checkTopic(op, topic string) error {
	if topic == "" {
		return fmt.Errorf("runtime: %s: empty topic", op)
	}
	return nil
}

// StoreSessions returns e with its session records kept in s instead:
// SaveSession, UpdateSession and TakeSession go to s, everything else to
// e. It lets an existing Store keep the records of an engine. A
// SessionRecord has no room for the checkpoint's position and topics; they
// travel in the attribute CheckpointAttr, which TakeSession removes again
// (the "duplex." prefix of attribute names is the runtime's).
//
// A Store cannot replace a record only if it is there, so UpdateSession
// takes the record and saves st: atomic only with a single node, where
// the runtime orders a session's writes with its resumes. Across nodes,
// keep the records in the engine.
func StoreSessions(e Engine, s Store) Engine {
	return &storeSessions{Engine: e, store: s}
}

// CheckpointAttr is the attribute in which StoreSessions keeps a
// checkpoint's position and topics.
const CheckpointAttr = "duplex.checkpoint"

type storeSessions struct {
	Engine
	store Store
}

// storedCheckpoint is CheckpointAttr's JSON.
type storedCheckpoint struct {
	Epoch  uint64   `json:"epoch"`
	GSeq   uint64   `json:"gseq"`
	Topics []string `json:"topics"`
	Since  int64    `json:"since"`
}

func (e *storeSessions) SaveSession(ctx context.Context, key string, st SessionState) error {
	rec := st.Record()
	cp, err := json.Marshal(storedCheckpoint{Epoch: st.Checkpoint.Pos.Epoch, GSeq: st.Checkpoint.Pos.GSeq, Topics: st.Topics, Since: st.TopicsSince})
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	rec.Attrs = maps.Clone(st.Attrs)
	if rec.Attrs == nil {
		rec.Attrs = make(map[string]string, 1)
	}
	rec.Attrs[CheckpointAttr] = string(cp)
	return e.store.Save(ctx, key, rec)
}

func (e *storeSessions) UpdateSession(ctx context.Context, key string, st SessionState) error {
	if _, err := e.store.Take(ctx, key); err != nil {
		return err
	}
	return e.SaveSession(ctx, key, st)
}

// TakeExpiredSessions implements Engine: a Store cannot list its records,
// so it fails with errors.ErrUnsupported, and the sessions of a node that
// died are not ended.
func (e *storeSessions) TakeExpiredSessions(ctx context.Context, limit int) ([]SessionState, error) {
	return nil, fmt.Errorf("take expired sessions: a Store cannot list its records: %w", errors.ErrUnsupported)
}

func (e *storeSessions) TakeSession(ctx context.Context, key string) (SessionState, error) {
	rec, err := e.store.Take(ctx, key)
	if err != nil && (!errors.Is(err, ErrSessionExpired) || rec.ID == "") {
		return SessionState{}, err
	}
	// Saved without a position (or unreadable): nothing to replay from,
	// and no seq below rec.Seq to renumber.
	st := SessionState{ID: rec.ID, Attrs: rec.Attrs, ExpiresAt: rec.ExpiresAt, Checkpoint: Checkpoint{Seq: rec.Seq}, TopicsSince: rec.Seq}
	raw, ok := rec.Attrs[CheckpointAttr]
	if !ok {
		return st, err
	}
	delete(st.Attrs, CheckpointAttr)
	var cp storedCheckpoint
	if json.Unmarshal([]byte(raw), &cp) != nil {
		return st, err
	}
	st.Checkpoint.Pos = Position{Epoch: cp.Epoch, GSeq: cp.GSeq}
	st.Topics, st.TopicsSince = cp.Topics, cp.Since
	return st, err
}

// The runtime's event payload is the event's frame without the digits of
// its seq: `{"event":NAME,"seq":` then `,"data":DATA}`, eventBody's head
// and tail in one slice. Built once by the publishing node, it is stored
// and delivered as is, and every node makes the eventBody its sessions
// share from it without copying or re-encoding: a delivery or a replay
// costs the same as a local Broadcast. Wire protocol v1 fixes the frame;
// a payload that does not have this form is refused, which leaves room
// for other payload kinds later.

const (
	payloadEventPrefix = `{"event":`
	payloadSeqMember   = `,"seq":`
	payloadDataMember  = `,"data":`
)

// newEventPayload returns the payload of the event: newEvent's bytes in
// one slice.
func newEventPayload(event string, data []byte) []byte {
	if len(data) == 0 {
		data = []byte("{}")
	}
	b := make([]byte, 0, len(payloadEventPrefix)+len(payloadSeqMember)+len(payloadDataMember)+len(event)+len(data)+8)
	b = append(b, payloadEventPrefix...)
	b = wire.AppendString(b, event)
	b = append(b, payloadSeqMember...)
	b = append(b, payloadDataMember...)
	b = append(b, data...)
	return append(b, '}')
}

// errBadPayload is returned for a payload newEventPayload did not make.
var errBadPayload = errors.New("runtime: not an event payload")

// eventBodyFromPayload splits a payload into an eventBody without copying:
// head and tail point into p. It checks the frame's fixed parts, not DATA:
// payloads come from the runtime's own newEventPayload.
func eventBodyFromPayload(p []byte) (*eventBody, error) {
	if !bytes.HasPrefix(p, []byte(payloadEventPrefix+`"`)) || p[len(p)-1] != '}' {
		return nil, errBadPayload
	}
	i := len(payloadEventPrefix) + 1
	for {
		if i >= len(p) {
			return nil, errBadPayload
		}
		c := p[i]
		i++
		if c == '"' {
			break
		}
		if c == '\\' {
			i++ // the escaped byte (a \u escape's digits need no care)
		}
	}
	if !bytes.HasPrefix(p[i:], []byte(payloadSeqMember+payloadDataMember)) {
		return nil, errBadPayload
	}
	h := i + len(payloadSeqMember)
	return &eventBody{head: p[:h:h], tail: p[h:]}, nil
}

// mergeByPos merges event lists each in Pos order into dst in Pos order,
// stopping at limit events (limit <= 0: no limit). GSeqs are unique across
// topics, so the order is total.
func mergeByPos(dst []Event, lists [][]Event, limit int) []Event {
	heads := make([]int, len(lists))
	for limit <= 0 || len(dst) < limit {
		best := -1
		for i, l := range lists {
			if heads[i] < len(l) && (best < 0 || l[heads[i]].Pos.GSeq < lists[best][heads[best]].Pos.GSeq) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		dst = append(dst, lists[best][heads[best]])
		heads[best]++
	}
	return slices.Clip(dst)
}
