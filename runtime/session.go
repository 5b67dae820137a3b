package runtime

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"
)

// Session is the server-side state of one client: a random UUID and string
// attributes the app reads and writes (a user name after login, a role
// decided by Authorize). It starts with the connection's upgrade and
// outlives the connection by the resume window, so that a client that
// reconnects can resume it with Conn.Resume and find its attributes again.
//
// Attribute values are strings so that a shared Store can keep them for
// several server processes; encode structured values yourself.
//
// Safe for concurrent use.
type Session struct {
	id  string
	srv *Server

	mu     sync.Mutex
	attrs  map[string]string
	conn   *Conn
	secret string       // resume secret; "" until first asked for
	expiry *time.Timer  // set while detached
	pushMu sync.Mutex   // orders Push calls and replays (see Push)
	seq    int64        // sequence number of the last event pushed; guarded by pushMu
	replay []*eventBody // the last events, oldest first (seq: see missedSince); guarded by pushMu
	ended  bool         // ended for good (OnSessionEnd ran); guarded by mu
}

func newSession(srv *Server) *Session {
	return &Session{id: newSessionID(), srv: srv}
}

// newSessionID returns a random (version 4) UUID in its canonical
// lowercase form, with one allocation: the string.
func newSessionID() string {
	var u [16]byte
	_, _ = rand.Read(u[:])  // crypto/rand.Read never fails (Go 1.24+)
	u[6] = u[6]&0x0f | 0x40 // version 4
	u[8] = u[8]&0x3f | 0x80 // variant 10 (RFC 9562)
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// ID returns the session's random UUID.
func (s *Session) ID() string { return s.id }

// Get returns the attribute key.
func (s *Session) Get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.attrs[key]
	return v, ok
}

// Set sets the attribute key to value.
func (s *Session) Set(key, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.attrs == nil {
		s.attrs = make(map[string]string)
	}
	s.attrs[key] = value
}

// Delete removes the attribute key.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.attrs, key)
}

// Attrs returns a copy of all attributes.
func (s *Session) Attrs() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.attrs)
}

// Conn returns the connection the session is attached to, or nil while it
// is detached (waiting to be resumed).
func (s *Session) Conn() *Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// ResumeToken returns the secret a client presents to Conn.Resume after a
// reconnect: "<session id>.<32 random bytes, base64url>". Only a hash of it
// is stored. It stays the same until the session is resumed, after which a
// new one is issued.
func (s *Session) ResumeToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.secret == "" {
		var b [32]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
		s.secret = base64.RawURLEncoding.EncodeToString(b[:])
	}
	return s.id + "." + s.secret
}

// tokenKey is the store key for a resume token: its SHA-256, so that the
// store never holds a usable token and a lookup needs the whole secret.
func tokenKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ErrSessionNotFound is returned when a session cannot be resumed: the
// token is unknown, malformed or expired, or it was already used.
var ErrSessionNotFound = errors.New("session not found")

// ErrSessionExpired is returned by Store.Take for a record found past its
// ExpiresAt. Stores should keep records a little beyond ExpiresAt (a Redis
// TTL with some grace, say) and report them so, which lets the process that
// detached a session tell its expiry from a resume on another process.
// Conn.Resume reports it to the app as ErrSessionNotFound.
var ErrSessionExpired = errors.New("session expired")

// SessionRecord is what a Store keeps of a detached session.
type SessionRecord struct {
	ID        string
	Attrs     map[string]string
	Seq       int64 // the last event's sequence number when it was detached
	ExpiresAt time.Time
}

// Store keeps detached sessions until they are resumed or expire. The
// in-memory default serves one process; an adapter over Redis or NATS
// lets a client resume on another server process behind a load balancer.
// Implementations must be safe for concurrent use.
type Store interface {
	// Save stores rec under key (a hash of the resume token) until
	// rec.ExpiresAt, replacing any record under that key.
	Save(ctx context.Context, key string, rec SessionRecord) error
	// Take returns and removes the record under key in one atomic step,
	// so that a session is resumed at most once. It returns
	// ErrSessionNotFound when there is no record, and ErrSessionExpired
	// (removing it too) when the record is past its ExpiresAt.
	Take(ctx context.Context, key string) (SessionRecord, error)
}

// MemoryStore is the in-memory Store: records live in this process only
// and are gone when it restarts. Expired records are dropped when looked up
// and by a sweep on every Save.
type MemoryStore struct {
	mu      sync.Mutex
	records map[string]SessionRecord
	swept   time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{records: make(map[string]SessionRecord)}
}

// Save implements Store.
func (m *MemoryStore) Save(_ context.Context, key string, rec SessionRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if now.Sub(m.swept) > time.Minute {
		for k, r := range m.records {
			if now.After(r.ExpiresAt) {
				delete(m.records, k)
			}
		}
		m.swept = now
	}
	rec.Attrs = maps.Clone(rec.Attrs)
	m.records[key] = rec
	return nil
}

