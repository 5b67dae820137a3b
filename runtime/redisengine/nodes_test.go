package redisengine_test

// Engine faults at the level of runtime.Server nodes: several servers in
// this process, each a node of its own redisengine.New on one real
// redis-server, serving the chat example's room to real clients over
// loopback (docs/engine.md, "Faults at the server level").

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/duplexrpc/duplex/examples/chat/chat"
	"github.com/duplexrpc/duplex/internal/redistest"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// node is one chat server on its own Redis engine node.
type node struct {
	addr string
	srv  *runtime.Server

	mu       sync.Mutex
	errs     []error            // reported to Hooks.OnError
	sessions []*runtime.Session // opened, in order
}

// engineTimeout is the nodes' engine timeout: shorter than the default so
// that the tests wait less, the bound they check is the same mechanism.
const engineTimeout = time.Second

func startNode(t *testing.T, rs *redistest.Server) *node {
	t.Helper()
	eng, err := redisengine.New(rs.URL(), redisengine.Options{Timeout: engineTimeout})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{}
	room := chat.NewRoom()
	router := runtime.NewRouter()
	chat.Register(router, room)
	srv, err := runtime.New(runtime.Options{
		Handler:      router,
		Engine:       eng,
		ResumeWindow: time.Minute,
		Hooks: room.Hooks(runtime.Hooks{
			OnError: func(_ *runtime.Conn, err error) {
				n.mu.Lock()
				n.errs = append(n.errs, err)
				n.mu.Unlock()
			},
			OnOpen: func(c *runtime.Conn) {
				n.mu.Lock()
				n.sessions = append(n.sessions, runtime.SessionOf(c))
				n.mu.Unlock()
			},
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	n.addr, n.srv = ln.Addr().String(), srv
	return n
}

// reported returns the errors reported so far.
func (n *node) reported() []error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.errs)
}

// online returns who is online as n sees it, or the error.
func (n *node) online() ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return chat.Online(ctx, n.srv)
}

// frame is a server frame as the tests look at it.
type frame struct {
	ID     int64           `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code, Message string
	} `json:"error"`
	Event   string          `json:"event"`
	Seq     int64           `json:"seq"`
	Data    json.RawMessage `json:"data"`
	Welcome *struct {
		Session, Resume, Reason string
		Resumed                 bool
	} `json:"welcome"`
}

// client is a wire-protocol client that keeps the events it reads.
type client struct {
	t      *testing.T
	nc     net.Conn
	id     int64
	token  string
	seq    int64
	events []frame
}

// dial connects to addr and says hello (resuming token at seq, when set).
func dial(t *testing.T, addr, token string, seq int64) (*client, frame) {
	t.Helper()
	nc, _, _, err := ws.Dialer{Protocols: []string{"duplex.v1+json"}, Timeout: 5 * time.Second}.Dial(context.Background(), "ws://"+addr+"/ws")
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	c := &client{t: t, nc: nc, seq: seq}
	hello := `{"hello":{}}`
	if token != "" {
		hello = fmt.Sprintf(`{"hello":{"resume":%q,"seq":%d}}`, token, seq)
	}
	c.send(hello)
	w, err := c.read(15 * time.Second)
	if err != nil || w.Welcome == nil {
		t.Fatalf("hello: got %+v, %v, want the welcome", w, err)
	}
	c.token = w.Welcome.Resume
	return c, w
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.nc, []byte(s)); err != nil {
		c.t.Fatalf("send %s: %v", s, err)
	}
}

// read reads one frame within d, keeping events and checking their seq
// follows the last one.
func (c *client) read(d time.Duration) (frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	data, err := wsutil.ReadServerText(c.nc)
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return frame{}, fmt.Errorf("frame %s: %w", data, err)
	}
	if f.Event != "" {
		if f.Seq != c.seq+1 {
			c.t.Errorf("event %s %s: seq %d after %d", f.Event, f.Data, f.Seq, c.seq)
		}
		c.seq = f.Seq
		c.events = append(c.events, f)
	}
	return f, nil
}

// call makes a call and returns its reply and how long it took.
func (c *client) call(name, args string) (frame, time.Duration) {
	c.t.Helper()
	c.id++
	start := time.Now()
	c.send(fmt.Sprintf(`{"id":%d,"call":%q,"args":%s}`, c.id, name, args))
	for {
		f, err := c.read(30 * time.Second)
		if err != nil {
			c.t.Fatalf("%s %s: %v", name, args, err)
		}
		if f.Event == "" && f.Welcome == nil {
			if f.ID != c.id {
				c.t.Fatalf("got %+v, want the reply to %d", f, c.id)
			}
			return f, time.Since(start)
		}
	}
}

// ok makes a call that must succeed.
func (c *client) ok(name, args string) {
	c.t.Helper()
	if r, _ := c.call(name, args); r.Error != nil {
		c.t.Fatalf("%s %s: %s: %s", name, args, r.Error.Code, r.Error.Message)
	}
}

// said returns the contents of the said events read so far.
func (c *client) said() []string {
	var got []string
	for _, f := range c.events {
		if f.Event == "said" {
			var d struct{ Content string }
			_ = json.Unmarshal(f.Data, &d)
			got = append(got, d.Content)
		}
	}
	return got
}

// waitSaid reads until the said events include every one of want, and
// fails on a duplicate.
func (c *client) waitSaid(want ...string) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := c.said()
		seen := map[string]int{}
		for _, s := range got {
			if seen[s]++; seen[s] > 1 {
				c.t.Fatalf("said %q twice: %q", s, got)
			}
		}
		missing := 0
		for _, w := range want {
			if seen[w] == 0 {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("said %q after 20 s, want %q", got, want)
		}
		if _, err := c.read(time.Until(deadline)); err != nil && !isTimeout(err) {
			c.t.Fatalf("read: %v (said %q, want %q)", err, got, want)
		}
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// waitOnline waits until every node sees exactly want online.
func waitOnline(t *testing.T, nodes []*node, want ...string) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range nodes {
		for {
			got, err := n.online()
			if err == nil && slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s: online %q, %v after 20 s, want %q", n.addr, got, err, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// waitReadyServer waits until n's server is ready (or not, with want
// false).
func waitReadyServer(t *testing.T, n *node, want bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for (n.srv.Ready() == nil) != want {
		if time.Now().After(deadline) {
			t.Fatalf("node %s: Ready() = %v after 20 s, want ready %v", n.addr, n.srv.Ready(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A call whose handler needs Redis while it is down is answered
// "unavailable" within a bound of the engine's timeout, the error is
// reported, the connection stays open, and the same calls work once Redis
// is back. A hello meanwhile is welcomed within the same bound.
func TestServerRedisDownUnavailable(t *testing.T) {
	rs := redistest.Start(t, "--save", "", "--appendonly", "yes", "--appendfsync", "always")
	n := startNode(t, rs)
	ada, _ := dial(t, n.addr, "", 0)
	ada.ok("login", `{"name":"ada"}`)

	rs.Stop()
	waitReadyServer(t, n, false)
	// The bound: each engine command within engineTimeout; a handler
	// makes a few. Generous for a loaded machine, far below a hang.
	const bound = 10 * engineTimeout
	for _, c := range []struct{ name, args string }{
		{"user", `{"content":"while down"}`},
		{"logout", `{}`},
	} {
		r, took := ada.call(c.name, c.args)
		if r.Error == nil || r.Error.Code != runtime.CodeUnavailable {
			t.Fatalf("%s while Redis is down: %s %+v, want unavailable", c.name, r.Result, r.Error)
		}
		if took > bound {
			t.Errorf("%s while Redis is down answered after %v, want within %v", c.name, took, bound)
		}
		t.Logf("%s while Redis is down: unavailable after %v", c.name, took)
	}
	// The app's push to a session, outside any handler: the same error,
	// within the same bound.
	n.mu.Lock()
	sess := n.sessions[0]
	n.mu.Unlock()
	start := time.Now()
	if err := sess.Push("said", []byte(`{"from":"app","content":"pushed"}`)); !errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("Push while Redis is down: %v, want ErrUnavailable", err)
	}
	if took := time.Since(start); took > bound {
		t.Errorf("Push while Redis is down returned after %v, want within %v", took, bound)
	}
	// A new connection cannot get its events: closed with 1013 (try
	// again later), within the bound.
	start = time.Now()
	nc, _, _, err := ws.Dialer{Protocols: []string{"duplex.v1+json"}, Timeout: 5 * time.Second}.Dial(context.Background(), "ws://"+n.addr+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = wsutil.WriteClientText(nc, []byte(`{"hello":{}}`))
	_ = nc.SetReadDeadline(time.Now().Add(bound))
	for {
		f, err := ws.ReadFrame(nc)
		if err != nil {
			t.Fatalf("hello while Redis is down: %v after %v, want close 1013", err, time.Since(start))
		}
		if f.Header.OpCode == ws.OpClose {
			if len(f.Payload) < 2 || binary.BigEndian.Uint16(f.Payload) != runtime.CloseTryAgainLater {
				t.Fatalf("hello while Redis is down: closed with %q, want 1013", f.Payload)
			}
			break
		}
	}
	if r, _ := ada.call("login", `{"name":"bob"}`); r.Error == nil || r.Error.Code != "already_logged_in" {
		t.Fatalf("ada's connection after the failures: %s %+v", r.Result, r.Error)
	}
	var unavailable int
	for _, err := range n.reported() {
		if strings.Contains(err.Error(), "redisengine") {
			unavailable++
		}
	}
	if unavailable == 0 {
		t.Errorf("no engine error reported to OnError: %v", n.reported())
	}

	rs.Restart() // with its data: ada is still online
	waitReadyServer(t, n, true)
	bob, _ := dial(t, n.addr, "", 0)
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The first write on each pooled connection may fail with the
		// dead connection's error (docs/engine.md): retried as a client
		// would after "unavailable".
		r, _ := bob.call("login", `{"name":"bob"}`)
		if r.Error == nil {
			break
		}
		if r.Error.Code != runtime.CodeUnavailable || time.Now().After(deadline) {
			t.Fatalf("login after Redis is back: %+v", r.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ada.ok("user", `{"content":"back"}`)
	ada.waitSaid("back")
	bob.waitSaid("back")
	if slices.Contains(ada.said(), "while down") {
		t.Errorf("a message answered unavailable was said: %q", ada.said())
	}
	waitOnline(t, []*node{n}, "ada", "bob")
}

// sayUntil says content through c, again while the answer is
// "unavailable" (the first write on each of a node's pooled connections
// after a restart may fail with the dead connection's error).
func (c *client) sayUntil(content string) {
	c.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, _ := c.call("user", fmt.Sprintf(`{"content":%q}`, content))
		if r.Error == nil {
			return
		}
		if r.Error.Code != runtime.CodeUnavailable || time.Now().After(deadline) {
			c.t.Fatalf("say %q: %+v", content, r.Error)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// threeNodes starts three nodes on rs with ada, bob and cy logged in, one
// on each.
func threeNodes(t *testing.T, rs *redistest.Server) ([]*node, []*client) {
	t.Helper()
	var nodes []*node
	var clients []*client
	for _, name := range []string{"ada", "bob", "cy"} {
		n := startNode(t, rs)
		c, _ := dial(t, n.addr, "", 0)
		c.ok("login", fmt.Sprintf(`{"name":%q}`, name))
		nodes, clients = append(nodes, n), append(clients, c)
	}
	waitOnline(t, nodes, "ada", "bob", "cy")
	return nodes, clients
}

// Redis restarted without its data (a new epoch): every node keeps its
// connections, writes its sessions' records and claims again, so that
// the online list is whole on every node without anyone reconnecting;
// messages flow across nodes again, numbered without a gap, and a resume
// on another node afterwards works.
func TestServerRedisRestartWithoutData(t *testing.T) {
	rs := redistest.Start(t)
	nodes, clients := threeNodes(t, rs)
	clients[0].sayUntil("before")
	for _, c := range clients {
		c.waitSaid("before")
	}

	// The marker proves that the restart lost the data. Presence cannot:
	// the nodes may have re-asserted it before anything here reads it.
	rs.Do("SET", "restart-marker", "1")
	rs.Restart() // empty
	restarted := time.Now()
	if got := rs.Do("EXISTS", "restart-marker"); got != "0" {
		t.Fatalf("the restart kept the data (restart-marker exists: %s)", got)
	}
	waitOnline(t, nodes, "ada", "bob", "cy")
	t.Logf("online list whole on every node %v after the restart", time.Since(restarted))
	for i, c := range clients {
		c.sayUntil(fmt.Sprint("after ", i))
	}
	for _, c := range clients {
		c.waitSaid("before", "after 0", "after 1", "after 2")
	}

	// bob resumes on cy's node, from what he saw.
	bob := clients[1]
	_ = bob.nc.Close()
	// The online list is whole: every record was written before its
	// claims (reassertOne).
	bob2, w := dial(t, nodes[2].addr, bob.token, bob.seq)
	if !w.Welcome.Resumed {
		t.Fatalf("resume after the restart: %+v", w.Welcome)
	}
	clients[0].sayUntil("resumed")
	bob2.waitSaid("resumed")
	waitOnline(t, nodes, "ada", "bob", "cy")

	// bob's claim moved with his session's record: after a second
	// restart without data, cy's node claims his name again.
	rs.Restart()
	waitOnline(t, nodes, "ada", "bob", "cy")
	bob2.sayUntil("twice")
	for _, c := range []*client{clients[0], bob2, clients[2]} {
		c.waitSaid("twice")
	}
}

// The pub/sub connections of every node killed in the middle of
// cross-node messages: each node reconnects and catches up by itself, and
// every client gets every message once, in one numbering without a gap.
func TestServerPubSubKilled(t *testing.T) {
	rs := redistest.Start(t)
	nodes, clients := threeNodes(t, rs)
	var want []string
	for i := range 20 {
		if i == 7 || i == 14 {
			rs.Do("CLIENT", "KILL", "TYPE", "pubsub")
		}
		m := fmt.Sprint("m", i)
		clients[i%3].sayUntil(m)
		want = append(want, m)
	}
	for _, c := range clients {
		c.waitSaid(want...)
	}
	for _, n := range nodes {
		waitReadyServer(t, n, true)
	}
	waitOnline(t, nodes, "ada", "bob", "cy")
}

// DEBUG SLEEP 2 (longer than the engine's timeout) while clients talk
// across nodes: every call is answered within a bound, either said or
// unavailable; every message said reaches everyone once, and delivery
// goes on after the stall. A message answered unavailable may have been
// published anyway (Redis ran it after the stall), but never twice.
func TestServerRedisStall(t *testing.T) {
	rs := redistest.Start(t)
	nodes, clients := threeNodes(t, rs)
	stalled := make(chan struct{})
	go func() {
		defer close(stalled)
		_, _ = exec.Command("redis-cli", "-p", fmt.Sprint(rs.Port), "DEBUG", "SLEEP", "2").CombinedOutput()
	}()
	var said []string
	unavailable := 0
	var slowest time.Duration
	const bound = 10 * engineTimeout
	for i := 0; ; i++ {
		select {
		case <-stalled:
		default:
			m := fmt.Sprint("m", i)
			r, took := clients[i%3].call("user", fmt.Sprintf(`{"content":%q}`, m))
			switch {
			case r.Error == nil:
				said = append(said, m)
			case r.Error.Code == runtime.CodeUnavailable:
				unavailable++
			default:
				t.Fatalf("say %s during the stall: %+v", m, r.Error)
			}
			if took > bound {
				t.Errorf("say %s during the stall answered after %v, want within %v", m, took, bound)
			}
			slowest = max(slowest, took)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		break
	}
	t.Logf("during the stall: %d said, %d unavailable, slowest answer %v", len(said), unavailable, slowest)
	clients[1].sayUntil("after")
	said = append(said, "after")
	for _, c := range clients {
		c.waitSaid(said...) // and none twice
	}
	waitOnline(t, nodes, "ada", "bob", "cy")
}

// Redis restarted with its data (an append-only file synced on every
// write): the nodes reconnect, nothing is lost, nobody's connection ends.
func TestServerRedisRestartWithData(t *testing.T) {
	rs := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	nodes, clients := threeNodes(t, rs)
	clients[0].sayUntil("before")
	rs.Restart()
	for _, n := range nodes {
		waitReadyServer(t, n, true)
	}
	for i, c := range clients {
		c.sayUntil(fmt.Sprint("after ", i))
	}
	for _, c := range clients {
		c.waitSaid("before", "after 0", "after 1", "after 2")
	}
	waitOnline(t, nodes, "ada", "bob", "cy")
	for _, n := range nodes {
		for _, err := range n.reported() {
			if errors.Is(err, runtime.ErrEpochChanged) {
				t.Errorf("node %s: %v after a restart that kept the data", n.addr, err)
			}
		}
	}
}
