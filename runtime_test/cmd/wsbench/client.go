//go:build linux

package main

// Client mode: one share of a load, in a process of its own so that no
// process holds more file descriptors than its limit allows. Tasks:
//
//	load       open -conns connections (a hello first when -proto rpc),
//	           report ready; on "start" keep -window calls in flight on
//	           each for -warmup + -duration; report calls and latencies.
//	idle       open -conns connections (hello→welcome when -proto rpc),
//	           report ready, then hold them until stdin closes, answering
//	           pings only.
//	handshake  on "start", -count times with -conc workers: connect,
//	           upgrade, send the first message, read its answer, close;
//	           report the rate and latencies.
//	bcast      open -conns connections and read every one; each time all
//	           of them have an event's round, report that round's latest
//	           receipt minus the event's send time.
//	sink       open -conns connections and read every one, counting the
//	           text messages; on "stats" report the count so far.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	goruntime "runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type clientConfig struct {
	task      string
	addr      string
	proto     string // "rpc" or "raw"
	conns     int
	window    int
	every     time.Duration
	payload   int
	warmup    time.Duration
	duration  time.Duration
	count     int
	conc      int
	rounds    int
	srcFirst  int
	src       int
	dialConc  int
	echoFirst bool
	ioTimeout time.Duration
}

// clientReady is a client's first report.
type clientReady struct {
	Ready bool `json:"ready"`
	Conns int  `json:"conns"`
}

// loadResult is the report of a load or handshake task.
type loadResult struct {
	Ops     int64    `json:"ops"`
	Seconds float64  `json:"seconds"`
	Hist    wireHist `json:"hist"`
}

// sinkReport is a sink client's report: the messages received so far and
// the time (Unix ns) of the last one.
type sinkReport struct {
	Received int64 `json:"received"`
	Last     int64 `json:"last"`
}

// roundReport is a bcast client's report of one round.
type roundReport struct {
	Round int32 `json:"round"`
	Lat   int64 `json:"lat"` // ns from send to the last of this process's receipts
}

func clientMain(args []string) error {
	var cc clientConfig
	fs := flag.NewFlagSet("wsbench client", flag.ContinueOnError)
	fs.StringVar(&cc.task, "task", "", "load, idle, handshake or bcast")
	fs.StringVar(&cc.addr, "addr", "", "server address")
	fs.StringVar(&cc.proto, "proto", "raw", "rpc (duplex protocol: subprotocol, hello, calls), centrifuge (its JSON protocol: connect, subscribe) or raw")
	fs.IntVar(&cc.conns, "conns", 0, "connections")
	fs.IntVar(&cc.window, "window", 1, "calls in flight per connection")
	fs.DurationVar(&cc.every, "every", 0, "load: one call per connection this often (with -window 1), not one right after the other")
	fs.IntVar(&cc.payload, "payload", 16, "text bytes per call")
	fs.DurationVar(&cc.warmup, "warmup", time.Second, "load before measuring")
	fs.DurationVar(&cc.duration, "duration", 5*time.Second, "measured load")
	fs.IntVar(&cc.count, "count", 0, "handshakes")
	fs.IntVar(&cc.conc, "conc", 1, "handshakes in flight")
	fs.IntVar(&cc.rounds, "rounds", 0, "broadcast rounds")
	fs.IntVar(&cc.srcFirst, "src-first", 0, "first source address: 127.0.0.(1+src-first)")
	fs.IntVar(&cc.src, "src", 1, "source addresses")
	fs.IntVar(&cc.dialConc, "dial-conc", 64, "connections opened at once")
	fs.BoolVar(&cc.echoFirst, "echo-first", false, "raw: each connection has one message echoed after the upgrade")
	fs.DurationVar(&cc.ioTimeout, "io-timeout", 10*time.Second, "bound of one handshake, one reply")
	timeout := fs.Duration("timeout", 10*time.Minute, "exit after this long whatever happens")
	if err := fs.Parse(args); err != nil {
		return err
	}
	time.AfterFunc(*timeout, func() { os.Exit(3) })
	if _, err := raiseNoFile(); err != nil {
		return err
	}
	out := stdoutReports
	cmds := commands()
	ds := newDialers(cc.srcFirst, cc.src, cc.ioTimeout)
	switch cc.task {
	case "load":
		if cc.proto == "centrifuge-rpc" {
			return clientLoadCentrifuge(cc, ds, out, cmds)
		}
		return clientLoad(cc, ds, out, cmds)
	case "idle":
		// Held by the broadcast client's epoll loop, which answers pings
		// and fails on anything else: an idle connection gets nothing.
		cc.rounds = 0
		return clientBroadcast(cc, ds, out, cmds)
	case "handshake":
		return clientHandshakes(cc, ds, out, cmds)
	case "bcast", "sink":
		return clientBroadcast(cc, ds, out, cmds)
	}
	return fmt.Errorf("unknown task %q", cc.task)
}

