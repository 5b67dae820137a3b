package redisengine

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/redis/rueidis"
)

// Defaults of Options.
const (
	// DefaultPrefix is the prefix of every key and channel: one hash
	// tag, so that they all live in one Redis Cluster slot.
	DefaultPrefix = "{duplex}"
	// DefaultTimeout bounds every command, and the silence after which
	// the pub/sub connection counts as broken.
	DefaultTimeout = 3 * time.Second
	// DefaultExpiredGrace is how long a session record outlives its
	// ExpiresAt, for TakeExpiredSessions.
	DefaultExpiredGrace = 10 * time.Minute
)

// Options configures an Engine. The zero value is the default.
type Options struct {
	// Prefix starts every key and channel name: DefaultPrefix if empty.
	// Deployments sharing one Redis use different prefixes.
	Prefix string
	// HistoryLen bounds each topic's stream to its last HistoryLen
	// events, exactly: runtime.DefaultHistoryLen if 0 or less.
	HistoryLen int
	// HistoryAge drops events older than it from a topic's stream when
	// the topic is published on (in steps of about a second); 0 keeps
	// them regardless of age.
	HistoryAge time.Duration
	// TopicTTL drops a topic's stream once nothing was published on it
	// for this long: runtime.DefaultTopicTTL if 0 or less. As with
	// MemoryEngine, History after a position older than that reports
	// a missing topic as lost (it may be a dropped one).
	TopicTTL time.Duration
	// Timeout bounds every command (connecting included) unless ctx
	// ends sooner, and is how long the pub/sub connection may stay
	// silent, pinged every Timeout/3, before it counts as broken:
	// DefaultTimeout if 0 or less.
	Timeout time.Duration
	// ExpiredGrace is how long a session record is kept past its
	// ExpiresAt for TakeExpiredSessions: DefaultExpiredGrace if 0 or
	// less.
	ExpiredGrace time.Duration
}

//go:embed functions.lua
var functions string

// Engine is one node's handle on a Redis engine: a runtime.Engine. See
// the package doc and docs/engine.md. Safe for concurrent use.
type Engine struct {
	opts   Options
	c      rueidis.Client
	node   string // random: names the node's channel
	recv   runtime.Receiver
	batch  runtime.BatchReceiver // recv, when it takes batches
	closed atomic.Bool
	epoch  atomic.Uint64 // the epoch the node knows; 0 before Start

	keyEpoch, keyGSeq, keyClock, keyExpiry, chanNode string

	mu      sync.Mutex // guards what follows
	started bool
	// delivering: the delivery goroutine runs (Start succeeded); it
	// closes done when it ends.
	delivering bool
	topics     map[string]uint64 // subscribed topics → the gseq they were subscribed after
	ps         *pubsub           // the current pub/sub connection; nil while reconnecting
	gen        int               // counts pub/sub connections
	dropped    int               // the connection whose messages overflowed the queue
	waiters    map[string][]chan struct{}
	syncs      map[string]func(runtime.Position) // pending Sync functions by token
	token      uint64
	state      error // nil when the pub/sub connection is up
	queue      []item
	cond       sync.Cond // on mu: signalled when queue grows or the node closes
	done       chan struct{}

	// pending are the events handled and not yet delivered: the
	// delivery goroutine's.
	pending []runtime.Event
}

