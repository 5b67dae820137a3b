package runtimetest

// The fault matrix: what a duplex server does when a client or its own
// process misbehaves, each fault in a short version that runs in CI against
// examples/echo with its timeouts shortened by flags. Every test is bounded
// in time and asserts the mechanism (which timeout ended what, counted from
// when, with which close code), never raw speed: bounds are fractions and
// multiples of the server's own timeouts, wide enough for a loaded machine.
//
//	fault                           the server                                      test
//	slowloris: a request head       cuts it at -handshake-timeout, counted from     TestFaultSlowloris
//	  trickled one byte at a time,  that connection's start, not reset by each
//	  half-sent, or never sent      byte; serves a head that is slow but in
//	                                time, and other clients meanwhile
//	handshake flood: 200 half-sent  cuts each on its own schedule (from its own     TestFaultHandshakeFlood
//	  or silent connections, in     start, not the first one's); serves good
//	  two waves                     clients before any of them is cut
//	client process SIGSTOPped       finds it dead by its ping: close 1001 "ping     TestFaultClientStopped
//	                                timeout" after -ping-interval + -ping-timeout;
//	                                a client that answers pings stays
//	server process SIGTERM          sends 1001 to every client, closes TCP as       TestFaultServerSIGTERM
//	                                each answers, cuts one that never does at
//	                                -close-timeout, and exits
//
// Faults tested elsewhere:
//
//	silent peer, pongs keep a peer open      TestPeerHealthCheck (peers_test.go), runtime/health_test.go
//	SIGTERM, SIGINT, SIGHUP with gorilla     TestPeerShutdown (peers_test.go)
//	  and coder clients
//	flooder that never reads                 TestBackpressure (backpressure_test.go)
//	close after a failed write, slow         faults_close_test.go
//	  consumer eviction
//	over -max-conns                          TestHandshake (handshake_test.go)
//	protocol violations, abrupt closes       TestConformance
//
// These tests do not run in parallel with the rest of the package: they
// compare the server's timeouts with what the clients see, and the
// conformance battery running beside them would starve the clients of
// CPU. Their two server modes run in parallel with each other.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// faultSlack is what a bound adds to the server's timeout for a loaded
// machine. A mechanism that is broken (a timeout reset by every byte,
// handshakes served one after another, a ping that never fires) misses
// such a bound by far more.
const faultSlack = 5 * time.Second

// ---------------------------------------------------------------------------
// Stalled handshakes.

// stalled is a TCP connection whose upgrade request never completes.
type stalled struct {
	what     string
	nc       net.Conn
	opened   time.Time // when the TCP connection was established
	closedAt time.Time // when the server's close was seen; zero if never
	got      []byte    // what the server sent before closing
	err      error     // how the read ended
}

