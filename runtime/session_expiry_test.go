package runtime_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

// A session resumed and detached again gets a new resume window: the
// expiry of its first detach must not end it early, and it ends once, when
// its second window passes. Both with the default store (the session stays
// in the process) and with a Store.
func TestSessionRedetachGetsANewWindow(t *testing.T) {
	for _, withStore := range []bool{false, true} {
		name := "default store"
		if withStore {
			name = "MemoryStore"
		}
		t.Run(name, func(t *testing.T) {
			// The resume must happen within the first window, half of it
			// after the first detach: long enough for a loaded machine.
			const window = time.Second
			h := newSessionHandler()
			opts := runtime.Options{Handler: h, ResumeWindow: window}
			if withStore {
				opts.Store = runtime.NewMemoryStore()
			}
			e := start(t, viaListener, opts)
			a := dial(t, e.addr)
			sess := runtime.SessionOf(e.rec.NextOpen(t))
			token := a.ask("token")
			a.hangUp()
			e.rec.NextClose(t) // detached: OnClose runs after the detach
			first := time.Now()

			time.Sleep(window / 2)
			b := dial(t, e.addr)
			fresh := runtime.SessionOf(e.rec.NextOpen(t))
			if got := b.ask("resume:" + token); got != "ok:"+sess.ID() {
				t.Fatalf("resume: %q", got)
			}
			if ended := e.rec.nextSessionEnd(t); ended != fresh {
				t.Fatalf("OnSessionEnd for %s, want the replaced fresh session", ended.ID())
			}
			if b.ask("token") == token {
				t.Fatal("the token was not renewed after resume")
			}
			b.hangUp()
			second := time.Now()

			// The first window passes: the session lives on.
			select {
			case s := <-e.rec.ended:
				if time.Since(second) < window*3/4 {
					t.Fatalf("session %s ended %v after its second detach, %v after its first: the first expiry ended it",
						s.ID(), time.Since(second), time.Since(first))
				}
				if s != sess {
					t.Fatalf("OnSessionEnd for %s", s.ID())
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the session never expired")
			}
			time.Sleep(window / 2)
			e.rec.Mu.Lock()
			n := e.rec.sessionEnds[sess]
			e.rec.Mu.Unlock()
			if n != 1 {
				t.Errorf("OnSessionEnd called %d times", n)
			}
		})
	}
}

// Sessions detached one after another expire one after another, each
// after its own window, and each once.
func TestSessionsExpireInOrder(t *testing.T) {
	const window = 200 * time.Millisecond
	e := start(t, viaListener, runtime.Options{Handler: newSessionHandler(), ResumeWindow: window})
	var want []*runtime.Session
	var detachedAt []time.Time
	for range 3 {
		c := dial(t, e.addr)
		want = append(want, runtime.SessionOf(e.rec.NextOpen(t)))
		c.ask("token")
		c.hangUp()
		detachedAt = append(detachedAt, time.Now())
		time.Sleep(window / 4)
	}
	for i, s := range want {
		got := e.rec.nextSessionEnd(t)
		if got != s {
			t.Fatalf("session %d to end: %s, want %s", i, got.ID(), s.ID())
		}
		if d := time.Since(detachedAt[i]); d < window*3/4 {
			t.Errorf("session %d ended %v after its detach, before its window", i, d)
		}
	}
}

// The secret of a token is compared as it is written: another spelling
// that decodes to the same bytes (base64's unused low bits in the last
// character) does not resume the session.
func TestSessionResumeNeedsTheExactToken(t *testing.T) {
	h := newSessionHandler()
	e := start(t, viaListener, runtime.Options{Handler: h})
	a := dial(t, e.addr)
	sess := runtime.SessionOf(e.rec.NextOpen(t))
	token := a.ask("token")
	a.hangUp()
	e.rec.NextClose(t) // detached: OnClose runs after the detach

	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, token[len(token)-1])
	if last < 0 || last%4 != 0 {
		t.Fatalf("token %q: the last character of 32 base64url bytes has two unused low bits", token)
	}
	variant := token[:len(token)-1] + string(alphabet[last+1]) // same 32 bytes, decoded leniently
	b := dial(t, e.addr)
	if got := b.ask("resume:" + variant); !strings.HasPrefix(got, "err:") {
		t.Fatalf("resume with %q (token %q): %q", variant, token, got)
	}
	if err := h.nextErr(t); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("resume with a variant: %v, want ErrSessionNotFound", err)
	}
	if got := b.ask("resume:" + token); got != "ok:"+sess.ID() {
		t.Errorf("resume with the token: %q", got)
	}
}

// The welcome is built as a frame in place; over permessage-deflate it
// goes through the compressing path instead. Either way the client gets
// one text frame with the welcome.
func TestHelloWelcomeFraming(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "permessage-deflate"}[deflate], func(t *testing.T) {
			o := runtime.Options{Handler: runtime.NewRouter()}
			if deflate {
				o.Compression = &runtime.CompressionOptions{Threshold: 64}
			}
			e := start(t, viaListener, o)
			var c *client
			if deflate {
				c = dialDeflate(t, e)
			} else {
				c = dial(t, e.addr)
			}
			conn := e.rec.NextOpen(t)
			c.Text(`{"hello":{}}`)
			f := c.NextData()
			payload := f.Payload
			if deflate {
				if f.H.Rsv&4 == 0 {
					t.Fatal("welcome above the threshold sent uncompressed")
				}
				payload = inflateMessage(t, payload)
			} else if f.H.Rsv != 0 || !f.H.Fin {
				t.Fatalf("welcome frame: rsv %d fin %v", f.H.Rsv, f.H.Fin)
			}
			var w struct{ Welcome *welcomeMsg }
			if err := json.Unmarshal(payload, &w); err != nil || w.Welcome == nil {
				t.Fatalf("welcome %q: %v", payload, err)
			}
			id := runtime.SessionOf(conn).ID()
			if w.Welcome.Session != id || w.Welcome.Resume != runtime.SessionOf(conn).ResumeToken() || !strings.HasPrefix(w.Welcome.Resume, id+".") {
				t.Errorf("welcome %+v for session %s with token %s", *w.Welcome, id, runtime.SessionOf(conn).ResumeToken())
			}
		})
	}
}
