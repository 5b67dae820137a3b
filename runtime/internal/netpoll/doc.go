// Package netpoll reports read readiness of many connections through one
// epoll instance, so that an idle WebSocket connection needs neither a
// goroutine parked in Read nor a read buffer.
//
// The runtime registers a connection's descriptor (see [FD]) with
// [Poller.Add]. When bytes arrive or the peer hangs up, the poller's single
// event goroutine calls the connection's [Handler]; the handler hands the
// connection to a worker, which reads with [ReadNonblock] until the socket
// is drained. Registrations are edge-triggered (EPOLLET), as in Go's own
// poller: nothing needs re-arming after a notification, but nothing is
// reported again for bytes left unread either, and a notification may come
// while a worker is still reading (see [Handler] for the consequences).
//
// Go's own network poller keeps owning the descriptor: it stays
// non-blocking, deadlines and Close work as usual, and registering the same
// descriptor in a second epoll instance is allowed by the kernel. A
// descriptor must be removed with [Poller.Remove] before it is closed.
//
// Only Linux is supported; elsewhere [New] returns [ErrUnsupported] and the
// runtime falls back to a reading goroutine per connection. [ReadNonblock]
// and [FD] work on every Unix.
package netpoll
