package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// Typed methods: what serving a command does besides calling its handler
// is the same for every schema, so it lives here and a generated Register
// only names, per command, the handler method, the codes the command
// declares and its guards:
//
//	r.Handle("login", runtime.Method(h.Login, runtime.Command{Errors: []string{"name_taken"}}))
//
// A call then decodes its arguments (invalid ones are answered with
// bad_request naming the field), runs the command's guards in order, calls
// the handler, checks its error against the declared codes and appends the
// result's JSON. The four adapters differ only in the handler's shape:
// with or without arguments, with or without a result.
//
// Handlers take their arguments and return their result by value, and
// the adapters decode and encode them in a pooled slot of their own (one
// pool per command), so that a call allocates nothing for them: what it
// allocates is what the arguments hold (strings, slices, maps) and what
// the handler does. The decoder is the call's own, pooled with it. A slot
// is zeroed before it goes back to its pool, so that it keeps nothing of
// a call alive; the handler's copies are its own and it may keep them.

// Decodable is the constraint of a command's argument type A: *A reads
// itself from a JSON object, as generated DecodeJSON methods do.
type Decodable[A any] interface {
	*A
	DecodeJSON(d *wire.Decoder) error
}

// Appendable is the constraint of a command's result type R: *R appends
// its JSON object, as generated AppendJSON methods do.
type Appendable[R any] interface {
	*R
	JSONAppender
}

// JSONAppender is a value that appends its JSON to dst: the generated
// messages, results and events (AppendJSON). It fails for a value that has
// no JSON, such as a NaN float or an invalid enum value.
type JSONAppender interface {
	AppendJSON(dst []byte) ([]byte, error)
}

// Command is what the adapters need to know of a command besides its
// handler. The zero value declares no errors and has no guards.
type Command struct {
	// Errors are the codes of the errors the command declares, its
	// guards' included. A handler's WireError with any other code that is
	// not one of the runtime's own (bad_request, unimplemented, internal,
	// canceled, overloaded, unavailable) is a bug in the handler: it is answered as
	// "internal", without its text, and reported to Hooks.OnError.
	Errors []string
	// Guards run in order after the arguments are decoded and before the
	// handler; the first to return an error refuses the call with it,
	// unchecked.
	Guards []Guard
}

// Guard allows a call (nil) or refuses it with the error to answer.
type Guard func(ctx context.Context, s *Session) error

// Method returns the MethodFunc of a command whose handler takes arguments
// and returns a result.
func Method[A, R any, PA Decodable[A], PR Appendable[R]](fn func(ctx context.Context, s *Session, args A) (R, error), c Command) MethodFunc {
	var slots slotPool[methodSlot[A, R]]
	return func(ctx context.Context, call *Call, dst []byte) ([]byte, error) {
		m := slots.get()
		defer slots.put(m)
		if err := decodeArgs[A, PA](call, &m.args); err != nil {
			return dst, err
		}
		if err := c.guard(ctx, call.Session); err != nil {
			return dst, err
		}
		var err error
		m.res, err = fn(ctx, call.Session, m.args)
		return appendResult[R, PR](&c, dst, call, &m.res, err)
	}
}

// MethodNoResult is Method for a handler that returns no result: the
// reply's result is {}.
func MethodNoResult[A any, PA Decodable[A]](fn func(ctx context.Context, s *Session, args A) error, c Command) MethodFunc {
	var slots slotPool[A]
	return func(ctx context.Context, call *Call, dst []byte) ([]byte, error) {
		args := slots.get()
		defer slots.put(args)
		if err := decodeArgs[A, PA](call, args); err != nil {
			return dst, err
		}
		if err := c.guard(ctx, call.Session); err != nil {
			return dst, err
		}
		return c.appendEmpty(dst, call, fn(ctx, call.Session, *args))
	}
}

