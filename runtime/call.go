package runtime

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexrpc/duplex/runtime/transport"
	"github.com/duplexrpc/duplex/runtime/wire"
)

// Call is one call as a method sees it.
//
// A Call, and its Args, are valid only until the method returns: the
// runtime reuses them for later calls. Copy what you keep.
type Call struct {
	Conn    *Conn
	Session *Session // the session at the time of the call
	Name    string
	Args    []byte // the raw JSON of "args"; "{}" when absent
	// Trace is the raw JSON object of the envelope's optional "trace"
	// member, the caller's W3C trace context (docs/protocol.md), as the
	// client sent it, unchecked beyond being a JSON object; nil when
	// absent or not an object. The runtime does not read it: a tracing
	// interceptor (runtime/otelduplex) does.
	Trace []byte

	dec *wire.Decoder // the call's own, pooled with it; nil in a Call made by hand
}

// decoder returns the decoder the adapters of method.go read the
// arguments with: the call's own, or a new one for a Call made by hand.
func (c *Call) decoder() *wire.Decoder {
	if c.dec != nil {
		return c.dec
	}
	return new(wire.Decoder)
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
	srv      *Server       // ServerOf
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
// the JSON of its result to dst. Generated code makes them with Method and
// its variants (method.go) from the methods of its Handler.
//
// ctx and call are valid only until the method returns: the runtime
// reuses them for later calls. ctx is canceled when the client cancels
// the call, when the connection ends, and when the method returns. dst
// has room for a small result; appending to it is what saves a copy.
type MethodFunc func(ctx context.Context, call *Call, dst []byte) ([]byte, error)

// DefaultMaxCallsInFlight bounds the calls one connection may have running.
const DefaultMaxCallsInFlight = 64

// calls are one connection's calls in flight. A slice, not a map: there
// are at most MaxCallsInFlight, usually one or two.
type calls struct {
	mu      sync.Mutex
	running []*callState
	closed  bool // the connection ended: no new calls
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
// the Call the method sees, a copy of its arguments, the decoder of typed
// methods and the buffer of its reply. It is taken from callStates when
// the call is accepted and put back after the reply is queued.
type callState struct {
	ctx   callContext
	call  Call
	args  []byte       // backing array of call.Args
	dec   wire.Decoder // call.dec: what Method decodes the arguments with
	out   []byte       // the reply: {"id":N,"result": ... }
	id    int64
	fn    MethodFunc
	table *calls
}

var _ transport.Task = (*callState)(nil)

var callStates = sync.Pool{New: func() any { return new(callState) }}

// maxKeptReply bounds the reply buffer a pooled callState keeps.
const maxKeptReply = 16 << 10

// Run implements transport.Task: it executes the call and answers it, on
// a pool worker counted as possibly blocked. Afterwards cs is recycled:
// nothing may touch it.
func (cs *callState) Run() {
	c := cs.call.Conn
	out := append(cs.out[:0], `{"id":`...)
	out = wire.AppendInt(out, cs.id)
	out = append(out, `,"result":`...)
	prefix := len(out)
	res, err := cs.invoke(out[prefix:prefix])
	if err != nil && cs.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = errCanceled
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
		out = appendError(c, out[:0], cs.id, err)
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
	cs.dec = wire.Decoder{} // its scratch buffer may hold a large string
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
