package prommetrics_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/prommetrics"
)

// greeter is a Router with a command that succeeds, fails with a typed
// error or panics, depending on its argument, and one that closes the
// connection after its reply.
func greeter() *runtime.Router {
	r := runtime.NewRouter()
	r.Handle("greet", func(_ context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		switch string(call.Args) {
		case `{"name":"taken"}`:
			return dst, &runtime.Error{Code: "name_taken", Message: "taken"}
		case `{"name":"boom"}`:
			panic("boom")
		case `{"name":"plain"}`:
			return dst, errors.New("not a wire error")
		}
		return append(dst, `{"hi":true}`...), nil
	})
	r.Handle("bye", func(ctx context.Context, _ *runtime.Call, dst []byte) ([]byte, error) {
		runtime.CloseAfterReply(ctx, 4000, "bye")
		return dst, nil
	})
	return r
}

// Calls are counted by command and reply code, and timed by command; the
// Router's refusals of unknown commands are not calls of any command.
func TestCalls(t *testing.T) {
	e := start(t, greeter(), runtime.Options{})
	c := wstest.Dial(t, e.addr)
	for i, args := range []string{`{"name":"ada"}`, `{"name":"taken"}`, `{"name":"bob"}`, `{"name":"boom"}`, `{"name":"plain"}`} {
		call(c, i+1, "greet", args)
	}
	if got := call(c, 9, "nosuch", `{}`); !strings.Contains(got, "unknown_command") {
		t.Fatalf("call of an unknown command: %s", got)
	}
	s := e.scrape()
	s.want(t, 2, "duplex_calls_total", "code=ok", "method=greet")
	s.want(t, 1, "duplex_calls_total", "code=name_taken", "method=greet")
	s.want(t, 2, "duplex_calls_total", "code=internal", "method=greet") // the panic and the plain error
	s.want(t, 5, "duplex_call_duration_seconds", "method=greet")
	for _, name := range []string{"duplex_calls_total", "duplex_call_duration_seconds"} {
		for _, m := range s[name].GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" && l.GetValue() != "greet" {
					t.Errorf("%s has a series for method %q", name, l.GetValue())
				}
			}
		}
	}
}

// What the Router refuses itself, running no command and no interceptor,
// is counted by code: an unknown command, a call over the connection's
// limit, a duplicate id, envelopes it cannot act on.
func TestCallsRefused(t *testing.T) {
	release := make(chan struct{})
	r := runtime.NewRouter()
	r.MaxCallsInFlight = 1
	r.Handle("wait", func(_ context.Context, _ *runtime.Call, dst []byte) ([]byte, error) {
		<-release
		return append(dst, "{}"...), nil
	})
	e := start(t, r, runtime.Options{})
	s := e.scrape()
	for _, code := range []string{"bad_request", "unknown_command", "overloaded"} {
		s.want(t, 0, "duplex_calls_refused_total", "code="+code) // exported before the first
	}
	c := wstest.Dial(t, e.addr)
	c.Text(`{"id":1,"call":"wait","args":{}}`) // runs until release
	for _, tc := range []struct{ frame, code string }{
		{`{"id":2,"call":"wait","args":{}}`, "overloaded"},
		{`{"id":1,"call":"wait","args":{}}`, "bad_request"}, // id 1 is in flight
		{`{"id":3,"call":"nosuch","args":{}}`, "unknown_command"},
		{`{"id":4,"args":{}}`, "bad_request"}, // no call member
		{`{"nothing":true}`, "bad_request"},   // a null id
		{`{"id":5,"call":7}`, "bad_request"},  // call not a string
	} {
		c.Text(tc.frame)
		if got := string(c.NextData().Payload); !strings.Contains(got, `"code":"`+tc.code+`"`) {
			t.Fatalf("%s answered %s, want %s", tc.frame, got, tc.code)
		}
	}
	close(release)
	if got := string(c.NextData().Payload); !strings.HasPrefix(got, `{"id":1,"result"`) {
		t.Fatalf("the call in flight answered %s", got)
	}
	s = e.scrape()
	s.want(t, 4, "duplex_calls_refused_total", "code=bad_request")
	s.want(t, 1, "duplex_calls_refused_total", "code=unknown_command")
	s.want(t, 1, "duplex_calls_refused_total", "code=overloaded")
	s.want(t, 1, "duplex_calls_total", "code=ok", "method=wait") // refusals are not calls
}

