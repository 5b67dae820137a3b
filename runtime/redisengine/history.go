package redisengine

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/redis/rueidis"
)

// reading is duplex_history's answer: one snapshot.
type reading struct {
	epoch, gseq uint64
	// bound is the newest gseq a topic dropped by its TTL may have had.
	bound  uint64
	topics []topicReading // per topic asked for; none when the epoch differs or after is ahead
}

type topicReading struct {
	missing bool
	trimmed uint64          // the newest gseq trimmed from the stream
	back    []runtime.Event // the newest first
	fwd     []runtime.Event
}

// lost tells why h cannot answer exactly after `after`, if it cannot.
func (h topicReading) lost(topic string, after runtime.Position, bound uint64) error {
	switch {
	case h.missing && after.GSeq < bound:
		return fmt.Errorf("history of %q after %v: no stream, and idle topics with events up to %d may have expired: %w", topic, after, bound, runtime.ErrHistoryLost)
	case h.trimmed > after.GSeq:
		return fmt.Errorf("history of %q after %v: trimmed up to %d: %w", topic, after, h.trimmed, runtime.ErrHistoryLost)
	}
	return nil
}

// read runs duplex_history over topics (distinct).
func (e *Engine) read(ctx context.Context, topics []string, after runtime.Position, back, limit int) (reading, error) {
	keys := make([]string, 0, 3+len(topics))
	keys = append(keys, e.keyEpoch, e.keyGSeq, e.keyClock)
	for _, t := range topics {
		keys = append(keys, e.streamKey(t))
	}
	a, err := e.fcallRO(ctx, "duplex_history", keys,
		strconv.FormatUint(after.GSeq, 10), strconv.Itoa(back), strconv.Itoa(max(limit, 0)),
		strconv.FormatInt(e.opts.TopicTTL.Milliseconds(), 10), strconv.FormatUint(after.Epoch, 10)).ToArray()
	if err != nil {
		return reading{}, fmt.Errorf("read history: %w", err)
	}
	if len(a) < 3 {
		return reading{}, fmt.Errorf("read history: reply of %d elements", len(a))
	}
	var r reading
	if ep, _ := a[0].ToString(); ep != "" {
		if r.epoch, err = strconv.ParseUint(ep, 10, 64); err != nil {
			return reading{}, fmt.Errorf("read history: epoch %q: %w", ep, err)
		}
	}
	g, err1 := a[1].AsInt64()
	b, err2 := a[2].AsInt64()
	if err1 != nil || err2 != nil {
		return reading{}, fmt.Errorf("read history: bad counters: %v, %v", err1, err2)
	}
	r.gseq, r.bound = uint64(g), uint64(max(b, 0))
	if len(a) == 3 {
		return r, nil
	}
	if len(a) != 3+len(topics) {
		return reading{}, fmt.Errorf("read history: reply of %d elements for %d topics", len(a), len(topics))
	}
	r.topics = make([]topicReading, len(topics))
	for i, t := range topics {
		l, err := a[3+i].ToArray()
		if err != nil || len(l) == 0 {
			return reading{}, fmt.Errorf("read history of %q: bad reply: %v", t, err)
		}
		if ok, _ := l[0].AsInt64(); ok == 0 {
			r.topics[i].missing = true
			continue
		}
		if len(l) != 4 {
			return reading{}, fmt.Errorf("read history of %q: reply of %d elements", t, len(l))
		}
		tr, _ := l[1].AsInt64()
		h := &r.topics[i]
		h.trimmed = uint64(max(tr, 0))
		if h.back, err = events(t, r.epoch, l[2]); err == nil {
			h.fwd, err = events(t, r.epoch, l[3])
		}
		if err != nil {
			return reading{}, fmt.Errorf("read history of %q: %w", t, err)
		}
	}
	return r, nil
}

// events decodes a flat list of entry IDs ("gseq-0") and payloads.
func events(topic string, epoch uint64, m rueidis.RedisMessage) ([]runtime.Event, error) {
	l, err := m.ToArray()
	if err != nil {
		return nil, err
	}
	evs := make([]runtime.Event, 0, len(l)/2)
	for i := 0; i+1 < len(l); i += 2 {
		id, _ := l[i].ToString()
		p, err := l[i+1].ToString()
		g, err2 := strconv.ParseUint(strings.TrimSuffix(id, "-0"), 10, 64)
		if err != nil || err2 != nil {
			return nil, fmt.Errorf("bad entry %q", id)
		}
		evs = append(evs, runtime.Event{Topic: topic, Pos: runtime.Position{Epoch: epoch, GSeq: g}, Payload: []byte(p)})
	}
	return evs, nil
}

func sortByPos(evs []runtime.Event) {
	slices.SortFunc(evs, func(a, b runtime.Event) int { return int(a.Pos.GSeq) - int(b.Pos.GSeq) })
}

// History implements runtime.Engine: one duplex_history call reads every
// topic's stream in one atomic snapshot; the node merges them.
func (e *Engine) History(ctx context.Context, topics []string, after runtime.Position, back, limit int) ([]runtime.Event, error) {
	if err := e.check(ctx, false); err != nil {
		return nil, err
	}
	back = max(back, 0)
	var distinct []string
	for i, t := range topics {
		if !slices.Contains(topics[:i], t) {
			distinct = append(distinct, t)
		}
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	r, err := e.read(ctx, distinct, after, back, limit)
	if err != nil {
		return nil, fmt.Errorf("redisengine: %w", err)
	}
	if after.Epoch != r.epoch || r.epoch == 0 {
		return nil, fmt.Errorf("redisengine: history after %v: Redis is at epoch %x: %w", after, r.epoch, runtime.ErrEpochChanged)
	}
	if after.GSeq > r.gseq {
		return nil, fmt.Errorf("redisengine: history after %v: Redis is at %d: %w", after, r.gseq, runtime.ErrHistoryLost)
	}
	var backs, fwds []runtime.Event
	for i, h := range r.topics {
		if err := h.lost(distinct[i], after, r.bound); err != nil {
			return nil, fmt.Errorf("redisengine: %w", err)
		}
		backs = append(backs, h.back...)
		fwds = append(fwds, h.fwd...)
	}
	if len(backs) < back {
		return nil, fmt.Errorf("redisengine: history of %d events at or before %v: %d kept: %w", back, after, len(backs), runtime.ErrHistoryLost)
	}
	sortByPos(backs)
	backs = backs[len(backs)-back:]
	if back > 0 {
		oldest := backs[0].Pos.GSeq
		for i, h := range r.topics {
			if h.trimmed > oldest {
				return nil, fmt.Errorf("redisengine: history of %d events at or before %v: %q trimmed up to %d: %w", back, after, distinct[i], h.trimmed, runtime.ErrHistoryLost)
			}
		}
	}
	sortByPos(fwds)
	if limit > 0 && len(fwds) > limit {
		fwds = fwds[:limit]
	}
	return append(slices.Clip(backs), fwds...), nil
}
