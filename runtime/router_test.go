package runtime_test

// Black-box tests of the RPC layer (router.go, call.go, envelope.go) over real TCP: a Router with
// hand-written MethodFuncs, driven by the byte-level client of
// helpers_test.go, checking the exact JSON of every reply and event
// against docs/protocol.md.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// notFound is an app error type with its own wire code, as generated
// typed errors are.
type notFound struct{ what string }

func (e notFound) Error() string                 { return e.what + " not found" }
func (e notFound) WireError() (code, msg string) { return "not_found", e.Error() }

var errSecret = errors.New("connect db: password hunter2 rejected")

// rpcMethods is a Router with test methods and what they observed.
type rpcMethods struct {
	router  *runtime.Router
	started chan string // args of each "wait" call when it starts
	ended   chan error  // ctx.Err() of each "wait" call when it ends
	calls   chan *runtime.Call
}

func newRPCMethods() *rpcMethods {
	m := &rpcMethods{
		router:  runtime.NewRouter(),
		started: make(chan string, 200),
		ended:   make(chan error, 200),
		calls:   make(chan *runtime.Call, 200),
	}
	r := m.router
	r.Handle("echo", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return append(dst, call.Args...), nil
	})
	r.Handle("nothing", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return dst, nil
	})
	r.Handle("record", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		// A Call is valid only until the method returns: keep a copy.
		kept := *call
		kept.Args = bytes.Clone(call.Args)
		kept.Trace = bytes.Clone(call.Trace)
		m.calls <- &kept
		return dst, nil
	})
	wait := func(wrap bool) runtime.MethodFunc {
		return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
			m.started <- string(call.Args)
			<-ctx.Done()
			m.ended <- ctx.Err()
			if wrap {
				return nil, fmt.Errorf("wait for %s: %w", call.Args, ctx.Err())
			}
			return nil, ctx.Err()
		}
	}
	r.Handle("waitChild", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		// Contexts derived from the method's, and AfterFunc, see its cancel.
		child, cancel := context.WithTimeout(ctx, time.Hour)
		defer cancel()
		after := make(chan struct{})
		context.AfterFunc(ctx, func() { close(after) })
		m.started <- string(call.Args)
		<-child.Done()
		<-after
		m.ended <- child.Err()
		return nil, child.Err()
	})
	r.Handle("wait", wait(false))
	r.Handle("waitWrapped", wait(true))
	r.Handle("panic", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		panic("boom")
	})
	r.Handle("fail", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return nil, &runtime.Error{Code: "name_taken", Message: `ada is "online" already`}
	})
	r.Handle("failWrapped", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return nil, fmt.Errorf("login: %w", &runtime.Error{Code: "forbidden", Message: "no"})
	})
	r.Handle("failTyped", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return []byte(`{"ignored":true}`), notFound{"user ada"}
	})
	r.Handle("plain", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		return nil, fmt.Errorf("load user: %w", errSecret)
	})
	r.Handle("resume", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		var args struct{ Token string }
		if err := json.Unmarshal(call.Args, &args); err != nil {
			return nil, &runtime.Error{Code: runtime.CodeBadRequest, Message: err.Error()}
		}
		if _, err := runtime.Resume(call.Conn, args.Token); err != nil {
			return nil, &runtime.Error{Code: "session_not_found", Message: err.Error()}
		}
		return dst, nil
	})
	r.Handle("bye", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		// From a goroutine of the handler's, as the doc allows.
		done := make(chan bool)
		go func() { done <- runtime.CloseAfterReply(ctx, runtime.CloseNormal, "bye") }()
		if !<-done {
			return nil, errors.New("CloseAfterReply refused a call's context")
		}
		return append(dst, `{"ok":true}`...), nil
	})
	r.Handle("push", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		for i := 1; i <= 3; i++ {
			if err := call.Session.Push("said", fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
				return nil, err
			}
		}
		if err := call.Session.Push("empty", nil); err != nil {
			return nil, err
		}
		return dst, nil
	})
	return m
}

// startRPC runs a server with m's router and hooks, and dials one client.
func startRPC(t *testing.T, m *rpcMethods, o runtime.Options) (*env, *client) {
	t.Helper()
	o.Handler = m.router
	e := start(t, viaListener, o)
	c := dial(t, e.addr)
	return e, c
}

// reply reads the next data frame, which must be text.
func (c *client) reply() string {
	c.T.Helper()
	f := c.NextData()
	if f.H.OpCode != ws.OpText {
		c.T.Fatalf("got %v frame %q, want text", f.H.OpCode, f.Payload)
	}
	return string(f.Payload)
}

// expectReply reads the next data frame and checks it is want exactly.
func (c *client) expectReply(want string) {
	c.T.Helper()
	if got := c.reply(); got != want {
		c.T.Fatalf("got  %s\nwant %s", got, want)
	}
}

