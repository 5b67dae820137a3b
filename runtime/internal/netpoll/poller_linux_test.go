//go:build linux

package netpoll

import (
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// quiet is how long a test waits to conclude that no notification comes.
const quiet = 50 * time.Millisecond

// recorder counts notifications (and those with hup) and signals each
// one on ch.
type recorder struct {
	n    atomic.Int64
	hups atomic.Int64
	ch   chan struct{}
}

func newRecorder() *recorder { return &recorder{ch: make(chan struct{}, 16)} }

func (r *recorder) Readable(hup bool) {
	r.n.Add(1)
	if hup {
		r.hups.Add(1)
	}
	select {
	case r.ch <- struct{}{}:
	default: // a flood of notifications is counted, and never blocks the loop
	}
}

// wait fails the test unless a notification arrives within 5 s.
func (r *recorder) wait(t testing.TB, what string) {
	t.Helper()
	select {
	case <-r.ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no notification %s", what)
	}
}

// none fails the test if a notification arrives within d.
func (r *recorder) none(t testing.TB, d time.Duration, what string) {
	t.Helper()
	select {
	case <-r.ch:
		t.Fatalf("unexpected notification %s", what)
	case <-time.After(d):
	}
}

func newPoller(t testing.TB) *Poller {
	t.Helper()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func write(t testing.TB, c net.Conn, s string) {
	t.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
}

func TestReadableAfterWrite(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t, listen(t))
	r := newRecorder()
	if err := p.Add(mustFD(t, server), r); err != nil {
		t.Fatal(err)
	}
	r.none(t, quiet, "before the peer wrote")
	write(t, client, "ping")
	r.wait(t, "after the peer wrote")
	if got := string(readUntil(t, rawConn(t, server), 4)); got != "ping" {
		t.Fatalf("read %q", got)
	}
}

func TestAddReadableAlready(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t, listen(t))
	write(t, client, "early")
	readUntilPending(t, server)
	r := newRecorder()
	if err := p.Add(mustFD(t, server), r); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "for data that arrived before Add")
}

// readUntilPending waits until c has unread bytes, peeking with
// MSG_PEEK|MSG_DONTWAIT.
func readUntilPending(t testing.TB, c *net.TCPConn) {
	t.Helper()
	fd := mustFD(t, c)
	buf := make([]byte, 1)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _, err := syscall.Recvfrom(fd, buf, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if n > 0 && err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("data never arrived")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestEdgeTriggered checks the edge-triggered semantics without any
// re-arming: each arrival of bytes after a notification notifies again,
// drained or not, and bytes left unread are never reported twice.
func TestEdgeTriggered(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t, listen(t))
	rc := rawConn(t, server)
	r := newRecorder()
	if err := p.Add(mustFD(t, server), r); err != nil {
		t.Fatal(err)
	}
	write(t, client, "a")
	r.wait(t, "after the first write")
	r.none(t, quiet, "again for bytes left unread")

	// New bytes notify again although "a" is still unread.
	write(t, client, "b")
	r.wait(t, "after more bytes arrived, unread ones pending")
	if got := string(readUntil(t, rc, 2)); got != "ab" {
		t.Fatalf("read %q, want %q", got, "ab")
	}
	r.none(t, quiet, "after draining")

	// After a drained read, the next bytes notify without any re-arming.
	write(t, client, "c")
	r.wait(t, "after a write following a drained read")
	if got := string(readUntil(t, rc, 1)); got != "c" {
		t.Fatalf("read %q, want %q", got, "c")
	}
	if n, h := r.n.Load(), r.hups.Load(); n != 3 || h != 0 {
		t.Fatalf("%d notifications (%d with hup), want 3 (0)", n, h)
	}
}

// TestShortReadThenNotified checks what the runtime relies on to skip the
// read that would return EAGAIN: after a short read, the bytes not read
// arrived later and are notified; and when the peer's FIN came with the
// bytes, the notification says hup (the short read does not show it, and
// nothing is reported again).
func TestShortReadThenNotified(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t, listen(t))
	rc := rawConn(t, server)
	r := newRecorder()
	if err := p.Add(mustFD(t, server), r); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	for i := range 20 {
		write(t, client, "x")
		r.wait(t, "after a write following a short read")
		n, err := ReadNonblock(rc, buf)
		if err == nil && n == len(buf) {
			t.Fatalf("round %d: full read of a 1-byte write", i)
		}
	}
	r.none(t, quiet, "once every short read was notified")

	write(t, client, "last")
	readUntilPending(t, server)
	client.Close()
	r.wait(t, "after bytes and FIN")
	for r.hups.Load() == 0 { // bytes and FIN may be reported apart
		r.wait(t, "for the FIN")
	}
	got := readUntil(t, rc, 4)
	if string(got) != "last" {
		t.Fatalf("read %q, want %q", got, "last")
	}
	if _, err := ReadNonblock(rc, buf); !errors.Is(err, io.EOF) {
		t.Fatalf("read after the bytes = %v, want io.EOF", err)
	}
}

