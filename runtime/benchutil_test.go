package runtime

// Helpers for bench_test.go: pre-masked client frames, an echo server on
// 127.0.0.1:0 and allocation-free raw clients, so that a process-wide
// runtime.MemStats.Mallocs delta taken around a client loop counts the
// server's allocations only.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	goruntime "runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// benchServerFrame is the unmasked final frame the server sends for payload.
func benchServerFrame(op ws.OpCode, payload []byte) []byte {
	var b bytes.Buffer
	_ = ws.WriteHeader(&b, ws.Header{Fin: true, OpCode: op, Length: int64(len(payload))})
	b.Write(payload)
	return b.Bytes()
}

// ---- echo server ----

// benchEchoHandler echoes every message back.
var benchEchoHandler = HandlerFunc(func(c *Conn, typ MessageType, data []byte) {
	_ = c.WriteMessage(typ, data)
})

// benchServer is a Server serving a listener on 127.0.0.1:0.
type benchServer struct {
	srv    *Server
	addr   *net.TCPAddr
	served chan error
	closed atomic.Int64 // connections that ended (Hooks.OnClose)
	conns  []net.Conn   // client connections, closed by stop
}

// startBenchServer starts an echo server. Health checks are off (negative
// PingInterval) so that their sweeps do not show up in allocation counts;
// they cost per interval, not per message.
func startBenchServer(tb testing.TB, opts Options) *benchServer {
	tb.Helper()
	return startBenchServerWrap(tb, opts, nil)
}

// startBenchServerWrap is startBenchServer serving wrap(the listener).
func startBenchServerWrap(tb testing.TB, opts Options, wrap func(net.Listener) net.Listener) *benchServer {
	tb.Helper()
	bs := &benchServer{served: make(chan error, 1)}
	if opts.Handler == nil {
		opts.Handler = benchEchoHandler
	}
	if opts.PingInterval == 0 {
		opts.PingInterval = -1
	}
	opts.Hooks.OnClose = func(*Conn, *CloseError) { bs.closed.Add(1) }
	srv, err := New(opts)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	bs.srv, bs.addr = srv, ln.Addr().(*net.TCPAddr)
	if wrap != nil {
		ln = wrap(ln)
	}
	go func() { bs.served <- srv.Serve(ln) }()
	return bs
}

