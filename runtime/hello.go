package runtime

import "errors"

// CloseHelloRefused is the close code of a connection whose hello
// Options.AuthorizeHello refused with an error that is not a *HelloError:
// the client may come back with other params (a refreshed token). In
// 4100–4999, which the TypeScript client retries after its backoff delay,
// calling its params function again.
const CloseHelloRefused uint16 = 4401

// HelloError refuses a hello (Options.AuthorizeHello) with a close code and
// reason the client sees. Codes in 4000–4099 tell the TypeScript client
// not to come back (banned, logged out); 4100–4999 let it retry with
// fresh params after its backoff delay.
type HelloError struct {
	// Code is the close code, in 4000–4999; any other value means
	// CloseHelloRefused.
	Code uint16
	// Reason is the close reason, shown to the client: at most 123 bytes
	// of it are sent (RFC 6455 §5.5).
	Reason string
}

func (e *HelloError) Error() string { return "hello refused: " + e.Reason }

// authorizeHello runs Options.AuthorizeHello, if set, on a hello's params
// and the connection's session. When it refuses, the connection is closed
// with the error's code (a *HelloError's, else CloseHelloRefused with the
// reason "unauthorized": the error's text is not shown) and
// authorizeHello returns false.
func (srv *Server) authorizeHello(c *Conn, st *connState, params []byte) bool {
	fn := srv.cfg.AuthorizeHello
	if fn == nil {
		return true
	}
	err := fn(c, st.session.Load(), params)
	if err == nil {
		return true
	}
	code, reason := CloseHelloRefused, "unauthorized"
	var he *HelloError
	if errors.As(err, &he) {
		reason = he.Reason
		if he.Code >= 4000 && he.Code <= 4999 {
			code = he.Code
		}
	}
	_ = c.Close(code, reason)
	return false
}