// openStalled connects to addr and sends part at once, or, with every > 0,
// one byte every every (never the last two bytes, so that the head never
// ends). It stops trickling when the connection fails.
func openStalled(addr, what, part string, every time.Duration) (*stalled, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	s := &stalled{what: what, nc: nc, opened: time.Now()}
	switch {
	case every > 0:
		go func() {
			for i := 0; i < len(part)-2; i++ {
				if _, err := nc.Write([]byte{part[i]}); err != nil {
					return
				}
				time.Sleep(every)
			}
		}()
	case part != "":
		if _, err := nc.Write([]byte(part)); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return s, nil
}

// watch reads until the server closes the connection or deadline passes.
func (s *stalled) watch(deadline time.Time) {
	_ = s.nc.SetReadDeadline(deadline)
	s.got, s.err = io.ReadAll(s.nc)
	if !isTimeout(s.err) {
		s.closedAt = time.Now()
	}
	s.nc.Close()
}

// check reports what is wrong with how the server ended s, given its
// handshake timeout h: it must close the connection without answering 101,
// no earlier than about h after the connection opened (the deadline counts
// from this connection's start, and a partial head does not end it early)
// and not much later (the deadline is not reset by each byte, and the
// handshake did not wait for others to time out first).
func (s *stalled) check(h time.Duration) error {
	lived := s.closedAt.Sub(s.opened)
	switch {
	case bytes.HasPrefix(s.got, []byte("HTTP/1.1 101")):
		return fmt.Errorf("%s: the server answered 101 to an incomplete request: %q", s.what, head(s.got))
	case s.closedAt.IsZero():
		return fmt.Errorf("%s: still open when the test gave up (handshake timeout %v): %v", s.what, h, s.err)
	case lived < h*3/4:
		return fmt.Errorf("%s: closed %v after it opened, before the handshake timeout %v (sent %q)", s.what, lived.Round(time.Millisecond), h, head(s.got))
	case lived > h+faultSlack:
		return fmt.Errorf("%s: closed only %v after it opened (handshake timeout %v)", s.what, lived.Round(time.Millisecond), h)
	}
	return nil
}

// goodClient connects to addr, has one message echoed and closes; it
// returns when the echo arrived.
func goodClient(addr, msg string) (time.Time, error) {
	c, err := dialWS(addr, handshakeOpts{}, 10*time.Second)
	if err != nil {
		return time.Time{}, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	if err := c.writeRaw(textFrame(msg).encode(c.rng), chopWhole, 10*time.Second); err != nil {
		return time.Time{}, fmt.Errorf("write: %w", err)
	}
	rc := &rconn{wsConn: c, cfg: expectConfig{strict: true, timeout: 10 * time.Second}}
	m, err := rc.next()
	if err != nil {
		return time.Time{}, fmt.Errorf("waiting for the echo: %s", describeReadErr(err))
	}
	if m.op != opText || string(m.payload) != msg {
		return time.Time{}, fmt.Errorf("got %s, want the echo of %q", m, msg)
	}
	return time.Now(), nil
}

func TestFaultSlowloris(t *testing.T) {
	const h = 3 * time.Second
	for _, mode := range peerModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := startEcho(t, "-mode", mode, "-handshake-timeout", h.String(), "-close-timeout", "1s")
			runScenarios(t, []scenario{
				{"slow clients are cut at -handshake-timeout; a good client is served meanwhile", func(r reporter) {
					slowloris(r, e.Addr, h)
				}},
				{"a head sent in 20 pieces over ~500ms, within -handshake-timeout, is served", func(r reporter) {
					slowHandshake(r, e.Addr)
				}},
			})
		})
	}
}

