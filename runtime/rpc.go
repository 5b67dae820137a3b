package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// The RPC layer of wire protocol v1 (docs/protocol.md): text frames of one
// JSON object each. A Router decodes call envelopes, runs the registered
// method on a goroutine of its own with a context that a cancel envelope
// or the connection's end cancels, and answers with the result or a typed
// error. A bad call (unknown command, invalid arguments, a duplicate id)
// gets an error reply and the connection lives on; only a frame that is not
// a protocol envelope at all closes it (1003 for binary, 1007 for text that
// is not a JSON object).

// Error codes the runtime itself answers with (docs/protocol.md).
const (
	CodeBadRequest     = "bad_request"     // the envelope or the arguments are invalid
	CodeUnknownCommand = "unknown_command" // no such command
	CodeUnimplemented  = "unimplemented"   // the server has no handler for the command
	CodeInternal       = "internal"        // the handler failed; its error is not shown
	CodeCanceled       = "canceled"        // the client canceled the call
	CodeOverloaded     = "overloaded"      // too many calls in flight on this connection
)

// WireError is an error that reaches the client with its own code and
// message. Generated typed errors implement it; any other error a handler
// returns is answered as "internal" without its text, and reported to
// Hooks.OnError.
type WireError interface {
	error
	WireError() (code, message string)
}

// Error is a WireError with any code.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// WireError implements WireError.
func (e *Error) WireError() (string, string) { return e.Code, e.Message }

// Call is one call as a method sees it.
type Call struct {
	Conn    *Conn
	Session *Session // the session at the time of the call
	Name    string
	Args    []byte // the raw JSON of "args"; "{}" when absent
}

// callContext is the context a method runs with: the call's cancelable
// context, which also carries the call for CloseAfterReply.
type callContext struct {
	context.Context
	closeAfter atomic.Pointer[closeRequest]
}

type closeRequest struct {
	code   uint16
	reason string
}

type callContextKey struct{}

