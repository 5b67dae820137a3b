package runtime

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Session is the server-side state of one client: a random UUID and string
// attributes the app reads and writes (a user name after login, a role
// decided by Authorize). It starts with the connection's upgrade and
// outlives the connection by the resume window, so that a client that
// reconnects can resume it (a hello with its token, or Resume) and find its attributes again.
//
// Attribute values are strings so that a shared Store can keep them for
// several server processes; encode structured values yourself.
//
// Safe for concurrent use.
type Session struct {
	uuid [16]byte // random, version 4 (RFC 9562); ID formats it
	srv  *Server

	mu     sync.Mutex
	attrs  map[string]string // nil until the first Set
	conn   *Conn
	secret [32]byte   // the resume token's secret, random from the start; guarded by mu
	issued bool       // the secret was handed out (ResumeToken, welcome); guarded by mu
	ended  bool       // ended for good (OnSessionEnd ran); guarded by mu
	gone   bool       // left this node's audiences for good; guarded by srv.dmu
	hooked bool       // OnSessionEnd ran (or runs) for it here; guarded by mu
	corked bool       // conn is in the delivery batch's list to uncork (deliveryBatch); guarded by mu
	claims []claim    // presence claims it made, for a re-assert; guarded by mu
	gen    uint32     // counts detaches, to tell stale expiry entries; guarded by sessions.mu
	own    string     // the session's own topic (Push); set when it opens
	joinMu sync.Mutex // orders Join, Leave and the writes of its record
	// rkey is the engine key of the session's record (the hash of its
	// token), nil while it has none. Whoever swaps it to nil removes the
	// record (or learnt that somebody else did) and decides how the
	// session ends here: sessionrecords.go.
	rkey atomic.Pointer[string]

	// Numbering (docs/engine.md), guarded by pushMu, the session's
	// delivery lock: the session's events up to pos are numbered up to
	// seq (a Checkpoint), those after pos will be numbered from seq+1 in
	// the engine's order; since is the seq at which its topics last
	// changed (TopicsSince).
	pushMu sync.Mutex
	seq    int64
	pos    Position
	since  int64
	lists  *sessionLists // nil until the session joins a topic or is held
	hold   uint8         // resumes or record writes in progress: deliveries are held
	lost   bool          // events of its topics were lost: it cannot be resumed
	// reassert, reclaim: the engine lost its state; the session's
	// record, its claims are to be written again (reassert.go).
	reassert, reclaim bool
}

// uuidLen and tokenLen are the lengths of a session ID (a canonical UUID)
// and of a resume token: "<id>.<32 bytes, unpadded base64url>".
const (
	uuidLen   = 36
	secretLen = 43
	tokenLen  = uuidLen + 1 + secretLen
)

// initSession makes s a fresh session of srv with a random ID and a random
// resume secret (not handed out yet), with one read of crypto/rand. The
// version bits are set here rather than by uuid.NewRandomFromReader, whose
// UUID escapes through io.ReadFull: it cost every upgrade an allocation
// (BenchmarkHandshake 12 -> 13 allocs/op) and a second read of crypto/rand.
func initSession(s *Session, srv *Server) {
	s.srv = srv
	var r [16 + 32]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go 1.24+)
	copy(s.uuid[:], r[:16])
	copy(s.secret[:], r[16:])
	s.uuid[6] = s.uuid[6]&0x0f | 0x40 // version 4
	s.uuid[8] = s.uuid[8]&0x3f | 0x80 // variant 10 (RFC 9562)
}

// renewSecretLocked replaces a spent secret (the session was resumed with
// it) by a new random one, not handed out yet. mu held.
func (s *Session) renewSecretLocked() {
	_, _ = rand.Read(s.secret[:]) // crypto/rand.Read never fails (Go 1.24+)
	s.issued = false
}

// appendUUID appends u in its canonical lowercase form (MarshalText is
// inlined: its array stays on the stack).
func appendUUID(b []byte, u *[16]byte) []byte {
	t, _ := uuid.UUID(*u).MarshalText()
	return append(b, t...)
}

// parseUUID parses a UUID in the canonical lowercase form appendUUID
// writes, and nothing else (uuid.Parse also reads upper case).
func parseUUID(s string) (u [16]byte, ok bool) {
	if len(s) != uuidLen {
		return u, false
	}
	u, err := uuid.Parse(s)
	if err != nil {
		return u, false
	}
	t, _ := uuid.UUID(u).MarshalText()
	return u, string(t) == s
}

