package runtimetest

// Failing the connection (RFC 6455 §7.1.7): when the server refuses what
// a client sent, it sends its close frame and then closes TCP at once,
// without waiting for the client's close frame (which it must not
// process), however long CloseTimeout is. The client here sends the bad
// bytes and then stays silent: it must read the close frame with the
// right code, then EOF, within a bound far below CloseTimeout (30 s).

import (
	"testing"
	"time"
)

// failEOFBound is how long after the close frame the server may take to
// close TCP. CloseTimeout is 30 s: waiting for the client would miss it.
const failEOFBound = 2 * time.Second

func TestFailureClosesTCP(t *testing.T) {
	t.Parallel()
	deflate := handshakeOpts{extensions: []string{"permessage-deflate"}}
	for _, mode := range []string{"listener", "http"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startEcho(t, "-mode", mode, "-close-timeout", "30s", "-max-message", "65536", "-deflate")
			for _, tc := range []struct {
				name string
				opts handshakeOpts
				bad  func(c *wsConn) []byte
				code uint16
			}{
				{"protocol error: reserved opcode", handshakeOpts{}, raw(frame{fin: true, op: 3}), 1002},
				{"protocol error: unmasked frame", handshakeOpts{}, raw(textFrame("hi").withUnmasked()), 1002},
				{"protocol error: RSV2", handshakeOpts{}, raw(textFrame("x").withRSV(rsv2)), 1002},
				{"protocol error: fragmented ping", handshakeOpts{}, raw(pingFrame([]byte("p")).withFin(false)), 1002},
				{"too big: header only", handshakeOpts{}, raw(binFrame(nil).withDeclLen(1 << 20)), 1009},
				// The payload the server will never read arrives too: it
				// must not turn the close into a reset.
				{"too big: whole frame", handshakeOpts{}, raw(binFrame(make([]byte, 256<<10))), 1009},
				{"too big: fragments", handshakeOpts{}, raw(fragFrame(opBinary, make([]byte, 40<<10), false), contFrame(make([]byte, 40<<10), true)), 1009},
				{"invalid UTF-8 text", handshakeOpts{}, raw(textFrame("ok \xff")), 1007},
				{"invalid UTF-8 across fragments", handshakeOpts{}, raw(fragFrame(opText, []byte("ok \xf0\x9f"), false), contFrame([]byte("\x28"), true)), 1007},
				{"close: one-byte body", handshakeOpts{}, raw(closeFrameRaw([]byte{3})), 1002},
				{"close: code 1005", handshakeOpts{}, raw(closeFrame(1005, "")), 1002},
				{"close: code 999", handshakeOpts{}, raw(closeFrame(999, "")), 1002},
				{"close: reason not UTF-8", handshakeOpts{}, raw(closeFrame(1000, "bye \xfe")), 1007},
				{"deflate: invalid data", deflate, raw(frame{fin: true, op: opText, rsv: rsv1, payload: []byte{0xff, 0xff, 0xff, 0xff}}), 1007},
				{"deflate: inflates beyond the limit", deflate, func(c *wsConn) []byte {
					return frame{fin: true, op: opBinary, rsv: rsv1, payload: c.compress(make([]byte, 1<<20))}.encode(c.rng)
				}, 1009},
				{"deflate: RSV1 on a continuation", deflate, func(c *wsConn) []byte {
					return append(fragFrame(opText, []byte("a"), false).encode(c.rng), contFrame([]byte("b"), true).withRSV(rsv1).encode(c.rng)...)
				}, 1002},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					c, err := dialWS(srv.Addr, tc.opts, 5*time.Second)
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
					if tc.opts.extensions != nil && c.deflate == nil {
						t.Fatal("permessage-deflate not negotiated")
					}
					// Written in the background: the server may stop
					// reading before a large frame is all sent.
					sent := make(chan error, 1)
					b := tc.bad(c)
					go func() { sent <- c.writeRaw(b, chopWhole, 10*time.Second) }()
					rc := &rconn{wsConn: c, cfg: expectConfig{strict: true}}
					m, err := rc.next()
					if err != nil {
						t.Fatalf("expected close %d, got %s", tc.code, describeReadErr(err))
					}
					if m.op != opClose || closeBodyCode(m.payload) != tc.code {
						t.Fatalf("expected close %d, got %s", tc.code, m)
					}
					start := time.Now()
					extra, closed, err := c.waitTCPClosed(failEOFBound)
					switch {
					case len(extra) > 0:
						t.Fatalf("server sent %d bytes after its close frame: % x", len(extra), head(extra))
					case err != nil:
						t.Fatalf("reading after the close frame: %v (want EOF)", err)
					case !closed:
						t.Fatalf("TCP still open %v after the close frame (CloseTimeout 30 s): the server waits for the client's close", failEOFBound)
					}
					t.Logf("TCP closed %v after the close frame", time.Since(start).Round(time.Millisecond))
					if err := <-sent; err != nil {
						t.Logf("write: %v (the server may close before it has read all)", err)
					}
				})
			}
		})
	}
}

// raw encodes frames, one after the other.
func raw(frames ...frame) func(c *wsConn) []byte {
	return func(c *wsConn) []byte {
		var b []byte
		for _, f := range frames {
			b = append(b, f.encode(c.rng)...)
		}
		return b
	}
}
