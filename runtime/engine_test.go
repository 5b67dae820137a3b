package runtime

import (
	"context"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// The payload is newEvent's frame without the seq in one slice, and
// eventBodyFromPayload gives back newEvent's head and tail without a copy.
func TestEngineEventPayload(t *testing.T) {
	for _, c := range []struct {
		name string
		data string
	}{
		{"said", `{"from":"ada","content":"hi"}`},
		{"", ""},
		{`a"b\c`, `{"x":"\"seq\":"}`},
		{"\u2028<ünï>\x01", `[1,2]`},
		{`\`, `{}`},
		{`,"seq":`, `{"data":1}`},
	} {
		want := newEvent(c.name, []byte(c.data))
		p := newEventPayload(c.name, []byte(c.data))
		if string(p) != string(want.head)+string(want.tail) {
			t.Errorf("%q: payload %s, want %s%s", c.name, p, want.head, want.tail)
		}
		ev, err := eventBodyFromPayload(p)
		if err != nil {
			t.Errorf("%q: %v", c.name, err)
			continue
		}
		if string(ev.head) != string(want.head) || string(ev.tail) != string(want.tail) {
			t.Errorf("%q: head %s tail %s, want %s %s", c.name, ev.head, ev.tail, want.head, want.tail)
		}
		if &ev.head[0] != &p[0] || &ev.tail[0] != &p[len(ev.head)] || cap(ev.head) != len(ev.head) {
			t.Errorf("%q: the body copies the payload, or its head can grow into the tail", c.name)
		}
	}
	for _, bad := range []string{
		``, `{}`, `{"event":"x"}`, `{"event":"x","data":{}}`, `{"event":"x,"seq":,"data":{}}`,
		`{"event":"x\"}`, `{"event":1,"seq":,"data":{}}`, `{"event":"x","seq":1,"data":{}}`,
	} {
		if _, err := eventBodyFromPayload([]byte(bad)); err == nil {
			t.Errorf("payload %q accepted", bad)
		}
	}
}

func TestEngineMergeByPos(t *testing.T) {
	ev := func(g ...uint64) []Event {
		var l []Event
		for _, x := range g {
			l = append(l, Event{Pos: Position{Epoch: 1, GSeq: x}})
		}
		return l
	}
	lists := [][]Event{ev(2, 5, 9), ev(), ev(1, 3, 4, 10), ev(6)}
	got := mergeByPos(nil, lists, 0)
	var gs []uint64
	for _, e := range got {
		gs = append(gs, e.Pos.GSeq)
	}
	if !slices.Equal(gs, []uint64{1, 2, 3, 4, 5, 6, 9, 10}) {
		t.Fatalf("merged %v", gs)
	}
	if got := mergeByPos(ev(0), lists, 4); len(got) != 4 || got[3].Pos.GSeq != 3 {
		t.Fatalf("merged with a limit: %v", got)
	}
}

// StoreSessions keeps an engine's session records in a Store, the
// checkpoint's position and topics in an attribute the app never sees.
func TestEngineStoreSessions(t *testing.T) {
	ctx := context.Background()
	store := NewMemoryStore()
	e := StoreSessions(NewMemoryEngine(MemoryEngineOptions{}), store)
	attrs := map[string]string{"chat.name": "ada"}
	st := SessionState{
		ID:          "id1",
		Attrs:       attrs,
		ExpiresAt:   time.Now().Add(time.Minute),
		Topics:      []string{"room", "s:id1"},
		TopicsSince: 3,
		Checkpoint:  Checkpoint{Seq: 12, Pos: Position{Epoch: 1<<63 + 5, GSeq: 1<<53 + 1}},
	}
	if err := e.SaveSession(ctx, "k", st); err != nil {
		t.Fatal(err)
	}
	if len(attrs) != 1 {
		t.Fatalf("SaveSession changed the caller's attributes: %v", attrs)
	}
	got, err := e.TakeSession(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != st.ID || !maps.Equal(got.Attrs, attrs) || !got.ExpiresAt.Equal(st.ExpiresAt) ||
		!slices.Equal(got.Topics, st.Topics) || got.TopicsSince != 3 || got.Checkpoint != st.Checkpoint {
		t.Fatalf("TakeSession = %+v, want %+v", got, st)
	}
	if _, err := e.TakeSession(ctx, "k"); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("second TakeSession: %v", err)
	}
	// A record saved by Store.Save directly has no position: nothing to
	// replay from, nothing below its Seq to renumber.
	_ = store.Save(ctx, "old", SessionRecord{ID: "id2", Seq: 7, ExpiresAt: time.Now().Add(time.Minute)})
	got, err = e.TakeSession(ctx, "old")
	if err != nil || got.ID != "id2" || got.Checkpoint != (Checkpoint{Seq: 7}) || got.TopicsSince != 7 || got.Topics != nil {
		t.Fatalf("TakeSession of a plain record = %+v, %v", got, err)
	}
	_ = e.SaveSession(ctx, "late", SessionState{ID: "id3", ExpiresAt: time.Now().Add(-time.Second)})
	if _, err := e.TakeSession(ctx, "late"); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("TakeSession of an expired record: %v", err)
	}
	// UpdateSession: only a record that is there.
	if err := e.UpdateSession(ctx, "gone", st); !errors.Is(err, ErrSessionNotFound) {
		t.Fatalf("UpdateSession of a missing key: %v", err)
	}
	_ = e.SaveSession(ctx, "u", st)
	st2 := st
	st2.Checkpoint.Seq = 20
	if err := e.UpdateSession(ctx, "u", st2); err != nil {
		t.Fatal(err)
	}
	if got, err := e.TakeSession(ctx, "u"); err != nil || got.Checkpoint.Seq != 20 || got.Topics == nil {
		t.Fatalf("after UpdateSession: %+v, %v", got, err)
	}
	// Everything else goes to the engine.
	if _, err := e.Publish(ctx, "room", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

// newEvent is the event body as the runtime built it before the engine:
// the reference the payload is checked against.
func newEvent(event string, data []byte) *eventBody {
	if len(data) == 0 {
		data = []byte("{}")
	}
	b := make([]byte, 0, 20+len(event)+len(data))
	b = append(b, `{"event":`...)
	b = wire.AppendString(b, event)
	b = append(b, `,"seq":`...)
	h := len(b)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, '}')
	return &eventBody{head: b[:h:h], tail: b[h:]}
}

// A topic nobody published on goes with its last subscriber: the own
// topics of sessions that got no push do not pile up until TopicTTL.
func TestMemoryEngineDropsUnusedTopics(t *testing.T) {
	m := NewMemoryEngine(MemoryEngineOptions{})
	if err := m.Start(t.Context(), nopReceiver{}); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, topic := range []string{"unused", "used"} {
		if err := m.Subscribe(t.Context(), topic); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Publish(t.Context(), "used", newEventPayload("e", nil)); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"unused", "used"} {
		if err := m.Unsubscribe(t.Context(), topic); err != nil {
			t.Fatal(err)
		}
	}
	m.sh.mu.Lock()
	_, unused := m.sh.topics["unused"]
	_, used := m.sh.topics["used"]
	m.sh.mu.Unlock()
	if unused || !used {
		t.Errorf("topics kept: unused %v (want false), used %v (want true: its history)", unused, used)
	}
}

type nopReceiver struct{}

func (nopReceiver) Deliver(Event)        {}
func (nopReceiver) Lost([]string, error) {}
