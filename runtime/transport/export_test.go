package transport

import "time"

// QueuedBytes reports what c's outgoing queue holds (Conn.held): zero
// when nothing waits and no writer goroutine holds a batch.
func QueuedBytes(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}

// HandlerFunc is a ConnHandler for the tests: Message calls the function,
// Open and Closed do nothing.
type HandlerFunc func(c *Conn, typ MessageType, data []byte)

func (HandlerFunc) Open(*Conn)                                      {}
func (f HandlerFunc) Message(c *Conn, typ MessageType, data []byte) { f(c, typ, data) }
func (HandlerFunc) Closed(*Conn, *CloseError)                       {}

// Writing reports whether a writer owns c's write side (Conn.writing).
func Writing(c *Conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writing
}

// SetWorkerIdleTimeout sets how long s's idle workers live; call it before
// s runs anything.
func SetWorkerIdleTimeout(s *Server, d time.Duration) { s.pool.idleTimeout = d }

// Workers reports the worker goroutines s's pool has.
func Workers(s *Server) int {
	s.pool.mu.Lock()
	defer s.pool.mu.Unlock()
	return s.pool.live
}
