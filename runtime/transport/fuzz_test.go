package transport

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// fuzzMaxMessage is small enough that the size limit is hit often and that
// a held buffer never needs to grow past the small pool size.
const fuzzMaxMessage = 1024

// FuzzFrameParser feeds arbitrary bytes to the frame parser whole, byte by
// byte and in random slices. It must never panic, must report the same
// events however the input is split, must deliver nothing over the limit,
// fail at most once, report nothing after the peer's close, and never hold
// more than the limit in its buffer.
func FuzzFrameParser(f *testing.F) {
	f.Add(textFrame("hello"), uint64(1), false)
	f.Add(concat(mkFrame(false, 0, ws.OpText, []byte("hé")[:2]), pingFrame("p"), mkFrame(true, 0, ws.OpContinuation, []byte("hé")[2:])), uint64(2), false)
	f.Add(concat(binFrame(strings.Repeat("x", 300)), closeFrame(1000, "bye"), textFrame("after")), uint64(3), false)
	f.Add(mkFrame(true, 4, ws.OpText, []byte("compressed")), uint64(4), true)
	f.Add(frameHeader(true, 0, ws.OpBinary, 1<<40, true), uint64(5), false)
	f.Add(textFrame("bad \xff utf-8"), uint64(6), false)
	f.Add(concat(textFrame("ok"), mkFrame(true, 0, 3, nil), closeFrame(1001, "")), uint64(7), false)
	f.Add([]byte{0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1}, uint64(8), false)
	f.Fuzz(func(t *testing.T, data []byte, seed uint64, deflate bool) {
		cfg := parserConfig{maxMessage: fuzzMaxMessage, deflate: deflate}
		want, _, s := runParser(t, cfg, data, nil)
		checkEvents(t, want, s)
		every := make([]int, len(data))
		for i := range every {
			every[i] = i
		}
		r := rand.New(rand.NewPCG(seed, uint64(len(data))))
		for _, cuts := range [][]int{every, randomCuts(r, len(data)), randomCuts(r, len(data))} {
			got, _, s := runParser(t, cfg, data, cuts)
			if !sameEvents(got, want) {
				t.Fatalf("split at %v:\n got %s\nwant %s", cuts, fmtEvents(got), fmtEvents(want))
			}
			checkEvents(t, got, s)
		}
	})
}

// checkEvents applies the invariants that hold for one run.
func checkEvents(t *testing.T, ev []parseEvent, s *recSink) {
	t.Helper()
	fails := 0
	for i, e := range ev {
		switch e.kind {
		case "fail":
			fails++
			if e.code != 1002 && e.code != 1007 && e.code != 1009 {
				t.Fatalf("failure code %d", e.code)
			}
		case "msg":
			if int64(len(e.data)) > slackLimit(fuzzMaxMessage, e.compressed) {
				t.Fatalf("delivered a %d-byte message over the %d limit", len(e.data), fuzzMaxMessage)
			}
			if fails > 0 {
				t.Fatalf("message delivered after a failure: %s", fmtEvents(ev))
			}
		case "ctrl":
			if len(e.data) > ws.MaxControlFramePayloadSize {
				t.Fatalf("control payload of %d bytes", len(e.data))
			}
			if e.op == ws.OpClose && i != len(ev)-1 {
				t.Fatalf("events after the peer's close: %s", fmtEvents(ev))
			}
			if fails > 0 && e.op != ws.OpClose {
				t.Fatalf("%v delivered after a failure", e.op)
			}
		}
	}
	if fails > 1 {
		t.Fatalf("%d failures reported", fails)
	}
	if s.fp.msg != nil && s.fp.mode != parseOpen {
		t.Fatal("buffer held after leaving parseOpen")
	}
}

// FuzzReadRequest feeds arbitrary request heads to the listener path's
// parser. It must never panic, never accept a head longer than
// maxRequestHeader, and hand back a usable Request when it accepts.
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte("GET /ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\nHost: a\n\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n folded: x\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"))
	f.Add([]byte("POST /x HTTP/1.0\r\nbad header\r\n\r\n"))
	f.Add([]byte("GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n" + strings.Repeat("X-A: "+strings.Repeat("b", 1000)+"\r\n", 17) + "\r\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte(""))
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	f.Fuzz(func(t *testing.T, head []byte) {
		src := bytes.NewReader(head)
		br := bufio.NewReaderSize(src, 4096) // as requestReaders
		r, herr, err := readRequest(br, addr)
		if r == nil {
			t.Fatal("nil Request")
		}
		if herr != nil && err != nil {
			t.Fatal("both an HTTP refusal and an I/O error")
		}
		if herr != nil {
			if herr.Status != http.StatusBadRequest && herr.Status != http.StatusRequestHeaderFieldsTooLarge {
				t.Fatalf("refusal status %d", herr.Status)
			}
			_ = appendErrorResponse(nil, herr)
			return
		}
		if err != nil {
			return
		}
		consumed := len(head) - src.Len() - br.Buffered()
		if consumed > maxRequestHeader {
			t.Fatalf("accepted a %d-byte head (limit %d)", consumed, maxRequestHeader)
		}
		if r.Method == "" || r.Proto == "" || r.RemoteAddr != addr {
			t.Fatalf("accepted an incomplete request %+v", r)
		}
		for k := range r.Header {
			if k != http.CanonicalHeaderKey(k) {
				t.Fatalf("header key %q not canonical", k)
			}
			if k == "Host" {
				t.Fatal("Host kept in Header")
			}
		}
		// The request may go on to validation without panicking.
		s := &Server{}
		_, _ = s.checkHandshake(r)
		_ = r.Query()
	})
}
