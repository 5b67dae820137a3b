package runtime

import (
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