// slowloris opens a request trickled at one byte per 100ms (which alone
// would take 15s), a half-sent request and a connection that sends
// nothing; a good client connects meanwhile. All three must be cut at the
// handshake timeout h, the good client served before that.
func slowloris(r reporter, addr string, h time.Duration) {
	var conns []*stalled
	for _, c := range []struct {
		what, part string
		every      time.Duration
	}{
		{"request trickled 1 byte per 100ms", string(upgradeReq(addr).bytes()), 100 * time.Millisecond},
		{"half-sent request", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n", 0},
		{"connected-but-silent client", "", 0},
	} {
		s, err := openStalled(addr, c.what, c.part, c.every)
		if err != nil {
			r.Fatalf("%s: %v", c.what, err)
		}
		conns = append(conns, s)
	}
	var wg sync.WaitGroup
	for _, s := range conns {
		wg.Go(func() { s.watch(s.opened.Add(h + faultSlack + time.Second)) })
	}
	served, gerr := goodClient(addr, "served while slow clients stall")
	wg.Wait()
	for _, s := range conns {
		r.Logf("%s: closed %v after it opened, server sent %q", s.what, s.closedAt.Sub(s.opened).Round(time.Millisecond), head(s.got))
		if err := s.check(h); err != nil {
			r.Fatalf("%v", err)
		}
	}
	if gerr != nil {
		r.Fatalf("good client while slow clients stall: %v", gerr)
	}
	for _, s := range conns {
		if !served.Before(s.closedAt) {
			r.Fatalf("the good client was served only after the %s was cut: it waited for a stalled handshake", s.what)
		}
	}
}

// slowHandshake dribbles a valid request in 20 pieces 25ms apart (~500ms,
// a sixth of the handshake timeout) and expects a working connection.
func slowHandshake(r reporter, addr string) {
	req := upgradeReq(addr).bytes()
	start := time.Now()
	resp, body, nc, br, err := exchange(addr, req, chop{kind: 3, delay: 25 * time.Millisecond}, 10*time.Second)
	if err != nil {
		r.Fatalf("slow handshake after %v: %v", time.Since(start), err)
	}
	defer nc.Close()
	r.Logf("← %s after %v", resp.Status, time.Since(start).Round(time.Millisecond))
	if resp.StatusCode != 101 {
		r.Fatalf("slow handshake: status %s %q, want 101", resp.Status, body)
	}
	c := &rconn{wsConn: &wsConn{nc: nc, br: br, rng: newRng()}, cfg: expectConfig{timeout: 10 * time.Second}}
	c.send(r, chopWhole, textFrame("after a slow handshake"))
	c.expectEcho(r, opText, []byte("after a slow handshake"))
}

func TestFaultHandshakeFlood(t *testing.T) {
	const h, perWave = 4 * time.Second, 100
	for _, mode := range peerModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := startEcho(t, "-mode", mode, "-handshake-timeout", h.String(), "-close-timeout", "1s")
			runScenarios(t, []scenario{{"200 stalled handshakes in two waves: each cut on its own schedule, good clients served meanwhile", func(r reporter) {
				handshakeFlood(r, e.Addr, h, perWave)
			}}})
		})
	}
}

// openWave opens n stalled connections to addr from 16 goroutines, half of
// them half-sent requests, half silent.
func openWave(addr string, wave, n int) ([]*stalled, error) {
	conns := make([]*stalled, n)
	errs := make(chan error, n)
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range next {
				what, part := fmt.Sprintf("wave %d, half-sent request %d", wave, i), "GET / HTTP/1.1\r\nHost: stalled\r\n"
				if i%2 == 1 {
					what, part = fmt.Sprintf("wave %d, silent connection %d", wave, i), ""
				}
				s, err := openStalled(addr, what, part, 0)
				if err != nil {
					errs <- fmt.Errorf("%s: %w", what, err)
					continue
				}
				conns[i] = s
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		for _, s := range conns {
			if s != nil {
				s.nc.Close()
			}
		}
		return nil, err
	}
	return conns, nil
}

