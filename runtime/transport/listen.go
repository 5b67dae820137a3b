package transport

import (
	"context"
	"net"
)

// Listen announces on a local network address as net.Listen does, for
// Serve, except that the TCP connections it accepts get no keep-alive
// probes: a WebSocket server finds dead peers with its pings
// (Options.PingInterval; RFC 6455 §5.5.2), sooner than the kernel's
// probes would, and each accepted connection costs four setsockopt calls
// fewer (SO_KEEPALIVE and the probes' idle time, interval and count, which
// net.Listen's connections get since Go 1.13). TCP_NODELAY is set as by
// net.Listen. With pings off (a negative PingInterval) and no other check
// of the peers, use net.Listen, so that the kernel still notices peers
// that vanish.
func Listen(network, address string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), network, address)
}
