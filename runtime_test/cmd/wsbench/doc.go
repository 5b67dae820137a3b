// Command wsbench measures duplex side by side with gorilla/websocket and
// coder/websocket servers, in one invocation, on loopback, and prints each
// figure with the ratio duplex / reference and the target of the
// performance issue (docs/benchmarks.md):
//
//	a  typed RPC calls/s over -conns connections, -window calls in flight
//	   each, vs gorilla raw echo of the same bytes
//	b  p99 latency of those calls
//	c  server memory per idle connection (RSS growth / connections) at
//	   -idle open, handshaken connections
//	d  handshakes/s: new connection, upgrade, first message answered
//	e  broadcast of one event to -bcast connections: time until the last
//	   one has it, p99 over -rounds rounds, vs a gorilla chat-example hub
//	f  server allocations per RPC call (testing.Benchmark, in process)
//
// Every server runs in a process of its own (this binary, re-executed in
// server mode), so that its RSS is its own; the load runs in one or more
// client processes (re-executed in client mode), each under its file
// limit. Run from the runtime_test module:
//
//	cd runtime_test && go run ./cmd/wsbench
//	cd runtime_test && go run ./cmd/wsbench -smoke          # seconds
//	cd runtime_test && go run ./cmd/wsbench -only c,e -idle 100000 -bcast 100000
//
// It needs Linux (/proc, epoll, PR_SET_PDEATHSIG, IP_BIND_ADDRESS_NO_PORT).
package main
