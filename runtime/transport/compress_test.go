package transport_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// deflateMessage compresses p as permessage-deflate does (RFC 7692
// §7.2.1): a sync flush, with the trailing 00 00 ff ff removed.
func deflateMessage(t testing.TB, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriter(&b, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(p)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := b.Bytes()
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatalf("no sync-flush tail: % x", out[len(out)-4:])
	}
	return out[:len(out)-4]
}

// inflateMessage reverses deflateMessage (RFC 7692 §7.2.2).
func inflateMessage(t testing.TB, p []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
	out, err := io.ReadAll(r)
	if err != nil && err != io.ErrUnexpectedEOF {
		t.Fatalf("inflate: %v", err)
	}
	return out
}

func dialDeflate(t testing.TB, e *env) *client {
	t.Helper()
	req := wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
	c := wstest.Upgrade(t, e.addr, req)
	if !strings.HasPrefix(c.Resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Fatalf("permessage-deflate not negotiated: %q", c.Resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	return c
}

func TestCompressionInbound(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		got := make(chan string, 10)
		e := start(t, viaListener, transport.Options{
			DisablePoller: m.disablePoller,
			Compression:   &transport.CompressionOptions{},
			Accept: acceptAll(transport.HandlerFunc(func(c *transport.Conn, typ transport.MessageType, data []byte) {
				got <- typ.String() + ":" + string(data)
			})),
		})
		c := dialDeflate(t, e)
		text := strings.Repeat("compressible text, ünïcödé ✓ ", 200)
		c.Write(wstest.ClientFrame(true, 4, ws.OpText, deflateMessage(t, []byte(text))))
		// Fragmented: RSV1 on the first frame only.
		z := deflateMessage(t, []byte("fragmented binary payload"))
		c.Write(wstest.ClientFrame(false, 4, ws.OpBinary, z[:3]))
		c.Write(wstest.ClientFrame(true, 0, ws.OpContinuation, z[3:]))
		// Uncompressed messages still work on a compressed connection.
		c.Text("plain")
		// An empty compressed message.
		c.Write(wstest.ClientFrame(true, 4, ws.OpText, deflateMessage(t, nil)))
		for _, want := range []string{"text:" + text, "binary:fragmented binary payload", "text:plain", "text:"} {
			select {
			case g := <-got:
				if g != want {
					t.Errorf("handler got %q, want %q", trunc(g), trunc(want))
				}
			case <-time.After(ioTimeout):
				t.Fatal("handler not called")
			}
		}
	})
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func TestCompressionOutbound(t *testing.T) {
	e := start(t, viaListener, transport.Options{Compression: &transport.CompressionOptions{Threshold: 100}})
	c := dialDeflate(t, e)
	conn := e.rec.NextOpen(t)
	big := strings.Repeat("server push, highly repetitive. ", 2000)
	if err := conn.WriteMessage(transport.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	f := c.NextData()
	if f.H.Rsv&4 == 0 {
		t.Fatal("large message sent without RSV1")
	}
	if len(f.Payload) >= len(big)/4 {
		t.Errorf("compressed to %d of %d bytes", len(f.Payload), len(big))
	}
	if bytes.HasSuffix(f.Payload, []byte{0, 0, 0xff, 0xff}) {
		t.Error("compressed payload keeps the 00 00 ff ff tail (RFC 7692 §7.2.1)")
	}
	if got := inflateMessage(t, f.Payload); string(got) != big {
		t.Fatalf("inflated %d bytes, want the %d sent", len(got), len(big))
	}
	// Below the threshold: sent as is.
	_ = conn.WriteMessage(transport.TextMessage, []byte("short"))
	if f := c.NextData(); f.H.Rsv != 0 || string(f.Payload) != "short" {
		t.Errorf("short message: rsv %d payload %q", f.H.Rsv, f.Payload)
	}
	// Incompressible data is sent as is even above the threshold.
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i*i*31)
	}
	_ = conn.WriteMessage(transport.BinaryMessage, random)
	f = c.NextData()
	payload := f.Payload
	if f.H.Rsv&4 != 0 {
		payload = inflateMessage(t, payload)
	}
	if !bytes.Equal(payload, random) {
		t.Error("binary message corrupted")
	}
	// Echo of a compressed message comes back compressed and intact.
	c.Write(wstest.ClientFrame(true, 4, ws.OpText, deflateMessage(t, []byte(big))))
	f = c.NextData()
	if f.H.Rsv&4 == 0 || string(inflateMessage(t, f.Payload)) != big {
		t.Error("echo of a compressed message")
	}
	// Control frames are never compressed.
	c.WriteFrame(ws.OpPing, []byte(strings.Repeat("p", 120)))
	if f := c.MustFrame(); f.H.OpCode != ws.OpPong || f.H.Rsv != 0 {
		t.Errorf("pong: %v rsv %d", f.H.OpCode, f.H.Rsv)
	}
}