// replies reads n text frames, in whatever order they come, sorted.
func (c *client) replies(n int) []string {
	c.T.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = c.reply()
	}
	slices.Sort(out)
	return out
}

// checkUsable makes an echo call and checks its answer.
func (c *client) checkUsable(id int) {
	c.T.Helper()
	c.Text(fmt.Sprintf(`{"id":%d,"call":"echo","args":{"still":"here"}}`, id))
	c.expectReply(fmt.Sprintf(`{"id":%d,"result":{"still":"here"}}`, id))
}

// noErrors fails if OnError was called.
func noErrors(t *testing.T, e *env) {
	t.Helper()
	select {
	case ce := <-e.rec.Errs:
		t.Errorf("unexpected OnError: %v", ce.Err)
	default:
	}
}

func TestRPCCallResult(t *testing.T) {
	forModes(t, func(t *testing.T, mode readMode) {
		m := newRPCMethods()
		e, c := startRPC(t, m, runtime.Options{DisablePoller: mode.disablePoller})
		// args reach the method as they were sent, spacing and all.
		c.Text(`{"id":7,"call":"echo","args":{"name": "ada", "n":[1, 2.5, "\u00e9"]}}`)
		c.expectReply(`{"id":7,"result":{"name": "ada", "n":[1, 2.5, "\u00e9"]}}`)
		// Members in any order, with whitespace around the envelope.
		c.Text(" { \"args\" : {\"a\":1} , \"call\" : \"echo\" , \"id\" : 8 } \n")
		c.expectReply(`{"id":8,"result":{"a":1}}`)
		noErrors(t, e)
	})
}

func TestRPCResultDefaultsToEmptyObject(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"id":1,"call":"nothing","args":{"x":1}}`)
	c.expectReply(`{"id":1,"result":{}}`)
}

func TestRPCMissingArgsIsEmptyObject(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"id":1,"call":"echo"}`)
	c.expectReply(`{"id":1,"result":{}}`)
	c.Text(`{"id":2,"call":"echo","args":{}}`)
	c.expectReply(`{"id":2,"result":{}}`)
}

// TestRPCCallSeesConnSessionAndName: the Call a method gets.
func TestRPCCallSeesConnSessionAndName(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	conn := e.rec.NextOpen(t)
	c.Text(`{"id":1,"call":"record","args":{"k":"v"}}`)
	c.expectReply(`{"id":1,"result":{}}`)
	call := wstest.Recv(t, m.calls, "the call")
	if call.Conn != conn || call.Session != runtime.SessionOf(conn) || call.Name != "record" || string(call.Args) != `{"k":"v"}` {
		t.Errorf("call %+v (args %s); conn %p session %p", call, call.Args, conn, runtime.SessionOf(conn))
	}
	c.Text(`{"id":2,"call":"record"}`)
	c.expectReply(`{"id":2,"result":{}}`)
	if call := wstest.Recv(t, m.calls, "the call"); string(call.Args) != "{}" {
		t.Errorf("args %q, want {}", call.Args)
	}
}

func TestRPCUnknownCommand(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"id":3,"call":"nope","args":{}}`)
	c.expectReply(`{"id":3,"error":{"code":"unknown_command","message":"unknown command \"nope\""}}`)
	c.Text(`{"id":4,"call":"<\"x\">"}`)
	c.expectReply(`{"id":4,"error":{"code":"unknown_command","message":"unknown command \"\u003c\\\"x\\\"\u003e\""}}`)
	c.Text(`{"id":5,"call":""}`)
	c.expectReply(`{"id":5,"error":{"code":"unknown_command","message":"unknown command \"\""}}`)
	c.checkUsable(6)
	noErrors(t, e)
}

func TestRPCArgsNotAnObject(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	for i, tt := range []struct{ args, got string }{
		{`[1]`, "array"}, {`"x"`, "string"}, {`null`, "null"}, {`1`, "number"}, {`true`, "boolean"},
	} {
		c.Text(fmt.Sprintf(`{"id":%d,"call":"echo","args":%s}`, i, tt.args))
		c.expectReply(fmt.Sprintf(`{"id":%d,"error":{"code":"bad_request","message":"args: expected object, got %s"}}`, i, tt.got))
	}
	// Invalid JSON inside args, after the id: answered, not closed.
	c.Text(`{"id":10,"call":"echo","args":{"a":"\ud800"}}`)
	c.expectReply(`{"id":10,"error":{"code":"bad_request","message":"args.a: unpaired surrogate in \\u escape"}}`)
	c.checkUsable(11)
	noErrors(t, e)
}

// TestRPCArgsErrorBeforeID: the protocol says invalid arguments get a
// bad_request reply and the connection stays open, whatever the order of
// the members.
func TestRPCArgsErrorBeforeID(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"call":"echo","args":1,"id":5}`)
	f := c.MustFrame()
	if f.H.OpCode == ws.OpClose {
		code, reason := wstest.ParseClose(f.Payload)
		t.Fatalf("envelope.go decodeEnvelope stops at the first bad member, so an args error before \"id\" leaves hasID false and ServeMessage closes the connection (%d %q) instead of answering bad_request", code, reason)
	}
	if want := `{"id":5,"error":{"code":"bad_request","message":"args: expected object, got number"}}`; string(f.Payload) != want {
		t.Fatalf("got %s, want %s", f.Payload, want)
	}
}

