//go:build unix

package transport

import (
	"io"
	"net"
	"testing"
)

// writevNonblock keeps its caller's batch where it is: writeFrom's array
// of chunks stays on the writer's stack, and a write of queued frames
// allocates nothing (storing the slice itself in the pooled nbWrite moved
// every batch array to the heap: one allocation per written batch).
func TestWritevNonblockAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.Copy(io.Discard, c)
		_ = c.Close()
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	rc, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	a, b := []byte("hello, "), []byte("world")
	var short int
	allocs := testing.AllocsPerRun(1000, func() {
		var batch [4]*[]byte // as in writeFrom
		q := append(batch[:0], &a, &b)
		if n, err := writevNonblock(rc, q); err != nil || n != len(a)+len(b) {
			short++
		}
	})
	if short > 0 {
		t.Fatalf("%d of the writes were short or failed (the reader drains the socket)", short)
	}
	if allocs != 0 {
		t.Errorf("writevNonblock: %v allocations per write of a stack batch, want 0", allocs)
	}
}
