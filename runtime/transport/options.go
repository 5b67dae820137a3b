package transport

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Defaults, chosen for real deployments behind proxies and load balancers,
// whose idle timeouts are commonly 60 s (nginx proxy_read_timeout, AWS ALB)
// to 100 s (Cloudflare): a connection that is quiet for PingInterval gets a
// ping, which keeps such paths open, and a peer that sends nothing at all
// for PingInterval+PingTimeout (45 s by default) is closed as dead.
const (
	DefaultMaxMessageSize   = 1 << 20
	DefaultMaxQueuedBytes   = 4 << 20
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultCloseTimeout     = 5 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	DefaultPingInterval     = 25 * time.Second
	DefaultPingTimeout      = 20 * time.Second
)

// MessageType is the type of a data message (RFC 6455 §5.6).
type MessageType uint8

const (
	TextMessage   MessageType = 1
	BinaryMessage MessageType = 2
)

func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	}
	return "invalid"
}

// Options configure a Server. The zero value of every field means its
// documented default.
type Options struct {
	// Accept decides about every valid upgrade request and returns the
	// handler of the new connection; see the package documentation for
	// when it runs and what it may do. Required.
	Accept func(r *Request) (ConnHandler, error)
	// FullRequest gives Accept a request of its own on the listener path
	// (Serve), with RequestURI and URL filled in, that Accept may keep.
	// Without it, and without Hooks.OnHandshakeError, the request there is
	// a pooled one that is reused once Accept returns, and its RequestURI
	// and URL are not filled in: what an Accept that reads only headers
	// needs, without allocating. The ServeHTTP path always has them.
	FullRequest bool

	// Subprotocols the server speaks, in order of preference. The one chosen
	// is the first of these that the client offered; a protocol the client
	// did not offer is never answered. When none matches, the connection
	// proceeds without a subprotocol unless RequireSubprotocol is set, in
	// which case the handshake is refused with 400.
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

	// Fallback serves requests that are not WebSocket upgrades on the
	// ServeHTTP path (for example the page at the same URL). Without it
	// they get 426 Upgrade Required.
	Fallback http.Handler

	// Hooks observe the lifecycle; see Hooks.
	Hooks Hooks
	// Logger receives debug and warning records; nil logs nothing.
	Logger *slog.Logger

	// DisablePoller serves every connection with a reading goroutine
	// instead of the epoll readiness loop (which is used on Linux for
	// plain TCP connections and keeps idle connections goroutine-free).
	DisablePoller bool
}

// HTTPError refuses an upgrade with an HTTP status. Returned from
// Options.Accept, and passed to Hooks.OnHandshakeError. A refusal of the
// transport's own unwraps to its cause (errors.Is): ErrBadHandshake,
// ErrOriginNotAllowed, ErrConnectionLimit, ErrServerClosed; one of
// Accept's that was not an *HTTPError unwraps to Accept's error.
type HTTPError struct {
	Status int
	Reason string
	Header http.Header // extra response headers, may be nil

	cause error
}

func (e *HTTPError) Error() string {
	return "websocket handshake: " + http.StatusText(e.Status) + ": " + e.Reason
}

// Unwrap returns the refusal's cause, nil for one made by Accept.
func (e *HTTPError) Unwrap() error { return e.cause }

// config is Options with defaults applied.
type config struct {
	Options
	maxMessage int64 // 0: unlimited
}

func (o Options) withDefaults() (config, error) {
	if o.Accept == nil {
		return config{}, errors.New("transport: Options.Accept is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	def(&o.CloseTimeout, DefaultCloseTimeout)
	def(&o.WriteTimeout, DefaultWriteTimeout)
	def(&o.PingInterval, DefaultPingInterval)
	def(&o.PingTimeout, DefaultPingTimeout)
	if o.MaxQueuedBytes == 0 {
		o.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	if o.MaxQueuedBytes < 0 || o.MaxConnections < 0 {
		return config{}, errors.New("transport: negative MaxQueuedBytes or MaxConnections")
	}
	if o.HandshakeTimeout < 0 || o.CloseTimeout < 0 || o.WriteTimeout < 0 || o.PingTimeout < 0 {
		return config{}, errors.New("transport: negative timeout")
	}
	c := config{Options: o}
	switch {
	case o.MaxMessageSize == 0:
		c.maxMessage = DefaultMaxMessageSize
	case o.MaxMessageSize > 0:
		c.maxMessage = o.MaxMessageSize
	}
	return c, nil
}