func TestPeerClose(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t, listen(t))
	fd, rc := mustFD(t, server), rawConn(t, server)
	r := newRecorder()
	if err := p.Add(fd, r); err != nil {
		t.Fatal(err)
	}
	client.Close()
	r.wait(t, "after the peer closed")
	if r.hups.Load() != 1 {
		t.Fatal("the peer's close was not reported as hup")
	}
	if n, err := ReadNonblock(rc, make([]byte, 8)); n != 0 || !errors.Is(err, io.EOF) {
		t.Fatalf("ReadNonblock after peer close = (%d, %v), want (0, io.EOF)", n, err)
	}
	// A hung-up socket stays readable, but that is no new edge.
	r.none(t, quiet, "again for a hung-up socket")
	if err := p.Remove(fd); err != nil {
		t.Fatal(err)
	}
}

func TestPeerReset(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t, listen(t))
	r := newRecorder()
	if err := p.Add(mustFD(t, server), r); err != nil {
		t.Fatal(err)
	}
	client.SetLinger(0)
	client.Close()
	r.wait(t, "after the peer reset")
	if r.hups.Load() != 1 {
		t.Fatal("the reset was not reported as hup")
	}
	if _, err := ReadNonblock(rawConn(t, server), make([]byte, 8)); !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("ReadNonblock after RST = %v, want ECONNRESET", err)
	}
}

func TestRemove(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t, listen(t))
	fd := mustFD(t, server)
	r := newRecorder()
	if err := p.Add(fd, r); err != nil {
		t.Fatal(err)
	}
	if err := p.Remove(fd); err != nil {
		t.Fatal(err)
	}
	write(t, client, "x")
	readUntilPending(t, server)
	r.none(t, quiet, "after Remove")
	if err := p.Remove(fd); !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "fd ") {
		t.Errorf("Remove of a removed fd = %v, want ENOENT naming the fd", err)
	}
	// Registering again works and reports the pending data.
	r2 := newRecorder()
	if err := p.Add(fd, r2); err != nil {
		t.Fatal(err)
	}
	r2.wait(t, "after re-Add with pending data")
	r.none(t, quiet, "to the removed handler")
}

// TestAddAfterCloseWithoutRemove closes a registered connection without
// Remove: the kernel drops the registration, and a new connection that gets
// the same descriptor number can be added; the old handler hears nothing.
func TestAddAfterCloseWithoutRemove(t *testing.T) {
	p := newPoller(t)
	ln := listen(t)
	s1, _ := pair(t, ln)
	fd := mustFD(t, s1)
	r1 := newRecorder()
	if err := p.Add(fd, r1); err != nil {
		t.Fatal(err)
	}
	s1.Close()
	// The number is free again once the close completes; the next socket
	// created, on either end of a new pair, takes it.
	var peer *net.TCPConn
	for range 10 {
		s2, c2 := pair(t, ln)
		if mustFD(t, s2) == fd {
			peer = c2
		} else if mustFD(t, c2) == fd {
			peer = s2
		}
		if peer != nil {
			break
		}
	}
	if peer == nil {
		t.Skipf("descriptor %d was not reused", fd)
	}
	r2 := newRecorder()
	if err := p.Add(fd, r2); err != nil {
		t.Fatalf("Add of a reused descriptor number: %v", err)
	}
	write(t, peer, "x")
	r2.wait(t, "for the new connection")
	r1.none(t, quiet, "to the handler of the closed connection")
	if err := p.Remove(fd); err != nil {
		t.Fatal(err)
	}
}

