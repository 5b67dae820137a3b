//go:build linux

package main

// The cluster figures (docs/scaling.md): duplex-rpc servers as nodes on
// one Redis (runtime/redisengine), each node a process of its own, the
// redis-server one too, so that every one's CPU is read apart:
//
//	g  broadcast of one event to -cluster-conns connections: on 1 node
//	   with the memory engine, on 1 node with the Redis engine, spread
//	   over 2 nodes on Redis, and the same with centrifuge nodes on its
//	   Redis broker (centrifuge.go); p99 of the time to the last receipt,
//	   and (figure g-cpu) the nodes' CPU per delivered event
//	h  events/s published through one Redis from 2 nodes, unbounded
//	   (-pub-conc goroutines per node), every one delivered once to one
//	   connection per node; h-deliver: delivered events/s per node, with
//	   -sinks connections on each node and -pub-rate events/s published
//	i  resume latency: a session with -missed events published after its
//	   connection dropped, resumed on its own node or on another one;
//	   from the hello to the last replayed event
//	j  sizing: Redis memory per session record and per history entry, a
//	   node's RSS per idle connection with the Redis and memory engines

import (
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Cluster cases: the value names of the cluster figures.
const (
	caseMemory1 = "1 node, memory engine"
	caseRedis1  = "1 node, Redis"
	caseRedis2  = "2 nodes, Redis"

	caseCentrifuge1 = "centrifuge: 1 node, Redis"
	caseCentrifuge2 = "centrifuge: 2 nodes, Redis"

	caseResumeMemory = "same node, memory engine"
	caseResumeSame   = "same node, Redis"
	caseResumeOther  = "other node, Redis"
)

// cluster is the processes of one measurement: a Redis (or none: the
// memory engine) and its nodes.
type cluster struct {
	redis *redisServer
	nodes []*child
	ready []serverReady
}

// startCluster starts a redis-server when redis is set, then n duplex-rpc
// nodes on it (without, one node on the memory engine), with args.
func (h *harness) startCluster(n int, redis bool, args ...string) (*cluster, error) {
	return h.startClusterOf(kindDuplexRPC, n, redis, args...)
}

// startClusterOf is startCluster with nodes of kind.
func (h *harness) startClusterOf(kind string, n int, redis bool, args ...string) (*cluster, error) {
	cl := &cluster{}
	if redis {
		r, err := startRedis()
		if err != nil {
			return nil, err
		}
		cl.redis = r
		args = append(args, "-redis", r.url())
	}
	for i := range n {
		c, ready, err := h.startServer(kind, args...)
		if err != nil {
			cl.stop()
			return nil, err
		}
		c.name = fmt.Sprintf("node %d", i+1)
		cl.nodes = append(cl.nodes, c)
		cl.ready = append(cl.ready, ready)
	}
	return cl, nil
}

func (cl *cluster) stop() {
	stopAll(cl.nodes)
	if cl.redis != nil {
		cl.redis.stop()
	}
}

// cpu returns the CPU seconds of the nodes together and of Redis (0
// without).
func (cl *cluster) cpu() (nodes, redis float64, err error) {
	for _, r := range cl.ready {
		s, err := cpuSeconds(r.PID)
		if err != nil {
			return 0, 0, err
		}
		nodes += s
	}
	if cl.redis != nil {
		if redis, err = cpuSeconds(cl.redis.pid()); err != nil {
			return 0, 0, err
		}
	}
	return nodes, redis, nil
}

// errorsOf fails if a node reported errors (a publish that failed).
func (cl *cluster) errorsOf() error {
	for _, n := range cl.nodes {
		st, err := serverStatsOf(n, "stats")
		if err != nil {
			return err
		}
		if st.Errors > 0 {
			return fmt.Errorf("%s: %d errors reported (the first is on its stderr, -v)%s", n.name, st.Errors, n.stderr.suffix())
		}
	}
	return nil
}

// connectSpread opens total connections of task spread evenly over the
// nodes, with client processes per node, and waits until every node
// counts its share.
func (h *harness) connectSpread(cl *cluster, task string, total int, args ...string) ([]*child, [][]*child, error) {
	return h.connectSpreadProto(cl, task, "rpc", total, args...)
}

// connectSpreadProto is connectSpread with clients speaking proto.
func (h *harness) connectSpreadProto(cl *cluster, task, proto string, total int, args ...string) ([]*child, [][]*child, error) {
	var all []*child
	var perNode [][]*child
	for i, r := range cl.ready {
		share := total / len(cl.nodes)
		if i < total%len(cl.nodes) {
			share++
		}
		cs, err := h.startClients(cl.nodes[i].name, task, proto, share, append([]string{"-addr", r.Addr}, args...))
		if err != nil {
			stopAll(all)
			return nil, nil, err
		}
		all = append(all, cs...)
		perNode = append(perNode, cs)
		if _, err := recvAll[clientReady](cs, h.readyTimeout(share)); err != nil {
			stopAll(all)
			return nil, nil, err
		}
		if err := h.waitConns(cl.nodes[i], share, 30*time.Second); err != nil {
			stopAll(all)
			return nil, nil, err
		}
	}
	return all, perNode, nil
}

// figureClusterBroadcast is g and g-cpu.
func (h *harness) figureClusterBroadcast() ([]*figure, error) {
	cfg := h.cfg
	g := &figure{
		ID: "g", Unit: unitNanos, Duplex: caseRedis2, Reference: caseMemory1,
		Title: fmt.Sprintf("cluster broadcast of one event to %d connections: send until the last receipt, p99 over %d rounds", cfg.clusterConns, cfg.rounds),
		Notes: []string{"2 nodes: half the connections on each, rounds published from either node in turn; " +
			"ratio: 2 nodes on Redis / 1 node on the memory engine (the issue's cross-node vs single-node)",
			"centrifuge: github.com/centrifugal/centrifuge nodes on its Redis broker, publishing with history"},
	}
	gcpu := &figure{
		ID: "g-cpu", Unit: unitNanos, Duplex: caseRedis2, Reference: caseMemory1,
		Title: "cluster broadcast: the nodes' CPU per delivered event (all nodes together; Redis's in the details)",
	}
	cases := []server{{caseMemory1, "rpc"}, {caseRedis1, "rpc"}, {caseRedis2, "rpc"},
		{caseCentrifuge1, "centrifuge"}, {caseCentrifuge2, "centrifuge"}}
	vals, err := h.measure(cases, 2, func(s server) ([]value, error) {
		h.logf("g: %s: %d connections, %d rounds", s.kind, cfg.clusterConns, cfg.rounds)
		nodes := 1
		if s.kind == caseRedis2 || s.kind == caseCentrifuge2 {
			nodes = 2
		}
		kind := kindDuplexRPC
		if s.proto == "centrifuge" {
			kind = kindCentrifuge
		}
		return h.runClusterBroadcast(s.kind, kind, s.proto, nodes, s.kind != caseMemory1)
	})
	if err != nil {
		return nil, err
	}
	g.Values, gcpu.Values = vals[0], vals[1]
	g.ratio()
	g.target(targetRatio, "<=", 1.5)
	gcpu.ratio()
	return []*figure{g, gcpu}, nil
}

func (h *harness) runClusterBroadcast(name, kind, proto string, nodes int, redis bool) ([]value, error) {
	cfg := h.cfg
	cl, err := h.startClusterOf(kind, nodes, redis)
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	total := cfg.rounds + 1 // round 0 warms up
	clients, _, err := h.connectSpreadProto(cl, "bcast", proto, cfg.clusterConns, "-rounds", strconv.Itoa(total))
	if err != nil {
		return nil, err
	}
	defer stopAll(clients)
	for i, n := range cl.nodes {
		if err := h.profile(n, "cpuprofile", "g", fmt.Sprintf("%s-%dnodes-%t-node%d", kind, nodes, redis, i+1)); err != nil {
			return nil, err
		}
	}
	nodeCPU0, redisCPU0, err := cl.cpu()
	if err != nil {
		return nil, err
	}
	var lats []time.Duration
	for r := range total {
		from := cl.nodes[r%len(cl.nodes)]
		if err := from.send(command{Op: "broadcast", Round: int32(r)}); err != nil {
			return nil, err
		}
		var st serverStats
		if err := from.recv(&st, 30*time.Second); err != nil {
			return nil, err
		}
		reports, err := recvAll[roundReport](clients, 30*time.Second)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", r, err)
		}
		var lat int64
		for _, rp := range reports {
			if rp.Round != int32(r) {
				return nil, fmt.Errorf("round %d: a client reported round %d", r, rp.Round)
			}
			lat = max(lat, rp.Lat)
		}
		if r > 0 {
			lats = append(lats, time.Duration(lat))
		}
		time.Sleep(20 * time.Millisecond) // each round starts from quiet
	}
	nodeCPU1, redisCPU1, err := cl.cpu()
	if err != nil {
		return nil, err
	}
	for i, n := range cl.nodes {
		if err := h.profile(n, "cpuprofile-stop", "g", fmt.Sprintf("%s-%dnodes-%t-node%d", kind, nodes, redis, i+1)); err != nil {
			return nil, err
		}
	}
	if err := cl.errorsOf(); err != nil {
		return nil, err
	}
	delivered := float64(total * cfg.clusterConns)
	p99 := value{Server: name, Value: float64(quantileOf(lats, 0.99)), Detail: map[string]float64{
		"p50": float64(quantileOf(lats, 0.5)),
		"min": float64(quantileOf(lats, 0)),
	}}
	cpu := value{Server: name, Value: (nodeCPU1 - nodeCPU0) / delivered * 1e9, Detail: map[string]float64{
		"redis_cpu_per_event": (redisCPU1 - redisCPU0) / delivered * 1e9,
	}}
	return []value{p99, cpu}, nil
}

