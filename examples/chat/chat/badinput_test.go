package chat_test

// docs/protocol.md's table of bad input, probed against the real chat
// server over TCP: each bad frame gets the answer the table promises, and
// where the connection stays open, the user on it stays logged in.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/duplexrpc/duplex/runtime"
)

// raw reads the next frame as the server wrote it; a close frame is
// answered and returned as a wsutil.ClosedError.
func (c *client) raw() (string, error) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(readBound))
	data, err := wsutil.ReadServerText(c.nc)
	return string(data), err
}

func nullIDReply(msg string) string {
	return `{"id":null,"error":{"code":"bad_request","message":"` + msg + `"}}`
}

func idReply(id int, code, msg string) string {
	return fmt.Sprintf(`{"id":%d,"error":{"code":%q,"message":%q}}`, id, code, msg)
}

// stillLoggedIn checks that c can say something, as only a logged-in user
// can, and hears it back; what was sent before ran nothing that made an
// event.
func (c *client) stillLoggedIn(what string) {
	c.t.Helper()
	content := "still here after " + what
	if r := c.call("user", fmt.Sprintf(`{"content":%q}`, content)); r.Error != nil {
		c.t.Fatalf("after %s: %s: %s", what, r.Error.Code, r.Error.Message)
	}
	c.event("said", fmt.Sprintf(`{"from":"ann","content":%q}`, content))
}

func TestBadInputKeepsTheUserLoggedIn(t *testing.T) {
	addr, srv := start(t, runtime.Options{})
	ann, _ := dial(t, addr, "", 0)
	ann.ok("login", `{"name":"ann"}`)
	ann.event("joined", `{"name":"ann","users":["ann"]}`)
	const intRange = " is not an integer in [-9007199254740991, 9007199254740991]"
	noKind := nullIDReply("the envelope has no call, cancel, ping or hello member")
	for _, tt := range []struct{ send, want string }{
		// No known member.
		{`{}`, noKind},
		{`{"v":2,"user":"ann"}`, noKind},
		// Unknown members beside known ones are ignored, whatever they hold.
		{`{"x":"\ud800","ping":7}`, `{"pong":7}`},
		// More than one kind.
		{`{"id":1001,"call":"user","args":{"content":"mixed"},"cancel":1}`,
			idReply(1001, "bad_request", "the envelope has call and cancel members: it must be one of call, cancel, ping or hello")},
		// A member given twice.
		{`{"id":1002,"call":"user","args":{"content":"a"},"args":{"content":"b"}}`, idReply(1002, "bad_request", "args: duplicate field")},
		// Calls without a usable id.
		{`{"call":"user","args":{"content":"no id"}}`, nullIDReply("id: required field missing")},
		{`{"id":"7","call":"user","args":{"content":"string id"}}`, nullIDReply("id: expected number, got string")},
		{`{"id":1.5,"call":"user","args":{"content":"fractional id"}}`, nullIDReply("id: 1.5" + intRange)},
		{`{"id":9007199254740992,"call":"user","args":{"content":"huge id"}}`, nullIDReply("id: 9007199254740992" + intRange)},
		{`{"id":null,"call":"logout"}`, nullIDReply("id: expected number, got null")},
		// An id without a call.
		{`{"id":1003}`, idReply(1003, "bad_request", "call: required field missing")},
		// call not a string.
		{`{"id":1004,"call":7}`, idReply(1004, "bad_request", "call: expected string, got number")},
		// args not an object, or not what the command takes.
		{`{"id":1005,"call":"user","args":["hi"]}`, idReply(1005, "bad_request", "args: expected object, got array")},
		{`{"id":1006,"call":"user","args":{"content":"\ud800"}}`, idReply(1006, "bad_request", `args.content: unpaired surrogate in \u escape`)},
		{`{"id":1007,"call":"user","args":{"content":7}}`, idReply(1007, "bad_request", "args.content: expected string, got number")},
		{`{"id":1008,"call":"user"}`, idReply(1008, "bad_request", "args.content: required field missing")},
		{`{"id":1009,"call":"login","args":{"name":"ann","name":"bob"}}`, idReply(1009, "bad_request", "args.name: duplicate field")},
		// A command the server does not have.
		{`{"id":1010,"call":"kick","args":{"name":"ann"}}`, idReply(1010, "unknown_command", `unknown command "kick"`)},
		// cancel and ping that are not integers.
		{`{"cancel":"1"}`, nullIDReply("cancel: expected number, got string")},
		{`{"ping":{}}`, nullIDReply("ping: expected number, got object")},
	} {
		ann.send(tt.send)
		got, err := ann.raw()
		if err != nil {
			t.Fatalf("%s: %v, want %s", tt.send, err, tt.want)
		}
		if got != tt.want {
			t.Fatalf("%s:\ngot  %s\nwant %s", tt.send, got, tt.want)
		}
		ann.stillLoggedIn(tt.send)
	}
	if got := strings.Join(online(t, srv), ","); got != "ann" {
		t.Errorf("online %s, want ann", got)
	}
}

