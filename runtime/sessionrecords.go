package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Session records in a shared engine (Options.Engine; docs/engine.md, "In
// the runtime"). A session's record exists from the welcome that hands
// out its token until the session ends, so that a client resumes on any
// node even after its node was killed:
//
//   - the welcome's token is handed out once its record is written
//     (SaveSession); a resume writes the record of the new token the same
//     way, after taking the old one;
//   - Join and Leave hold the session's deliveries from their Sync point
//     until the record has the new topics (UpdateSession);
//   - every refreshPeriod the node rewrites the records of its attached
//     sessions with their current checkpoint and an expiry past the
//     resume window plus two periods, and detach writes the window's;
//   - every refreshPeriod the node takes the expired records of every
//     node (TakeExpiredSessions) and ends their sessions: those of a node
//     that died, whose records nobody refreshes any more.
//
// A record names the node that holds its session (nodeAttr). A resume that
// takes it on another node tells that node on its own topic
// ("duplex.n.<node>", one subscription per node) with a control payload,
// and the node drops its copy without the end hook, closing its connection
// with CloseTakenOver. A node that misses it learns the same from its next
// write (ErrSessionNotFound).
//
// Whoever removes a record ends its session, and only they: the node whose
// copy's rkey it swaps to nil, or the sweeper that took it. So the end hook
// runs once in the cluster.

// CloseTakenOver is the close code of a connection whose session a resume
// took over, on this node or another: the client that reconnected with its
// token has it now. In 4000–4099, which the TypeScript client treats as
// final: it does not reconnect to fight for the session.
const CloseTakenOver uint16 = 4001

// nodeAttr is the attribute in which a record names its node; the
// "duplex." prefix of attribute names is the runtime's.
const nodeAttr = "duplex.node"

// nodeTopicPrefix starts a node's control topic, "duplex.n.<node>".
const nodeTopicPrefix = "duplex.n."

// refreshPeriod is how often a node rewrites its attached sessions' records
// and sweeps expired ones: a quarter of the resume window, between 10 ms
// and 5 s.
func (c *config) refreshPeriod() time.Duration {
	return min(max(c.ResumeWindow/4, 10*time.Millisecond), 5*time.Second)
}

// attachedExpiry is the expiry written in the record of an attached
// session: the resume window plus two refresh periods from now, so that a
// node that dies leaves records that expire one window after its last
// refresh, give or take.
func (m *sessions) attachedExpiry() time.Time {
	cfg := &m.srv.cfg
	return time.Now().Add(cfg.ResumeWindow + 2*cfg.refreshPeriod())
}

// startRecords names the node and starts its refreshes. A shared engine
// only.
func (s *Server) startRecords() error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	s.node = hex.EncodeToString(b[:])
	s.nodeTopic = nodeTopicPrefix + s.node
	if err := s.engine.Subscribe(s.ctx, s.nodeTopic); err != nil {
		return err
	}
	s.sessions.wake = make(chan struct{}, 1)
	s.reasserts = make(chan struct{}, 1)
	go s.sessions.refreshLoop()
	go s.reassertLoop()
	return nil
}

// recordFresh writes the first record of s, whose token the welcome is
// about to hand out. Its events need no hold meanwhile: the record's
// topics are those the session has numbered with since its start, and no
// resume can use the token before the welcome. A failure is reported; the
// session then has no record until its detach, and is lost with its node.
func (m *sessions) recordFresh(s *Session) {
	if !m.shared || s.rkey.Load() != nil {
		return
	}
	s.joinMu.Lock()
	defer s.joinMu.Unlock()
	if err := m.saveRecordLocked(m.srv.ctx, s, s.state(m.attachedExpiry())); err != nil {
		m.srv.reportError(nil, err)
	}
}