func (c *callContext) Value(key any) any {
	if key == (callContextKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// CloseAfterReply asks the Router to close the connection of the call that
// ctx belongs to, with code and reason, right after the call's reply: the
// client gets the reply, then the server's close frame, then the closing
// handshake (RFC 6455 §7.1.2). Closing the connection inside the handler
// would send the close frame before the reply. It reports false, and does
// nothing, when ctx is not (derived from) a method's context. The last
// request of a call wins; it may be made from any goroutine until the
// method returns.
func CloseAfterReply(ctx context.Context, code uint16, reason string) bool {
	cc, ok := ctx.Value(callContextKey{}).(*callContext)
	if ok {
		cc.closeAfter.Store(&closeRequest{code, reason})
	}
	return ok
}

// MethodFunc runs one call: it decodes Args, runs the handler and appends
// the JSON of its result to dst. Generated code supplies these.
type MethodFunc func(ctx context.Context, call *Call, dst []byte) ([]byte, error)

// DefaultMaxCallsInFlight bounds the calls one connection may have running.
const DefaultMaxCallsInFlight = 64

// Router dispatches calls to methods. Register methods before serving;
// the Router is then safe for concurrent use. Use it as Options.Handler.
type Router struct {
	methods map[string]MethodFunc
	// MaxCallsInFlight bounds the calls running per connection; more are
	// answered with "overloaded". Default DefaultMaxCallsInFlight.
	MaxCallsInFlight int
}

// NewRouter returns an empty Router.
func NewRouter() *Router { return &Router{} }

// Handle registers fn for the command name, replacing any earlier one.
func (r *Router) Handle(name string, fn MethodFunc) {
	if r.methods == nil {
		r.methods = make(map[string]MethodFunc)
	}
	r.methods[name] = fn
}

// calls are one connection's calls in flight, by id.
type calls struct {
	mu      sync.Mutex
	running map[int64]context.CancelFunc
	closed  bool // the connection ended: no new calls
}

func (c *Conn) callTable() *calls {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = &calls{running: make(map[int64]context.CancelFunc)}
	}
	return c.calls
}

// envelope is a decoded client frame.
type envelope struct {
	id        int64
	hasID     bool // id present and a valid integer
	call      string
	hasCall   bool
	args      []byte
	cancel    int64
	hasCancel bool
	hasHello  bool
	resume    string // hello.resume
	seq       int64  // hello.seq
	ping      int64
	hasPing   bool
	problem   error // a member of the wrong type or range: answered with bad_request
}

// decodeEnvelope reads a client frame. A frame that is not a JSON object
// gives err (the connection is closed with 1007); a member of the wrong
// type gives e.problem, whatever the order of the members, so that the
// call can still be answered by its id.
func decodeEnvelope(data []byte) (e envelope, err error) {
	var d wire.Decoder
	d.Reset(data, "")
	// The grammar alone decides what is JSON (encoding/json's scanner, no
	// reflection); what wire's stricter decoder refuses inside a valid
	// document (a lone surrogate escape, deep nesting) is a bad member.
	// wire's decoder words the error.
	if k := d.Peek(); k != wire.Object {
		got := k.String()
		if len(bytes.TrimSpace(data)) == 0 {
			got = "end of input"
		}
		return e, d.Errorf("expected object, got %s", got)
	}
	if !json.Valid(data) {
		if err := d.Skip(); err != nil {
			return e, err
		}
		if err := d.End(); err != nil {
			return e, err
		}
		return e, errors.New("not valid JSON")
	}
	note := func(err error) {
		if e.problem == nil {
			e.problem = err
		}
	}
	// Member errors are about types, ranges and wire's strictness; each bad
	// member is skipped.
	_ = d.Object(func(key []byte) error {
		switch string(key) {
		case "id":
			if id, err := d.Int(); err == nil {
				e.id, e.hasID = id, true
			} else {
				note(err)
				_ = d.Skip()
			}
		case "call":
			if name, err := d.String(); err == nil {
				e.call, e.hasCall = name, true
			} else {
				note(err)
				_ = d.Skip()
			}
		case "args":
			if d.Peek() == wire.Object {
				raw, err := d.Raw()
				if err != nil {
					note(err)
					return err // the decoder is lost inside the value
				}
				e.args = raw
			} else {
				note(d.Errorf("expected object, got %s", d.Peek()))
				_ = d.Skip()
			}
		case "cancel":
			if id, err := d.Int(); err == nil {
				e.cancel, e.hasCancel = id, true
			} else {
				note(err)
				_ = d.Skip()
			}
		case "ping":
			if n, err := d.Int(); err == nil {
				e.ping, e.hasPing = n, true
			} else {
				note(err)
				_ = d.Skip()
			}
		case "hello":
			e.hasHello = true
			if err := d.Object(func(key []byte) error {
				var err error
				switch string(key) {
				case "resume":
					e.resume, err = d.String()
				case "seq":
					e.seq, err = d.Int()
				default:
					err = d.Skip()
				}
				return err
			}); err != nil {
				note(err)
				return err // the decoder is lost inside the value
			}
		default:
			_ = d.Skip() // later protocol versions may add members
		}
		return nil
	})
	return e, nil
}

// ServeMessage implements Handler.
func (r *Router) ServeMessage(c *Conn, typ MessageType, data []byte) {
	if typ != TextMessage {
		_ = c.Close(CloseUnsupportedData, "duplex.v1 speaks JSON text frames only")
		return
	}
	e, err := decodeEnvelope(data)
	first := !c.rpcStarted
	c.rpcStarted = true
	switch {
	case err != nil:
		_ = c.Close(CloseInvalidPayload, "undecodable envelope: "+err.Error())
		return
	case e.hasHello && e.problem != nil:
		_ = c.Close(CloseInvalidPayload, "undecodable hello: "+e.problem.Error())
		return
	case e.hasHello && !first:
		_ = c.Close(ClosePolicy, "hello must be the connection's first frame")
		return
	case e.hasHello:
		r.hello(c, e.resume, e.seq)
		return
	case e.hasPing && !e.hasCall:
		b := append([]byte(`{"pong":`), wire.AppendInt(nil, e.ping)...)
		_ = c.WriteMessage(TextMessage, append(b, '}'))
		return
	case e.hasCancel && !e.hasCall:
		c.callTable().cancel(e.cancel)
		return
	case !e.hasID:
		// Nothing to answer to: a reply to a made-up id could settle
		// another call.
		reason := "envelope without a usable id"
		if e.problem != nil {
			reason = "undecodable envelope: " + e.problem.Error()
		}
		_ = c.Close(CloseInvalidPayload, reason)
		return
	case e.problem != nil:
		c.reply(e.id, nil, &Error{CodeBadRequest, e.problem.Error()})
		return
	case !e.hasCall:
		c.reply(e.id, nil, &Error{CodeBadRequest, "a call needs an id and a call name"})
		return
	}
	fn := r.methods[e.call]
	if fn == nil {
		c.reply(e.id, nil, &Error{CodeUnknownCommand, fmt.Sprintf("unknown command %q", e.call)})
		return
	}
	args := []byte("{}")
	if e.args != nil {
		args = append([]byte(nil), e.args...) // data is only valid during ServeMessage
	}
	table := c.callTable()
	inner, cancel := context.WithCancel(c.srv.ctx)
	ctx := &callContext{Context: inner}
	limit := r.MaxCallsInFlight
	if limit <= 0 {
		limit = DefaultMaxCallsInFlight
	}
	table.mu.Lock()
	_, dup := table.running[e.id]
	full := len(table.running) >= limit
	closed := table.closed
	if !dup && !full && !closed {
		table.running[e.id] = cancel
	}
	table.mu.Unlock()
	switch {
	case closed:
		cancel() // the connection ended while this frame was parsed
		return
	case dup:
		cancel()
		c.reply(e.id, nil, &Error{CodeBadRequest, fmt.Sprintf("id %d is already in use by a call in flight", e.id)})
		return
	case full:
		cancel()
		c.reply(e.id, nil, &Error{CodeOverloaded, fmt.Sprintf("more than %d calls in flight", limit)})
		return
	}
	call := &Call{Conn: c, Session: c.Session(), Name: e.call, Args: args}
	go r.run(ctx, cancel, table, e.id, fn, call)
}

// run executes one call on its own goroutine and answers it.
func (r *Router) run(ctx *callContext, cancel context.CancelFunc, table *calls, id int64, fn MethodFunc, call *Call) {
	var (
		out []byte
		err error
	)
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = &PanicError{Value: p}
			}
		}()
		out, err = fn(ctx, call, nil)
	}()
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = &Error{CodeCanceled, "call canceled"}
	}
	// The id is free again before the reply leaves, so that a client may
	// reuse it as soon as it has the reply.
	table.mu.Lock()
	delete(table.running, id)
	table.mu.Unlock()
	cancel()
	call.Conn.reply(id, out, err)
	if req := ctx.closeAfter.Load(); req != nil {
		_ = call.Conn.Close(req.code, req.reason)
	}
}

