package chat_test

// The chat as a real cluster: a real redis-server and three chat processes
// (the command of examples/chat, built once per test run, each with
// -redis), driven by the tests' WebSocket clients (room_test.go). What is
// checked is what docs/engine.md promises across processes: broadcast and
// presence on every node, one winner per claim, a resume on another node
// (also after kill -9 of the first) with its missed events replayed once,
// in order, without a seq gap, and a dead node's sessions ending once.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/duplexrpc/duplex/internal/redistest"
)

// chatBinary is the chat command, built once per test run by
// buildChat into binDir (TestMain removes it).
var (
	binDir     string
	buildOnce  sync.Once
	chatBinary string
	buildErr   error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildChat builds the chat command (go build -o) on the first call.
func buildChat(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "chat-cluster-")
		if buildErr != nil {
			return
		}
		chatBinary = filepath.Join(binDir, "chat")
		out, err := exec.Command("go", "build", "-o", chatBinary, "github.com/duplexrpc/duplex/examples/chat").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build examples/chat: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return chatBinary
}

// node is one chat process of a cluster.
type node struct {
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	out    *syncBuffer // its stderr, logged when the test fails
}

// syncBuffer is a strings.Builder safe for a process's writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// cluster starts a redis-server and n chat nodes on it, each on a free
// port with the resume window given, and waits until every node's
// /readyz answers 200. Everything is stopped by its pid at the end of the
// test.
func cluster(t *testing.T, n int, window time.Duration) ([]*node, *redistest.Server) {
	t.Helper()
	bin := buildChat(t)
	redis := redistest.Start(t)
	nodes := make([]*node, n)
	for i := range nodes {
		nodes[i] = startNode(t, bin, fmt.Sprintf("node %c", 'A'+i), "-redis", redis.URL(), "-resume-window", window.String())
	}
	return nodes, redis
}

