package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
//
// A Call, and its Args, are valid only until the method returns: the
// runtime reuses them for later calls. Copy what you keep.
type Call struct {
	Conn    *Conn
	Session *Session // the session at the time of the call
	Name    string
	Args    []byte // the raw JSON of "args"; "{}" when absent
}

// callContext is the context a method runs with. A cancel envelope, the
// end of the connection or the method's return cancels it; it carries the
// call for CloseAfterReply. It has no deadline and no values of its own
// besides that.
//
// It is one field of a pooled callState, not a context.WithCancel: it
// needs no registration with a parent (the connection's call table
// cancels it), and it costs no allocation unless the method asks for
// Done, which makes its channel. A context that handed out its Done
// channel, or that has children (context.WithCancel of it registers
// through AfterFunc), is not reused, so that nothing still waiting on it
// after the method returned can see a later call's state.
type callContext struct {
	canceled atomic.Bool
	mu       sync.Mutex
	done     chan struct{} // made by the first Done; closed by cancel
	afters   []*afterFunc  // registered by AfterFunc (children), run by cancel
	escaped  bool          // Done or AfterFunc was used: not reused
	// CloseAfterReply's request, guarded by mu.
	closeSet    bool
	closeCode   uint16
	closeReason string
}

type callContextKey struct{}

// Deadline implements context.Context: a call has no deadline.
func (c *callContext) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done implements context.Context.
func (c *callContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.escaped = true
	if c.done == nil {
		c.done = make(chan struct{})
		if c.canceled.Load() {
			close(c.done)
		}
	}
	return c.done
}

// Err implements context.Context.
func (c *callContext) Err() error {
	if c.canceled.Load() {
		return context.Canceled
	}
	return nil
}

// Value implements context.Context.
func (c *callContext) Value(key any) any {
	if key == (callContextKey{}) {
		return c
	}
	return nil
}

func (c *callContext) String() string { return "runtime.callContext" }

// afterFunc is one function registered with AfterFunc.
type afterFunc struct {
	state atomic.Int32 // 0 waiting, 1 ran, 2 stopped
	f     func()
}

// AfterFunc lets the context package attach children (context.WithCancel,
// WithTimeout, AfterFunc of a method's ctx) without a goroutine each: f
// runs when the call is canceled or returns. The functions the context
// package registers only cancel a child, so they are called directly.
func (c *callContext) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	c.mu.Lock()
	c.escaped = true
	if c.canceled.Load() {
		c.mu.Unlock()
		a.state.Store(1)
		go f()
		return func() bool { return false }
	}
	c.afters = append(c.afters, a)
	c.mu.Unlock()
	return func() bool { return a.state.CompareAndSwap(0, 2) }
}

// end cancels the context as its method returns and reports the
// method's CloseAfterReply request, taking the lock once for both.
func (c *callContext) end() (closeSet bool, code uint16, reason string) {
	c.mu.Lock()
	closeSet, code, reason = c.closeSet, c.closeCode, c.closeReason
	if c.canceled.Load() {
		c.mu.Unlock()
		return closeSet, code, reason
	}
	c.canceled.Store(true)
	if c.done != nil {
		close(c.done)
	}
	afters := c.afters
	c.mu.Unlock()
	if len(afters) == 0 {
		return closeSet, code, reason
	}
	for _, a := range afters {
		if a.state.CompareAndSwap(0, 1) {
			a.f()
		}
	}
	// A function registered with context.AfterFunc may have asked for
	// the close.
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeSet, c.closeCode, c.closeReason
}

// cancel cancels the context; calls after the first do nothing.
func (c *callContext) cancel() {
	c.mu.Lock()
	if c.canceled.Load() {
		c.mu.Unlock()
		return
	}
	c.canceled.Store(true)
	if c.done != nil {
		close(c.done)
	}
	afters := c.afters
	c.mu.Unlock()
	for _, a := range afters {
		if a.state.CompareAndSwap(0, 1) {
			a.f()
		}
	}
}

