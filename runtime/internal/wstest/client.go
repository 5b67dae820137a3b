// Package wstest is the test scaffolding shared by the black-box tests of
// runtime and runtime/transport: a byte-level WebSocket client over a real
// TCP connection, which writes masked frames by hand and reads the server's
// frames with gobwas/ws's header reader. It imports neither package, so
// that the white-box tests of both can use it too.
package wstest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// IOTimeout bounds every blocking read or write a test does, so that a
// broken server fails a test instead of hanging the package. It is no
// measure of speed: on a loaded machine a reader can wait seconds for CPU.
const IOTimeout = 10 * time.Second

// SlowCloseTimeout is the CloseTimeout of tests that check the server closes
// TCP as soon as the close handshake is complete: such a test allows half of
// it, far more than a loaded machine needs, far less than a server that
// waited for the timeout would take.
const SlowCloseTimeout = 10 * time.Second

// Doner is a server-side connection (a *transport.Conn) as WaitDone and
// IsOpen see it.
type Doner interface{ Done() <-chan struct{} }

// Client is a byte-level WebSocket client over a real TCP connection.
type Client struct {
	T    testing.TB
	NC   net.Conn
	BR   *bufio.Reader
	Resp *http.Response
}

// Request is an upgrade request head, editable header by header.
type Request struct {
	Method, Target, Proto string
	Headers               [][2]string
}

// NewKey returns a fresh Sec-WebSocket-Key.
func NewKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// UpgradeRequest returns a valid upgrade request for host.
func UpgradeRequest(host string) *Request {
	return &Request{Method: "GET", Target: "/ws", Proto: "HTTP/1.1", Headers: [][2]string{
		{"Host", host},
		{"Upgrade", "websocket"},
		{"Connection", "Upgrade"},
		{"Sec-WebSocket-Key", NewKey()},
		{"Sec-WebSocket-Version", "13"},
	}}
}

// Set replaces header k (or adds it).
func (r *Request) Set(k, v string) *Request {
	for i, h := range r.Headers {
		if strings.EqualFold(h[0], k) {
			r.Headers[i][1] = v
			return r
		}
	}
	r.Headers = append(r.Headers, [2]string{k, v})
	return r
}

// Add appends a header line, even when k is present.
func (r *Request) Add(k, v string) *Request {
	r.Headers = append(r.Headers, [2]string{k, v})
	return r
}

// Del removes every header line k.
func (r *Request) Del(k string) *Request {
	out := r.Headers[:0]
	for _, h := range r.Headers {
		if !strings.EqualFold(h[0], k) {
			out = append(out, h)
		}
	}
	r.Headers = out
	return r
}

// Get returns the value of header k, or "".
func (r *Request) Get(k string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h[0], k) {
			return h[1]
		}
	}
	return ""
}

// String returns the request head as it goes on the wire.
func (r *Request) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\n", r.Method, r.Target, r.Proto)
	for _, h := range r.Headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	return b.String()
}

// DialTCP dials addr, closing the connection at the test's cleanup.
func DialTCP(t testing.TB, addr string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, IOTimeout)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return nc
}

