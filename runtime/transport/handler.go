package transport

// ConnHandler is the per-connection side of the contract between the
// transport and the layer above it (duplex's RPC layer, or any other
// protocol over WebSocket messages). Options.Accept returns one for each
// connection it accepts; the Conn keeps it (Conn.Handler), so that state
// the layer above keeps per connection lives in the handler, not in Conn.
//
// Each method is called on a transport goroutine (a pool worker, a
// connection's reading goroutine, or the goroutine that upgraded it):
//
//   - Open is called once, after the 101 response is written and before
//     the connection is published (Server.Len, Server.Range,
//     Hooks.OnOpen) and before the first Message. Writes and Close work
//     from Open on.
//   - Message is called once per complete data message, in the order the
//     peer sent them, never concurrently for one connection (different
//     connections are served concurrently). data is valid only until
//     Message returns: copy what you keep. Text messages are valid UTF-8.
//     A panic in Message closes the connection with 1011 and is reported
//     to Hooks.OnError. Message may write, close and Schedule; while it
//     runs, the connection's next messages wait, so work that may block
//     (an RPC call) belongs in a Task (Conn.Schedule).
//   - Closed is called exactly once, after TCP is closed and before
//     Hooks.OnClose, with how the connection ended (never nil). After it
//     returns, the connection's slot is released (Shutdown waits for it).
//     The connection may end from another goroutine (a close timer, an
//     eviction, Shutdown) while a Message runs, so Closed may run
//     concurrently with a Message, and a Message for bytes that were
//     being parsed may still begin after Closed: its writes then return
//     ErrClosed, and a handler should not start work for it.
//
// When the upgrade fails after Accept returned the handler (the 101
// response cannot be written), neither Open nor Closed is called: the
// handler is dropped.
type ConnHandler interface {
	Open(c *Conn)
	Message(c *Conn, typ MessageType, data []byte)
	Closed(c *Conn, ce *CloseError)
}

// Task is work for the server's worker pool (Conn.Schedule, Server.Go).
// Run may block: a worker running a task is counted as possibly blocked,
// so that blocked tasks never hold back the reading of other connections.
// A Task must not panic (recover in Run): a panic ends the process, as in
// any goroutine. A Task that is a pointer to a pooled struct keeps
// scheduling allocation-free.
type Task interface {
	Run()
}

// Schedule runs t on a pool worker. It must be called only from
// ConnHandler.Message, on the goroutine that runs it. When that goroutine
// is a pool worker reading through the poller, t runs on that same worker
// after the read ends and the worker has given up the connection's reader
// role: the connection's next messages are read by other workers
// meanwhile, and no goroutine is handed t. A second Schedule in the same
// read hands the first task to another worker. Otherwise (a reading
// goroutine, bytes that came with the upgrade request) t goes to another
// worker at once.
func (c *Conn) Schedule(t Task) {
	if !c.canDefer {
		c.srv.pool.submit(task{run: t})
		return
	}
	if prev := c.deferred; prev != nil {
		c.srv.pool.submit(task{run: prev})
	}
	c.deferred = t
}

// Go runs t on a pool worker, from any goroutine; see Task.
func (s *Server) Go(t Task) { s.pool.submit(task{run: t}) }

// Handler returns the connection's handler, the one Options.Accept
// returned for it.
func (c *Conn) Handler() ConnHandler { return c.handler }
