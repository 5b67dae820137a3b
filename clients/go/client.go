package duplexclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// Protocol is the WebSocket subprotocol of wire protocol v1, offered on
// every connection.
const Protocol = "duplex.v1+json"

// CloseDead is the close code the client sends when it drops a
// connection that stopped answering (IANA: "Timeout"), as the TypeScript
// client does.
const CloseDead = 3008

// Defaults of Options.
const (
	DefaultBackoffBase    = 250 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultPingTimeout    = 10 * time.Second
	DefaultMaxInFlight    = 64 // the server's default limit of calls in flight
	DefaultHeartbeat      = 25 * time.Second
	DefaultDialTimeout    = 10 * time.Second
	DefaultMaxMessageSize = 16 << 20
	// closeTimeout bounds how long Close waits for the server's answer to
	// its close frame before it drops the TCP connection.
	closeTimeout = 5 * time.Second
	// writeTimeout bounds one write of a frame.
	writeTimeout = 10 * time.Second
)

// State is the state of a Client.
type State int32

const (
	// StateClosed: before Connect, and after Close, a terminal close code
	// or giving up. A closed client that was started stays closed.
	StateClosed State = iota
	// StateConnecting: Connect was called and no welcome came yet.
	StateConnecting
	// StateOpen: the server's welcome came; calls go out at once.
	StateOpen
	// StateReconnecting: an open connection was lost; calls wait.
	StateReconnecting
)

func (s State) String() string {
	switch s {
	case StateClosed:
		return "closed"
	case StateConnecting:
		return "connecting"
	case StateOpen:
		return "open"
	case StateReconnecting:
		return "reconnecting"
	}
	return fmt.Sprintf("State(%d)", int32(s))
}

// Options configure a Client. The zero value of every field means its
// documented default.
type Options struct {
	// Dialer dials each connection. Its Protocols are replaced by
	// Protocol; a zero Timeout means DefaultDialTimeout. Header and TLS
	// settings are used as they are.
	Dialer ws.Dialer
	// BackoffBase and BackoffMax shape the reconnect delays: attempt n
	// (from 0, counted since the last welcome) waits a random time in
	// [0, min(BackoffMax, BackoffBase·2^n)). Defaults 250 ms and 30 s.
	BackoffBase, BackoffMax time.Duration
	// MaxAttempts is how many connection attempts in a row may fail
	// before the client gives up and closes; 0 means no limit, negative
	// means never reconnect (the first failure closes the client).
	MaxAttempts int
	// Terminal reports whether a close code from the server ends the
	// client instead of making it reconnect. Default: 1008 (policy) and
	// 4000-4099 (servers close with these to mean "do not come back",
	// such as 4001 session taken over). 1000 always ends the client: the
	// server ended the conversation.
	Terminal func(code int) bool
	// PingTimeout is how long a connection may stay silent after the
	// client's ping, or before the welcome, before it counts as dead;
	// default 10 s.
	PingTimeout time.Duration
	// MaxInFlight bounds the calls in flight at once; later ones wait
	// for a slot, bounded by their context. Default 64.
	MaxInFlight int
	// MaxMessageSize bounds a message from the server (RFC 6455 §10.4),
	// decided from the frame headers: a bigger one closes the connection
	// with 1009, which counts as lost (the client reconnects). Default
	// 16 MiB; negative means no limit.
	MaxMessageSize int64
	// Trace, when set, gives each call the caller's trace context: it is
	// called once per call, on the calling goroutine with the call's ctx,
	// before the call waits for the connection, and a non-empty
	// traceparent goes out as the call envelope's optional "trace" member
	// (W3C Trace Context, docs/protocol.md), with tracestate unless it is
	// empty. A tracing server (runtime/otelduplex) makes the call's span
	// a child of it; other servers ignore it. An idempotent call sent
	// again after a reconnect carries the same. The client checks neither
	// string (a server ignores one it cannot use). For OpenTelemetry:
	// otelduplex.ClientTrace(). Unset, calls carry no trace member and
	// cost nothing more.
	Trace func(ctx context.Context) (traceparent, tracestate string)

	// The callbacks run on the client's event goroutine, in order with
	// the events (see the package doc), so they may call the client.

	// OnState is called with the new state on every change.
	OnState func(State)
	// OnStartOver is called when the client reconnected but the server
	// could not resume its session: reason is the welcome's ("unknown",
	// "expired", "overrun") or "restarted". The connection carries a
	// new session (no login, event seq from 1): the app must start over.
	// It runs before the new session's events.
	OnStartOver func(reason string)
	// OnClose is called with how each connection ended when the client
	// did not end it itself.
	OnClose func(CloseInfo)
	// OnError is called with the errors of event handlers (an event
	// whose data does not decode, in a generated client).
	OnError func(error)
}

// CloseInfo is how a connection of the client ended.
type CloseInfo struct {
	// Code is the server's close code; 1006 when the connection broke
	// without one (Err says why), CloseDead when the client dropped it
	// for silence.
	Code   int
	Reason string
	Err    error
}

