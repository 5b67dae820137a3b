package runtimetest

// RFC 6455 / RFC 7692 conformance suite, organised like the Autobahn
// testsuite's categories (1 framing, 2 ping/pong, 3 reserved bits,
// 4 opcodes, 5 fragmentation, 6 UTF-8, 7 close, 9 limits,
// 12/13 permessage-deflate) but written from the RFCs.
//
// Every case runs against the duplex echo example in both server modes
// (zero-copy listener and net/http handler). TestConformanceReference
// (reference_servers_test.go) runs the same table against gorilla/websocket
// and coder/websocket echo servers and only logs their score.
//
// Cases are executed concurrently by a private worker pool (the -parallel
// default of GOMAXPROCS=2 would serialise ~300 mostly-idle network cases) and
// then reported as one subtest each, so failures carry the case name and a
// transcript of what was sent and received. CONFORMANCE_CASES=<regexp>
// restricts which cases execute (matched against "id name").

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	mrand "math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// ---------------------------------------------------------------------------
// Server profiles and targets.

type profile int

const (
	profDefault   profile = iota // -max-message 1 MiB
	profLarge                    // -max-message 16 MiB
	profDeflate                  // -max-message 1 MiB -deflate
	profSlowClose                // -max-message 1 MiB -close-timeout 10s
	numProfiles
)

const (
	smallMax = 1 << 20
	largeMax = 16 << 20
)

var profileMax = [numProfiles]int{smallMax, largeMax, smallMax, smallMax}

var profileNames = [numProfiles]string{"default", "large", "deflate", "slow-close"}

// The echo's -close-timeout: short in most profiles, so that a case whose
// close frame the server cannot read (it is inside an oversized frame's
// payload) ends soon; long in the slow-close profile of the cases that
// check the server waits for the client's close frame (section 7.7), so
// that a client the machine's load keeps from reading the server's close
// for a while still finds the server waiting.
const (
	echoCloseTimeout     = time.Second
	echoSlowCloseTimeout = 10 * time.Second
)

// echoFlags are the examples/echo flags for each profile.
func echoFlags(p profile, mode string) []string {
	closeTimeout := echoCloseTimeout
	if p == profSlowClose {
		closeTimeout = echoSlowCloseTimeout
	}
	f := []string{"-mode", mode, "-close-timeout", closeTimeout.String(), "-max-message", fmt.Sprint(profileMax[p])}
	if p == profDeflate {
		f = append(f, "-deflate")
	}
	return f
}

// target is a set of echo servers (one per profile) implementing the same
// behaviour with different configuration.
type target struct {
	name   string
	addr   [numProfiles]string
	strict bool // duplex: check duplex-specific guarantees too
	// readTimeout and largeTimeout override how long an expectation waits
	// (small profiles; the 16 MiB profile).
	readTimeout, largeTimeout time.Duration
}

// ---------------------------------------------------------------------------
// Cases.

type step func(s *session)

type tcase struct {
	id      string // "1.1.3"
	name    string // "text 65535 bytes"
	cat     int    // Autobahn category
	prof    profile
	offer   []string // Sec-WebSocket-Extensions values offered on connect
	noDial  bool     // the steps dial themselves
	timeout time.Duration
	// strictOnly marks expectations duplex promises beyond what RFC 6455
	// requires (e.g. waiting for the client's close frame); they are not
	// scored for the reference libraries.
	strictOnly bool
	// heavy cases move megabytes; few run at once across all targets.
	heavy bool
	steps []step
}

func (c *tcase) title() string { return c.id + " " + c.name }

// session is the state of one running case.
type session struct {
	*caseT
	tg  *target
	tc  *tcase
	c   *rconn
	mu  sync.Mutex
	rng *mrand.Rand
}

// dial (re)connects with the given extension offers.
func (s *session) dial(offer []string) {
	s.Helper()
	s.closeConn()
	timeout := 5 * time.Second
	wc, err := dialWS(s.tg.addr[s.tc.prof], handshakeOpts{extensions: offer}, timeout)
	if err != nil {
		s.Fatalf("connect (%s profile): %v", profileNames[s.tc.prof], err)
	}
	cfg := expectConfig{strict: s.tg.strict, limit: profileMax[s.tc.prof]}
	if s.tc.prof == profLarge {
		cfg.timeout = largeReadTimeout
		if s.tg.largeTimeout > 0 {
			cfg.timeout = s.tg.largeTimeout
		}
	} else if s.tg.readTimeout > 0 {
		cfg.timeout = s.tg.readTimeout
	}
	s.mu.Lock()
	s.c = &rconn{wsConn: wc, cfg: cfg}
	s.mu.Unlock()
	if wc.deflate != nil {
		s.Logf("connected; permessage-deflate negotiated: %q", wc.deflate.raw)
	} else {
		s.Logf("connected")
	}
}

func (s *session) closeConn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		s.c.Close()
	}
}

// caseT records the outcome of one case (a tiny testing.T).
type caseT struct {
	start  time.Time
	mu     sync.Mutex
	logs   []string
	errs   []string
	failed bool
}

func (c *caseT) Helper() {}

func (c *caseT) Logf(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs = append(c.logs, fmt.Sprintf("%6.3fs %s", time.Since(c.start).Seconds(), fmt.Sprintf(format, a...)))
}

func (c *caseT) Fatalf(format string, a ...any) {
	c.mu.Lock()
	c.failed = true
	msg := fmt.Sprintf(format, a...)
	c.errs = append(c.errs, msg)
	c.logs = append(c.logs, fmt.Sprintf("%6.3fs FAIL: %s", time.Since(c.start).Seconds(), msg))
	c.mu.Unlock()
	runtime.Goexit()
}

// caseResult is the outcome of one case against one target.
type caseResult struct {
	c       *tcase
	failed  bool
	skipped string
	errs    []string
	logs    []string
	dur     time.Duration
}

func (r *caseResult) firstErr() string {
	if len(r.errs) == 0 {
		return ""
	}
	return r.errs[0]
}

// caseFilter restricts which cases execute (CONFORMANCE_CASES env var).
var caseFilter = sync.OnceValue(func() *regexp.Regexp {
	if v := os.Getenv("CONFORMANCE_CASES"); v != "" {
		return regexp.MustCompile(v)
	}
	return nil
})

// heavySem bounds the megabyte-moving cases running at once in the whole
// test process (all targets): under -race on two cores they starve the
// latency-sensitive cases otherwise.
var heavySem = make(chan struct{}, 2)

// runCases executes cases against tg concurrently and returns their results
// in table order.
func runCases(tg *target, cases []*tcase, skipStrictOnly bool) []*caseResult {
	results := make([]*caseResult, len(cases))
	sem := make(chan struct{}, 12)
	var wg sync.WaitGroup
	for i, c := range cases {
		r := &caseResult{c: c}
		results[i] = r
		if re := caseFilter(); re != nil && !re.MatchString(c.title()) {
			r.skipped = "excluded by CONFORMANCE_CASES"
			continue
		}
		if skipStrictOnly && c.strictOnly {
			r.skipped = "duplex-specific expectation (beyond RFC 6455), not scored"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.heavy { // before taking a general slot, so waiting blocks no one
				heavySem <- struct{}{}
				defer func() { <-heavySem }()
			}
			sem <- struct{}{}
			defer func() { <-sem }()
			runOne(tg, c, r)
		}()
	}
	wg.Wait()
	return results
}

func runOne(tg *target, c *tcase, r *caseResult) {
	h := fnv.New64a()
	h.Write([]byte(c.id))
	ct := &caseT{start: time.Now()}
	s := &session{caseT: ct, tg: tg, tc: c, rng: mrand.New(mrand.NewPCG(h.Sum64(), 7))}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer s.closeConn()
		if !c.noDial {
			s.dial(c.offer)
		}
		for _, st := range c.steps {
			st(s)
		}
	}()
	timeout := c.timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	select {
	case <-done:
	case <-time.After(timeout):
		ct.mu.Lock()
		ct.failed = true
		ct.errs = append(ct.errs, fmt.Sprintf("case did not finish within %v", timeout))
		ct.mu.Unlock()
		s.closeConn()
		<-done
	}
	ct.mu.Lock()
	defer ct.mu.Unlock()
	r.failed, r.errs, r.logs, r.dur = ct.failed, ct.errs, ct.logs, time.Since(ct.start)
}

// scenario is a named check run by runScenarios.
type scenario struct {
	name string
	fn   func(r reporter)
}

// runScenarios runs independent, mostly-waiting checks concurrently (the
// -parallel default would serialise them) and reports each as a subtest.
func runScenarios(t *testing.T, scs []scenario) {
	t.Helper()
	results := make([]*caseT, len(scs))
	var wg sync.WaitGroup
	for i, sc := range scs {
		ct := &caseT{start: time.Now()}
		results[i] = ct
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan struct{})
			go func() {
				defer close(done)
				sc.fn(ct)
			}()
			<-done
		}()
	}
	wg.Wait()
	for i, sc := range scs {
		ct := results[i]
		t.Run(sc.name, func(t *testing.T) {
			ct.mu.Lock()
			defer ct.mu.Unlock()
			if ct.failed {
				t.Errorf("%s\ntranscript:\n  %s", strings.Join(ct.errs, "\n"), strings.Join(ct.logs, "\n  "))
			} else if testing.Verbose() {
				t.Logf("transcript:\n  %s", strings.Join(ct.logs, "\n  "))
			}
		})
	}
}

