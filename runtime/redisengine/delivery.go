package redisengine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/redis/rueidis"
)

// The node's deliveries: a dedicated pub/sub connection subscribed to the
// node's channel (Sync markers) and to its topics' channels. Its messages
// are queued by the client's reading goroutine and handed to the Receiver
// by one delivery goroutine (deliver), in the order Redis sent them, which
// is gseq order. The delivery goroutine takes everything queued at once;
// to a runtime.BatchReceiver, the events of what it took go in one
// DeliverBatch (cut at Sync markers and losses), so a busy node writes
// each connection once per batch; an idle one gets each event as it
// comes, nothing waits for more. A goroutine per connection pings it every Timeout/3; a
// ping that fails within Timeout, or the connection's end, queues a break,
// on which the delivery goroutine reconnects and catches up from history.

// reconnectHook, when set (by tests), runs before a reconnection.
var reconnectHook func(*Engine)

// pubsub is one pub/sub connection.
type pubsub struct {
	gen  int
	c    rueidis.DedicatedClient
	stop chan struct{}
	once sync.Once
}

func (ps *pubsub) close() {
	ps.once.Do(func() {
		close(ps.stop)
		ps.c.Close()
	})
}

// item is one entry of the delivery queue: a message, or the end of the
// connection gen.
type item struct {
	gen     int
	channel string
	msg     string
	broken  error
}

// maxQueued bounds the delivery queue. A node whose Receiver falls that
// far behind is treated as Redis treats a client whose output buffer
// overflows: its connection is dropped, and the reconnection catches up
// from history (or reports Lost) once the Receiver is back.
var maxQueued = 1 << 16

func (e *Engine) push(it item) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if it.gen == e.dropped {
		return // the connection overflowed: its end is queued
	}
	if it.broken == nil && len(e.queue) >= maxQueued {
		e.dropped = it.gen
		it = item{gen: it.gen, broken: fmt.Errorf("more than %d messages queued: the Receiver is behind", maxQueued)}
		if ps := e.ps; ps != nil && ps.gen == it.gen {
			go ps.close() // not from the client's reading goroutine, where this runs
		}
	}
	e.queue = append(e.queue, it)
	e.cond.Signal()
}

// waitLocked registers a waiter for the subscription of each channel.
// e.mu held.
func (e *Engine) waitLocked(chans []string) []chan struct{} {
	ws := make([]chan struct{}, len(chans))
	for i, ch := range chans {
		ws[i] = make(chan struct{})
		e.waiters[ch] = append(e.waiters[ch], ws[i])
	}
	return ws
}

// confirm releases the waiters of a subscription Redis confirmed.
func (e *Engine) confirm(ch string) {
	e.mu.Lock()
	for _, w := range e.waiters[ch] {
		close(w)
	}
	delete(e.waiters, ch)
	e.mu.Unlock()
}

func wait(ctx context.Context, ws []chan struct{}) error {
	for _, w := range ws {
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// connect opens a pub/sub connection subscribed to the node's channel and
// topics, and makes it the node's once Redis confirmed every subscription.
func (e *Engine) connect(ctx context.Context) error {
	dc, _ := e.c.Dedicate() // its release is dc.Close
	e.mu.Lock()
	e.gen++
	ps := &pubsub{gen: e.gen, c: dc, stop: make(chan struct{})}
	e.mu.Unlock()
	done := dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) {
			e.push(item{gen: ps.gen, channel: m.Channel, msg: m.Message})
		},
		OnSubscription: func(s rueidis.PubSubSubscription) {
			if s.Kind == "subscribe" {
				e.confirm(s.Channel)
			}
		},
	})
	e.mu.Lock()
	if e.closed.Load() {
		e.mu.Unlock()
		ps.close()
		return runtime.ErrEngineClosed
	}
	e.ps = ps
	chans := []string{e.chanNode}
	for t := range e.topics {
		chans = append(chans, e.channel(t))
	}
	ws := e.waitLocked(chans)
	e.mu.Unlock()
	err := dc.Do(ctx, dc.B().Subscribe().Channel(chans...).Build()).Error()
	if err == nil {
		err = wait(ctx, ws)
	}
	if err != nil {
		e.mu.Lock()
		if e.ps == ps {
			e.ps = nil
		}
		e.mu.Unlock()
		ps.close()
		return fmt.Errorf("subscribe: %w", err)
	}
	go e.watch(ps, done)
	return nil
}