// Send writes the request (and any bytes after it, in the same write) and
// reads the response head. The body of a refusal is left in resp.Body.
func Send(t testing.TB, addr string, req *Request, after []byte) *Client {
	t.Helper()
	nc := DialTCP(t, addr)
	_ = nc.SetDeadline(time.Now().Add(IOTimeout))
	if _, err := nc.Write(append([]byte(req.String()), after...)); err != nil {
		t.Fatalf("write request: %v", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	_ = nc.SetDeadline(time.Time{})
	return &Client{T: t, NC: nc, BR: br, Resp: resp}
}

// AcceptFor is the Sec-WebSocket-Accept answering key.
func AcceptFor(key string) string {
	h := sha1.New()
	h.Write([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Upgrade performs a valid handshake, checks the 101 answer and syncs.
func Upgrade(t testing.TB, addr string, req *Request) *Client {
	t.Helper()
	c := Send(t, addr, req, nil)
	c.CheckUpgraded(req)
	c.Sync()
	return c
}

// Sync makes a ping round trip. Besides proving the connection is served,
// it orders the runtime's registration of the connection (which happens
// after OnOpen) before anything the test does next with the *Conn: the
// reader locks the Conn's mutex while answering, and so does every Conn
// method. Without it, the race detector reports the publication race of
// TestConnPublishedBeforeRegistered in unrelated tests.
func (c *Client) Sync() {
	c.T.Helper()
	c.WriteFrame(ws.OpPing, []byte("sync"))
	for {
		f := c.MustFrame()
		if f.H.OpCode == ws.OpPong && string(f.Payload) == "sync" {
			return
		}
		if f.H.OpCode != ws.OpPing {
			c.T.Fatalf("sync: got %v %q before the pong", f.H.OpCode, f.Payload)
		}
	}
}

func (c *Client) CheckUpgraded(req *Request) {
	c.T.Helper()
	if c.Resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(c.Resp.Body)
		c.T.Fatalf("status %d %q, want 101", c.Resp.StatusCode, body)
	}
	if got, want := c.Resp.Header.Get("Sec-WebSocket-Accept"), AcceptFor(req.Get("Sec-WebSocket-Key")); got != want {
		c.T.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
	}
}

// Dial upgrades a fresh connection to addr.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	return Upgrade(t, addr, UpgradeRequest(addr))
}

// ClientFrame encodes one masked client frame. rsv is the 3-bit RSV value
// (4 = RSV1).
func ClientFrame(fin bool, rsv byte, op ws.OpCode, payload []byte) []byte {
	b0 := rsv<<4 | byte(op)
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	mask := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	b = append(b, mask[:]...)
	start := len(b)
	b = append(b, payload...)
	ws.Cipher(b[start:], mask, 0)
	return b
}

// CloseBody is the payload of a close frame.
func CloseBody(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

// Write writes b as it is.
func (c *Client) Write(b []byte) {
	c.T.Helper()
	_ = c.NC.SetWriteDeadline(time.Now().Add(IOTimeout))
	if _, err := c.NC.Write(b); err != nil {
		c.T.Fatalf("write: %v", err)
	}
}

// WriteFrame writes one final masked frame.
func (c *Client) WriteFrame(op ws.OpCode, payload []byte) {
	c.T.Helper()
	c.Write(ClientFrame(true, 0, op, payload))
}

// Text writes one text frame.
func (c *Client) Text(s string) { c.T.Helper(); c.WriteFrame(ws.OpText, []byte(s)) }

// SendClose writes a close frame.
func (c *Client) SendClose(code uint16, reason string) {
	c.T.Helper()
	c.WriteFrame(ws.OpClose, CloseBody(code, reason))
}

// Frame is one frame the server sent.
type Frame struct {
	H       ws.Header
	Payload []byte
}

// ReadFrame reads one server frame within d and checks it is unmasked.
func (c *Client) ReadFrame(d time.Duration) (Frame, error) {
	_ = c.NC.SetReadDeadline(time.Now().Add(d))
	h, err := ws.ReadHeader(c.BR)
	if err != nil {
		return Frame{}, err
	}
	if h.Masked {
		return Frame{}, errors.New("server frame is masked")
	}
	if h.Length > 64<<20 {
		return Frame{}, fmt.Errorf("absurd frame length %d", h.Length)
	}
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(c.BR, p); err != nil {
		return Frame{}, err
	}
	return Frame{h, p}, nil
}

// MustFrame reads one server frame within IOTimeout.
func (c *Client) MustFrame() Frame {
	c.T.Helper()
	f, err := c.ReadFrame(IOTimeout)
	if err != nil {
		c.T.Fatalf("read frame: %v", err)
	}
	return f
}

// NextData reads frames, skipping pings and pongs, until a data frame.
func (c *Client) NextData() Frame {
	c.T.Helper()
	for {
		f := c.MustFrame()
		switch f.H.OpCode {
		case ws.OpPing, ws.OpPong:
			continue
		case ws.OpClose:
			code, reason := ParseClose(f.Payload)
			c.T.Fatalf("got close %d %q, want a data frame", code, reason)
		}
		return f
	}
}

// ExpectText reads the next data frame, which must be text want.
func (c *Client) ExpectText(want string) {
	c.T.Helper()
	f := c.NextData()
	if f.H.OpCode != ws.OpText || string(f.Payload) != want {
		c.T.Fatalf("got %v %q, want text %q", f.H.OpCode, f.Payload, want)
	}
}

// ParseClose splits a close payload into its code and reason.
func ParseClose(p []byte) (uint16, string) {
	if len(p) < 2 {
		return 0, ""
	}
	return binary.BigEndian.Uint16(p), string(p[2:])
}

// ExpectClose reads frames, skipping pings, pongs and data, until the
// close frame, and returns its code (0 for an empty body) and reason.
func (c *Client) ExpectClose() (uint16, string) {
	c.T.Helper()
	for {
		f := c.MustFrame()
		if f.H.OpCode == ws.OpClose {
			if !f.H.Fin || len(f.Payload) == 1 || len(f.Payload) > 125 {
				c.T.Fatalf("malformed close frame %+v %q", f.H, f.Payload)
			}
			return ParseClose(f.Payload)
		}
	}
}

// ExpectCloseCode is ExpectClose checking the code.
func (c *Client) ExpectCloseCode(want uint16) string {
	c.T.Helper()
	code, reason := c.ExpectClose()
	if code != want {
		c.T.Fatalf("close code %d (%q), want %d", code, reason, want)
	}
	return reason
}

// ExpectEOF checks that the server closes TCP within d, with nothing more
// sent, and returns how long that took.
func (c *Client) ExpectEOF(d time.Duration) time.Duration {
	c.T.Helper()
	start := time.Now()
	_ = c.NC.SetReadDeadline(start.Add(d))
	var buf [512]byte
	n, err := c.BR.Read(buf[:])
	if n > 0 {
		c.T.Fatalf("got %d more bytes (% x), want EOF", n, buf[:n])
	}
	if err == nil || IsTimeout(err) {
		c.T.Fatalf("connection still open after %v (err %v)", d, err)
	}
	return time.Since(start)
}

// IsTimeout tells whether err is a network timeout.
func IsTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// AnswerCloses reads in the background, answering pings with pongs and a
// close with the same close, and reports the close it got.
func (c *Client) AnswerCloses() <-chan uint16 {
	ch := make(chan uint16, 1)
	go func() {
		defer close(ch)
		for {
			f, err := c.ReadFrame(10 * time.Second)
			if err != nil {
				return
			}
			switch f.H.OpCode {
			case ws.OpPing:
				_, _ = c.NC.Write(ClientFrame(true, 0, ws.OpPong, f.Payload))
			case ws.OpClose:
				code, _ := ParseClose(f.Payload)
				_, _ = c.NC.Write(ClientFrame(true, 0, ws.OpClose, f.Payload))
				ch <- code
				return
			}
		}
	}()
	return ch
}

// HangUp closes the connection cleanly with 1001 (going away, as a
// browser leaving a page does) and waits for the server's answer.
func (c *Client) HangUp() {
	c.T.Helper()
	c.SendClose(1001, "")
	c.ExpectClose()
	c.ExpectEOF(IOTimeout)
}

// WaitDone waits for the connection to end on the server.
func WaitDone(t testing.TB, c Doner, d time.Duration) {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(d):
		t.Fatalf("connection not done after %v", d)
	}
}

// IsOpen tells whether the connection has not ended on the server.
func IsOpen(c Doner) bool {
	select {
	case <-c.Done():
		return false
	default:
		return true
	}
}

// Recv receives from ch within IOTimeout.
func Recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(IOTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
