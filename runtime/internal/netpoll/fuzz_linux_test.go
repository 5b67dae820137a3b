//go:build linux

package netpoll

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// socketPair returns the two ends of a connected AF_UNIX stream socket as
// *net.UnixConn, closed at the end of the test.
func socketPair(t testing.TB) (a, b *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close() // net.FileConn duplicates the descriptor
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// FuzzStream writes data in pieces of chunk%32+1 bytes and then half-closes
// the socket; the reader consumes it the way the runtime does (wait for a
// notification, then ReadNonblock with a buffer of size%64+1 until it would
// block or, unless a notification said hup, until a short read) and must
// receive exactly data followed by io.EOF, without ever missing a
// notification (the edge-triggered registration is never re-armed) and
// with at most one notification per write and one for the half-close. One
// poller serves every input, so descriptor numbers are reused across
// registrations.
func FuzzStream(f *testing.F) {
	f.Add([]byte(""), uint8(0), uint8(0))
	f.Add([]byte("hello"), uint8(0), uint8(0))
	f.Add([]byte("hello, world"), uint8(3), uint8(4))
	f.Add(bytes.Repeat([]byte("0123456789"), 100), uint8(31), uint8(63))
	f.Add(bytes.Repeat([]byte{0xff}, 300), uint8(7), uint8(1))
	p := newPoller(f)
	f.Fuzz(func(t *testing.T, data []byte, chunk, size uint8) {
		server, client := socketPair(t)
		fd, rc := mustFD(t, server), rawConn(t, server)
		r := newRecorder()
		if err := p.Add(fd, r); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { // runs before the conns close
			if err := p.Remove(fd); err != nil {
				t.Error(err)
			}
		})
		step := int(chunk)%32 + 1
		edges := int64((len(data)+step-1)/step + 1) // writes and the half-close
		werr := make(chan error, 1)
		go func() {
			for rest := data; len(rest) > 0; {
				n := min(step, len(rest))
				if _, err := client.Write(rest[:n]); err != nil {
					werr <- err
					return
				}
				rest = rest[n:]
			}
			werr <- client.CloseWrite()
		}()
		var got []byte
		buf := make([]byte, int(size)%64+1)
	read:
		for {
			r.wait(t, "while data or EOF is pending")
			hup := r.hups.Load() > 0
			for {
				n, err := ReadNonblock(rc, buf)
				got = append(got, buf[:n]...)
				if errors.Is(err, io.EOF) {
					break read
				}
				if errors.Is(err, ErrWouldBlock) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if n < len(buf) && !hup {
					break // drained: later bytes are notified
				}
			}
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("received %d bytes %q, want %d bytes %q", len(got), got, len(data), data)
		}
		time.Sleep(time.Millisecond) // let a stray notification show up
		if n := r.n.Load(); n > edges {
			t.Fatalf("%d notifications for %d writes and a half-close", n, edges-1)
		}
	})
}
