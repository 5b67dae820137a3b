// Package redisengine is the Redis engine of duplex: a runtime.Engine for
// several server processes ("nodes") sharing one Redis (7.0 or later, for
// Redis functions), imported only by apps that run several nodes.
//
//	e, err := redisengine.New("redis://127.0.0.1:6379/0", redisengine.Options{})
//	srv, err := runtime.New(runtime.Options{Engine: e})
//
// docs/engine.md ("The Redis engine") has the design: every key under one
// hash tag, a global counter (gseq) and a stream per topic whose entry IDs
// are gseqs, one FCALL per publish that numbers, appends, trims and
// publishes atomically, deliveries over one pub/sub connection per node in
// gseq order, Sync markers on the node's own channel, presence hashes and
// expiring session records.
//
// # Faults
//
// Every command is bounded by Options.Timeout (DefaultTimeout, 3 s) or its
// ctx, whichever ends first, and fails with an error wrapping the client's
// (a refused connection fails at once). Reads are retried on a broken
// connection within that bound, writes never: a Publish that fails may
// still have been published. After Redis restarts, the first write on
// each of the client's pooled connections may fail with the broken
// connection's error.
//
// The pub/sub connection is pinged every Timeout/3; when a ping fails
// within Timeout or the connection ends (CLIENT KILL, a restart, an
// overflowing output buffer), the node reconnects with backoff (50 ms to
// 1 s), subscribes again, reads its topics' history after the last event
// it delivered and delivers what it missed, each event once and in order;
// Receiver.Lost reports the topics whose missed events were trimmed
// (ErrHistoryLost) or an epoch change (ErrEpochChanged: Redis lost its
// data). Ready reports whether the node is connected, for a readiness
// endpoint.
//
// # The client
//
// The client is github.com/redis/rueidis: its auto-pipelining sends
// concurrent commands on one connection in batches, which is what a
// server publishing from many goroutines does. Measured on a loaded
// 2-core machine, publishing a 100-byte event through duplex_publish
// (FCALL) on Redis 7.0: time per publish, 8 runs of 20000 each, range
// and median:
//
//	goroutines   go-redis/v9 v9.23.0     rueidis v1.0.80
//	1            167-608 µs, 290 µs      126-330 µs, 186 µs
//	16           58-175 µs, 123 µs       26-89 µs, 53 µs
//
// One goroutine waits a round trip per publish with either; from 16
// goroutines rueidis is about twice as fast (BenchmarkPublish measures
// the engine itself). Its dedicated connections with pub/sub hooks also
// leave reconnection to the engine, which must catch up from history
// between resubscribing and delivering again (go-redis's PubSub
// reconnects and resubscribes inside its receive loop).
package redisengine
