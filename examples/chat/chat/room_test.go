package chat_test

// The room over real TCP: a runtime server with the generated Register
// and the Room's hooks, driven by gobwas/ws clients speaking the wire
// protocol (docs/protocol.md) frame by frame.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/duplexrpc/duplex/examples/chat/chat"
	"github.com/duplexrpc/duplex/runtime"
)

// start serves a fresh room on loopback with o (Handler set here, the
// room's hooks added to o's) and returns its address and server.
func start(t *testing.T, o runtime.Options) (string, *runtime.Server) {
	t.Helper()
	room := chat.NewRoom()
	router := runtime.NewRouter()
	chat.Register(router, room)
	o.Handler = router
	o.Hooks = room.Hooks(o.Hooks)
	srv, err := runtime.New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return ln.Addr().String(), srv
}

// online returns who is online in the room of srv.
func online(t *testing.T, srv *runtime.Server) []string {
	t.Helper()
	users, err := chat.Online(t.Context(), srv)
	if err != nil {
		t.Fatal(err)
	}
	return users
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

// readBound bounds a wait for the next frame: only a failure waits that
// long, so it is generous for a loaded machine and for events that cross
// processes (cluster_test.go).
const readBound = 20 * time.Second

type client struct {
	t     *testing.T
	nc    net.Conn
	id    int64
	token string
	seq   int64
	held  []frame  // events read while waiting for a reply, for next
	seen  int64    // the seq of the last event next returned
	left  []string // names of the left events readSaid passed over
}

// dial connects and says hello (resuming token at seq, when token is set).
func dial(t *testing.T, addr, token string, seq int64) (*client, frame) {
	t.Helper()
	nc, _, _, err := ws.Dialer{Protocols: []string{"duplex.v1+json"}, Timeout: 5 * time.Second}.Dial(context.Background(), "ws://"+addr+"/ws")
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	c := &client{t: t, nc: nc}
	hello := `{"hello":{}}`
	if token != "" {
		hello = fmt.Sprintf(`{"hello":{"resume":%q,"seq":%d}}`, token, seq)
	}
	c.send(hello)
	w := c.next()
	if w.Welcome == nil {
		t.Fatalf("got %+v, want the welcome", w)
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

// next returns the next frame: an event held by call, or a fresh read
// (which answers pings on the way, as browsers do).
func (c *client) next() frame {
	c.t.Helper()
	f := c.read
	if len(c.held) > 0 {
		f = c.heldFrame
	}
	fr := f()
	if fr.Event != "" {
		c.seen = fr.Seq
	}
	return fr
}

func (c *client) heldFrame() frame {
	f := c.held[0]
	c.held = c.held[1:]
	return f
}

func (c *client) read() frame {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(readBound))
	data, err := wsutil.ReadServerText(c.nc)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		c.t.Fatalf("frame %s: %v", data, err)
	}
	if f.Event != "" {
		c.seq = f.Seq
	}
	return f
}

// call makes a call and returns its reply; events that come first are
// held for next.
func (c *client) call(name, args string) frame {
	c.t.Helper()
	c.id++
	c.send(fmt.Sprintf(`{"id":%d,"call":%q,"args":%s}`, c.id, name, args))
	return c.reply()
}

// reply returns the reply to the last call sent; events that come first
// are held for next.
func (c *client) reply() frame {
	c.t.Helper()
	for {
		f := c.read()
		if f.Event != "" {
			c.held = append(c.held, f)
			continue
		}
		if f.ID != c.id {
			c.t.Fatalf("got %+v, want the reply to %d", f, c.id)
		}
		return f
	}
}

// ok makes a call that must succeed and returns its result.
func (c *client) ok(name, args string) string {
	c.t.Helper()
	r := c.call(name, args)
	if r.Error != nil {
		c.t.Fatalf("%s %s: %s: %s", name, args, r.Error.Code, r.Error.Message)
	}
	return string(r.Result)
}

// fails makes a call that must fail with code, and returns its message.
func (c *client) fails(name, args, code string) string {
	c.t.Helper()
	r := c.call(name, args)
	if r.Error == nil || r.Error.Code != code {
		c.t.Fatalf("%s %s: got %s %+v, want error %s", name, args, r.Result, r.Error, code)
	}
	return r.Error.Message
}

// event reads frames until an event and checks it is name with data want.
func (c *client) event(name, want string) {
	c.t.Helper()
	f := c.next()
	if f.Event != name || !sameJSON(f.Data, want) {
		c.t.Fatalf("got event %q %s (%+v), want %s %s", f.Event, f.Data, f, name, want)
	}
}

// sameJSON reports whether got and want are the same JSON value (the
// encoder escapes <, > and & where a hand-written want does not).
func sameJSON(got json.RawMessage, want string) bool {
	var g, w any
	return json.Unmarshal(got, &g) == nil && json.Unmarshal([]byte(want), &w) == nil && reflect.DeepEqual(g, w)
}

// quiet checks that nothing arrives within d.
func (c *client) quiet(d time.Duration) {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	data, err := wsutil.ReadServerText(c.nc)
	if err == nil {
		c.t.Fatalf("got %s, want nothing", data)
	}
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		c.t.Fatalf("read: %v, want a timeout", err)
	}
}

