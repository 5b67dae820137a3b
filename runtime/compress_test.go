package runtime_test

import (
	"bytes"
	"compress/flate"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime"
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
	req := upgradeRequest(e.addr).set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
	c := upgrade(t, e.addr, req)
	if !strings.HasPrefix(c.resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate") {
		t.Fatalf("permessage-deflate not negotiated: %q", c.resp.Header.Get("Sec-WebSocket-Extensions"))
	}
	return c
}

func TestCompressionInbound(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		got := make(chan string, 10)
		e := start(t, viaListener, runtime.Options{
			DisablePoller: m.disablePoller,
			Compression:   &runtime.CompressionOptions{},
			Handler: runtime.HandlerFunc(func(c *runtime.Conn, typ runtime.MessageType, data []byte) {
				got <- typ.String() + ":" + string(data)
			}),
		})
		c := dialDeflate(t, e)
		text := strings.Repeat("compressible text, ünïcödé ✓ ", 200)
		c.write(clientFrame(true, 4, ws.OpText, deflateMessage(t, []byte(text))))
		// Fragmented: RSV1 on the first frame only.
		z := deflateMessage(t, []byte("fragmented binary payload"))
		c.write(clientFrame(false, 4, ws.OpBinary, z[:3]))
		c.write(clientFrame(true, 0, ws.OpContinuation, z[3:]))
		// Uncompressed messages still work on a compressed connection.
		c.text("plain")
		// An empty compressed message.
		c.write(clientFrame(true, 4, ws.OpText, deflateMessage(t, nil)))
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
	e := start(t, viaListener, runtime.Options{Compression: &runtime.CompressionOptions{Threshold: 100}})
	c := dialDeflate(t, e)
	conn := e.rec.nextOpen(t)
	big := strings.Repeat("server push, highly repetitive. ", 2000)
	if err := conn.WriteMessage(runtime.TextMessage, []byte(big)); err != nil {
		t.Fatal(err)
	}
	f := c.nextData()
	if f.h.Rsv&4 == 0 {
		t.Fatal("large message sent without RSV1")
	}
	if len(f.payload) >= len(big)/4 {
		t.Errorf("compressed to %d of %d bytes", len(f.payload), len(big))
	}
	if bytes.HasSuffix(f.payload, []byte{0, 0, 0xff, 0xff}) {
		t.Error("compressed payload keeps the 00 00 ff ff tail (RFC 7692 §7.2.1)")
	}
	if got := inflateMessage(t, f.payload); string(got) != big {
		t.Fatalf("inflated %d bytes, want the %d sent", len(got), len(big))
	}
	// Below the threshold: sent as is.
	_ = conn.WriteMessage(runtime.TextMessage, []byte("short"))
	if f := c.nextData(); f.h.Rsv != 0 || string(f.payload) != "short" {
		t.Errorf("short message: rsv %d payload %q", f.h.Rsv, f.payload)
	}
	// Incompressible data is sent as is even above the threshold.
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(i*7919 + i*i*31)
	}
	_ = conn.WriteMessage(runtime.BinaryMessage, random)
	f = c.nextData()
	payload := f.payload
	if f.h.Rsv&4 != 0 {
		payload = inflateMessage(t, payload)
	}
	if !bytes.Equal(payload, random) {
		t.Error("binary message corrupted")
	}
	// Echo of a compressed message comes back compressed and intact.
	c.write(clientFrame(true, 4, ws.OpText, deflateMessage(t, []byte(big))))
	f = c.nextData()
	if f.h.Rsv&4 == 0 || string(inflateMessage(t, f.payload)) != big {
		t.Error("echo of a compressed message")
	}
	// Control frames are never compressed.
	c.writeFrame(ws.OpPing, []byte(strings.Repeat("p", 120)))
	if f := c.mustFrame(); f.h.OpCode != ws.OpPong || f.h.Rsv != 0 {
		t.Errorf("pong: %v rsv %d", f.h.OpCode, f.h.Rsv)
	}
}

// Without negotiation the server never compresses, and RSV1 from the
// client is a protocol error.
func TestCompressionNotNegotiated(t *testing.T) {
	e := start(t, viaListener, runtime.Options{Compression: &runtime.CompressionOptions{Threshold: 1}})
	c := dial(t, e.addr)
	conn := e.rec.nextOpen(t)
	big := strings.Repeat("a", 10000)
	_ = conn.WriteMessage(runtime.TextMessage, []byte(big))
	if f := c.nextData(); f.h.Rsv != 0 || string(f.payload) != big {
		t.Errorf("rsv %d on a connection without permessage-deflate", f.h.Rsv)
	}
	c.write(clientFrame(true, 4, ws.OpText, deflateMessage(t, []byte("x"))))
	c.expectCloseCode(1002)
}

func TestCompressionLimits(t *testing.T) {
	forModes(t, func(t *testing.T, m readMode) {
		e := start(t, viaListener, runtime.Options{
			DisablePoller:  m.disablePoller,
			Compression:    &runtime.CompressionOptions{},
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
				c.write(clientFrame(true, 4, tt.op, tt.payload))
				c.expectCloseCode(tt.code)
				c.sendClose(tt.code, "")
				c.expectEOF(ioTimeout)
				if ev := e.rec.nextClose(t); ev.err.Code != tt.code {
					t.Errorf("OnClose %v", ev.err)
				}
			})
		}
		// At the limit exactly: accepted.
		c := dialDeflate(t, e)
		c.write(clientFrame(true, 4, ws.OpBinary, deflateMessage(t, make([]byte, 10000))))
		f := c.nextData()
		payload := f.payload
		if f.h.Rsv&4 != 0 {
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
		e := start(t, viaListener, runtime.Options{Compression: &runtime.CompressionOptions{Level: level}})
		c := dialDeflate(t, e)
		big := strings.Repeat("level test ", 1000)
		c.text(big)
		f := c.nextData()
		if f.h.Rsv&4 == 0 || string(inflateMessage(t, f.payload)) != big {
			t.Errorf("level %d: rsv %d, bad round trip", level, f.h.Rsv)
		}
	}
}