// Without negotiation the server never compresses, and RSV1 from the
// client is a protocol error.
func TestCompressionNotNegotiated(t *testing.T) {
	e := start(t, viaListener, transport.Options{Compression: &transport.CompressionOptions{Threshold: 1}})
	c := wstest.Dial(t, e.addr)
	conn := e.rec.NextOpen(t)
	big := strings.Repeat("a", 10000)
	_ = conn.WriteMessage(transport.TextMessage, []byte(big))
	if f := c.NextData(); f.H.Rsv != 0 || string(f.Payload) != big {
		t.Errorf("rsv %d on a connection without permessage-deflate", f.H.Rsv)
	}
	c.Write(wstest.ClientFrame(true, 4, ws.OpText, deflateMessage(t, []byte("x"))))
	c.ExpectCloseCode(1002)
}

func TestCompressionLimits(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, transport.Options{
			DisablePoller:  m.disablePoller,
			Compression:    &transport.CompressionOptions{},
			MaxMessageSize: 10000,
		})
		for _, tt := range []struct {
			name    string
			payload []byte
			op      ws.OpCode
			code    uint16
		}{
			// 1 MB of zeros deflates to about 1 KB: under the limit on the
			// wire, far over it inflated.
			{"inflates beyond MaxMessageSize", deflateMessage(t, make([]byte, 1<<20)), ws.OpBinary, 1009},
			{"just over the limit", deflateMessage(t, make([]byte, 10001)), ws.OpBinary, 1009},
			{"garbage", []byte{0xff, 0xff, 0xff, 0xff, 0x00}, ws.OpBinary, 1007},
			{"invalid utf-8 once inflated", deflateMessage(t, []byte("bad \xff text")), ws.OpText, 1007},
		} {
			t.Run(tt.name, func(t *testing.T) {
				c := dialDeflate(t, e)
				c.Write(wstest.ClientFrame(true, 4, tt.op, tt.payload))
				c.ExpectCloseCode(tt.code)
				c.SendClose(tt.code, "")
				c.ExpectEOF(ioTimeout)
				if ev := e.rec.NextClose(t); ev.Err.Code != tt.code {
					t.Errorf("OnClose %v", ev.Err)
				}
			})
		}
		// At the limit exactly: accepted.
		c := dialDeflate(t, e)
		c.Write(wstest.ClientFrame(true, 4, ws.OpBinary, deflateMessage(t, make([]byte, 10000))))
		f := c.NextData()
		payload := f.Payload
		if f.H.Rsv&4 != 0 {
			payload = inflateMessage(t, payload)
		}
		if len(payload) != 10000 {
			t.Errorf("echo of a message at the limit: %d bytes", len(payload))
		}
	})
}

// Every compression level produces what a standard inflater reads.
func TestCompressionLevels(t *testing.T) {
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.BestCompression, 42} {
		e := start(t, viaListener, transport.Options{Compression: &transport.CompressionOptions{Level: level}})
		c := dialDeflate(t, e)
		big := strings.Repeat("level test ", 1000)
		c.Text(big)
		f := c.NextData()
		if f.H.Rsv&4 == 0 || string(inflateMessage(t, f.Payload)) != big {
			t.Errorf("level %d: rsv %d, bad round trip", level, f.H.Rsv)
		}
	}
}

// The test decoder inflates what compress/flate compresses, and refuses
// back-references beyond its window.
func TestInflateWindowDecoder(t *testing.T) {
	text := []byte(strings.Repeat("window test, repeated a few times. ", 3000)) // ~100 KiB
	random := make([]byte, 70000)
	for i := range random {
		random[i] = byte(i*7919 + i*i*31 + i>>7)
	}
	for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
		for _, p := range [][]byte{nil, []byte("x"), text[:300], text, random} {
			var b bytes.Buffer
			w, _ := flate.NewWriter(&b, level)
			_, _ = w.Write(p)
			_ = w.Flush()
			z := bytes.TrimSuffix(b.Bytes(), []byte{0, 0, 0xff, 0xff})
			out, maxDist, err := inflateWindow(z, 1<<15)
			if err != nil || !bytes.Equal(out, p) {
				t.Fatalf("level %d, %d bytes: inflated %d bytes, err %v", level, len(p), len(out), err)
			}
			if level == flate.HuffmanOnly && maxDist != 0 {
				t.Errorf("Huffman-only output with a back-reference of %d bytes", maxDist)
			}
		}
	}
	// A message ending in a final block (as after Close) is read too.
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	_, _ = w.Write(text)
	_ = w.Close()
	if out, _, err := inflateWindow(b.Bytes(), 1<<15); err != nil || !bytes.Equal(out, text) {
		t.Fatalf("final block: %d bytes, %v", len(out), err)
	}
	// compress/flate refers back up to 32 KiB: a 512-byte window refuses
	// what a 32 KiB one accepts.
	z := deflateMessage(t, wordText(20000))
	if _, maxDist, err := inflateWindow(z, 512); err == nil || maxDist <= 512 {
		t.Errorf("512-byte window: err %v, longest back-reference %d", err, maxDist)
	}
	if out, _, err := inflateWindow(z, 1<<15); err != nil || string(out) != string(wordText(20000)) {
		t.Errorf("32 KiB window: %v", err)
	}
}

