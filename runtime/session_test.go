package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// sessionHandler speaks a tiny text protocol so that tests drive sessions
// from the client:
//
//	token            -> the session's resume token
//	id               -> the session ID
//	set:k=v          -> "ok"
//	get:k            -> the value, or "<none>"
//	resume:<token>   -> "ok:<id>" or "err:<error>"
type sessionHandler struct {
	resumed chan *runtime.Session
	errs    chan error
}

func newSessionHandler() *sessionHandler {
	return &sessionHandler{resumed: make(chan *runtime.Session, 10), errs: make(chan error, 10)}
}

func (h *sessionHandler) ServeMessage(c *runtime.Conn, _ runtime.MessageType, data []byte) {
	cmd, arg, _ := strings.Cut(string(data), ":")
	reply := "?"
	s := runtime.SessionOf(c)
	switch cmd {
	case "token":
		reply = s.ResumeToken()
	case "id":
		reply = s.ID()
	case "set":
		k, v, _ := strings.Cut(arg, "=")
		s.Set(k, v)
		reply = "ok"
	case "get":
		v, ok := s.Get(arg)
		if !ok {
			v = "<none>"
		}
		reply = v
	case "resume":
		rs, err := runtime.Resume(c, arg)
		if err != nil {
			h.errs <- err
			reply = "err:" + err.Error()
		} else {
			h.resumed <- rs
			if runtime.SessionOf(c) != rs || rs.Conn() != c {
				reply = "err:session not attached"
			} else {
				reply = "ok:" + rs.ID()
			}
		}
	}
	_ = c.WriteMessage(runtime.TextMessage, []byte(reply))
}

// nextErr returns the next error Resume returned in the handler.
func (h *sessionHandler) nextErr(t testing.TB) error {
	t.Helper()
	return wstest.Recv(t, h.errs, "a Resume error")
}

// nextResumed returns the next session Resume returned in the handler.
func (h *sessionHandler) nextResumed(t testing.TB) *runtime.Session {
	t.Helper()
	return wstest.Recv(t, h.resumed, "a resumed session")
}

// ask sends a command and returns the reply.
func (c *client) ask(cmd string) string {
	c.T.Helper()
	c.Text(cmd)
	return string(c.NextData().Payload)
}

// hangUp closes the connection cleanly with 1001 (going away, as a browser
// leaving a page does), which keeps the session for resume, and waits for
// the server's answer. A client's 1000 would end the session at once.
func (c *client) hangUp() {
	c.T.Helper()
	c.SendClose(1001, "")
	c.ExpectClose()
	c.ExpectEOF(ioTimeout)
}

func TestSessionIDs(t *testing.T) {
	e := start(t, viaListener, runtime.Options{Handler: newSessionHandler()})
	seen := map[string]bool{}
	for range 20 {
		c := dial(t, e.addr)
		id := c.ask("id")
		u, err := uuid.Parse(id)
		if err != nil || u.Version() != 4 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("session ID %q is not a random UUID (%v)", id, err)
		}
		if seen[id] {
			t.Fatalf("duplicate session ID %q", id)
		}
		seen[id] = true
		conn := e.rec.NextOpen(t)
		if runtime.SessionOf(conn).ID() != id || runtime.SessionOf(conn).Conn() != conn {
			t.Fatal("Conn.Session and Session.Conn disagree")
		}
	}
}

