package transport

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/gobwas/ws"
)

// ---- frame building ----

var testMask = [4]byte{0xa1, 0x5c, 0x03, 0xee}

// header encodes a frame header: rsv is the 3-bit RSV value (4 = RSV1).
func frameHeader(fin bool, rsv byte, op ws.OpCode, length int64, masked bool) []byte {
	b0 := rsv<<4 | byte(op)
	if fin {
		b0 |= 0x80
	}
	var m byte
	if masked {
		m = 0x80
	}
	b := []byte{b0}
	switch {
	case length < 126:
		b = append(b, m|byte(length))
	case length <= 0xffff:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(length))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(length))
	}
	if masked {
		b = append(b, testMask[:]...)
	}
	return b
}

// mkFrame encodes a whole masked client frame.
func mkFrame(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	b := frameHeader(fin, rsv, op, int64(len(payload)), true)
	start := len(b)
	b = append(b, payload...)
	ws.Cipher(b[start:], testMask, 0)
	return b
}

func textFrame(s string) []byte { return mkFrame(true, 0, ws.OpText, []byte(s)) }
func binFrame(s string) []byte  { return mkFrame(true, 0, ws.OpBinary, []byte(s)) }
func pingFrame(s string) []byte { return mkFrame(true, 0, ws.OpPing, []byte(s)) }
func pongFrame(s string) []byte { return mkFrame(true, 0, ws.OpPong, []byte(s)) }
func closeFrame(code uint16, reason string) []byte {
	return mkFrame(true, 0, ws.OpClose, closePayload(code, reason))
}

func concat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// ---- recording sink ----

type parseEvent struct {
	kind       string // "msg", "ctrl", "fail"
	op         ws.OpCode
	compressed bool
	data       string
	code       uint16
}

func (e parseEvent) String() string {
	switch e.kind {
	case "msg":
		return fmt.Sprintf("msg(%v,z=%v,%q)", e.op, e.compressed, truncEv(e.data))
	case "ctrl":
		return fmt.Sprintf("ctrl(%v,%q)", e.op, truncEv(e.data))
	}
	return fmt.Sprintf("fail(%d)", e.code)
}

func truncEv(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s…(%d bytes)", s[:40], len(s))
	}
	return s
}

func msgEv(op ws.OpCode, s string) parseEvent  { return parseEvent{kind: "msg", op: op, data: s} }
func ctrlEv(op ws.OpCode, s string) parseEvent { return parseEvent{kind: "ctrl", op: op, data: s} }
func failEv(code uint16) parseEvent            { return parseEvent{kind: "fail", code: code} }

type recSink struct {
	fp     *frameParser
	events []parseEvent
	// fed is the slice last passed to feed, to tell a delivery straight
	// from the read buffer from a copy.
	fed       []byte
	direct    []bool // per message: data aliased fed
	bufHeld   []bool // per message: fp.msg was non-nil during delivery
	maxCtrl   int
	maxMsgLen int
}

func (s *recSink) message(op ws.OpCode, compressed bool, data []byte) {
	s.events = append(s.events, parseEvent{kind: "msg", op: op, compressed: compressed, data: string(data)})
	s.direct = append(s.direct, aliases(s.fed, data))
	s.bufHeld = append(s.bufHeld, s.fp.msg != nil)
	s.maxMsgLen = max(s.maxMsgLen, len(data))
}

func (s *recSink) control(op ws.OpCode, payload []byte) {
	s.events = append(s.events, parseEvent{kind: "ctrl", op: op, data: string(payload)})
	s.maxCtrl = max(s.maxCtrl, len(payload))
}

func (s *recSink) fail(f *failure) {
	s.events = append(s.events, parseEvent{kind: "fail", code: f.code})
}

