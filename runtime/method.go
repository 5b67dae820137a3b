package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
// with or without arguments, with or without a result. None allocates per
// call beyond the arguments themselves, which the handler receives by
// pointer: the decoder is the call's own, pooled with it.

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
// and returns a result. A nil result without an error is a bug in the
// handler, answered as "internal" and reported.
func Method[A, R any, PA Decodable[A], PR Appendable[R]](fn func(ctx context.Context, s *Session, args *A) (*R, error), c Command) MethodFunc {
	return func(ctx context.Context, call *Call, dst []byte) ([]byte, error) {
		args, err := decodeArgs[A, PA](call)
		if err != nil {
			return dst, err
		}
		if err := c.guard(ctx, call.Session); err != nil {
			return dst, err
		}
		res, err := fn(ctx, call.Session, args)
		return appendResult[R, PR](&c, dst, call, res, err)
	}
}

// MethodNoResult is Method for a handler that returns no result: the
// reply's result is {}.
func MethodNoResult[A any, PA Decodable[A]](fn func(ctx context.Context, s *Session, args *A) error, c Command) MethodFunc {
	return func(ctx context.Context, call *Call, dst []byte) ([]byte, error) {
		args, err := decodeArgs[A, PA](call)
		if err != nil {
			return dst, err
		}
		if err := c.guard(ctx, call.Session); err != nil {
			return dst, err
		}
		return c.appendEmpty(dst, call, fn(ctx, call.Session, args))
	}
}

// MethodNoArgs is Method for a handler that takes no arguments: the
// call's args are not read.
func MethodNoArgs[R any, PR Appendable[R]](fn func(ctx context.Context, s *Session) (*R, error), c Command) MethodFunc {
	return func(ctx context.Context, call *Call, dst []byte) ([]byte, error) {
		if err := c.guard(ctx, call.Session); err != nil {
			return dst, err
		}
		res, err := fn(ctx, call.Session)
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

// decodeArgs reads the call's arguments into a new A with the call's
// decoder; an error is a bad_request naming the field.
func decodeArgs[A any, PA Decodable[A]](call *Call) (*A, error) {
	args := new(A) // the handler keeps it as long as it likes
	d := call.decoder()
	d.Reset(call.Args, "args")
	if err := PA(args).DecodeJSON(d); err != nil {
		return nil, &Error{Code: CodeBadRequest, Message: err.Error()}
	}
	return args, nil
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
	switch {
	case err != nil:
		return dst, c.check(call.Name, err)
	case res == nil:
		return dst, fmt.Errorf("command %s: the handler returned neither a result nor an error", call.Name)
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
