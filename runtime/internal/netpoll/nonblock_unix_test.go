//go:build unix

package netpoll

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestFD(t *testing.T) {
	server, client := pair(t, listen(t))
	sfd, cfd := mustFD(t, server), mustFD(t, client)
	if sfd < 0 || cfd < 0 || sfd == cfd {
		t.Fatalf("FD = %d, %d", sfd, cfd)
	}
	if again := mustFD(t, server); again != sfd {
		t.Fatalf("FD is not stable: %d then %d (was the fd duplicated?)", sfd, again)
	}
	server.Close()
	if _, err := FD(server); err == nil {
		t.Fatal("FD of a closed conn: no error")
	}
}

func TestReadNonblockEmptyDoesNotBlock(t *testing.T) {
	server, _ := pair(t, listen(t))
	rc := rawConn(t, server)
	done := make(chan error, 1)
	go func() {
		_, err := ReadNonblock(rc, make([]byte, 16))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrWouldBlock) {
			t.Fatalf("ReadNonblock on an empty socket = %v, want ErrWouldBlock", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ReadNonblock blocked on an empty socket")
	}
}

func TestReadNonblockData(t *testing.T) {
	server, client := pair(t, listen(t))
	rc := rawConn(t, server)
	if _, err := client.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := string(readUntil(t, rc, 5)); got != "hello" {
		t.Fatalf("read %q, want %q", got, "hello")
	}
	if n, err := ReadNonblock(rc, make([]byte, 8)); n != 0 || !errors.Is(err, ErrWouldBlock) {
		t.Fatalf("after draining: (%d, %v), want (0, ErrWouldBlock)", n, err)
	}
	if n, err := ReadNonblock(rc, nil); n != 0 || err != nil {
		t.Fatalf("empty buffer: (%d, %v), want (0, nil)", n, err)
	}
}

// TestReadNonblockAfterPartialRead mixes ordinary blocking reads and
// ReadNonblock on one connection: net.Conn keeps no buffer of its own, so
// each sees exactly the bytes the other left.
func TestReadNonblockAfterPartialRead(t *testing.T) {
	server, client := pair(t, listen(t))
	rc := rawConn(t, server)
	if _, err := client.Write([]byte("hello world")); err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 5)
	if _, err := io.ReadFull(server, head); err != nil {
		t.Fatal(err)
	}
	if got := string(readUntil(t, rc, 6)); got != " world" {
		t.Fatalf("ReadNonblock after a partial Read = %q, want %q", got, " world")
	}
	// The Go poller still works for the same connection afterwards.
	go client.Write([]byte("again"))
	server.SetReadDeadline(time.Now().Add(5 * time.Second))
	tail := make([]byte, 5)
	if _, err := io.ReadFull(server, tail); err != nil || string(tail) != "again" {
		t.Fatalf("blocking Read after ReadNonblock = %q, %v", tail, err)
	}
}

func TestReadNonblockEOF(t *testing.T) {
	server, client := pair(t, listen(t))
	rc := rawConn(t, server)
	client.Write([]byte("bye"))
	client.Close()
	if got := string(readUntil(t, rc, 3)); got != "bye" {
		t.Fatalf("read %q, want %q", got, "bye")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := ReadNonblock(rc, make([]byte, 8))
		if errors.Is(err, io.EOF) && n == 0 {
			return
		}
		if !errors.Is(err, ErrWouldBlock) || time.Now().After(deadline) {
			t.Fatalf("after peer close: (%d, %v), want (0, io.EOF)", n, err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReadNonblockReset(t *testing.T) {
	server, client := pair(t, listen(t))
	rc := rawConn(t, server)
	client.SetLinger(0) // Close sends RST
	client.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := ReadNonblock(rc, make([]byte, 8))
		if errors.Is(err, syscall.ECONNRESET) {
			return
		}
		if !errors.Is(err, ErrWouldBlock) || time.Now().After(deadline) {
			t.Fatalf("after RST: %v, want ECONNRESET", err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReadNonblockClosedConn(t *testing.T) {
	server, _ := pair(t, listen(t))
	rc := rawConn(t, server)
	server.Close()
	if _, err := ReadNonblock(rc, make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("ReadNonblock on a closed conn = %v, want net.ErrClosed", err)
	}
}

func TestReadNonblockDeadline(t *testing.T) {
	server, _ := pair(t, listen(t))
	rc := rawConn(t, server)
	server.SetReadDeadline(time.Now().Add(-time.Second))
	if _, err := ReadNonblock(rc, make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("ReadNonblock past the deadline = %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestReadNonblockZeroAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops values at random under -race")
	}
	server, client := pair(t, listen(t))
	rc := rawConn(t, server)
	cfd := mustFD(t, client)
	buf := make([]byte, 64)
	msg := []byte("x")
	ReadNonblock(rc, buf) // warm the pool
	allocs := testing.AllocsPerRun(200, func() {
		syscall.Write(cfd, msg)
		for {
			if _, err := ReadNonblock(rc, buf); err == nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Fatalf("ReadNonblock allocates %v times per call, want 0", allocs)
	}
}
