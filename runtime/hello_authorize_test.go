package runtime_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/duplexrpc/duplex/runtime"
)

// tokenAuth is an AuthorizeHello that accepts the tokens in ok, sets the
// session's user from the token, and bans "banned" with 4003; it records
// the params it saw.
type tokenAuth struct {
	mu   sync.Mutex
	ok   map[string]string // token -> user
	seen []string          // raw params, "" when absent
}

func (a *tokenAuth) authorize(_ *runtime.Conn, s *runtime.Session, params []byte) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, string(params))
	var p struct{ Token string }
	if params != nil {
		if err := json.Unmarshal(params, &p); err != nil {
			return fmt.Errorf("decode params: %w", err)
		}
	}
	if p.Token == "banned" {
		return &runtime.HelloError{Code: 4003, Reason: "banned"}
	}
	user, ok := a.ok[p.Token]
	if !ok {
		return errors.New("bad token " + p.Token) // not shown to the client
	}
	s.Set("user", user)
	return nil
}

func (a *tokenAuth) saw() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.seen...)
}

func TestAuthorizeHelloSeesParams(t *testing.T) {
	a := &tokenAuth{ok: map[string]string{"t1": "ada"}}
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{AuthorizeHello: a.authorize})
	conn := e.rec.NextOpen(t)
	c.Text(`{"hello":{"params":{"token":"t1","n":[1,2]},"x":1}}`)
	w := readWelcome(t, c)
	if w.Resumed || w.Session != runtime.SessionOf(conn).ID() {
		t.Fatalf("welcome %+v, want a fresh session", w)
	}
	if u, _ := runtime.SessionOf(conn).Get("user"); u != "ada" {
		t.Errorf("user = %q, want ada (set by AuthorizeHello)", u)
	}
	if got := a.saw(); len(got) != 1 || got[0] != `{"token":"t1","n":[1,2]}` {
		t.Errorf("AuthorizeHello saw %q, want the params object as sent", got)
	}
	c.checkUsable(1)
	noErrors(t, e)
}

// A refused hello closes with CloseHelloRefused without showing the
// error, and the session it asked to resume is still there for a hello
// with good params: the token was not spent.
func TestAuthorizeHelloRefusesThenResumes(t *testing.T) {
	a := &tokenAuth{ok: map[string]string{"t1": "ada", "t2": "ada"}}
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{AuthorizeHello: a.authorize})
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	c.Text(`{"hello":{"params":{"token":"t1"}}}`)
	w := readWelcome(t, c)
	if err := sess.Push("a", nil); err != nil {
		t.Fatal(err)
	}
	c.expectReply(`{"event":"a","seq":1,"data":{}}`)
	c.NC.Close()
	e.rec.NextClose(t)
	if err := sess.Push("b", nil); err != nil {
		t.Fatal(err)
	}

	// The token expired: t1 is no longer good.
	a.mu.Lock()
	delete(a.ok, "t1")
	a.mu.Unlock()
	c2 := dial(t, e.addr)
	c2.Text(fmt.Sprintf(`{"hello":{"resume":%q,"seq":1,"params":{"token":"t1"}}}`, w.Resume))
	if reason := c2.ExpectCloseCode(runtime.CloseHelloRefused); reason != "unauthorized" {
		t.Errorf("close reason %q, want unauthorized (the error's text is not shown)", reason)
	}

	// Refreshed: t2 resumes the session, with the event it missed.
	c3 := dial(t, e.addr)
	c3.Text(fmt.Sprintf(`{"hello":{"resume":%q,"seq":1,"params":{"token":"t2"}}}`, w.Resume))
	w3 := readWelcome(t, c3)
	if !w3.Resumed || w3.Session != sess.ID() {
		t.Fatalf("welcome %+v, want %s resumed", w3, sess.ID())
	}
	c3.expectReply(`{"event":"b","seq":2,"data":{}}`)
	c3.checkUsable(1)
	noErrors(t, e)
}