// cancel cancels the call id, if it is running.
func (t *calls) cancel(id int64) {
	t.mu.Lock()
	cancel := t.running[id]
	t.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// cancelAll cancels every call in flight (the connection ended).
func (t *calls) cancelAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, cancel := range t.running {
		cancel()
	}
}

// reply writes {"id":N,"result":...} or {"id":N,"error":{...}}.
func (c *Conn) reply(id int64, result []byte, err error) {
	b := make([]byte, 0, 32+len(result))
	b = append(b, `{"id":`...)
	b = wire.AppendInt(b, id)
	if err == nil {
		b = append(b, `,"result":`...)
		if len(result) == 0 {
			result = []byte("{}")
		}
		b = append(b, result...)
	} else {
		var we WireError
		code, msg := CodeInternal, "internal error"
		if errors.As(err, &we) {
			code, msg = we.WireError()
		} else {
			c.srv.reportError(c, fmt.Errorf("call %d: %w", id, err))
		}
		b = append(b, `,"error":{"code":`...)
		b = wire.AppendString(b, code)
		b = append(b, `,"message":`...)
		b = wire.AppendString(b, msg)
		b = append(b, '}')
	}
	b = append(b, '}')
	_ = c.WriteMessage(TextMessage, b)
}

// Push sends the event to the session's connection with the session's next
// sequence number: {"event":NAME,"seq":N,"data":DATA}. data is the event's
// JSON object (nil for {}). Events of one session are numbered, and queued,
// in the order of Push calls. The last ReplayBuffer events are kept for a
// client that resumes the session (docs/protocol.md), so a push to a
// session whose connection dropped is not lost while it may be resumed. It
// returns ErrClosed when the session has ended, or when it has no
// connection and keeps no events.
func (s *Session) Push(event string, data []byte) error {
	if len(data) == 0 {
		data = []byte("{}")
	}
	// pushMu, not mu, orders pushes: a failing write may end the
	// connection, and ending it takes mu to detach the session.
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	s.mu.Lock()
	c, ended := s.conn, s.ended
	s.mu.Unlock()
	keep := s.replayMax()
	if ended || c == nil && keep <= 0 {
		return ErrClosed
	}
	seq := s.seq + 1
	b := make([]byte, 0, 40+len(event)+len(data))
	b = append(b, `{"event":`...)
	b = wire.AppendString(b, event)
	b = append(b, `,"seq":`...)
	b = wire.AppendInt(b, seq)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, '}')
	if c != nil {
		if err := c.WriteMessage(TextMessage, b); err != nil && keep <= 0 {
			return err // nothing keeps it: no number for it, no gap for a resuming client
		}
	}
	if keep > 0 {
		if len(s.replay) == keep {
			s.replay[0] = nil
			s.replay = s.replay[1:]
		}
		s.replay = append(s.replay, b) // WriteMessage copied b; it is the session's now
	}
	s.seq = seq
	return nil
}