// New returns a node on the Redis at url ("redis://[:password@]host:port/db",
// or rediss:// for TLS). It connects the client for commands, failing
// within Timeout when Redis cannot be reached; Start opens the pub/sub
// connection and begins deliveries.
func New(url string, opts Options) (*Engine, error) {
	copts, err := rueidis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redisengine: %w", err)
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.HistoryLen <= 0 {
		opts.HistoryLen = runtime.DefaultHistoryLen
	}
	if opts.TopicTTL <= 0 {
		opts.TopicTTL = runtime.DefaultTopicTTL
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.ExpiredGrace <= 0 {
		opts.ExpiredGrace = DefaultExpiredGrace
	}
	copts.DisableCache = true
	// The client retries read-only commands (GET, HGETALL, FCALL_RO of
	// duplex_history) on a broken connection, never writes: a publish
	// retried could publish twice.
	copts.Dialer.Timeout = opts.Timeout
	copts.ConnWriteTimeout = opts.Timeout
	copts.ForceSingleClient = true
	c, err := rueidis.NewClient(copts)
	if err != nil {
		return nil, fmt.Errorf("redisengine: connect to %s: %w", strings.Join(copts.InitAddress, ","), err)
	}
	p := opts.Prefix
	e := &Engine{
		opts: opts, c: c, node: randomHex(),
		keyEpoch: p + ":epoch", keyGSeq: p + ":gseq", keyClock: p + ":clock", keyExpiry: p + ":expiry",
		topics:  make(map[string]uint64),
		waiters: make(map[string][]chan struct{}),
		syncs:   make(map[string]func(runtime.Position)),
		state:   errors.New("redisengine: not started"),
		done:    make(chan struct{}),
	}
	e.chanNode = p + ":n:" + e.node
	e.cond.L = &e.mu
	return e, nil
}

func randomHex() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.FormatUint(binary.LittleEndian.Uint64(b[:]), 16)
}

// newEpoch returns a random non-zero epoch, in decimal: a candidate for
// when Redis has none.
func newEpoch() string {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		if e := binary.LittleEndian.Uint64(b[:]); e != 0 {
			return strconv.FormatUint(e, 10)
		}
	}
}

func (e *Engine) streamKey(topic string) string { return e.opts.Prefix + ":t:" + topic }
func (e *Engine) channel(topic string) string   { return e.opts.Prefix + ":c:" + topic }

// ctx bounds ctx by the command timeout.
func (e *Engine) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, e.opts.Timeout)
}

// fcall calls a function of the library, loading the library first when
// Redis does not have it (it started without its data).
func (e *Engine) fcall(ctx context.Context, fn string, keys []string, args ...string) rueidis.RedisResult {
	cmd := func() rueidis.Completed {
		return e.c.B().Fcall().Function(fn).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()
	}
	return e.call(ctx, cmd)
}

// fcallRO calls a read-only function (FCALL_RO), which the client
// retries on a broken connection.
func (e *Engine) fcallRO(ctx context.Context, fn string, keys []string, args ...string) rueidis.RedisResult {
	return e.call(ctx, func() rueidis.Completed {
		return e.c.B().FcallRo().Function(fn).Numkeys(int64(len(keys))).Key(keys...).Arg(args...).Build()
	})
}

func (e *Engine) call(ctx context.Context, cmd func() rueidis.Completed) rueidis.RedisResult {
	res := e.c.Do(ctx, cmd())
	if err := res.Error(); err != nil && strings.Contains(err.Error(), "Function not found") {
		if err := e.load(ctx); err != nil {
			return rueidis.NewErrorResult(err)
		}
		res = e.c.Do(ctx, cmd())
	}
	return res
}

// load loads (or replaces) the function library.
func (e *Engine) load(ctx context.Context) error {
	if err := e.c.Do(ctx, e.c.B().FunctionLoad().Replace().FunctionCode(functions).Build()).Error(); err != nil {
		return fmt.Errorf("load functions: %w", err)
	}
	return nil
}

