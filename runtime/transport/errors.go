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

	errCloseTimeout = errors.New("transport: peer did not answer the close within CloseTimeout")
	errPingTimeout  = errors.New("transport: no data from peer within PingTimeout after a ping")
)

// PanicError is reported to Hooks.OnError when a ConnHandler's Message
// panics.
type PanicError struct{ Value any }

func (e *PanicError) Error() string { return fmt.Sprintf("handler panic: %v", e.Value) }