// watch pings ps and queues its end.
func (e *Engine) watch(ps *pubsub, done <-chan error) {
	t := time.NewTicker(e.opts.Timeout / 3)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				err = errors.New("connection closed")
			}
			e.push(item{gen: ps.gen, broken: err})
			return
		case <-ps.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
			err := ps.c.Do(ctx, ps.c.B().Ping().Build()).Error()
			cancel()
			if err != nil {
				select {
				case <-ps.stop:
					return
				default:
				}
				e.push(item{gen: ps.gen, broken: fmt.Errorf("ping: %w", err)})
				ps.close()
				return
			}
		}
	}
}

// deliver is the node's delivery goroutine.
func (e *Engine) deliver() {
	defer close(e.done)
	e.mu.Lock()
	gen := e.gen
	e.mu.Unlock()
	var last uint64 // the gseq of the last event delivered, in the epoch known
	for {
		e.mu.Lock()
		for len(e.queue) == 0 && !e.closed.Load() {
			e.cond.Wait()
		}
		batch := e.queue
		e.queue = nil
		e.mu.Unlock()
		for _, it := range batch {
			switch {
			case e.closed.Load():
				return
			case it.gen != gen:
				// A second report of an old connection's end.
			case it.broken != nil:
				e.flush()
				gen = e.reconnect(it.broken, &last)
			default:
				e.handle(it, &last)
			}
		}
		e.flush()
		if e.closed.Load() {
			return
		}
	}
}

// queueEvent delivers ev, or keeps it for the next flush when the
// Receiver takes batches. Delivery goroutine only.
func (e *Engine) queueEvent(ev runtime.Event) {
	if e.batch == nil {
		e.recv.Deliver(ev)
		return
	}
	e.pending = append(e.pending, ev)
}

// flush delivers the events kept by queueEvent in one DeliverBatch. It
// runs before anything else is called on the delivery path (a Sync
// function, Lost) and once the queue taken is handled. Delivery goroutine
// only.
func (e *Engine) flush() {
	if len(e.pending) > 0 && !e.closed.Load() {
		e.batch.DeliverBatch(e.pending)
	}
	clear(e.pending)
	if cap(e.pending) > 4096 {
		e.pending = nil // not kept after a burst
	} else {
		e.pending = e.pending[:0]
	}
}

// handle delivers one message: an event above last (queueEvent), or a
// Sync marker.
func (e *Engine) handle(it item, last *uint64) {
	if it.channel == e.chanNode {
		token, rest, _ := strings.Cut(it.msg, ":")
		pos, _, err := parsePos(rest, false)
		if err != nil {
			return
		}
		e.checkEpoch(pos.Epoch, last)
		e.mu.Lock()
		f := e.syncs[token]
		delete(e.syncs, token)
		e.mu.Unlock()
		if f != nil {
			e.flush()
			f(pos)
		}
		return
	}
	topic := strings.TrimPrefix(it.channel, e.opts.Prefix+":c:")
	pos, payload, err := parsePos(it.msg, true)
	if err != nil {
		return
	}
	e.checkEpoch(pos.Epoch, last)
	if pos.GSeq <= *last {
		return // delivered by a catch-up already
	}
	e.mu.Lock()
	_, ok := e.topics[topic]
	e.mu.Unlock()
	if !ok {
		return // unsubscribed since
	}
	*last = pos.GSeq
	e.queueEvent(runtime.Event{Topic: topic, Pos: pos, Payload: []byte(payload)})
}

// checkEpoch reports a new epoch with Lost before anything of it is
// delivered, after everything of the old one.
func (e *Engine) checkEpoch(epoch uint64, last *uint64) {
	if old := e.epoch.Load(); epoch != old {
		e.flush()
		e.epoch.Store(epoch)
		*last = 0
		e.recv.Lost(nil, fmt.Errorf("redisengine: epoch %x replaced %x (Redis lost its data): %w", epoch, old, runtime.ErrEpochChanged))
	}
}