func TestSessionAttributes(t *testing.T) {
	e := start(t, viaListener, runtime.Options{Handler: newSessionHandler()})
	c := dial(t, e.addr)
	conn := e.rec.NextOpen(t)
	s := runtime.SessionOf(conn)
	if _, ok := s.Get("missing"); ok {
		t.Error("Get of a missing key reports ok")
	}
	if a := s.Attrs(); len(a) != 0 {
		t.Errorf("fresh session has attributes %v", a)
	}
	s.Set("user", "ann")
	s.Set("role", "admin")
	s.Set("role", "owner")
	s.Set("empty", "")
	if v, ok := s.Get("role"); !ok || v != "owner" {
		t.Errorf("Get(role) = %q, %v", v, ok)
	}
	if v, ok := s.Get("empty"); !ok || v != "" {
		t.Errorf("Get(empty) = %q, %v", v, ok)
	}
	if got := c.ask("get:user"); got != "ann" {
		t.Errorf("the handler sees user=%q", got)
	}
	c.ask("set:lang=fr")
	a := s.Attrs()
	want := map[string]string{"user": "ann", "role": "owner", "empty": "", "lang": "fr"}
	if len(a) != len(want) {
		t.Errorf("Attrs() = %v, want %v", a, want)
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("Attrs()[%s] = %q, want %q", k, a[k], v)
		}
	}
	a["user"] = "mallory" // a copy
	if v, _ := s.Get("user"); v != "ann" {
		t.Error("Attrs() returned the live map")
	}
	s.Delete("user")
	s.Delete("never-set")
	if _, ok := s.Get("user"); ok {
		t.Error("Delete did not delete")
	}
	// Concurrent use.
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := string(rune('a' + i))
			s.Set(k, k)
			_, _ = s.Get(k)
			_ = s.Attrs()
			s.Delete(k)
		}()
	}
	wg.Wait()
}

func TestSessionResume(t *testing.T) {
	for _, m := range readModes {
		t.Run(m.name, func(t *testing.T) {
			h := newSessionHandler()
			e := start(t, viaListener, runtime.Options{Handler: h, DisablePoller: m.disablePoller, ResumeWindow: 2 * time.Second})
			a := dial(t, e.addr)
			connA := e.rec.NextOpen(t)
			sessA := runtime.SessionOf(connA)
			a.ask("set:user=ann")
			token := a.ask("token")
			if !strings.HasPrefix(token, sessA.ID()+".") {
				t.Fatalf("token %q does not start with the session ID", token)
			}
			if again := a.ask("token"); again != token {
				t.Errorf("ResumeToken changed while attached: %q then %q", token, again)
			}
			a.hangUp()
			e.rec.NextClose(t)
			if sessA.Conn() != nil {
				t.Error("detached session still reports a connection")
			}
			select {
			case s := <-e.rec.ended:
				t.Fatalf("session %s ended at disconnect despite the resume window", s.ID())
			case <-time.After(50 * time.Millisecond):
			}

			b := dial(t, e.addr)
			connB := e.rec.NextOpen(t)
			fresh := runtime.SessionOf(connB)
			if got := b.ask("resume:" + token); got != "ok:"+sessA.ID() {
				t.Fatalf("resume: %q", got)
			}
			if rs := h.nextResumed(t); rs != sessA {
				t.Error("resume on the same process returned a different *Session")
			}
			if runtime.SessionOf(connB) != sessA || sessA.Conn() != connB {
				t.Error("the resumed session is not attached to the new connection")
			}
			if got := b.ask("get:user"); got != "ann" {
				t.Errorf("attribute after resume: %q", got)
			}
			if ended := e.rec.nextSessionEnd(t); ended != fresh {
				t.Errorf("OnSessionEnd for %s, want the replaced fresh session %s", ended.ID(), fresh.ID())
			}
			if newToken := b.ask("token"); newToken == token {
				t.Error("the token was not renewed after resume")
			}

			// A token works once.
			c := dial(t, e.addr)
			if got := c.ask("resume:" + token); !strings.HasPrefix(got, "err:") {
				t.Errorf("second use of the token: %q", got)
			}
			if err := h.nextErr(t); !errors.Is(err, runtime.ErrSessionNotFound) {
				t.Errorf("second use: %v, want ErrSessionNotFound", err)
			}
			// A failed resume leaves the fresh session in place.
			connC := e.rec.NextOpen(t)
			if got := c.ask("id"); got != runtime.SessionOf(connC).ID() || got == sessA.ID() {
				t.Errorf("session after a failed resume: %q", got)
			}
		})
	}
}