var helloFrame = []byte(`{"hello":{}}`)

// openConns opens cc.conns connections, dialConc at a time; with -proto
// rpc each says hello and gets its welcome.
func openConns(cc clientConfig, ds *dialers) ([]*wsConn, error) {
	conns := make([]*wsConn, cc.conns)
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range min(cc.dialConc, cc.conns) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cc.conns || ctx.Err() != nil {
					return
				}
				c, err := openConn(ctx, cc, ds, i)
				if err != nil {
					errMu.Lock()
					if first == nil {
						first = fmt.Errorf("connection %d of %d: %w", i+1, cc.conns, err)
					}
					errMu.Unlock()
					cancel()
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if first != nil {
		for _, c := range conns {
			if c != nil {
				c.close()
			}
		}
		return nil, first
	}
	return conns, nil
}

func openConn(ctx context.Context, cc clientConfig, ds *dialers, i int) (*wsConn, error) {
	proto := ""
	if cc.proto == "rpc" {
		proto = subprotocol
	}
	c, err := dialWS(ctx, ds.pick(i), cc.addr, proto, cc.ioTimeout, 2048)
	if err != nil {
		return nil, err
	}
	if cc.proto == "centrifuge" {
		if err := c.centrifugeSubscribe(cc.ioTimeout); err != nil {
			c.close()
			return nil, err
		}
		return c, nil
	}
	if cc.proto == "rpc" || cc.echoFirst {
		if err := c.hello(cc.ioTimeout, cc.proto == "rpc"); err != nil {
			c.close()
			return nil, err
		}
	}
	return c, nil
}

// hello sends {"hello":{}} and reads the welcome (rpc) or its echo.
func (c *wsConn) hello(timeout time.Duration, rpc bool) error {
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.writeFrames(opText, helloFrame); err != nil {
		return fmt.Errorf("send hello: %w", err)
	}
	_, p, err := c.readMessage()
	if err != nil {
		return fmt.Errorf("read welcome: %w", err)
	}
	if rpc && !bytes.HasPrefix(p, []byte(`{"welcome":`)) {
		return fmt.Errorf("hello answered with %.200q, not a welcome", p)
	}
	if !rpc && !bytes.Equal(p, helloFrame) {
		return fmt.Errorf("echo %.200q, sent %q", p, helloFrame)
	}
	return nil
}

// centrifugeSubscribe connects and subscribes to the tick channel in
// centrifuge's JSON protocol, reading replies until the subscribe's.
func (c *wsConn) centrifugeSubscribe(timeout time.Duration) error {
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	defer c.nc.SetDeadline(time.Time{})
	if err := c.writeFrames(opText, centrifugeSubscribe); err != nil {
		return fmt.Errorf("send connect and subscribe: %w", err)
	}
	for {
		_, p, err := c.readMessage()
		if err != nil {
			return fmt.Errorf("read connect and subscribe replies: %w", err)
		}
		if bytes.Contains(p, []byte(`"error"`)) {
			return fmt.Errorf("connect or subscribe answered with %.200q", p)
		}
		if bytes.Contains(p, []byte(`"id":2`)) {
			return nil
		}
	}
}

// waitStart waits for the "start" command.
func waitStart(cmds <-chan command) error {
	for cmd := range cmds {
		if cmd.Op == "start" {
			return nil
		}
	}
	return errors.New("stdin closed before start")
}

func clientLoad(cc clientConfig, ds *dialers, out *childOut, cmds <-chan command) error {
	conns, err := openConns(cc, ds)
	if err != nil {
		return err
	}
	out.emit(clientReady{Ready: true, Conns: len(conns)})
	if err := waitStart(cmds); err != nil {
		return err
	}
	text := payloadText(cc.payload)
	start := time.Now()
	warmEnd := start.Add(cc.warmup)
	end := warmEnd.Add(cc.duration)
	hists := make([]*hist, len(conns))
	counts := make([]int64, len(conns))
	errs := make([]error, len(conns))
	var wg sync.WaitGroup
	for i, c := range conns {
		hists[i] = &hist{}
		wg.Go(func() {
			counts[i], errs[i] = c.load(newCallFrame(text), cc.window, cc.every, cc.proto == "rpc", warmEnd, end, hists[i], cc.ioTimeout)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("connection %d: %w", i+1, errs[i])
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	total := &hist{}
	var n int64
	for i, h := range hists {
		total.merge(h)
		n += counts[i]
	}
	out.emit(loadResult{Ops: n, Seconds: cc.duration.Seconds(), Hist: total.wire()})
	return nil
}

// load keeps window calls in flight until end, and counts (and times) the
// replies that arrive between warmEnd and end. With every > 0 (and window
// 1) a call is sent every so often instead, the first one after a random
// part of every, so that the connections' calls spread over time.
func (c *wsConn) load(f *callFrame, window int, every time.Duration, rpc bool, warmEnd, end time.Time, h *hist, ioTimeout time.Duration) (int64, error) {
	type slot struct {
		id   int64
		sent time.Time
	}
	if every > 0 {
		if window != 1 {
			return 0, fmt.Errorf("-every %v with -window %d: one call in flight only", every, window)
		}
		time.Sleep(rand.N(every))
	}
	slots := make([]slot, window)
	next := int64(idBase)
	now := time.Now()
	c.wbuf = c.wbuf[:0]
	for i := range slots {
		slots[i] = slot{next, now}
		c.wbuf = appendFrame(c.wbuf, opText, f.withID(next), c.mask)
		next++
	}
	_ = c.nc.SetDeadline(end.Add(ioTimeout))
	if _, err := c.nc.Write(c.wbuf); err != nil {
		return 0, err
	}
	frameLen := len(f.buf)
	var calls int64
	for outstanding := window; outstanding > 0; {
		_, p, err := c.readMessage()
		if err != nil {
			return calls, fmt.Errorf("read reply: %w", err)
		}
		now := time.Now()
		id, ok := parseID(p)
		i := 0
		for ; ok && i < len(slots) && slots[i].id != id; i++ {
		}
		switch {
		case !ok || i == len(slots):
			return calls, fmt.Errorf("reply to no call in flight: %.200q", p)
		case rpc && !bytes.HasPrefix(p[min(len(p), len(`{"id":`)+10):], []byte(`,"result":`)):
			return calls, fmt.Errorf("call answered with %.200q", p)
		case !rpc && len(p) != frameLen:
			return calls, fmt.Errorf("echo of %d bytes, sent %d", len(p), frameLen)
		}
		if !now.Before(warmEnd) && now.Before(end) {
			calls++
			h.record(now.Sub(slots[i].sent))
		}
		if every > 0 && now.Before(end) {
			due := slots[i].sent.Add(every)
			if !due.Before(end) {
				slots[i].id = -1
				outstanding--
				continue
			}
			time.Sleep(time.Until(due))
			now = time.Now()
		}
		if now.Before(end) {
			slots[i] = slot{next, now}
			if err := c.writeFrames(opText, f.withID(next)); err != nil {
				return calls, fmt.Errorf("send call: %w", err)
			}
			next++
		} else {
			slots[i].id = -1
			outstanding--
		}
	}
	return calls, nil
}

func clientHandshakes(cc clientConfig, ds *dialers, out *childOut, cmds <-chan command) error {
	out.emit(clientReady{Ready: true})
	if err := waitStart(cmds); err != nil {
		return err
	}
	proto := ""
	if cc.proto == "rpc" {
		proto = subprotocol
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
		done  atomic.Int64
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hists := make([]*hist, min(cc.conc, cc.count))
	start := time.Now()
	for w := range hists {
		h := &hist{}
		hists[w] = h
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cc.count || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := handshakeOnce(ctx, ds.pick(i), cc.addr, proto, cc.ioTimeout)
				if err != nil {
					errMu.Lock()
					if first == nil {
						first = fmt.Errorf("handshake %d of %d: %w", i+1, cc.count, err)
					}
					errMu.Unlock()
					cancel()
					return
				}
				h.record(time.Since(t0))
				done.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return first
	}
	total := &hist{}
	for _, h := range hists {
		total.merge(h)
	}
	out.emit(loadResult{Ops: done.Load(), Seconds: elapsed.Seconds(), Hist: total.wire()})
	return nil
}

// handshakeOnce: new connection, upgrade, first message answered, close.
// The first message is {"hello":{}}: duplex's RPC server answers it with
// its welcome, an echo server with the same bytes.
func handshakeOnce(ctx context.Context, d *net.Dialer, addr, proto string, timeout time.Duration) error {
	c, err := dialWS(ctx, d, addr, proto, timeout, 1024)
	if err != nil {
		return err
	}
	defer c.close()
	_ = c.nc.SetDeadline(time.Now().Add(timeout))
	if err := c.writeFrames(opText, helloFrame); err != nil {
		return fmt.Errorf("send first message: %w", err)
	}
	_, p, err := c.readMessage()
	if err != nil {
		return fmt.Errorf("read answer to the first message: %w", err)
	}
	if proto == "" && !bytes.Equal(p, helloFrame) {
		return fmt.Errorf("echo %.200q, sent %q", p, helloFrame)
	}
	if proto != "" && !bytes.HasPrefix(p, []byte(`{"welcome":`)) {
		return fmt.Errorf("hello answered with %.200q, not a welcome", p)
	}
	return nil
}

// clientBroadcast holds cc.conns connections and reads them all with one
// epoll loop of its own (level-triggered, one read per ready connection),
// which costs the client far less CPU per received event than a goroutine
// per connection would: the figure is about the server's fan-out. Round
// r's event is expected on every connection; when the last has it, the
// process reports the latest receipt minus the send time the event carries.
func clientBroadcast(cc clientConfig, ds *dialers, out *childOut, cmds <-chan command) error {
	conns, err := openConns(cc, ds)
	if err != nil {
		return err
	}
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return fmt.Errorf("epoll_create1: %w", err)
	}
	fds := make([]int, len(conns))
	byFD := map[int32]int{}
	for i, c := range conns {
		if c.br.Buffered() != 0 {
			return fmt.Errorf("connection %d: %d unexpected bytes before the first event", i+1, c.br.Buffered())
		}
		// The descriptor leaves Go's poller: dup it, close the original
		// (net.Conn.Close deregisters it), keep the copy (non-blocking
		// still, the flag belongs to the open file).
		if fds[i], err = dupFD(c.nc); err != nil {
			return fmt.Errorf("connection %d: %w", i+1, err)
		}
		c.close()
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fds[i])}
		if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fds[i], &ev); err != nil {
			return fmt.Errorf("connection %d: epoll_ctl: %w", i+1, err)
		}
		byFD[int32(fds[i])] = i
	}
	failed := make(chan error, 1)
	var received, last atomic.Int64
	go func() {
		goruntime.LockOSThread()
		if cc.task == "sink" {
			failed <- readFrames(epfd, fds, byFD, func(_ int, _ []byte, now int64) error {
				received.Add(1)
				last.Store(now)
				return nil
			})
			return
		}
		failed <- readRounds(epfd, fds, byFD, cc.rounds, out)
	}()
	out.emit(clientReady{Ready: true, Conns: len(conns)})
	for {
		select {
		case err := <-failed:
			return err
		case cmd, ok := <-cmds:
			if !ok {
				return nil
			}
			if cmd.Op == "stats" && cc.task == "sink" {
				out.emit(sinkReport{Received: received.Load(), Last: last.Load()})
			}
		}
	}
}

func dupFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, fmt.Errorf("%T has no file descriptor", nc)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(f uintptr) { fd, derr = syscall.Dup(int(f)) }); err != nil {
		return 0, err
	}
	if derr != nil {
		return 0, fmt.Errorf("dup: %w", derr)
	}
	syscall.CloseOnExec(fd)
	return fd, nil
}