// aliases reports whether sub lies inside buf's memory.
func aliases(buf, sub []byte) bool {
	if len(sub) == 0 || cap(buf) == 0 {
		return false
	}
	b := uintptr(unsafe.Pointer(unsafe.SliceData(buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	return p >= b && p < b+uintptr(cap(buf))
}

type parserConfig struct {
	maxMessage int64
	deflate    bool
	closing    bool // start in parseClosing, as after the server's close
}

// run feeds a copy of data to a fresh parser in the given chunks (cuts are
// increasing offsets) and returns the events. It also checks after every
// feed that the parser never holds a message buffer beyond the limit.
func runParser(t testing.TB, cfg parserConfig, data []byte, cuts []int) ([]parseEvent, *frameParser, *recSink) {
	t.Helper()
	fp := &frameParser{maxMessage: cfg.maxMessage, deflate: cfg.deflate}
	if cfg.closing {
		fp.startClosing()
	}
	s := &recSink{fp: fp}
	buf := bytes.Clone(data) // feed unmasks in place
	prev := 0
	for _, c := range append(slices.Clone(cuts), len(buf)) {
		if c <= prev {
			continue
		}
		s.fed = buf[prev:c]
		fp.feed(buf[prev:c], s)
		prev = c
		checkHeld(t, fp)
	}
	return s.events, fp, s
}

// checkHeld verifies the parser's retained memory is bounded: the message
// buffer never exceeds the limit and the control buffer never exceeds a
// control frame.
func checkHeld(t testing.TB, fp *frameParser) {
	t.Helper()
	if fp.msg != nil && fp.maxMessage > 0 && int64(len(*fp.msg)) > slackLimit(fp.maxMessage, fp.msgCompressed) {
		t.Fatalf("parser holds %d bytes, limit %d", len(*fp.msg), fp.maxMessage)
	}
	if fp.msg != nil && fp.maxMessage > 0 && fp.maxMessage <= smallBufferSize && cap(*fp.msg) > smallBufferSize {
		t.Fatalf("parser buffer capacity %d for limit %d", cap(*fp.msg), fp.maxMessage)
	}
	if len(fp.ctrl) > ws.MaxControlFramePayloadSize {
		t.Fatalf("parser holds %d control bytes", len(fp.ctrl))
	}
}

// slackLimit is the most a message may hold on the wire: the limit, plus a
// little for a compressed message (deflate's overhead on incompressible
// data; the inflated size is checked exactly).
func slackLimit(limit int64, compressed bool) int64 {
	if compressed {
		return limit + limit/8 + 256
	}
	return limit
}

func sameEvents(a, b []parseEvent) bool { return slices.Equal(a, b) }

func fmtEvents(ev []parseEvent) string {
	var s []string
	for _, e := range ev {
		s = append(s, e.String())
	}
	return "[" + strings.Join(s, " ") + "]"
}

// checkSplits feeds data whole, split at every single boundary, byte by
// byte, split at every pair of boundaries (for short inputs) and at random
// places, and requires identical events each time. It returns the events.
func checkSplits(t *testing.T, cfg parserConfig, data []byte) []parseEvent {
	t.Helper()
	want, _, _ := runParser(t, cfg, data, nil)
	check := func(cuts []int) {
		t.Helper()
		got, _, _ := runParser(t, cfg, data, cuts)
		if !sameEvents(got, want) {
			t.Fatalf("split at %v:\n got %s\nwant %s", cuts, fmtEvents(got), fmtEvents(want))
		}
	}
	for i := 1; i < len(data); i++ {
		// Long inputs: every boundary in the headers and the first and
		// last bytes of payload; the middle is covered by random cuts.
		if len(data) > 2000 && i > 300 && i < len(data)-300 {
			continue
		}
		check([]int{i})
	}
	every := make([]int, len(data))
	for i := range every {
		every[i] = i
	}
	check(every)
	if len(data) <= 80 {
		for i := 1; i < len(data); i++ {
			for j := i + 1; j < len(data); j++ {
				check([]int{i, j})
			}
		}
	}
	r := rand.New(rand.NewPCG(uint64(len(data)), 7))
	for range 200 {
		check(randomCuts(r, len(data)))
	}
	return want
}

func randomCuts(r *rand.Rand, n int) []int {
	if n < 2 {
		return nil
	}
	k := r.IntN(min(n, 12))
	cuts := make([]int, k)
	for i := range cuts {
		cuts[i] = 1 + r.IntN(n-1)
	}
	slices.Sort(cuts)
	return cuts
}

// ---- tests ----

func TestFrameParserSplitsValidStreams(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", 20) // 320 bytes: 16-bit length
	huge := strings.Repeat("x", 70000)            // 64-bit length
	utf := "héllo wörld — ✓ 𝄞 done"               // multi-byte runes to split
	tests := []struct {
		name string
		data []byte
		want []parseEvent
	}{
		{"text", textFrame("hello"), []parseEvent{msgEv(ws.OpText, "hello")}},
		{"binary", binFrame("\x00\xff\x01"), []parseEvent{msgEv(ws.OpBinary, "\x00\xff\x01")}},
		{"empty text", textFrame(""), []parseEvent{msgEv(ws.OpText, "")}},
		{"utf8 text", textFrame(utf), []parseEvent{msgEv(ws.OpText, utf)}},
		{"16-bit length", binFrame(big), []parseEvent{msgEv(ws.OpBinary, big)}},
		{"64-bit length", binFrame(huge), []parseEvent{msgEv(ws.OpBinary, huge)}},
		{
			"several messages",
			concat(textFrame("a"), binFrame("bb"), textFrame("ccc")),
			[]parseEvent{msgEv(ws.OpText, "a"), msgEv(ws.OpBinary, "bb"), msgEv(ws.OpText, "ccc")},
		},
		{
			"fragmented text with controls between fragments",
			concat(
				mkFrame(false, 0, ws.OpText, []byte("hé")[:2]),
				pingFrame("p1"),
				mkFrame(false, 0, ws.OpContinuation, []byte("hé")[2:]),
				pongFrame("p2"),
				mkFrame(false, 0, ws.OpContinuation, nil),
				pingFrame(""),
				mkFrame(true, 0, ws.OpContinuation, []byte("llo")),
				textFrame("next"),
			),
			[]parseEvent{
				ctrlEv(ws.OpPing, "p1"), ctrlEv(ws.OpPong, "p2"), ctrlEv(ws.OpPing, ""),
				msgEv(ws.OpText, "héllo"), msgEv(ws.OpText, "next"),
			},
		},
		{
			"fragmented binary, empty first fragment",
			concat(
				mkFrame(false, 0, ws.OpBinary, nil),
				mkFrame(false, 0, ws.OpContinuation, []byte(big)),
				mkFrame(true, 0, ws.OpContinuation, []byte("end")),
			),
			[]parseEvent{msgEv(ws.OpBinary, big+"end")},
		},
		{
			"fragmented, all empty",
			concat(mkFrame(false, 0, ws.OpText, nil), mkFrame(true, 0, ws.OpContinuation, nil)),
			[]parseEvent{msgEv(ws.OpText, "")},
		},
		{
			"max-size control frames",
			concat(pingFrame(strings.Repeat("p", 125)), pongFrame(strings.Repeat("q", 125))),
			[]parseEvent{ctrlEv(ws.OpPing, strings.Repeat("p", 125)), ctrlEv(ws.OpPong, strings.Repeat("q", 125))},
		},
		{
			"frames after the peer's close are discarded",
			concat(textFrame("before"), closeFrame(1000, "bye"), textFrame("after"), []byte{0xff, 0xff, 0xff}, pingFrame("x")),
			[]parseEvent{msgEv(ws.OpText, "before"), ctrlEv(ws.OpClose, "\x03\xe8bye")},
		},
		{
			"empty close",
			concat(mkFrame(true, 0, ws.OpClose, nil), textFrame("after")),
			[]parseEvent{ctrlEv(ws.OpClose, "")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkSplits(t, parserConfig{}, tt.data)
			if !sameEvents(got, tt.want) {
				t.Fatalf("got %s\nwant %s", fmtEvents(got), fmtEvents(tt.want))
			}
		})
	}
}

func TestFrameParserFailures(t *testing.T) {
	unmasked := frameHeader(true, 0, ws.OpText, 2, false)
	unmasked = append(unmasked, "hi"...)
	msb := frameHeader(true, 0, ws.OpBinary, 70000, true)
	msb[2] |= 0x80 // most significant bit of the 64-bit length
	tests := []struct {
		name string
		cfg  parserConfig
		data []byte
		want []parseEvent
	}{
		{"unmasked frame", parserConfig{}, unmasked, []parseEvent{failEv(1002)}},
		{"rsv1 without extension", parserConfig{}, mkFrame(true, 4, ws.OpText, []byte("x")), []parseEvent{failEv(1002)}},
		{"rsv2", parserConfig{deflate: true}, mkFrame(true, 2, ws.OpText, []byte("x")), []parseEvent{failEv(1002)}},
		{"rsv3", parserConfig{deflate: true}, mkFrame(true, 1, ws.OpBinary, []byte("x")), []parseEvent{failEv(1002)}},
		{"rsv1 on control with deflate", parserConfig{deflate: true}, mkFrame(true, 4, ws.OpPing, []byte("x")), []parseEvent{failEv(1002)}},
		{
			"rsv1 on continuation with deflate", parserConfig{deflate: true},
			concat(mkFrame(false, 4, ws.OpText, []byte("x")), mkFrame(true, 4, ws.OpContinuation, []byte("y"))),
			[]parseEvent{failEv(1002)},
		},
		{"reserved data opcode 3", parserConfig{}, mkFrame(true, 0, 3, []byte("x")), []parseEvent{failEv(1002)}},
		{"reserved control opcode 0xB", parserConfig{}, mkFrame(true, 0, 0xB, []byte("x")), []parseEvent{failEv(1002)}},
		{"control frame over 125 bytes", parserConfig{}, pingFrame(strings.Repeat("p", 126)), []parseEvent{failEv(1002)}},
		{"fragmented control frame", parserConfig{}, mkFrame(false, 0, ws.OpPing, []byte("x")), []parseEvent{failEv(1002)}},
		{"continuation without a message", parserConfig{}, mkFrame(true, 0, ws.OpContinuation, []byte("x")), []parseEvent{failEv(1002)}},
		{
			"new message inside a fragmented one", parserConfig{},
			concat(mkFrame(false, 0, ws.OpText, []byte("a")), textFrame("b")),
			[]parseEvent{failEv(1002)},
		},
		{"64-bit length with its top bit set", parserConfig{}, msb, []parseEvent{failEv(1002)}},
		{"invalid utf-8", parserConfig{}, textFrame("ok\xffok"), []parseEvent{failEv(1007)}},
		{"utf-8 surrogate", parserConfig{}, textFrame("\xed\xa0\x80"), []parseEvent{failEv(1007)}},
		{"truncated utf-8 at message end", parserConfig{}, textFrame("ab\xe2\x82"), []parseEvent{failEv(1007)}},
		{
			"utf-8 split across fragments is fine", parserConfig{},
			concat(mkFrame(false, 0, ws.OpText, []byte("€")[:1]), mkFrame(true, 0, ws.OpContinuation, []byte("€")[1:])),
			[]parseEvent{msgEv(ws.OpText, "€")},
		},
		{
			"truncated utf-8 at the end of a fragmented message", parserConfig{},
			concat(mkFrame(false, 0, ws.OpText, []byte("a")), mkFrame(true, 0, ws.OpContinuation, []byte("\xe2\x82"))),
			[]parseEvent{failEv(1007)},
		},
		{"invalid utf-8 in binary is fine", parserConfig{}, binFrame("\xff"), []parseEvent{msgEv(ws.OpBinary, "\xff")}},
		{"message too big", parserConfig{maxMessage: 10}, binFrame(strings.Repeat("x", 11)), []parseEvent{failEv(1009)}},
		{"message at the limit", parserConfig{maxMessage: 10}, binFrame(strings.Repeat("x", 10)), []parseEvent{msgEv(ws.OpBinary, strings.Repeat("x", 10))}},
		{
			"fragments add up to too big", parserConfig{maxMessage: 10},
			concat(mkFrame(false, 0, ws.OpText, []byte("123456")), pingFrame("p"), mkFrame(true, 0, ws.OpContinuation, []byte("78901"))),
			[]parseEvent{ctrlEv(ws.OpPing, "p"), failEv(1009)},
		},
		{
			"controls do not count toward the limit", parserConfig{maxMessage: 10},
			concat(pingFrame(strings.Repeat("p", 100)), textFrame("0123456789")),
			[]parseEvent{ctrlEv(ws.OpPing, strings.Repeat("p", 100)), msgEv(ws.OpText, "0123456789")},
		},
		{
			"events before a failure are kept", parserConfig{},
			concat(textFrame("one"), pingFrame("p"), mkFrame(true, 0, 5, nil), textFrame("never")),
			[]parseEvent{msgEv(ws.OpText, "one"), ctrlEv(ws.OpPing, "p"), failEv(1002)},
		},
		{
			"after a failure only the close frame is seen", parserConfig{},
			concat(textFrame("bad\xff"), textFrame("skipped"), pingFrame("skipped"), mkFrame(true, 0, 3, nil), closeFrame(1000, ""), textFrame("discarded")),
			[]parseEvent{failEv(1007), ctrlEv(ws.OpClose, "\x03\xe8")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkSplits(t, tt.cfg, tt.data)
			if !sameEvents(got, tt.want) {
				t.Fatalf("got %s\nwant %s", fmtEvents(got), fmtEvents(tt.want))
			}
		})
	}
}

// The size limit is decided from the header alone: no payload byte needs
// to arrive (a peer announcing 1 GiB gets 1009 at once).
func TestFrameParserTooBigFromHeaderAlone(t *testing.T) {
	for _, n := range []int64{1001, 70000, 1 << 30, 1<<63 - 1} {
		fp := &frameParser{maxMessage: 1000}
		s := &recSink{fp: fp}
		fp.feed(frameHeader(true, 0, ws.OpBinary, n, true), s)
		if want := []parseEvent{failEv(1009)}; !sameEvents(s.events, want) {
			t.Errorf("length %d: got %s, want %s", n, fmtEvents(s.events), fmtEvents(want))
		}
		if fp.msg != nil {
			t.Errorf("length %d: parser allocated a message buffer", n)
		}
	}
	// Continuation header pushing the total over the limit.
	fp := &frameParser{maxMessage: 1000}
	s := &recSink{fp: fp}
	fp.feed(mkFrame(false, 0, ws.OpBinary, make([]byte, 600)), s)
	fp.feed(frameHeader(true, 0, ws.OpContinuation, 401, true), s)
	if want := []parseEvent{failEv(1009)}; !sameEvents(s.events, want) {
		t.Errorf("continuation: got %s, want %s", fmtEvents(s.events), fmtEvents(want))
	}
	if fp.msg != nil {
		t.Error("parser still holds the message buffer after failing")
	}
}

// Invalid UTF-8 fails the connection as soon as the offending byte
// arrives, before the frame (or the message) is complete.
func TestFrameParserUTF8FailsFast(t *testing.T) {
	fp := &frameParser{}
	s := &recSink{fp: fp}
	first := mkFrame(false, 0, ws.OpText, []byte("valid "))
	fp.feed(bytes.Clone(first), s)
	if len(s.events) != 0 {
		t.Fatalf("events after a valid fragment: %s", fmtEvents(s.events))
	}
	// Second fragment announces 100 bytes; only 4 arrive, the 3rd invalid.
	payload := []byte("ab\xc0zzzz")
	f := frameHeader(false, 0, ws.OpContinuation, 100, true)
	masked := bytes.Clone(payload)
	ws.Cipher(masked, testMask, 0)
	fp.feed(append(f, masked[:4]...), s)
	if want := []parseEvent{failEv(1007)}; !sameEvents(s.events, want) {
		t.Fatalf("got %s, want %s", fmtEvents(s.events), fmtEvents(want))
	}
	if fp.msg != nil {
		t.Error("parser still holds the message buffer after failing")
	}
	if fp.mode != parseClosing {
		t.Errorf("mode %d, want parseClosing", fp.mode)
	}
}

// After the server's close frame (parseClosing), data and control frames
// are skipped unchecked, including invalid ones, until the peer's close.
func TestFrameParserClosingFindsClose(t *testing.T) {
	data := concat(
		textFrame("skipped"),
		textFrame("bad utf-8 \xff is not checked"),
		pingFrame("no pong now"),
		mkFrame(true, 0, 3, []byte("reserved opcode")),
		mkFrame(false, 0, ws.OpContinuation, []byte("stray continuation")),
		mkFrame(true, 0, ws.OpText, []byte(strings.Repeat("big", 1000))),
		closeFrame(1001, "going"),
		textFrame("discarded"),
		[]byte{0x0f, 0xff, 0x00},
	)
	got := checkSplits(t, parserConfig{closing: true, maxMessage: 100}, data)
	if want := []parseEvent{ctrlEv(ws.OpClose, "\x03\xe9going")}; !sameEvents(got, want) {
		t.Fatalf("got %s, want %s", fmtEvents(got), fmtEvents(want))
	}
	_, fp, _ := runParser(t, parserConfig{closing: true}, data, nil)
	if fp.mode != parseDiscard {
		t.Errorf("mode %d after the peer's close, want parseDiscard", fp.mode)
	}
}

// startClosing in the middle of a message drops the message and its buffer.
func TestFrameParserStartClosingMidMessage(t *testing.T) {
	fp := &frameParser{}
	s := &recSink{fp: fp}
	fp.feed(mkFrame(false, 0, ws.OpText, []byte("part one")), s)
	if fp.msg == nil {
		t.Fatal("no buffer while a fragmented message is open")
	}
	fp.startClosing()
	if fp.msg != nil {
		t.Error("startClosing kept the message buffer")
	}
	fp.feed(mkFrame(true, 0, ws.OpContinuation, []byte("part two")), s)
	fp.feed(closeFrame(1000, ""), s)
	if want := []parseEvent{ctrlEv(ws.OpClose, "\x03\xe8")}; !sameEvents(s.events, want) {
		t.Fatalf("got %s, want %s", fmtEvents(s.events), fmtEvents(want))
	}
}

// The server may start closing while a control frame is half received
// (Conn.received calls startClosing between reads). The peer's close
// frame that follows must be delivered with its own payload only.
func TestFrameParserStartClosingMidControlFrame(t *testing.T) {
	fp := &frameParser{}
	s := &recSink{fp: fp}
	p := pingFrame("ping payload")
	fp.feed(bytes.Clone(p[:len(p)-4]), s) // header and part of the payload
	fp.startClosing()
	fp.feed(bytes.Clone(p[len(p)-4:]), s)
	fp.feed(closeFrame(1000, "bye"), s)
	want := []parseEvent{ctrlEv(ws.OpClose, "\x03\xe8bye")}
	if !sameEvents(s.events, want) {
		t.Fatalf("frame.go readPayload: in parseClosing the skipped control frame leaves its partial payload in fp.ctrl, "+
			"which is prepended to the peer's close payload: got %s, want %s", fmtEvents(s.events), fmtEvents(want))
	}
}

// A close frame that itself breaks the rules (here: over 125 bytes) fails
// the connection and is not taken for the peer's answer; what the parser
// reports does not depend on how the bytes were split.
func TestFrameParserRejectedCloseFrame(t *testing.T) {
	oversized := mkFrame(true, 0, ws.OpClose, append(closePayload(1000, ""), strings.Repeat("r", 198)...))
	unmasked := frameHeader(true, 0, ws.OpClose, 2, false)
	unmasked = append(unmasked, 0x03, 0xe8)
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"oversized", oversized},
		{"unmasked", unmasked},
		{"rsv1", mkFrame(true, 4, ws.OpClose, closePayload(1000, ""))},
		{"fragmented", mkFrame(false, 0, ws.OpClose, closePayload(1000, ""))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// The peer's real close, after the rejected one, is its answer.
			data := concat(tt.data, textFrame("skipped"), closeFrame(1002, ""))
			got := checkSplits(t, parserConfig{}, data)
			if want := []parseEvent{failEv(1002), ctrlEv(ws.OpClose, "\x03\xea")}; !sameEvents(got, want) {
				t.Fatalf("got %s, want %s", fmtEvents(got), fmtEvents(want))
			}
		})
	}
}