// CloseAfterReply asks the Router to close the connection of the call that
// ctx belongs to, with code and reason, right after the call's reply: the
// client gets the reply, then the server's close frame, then the closing
// handshake (RFC 6455 §7.1.2). Closing the connection inside the handler
// would send the close frame before the reply. It reports false, and does
// nothing, when ctx is not (derived from) a method's context. The last
// request of a call wins; it may be made from any goroutine until the
// method returns, not after.
func CloseAfterReply(ctx context.Context, code uint16, reason string) bool {
	cc, ok := ctx.Value(callContextKey{}).(*callContext)
	if ok {
		cc.mu.Lock()
		cc.closeSet, cc.closeCode, cc.closeReason = true, code, reason
		cc.mu.Unlock()
	}
	return ok
}

// MethodFunc runs one call: it decodes Args, runs the handler and appends
// the JSON of its result to dst. Generated code supplies these.
//
// ctx and call are valid only until the method returns: the runtime
// reuses them for later calls. ctx is canceled when the client cancels
// the call, when the connection ends, and when the method returns. dst
// has room for a small result; appending to it is what saves a copy.
type MethodFunc func(ctx context.Context, call *Call, dst []byte) ([]byte, error)

// DefaultMaxCallsInFlight bounds the calls one connection may have running.
const DefaultMaxCallsInFlight = 64

// Router dispatches calls to methods. Register methods before serving;
// the Router is then safe for concurrent use. Use it as Options.Handler.
//
// A call runs on a worker goroutine of the server's pool. When the call
// arrived on the epoll read path, it runs on the goroutine that read it,
// after that goroutine has handed the connection's reading back to the
// poller: the connection's next messages (a cancel, more calls) are read
// by other workers meanwhile, and no goroutine is handed the call.
type Router struct {
	methods map[string]*method
	// MaxCallsInFlight bounds the calls running per connection; more are
	// answered with "overloaded". Default DefaultMaxCallsInFlight.
	MaxCallsInFlight int
}

type method struct {
	name string
	fn   MethodFunc
}

// NewRouter returns an empty Router.
func NewRouter() *Router { return &Router{} }

// Handle registers fn for the command name, replacing any earlier one.
func (r *Router) Handle(name string, fn MethodFunc) {
	if r.methods == nil {
		r.methods = make(map[string]*method)
	}
	r.methods[name] = &method{name: name, fn: fn}
}

// calls are one connection's calls in flight. A slice, not a map: there
// are at most MaxCallsInFlight, usually one or two.
type calls struct {
	mu      sync.Mutex
	running []*callState
	closed  bool // the connection ended: no new calls
}

func (c *Conn) callTable() *calls {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = &calls{}
	}
	return c.calls
}

// find returns the index of the call id, -1 when it is not running. mu held.
func (t *calls) find(id int64) int {
	for i, cs := range t.running {
		if cs.id == id {
			return i
		}
	}
	return -1
}

// callState is one call in flight, in one pooled allocation: its context,
// the Call the method sees, a copy of its arguments and the buffer of its
// reply. It is taken from callStates when the call is accepted and put
// back after the reply is queued.
type callState struct {
	ctx   callContext
	call  Call
	args  []byte // backing array of call.Args
	out   []byte // the reply: {"id":N,"result": ... }
	id    int64
	fn    MethodFunc
	table *calls
}

var callStates = sync.Pool{New: func() any { return new(callState) }}

// maxKeptReply bounds the reply buffer a pooled callState keeps.
const maxKeptReply = 16 << 10

// member is a member of a client envelope that protocol v1 knows, as a bit
// of envelope.seen.
type member uint8

const (
	memberID member = 1 << iota
	memberCall
	memberArgs
	memberCancel
	memberPing
	memberHello
)

// kinds are the members that say what an envelope is: a call, a cancel, a
// ping or a hello. id and args are members of calls.
const kinds = memberCall | memberCancel | memberPing | memberHello