// A hello the server refuses did not happen: the client may send a
// corrected one, then log in.
func TestBadHelloThenAGoodOne(t *testing.T) {
	addr, _ := start(t, runtime.Options{})
	c, _ := dial(t, addr, "", 0)
	// dial said hello: another one, good or bad, is too late.
	c.send(`{"hello":{"seq":"x"}}`)
	checkClosed(t, c, runtime.ClosePolicy, "a hello must come before any call, cancel or ping, and only once")

	c2 := rawDial(t, addr)
	for _, tt := range []struct{ send, want string }{
		{`{"hello":[]}`, nullIDReply("hello: expected object, got array")},
		{`{"hello":{"resume":7}}`, nullIDReply("hello.resume: expected string, got number")},
		{`{"hello":{"seq":-1}}`, nullIDReply("hello.seq: -1 is not an integer in [0, 9007199254740991]")},
	} {
		c2.send(tt.send)
		if got, err := c2.raw(); err != nil || got != tt.want {
			t.Fatalf("%s: got %s %v, want %s", tt.send, got, err, tt.want)
		}
	}
	c2.send(`{"hello":{}}`)
	if w := c2.next(); w.Welcome == nil || w.Welcome.Resumed {
		t.Fatalf("got %+v, want a fresh welcome", w)
	}
	c2.ok("login", `{"name":"ann"}`)
	c2.event("joined", `{"name":"ann","users":["ann"]}`)
	c2.stillLoggedIn("a corrected hello")
}

// Frames that are not JSON objects close their connection, and no other.
func TestUndecodableFramesClose(t *testing.T) {
	addr, srv := start(t, runtime.Options{})
	ann, _ := dial(t, addr, "", 0)
	ann.ok("login", `{"name":"ann"}`)
	ann.event("joined", `{"name":"ann","users":["ann"]}`)
	for _, tt := range []struct {
		send   string
		binary bool
		code   uint16
		reason string
	}{
		{`{"id":1,"call":"user","args":{"content":"hi"}}`, true, runtime.CloseUnsupportedData, "duplex.v1 speaks JSON text frames only"},
		{"{\"id\":1,\"call\":\"\xff\"}", false, runtime.CloseInvalidPayload, "invalid UTF-8 in text message"},
		{`{"id":1,"call":"user"`, false, runtime.CloseInvalidPayload, "undecodable envelope: expected ',' or '}', got end of input"},
		{`["user","hi"]`, false, runtime.CloseInvalidPayload, "undecodable envelope: expected object, got array"},
		{`null`, false, runtime.CloseInvalidPayload, "undecodable envelope: expected object, got null"},
	} {
		c, _ := dial(t, addr, "", 0)
		if tt.binary {
			if err := wsutil.WriteClientBinary(c.nc, []byte(tt.send)); err != nil {
				t.Fatal(err)
			}
		} else {
			c.send(tt.send)
		}
		checkClosed(t, c, tt.code, tt.reason)
		ann.stillLoggedIn(fmt.Sprintf("another connection's %q", tt.send))
	}
	if got := strings.Join(online(t, srv), ","); got != "ann" {
		t.Errorf("online %s, want ann", got)
	}
}

// rawDial connects without saying hello.
func rawDial(t *testing.T, addr string) *client {
	t.Helper()
	nc, _, _, err := ws.Dialer{Protocols: []string{"duplex.v1+json"}, Timeout: 5 * time.Second}.Dial(context.Background(), "ws://"+addr+"/ws")
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &client{t: t, nc: nc}
}

// checkClosed reads the server's close frame (answering it) and checks its
// code and reason.
func checkClosed(t *testing.T, c *client, code uint16, reason string) {
	t.Helper()
	got, err := c.raw()
	var closed wsutil.ClosedError
	if !errors.As(err, &closed) {
		t.Fatalf("got %s %v, want close %d", got, err, code)
	}
	if uint16(closed.Code) != code || closed.Reason != reason {
		t.Errorf("close %d %q, want %d %q", closed.Code, closed.Reason, code, reason)
	}
}