func TestRPCEnvelopeWithoutCall(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	for i, env := range []string{`{"id":%d}`, `{"id":%d,"args":{}}`} {
		c.Text(fmt.Sprintf(env, i))
		c.expectReply(fmt.Sprintf(`{"id":%d,"error":{"code":"bad_request","message":"call: required field missing"}}`, i))
	}
	// With a cancel member and no call it is a cancel, id or not: no reply.
	c.Text(`{"id":5,"cancel":3,"args":{}}`)
	c.Text(`{"id":9,"call":null}`)
	c.expectReply(`{"id":9,"error":{"code":"bad_request","message":"call: expected string, got null"}}`)
	c.Text(`{"id":10,"call":7}`)
	c.expectReply(`{"id":10,"error":{"code":"bad_request","message":"call: expected string, got number"}}`)
	c.checkUsable(11)
	noErrors(t, e)
}

func TestRPCNotJSONCloses1007(t *testing.T) {
	for _, tt := range []struct{ msg, reason string }{
		{"hello", "undecodable envelope: expected object, got invalid JSON"},
		{"", "undecodable envelope: expected object, got end of input"},
		{"[1]", "undecodable envelope: expected object, got array"},
		{`"id"`, "undecodable envelope: expected object, got string"},
		{`{"call":"echo"`, "undecodable envelope: expected ',' or '}', got end of input"},
		{`{"call":"echo"} {}`, "undecodable envelope: unexpected data after the value at offset 16"},
		{`{"args":{"a":},"id":1}`, "undecodable envelope: args.a: expected a JSON value, got invalid JSON"},
	} {
		t.Run(tt.msg, func(t *testing.T) {
			m := newRPCMethods()
			e, c := startRPC(t, m, runtime.Options{})
			c.Text(tt.msg)
			if reason := c.ExpectCloseCode(runtime.CloseInvalidPayload); reason != tt.reason {
				t.Errorf("reason %q, want %q", reason, tt.reason)
			}
			c.SendClose(runtime.CloseInvalidPayload, "")
			if ce := e.rec.NextClose(t); ce.Err.Code != runtime.CloseInvalidPayload {
				t.Errorf("OnClose %v", ce.Err)
			}
		})
	}
}

// TestRPCSyntaxErrorAfterIDCloses1007: a text frame that is not a JSON
// object closes the connection with 1007 (docs/protocol.md), even when an
// id could be read before the syntax error.
func TestRPCSyntaxErrorAfterIDCloses1007(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"id":1,"call":"echo"`)
	f := c.MustFrame()
	if f.H.OpCode == ws.OpText {
		t.Fatalf("router.go ServeMessage answers a text frame that is not JSON with bad_request when its id came before the syntax error (%s); docs/protocol.md says 1007", f.Payload)
	}
	if code, reason := wstest.ParseClose(f.Payload); f.H.OpCode != ws.OpClose || code != runtime.CloseInvalidPayload {
		t.Errorf("got %v %d %q, want close 1007", f.H.OpCode, code, reason)
	}
	c.SendClose(runtime.CloseInvalidPayload, "")
}

func TestRPCBinaryCloses1003(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	c.WriteFrame(ws.OpBinary, []byte(`{"id":1,"call":"echo"}`))
	if reason := c.ExpectCloseCode(runtime.CloseUnsupportedData); reason != "duplex.v1 speaks JSON text frames only" {
		t.Errorf("reason %q", reason)
	}
	c.SendClose(runtime.CloseUnsupportedData, "")
}

func TestRPCUnknownMembersIgnored(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"v":2,"id":1,"meta":{"trace":[1,{"x":null}],"s":"\u00e9"},"call":"echo","args":{"a":1},"event":"x","seq":3}`)
	c.expectReply(`{"id":1,"result":{"a":1}}`)
	// A cancel with unknown members is still a cancel: nothing answers it.
	c.Text(`{"cancel":99,"why":"bored"}`)
	c.checkUsable(2)
	noErrors(t, e)
}