// ID returns the session's random UUID in its canonical lowercase form.
// The session keeps the 16 bytes; each call formats them (one small
// allocation).
func (s *Session) ID() string { return uuid.UUID(s.uuid).String() }

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
	if s.attrs == nil {
		s.attrs = make(map[string]string)
	}
	s.attrs[key] = value
	s.mu.Unlock()
	s.srv.sessions.changed(s)
}

// Delete removes the attribute key.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	delete(s.attrs, key)
	s.mu.Unlock()
	s.srv.sessions.changed(s)
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

// setConnLocked attaches the session to c (nil: detaches it). A delivery
// batch that corked events on the old connection uncorks it still; the
// next event of the batch lists c. mu held.
func (s *Session) setConnLocked(c *Conn) {
	s.conn = c
	s.corked = false
}

// ResumeToken returns the secret a client presents (hello, Resume) after a
// reconnect: "<session id>.<32 random bytes, base64url>". A Store gets
// only its SHA-256. It stays the same until the session is resumed, after
// which a new one is issued.
func (s *Session) ResumeToken() string {
	var b [tokenLen]byte
	return string(s.appendResumeToken(b[:0]))
}

// appendResumeToken appends the resume token and marks it handed out.
func (s *Session) appendResumeToken(b []byte) []byte {
	secret := s.issueSecret()
	return appendToken(b, &s.uuid, &secret)
}

// issueSecret marks the resume secret handed out and returns it.
func (s *Session) issueSecret() [32]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.issued = true
	return s.secret
}

func appendToken(b []byte, u *[16]byte, secret *[32]byte) []byte {
	b = appendUUID(b, u)
	b = append(b, '.')
	return base64.RawURLEncoding.AppendEncode(b, secret[:])
}

// tokenKey is the store key for a resume token: its SHA-256, so that the
// store never holds a usable token and a lookup needs the whole secret.
func tokenKey(token string) string {
	var b [tokenLen]byte
	var sum [sha256.Size]byte
	if len(token) == tokenLen {
		copy(b[:], token)
		sum = sha256.Sum256(b[:])
	} else {
		sum = sha256.Sum256([]byte(token))
	}
	return hex.EncodeToString(sum[:])
}

// ErrSessionNotFound is returned when a session cannot be resumed: the
// token is unknown, malformed or expired, or it was already used.
var ErrSessionNotFound = errors.New("runtime: session not found")

// ErrSessionExpired is returned by Store.Take for a record found past its
// ExpiresAt. Stores should keep records a little beyond ExpiresAt (a Redis
// TTL with some grace, say) and report them so, which lets the process that
// detached a session tell its expiry from a resume on another process.
// Resume reports it to the app as ErrSessionNotFound.
var ErrSessionExpired = errors.New("runtime: session expired")

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
	// (removing it too, and returning it if it can, so that the caller
	// ends its session) when the record is past its ExpiresAt.
	Take(ctx context.Context, key string) (SessionRecord, error)
}

// MemoryStore is the in-memory Store: records live in this process only
// and are gone when it restarts. Expired records are dropped when looked up
// and by a sweep on every Save.
type MemoryStore struct {
	mu      sync.Mutex
	records records[SessionRecord]
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{}
}

// Save implements Store.
func (m *MemoryStore) Save(_ context.Context, key string, rec SessionRecord) error {
	rec.Attrs = maps.Clone(rec.Attrs)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.records.save(key, rec, rec.ExpiresAt)
	return nil
}

// Take implements Store.
func (m *MemoryStore) Take(_ context.Context, key string) (SessionRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.records.take(key)
}

// Len returns the number of records held, expired ones included until
// they are swept.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.records.m)
}