// A whole single-frame message in one read is delivered straight from the
// read buffer, without taking a pooled buffer; a message split across
// reads is assembled in a pooled buffer that is returned at its end, so an
// idle parser holds no buffer.
func TestFrameParserBuffers(t *testing.T) {
	t.Run("fast path", func(t *testing.T) {
		_, fp, s := runParser(t, parserConfig{}, concat(textFrame("one"), binFrame("two"), textFrame(strings.Repeat("z", 3000))), nil)
		if len(s.events) != 3 {
			t.Fatalf("events %s", fmtEvents(s.events))
		}
		for i := range s.events {
			if !s.direct[i] || s.bufHeld[i] {
				t.Errorf("message %d: direct=%v bufferHeld=%v, want delivery from the read buffer", i, s.direct[i], s.bufHeld[i])
			}
		}
		checkIdle(t, fp)
	})
	t.Run("split message", func(t *testing.T) {
		data := textFrame("split across reads")
		_, fp, s := runParser(t, parserConfig{}, data, []int{len(data) - 3})
		if len(s.events) != 1 || s.direct[0] || !s.bufHeld[0] {
			t.Fatalf("events %s direct=%v held=%v, want a buffered delivery", fmtEvents(s.events), s.direct, s.bufHeld)
		}
		checkIdle(t, fp)
	})
	t.Run("fragmented with controls", func(t *testing.T) {
		data := concat(mkFrame(false, 0, ws.OpBinary, []byte("ab")), pingFrame("x"), mkFrame(true, 0, ws.OpContinuation, []byte("cd")))
		_, fp, s := runParser(t, parserConfig{}, data, nil)
		if want := []parseEvent{ctrlEv(ws.OpPing, "x"), msgEv(ws.OpBinary, "abcd")}; !sameEvents(s.events, want) {
			t.Fatalf("got %s", fmtEvents(s.events))
		}
		checkIdle(t, fp)
	})
	t.Run("split control frame", func(t *testing.T) {
		data := concat(pingFrame("0123456789"), textFrame("after"))
		for cut := 1; cut < len(data); cut++ {
			_, fp, s := runParser(t, parserConfig{}, data, []int{cut})
			if want := []parseEvent{ctrlEv(ws.OpPing, "0123456789"), msgEv(ws.OpText, "after")}; !sameEvents(s.events, want) {
				t.Fatalf("cut %d: got %s", cut, fmtEvents(s.events))
			}
			checkIdle(t, fp)
		}
	})
	t.Run("after failure", func(t *testing.T) {
		data := concat(mkFrame(false, 0, ws.OpText, []byte("abc")), mkFrame(true, 0, ws.OpContinuation, []byte("\xff")))
		_, fp, _ := runParser(t, parserConfig{}, data, []int{3, 12})
		if fp.msg != nil {
			t.Error("buffer held after a failure")
		}
	})
	t.Run("releaseMessage", func(t *testing.T) {
		fp := &frameParser{}
		s := &recSink{fp: fp}
		fp.feed(mkFrame(false, 0, ws.OpBinary, []byte("open")), s)
		if fp.msg == nil || !fp.busy() {
			t.Fatal("want a held buffer and a busy parser mid-message")
		}
		fp.releaseMessage()
		if fp.msg != nil {
			t.Error("releaseMessage kept the buffer")
		}
	})
}

