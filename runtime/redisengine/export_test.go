package redisengine

// SetReconnectHook makes f run on the delivery goroutine of a node whose
// pub/sub connection broke, before it reconnects.
func SetReconnectHook(f func(*Engine)) { reconnectHook = f }

// SetMaxQueued bounds the delivery queue to n messages and returns the
// previous bound.
func SetMaxQueued(n int) int {
	old := maxQueued
	maxQueued = n
	return old
}

// Queued returns how many messages wait in e's delivery queue.
func Queued(e *Engine) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.queue)
}