// sessions tracks the sessions of this process that are detached, so that
// a resume on the same process keeps the same *Session, and so that expiry
// ends each of them exactly once.
//
// With the default engine and no Store (Options.Engine and Store nil),
// nobody else can reach the records, so a detached session stays here and
// nowhere else: no record is copied, no hash computed; a resume finds it
// by its ID and compares the token's secret in constant time. Otherwise
// the session is saved in the engine (Engine.SaveSession) under the
// SHA-256 of its token, with its topics and a checkpoint, so that any node
// can resume it; a resume and an expiry of the same session are serialised
// by one of a few lock stripes (chosen by session ID) held around
// TakeSession, so that each tells correctly whether the other won.
//
// Expiry needs no timer per session: the window is the same for all, so
// detached sessions expire in the order they were detached. One queue in
// that order and one timer for its head do; entries of sessions resumed
// meanwhile are skipped (the gen of an entry no longer matches, or the
// session is no longer detached) when their time comes. Expiries run one
// after the other on the timer's goroutine.
type sessions struct {
	srv     *Server
	local   bool // the default store: detached sessions are kept here only
	shared  bool // Options.Engine: records from the welcome on (sessionrecords.go)
	stripes [64]sync.Mutex

	mu       sync.Mutex
	detached map[[16]byte]detachedSession // by ID
	queue    []expiry                     // oldest first, from head
	head     int
	timer    *time.Timer // fires for queue[head]; armed when armed
	armed    bool
	dirty    []*Session    // records to write: attributes changed
	wake     chan struct{} // tells refreshLoop of dirty; shared engine only
}

type detachedSession struct {
	s  *Session
	at int64 // expiry, monoNow's clock
}

// expiry is one detach, due at at.
type expiry struct {
	s   *Session
	at  int64
	gen uint32
}

// monoBase anchors monoNow.
var monoBase = time.Now()

// monoNow returns monotonic nanoseconds since monoBase.
func monoNow() int64 { return int64(time.Since(monoBase)) }

func (m *sessions) stripe(u *[16]byte) *sync.Mutex {
	return &m.stripes[int(u[15])%len(m.stripes)] // a random byte of the UUID
}

// detach is called when s's connection ended, with how it ended. It keeps
// s for the resume window, or ends it now when resume is disabled, when no
// token was ever handed out, or when the client will not come back: the
// connection ended normally (1000, from either side: the client said
// goodbye and threw its token away, or the server ended the conversation),
// or the server closed it with 1008 (policy: a slow consumer evicted, a
// client refused), which tells a client not to reconnect.
func (m *sessions) detach(s *Session, c *Conn, ce *CloseError) {
	if m.srv.killed.Load() {
		return
	}
	cfg := &m.srv.cfg
	// The stripe and joinMu order the detach with a resume of s (which
	// may be moving it to another connection) and with its record's
	// writes; the end runs after them.
	var lock *sync.Mutex
	if !m.local {
		lock = m.stripe(&s.uuid)
		lock.Lock()
	}
	s.joinMu.Lock()
	unlock := func() {
		s.joinMu.Unlock()
		if lock != nil {
			lock.Unlock()
		}
	}
	s.mu.Lock()
	if s.conn != c {
		s.mu.Unlock()
		unlock()
		return // taken over: the session moved to another connection
	}
	s.setConnLocked(nil)
	issued, secret := s.issued, s.secret
	s.mu.Unlock()
	goodbye := ce != nil && (ce.Code == CloseNormal || ce.Code == ClosePolicy && ce.Initiator == ClosedByServer)
	if cfg.ResumeWindow < 0 || !issued || goodbye {
		unlock()
		m.srv.endSession(s)
		return
	}
	if !m.local {
		st := s.state(time.Now().Add(cfg.ResumeWindow))
		if k := s.rkey.Load(); k != nil {
			// Written at the welcome: its expiry becomes the window's.
			switch err := m.srv.engine.UpdateSession(context.Background(), *k, st); {
			case errors.Is(err, ErrSessionNotFound), errors.Is(err, ErrSessionExpired):
				mine := s.rkey.CompareAndSwap(k, nil)
				unlock()
				if mine {
					m.srv.endRemoved(s, err)
				}
				return
			case err != nil:
				// The record stays as last written, with a later
				// expiry; this node's expiry takes it.
				m.srv.reportError(nil, fmt.Errorf("update session %s: %w", st.ID, err))
			}
		} else {
			var tok [tokenLen]byte
			key := tokenKey(string(appendToken(tok[:0], &s.uuid, &secret)))
			if err := m.srv.engine.SaveSession(context.Background(), key, st); err != nil {
				unlock()
				m.srv.reportError(nil, fmt.Errorf("save session %s: %w", st.ID, err))
				m.srv.endSession(s)
				return
			}
			s.rkey.Store(&key)
		}
	}
	m.mu.Lock()
	m.keepLocked(s, monoNow()+int64(cfg.ResumeWindow))
	m.mu.Unlock()
	unlock()
}

