package runtime

// What slow consumers cost the server: clients that complete the
// handshake, say hello and then never read, during a broadcast storm. Each
// one must cost at most MaxQueuedBytes plus the constant that
// Options.MaxQueuedBytes states, whatever the size of the events; the
// clients that do read get every event in order, and the broadcaster never
// waits for anyone.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// slowConsumerSlack is the heap a slow consumer may hold beyond
// MaxQueuedBytes and the message that overflowed it: the 144 KiB of
// Options.MaxQueuedBytes' bound for its queue, and 16 KiB for the
// connection and its session (with a replay buffer of pointers to the
// events it shares with every other session).
const slowConsumerSlack = 144<<10 + 16<<10

func TestSlowConsumerMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 100 connections and broadcasts thousands of events")
	}
	for _, slow := range []int{1, 100} {
		t.Run(fmt.Sprintf("slow=%d", slow), func(t *testing.T) {
			r := slowConsumerStorm(t, slow)
			limit := float64(r.maxQueued + r.event + slowConsumerSlack)
			t.Logf("%d slow consumers: %.0f B each (limit %.0f), %d events, peak after %d", slow, r.perSlow, limit, r.events, r.peakAt)
			if r.perSlow > limit {
				t.Errorf("each slow consumer holds %.0f B, more than MaxQueuedBytes (%d) + an event (%d) + %d",
					r.perSlow, r.maxQueued, r.event, slowConsumerSlack)
			}
		})
	}
}

// BenchmarkSlowConsumerMemory reports, as heap-B/slow, the growth of the
// server's live heap (after a collection, at its peak during the storm)
// per slow consumer, with 1 and with 100 of them,
// MaxQueuedBytes 256 KiB and events of 256 bytes; events/op is how many
// events it took to evict them all.
func BenchmarkSlowConsumerMemory(b *testing.B) {
	for _, slow := range []int{1, 100} {
		b.Run(fmt.Sprintf("slow=%d", slow), func(b *testing.B) {
			var r stormResult
			for b.Loop() {
				r = slowConsumerStorm(b, slow)
			}
			b.ReportMetric(r.perSlow, "heap-B/slow")
			b.ReportMetric(float64(r.events), "events/op")
		})
	}
}

type stormResult struct {
	perSlow   float64 // peak memory growth per slow consumer
	events    int     // events broadcast
	peakAt    int     // events broadcast when the peak was sampled
	maxQueued int     // Options.MaxQueuedBytes
	event     int     // size of one event's frame
}

// slowConsumerStorm runs three reading clients and slow slow consumers
// against a Router, broadcasts events until every slow consumer is
// evicted, samples the server's live memory every few events, and checks
// that the readers get every event, in order.
func slowConsumerStorm(tb testing.TB, slow int) stormResult {
	const (
		readers     = 3
		maxQueued   = 256 << 10
		sampleEvery = 32
		maxEvents   = 200000
	)
	var (
		mu     sync.Mutex
		conns  []*Conn
		shrink atomic.Bool // set the send buffer of new connections small
	)
	bs := startBenchServerWrap(tb, Options{
		Handler:        NewRouter(),
		MaxQueuedBytes: maxQueued,
		// The evicted clients never read: their close frames wait for
		// CloseTimeout, which must not end them before the samples.
		CloseTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second,
		Hooks: Hooks{OnOpen: func(c *Conn) {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}},
	}, func(ln net.Listener) net.Listener { return shrinkListener{ln, &shrink} })
	defer bs.stop(tb)
	d := newBenchRawDialer(bs.addr)
	hello := wstest.BenchClientFrame(nil, true, ws.OpText, []byte(`{"hello":{}}`), wstest.BenchMask)
	var fds []int
	defer func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	}()
	dial := func() int {
		fd, err := d.dialHello(hello)
		if err != nil {
			tb.Fatal(err)
		}
		fds = append(fds, fd)
		return fd
	}

	var want atomic.Int64 // the last event's sequence number, once known
	rs := make([]*stormReader, readers)
	for i := range rs {
		rs[i] = &stormReader{fd: dial(), want: &want, done: make(chan struct{})}
		go rs[i].run()
	}
	data := []byte(`{"text":"` + strings.Repeat("x", 200) + `"}`)
	sent := 0
	broadcast := func() {
		bs.srv.Broadcast("storm", data)
		sent++
	}
	// Warm up pools and fill the readers' replay buffers, so that the
	// events the slow consumers' sessions keep are already counted.
	for range 2 * DefaultReplayBuffer {
		broadcast()
	}
	base := stormLiveMemory()

	d.rcvbuf = 4 << 10
	shrink.Store(true)
	for range slow {
		dial()
	}
	for bs.srv.Len() < readers+slow {
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	slowConns := conns[readers:]
	mu.Unlock()
	evicted := func() bool {
		for _, c := range slowConns {
			if c.CloseError() == nil {
				return false
			}
		}
		return true
	}

	peak, peakAt := base, 0
	after := -1 // events broadcast after the last eviction
	for after < 2*sampleEvery {
		if sent >= maxEvents {
			tb.Fatalf("slow consumers still not evicted after %d events", sent)
		}
		broadcast()
		if sent%sampleEvery != 0 {
			continue
		}
		// The readers keep up: they are never more than a sample behind.
		for _, r := range rs {
			r.waitFor(tb, sent)
		}
		if m := stormLiveMemory(); m > peak {
			peak, peakAt = m, sent
		}
		if after >= 0 {
			after += sampleEvery
		} else if evicted() {
			after = 0
		}
	}
	for _, c := range slowConns {
		if ce := c.CloseError(); ce.Code != ClosePolicy {
			tb.Errorf("slow consumer closed with %v, want 1008", ce)
		}
	}
	want.Store(int64(sent))
	for _, r := range rs {
		r.waitFor(tb, sent)
	}
	return stormResult{
		perSlow:   float64(int64(peak)-int64(base)) / float64(slow),
		events:    sent,
		peakAt:    peakAt,
		maxQueued: maxQueued,
		event:     len(benchServerFrame(ws.OpText, fmt.Appendf(nil, `{"event":"storm","seq":%d,"data":%s}`, sent, data))),
	}
}

