package chat_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

// A user whose client stops reading while others chat is evicted (close
// 1008, slow consumer), and the others see it leave once its connection
// has ended, within CloseTimeout: not after the resume window, since a
// client told 1008 does not come back.
func TestEvictedUserLeaves(t *testing.T) {
	opened := make(chan *runtime.Conn, 2)
	addr, srv := start(t, runtime.Options{
		MaxQueuedBytes: 64 << 10,
		CloseTimeout:   time.Second, // the evicted client reads nothing: its close frame waits this long
		ResumeWindow:   time.Minute,
		Hooks:          runtime.Hooks{OnOpen: func(c *runtime.Conn) { opened <- c }},
	})
	ann, _ := dial(t, addr, "", 0)
	<-opened
	slow, _ := dial(t, addr, "", 0)
	slowConn := <-opened
	slow.ok("login", `{"name":"slow"}`)
	ann.event("joined", `{"name":"slow","users":["slow"]}`)
	ann.ok("login", `{"name":"ann"}`)
	ann.event("joined", `{"name":"ann","users":["ann","slow"]}`)

	// slow reads nothing from now on. Messages of 8000 bytes, 4 at a time,
	// fill its socket buffers and then its queue; ann reads all of them
	// after each 4, so that its own queue never holds more than 4 (32 KB,
	// half the bound) even when nothing of them is written yet.
	content := strings.Repeat("𝄞", 2000)
	said := `{"from":"ann","content":"` + content + `"}`
	for sent := 0; slowConn.CloseError() == nil; {
		if sent >= 10000 {
			t.Fatal("slow not evicted after 10000 messages")
		}
		for range 4 {
			ann.id++
			ann.send(fmt.Sprintf(`{"id":%d,"call":"user","args":{"content":%q}}`, ann.id, content))
		}
		sent += 4
		for range 8 { // 4 replies and 4 said events
			f := ann.read()
			switch {
			case f.Event == "said" && sameJSON(f.Data, said):
			case f.Event == "" && f.Error == nil && f.ID > ann.id-4:
			default:
				t.Fatalf("got %+v, want a reply or a said event", f)
			}
		}
	}
	if ce := slowConn.CloseError(); ce.Code != runtime.ClosePolicy {
		t.Fatalf("slow closed with %v, want 1008", ce)
	}
	ann.event("left", `{"name":"slow","users":["ann"]}`)
	if got := strings.Join(online(t, srv), ","); got != "ann" {
		t.Errorf("online %s", got)
	}
}