// state returns what the engine keeps of s to resume it on any node: its
// attributes, its topics and a checkpoint. A session whose events were
// lost gets no position, so that its resume answers "overrun".
// A record names the node that holds the session (nodeAttr), so that a
// resume elsewhere can tell it to let go.
func (s *Session) state(expires time.Time) SessionState {
	st := SessionState{ID: s.ID(), Attrs: s.Attrs(), ExpiresAt: expires}
	if n := s.srv.node; n != "" {
		if st.Attrs == nil {
			st.Attrs = make(map[string]string, 1)
		}
		st.Attrs[nodeAttr] = n
		s.mu.Lock()
		if v, ok := s.claimsAttrLocked(); ok {
			st.Attrs[claimsAttr] = v
		}
		s.mu.Unlock()
	}
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	st.Topics = s.topicListLocked()
	st.TopicsSince, st.Checkpoint = s.checkpointLocked()
	if s.lost {
		st.Checkpoint.Pos = Position{}
	}
	return st
}

// checkpointLocked returns where the session's topics started and a
// checkpoint, as they are once its held events are released: a Sync point
// held by a hold (a Join or Leave while a hello or a resume holds the
// deliveries) is where the new topics start, numbered after the held
// events before it, as releaseLocked will number them. Without one, the
// session's own. pushMu held.
func (s *Session) checkpointLocked() (since int64, cp Checkpoint) {
	since, cp = s.since, Checkpoint{Seq: s.seq, Pos: s.pos}
	if s.lists == nil {
		return since, cp
	}
	seq, pos := s.seq, s.pos
	for _, h := range s.lists.held {
		if !h.after(pos) {
			continue
		}
		if h.body == nil {
			since, cp = seq, Checkpoint{Seq: seq, Pos: h.pos}
			pos = h.pos
			continue
		}
		seq++
		pos = h.pos
	}
	return since, cp
}

// topicListLocked returns all the session's topics: its own,
// BroadcastTopic and those it joined. pushMu held.
func (s *Session) topicListLocked() []string {
	joined := s.joinedLocked()
	l := make([]string, 0, 2+len(joined))
	l = append(l, s.own, BroadcastTopic)
	return append(l, joined...)
}

// sessionLists are the parts of a session's numbering state that most
// sessions never use, kept out of Session so that an idle session is
// smaller (its memory is counted per idle connection). Guarded by pushMu.
type sessionLists struct {
	joined []string    // topics joined (Join), besides its own and BroadcastTopic
	held   []heldEvent // delivered while a resume reads the history
}

// listsLocked returns the session's lists, made on first use. pushMu held.
func (s *Session) listsLocked() *sessionLists {
	if s.lists == nil {
		s.lists = new(sessionLists)
	}
	return s.lists
}

// joinedLocked returns the topics the session joined. pushMu held.
func (s *Session) joinedLocked() []string {
	if s.lists == nil {
		return nil
	}
	return s.lists.joined
}

// dropHeldLocked forgets the events held for a resume. pushMu held.
func (s *Session) dropHeldLocked() {
	if s.lists != nil {
		clear(s.lists.held)
		s.lists.held = nil
	}
}

// keepLocked registers s as detached until at and queues its expiry. mu held.
func (m *sessions) keepLocked(s *Session, at int64) {
	if m.detached == nil {
		m.detached = make(map[[16]byte]detachedSession)
	}
	s.gen++
	m.detached[s.uuid] = detachedSession{s: s, at: at}
	if m.head > 0 && m.head == len(m.queue) {
		clear(m.queue)
		m.queue, m.head = m.queue[:0], 0
	} else if m.head >= 1024 && 2*m.head >= len(m.queue) {
		n := copy(m.queue, m.queue[m.head:])
		clear(m.queue[n:])
		m.queue, m.head = m.queue[:n], 0
	}
	m.queue = append(m.queue, expiry{s: s, at: at, gen: s.gen})
	if !m.armed {
		m.armed = true
		d := time.Duration(at - monoNow())
		if m.timer == nil {
			m.timer = time.AfterFunc(d, m.sweep)
		} else {
			m.timer.Reset(d)
		}
	}
}