// figurePublish is h and h-deliver: 2 nodes on one Redis.
func (h *harness) figurePublish() ([]*figure, error) {
	cfg := h.cfg
	pub := &figure{
		ID: "h", Unit: unitRate, Duplex: caseRedis2,
		Title: fmt.Sprintf("events/s published through one Redis from 2 nodes, %d goroutines per node, each event delivered to one connection per node", cfg.pubConc),
	}
	del := &figure{
		ID: "h-deliver", Unit: unitRate, Duplex: caseRedis2,
		Title: fmt.Sprintf("delivered events/s per node: 2 nodes, %d connections each, %d events/s published from both", cfg.sinks, cfg.pubRate),
		Notes: []string{"delivered: received by the clients, from the first publish to the last receipt; the lower node's"},
	}
	vals, err := h.measure([]server{{caseRedis2, "rpc"}}, 2, func(s server) ([]value, error) {
		h.logf("h: %s: publish for %v from %d goroutines per node", s.kind, cfg.duration, cfg.pubConc)
		p, err := h.runPublish(1, 0, cfg.pubConc)
		if err != nil {
			return nil, err
		}
		h.logf("h-deliver: %s: %d connections per node, %d events/s for %v", s.kind, cfg.sinks, cfg.pubRate, cfg.duration)
		d, err := h.runPublish(cfg.sinks, cfg.pubRate, cfg.pubConc)
		if err != nil {
			return nil, err
		}
		p.Value = p.Detail["published_per_second"]
		d.Value = min(d.Detail["node1_delivered_per_second"], d.Detail["node2_delivered_per_second"])
		return []value{p, d}, nil
	})
	if err != nil {
		return nil, err
	}
	pub.Values, del.Values = vals[0], vals[1]
	del.target(targetAbsolute, ">=", 100000)
	return []*figure{pub, del}, nil
}

