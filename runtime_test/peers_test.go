package runtimetest

// Interoperability tests: third-party WebSocket client libraries
// (gorilla/websocket, coder/websocket) and a hand-rolled raw client talk to
// the examples/echo server built from this repository, and we check what the
// clients observe, in particular the close codes they report.
//
// Run: cd runtime_test && go test -race -count=1 -run Peer ./...

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"
)

const (
	peerSubprotocol = "duplex.v1+json"
	peerIOTimeout   = 10 * time.Second // generous bound so a failure never hangs
	// cleanCloseWithin bounds a close handshake that should complete at
	// once, and the TCP close after it: half the server's close timeout (5s
	// by default), so hitting it means the server did not answer, or waited
	// for its close timeout, not that the machine is busy.
	cleanCloseWithin = 2500 * time.Millisecond
)

var (
	peerModes   = []string{"listener", "http"}
	peerDeflate = []bool{false, true}
)

// ---------------------------------------------------------------------------
// A small abstraction over the two client libraries.

type peerConn interface {
	Write(ctx context.Context, binary bool, p []byte) error
	Read(ctx context.Context) (binary bool, p []byte, err error)
	// CloseHandshake performs a client-initiated close with code and reason
	// and returns the close code and reason the server answered with.
	CloseHandshake(code int, reason string) (int, string, error)
	Subprotocol() string
	Abort()
}

type peerLib struct {
	name string
	dial func(ctx context.Context, url string, deflate bool, subprotocols []string) (peerConn, *http.Response, error)
}

var peerLibs = []peerLib{
	{name: "gorilla", dial: peerDialGorilla},
	{name: "coder", dial: peerDialCoder},
}

// peerCloseCode extracts the close code from an error returned by either
// library, or -1 when err does not carry a close frame.
func peerCloseCode(err error) int {
	var ge *websocket.CloseError
	if errors.As(err, &ge) {
		return ge.Code
	}
	if c := coder.CloseStatus(err); c != -1 {
		return int(c)
	}
	return -1
}

type peerGorilla struct{ c *websocket.Conn }

func peerDialGorilla(ctx context.Context, url string, deflate bool, subprotocols []string) (peerConn, *http.Response, error) {
	d := websocket.Dialer{
		HandshakeTimeout:  5 * time.Second,
		EnableCompression: deflate,
		Subprotocols:      subprotocols,
	}
	c, resp, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, resp, err
	}
	return &peerGorilla{c}, resp, nil
}

func peerDeadline(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(peerIOTimeout)
}

func (g *peerGorilla) Write(ctx context.Context, bin bool, p []byte) error {
	mt := websocket.TextMessage
	if bin {
		mt = websocket.BinaryMessage
	}
	_ = g.c.SetWriteDeadline(peerDeadline(ctx))
	return g.c.WriteMessage(mt, p)
}

func (g *peerGorilla) Read(ctx context.Context) (bool, []byte, error) {
	_ = g.c.SetReadDeadline(peerDeadline(ctx))
	mt, p, err := g.c.ReadMessage()
	return mt == websocket.BinaryMessage, p, err
}

func (g *peerGorilla) CloseHandshake(code int, reason string) (int, string, error) {
	err := g.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(5*time.Second))
	if err != nil {
		return 0, "", fmt.Errorf("write close: %w", err)
	}
	_ = g.c.SetReadDeadline(time.Now().Add(peerIOTimeout))
	for {
		if _, _, err = g.c.ReadMessage(); err != nil {
			break
		}
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code, ce.Text, nil
	}
	return 0, "", fmt.Errorf("no close frame from the server: %w", err)
}

func (g *peerGorilla) Subprotocol() string { return g.c.Subprotocol() }
func (g *peerGorilla) Abort()              { _ = g.c.Close() }

type peerCoder struct{ c *coder.Conn }

func peerDialCoder(ctx context.Context, url string, deflate bool, subprotocols []string) (peerConn, *http.Response, error) {
	opts := &coder.DialOptions{Subprotocols: subprotocols}
	if deflate {
		opts.CompressionMode = coder.CompressionContextTakeover
	}
	c, resp, err := coder.Dial(ctx, url, opts)
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(8 << 20) // coder's default is 32 KiB
	return &peerCoder{c}, resp, nil
}