// Take implements Store.
func (m *MemoryStore) Take(_ context.Context, key string) (SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec, ok := m.records[key]
	if !ok {
		return SessionRecord{}, ErrSessionNotFound
	}
	delete(m.records, key)
	if !time.Now().Before(rec.ExpiresAt) {
		return SessionRecord{}, ErrSessionExpired
	}
	return rec, nil
}

// Len returns the number of records held, expired ones included until
// they are swept.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records)
}

// sessions tracks the sessions of this process that are detached, so that
// a resume on the same process keeps the same *Session, and so that expiry
// ends each of them exactly once. A resume and an expiry of the same session
// are serialised by one of a few lock stripes (chosen by session ID) held
// around Store.Take, so that each tells correctly whether the other won.
type sessions struct {
	srv      *Server
	stripes  [64]sync.Mutex
	mu       sync.Mutex
	detached map[string]*Session // by ID
}

func (m *sessions) stripe(id string) *sync.Mutex {
	h := uint32(2166136261) // FNV-1a
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return &m.stripes[h%uint32(len(m.stripes))]
}

// detach is called when s's connection ended, with how it ended. It saves
// s in the store for the resume window, or ends it now when resume is
// disabled, when no token was ever handed out, or when the connection ended
// normally (1000, from either side: the client said goodbye and threw its
// token away, or the server ended the conversation and a client does not
// come back after a 1000).
func (m *sessions) detach(s *Session, ce *CloseError) {
	cfg := &m.srv.cfg
	s.mu.Lock()
	s.conn = nil
	secret := s.secret
	s.mu.Unlock()
	goodbye := ce != nil && ce.Code == CloseNormal
	if cfg.ResumeWindow < 0 || secret == "" || goodbye {
		m.srv.endSession(s)
		return
	}
	key := tokenKey(s.id + "." + secret)
	s.pushMu.Lock()
	seq := s.seq
	s.pushMu.Unlock()
	rec := SessionRecord{ID: s.id, Attrs: s.Attrs(), Seq: seq, ExpiresAt: time.Now().Add(cfg.ResumeWindow)}
	lock := m.stripe(s.id)
	lock.Lock()
	defer lock.Unlock()
	if err := cfg.Store.Save(context.Background(), key, rec); err != nil {
		m.srv.reportError(nil, fmt.Errorf("save session %s: %w", s.id, err))
		m.srv.endSession(s)
		return
	}
	s.mu.Lock()
	s.expiry = time.AfterFunc(cfg.ResumeWindow, func() { m.expire(s, key) })
	s.mu.Unlock()
	m.mu.Lock()
	if m.detached == nil {
		m.detached = make(map[string]*Session)
	}
	m.detached[s.id] = s
	m.mu.Unlock()
}

// expire ends s unless it was resumed (here or on another process sharing
// the store) within the window.
func (m *sessions) expire(s *Session, key string) {
	lock := m.stripe(s.id)
	lock.Lock()
	m.mu.Lock()
	mine := m.detached[s.id] == s
	if mine {
		delete(m.detached, s.id)
	}
	m.mu.Unlock()
	if !mine {
		lock.Unlock()
		return // resumed on this process, or ended by a resume that found it expired
	}
	_, err := m.srv.cfg.Store.Take(context.Background(), key)
	lock.Unlock()
	if err != nil && !errors.Is(err, ErrSessionExpired) {
		// Not found: taken by another process sharing the store, where it
		// lives on. Any other error: the store is failing; the session is
		// ended here rather than leaked.
		if errors.Is(err, ErrSessionNotFound) {
			return
		}
		m.srv.reportError(nil, fmt.Errorf("expire session %s: %w", s.id, err))
	}
	m.srv.endSession(s)
}

// resume takes the detached session for token.
func (m *sessions) resume(ctx context.Context, token string) (*Session, error) {
	id, _, ok := strings.Cut(token, ".")
	if !ok || id == "" {
		return nil, ErrSessionNotFound
	}
	lock := m.stripe(id)
	lock.Lock()
	rec, err := m.srv.cfg.Store.Take(ctx, tokenKey(token))
	var s *Session
	if err == nil && rec.ID != id {
		err = ErrSessionNotFound // a token whose secret belongs to another ID
	}
	if err == nil || errors.Is(err, ErrSessionExpired) {
		m.mu.Lock()
		s = m.detached[id]
		delete(m.detached, id)
		m.mu.Unlock()
	}
	lock.Unlock()
	if s != nil {
		s.mu.Lock()
		s.expiry.Stop()
		s.expiry = nil
		s.mu.Unlock()
	}
	if errors.Is(err, ErrSessionExpired) {
		if s != nil {
			m.srv.endSession(s) // its timer will not find it any more
		}
		return nil, ErrSessionExpired
	}
	if err != nil {
		return nil, err
	}
	if s == nil {
		s = &Session{id: rec.ID, srv: m.srv, seq: rec.Seq} // detached by another process: no events to replay
		m.srv.addLive(s)
	}
	s.mu.Lock()
	s.attrs = maps.Clone(rec.Attrs)
	s.secret = "" // the token is spent; a new one is issued on demand
	s.mu.Unlock()
	return s, nil
}