func (i CloseInfo) String() string {
	s := fmt.Sprint(i.Code)
	if i.Reason != "" {
		s += " " + i.Reason
	}
	if i.Err != nil {
		s += ": " + i.Err.Error()
	}
	return s
}

// ErrClosed matches (errors.Is) the error of a call on a closed client
// and of Connect on a client that closed.
var ErrClosed = errors.New("duplexclient: client closed")

// ClosedError says why a client closed: Close (Code 1000, Local), a
// terminal close code from the server, or giving up after MaxAttempts
// (GaveUp; Code and Reason are the last connection's). It matches
// ErrClosed.
type ClosedError struct {
	Code   int
	Reason string
	Local  bool // Close was called
	GaveUp bool // MaxAttempts failed attempts in a row
	Err    error
}

func (e *ClosedError) Error() string {
	switch {
	case e.Local && e.Err != nil:
		return "duplexclient: client closed: " + e.Err.Error()
	case e.Local && e.Reason != "":
		return "duplexclient: client closed (" + e.Reason + ")"
	case e.Local:
		return "duplexclient: client closed"
	case e.GaveUp:
		return "duplexclient: gave up reconnecting (last: " + CloseInfo{e.Code, e.Reason, e.Err}.String() + ")"
	}
	return "duplexclient: closed by the server (" + CloseInfo{e.Code, e.Reason, e.Err}.String() + ")"
}

func (e *ClosedError) Is(target error) bool { return target == ErrClosed }
func (e *ClosedError) Unwrap() error        { return e.Err }

// Client is a client of one duplex server URL. Its methods are safe for
// concurrent use.
type Client struct {
	url    string
	o      Options
	ctx    context.Context // canceled by the end of the client: bounds dials
	cancel context.CancelFunc
	slots  chan struct{} // calls in flight
	ev     dispatcher

	mu       sync.Mutex
	state    State
	started  bool
	ended    bool          // end ran: the client is closed for good
	err      error         // why it ended: a *ClosedError
	cur      *conn         // the current connection, from its handshake until lost
	open     chan struct{} // closed while the state is open
	done     chan struct{} // closed by end
	loopDone chan struct{} // closed when run returns
	lastErr  error         // the last failed attempt's, for Connect's error
	token    string        // the resume token of the last welcome
	session  string
	seq      int64 // the last event seq processed this session
	lastID   int64
	hid      int
	handlers map[string]map[int]func([]byte) error
}

// New returns a client of the server at url (ws:// or wss://). It does
// not connect until Connect; register event handlers with On first.
func New(url string, o Options) *Client {
	if o.BackoffBase <= 0 {
		o.BackoffBase = DefaultBackoffBase
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = DefaultBackoffMax
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = DefaultMaxInFlight
	}
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	o.Dialer.Protocols = []string{Protocol}
	if o.Dialer.Timeout <= 0 {
		o.Dialer.Timeout = DefaultDialTimeout
	}
	c := &Client{
		url:      url,
		o:        o,
		slots:    make(chan struct{}, o.MaxInFlight),
		open:     make(chan struct{}),
		done:     make(chan struct{}),
		loopDone: make(chan struct{}),
		handlers: make(map[string]map[int]func([]byte) error),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.ev.init(c)
	return c
}

// Connect starts the client, if it is not started, and waits until it is
// open (the server's welcome came): at once when it is. A URL that is not
// ws:// or wss:// with a host closes the client at once. Failed attempts
// are retried with backoff (handshakes refused with a 4xx status other
// than 408 and 429 close the client). It returns the client's
// *ClosedError when the client closes first, or ctx's error, with the
// last failed attempt's, when ctx ends first; the client keeps trying
// then: Close it to stop.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	if c.ended {
		err := c.err
		c.mu.Unlock()
		return err
	}
	if !c.started {
		if u, err := url.Parse(c.url); err != nil || u.Scheme != "ws" && u.Scheme != "wss" || u.Host == "" {
			c.started = true
			c.end(&ClosedError{Code: int(ws.StatusNormalClosure), Reason: "bad url", Local: true, Err: fmt.Errorf("connect %q: want a ws:// or wss:// URL with a host", c.url)})
			err := c.err
			c.mu.Unlock()
			return err
		}
		c.started = true
		c.setState(StateConnecting)
		go c.run()
		go c.ev.run()
	}
	open := c.open
	c.mu.Unlock()
	select {
	case <-open:
		return nil
	case <-c.done:
		return c.err
	case <-ctx.Done():
		c.mu.Lock()
		last := c.lastErr
		c.mu.Unlock()
		if last != nil {
			return fmt.Errorf("connect %s: %w (last attempt: %v)", c.url, ctx.Err(), last)
		}
		return fmt.Errorf("connect %s: %w", c.url, ctx.Err())
	}
}