// memberOf returns the member named key, 0 for a member v1 does not know.
func memberOf(key []byte) member {
	switch string(key) {
	case "id":
		return memberID
	case "call":
		return memberCall
	case "args":
		return memberArgs
	case "cancel":
		return memberCancel
	case "ping":
		return memberPing
	case "hello":
		return memberHello
	}
	return 0
}

// String returns the member's name.
func (m member) String() string {
	switch m {
	case memberID:
		return "id"
	case memberCall:
		return "call"
	case memberArgs:
		return "args"
	case memberCancel:
		return "cancel"
	case memberPing:
		return "ping"
	case memberHello:
		return "hello"
	}
	return "?"
}

// kindList names the kind members in k: "call and cancel".
func kindList(k member) string {
	var names []string
	for _, m := range []member{memberCall, memberCancel, memberPing, memberHello} {
		if k&m != 0 {
			names = append(names, m.String())
		}
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// envelope is a decoded client frame: the known members it has, their
// values, and what is wrong with them. A member that is present but
// unusable (of the wrong type or range, or given twice) has its bit in
// seen and an error, the first one found for it.
type envelope struct {
	seen   member // the known members present, usable or not
	id     int64
	call   []byte // the command's name; valid until the envelope decoder is reused
	args   []byte // the raw "args" object; nil when absent
	cancel int64
	ping   int64
	resume string // hello.resume
	seq    int64  // hello.seq
	// What is wrong with id; with call or args; with cancel; with ping;
	// with hello.
	idErr, callErr, cancelErr, pingErr, helloErr error
}

// usableID reports whether the envelope has an id that a reply can name.
func (e *envelope) usableID() bool { return e.seen&memberID != 0 && e.idErr == nil }

// envelopeDecoder decodes envelopes without allocating: its decoders'
// scratch space and the copy of the command name are reused (pooled).
type envelopeDecoder struct {
	d     wire.Decoder // reads the frame
	v     wire.Decoder // reads one member's value
	name  []byte
	e     envelope
	clean bool // wire's decoder read the whole frame: it needed no second pass
}

var envelopeDecoders = sync.Pool{New: func() any { return new(envelopeDecoder) }}

// decode reads a client frame into ed.e. A frame that is not a JSON
// object gives an error (the connection is closed with 1007); what is
// wrong with the members of one is recorded in ed.e, whatever their
// order, to be answered.
//
// The grammar alone decides what is JSON (encoding/json's scanner). wire's
// decoder reads the members in one pass; it accepts only valid JSON
// (FuzzDecoderSkip), so a frame it reads from end to end needs no second
// look. Where it stops, the frame is either not JSON (encoding/json.Valid
// says so, and wire's decoder words the error), or valid JSON that wire's
// stricter decoder refuses somewhere (a lone surrogate escape, nesting
// deeper than 64). Then validMembers splits the object into its members
// without judging them, so that such a value in one member neither hides
// the others nor closes the connection, and in a member v1 does not know
// is ignored like the rest of it.
func (ed *envelopeDecoder) decode(data []byte) error {
	ed.e = envelope{}
	d := &ed.d
	d.Reset(data, "")
	// wire's decoder words the error.
	if k := d.Peek(); k != wire.Object {
		got := k.String()
		if len(bytes.TrimSpace(data)) == 0 {
			got = "end of input"
		}
		return d.Errorf("expected object, got %s", got)
	}
	if ed.clean = ed.members() && d.End() == nil; ed.clean {
		return nil
	}
	ed.e = envelope{}
	if !json.Valid(data) {
		d.Reset(data, "")
		if err := d.Skip(); err != nil {
			return err
		}
		if err := d.End(); err != nil {
			return err
		}
		return errors.New("not valid JSON")
	}
	ed.validMembers(data)
	return nil
}

// members reads the members of the object at ed.d, each value whole (and
// so validated) by wire's decoder, and reports whether it read the object
// to its end.
func (ed *envelopeDecoder) members() bool {
	d := &ed.d
	if err := d.BeginObject(); err != nil {
		return false
	}
	for {
		key, more, err := d.NextMember()
		if err != nil {
			return false
		}
		if !more {
			return true
		}
		m := memberOf(key) // before Raw, which may reuse key's bytes
		value, err := d.Raw()
		if err != nil {
			return false
		}
		if m != 0 { // later protocol versions may add members
			ed.member(m, value, true)
		}
	}
}

// validMembers reads the members of data, a JSON object that is valid
// JSON, finding where each one's key and value end without reading them.
// A key that wire's decoder cannot read (a lone surrogate escape) is not
// one v1 knows.
func (ed *envelopeDecoder) validMembers(data []byte) {
	o := validObject{data: data}
	for key, value, ok := o.next(); ok; key, value, ok = o.next() {
		ed.v.Reset(key, "")
		if name, err := ed.v.StringBytes(); err == nil {
			if m := memberOf(name); m != 0 {
				ed.member(m, value, false)
			}
		}
	}
}

// validObject walks the members of a JSON object in valid JSON: it finds
// where each key and value ends without reading them.
type validObject struct {
	data []byte // the object, valid JSON
	p    int    // where the next member (or the end) is; 0 before '{'
}

// next returns the next member's key (as written, quotes and escapes
// included) and value, or false at the end.
func (o *validObject) next() (key, value []byte, ok bool) {
	data, p := o.data, o.p
	if p == 0 {
		p = skipSpace(data, 0) + 1 // past '{'
	}
	p = skipSpace(data, p)
	if p < len(data) && data[p] == ',' {
		p = skipSpace(data, p+1)
	}
	if p >= len(data) || data[p] == '}' {
		return nil, nil, false
	}
	end := validEnd(data, p)
	key = data[p:end]
	p = skipSpace(data, skipSpace(data, end)+1) // past ':'
	end = validEnd(data, p)
	o.p = end
	return key, data[p:end], true
}

func skipSpace(data []byte, p int) int {
	for p < len(data) && (data[p] == ' ' || data[p] == '\t' || data[p] == '\n' || data[p] == '\r') {
		p++
	}
	return p
}

// validEnd returns the end of the value that starts at data[p], in valid
// JSON.
func validEnd(data []byte, p int) int {
	depth := 0
	for ; p < len(data); p++ {
		switch data[p] {
		case '"':
			for p++; p < len(data) && data[p] != '"'; p++ {
				if data[p] == '\\' {
					p++
				}
			}
			if depth == 0 {
				return p + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth--; depth == 0 {
				return p + 1
			}
		default:
			if depth == 0 { // a number, true, false or null
				for p < len(data) && !strings.ContainsRune(",}] \t\n\r", rune(data[p])) {
					p++
				}
				return p
			}
		}
	}
	return p
}

// member records the member m, whose value is the JSON text value (valid
// JSON). checked: wire's decoder has read the value whole, so that args
// need no second look.
func (ed *envelopeDecoder) member(m member, value []byte, checked bool) {
	e, v := &ed.e, &ed.v
	v.Reset(value, m.String()) // error messages name the member
	dup := e.seen&m != 0
	e.seen |= m
	var err error
	switch m {
	case memberID:
		e.id, err = v.Int()
	case memberCall:
		var name []byte
		if name, err = v.StringBytes(); err == nil {
			// Copied: the bytes may be the decoder's scratch space.
			ed.name = append(ed.name[:0], name...)
			e.call = ed.name
		}
	case memberArgs:
		switch {
		case v.Peek() != wire.Object:
			err = v.Errorf("expected object, got %s", v.Peek())
		case !checked:
			err = v.Skip()
		}
		if err == nil {
			e.args = value
		}
	case memberCancel:
		e.cancel, err = v.Int()
	case memberPing:
		e.ping, err = v.Int()
	case memberHello:
		err = ed.hello(value)
	}
	if dup {
		err = &wire.Error{Path: m.String(), Msg: "duplicate field"}
	}
	if err == nil {
		return
	}
	var slot *error
	switch m {
	case memberID:
		slot = &e.idErr
	case memberCall, memberArgs:
		slot = &e.callErr
	case memberCancel:
		slot = &e.cancelErr
	case memberPing:
		slot = &e.pingErr
	default:
		slot = &e.helloErr
	}
	if *slot == nil {
		*slot = err
	}
}

// hello reads the object of a hello, value (valid JSON). Its members
// that v1 does not know are not read at all, as an envelope's are not.
func (ed *envelopeDecoder) hello(value []byte) error {
	e, v := &ed.e, &ed.v
	v.Reset(value, "hello")
	if k := v.Peek(); k != wire.Object {
		return v.Errorf("expected object, got %s", k)
	}
	var hasResume, hasSeq bool
	o := validObject{data: value}
	for key, val, ok := o.next(); ok; key, val, ok = o.next() {
		v.Reset(key, "")
		name, err := v.StringBytes()
		if err != nil {
			continue // not a member v1 knows
		}
		switch string(name) {
		case "resume":
			if hasResume {
				return &wire.Error{Path: "hello.resume", Msg: "duplicate field"}
			}
			hasResume = true
			v.Reset(val, "hello.resume")
			if e.resume, err = v.String(); err != nil {
				return err
			}
		case "seq":
			if hasSeq {
				return &wire.Error{Path: "hello.seq", Msg: "duplicate field"}
			}
			hasSeq = true
			v.Reset(val, "hello.seq")
			if e.seq, err = v.Int(); err != nil {
				return err
			}
			if e.seq < 0 {
				return v.Errorf("%d is not an integer in [0, %d]", e.seq, 1<<53-1)
			}
		}
	}
	return nil
}

// ServeMessage implements Handler.
func (r *Router) ServeMessage(c *Conn, typ MessageType, data []byte) {
	if typ != TextMessage {
		_ = c.Close(CloseUnsupportedData, "duplex.v1 speaks JSON text frames only")
		return
	}
	ed := envelopeDecoders.Get().(*envelopeDecoder)
	err := ed.decode(data)
	r.serveEnvelope(c, &ed.e, err)
	ed.e = envelope{}
	envelopeDecoders.Put(ed)
}

// serveEnvelope acts on one envelope, as docs/protocol.md's table of bad
// input says for the bad ones.
func (r *Router) serveEnvelope(c *Conn, e *envelope, err error) {
	if err != nil {
		_ = c.Close(CloseInvalidPayload, "undecodable envelope: "+err.Error())
		return
	}
	kind := e.seen & kinds
	helloTooLate := c.rpcStarted
	if kind&^memberHello != 0 {
		c.rpcStarted = true // a hello may no longer come
	}
	switch kind {
	case memberCall:
		r.serveCall(c, e)
	case memberCancel:
		if e.cancelErr != nil {
			c.replyNullID(e.cancelErr.Error())
			return
		}
		c.callTable().cancel(e.cancel)
	case memberPing:
		if e.pingErr != nil {
			c.replyNullID(e.pingErr.Error())
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
			c.replyNullID(e.helloErr.Error())
		default:
			c.rpcStarted = true
			r.hello(c, e.resume, e.seq)
		}
	case 0:
		if e.seen == 0 {
			c.replyNullID("the envelope has no call, cancel, ping or hello member")
		} else {
			r.refuseCall(c, e, "call: required field missing") // id or args: a call without its name
		}
	default:
		msg := "the envelope has " + kindList(kind) + " members: it must be one of call, cancel, ping or hello"
		if kind&memberCall != 0 {
			r.refuseCall(c, e, msg)
		} else {
			c.replyNullID(msg)
		}
	}
}

// refuseCall answers what may be a call with bad_request: to its id when
// it has a usable one, else with a null id.
func (r *Router) refuseCall(c *Conn, e *envelope, msg string) {
	if e.usableID() {
		c.replyError(e.id, &Error{CodeBadRequest, msg})
	} else {
		c.replyNullID(msg)
	}
}

// serveCall answers or starts the call e.
func (r *Router) serveCall(c *Conn, e *envelope) {
	switch {
	case e.seen&memberID == 0:
		// Nothing to answer to: a reply to a made-up id could settle
		// another call.
		c.replyNullID("id: required field missing")
		return
	case e.idErr != nil:
		c.replyNullID(e.idErr.Error())
		return
	case e.callErr != nil:
		c.replyError(e.id, &Error{CodeBadRequest, e.callErr.Error()})
		return
	}
	m := r.methods[string(e.call)]
	if m == nil {
		c.replyError(e.id, &Error{CodeUnknownCommand, fmt.Sprintf("unknown command %q", e.call)})
		return
	}
	limit := r.MaxCallsInFlight
	if limit <= 0 {
		limit = DefaultMaxCallsInFlight
	}
	cs := callStates.Get().(*callState)
	cs.id, cs.fn = e.id, m.fn
	// data is only valid during ServeMessage: the arguments are copied.
	if e.args != nil {
		cs.args = append(cs.args[:0], e.args...)
	} else {
		cs.args = append(cs.args[:0], "{}"...)
	}
	cs.call = Call{Conn: c, Session: c.Session(), Name: m.name, Args: cs.args}
	table := c.callTable()
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
		c.replyError(e.id, &Error{CodeBadRequest, fmt.Sprintf("id %d is already in use by a call in flight", e.id)})
	case full:
		c.replyError(e.id, &Error{CodeOverloaded, fmt.Sprintf("more than %d calls in flight", limit)})
	default:
		if !c.deferCall(cs) {
			c.srv.pool.submit(task{call: cs})
		}
	}
}

// run executes the call and answers it; the worker running it is counted
// as in a call (workerPool.enterCall). Afterwards cs is recycled: nothing
// may touch it.
func (cs *callState) run() {
	c := cs.call.Conn
	out := append(cs.out[:0], `{"id":`...)
	out = wire.AppendInt(out, cs.id)
	out = append(out, `,"result":`...)
	prefix := len(out)
	res, err := cs.invoke(out[prefix:prefix])
	if err != nil && cs.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = &Error{CodeCanceled, "call canceled"}
	}
	// The id is free again before the reply leaves, so that a client may
	// reuse it as soon as it has the reply. Once out of the table, nothing
	// but this goroutine reaches cs.
	t := cs.table
	t.mu.Lock()
	if i := t.find(cs.id); i >= 0 && t.running[i] == cs {
		last := len(t.running) - 1
		t.running[i] = t.running[last]
		t.running[last] = nil
		t.running = t.running[:last]
	}
	t.mu.Unlock()
	closeSet, code, reason := cs.ctx.end()
	if err == nil {
		switch {
		case len(res) == 0:
			out = append(out, "{}"...)
		case cap(out) > prefix && &res[0] == &out[:prefix+1][prefix]:
			out = out[:prefix+len(res)] // appended in place
		default:
			out = append(out, res...) // the method returned a buffer of its own
		}
		out = append(out, '}')
		_ = c.WriteMessage(TextMessage, out)
	} else {
		out = c.appendError(out[:0], cs.id, err)
		_ = c.WriteMessage(TextMessage, out)
	}
	if cap(out) <= maxKeptReply {
		cs.out = out[:0]
	} else {
		cs.out = nil
	}
	if closeSet {
		_ = c.Close(code, reason)
	}
	cs.recycle()
}

// invoke calls the method, turning a panic into a *PanicError.
func (cs *callState) invoke(dst []byte) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = nil, &PanicError{Value: p}
		}
	}()
	return cs.fn(&cs.ctx, &cs.call, dst)
}

