package duplexclient_test

// The client's side of exactly-once delivery, against a scripted server
// that sends what a real one would only in a race: events of a replaced
// fresh session before a resumed welcome, and repeats of seqs the client
// has processed.

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	duplexclient "github.com/duplexrpc/duplex/clients/go"
)

// step is one connection of scriptedServer: it checks the hello, sends
// the frames, and then drops the TCP connection (the last step keeps it).
type step struct {
	hello  string   // the hello the client must send
	frames []string // what the server sends then
}

func scriptedServer(t *testing.T, steps []step) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	t.Cleanup(func() {
		close(done)
		_ = ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i, st := range steps {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			u := ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == duplexclient.Protocol }}
			if _, err := u.Upgrade(nc); err != nil {
				t.Errorf("step %d: upgrade: %v", i, err)
				_ = nc.Close()
				return
			}
			_ = nc.SetReadDeadline(time.Now().Add(bound))
			hello, err := wsutil.ReadClientText(nc)
			if err != nil {
				t.Errorf("step %d: read hello: %v", i, err)
				_ = nc.Close()
				return
			}
			if string(hello) != st.hello {
				t.Errorf("step %d: hello %s, want %s", i, hello, st.hello)
			}
			for _, f := range st.frames {
				if err := wsutil.WriteServerText(nc, []byte(f)); err != nil {
					t.Errorf("step %d: write: %v", i, err)
				}
			}
			if i < len(steps)-1 {
				_ = nc.Close() // dropped: no close frame
				continue
			}
			// The last connection stays: it reads until the client's
			// close, which wsutil answers.
			_ = nc.SetReadDeadline(time.Time{})
			go func() {
				<-done
				_ = nc.Close()
			}()
			for {
				if _, _, err := wsutil.ReadClientData(nc); err != nil {
					break
				}
			}
			_ = nc.Close()
		}
	}()
	return ln.Addr().String()
}

func TestExactlyOnceAcrossResumes(t *testing.T) {
	tick := func(seq, n int) string {
		b, _ := json.Marshal(map[string]any{"event": "tick", "seq": seq, "data": map[string]int{"n": n}})
		return string(b)
	}
	addr := scriptedServer(t, []step{
		{`{"hello":{}}`, []string{
			tick(1, 1), // the fresh session's first event, before the welcome: processed after it
			`{"welcome":{"session":"s1","resume":"tok1","resumed":false,"heartbeat":25000}}`,
			tick(2, 2),
		}},
		{`{"hello":{"resume":"tok1","seq":2}}`, []string{
			tick(1, 99), // the event of a fresh session the resume replaced: dropped
			`{"welcome":{"session":"s1","resume":"tok2","resumed":true,"heartbeat":25000}}`,
			tick(2, 98), // a repeat: dropped
			tick(3, 3),
			`{"id":null,"error":{"code":"bad_request","message":"ignored"}}`, // settles nothing
			`{"welcome":null,"event":null,"future":{"x":1}}`,                 // nothing v1 knows: ignored
		}},
		{`{"hello":{"resume":"tok2","seq":3}}`, []string{
			tick(1, 1000), // the new session's first event, before the welcome
			`{"welcome":{"session":"s3","resume":"tok3","resumed":false,"reason":"expired","heartbeat":25000}}`,
			tick(2, 1001),
		}},
	})
	var (
		mu  sync.Mutex
		log []string
		ch  = make(chan struct{}, 16)
	)
	note := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
		ch <- struct{}{}
	}
	c := duplexclient.New("ws://"+addr+"/", duplexclient.Options{
		BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond,
		OnStartOver: func(reason string) { note("start over: " + reason) },
	})
	defer c.Close()
	c.On("tick", func(data []byte) error {
		var ev struct{ N int }
		err := json.Unmarshal(data, &ev)
		note("tick " + strings.TrimSpace(string(data)))
		return err
	})
	if err := c.Connect(ctxBound(t)); err != nil {
		t.Fatal(err)
	}
	want := []string{`tick {"n":1}`, `tick {"n":2}`, `tick {"n":3}`, "start over: expired", `tick {"n":1000}`, `tick {"n":1001}`}
	deadline := time.After(bound)
	for {
		mu.Lock()
		got := strings.Join(log, "\n")
		n := len(log)
		mu.Unlock()
		if n >= len(want) {
			if got != strings.Join(want, "\n") {
				t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
			}
			break
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("got\n%s\nwant\n%s", got, strings.Join(want, "\n"))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	for c.Session() != "s3" && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	if c.Session() != "s3" {
		t.Fatalf("session %q, want s3", c.Session())
	}
}
