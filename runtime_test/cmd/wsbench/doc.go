// Command wsbench measures duplex side by side with gorilla/websocket,
// coder/websocket and lesismal/nbio servers and with the centrifuge
// library's RPC and Socket.IO 4 acknowledgements, each of those with its
// own client (peers.go), in one invocation, on loopback, and prints each
// figure with the ratio duplex / reference and the target of the
// performance issues (docs/benchmarks.md). The headline is the server's
// CPU per unit of work, from its own /proc/PID/stat:
//
//	a-cpu  server CPU per call (per echoed message), and the busier side
//	a  typed RPC calls/s over -conns connections, -window calls in flight
//	   each, vs gorilla raw echo of the same bytes
//	b  p99 latency of those calls
//	c  server memory per idle connection (RSS growth / connections) at
//	   -idle open, handshaken connections
//	d  handshakes/s: new connection, upgrade, first message answered;
//	   d-cpu: server CPU per handshake
//	e  broadcast of one event to -bcast connections: time until the last
//	   one has it, p99 over -rounds rounds, vs a gorilla chat-example hub;
//	   e-cpu: server CPU per round
//	f  server allocations per RPC call (testing.Benchmark, in process)
//	k  -active connections each calling every -active-every (active.go):
//	   server CPU per call, k-lat: p99, k-rss: the server's RSS
//
// and, for the many-nodes deployment (docs/scaling.md), duplex-rpc servers
// as nodes on a redis-server the harness starts (cluster.go):
//
//	g  broadcast to -cluster-conns connections on 1 node (memory engine,
//	   Redis engine) vs spread over 2 nodes on Redis, and centrifugal/
//	   centrifuge on its Redis broker on 1 and 2 nodes: p99 to the last
//	   receipt, and the nodes' CPU per delivered event (g-cpu)
//	h  events/s published through one Redis from 2 nodes, and delivered
//	   events/s per node (h-deliver)
//	i  resume latency with -missed events, on the same node or another
//	j  memory: per session record and per history entry in Redis, per
//	   idle connection on a node with either engine
//
// Every server runs in a process of its own (this binary, re-executed in
// server mode), so that its RSS is its own; the load runs in one or more
// client processes (re-executed in client mode), each under its file
// limit. Run from the runtime_test module:
//
//	cd runtime_test && go run ./cmd/wsbench
//	cd runtime_test && go run ./cmd/wsbench -smoke          # seconds
//	cd runtime_test && go run ./cmd/wsbench -only c,e -idle 100000 -bcast 100000
//	cd runtime_test && go run ./cmd/wsbench -only g,h,i,j -reps 3   # the cluster
//	cd runtime_test && go run ./cmd/wschart -in FILE.json -out DIR  # SVG charts of -json output
//
// It needs Linux (/proc, epoll, PR_SET_PDEATHSIG, IP_BIND_ADDRESS_NO_PORT),
// and for the Socket.IO peer Node with runtime_test/bench/socketio's npm
// packages installed (npm ci).
package main