// recycle puts cs back into the pool, unless its context may still be
// watched (its Done channel or a child was handed out).
func (cs *callState) recycle() {
	cs.ctx.mu.Lock()
	escaped := cs.ctx.escaped
	cs.ctx.mu.Unlock()
	if escaped {
		return // left to the garbage collector
	}
	cs.call = Call{}
	cs.fn, cs.table, cs.id = nil, nil, 0
	cs.args = cs.args[:0]
	if cap(cs.args) > maxKeptReply {
		cs.args = nil
	}
	cs.ctx.canceled.Store(false)
	cs.ctx.done = nil
	clear(cs.ctx.afters)
	cs.ctx.afters = cs.ctx.afters[:0]
	cs.ctx.closeSet, cs.ctx.closeCode, cs.ctx.closeReason = false, 0, ""
	callStates.Put(cs)
}

// cancel cancels the call id, if it is running. It cancels under the
// table's lock, so that the call cannot be recycled meanwhile.
func (t *calls) cancel(id int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if i := t.find(id); i >= 0 {
		t.running[i].ctx.cancel()
	}
}

// cancelAll cancels every call in flight (the connection ended).
func (t *calls) cancelAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	for _, cs := range t.running {
		cs.ctx.cancel()
	}
}

// replyError answers the call id with err, before it ran (a bad or
// refused call): {"id":N,"error":{...}}.
func (c *Conn) replyError(id int64, err error) {
	_ = c.WriteMessage(TextMessage, c.appendError(make([]byte, 0, 64), id, err))
}