// leftCount reads events until quiet and counts the left events for name.
func leftCount(c *client, name string) int {
	c.t.Helper()
	n := 0
	for _, f := range c.held {
		if f.Event == "left" && strings.Contains(string(f.Data), fmt.Sprintf(`"name":%q`, name)) {
			n++
		}
	}
	c.held = nil
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		data, err := wsutil.ReadServerText(c.nc)
		if err != nil {
			return n
		}
		var f frame
		_ = json.Unmarshal(data, &f)
		if f.Event == "left" && strings.Contains(string(f.Data), fmt.Sprintf(`"name":%q`, name)) {
			n++
		}
	}
}

// Each way out of the room says left exactly once.
func TestLeftExactlyOnce(t *testing.T) {
	ways := map[string]func(t *testing.T, c *client){
		"logout": func(t *testing.T, c *client) {
			c.ok("logout", `{}`)
			c.fails("logout", `{}`, "not_logged_in")
		},
		"logout then close": func(t *testing.T, c *client) {
			c.ok("logout", `{}`)
			_ = wsutil.WriteClientMessage(c.nc, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
		},
		"client close 1000": func(t *testing.T, c *client) {
			_ = wsutil.WriteClientMessage(c.nc, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))
		},
		"shutdown": func(t *testing.T, c *client) {
			c.ok("shutdown", `{}`)
			_, err := wsutil.ReadServerText(c.nc) // the close frame, answered by wsutil
			var closed wsutil.ClosedError
			if !errors.As(err, &closed) || closed.Code != ws.StatusNormalClosure {
				t.Errorf("after shutdown's reply: %v, want close 1000", err)
			}
		},
		"dropped, resume window passes": func(t *testing.T, c *client) {
			_ = c.nc.Close()
		},
		"dead, noticed by the health check": func(t *testing.T, c *client) {
			// Nothing reads c from now on: the server's pings go unanswered.
		},
	}
	for name, leave := range ways {
		t.Run(name, func(t *testing.T) {
			// The watcher answers pings only while it reads (leftCount):
			// the PingTimeout leaves it, on a loaded machine, time to get
			// there. The deadline only bounds a failure.
			addr, srv := start(t, runtime.Options{
				ResumeWindow: 200 * time.Millisecond,
				PingInterval: 300 * time.Millisecond,
				PingTimeout:  time.Second,
			})
			watcher, _ := dial(t, addr, "", 0)
			ann, _ := dial(t, addr, "", 0)
			ann.ok("login", `{"name":"ann"}`)
			ann.next() // joined
			leave(t, ann)
			deadline := time.Now().Add(10 * time.Second)
			n := 0
			for time.Now().Before(deadline) && n == 0 {
				n += leftCount(watcher, "ann")
			}
			n += leftCount(watcher, "ann")
			if n != 1 {
				t.Errorf("%d left events for ann, want 1", n)
			}
			if users := online(t, srv); len(users) != 0 {
				t.Errorf("online %v, want nobody", users)
			}
		})
	}
}

// A connection that drops and resumes its session within the window keeps
// the login: no left, no joined, and the events missed meanwhile come
// with the welcome.
func TestResumeKeepsLogin(t *testing.T) {
	closed := make(chan struct{}, 4)
	addr, srv := start(t, runtime.Options{
		ResumeWindow: time.Minute,
		Hooks:        runtime.Hooks{OnClose: func(*runtime.Conn, *runtime.CloseError) { closed <- struct{}{} }},
	})
	watcher, _ := dial(t, addr, "", 0)
	ann, _ := dial(t, addr, "", 0)
	ann.ok("login", `{"name":"ann"}`)
	ann.event("joined", `{"name":"ann","users":["ann"]}`)
	watcher.event("joined", `{"name":"ann","users":["ann"]}`)
	_ = ann.nc.Close() // dropped, without a close frame
	select {
	case <-closed: // detached: OnClose runs after the detach
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not notice the dropped connection")
	}

	bob, _ := dial(t, addr, "", 0)
	bob.ok("login", `{"name":"bob"}`)
	bob.ok("user", `{"content":"where is ann?"}`)
	watcher.event("joined", `{"name":"bob","users":["ann","bob"]}`)
	watcher.event("said", `{"from":"bob","content":"where is ann?"}`)

	back, w := dial(t, addr, ann.token, ann.seq)
	if !w.Welcome.Resumed {
		t.Fatalf("welcome %+v, want resumed", w.Welcome)
	}
	back.event("joined", `{"name":"bob","users":["ann","bob"]}`)
	back.event("said", `{"from":"bob","content":"where is ann?"}`)
	back.ok("user", `{"content":"here"}`) // still logged in
	back.event("said", `{"from":"ann","content":"here"}`)
	watcher.event("said", `{"from":"ann","content":"here"}`)
	watcher.quiet(300 * time.Millisecond) // no left, no joined
	if got := strings.Join(online(t, srv), ","); got != "ann,bob" {
		t.Errorf("online %s", got)
	}
}
