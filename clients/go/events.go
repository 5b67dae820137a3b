package duplexclient

import (
	"fmt"
	"sync"
)

// item is what the dispatcher delivers: an event, or a callback.
type item struct {
	event string
	data  []byte
	fn    func()
}

// dispatcher delivers events and callbacks in order on one goroutine, so
// that a slow handler never stops the connection's reads. Its queue is
// unbounded: events are bounded by what the server sends.
type dispatcher struct {
	c       *Client
	mu      sync.Mutex
	q       []item
	stopped bool
	wake    chan struct{}
}

func (d *dispatcher) init(c *Client) {
	d.c = c
	d.wake = make(chan struct{}, 1)
}

func (d *dispatcher) post(it item) {
	d.mu.Lock()
	if !d.stopped {
		d.q = append(d.q, it)
	}
	d.mu.Unlock()
	d.poke()
}

// stop drops the events not yet delivered, queues the callbacks final,
// and makes run return once the callbacks queued are done.
func (d *dispatcher) stop(final ...item) {
	d.mu.Lock()
	d.stopped = true
	q := d.q[:0]
	for _, it := range d.q {
		if it.fn != nil {
			q = append(q, it)
		}
	}
	d.q = append(q, final...)
	d.mu.Unlock()
	d.poke()
}

func (d *dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) run() {
	for {
		d.mu.Lock()
		q, stopped := d.q, d.stopped
		d.q = nil
		d.mu.Unlock()
		for _, it := range q {
			d.deliver(it)
		}
		if len(q) == 0 {
			if stopped {
				return
			}
			<-d.wake
		}
	}
}

func (d *dispatcher) deliver(it item) {
	if it.fn != nil {
		it.fn()
		return
	}
	c := d.c
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return // Close dropped it
	}
	hs := make([]func([]byte) error, 0, len(c.handlers[it.event]))
	for _, h := range c.handlers[it.event] {
		hs = append(hs, h)
	}
	c.mu.Unlock()
	for _, h := range hs {
		if err := h(it.data); err != nil && c.o.OnError != nil {
			c.o.OnError(fmt.Errorf("event %s: %w", it.event, err))
		}
	}
}