// readRounds is the epoll loop of clientBroadcast.
func readRounds(epfd int, fds []int, byFD map[int32]int, rounds int, out *childOut) error {
	got := make([]int, rounds)
	lat := make([]int64, rounds)
	return readFrames(epfd, fds, byFD, func(i int, p []byte, now int64) error {
		r, ok1 := jsonInt(p, `"round":`)
		sent, ok2 := jsonInt(p, `"sent":"`)
		switch {
		case rounds == 0:
			return fmt.Errorf("connection %d: unexpected message on an idle connection: %.200q", i+1, p)
		case !ok1 || !ok2:
			return fmt.Errorf("connection %d: not a tick event: %.200q", i+1, p)
		case r < 0 || int(r) >= rounds:
			return fmt.Errorf("connection %d: event of round %d; rounds are 0..%d", i+1, r, rounds-1)
		}
		lat[r] = max(lat[r], now-sent)
		got[r]++
		switch {
		case got[r] == len(fds):
			out.emit(roundReport{Round: int32(r), Lat: lat[r]})
		case got[r] > len(fds):
			return fmt.Errorf("round %d delivered twice", r)
		}
		return nil
	})
}

// readFrames reads the connections fds with one epoll loop (level-
// triggered, one read per ready connection), answers pings, and calls
// text for each text message, with the index of its connection and the
// time (Unix ns) of the read that completed it; any other frame, a
// closed connection or text's error ends it.
func readFrames(epfd int, fds []int, byFD map[int32]int, text func(i int, p []byte, now int64) error) error {
	pending := make([][]byte, len(fds)) // an incomplete frame's bytes, rare
	events := make([]syscall.EpollEvent, 512)
	buf := make([]byte, 64<<10)
	var (
		pong []byte
		mask = [4]byte{0x5a, 0x13, 0x77, 0xc4}
	)
	for {
		n, err := syscall.EpollWait(epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("epoll_wait: %w", err)
		}
		for _, ev := range events[:n] {
			i := byFD[ev.Fd]
			k, err := syscall.Read(fds[i], buf)
			if err == syscall.EAGAIN || err == syscall.EINTR {
				continue
			}
			if err != nil {
				return fmt.Errorf("connection %d: read: %w", i+1, err)
			}
			if k == 0 {
				return fmt.Errorf("connection %d: closed by the server", i+1)
			}
			now := time.Now().UnixNano()
			data := buf[:k]
			if len(pending[i]) > 0 {
				pending[i] = append(pending[i], data...)
				data = pending[i]
			}
			for {
				op, p, rest, ok := nextFrame(data)
				if !ok {
					break
				}
				data = rest
				switch op {
				case opPing:
					// A run outlasting duplex's 25 s ping interval (opening
					// 100k connections) must not lose them.
					pong = appendFrame(pong[:0], opPong, p, mask)
					if _, err := syscall.Write(fds[i], pong); err != nil {
						return fmt.Errorf("connection %d: write pong: %w", i+1, err)
					}
					continue
				case opPong:
					continue
				case opText:
				default:
					return fmt.Errorf("connection %d: frame with opcode %d: %.200q", i+1, op, p)
				}
				if err := text(i, p, now); err != nil {
					return err
				}
			}
			pending[i] = append(pending[i][:0], data...)
		}
	}
}

// nextFrame splits the first complete unmasked server frame off data.
func nextFrame(data []byte) (op byte, payload, rest []byte, ok bool) {
	if len(data) < 2 {
		return 0, nil, data, false
	}
	op = data[0] & 0x0f
	n, h := int(data[1]&0x7f), 2
	switch n {
	case 126:
		if len(data) < 4 {
			return 0, nil, data, false
		}
		n, h = int(binary.BigEndian.Uint16(data[2:])), 4
	case 127:
		if len(data) < 10 {
			return 0, nil, data, false
		}
		n, h = int(binary.BigEndian.Uint64(data[2:])), 10
	}
	if len(data) < h+n {
		return 0, nil, data, false
	}
	return op, data[h : h+n], data[h+n:], true
}

// jsonInt returns the decimal integer right after key in p.
func jsonInt(p []byte, key string) (int64, bool) {
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return 0, false
	}
	p = p[i+len(key):]
	j := 0
	for j < len(p) && (p[j] >= '0' && p[j] <= '9' || j == 0 && p[j] == '-') {
		j++
	}
	v, err := strconv.ParseInt(string(p[:j]), 10, 64)
	return v, err == nil
}
