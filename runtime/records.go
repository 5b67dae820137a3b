package runtime

import "time"

// records are the records of detached sessions in this process, each kept
// until its expiry: what MemoryStore and MemoryEngine hold for resumes.
// Expired records are dropped when looked up, and by a sweep at most once
// a minute on save, grace after their expiry. Not safe for concurrent
// use: the owner locks.
type records[T any] struct {
	m     map[string]record[T]
	swept time.Time
	// grace is how long the sweep keeps an expired record, for
	// takeExpired.
	grace time.Duration
}

type record[T any] struct {
	v  T
	at time.Time // expiry
}

// save stores v under key until at, replacing any record.
func (r *records[T]) save(key string, v T, at time.Time) {
	now := time.Now()
	if now.Sub(r.swept) > time.Minute {
		for k, e := range r.m {
			if now.After(e.at.Add(r.grace)) {
				delete(r.m, k)
			}
		}
		r.swept = now
	}
	if r.m == nil {
		r.m = make(map[string]record[T])
	}
	r.m[key] = record[T]{v, at}
}

// update replaces the record under key only if it is still there:
// ErrSessionNotFound when it is not, ErrSessionExpired (dropping it) when
// it expired.
func (r *records[T]) update(key string, v T, at time.Time) error {
	e, ok := r.m[key]
	switch {
	case !ok:
		return ErrSessionNotFound
	case !time.Now().Before(e.at):
		delete(r.m, key)
		return ErrSessionExpired
	}
	r.m[key] = record[T]{v, at}
	return nil
}

// take returns and removes the record under key: ErrSessionNotFound when
// there is none, ErrSessionExpired (removing and returning it too) when it
// expired.
func (r *records[T]) take(key string) (T, error) {
	var zero T
	e, ok := r.m[key]
	if !ok {
		return zero, ErrSessionNotFound
	}
	delete(r.m, key)
	if !time.Now().Before(e.at) {
		return e.v, ErrSessionExpired
	}
	return e.v, nil
}

// clear drops every record.
func (r *records[T]) clear() { clear(r.m) }

// takeExpired removes and returns up to limit records that expired.
func (r *records[T]) takeExpired(limit int) []T {
	var out []T
	now := time.Now()
	for k, e := range r.m {
		if len(out) >= limit {
			break
		}
		if !now.Before(e.at) {
			delete(r.m, k)
			out = append(out, e.v)
		}
	}
	return out
}