// stop closes the clients' connections and shuts the server down.
func (bs *benchServer) stop(tb testing.TB) {
	tb.Helper()
	for _, c := range bs.conns {
		_ = c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bs.srv.Shutdown(ctx); err != nil {
		tb.Errorf("shutdown: %v", err)
	}
	if err := <-bs.served; !errors.Is(err, ErrServerClosed) {
		tb.Errorf("serve: %v", err)
	}
}

// waitClosed waits until n connections have ended, so that their teardown
// is inside an allocation count.
func (bs *benchServer) waitClosed(tb testing.TB, n int64) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for bs.closed.Load() < n {
		if time.Now().After(deadline) {
			tb.Fatalf("%d of %d connections closed after 10s", bs.closed.Load(), n)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// benchUpgradeRequest is a minimal valid upgrade request (RFC 6455 §4.1),
// with the RFC's sample key.
func benchUpgradeRequest(host string) []byte {
	return []byte("GET /ws HTTP/1.1\r\nHost: " + host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
}

var (
	benchResponseEnd = []byte("\r\n\r\n")
	benchStatus101   = []byte("HTTP/1.1 101 ")
	errBenchEcho     = errors.New("echo frame differs from the expected one")
	errBenchUpgrade  = errors.New("upgrade response is not 101")
)

// dial opens a WebSocket connection with net.Conn and completes the
// upgrade; the connection is closed by stop.
func (bs *benchServer) dial(tb testing.TB) net.Conn {
	tb.Helper()
	nc, err := net.DialTCP("tcp", nil, bs.addr)
	if err != nil {
		tb.Fatal(err)
	}
	bs.conns = append(bs.conns, nc)
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := nc.Write(benchUpgradeRequest(bs.addr.String())); err != nil {
		tb.Fatal(err)
	}
	var resp []byte
	buf := make([]byte, 512)
	for !bytes.Contains(resp, benchResponseEnd) {
		n, err := nc.Read(buf)
		if err != nil {
			tb.Fatalf("read upgrade response: %v", err)
		}
		resp = append(resp, buf[:n]...)
	}
	if !bytes.HasPrefix(resp, benchStatus101) || !bytes.HasSuffix(resp, benchResponseEnd) {
		tb.Fatalf("unexpected upgrade response %q", resp)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc
}

// benchClient does request/response round trips over one connection:
// write a pre-masked frame, read the echo frame. Its loop allocates
// nothing: the request, response buffer and expected frame are built once.
type benchClient struct {
	nc   net.Conn
	req  []byte // masked client frame, never modified
	resp []byte // room for exactly one echo frame
	want []byte // the echo frame expected
}

func newBenchClient(nc net.Conn, op ws.OpCode, payload []byte) *benchClient {
	want := benchServerFrame(op, payload)
	return &benchClient{
		nc:   nc,
		req:  wstest.BenchClientFrame(nil, true, op, payload, wstest.BenchMask),
		resp: make([]byte, len(want)),
		want: want,
	}
}

func (c *benchClient) roundTrip() error {
	if _, err := c.nc.Write(c.req); err != nil {
		return err
	}
	if _, err := io.ReadFull(c.nc, c.resp); err != nil {
		return err
	}
	if !bytes.Equal(c.resp, c.want) {
		return errBenchEcho
	}
	return nil
}

// ---- raw handshake client ----

// benchRawDialer performs upgrades with raw, blocking socket system calls:
// unlike net.Dial it allocates nothing in this process, so that a Mallocs
// delta around it is the server's (accept, upgrade, open, teardown).
type benchRawDialer struct {
	sa   syscall.SockaddrInet4
	req  []byte
	buf  []byte
	tv   syscall.Timeval // receive timeout, so that a broken server cannot hang the benchmark
	errs int
	// rcvbuf, when set, is the SO_RCVBUF of the sockets dialHello opens,
	// set before connecting so that it bounds the window the client
	// offers: a client that stops reading then holds little in the kernel.
	rcvbuf int
}

func newBenchRawDialer(addr *net.TCPAddr) *benchRawDialer {
	d := &benchRawDialer{req: benchUpgradeRequest(addr.String()), buf: make([]byte, 1024), tv: syscall.Timeval{Sec: 10}}
	d.sa.Port = addr.Port
	copy(d.sa.Addr[:], addr.IP.To4())
	return d
}

// handshake connects, sends the upgrade request, reads the 101 response
// and closes the socket (an abrupt end for the server: no close frame).
func (d *benchRawDialer) handshake() error {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &d.tv); err != nil {
		return err
	}
	if err := syscall.Connect(fd, &d.sa); err != nil {
		return err
	}
	for p := d.req; len(p) > 0; {
		n, err := syscall.Write(fd, p)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	got := 0
	for !bytes.HasSuffix(d.buf[:got], benchResponseEnd) {
		if got == len(d.buf) {
			return errBenchUpgrade
		}
		n, err := syscall.Read(fd, d.buf[got:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return io.ErrUnexpectedEOF
		}
		got += n
	}
	if !bytes.HasPrefix(d.buf[:got], benchStatus101) {
		return errBenchUpgrade
	}
	return nil
}

// ---- allocation counting ----

// benchMallocs returns the process-wide count of heap allocations.
func benchMallocs() uint64 {
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return ms.Mallocs
}

// benchCPU returns the process's CPU time so far (user and system), in
// nanoseconds.
func benchCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// dialHello connects, upgrades, sends hello (a masked client frame) and
// reads the welcome frame, with raw system calls, and returns the open
// socket.
func (d *benchRawDialer) dialHello(hello []byte) (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	fail := func(err error) (int, error) {
		_ = syscall.Close(fd)
		return -1, err
	}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &d.tv); err != nil {
		return fail(err)
	}
	if d.rcvbuf > 0 {
		if err := syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, d.rcvbuf); err != nil {
			return fail(err)
		}
	}
	if err := syscall.Connect(fd, &d.sa); err != nil {
		return fail(err)
	}
	write := func(p []byte) error {
		for len(p) > 0 {
			n, err := syscall.Write(fd, p)
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return err
			}
			p = p[n:]
		}
		return nil
	}
	if err := write(d.req); err != nil {
		return fail(err)
	}
	// The 101 response, then the welcome: a text frame with a 7-bit or
	// 16-bit length.
	got := 0
	for {
		if i := bytes.Index(d.buf[:got], benchResponseEnd); i >= 0 {
			if !bytes.HasPrefix(d.buf[:got], benchStatus101) {
				return fail(errBenchUpgrade)
			}
			got = copy(d.buf, d.buf[i+len(benchResponseEnd):got])
			break
		}
		n, err := syscall.Read(fd, d.buf[got:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fail(err)
		}
		if n == 0 {
			return fail(io.ErrUnexpectedEOF)
		}
		got += n
	}
	if err := write(hello); err != nil {
		return fail(err)
	}
	for {
		if got >= 2 {
			size := 2 + int(d.buf[1]&0x7f)
			if d.buf[1]&0x7f == 126 && got >= 4 {
				size = 4 + int(binary.BigEndian.Uint16(d.buf[2:4]))
			}
			if d.buf[1]&0x7f != 126 || got >= 4 {
				if got >= size {
					if d.buf[0] != 0x81 || !bytes.Contains(d.buf[:size], []byte(`"welcome"`)) {
						return fail(fmt.Errorf("unexpected frame %q", d.buf[:size]))
					}
					return fd, nil
				}
			}
		}
		n, err := syscall.Read(fd, d.buf[got:])
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fail(err)
		}
		if n == 0 {
			return fail(io.ErrUnexpectedEOF)
		}
		got += n
	}
}

func benchSizeName(n int) string {
	switch {
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", n>>10)
	default:
		return fmt.Sprintf("%dB", n)
	}
}