func checkIdle(t *testing.T, fp *frameParser) {
	t.Helper()
	if fp.msg != nil {
		t.Errorf("idle parser holds a %d-byte buffer", cap(*fp.msg))
	}
	if fp.busy() {
		t.Errorf("idle parser reports busy: inFrame=%v hdrN=%d msgOpen=%v", fp.inFrame, fp.hdrN, fp.msgOpen)
	}
	if len(fp.ctrl) != 0 {
		t.Errorf("idle parser has %d pending control bytes", len(fp.ctrl))
	}
}

// With permessage-deflate negotiated, RSV1 on a message's first frame
// marks it compressed; its text is not validated before inflating.
func TestFrameParserCompressedFlag(t *testing.T) {
	data := concat(
		mkFrame(true, 4, ws.OpText, []byte("\xff not utf-8 before inflating")),
		mkFrame(false, 4, ws.OpBinary, []byte("a")),
		mkFrame(true, 0, ws.OpContinuation, []byte("b")),
		textFrame("plain"),
	)
	got := checkSplits(t, parserConfig{deflate: true}, data)
	want := []parseEvent{
		{kind: "msg", op: ws.OpText, compressed: true, data: "\xff not utf-8 before inflating"},
		{kind: "msg", op: ws.OpBinary, compressed: true, data: "ab"},
		msgEv(ws.OpText, "plain"),
	}
	if !sameEvents(got, want) {
		t.Fatalf("got %s\nwant %s", fmtEvents(got), fmtEvents(want))
	}
}

func TestHeaderSize(t *testing.T) {
	for _, tt := range []struct {
		b1   byte
		want int
	}{{0, 2}, {125, 2}, {126, 4}, {127, 10}, {0x80, 6}, {0x80 | 126, 8}, {0x80 | 127, 14}} {
		if got := headerSize(tt.b1); got != tt.want {
			t.Errorf("headerSize(%#x) = %d, want %d", tt.b1, got, tt.want)
		}
	}
}

// encodeFrame produces what the parser (and gobwas) decode back.
func TestEncodeFrame(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 0xffff, 0x10000} {
		p := bytes.Repeat([]byte{'a'}, n)
		b := encodeFrame(opBinary, p, nil)
		h, err := ws.ReadHeader(bytes.NewReader(*b))
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !h.Fin || h.Masked || h.Rsv != 0 || h.OpCode != ws.OpBinary || h.Length != int64(n) {
			t.Fatalf("n=%d: header %+v", n, h)
		}
		if hl := len(*b) - n; hl != headerSize((*b)[1]) {
			t.Fatalf("n=%d: header length %d", n, hl)
		}
		putBuffer(b)
	}
}