// checkpointed waits until the session record in redis of the user logged
// in as name (docs/engine.md, "The Redis engine": the JSON at
// {duplex}:s:<hash>) has a checkpoint at seq or later: its node numbered
// that many events and wrote so.
func checkpointed(t *testing.T, redis *redistest.Server, name string, seq int64) {
	t.Helper()
	deadline := time.Now().Add(readBound)
	for {
		for _, key := range strings.Fields(redis.Do("--scan", "--pattern", "{duplex}:s:*")) {
			var rec struct {
				Attrs map[string]string
				Seq   int64
			}
			if json.Unmarshal([]byte(redis.Do("GET", key)), &rec) == nil && rec.Attrs["chat.name"] == name && rec.Seq >= seq {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no record of %s checkpointed at seq %d within %v", name, seq, readBound)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startNode starts the chat at bin on a port the kernel picks (-addr
// 127.0.0.1:0, read back from the line it prints) and waits until it is
// ready.
func startNode(t *testing.T, bin, name string, args ...string) *node {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	nd := &node{cmd: cmd, exited: make(chan struct{}), out: &syncBuffer{}}
	cmd.Stderr = nd.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		nd.kill()
		if t.Failed() {
			t.Logf("%s (%s) stderr:\n%s", name, nd.addr, nd.out)
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			// chat: listening on 127.0.0.1:PORT: open http://...
			if rest, ok := strings.CutPrefix(sc.Text(), "chat: listening on "); ok {
				a, _, _ := strings.Cut(rest, ": ")
				addr <- a
			}
		}
		_ = cmd.Wait()
		close(nd.exited)
	}()
	select {
	case nd.addr = <-addr:
	case <-nd.exited:
		t.Fatalf("%s exited: %s", name, nd.out)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not listen within 30 s: %s", name, nd.out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + nd.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nd
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 30 s (%v): %s", name, err, nd.out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill kills the node's process (SIGKILL, by its pid: kill -9) and waits
// until it is gone. Repeated calls do nothing.
func (nd *node) kill() {
	_ = nd.cmd.Process.Kill()
	<-nd.exited
}

// said is the data of a said event, as the tests write it.
func said(from, content string) string {
	return fmt.Sprintf(`{"from":%q,"content":%q}`, from, content)
}

// says sends one user call per content without waiting for the replies,
// which readSaid collects.
func (c *client) says(contents ...string) {
	c.t.Helper()
	for _, s := range contents {
		c.id++
		c.send(fmt.Sprintf(`{"id":%d,"call":"user","args":{"content":%q}}`, c.id, s))
	}
}

// readSaid reads n said events and replies replies to its says, which must
// succeed; it returns the events' data in order. Every event is numbered
// one above the event before it (the first one above the client's seq); a
// left event on the way is noted in c.left, any other fails the test.
func readSaid(c *client, n, replies int) []string {
	c.t.Helper()
	var got []string
	last := c.seen
	for len(got) < n || replies > 0 {
		f := c.next()
		if f.Event != "" {
			if f.Seq != last+1 {
				c.t.Fatalf("event %s with seq %d after %d: %s", f.Event, f.Seq, last, f.Data)
			}
			last = f.Seq
		}
		switch {
		case f.Event == "said":
			got = append(got, compact(f.Data))
		case f.Event == "left":
			var e struct{ Name string }
			_ = json.Unmarshal(f.Data, &e)
			c.left = append(c.left, e.Name)
		case f.Event != "":
			c.t.Fatalf("got event %s %s, want said", f.Event, f.Data)
		default:
			if f.Error != nil {
				c.t.Fatalf("reply %d: %s: %s", f.ID, f.Error.Code, f.Error.Message)
			}
			replies--
		}
	}
	if len(got) > n {
		c.t.Fatalf("%d said events, want %d: %v", len(got), n, got)
	}
	return got
}

// compact rewrites a said event's data as said writes it, so that the
// server's and the tests' texts compare.
func compact(data []byte) string {
	var e struct{ From, Content string }
	if err := json.Unmarshal(data, &e); err != nil {
		return string(data)
	}
	return said(e.From, e.Content)
}

// drain reads a client's frames until its connection breaks (its node was
// killed, or it was closed) and returns the said events' data read on the
// way; their seqs follow each other and the client's seq is the last one.
func drain(c *client) []string {
	c.t.Helper()
	var got []string
	for {
		_ = c.nc.SetReadDeadline(time.Now().Add(readBound))
		data, err := wsutil.ReadServerText(c.nc)
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection still open after %v", readBound)
			}
			return got
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			c.t.Fatalf("frame %s: %v", data, err)
		}
		if f.Event == "" {
			continue
		}
		if f.Seq != c.seq+1 {
			c.t.Fatalf("event with seq %d after %d: %s", f.Seq, c.seq, data)
		}
		c.seq, c.seen = f.Seq, f.Seq
		if f.Event == "said" {
			got = append(got, compact(f.Data))
		}
	}
}

// resume dials addr resuming c's session at c's seq, and checks that the
// welcome says resumed.
func resume(t *testing.T, addr string, c *client) *client {
	t.Helper()
	back, w := dial(t, addr, c.token, c.seq)
	if !w.Welcome.Resumed {
		t.Fatalf("resume on %s at seq %d: welcome %+v, want resumed", addr, c.seq, w.Welcome)
	}
	back.seq, back.seen = c.seq, c.seq
	return back
}

func messages(from string, n int) []string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf("%s %d", from, i)
	}
	return m
}

func saids(from string, contents []string) []string {
	s := make([]string, len(contents))
	for i, c := range contents {
		s[i] = said(from, c)
	}
	return s
}

// sameSet reports whether a and b hold the same strings, as many times
// each.
func sameSet(a, b []string) bool {
	return sameList(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

func sameList(a, b []string) bool {
	return strings.Join(a, "\n") == strings.Join(b, "\n")
}

// Logins on three nodes see who is online on every node, and what is said
// on any node reaches everyone on every node once, in one order: three
// users say things at once, each on their node, and all three get the
// same sequence with every message in it once, numbered without a gap.
func TestClusterBroadcastAndPresence(t *testing.T) {
	t.Parallel()
	nodes, _ := cluster(t, 3, 30*time.Second)
	names := []string{"ann", "bob", "cat"}
	clients := make([]*client, 3)
	for i, name := range names {
		clients[i], _ = dial(t, nodes[i].addr, "", 0)
		want := fmt.Sprintf(`{"users":[%s]}`, `"`+strings.Join(names[:i+1], `","`)+`"`)
		if got := clients[i].ok("login", fmt.Sprintf(`{"name":%q}`, name)); !sameJSON([]byte(got), want) {
			t.Fatalf("login %s on node %d: %s, want %s", name, i, got, want)
		}
		joined := fmt.Sprintf(`{"name":%q,"users":[%s]}`, name, `"`+strings.Join(names[:i+1], `","`)+`"`)
		for _, c := range clients[:i+1] {
			c.event("joined", joined)
		}
	}

	const each = 30
	for i, c := range clients {
		c.says(messages(names[i], each)...)
	}
	var order []string
	for i, c := range clients {
		got := readSaid(c, 3*each, each)
		if i == 0 {
			order = got
		} else if !sameList(got, order) {
			t.Errorf("%s got the messages in another order than %s:\n%v\n%v", names[i], names[0], got, order)
		}
	}
	// Every message is there once (a connection's calls run concurrently:
	// the order of one sender's messages is the server's).
	var sent []string
	for _, name := range names {
		sent = append(sent, saids(name, messages(name, each))...)
	}
	if !sameSet(order, sent) {
		t.Errorf("messages received:\n%v\nwant each of\n%v", order, sent)
	}
	for _, c := range clients {
		c.quiet(300 * time.Millisecond) // nothing twice
	}
}

// Two logins of one name on two nodes at the same moment: exactly one
// wins, every time. The winner logs out before the next round.
func TestClusterConcurrentClaims(t *testing.T) {
	t.Parallel()
	nodes, _ := cluster(t, 2, 30*time.Second)
	a, _ := dial(t, nodes[0].addr, "", 0)
	b, _ := dial(t, nodes[1].addr, "", 0)
	const rounds = 30
	wins := [2]int{}
	for round := range rounds {
		name := fmt.Sprintf("u%d", round%3) // names come back after a logout
		login := fmt.Sprintf(`{"name":%q}`, name)
		frames := make([]string, 2)
		for i, c := range []*client{a, b} {
			c.id++
			frames[i] = fmt.Sprintf(`{"id":%d,"call":"login","args":%s}`, c.id, login)
		}
		var (
			start = make(chan struct{})
			wg    sync.WaitGroup
			errs  [2]error
		)
		for i, c := range []*client{a, b} {
			wg.Go(func() {
				<-start
				errs[i] = wsutil.WriteClientText(c.nc, []byte(frames[i]))
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs[:]...); err != nil {
			t.Fatal(err)
		}
		won := -1
		for i, c := range []*client{a, b} {
			r := c.reply()
			switch {
			case r.Error == nil && won == -1:
				won = i
			case r.Error == nil:
				t.Fatalf("round %d: both logins of %s won", round, name)
			case r.Error.Code != "name_taken":
				t.Fatalf("round %d: login %s: %s: %s", round, name, r.Error.Code, r.Error.Message)
			}
		}
		if won == -1 {
			t.Fatalf("round %d: no login of %s won", round, name)
		}
		wins[won]++
		[]*client{a, b}[won].ok("logout", `{}`)
	}
	t.Logf("wins per node over %d rounds: %v", rounds, wins)
}

// A client whose connection dropped resumes on another node while another
// user talks: the welcome says resumed, the messages it missed come once,
// in order, numbered on from what it saw, and it is still logged in; nobody
// sees it leave or join.
func TestClusterResumeOnAnotherNode(t *testing.T) {
	t.Parallel()
	nodes, _ := cluster(t, 3, 30*time.Second)
	ann, _ := dial(t, nodes[0].addr, "", 0)
	bob, _ := dial(t, nodes[1].addr, "", 0)
	cat, _ := dial(t, nodes[2].addr, "", 0)
	clients := []*client{ann, bob, cat}
	for i, name := range []string{"ann", "bob", "cat"} {
		clients[i].ok("login", fmt.Sprintf(`{"name":%q}`, name))
		for _, c := range clients {
			c.next() // joined
		}
	}

	// bob talks; ann drops her connection in the middle of it.
	const n = 20
	sent := messages("bob", n)
	bob.says(sent...)
	seen := readSaid(ann, 5, 0)
	_ = ann.nc.Close()
	order := readSaid(bob, n, n) // calls run concurrently: this is the order
	if !sameSet(order, saids("bob", sent)) {
		t.Fatalf("bob's messages as bob got them: %v", order)
	}

	// cat talks once ann resumed: the replay, then the live events, in one
	// order with everyone's.
	back := resume(t, nodes[1].addr, ann)
	cat.says(messages("cat", n)...)
	all := readSaid(cat, 2*n, n)
	if !sameList(all[:n], order) || !sameSet(all[n:], saids("cat", messages("cat", n))) {
		t.Fatalf("cat got\n%v\nbob got\n%v", all, order)
	}
	rest := readSaid(back, 2*n-len(seen), 0) // the replay, then live: seqs follow ann's
	if got := append(seen, rest...); !sameList(got, all) {
		t.Errorf("ann got, before and after the resume:\n%v\ncat got\n%v", got, all)
	}
	back.fails("login", `{"name":"ann"}`, "already_logged_in")
	back.ok("user", `{"content":"back"}`)
	if got := readSaid(bob, n, 0); !sameList(got, all[n:]) {
		t.Errorf("bob got\n%v\ncat got\n%v", got, all[n:])
	}
	for _, c := range []*client{back, bob, cat} {
		if got := readSaid(c, 1, 0); got[0] != said("ann", "back") {
			t.Errorf("got %s, want ann's back", got[0])
		}
		c.quiet(300 * time.Millisecond) // no left, no joined, nothing twice
	}
}

// A resume while the old connection is still open on another node takes
// the session over: the old connection is closed with 4001, the new one
// has the session, logged in.
func TestClusterTakeover(t *testing.T) {
	t.Parallel()
	nodes, _ := cluster(t, 2, 30*time.Second)
	ann, _ := dial(t, nodes[0].addr, "", 0)
	ann.ok("login", `{"name":"ann"}`)
	ann.event("joined", `{"name":"ann","users":["ann"]}`)
	bob, _ := dial(t, nodes[1].addr, "", 0)
	bob.ok("login", `{"name":"bob"}`)
	ann.event("joined", `{"name":"bob","users":["ann","bob"]}`)
	bob.event("joined", `{"name":"bob","users":["ann","bob"]}`)

	back := resume(t, nodes[1].addr, ann)
	checkClosed(t, ann, 4001, "session taken over")
	back.ok("user", `{"content":"moved"}`)
	for _, c := range []*client{back, bob} {
		if got := readSaid(c, 1, 0); got[0] != said("ann", "moved") {
			t.Errorf("got %s, want ann's moved", got[0])
		}
		c.quiet(300 * time.Millisecond) // no left
	}
}

// kill -9 of a node: its clients resume on the other nodes with their
// logins and the messages they missed (some published while the node died),
// once, in order, without a gap; the session of its that nobody resumes
// ends once in the cluster, one resume window after the kill or later:
// every other client sees one left, and the name is free again.
func TestClusterNodeKilled(t *testing.T) {
	t.Parallel()
	const window = 3 * time.Second
	nodes, redis := cluster(t, 3, window)
	a, b, c := nodes[0], nodes[1], nodes[2]
	bob, _ := dial(t, b.addr, "", 0)
	bob.ok("login", `{"name":"bob"}`)
	cat, _ := dial(t, c.addr, "", 0)
	cat.ok("login", `{"name":"cat"}`)
	var onA []*client
	for _, name := range []string{"ann", "amy", "bea"} {
		cl, _ := dial(t, a.addr, "", 0)
		cl.ok("login", fmt.Sprintf(`{"name":%q}`, name))
		onA = append(onA, cl)
	}
	ann, amy, bea := onA[0], onA[1], onA[2]
	all := []*client{bob, cat, ann, amy, bea}
	// Everyone has seen every login: the last one.
	for _, cl := range all {
		for {
			f := cl.next()
			if f.Event == "joined" && strings.Contains(string(f.Data), `"name":"bea"`) {
				break
			}
		}
	}

	// bob talks. ann processes 3 messages and no more (what else reached
	// her socket is not processed): her record's checkpoint, refreshed
	// by A, is past what she saw, and her resume must read back from it.
	// amy reads until her connection breaks.
	const n = 40
	sent := messages("bob", n)
	bob.says(sent...)
	seen := readSaid(ann, 3, 0)
	checkpointed(t, redis, "ann", ann.seen+n-3)
	a.kill()
	killed := time.Now()
	seenAmy := drain(amy)
	// The resumes come after the publishes: events that reach a resuming
	// connection's fresh session before the server read its hello would
	// come before the welcome (see docs/protocol.md).
	order := readSaid(bob, n, n)
	if got := readSaid(cat, n, 0); !sameList(got, order) || !sameSet(order, saids("bob", sent)) {
		t.Fatalf("cat got\n%v\nbob got\n%v", got, order)
	}
	annB := resume(t, b.addr, ann)
	amyC := resume(t, c.addr, amy)
	for _, r := range []struct {
		who  string
		cl   *client
		seen []string
	}{{"ann", annB, seen}, {"amy", amyC, seenAmy}} {
		rest := readSaid(r.cl, n-len(r.seen), 0)
		if got := append(r.seen, rest...); !sameList(got, order) {
			t.Errorf("%s got, before the kill and after the resume:\n%v\nbob got\n%v", r.who, got, order)
		}
		r.cl.fails("login", fmt.Sprintf(`{"name":%q}`, r.who), "already_logged_in")
	}
	annB.ok("user", `{"content":"ann back"}`)
	amyC.ok("user", `{"content":"amy back"}`)
	alive := []*client{bob, cat, annB, amyC}
	for _, cl := range alive {
		got := readSaid(cl, 2, 0)
		if !sameList(got, []string{said("ann", "ann back"), said("amy", "amy back")}) &&
			!sameList(got, []string{said("amy", "amy back"), said("ann", "ann back")}) {
			t.Errorf("got %v, want ann's and amy's back", got)
		}
	}

	// bea's session ends once in the cluster, after the window: one left,
	// which may have come at any point since the resumes.
	for _, cl := range alive {
		if len(cl.left) == 0 {
			cl.event("left", `{"name":"bea","users":["amy","ann","bob","cat"]}`)
		} else if !slices.Equal(cl.left, []string{"bea"}) {
			t.Errorf("left events for %v, want one for bea", cl.left)
		}
	}
	if since := time.Since(killed); since < window {
		t.Errorf("bea left %v after the kill, within the resume window %v", since, window)
	}
	newBea, _ := dial(t, c.addr, "", 0)
	newBea.ok("login", `{"name":"bea"}`)
	for _, cl := range alive {
		cl.event("joined", `{"name":"bea","users":["amy","ann","bea","bob","cat"]}`)
		cl.quiet(300 * time.Millisecond) // no other left
	}
}
