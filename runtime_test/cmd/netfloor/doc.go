// Command netfloor measures what a Go server pays per idle connection
// before any WebSocket library is involved: a net.Listener accepts -n
// loopback connections (from raw sockets in the same process, which cost
// the process no Go memory) and keeps the net.Conns, reading nothing. It
// prints the growth of the process's RSS (VmRSS) and of the Go heap in
// use per connection, after a collection and runtime/debug.FreeOSMemory,
// as wsbench's figure c measures servers. What is outside the heap is
// mostly the runtime's poll descriptor (internal/poll, one per socket in
// Go's own poller) and the allocator's bookkeeping.
//
//	cd runtime_test && go run ./cmd/netfloor            # 9000 connections
//
// The process holds both ends, so -n must stay below half its file limit.
package main
