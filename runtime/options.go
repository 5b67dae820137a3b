package runtime

import (
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/duplexrpc/duplex/runtime/transport"
)

// Defaults of the session layer's options.
const (
	DefaultResumeWindow    = 2 * time.Minute
	DefaultReplayBuffer    = 256
	DefaultClientHeartbeat = 25 * time.Second
)

// Handler receives the data messages of every connection.
//
// ServeMessage is called once per complete message, in the order the peer
// sent them, never concurrently for one connection (different connections
// are served concurrently). data is valid only until ServeMessage returns:
// copy it to keep it. Text messages are valid UTF-8. A panic in ServeMessage
// closes that connection with 1011 and is reported to Hooks.OnError; the
// server keeps running. A handler that blocks delays only its own
// connection's next messages.
type Handler interface {
	ServeMessage(c *Conn, typ MessageType, data []byte)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(c *Conn, typ MessageType, data []byte)

// ServeMessage calls f(c, typ, data).
func (f HandlerFunc) ServeMessage(c *Conn, typ MessageType, data []byte) { f(c, typ, data) }

// Options configure a Server: the transport's options (see
// transport.Options, to which New hands them) and the session layer's.
// The zero value of every field means its documented default.
type Options struct {
	// Handler receives data messages. Required.
	Handler Handler

	// Subprotocols the server speaks, in order of preference. The one chosen
	// is the first of these that the client offered; a protocol the client
	// did not offer is never answered. When none matches, the connection
	// proceeds without a subprotocol unless RequireSubprotocol is set, in
	// which case the handshake is refused with 400. When Handler is a
	// *Router, New adds SubprotocolV1 at the end of the list if it is not
	// in it (a Handler that wraps a Router lists it itself); the list given
	// is not modified.
	Subprotocols       []string
	RequireSubprotocol bool

	// Compression enables permessage-deflate (RFC 7692) when non-nil.
	Compression *CompressionOptions

	// MaxMessageSize bounds an incoming message, compressed and inflated;
	// a bigger one closes the connection with 1009, decided from the frame
	// header before the payload is read. Default 1 MiB; -1 means no limit.
	MaxMessageSize int64

	// MaxQueuedBytes bounds what one connection's outgoing queue holds:
	// the frames waiting to be written and those being written, copied
	// back to back into chunks of up to 72 KiB. A data message is refused
	// when the queue holds more than the bound already: the write returns
	// ErrSlowConsumer and the connection is evicted (closed with 1008,
	// slow consumer) instead of buffering without end. A message is never
	// refused for its own size: one larger than the bound is accepted
	// when the queue holds less. So the queue of a consumer that stops
	// reading holds at most MaxQueuedBytes plus one message plus 144 KiB
	// (the unused room of two chunks); it also holds a writer goroutine.
	// Control frames are never refused. Default 4 MiB.
	MaxQueuedBytes int

	// MaxConnections refuses upgrades with 503 once this many connections
	// are open. Default 0: no limit.
	MaxConnections int

	// HandshakeTimeout bounds the time from accepting a TCP connection to
	// the end of the upgrade response, on Serve's listener path. On the
	// ServeHTTP path, set http.Server.ReadHeaderTimeout (or use
	// Server.HTTPServer, which does). Default 10 s.
	HandshakeTimeout time.Duration
	// CloseTimeout bounds how long a close started by the server waits for
	// the peer's close frame, and how long our close frame (a reply, or
	// the close of a failed or evicted connection, which waits for no
	// answer) may take to be written, before the TCP connection is closed
	// anyway. Default 5 s.
	CloseTimeout time.Duration
	// WriteTimeout bounds one write to the socket; a peer that does not
	// read for that long is disconnected. Once the close frame is queued,
	// CloseTimeout bounds the writes instead. Default 10 s.
	WriteTimeout time.Duration
	// PingInterval: a connection from which nothing has been read for this
	// long is sent a ping. Default 25 s; negative disables health checks.
	PingInterval time.Duration
	// PingTimeout: a connection that sends nothing within this time after
	// a ping is closed with 1001 "ping timeout". Default 20 s.
	PingTimeout time.Duration

	// AllowedOrigins lists origins (scheme://host[:port], compared
	// case-insensitively; "*" allows any) accepted besides the request's
	// own host. A browser upgrade from any other origin is refused with
	// 403. Requests without an Origin header (non-browser clients) are not
	// cross-site and are accepted.
	AllowedOrigins []string

	// Authorize, when set, sees every upgrade request after protocol
	// validation and before the upgrade. It may read headers, cookies and
	// the query, and attach values to the new session. Returning an
	// *HTTPError refuses the upgrade with its status; any other error
	// refuses it with 403.
	Authorize func(r *Request, s *Session) error

	// AuthorizeHello, when set, sees the params of every hello
	// (docs/protocol.md: the hello's optional "params" object, such as an
	// auth token the client refreshes before each connection; raw JSON,
	// nil when the hello has none, valid until it returns) with the
	// connection's fresh session, before a resume is tried and before
	// the welcome. It may set the session's attributes: a fresh session
	// keeps them; a resume that succeeds replaces it by the resumed
	// session, with that session's own. Returning an error refuses the
	// hello: no welcome, the resume token is not spent, and the
	// connection is closed with the *HelloError's code and reason, or
	// with CloseHelloRefused "unauthorized" for any other error.
	// With it set, a hello is required: a call, cancel or ping before a
	// welcome closes the connection with 1008. It runs on the
	// connection's reading goroutine: the connection's next frames wait
	// for it.
	AuthorizeHello func(c *Conn, s *Session, params []byte) error

	// Fallback serves requests that are not WebSocket upgrades on the
	// ServeHTTP path (for example the page at the same URL). Without it
	// they get 426 Upgrade Required.
	Fallback http.Handler

	// Engine carries what crosses server processes (docs/engine.md): the
	// order and delivery of events (Push, Broadcast, Publish), their
	// history for resumes, presence (Server.Presence) and the records of
	// sessions. Nodes that share one engine (one Redis, or the nodes of
	// one MemoryEngine: NewNode) resume each other's sessions, even those
	// of a node that died, take over sessions still attached elsewhere,
	// and end a dead node's sessions once. An engine given here is taken
	// as shared: each session's record is written from its welcome on.
	// New starts it with the server as its Receiver; Shutdown and Restart
	// close it. Default: a MemoryEngine of this process alone, keeping
	// ReplayBuffer events per topic, with no records.
	Engine Engine
	// Store, when set, keeps the records of detached sessions instead of
	// the engine (StoreSessions), for an existing Store.
	Store Store
	// ResumeWindow is how long a session outlives its connection so that
	// a reconnecting client can resume it; it is also the lifetime of a
	// resume token after the connection ends (a token works once, and a
	// client's own close 1000 ends the session at once). Default 2 min;
	// negative means sessions end with their connection. With Engine
	// set, a quarter of it (between 10 ms and 5 s) is how often the node
	// refreshes its sessions' records and ends those of dead nodes: they
	// end one window plus at most two such periods after their node's
	// last refresh.
	ResumeWindow time.Duration
	// ReplayBuffer is how many events of each topic the default engine
	// keeps (MemoryEngineOptions.HistoryLen): a session's own topic
	// (Push), BroadcastTopic, each topic joined, so that a client
	// resuming a session gets those it missed; a resume that needs older
	// ones is refused as an overrun. Default 256; negative keeps none (a
	// detached session's pushes then fail with ErrClosed). Ignored when
	// Engine is set.
	ReplayBuffer int
	// ClientHeartbeat is the heartbeat interval the welcome tells clients
	// to use (docs/protocol.md). Default 25 s.
	ClientHeartbeat time.Duration

	// Hooks observe the lifecycle; see Hooks.
	Hooks Hooks
	// Logger receives debug and warning records; nil logs nothing.
	Logger *slog.Logger

	// DisablePoller serves every connection with a reading goroutine
	// instead of the epoll readiness loop (which is used on Linux for
	// plain TCP connections and keeps idle connections goroutine-free).
	DisablePoller bool
}

// config is Options with defaults applied (those of the session layer:
// the transport applies its own).
type config struct {
	Options
}

func (o Options) withDefaults() (config, error) {
	if o.Handler == nil {
		return config{}, errors.New("runtime: Options.Handler is required")
	}
	if _, ok := o.Handler.(*Router); ok && !slices.Contains(o.Subprotocols, SubprotocolV1) {
		o.Subprotocols = append(slices.Clip(o.Subprotocols), SubprotocolV1)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.ResumeWindow, DefaultResumeWindow)
	def(&o.ClientHeartbeat, DefaultClientHeartbeat)
	if o.ReplayBuffer == 0 {
		o.ReplayBuffer = DefaultReplayBuffer
	}
	return config{Options: o}, nil
}

// engine returns the configured engine, or the default one, with Store
// keeping its session records when set.
func (c *config) engine() Engine {
	e := c.Engine
	if e == nil {
		ttl := DefaultTopicTTL
		if c.ResumeWindow > 0 {
			ttl = max(ttl, 2*c.ResumeWindow)
		}
		e = NewMemoryEngine(MemoryEngineOptions{HistoryLen: c.ReplayBuffer, TopicTTL: ttl})
	}
	if c.Store != nil {
		e = StoreSessions(e, c.Store)
	}
	return e
}

// transportOptions returns the transport's part of o; accept is the
// session layer's Options.Accept.
func (o *Options) transportOptions(accept func(*Request) (transport.ConnHandler, error)) transport.Options {
	h := o.Hooks
	return transport.Options{
		Accept:             accept,
		FullRequest:        o.Authorize != nil, // it may keep the request, and read its URL
		Subprotocols:       o.Subprotocols,
		RequireSubprotocol: o.RequireSubprotocol,
		Compression:        o.Compression,
		MaxMessageSize:     o.MaxMessageSize,
		MaxQueuedBytes:     o.MaxQueuedBytes,
		MaxConnections:     o.MaxConnections,
		HandshakeTimeout:   o.HandshakeTimeout,
		CloseTimeout:       o.CloseTimeout,
		WriteTimeout:       o.WriteTimeout,
		PingInterval:       o.PingInterval,
		PingTimeout:        o.PingTimeout,
		AllowedOrigins:     o.AllowedOrigins,
		Fallback:           o.Fallback,
		Hooks: transport.Hooks{
			OnConnect:        h.OnConnect,
			OnHandshakeError: h.OnHandshakeError,
			OnOpen:           h.OnOpen,
			OnClose:          h.OnClose,
			OnHealth:         h.OnHealth,
			OnError:          h.OnError,
			OnShutdown:       h.OnShutdown,
		},
		Logger:        o.Logger,
		DisablePoller: o.DisablePoller,
	}
}