func TestRPCIDRange(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	for _, id := range []string{"0", "-1", "9007199254740991", "-9007199254740991", "-0"} {
		c.Text(`{"id":` + id + `,"call":"echo","args":{"x":1}}`)
		want := id
		if id == "-0" {
			want = "0"
		}
		c.expectReply(`{"id":` + want + `,"result":{"x":1}}`)
	}
	c.checkUsable(1)
	noErrors(t, e)
	// Beyond 2^53-1, fractions and strings are refused with a null id,
	// the method does not run, and the connection stays open.
	for _, tt := range []struct{ id, msg string }{
		{"9007199254740992", "id: 9007199254740992 is not an integer in [-9007199254740991, 9007199254740991]"},
		{"-9007199254740992", "id: -9007199254740992 is not an integer in [-9007199254740991, 9007199254740991]"},
		{"18446744073709551616", "id: 18446744073709551616 is not an integer in [-9007199254740991, 9007199254740991]"},
		{"1.5", "id: 1.5 is not an integer in [-9007199254740991, 9007199254740991]"},
		{"1e2", "id: 1e2 is not an integer in [-9007199254740991, 9007199254740991]"},
		{`"7"`, "id: expected number, got string"},
		{"null", "id: expected number, got null"},
	} {
		c.Text(`{"id":` + tt.id + `,"call":"record"}`)
		c.expectReply(`{"id":null,"error":{"code":"bad_request","message":"` + tt.msg + `"}}`)
	}
	c.checkUsable(2)
	select {
	case call := <-m.calls:
		t.Errorf("a call with a bad id ran: %+v", call)
	default:
	}
}

// TestRPCNoUsableIDNotAnsweredAsID0: an envelope without an id, or with
// one that cannot be read, is answered with a null id, never as id 0: a
// reply to id 0 would settle the client's call 0 if it has one in flight.
func TestRPCNoUsableIDNotAnsweredAsID0(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"id":0,"call":"wait"}`)
	wstest.Recv(t, m.started, "call 0 to start")
	for _, msg := range []string{`{"call":"echo"}`, `{}`, `{"args":{}}`, `{"id":9007199254740992,"call":"echo"}`, `{"id":"1","call":"echo"}`, `{"id":1.5,"call":"echo"}`, `{"cancel":"0"}`, `{"ping":"0"}`} {
		c.Text(msg)
		if got := c.reply(); !strings.HasPrefix(got, `{"id":null,"error":{"code":"bad_request",`) {
			t.Errorf("%s: got %s, want a bad_request with a null id", msg, got)
		}
	}
	c.checkUsable(1)
	select {
	case err := <-m.ended:
		t.Fatalf("call 0 ended: %v", err)
	default:
	}
	c.Text(`{"cancel":0}`)
	c.expectReply(`{"id":0,"error":{"code":"canceled","message":"call canceled"}}`)
}

func TestRPCDuplicateIDInFlight(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"id":9,"call":"wait","args":{"n":1}}`)
	if got := wstest.Recv(t, m.started, "the call to start"); got != `{"n":1}` {
		t.Fatalf("started with %s", got)
	}
	c.Text(`{"id":9,"call":"echo","args":{"n":2}}`)
	c.expectReply(`{"id":9,"error":{"code":"bad_request","message":"id 9 is already in use by a call in flight"}}`)
	// Another id is fine meanwhile, and the first call is undisturbed.
	c.checkUsable(10)
	select {
	case err := <-m.ended:
		t.Fatalf("the first call ended: %v", err)
	default:
	}
	c.Text(`{"cancel":9}`)
	c.expectReply(`{"id":9,"error":{"code":"canceled","message":"call canceled"}}`)
	noErrors(t, e)
}

func TestRPCCancel(t *testing.T) {
	for _, method := range []string{"wait", "waitWrapped", "waitChild"} {
		t.Run(method, func(t *testing.T) {
			m := newRPCMethods()
			e, c := startRPC(t, m, runtime.Options{})
			c.Text(`{"id":10,"call":"` + method + `"}`)
			wstest.Recv(t, m.started, "the call to start")
			// Cancelling calls that are not running does nothing.
			c.Text(`{"cancel":11}`)
			c.Text(`{"cancel":-10}`)
			c.checkUsable(12)
			select {
			case err := <-m.ended:
				t.Fatalf("the call ended: %v", err)
			default:
			}
			c.Text(`{"cancel":10}`)
			if err := wstest.Recv(t, m.ended, "the call's context to end"); !errors.Is(err, context.Canceled) {
				t.Errorf("ctx.Err() = %v", err)
			}
			c.expectReply(`{"id":10,"error":{"code":"canceled","message":"call canceled"}}`)
			// Cancelling it again, after its reply, does nothing.
			c.Text(`{"cancel":10}`)
			c.checkUsable(13)
			noErrors(t, e)
		})
	}
}

