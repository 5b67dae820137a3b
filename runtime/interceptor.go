package runtime

import (
	"context"
	"errors"
)

// Interceptor wraps every call of a Router, for what each handler would
// otherwise do by hand: authorization, logging, rate limits, metrics,
// tracing. It is given the next MethodFunc of the chain and returns the
// one to run instead:
//
//	func(next runtime.MethodFunc) runtime.MethodFunc {
//		return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
//			start := time.Now()
//			out, err := next(ctx, call, dst)
//			log(call.Name, call.Session.ID(), runtime.ErrorCode(err), time.Since(start))
//			return out, err
//		}
//	}
//
// The function an Interceptor returns sees, per call:
//
//   - the command's wire name (call.Name), the connection (call.Conn) and
//     the session (call.Session);
//   - the arguments as raw JSON (call.Args), and the envelope's optional
//     trace context (call.Trace, docs/protocol.md), both valid only until
//     the function returns, like the Call itself: copy what you keep;
//   - the result: on success, the JSON the chain appended to dst
//     (out[len(dst):]; nothing appended is the result {}); or the error,
//     whose wire code ErrorCode tells. A handler's panic reaches the
//     interceptors as a *PanicError (code internal), a call the client
//     canceled as the error canceled;
//   - the timing: the time next takes is the call's own (decoding the
//     arguments, guards, handler, encoding the result), without the wait
//     for a worker and the reply's write.
//
// To refuse a call, return an error without calling next: a WireError
// (such as *Error) reaches the client as a typed error reply with its
// code and message, unchecked against the command's declared errors as
// guards' errors are, and the connection stays open; any other error is
// answered "internal" and reported to Hooks.OnError. A panic in an
// interceptor is handled as a handler's: the reply is "internal", the
// panic is reported to Hooks.OnError, the connection and the server go on.
//
// ctx is the call's context (canceled by the client's cancel, the
// connection's end and the call's return); an interceptor may hand next
// a context derived from it (context.WithValue, a span), and
// CloseAfterReply still works through it. The function may run
// concurrently for calls of one connection and of many: it must be safe
// for concurrent use.
//
// Interceptors see the calls that reach a registered command. Those the
// Router answers itself never reach them: an envelope it cannot use
// (bad_request before the command is known), an unknown command, an id
// already in flight, a call over MaxCallsInFlight (overloaded).
//
// An Interceptor itself runs when the chain is built (Router.Use,
// Router.Handle), once per command, not per call: a chain costs no
// allocation per call unless its functions allocate.
type Interceptor func(next MethodFunc) MethodFunc

// Use adds interceptors to every command of the Router, those already
// registered and those registered later. They run in the order given,
// across calls of Use: the first one given is the outermost, which sees
// the call first and its outcome last. Call Use before serving, like
// Handle; a Router without interceptors runs its methods directly, at no
// cost.
//
// Interceptors belong to the Router rather than to Options because calls
// are the Router's: a Server whose Handler is not a Router has none, and
// a Router serves the same calls under any Server.
func (r *Router) Use(interceptors ...Interceptor) {
	r.interceptors = append(r.interceptors, interceptors...)
	for _, m := range r.methods {
		m.run = r.chain(m.fn)
	}
}

// chain returns fn wrapped in the Router's interceptors, fn itself when
// there are none.
func (r *Router) chain(fn MethodFunc) MethodFunc {
	if len(r.interceptors) == 0 {
		return fn
	}
	run := settled(fn)
	for i := len(r.interceptors) - 1; i >= 0; i-- {
		run = r.interceptors[i](run)
	}
	return run
}

// settled wraps the innermost method of a chain so that interceptors see
// its outcome as the client will: a panic as a *PanicError, the
// context.Canceled of a canceled call as the error canceled. Without
// interceptors, callState.Run does both.
func settled(fn MethodFunc) MethodFunc {
	return func(ctx context.Context, call *Call, dst []byte) (out []byte, err error) {
		defer func() {
			if p := recover(); p != nil {
				out, err = dst, &PanicError{Value: p}
			}
		}()
		out, err = fn(ctx, call, dst)
		if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
			err = errCanceled
		}
		return out, err
	}
}

// errCanceled is the reply to a call the client canceled (or whose
// connection ended) that returned the context's error.
var errCanceled = &Error{CodeCanceled, "call canceled"}

// ErrorCode returns the code of the error reply err becomes
// (docs/protocol.md): "" for nil, a WireError's own code, and "internal"
// for any other error (whose text the client does not see). For the
// errors a method returns, and those an interceptor's next returns. It
// allocates nothing for an error that is a WireError itself (not wrapped).
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	if we, ok := err.(WireError); ok { // the common case, without errors.As's allocation
		code, _ := we.WireError()
		return code
	}
	var we WireError
	if errors.As(err, &we) {
		code, _ := we.WireError()
		return code
	}
	return CodeInternal
}