// TestStaleGenerationDropped makes the kernel report an event carrying an
// old registration's generation, as it would for an event taken before a
// Remove and a re-Add of the same descriptor number, and checks that the
// new handler does not see it.
func TestStaleGenerationDropped(t *testing.T) {
	p := newPoller(t)
	server, client := pair(t, listen(t))
	fd := mustFD(t, server)
	r := newRecorder()
	if err := p.Add(fd, r); err != nil {
		t.Fatal(err)
	}
	p.mu.RLock()
	gen := p.slots[fd].gen
	p.mu.RUnlock()
	ev := syscall.EpollEvent{Events: events, Fd: int32(fd), Pad: int32(gen - 1)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev); err != nil {
		t.Fatal(err)
	}
	write(t, client, "x")
	r.none(t, quiet, "for an event of an older registration")
	// Restoring the current generation reports the unread byte at once.
	ev.Pad = int32(gen)
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, fd, &ev); err != nil {
		t.Fatal(err)
	}
	r.wait(t, "with the current generation")
}

func TestAddErrors(t *testing.T) {
	p := newPoller(t)
	server, _ := pair(t, listen(t))
	fd := mustFD(t, server)
	r := newRecorder()
	if err := p.Add(-1, r); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Add(-1) = %v, want EINVAL", err)
	}
	if err := p.Add(fd, nil); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Add(nil handler) = %v, want EINVAL", err)
	}
	if err := p.Add(fd, r); err != nil {
		t.Fatal(err)
	}
	if err := p.Add(fd, r); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("second Add = %v, want EEXIST", err)
	}
	// A descriptor number far beyond any open one: the table grows, the
	// kernel refuses, and the slot is left empty.
	const bad = 4000
	err := p.Add(bad, r)
	if !errors.Is(err, syscall.EBADF) || !strings.Contains(err.Error(), "netpoll: add fd 4000: ") {
		t.Errorf("Add(%d) = %v, want EBADF naming the fd", bad, err)
	}
	if err := p.Remove(bad); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Remove of a failed Add = %v, want ENOENT", err)
	}
	// Not a pollable descriptor (a regular file): EPERM, and the slot is freed.
	f, err := openRegularFile(t)
	if err == nil {
		if err := p.Add(f, r); !errors.Is(err, syscall.EPERM) {
			t.Errorf("Add(regular file) = %v, want EPERM", err)
		}
	}
}

func openRegularFile(t testing.TB) (int, error) {
	name := t.TempDir() + "/file"
	fd, err := syscall.Open(name, syscall.O_CREAT|syscall.O_RDWR|syscall.O_CLOEXEC, 0o600)
	if err == nil {
		t.Cleanup(func() { syscall.Close(fd) })
	}
	return fd, err
}

