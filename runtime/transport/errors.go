package transport

import (
	"errors"
	"fmt"
)

var (
	// ErrClosed is returned by writes on a connection whose close has begun.
	ErrClosed = errors.New("transport: connection closing or closed")
	// ErrSlowConsumer is returned by a write that found the connection's
	// outgoing queue full; the connection is being closed with 1008.
	ErrSlowConsumer = errors.New("transport: slow consumer: outgoing queue full")

	// ErrBadHandshake is the cause (HTTPError.Unwrap) of the refusal of
	// a request that is not a valid WebSocket upgrade (RFC 6455 §4.2.1):
	// a malformed or oversized head, a missing or wrong header, a
	// subprotocol required and not offered.
	ErrBadHandshake = errors.New("transport: not a valid WebSocket upgrade request")
	// ErrOriginNotAllowed is the cause of a 403 refusal of a browser's
	// upgrade from an origin that is neither the request's host nor in
	// Options.AllowedOrigins.
	ErrOriginNotAllowed = errors.New("transport: origin not allowed")
	// ErrConnectionLimit is the cause of a 503 refusal of an upgrade
	// while Options.MaxConnections connections are open.
	ErrConnectionLimit = errors.New("transport: connection limit reached")

	errCloseTimeout = errors.New("transport: peer did not answer the close within CloseTimeout")
	errPingTimeout  = errors.New("transport: no data from peer within PingTimeout after a ping")
)

// PanicError is reported to Hooks.OnError when a ConnHandler's Message
// panics.
type PanicError struct{ Value any }

func (e *PanicError) Error() string { return fmt.Sprintf("handler panic: %v", e.Value) }