// handshakeFlood opens a wave of stalled handshakes, has good clients
// served while they are pending, opens a second wave half a handshake
// timeout later, and checks every stalled one is cut about h after its own
// start: were the deadlines counted from the first connection, the second
// wave would be cut after h/2; were the handshakes served one after
// another, the good clients would wait for them and the later ones would
// outlive h by far.
func handshakeFlood(r reporter, addr string, h time.Duration, perWave int) {
	var all []*stalled
	defer func() {
		for _, s := range all {
			s.nc.Close()
		}
	}()
	var watchers sync.WaitGroup
	open := func(wave int) []*stalled {
		start := time.Now()
		conns, err := openWave(addr, wave, perWave)
		if err != nil {
			r.Fatalf("%v", err)
		}
		r.Logf("wave %d: %d stalled handshakes opened in %v", wave, perWave, time.Since(start).Round(time.Millisecond))
		all = append(all, conns...)
		for _, s := range conns {
			watchers.Go(func() { s.watch(s.opened.Add(h + faultSlack + time.Second)) })
		}
		return conns
	}

	first := open(1)
	firstOpened := first[0].opened
	for _, s := range first {
		if s.opened.Before(firstOpened) {
			firstOpened = s.opened
		}
	}

	// Good clients, while the first wave is pending.
	type result struct {
		served time.Time
		err    error
	}
	good := make([]result, 3)
	var gwg sync.WaitGroup
	for i := range good {
		gwg.Go(func() {
			good[i].served, good[i].err = goodClient(addr, fmt.Sprintf("good client %d", i))
		})
	}
	gwg.Wait()

	time.Sleep(time.Until(firstOpened.Add(h / 2)))
	second := open(2)
	watchers.Wait()

	// The first wave's first close, for the good clients.
	var firstCut time.Time
	for _, s := range first {
		if !s.closedAt.IsZero() && (firstCut.IsZero() || s.closedAt.Before(firstCut)) {
			firstCut = s.closedAt
		}
	}
	var failures []string
	for w, conns := range [][]*stalled{first, second} {
		var lo, hi time.Duration
		cut := 0
		for _, s := range conns {
			if err := s.check(h); err != nil {
				failures = append(failures, err.Error())
				continue
			}
			lived := s.closedAt.Sub(s.opened)
			if cut == 0 || lived < lo {
				lo = lived
			}
			hi = max(hi, lived)
			cut++
		}
		r.Logf("wave %d: %d of %d cut as they should, between %v and %v after each opened (handshake timeout %v)",
			w+1, cut, len(conns), lo.Round(time.Millisecond), hi.Round(time.Millisecond), h)
	}
	if len(failures) > 0 {
		r.Fatalf("%d of %d stalled handshakes ended wrong:\n%s", len(failures), len(all), strings.Join(failures[:min(len(failures), 10)], "\n"))
	}
	for i, g := range good {
		switch {
		case g.err != nil:
			r.Fatalf("good client %d while %d handshakes stall: %v", i, perWave, g.err)
		case !g.served.Before(firstCut):
			r.Fatalf("good client %d was served %v after the first stalled handshake was cut: it waited for the stalled ones", i, g.served.Sub(firstCut).Round(time.Millisecond))
		}
		r.Logf("good client %d served %v before the first stalled handshake was cut", i, firstCut.Sub(g.served).Round(time.Millisecond))
	}
}

// ---------------------------------------------------------------------------
// A stopped client process.

// faultClientEnv names the echo address in the environment of the test
// binary run again as TestFaultClientStopped's client process.
const faultClientEnv = "DUPLEX_FAULT_CLIENT"

// TestFaultClientProcess is not a test: it is the client process of
// TestFaultClientStopped (this test binary run again with faultClientEnv
// set). It connects to the echo, has "hello" echoed, prints "ready
// <local address>", then reads, answering each ping with a pong and
// printing "pong", until the connection ends: then it prints "closed
// <code> <reason>" (or "error ...") and exits.
func TestFaultClientProcess(t *testing.T) {
	addr := os.Getenv(faultClientEnv)
	if addr == "" {
		t.Skip("the client process of TestFaultClientStopped, run by it")
	}
	os.Exit(faultClient(addr))
}

func faultClient(addr string) int {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, _, err := d.Dial(peerURL(addr), nil)
	if err != nil {
		fmt.Println("error dial:", err)
		return 1
	}
	defer c.Close()
	c.SetPingHandler(func(data string) error {
		err := c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(10*time.Second))
		fmt.Println("pong", err == nil)
		return nil
	})
	if err := c.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		fmt.Println("error write:", err)
		return 1
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "hello" {
		fmt.Printf("error echo: %q %v\n", p, err)
		return 1
	}
	fmt.Println("ready", c.LocalAddr())
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				fmt.Printf("closed %d %s\n", ce.Code, ce.Text)
			} else {
				fmt.Println("error read:", err)
			}
			return 0
		}
	}
}

// clientProcess is a running TestFaultClientProcess.
type clientProcess struct {
	cmd   *exec.Cmd
	lines *lineLog
	done  chan error
}

