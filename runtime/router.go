package runtime

import (
	"fmt"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// The RPC layer of wire protocol v1 (docs/protocol.md): text frames of one
// JSON object each. A Router decodes call envelopes, runs the registered
// method on a goroutine of its own with a context that a cancel envelope
// or the connection's end cancels, and answers with the result or a typed
// error. Bad input that is a JSON object gets a bad_request reply (to the
// call's id, or with a null id when there is no usable one) and the
// connection lives on; only a frame that is not a JSON object closes it
// (1003 for binary, 1007 for text), and so does a late hello (1008).
// docs/protocol.md has the table of every kind of bad input.

// Router dispatches calls to methods. Register methods before serving;
// the Router is then safe for concurrent use. Use it as Options.Handler.
//
// A call runs on a worker goroutine of the server's pool. When the call
// arrived on the epoll read path, it runs on the goroutine that read it,
// after that goroutine has handed the connection's reading back to the
// poller: the connection's next messages (a cancel, more calls) are read
// by other workers meanwhile, and no goroutine is handed the call.
type Router struct {
	methods      map[string]*method
	interceptors []Interceptor
	// MaxCallsInFlight bounds the calls running per connection; more are
	// answered with "overloaded". Default DefaultMaxCallsInFlight.
	MaxCallsInFlight int
}

type method struct {
	name string
	fn   MethodFunc // as registered
	run  MethodFunc // fn wrapped in the Router's interceptors: what a call runs
}

// NewRouter returns an empty Router.
func NewRouter() *Router { return &Router{} }

// Handle registers fn for the command name, replacing any earlier one.
// Calls of it run through the Router's interceptors (Use), whether they
// were added before or after.
func (r *Router) Handle(name string, fn MethodFunc) {
	if r.methods == nil {
		r.methods = make(map[string]*method)
	}
	m := &method{name: name, fn: fn}
	m.run = r.chain(fn)
	r.methods[name] = m
}

// ServeMessage implements Handler.
func (r *Router) ServeMessage(c *Conn, typ MessageType, data []byte) {
	if typ != TextMessage {
		_ = c.Close(CloseUnsupportedData, "duplex.v1 speaks JSON text frames only")
		return
	}
	ed := envelopeDecoders.Get().(*envelopeDecoder)
	err := ed.decode(data)
	r.serveEnvelope(c, stateOf(c), &ed.e, err)
	ed.e = envelope{}
	envelopeDecoders.Put(ed)
}

// serveEnvelope acts on one envelope, as docs/protocol.md's table of bad
// input says for the bad ones.
func (r *Router) serveEnvelope(c *Conn, st *connState, e *envelope, err error) {
	if err != nil {
		_ = c.Close(CloseInvalidPayload, "undecodable envelope: "+err.Error())
		return
	}
	kind := e.seen & kinds
	helloTooLate := st.started
	if kind != memberHello && kind != 0 && !st.helloed && st.srv.cfg.AuthorizeHello != nil {
		_ = c.Close(ClosePolicy, "a hello must come first")
		return
	}
	if kind&^memberHello != 0 {
		st.started = true // a hello may no longer come
	}
	switch kind {
	case memberCall:
		r.serveCall(c, st, e)
	case memberCancel:
		if e.cancelErr != nil {
			r.refuseNullID(c, e.cancelErr.Error())
			return
		}
		st.callTable().cancel(e.cancel)
	case memberPing:
		if e.pingErr != nil {
			r.refuseNullID(c, e.pingErr.Error())
			return
		}
		var b [40]byte
		p := append(b[:0], `{"pong":`...)
		p = wire.AppendInt(p, e.ping)
		_ = c.WriteMessage(TextMessage, append(p, '}'))
	case memberHello:
		switch {
		case helloTooLate:
			_ = c.Close(ClosePolicy, "a hello must come before any call, cancel or ping, and only once")
		case e.helloErr != nil:
			// Refused, it did not happen: a corrected hello may follow.
			r.refuseNullID(c, e.helloErr.Error())
		default:
			st.started = true
			if st.helloed = st.srv.authorizeHello(c, st, e.params); st.helloed {
				r.hello(c, st, e.resume, e.seq)
			}
		}
	case 0:
		if e.seen == 0 {
			r.refuseNullID(c, "the envelope has no call, cancel, ping or hello member")
		} else {
			r.refuseCall(c, e, "call: required field missing") // id or args: a call without its name
		}
	default:
		msg := "the envelope has " + kindList(kind) + " members: it must be one of call, cancel, ping or hello"
		if kind&memberCall != 0 {
			r.refuseCall(c, e, msg)
		} else {
			r.refuseNullID(c, msg)
		}
	}
}

// refuse reports a refusal of the Router's own (no command runs, no
// interceptor sees it) to Hooks.OnRefused, then answers call id with err:
// whoever sees the reply finds the refusal counted.
func (r *Router) refuse(c *Conn, id int64, err *Error) {
	refused(c, err.Code)
	replyError(c, id, err)
}

// refuseNullID reports a bad_request to Hooks.OnRefused, then answers it
// with a null id (replyNullID).
func (r *Router) refuseNullID(c *Conn, msg string) {
	refused(c, CodeBadRequest)
	replyNullID(c, msg)
}

// refused reports a refusal to Hooks.OnRefused.
func refused(c *Conn, code string) {
	if hook := stateOf(c).srv.cfg.Hooks.OnRefused; hook != nil {
		hook(c, code)
	}
}

// refuseCall answers what may be a call with bad_request: to its id when
// it has a usable one, else with a null id.
func (r *Router) refuseCall(c *Conn, e *envelope, msg string) {
	if e.usableID() {
		r.refuse(c, e.id, &Error{CodeBadRequest, msg})
	} else {
		r.refuseNullID(c, msg)
	}
}

// serveCall answers or starts the call e.
func (r *Router) serveCall(c *Conn, st *connState, e *envelope) {
	switch {
	case e.seen&memberID == 0:
		// Nothing to answer to: a reply to a made-up id could settle
		// another call.
		r.refuseNullID(c, "id: required field missing")
		return
	case e.idErr != nil:
		r.refuseNullID(c, e.idErr.Error())
		return
	case e.callErr != nil:
		r.refuse(c, e.id, &Error{CodeBadRequest, e.callErr.Error()})
		return
	}
	m := r.methods[string(e.call)]
	if m == nil {
		r.refuse(c, e.id, &Error{CodeUnknownCommand, fmt.Sprintf("unknown command %q", e.call)})
		return
	}
	limit := r.MaxCallsInFlight
	if limit <= 0 {
		limit = DefaultMaxCallsInFlight
	}
	cs := callStates.Get().(*callState)
	cs.id, cs.fn, cs.ctx.srv = e.id, m.run, st.srv
	// data is only valid during ServeMessage: the arguments, and the
	// trace context when there is one, are copied, into one buffer.
	if e.args != nil {
		cs.args = append(cs.args[:0], e.args...)
	} else {
		cs.args = append(cs.args[:0], "{}"...)
	}
	n := len(cs.args)
	var trace []byte
	if e.trace != nil {
		cs.args = append(cs.args, e.trace...)
		trace = cs.args[n:]
	}
	cs.call = Call{Conn: c, Session: st.session.Load(), Name: m.name, Args: cs.args[:n:n], Trace: trace, dec: &cs.dec}
	table := st.callTable()
	cs.table = table
	table.mu.Lock()
	dup := table.find(e.id) >= 0
	full := len(table.running) >= limit
	closed := table.closed
	if !dup && !full && !closed {
		table.running = append(table.running, cs)
	}
	table.mu.Unlock()
	switch {
	case closed, dup, full:
		cs.recycle()
	}
	switch {
	case closed:
		// The connection ended while this frame was parsed.
	case dup:
		r.refuse(c, e.id, &Error{CodeBadRequest, fmt.Sprintf("id %d is already in use by a call in flight", e.id)})
	case full:
		r.refuse(c, e.id, &Error{CodeOverloaded, fmt.Sprintf("more than %d calls in flight", limit)})
	default:
		c.Schedule(cs) // on this worker once it stops reading, when it can
	}
}
