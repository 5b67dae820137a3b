package runtime

import (
	"errors"
	"sync/atomic"

	"github.com/duplexrpc/duplex/runtime/transport"
)

// connState is what the session layer keeps per connection: the
// transport.ConnHandler that Server.accept gives each connection, which the
// Conn keeps (Conn.Handler). The Conn itself knows nothing of sessions and
// calls.
type connState struct {
	srv     *Server
	session atomic.Pointer[Session] // changes only when the client resumes another session
	calls   atomic.Pointer[calls]   // calls in flight (Router), made by the first call; closedCalls once the connection ended
	started bool                    // the Router has seen a frame (a hello must come first); reader only
	helloed bool                    // AuthorizeHello let a hello through; reader only
}

var _ transport.ConnHandler = (*connState)(nil)

// connSession is a connection's state and its first session, allocated
// together: one allocation per upgrade instead of two. Each keeps the
// other's memory alive for as long as either is reachable (a resumed
// connection keeps its ended fresh session's 130-odd bytes; a detached
// session waiting for its resume keeps 32 bytes of state).
type connSession struct {
	st   connState
	sess Session
}

// newConnSession returns the state of a new connection, with a fresh
// session.
func newConnSession(srv *Server) *connState {
	cs := &connSession{st: connState{srv: srv}}
	initSession(&cs.sess, srv)
	cs.st.session.Store(&cs.sess)
	return &cs.st
}

// stateOf returns c's connState. Every connection of a Server has one.
func stateOf(c *Conn) *connState { return c.Handler().(*connState) }

// Open implements transport.ConnHandler: the session is attached to c,
// and joins its topics (its own, BroadcastTopic) before anything else sees
// c: every event published for it from then on reaches it.
func (st *connState) Open(c *Conn) {
	sess := st.session.Load()
	sess.mu.Lock()
	sess.setConnLocked(c)
	sess.mu.Unlock()
	st.srv.openSession(sess)
}

// Message implements transport.ConnHandler.
func (st *connState) Message(c *Conn, typ MessageType, data []byte) {
	st.srv.cfg.Handler.ServeMessage(c, typ, data)
}

// Closed implements transport.ConnHandler: the calls in flight see their
// context end, and the session is detached (kept for resume, or ended).
func (st *connState) Closed(c *Conn, ce *CloseError) {
	if t := st.calls.Swap(&closedCalls); t != nil {
		t.cancelAll()
	}
	if sess := st.session.Load(); sess != nil {
		st.srv.sessions.detach(sess, c, ce)
	}
}

// closedCalls is the call table of every connection that has ended: it
// takes no call.
var closedCalls = calls{closed: true}

// callTable returns the connection's call table, making it.
func (st *connState) callTable() *calls {
	if t := st.calls.Load(); t != nil {
		return t
	}
	t := new(calls)
	if st.calls.CompareAndSwap(nil, t) {
		return t
	}
	return st.calls.Load()
}

// SessionOf returns the session of c, a connection of a Server. It changes
// only when the client resumes an earlier session (Resume, or a hello with
// a resume token).
func SessionOf(c *Conn) *Session { return stateOf(c).session.Load() }

// Resume replaces the fresh session of c, a connection of a Server, with
// the detached session whose ResumeToken is token, with its attributes;
// the fresh session ends (Hooks.OnSessionEnd). Events are not replayed
// (there is no client seq): the session's events numbered from now on
// reach c. It returns ErrSessionNotFound when the token is unknown,
// expired or already used, or the session's events were lost,
// leaving the connection's session as it was. A token works once.
func Resume(c *Conn, token string) (*Session, error) {
	st := stateOf(c)
	s, err := st.srv.resumeOn(st.srv.ctx, c, st, token, -1, false)
	if errors.Is(err, ErrSessionExpired) || errors.Is(err, errOverrun) {
		return nil, ErrSessionNotFound
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// attach makes s the session of c and returns the session it replaces,
// detached from c; the caller ends it (after any replay, so that its hooks
// run last).
func (st *connState) attach(c *Conn, s *Session) (replaced *Session) {
	s.mu.Lock()
	s.setConnLocked(c)
	s.mu.Unlock()
	replaced = st.session.Swap(s)
	replaced.mu.Lock()
	replaced.setConnLocked(nil)
	replaced.mu.Unlock()
	return replaced
}