func (p *peerCoder) Write(ctx context.Context, bin bool, b []byte) error {
	mt := coder.MessageText
	if bin {
		mt = coder.MessageBinary
	}
	return p.c.Write(ctx, mt, b)
}

func (p *peerCoder) Read(ctx context.Context) (bool, []byte, error) {
	mt, b, err := p.c.Read(ctx)
	return mt == coder.MessageBinary, b, err
}

// CloseHandshake: coder's Close returns nil only when the server answered
// with the same code; otherwise it returns the server's CloseError.
func (p *peerCoder) CloseHandshake(code int, reason string) (int, string, error) {
	err := p.c.Close(coder.StatusCode(code), reason)
	if err == nil {
		return code, "", nil
	}
	var ce coder.CloseError
	if errors.As(err, &ce) {
		return int(ce.Code), ce.Reason, nil
	}
	return 0, "", err
}

func (p *peerCoder) Subprotocol() string { return p.c.Subprotocol() }
func (p *peerCoder) Abort()              { _ = p.c.CloseNow() }

// ---------------------------------------------------------------------------
// Helpers.

func peerEchoFlags(mode string, deflate bool, extra ...string) []string {
	f := []string{"-mode", mode}
	if deflate {
		f = append(f, "-deflate")
	}
	return append(f, extra...)
}

func peerDeflateName(d bool) string {
	if d {
		return "deflate"
	}
	return "plain"
}

// peerForEach runs fn as a parallel subtest for every library × mode ×
// deflate combination.
func peerForEach(t *testing.T, fn func(t *testing.T, lib peerLib, mode string, deflate bool)) {
	for _, lib := range peerLibs {
		for _, mode := range peerModes {
			for _, deflate := range peerDeflate {
				t.Run(lib.name+"/"+mode+"/"+peerDeflateName(deflate), func(t *testing.T) {
					t.Parallel()
					fn(t, lib, mode, deflate)
				})
			}
		}
	}
}

func peerURL(addr string) string { return "ws://" + addr + "/ws" }

func peerMustDial(t *testing.T, lib peerLib, addr string, deflate bool, subprotocols ...string) (peerConn, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), peerIOTimeout)
	defer cancel()
	c, resp, err := lib.dial(ctx, peerURL(addr), deflate, subprotocols)
	if err != nil {
		status := ""
		if resp != nil {
			status = " (HTTP " + resp.Status + ")"
		}
		t.Fatalf("%s dial %s: %v%s", lib.name, addr, err, status)
	}
	t.Cleanup(c.Abort)
	return c, resp
}

func peerIOCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), peerIOTimeout)
}

// peerText returns exactly n bytes of valid UTF-8 that mixes 1-, 2-, 3-
// and 4-byte sequences, so long messages put multi-byte characters across
// frame and buffer boundaries.
func peerText(n int) []byte {
	const unit = "duplex héllo wörld ✓ 𝄞 ∑ "
	b := make([]byte, 0, n+len(unit))
	for len(b) < n {
		for _, r := range unit {
			var tmp [4]byte
			w := copy(tmp[:], string(r))
			if len(b)+w > n {
				for len(b) < n {
					b = append(b, 'x')
				}
				break
			}
			b = append(b, tmp[:w]...)
		}
	}
	return b[:n]
}