func (s *Session) replayMax() int {
	if s.srv == nil {
		return 0
	}
	return max(s.srv.cfg.ReplayBuffer, 0)
}

// missedSince returns the kept events after seq, and false when some of
// them are no longer kept (or seq is ahead of the session). pushMu held.
func (s *Session) missedSince(seq int64) ([][]byte, bool) {
	switch {
	case seq > s.seq || seq < 0:
		return nil, false
	case seq == s.seq:
		return nil, true
	}
	first := s.seq - int64(len(s.replay)) + 1 // seq of s.replay[0]
	if seq+1 < first {
		return nil, false
	}
	return s.replay[seq+1-first:], true
}

// Broadcast pushes the event to every open connection's session. Errors
// for single connections (closing, slow consumers) are not reported: they
// end those connections and no one else.
func (s *Server) Broadcast(event string, data []byte) {
	for _, c := range s.snapshot(nil) {
		if sess := c.Session(); sess != nil {
			_ = sess.Push(event, data)
		}
	}
}

// hello answers a client's hello with the welcome (docs/protocol.md). With
// a resume token it first tries to take that session back: the welcome and
// the events the client missed are queued holding the session's push lock,
// so that no live event overtakes them. When the session cannot be resumed
// honestly (unknown or used token, expired, events no longer kept), the
// connection keeps its fresh session and the welcome says why.
func (r *Router) hello(c *Conn, token string, lastSeq int64) {
	if token == "" {
		c.welcome(c.Session(), false, "")
		return
	}
	s, err := c.srv.sessions.resume(c.srv.ctx, token)
	var reason string
	switch {
	case err == nil:
		s.pushMu.Lock()
		missed, ok := s.missedSince(lastSeq)
		if !ok {
			s.pushMu.Unlock()
			c.srv.endSession(s) // taken from the store, and not resumable: it ends here
			reason = "overrun"
			break
		}
		fresh := c.attach(s)
		c.welcome(s, true, "")
		for _, f := range missed {
			_ = c.WriteMessage(TextMessage, f)
		}
		s.pushMu.Unlock()
		c.srv.endSession(fresh)
		return
	case errors.Is(err, ErrSessionExpired):
		reason = "expired"
	case errors.Is(err, ErrSessionNotFound):
		reason = "unknown"
	default:
		c.srv.reportError(c, fmt.Errorf("resume session: %w", err))
		reason = "unknown"
	}
	c.welcome(c.Session(), false, reason)
}

// welcome writes {"welcome":{...}} for s, issuing its resume token.
func (c *Conn) welcome(s *Session, resumed bool, reason string) {
	b := append(make([]byte, 0, 160), `{"welcome":{"session":`...)
	b = wire.AppendString(b, s.ID())
	b = append(b, `,"resume":`...)
	b = wire.AppendString(b, s.ResumeToken())
	b = append(b, `,"resumed":`...)
	b = wire.AppendBool(b, resumed)
	if reason != "" {
		b = append(b, `,"reason":`...)
		b = wire.AppendString(b, reason)
	}
	b = append(b, `,"heartbeat":`...)
	b = wire.AppendInt(b, c.srv.cfg.ClientHeartbeat.Milliseconds())
	b = append(b, "}}"...)
	_ = c.WriteMessage(TextMessage, b)
}