func TestCloseStopsLoop(t *testing.T) {
	before := runtime.NumGoroutine()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	server, client := pair(t, listen(t))
	r := newRecorder()
	if err := p.Add(mustFD(t, server), r); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	default:
		t.Fatal("Close returned before the event goroutine stopped")
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
	for name, err := range map[string]error{
		"Add":    p.Add(mustFD(t, client), r),
		"Remove": p.Remove(mustFD(t, server)),
	} {
		if !errors.Is(err, errClosed) {
			t.Errorf("%s after Close = %v, want errClosed", name, err)
		}
	}
	write(t, client, "late")
	r.none(t, quiet, "after Close")
	// Both descriptors are closed (no descriptor was opened since).
	for _, fd := range []int{p.epfd, p.wakefd} {
		if _, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFD, 0); e != syscall.EBADF {
			t.Errorf("fd %d still open after Close (fcntl: %v)", fd, e)
		}
	}
	// The goroutine count returns to where it was (the pair's accept
	// goroutine has finished; allow the runtime a moment).
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Fatalf("%d goroutines after Close, %d before New", n, before)
	}
}

func TestConcurrentClose(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := p.Close(); err != nil {
				t.Error(err)
			}
			select {
			case <-p.done:
			default:
				t.Error("Close returned before the event goroutine stopped")
			}
		})
	}
	wg.Wait()
}

// callbackHandler runs f on the event goroutine.
type callbackHandler func()

func (f callbackHandler) Readable(bool) { f() }

// TestHandlerMayCallPoller checks that Readable may call Add and Remove on
// the event goroutine without deadlock.
func TestHandlerMayCallPoller(t *testing.T) {
	p := newPoller(t)
	ln := listen(t)
	s1, c1 := pair(t, ln)
	s2, c2 := pair(t, ln)
	fd1, fd2 := mustFD(t, s1), mustFD(t, s2)
	r2 := newRecorder()
	done := make(chan error, 1)
	calls := 0
	h := callbackHandler(func() {
		calls++
		switch calls {
		case 1:
			done <- p.Add(fd2, r2)
		case 2:
			done <- p.Remove(fd1)
		}
	})
	if err := p.Add(fd1, h); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"x", "y"} { // left unread: each write notifies
		write(t, c1, s)
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("handler did not run")
		}
	}
	write(t, c2, "z")
	r2.wait(t, "for a descriptor added from a handler")
}

// TestManyConnections registers 1000 connections and checks that a write
// burst notifies each exactly once, that nothing repeats for the bytes left
// unread, that a second burst notifies each once more although nothing was
// read, and that after draining (on worker goroutines, as the runtime does)
// the next burst notifies each exactly once more, with no re-arming.
func TestManyConnections(t *testing.T) {
	const conns = 1000
	p := newPoller(t)
	ln := listen(t)
	type conn struct {
		client *net.TCPConn
		fd     int
		rc     syscall.RawConn
		n      atomic.Int64
	}
	cs := make([]*conn, conns)
	var total atomic.Int64
	var wg sync.WaitGroup
	for i := range cs {
		server, client := pair(t, ln)
		c := &conn{client: client, fd: mustFD(t, server), rc: rawConn(t, server)}
		cs[i] = c
		h := callbackHandler(func() {
			c.n.Add(1)
			total.Add(1)
			wg.Done()
		})
		if err := p.Add(c.fd, h); err != nil {
			t.Fatal(err)
		}
	}
	burst := func() {
		t.Helper()
		for _, c := range cs {
			write(t, c.client, "z")
		}
	}
	waitAll := func(round int64) {
		t.Helper()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(8 * time.Second):
			t.Fatalf("round %d: %d of %d notifications", round, total.Load(), round*conns)
		}
		for i, c := range cs {
			if n := c.n.Load(); n != round {
				t.Fatalf("round %d: conn %d notified %d times", round, i, n)
			}
		}
	}

	wg.Add(conns)
	burst()
	waitAll(1)
	time.Sleep(quiet)
	if n := total.Load(); n != conns {
		t.Fatalf("%d notifications for bytes left unread, want %d", n, conns)
	}

	wg.Add(conns)
	burst() // nothing read yet: new bytes are a new edge all the same
	waitAll(2)

	var workers sync.WaitGroup
	for _, c := range cs {
		workers.Go(func() {
			b := readUntil(t, c.rc, 2)
			if string(b) != "zz" {
				t.Errorf("fd %d read %q, want %q", c.fd, b, "zz")
			}
		})
	}
	workers.Wait()
	time.Sleep(quiet)
	if n := total.Load(); n != 2*conns {
		t.Fatalf("%d notifications after draining, want %d", n, 2*conns)
	}

	wg.Add(conns)
	burst()
	waitAll(3)
	for _, c := range cs { // before the cleanup closes them: their FINs are edges too
		if err := p.Remove(c.fd); err != nil {
			t.Fatal(err)
		}
	}
}

