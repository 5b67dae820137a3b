package duplexclient

import (
	"context"
	"fmt"
	"strconv"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// Codes of the errors the client itself fails calls with; the server's
// own are in docs/protocol.md (bad_request, unknown_command,
// unimplemented, internal, canceled, overloaded, unavailable).
const (
	// CodeDisconnected: the connection was lost while the call was in
	// flight (Retryable), or the client is closed (the error matches
	// ErrClosed).
	CodeDisconnected = "disconnected"
)

// Error is a call's error with its wire code: the server's reply (a
// schema error's snake_case code, such as "name_taken", or one of the
// protocol's codes), or CodeDisconnected from the client. A generated
// client sets Err to the schema error's typed error (*NameTakenError), so
// that errors.As finds either.
type Error struct {
	Code    string
	Message string
	// Retryable is true when the call failed only because the connection
	// was lost while it was in flight: the server may or may not have run
	// it, and making it again waits for the reconnect.
	Retryable bool
	Err       error
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// WireError returns the code and message, as the server's typed errors
// do (runtime.WireError).
func (e *Error) WireError() (code, message string) { return e.Code, e.Message }

// JSONAppender appends its JSON object to dst: generated argument types.
type JSONAppender interface {
	AppendJSON(dst []byte) ([]byte, error)
}

// JSONDecoder reads itself from a JSON object: generated result types.
type JSONDecoder interface {
	DecodeJSON(d *wire.Decoder) error
}

// Call calls the command name with args (nil: {}) and decodes its result
// into result (nil: the result is not read). It waits for the connection
// while the client is connecting or reconnecting, and for a slot while
// MaxInFlight calls are in flight, bounded by ctx. Its errors: ctx's
// error when ctx ends first (a call in flight is then cancelled on the
// server with {"cancel": id}); an *Error with the server's code; an
// *Error of code "disconnected" when the connection was lost while the
// call was in flight (Retryable) or the client is closed (matching
// ErrClosed); an error from encoding args or decoding the result.
func (c *Client) Call(ctx context.Context, name string, args JSONAppender, result JSONDecoder) error {
	return c.call(ctx, name, args, result, false)
}

// CallIdempotent is Call for a command that may run twice: when the
// connection is lost while the call is in flight it is sent again on the
// next connection instead of failing. Generated clients use it for
// @idempotent commands.
func (c *Client) CallIdempotent(ctx context.Context, name string, args JSONAppender, result JSONDecoder) error {
	return c.call(ctx, name, args, result, true)
}

// pending is a call in flight on a connection.
type pending struct {
	ch chan reply // buffered: one reply
}

type reply struct {
	result []byte
	err    error
	lost   bool // the connection was lost: an idempotent call goes again
}

func (c *Client) call(ctx context.Context, name string, args JSONAppender, result JSONDecoder, idempotent bool) error {
	// The frame after its id, encoded once:
	// `,"call":"name","args":{...},"trace":{...}}`.
	var traceparent, tracestate string
	if c.o.Trace != nil {
		traceparent, tracestate = c.o.Trace(ctx)
	}
	body := make([]byte, 0, 64+len(traceparent)+len(tracestate))
	body = append(body, `,"call":`...)
	body = wire.AppendString(body, name)
	body = append(body, `,"args":`...)
	if args == nil {
		body = append(body, "{}"...)
	} else {
		var err error
		if body, err = args.AppendJSON(body); err != nil {
			return fmt.Errorf("encode %s args: %w", name, err)
		}
	}
	if traceparent != "" {
		body = appendTrace(body, traceparent, tracestate)
	}
	body = append(body, '}')

	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.done:
		return c.closedErr()
	}
	defer func() { <-c.slots }()

	for {
		cn, id, p, err := c.send(ctx, body)
		if err != nil {
			return err
		}
		select {
		case r := <-p.ch:
			if r.lost && idempotent {
				continue // sent again once the client is open again
			}
			if r.err != nil {
				return r.err
			}
			if result == nil {
				return nil
			}
			var d wire.Decoder
			d.Reset(r.result, "result")
			if err := result.DecodeJSON(&d); err != nil {
				return fmt.Errorf("decode %s result: %w", name, err)
			}
			return nil
		case <-ctx.Done():
			c.mu.Lock()
			_, inFlight := cn.calls[id]
			delete(cn.calls, id)
			c.mu.Unlock()
			if inFlight {
				_ = cn.write(append(strconv.AppendInt([]byte(`{"cancel":`), id, 10), '}'))
			}
			return ctx.Err()
		}
	}
}

// send waits until the client is open and sends the call, registered in
// flight on the connection.
func (c *Client) send(ctx context.Context, body []byte) (*conn, int64, *pending, error) {
	c.mu.Lock()
	for c.state != StateOpen || c.cur == nil {
		if c.ended || !c.started {
			err := c.closedErrLocked()
			c.mu.Unlock()
			return nil, 0, nil, err
		}
		open := c.open
		c.mu.Unlock()
		select {
		case <-open:
		case <-ctx.Done():
			return nil, 0, nil, ctx.Err()
		case <-c.done:
		}
		c.mu.Lock()
	}
	if err := ctx.Err(); err != nil {
		c.mu.Unlock()
		return nil, 0, nil, err
	}
	cn := c.cur
	c.lastID++
	id := c.lastID
	p := &pending{ch: make(chan reply, 1)}
	cn.calls[id] = p
	c.mu.Unlock()
	var head [32]byte
	if err := cn.write(strconv.AppendInt(append(head[:0], `{"id":`...), id, 10), body); err != nil {
		// The connection is broken: drop it, and the read loop fails
		// the call with the others in flight.
		_ = cn.nc.Close()
	}
	return cn, id, p, nil
}

// closedErr is the error of a call on a closed client.
func (c *Client) closedErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closedErrLocked()
}

// closedErrLocked is closedErr with c.mu held.
func (c *Client) closedErrLocked() error {
	var err error = c.err
	if c.err == nil {
		err = &ClosedError{Code: 1000, Reason: "not started: call Connect first", Local: true}
	}
	return &Error{Code: CodeDisconnected, Message: err.Error(), Err: err}
}

// appendTrace appends the call envelope's trace member (docs/protocol.md),
// its tracestate left out when empty.
func appendTrace(dst []byte, traceparent, tracestate string) []byte {
	dst = append(dst, `,"trace":{"traceparent":`...)
	dst = wire.AppendString(dst, traceparent)
	if tracestate != "" {
		dst = append(dst, `,"tracestate":`...)
		dst = wire.AppendString(dst, tracestate)
	}
	return append(dst, '}')
}