func peerBinary(n int, seed uint64) []byte {
	r := mrand.New(mrand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func peerDiff(a, b []byte) string {
	if len(a) != len(b) {
		return fmt.Sprintf("length %d, want %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Sprintf("first difference at byte %d: %#x, want %#x", i, a[i], b[i])
		}
	}
	return "equal"
}

var peerSizes = []int{0, 1, 125, 126, 65535, 65536, 1 << 20}

// ---------------------------------------------------------------------------
// Echo, subprotocol and client-initiated close, per library/mode/deflate.

func TestPeerEcho(t *testing.T) {
	peerForEach(t, func(t *testing.T, lib peerLib, mode string, deflate bool) {
		e := startEcho(t, peerEchoFlags(mode, deflate, "-subprotocols", peerSubprotocol)...)

		t.Run("roundtrip", func(t *testing.T) {
			c, resp := peerMustDial(t, lib, e.Addr, deflate)
			ext := resp.Header.Get("Sec-WebSocket-Extensions")
			if got := strings.Contains(ext, "permessage-deflate"); got != deflate {
				t.Errorf("Sec-WebSocket-Extensions = %q; permessage-deflate negotiated = %v, want %v", ext, got, deflate)
			}
			for _, bin := range []bool{false, true} {
				for _, n := range peerSizes {
					want := peerText(n)
					if bin {
						want = peerBinary(n, 1)
					}
					ctx, cancel := peerIOCtx()
					if err := c.Write(ctx, bin, want); err != nil {
						cancel()
						t.Fatalf("write binary=%v size %d: %v", bin, n, err)
					}
					gotBin, got, err := c.Read(ctx)
					cancel()
					if err != nil {
						t.Fatalf("read echo of binary=%v size %d: %v (close code %d)", bin, n, err, peerCloseCode(err))
					}
					if gotBin != bin {
						t.Errorf("size %d: echoed binary=%v, want %v", n, gotBin, bin)
					}
					if !bytes.Equal(got, want) {
						t.Errorf("binary=%v size %d: echo differs: %s", bin, n, peerDiff(got, want))
					}
				}
			}
		})

		t.Run("pipelined", func(t *testing.T) {
			c, _ := peerMustDial(t, lib, e.Addr, deflate)
			ctx, cancel := peerIOCtx()
			defer cancel()
			const n = 50
			errc := make(chan error, 1)
			go func() {
				for i := range n {
					if err := c.Write(ctx, i%2 == 1, []byte(fmt.Sprintf("message %d %s", i, peerText(i*37)))); err != nil {
						errc <- err
						return
					}
				}
				errc <- nil
			}()
			for i := range n {
				bin, got, err := c.Read(ctx)
				if err != nil {
					t.Fatalf("read message %d: %v", i, err)
				}
				want := fmt.Sprintf("message %d %s", i, peerText(i*37))
				if string(got) != want || bin != (i%2 == 1) {
					t.Fatalf("message %d: got binary=%v %.40q, want binary=%v %.40q", i, bin, got, i%2 == 1, want)
				}
			}
			if err := <-errc; err != nil {
				t.Fatalf("write: %v", err)
			}
		})

		t.Run("subprotocol", func(t *testing.T) {
			for _, tc := range []struct {
				offer []string
				want  string
			}{
				{[]string{peerSubprotocol}, peerSubprotocol},
				{[]string{"other.v9", peerSubprotocol}, peerSubprotocol},
				{nil, ""},
				{[]string{"other.v9"}, ""},
			} {
				c, resp := peerMustDial(t, lib, e.Addr, deflate, tc.offer...)
				if got := c.Subprotocol(); got != tc.want {
					t.Errorf("offer %q: negotiated subprotocol %q (header %q), want %q",
						tc.offer, got, resp.Header.Get("Sec-WebSocket-Protocol"), tc.want)
				}
				c.Abort()
			}
		})

		for _, tc := range []struct {
			code   int
			reason string
		}{
			{1000, ""},
			{4001, "custom reason 4001"},
		} {
			t.Run(fmt.Sprintf("close%d", tc.code), func(t *testing.T) {
				c, _ := peerMustDial(t, lib, e.Addr, deflate, peerSubprotocol)
				ctx, cancel := peerIOCtx()
				defer cancel()
				if err := c.Write(ctx, false, []byte("before close")); err != nil {
					t.Fatal(err)
				}
				if _, _, err := c.Read(ctx); err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				code, reason, err := c.CloseHandshake(tc.code, tc.reason)
				el := time.Since(start)
				if err != nil {
					t.Fatalf("close %d: %v (after %v)", tc.code, err, el)
				}
				if code != tc.code {
					t.Errorf("close %d: server answered %d %q, want %d", tc.code, code, reason, tc.code)
				}
				if el > cleanCloseWithin {
					t.Errorf("close %d: handshake took %v, want < %v", tc.code, el, cleanCloseWithin)
				}
				if g, ok := c.(*peerGorilla); ok {
					peerExpectTCPClosed(t, g.c.UnderlyingConn(), "after the close handshake")
				}
			})
		}
	})
}

// peerExpectTCPClosed checks that the server closes the TCP connection (FIN)
// soon, without sending anything more.
func peerExpectTCPClosed(t *testing.T, conn net.Conn, when string) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(cleanCloseWithin))
	var buf [64]byte
	n, err := conn.Read(buf[:])
	switch {
	case n > 0:
		t.Errorf("%s: server sent %d unexpected bytes %q", when, n, buf[:n])
	case errors.Is(err, io.EOF):
	case errors.Is(err, syscall.ECONNRESET):
		t.Errorf("%s: server reset the TCP connection instead of closing it", when)
	default:
		t.Errorf("%s: server did not close the TCP connection: %v", when, err)
	}
}