// awaitOpened waits until the opening Sync point of s (openSession) has
// given it a position: an engine's Sync may return before its function
// runs, and a record written without a position makes a resume on another
// node answer "overrun" though nothing was lost. The engine runs Sync
// functions in order, so one issued now runs after the opening one. It
// gives up when the node closes. Only with a shared engine, where records
// are written; before the hello holds the session's deliveries, which
// would hold the opening point too.
func (m *sessions) awaitOpened(s *Session) {
	if !m.shared {
		return
	}
	s.pushMu.Lock()
	opened := !s.pos.IsZero() || s.lost
	s.pushMu.Unlock()
	if opened {
		return
	}
	ctx := m.srv.ctx
	done := make(chan struct{})
	if err := m.srv.engine.Sync(ctx, func(Position) { close(done) }); err != nil {
		return // reported by the writes that follow, which fail the same way
	}
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// saveRecordLocked writes st as the record of s under the key of its
// current secret and keeps the key. joinMu held.
func (m *sessions) saveRecordLocked(ctx context.Context, s *Session, st SessionState) error {
	s.mu.Lock()
	secret := s.secret
	s.mu.Unlock()
	var tok [tokenLen]byte
	key := tokenKey(string(appendToken(tok[:0], &s.uuid, &secret)))
	if err := m.srv.engine.SaveSession(ctx, key, st); err != nil {
		return fmt.Errorf("save session %s: %w", st.ID, err)
	}
	s.rkey.Store(&key)
	return nil
}

// writeTopicsLocked rewrites the record of s after a Join or Leave held its
// deliveries at the Sync point, then releases them. Without the write, the
// events numbered with the new topics would reach a client whose resume
// elsewhere numbers with the old ones: on a failure the session is marked
// lost (its resume answers "overrun") and its connection closed with 1012,
// so that the client comes back to a session whose record is what it saw.
// joinMu held. It returns ErrClosed when the session is gone.
func (m *sessions) writeTopicsLocked(ctx context.Context, s *Session, k *string) error {
	err := m.srv.engine.UpdateSession(ctx, *k, s.state(m.expiryOf(s)))
	s.pushMu.Lock()
	if errors.Is(err, ErrSessionNotFound) && s.reassert {
		// Gone with the engine's state: the re-assert writes it, with
		// these topics (reassert.go).
		err = nil
	}
	if err != nil && !errors.Is(err, ErrSessionNotFound) && !errors.Is(err, ErrSessionExpired) {
		s.lost = true
		s.dropHeldLocked()
	}
	s.releaseLocked(s.Conn())
	s.pushMu.Unlock()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrSessionNotFound), errors.Is(err, ErrSessionExpired):
		if s.rkey.CompareAndSwap(k, nil) {
			go m.srv.endRemoved(s, err) // not under joinMu: its hook may Leave
		}
		return ErrClosed
	}
	if c := s.Conn(); c != nil {
		go c.Close(CloseServiceRestart, "session record not written")
	}
	return m.srv.unavailable(fmt.Errorf("update session %s: %w", s.ID(), err))
}

// expiryOf returns the expiry to write in the record of s: its detach's,
// or attachedExpiry.
func (m *sessions) expiryOf(s *Session) time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.detached[s.uuid]; ok && d.s == s {
		return time.Now().Add(time.Duration(d.at - monoNow()))
	}
	return m.attachedExpiry()
}

// lookup returns the session with ID u held here, or nil.
func (s *Server) lookup(u [16]byte) *Session {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return s.own[u]
}

// endRemoved ends s, whose record this node found gone or removed when it
// wrote it (err), having swapped its rkey to nil: ErrSessionExpired means
// this node removed it, and ends it with its end hook; ErrSessionNotFound
// means another node took it: the session lives on there (or was ended by
// the node that swept it), and this copy is dropped without the hook.
func (s *Server) endRemoved(sess *Session, err error) {
	if errors.Is(err, ErrSessionExpired) {
		if c := sess.detachConn(); c != nil {
			go c.Close(CloseServiceRestart, "session expired")
		}
		s.endTaken(sess)
		return
	}
	s.dropTaken(sess)
}

// dropTaken drops this node's copy of sess, taken by a resume elsewhere,
// without its end hook, and closes its connection with CloseTakenOver.
func (s *Server) dropTaken(sess *Session) {
	c := sess.detachConn()
	sess.mu.Lock()
	sess.ended = true
	sess.mu.Unlock()
	s.dropSession(sess)
	sess.pushMu.Lock()
	sess.dropHeldLocked()
	sess.pushMu.Unlock()
	if c != nil {
		_ = c.Close(CloseTakenOver, "session taken over")
	}
}