// stormLiveMemory returns the heap in use by live objects after
// collections that also empty the sync.Pools: the least of three samples,
// since the server is at rest meanwhile (nothing is broadcast), and what
// changes between them (an object still in flight) is not what is
// measured. Goroutine stacks are not counted: they are allocated in spans
// of 32 KiB and cached per P, which a single goroutine more or less (a
// worker going idle) moves by more than a whole stack.
func stormLiveMemory() uint64 {
	least := uint64(math.MaxUint64)
	for range 3 {
		goruntime.GC()
		goruntime.GC()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		least = min(least, ms.HeapAlloc)
	}
	return least
}

// stormReader reads a client's frames until the event numbered want,
// checking that events come numbered 1, 2, 3...
type stormReader struct {
	fd   int
	want *atomic.Int64
	next atomic.Int64 // the sequence number expected next, minus one
	err  error
	done chan struct{}
}

// waitFor waits until the reader has read the event numbered seq.
func (r *stormReader) waitFor(tb testing.TB, seq int) {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for r.next.Load() < int64(seq) {
		select {
		case <-r.done:
			if r.next.Load() >= int64(seq) {
				return
			}
			tb.Fatalf("reader stopped at event %d of %d: %v", r.next.Load(), seq, r.err)
		case <-time.After(100 * time.Microsecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("reader got %d of %d events", r.next.Load(), seq)
		}
	}
}

func (r *stormReader) run() {
	defer close(r.done)
	seqKey := []byte(`"seq":`)
	buf := make([]byte, 0, 256<<10)
	for {
		for len(buf) >= 2 {
			n, hdr := int(buf[1]&0x7f), 2
			if n == 126 {
				if len(buf) < 4 {
					break
				}
				n, hdr = int(binary.BigEndian.Uint16(buf[2:4])), 4
			}
			if len(buf) < hdr+n {
				break
			}
			p := buf[hdr : hdr+n]
			i := bytes.Index(p, seqKey)
			if buf[0] != 0x81 || buf[1]&0x7f == 127 || i < 0 {
				r.err = fmt.Errorf("unexpected frame % x", buf[:min(len(buf), 32)])
				return
			}
			p = p[i+len(seqKey):]
			p = p[:bytes.IndexByte(p, ',')]
			seq, err := strconv.ParseInt(string(p), 10, 64)
			if want := r.next.Load() + 1; err != nil || seq != want {
				r.err = fmt.Errorf("event %q, want seq %d", p, want)
				return
			}
			r.next.Store(seq)
			buf = buf[:copy(buf, buf[hdr+n:])]
		}
		if w := r.want.Load(); w > 0 && r.next.Load() == w {
			return
		}
		n, err := syscall.Read(r.fd, buf[len(buf):cap(buf)])
		if err == syscall.EINTR || err == syscall.EAGAIN && r.want.Load() == 0 {
			continue // EAGAIN: the 10 s receive timeout, during a long storm
		}
		if err != nil || n == 0 {
			r.err = fmt.Errorf("read after event %d: %v", r.next.Load(), err)
			return
		}
		buf = buf[:len(buf)+n]
	}
}

// shrinkListener sets the send buffer of the connections it accepts small
// while shrink is set: the kernel's buffers are not what is measured, and
// small ones make the queue fill after fewer events.
type shrinkListener struct {
	net.Listener
	shrink *atomic.Bool
}

func (l shrinkListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if tc, ok := nc.(*net.TCPConn); ok && l.shrink.Load() {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return nc, err
}
