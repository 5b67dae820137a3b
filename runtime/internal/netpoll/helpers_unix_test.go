//go:build unix

package netpoll

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// listen returns a loopback TCP listener closed at the end of the test.
func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln
}

// pair returns the accepted and dialled ends of a loopback TCP connection,
// both closed at the end of the test.
func pair(t testing.TB, ln net.Listener) (server, client *net.TCPConn) {
	t.Helper()
	type result struct {
		c   net.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		ch <- result{c, err}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	if r.err != nil {
		c.Close()
		t.Fatal(r.err)
	}
	t.Cleanup(func() { c.Close(); r.c.Close() })
	return r.c.(*net.TCPConn), c.(*net.TCPConn)
}

func rawConn(t testing.TB, c syscall.Conn) syscall.RawConn {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

func mustFD(t testing.TB, c syscall.Conn) int {
	t.Helper()
	fd, err := FD(c)
	if err != nil {
		t.Fatal(err)
	}
	return fd
}

// drain reads with ReadNonblock until it would block and returns the bytes
// read and the final error (ErrWouldBlock, io.EOF or another error).
func drain(rc syscall.RawConn) ([]byte, error) {
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := ReadNonblock(rc, buf)
		got = append(got, buf[:n]...)
		if err != nil {
			return got, err
		}
	}
}

// readUntil calls ReadNonblock until want bytes have arrived or the deadline
// passes; data written by the peer may take a moment to reach the socket.
func readUntil(t testing.TB, rc syscall.RawConn, want int) []byte {
	t.Helper()
	var got []byte
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < want {
		b, err := drain(rc)
		got = append(got, b...)
		if err != nil && !errors.Is(err, ErrWouldBlock) && !(errors.Is(err, io.EOF) && len(got) >= want) {
			t.Fatalf("read: %v (after %d of %d bytes)", err, len(got), want)
		}
		if time.Now().After(deadline) {
			t.Fatalf("read %d of %d bytes before timeout", len(got), want)
		}
		if len(got) < want {
			time.Sleep(time.Millisecond)
		}
	}
	return got
}
