package runtime

import (
	"net"
	"time"
)

// Hooks observe a server's lifecycle, for logging and metrics (a
// Prometheus or OpenTelemetry adapter plugs in here, runtime/prommetrics
// is one; calls are observed with interceptors instead: Router.Use). All
// but OnSessionEnd, OnResume, OnRefused and OnPublish are the transport's
// (transport.Hooks). Every field is
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
	// ErrConnectionLimit, ErrServerClosed, or Authorize's error). r may be
	// partly filled.
	OnHandshakeError func(r *Request, status int, err error)
	// OnOpen: the upgrade succeeded; runs before the first message, with
	// the connection's session attached.
	OnOpen func(c *Conn)
	// OnClose: the connection ended, exactly once, with how it ended;
	// its session is detached already.
	OnClose func(c *Conn, e *CloseError)
	// OnHealth: a health-check ping was answered (OK, with its round trip
	// time) or timed out (not OK; the connection is being closed).
	OnHealth func(c *Conn, h Health)
	// OnError: an error that does not end the server: a handler panic, a
	// method's error that is not a WireError, a failing Store.
	OnError func(c *Conn, err error)
	// OnShutdown: Shutdown or Restart began, with the close code sent to
	// every connection (1001 or 1012).
	OnShutdown func(code uint16)
	// OnSessionEnd: a session ended for good: its connection closed and
	// it was not resumed within the resume window (or was replaced by a
	// resumed one). Called exactly once per session, and with a shared
	// engine once in the cluster: a session taken over by a resume on
	// another node does not end; one whose node died ends on a surviving
	// node, which made s from the session's record: its ID and
	// attributes, no connection, Server the surviving node (its Presence
	// and Broadcast work as anywhere). The session has ended: Push, Join
	// and Leave return ErrClosed.
	OnSessionEnd func(s *Session)
	// OnResume: a client asked to resume a session on c (a hello with a
	// resume token, or Resume), with how that ended: ResumeResumed, or
	// why not (ResumeUnknown, ResumeExpired, ResumeOverrun: the
	// welcome's reason; ResumeUnavailable: the engine failed, which
	// OnError reports too). Called once per resume, after the welcome
	// of a resumed session is queued and before that of a refused one.
	OnResume func(c *Conn, outcome string)
	// OnRefused: the Router answered a message on c with an error of its
	// own, without running a command (so no interceptor saw it), with
	// the error's code: CodeBadRequest (an envelope it could not act
	// on, a null id included, or an id already in flight),
	// CodeUnknownCommand or CodeOverloaded. Bad hello members count too.
	// Called before the reply is queued.
	OnRefused func(c *Conn, code string)
	// OnPublish: an event went through the engine (Push, Broadcast,
	// Publish, generated callers included), with how long the engine
	// took to order it and its error (nil when it did). Called on the
	// publisher's goroutine after the engine returned; when unset the
	// runtime reads no clock for it.
	OnPublish func(d time.Duration, err error)
}
