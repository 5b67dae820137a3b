package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// Error codes the runtime itself answers with (docs/protocol.md).
const (
	CodeBadRequest     = "bad_request"     // the envelope or the arguments are invalid
	CodeUnknownCommand = "unknown_command" // no such command
	CodeUnimplemented  = "unimplemented"   // the server has no handler for the command
	CodeInternal       = "internal"        // the handler failed; its error is not shown
	CodeCanceled       = "canceled"        // the client canceled the call
	CodeOverloaded     = "overloaded"      // too many calls in flight on this connection
	CodeUnavailable    = "unavailable"     // the engine failed the handler; try again later
)

// ErrUnavailable matches (errors.Is) the errors of the engine met by
// Server.Publish, Broadcast's generated callers (BroadcastEvent),
// Session.Push, Join, Leave and Presence's methods: the engine did not
// answer within its timeout (the Redis engine's Options.Timeout, 3 s by
// default) or failed. Each was reported to Hooks.OnError where it
// happened; a handler that returns one answers the call with
// "unavailable" (docs/protocol.md) and the connection stays open.
var ErrUnavailable = errors.New("runtime: engine unavailable")

// unavailableError is an engine's error as the runtime's public methods
// return it: it wraps the engine's error (a ctx's deadline, a transport
// error) and matches ErrUnavailable.
type unavailableError struct{ err error }

func (e *unavailableError) Error() string        { return e.err.Error() }
func (e *unavailableError) Unwrap() error        { return e.err }
func (e *unavailableError) Is(target error) bool { return target == ErrUnavailable }

// WireError implements WireError: the engine's error is not shown.
func (e *unavailableError) WireError() (string, string) {
	return CodeUnavailable, "the server cannot reach its engine; try again"
}

// unavailable reports err, an engine's error met by a public method, to
// Hooks.OnError (unless the caller canceled or the node is closing) and
// returns it as an ErrUnavailable; nil stays nil.
func (s *Server) unavailable(err error) error {
	if err == nil {
		return nil
	}
	if !errors.Is(err, context.Canceled) && !errors.Is(err, ErrEngineClosed) {
		s.reportError(nil, err)
	}
	return &unavailableError{err}
}

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

// replyError answers the call id with err, before it ran (a bad or
// refused call): {"id":N,"error":{...}}.
func replyError(c *Conn, id int64, err error) {
	_ = c.WriteMessage(TextMessage, appendError(c, make([]byte, 0, 64), id, err))
}

// replyNullID answers with bad_request an envelope that names no call
// the reply could go to (docs/protocol.md): {"id":null,"error":{...}}. Such
// a reply settles no call; a client can only log it.
func replyNullID(c *Conn, msg string) {
	b := make([]byte, 0, 64+len(msg))
	b = append(b, `{"id":null,"error":{"code":"bad_request","message":`...)
	b = wire.AppendString(b, msg)
	_ = c.WriteMessage(TextMessage, append(b, "}}"...))
}

// appendError appends {"id":N,"error":{...}} for err: its own code and
// message for a WireError, "internal" (reported to Hooks.OnError) for any
// other.
func appendError(c *Conn, b []byte, id int64, err error) []byte {
	var we WireError
	code, msg := CodeInternal, "internal error"
	if errors.As(err, &we) {
		code, msg = we.WireError()
	} else {
		stateOf(c).srv.reportError(c, fmt.Errorf("call %d: %w", id, err))
	}
	b = append(b[:0], `{"id":`...)
	b = wire.AppendInt(b, id)
	b = append(b, `,"error":{"code":`...)
	b = wire.AppendString(b, code)
	b = append(b, `,"message":`...)
	b = wire.AppendString(b, msg)
	return append(b, "}}"...)
}