// TestRPCCancelIsPerConnection: a cancel names a call of its own
// connection only.
func TestRPCCancelIsPerConnection(t *testing.T) {
	m := newRPCMethods()
	e, c1 := startRPC(t, m, runtime.Options{})
	c2 := dial(t, e.addr)
	c1.Text(`{"id":1,"call":"wait"}`)
	wstest.Recv(t, m.started, "the call to start")
	c2.Text(`{"cancel":1}`)
	c2.checkUsable(2)
	select {
	case err := <-m.ended:
		t.Fatalf("another connection's cancel ended the call: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	c1.Text(`{"cancel":1}`)
	c1.expectReply(`{"id":1,"error":{"code":"canceled","message":"call canceled"}}`)
}

func TestRPCOverloaded(t *testing.T) {
	for _, limit := range []int{0, 3} {
		t.Run(fmt.Sprint(limit), func(t *testing.T) {
			m := newRPCMethods()
			m.router.MaxCallsInFlight = limit
			e, c := startRPC(t, m, runtime.Options{})
			want := limit
			if limit == 0 {
				want = runtime.DefaultMaxCallsInFlight
			}
			for i := range want {
				c.Text(fmt.Sprintf(`{"id":%d,"call":"wait"}`, i))
			}
			for range want {
				wstest.Recv(t, m.started, "the calls to start")
			}
			c.Text(fmt.Sprintf(`{"id":%d,"call":"echo"}`, want))
			c.expectReply(fmt.Sprintf(`{"id":%d,"error":{"code":"overloaded","message":"more than %d calls in flight"}}`, want, want))
			// Another connection has its own budget.
			c2 := dial(t, e.addr)
			c2.checkUsable(1)
			// Once one ends there is room again (soon after its reply:
			// see TestRPCIDReusableRightAfterReply).
			c.Text(`{"cancel":0}`)
			c.expectReply(`{"id":0,"error":{"code":"canceled","message":"call canceled"}}`)
			deadline := time.Now().Add(ioTimeout)
			for id := 1000; ; id++ {
				c.Text(fmt.Sprintf(`{"id":%d,"call":"echo"}`, id))
				got := c.reply()
				if got == fmt.Sprintf(`{"id":%d,"result":{}}`, id) {
					break
				}
				if !strings.Contains(got, `"overloaded"`) || time.Now().After(deadline) {
					t.Fatalf("got %s", got)
				}
				time.Sleep(time.Millisecond)
			}
			noErrors(t, e)
		})
	}
}

func TestRPCPanic(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	conn := e.rec.NextOpen(t)
	c.Text(`{"id":1,"call":"panic"}`)
	c.expectReply(`{"id":1,"error":{"code":"internal","message":"internal error"}}`)
	ce := e.rec.NextError(t)
	var pe *runtime.PanicError
	if !errors.As(ce.Err, &pe) || pe.Value != "boom" || ce.Conn != conn {
		t.Errorf("OnError(%p, %v), want a *PanicError of \"boom\" on %p", ce.Conn, ce.Err, conn)
	}
	c.checkUsable(2)
	e.rec.NoClose(t, 20*time.Millisecond)
}

func TestRPCPlainErrorNotLeaked(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	c.Text(`{"id":1,"call":"plain"}`)
	got := c.reply()
	if want := `{"id":1,"error":{"code":"internal","message":"internal error"}}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if strings.Contains(got, "hunter2") {
		t.Error("the error's text reached the client")
	}
	if ce := e.rec.NextError(t); !errors.Is(ce.Err, errSecret) {
		t.Errorf("OnError got %v, want it to wrap the handler's error", ce.Err)
	}
	c.checkUsable(2)
}

func TestRPCWireErrors(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	for i, tt := range []struct{ call, want string }{
		{"fail", `{"code":"name_taken","message":"ada is \"online\" already"}`},
		{"failWrapped", `{"code":"forbidden","message":"no"}`},
		{"failTyped", `{"code":"not_found","message":"user ada not found"}`},
	} {
		c.Text(fmt.Sprintf(`{"id":%d,"call":%q}`, i, tt.call))
		c.expectReply(fmt.Sprintf(`{"id":%d,"error":%s}`, i, tt.want))
	}
	noErrors(t, e)
	if err := (&runtime.Error{Code: "c", Message: "m"}); err.Error() != "c: m" {
		t.Errorf("Error() = %q", err.Error())
	}
}

// TestRPCPipelinedCalls: calls sent in one TCP write (so in one read
// buffer) run concurrently, each on its own goroutine (every call waits
// until all have started), and keep their own args after ServeMessage
// returns.
func TestRPCPipelinedCalls(t *testing.T) {
	const n = 30
	m := newRPCMethods()
	var (
		mu      sync.Mutex
		running int
		all     = make(chan struct{})
	)
	m.router.Handle("gather", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		mu.Lock()
		if running++; running == n {
			close(all)
		}
		mu.Unlock()
		select {
		case <-all:
		case <-time.After(ioTimeout):
			return nil, &runtime.Error{Code: "not_concurrent", Message: "the other calls did not start"}
		}
		return append(dst, call.Args...), nil
	})
	_, c := startRPC(t, m, runtime.Options{})
	var batch []byte
	var want []string
	for i := range n {
		args := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat(string(rune('a'+i%26)), 50+i))
		batch = append(batch, wstest.ClientFrame(true, 0, ws.OpText, fmt.Appendf(nil, `{"id":%d,"call":"gather","args":%s}`, i, args))...)
		want = append(want, fmt.Sprintf(`{"id":%d,"result":%s}`, i, args))
	}
	slices.Sort(want)
	c.Write(batch)
	got := c.replies(n)
	if !slices.Equal(got, want) {
		t.Errorf("replies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestRPCCloseCancelsInFlight(t *testing.T) {
	for _, how := range []string{"close frame", "tcp"} {
		t.Run(how, func(t *testing.T) {
			m := newRPCMethods()
			e, c := startRPC(t, m, runtime.Options{})
			for i := range 3 {
				c.Text(fmt.Sprintf(`{"id":%d,"call":"wait"}`, i))
				wstest.Recv(t, m.started, "the call to start")
			}
			if how == "tcp" {
				_ = c.NC.Close()
			} else {
				c.SendClose(1000, "bye")
			}
			for range 3 {
				if err := wstest.Recv(t, m.ended, "the call's context to end"); !errors.Is(err, context.Canceled) {
					t.Errorf("ctx.Err() = %v", err)
				}
			}
			e.rec.NextClose(t)
		})
	}
}

func TestSessionPushNumbersEvents(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	conn := e.rec.NextOpen(t)
	c.Text(`{"id":1,"call":"push"}`)
	c.expectReply(`{"event":"said","seq":1,"data":{"n":1}}`)
	c.expectReply(`{"event":"said","seq":2,"data":{"n":2}}`)
	c.expectReply(`{"event":"said","seq":3,"data":{"n":3}}`)
	c.expectReply(`{"event":"empty","seq":4,"data":{}}`)
	c.expectReply(`{"id":1,"result":{}}`)
	sess := runtime.SessionOf(conn)
	if err := sess.Push(`a"<b`, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	c.expectReply(`{"event":"a\"\u003cb","seq":5,"data":{}}`)

	// Another connection's session counts from 1.
	c2 := dial(t, e.addr)
	conn2 := e.rec.NextOpen(t)
	if err := runtime.SessionOf(conn2).Push("x", nil); err != nil {
		t.Fatal(err)
	}
	c2.expectReply(`{"event":"x","seq":1,"data":{}}`)

	// A detached session cannot push.
	c.hangUp()
	e.rec.NextClose(t)
	if err := sess.Push("said", nil); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("Push on a detached session: %v, want ErrClosed", err)
	}
}

// TestSessionPushWhileClosingIsReplayed: a push while the connection
// closes is kept and replayed to the client that resumes the session with
// hello: nothing lost, no gap, no duplicate.
func TestSessionPushWhileClosingIsReplayed(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	conn := e.rec.NextOpen(t)
	sess := runtime.SessionOf(conn)
	c.Text(`{"hello":{}}`)
	token := welcomeToken(t, c.reply())
	if err := sess.Push("a", nil); err != nil {
		t.Fatal(err)
	}
	c.expectReply(`{"event":"a","seq":1,"data":{}}`)
	_ = conn.Close(runtime.CloseGoingAway, "bye") // not 1000: that ends the session
	if err := sess.Push("kept", nil); err != nil {
		t.Fatalf("Push while closing: %v, want it kept for replay", err)
	}
	c.ExpectCloseCode(runtime.CloseGoingAway)
	c.SendClose(runtime.CloseNormal, "")
	e.rec.NextClose(t)

	c2 := dial(t, e.addr)
	c2.Text(`{"hello":{"resume":"` + token + `","seq":1}}`)
	if w := c2.reply(); !strings.Contains(w, `"resumed":true`) || !strings.Contains(w, `"session":"`+sess.ID()+`"`) {
		t.Fatalf("welcome %s, want the session resumed", w)
	}
	c2.expectReply(`{"event":"kept","seq":2,"data":{}}`)
	if err := sess.Push("b", nil); err != nil {
		t.Fatal(err)
	}
	c2.expectReply(`{"event":"b","seq":3,"data":{}}`)
}

// TestSessionPushNoGapWithoutReplay: with no replay buffer, a push that
// finds the connection closing fails and does not use up a number.
func TestSessionPushNoGapWithoutReplay(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{ReplayBuffer: -1})
	conn := e.rec.NextOpen(t)
	sess := runtime.SessionOf(conn)
	token := sess.ResumeToken()
	if err := sess.Push("a", nil); err != nil {
		t.Fatal(err)
	}
	c.expectReply(`{"event":"a","seq":1,"data":{}}`)
	_ = conn.Close(runtime.CloseGoingAway, "bye")
	if err := sess.Push("lost", nil); !errors.Is(err, runtime.ErrClosed) {
		t.Fatalf("Push while closing: %v, want ErrClosed", err)
	}
	c.ExpectCloseCode(runtime.CloseGoingAway)
	c.SendClose(runtime.CloseNormal, "")
	e.rec.NextClose(t)

	c2 := dial(t, e.addr)
	c2.Text(`{"id":1,"call":"resume","args":{"token":"` + token + `"}}`)
	c2.expectReply(`{"id":1,"result":{}}`)
	if err := sess.Push("b", nil); err != nil {
		t.Fatal(err)
	}
	if got, want := c2.reply(), `{"event":"b","seq":2,"data":{}}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// welcomeToken returns the resume token of a welcome frame.
func welcomeToken(t *testing.T, frame string) string {
	t.Helper()
	var w struct {
		Welcome struct {
			Session, Resume string
			Resumed         bool
			Heartbeat       int64
		}
	}
	if err := json.Unmarshal([]byte(frame), &w); err != nil || w.Welcome.Resume == "" || w.Welcome.Heartbeat <= 0 {
		t.Fatalf("not a welcome: %s (%v)", frame, err)
	}
	return w.Welcome.Resume
}

// TestSessionPushToResetPeer: a Push whose write finds the peer gone ends
// the connection on the pushing goroutine, which detaches the session. It
// must return, not deadlock. The scenario runs in a child process, since
// a deadlocked goroutine would stay behind and hold the session's lock.
func TestSessionPushToResetPeer(t *testing.T) {
	if os.Getenv("DUPLEX_TEST_PUSH_RESET_CHILD") == "1" {
		pushToResetPeer(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestSessionPushToResetPeer$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "DUPLEX_TEST_PUSH_RESET_CHILD=1")
	out, err := cmd.CombinedOutput()
	if bytes.Contains(out, []byte("Push did not return")) {
		t.Fatal("push.go Session.Push holds s.mu across c.WriteMessage; when the inline non-blocking write fails (peer reset), writeFailed -> finish -> Server.connClosed -> sessions.detach locks s.mu again on the same goroutine: self-deadlock (Broadcast too), and the connection never gets OnClose")
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func pushToResetPeer(t *testing.T) {
	entered := make(chan *runtime.Conn, 1)
	release := make(chan struct{})
	defer close(release)
	// The handler holds the reader, so that the reset is found by the
	// push's write and not by a read.
	h := runtime.HandlerFunc(func(c *runtime.Conn, typ runtime.MessageType, data []byte) {
		entered <- c
		<-release
	})
	srv, err := runtime.New(testOptions(runtime.Options{Handler: h}))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	c := dial(t, ln.Addr().String())
	c.Text("block")
	conn := wstest.Recv(t, entered, "the handler")
	_ = c.NC.(*net.TCPConn).SetLinger(0) // close with RST
	_ = c.NC.Close()
	time.Sleep(50 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- runtime.SessionOf(conn).Push("x", nil) }()
	select {
	case <-done:
	case <-time.After(ioTimeout):
		t.Fatal("Push did not return")
	}
	wstest.WaitDone(t, conn, ioTimeout)
}

// TestSessionPushConcurrent: pushes from many goroutines are numbered
// without gaps or repeats, in the order they are queued.
func TestSessionPushConcurrent(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	const goroutines, each = 8, 25
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := sess.Push("e", fmt.Appendf(nil, `{"g":%d,"i":%d}`, g, i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	last := make(map[int]int)
	for seq := 1; seq <= goroutines*each; seq++ {
		var ev struct {
			Event string
			Seq   int
			Data  struct{ G, I int }
		}
		got := c.reply()
		if err := json.Unmarshal([]byte(got), &ev); err != nil || ev.Seq != seq || ev.Event != "e" {
			t.Fatalf("event %s, want seq %d", got, seq)
		}
		if prev, ok := last[ev.Data.G]; ok && ev.Data.I != prev+1 || !ok && ev.Data.I != 0 {
			t.Fatalf("goroutine %d's events out of order: %d after %d", ev.Data.G, ev.Data.I, prev)
		}
		last[ev.Data.G] = ev.Data.I
	}
	wg.Wait()
}

func TestServerBroadcast(t *testing.T) {
	m := newRPCMethods()
	e, c1 := startRPC(t, m, runtime.Options{})
	clients := []*client{c1, dial(t, e.addr), dial(t, e.addr)}
	conns := []*runtime.Conn{e.rec.NextOpen(t), e.rec.NextOpen(t), e.rec.NextOpen(t)}
	e.srv.Broadcast("tick", []byte(`{"x":1}`))
	for _, c := range clients {
		c.expectReply(`{"event":"tick","seq":1,"data":{"x":1}}`)
	}
	// Broadcasts and pushes share each session's numbering.
	if err := runtime.SessionOf(conns[0]).Push("own", nil); err != nil {
		t.Fatal(err)
	}
	clients[0].expectReply(`{"event":"own","seq":2,"data":{}}`)
	// A closed connection is left out, and the others still get it.
	clients[2].hangUp()
	e.rec.NextClose(t)
	e.srv.Broadcast("tock", nil)
	clients[0].expectReply(`{"event":"tock","seq":3,"data":{}}`)
	clients[1].expectReply(`{"event":"tock","seq":2,"data":{}}`)
	noErrors(t, e)
}

// TestServerBroadcastReachesDetachedSessions: a session whose connection
// dropped keeps broadcast events for its resume, so the client that comes
// back misses none; a session that ended gets nothing.
func TestServerBroadcastReachesDetachedSessions(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{ResumeWindow: time.Minute})
	orig := runtime.SessionOf(e.rec.NextOpen(t))
	c.Text(`{"hello":{}}`)
	token := welcomeToken(t, c.reply())
	e.srv.Broadcast("a", nil)
	c.expectReply(`{"event":"a","seq":1,"data":{}}`)
	c.hangUp()
	e.rec.NextClose(t)
	e.srv.Broadcast("b", nil) // while detached
	e.srv.Broadcast("c", nil)

	c2 := dial(t, e.addr)
	fresh := runtime.SessionOf(e.rec.NextOpen(t))
	c2.Text(`{"hello":{"resume":"` + token + `","seq":1}}`)
	if w := c2.reply(); !strings.Contains(w, `"resumed":true`) {
		t.Fatalf("welcome %s, want resumed", w)
	}
	c2.expectReply(`{"event":"b","seq":2,"data":{}}`)
	c2.expectReply(`{"event":"c","seq":3,"data":{}}`)
	if got := e.rec.nextSessionEnd(t); got != fresh {
		t.Fatalf("OnSessionEnd for %s, want the fresh session the resume replaced", got.ID())
	}
	e.srv.Broadcast("d", nil) // once, not also to the replaced session
	c2.expectReply(`{"event":"d","seq":4,"data":{}}`)

	// A goodbye ends the session: it is out of the audience.
	c2.SendClose(runtime.CloseNormal, "")
	c2.ExpectClose()
	if got := e.rec.nextSessionEnd(t); got != orig {
		t.Fatalf("OnSessionEnd for %s, want %s", got.ID(), orig.ID())
	}
	if err := orig.Push("x", nil); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("Push to the ended session: %v, want ErrClosed", err)
	}
	e.srv.Broadcast("e", nil)
	noErrors(t, e)
}

// TestRPCIDReusableRightAfterReply: once the reply to a call has arrived,
// its id is free ("unique among its calls in flight").
func TestRPCIDReusableRightAfterReply(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	for i := range 500 {
		c.Text(`{"id":1,"call":"echo"}`)
		if got := c.reply(); got != `{"id":1,"result":{}}` {
			t.Fatalf("call.go callState.run sends the reply before removing the id from the table of calls in flight, so a client reusing the id at once can be told it is in use (round %d): %s", i, got)
		}
	}
}

// CloseAfterReply: the reply, then the server's close frame with the
// code asked for, then the closing handshake; a server-sent 1000 ends the
// session at once, since the client will not come back.
func TestRPCCloseAfterReply(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{ResumeWindow: time.Hour})
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	_ = sess.ResumeToken() // resumable: only the 1000 can end it early
	c.Text(`{"id":1,"call":"bye"}`)
	c.expectReply(`{"id":1,"result":{"ok":true}}`)
	if reason := c.ExpectCloseCode(runtime.CloseNormal); reason != "bye" {
		t.Errorf("close reason %q, want bye", reason)
	}
	c.SendClose(runtime.CloseNormal, "")
	ce := e.rec.NextClose(t)
	if ce.Err.Code != runtime.CloseNormal || ce.Err.Initiator != runtime.ClosedByServer {
		t.Errorf("OnClose %+v, want 1000 by the server", ce.Err)
	}
	if ended := e.rec.nextSessionEnd(t); ended != sess {
		t.Errorf("OnSessionEnd for %s, want %s", ended.ID(), sess.ID())
	}
	noErrors(t, e)
}

func TestCloseAfterReplyOutsideACall(t *testing.T) {
	if runtime.CloseAfterReply(context.Background(), runtime.CloseNormal, "") {
		t.Error("CloseAfterReply(context.Background()) = true, want false")
	}
}
