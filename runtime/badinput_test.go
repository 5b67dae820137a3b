package runtime_test

// docs/protocol.md's table of bad input, row by row: what a Router does
// with each kind of bad frame, checked to the byte over real TCP, and that
// the connection still works afterwards wherever the table keeps it open.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/wire"
)

// nullIDError is the reply to an envelope that names no call.
func nullIDError(msg string) string {
	return `{"id":null,"error":{"code":"bad_request","message":` + jsonString(msg) + `}}`
}

// idError is a bad_request reply to the call id.
func idError(id int, msg string) string {
	return fmt.Sprintf(`{"id":%d,"error":{"code":"bad_request","message":%s}}`, id, jsonString(msg))
}

// jsonString quotes s as the runtime's encoder does for these messages
// (ASCII, with " and \ escaped).
func jsonString(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`
}

// badInput is one bad frame and what must come back.
type badInput struct {
	send   string
	binary bool
	// before runs first, on the fresh connection (a call to leave in
	// flight, a hello).
	before func(t *testing.T, c *client, m *rpcMethods)
	// Either the exact replies, in order (none: nothing at all comes
	// back, which the usability check that follows shows)...
	replies []string
	// ... or the close code and reason.
	close  uint16
	reason string
	// then runs after the replies, before the usability check.
	then func(t *testing.T, c *client, m *rpcMethods)
}

// badInputRows are the rows of docs/protocol.md's table, in its order,
// each with the examples that belong to it. The bad calls name "record",
// which reports every call that runs: none may.
func badInputRows() []struct {
	row   string
	cases []badInput
} {
	closes := func(code uint16, reason string, frames ...string) []badInput {
		var out []badInput
		for _, f := range frames {
			out = append(out, badInput{send: f, close: code, reason: reason})
		}
		return out
	}
	replies := func(pairs ...string) []badInput {
		var out []badInput
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, badInput{send: pairs[i], replies: []string{pairs[i+1]}})
		}
		return out
	}
	const intRange = " is not an integer in [-9007199254740991, 9007199254740991]"
	const oneKind = " members: it must be one of call, cancel, ping or hello"
	digits := strings.Repeat("1234567890", 20)
	deep := strings.Repeat(`{"a":`, wire.MaxDepth+1) + "1" + strings.Repeat("}", wire.MaxDepth+1)
	deepPath := "args" + strings.Repeat(".a", wire.MaxDepth)
	noKind := nullIDError("the envelope has no call, cancel, ping or hello member")
	welcomed := func(t *testing.T, c *client, m *rpcMethods) {
		t.Helper()
		c.Text(`{"hello":{}}`)
		readWelcome(t, c)
	}
	// A refused hello did not happen: a corrected one is welcomed.
	helloAgain := func(t *testing.T, c *client, m *rpcMethods) {
		t.Helper()
		welcomed(t, c, m)
	}
	withHelloAgain := func(in []badInput) []badInput {
		for i := range in {
			in[i].then = helloAgain
		}
		return in
	}
	return []struct {
		row   string
		cases []badInput
	}{
		{"binary frame", []badInput{{send: `{"id":1,"call":"record"}`, binary: true, close: runtime.CloseUnsupportedData, reason: "duplex.v1 speaks JSON text frames only"}}},
		{"invalid UTF-8", closes(runtime.CloseInvalidPayload, "invalid UTF-8 in text message", "{\"id\":1,\"call\":\"\xff\"}", "\xc0\xaf")},
		{"too big", closes(runtime.CloseTooBig, "message too big", `{"id":1,"call":"record","args":{"s":"`+strings.Repeat("x", 5000)+`"}}`)},
		{"not JSON", []badInput{
			{send: "hello", close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected object, got invalid JSON"},
			{send: "", close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected object, got end of input"},
			{send: " \n", close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected object, got end of input"},
			{send: `{"id":1,"call":"record"`, close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected ',' or '}', got end of input"},
			{send: `{"id":1,"call":"record"} {}`, close: runtime.CloseInvalidPayload, reason: "undecodable envelope: unexpected data after the value at offset 25"},
			{send: `{"id":1,"call":"record",}`, close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected object key, got invalid JSON"},
			{send: `{"args":{"a":},"id":1,"call":"record"}`, close: runtime.CloseInvalidPayload, reason: "undecodable envelope: args.a: expected a JSON value, got invalid JSON"},
			{send: `{"id":01,"call":"record"}`, close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected ',' or '}', got number"},
		}},
		{"not an object", []badInput{
			{send: "[1]", close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected object, got array"},
			{send: `"id"`, close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected object, got string"},
			{send: "42", close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected object, got number"},
			{send: "true", close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected object, got boolean"},
			{send: "null", close: runtime.CloseInvalidPayload, reason: "undecodable envelope: expected object, got null"},
		}},
		{"no known member", replies(
			`{}`, noKind,
			" { } ", noKind,
			`{"v":2}`, noKind,
			`{"event":"said","seq":3,"data":{},"result":{},"error":{}}`, noKind,
			`{"x":"\ud800","y":`+deep+`}`, noKind,
		)},
		{"unknown members beside known ones", replies(
			`{"v":2,"id":1,"meta":{"trace":[1,{"x":null}]},"call":"echo","args":{"a":1},"event":"x"}`, `{"id":1,"result":{"a":1}}`,
			`{"x":"\ud800","id":2,"call":"echo","args":{"a":2}}`, `{"id":2,"result":{"a":2}}`,
			`{"id":3,"call":"echo","args":{"a":3},"x":"\ud800"}`, `{"id":3,"result":{"a":3}}`,
			`{"\ud800":1,"id":4,"call":"echo","args":{"a":4}}`, `{"id":4,"result":{"a":4}}`,
			`{"x":`+deep+`,"id":5,"call":"echo","args":{"a":5}}`, `{"id":5,"result":{"a":5}}`,
			`{"\u0069d":6,"c\u0061ll":"echo","args":{"a":6}}`, `{"id":6,"result":{"a":6}}`,
			`{"ping":7,"note":"\ud800"}`, `{"pong":7}`,
		)},
		{"more than one kind", replies(
			`{"id":1,"call":"record","cancel":3}`, idError(1, "the envelope has call and cancel"+oneKind),
			`{"hello":{},"id":2,"call":"record"}`, idError(2, "the envelope has call and hello"+oneKind),
			`{"call":"record","ping":1}`, nullIDError("the envelope has call and ping"+oneKind),
			`{"id":"x","call":"record","ping":1}`, nullIDError("the envelope has call and ping"+oneKind),
			`{"id":3,"cancel":1,"ping":2}`, nullIDError("the envelope has cancel and ping"+oneKind),
			`{"id":4,"call":"record","cancel":1,"ping":1,"hello":{}}`, idError(4, "the envelope has call, cancel, ping and hello"+oneKind),
		)},
		{"member given twice", replies(
			`{"id":1,"id":2,"call":"record"}`, nullIDError("id: duplicate field"),
			`{"id":1,"call":"record","call":"record"}`, idError(1, "call: duplicate field"),
			`{"id":2,"call":"record","args":{},"args":{}}`, idError(2, "args: duplicate field"),
			`{"cancel":1,"cancel":1}`, nullIDError("cancel: duplicate field"),
			`{"ping":1,"ping":1}`, nullIDError("ping: duplicate field"),
		)},
		{"call without id", replies(
			`{"call":"record"}`, nullIDError("id: required field missing"),
			`{"call":"record","args":{"a":1}}`, nullIDError("id: required field missing"),
		)},
		{"call with an unusable id", replies(
			`{"id":"7","call":"record"}`, nullIDError("id: expected number, got string"),
			`{"id":1.5,"call":"record"}`, nullIDError("id: 1.5"+intRange),
			`{"id":1e2,"call":"record"}`, nullIDError("id: 1e2"+intRange),
			`{"id":1.0,"call":"record"}`, nullIDError("id: 1.0"+intRange),
			`{"id":9007199254740992,"call":"record"}`, nullIDError("id: 9007199254740992"+intRange),
			`{"id":-9007199254740992,"call":"record"}`, nullIDError("id: -9007199254740992"+intRange),
			`{"id":18446744073709551616,"call":"record"}`, nullIDError("id: 18446744073709551616"+intRange),
			`{"id":`+digits+`,"call":"record"}`, nullIDError("id: "+digits[:40]+"…"+intRange),
			`{"id":null,"call":"record"}`, nullIDError("id: expected number, got null"),
			`{"id":true,"call":"record"}`, nullIDError("id: expected number, got boolean"),
			`{"id":{},"call":"record"}`, nullIDError("id: expected number, got object"),
			`{"id":[1],"call":"record"}`, nullIDError("id: expected number, got array"),
			// The id's problem comes first, whatever else is wrong.
			`{"args":1,"call":7,"id":"7"}`, nullIDError("id: expected number, got string"),
		)},
		{"id or args without call", replies(
			`{"id":5}`, idError(5, "call: required field missing"),
			`{"id":6,"args":{}}`, idError(6, "call: required field missing"),
			`{"args":{}}`, nullIDError("call: required field missing"),
			`{"id":"5"}`, nullIDError("call: required field missing"),
		)},
		{"call not a string", replies(
			`{"id":5,"call":7}`, idError(5, "call: expected string, got number"),
			`{"id":6,"call":null}`, idError(6, "call: expected string, got null"),
			`{"id":7,"call":["record"]}`, idError(7, "call: expected string, got array"),
		)},
		{"args not an object", replies(
			`{"id":1,"call":"record","args":[1]}`, idError(1, "args: expected object, got array"),
			`{"id":2,"call":"record","args":"x"}`, idError(2, "args: expected object, got string"),
			`{"id":3,"call":"record","args":null}`, idError(3, "args: expected object, got null"),
			`{"id":4,"call":"record","args":1}`, idError(4, "args: expected object, got number"),
			`{"id":5,"call":"record","args":true}`, idError(5, "args: expected object, got boolean"),
			`{"args":1,"call":"record","id":6}`, idError(6, "args: expected object, got number"),
		)},
		{"args the runtime refuses", replies(
			`{"id":1,"call":"record","args":{"a":"\ud800"}}`, idError(1, `args.a: unpaired surrogate in \u escape`),
			`{"args":{"a":"\ud800"},"call":"record","id":2}`, idError(2, `args.a: unpaired surrogate in \u escape`),
			`{"id":3,"call":"record","args":`+deep+`}`, idError(3, deepPath+fmt.Sprintf(": nested deeper than %d", wire.MaxDepth)),
		)},
		{"unknown command", replies(
			`{"id":3,"call":"nope","args":{}}`, `{"id":3,"error":{"code":"unknown_command","message":"unknown command \"nope\""}}`,
			`{"id":4,"call":""}`, `{"id":4,"error":{"code":"unknown_command","message":"unknown command \"\""}}`,
		)},
		{"id in use by a call in flight", []badInput{{
			before: func(t *testing.T, c *client, m *rpcMethods) {
				c.Text(`{"id":9,"call":"wait","args":{"n":1}}`)
				wstest.Recv(t, m.started, "call 9 to start")
			},
			send:    `{"id":9,"call":"record"}`,
			replies: []string{idError(9, "id 9 is already in use by a call in flight")},
			then: func(t *testing.T, c *client, m *rpcMethods) {
				// The first call 9 goes on, and gets its own reply.
				c.Text(`{"cancel":9}`)
				c.expectReply(`{"id":9,"error":{"code":"canceled","message":"call canceled"}}`)
				wstest.Recv(t, m.ended, "call 9 to end")
			},
		}}},
		{"cancel not an integer", replies(
			`{"cancel":"7"}`, nullIDError("cancel: expected number, got string"),
			`{"cancel":1.5}`, nullIDError("cancel: 1.5"+intRange),
			`{"cancel":null}`, nullIDError("cancel: expected number, got null"),
			`{"cancel":9007199254740992}`, nullIDError("cancel: 9007199254740992"+intRange),
			// An id beside a cancel is not the cancel's: the reply's id is null.
			`{"id":5,"cancel":"7"}`, nullIDError("cancel: expected number, got string"),
		)},
		{"ping not an integer", replies(
			`{"ping":"x"}`, nullIDError("ping: expected number, got string"),
			`{"ping":1.5}`, nullIDError("ping: 1.5"+intRange),
			`{"ping":{}}`, nullIDError("ping: expected number, got object"),
		)},
		{"bad hello", withHelloAgain(replies(
			`{"hello":[]}`, nullIDError("hello: expected object, got array"),
			`{"hello":null}`, nullIDError("hello: expected object, got null"),
			`{"hello":{"resume":7}}`, nullIDError("hello.resume: expected string, got number"),
			`{"hello":{"resume":"\ud800"}}`, nullIDError(`hello.resume: unpaired surrogate in \u escape`),
			`{"hello":{"seq":"1"}}`, nullIDError("hello.seq: expected number, got string"),
			`{"hello":{"seq":-1}}`, nullIDError("hello.seq: -1 is not an integer in [0, 9007199254740991]"),
			`{"hello":{"seq":1.5}}`, nullIDError("hello.seq: 1.5"+intRange),
			`{"hello":{"seq":1,"seq":1}}`, nullIDError("hello.seq: duplicate field"),
		))},
		{"late hello", []badInput{
			{before: func(t *testing.T, c *client, m *rpcMethods) { c.checkUsable(1) }},
			{before: welcomed},
			{before: func(t *testing.T, c *client, m *rpcMethods) {
				c.Text(`{"ping":1}`)
				c.expectReply(`{"pong":1}`)
			}},
			{before: func(t *testing.T, c *client, m *rpcMethods) { c.Text(`{"cancel":1}`) }},
			{before: func(t *testing.T, c *client, m *rpcMethods) {
				// A call refused for its id is still a call.
				c.Text(`{"id":"1","call":"record"}`)
				c.expectReply(nullIDError("id: expected number, got string"))
			}},
		}},
	}
}

func TestBadInput(t *testing.T) {
	forModes(t, func(t *testing.T, mode readMode) {
		m := newRPCMethods()
		e, _ := startRPC(t, m, runtime.Options{DisablePoller: mode.disablePoller, MaxMessageSize: 4096})
		for _, row := range badInputRows() {
			t.Run(row.row, func(t *testing.T) {
				for _, tt := range row.cases {
					if row.row == "late hello" {
						tt.send = `{"hello":{}}`
						tt.close, tt.reason = runtime.ClosePolicy, "a hello must come before any call, cancel or ping, and only once"
					}
					checkBadInput(t, e, m, tt)
				}
			})
		}
	})
}

// checkBadInput sends tt on a fresh connection and checks what comes back.
func checkBadInput(t *testing.T, e *env, m *rpcMethods, tt badInput) {
	t.Helper()
	c := dial(t, e.addr)
	if tt.before != nil {
		tt.before(t, c, m)
	}
	if tt.binary {
		c.WriteFrame(ws.OpBinary, []byte(tt.send))
	} else {
		c.Text(tt.send)
	}
	if tt.close != 0 {
		f := c.MustFrame()
		if f.H.OpCode != ws.OpClose {
			t.Fatalf("%q: got %v %s, want close %d", tt.send, f.H.OpCode, f.Payload, tt.close)
		}
		if code, reason := wstest.ParseClose(f.Payload); code != tt.close || reason != tt.reason {
			t.Errorf("%q: close %d %q, want %d %q", tt.send, code, reason, tt.close, tt.reason)
		}
		c.SendClose(tt.close, "")
		return
	}
	for _, want := range tt.replies {
		if got := c.reply(); got != want {
			t.Fatalf("%q:\ngot  %s\nwant %s", tt.send, got, want)
		}
	}
	if tt.then != nil {
		tt.then(t, c, m)
	}
	// The connection stays open and works, and nothing else came first.
	c.checkUsable(1000)
	select {
	case call := <-m.calls:
		t.Errorf("%q: the call ran: %+v", tt.send, call)
	default:
	}
	noErrors(t, e)
}

// TestHelloAfterWhatDoesNotCount: envelopes of no kind and refused hellos
// do not count as the connection's first envelope; a hello after them is
// welcomed (docs/protocol.md, Sessions).
func TestHelloAfterWhatDoesNotCount(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	c.Text(`{}`)
	c.expectReply(nullIDError("the envelope has no call, cancel, ping or hello member"))
	c.Text(`{"v":2}`)
	c.expectReply(nullIDError("the envelope has no call, cancel, ping or hello member"))
	c.Text(`{"hello":{"seq":"x"}}`)
	c.expectReply(nullIDError("hello.seq: expected number, got string"))
	c.Text(`{"hello":{"seq":-1}}`)
	c.expectReply(nullIDError("hello.seq: -1 is not an integer in [0, 9007199254740991]"))
	hello(t, c, "", 0)
	c.checkUsable(1)
}

// TestHelloIgnoresUnknownMembers: members of a hello that v1 does not know
// are ignored whatever they hold, as an envelope's are.
func TestHelloIgnoresUnknownMembers(t *testing.T) {
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{})
	deep := strings.Repeat("[", wire.MaxDepth+6) + strings.Repeat("]", wire.MaxDepth+6)
	c.Text(`{"hello":{"x":"\ud800","\ud800":1,"y":` + deep + `,"seq":0},"z":` + deep + `}`)
	if w := readWelcome(t, c); w.Resumed || w.Reason != "" {
		t.Errorf("welcome %+v, want a fresh session", w)
	}
	c.checkUsable(1)
}