func startClientProcess(t *testing.T, addr string) *clientProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultClientProcess$")
	cmd.Env = append(os.Environ(), faultClientEnv+"="+addr)
	p := &clientProcess{cmd: cmd, lines: &lineLog{}, done: make(chan error, 1)}
	cmd.Stdout = p.lines
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the client process: %v", err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait returns the first line of the client's output matching re.
func (p *clientProcess) wait(t *testing.T, re string, within time.Duration) logLine {
	t.Helper()
	ln, ok := p.lines.waitFor(regexp.MustCompile(re), time.Now().Add(within))
	if !ok {
		t.Fatalf("no line matching %q from the client process within %v; it printed:\n%s", re, within, p.lines)
	}
	return ln
}

func TestFaultClientStopped(t *testing.T) {
	// The ping goes out after -ping-interval without a read, the close
	// after -ping-timeout without an answer. The interval is short so that
	// a ping is answered before the stop; the timeout long enough for an
	// answer on a loaded machine, and longer than the interval, so that a
	// server closing at its ping without waiting for the answer shows.
	const interval, timeout = 300 * time.Millisecond, 1500 * time.Millisecond
	for _, mode := range peerModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			log := &lineLog{}
			e := startEchoStderr(t, log, "-mode", mode, "-v", "-ping-interval", interval.String(), "-ping-timeout", timeout.String())

			// A bystander that keeps reading, so answers every ping.
			by, _, err := (&websocket.Dialer{HandshakeTimeout: 10 * time.Second}).Dial(peerURL(e.Addr), nil)
			if err != nil {
				t.Fatalf("bystander: %v", err)
			}
			defer by.Close()
			byMsgs := make(chan string, 4)
			go func() {
				defer close(byMsgs)
				for {
					_, p, err := by.ReadMessage()
					if err != nil {
						byMsgs <- fmt.Sprintf("error: %v", err)
						return
					}
					byMsgs <- string(p)
				}
			}()

			client := startClientProcess(t, e.Addr)
			ready := client.wait(t, `^ready `, 30*time.Second)
			local := strings.TrimPrefix(ready.text, "ready ")
			// Alive: it has answered a ping of the server's.
			client.wait(t, `^pong true$`, 10*time.Second)
			if err := client.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			stopped := time.Now()

			closed := regexp.MustCompile(`msg="websocket closed" remote=` + regexp.QuoteMeta(local) + ` code=(\d+) reason=("[^"]*"|\S*)`)
			ln, ok := log.waitFor(closed, stopped.Add(interval+timeout+faultSlack))
			if !ok {
				t.Fatalf("the server did not close the stopped client within %v (-ping-interval %v, -ping-timeout %v); its log:\n%s",
					interval+timeout+faultSlack, interval, timeout, log)
			}
			m := closed.FindStringSubmatch(ln.text)
			took := ln.at.Sub(stopped)
			t.Logf("server: %s (%v after SIGSTOP)", ln.text, took.Round(time.Millisecond))
			if m[1] != "1001" || strings.Trim(m[2], `"`) != "ping timeout" {
				t.Errorf("the stopped client was closed with %s %s, want 1001 \"ping timeout\"", m[1], m[2])
			}
			// The last ping it answered came in before the stop, so the
			// next one went out an interval later, and the server must
			// then have waited a whole timeout.
			if took < timeout/2 {
				t.Errorf("closed %v after SIGSTOP: the server did not wait -ping-timeout %v for an answer", took.Round(time.Millisecond), timeout)
			}

			// Resumed, the client reads what the server sent while it was
			// stopped: the unanswered ping, then the close.
			if err := client.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Fatal(err)
			}
			end := client.wait(t, `^(closed|error) `, 10*time.Second)
			if end.text != "closed 1001 ping timeout" {
				t.Errorf("the resumed client read %q, want close 1001 \"ping timeout\"", end.text)
			}
			select {
			case err := <-client.done:
				client.done <- err
				if err != nil {
					t.Errorf("client process: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Errorf("the client process did not exit after its connection ended")
			}

			// The bystander answered its pings all along and is still served.
			if err := by.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
				t.Fatalf("bystander: %v", err)
			}
			select {
			case got := <-byMsgs:
				if got != "still here" {
					t.Errorf("bystander: got %q, want the echo of %q", got, "still here")
				}
			case <-time.After(10 * time.Second):
				t.Errorf("bystander: no echo")
			}
		})
	}
}

