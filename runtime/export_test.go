package runtime

// TokenKey exposes the store key of a resume token to the external tests.
var TokenKey = tokenKey

// QueuedBytes reports what c's outgoing queue holds (Conn.held): zero
// when nothing waits and no writer goroutine holds a batch.
func QueuedBytes(c *Conn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held
}
