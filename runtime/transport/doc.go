// Package transport is duplex's WebSocket server without RPC: RFC 6455
// over gobwas/ws's low-level frame API, with the parts hand-written
// servers get wrong made correct by construction. It knows nothing of
// sessions, envelopes or calls; package runtime builds those on top of it
// through the small contract below, and so may any other protocol over
// WebSocket messages.
//
// # The contract
//
// Options.Accept runs for every valid upgrade request: after the
// protocol checks (method, version, key, origin, subprotocol, extensions)
// and after a connection slot is reserved (MaxConnections), before the 101
// response. It returns the connection's ConnHandler, or an error that
// refuses the upgrade: an *HTTPError with its status and headers, any
// other error with 403. It runs on a pool worker (listener path, counted
// as possibly blocked) or on net/http's goroutine (ServeHTTP), and it may
// block, which delays only that upgrade; on the listener path the
// HandshakeTimeout deadline set on the socket does not interrupt it. See
// Options.FullRequest for what of the request it may keep.
//
// The ConnHandler gets the connection's events: Open once, Message per
// data message (never concurrently for one connection), Closed exactly
// once after TCP is closed; ConnHandler documents the goroutine rules. The
// Conn keeps the handler (Conn.Handler), so a layer above finds its
// per-connection state there instead of in Conn.
//
// Conn.WriteMessage queues a message and Conn.Close starts the closing
// handshake; both are safe from any goroutine and never block on the
// peer. Conn.Schedule, called from Message, runs a Task (work that may
// block, such as an RPC call) on a pool worker: on the epoll read path the
// very worker that read the message, once it has given up reading the
// connection, so that the common case of one call per read hands nothing
// to another goroutine. Server.Go runs a Task from anywhere.
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
// Messages reach the handler whole, in order, one at a time per
// connection. On Linux, plain TCP connections are read through one epoll
// instance (package runtime/internal/netpoll) and a small worker pool
// (workers.go): an idle connection holds no goroutine and no buffer, and
// a buffer is taken from a pool only while bytes are being parsed or a
// message is incomplete. TLS connections, other systems and
// Options.DisablePoller use one reading goroutine per connection instead.
// The frame parser (frame.go) accepts bytes split anywhere and enforces
// every rule of RFC 6455 §5 (1002), UTF-8 of text incrementally with
// fail-fast (§8.1, 1007) and the message size limit from the frame header
// (1009). Any read error, a timeout in the middle of a frame included,
// ends the connection: there is no resync.
//
// # Writing
//
// Conn.WriteMessage copies the message into a bounded per-connection queue
// and returns at once; whoever finds the socket free writes without
// blocking, and when it is full one writer goroutine, started on demand
// and gone when the queue is empty, writes everything queued with one
// writev (write.go). Queued frames are copied back to back into chunks, so
// the queue holds what its frames take, and MaxQueuedBytes bounds it: a
// connection whose queue holds more is evicted with 1008 (its queue
// dropped, the frame being written finished, then the close frame) and
// never slows the others.
//
// # Closing
//
// See close.go: a close received is answered with the same code and TCP is
// closed after the answer (§5.5.1, §7.1.1); a close sent waits at most
// CloseTimeout for the peer's answer; a failed connection (1002, 1007,
// 1009, §7.1.7) or an evicted one (1008, 1001 ping timeout) is closed right
// after its close frame, half-closed first so that the frame is not lost to
// a reset; nothing is written after a close frame; 1005, 1006 and 1015
// never go on the wire. ConnHandler.Closed and then Hooks.OnClose get a
// *CloseError with the code, reason and initiator exactly once per
// connection.
//
// # Health and hooks
//
// A connection read-silent for PingInterval is pinged and closed (1001)
// when it stays silent PingTimeout longer (health.go). Hooks observe every
// lifecycle event; logging goes through Options.Logger (log/slog).
//
// Every method of Server and Conn is safe for concurrent use, except
// Conn.Schedule, which belongs to Message.
package transport