// parsePos splits "epoch:gseq[:payload]".
func parsePos(s string, payload bool) (runtime.Position, string, error) {
	ep, rest, ok := strings.Cut(s, ":")
	if !ok {
		return runtime.Position{}, "", fmt.Errorf("bad message %.40q", s)
	}
	g, p := rest, ""
	if payload {
		if g, p, ok = strings.Cut(rest, ":"); !ok {
			return runtime.Position{}, "", fmt.Errorf("bad message %.40q", s)
		}
	}
	epoch, err1 := strconv.ParseUint(ep, 10, 64)
	gseq, err2 := strconv.ParseUint(g, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return runtime.Position{}, "", fmt.Errorf("bad message %.40q: %w", s, err)
	}
	return runtime.Position{Epoch: epoch, GSeq: gseq}, p, nil
}

// reconnect replaces the broken pub/sub connection, retrying until it
// succeeds or the node closes, catches up on what the node missed and
// sends the pending Sync markers again. It returns the new connection's
// generation.
func (e *Engine) reconnect(cause error, last *uint64) int {
	e.mu.Lock()
	old := e.ps
	e.ps = nil
	e.state = fmt.Errorf("redisengine: pub/sub connection lost: %w", cause)
	e.mu.Unlock()
	if reconnectHook != nil {
		reconnectHook(e)
	}
	if old != nil {
		old.close()
	}
	backoff := 50 * time.Millisecond
	for !e.closed.Load() {
		ctx, cancel := e.ctx(context.Background())
		err := e.connect(ctx)
		if err == nil {
			if err = e.catchUp(ctx, last); err != nil {
				e.mu.Lock()
				ps := e.ps
				e.ps = nil
				e.mu.Unlock()
				if ps != nil {
					ps.close()
				}
			}
		}
		cancel()
		if err == nil {
			e.mu.Lock()
			e.state = nil
			e.mu.Unlock()
			break
		}
		e.mu.Lock()
		e.state = fmt.Errorf("redisengine: reconnecting: %w", err)
		e.mu.Unlock()
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
	e.mu.Lock()
	gen := e.gen
	tokens := make([]string, 0, len(e.syncs))
	for t := range e.syncs {
		tokens = append(tokens, t)
	}
	e.mu.Unlock()
	for _, t := range tokens {
		ctx, cancel := e.ctx(context.Background())
		_ = e.sendSync(ctx, t) // on failure, the next reconnect sends it
		cancel()
	}
	return gen
}

// catchUp delivers the events of the node's topics after last, or
// reports with Lost those it cannot read any more.
func (e *Engine) catchUp(ctx context.Context, last *uint64) error {
	ep, err := e.fcall(ctx, "duplex_epoch", []string{e.keyEpoch}, newEpoch()).ToString()
	if err != nil {
		return fmt.Errorf("read the epoch: %w", err)
	}
	epoch, err := strconv.ParseUint(ep, 10, 64)
	if err != nil {
		return fmt.Errorf("epoch %q: %w", ep, err)
	}
	if epoch != e.epoch.Load() {
		// Redis lost its data: Lost, then what the new epoch has.
		e.checkEpoch(epoch, last)
		e.mu.Lock()
		for t := range e.topics {
			e.topics[t] = 0
		}
		e.mu.Unlock()
	}
	e.mu.Lock()
	topics := make([]string, 0, len(e.topics))
	from := make(map[string]uint64, len(e.topics))
	for t, g := range e.topics {
		topics = append(topics, t)
		from[t] = g
	}
	e.mu.Unlock()
	if len(topics) == 0 {
		return nil
	}
	after := runtime.Position{Epoch: epoch, GSeq: *last}
	r, err := e.read(ctx, topics, after, 0, 0)
	if err != nil {
		return err
	}
	if r.epoch != epoch {
		e.checkEpoch(r.epoch, last)
		return nil
	}
	if after.GSeq > r.gseq {
		// Redis came back with fewer events than this node delivered
		// (an older snapshot, a failover that lost writes): its next
		// positions would name other events than the ones delivered.
		// A new epoch makes every node and position see the loss.
		ep, err := e.fcall(ctx, "duplex_newepoch", []string{e.keyEpoch}, strconv.FormatUint(epoch, 10), newEpoch()).ToString()
		if err != nil {
			return fmt.Errorf("replace the epoch: %w", err)
		}
		n, err := strconv.ParseUint(ep, 10, 64)
		if err != nil {
			return fmt.Errorf("epoch %q: %w", ep, err)
		}
		e.checkEpoch(n, last)
		*last = r.gseq // what the new epoch holds from before it is not news
		return nil
	}
	var lost []string
	var evs []runtime.Event
	for i, h := range r.topics {
		if err := h.lost(topics[i], after, r.bound); err != nil {
			lost = append(lost, topics[i])
			continue
		}
		for _, ev := range h.fwd {
			if ev.Pos.GSeq > from[ev.Topic] {
				evs = append(evs, ev)
			}
		}
	}
	if len(lost) > 0 {
		e.flush()
		e.recv.Lost(lost, fmt.Errorf("redisengine: events after %v missed while disconnected are gone: %w", after, runtime.ErrHistoryLost))
	}
	sortByPos(evs)
	for _, ev := range evs {
		if e.closed.Load() {
			return nil
		}
		if ev.Pos.GSeq > *last {
			*last = ev.Pos.GSeq
			e.queueEvent(ev)
		}
	}
	e.flush()
	return nil
}

// Subscribe implements runtime.Engine: it returns once Redis confirmed
// the subscription (or, if the connection broke meanwhile, once a new one
// is subscribed).
func (e *Engine) Subscribe(ctx context.Context, topic string) error {
	if topic == "" {
		return errors.New("redisengine: subscribe: empty topic")
	}
	if err := e.check(ctx, true); err != nil {
		return err
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	e.mu.Lock()
	_, ok := e.topics[topic]
	e.mu.Unlock()
	var from uint64
	if !ok {
		// Events up to from were published before this call: a
		// catch-up does not deliver them.
		g, err := e.c.Do(ctx, e.c.B().Get().Key(e.keyGSeq).Build()).AsUint64()
		if err != nil && !rueidis.IsRedisNil(err) {
			return fmt.Errorf("redisengine: subscribe to %q: %w", topic, err)
		}
		from = g
	}
	ch := e.channel(topic)
	e.mu.Lock()
	if _, ok := e.topics[topic]; !ok {
		e.topics[topic] = from
	}
	ws := e.waitLocked([]string{ch})
	ps := e.ps
	e.mu.Unlock()
	if ps != nil {
		// An error means a broken connection: its replacement
		// subscribes to every topic.
		_ = ps.c.Do(ctx, ps.c.B().Subscribe().Channel(ch).Build()).Error()
	}
	if err := wait(ctx, ws); err != nil {
		return fmt.Errorf("redisengine: subscribe to %q: %w", topic, err)
	}
	if e.closed.Load() {
		return runtime.ErrEngineClosed
	}
	return nil
}

// Unsubscribe implements runtime.Engine: from its return on, the node
// drops the topic's events still in flight.
func (e *Engine) Unsubscribe(ctx context.Context, topic string) error {
	if err := e.check(ctx, false); err != nil {
		return err
	}
	e.mu.Lock()
	delete(e.topics, topic)
	ps := e.ps
	e.mu.Unlock()
	if ps != nil {
		ctx, cancel := e.ctx(ctx)
		defer cancel()
		_ = ps.c.Do(ctx, ps.c.B().Unsubscribe().Channel(e.channel(topic)).Build()).Error()
	}
	return nil
}

// Sync implements runtime.Engine: duplex_sync publishes a marker on the
// node's channel behind every publish so far; f runs when it arrives.
func (e *Engine) Sync(ctx context.Context, f func(runtime.Position)) error {
	if f == nil {
		return errors.New("redisengine: sync: nil function")
	}
	if err := e.check(ctx, true); err != nil {
		return err
	}
	e.mu.Lock()
	e.token++
	token := strconv.FormatUint(e.token, 36)
	e.syncs[token] = f
	e.mu.Unlock()
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	if err := e.sendSync(ctx, token); err != nil {
		e.mu.Lock()
		delete(e.syncs, token)
		e.mu.Unlock()
		return fmt.Errorf("redisengine: sync: %w", err)
	}
	return nil
}

func (e *Engine) sendSync(ctx context.Context, token string) error {
	return e.fcall(ctx, "duplex_sync", []string{e.keyEpoch, e.keyGSeq}, newEpoch(), e.chanNode, token).Error()
}