// Close closes the client: it sends a close frame with 1000, which ends
// the session on the server, waits up to 5 s for the server's answer,
// and fails the calls in flight or waiting with an error matching
// ErrClosed. The client never reconnects afterwards. Event handlers
// already running finish; events not yet delivered are dropped. Repeat
// calls are harmless; it returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return nil
	}
	started := c.started
	cn := c.cur
	c.end(&ClosedError{Code: int(ws.StatusNormalClosure), Local: true})
	c.mu.Unlock()
	if !started {
		return nil
	}
	if cn != nil {
		cn.sendClose(ws.StatusNormalClosure, "")
	}
	t := time.NewTimer(closeTimeout)
	defer t.Stop()
	select {
	case <-c.loopDone:
	case <-t.C:
		if cn != nil {
			_ = cn.nc.Close()
		}
		<-c.loopDone
	}
	return nil
}

// State returns the client's state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Session returns the id of the current session, from the last welcome
// ("" before the first): a start-over changes it. It may be shown, unlike
// the resume token.
func (c *Client) Session() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// On calls fn with the data (the raw JSON object) of every event named
// event, in seq order, each event once, a resumed session's replay
// included, until the returned function is called. An error from fn goes
// to Options.OnError. Register handlers before Connect to see every event.
func (c *Client) On(event string, fn func(data []byte) error) (remove func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hid++
	id := c.hid
	hs := c.handlers[event]
	if hs == nil {
		hs = make(map[int]func([]byte) error)
		c.handlers[event] = hs
	}
	hs[id] = fn
	return func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.handlers[event], id)
	}
}

// setState changes the state; c.mu is held.
func (c *Client) setState(s State) {
	if c.state == s {
		return
	}
	if c.state == StateOpen {
		c.open = make(chan struct{})
	}
	c.state = s
	if s == StateOpen {
		close(c.open)
	}
	if fn := c.o.OnState; fn != nil {
		c.ev.post(item{fn: func() { fn(s) }})
	}
}

// end closes the client for good with err, then runs the callbacks
// final; c.mu is held.
func (c *Client) end(err *ClosedError, final ...item) {
	if c.ended {
		return
	}
	c.ended = true
	c.err = err
	c.setState(StateClosed)
	close(c.done)
	c.cancel()
	if cn := c.cur; cn != nil {
		cn.fail(err, false)
	}
	c.ev.stop(final...)
}

// run dials and serves connections until the client ends.
func (c *Client) run() {
	defer close(c.loopDone)
	attempt := 0 // failed attempts since the last welcome
	for {
		cn, err := c.dial()
		var info CloseInfo
		if err != nil {
			info = CloseInfo{Code: int(ws.StatusAbnormalClosure), Err: err}
		} else {
			info = cn.serve()
		}
		c.mu.Lock()
		if c.ended {
			c.mu.Unlock()
			return
		}
		if cn != nil {
			if cn.welcomed {
				attempt = 0
			}
			c.cur = nil
			cn.fail(&Error{Code: CodeDisconnected, Message: "connection closed (" + info.String() + ")", Retryable: true}, true)
		}
		if info.Err != nil {
			c.lastErr = info.Err
		} else {
			c.lastErr = fmt.Errorf("closed %s", info)
		}
		var final []item
		if fn := c.o.OnClose; fn != nil {
			final = append(final, item{fn: func() { fn(info) }})
		}
		switch {
		case c.terminal(info):
			c.end(&ClosedError{Code: info.Code, Reason: info.Reason, Err: info.Err}, final...)
		case c.o.MaxAttempts < 0 || c.o.MaxAttempts > 0 && attempt >= c.o.MaxAttempts:
			c.end(&ClosedError{Code: info.Code, Reason: info.Reason, Err: info.Err, GaveUp: true}, final...)
		}
		if c.ended {
			c.mu.Unlock()
			return
		}
		delay := c.backoff(attempt, info.Code)
		attempt++
		if c.state == StateOpen {
			c.setState(StateReconnecting)
		}
		for _, it := range final {
			c.ev.post(it)
		}
		c.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-c.done:
			t.Stop()
			return
		}
	}
}

// terminal reports whether info ends the client.
func (c *Client) terminal(info CloseInfo) bool {
	var st ws.StatusError
	if errors.As(info.Err, &st) {
		s := int(st)
		return s >= 400 && s < 500 && s != http.StatusRequestTimeout && s != http.StatusTooManyRequests
	}
	if info.Err != nil {
		return false
	}
	if info.Code == int(ws.StatusNormalClosure) {
		return true
	}
	if c.o.Terminal != nil {
		return c.o.Terminal(info.Code)
	}
	return info.Code == int(ws.StatusPolicyViolation) || info.Code >= 4000 && info.Code < 4100
}

// backoff is the delay before attempt n (from 0) after a loss with code:
// full jitter, except at once the first time after 1001 and 1012.
func (c *Client) backoff(n, code int) time.Duration {
	if n == 0 && (code == int(ws.StatusGoingAway) || code == 1012) {
		return 0
	}
	d := c.o.BackoffBase
	for i := 0; i < n && d < c.o.BackoffMax; i++ {
		d *= 2
	}
	return rand.N(min(d, c.o.BackoffMax))
}