// wordText returns n bytes of words drawn at random from a small
// vocabulary: compressible, with repeats at every distance, so that LZ77
// refers back as far as its window allows.
func wordText(n int) []byte {
	words := strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike " +
		"november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu")
	b := make([]byte, 0, n+16)
	for x := uint32(2463534242); len(b) < n; {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b = append(b, words[x%uint32(len(words))]...)
		b = append(b, ' ')
	}
	return b[:n]
}

// A client that offers server_max_window_bits=N gets it echoed and receives
// messages it can inflate with a window of 2^N bytes: with N=15 everything
// is compressed as usual; below 15, a message of at most 2^N bytes is
// compressed as usual (with no context takeover it cannot refer back
// further than its own start) and a longer one Huffman-only, without
// back-references. What the client sends is inflated whatever N.
func TestCompressionServerMaxWindowBits(t *testing.T) {
	for _, p := range paths {
		for _, bits := range []int{15, 12, 9, 8} {
			t.Run(fmt.Sprintf("%v/%d", p, bits), func(t *testing.T) {
				e := start(t, p, transport.Options{Compression: &transport.CompressionOptions{Threshold: 64}})
				offer := fmt.Sprintf("permessage-deflate; client_max_window_bits; server_max_window_bits=%d", bits)
				c := wstest.Upgrade(t, e.addr, wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Extensions", offer))
				conn := e.rec.NextOpen(t)
				want := fmt.Sprintf("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=%d", bits)
				if got := c.Resp.Header.Get("Sec-WebSocket-Extensions"); got != want || !conn.Compressed() {
					t.Fatalf("offer %q: answered %q (Compressed %v), want %q", offer, got, conn.Compressed(), want)
				}
				window := 1 << bits
				text := wordText(4 * window)
				for _, n := range []int{window / 2, window, window + 1, 4 * window} {
					msg := text[:n]
					if err := conn.WriteMessage(transport.TextMessage, msg); err != nil {
						t.Fatal(err)
					}
					f := c.NextData()
					if f.H.Rsv != 4 {
						t.Fatalf("%d-byte message sent with rsv %d, want RSV1", n, f.H.Rsv)
					}
					out, maxDist, err := inflateWindow(f.Payload, window)
					if err != nil || !bytes.Equal(out, msg) {
						t.Fatalf("%d-byte message: inflated %d bytes with a %d-byte window: %v", n, len(out), window, err)
					}
					lz77 := n <= window || bits == 15
					if lz77 && maxDist == 0 {
						t.Errorf("%d-byte message: no back-reference in %d compressed bytes; LZ77 matching is off", n, len(f.Payload))
					}
					if !lz77 && maxDist != 0 {
						t.Errorf("%d-byte message, longer than the %d-byte window: back-reference of %d bytes", n, window, maxDist)
					}
					if len(f.Payload) >= n {
						t.Errorf("%d-byte message compressed to %d bytes", n, len(f.Payload))
					}
				}
				// Below the threshold: as it is.
				_ = conn.WriteMessage(transport.TextMessage, []byte("short"))
				if f := c.NextData(); f.H.Rsv != 0 || string(f.Payload) != "short" {
					t.Errorf("short message: rsv %d payload %q", f.H.Rsv, f.Payload)
				}
				// The client's messages use compress/flate's 32 KiB window
				// (its window is not limited); their echo honours ours.
				big := []byte(strings.Repeat("client data, 32 KiB window. ", 3000))
				c.Write(wstest.ClientFrame(true, 4, ws.OpText, deflateMessage(t, big)))
				f := c.NextData()
				if out, _, err := inflateWindow(f.Payload, window); f.H.Rsv != 4 || err != nil || !bytes.Equal(out, big) {
					t.Errorf("echo of a compressed message: rsv %d, %d bytes, %v", f.H.Rsv, len(out), err)
				}
			})
		}
	}
}

// Incompressible data longer than a small window goes as it is: Huffman
// coding alone does not make it smaller.
func TestCompressionSmallWindowIncompressible(t *testing.T) {
	e := start(t, viaListener, transport.Options{Compression: &transport.CompressionOptions{}})
	c := wstest.Upgrade(t, e.addr, wstest.UpgradeRequest(e.addr).Set("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=9"))
	conn := e.rec.NextOpen(t)
	random := make([]byte, 4096)
	_, _ = rand.NewChaCha8([32]byte{1}).Read(random)
	_ = conn.WriteMessage(transport.BinaryMessage, random)
	if f := c.NextData(); f.H.Rsv != 0 || !bytes.Equal(f.Payload, random) {
		t.Errorf("random bytes sent with rsv %d (%d bytes), want them as they are", f.H.Rsv, len(f.Payload))
	}
}