// ---------------------------------------------------------------------------
// Server-initiated closes.

func TestPeerShutdown(t *testing.T) {
	for _, sc := range []struct {
		name string
		sig  syscall.Signal
		code int
	}{
		{"SIGTERM", syscall.SIGTERM, 1001},
		{"SIGINT", syscall.SIGINT, 1001},
		{"SIGHUP", syscall.SIGHUP, 1012},
	} {
		t.Run(sc.name, func(t *testing.T) {
			peerForEach(t, func(t *testing.T, lib peerLib, mode string, deflate bool) {
				// A close timeout far above how long answering clients take:
				// the process must exit without waiting for it.
				const closeTimeout = 10 * time.Second
				e := startEcho(t, peerEchoFlags(mode, deflate, "-close-timeout", closeTimeout.String())...)
				conns := make([]peerConn, 2)
				for i := range conns {
					conns[i], _ = peerMustDial(t, lib, e.Addr, deflate)
					ctx, cancel := peerIOCtx()
					if err := conns[i].Write(ctx, false, []byte("hello")); err != nil {
						t.Fatal(err)
					}
					if _, _, err := conns[i].Read(ctx); err != nil {
						t.Fatal(err)
					}
					cancel()
				}
				start := time.Now()
				if err := e.Signal(sc.sig); err != nil {
					t.Fatal(err)
				}
				var wg sync.WaitGroup
				for i, c := range conns {
					wg.Go(func() {
						ctx, cancel := peerIOCtx()
						defer cancel()
						_, _, err := c.Read(ctx)
						if code := peerCloseCode(err); code != sc.code {
							t.Errorf("client %d after %s: read returned %v (close code %d), want close %d", i, sc.name, err, code, sc.code)
						}
						if g, ok := c.(*peerGorilla); ok && err != nil {
							// gorilla's default close handler has answered the close.
							peerExpectTCPClosed(t, g.c.UnderlyingConn(), "after the shutdown close handshake")
						}
					})
				}
				wg.Wait()
				ctx, cancel := context.WithDeadline(context.Background(), start.Add(closeTimeout/2))
				defer cancel()
				err := e.Wait(ctx)
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					t.Errorf("echo did not exit within %v of %s although all clients answered the close: it waited for its -close-timeout %v",
						closeTimeout/2, sc.name, closeTimeout)
				case err != nil:
					t.Logf("echo exited after %v with %v", time.Since(start).Round(time.Millisecond), err)
				}
			})
		})
	}
}