// TestZeroAllocsPerEvent measures a full cycle (peer write, notification,
// ReadNonblock until it would block) and expects no allocation in the steady state.
func TestZeroAllocsPerEvent(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops values at random under -race")
	}
	p := newPoller(t)
	server, client := pair(t, listen(t))
	fd, rc, cfd := mustFD(t, server), rawConn(t, server), mustFD(t, client)
	ch := make(chan struct{}, 1)
	notify := func() { // never blocks the loop: see BenchmarkEventCycle
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	if err := p.Add(fd, callbackHandler(notify)); err != nil {
		t.Fatal(err)
	}
	buf, msg := make([]byte, 64), []byte("x")
	cycle := func() {
		syscall.Write(cfd, msg)
		<-ch
		for {
			if _, err := ReadNonblock(rc, buf); err != nil {
				break
			}
		}
	}
	cycle()
	if allocs := testing.AllocsPerRun(200, cycle); allocs != 0 {
		t.Fatalf("%v allocations per event, want 0", allocs)
	}
}

func BenchmarkEventCycle(b *testing.B) {
	p := newPoller(b)
	server, client := pair(b, listen(b))
	fd, rc, cfd := mustFD(b, server), rawConn(b, server), mustFD(b, client)
	ch := make(chan struct{}, 1)
	// A handler never blocks the loop: a notification that finds one
	// pending is dropped (the loop below drains whatever is readable).
	// Blocking here hung the poller's Close when a spurious notification
	// came after the last iteration.
	notify := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	if err := p.Add(fd, callbackHandler(notify)); err != nil {
		b.Fatal(err)
	}
	buf, msg := make([]byte, 64), []byte("x")
	b.ReportAllocs()
	for b.Loop() {
		syscall.Write(cfd, msg)
		<-ch
		for {
			if _, err := ReadNonblock(rc, buf); err != nil {
				break
			}
		}
	}
}

// TestChainedEventsAfterShortBatch passes a token around a ring of
// connections: each notification writes the byte that makes the next
// connection readable, half the time from inside the handler (the event
// arrives while the loop is dispatching the batch it took) and half the
// time from another goroutine (it arrives anywhere, also between the
// loop's last epoll_wait and its parking in Go's poller). The loop takes
// no second epoll_wait after a short batch, so every one of these events
// must reach it through Go's poller: one lost event stops the token.
func TestChainedEventsAfterShortBatch(t *testing.T) {
	const (
		conns = 8
		hops  = 20000 // bytes per connection: hops/conns, well within a socket buffer
	)
	p := newPoller(t)
	ln := listen(t)
	clients := make([]*net.TCPConn, conns)
	var (
		done  = make(chan struct{})
		async = make(chan int, 1)
		count atomic.Int64
	)
	pass := func(next int) {
		if _, err := clients[next].Write([]byte{'t'}); err != nil {
			t.Error(err)
		}
	}
	for i := range clients {
		server, client := pair(t, ln)
		clients[i] = client
		next := (i + 1) % conns
		h := callbackHandler(func() {
			switch n := count.Add(1); {
			case n == hops:
				close(done)
			case n > hops:
			case n%2 == 0:
				pass(next)
			default:
				async <- next
			}
		})
		if err := p.Add(mustFD(t, server), h); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		for {
			select {
			case next := <-async:
				pass(next)
			case <-done:
				return
			}
		}
	}()
	pass(0)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the token stopped after %d of %d hops", count.Load(), hops)
	}
}