// runPublish publishes from both nodes of a 2-node cluster for -duration
// (at rate events/s in all, or unbounded) and waits until each of the
// sinks connections per node has every event.
func (h *harness) runPublish(sinks, rate, conc int) (value, error) {
	cfg := h.cfg
	v := value{Server: caseRedis2}
	cl, err := h.startCluster(2, true)
	if err != nil {
		return v, err
	}
	defer cl.stop()
	clients, perNode, err := h.connectSpread(cl, "sink", 2*sinks)
	if err != nil {
		return v, err
	}
	defer stopAll(clients)
	nodeCPU0, redisCPU0, err := cl.cpu()
	if err != nil {
		return v, err
	}
	for i, n := range cl.nodes {
		if err := h.profile(n, "cpuprofile", "h", fmt.Sprintf("sinks%d-node%d", sinks, i+1)); err != nil {
			return v, err
		}
	}
	start := time.Now()
	cmd := command{Op: "publish", Millis: cfg.duration.Milliseconds(), Conc: conc, Rate: rate / 2}
	if err := sendAll(cl.nodes, cmd); err != nil {
		return v, err
	}
	sts, err := recvAll[serverStats](cl.nodes, cfg.duration+30*time.Second)
	if err != nil {
		return v, err
	}
	var published int64
	for _, st := range sts {
		published += st.Published
	}
	// Every connection gets every event: wait for the last, as long as
	// deliveries go on (a backlog drains at the rate measured).
	want := published * int64(sinks)
	var (
		got      []sinkReport
		seen     int64
		progress = time.Now()
	)
	for {
		if err := sendAll(clients, command{Op: "stats"}); err != nil {
			return v, err
		}
		if got, err = recvAll[sinkReport](clients, 10*time.Second); err != nil {
			return v, err
		}
		var n int64
		for _, r := range got {
			n += r.Received
		}
		if n == 2*want {
			break
		}
		if n > 2*want {
			return v, fmt.Errorf("%d events published to %d connections, %d received: some twice", published, 2*sinks, n)
		}
		if n > seen {
			seen, progress = n, time.Now()
		}
		if time.Since(progress) > 5*time.Second {
			return v, fmt.Errorf("%d events published to %d connections, %d received, none for 5s", published, 2*sinks, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	nodeCPU1, redisCPU1, err := cl.cpu()
	if err != nil {
		return v, err
	}
	for i, n := range cl.nodes {
		if err := h.profile(n, "cpuprofile-stop", "h", fmt.Sprintf("sinks%d-node%d", sinks, i+1)); err != nil {
			return v, err
		}
	}
	if err := cl.errorsOf(); err != nil {
		return v, err
	}
	v.Detail = map[string]float64{
		"published":             float64(published),
		"published_per_second":  float64(published) / cfg.duration.Seconds(),
		"node_cpu_per_publish":  (nodeCPU1 - nodeCPU0) / float64(published) * 1e9,
		"redis_cpu_per_publish": (redisCPU1 - redisCPU0) / float64(published) * 1e9,
	}
	k := 0
	for i, cs := range perNode {
		var last int64
		for range cs {
			last = max(last, got[k].Last)
			k++
		}
		secs := time.Duration(last - start.UnixNano()).Seconds()
		v.Detail[fmt.Sprintf("node%d_delivered_per_second", i+1)] = float64(want) / secs
	}
	return v, nil
}

// figureResume is i: from the hello of a resume to its last replayed
// event, -missed events published after the connection dropped.
func (h *harness) figureResume() ([]*figure, error) {
	cfg := h.cfg
	i := &figure{
		ID: "i", Unit: unitNanos, Duplex: caseResumeOther, Reference: caseResumeSame,
		Title: fmt.Sprintf("resume with %d missed events: hello to the last replayed event, p99 over %d resumes", cfg.missed, cfg.resumes),
		Notes: []string{"a new session each time: hello, welcome, one event, drop; the missed events published from the session's node; " +
			"then the resume on that node or on the other"},
	}
	cases := []server{{caseResumeMemory, "rpc"}, {caseResumeSame, "rpc"}, {caseResumeOther, "rpc"}}
	vals, err := h.measure(cases, 1, func(s server) ([]value, error) {
		h.logf("i: %s: %d resumes of %d missed events", s.kind, cfg.resumes, cfg.missed)
		v, err := h.runResume(s.kind)
		return []value{v}, err
	})
	if err != nil {
		return nil, err
	}
	i.Values = vals[0]
	i.ratio()
	return []*figure{i}, nil
}

func (h *harness) runResume(name string) (value, error) {
	cfg := h.cfg
	v := value{Server: name}
	nodes := 1
	if name == caseResumeOther {
		nodes = 2
	}
	cl, err := h.startCluster(nodes, name != caseResumeMemory)
	if err != nil {
		return v, err
	}
	defer cl.stop()
	home, there := cl.nodes[0], cl.nodes[len(cl.nodes)-1]
	homeAddr, thereAddr := cl.ready[0].Addr, cl.ready[len(cl.ready)-1].Addr
	var lats, welcomes []time.Duration
	for r := range cfg.resumes + 1 { // resume 0 warms up
		token, err := h.newSession(home, homeAddr)
		if err != nil {
			return v, err
		}
		if err := h.waitConns(home, 0, 10*time.Second); err != nil {
			return v, err
		}
		if err := publishCount(home, cfg.missed); err != nil {
			return v, err
		}
		welcome, last, err := h.resume(thereAddr, token, 1, cfg.missed)
		if err != nil {
			return v, fmt.Errorf("resume %d on %s: %w", r, there.name, err)
		}
		if r > 0 {
			lats = append(lats, last)
			welcomes = append(welcomes, welcome)
		}
	}
	if err := cl.errorsOf(); err != nil {
		return v, err
	}
	v.Value = float64(quantileOf(lats, 0.99))
	v.Detail = map[string]float64{
		"p50":         float64(quantileOf(lats, 0.5)),
		"welcome_p50": float64(quantileOf(welcomes, 0.5)),
		"welcome_p99": float64(quantileOf(welcomes, 0.99)),
	}
	return v, nil
}

// welcomeMsg is the part of a welcome the resume figure reads.
type welcomeMsg struct {
	Welcome struct {
		Resume  string `json:"resume"`
		Resumed bool   `json:"resumed"`
		Reason  string `json:"reason"`
	} `json:"welcome"`
}

// publishCount has node broadcast n tick events, one at a time.
func publishCount(node *child, n int) error {
	if err := node.send(command{Op: "publish", Conc: 1, Count: n, Millis: time.Minute.Milliseconds()}); err != nil {
		return err
	}
	var st serverStats
	if err := node.recv(&st, time.Minute); err != nil {
		return err
	}
	if st.Published != int64(n) {
		return fmt.Errorf("%s: %d events published, want %d", node.name, st.Published, n)
	}
	return nil
}

// newSession says hello on a new connection to node (at addr), receives
// one event broadcast from the node (seq 1), closes the connection and
// returns the resume token.
//
// The event is there because a session's record gets its first position
// only once its opening Sync point has come back through the engine, after
// the welcome: a session closed before that (here within milliseconds)
// leaves a record without a position, and its resume on another node
// answers "overrun" (docs/benchmarks.md, "The cluster figures"). A client
// that received an event is past that point.
func (h *harness) newSession(node *child, addr string) (string, error) {
	var d net.Dialer
	c, err := dialWS(h.ctx, &d, addr, subprotocol, h.cfg.ioTimeout, 4096)
	if err != nil {
		return "", err
	}
	defer c.close()
	_ = c.nc.SetDeadline(time.Now().Add(h.cfg.ioTimeout))
	if err := c.writeFrames(opText, helloFrame); err != nil {
		return "", err
	}
	_, p, err := c.readMessage()
	if err != nil {
		return "", fmt.Errorf("read welcome: %w", err)
	}
	var w welcomeMsg
	if err := json.Unmarshal(p, &w); err != nil || w.Welcome.Resume == "" {
		return "", fmt.Errorf("hello answered with %.200q, not a welcome", p)
	}
	if err := publishCount(node, 1); err != nil {
		return "", err
	}
	if _, p, err = c.readMessage(); err != nil {
		return "", fmt.Errorf("read the first event: %w", err)
	}
	if seq, ok := jsonInt(p, `"seq":`); !ok || seq != 1 {
		return "", fmt.Errorf("first event %.200q, want seq 1", p)
	}
	return w.Welcome.Resume, nil
}

// resume resumes the session of token on addr with seq h and reads until
// event h+missed; it returns the times from the hello to the welcome and
// to that event, having checked that the events are h+1..h+missed in
// order.
func (h *harness) resume(addr, token string, seq, missed int) (welcome, last time.Duration, err error) {
	var d net.Dialer
	c, err := dialWS(h.ctx, &d, addr, subprotocol, h.cfg.ioTimeout, 64<<10)
	if err != nil {
		return 0, 0, err
	}
	defer c.close()
	hello, _ := json.Marshal(map[string]any{"hello": map[string]any{"resume": token, "seq": seq}})
	_ = c.nc.SetDeadline(time.Now().Add(h.cfg.ioTimeout))
	t0 := time.Now()
	if err := c.writeFrames(opText, hello); err != nil {
		return 0, 0, err
	}
	_, p, err := c.readMessage()
	if err != nil {
		return 0, 0, fmt.Errorf("read welcome: %w", err)
	}
	welcome = time.Since(t0)
	var w welcomeMsg
	if err := json.Unmarshal(p, &w); err != nil || !w.Welcome.Resumed {
		return 0, 0, fmt.Errorf("resume answered with %.200q, not resumed", p)
	}
	for want := int64(seq + 1); want <= int64(seq+missed); want++ {
		_, p, err := c.readMessage()
		if err != nil {
			return 0, 0, fmt.Errorf("read event %d of %d: %w", want, seq+missed, err)
		}
		if got, ok := jsonInt(p, `"seq":`); !ok || got != want {
			return 0, 0, fmt.Errorf("event %d of the replay is %.200q", want, p)
		}
	}
	return welcome, time.Since(t0), nil
}

// figureSizing is j: memory, measured once.
func (h *harness) figureSizing() ([]*figure, error) {
	cfg := h.cfg
	rec := &figure{
		ID: "j-session", Unit: unitBytes, Duplex: "used_memory",
		Title: fmt.Sprintf("Redis memory per session record: INFO used_memory growth / %d sessions (hello, welcome), and MEMORY USAGE of one record key", cfg.sessions),
	}
	hist := &figure{
		ID: "j-history", Unit: unitBytes, Duplex: "used_memory",
		Title: fmt.Sprintf("Redis memory per history entry: INFO used_memory growth / %d events of %d bytes on one topic, and MEMORY USAGE of its stream / %d", cfg.history, cfg.historySize, cfg.history),
	}
	idle := &figure{
		ID: "j-idle", Unit: unitBytes, Duplex: caseRedis1, Reference: caseMemory1,
		Title: fmt.Sprintf("node memory per idle connection (hello, welcome): RSS growth / %d connections after GC", cfg.sessions),
	}
	for _, redis := range []bool{false, true} {
		name := caseMemory1
		if redis {
			name = caseRedis1
		}
		h.logf("j: %s: %d sessions", name, cfg.sessions)
		sess, rss, err := h.runSessions(redis)
		if err != nil {
			return nil, err
		}
		rss.Server = name
		idle.Values = append(idle.Values, rss)
		if redis {
			rec.Values = append(rec.Values, sess...)
		}
	}
	idle.ratio()
	h.logf("j: %d events of history", cfg.history)
	vs, err := h.runHistory()
	if err != nil {
		return nil, err
	}
	hist.Values = vs
	return []*figure{rec, hist, idle}, nil
}

// runSessions opens -sessions idle connections on one node and measures
// the node's RSS growth and, with redis, Redis's.
func (h *harness) runSessions(redis bool) ([]value, value, error) {
	cfg := h.cfg
	var rss value
	cl, err := h.startCluster(1, redis)
	if err != nil {
		return nil, rss, err
	}
	defer cl.stop()
	node := cl.nodes[0]
	var mem0 float64
	if redis {
		if mem0, err = cl.redis.usedMemory(); err != nil {
			return nil, rss, err
		}
	}
	st0, err := serverStatsOf(node, "gc")
	if err != nil {
		return nil, rss, err
	}
	clients, _, err := h.connectSpread(cl, "idle", cfg.sessions)
	if err != nil {
		return nil, rss, err
	}
	defer stopAll(clients)
	time.Sleep(cfg.settle)
	st1, err := serverStatsOf(node, "gc")
	if err != nil {
		return nil, rss, err
	}
	n := float64(cfg.sessions)
	rss = value{Value: (float64(st1.RSS) - float64(st0.RSS)) / n, Detail: map[string]float64{
		"heap_inuse": (float64(st1.HeapInuse) - float64(st0.HeapInuse)) / n,
	}}
	if !redis {
		return nil, rss, nil
	}
	mem1, err := cl.redis.usedMemory()
	if err != nil {
		return nil, rss, err
	}
	keys, err := cl.redis.cli("--scan", "--pattern", "{duplex}:s:*")
	if err != nil {
		return nil, rss, err
	}
	recs := strings.Fields(keys)
	if len(recs) != cfg.sessions {
		return nil, rss, fmt.Errorf("%d session records in Redis, want %d", len(recs), cfg.sessions)
	}
	usage, err := cl.redis.memoryUsage(recs[0])
	if err != nil {
		return nil, rss, err
	}
	strlen, err := cl.redis.cli("STRLEN", recs[0])
	if err != nil {
		return nil, rss, err
	}
	rl, _ := strconv.ParseFloat(strlen, 64)
	return []value{
		{Server: "used_memory", Value: (mem1 - mem0) / n},
		{Server: "MEMORY USAGE", Value: usage, Detail: map[string]float64{"record_json_bytes": rl}},
	}, rss, nil
}

// runHistory publishes -history events on one topic from one node whose
// engine keeps them all, and measures Redis's growth.
func (h *harness) runHistory() ([]value, error) {
	cfg := h.cfg
	cl, err := h.startCluster(1, true, "-history-len", strconv.Itoa(cfg.history))
	if err != nil {
		return nil, err
	}
	defer cl.stop()
	node := cl.nodes[0]
	mem0, err := cl.redis.usedMemory()
	if err != nil {
		return nil, err
	}
	if err := node.send(command{Op: "publish", Conc: 16, Count: cfg.history, Size: cfg.historySize, Millis: (10 * time.Minute).Milliseconds()}); err != nil {
		return nil, err
	}
	var st serverStats
	if err := node.recv(&st, 10*time.Minute); err != nil {
		return nil, err
	}
	if st.Published != int64(cfg.history) {
		return nil, fmt.Errorf("%d events published, want %d", st.Published, cfg.history)
	}
	if err := cl.errorsOf(); err != nil {
		return nil, err
	}
	mem1, err := cl.redis.usedMemory()
	if err != nil {
		return nil, err
	}
	const stream = "{duplex}:t:duplex.all"
	xlen, err := cl.redis.cli("XLEN", stream)
	if err != nil {
		return nil, err
	}
	if xlen != strconv.Itoa(cfg.history) {
		return nil, fmt.Errorf("XLEN %s = %s, want %d", stream, xlen, cfg.history)
	}
	usage, err := cl.redis.memoryUsage(stream)
	if err != nil {
		return nil, err
	}
	// The payload of one entry, as stored: the frame without its seq.
	entry, err := cl.redis.cli("XREVRANGE", stream, "+", "-", "COUNT", "1")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(entry, "\n")
	payload := 0
	for i, l := range lines {
		if strings.TrimSpace(l) == "p" && i+1 < len(lines) {
			payload = len(strings.TrimSpace(lines[i+1]))
		}
	}
	if payload != cfg.historySize {
		return nil, fmt.Errorf("an entry's payload is %d bytes, want %d", payload, cfg.historySize)
	}
	n := float64(cfg.history)
	return []value{
		{Server: "used_memory", Value: (mem1 - mem0) / n, Detail: map[string]float64{"payload_bytes": float64(payload)}},
		{Server: "MEMORY USAGE", Value: usage / n},
	}, nil
}

// memoryUsage is MEMORY USAGE key SAMPLES 0 (every element counted).
func (r *redisServer) memoryUsage(key string) (float64, error) {
	out, err := r.cli("MEMORY", "USAGE", key, "SAMPLES", "0")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(out, 64)
	if err != nil {
		return 0, fmt.Errorf("MEMORY USAGE %s: %q", key, out)
	}
	return v, nil
}