func TestPeerMessageTooBig(t *testing.T) {
	peerForEach(t, func(t *testing.T, lib peerLib, mode string, deflate bool) {
		e := startEcho(t, peerEchoFlags(mode, deflate, "-max-message", "1024")...)
		cases := []struct {
			name string
			bin  bool
			msg  []byte
		}{
			{"binary1025", true, peerBinary(1025, 2)},
			{"text4096", false, peerText(4096)},
		}
		if deflate {
			// Compresses to a few dozen bytes: the limit must apply to the
			// decompressed size.
			cases = append(cases, struct {
				name string
				bin  bool
				msg  []byte
			}{"compressible100KiB", false, bytes.Repeat([]byte("a"), 100<<10)})
		}
		// Messages of exactly the limit are fine, whether or not they
		// compress (incompressible data grows by a few bytes when deflated).
		t.Run("at-limit", func(t *testing.T) {
			c, _ := peerMustDial(t, lib, e.Addr, deflate)
			ctx, cancel := peerIOCtx()
			defer cancel()
			for _, m := range []struct {
				what string
				bin  bool
				msg  []byte
			}{
				{"random binary", true, peerBinary(1024, 3)},
				{"text", false, peerText(1024)},
				{"random binary of 1000 bytes", true, peerBinary(1000, 4)},
			} {
				if err := c.Write(ctx, m.bin, m.msg); err != nil {
					t.Fatal(err)
				}
				if _, got, err := c.Read(ctx); err != nil || !bytes.Equal(got, m.msg) {
					t.Fatalf("%d-byte %s message with -max-message 1024: %v (close code %d), %s",
						len(m.msg), m.what, err, peerCloseCode(err), peerDiff(got, m.msg))
				}
			}
		})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c, _ := peerMustDial(t, lib, e.Addr, deflate)
				ctx, cancel := peerIOCtx()
				defer cancel()
				if err := c.Write(ctx, tc.bin, tc.msg); err != nil {
					t.Fatalf("write %d bytes: %v", len(tc.msg), err)
				}
				_, got, err := c.Read(ctx)
				if code := peerCloseCode(err); code != 1009 {
					t.Errorf("after a %d-byte message with -max-message 1024: read returned %d bytes, %v (close code %d), want close 1009", len(tc.msg), len(got), err, code)
				}
			})
		}
	})
}

func TestPeerInvalidUTF8(t *testing.T) {
	gorilla := peerLibs[0]
	for _, mode := range peerModes {
		for _, deflate := range peerDeflate {
			t.Run(mode+"/"+peerDeflateName(deflate), func(t *testing.T) {
				t.Parallel()
				e := startEcho(t, peerEchoFlags(mode, deflate)...)
				for _, tc := range []struct {
					name string
					msg  []byte
				}{
					{"ff", []byte{0xff}},
					{"truncated", append(peerText(300), 0xe2, 0x82)}, // € without its last byte
					{"surrogate", []byte("ok \xed\xa0\x80")},
					{"overlong", []byte("\xc0\xaf")},
					{"late", append(peerText(70000), 0xff, 'z')},
				} {
					t.Run(tc.name, func(t *testing.T) {
						c, _ := peerMustDial(t, gorilla, e.Addr, deflate)
						ctx, cancel := peerIOCtx()
						defer cancel()
						if err := c.Write(ctx, false, tc.msg); err != nil {
							t.Fatal(err)
						}
						_, got, err := c.Read(ctx)
						if code := peerCloseCode(err); code != 1007 {
							t.Errorf("invalid UTF-8 text: read returned %d bytes, %v (close code %d), want close 1007", len(got), err, code)
						}
						// Invalid UTF-8 in a binary message is fine.
						c2, _ := peerMustDial(t, gorilla, e.Addr, deflate)
						if err := c2.Write(ctx, true, tc.msg); err != nil {
							t.Fatal(err)
						}
						if _, got, err := c2.Read(ctx); err != nil || !bytes.Equal(got, tc.msg) {
							t.Errorf("same bytes as binary: err %v, %s", err, peerDiff(got, tc.msg))
						}
					})
				}
			})
		}
	}
}

// ---------------------------------------------------------------------------
// Health check (server pings).

