package redisengine

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

// Session records: a string per record, its JSON, whose key lives
// ExpiredGrace past the record's ExpiresAt, and a sorted set of record
// keys by ExpiresAt (ms) that TakeExpiredSessions reads. Whether a record
// expired is judged by Redis's clock, the same for every node.

type storedSession struct {
	ID      string            `json:"id"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	Expires int64             `json:"exp"` // UnixNano
	Topics  []string          `json:"topics,omitempty"`
	Since   int64             `json:"since"`
	Seq     int64             `json:"seq"`
	Epoch   uint64            `json:"epoch"`
	GSeq    uint64            `json:"gseq"`
}

func (e *Engine) sessionKey(key string) string { return e.opts.Prefix + ":s:" + key }

// sessionArgs returns the arguments of duplex_save and duplex_update.
func (e *Engine) sessionArgs(st runtime.SessionState) ([]string, error) {
	b, err := json.Marshal(storedSession{
		ID: st.ID, Attrs: st.Attrs, Expires: st.ExpiresAt.UnixNano(), Topics: st.Topics, Since: st.TopicsSince,
		Seq: st.Checkpoint.Seq, Epoch: st.Checkpoint.Pos.Epoch, GSeq: st.Checkpoint.Pos.GSeq,
	})
	if err != nil {
		return nil, err
	}
	at := max(st.ExpiresAt.UnixMilli(), 1)
	return []string{strconv.FormatInt(at, 10), strconv.FormatInt(e.opts.ExpiredGrace.Milliseconds(), 10), string(b)}, nil
}

func decodeSession(s string) (runtime.SessionState, error) {
	var r storedSession
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return runtime.SessionState{}, fmt.Errorf("decode session record: %w", err)
	}
	return runtime.SessionState{
		ID: r.ID, Attrs: r.Attrs, ExpiresAt: time.Unix(0, r.Expires), Topics: r.Topics, TopicsSince: r.Since,
		Checkpoint: runtime.Checkpoint{Seq: r.Seq, Pos: runtime.Position{Epoch: r.Epoch, GSeq: r.GSeq}},
	}, nil
}

// SaveSession implements runtime.Engine.
func (e *Engine) SaveSession(ctx context.Context, key string, st runtime.SessionState) error {
	if err := e.check(ctx, false); err != nil {
		return err
	}
	args, err := e.sessionArgs(st)
	if err != nil {
		return fmt.Errorf("redisengine: save session: %w", err)
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	if err := e.fcall(ctx, "duplex_save", []string{e.sessionKey(key), e.keyExpiry}, args...).Error(); err != nil {
		return fmt.Errorf("redisengine: save session: %w", err)
	}
	return nil
}

// UpdateSession implements runtime.Engine: duplex_update replaces the
// record only if it is there and has not expired.
func (e *Engine) UpdateSession(ctx context.Context, key string, st runtime.SessionState) error {
	if err := e.check(ctx, false); err != nil {
		return err
	}
	args, err := e.sessionArgs(st)
	if err != nil {
		return fmt.Errorf("redisengine: update session: %w", err)
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	s, err := e.fcall(ctx, "duplex_update", []string{e.sessionKey(key), e.keyExpiry}, args...).ToString()
	switch {
	case err != nil:
		return fmt.Errorf("redisengine: update session: %w", err)
	case s == "notfound":
		return runtime.ErrSessionNotFound
	case s == "expired":
		return runtime.ErrSessionExpired
	}
	return nil
}

// TakeSession implements runtime.Engine: duplex_take gets and deletes the
// record in one step.
func (e *Engine) TakeSession(ctx context.Context, key string) (runtime.SessionState, error) {
	if err := e.check(ctx, false); err != nil {
		return runtime.SessionState{}, err
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	a, err := e.fcall(ctx, "duplex_take", []string{e.sessionKey(key), e.keyExpiry}).ToArray()
	if err == nil && len(a) == 0 {
		err = fmt.Errorf("empty reply")
	}
	if err != nil {
		return runtime.SessionState{}, fmt.Errorf("redisengine: take session: %w", err)
	}
	s, _ := a[0].ToString()
	switch {
	case s == "notfound":
		return runtime.SessionState{}, runtime.ErrSessionNotFound
	case len(a) != 2 || s != "ok" && s != "expired":
		return runtime.SessionState{}, fmt.Errorf("redisengine: take session: reply %q", s)
	}
	v, _ := a[1].ToString()
	st, err := decodeSession(v)
	if err != nil {
		return runtime.SessionState{}, fmt.Errorf("redisengine: take session: %w", err)
	}
	if s == "expired" {
		// Removed by this take, so the caller ends the session: it gets
		// the record with the error.
		return st, runtime.ErrSessionExpired
	}
	return st, nil
}

// TakeExpiredSessions implements runtime.Engine: duplex_takeexpired takes
// the records from the expiry index, oldest expiry first.
func (e *Engine) TakeExpiredSessions(ctx context.Context, limit int) ([]runtime.SessionState, error) {
	if err := e.check(ctx, false); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return nil, nil
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	l, err := e.fcall(ctx, "duplex_takeexpired", []string{e.keyExpiry}, strconv.Itoa(limit)).AsStrSlice()
	if err != nil {
		return nil, fmt.Errorf("redisengine: take expired sessions: %w", err)
	}
	out := make([]runtime.SessionState, 0, len(l))
	for _, v := range l {
		st, err := decodeSession(v)
		if err != nil {
			return out, fmt.Errorf("redisengine: take expired sessions: %w", err)
		}
		out = append(out, st)
	}
	return out, nil
}