// Start implements runtime.Engine: it loads the functions, reads or
// creates the epoch and opens the pub/sub connection.
func (e *Engine) Start(ctx context.Context, r runtime.Receiver) error {
	if r == nil {
		return errors.New("redisengine: start: nil Receiver")
	}
	e.mu.Lock()
	switch {
	case e.closed.Load():
		e.mu.Unlock()
		return runtime.ErrEngineClosed
	case e.started:
		e.mu.Unlock()
		return errors.New("redisengine: start: started already")
	}
	e.started = true // a failed Start is not retried: the node is unusable
	e.recv = r
	e.batch, _ = r.(runtime.BatchReceiver)
	e.mu.Unlock()
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	if err := e.load(ctx); err != nil {
		return fmt.Errorf("redisengine: start: %w", err)
	}
	ep, err := e.fcall(ctx, "duplex_epoch", []string{e.keyEpoch}, newEpoch()).ToString()
	if err != nil {
		return fmt.Errorf("redisengine: start: read the epoch: %w", err)
	}
	epoch, err := strconv.ParseUint(ep, 10, 64)
	if err != nil {
		return fmt.Errorf("redisengine: start: epoch %q: %w", ep, err)
	}
	e.epoch.Store(epoch)
	if err := e.connect(ctx); err != nil {
		return fmt.Errorf("redisengine: start: %w", err)
	}
	e.mu.Lock()
	if e.closed.Load() { // Close ran meanwhile and did not wait for deliver
		ps := e.ps
		e.ps = nil
		e.mu.Unlock()
		if ps != nil {
			ps.close()
		}
		return runtime.ErrEngineClosed
	}
	e.delivering = true
	e.state = nil
	e.mu.Unlock()
	go e.deliver()
	return nil
}

// Ready reports the node's state for a readiness check: nil when it is
// started and its pub/sub connection is up, else why not (not started,
// reconnecting after what error, closed).
func (e *Engine) Ready() error {
	if e.closed.Load() {
		return runtime.ErrEngineClosed
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.state
}

// Close implements runtime.Engine.
func (e *Engine) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	e.mu.Lock()
	delivering := e.delivering
	ps := e.ps
	e.ps = nil
	e.state = runtime.ErrEngineClosed
	e.cond.Broadcast()
	e.mu.Unlock()
	if ps != nil {
		ps.close()
	}
	if delivering {
		<-e.done // within a command's Timeout, if it was reconnecting
	}
	e.c.Close()
	return nil
}

// check returns the error of a call whose ctx ended, or on a node that is
// closed, or not started when it must be.
func (e *Engine) check(ctx context.Context, started bool) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("redisengine: %w", err)
	}
	if e.closed.Load() {
		return runtime.ErrEngineClosed
	}
	if started {
		e.mu.Lock()
		defer e.mu.Unlock()
		if !e.started {
			return runtime.ErrNotStarted
		}
	}
	return nil
}

// Publish implements runtime.Engine: one FCALL of duplex_publish.
func (e *Engine) Publish(ctx context.Context, topic string, payload []byte) (runtime.Position, error) {
	if topic == "" {
		return runtime.Position{}, errors.New("redisengine: publish: empty topic")
	}
	if err := e.check(ctx, false); err != nil {
		return runtime.Position{}, err
	}
	ctx, cancel := e.ctx(ctx)
	defer cancel()
	res := e.fcall(ctx, "duplex_publish",
		[]string{e.keyEpoch, e.keyGSeq, e.keyClock, e.streamKey(topic)},
		newEpoch(), e.channel(topic), string(payload), strconv.Itoa(e.opts.HistoryLen),
		strconv.FormatInt(e.opts.TopicTTL.Milliseconds(), 10), strconv.FormatInt(e.opts.HistoryAge.Milliseconds(), 10))
	pos, err := position(res)
	if err != nil {
		return runtime.Position{}, fmt.Errorf("redisengine: publish on %q: %w", topic, err)
	}
	return pos, nil
}

// position decodes a function's {epoch, gseq} reply.
func position(res rueidis.RedisResult) (runtime.Position, error) {
	a, err := res.ToArray()
	if err != nil {
		return runtime.Position{}, err
	}
	if len(a) != 2 {
		return runtime.Position{}, fmt.Errorf("reply of %d elements, want 2", len(a))
	}
	ep, err := a[0].ToString()
	if err != nil {
		return runtime.Position{}, err
	}
	epoch, err := strconv.ParseUint(ep, 10, 64)
	if err != nil {
		return runtime.Position{}, fmt.Errorf("epoch %q: %w", ep, err)
	}
	g, err := a[1].AsInt64()
	if err != nil {
		return runtime.Position{}, err
	}
	return runtime.Position{Epoch: epoch, GSeq: uint64(g)}, nil
}

var _ runtime.Engine = (*Engine)(nil)
