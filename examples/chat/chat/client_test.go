package chat_test

// The room through the generated Go client (chat_duplex_client.go): what
// a Go program, a service or a load test sees of it.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	duplexclient "github.com/duplexrpc/duplex/clients/go"
	"github.com/duplexrpc/duplex/examples/chat/chat"
	"github.com/duplexrpc/duplex/runtime"
)

// member is a chat user on a generated client, with the events it got.
type member struct {
	*chat.Client
	rt     *duplexclient.Client
	events chan string // "joined ann: ann,bob", "left ...", "said ann: hi"
}

// join connects a generated client to the room at addr.
func join(t *testing.T, addr string, o duplexclient.Options) *member {
	t.Helper()
	rt := duplexclient.New("ws://"+addr+"/ws", o)
	m := &member{Client: chat.NewClient(rt), rt: rt, events: make(chan string, 256)}
	m.OnJoined(func(e *chat.JoinedEvent) { m.events <- "joined " + e.Name + ": " + strings.Join(e.Users, ",") })
	m.OnLeft(func(e *chat.LeftEvent) { m.events <- "left " + e.Name + ": " + strings.Join(e.Users, ",") })
	m.OnSaid(func(e *chat.SaidEvent) { m.events <- "said " + e.From + ": " + e.Content })
	if err := rt.Connect(bounded(t)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	return m
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), readBound)
	t.Cleanup(cancel)
	return ctx
}

// event checks that the next event is want.
func (m *member) event(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-m.events:
		if got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	case <-time.After(readBound):
		t.Fatalf("no event, want %q", want)
	}
}

func (m *member) login(t *testing.T, name string) []string {
	t.Helper()
	res, err := m.Login(bounded(t), &chat.LoginArgs{Name: name})
	if err != nil {
		t.Fatalf("login %q: %v", name, err)
	}
	return res.Users
}