func TestSessionResumeBadTokens(t *testing.T) {
	h := newSessionHandler()
	e := start(t, viaListener, runtime.Options{Handler: h})
	a := dial(t, e.addr)
	connA := e.rec.NextOpen(t)
	token := a.ask("token")
	id := runtime.SessionOf(connA).ID()
	secret := token[len(id)+1:]
	a.hangUp()
	e.rec.NextClose(t) // detached: OnClose runs after the detach

	b := dial(t, e.addr)
	for _, bad := range []string{
		"",
		"garbage",
		".",
		"." + secret,
		id,
		id + ".",
		id + ".wrong",
		id + "." + secret[:len(secret)-1],
		uuid.NewString() + "." + secret, // right secret, wrong ID
		token + "x",
		strings.ToUpper(token),
		strings.ToUpper(id) + "." + secret, // the same ID bytes, not in canonical form
		"{" + id[:len(id)-2] + "}." + secret,
	} {
		if got := b.ask("resume:" + bad); !strings.HasPrefix(got, "err:") {
			t.Errorf("resume(%q) = %q", bad, got)
		}
		if err := h.nextErr(t); !errors.Is(err, runtime.ErrSessionNotFound) {
			t.Errorf("resume(%q): %v, want ErrSessionNotFound", bad, err)
		}
	}
	// The real token still works after all that.
	if got := b.ask("resume:" + token); got != "ok:"+id {
		t.Errorf("resume with the real token: %q", got)
	}
}

func TestSessionResumeWindowExpires(t *testing.T) {
	h := newSessionHandler()
	e := start(t, viaListener, runtime.Options{Handler: h, ResumeWindow: 200 * time.Millisecond})
	a := dial(t, e.addr)
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	token := a.ask("token")
	a.hangUp()
	closedAt := time.Now()
	ended := e.rec.nextSessionEnd(t)
	if ended != sess {
		t.Fatalf("OnSessionEnd for %s, want %s", ended.ID(), sess.ID())
	}
	if d := time.Since(closedAt); d < 150*time.Millisecond {
		t.Errorf("session ended %v after disconnect, before the window", d)
	}
	b := dial(t, e.addr)
	if got := b.ask("resume:" + token); !strings.HasPrefix(got, "err:") {
		t.Errorf("resume after the window: %q", got)
	}
	if err := h.nextErr(t); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("resume after the window: %v, want ErrSessionNotFound", err)
	}
	time.Sleep(100 * time.Millisecond)
	e.rec.Mu.Lock()
	n := e.rec.sessionEnds[sess]
	e.rec.Mu.Unlock()
	if n != 1 {
		t.Errorf("OnSessionEnd called %d times for the expired session", n)
	}
}

// A store that keeps records a little past their expiry (as a Redis store
// with a grace TTL does) reports ErrSessionExpired; the resume attempt
// must end the session exactly once, whoever notices the expiry first.
func TestSessionResumeExpiredRecordEndsOnce(t *testing.T) {
	h := newSessionHandler()
	store := &lateStore{MemoryStore: runtime.NewMemoryStore(), early: 150 * time.Millisecond}
	e := start(t, viaListener, runtime.Options{Handler: h, Store: store, ResumeWindow: 300 * time.Millisecond})
	a := dial(t, e.addr)
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	token := a.ask("token")
	a.hangUp()
	b := dial(t, e.addr)
	time.Sleep(200 * time.Millisecond) // the record has expired, the timer has not fired
	if got := b.ask("resume:" + token); !strings.HasPrefix(got, "err:") {
		t.Fatalf("resume of an expired record: %q", got)
	}
	if err := h.nextErr(t); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("resume: %v, want ErrSessionNotFound", err)
	}
	if ended := e.rec.nextSessionEnd(t); ended != sess {
		t.Errorf("OnSessionEnd for %s", ended.ID())
	}
	time.Sleep(250 * time.Millisecond) // past the timer
	e.rec.Mu.Lock()
	n := e.rec.sessionEnds[sess]
	e.rec.Mu.Unlock()
	if n != 1 {
		t.Errorf("OnSessionEnd called %d times", n)
	}
}

// lateStore is a MemoryStore whose records expire early, as when the
// store's clock runs ahead of this process's.
type lateStore struct {
	*runtime.MemoryStore
	early time.Duration
}

func (s *lateStore) Save(ctx context.Context, key string, rec runtime.SessionRecord) error {
	rec.ExpiresAt = rec.ExpiresAt.Add(-s.early)
	return s.MemoryStore.Save(ctx, key, rec)
}