// slowest lists the n longest-running cases.
func slowest(results []*caseResult, n int) string {
	rs := slices.Clone(results)
	slices.SortFunc(rs, func(a, b *caseResult) int { return int(b.dur - a.dur) })
	var out []string
	for _, r := range rs[:min(n, len(rs))] {
		out = append(out, fmt.Sprintf("%s (%v)", r.c.id, r.dur.Round(time.Millisecond)))
	}
	return strings.Join(out, ", ")
}

// report turns results into one subtest per case.
func report(t *testing.T, results []*caseResult) {
	for _, r := range results {
		t.Run(r.c.title(), func(t *testing.T) {
			if r.skipped != "" {
				t.Skip(r.skipped)
			}
			if r.failed {
				t.Errorf("%s [%s profile, %v]\n%s\ntranscript:\n  %s", r.c.title(), profileNames[r.c.prof],
					r.dur.Round(time.Millisecond), strings.Join(r.errs, "\n"), strings.Join(r.logs, "\n  "))
			} else if testing.Verbose() {
				t.Logf("[%s profile, %v] transcript:\n  %s", profileNames[r.c.prof], r.dur.Round(time.Millisecond), strings.Join(r.logs, "\n  "))
			}
		})
	}
}

// ---------------------------------------------------------------------------
// The duplex runs.

func TestConformance(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("conformance suite skipped in -short mode")
	}
	cases := conformanceCases()
	for _, mode := range []string{"listener", "http"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			tg := &target{name: "duplex/" + mode, strict: true}
			for p := profile(0); p < numProfiles; p++ {
				tg.addr[p] = startEcho(t, echoFlags(p, mode)...).Addr
			}
			start := time.Now()
			results := runCases(tg, cases, false)
			failed := 0
			for _, r := range results {
				if r.failed {
					failed++
				}
			}
			t.Logf("%s: %d cases, %d failed, %v; slowest: %s", tg.name, len(results), failed,
				time.Since(start).Round(time.Millisecond), slowest(results, 5))
			report(t, results)
		})
	}
}

// ---------------------------------------------------------------------------
// Step constructors.

func send(frames ...frame) step { return sendC(chopWhole, frames...) }

func sendC(ch chop, frames ...frame) step {
	return func(s *session) { s.c.send(s, ch, frames...) }
}

// sendEach writes each frame with a separate write.
func sendEach(ch chop, frames ...frame) step {
	return func(s *session) {
		for _, f := range frames {
			s.c.send(s, ch, f)
		}
	}
}

func echo(op byte, p []byte) step  { return func(s *session) { s.c.expectEcho(s, op, p) } }
func echoText(str string) step     { return echo(opText, []byte(str)) }
func pong(p []byte) step           { return func(s *session) { s.c.expectPong(s, p) } }
func nothing(d time.Duration) step { return func(s *session) { s.c.expectNothing(s, d) } }
func pause(d time.Duration) step   { return func(s *session) { time.Sleep(d) } }
func closes(codes ...uint16) step  { return closesX(closeExp{codes: codes}) }
func closesX(e closeExp) step      { return func(s *session) { s.c.expectClose(s, e) } }
func closesEmpty() step            { return closesX(closeExp{}) }
func rt(f frame) step              { return roundtrip(chopWhole, f) }
func echoOrClose(f frame, code uint16) []step {
	return []step{send(f), func(s *session) { s.c.expectEchoOrClose(s, f.op, f.payload, code) }}
}

// roundtrip sends a complete data frame and expects its echo.
func roundtrip(ch chop, f frame) step {
	return func(s *session) {
		s.c.send(s, ch, f)
		s.c.expectEcho(s, f.op, f.payload)
	}
}

// alive checks the connection still echoes.
func alive() step { return rt(textFrame("still alive?")) }