// An error code past the first MaxCodesPerMethod of a command is counted
// as "other": a handler whose codes come from its input cannot make
// series without end.
func TestCallCodesBounded(t *testing.T) {
	r := runtime.NewRouter()
	r.Handle("echoCode", func(_ context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		code := strings.TrimSuffix(strings.TrimPrefix(string(call.Args), `{"c":"`), `"}`)
		return dst, &runtime.Error{Code: code, Message: "x"}
	})
	e := start(t, r, runtime.Options{})
	c := wstest.Dial(t, e.addr)
	n := prommetrics.MaxCodesPerMethod + 3
	for i := range n {
		call(c, i+1, "echoCode", fmt.Sprintf(`{"c":"c%d"}`, i))
	}
	call(c, n+1, "echoCode", `{"c":"c0"}`) // a code counted apart stays so
	s := e.scrape()
	s.want(t, 2, "duplex_calls_total", "code=c0", "method=echoCode")
	s.want(t, 3, "duplex_calls_total", "code=other", "method=echoCode")
	if got := len(s["duplex_calls_total"].GetMetric()); got != prommetrics.MaxCodesPerMethod+2 {
		t.Errorf("%d series, want ok, %d codes and other", got, prommetrics.MaxCodesPerMethod)
	}
}

// Every outcome of an upgrade is counted, and open connections go up
// and down.
func TestUpgradesAndConnections(t *testing.T) {
	e := start(t, greeter(), runtime.Options{
		MaxConnections:   2,
		HandshakeTimeout: 300 * time.Millisecond,
		Authorize: func(r *runtime.Request, _ *runtime.Session) error {
			if r.Header.Get("X-Deny") != "" {
				return &runtime.HTTPError{Status: 401, Reason: "no"}
			}
			return nil
		},
	})
	s := e.scrape()
	for _, o := range []string{"ok", "origin", "bad_handshake", "timeout", "limit", "shutdown", "refused", "failed"} {
		s.want(t, 0, "duplex_upgrades_total", "outcome="+o) // exported at 0 from the start
	}
	s.want(t, 0, "duplex_connections_open")

	a := wstest.Dial(t, e.addr)
	wstest.Dial(t, e.addr)
	e.scrape().want(t, 2, "duplex_connections_open")
	refuse := func(req *wstest.Request, status int) {
		t.Helper()
		c := wstest.Send(t, e.addr, req, nil)
		if c.Resp.StatusCode != status {
			t.Fatalf("status %d, want %d", c.Resp.StatusCode, status)
		}
		if got := e.nextRefusal(); got != status {
			t.Fatalf("OnHandshakeError(%d), want %d", got, status)
		}
	}
	refuse(wstest.UpgradeRequest(e.addr), 503) // over MaxConnections
	a.SendClose(1000, "")
	a.ExpectCloseCode(1000)
	e.nextClose()
	e.scrape().want(t, 1, "duplex_connections_open")

	refuse(wstest.UpgradeRequest(e.addr).Set("Origin", "http://evil.example"), 403)
	refuse(wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Version", "8"), 426)
	refuse(wstest.UpgradeRequest(e.addr).Set("X-Deny", "1"), 401)
	// Half a request head, then nothing: cut off after HandshakeTimeout.
	nc := wstest.DialTCP(t, e.addr)
	if _, err := io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	if got := e.nextRefusal(); got != 0 {
		t.Fatalf("timeout: OnHandshakeError(%d), want 0", got)
	}
	// A request head cut short by the client.
	nc2 := wstest.DialTCP(t, e.addr)
	_, _ = io.WriteString(nc2, "GET / HTTP/1.1\r\n")
	_ = nc2.Close()
	if got := e.nextRefusal(); got != 0 {
		t.Fatalf("cut short: OnHandshakeError(%d), want 0", got)
	}

	s = e.scrape()
	s.want(t, 2, "duplex_upgrades_total", "outcome=ok")
	s.want(t, 1, "duplex_upgrades_total", "outcome=limit")
	s.want(t, 1, "duplex_upgrades_total", "outcome=origin")
	s.want(t, 1, "duplex_upgrades_total", "outcome=bad_handshake")
	s.want(t, 1, "duplex_upgrades_total", "outcome=refused")
	s.want(t, 1, "duplex_upgrades_total", "outcome=timeout")
	s.want(t, 1, "duplex_upgrades_total", "outcome=failed")
	s.want(t, 0, "duplex_upgrades_total", "outcome=shutdown")
	s.want(t, 1, "duplex_connections_open")
}

// Closes are counted by code and by who started them, and the gauge of
// open connections follows.
func TestCloses(t *testing.T) {
	e := start(t, greeter(), runtime.Options{})
	client := wstest.Dial(t, e.addr)
	server := wstest.Dial(t, e.addr)
	lost := wstest.Dial(t, e.addr)
	e.scrape().want(t, 3, "duplex_connections_open")

	client.SendClose(1000, "done")
	client.ExpectCloseCode(1000)
	e.nextClose()

	call(server, 1, "bye", `{}`)
	server.ExpectCloseCode(4000)
	server.SendClose(4000, "")
	e.nextClose()

	_ = lost.NC.Close() // no close frame: abnormal
	e.nextClose()

	s := e.scrape()
	s.want(t, 1, "duplex_closes_total", "code=1000", "initiator=client")
	s.want(t, 1, "duplex_closes_total", "code=4000", "initiator=server")
	s.want(t, 1, "duplex_closes_total", "code=1006", "initiator=abnormal")
	s.want(t, 0, "duplex_connections_open")
	s.want(t, 0, "duplex_slow_consumer_evictions_total")
}

// A slow consumer's eviction is counted, and its close under 1008 by the
// server.
func TestSlowConsumerEviction(t *testing.T) {
	e := start(t, nil, runtime.Options{MaxQueuedBytes: 64 << 10, WriteTimeout: time.Minute, CloseTimeout: time.Minute})
	opened := make(chan *runtime.Conn, 1)
	c := wstest.Dial(t, e.addr) // reads nothing from here on
	e.srv.Range(func(conn *runtime.Conn) bool { opened <- conn; return false })
	conn := wstest.Recv(t, opened, "the connection")
	payload := []byte(strings.Repeat("x", 16<<10))
	for total := 0; ; total += len(payload) {
		err := conn.WriteMessage(runtime.TextMessage, payload)
		if errors.Is(err, runtime.ErrSlowConsumer) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if total > 256<<20 {
			t.Fatal("256 MiB accepted without an eviction")
		}
	}
	_ = c.NC.Close() // read nothing; the server gives up the close handshake
	if ce := e.nextClose(); ce.Code != runtime.ClosePolicy {
		t.Fatalf("closed with %v, want 1008", ce)
	}
	s := e.scrape()
	s.want(t, 1, "duplex_slow_consumer_evictions_total")
	s.want(t, 1, "duplex_closes_total", "code=1008", "initiator=server")
}

// Resumes are counted by outcome.
func TestResumes(t *testing.T) {
	e := start(t, greeter(), runtime.Options{ReplayBuffer: 2})
	hello := func(c *wstest.Client, token string, seq int) (resume string, resumed bool) {
		t.Helper()
		if token == "" {
			c.Text(`{"hello":{}}`)
		} else {
			c.Text(fmt.Sprintf(`{"hello":{"resume":%q,"seq":%d}}`, token, seq))
		}
		w := string(c.NextData().Payload)
		_, rest, _ := strings.Cut(w, `"resume":"`)
		resume, _, _ = strings.Cut(rest, `"`)
		return resume, strings.Contains(w, `"resumed":true`)
	}
	c := wstest.Dial(t, e.addr)
	token, _ := hello(c, "", 0)
	var sess *runtime.Session
	e.srv.Range(func(conn *runtime.Conn) bool { sess = runtime.SessionOf(conn); return false })
	_ = c.NC.Close()
	e.nextClose()

	c2 := wstest.Dial(t, e.addr)
	token2, resumed := hello(c2, token, 0)
	if !resumed {
		t.Fatal("not resumed")
	}
	c3 := wstest.Dial(t, e.addr)
	if _, resumed := hello(c3, token, 0); resumed { // spent
		t.Fatal("resumed with a spent token")
	}
	_ = c2.NC.Close()
	e.nextClose()
	for i := range 5 {
		if err := sess.Push(fmt.Sprint("e", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	c4 := wstest.Dial(t, e.addr)
	if _, resumed := hello(c4, token2, 0); resumed { // missed 5 events, 2 kept
		t.Fatal("resumed past the replay buffer")
	}
	s := e.scrape()
	s.want(t, 1, "duplex_resumes_total", "outcome=resumed")
	s.want(t, 1, "duplex_resumes_total", "outcome=unknown")
	s.want(t, 1, "duplex_resumes_total", "outcome=overrun")
	s.want(t, 0, "duplex_resumes_total", "outcome=expired")
	s.want(t, 0, "duplex_resumes_total", "outcome=unavailable")
}

// The traffic is the server's own count, read at the scrape: exact bytes
// of the frames on the wire and data messages.
func TestTraffic(t *testing.T) {
	e := start(t, greeter(), runtime.Options{})
	c := wstest.Dial(t, e.addr) // its ping "sync": 2+4+4 bytes in, its pong 2+4 out
	req := `{"id":1,"call":"greet","args":{"name":"ada"}}`
	c.Text(req)
	reply := string(c.NextData().Payload)
	c.SendClose(1000, "") // 2+4+2 in, 2+2 out
	c.ExpectCloseCode(1000)
	e.nextClose()
	s := e.scrape()
	s.want(t, float64(10+2+4+len(req)+8), "duplex_received_bytes_total")
	s.want(t, float64(6+2+len(reply)+4), "duplex_sent_bytes_total")
	s.want(t, 1, "duplex_received_messages_total")
	s.want(t, 1, "duplex_sent_messages_total")
	if _, ok := s.get("duplex_engine_ready"); ok {
		t.Error("duplex_engine_ready exported without an engine")
	}
	if _, ok := s.get("duplex_engine_publish_duration_seconds"); ok {
		t.Error("duplex_engine_publish_duration_seconds exported without an engine")
	}
}

// With an engine, its publishes are timed and its state exported.
func TestEngine(t *testing.T) {
	e := start(t, greeter(), runtime.Options{Engine: runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})})
	e.srv.Broadcast("tick", nil)
	if err := e.srv.Publish(t.Context(), "room", "said", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	s := e.scrape()
	s.want(t, 2, "duplex_engine_publish_duration_seconds")
	s.want(t, 0, "duplex_engine_publish_errors_total")
	s.want(t, 1, "duplex_engine_ready") // an engine without Ready is always ready
}

// The metrics follow Prometheus' naming conventions.
func TestLint(t *testing.T) {
	e := start(t, greeter(), runtime.Options{Engine: runtime.NewMemoryEngine(runtime.MemoryEngineOptions{})})
	c := wstest.Dial(t, e.addr)
	call(c, 1, "greet", `{"name":"ada"}`)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(e.m)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// The runtime does not link client_golang: only apps that import this
// package do.
func TestRuntimeDoesNotLinkPrometheus(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/duplexrpc/duplex/runtime").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	n := 0
	for sc.Scan() {
		n++
		if strings.Contains(sc.Text(), "prometheus") {
			t.Errorf("the runtime depends on %s", sc.Text())
		}
	}
	if n < 10 {
		t.Fatalf("go list -deps listed %d packages:\n%s", n, out)
	}
}