func TestPeerHealthCheck(t *testing.T) {
	// The timeout leaves a loaded machine time to answer a ping; the
	// reader stays idle for more than interval+timeout, so a server that
	// ignored its pongs would drop it.
	const interval, timeout, idle = 300 * time.Millisecond, time.Second, 3 * time.Second
	for _, mode := range peerModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := startEcho(t, "-mode", mode, "-ping-interval", interval.String(), "-ping-timeout", timeout.String())
			var wg sync.WaitGroup

			// A gorilla client that keeps reading answers pings from its
			// default ping handler and must stay connected.
			wg.Go(func() {
				d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
				c, _, err := d.Dial(peerURL(e.Addr), nil)
				if err != nil {
					t.Errorf("reader client: dial: %v", err)
					return
				}
				defer c.Close()
				var mu sync.Mutex
				pings := 0
				c.SetPingHandler(func(data string) error {
					mu.Lock()
					pings++
					mu.Unlock()
					return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(peerIOTimeout))
				})
				type result struct {
					p   []byte
					err error
				}
				results := make(chan result, 16)
				go func() {
					for {
						_ = c.SetReadDeadline(time.Now().Add(peerIOTimeout))
						_, p, err := c.ReadMessage()
						results <- result{p, err}
						if err != nil {
							return
						}
					}
				}()
				select {
				case r := <-results:
					t.Errorf("reader client: connection ended while idle but answering pings: %v (close code %d)", r.err, peerCloseCode(r.err))
					return
				case <-time.After(idle):
				}
				if err := c.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
					t.Errorf("reader client: write after %v: %v", idle, err)
					return
				}
				select {
				case r := <-results:
					if r.err != nil || string(r.p) != "still here" {
						t.Errorf("reader client: echo after %v: %q, %v", idle, r.p, r.err)
					}
				case <-time.After(peerIOTimeout):
					t.Errorf("reader client: no echo after %v", idle)
				}
				mu.Lock()
				n := pings
				mu.Unlock()
				if n == 0 {
					t.Errorf("reader client: the server sent no ping in %v with -ping-interval %v", idle, interval)
				}
			})

			// A raw client that never sends anything (it reads only to
			// observe) must be dropped after interval+timeout, plus slack
			// for a loaded machine; a server that never drops it misses
			// that by far.
			wg.Go(func() {
				r, _, err := peerRawDial(e.Addr, nil)
				if err != nil {
					t.Errorf("silent client: %v", err)
					return
				}
				defer r.c.Close()
				start := time.Now()
				limit := interval + timeout + faultSlack
				deadline := start.Add(limit + time.Second)
				pings, closeCode := 0, -1
				for {
					f, err := r.readFrame(deadline)
					if err != nil {
						el := time.Since(start)
						switch {
						case errors.Is(err, io.EOF):
						case errors.Is(err, syscall.ECONNRESET):
							t.Logf("silent client: connection reset (not FIN) after %v", el)
						default:
							t.Errorf("silent client: not disconnected within %v: %v", deadline.Sub(start), err)
							return
						}
						if el < interval {
							t.Errorf("silent client: disconnected after %v, before -ping-interval %v", el, interval)
						}
						if el > limit {
							t.Errorf("silent client: disconnected only after %v, want within %v (interval %v + timeout %v + slack); close frame code %d",
								el, limit, interval, timeout, closeCode)
						}
						if pings == 0 {
							t.Errorf("silent client: disconnected without having been pinged")
						}
						if closeCode != -1 && closeCode != 1001 {
							t.Errorf("silent client: close frame code %d, want 1001", closeCode)
						}
						t.Logf("silent client: %d ping(s), close frame code %d, EOF after %v", pings, closeCode, el.Round(time.Millisecond))
						return
					}
					switch f.op {
					case peerOpPing:
						pings++
					case peerOpClose:
						closeCode = f.closeCode()
					default:
						t.Errorf("silent client: unexpected frame opcode %d", f.op)
					}
				}
			})
			wg.Wait()
		})
	}
}

// ---------------------------------------------------------------------------
// A minimal raw client. Unlike the libraries it can stay silent: it never
// answers pings or close frames unless told to.

const (
	peerOpText  = 0x1
	peerOpClose = 0x8
	peerOpPing  = 0x9
)

type peerRawConn struct {
	c  net.Conn
	br *bufio.Reader
}

type peerRawFrame struct {
	fin     bool
	rsv     byte // RSV1..3 as the top three bits
	op      byte
	masked  bool
	payload []byte
}