// MethodNoArgs is Method for a handler that takes no arguments: the
// call's args are not read.
func MethodNoArgs[R any, PR Appendable[R]](fn func(ctx context.Context, s *Session) (R, error), c Command) MethodFunc {
	var slots slotPool[R]
	return func(ctx context.Context, call *Call, dst []byte) ([]byte, error) {
		if err := c.guard(ctx, call.Session); err != nil {
			return dst, err
		}
		res := slots.get()
		defer slots.put(res)
		var err error
		*res, err = fn(ctx, call.Session)
		return appendResult[R, PR](&c, dst, call, res, err)
	}
}

// MethodNoArgsNoResult is Method for a handler that takes no arguments
// and returns no result.
func MethodNoArgsNoResult(fn func(ctx context.Context, s *Session) error, c Command) MethodFunc {
	return func(ctx context.Context, call *Call, dst []byte) ([]byte, error) {
		if err := c.guard(ctx, call.Session); err != nil {
			return dst, err
		}
		return c.appendEmpty(dst, call, fn(ctx, call.Session))
	}
}

// methodSlot holds a call's arguments and result while Method runs it.
type methodSlot[A, R any] struct {
	args A
	res  R
}

// slotPool reuses the values a command's adapter decodes into and encodes
// from: a value reached through a type parameter's method escapes, so a
// local would cost each call an allocation. Safe for concurrent use.
type slotPool[T any] struct{ p sync.Pool }

func (p *slotPool[T]) get() *T {
	if v, ok := p.p.Get().(*T); ok {
		return v
	}
	return new(T)
}

// put zeroes v, so that the pool keeps nothing of the call alive, and
// returns it to the pool. The adapters defer it: a handler that panics
// gives its slot back too.
func (p *slotPool[T]) put(v *T) {
	var zero T
	*v = zero
	p.p.Put(v)
}

// decodeArgs reads the call's arguments into args with the call's
// decoder; an error is a bad_request naming the field.
func decodeArgs[A any, PA Decodable[A]](call *Call, args *A) error {
	d := call.decoder()
	d.Reset(call.Args, "args")
	if err := PA(args).DecodeJSON(d); err != nil {
		return &Error{Code: CodeBadRequest, Message: err.Error()}
	}
	return nil
}

// guard runs the guards in order; the first error refuses the call.
func (c *Command) guard(ctx context.Context, s *Session) error {
	for _, g := range c.Guards {
		if err := g(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// appendResult appends the JSON of a handler's result res to dst, or
// returns the handler's error, checked against c.
func appendResult[R any, PR Appendable[R]](c *Command, dst []byte, call *Call, res *R, err error) ([]byte, error) {
	if err != nil {
		return dst, c.check(call.Name, err)
	}
	if dst, err = PR(res).AppendJSON(dst); err != nil {
		return dst, fmt.Errorf("encode %s result: %w", call.Name, err)
	}
	return dst, nil
}

// appendEmpty appends the empty result {} of a handler that returned no
// error, or returns its checked error.
func (c *Command) appendEmpty(dst []byte, call *Call, err error) ([]byte, error) {
	if err != nil {
		return dst, c.check(call.Name, err)
	}
	return append(dst, "{}"...), nil
}

// check returns err when the client may see it: an error without a wire
// code (answered "internal" and reported), one of the runtime's own codes,
// or one of the codes the command declares. Any other wire error becomes
// an *undeclaredError, answered "internal" and reported.
func (c *Command) check(command string, err error) error {
	var we WireError
	if !errors.As(err, &we) {
		return err
	}
	code, _ := we.WireError()
	switch code {
	case CodeBadRequest, CodeUnimplemented, CodeInternal, CodeCanceled, CodeOverloaded, CodeUnavailable:
		return err
	}
	if slices.Contains(c.Errors, code) {
		return err
	}
	return &undeclaredError{command: command, code: code, err: err}
}

// undeclaredError is a wire error that its command does not declare. It
// does not unwrap, so that the reply is "internal".
type undeclaredError struct {
	command, code string
	err           error
}

func (e *undeclaredError) Error() string {
	return fmt.Sprintf("command %s returned the error code %q, which it does not declare: %v",
		e.command, e.code, e.err)
}