func seq(parts ...any) []step {
	var out []step
	for _, p := range parts {
		switch v := p.(type) {
		case step:
			out = append(out, v)
		case []step:
			out = append(out, v...)
		case func(*session):
			out = append(out, v)
		default:
			panic(fmt.Sprintf("seq: %T", p))
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Payloads.

// textOf returns valid UTF-8 text of exactly n bytes mixing 1-4 byte runes.
func textOf(n int) string {
	const pat = "Hello-µ@ßöäüàá-UTF-8!! κόσμε €𝄞 "
	s := strings.Repeat(pat, n/len(pat)+1)[:n]
	for !utf8.ValidString(s[max(0, len(s)-4):]) {
		s = s[:len(s)-1]
	}
	return s + strings.Repeat("*", n-len(s))
}

// binOf returns n pseudo-random bytes (deterministic per seed).
func binOf(n int, seed uint64) []byte {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	binary.LittleEndian.PutUint64(s[8:], uint64(n))
	b := make([]byte, n)
	_, _ = mrand.NewChaCha8(s).Read(b)
	return b
}

// allBytes is 0x00..0xFF repeated to n bytes.
func allBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0 && n > 4096:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ---------------------------------------------------------------------------
// The table.

func conformanceCases() []*tcase {
	var all []*tcase
	for _, g := range [][]*tcase{
		casesFraming(), casesPing(), casesRSV(), casesOpcodes(), casesFragmentation(),
		casesUTF8(), casesClose(), casesLimits(), casesDeflate(),
	} {
		all = append(all, g...)
	}
	seen := map[string]bool{}
	for _, c := range all {
		if c.prof == profLarge || strings.Contains(c.name, "MiB") {
			c.heavy = true
		}
		if seen[c.id] {
			panic("duplicate case id " + c.id)
		}
		seen[c.id] = true
	}
	return all
}

// numberer hands out ids "prefix.N".
type numberer struct {
	prefix string
	n      int
}

func (n *numberer) next() string { n.n++; return fmt.Sprintf("%s.%d", n.prefix, n.n) }

var basicLengths = []int{0, 1, 125, 126, 127, 128, 65535, 65536}

// Category 1: framing.
func casesFraming() []*tcase {
	var cs []*tcase
	add := func(n *numberer, name string, prof profile, steps ...step) {
		cs = append(cs, &tcase{id: n.next(), name: name, cat: 1, prof: prof, steps: steps})
	}
	n := &numberer{prefix: "1.1"}
	for _, l := range basicLengths {
		add(n, "text "+sizeName(l), profDefault, rt(textFrame(textOf(l))))
	}
	n = &numberer{prefix: "1.2"}
	for _, l := range basicLengths {
		add(n, "binary "+sizeName(l), profDefault, rt(binFrame(binOf(l, 12))))
	}
	n = &numberer{prefix: "1.3"}
	for _, l := range basicLengths[:6] {
		add(n, "text "+sizeName(l)+", 1-byte writes", profDefault, roundtrip(chopBytes, textFrame(textOf(l))))
	}
	for _, l := range basicLengths[:6] {
		add(n, "binary "+sizeName(l)+", 1-byte writes", profDefault, roundtrip(chopBytes, binFrame(binOf(l, 13))))
	}
	n = &numberer{prefix: "1.4"}
	for _, l := range basicLengths {
		add(n, "text "+sizeName(l)+", random splits", profDefault, roundtrip(chopRandom, textFrame(textOf(l))))
	}
	for _, l := range basicLengths {
		add(n, "binary "+sizeName(l)+", random splits", profDefault, roundtrip(chopRandom, binFrame(binOf(l, 14))))
	}
	n = &numberer{prefix: "1.5"}
	add(n, "text 1 MiB", profLarge, rt(textFrame(textOf(1<<20))))
	add(n, "binary 4 MiB, random splits", profLarge, roundtrip(chopRandom, binFrame(binOf(4<<20, 15))))
	add(n, "binary 16 MiB (= -max-message)", profLarge, rt(binFrame(binOf(16<<20, 17))))

	n = &numberer{prefix: "1.6"}
	{
		var frames []frame
		var steps []step
		for i := 0; i < 10; i++ {
			f := textFrame(fmt.Sprintf("pipelined message %d", i))
			frames = append(frames, f)
			steps = append(steps, echo(f.op, f.payload))
		}
		add(n, "10 text messages in one write", profDefault, seq(send(frames...), steps)...)
	}
	{
		var frames []frame
		var steps []step
		for i := 0; i < 40; i++ {
			f := binFrame(binOf(i*7, uint64(i)))
			if i%2 == 0 {
				f = textFrame(textOf(i * 5))
			}
			frames = append(frames, f)
			steps = append(steps, echo(f.op, f.payload))
		}
		add(n, "40 mixed messages, 1-byte writes", profDefault, seq(sendC(chopBytes, frames...), steps)...)
	}
	add(n, "text, ping, binary in one write: order kept", profDefault,
		send(textFrame("first"), pingFrame([]byte("p")), binFrame([]byte{1, 2, 3})),
		echoText("first"), pong([]byte("p")), echo(opBinary, []byte{1, 2, 3}))

	n = &numberer{prefix: "1.7"}
	add(n, "text 5 bytes with 16-bit length field (non-minimal): echo or 1002", profDefault,
		echoOrClose(textFrame("short").withLenEnc(16), 1002)...)
	add(n, "text 5 bytes with 64-bit length field (non-minimal): echo or 1002", profDefault,
		echoOrClose(textFrame("short").withLenEnc(64), 1002)...)
	add(n, "binary 300 bytes with 64-bit length field (non-minimal): echo or 1002", profDefault,
		echoOrClose(binFrame(binOf(300, 3)).withLenEnc(64), 1002)...)
	add(n, "64-bit length with MSB set (header + 5 bytes) → 1002", profDefault,
		send(textFrame("hello").withDeclLen(1<<63|5)), closes(1002))
	add(n, "64-bit length 0xFFFFFFFFFFFFFFFF, header only → 1002", profDefault,
		send(binFrame(nil).withDeclLen(^uint64(0))), closes(1002))
	add(n, "valid echo, then 64-bit length with MSB set → echo, 1002", profDefault,
		rt(textFrame("ok")), send(binFrame([]byte("abc")).withDeclLen(1<<63|3)), closes(1002))

	n = &numberer{prefix: "1.8"}
	zero := [4]byte{}
	add(n, "all-zero masking key", profDefault, rt(textFrame("zero key").with(func(f *frame) { f.key = &zero })))
	add(n, "unmasked text → 1002", profDefault, send(textFrame("unmasked").withUnmasked()), closes(1002))
	add(n, "valid echo, then unmasked binary → echo, 1002", profDefault,
		rt(binFrame([]byte{9, 8, 7})), send(binFrame([]byte{1}).withUnmasked()), closes(1002))
	add(n, "unmasked ping → 1002 (no pong)", profDefault, send(pingFrame([]byte("x")).withUnmasked()), closes(1002))
	add(n, "unmasked close 1000 → 1002", profDefault, send(closeFrame(1000, "").withUnmasked()), closes(1002))
	add(n, "unmasked continuation inside a fragmented message → 1002", profDefault,
		send(fragFrame(opText, []byte("ab"), false), contFrame([]byte("cd"), true).withUnmasked()), closes(1002))
	add(n, "unmasked empty text, 1-byte writes → 1002", profDefault,
		sendC(chopBytes, textFrame("").withUnmasked()), closes(1002))
	return cs
}

// Category 2: ping/pong.
func casesPing() []*tcase {
	var cs []*tcase
	n := &numberer{prefix: "2"}
	add := func(name string, steps ...step) {
		cs = append(cs, &tcase{id: n.next(), name: name, cat: 2, steps: steps})
	}
	add("ping empty → pong empty", send(pingFrame(nil)), pong(nil))
	add("ping text payload → same pong", send(pingFrame([]byte("Hello, world!"))), pong([]byte("Hello, world!")))
	add("ping binary payload 0x00..0x7C → same pong", send(pingFrame(allBytes(125)[:125])), pong(allBytes(125)))
	add("ping 125 random bytes → same pong", send(pingFrame(binOf(125, 2))), pong(binOf(125, 2)))
	add("ping 126 bytes → 1002", send(pingFrame(binOf(126, 2))), closes(1002))
	add("ping declaring 16-bit length 1000, with payload → 1002", send(pingFrame(binOf(1000, 2))), closes(1002))
	add("ping 125 bytes, 1-byte writes", sendC(chopBytes, pingFrame(binOf(125, 4))), pong(binOf(125, 4)))
	add("unsolicited pong empty: ignored", send(pongFrame(nil)), nothing(300*time.Millisecond), alive())
	add("unsolicited pong with payload: ignored", send(pongFrame([]byte("unsolicited"))), nothing(300*time.Millisecond), alive())
	add("unsolicited pong, then ping → only the pong for the ping",
		send(pongFrame([]byte("unsolicited")), pingFrame([]byte("solicited"))), pong([]byte("solicited")),
		nothing(200*time.Millisecond), alive())
	{
		var pings []frame
		var pongs []step
		for i := 0; i < 10; i++ {
			p := []byte(fmt.Sprintf("ping-%d", i))
			pings = append(pings, pingFrame(p))
			pongs = append(pongs, pong(p))
		}
		add("10 pings in one write → 10 pongs in order", seq(send(pings...), pongs)...)
		add("10 pings, 1-byte writes → 10 pongs in order", seq(sendC(chopBytes, pings...), pongs)...)
	}
	add("fragmented ping (FIN=0) → 1002", send(pingFrame([]byte("frag")).withFin(false)), closes(1002))
	add("ping FIN=0 + continuation → 1002",
		send(pingFrame([]byte("fr")).withFin(false), contFrame([]byte("ag"), true)), closes(1002))
	add("fragmented pong (FIN=0) → 1002", send(pongFrame([]byte("frag")).withFin(false)), closes(1002))
	add("pong 126 bytes → 1002", send(pongFrame(binOf(126, 5))), closes(1002))
	add("ping 125 bytes declared with 64-bit length field: pong or 1002",
		send(pingFrame(binOf(125, 6)).withLenEnc(64)), func(s *session) {
			m, err := s.c.next()
			if err != nil {
				s.Fatalf("expected pong or close 1002, got %s", describeReadErr(err))
			}
			s.Logf("← %s", m)
			switch {
			case m.op == opPong && bytes.Equal(m.payload, binOf(125, 6)):
			case m.op == opClose && closeBodyCode(m.payload) == 1002:
			default:
				s.Fatalf("expected pong or close 1002, got %s", m)
			}
		})
	add("ping, text, ping interleaved with echoes",
		send(pingFrame([]byte("a"))), pong([]byte("a")), rt(textFrame("x")), send(pingFrame([]byte("b"))), pong([]byte("b")))
	return cs
}

// Category 3: reserved bits.
func casesRSV() []*tcase {
	var cs []*tcase
	n := &numberer{prefix: "3"}
	kinds := []struct {
		name string
		f    frame
	}{
		{"text", textFrame("bad rsv")},
		{"binary", binFrame([]byte{0, 1, 2})},
		{"ping", pingFrame([]byte("bad rsv"))},
		{"pong", pongFrame([]byte("bad rsv"))},
		{"close 1000", closeFrame(1000, "")},
	}
	chops := []chop{chopWhole, chopBytes, chopRandom}
	i := 0
	for _, r := range []byte{rsv1, rsv2, rsv3, rsv2 | rsv3, rsv1 | rsv2 | rsv3} {
		for _, k := range kinds {
			ch := chops[i%len(chops)]
			i++
			name := fmt.Sprintf("%s with RSV=%03b after a valid text, then ping (%s) → echo, 1002, no pong", k.name, r, ch)
			cs = append(cs, &tcase{id: n.next(), name: name, cat: 3, steps: seq(
				sendC(ch, textFrame("valid"), k.f.withRSV(r), pingFrame([]byte("after"))),
				echoText("valid"), closes(1002))})
		}
	}
	cs = append(cs,
		&tcase{id: n.next(), name: "text RSV1 alone (no extension negotiated) → 1002", cat: 3,
			steps: seq(send(textFrame("x").withRSV(rsv1)), closes(1002))},
		&tcase{id: n.next(), name: "continuation with RSV1 (no extension) → 1002", cat: 3,
			steps: seq(send(fragFrame(opText, []byte("ab"), false), contFrame([]byte("cd"), true).withRSV(rsv1)), closes(1002))},
		&tcase{id: n.next(), name: "continuation with RSV3 → 1002", cat: 3,
			steps: seq(send(fragFrame(opBinary, []byte("ab"), false), contFrame([]byte("cd"), true).withRSV(rsv3)), closes(1002))},
		&tcase{id: n.next(), name: "empty binary with RSV2 → 1002", cat: 3,
			steps: seq(send(binFrame(nil).withRSV(rsv2)), closes(1002))},
	)
	return cs
}

// Category 4: opcodes.
func casesOpcodes() []*tcase {
	var cs []*tcase
	n := &numberer{prefix: "4.1"}
	add := func(n *numberer, name string, steps ...step) {
		cs = append(cs, &tcase{id: n.next(), name: name, cat: 4, steps: steps})
	}
	reserved := []byte{3, 4, 5, 6, 7, 11, 12, 13, 14, 15}
	for _, op := range reserved[:5] {
		add(n, fmt.Sprintf("reserved non-control opcode %d → 1002", op),
			send(frame{fin: true, op: op, payload: []byte("reserved")}), closes(1002))
	}
	n = &numberer{prefix: "4.2"}
	for _, op := range reserved[5:] {
		add(n, fmt.Sprintf("reserved control opcode %d → 1002", op),
			send(frame{fin: true, op: op, payload: []byte("reserved")}), closes(1002))
	}
	n = &numberer{prefix: "4.3"}
	for i, op := range reserved {
		ch := []chop{chopWhole, chopBytes}[i%2]
		var payload []byte
		if i%3 == 0 {
			payload = nil
		} else {
			payload = binOf(10+i, uint64(i))
		}
		add(n, fmt.Sprintf("text, opcode %d, ping (%s) → echo, 1002, no pong", op, ch),
			sendC(ch, textFrame("before"), frame{fin: true, op: op, payload: payload}, pingFrame([]byte("after"))),
			echoText("before"), closes(1002))
	}
	n = &numberer{prefix: "4.4"}
	add(n, "opcode 3 inside an open fragmented text → 1002",
		send(fragFrame(opText, []byte("open"), false), frame{fin: true, op: 3, payload: []byte("x")}), closes(1002))
	add(n, "opcode 13 inside an open fragmented binary → 1002",
		send(fragFrame(opBinary, []byte("open"), false), frame{fin: true, op: 13}), closes(1002))
	add(n, "opcode 7 with FIN=0 → 1002",
		send(frame{fin: false, op: 7, payload: []byte("x")}), closes(1002))
	return cs
}

// Category 5: fragmentation.
func casesFragmentation() []*tcase {
	var cs []*tcase
	n := &numberer{prefix: "5"}
	add := func(name string, steps ...step) {
		cs = append(cs, &tcase{id: n.next(), name: name, cat: 5, steps: steps})
	}
	frags := func(op byte, parts ...string) []frame {
		var out []frame
		for i, p := range parts {
			o := opCont
			if i == 0 {
				o = op
			}
			out = append(out, frame{fin: i == len(parts)-1, op: o, payload: []byte(p)})
		}
		return out
	}
	add("text in 2 fragments", send(frags(opText, "fragment1", "fragment2")...), echoText("fragment1fragment2"))
	add("binary in 2 fragments, separate writes 50ms apart",
		send(frags(opBinary, "\x00\x01", "\x02\xff")[0]), pause(50*time.Millisecond),
		send(frags(opBinary, "\x00\x01", "\x02\xff")[1]), echo(opBinary, []byte{0, 1, 2, 0xff}))
	add("text in 2 fragments, 1-byte writes", sendC(chopBytes, frags(opText, "fragment1", "fragment2")...), echoText("fragment1fragment2"))
	add("text in 2 fragments with a ping between → pong first, then echo",
		send(frags(opText, "frag1", "frag2")[0], pingFrame([]byte("ping")), frags(opText, "frag1", "frag2")[1]),
		pong([]byte("ping")), echoText("frag1frag2"))
	add("same, 1-byte writes",
		sendC(chopBytes, frags(opText, "frag1", "frag2")[0], pingFrame([]byte("ping")), frags(opText, "frag1", "frag2")[1]),
		pong([]byte("ping")), echoText("frag1frag2"))
	add("ping between fragments answered before the message completes",
		send(frags(opText, "frag1", "frag2")[0], pingFrame([]byte("early"))), pong([]byte("early")),
		send(frags(opText, "frag1", "frag2")[1]), echoText("frag1frag2"))
	add("continuation FIN=1 with nothing to continue → 1002",
		send(contFrame([]byte("orphan"), true), textFrame("after")), closes(1002))
	add("continuation FIN=1 with nothing to continue, 1-byte writes → 1002",
		sendC(chopBytes, contFrame([]byte("orphan"), true)), closes(1002))
	add("continuation FIN=0 with nothing to continue → 1002",
		send(contFrame([]byte("orphan"), false)), closes(1002))
	add("continuation FIN=0 then FIN=1 with nothing to continue → 1002",
		send(contFrame([]byte("a"), false), contFrame([]byte("b"), true)), closes(1002))
	add("complete fragmented text, then a stray continuation → echo, 1002",
		send(frags(opText, "a", "b")...), echoText("ab"), send(contFrame([]byte("c"), false), contFrame([]byte("d"), true)), closes(1002))
	add("new text (FIN=1) inside an open text message → 1002",
		send(fragFrame(opText, []byte("open"), false), textFrame("new")), closes(1002))
	add("new text (FIN=0) inside an open text message → 1002",
		send(fragFrame(opText, []byte("open"), false), fragFrame(opText, []byte("new"), false)), closes(1002))
	add("text continuation chained after an open binary (text FIN=1) → 1002",
		send(fragFrame(opBinary, []byte{1}, false), textFrame("x")), closes(1002))
	add("new binary inside an open binary → 1002",
		send(fragFrame(opBinary, []byte{1}, false), fragFrame(opBinary, []byte{2}, false)), closes(1002))
	add("new binary inside an open text, 1-byte writes → 1002",
		sendC(chopBytes, fragFrame(opText, []byte("t"), false), binFrame([]byte{2})), closes(1002))
	{
		var fs []frame
		var want []byte
		for i := 0; i < 10; i++ {
			p := binOf(100+i, uint64(i))
			want = append(want, p...)
			op := opCont
			if i == 0 {
				op = opBinary
			}
			fs = append(fs, frame{fin: i == 9, op: op, payload: p})
		}
		add("binary in 10 fragments", send(fs...), echo(opBinary, want))
		add("binary in 10 fragments, random splits", sendC(chopRandom, fs...), echo(opBinary, want))
	}
	{
		txt := textOf(100)
		var fs []frame
		for i := 0; i < len(txt); i++ {
			op := opCont
			if i == 0 {
				op = opText
			}
			fs = append(fs, frame{fin: i == len(txt)-1, op: op, payload: []byte{txt[i]}})
		}
		add("text of 100 bytes in 100 one-byte fragments (splitting multi-byte runes)", send(fs...), echoText(txt))
	}
	{
		fs := []frame{{op: opText}}
		for i := 0; i < 2000; i++ {
			fs = append(fs, contFrame(nil, false))
		}
		fs = append(fs, contFrame([]byte("end"), true))
		add("text of 2002 fragments, all but the last empty → 'end'", send(fs...), echoText("end"))
	}
	add("empty fragments: text '' FIN=0, '' FIN=0, '' FIN=1 → empty text",
		send(frags(opText, "", "", "")...), echoText(""))
	add("empty first and last fragments around data",
		send(frags(opBinary, "", "data", "")...), echo(opBinary, []byte("data")))
	add("text in 5 fragments with pings and an unsolicited pong between → pongs in order, then echo",
		send(frame{op: opText, payload: []byte("f1")}, pingFrame([]byte("p1")), contFrame([]byte("f2"), false),
			pongFrame([]byte("unsolicited")), contFrame([]byte("f3"), false), pingFrame([]byte("p2")),
			contFrame([]byte("f4"), false), pingFrame([]byte("p3")), contFrame([]byte("f5"), true)),
		pong([]byte("p1")), pong([]byte("p2")), pong([]byte("p3")), echoText("f1f2f3f4f5"))
	add("text in 5 fragments with pings between, fragments 30ms apart",
		seq(
			sendEach(chopWhole, frame{op: opText, payload: []byte("f1")}, pingFrame([]byte("p1"))), pong([]byte("p1")), pause(30*time.Millisecond),
			send(contFrame([]byte("f2"), false), pingFrame([]byte("p2"))), pong([]byte("p2")), pause(30*time.Millisecond),
			send(contFrame([]byte("f3"), false)), pause(30*time.Millisecond),
			send(contFrame([]byte("f4"), false)), pause(30*time.Millisecond),
			send(contFrame([]byte("f5"), true)), echoText("f1f2f3f4f5"))...)
	add("fragments of 125, 126 and 65536 bytes",
		send(frame{op: opBinary, payload: binOf(125, 1)}, contFrame(binOf(126, 2), false), contFrame(binOf(65536, 3), true)),
		echo(opBinary, slices.Concat(binOf(125, 1), binOf(126, 2), binOf(65536, 3))))
	add("fragmented text then fragmented binary, back to back",
		send(frags(opText, "te", "xt")...), send(frags(opBinary, "bi", "na", "ry")...), echoText("text"), echo(opBinary, []byte("binary")))
	add("close between fragments of an open message → close reply 1000",
		send(fragFrame(opText, []byte("unfinished"), false), closeFrame(1000, "bye")), closes(1000))
	add("fragmented text, ping (FIN=0) between fragments → 1002",
		send(fragFrame(opText, []byte("a"), false), pingFrame([]byte("x")).withFin(false)), closes(1002))
	return cs
}

// ---------------------------------------------------------------------------
// Category 6: UTF-8.

type utf8Sample struct {
	name string
	b    []byte
}

var validUTF8 = []utf8Sample{
	{"Hello-µ@ßöäüàá-UTF-8!!", []byte("Hello-µ@ßöäüàá-UTF-8!!")},
	{"κόσμε (Greek)", []byte("κόσμε")},
	{"U+0080 (first 2-byte)", []byte{0xC2, 0x80}},
	{"U+0800 (first 3-byte)", []byte{0xE0, 0xA0, 0x80}},
	{"U+10000 (first 4-byte)", []byte{0xF0, 0x90, 0x80, 0x80}},
	{"U+007F U+07FF U+FFFF (last of each length)", []byte{0x7F, 0xDF, 0xBF, 0xEF, 0xBF, 0xBF}},
	{"U+10FFFF (last code point)", []byte{0xF4, 0x8F, 0xBF, 0xBF}},
	{"U+D7FF (before surrogates)", []byte{0xED, 0x9F, 0xBF}},
	{"U+E000 (after surrogates)", []byte{0xEE, 0x80, 0x80}},
	{"U+FFFD", []byte{0xEF, 0xBF, 0xBD}},
	{"U+FFFE and U+FFFF (noncharacters are valid)", []byte{0xEF, 0xBF, 0xBE, 0xEF, 0xBF, 0xBF}},
	{"emoji and musical symbols", []byte("🐱𝄞 ok")},
	{"NUL bytes", []byte{'a', 0, 'b', 0}},
	{"all boundaries mixed", []byte("\x00\x7f\u0080\u07ff\u0800\uffff\U00010000\U0010ffff")},
}

var invalidUTF8 = []utf8Sample{
	{"overlong NUL C0 80", []byte{0xC0, 0x80}},
	{"overlong C1 BF", []byte{0xC1, 0xBF}},
	{"overlong 3-byte E0 80 80", []byte{0xE0, 0x80, 0x80}},
	{"overlong 3-byte E0 9F BF", []byte{0xE0, 0x9F, 0xBF}},
	{"overlong 4-byte F0 80 80 80", []byte{0xF0, 0x80, 0x80, 0x80}},
	{"overlong 4-byte F0 8F BF BF", []byte{0xF0, 0x8F, 0xBF, 0xBF}},
	{"high surrogate ED A0 80", []byte{0xED, 0xA0, 0x80}},
	{"high surrogate ED AF BF", []byte{0xED, 0xAF, 0xBF}},
	{"low surrogate ED B0 80", []byte{0xED, 0xB0, 0x80}},
	{"low surrogate ED BF BF", []byte{0xED, 0xBF, 0xBF}},
	{"surrogate pair ED A0 80 ED B0 80", []byte{0xED, 0xA0, 0x80, 0xED, 0xB0, 0x80}},
	{"above U+10FFFF F4 90 80 80", []byte{0xF4, 0x90, 0x80, 0x80}},
	{"F5 80 80 80", []byte{0xF5, 0x80, 0x80, 0x80}},
	{"5-byte F8 88 80 80 80", []byte{0xF8, 0x88, 0x80, 0x80, 0x80}},
	{"6-byte FC 84 80 80 80 80", []byte{0xFC, 0x84, 0x80, 0x80, 0x80, 0x80}},
	{"FE", []byte{'a', 0xFE, 'b'}},
	{"FF", []byte{0xFF}},
	{"lone continuation 80", []byte{0x80}},
	{"lone continuation after ASCII", []byte{'a', 'b', 0xBF}},
	{"continuations 80 BF 80", []byte{0x80, 0xBF, 0x80}},
	{"lead byte followed by ASCII C3 28", []byte{0xC3, 0x28}},
	{"3-byte lead with bad second E2 28 A1", []byte{0xE2, 0x28, 0xA1}},
	{"truncated 2-byte at end", []byte{'a', 'b', 'c', 0xC3}},
	{"truncated € (E2 82) at end", []byte{'p', 'r', 'i', 'c', 'e', ' ', 0xE2, 0x82}},
	{"truncated 4-byte (F0 9F 98) at end", []byte{'x', 0xF0, 0x9F, 0x98}},
	{"κόσμε + ED A0 80 + 'edited'", slices.Concat([]byte("κόσμε"), []byte{0xED, 0xA0, 0x80}, []byte("edited"))},
	{"κόσμε + F4 90 80 80 + 'edited'", slices.Concat([]byte("κόσμε"), []byte{0xF4, 0x90, 0x80, 0x80}, []byte("edited"))},
}

// utf8FailAt returns the length of the shortest prefix of b that cannot begin
// any valid UTF-8 text (RFC 3629 table), or -1 if every prefix of b could
// (b is valid, or invalid only because it is truncated at the end).
func utf8FailAt(b []byte) int {
	for i := 0; i < len(b); {
		c := b[i]
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case c < 0x80:
			i++
			continue
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
			need = 2
		case c == 0xED:
			need, hi = 2, 0x9F
		case c == 0xF0:
			need, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		case c == 0xF4:
			need, hi = 3, 0x8F
		default:
			return i + 1
		}
		for j := 1; j <= need; j++ {
			if i+j >= len(b) {
				return -1
			}
			x := b[i+j]
			if j > 1 {
				lo, hi = 0x80, 0xBF
			}
			if x < lo || x > hi {
				return i + j + 1
			}
		}
		i += need + 1
	}
	return -1
}

// Category 6: UTF-8 validation of text messages.
func casesUTF8() []*tcase {
	var cs []*tcase
	add := func(n *numberer, name string, noDial bool, steps ...step) {
		cs = append(cs, &tcase{id: n.next(), name: name, cat: 6, noDial: noDial, steps: steps})
	}
	n := &numberer{prefix: "6.1"}
	for _, v := range validUTF8 {
		b := v.b
		add(n, "valid "+v.name+": whole, split at every byte boundary, 1-byte fragments", false,
			func(s *session) {
				s.c.send(s, chopWhole, frame{fin: true, op: opText, payload: b})
				s.c.expectEcho(s, opText, b)
				for k := 0; k <= len(b); k++ {
					s.c.send(s, chopWhole, fragFrame(opText, b[:k], false), contFrame(b[k:], true))
					s.c.expectEcho(s, opText, b)
				}
				var fs []frame
				for i := range b {
					op := opCont
					if i == 0 {
						op = opText
					}
					fs = append(fs, frame{fin: i == len(b)-1, op: op, payload: b[i : i+1]})
				}
				s.c.send(s, chopWhole, fs...)
				s.c.expectEcho(s, opText, b)
			})
	}
	n = &numberer{prefix: "6.2"}
	for _, v := range invalidUTF8 {
		add(n, "invalid "+v.name+" in one frame → 1007", false,
			send(frame{fin: true, op: opText, payload: v.b}), closes(1007))
	}
	n = &numberer{prefix: "6.3"}
	for _, v := range invalidUTF8 {
		b := v.b
		p := utf8FailAt(b)
		if utf8.Valid(b) {
			panic("invalid sample is valid: " + v.name)
		}
		name := "invalid " + v.name + ", split at every boundary and 1 byte per fragment: 1007 "
		if p < 0 {
			name += "after the final fragment"
		} else {
			name += fmt.Sprintf("as soon as byte %d is sent (fail fast)", p)
		}
		add(n, name, true, func(s *session) {
			for k := 1; k <= len(b); k++ {
				s.dial(nil)
				s.c.send(s, chopWhole, fragFrame(opText, b[:k], false))
				if p >= 0 && k >= p {
					s.c.expectClose(s, closeExp{codes: []uint16{1007}})
					continue
				}
				s.c.send(s, chopWhole, contFrame(b[k:], true))
				s.c.expectClose(s, closeExp{codes: []uint16{1007}})
			}
			// One byte per fragment: stop sending right after the failing byte.
			s.dial(nil)
			stop := len(b)
			if p >= 0 {
				stop = p
			}
			for i := 0; i < stop; i++ {
				op := opCont
				if i == 0 {
					op = opText
				}
				s.c.send(s, chopWhole, frame{op: op, payload: b[i : i+1]})
			}
			if p < 0 {
				s.c.send(s, chopWhole, contFrame(nil, true))
			}
			s.c.expectClose(s, closeExp{codes: []uint16{1007}})
		})
	}
	n = &numberer{prefix: "6.4"}
	greek := []byte("κόσμε")
	add(n, "fail fast: valid fragment, nothing, then F4 90 80 80 fragment (FIN=0) → 1007 before the rest", false,
		send(fragFrame(opText, greek, false)), nothing(100*time.Millisecond),
		send(contFrame([]byte{0xF4, 0x90, 0x80, 0x80}, false)), closes(1007))
	add(n, "fail fast: valid fragment, then F4 alone (valid prefix), then 90 (FIN=0) → 1007", false,
		send(fragFrame(opText, greek, false), contFrame([]byte{0xF4}, false)), nothing(100*time.Millisecond),
		send(contFrame([]byte{0x90}, false)), closes(1007))
	add(n, "fail fast: ED A0 in the first fragment (FIN=0) → 1007", false,
		send(fragFrame(opText, []byte{'a', 0xED, 0xA0}, false)), closes(1007))
	add(n, "fail fast: invalid byte in the middle of a 64 KiB first fragment (FIN=0) → 1007", false,
		send(fragFrame(opText, slices.Concat([]byte(textOf(32768)), []byte{0xFF}, []byte(textOf(32767))), false)), closes(1007))
	n = &numberer{prefix: "6.5"}
	add(n, "valid echo, then invalid text → echo, 1007", false,
		rt(textFrame("valid")), send(frame{fin: true, op: opText, payload: []byte{0xC0, 0xAF}}), closes(1007))
	add(n, "invalid UTF-8 in a binary message is not validated → echo", false,
		rt(binFrame([]byte{0xC0, 0x80, 0xED, 0xA0, 0x80, 0xFF})))
	add(n, "invalid UTF-8 across binary fragments → echo", false,
		send(fragFrame(opBinary, []byte{0xF4}, false), contFrame([]byte{0x90, 0x80, 0x80}, true)),
		echo(opBinary, []byte{0xF4, 0x90, 0x80, 0x80}))
	add(n, "rune split across fragments with a ping between", false,
		send(fragFrame(opText, []byte{'x', 0xF0, 0x9F}, false), pingFrame(nil), contFrame([]byte{0x90, 0xB1}, true)),
		pong(nil), echo(opText, []byte("x🐱")))
	add(n, "invalid UTF-8 in the last of 3 fragments → 1007", false,
		send(fragFrame(opText, []byte("abc"), false), contFrame([]byte("def"), false), contFrame([]byte{0xC3, 0x28}, true)), closes(1007))
	add(n, "text of 65536 bytes ending with a truncated rune → 1007", false,
		send(frame{fin: true, op: opText, payload: slices.Concat([]byte(textOf(65533)), []byte{0xF0, 0x9F, 0x98})}), closes(1007))
	return cs
}

// ---------------------------------------------------------------------------
// Category 7: close handshake.

func casesClose() []*tcase {
	var cs []*tcase
	add := func(n *numberer, name string, steps ...step) {
		cs = append(cs, &tcase{id: n.next(), name: name, cat: 7, steps: steps})
	}
	n := &numberer{prefix: "7.1"}
	add(n, "close with empty body → empty close reply", send(closeFrameRaw(nil)), closesEmpty())
	add(n, "close 1000 → 1000", send(closeFrame(1000, "")), closes(1000))
	add(n, "close 1000 with reason → 1000", send(closeFrame(1000, "goodbye")), closes(1000))
	add(n, "close 1000 with multi-byte UTF-8 reason → 1000", send(closeFrame(1000, "κόσμε 🐱")), closes(1000))
	add(n, "close 1000 + 123-byte reason (125-byte payload) → 1000", send(closeFrame(1000, textOf(123))), closes(1000))
	add(n, "close 1000 + 124-byte reason (126-byte payload) → 1002", send(closeFrame(1000, strings.Repeat("r", 124))), closes(1002))
	add(n, "close with 1-byte body → 1002", send(closeFrameRaw([]byte{0x03})), closes(1002))
	add(n, "close 1000 with invalid UTF-8 reason → 1007", send(closeFrame(1000, "bad \xC0\x80 reason")), closes(1007))
	add(n, "close 1000 with reason truncated mid-rune → 1007", send(closeFrame(1000, "ab\xE2\x82")), closes(1007))
	add(n, "close 1000, 1-byte writes → 1000", sendC(chopBytes, closeFrame(1000, "bytewise")), closes(1000))
	add(n, "echo, then close 1000 → echo, 1000", rt(textFrame("last words")), send(closeFrame(1000, "")), closes(1000))
	add(n, "fragmented close (FIN=0) → 1002", send(closeFrame(1000, "").withFin(false)), closes(1002))
	add(n, "text and close 1000 in one write → (echo,) close 1000, nothing after", send(textFrame("pipelined"), closeFrame(1000, "")),
		func(s *session) {
			s.c.expectOptionalEchoThenClose(s, opText, []byte("pipelined"), closeExp{codes: []uint16{1000}})
		})
	add(n, "close with invalid code 1005 inside an open fragmented message → 1002",
		send(fragFrame(opText, []byte("open"), false), closeFrame(1005, "")), closes(1002))
	add(n, "close 1000 with RSV2 inside an open fragmented message → 1002",
		send(fragFrame(opBinary, []byte("open"), false), closeFrame(1000, "").withRSV(rsv2)), closes(1002))
	add(n, "close 1000 declaring 126 bytes (16-bit length) after a valid echo → echo, 1002",
		rt(textFrame("first")), send(closeFrame(1000, strings.Repeat("x", 124)).withLenEnc(16)), closes(1002))

	n = &numberer{prefix: "7.2"}
	add(n, "text after close is ignored (same write)",
		send(closeFrame(1000, ""), textFrame("ignored")), closes(1000))
	add(n, "text after close is ignored (sent after the close reply arrived)",
		send(closeFrame(1000, "")), func(s *session) {
			m, err := s.c.next()
			if err != nil || m.op != opClose {
				s.Fatalf("expected close 1000, got %v %v", m, err)
			}
			s.Logf("← %s", m)
			s.c.send(s, chopWhole, textFrame("ignored"), pingFrame([]byte("ignored")))
			extra, closed, err := s.c.waitTCPClosed(tcpCloseBound)
			switch {
			case len(extra) > 0:
				s.Fatalf("server sent %d bytes after its close frame: % x", len(extra), head(extra))
			case err != nil:
				s.Fatalf("reading after close: %v", err)
			case !closed:
				s.Fatalf("server did not close TCP within %v after the closing handshake", tcpCloseBound)
			}
			s.Logf("← TCP closed")
		})
	add(n, "ping after close is ignored", send(closeFrame(1000, ""), pingFrame([]byte("ignored"))), closes(1000))
	add(n, "close then close: one close reply", send(closeFrame(1000, ""), closeFrame(1001, "")), closes(1000))
	add(n, "close then invalid frames (reserved opcode, RSV): still a plain 1000 reply",
		send(closeFrame(1000, ""), frame{fin: true, op: 5}, textFrame("x").withRSV(rsv2)), closes(1000))
	add(n, "close then a 1 MiB+ header: ignored, 1000 reply",
		send(closeFrame(1000, ""), binFrame(nil).withDeclLen(smallMax*4)), closes(1000))

	n = &numberer{prefix: "7.3"}
	for _, code := range []uint16{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		add(n, fmt.Sprintf("valid close code %d → %d", code, code), send(closeFrame(code, "")), closes(code))
	}
	add(n, "valid close code 4999 with reason → 4999", send(closeFrame(4999, "custom")), closes(4999))
	n = &numberer{prefix: "7.5"}
	for _, code := range []uint16{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		add(n, fmt.Sprintf("invalid close code %d → 1002", code), send(closeFrame(code, "")), closes(1002))
	}

	n = &numberer{prefix: "7.7"}
	cs = append(cs,
		&tcase{id: n.next(), name: "after its 1002 the server closes TCP right after its close frame, without waiting for the client's (§7.1.7)", cat: 7, strictOnly: true, prof: profSlowClose,
			steps: seq(send(frame{fin: true, op: 4}), closesX(closeExp{codes: []uint16{1002}, noReply: true}))},
		&tcase{id: n.next(), name: "after its 1002 the client's close frame gets no answer, and TCP closes", cat: 7, strictOnly: true, prof: profSlowClose,
			steps: seq(send(frame{fin: true, op: 4}), closes(1002))},
		&tcase{id: n.next(), name: "after its 1002 the server processes nothing more: frames that follow get no answer, and TCP closes", cat: 7, strictOnly: true, prof: profSlowClose,
			steps: seq(send(frame{fin: true, op: 4}), func(s *session) {
				m, err := s.c.next()
				if err != nil || m.op != opClose || closeBodyCode(m.payload) != 1002 {
					s.Fatalf("expected close 1002, got %v %v", m, err)
				}
				s.Logf("← %s", m)
				s.c.send(s, chopWhole, textFrame("ignored"), pingFrame([]byte("ignored")))
				extra, closed, _ := s.c.waitTCPClosed(tcpCloseBound)
				if len(extra) > 0 || !closed {
					s.Fatalf("after the close frame: extra=% x closed=%v", head(extra), closed)
				}
				s.Logf("← TCP closed")
			})},
		&tcase{id: n.next(), name: "client close: the server closes TCP promptly after its reply without waiting for anything", cat: 7,
			steps: seq(send(closeFrame(1000, "")), func(s *session) {
				m, err := s.c.next()
				if err != nil || m.op != opClose {
					s.Fatalf("expected close 1000, got %v %v", m, err)
				}
				s.Logf("← %s", m)
				start := time.Now()
				extra, closed, _ := s.c.waitTCPClosed(tcpCloseBound)
				if len(extra) > 0 || !closed {
					s.Fatalf("after the close reply: extra=% x closed=%v", head(extra), closed)
				}
				s.Logf("← TCP closed after %v", time.Since(start).Round(time.Millisecond))
			})},
	)
	return cs
}

// ---------------------------------------------------------------------------
// Category 9: limits.

func casesLimits() []*tcase {
	var cs []*tcase
	n := &numberer{prefix: "9"}
	add := func(name string, prof profile, steps ...step) {
		cs = append(cs, &tcase{id: n.next(), name: name, cat: 9, prof: prof, steps: steps})
	}
	add("binary of exactly -max-message (1 MiB) → echo", profDefault, rt(binFrame(binOf(smallMax, 91))))
	add("text of exactly -max-message (1 MiB), random splits → echo", profDefault, roundtrip(chopRandom, textFrame(textOf(smallMax))))
	add("binary header declaring -max-message+1, no payload → 1009", profDefault,
		send(binFrame(nil).withDeclLen(smallMax+1)), closes(1009))
	add("text header declaring -max-message+1, no payload → 1009", profDefault,
		send(textFrame("").withDeclLen(smallMax+1)), closes(1009))
	add("header declaring 2^40 bytes, no payload → 1009", profDefault,
		send(binFrame(nil).withDeclLen(1<<40)), closes(1009))
	add("header declaring 2^63-1 bytes, no payload → 1009", profDefault,
		send(binFrame(nil).withDeclLen(1<<63-1)), closes(1009))
	add("binary of -max-message+1 with full payload → 1009", profDefault,
		send(binFrame(binOf(smallMax+1, 92))), closes(1009))
	add("fragmented: 2 × 512 KiB (= -max-message) → echo", profDefault,
		send(fragFrame(opBinary, binOf(smallMax/2, 93), false), contFrame(binOf(smallMax/2, 94), true)),
		echo(opBinary, slices.Concat(binOf(smallMax/2, 93), binOf(smallMax/2, 94))))
	add("fragmented: 512 KiB, then a header declaring 512 KiB+1 (no payload) → 1009", profDefault,
		send(fragFrame(opBinary, binOf(smallMax/2, 95), false), contFrame(nil, true).withDeclLen(smallMax/2+1)), closes(1009))
	add("fragmented text: 17 × 64 KiB fragments (running total exceeds) → 1009", profDefault,
		func(s *session) {
			var fs []frame
			for i := 0; i < 17; i++ {
				op := opCont
				if i == 0 {
					op = opText
				}
				fs = append(fs, frame{fin: i == 16, op: op, payload: []byte(strings.Repeat("x", 65536))})
			}
			s.c.send(s, chopWhole, fs...)
			s.c.expectClose(s, closeExp{codes: []uint16{1009}})
		})
	add("fragmented: 1 MiB FIN=0, then an empty FIN=0 and a 1-byte final → 1009", profDefault,
		send(fragFrame(opBinary, binOf(smallMax, 96), false), contFrame(nil, false), contFrame([]byte{1}, true)), closes(1009))
	add("after an over-limit close, nothing else: valid echo first, then header of 2 MiB → echo, 1009", profDefault,
		rt(textFrame("fine")), send(binFrame(nil).withDeclLen(2*smallMax)), closes(1009))
	add("16 MiB text (= -max-message) → echo", profLarge, rt(textFrame(textOf(largeMax))))
	add("header declaring 16 MiB+1, no payload → 1009", profLarge, send(binFrame(nil).withDeclLen(largeMax+1)), closes(1009))
	return cs
}

// ---------------------------------------------------------------------------
// Categories 12 (text) and 13 (binary): permessage-deflate (RFC 7692).

// sendCompressed compresses payload with the negotiated parameters and sends
// it as a message in nfrag fragments (RSV1 on the first only).
func sendCompressed(op byte, payload []byte, nfrag int) step {
	return func(s *session) {
		if s.c.deflate == nil {
			s.Fatalf("permessage-deflate was not negotiated (response extensions %q)", s.c.resp.Header.Values("Sec-WebSocket-Extensions"))
		}
		data := s.c.compress(payload)
		s.c.send(s, chopWhole, splitFrames(op, data, nfrag, rsv1)...)
	}
}

// splitFrames cuts data into n fragments of one message; rsv goes on the first.
func splitFrames(op byte, data []byte, n int, rsv byte) []frame {
	var out []frame
	for i := 0; i < n; i++ {
		lo, hi := len(data)*i/n, len(data)*(i+1)/n
		f := frame{fin: i == n-1, op: opCont, payload: data[lo:hi]}
		if i == 0 {
			f.op, f.rsv = op, rsv
		}
		out = append(out, f)
	}
	return out
}

// deflateAlone compresses p as a message with no context (RFC 7692 §7.2.1).
func deflateAlone(p []byte) []byte {
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	_, _ = fw.Write(p)
	_ = fw.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

var (
	zeros2MiBDeflated    = sync.OnceValue(func() []byte { return deflateAlone(make([]byte, 2*smallMax)) })
	zerosAtLimitDeflated = sync.OnceValue(func() []byte { return deflateAlone(make([]byte, smallMax)) })
	aaaOverLimitDeflated = sync.OnceValue(func() []byte { return deflateAlone(bytes.Repeat([]byte("a"), smallMax+1)) })
)

// sendPrecompressed sends an already-compressed message in nfrag fragments.
func sendPrecompressed(op byte, data func() []byte, nfrag int) step {
	return func(s *session) {
		s.c.send(s, chopWhole, splitFrames(op, data(), nfrag, rsv1)...)
	}
}

func requireDeflate() step {
	return func(s *session) {
		if s.c.deflate == nil {
			s.Fatalf("server with -deflate did not accept the offer %q (response extensions %q)", s.tc.offer, s.c.resp.Header.Values("Sec-WebSocket-Extensions"))
		}
	}
}

// expectNoExtension requires that no extension was accepted.
func expectNoExtension() step {
	return func(s *session) {
		if v := s.c.resp.Header.Values("Sec-WebSocket-Extensions"); len(v) > 0 {
			s.Fatalf("server accepted extensions %q for offer %q, want none", v, s.tc.offer)
		}
	}
}

// compressible returns n bytes of repetitive text.
func compressible(n int) []byte {
	return []byte(textOf(n))
}

func casesDeflate() []*tcase {
	var cs []*tcase
	offers := []struct{ short, offer string }{
		{"default offer", "permessage-deflate"},
		{"client_no_context_takeover", "permessage-deflate; client_no_context_takeover"},
		{"client_max_window_bits", "permessage-deflate; client_max_window_bits"},
		{"both no_context_takeover", "permessage-deflate; server_no_context_takeover; client_no_context_takeover"},
	}
	sizes := []int{16, 1024, 16384, 131072}
	counts := map[int]int{16: 10, 1024: 10, 16384: 5, 131072: 2}
	for _, co := range []struct {
		cat int
		op  byte
	}{{12, opText}, {13, opBinary}} {
		cat, op := co.cat, co.op
		for oi, o := range offers {
			n := &numberer{prefix: fmt.Sprintf("%d.%d", cat, oi+1)}
			for _, size := range sizes {
				steps := []step{requireDeflate()}
				for i := 0; i < counts[size]; i++ {
					var p []byte
					switch {
					case op == opText:
						p = compressible(size)
					case i%2 == 0:
						p = binOf(size, uint64(i))
					default:
						p = bytes.Repeat(binOf(64, uint64(i)), size/64+1)[:size]
					}
					steps = append(steps, sendCompressed(op, p, 1+i%3), echo(op, p))
				}
				cs = append(cs, &tcase{id: n.next(), cat: cat, prof: profDeflate, offer: []string{o.offer}, steps: steps,
					name: fmt.Sprintf("%s: %d compressed %s messages of %s (1-3 fragments)", o.short, counts[size], opName(op), sizeName(size))})
			}
		}
	}

	pmd := []string{"permessage-deflate"}
	n := &numberer{prefix: "12.5"}
	neg := func(name string, prof profile, offer []string, steps ...step) {
		cs = append(cs, &tcase{id: n.next(), name: name, cat: 12, prof: prof, offer: offer, steps: steps})
	}
	neg("offer client_max_window_bits=10: accepted, echoes decompress", profDeflate,
		[]string{"permessage-deflate; client_max_window_bits=10"}, requireDeflate(),
		sendCompressed(opText, compressible(5000), 1), echo(opText, compressible(5000)))
	neg("offer server_max_window_bits=10: accepted with <=10 (duplex: 10) or declined; echo works", profDeflate,
		[]string{"permessage-deflate; server_max_window_bits=10"}, answersServerBits(10), func(s *session) {
			p := compressible(5000)
			if s.c.deflate != nil {
				s.c.send(s, chopWhole, frame{fin: true, op: opText, rsv: rsv1, payload: s.c.compress(p)})
			} else {
				s.c.send(s, chopWhole, textFrame(string(p)))
			}
			s.c.expectEcho(s, opText, p)
		})
	neg("offer server_no_context_takeover: accepted with it or declined; echo works", profDeflate,
		[]string{"permessage-deflate; server_no_context_takeover"}, func(s *session) {
			if s.c.deflate != nil && !s.c.deflate.serverNoContextTakeover {
				s.Fatalf("accepted server_no_context_takeover offer without the parameter: %q", s.c.deflate.raw)
			}
			for i := 0; i < 3; i++ {
				p := compressible(3000)
				if s.c.deflate != nil {
					s.c.send(s, chopWhole, frame{fin: true, op: opText, rsv: rsv1, payload: s.c.compress(p)})
				} else {
					s.c.send(s, chopWhole, textFrame(string(p)))
				}
				s.c.expectEcho(s, opText, p)
			}
		})
	neg("offer with an unknown parameter (foo=1) must be declined", profDeflate,
		[]string{"permessage-deflate; foo=1"}, expectNoExtension(), alive())
	neg("offer client_max_window_bits=7 (out of range) must be declined", profDeflate,
		[]string{"permessage-deflate; client_max_window_bits=7"}, expectNoExtension(), alive())
	neg("offer server_max_window_bits=16 (out of range) must be declined", profDeflate,
		[]string{"permessage-deflate; server_max_window_bits=16"}, expectNoExtension(), alive())
	neg("offer with a duplicated parameter must be declined", profDeflate,
		[]string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, expectNoExtension(), alive())
	neg("two offers (server_max_window_bits=8, plain): one accepted (duplex: the first)", profDeflate,
		[]string{"permessage-deflate; server_max_window_bits=8, permessage-deflate"}, requireDeflate(), answersServerBits(8),
		sendCompressed(opBinary, compressible(2000), 1), echo(opBinary, compressible(2000)))
	neg("unknown extension x-foo alone is not accepted", profDeflate, []string{"x-foo"}, expectNoExtension(), alive())
	neg("x-foo, permessage-deflate: only permessage-deflate accepted", profDeflate, []string{"x-foo; bar=1, permessage-deflate"},
		requireDeflate(), sendCompressed(opText, []byte("hi"), 1), echoText("hi"))
	neg("deflate server, no offer: RSV1 text → 1002", profDeflate, nil, expectNoExtension(),
		send(textFrame("x").withRSV(rsv1)), closes(1002))
	neg("server without -deflate never accepts permessage-deflate; RSV1 → 1002", profDefault, pmd, expectNoExtension(),
		alive(), send(frame{fin: true, op: opText, rsv: rsv1, payload: []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}}), closes(1002))
	neg("server without -deflate: offer with parameters not accepted either", profDefault,
		[]string{"permessage-deflate; client_max_window_bits; client_no_context_takeover"}, expectNoExtension(), alive())
	neg("server without -deflate: x-foo not accepted", profDefault, []string{"x-foo"}, expectNoExtension(), alive())

	n = &numberer{prefix: "12.6"}
	proto := func(name string, offer []string, steps ...step) {
		cs = append(cs, &tcase{id: n.next(), name: name, cat: 12, prof: profDeflate, offer: offer, steps: steps})
	}
	proto("compressed text in 3 fragments, ping between → pong, echo", pmd, requireDeflate(), func(s *session) {
		p := compressible(4000)
		fs := splitFrames(opText, s.c.compress(p), 3, rsv1)
		s.c.send(s, chopWhole, fs[0], pingFrame([]byte("mid")), fs[1], fs[2])
		s.c.expectPong(s, []byte("mid"))
		s.c.expectEcho(s, opText, p)
	})
	proto("compressed message, 1-byte writes", pmd, requireDeflate(), func(s *session) {
		p := compressible(300)
		s.c.send(s, chopBytes, frame{fin: true, op: opText, rsv: rsv1, payload: s.c.compress(p)})
		s.c.expectEcho(s, opText, p)
	})
	proto("RSV1 on a continuation frame → 1002", pmd, requireDeflate(), func(s *session) {
		fs := splitFrames(opText, s.c.compress(compressible(1000)), 2, rsv1)
		fs[1].rsv = rsv1
		s.c.send(s, chopWhole, fs...)
		s.c.expectClose(s, closeExp{codes: []uint16{1002}})
	})
	proto("RSV1 on a continuation of an uncompressed message → 1002", pmd, requireDeflate(),
		send(fragFrame(opBinary, []byte("plain"), false), contFrame([]byte("more"), true).withRSV(rsv1)), closes(1002))
	proto("RSV1 on ping → 1002", pmd, requireDeflate(), send(pingFrame([]byte("x")).withRSV(rsv1)), closes(1002))
	proto("RSV1 on pong → 1002", pmd, requireDeflate(), send(pongFrame([]byte("x")).withRSV(rsv1)), closes(1002))
	proto("RSV1 on close → 1002", pmd, requireDeflate(), send(closeFrame(1000, "").withRSV(rsv1)), closes(1002))
	proto("RSV2 on a text frame with deflate negotiated → 1002", pmd, requireDeflate(), send(textFrame("x").withRSV(rsv2)), closes(1002))
	proto("RSV1|RSV3 on a text frame → 1002", pmd, requireDeflate(), send(textFrame("x").withRSV(rsv1|rsv3)), closes(1002))
	proto("uncompressed and compressed messages interleaved", pmd, requireDeflate(),
		rt(textFrame("plain text")), sendCompressed(opText, compressible(777), 1), echo(opText, compressible(777)),
		rt(binFrame(binOf(500, 1))), sendCompressed(opBinary, binOf(500, 2), 2), echo(opBinary, binOf(500, 2)),
		rt(textFrame("")))
	proto("compressed empty message (single 0x00 byte) → empty echo", pmd, requireDeflate(),
		send(frame{fin: true, op: opText, rsv: rsv1, payload: []byte{0x00}}), echoText(""))
	// An empty payload plus the 00 00 ff ff tail is not a complete DEFLATE
	// block; RFC 7692 does not say whether it means "empty": either an empty
	// echo or failing the connection (1007/1002) is conforming.
	proto("compressed message with a zero-length payload → empty echo, or 1007/1002", pmd, requireDeflate(),
		send(frame{fin: true, op: opBinary, rsv: rsv1}), func(s *session) {
			m, err := s.c.next()
			if err != nil {
				s.Fatalf("expected empty echo or close 1007/1002, got %s", describeReadErr(err))
			}
			s.Logf("← %s", m)
			if m.op == opBinary && len(m.payload) == 0 {
				return
			}
			s.c.finishClose(s, closeExp{codes: []uint16{1007, 1002}}, m)
		})
	proto("compressed text that inflates to invalid UTF-8 → 1007", pmd, requireDeflate(),
		sendCompressed(opText, []byte("abc\xED\xA0\x80def"), 1), closes(1007))
	proto("compressed data that is not valid DEFLATE → 1007 or 1002", pmd, requireDeflate(),
		send(frame{fin: true, op: opBinary, rsv: rsv1, payload: []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x12}}), closes(1007, 1002))
	// These are the last compressed message on their connection, so a
	// context-free compression (computed once) is valid whatever was negotiated.
	proto("2 MiB of zeros compressed to a few KiB (inflates beyond -max-message) → 1009", pmd, requireDeflate(),
		sendPrecompressed(opBinary, zeros2MiBDeflated, 1), closes(1009))
	proto("compressed text inflating to -max-message+1 → 1009", pmd, requireDeflate(),
		sendPrecompressed(opText, aaaOverLimitDeflated, 1), closes(1009))
	proto("compressed binary inflating to exactly -max-message → echo", pmd, requireDeflate(),
		sendPrecompressed(opBinary, zerosAtLimitDeflated, 2), echo(opBinary, make([]byte, smallMax)))
	proto("50 small compressed messages with context takeover", pmd, requireDeflate(), func(s *session) {
		for i := 0; i < 50; i++ {
			p := []byte(fmt.Sprintf("message number %d of a very repetitive stream of messages", i))
			s.c.send(s, chopWhole, frame{fin: true, op: opText, rsv: rsv1, payload: s.c.compress(p)})
			s.c.expectEcho(s, opText, p)
		}
	})
	proto("client_no_context_takeover: message ending in a BFINAL block → echo",
		[]string{"permessage-deflate; client_no_context_takeover"}, requireDeflate(), func(s *session) {
			if !s.c.deflate.clientNoContextTakeover {
				s.Fatalf("response lacks client_no_context_takeover: %q", s.c.deflate.raw)
			}
			for i := 0; i < 3; i++ {
				p := compressible(2000 + i)
				var buf bytes.Buffer
				fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
				_, _ = fw.Write(p)
				_ = fw.Close()
				s.c.send(s, chopWhole, frame{fin: true, op: opText, rsv: rsv1, payload: buf.Bytes()})
				s.c.expectEcho(s, opText, p)
			}
		})

	// The Autobahn testsuite's 13.x offers (case12_x_x.py DEFLATE_PARAMS,
	// as autobahn's PerMessageDeflateOffer writes them: it always adds
	// client_no_context_takeover; client_max_window_bits), 13.3-13.6 with
	// server_max_window_bits. Each exchanges text messages of sizes around
	// the window and of Autobahn's sizes, some in 256-byte fragments as its
	// auto-fragmenting cases do; the client inflates the echoes with the
	// window it asked for (wsConn.inflate). RFC 7692 lets a server decline
	// any offer (Autobahn counts that as unimplemented, not failed), so only
	// duplex must accept; a server that declines exchanges the messages
	// uncompressed.
	n = &numberer{prefix: "12.7"}
	const ab = "permessage-deflate; client_no_context_takeover; client_max_window_bits"
	for _, o := range []struct {
		autobahn string
		offer    string
		bits     int // server_max_window_bits duplex must echo, 0 for none
	}{
		{"13.1", ab, 0},
		{"13.2", ab + "; server_no_context_takeover", 0},
		{"13.3", ab + "; server_max_window_bits=9", 9},
		{"13.4", ab + "; server_max_window_bits=15", 15},
		{"13.5", ab + "; server_no_context_takeover; server_max_window_bits=9", 9},
		{"13.6", ab + "; server_no_context_takeover; server_max_window_bits=15", 15},
		{"13.7", ab + "; server_no_context_takeover; server_max_window_bits=9, " + ab + "; server_no_context_takeover, " + ab, 9},
	} {
		steps := []step{answersServerBits(o.bits)}
		for i, size := range []int{16, 64, 256, 512, 513, 1024, 4096, 8192, 32768, 131072} {
			p := wordsOf(size, uint64(i))
			steps = append(steps, func(s *session) {
				if s.c.deflate == nil {
					s.c.send(s, chopWhole, textFrame(string(p)))
				} else {
					nfrag := 1
					if i%2 == 1 {
						nfrag = max(1, len(deflateAlone(p))/256)
					}
					s.c.send(s, chopWhole, splitFrames(opText, s.c.compress(p), nfrag, rsv1)...)
				}
			}, echo(opText, p))
		}
		cs = append(cs, &tcase{id: n.next(), cat: 12, prof: profDeflate, offer: []string{o.offer}, steps: steps,
			name: fmt.Sprintf("Autobahn %s offer %q: accepted (duplex) or declined, text messages of 16 B-128 KiB round-trip", o.autobahn, o.offer)})
	}
	return cs
}

// answersServerBits requires (of duplex) the answer to echo
// server_max_window_bits=bits (RFC 7692 §7.1.2.1 lets it answer a smaller
// value; duplex echoes the offer's), or to carry none when bits is 0.
func answersServerBits(bits int) step {
	return func(s *session) {
		switch {
		case !s.tg.strict:
		case s.c.deflate == nil:
			s.Fatalf("offer %q declined (response extensions %q)", s.tc.offer, s.c.resp.Header.Values("Sec-WebSocket-Extensions"))
		case s.c.deflate.serverMaxWindowBits != bits:
			s.Fatalf("answer %q: server_max_window_bits %d, want %d", s.c.deflate.raw, s.c.deflate.serverMaxWindowBits, bits)
		}
	}
}

// wordsOf returns n bytes of text: words drawn at random (deterministic per
// seed) from a small vocabulary, so that LZ77 finds repeats at every
// distance, as in Autobahn's JSON test data.
func wordsOf(n int, seed uint64) []byte {
	words := strings.Fields(`"id": "name": "value": true, false, null, [1, 2, 3], {"a": {"b": alpha bravo charlie delta echo ` +
		`foxtrot golf hotel india juliett kilo lima mike november oscar papa quebec romeo sierra tango`)
	rng := mrand.New(mrand.NewPCG(seed, uint64(n)))
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, words[rng.IntN(len(words))]...)
		b = append(b, ' ')
	}
	return b[:n]
}
