package transport

import (
	"net"
	"time"
)

// Hooks observe a server's lifecycle, for logging and metrics (a
// Prometheus or OpenTelemetry adapter plugs in here). Every field is
// optional. Hooks run synchronously on the runtime's goroutines, possibly
// concurrently for different connections: keep them fast and do not call
// back into blocking operations.
type Hooks struct {
	// OnConnect: a TCP connection was accepted (listener path) or an
	// upgrade request arrived (ServeHTTP path), before validation.
	OnConnect func(remote net.Addr)
	// OnHandshakeError: an upgrade was refused; status is the HTTP status
	// sent (0 when the connection failed before a response could be sent,
	// for example a handshake timeout, whose err matches
	// os.ErrDeadlineExceeded). A refusal's err is an *HTTPError, whose
	// cause tells why (ErrBadHandshake, ErrOriginNotAllowed,
	// ErrConnectionLimit, ErrServerClosed, or Accept's error). r may be
	// partly filled.
	OnHandshakeError func(r *Request, status int, err error)
	// OnOpen: the upgrade succeeded; runs after ConnHandler.Open and
	// before the first message.
	OnOpen func(c *Conn)
	// OnClose: the connection ended, exactly once, with how it ended;
	// runs after ConnHandler.Closed.
	OnClose func(c *Conn, e *CloseError)
	// OnHealth: a health-check ping was answered (OK, with its round trip
	// time) or timed out (not OK; the connection is being closed).
	OnHealth func(c *Conn, h Health)
	// OnError: an error that does not end the server: a panic in
	// ConnHandler.Message, an accept error.
	OnError func(c *Conn, err error)
	// OnShutdown: Shutdown or Restart began, with the close code sent to
	// every connection (1001 or 1012).
	OnShutdown func(code uint16)
}

// Health is the result of one health check.
type Health struct {
	OK  bool
	RTT time.Duration // ping to pong, when OK
}