// With a negative ResumeWindow, sessions end with their connection even
// when a token was handed out.
func TestSessionResumeDisabled(t *testing.T) {
	h := newSessionHandler()
	e := start(t, viaListener, runtime.Options{Handler: h, ResumeWindow: -1})
	a := dial(t, e.addr)
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	token := a.ask("token")
	a.hangUp()
	if ended := e.rec.nextSessionEnd(t); ended != sess {
		t.Fatalf("OnSessionEnd for %s", ended.ID())
	}
	b := dial(t, e.addr)
	if got := b.ask("resume:" + token); !strings.HasPrefix(got, "err:") {
		t.Errorf("resume with the window disabled: %q", got)
	}
	h.nextErr(t)
}

// Without a token ever handed out, nobody can resume: the session ends at
// disconnect.
func TestSessionEndsWithoutToken(t *testing.T) {
	e := start(t, viaListener, runtime.Options{Handler: newSessionHandler(), ResumeWindow: time.Minute})
	a := dial(t, e.addr)
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	a.hangUp()
	if ended := e.rec.nextSessionEnd(t); ended != sess {
		t.Fatalf("OnSessionEnd for %s", ended.ID())
	}
}

// Resume through a shared store from another process (sharing an engine,
// whose events the resume reads): a new *Session with the same ID and
// attributes.
func TestSessionResumeAcrossServers(t *testing.T) {
	store := runtime.NewMemoryStore()
	eng := runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})
	h1, h2 := newSessionHandler(), newSessionHandler()
	e1 := start(t, viaListener, runtime.Options{Handler: h1, Engine: eng, Store: store, ResumeWindow: 300 * time.Millisecond})
	e2 := start(t, viaListener, runtime.Options{Handler: h2, Engine: eng.NewNode(), Store: store})
	a := dial(t, e1.addr)
	sess := runtime.SessionOf(e1.rec.NextOpen(t))
	a.ask("set:cart=3 items")
	token := a.ask("token")
	a.hangUp()
	e1.rec.NextClose(t) // detached: in the store
	b := dial(t, e2.addr)
	if got := b.ask("resume:" + token); got != "ok:"+sess.ID() {
		t.Fatalf("resume on another server: %q", got)
	}
	if rs := h2.nextResumed(t); rs == sess || rs.ID() != sess.ID() {
		t.Error("want a new *Session with the same ID")
	}
	if got := b.ask("get:cart"); got != "3 items" {
		t.Errorf("attribute: %q", got)
	}
	// The first server's expiry timer must not end a session that lives
	// on elsewhere.
	select {
	case s := <-e1.rec.ended:
		if s == sess {
			t.Error("the first server ended a session resumed on the second")
		}
	case <-time.After(500 * time.Millisecond):
	}
}

func TestMemoryStore(t *testing.T) {
	ctx := context.Background()
	m := runtime.NewMemoryStore()
	if _, err := m.Take(ctx, "none"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("Take of a missing key: %v", err)
	}
	attrs := map[string]string{"a": "1"}
	rec := runtime.SessionRecord{ID: "id1", Attrs: attrs, ExpiresAt: time.Now().Add(time.Minute)}
	if err := m.Save(ctx, "k1", rec); err != nil {
		t.Fatal(err)
	}
	attrs["a"] = "changed" // Save keeps its own copy
	if m.Len() != 1 {
		t.Errorf("Len() = %d", m.Len())
	}
	got, err := m.Take(ctx, "k1")
	if err != nil || got.ID != "id1" || got.Attrs["a"] != "1" {
		t.Errorf("Take = %+v, %v", got, err)
	}
	if _, err := m.Take(ctx, "k1"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("second Take: %v, want ErrSessionNotFound", err)
	}
	if m.Len() != 0 {
		t.Errorf("Len() after Take = %d", m.Len())
	}
	// Save replaces.
	_ = m.Save(ctx, "k2", runtime.SessionRecord{ID: "old", ExpiresAt: time.Now().Add(time.Minute)})
	_ = m.Save(ctx, "k2", runtime.SessionRecord{ID: "new", ExpiresAt: time.Now().Add(time.Minute)})
	if got, _ := m.Take(ctx, "k2"); got.ID != "new" {
		t.Errorf("Save did not replace: %q", got.ID)
	}
	// Expiry.
	_ = m.Save(ctx, "k3", runtime.SessionRecord{ID: "short", ExpiresAt: time.Now().Add(30 * time.Millisecond)})
	time.Sleep(50 * time.Millisecond)
	if _, err := m.Take(ctx, "k3"); !errors.Is(err, runtime.ErrSessionExpired) {
		t.Errorf("Take of an expired record: %v, want ErrSessionExpired", err)
	}
	if _, err := m.Take(ctx, "k3"); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("Take after expiry: %v, want ErrSessionNotFound", err)
	}
	// Concurrent Take: exactly one winner.
	_ = m.Save(ctx, "k4", runtime.SessionRecord{ID: "race", ExpiresAt: time.Now().Add(time.Minute)})
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := m.Take(ctx, "k4"); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent Takes succeeded", wins)
	}
}