func TestLoginPresenceAndSaid(t *testing.T) {
	addr, srv := start(t, runtime.Options{})
	ann, bob := join(t, addr, duplexclient.Options{}), join(t, addr, duplexclient.Options{})
	if users := ann.login(t, "  ann "); strings.Join(users, ",") != "ann" {
		t.Errorf("login: %v", users)
	}
	ann.event(t, "joined ann: ann")
	bob.event(t, "joined ann: ann") // to everyone, logged in or not
	bob.login(t, "bob")
	for _, m := range []*member{ann, bob} {
		m.event(t, "joined bob: ann,bob")
	}
	if err := ann.User(bounded(t), &chat.UserArgs{Content: "<b>hi</b>"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*member{ann, bob} {
		m.event(t, "said ann: <b>hi</b>")
	}
	if got := strings.Join(online(t, srv), ","); got != "ann,bob" {
		t.Errorf("online %s", got)
	}
}

// wantErr checks that err is the schema error *E with message msg ("":
// any), and a *duplexclient.Error with code.
func wantErr[E interface {
	*chat.NameTakenError | *chat.InvalidNameError | *chat.AlreadyLoggedInError | *chat.NotLoggedInError | *chat.InvalidMessageError
	error
}](t *testing.T, err error, code, msg string) {
	t.Helper()
	var typed E
	var we *duplexclient.Error
	if !errors.As(err, &typed) || !errors.As(err, &we) || we.Code != code || msg != "" && we.Message != msg {
		t.Fatalf("error %v (%T), want %T with code %s and message %q", err, err, typed, code, msg)
	}
}

func TestErrors(t *testing.T) {
	addr, _ := start(t, runtime.Options{})
	ann, bob := join(t, addr, duplexclient.Options{}), join(t, addr, duplexclient.Options{})
	wantErr[*chat.NotLoggedInError](t, bob.User(bounded(t), &chat.UserArgs{Content: "hi"}), "not_logged_in", "")
	wantErr[*chat.NotLoggedInError](t, bob.Logout(bounded(t)), "not_logged_in", "")
	ann.login(t, "ann")
	for _, tc := range []struct{ name, msg string }{
		{"ann", `"ann" is online already`},
		{" ann\t", `"ann" is online already`},
	} {
		_, err := bob.Login(bounded(t), &chat.LoginArgs{Name: tc.name})
		wantErr[*chat.NameTakenError](t, err, "name_taken", tc.msg)
	}
	for _, tc := range []struct{ name, msg string }{
		{"", "the name is empty"},
		{"   ", "the name is empty"},
		{strings.Repeat("é", 33), "the name has 33 characters; at most 32"},
		{"a\u0007b", "the name has the control character U+0007 at byte 1"},
		{"evil\u202e", "the name has the control character U+202E at byte 4"},
	} {
		_, err := bob.Login(bounded(t), &chat.LoginArgs{Name: tc.name})
		wantErr[*chat.InvalidNameError](t, err, "invalid_name", tc.msg)
	}
	_, err := ann.Login(bounded(t), &chat.LoginArgs{Name: "ann2"})
	wantErr[*chat.AlreadyLoggedInError](t, err, "already_logged_in", "")
	if !strings.Contains(err.Error(), `"ann"`) {
		t.Errorf("already logged in: %v", err)
	}
	wantErr[*chat.InvalidMessageError](t, ann.User(bounded(t), &chat.UserArgs{Content: " \n "}), "invalid_message", "")
	wantErr[*chat.InvalidMessageError](t, ann.User(bounded(t), &chat.UserArgs{Content: strings.Repeat("x", chat.MaxMessageLength+1)}), "invalid_message", "")
	if err := ann.User(bounded(t), &chat.UserArgs{Content: strings.Repeat("x", chat.MaxMessageLength)}); err != nil {
		t.Fatal(err)
	}
	// Arguments the schema's types cannot express: the raw protocol.
	raw, _ := dial(t, addr, "", 0)
	raw.fails("login", `{"name":7}`, "bad_request")
	// Every refusal left the connections usable.
	bob.login(t, "bob")
}

// shutdown: the reply, then the server's close 1000, which ends the
// client for good; the others see the user leave.
func TestShutdownEndsTheClient(t *testing.T) {
	addr, _ := start(t, runtime.Options{})
	watcher := join(t, addr, duplexclient.Options{})
	closes := make(chan duplexclient.CloseInfo, 1)
	ann := join(t, addr, duplexclient.Options{OnClose: func(i duplexclient.CloseInfo) { closes <- i }})
	ann.login(t, "ann")
	watcher.event(t, "joined ann: ann")
	if err := ann.Shutdown(bounded(t)); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	select {
	case i := <-closes:
		if i.Code != 1000 {
			t.Fatalf("closed with %v, want 1000", i)
		}
	case <-time.After(readBound):
		t.Fatal("no close after shutdown")
	}
	watcher.event(t, "left ann: ")
	err := ann.User(bounded(t), &chat.UserArgs{Content: "still here?"})
	var ce *duplexclient.ClosedError
	if !errors.Is(err, duplexclient.ErrClosed) || !errors.As(err, &ce) || ce.Code != 1000 || ann.rt.State() != duplexclient.StateClosed {
		t.Fatalf("a call after shutdown: %v (state %v), want the client closed by 1000", err, ann.rt.State())
	}
}

// network is what a client's Dialer.NetDial goes through: drop breaks the
// connections it made without a close frame, and while it is down new
// ones are refused.
type network struct {
	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func (n *network) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.down {
		return nil, errors.New("network down")
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		n.conns = append(n.conns, c)
	}
	return c, err
}

// set takes the network down (true) or up again (false); down breaks
// every connection.
func (n *network) set(down bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.down = down
	if down {
		for _, c := range n.conns {
			_ = c.Close()
		}
		n.conns = nil
	}
}

// A user whose connection drops comes back on its own, resumed: still
// logged in, with what was said meanwhile delivered once, and nobody saw
// it leave.
func TestClientResumesAfterADrop(t *testing.T) {
	closed := make(chan struct{}, 4)
	addr, srv := start(t, runtime.Options{
		ResumeWindow: time.Minute,
		Hooks:        runtime.Hooks{OnClose: func(*runtime.Conn, *runtime.CloseError) { closed <- struct{}{} }},
	})
	watcher := join(t, addr, duplexclient.Options{})
	nw := &network{}
	startOvers := make(chan string, 1)
	ann := join(t, addr, duplexclient.Options{
		Dialer:      ws.Dialer{NetDial: nw.dial},
		BackoffBase: 10 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
		OnStartOver: func(reason string) { startOvers <- reason },
	})
	session := ann.rt.Session()
	ann.login(t, "ann")
	ann.event(t, "joined ann: ann")
	watcher.event(t, "joined ann: ann")

	nw.set(true)
	select {
	case <-closed: // detached: OnClose runs after the detach
	case <-time.After(readBound):
		t.Fatal("the server did not notice the dropped connection")
	}
	bob := join(t, addr, duplexclient.Options{})
	bob.login(t, "bob")
	if err := bob.User(bounded(t), &chat.UserArgs{Content: "where is ann?"}); err != nil {
		t.Fatal(err)
	}
	watcher.event(t, "joined bob: ann,bob")
	watcher.event(t, "said bob: where is ann?")

	nw.set(false)
	ann.event(t, "joined bob: ann,bob")
	ann.event(t, "said bob: where is ann?")
	if err := ann.User(bounded(t), &chat.UserArgs{Content: "here"}); err != nil { // still logged in
		t.Fatal(err)
	}
	ann.event(t, "said ann: here")
	watcher.event(t, "said ann: here")
	select {
	case e := <-watcher.events:
		t.Fatalf("watcher got %q, want nothing (no left, no joined)", e)
	case e := <-ann.events:
		t.Fatalf("ann got %q, want nothing more (each event once)", e)
	case r := <-startOvers:
		t.Fatalf("start-over (%s), want the session resumed", r)
	case <-time.After(300 * time.Millisecond):
	}
	if ann.rt.Session() != session {
		t.Fatalf("session %s, want %s resumed", ann.rt.Session(), session)
	}
	if got := strings.Join(online(t, srv), ","); got != "ann,bob" {
		t.Errorf("online %s", got)
	}
}

// redirect is a Dialer.NetDial that dials whichever address the test set
// last, or fails while it is "".
type redirect struct {
	mu     sync.Mutex
	target string
}

func (r *redirect) set(addr string) {
	r.mu.Lock()
	r.target = addr
	r.mu.Unlock()
}

func (r *redirect) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	r.mu.Lock()
	target := r.target
	r.mu.Unlock()
	if target == "" {
		return nil, errors.New("no node to dial")
	}
	var d net.Dialer
	return d.DialContext(ctx, network, target)
}

// kill -9 of the node a generated client is on: the client reconnects by
// itself, to another node, resumes there with its login, and gets what
// was said while it was away once each, in the order everyone got it.
func TestClusterClientFollowsAKilledNode(t *testing.T) {
	t.Parallel()
	nodes, redis := cluster(t, 2, 30*time.Second)
	bob := join(t, nodes[1].addr, duplexclient.Options{})
	bob.login(t, "bob")
	bob.event(t, "joined bob: bob")
	to := &redirect{target: nodes[0].addr}
	startOvers := make(chan string, 1)
	ann := join(t, nodes[0].addr, duplexclient.Options{
		Dialer:      ws.Dialer{NetDial: to.dial},
		BackoffBase: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		OnStartOver: func(reason string) { startOvers <- reason },
	})
	ann.login(t, "ann")
	ann.event(t, "joined ann: ann,bob")
	bob.event(t, "joined ann: ann,bob")

	say := func(m *member, content string) {
		t.Helper()
		if err := m.User(bounded(t), &chat.UserArgs{Content: content}); err != nil {
			t.Fatalf("say %q: %v", content, err)
		}
	}
	const n = 10
	for i := range n {
		say(bob, fmt.Sprintf("before %d", i))
	}
	var order []string // as bob got them
	for range n {
		order = append(order, <-bob.events)
	}
	for _, want := range order {
		ann.event(t, want)
	}
	checkpointed(t, redis, "ann", 1+n) // her node wrote down what it numbered
	to.set("")                         // nowhere to go until bob has talked
	nodes[0].kill()
	for i := range n {
		say(bob, fmt.Sprintf("while away %d", i))
	}
	var away []string
	for range n {
		away = append(away, <-bob.events)
	}
	to.set(nodes[1].addr)
	for _, want := range away {
		ann.event(t, want)
	}
	say(ann, "back") // still logged in
	for _, m := range []*member{ann, bob} {
		m.event(t, "said ann: back")
	}
	select {
	case e := <-ann.events:
		t.Fatalf("ann got %q, want nothing more (each event once)", e)
	case e := <-bob.events:
		t.Fatalf("bob got %q, want nothing (no left)", e)
	case r := <-startOvers:
		t.Fatalf("start-over (%s), want the session resumed", r)
	case <-time.After(300 * time.Millisecond):
	}
}