// takeLocked removes s from the detached sessions if e is its current
// detach, and reports whether it did. mu held.
func (m *sessions) takeLocked(e expiry) bool {
	d, ok := m.detached[e.s.uuid]
	if !ok || d.s != e.s || e.s.gen != e.gen {
		return false // resumed meanwhile (and maybe detached again: a later entry)
	}
	delete(m.detached, e.s.uuid)
	return true
}

// sweep expires the sessions whose time has come and re-arms the timer for
// the next one. It runs on the timer's goroutine; only one sweep runs at a
// time (the timer is re-armed when it returns).
func (m *sessions) sweep() {
	for {
		m.mu.Lock()
		if m.head == len(m.queue) {
			clear(m.queue)
			m.queue, m.head = m.queue[:0], 0
			if cap(m.queue) > 4096 {
				m.queue = nil // not kept after a burst of disconnects
			}
			m.armed = false
			m.mu.Unlock()
			return
		}
		e := m.queue[m.head]
		if now := monoNow(); e.at > now {
			m.timer.Reset(time.Duration(e.at - now))
			m.mu.Unlock()
			return
		}
		m.queue[m.head] = expiry{}
		m.head++
		if m.local {
			mine := m.takeLocked(e)
			m.mu.Unlock()
			if mine {
				m.srv.endSession(e.s)
			}
			continue
		}
		m.mu.Unlock()
		m.expire(e)
	}
}

// expire ends the session of e unless it was resumed (here or on another
// process sharing the store) within the window. Store path only.
func (m *sessions) expire(e expiry) {
	s := e.s
	lock := m.stripe(&s.uuid)
	lock.Lock()
	m.mu.Lock()
	mine := m.takeLocked(e)
	m.mu.Unlock()
	if !mine {
		lock.Unlock()
		return // resumed on this process, or ended by a resume that found it expired
	}
	mine = m.srv.takeRecord(s)
	lock.Unlock()
	if mine {
		m.srv.endTaken(s)
	} else {
		m.srv.dropTaken(s)
	}
}

// parseToken splits a resume token into its session ID and its secret
// part, checking their form (a canonical lowercase UUID; 43 characters of
// base64url).
func parseToken(token string) (u [16]byte, secret string, ok bool) {
	if len(token) != tokenLen || token[uuidLen] != '.' {
		return u, "", false
	}
	u, ok = parseUUID(token[:uuidLen])
	return u, token[uuidLen+1:], ok
}

// secretMatches reports, in constant time, whether secret is the
// encoding of s's issued secret.
func (s *Session) secretMatches(secret string) bool {
	s.mu.Lock()
	issued, raw := s.issued, s.secret
	s.mu.Unlock()
	var enc [secretLen]byte
	base64.RawURLEncoding.Encode(enc[:], raw[:])
	return subtle.ConstantTimeCompare(enc[:], []byte(secret)) == 1 && issued
}

// spendSecret renews the secret if secret is its issued one, in one step
// under mu: of two resumes with one token, one does.
func (s *Session) spendSecret(secret string) bool {
	if !s.secretMatches(secret) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var enc [secretLen]byte
	base64.RawURLEncoding.Encode(enc[:], s.secret[:])
	if !s.issued || subtle.ConstantTimeCompare(enc[:], []byte(secret)) != 1 {
		return false
	}
	s.renewSecretLocked()
	return true
}

