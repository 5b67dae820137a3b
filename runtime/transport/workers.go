package transport

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// workerIdleTimeout is how long a worker goroutine waits for work before
// it exits (up to half as long again: see workerPool.reap), so that a
// server that was busy once holds no goroutines when it is idle again.
const workerIdleTimeout = 5 * time.Second

// task is one unit of work for the pool: reading a connection that the
// poller reported ready (c; the task owns its reader role, readBusy, from
// submit on: see Conn.readReady), running a Task of the layer above (run:
// an RPC call; Conn.Schedule, Server.Go), or the upgrade of a connection
// accepted by Serve (hs; it blocks on the client for up to
// HandshakeTimeout, so it counts as a call, not a read).
type task struct {
	c   *Conn
	run Task
	hs  net.Conn
}

// worker is one goroutine of the pool, with the channel on which it waits
// while idle. A zero task on it means exit.
type worker struct {
	ch       chan task
	idleTick uint64 // the pool's tick when it last went idle
}

// workerPool runs the server's reads (poller readiness) and Tasks (RPC
// calls) on reused goroutines, instead of starting one per message or per
// call. A
// task goes to the most recently idle worker (LIFO, so that a few workers
// stay busy and warm and the rest time out); when none is idle a new
// worker is started, except that reads beyond maxReaders running at once
// wait in a FIFO instead: reads are short and CPU-bound, so more of them
// than processors only adds scheduling. Workers that are in a call
// (which may block on the app: a database, a channel, ctx.Done) do not
// count against maxReaders, so blocked calls never hold reads back, and a
// call never waits for a worker. A worker idle for idleTimeout (up to
// half as long again) exits. Safe for concurrent use.
type workerPool struct {
	srv        *Server
	mu         sync.Mutex
	idle       []*worker // LIFO: the last one is the most recently idle
	pending    []task    // reads waiting for a worker (FIFO from head)
	head       int
	live       int          // worker goroutines
	inCall     atomic.Int32 // of them, running a call; changed under mu, except that exitCall only counts down
	maxReaders int
	closed     bool
	// Idle workers are reaped by ticks of idleTimeout/2, counted in tick,
	// rather than by reading the clock each time a worker goes idle.
	idleTimeout time.Duration
	tick        uint64
	reaper      *time.Timer
	reaping     bool // reaper armed
}

// submit hands t to an idle worker, starts a worker for it, or queues it.
func (p *workerPool) submit(t task) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.ch <- t // buffered: never blocks
		return
	}
	if t.c != nil && p.live-int(p.inCall.Load()) >= p.maxReaders && !p.closed {
		p.pending = append(p.pending, t)
		p.mu.Unlock()
		return
	}
	p.live++
	p.mu.Unlock()
	go p.work(&worker{ch: make(chan task, 1)}, t)
}

// work is a worker goroutine's loop: run t, then whatever is pending,
// then wait as an idle worker.
func (p *workerPool) work(w *worker, t task) {
	for {
		switch {
		case t.run != nil:
			p.enterCall()
			t.run.Run()
			p.exitCall()
		case t.hs != nil:
			p.enterCall()
			p.srv.handshakeListener(t.hs)
			p.exitCall()
		default:
			t.c.readReady()
		}
		p.mu.Lock()
		if p.head < len(p.pending) {
			t = p.pending[p.head]
			p.pending[p.head] = task{}
			if p.head++; p.head == len(p.pending) {
				p.pending, p.head = p.pending[:0], 0
			}
			p.mu.Unlock()
			continue
		}
		if p.closed {
			p.live--
			p.mu.Unlock()
			return
		}
		w.idleTick = p.tick
		p.idle = append(p.idle, w)
		if !p.reaping {
			p.reaping = true
			if p.reaper == nil {
				p.reaper = time.AfterFunc(p.idleTimeout/2, p.reap)
			} else {
				p.reaper.Reset(p.idleTimeout / 2)
			}
		}
		p.mu.Unlock()
		if t = <-w.ch; t.c == nil && t.run == nil && t.hs == nil {
			return // reaped or closed; live was counted down by the reaper
		}
	}
}

// enterCall marks the calling worker as running a call, which may block:
// if reads are waiting and no worker is idle, a worker is started for
// them, so that a blocking call never holds other connections' reads.
func (p *workerPool) enterCall() {
	p.mu.Lock()
	inCall := int(p.inCall.Add(1))
	start := p.head < len(p.pending) && len(p.idle) == 0 && p.live-inCall < p.maxReaders
	var t task
	if start {
		t = p.pending[p.head]
		p.pending[p.head] = task{}
		if p.head++; p.head == len(p.pending) {
			p.pending, p.head = p.pending[:0], 0
		}
		p.live++
	}
	p.mu.Unlock()
	if start {
		go p.work(&worker{ch: make(chan task, 1)}, t)
	}
}

// exitCall marks the calling worker as done with its call. It takes no
// lock: counting down only frees room for reads, and a worker that ends
// its call goes on to the pending reads itself (work).
func (p *workerPool) exitCall() {
	p.inCall.Add(-1)
}

// reap runs every idleTimeout/2 while some worker is idle: it counts a
// tick and stops the workers idle since three ticks or more (the oldest
// are at the front of idle). The first tick after a worker went idle
// comes after it, the third a whole idleTimeout later: a worker exits
// after idling between idleTimeout and 1.5 × idleTimeout, and going idle
// costs no clock read.
func (p *workerPool) reap() {
	p.mu.Lock()
	p.tick++
	n := 0
	for n < len(p.idle) && p.tick-p.idle[n].idleTick >= 3 {
		p.idle[n].ch <- task{}
		n++
	}
	p.live -= n
	rest := copy(p.idle, p.idle[n:])
	clear(p.idle[rest:])
	p.idle = p.idle[:rest]
	if rest > 0 {
		p.reaper.Reset(p.idleTimeout / 2)
	} else {
		p.reaping = false
	}
	p.mu.Unlock()
}

// close stops the idle workers; busy ones exit when they finish their
// task and what is pending.
func (p *workerPool) close() {
	p.mu.Lock()
	p.closed = true
	for _, w := range p.idle {
		w.ch <- task{}
	}
	p.live -= len(p.idle)
	clear(p.idle)
	p.idle = nil
	if p.reaper != nil {
		p.reaper.Stop()
	}
	p.mu.Unlock()
}
