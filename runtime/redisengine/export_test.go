package redisengine

// SetReconnectHook makes f run on the delivery goroutine of a node whose
// pub/sub connection broke, before it reconnects.
func SetReconnectHook(f func(*Engine)) { reconnectHook = f }