// closeCode returns the frame's close code, 1005 when it has none.
func (f peerRawFrame) closeCode() int {
	if len(f.payload) < 2 {
		return 1005
	}
	return int(binary.BigEndian.Uint16(f.payload))
}

// peerRawDial completes an opening handshake on /ws with the extra headers.
func peerRawDial(addr string, hdr http.Header) (*peerRawConn, *http.Response, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req, _ := http.NewRequest("GET", "http://"+addr+"/ws", nil)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", key)
	req.Header.Set("Sec-WebSocket-Version", "13")
	for k, v := range hdr {
		req.Header[k] = v
	}
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if err := req.Write(c); err != nil {
		c.Close()
		return nil, nil, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("read handshake response: %w", err)
	}
	_ = c.SetDeadline(time.Time{})
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, resp, fmt.Errorf("handshake: HTTP %s", resp.Status)
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), base64.StdEncoding.EncodeToString(h[:]); got != want {
		c.Close()
		return nil, resp, fmt.Errorf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
	return &peerRawConn{c: c, br: br}, resp, nil
}

func (r *peerRawConn) readFrame(deadline time.Time) (peerRawFrame, error) {
	_ = r.c.SetReadDeadline(deadline)
	var h [2]byte
	if _, err := io.ReadFull(r.br, h[:]); err != nil {
		return peerRawFrame{}, err
	}
	f := peerRawFrame{fin: h[0]&0x80 != 0, rsv: h[0] & 0x70, op: h[0] & 0x0f, masked: h[1]&0x80 != 0}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(r.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	if n > 64<<20 {
		return f, fmt.Errorf("frame length %d", n)
	}
	var mask [4]byte
	if f.masked {
		if _, err := io.ReadFull(r.br, mask[:]); err != nil {
			return f, err
		}
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(r.br, f.payload); err != nil {
		return f, err
	}
	if f.masked {
		for i := range f.payload {
			f.payload[i] ^= mask[i%4]
		}
	}
	return f, nil
}

// writeFrame writes one masked frame; b0 is FIN|RSV|opcode. Payloads are
// shorter than 126 bytes.
func (r *peerRawConn) writeFrame(b0 byte, payload []byte) error {
	if len(payload) > 125 {
		panic("peerRawConn.writeFrame: payload too long")
	}
	var m [4]byte
	_, _ = rand.Read(m[:])
	b := append([]byte{b0, 0x80 | byte(len(payload))}, m[:]...)
	for i, c := range payload {
		b = append(b, c^m[i%4])
	}
	_ = r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := r.c.Write(b)
	return err
}

// ---------------------------------------------------------------------------
// Origin checks at the handshake.

func TestPeerOrigin(t *testing.T) {
	for _, mode := range peerModes {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			plain := startEcho(t, "-mode", mode)
			allowed := startEcho(t, "-mode", mode, "-origins", "http://app.example:8080,https://other.example")
			for _, tc := range []struct {
				e      *echoProcess
				name   string
				origin string // "SAME" is replaced by http://<echo addr>
				want   int
			}{
				{plain, "none", "", 101},
				{plain, "same", "SAME", 101},
				{plain, "cross", "http://evil.example", 403},
				{plain, "other-port", "http://127.0.0.1:1", 403},
				{allowed, "listed", "http://app.example:8080", 101},
				{allowed, "listed-2", "https://other.example", 101},
				{allowed, "unlisted", "http://app.example:8081", 403},
				{allowed, "same-with-list", "SAME", 101},
			} {
				t.Run(tc.name, func(t *testing.T) {
					hdr := http.Header{}
					switch tc.origin {
					case "":
					case "SAME":
						hdr.Set("Origin", "http://"+tc.e.Addr)
					default:
						hdr.Set("Origin", tc.origin)
					}
					r, resp, err := peerRawDial(tc.e.Addr, hdr)
					if r != nil {
						r.c.Close()
					}
					got := 0
					if resp != nil {
						got = resp.StatusCode
					}
					if got != tc.want {
						t.Errorf("Origin %q: HTTP %d (%v), want %d", hdr.Get("Origin"), got, err, tc.want)
					}
				})
			}
		})
	}
}
