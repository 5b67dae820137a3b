package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
func NewRouter() *Router { return &Router{methods: make(map[string]MethodFunc)} }

// Handle registers fn for the command name, replacing any earlier one.
func (r *Router) Handle(name string, fn MethodFunc) { r.methods[name] = fn }

// calls are one connection's calls in flight, by id.
type calls struct {
	mu      sync.Mutex
	running map[int64]context.CancelFunc
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
	hasID     bool
	call      string
	hasCall   bool
	args      []byte
	cancel    int64
	hasCancel bool
}

func decodeEnvelope(data []byte) (envelope, error) {
	var (
		e envelope
		d wire.Decoder
	)
	d.Reset(data, "")
	err := d.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "id":
			e.id, err = d.Int()
			e.hasID = true
		case "call":
			e.call, err = d.String()
			e.hasCall = true
		case "args":
			if d.Peek() != wire.Object {
				return d.Errorf("expected object, got %s", d.Peek())
			}
			e.args, err = d.Raw()
		case "cancel":
			e.cancel, err = d.Int()
			e.hasCancel = true
		default:
			err = d.Skip() // later protocol versions may add members
		}
		return err
	})
	if err == nil {
		err = d.End()
	}
	return e, err
}

// ServeMessage implements Handler.
func (r *Router) ServeMessage(c *Conn, typ MessageType, data []byte) {
	if typ != TextMessage {
		_ = c.Close(CloseUnsupportedData, "duplex.v1 speaks JSON text frames only")
		return
	}
	e, err := decodeEnvelope(data)
	switch {
	case err != nil && !e.hasID:
		_ = c.Close(CloseInvalidPayload, truncateReason("undecodable envelope: "+err.Error()))
		return
	case err != nil:
		c.reply(e.id, nil, &Error{CodeBadRequest, err.Error()})
		return
	case e.hasCancel && !e.hasCall:
		c.callTable().cancel(e.cancel)
		return
	case !e.hasID || !e.hasCall:
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
	ctx, cancel := context.WithCancel(c.srv.ctx)
	limit := r.MaxCallsInFlight
	if limit <= 0 {
		limit = DefaultMaxCallsInFlight
	}
	table.mu.Lock()
	_, dup := table.running[e.id]
	full := len(table.running) >= limit
	if !dup && !full {
		table.running[e.id] = cancel
	}
	table.mu.Unlock()
	switch {
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
func (r *Router) run(ctx context.Context, cancel context.CancelFunc, table *calls, id int64, fn MethodFunc, call *Call) {
	defer func() {
		table.mu.Lock()
		delete(table.running, id)
		table.mu.Unlock()
		cancel()
	}()
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
	call.Conn.reply(id, out, err)
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
// in the order of Push calls. It returns ErrClosed when the session has no
// open connection.
func (s *Session) Push(event string, data []byte) error {
	if len(data) == 0 {
		data = []byte("{}")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.conn
	if c == nil {
		return ErrClosed
	}
	s.seq++
	b := make([]byte, 0, 40+len(event)+len(data))
	b = append(b, `{"event":`...)
	b = wire.AppendString(b, event)
	b = append(b, `,"seq":`...)
	b = wire.AppendInt(b, s.seq)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, '}')
	return c.WriteMessage(TextMessage, b)
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