// replyNullID answers with bad_request an envelope that names no call
// the reply could go to (docs/protocol.md): {"id":null,"error":{...}}. Such
// a reply settles no call; a client can only log it.
func (c *Conn) replyNullID(msg string) {
	b := make([]byte, 0, 64+len(msg))
	b = append(b, `{"id":null,"error":{"code":"bad_request","message":`...)
	b = wire.AppendString(b, msg)
	_ = c.WriteMessage(TextMessage, append(b, "}}"...))
}

// appendError appends {"id":N,"error":{...}} for err: its own code and
// message for a WireError, "internal" (reported to Hooks.OnError) for any
// other.
func (c *Conn) appendError(b []byte, id int64, err error) []byte {
	var we WireError
	code, msg := CodeInternal, "internal error"
	if errors.As(err, &we) {
		code, msg = we.WireError()
	} else {
		c.srv.reportError(c, fmt.Errorf("call %d: %w", id, err))
	}
	b = append(b[:0], `{"id":`...)
	b = wire.AppendInt(b, id)
	b = append(b, `,"error":{"code":`...)
	b = wire.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = wire.AppendString(b, msg)
	return append(b, "}}"...)
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
	return s.push(newEvent(event, data))
}

// eventBody is an event's encoding without its sequence number, built once
// and shared by every session it is pushed to (Broadcast) and by their
// replay buffers: a session keeps a pointer per event, not a frame.
type eventBody struct {
	head []byte // {"event":NAME,"seq":
	tail []byte // ,"data":DATA}
}