// detachConn takes sess off its connection, if it has one, and off the
// detached sessions, and returns the connection: the session ends here,
// and its connection's end must not detach it again.
func (sess *Session) detachConn() *Conn {
	m := &sess.srv.sessions
	m.mu.Lock()
	if d, ok := m.detached[sess.uuid]; ok && d.s == sess {
		delete(m.detached, sess.uuid) // its queue entry is skipped when due
	}
	m.mu.Unlock()
	sess.mu.Lock()
	defer sess.mu.Unlock()
	c := sess.conn
	sess.setConnLocked(nil)
	return c
}

// endRecord ends the session of st, a record this node removed because it
// had expired: the session held here, or, when it was another node's (one
// that died, most likely), a *Session made from the record for the end
// hook.
func (s *Server) endRecord(st SessionState) {
	u, ok := parseUUID(st.ID)
	if !ok {
		if st.ID != "" { // "": an engine that did not return the record
			s.reportError(nil, fmt.Errorf("runtime: expired session record with ID %q", st.ID))
		}
		return
	}
	if sess := s.lookup(u); sess != nil {
		sess.rkey.Store(nil)
		if c := sess.detachConn(); c != nil {
			go c.Close(CloseServiceRestart, "session expired")
		}
		s.endTaken(sess)
		return
	}
	attrs := maps.Clone(st.Attrs)
	delete(attrs, nodeAttr)
	delete(attrs, claimsAttr)
	sess := &Session{uuid: u, srv: s, attrs: attrs, ended: true}
	if h := s.cfg.Hooks.OnSessionEnd; h != nil && !s.killed.Load() {
		h(sess)
	}
}

// takeoverMessage is the control payload that a node taking a session's
// record over publishes on the topic of the node the record named.
type takeoverMessage struct {
	Takeover struct {
		Session string `json:"session"`
		Key     string `json:"key"` // the record's key: only the copy with it
	} `json:"takeover"`
}

// tellTakenOver tells node that the record key of session id was taken.
func (s *Server) tellTakenOver(ctx context.Context, node, id, key string) {
	var m takeoverMessage
	m.Takeover.Session, m.Takeover.Key = id, key
	payload, _ := json.Marshal(&m)
	if _, err := s.engine.Publish(ctx, nodeTopicPrefix+node, payload); err != nil {
		// The node learns it from its next write of the record.
		s.reportError(nil, fmt.Errorf("runtime: tell node %s that session %s moved: %w", node, id, err))
	}
}

// control handles a payload on the node's own topic. On the delivery
// path: the work is done on a goroutine of its own.
func (s *Server) control(payload []byte) {
	var m takeoverMessage
	if err := json.Unmarshal(payload, &m); err != nil || m.Takeover.Key == "" {
		s.reportError(nil, fmt.Errorf("runtime: node control payload %.40q not understood", payload))
		return
	}
	u, ok := parseUUID(m.Takeover.Session)
	if !ok {
		return
	}
	go func() {
		sess := s.lookup(u)
		if sess == nil {
			return
		}
		if k := sess.rkey.Load(); k != nil && *k == m.Takeover.Key && sess.rkey.CompareAndSwap(k, nil) {
			s.dropTaken(sess)
		}
	}()
}

// refreshLoop refreshes the records of the node's attached sessions and
// ends expired sessions every refreshPeriod, and writes the records of
// sessions whose attributes changed as soon as it can, until the server
// stops.
func (m *sessions) refreshLoop() {
	t := time.NewTicker(m.srv.cfg.refreshPeriod())
	defer t.Stop()
	for {
		select {
		case <-m.srv.ctx.Done():
			return
		case <-m.wake:
			m.mu.Lock()
			list := m.dirty
			m.dirty = nil
			m.mu.Unlock()
			m.refreshList(once(list), true)
			continue
		case <-t.C:
		}
		m.refresh()
		m.sweepExpired()
	}
}

// once returns list without its repeated sessions (a session whose
// attributes changed several times is written once).
func once(list []*Session) []*Session {
	seen := make(map[*Session]struct{}, len(list))
	out := list[:0]
	for _, s := range list {
		if _, ok := seen[s]; !ok {
			seen[s] = struct{}{}
			out = append(out, s)
		}
	}
	return out
}

