// Package duplexclient is the Go client runtime of duplex: wire protocol v1
// (docs/protocol.md) over one WebSocket at a time, dialled with
// github.com/gobwas/ws. It is the Go counterpart of the TypeScript client
// (clients/ts) and behaves like it: a hello on every connection, the
// session resumed after a lost connection with exactly-once replay of the
// events missed, reconnects with exponential backoff and full jitter, an
// application heartbeat per the server's welcome, calls cancelled through
// their context.
//
// `duplex gen -go DIR -go-client` writes a typed client beside the server
// code (chat_duplex_client.go for chat.duplex): NewClient, one method per
// command and On<Event> per event, over this package. This package alone
// is usable too, with Client.Call and Client.On on raw JSON.
//
// It lives in clients/, beside the TypeScript runtime, rather than under
// runtime/: runtime/ is the server, and a client program should not
// depend on it. The only duplex package it imports is runtime/wire, the
// JSON reader and writer both sides share (std and uuid only).
//
// # Connections and sessions
//
// New makes a Client, On registers event handlers, and Connect starts it:
// it dials, says hello, and returns once the server's welcome came.
// Afterwards the client keeps a connection open on its own: a connection
// lost for any reason but a terminal close code (1000, 1008, 4000-4099 by
// default: Options.Terminal) is replaced after a backoff delay, random in
// [0, min(BackoffMax, BackoffBase·2^n)) for the n-th attempt in a row
// (1001 and 1012 retry at once the first time), and the new connection's
// hello asks to resume the session with the last event seq processed. A
// resumed session's missed events are replayed, each delivered once; a
// refused resume (unknown, expired, overrun) gives a new session, and
// Options.OnStartOver tells the app to start over (log in again). Close
// sends 1000, which ends the session on the server.
//
// # Calls
//
// Call (and the generated methods) may be made from any goroutine. A call
// made while the client is connecting or reconnecting waits for the
// connection, bounded by its context; so does one beyond MaxInFlight calls
// in flight. A call whose context ends while it is in flight sends
// {"cancel": id} and returns ctx.Err(). A call in flight when the
// connection is lost fails with an *Error of code "disconnected" and
// Retryable true (the server may or may not have run it), unless it is
// idempotent (CallIdempotent; generated methods of @idempotent commands),
// which is sent again on the next connection. A call on a closed client
// fails with an error matching ErrClosed. Options.Trace gives calls the
// caller's trace context (otelduplex.ClientTrace for OpenTelemetry).
//
// # Events and callbacks
//
// Event handlers and the Options callbacks run on one goroutine of the
// client, one at a time, in the order of the events' seq: a handler that
// blocks delays the others (not the connection, whose frames keep being
// read). Handlers may make calls and call Close.
//
// # Heartbeat
//
// After the welcome's heartbeat interval with nothing received the client
// sends {"ping": n}; with nothing received PingTimeout (default 10 s)
// later it drops the connection, with close code 3008, and reconnects. A
// dead connection is noticed within heartbeat + PingTimeout. Before the
// welcome, PingTimeout bounds the silence.
package duplexclient