// ---------------------------------------------------------------------------
// SIGTERM to the server process.

func TestFaultServerSIGTERM(t *testing.T) {
	const closeTimeout = 4 * time.Second
	for _, mode := range peerModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := startEcho(t, "-mode", mode, "-close-timeout", closeTimeout.String())
			dial := func(what string) *peerRawConn {
				r, _, err := peerRawDial(e.Addr, nil)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				t.Cleanup(func() { r.c.Close() })
				// Fully established server-side before the signal.
				_ = r.writeFrame(0x80|peerOpText, []byte("hi"))
				if f, err := r.readFrame(time.Now().Add(10 * time.Second)); err != nil || string(f.payload) != "hi" {
					t.Fatalf("%s: echo: %+v %v", what, f, err)
				}
				return r
			}
			answering := []*peerRawConn{dial("client 0"), dial("client 1"), dial("client 2")}
			mute := dial("the client that never answers")

			start := time.Now()
			if err := e.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			deadline := start.Add(closeTimeout + time.Second + faultSlack)
			var wg sync.WaitGroup
			for i, r := range answering {
				wg.Go(func() {
					f, err := r.readFrame(deadline)
					if err != nil || f.op != peerOpClose || f.closeCode() != 1001 {
						t.Errorf("client %d after SIGTERM: frame op %d code %d, %v; want close 1001", i, f.op, f.closeCode(), err)
						return
					}
					if err := r.writeFrame(0x80|peerOpClose, f.payload[:2]); err != nil {
						t.Errorf("client %d: answering the close: %v", i, err)
						return
					}
					answered := time.Now()
					_, err = r.readFrame(deadline)
					took := time.Since(answered)
					switch {
					case !errors.Is(err, io.EOF):
						t.Errorf("client %d: after answering the close: %v, want EOF", i, err)
					case took > closeTimeout/2:
						t.Errorf("client %d: TCP closed %v after it answered the close: the server waited for -close-timeout %v", i, took.Round(time.Millisecond), closeTimeout)
					}
				})
			}
			f, err := mute.readFrame(deadline)
			if err != nil || f.op != peerOpClose || f.closeCode() != 1001 {
				t.Errorf("mute client after SIGTERM: frame op %d code %d, %v; want close 1001", f.op, f.closeCode(), err)
			}
			_, err = mute.readFrame(deadline)
			cut := time.Since(start)
			if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("mute client: not cut off within %v of SIGTERM (-close-timeout %v): %v", deadline.Sub(start), closeTimeout, err)
			} else if cut < closeTimeout*3/4 {
				t.Errorf("mute client: cut off %v after SIGTERM, before -close-timeout %v", cut.Round(time.Millisecond), closeTimeout)
			}
			wg.Wait()

			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			defer cancel()
			err = e.Wait(ctx)
			exited := time.Since(start)
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("echo still running %v after SIGTERM (-close-timeout %v)", exited.Round(time.Millisecond), closeTimeout)
			case err != nil:
				t.Errorf("echo exited with %v after SIGTERM, want status 0", err)
			case exited < closeTimeout*3/4:
				t.Errorf("echo exited %v after SIGTERM, before its -close-timeout %v, although a client never answered", exited.Round(time.Millisecond), closeTimeout)
			}
			t.Logf("mute client cut %v, echo exited %v after SIGTERM", cut.Round(time.Millisecond), exited.Round(time.Millisecond))
		})
	}
}