// changed queues the record of s for a write: its attributes changed
// (Set, Delete), and a node that dies before its next refresh would
// otherwise lose the change. Attributes set before the welcome go with
// its first record.
func (m *sessions) changed(s *Session) {
	if !m.shared || s.rkey.Load() == nil {
		return
	}
	m.mu.Lock()
	m.dirty = append(m.dirty, s)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default: // a write is due already
	}
}

// refreshWorkers is how many record writes a refresh keeps in flight: a
// remote engine pipelines them.
const refreshWorkers = 16

// refresh rewrites the records of the attached sessions with their
// current checkpoint and a new expiry.
func (m *sessions) refresh() {
	srv := m.srv
	var list []*Session
	srv.dmu.Lock()
	for sess := range srv.all {
		list = append(list, sess)
	}
	srv.dmu.Unlock()
	m.refreshList(list, false)
}

// refreshList rewrites the records of the attached sessions of list, and
// of the detached ones too when detached is set, refreshWorkers at a time.
func (m *sessions) refreshList(list []*Session, detached bool) {
	next := make(chan *Session)
	var wg sync.WaitGroup
	for range min(refreshWorkers, len(list)) {
		wg.Go(func() {
			for sess := range next {
				m.refreshOne(sess, detached)
			}
		})
	}
	for _, sess := range list {
		next <- sess
	}
	close(next)
	wg.Wait()
}

func (m *sessions) refreshOne(s *Session, detached bool) {
	if !detached && s.Conn() == nil {
		return
	}
	s.joinMu.Lock()
	defer s.joinMu.Unlock()
	k := s.rkey.Load()
	if k == nil || !detached && s.Conn() == nil {
		return
	}
	srv := m.srv
	st := s.state(m.expiryOf(s))
	err := srv.engine.UpdateSession(srv.ctx, *k, st)
	switch {
	case errors.Is(err, ErrSessionNotFound) && (s.reasserting() || srv.stateLost(st.Checkpoint.Pos)):
		// Not a takeover: the engine lost its records with its state
		// (a Redis restarted empty). Its Lost, now or soon, makes the
		// node write the record again (reassert.go).
		err = nil
	case errors.Is(err, ErrSessionNotFound):
		if s.rkey.CompareAndSwap(k, nil) {
			srv.dropTaken(s)
		}
	case errors.Is(err, ErrSessionExpired) && s.Conn() == nil:
		// Removed here: a detached session past its window ends here.
		if s.rkey.CompareAndSwap(k, nil) {
			go srv.endRemoved(s, err) // not under joinMu: its hook may Leave
		}
		err = nil
	case errors.Is(err, ErrSessionExpired):
		// Removed here, and the session is alive here: write it again.
		err = srv.engine.SaveSession(srv.ctx, *k, st)
	}
	if err != nil && !errors.Is(err, ErrSessionNotFound) && srv.ctx.Err() == nil {
		srv.reportError(nil, fmt.Errorf("refresh session %s: %w", st.ID, err))
	}
}

// stateLost reports whether the engine lost its state since pos, a
// session's checkpoint: its epoch changed (or pos is the zero position),
// or it is behind pos. It tells a record removed by a takeover from one
// lost with everything else.
func (s *Server) stateLost(pos Position) bool {
	_, err := s.engine.History(s.ctx, nil, pos, 0, 1)
	return errors.Is(err, ErrEpochChanged) || errors.Is(err, ErrHistoryLost)
}

// sweepBatch is how many expired records a sweep takes per engine call.
const sweepBatch = 256

// sweepExpired ends the sessions whose records expired: each record is
// taken by one node of the cluster, which runs the end hook.
func (m *sessions) sweepExpired() {
	srv := m.srv
	for srv.ctx.Err() == nil {
		sts, err := srv.engine.TakeExpiredSessions(srv.ctx, sweepBatch)
		if err != nil {
			// ErrUnsupported: a Store keeps the records; it cannot list
			// them, and only this node ends its own sessions.
			if srv.ctx.Err() == nil && !errors.Is(err, errors.ErrUnsupported) {
				srv.reportError(nil, fmt.Errorf("take expired sessions: %w", err))
			}
			return
		}
		for _, st := range sts {
			srv.endRecord(st)
		}
		if len(sts) < sweepBatch {
			return
		}
	}
}