// resume takes the session for token: a session held here (detached, or
// attached: a takeover), or a new *Session made from the engine's record
// (rec), not registered yet, when another node held it. With a record,
// the session's joinMu is held on return, so that no Join writes between
// the take and the new record: unlock releases it.
func (m *sessions) resume(ctx context.Context, token string) (s *Session, rec *SessionState, unlock func(), err error) {
	u, secret, ok := parseToken(token)
	if !ok {
		return nil, nil, nil, ErrSessionNotFound
	}
	if m.local {
		s, takeover, err := m.resumeLocal(u, secret, true)
		if err != nil {
			return nil, nil, nil, err
		}
		if takeover {
			return s, nil, s.joinMu.Unlock, nil
		}
		return s, nil, func() {}, nil
	}
	key := tokenKey(token)
	lock := m.stripe(&u)
	lock.Lock()
	local := m.srv.lookup(u)
	var stale *Session
	if local != nil {
		local.joinMu.Lock()
		if k := local.rkey.Load(); k == nil && !m.shared && local.Conn() != nil {
			// Attached, and records are written at detach (a Store):
			// the session itself tells whether the token is its own.
			lock.Unlock()
			if !local.spendSecret(secret) {
				local.joinMu.Unlock()
				return nil, nil, nil, ErrSessionNotFound
			}
			return local, nil, local.joinMu.Unlock, nil
		}
		if k := local.rkey.Load(); k == nil || *k != key {
			// Not the record of this token: an older token, or a copy
			// taken over by a resume elsewhere that this node has not
			// heard of yet (stale, if the token works).
			local.joinMu.Unlock()
			local, stale = nil, local
		}
	}
	st, err := m.srv.engine.TakeSession(ctx, key)
	if err == nil && st.ID != token[:uuidLen] {
		err = ErrSessionNotFound // a token whose secret belongs to another ID
	}
	if err == nil && stale != nil {
		if k := stale.rkey.Load(); k != nil && stale.rkey.CompareAndSwap(k, nil) {
			m.srv.dropTaken(stale)
		}
	}
	if local != nil && (err == nil || errors.Is(err, ErrSessionExpired)) {
		local.rkey.Store(nil) // taken
		m.mu.Lock()
		if d, ok := m.detached[u]; ok && d.s == local {
			delete(m.detached, u) // its queue entry is skipped when due
		}
		m.mu.Unlock()
		s = local
	} else if local != nil {
		local.joinMu.Unlock()
	}
	lock.Unlock()
	node := st.Attrs[nodeAttr]
	delete(st.Attrs, nodeAttr)
	if errors.Is(err, ErrSessionExpired) {
		// Removed here: it ends here.
		if s != nil {
			s.joinMu.Unlock()
			m.srv.endRemoved(s, ErrSessionExpired)
		} else {
			m.srv.endRecord(st)
		}
		return nil, nil, nil, ErrSessionExpired
	}
	if err != nil {
		return nil, nil, nil, err
	}
	if s == nil {
		s = &Session{uuid: u, srv: m.srv} // held by another node, or by none now
		rec = &st
		s.joinMu.Lock()
		if node != "" && node != m.srv.node {
			m.srv.tellTakenOver(ctx, node, st.ID, key)
		}
	}
	claims := parseClaimsAttr(st.Attrs[claimsAttr])
	delete(st.Attrs, claimsAttr)
	s.mu.Lock()
	s.attrs = maps.Clone(st.Attrs)
	if len(claims) > 0 {
		s.claims = claims
	}
	s.renewSecretLocked() // the token is spent
	s.mu.Unlock()
	return s, rec, s.joinMu.Unlock, nil
}

// resumeLocal is resume with the default store: the session is found by
// its ID, the secret compared in constant time; a detached session past
// its window is ended here (ErrSessionExpired), and a wrong secret leaves
// the session waiting for the right one. A session still attached is
// taken over (resumeHeld closes its old connection).
func (m *sessions) resumeLocal(u [16]byte, secret string, again bool) (s *Session, takeover bool, err error) {
	m.mu.Lock()
	d, ok := m.detached[u]
	if !ok {
		m.mu.Unlock()
		s := m.srv.lookup(u)
		if s == nil {
			return nil, false, ErrSessionNotFound
		}
		s.joinMu.Lock() // until the resume is done: see detach
		if s.Conn() == nil {
			s.joinMu.Unlock()
			if again { // detached meanwhile: look again, once
				return m.resumeLocal(u, secret, false)
			}
			return nil, false, ErrSessionNotFound
		}
		if !s.spendSecret(secret) {
			s.joinMu.Unlock()
			return nil, false, ErrSessionNotFound
		}
		return s, true, nil // joinMu held
	}
	if !d.s.secretMatches(secret) {
		m.mu.Unlock()
		return nil, false, ErrSessionNotFound
	}
	delete(m.detached, u) // its queue entry is skipped when due
	m.mu.Unlock()
	s = d.s
	if monoNow() >= d.at {
		m.srv.endSession(s)
		return nil, false, ErrSessionExpired
	}
	s.mu.Lock()
	s.renewSecretLocked() // the token is spent
	s.mu.Unlock()
	return s, false, nil
}