// slowStore delays Take of an expired record, as a network store does,
// and reports expiry a little early, as a store with a clock running ahead
// does.
type slowStore struct {
	lateStore
	delay time.Duration
}

func (s *slowStore) Take(ctx context.Context, key string) (runtime.SessionRecord, error) {
	rec, err := s.MemoryStore.Take(ctx, key)
	if errors.Is(err, runtime.ErrSessionExpired) {
		time.Sleep(s.delay)
	}
	return rec, err
}

// A resume that finds the record expired while the session's own expiry
// timer fires: one of the two must end the session.
func TestSessionExpiredResumeRacingTimer(t *testing.T) {
	h := newSessionHandler()
	store := &slowStore{lateStore: lateStore{MemoryStore: runtime.NewMemoryStore(), early: 150 * time.Millisecond}, delay: 250 * time.Millisecond}
	e := start(t, viaListener, runtime.Options{Handler: h, Store: store, ResumeWindow: 300 * time.Millisecond})
	a := dial(t, e.addr)
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	token := a.ask("token")
	a.hangUp()
	b := dial(t, e.addr)
	time.Sleep(200 * time.Millisecond) // record expired; timer due at 300ms
	// Take removes the expired record at ~200ms and returns at ~450ms; the
	// timer fires at ~300ms and finds the record gone.
	if got := b.ask("resume:" + token); !strings.HasPrefix(got, "err:") {
		t.Fatalf("resume: %q", got)
	}
	h.nextErr(t)
	select {
	case ended := <-e.rec.ended:
		if ended != sess {
			t.Errorf("OnSessionEnd for %s", ended.ID())
		}
	case <-time.After(ioTimeout):
		t.Fatal("session.go sessions.expire/resume: when a resume's Store.Take returns ErrSessionExpired while the " +
			"expiry timer runs, the timer removes the session from m.detached, its own Take gets ErrSessionNotFound and it " +
			"assumes another process resumed it; resume then finds m.detached empty: OnSessionEnd is never called")
	}
}

// A Store that cannot save ends the session at disconnect and reports
// the error.
func TestSessionStoreSaveFails(t *testing.T) {
	e := start(t, viaListener, runtime.Options{Handler: newSessionHandler(), Store: failingStore{}})
	a := dial(t, e.addr)
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	a.ask("token")
	a.hangUp()
	if ended := e.rec.nextSessionEnd(t); ended != sess {
		t.Errorf("OnSessionEnd for %s", ended.ID())
	}
	if ce := e.rec.NextError(t); !errors.Is(ce.Err, errStoreDown) {
		t.Errorf("OnError(%v), want the store's error", ce.Err)
	}
}

var errStoreDown = errors.New("store down")

type failingStore struct{}

func (failingStore) Save(context.Context, string, runtime.SessionRecord) error { return errStoreDown }
func (failingStore) Take(context.Context, string) (runtime.SessionRecord, error) {
	return runtime.SessionRecord{}, errStoreDown
}

// A client that closes with 1000 says goodbye: its session ends at once,
// token or not, instead of waiting out the resume window.
func TestSessionEndsAtClientGoodbye(t *testing.T) {
	e := start(t, viaListener, runtime.Options{ResumeWindow: time.Hour})
	c := dial(t, e.addr)
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	token := sess.ResumeToken()
	c.SendClose(runtime.CloseNormal, "")
	c.ExpectClose()
	if ended := e.rec.nextSessionEnd(t); ended != sess {
		t.Fatalf("OnSessionEnd for %s, want %s", ended.ID(), sess.ID())
	}
	dial(t, e.addr)
	if _, err := runtime.Resume(e.rec.NextOpen(t), token); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("resume after goodbye: %v, want ErrSessionNotFound", err)
	}
}
