// Package runtime is duplex's WebSocket server: RFC 6455 over gobwas/ws's
// low-level frame API, with the parts hand-written servers get wrong made
// correct by construction.
//
// # Serving
//
// New builds a Server from Options. Serve upgrades connections from a
// net.Listener without net/http (the request head is parsed in a pooled
// buffer), and the Server is also an http.Handler for any mux and for TLS
// through http.Server. Shutdown and Restart end it gracefully with close
// 1001 or 1012.
//
// # Reading
//
// Messages reach the Handler whole, in order, one at a time per
// connection. On Linux, plain TCP connections are read through one epoll
// instance (package internal/netpoll) and a small worker pool: an idle
// connection holds no goroutine and no buffer, and a buffer is taken from a
// pool only while bytes are being parsed or a message is incomplete. TLS
// connections, other systems and Options.DisablePoller use one reading
// goroutine per connection instead. The frame parser (frame.go) accepts
// bytes split anywhere and enforces every rule of RFC 6455 §5 (1002), UTF-8
// of text incrementally with fail-fast (§8.1, 1007) and the message size
// limit from the frame header (1009). Any read error, a timeout in the
// middle of a frame included, ends the connection: there is no resync.
//
// # Writing
//
// Conn.WriteMessage copies the message into a bounded per-connection queue
// and returns at once; whoever finds the socket free writes without
// blocking, and when it is full one writer goroutine, started on demand
// and gone when the queue is empty, writes everything queued with one
// writev. Queued frames are copied back to back into chunks, so the queue
// holds what its frames take, and MaxQueuedBytes bounds it: a connection
// whose queue holds more is evicted with 1008 (its queue dropped, the
// frame being written finished, then the close frame) and never slows the
// others.
//
// # Closing
//
// See close.go: a close received is answered with the same code and TCP is
// closed after the answer (§5.5.1, §7.1.1); a close sent waits at most
// CloseTimeout for the peer's answer; a failed connection (1002, 1007,
// 1009, §7.1.7) or an evicted one (1008, 1001 ping timeout) is closed right
// after its close frame, half-closed first so that the frame is not lost to
// a reset; nothing is written after a close frame; 1005, 1006 and 1015
// never go on the wire. Hooks.OnClose reports a
// *CloseError with the code, reason and initiator exactly once per
// connection.
//
// # Health, sessions, hooks
//
// A connection read-silent for PingInterval is pinged and closed (1001)
// when it stays silent PingTimeout longer (health.go). Each connection has a
// Session with string attributes that outlives it by ResumeWindow for
// Conn.Resume, kept in a Store (in-memory by default; the interface is ready
// for a shared store). Hooks observe every lifecycle event; logging goes
// through Options.Logger (log/slog).
//
// Every method of Server, Conn and Session is safe for concurrent use.
package runtime