func newEvent(event string, data []byte) *eventBody {
	if len(data) == 0 {
		data = []byte("{}")
	}
	b := make([]byte, 0, 20+len(event)+len(data))
	b = append(b, `{"event":`...)
	b = wire.AppendString(b, event)
	b = append(b, `,"seq":`...)
	h := len(b)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, '}')
	return &eventBody{head: b[:h:h], tail: b[h:]}
}

// write queues the event with sequence number seq on c, encoded in a
// pooled buffer.
func (e *eventBody) write(c *Conn, seq int64) error {
	buf := getBuffer(len(e.head) + 20 + len(e.tail))
	b := append((*buf)[:0], e.head...)
	b = wire.AppendInt(b, seq)
	b = append(b, e.tail...)
	err := c.WriteMessage(TextMessage, b)
	*buf = b
	putBuffer(buf)
	return err
}

// push numbers, queues and keeps one event; see Push.
func (s *Session) push(ev *eventBody) error {
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
	if c != nil {
		if err := ev.write(c, seq); err != nil && keep <= 0 {
			return err // nothing keeps it: no number for it, no gap for a resuming client
		}
	}
	if keep > 0 {
		if len(s.replay) == keep {
			s.replay[0] = nil
			s.replay = s.replay[1:]
		}
		s.replay = append(s.replay, ev)
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

// missedSince returns the kept events after seq and the sequence number
// of the first, and false when some of them are no longer kept (or seq is
// ahead of the session). pushMu held.
func (s *Session) missedSince(seq int64) ([]*eventBody, int64, bool) {
	switch {
	case seq > s.seq || seq < 0:
		return nil, 0, false
	case seq == s.seq:
		return nil, 0, true
	}
	first := s.seq - int64(len(s.replay)) + 1 // seq of s.replay[0]
	if seq+1 < first {
		return nil, 0, false
	}
	return s.replay[seq+1-first:], seq + 1, true
}

// broadcastChunk is the number of sessions below which Broadcast does not
// split its work across goroutines.
const broadcastChunk = 512

// Broadcast pushes the event to every session of this process that has
// not ended: those of open connections, and detached ones waiting for
// their client to resume them, which keep it for the replay (so a client
// that reconnects misses nothing). The event is encoded once; each
// connection gets a copy with its session's sequence number, written at
// once without blocking when its socket has room, and otherwise queued for
// its writer goroutine, so that a slow connection delays no other. Large
// fan-outs are split across up to GOMAXPROCS goroutines. Broadcast returns
// once the event is written, queued or kept everywhere; events of
// Broadcast calls made one after the other reach every session in that
// order. Errors for single connections (closing, slow consumers) are not
// reported: they end those connections and no one else.
func (s *Server) Broadcast(event string, data []byte) {
	ev := newEvent(event, data)
	list := audiences.Get().(*[]*Session)
	all := s.liveSessions((*list)[:0])
	defer func() {
		clear(all)
		*list = all[:0]
		audiences.Put(list)
	}()
	parts := min(goruntime.GOMAXPROCS(0), (len(all)+broadcastChunk-1)/broadcastChunk)
	if parts <= 1 {
		pushAll(all, ev)
		return
	}
	size := (len(all) + parts - 1) / parts
	var wg sync.WaitGroup
	for i := size; i < len(all); i += size {
		part := all[i:min(i+size, len(all))]
		wg.Go(func() { pushAll(part, ev) })
	}
	pushAll(all[:size], ev)
	wg.Wait()
}

// audiences are Broadcast's lists of sessions, reused: a list of 10k
// sessions is 80 KB that each broadcast would otherwise allocate.
var audiences = sync.Pool{New: func() any { return new([]*Session) }}

func pushAll(sessions []*Session, ev *eventBody) {
	for _, sess := range sessions {
		_ = sess.push(ev)
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
		missed, first, ok := s.missedSince(lastSeq)
		if !ok {
			s.pushMu.Unlock()
			c.srv.endSession(s) // taken from the store, and not resumable: it ends here
			reason = "overrun"
			break
		}
		fresh := c.attach(s)
		c.welcome(s, true, "")
		for i, ev := range missed {
			_ = ev.write(c, first+int64(i))
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

// welcome writes {"welcome":{...}} for s, issuing its resume token (the
// ID and the token need no JSON escaping).
func (c *Conn) welcome(s *Session, resumed bool, reason string) {
	buf := getBuffer(smallBufferSize)
	b := append((*buf)[:0], `{"welcome":{"session":"`...)
	b = appendUUID(b, &s.uuid)
	b = append(b, `","resume":"`...)
	b = s.appendResumeToken(b)
	b = append(b, `","resumed":`...)
	b = wire.AppendBool(b, resumed)
	if reason != "" {
		b = append(b, `,"reason":`...)
		b = wire.AppendString(b, reason)
	}
	b = append(b, `,"heartbeat":`...)
	b = wire.AppendInt(b, c.srv.cfg.ClientHeartbeat.Milliseconds())
	b = append(b, "}}"...)
	_ = c.WriteMessage(TextMessage, b) // copies
	*buf = b
	putBuffer(buf)
}