func TestAuthorizeHelloError(t *testing.T) {
	a := &tokenAuth{}
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{AuthorizeHello: a.authorize})
	c.Text(`{"hello":{"params":{"token":"banned"}}}`)
	if reason := c.ExpectCloseCode(4003); reason != "banned" {
		t.Errorf("close reason %q, want banned", reason)
	}
}

// With AuthorizeHello set a hello is required: a call before it would
// run on a session nobody authorized.
func TestAuthorizeHelloRequiresHello(t *testing.T) {
	for _, first := range []string{
		`{"id":1,"call":"echo","args":{}}`,
		`{"ping":1}`,
		`{"cancel":1}`,
		`{"id":1,"call":"echo","hello":{}}`,
	} {
		t.Run(first, func(t *testing.T) {
			m := newRPCMethods()
			_, c := startRPC(t, m, runtime.Options{AuthorizeHello: (&tokenAuth{}).authorize})
			c.Text(first)
			if reason := c.ExpectCloseCode(runtime.ClosePolicy); reason != "a hello must come first" {
				t.Errorf("close reason %q", reason)
			}
		})
	}
	t.Run("after a refused hello", func(t *testing.T) {
		// The frames a client sent after its hello, before the refusal
		// reached it, are not run.
		m := newRPCMethods()
		_, c := startRPC(t, m, runtime.Options{AuthorizeHello: (&tokenAuth{}).authorize})
		c.Text(`{"hello":{"params":{"token":"nope"}}}`)
		c.Text(`{"id":1,"call":"echo","args":{}}`)
		if reason := c.ExpectCloseCode(runtime.CloseHelloRefused); reason != "unauthorized" {
			t.Errorf("close reason %q", reason)
		}
	})
}

// params that are not an object are bad input: the hello did not happen,
// and a corrected one may follow.
func TestHelloParamsBadInput(t *testing.T) {
	a := &tokenAuth{ok: map[string]string{"t": "ada"}}
	m := newRPCMethods()
	_, c := startRPC(t, m, runtime.Options{AuthorizeHello: a.authorize})
	for frame, msg := range map[string]string{
		`{"hello":{"params":"t"}}`:                            "hello.params: expected object, got string",
		`{"hello":{"params":{},"params":{}}}`:                 "hello.params: duplicate field",
		`{"hello":{"params":{"token":"\ud800"}}}`:             `hello.params.token: unpaired surrogate in \u escape`,
		`{"hello":{"params":null}}`:                           "hello.params: expected object, got null",
		`{"hello":{"resume":7,"params":{"token":"t"}}}`:       "hello.resume: expected string, got number",
		`{"hello":{"params":{"token":"t"},"seq":"1"}}`:        "hello.seq: expected number, got string",
		`{"hello":{"params":[{"token":"t"}]}}`:                "hello.params: expected object, got array",
		`{"hello":{"params":{"token":"t"},"params":"again"}}`: "hello.params: duplicate field",
	} {
		c.Text(frame)
		want, _ := json.Marshal(msg)
		c.expectReply(`{"id":null,"error":{"code":"bad_request","message":` + string(want) + `}}`)
	}
	if got := a.saw(); len(got) != 0 {
		t.Errorf("AuthorizeHello saw %q for bad hellos", got)
	}
	c.Text(`{"hello":{"params":{"token":"t"}}}`)
	readWelcome(t, c)
	c.checkUsable(1)
}

// Without AuthorizeHello, params are ignored, as any member v1 did not
// know was, and calls need no hello.
func TestHelloParamsIgnoredWithoutAuthorizeHello(t *testing.T) {
	m := newRPCMethods()
	e, c := startRPC(t, m, runtime.Options{})
	c.checkUsable(1)
	c2 := dial(t, e.addr)
	c2.Text(`{"hello":{"params":{"token":"whatever"}}}`)
	readWelcome(t, c2)
	c2.checkUsable(2)
}
