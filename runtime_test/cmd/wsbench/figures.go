//go:build linux

package main

// The figures a to e, each against servers in processes of their own, one
// server at a time.

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strconv"
	"time"
)

// Units of figure values (the base unit of Value).
const (
	unitRate   = "/s"
	unitNanos  = "ns"
	unitBytes  = "B"
	unitAllocs = "allocs/op"
)

// server is a server kind and the protocol its clients speak: "rpc"
// (duplex's subprotocol, hello, calls) or "raw" (the same bytes, echoed).
type server struct{ kind, proto string }

// measure runs fn for every server, -reps times, the order rotated by one
// each repetition (so that no server always runs first on a machine whose
// load drifts), and returns for each output of fn the values in servers'
// order, each the median of its repetitions.
func (h *harness) measure(servers []server, outputs int, fn func(s server) ([]value, error)) ([][]value, error) {
	got := make([][][]value, outputs) // output, server, repetition
	for o := range got {
		got[o] = make([][]value, len(servers))
	}
	for r := range h.cfg.reps {
		for k := range servers {
			i := (k + r) % len(servers)
			vs, err := fn(servers[i])
			if err != nil {
				return nil, err
			}
			if len(vs) != outputs {
				return nil, fmt.Errorf("%s: %d values, want %d", servers[i].kind, len(vs), outputs)
			}
			for o, v := range vs {
				got[o][i] = append(got[o][i], v)
			}
		}
	}
	out := make([][]value, outputs)
	for o := range got {
		for i := range servers {
			out[o] = append(out[o], medianValue(got[o][i]))
		}
	}
	return out, nil
}

// medianValue is the repetition with the median value (the lower middle
// one of an even count), with the spread of the repetitions, (max -
// min) / median, among its details.
func medianValue(vs []value) value {
	s := append([]value(nil), vs...)
	sort.Slice(s, func(i, j int) bool { return s[i].Value < s[j].Value })
	m := s[(len(s)-1)/2]
	if len(s) > 1 {
		d := map[string]float64{"reps": float64(len(s))}
		for k, x := range m.Detail {
			d[k] = x
		}
		if m.Value != 0 {
			d["spread"] = (s[len(s)-1].Value - s[0].Value) / m.Value
		}
		m.Detail = d
	}
	return m
}

// loadServers are the servers of figures a and b, in run order; the
// first is duplex's figure, the second the reference. The peers
// (peers.go) each come with their own client.
var loadServers = []server{
	{kindDuplexRPC, "rpc"},
	{kindGorillaEcho, "raw"},
	{kindDuplexEcho, "raw"},
	{kindCoderEcho, "raw"},
	{kindNbioEcho, "raw"},
	{kindCentrifugeRPC, "centrifuge-rpc"},
	{kindSocketIO, "socketio"},
}

// echoServers are the servers of figures c and d: those the lean client
// speaks to (duplex's protocol or raw echo).
var echoServers = []server{
	{kindDuplexRPC, "rpc"},
	{kindGorillaEcho, "raw"},
	{kindDuplexEcho, "raw"},
	{kindCoderEcho, "raw"},
	{kindNbioEcho, "raw"},
}

// figureRPC is a-cpu, a and b: the server's CPU per call, typed RPC
// calls/s and their p99, against raw echo of the same frames and the RPC
// frameworks' calls.
func (h *harness) figureRPC() ([]*figure, error) {
	cfg := h.cfg
	acpu := &figure{
		ID: "a-cpu", Unit: unitNanos, Duplex: kindDuplexRPC, Reference: kindGorillaEcho,
		Title: fmt.Sprintf("server CPU per call (or echoed message): %d connections × %d in flight, %d B of text, "+
			"the server process's user+system time (/proc/PID/stat) over %v / calls answered", cfg.conns, cfg.window, cfg.payload, cfg.duration),
		Notes: []string{"bottleneck: the side (server or client processes) busier relative to what it can use: " +
			"a Go process all the CPUs, a Node process one core",
			"centrifuge-rpc: centrifuge-go clients (JSON protocol); socketio: Node server and socket.io-client (websocket transport); " +
				"the others: wsbench's lean client"},
	}
	a := &figure{
		ID: "a", Unit: unitRate, Duplex: kindDuplexRPC, Reference: kindGorillaEcho,
		Title: fmt.Sprintf("typed RPC calls/s: %d connections × %d call(s) in flight, %d B of text, %v measured",
			cfg.conns, cfg.window, cfg.payload, cfg.duration),
	}
	b := &figure{
		ID: "b", Unit: unitNanos, Duplex: kindDuplexRPC, Reference: kindGorillaEcho,
		Title: "p99 latency of those calls: send to reply, client side, log-linear histogram (±1.6 %)",
	}
	frameLen := len(newCallFrame(payloadText(cfg.payload)).buf)
	vals, err := h.measure(loadServers, 3, func(s server) ([]value, error) {
		h.logf("a, b: %s: %d connections, %v", s.kind, cfg.conns, cfg.warmup+cfg.duration)
		lr, err := h.runLoad("a", s.kind, s.proto, cfg.conns, cfg.warmup, cfg.duration, []string{"-window", strconv.Itoa(cfg.window)})
		if err != nil {
			return nil, err
		}
		hs := lr.res.Hist.hist()
		rate := float64(lr.res.Ops) / lr.res.Seconds
		return []value{
			lr.cpuValue(s.kind),
			{Server: s.kind, Value: rate, Bottleneck: lr.bottleneck, Detail: map[string]float64{
				"server_cpu":    lr.serverCPU,
				"client_cpu":    lr.clientCPU,
				"calls":         float64(lr.res.Ops),
				"frame_bytes":   float64(frameLen),
				"calls_per_cpu": rate / max(lr.serverCPU, 1e-9),
			}},
			{Server: s.kind, Value: float64(hs.quantile(0.99)), Detail: map[string]float64{
				"p50":  float64(hs.quantile(0.50)),
				"p90":  float64(hs.quantile(0.90)),
				"p999": float64(hs.quantile(0.999)),
				"max":  float64(hs.max),
				"mean": float64(hs.mean()),
			}},
		}, nil
	})
	if err != nil {
		return nil, err
	}
	acpu.Values, a.Values, b.Values = vals[0], vals[1], vals[2]
	acpu.ratio()
	a.ratio()
	b.ratio()
	acpu.target(targetRatio, "<=", 0.8)
	acpu.ratioTargetOn(kindDuplexEcho, "<=", 0.7)
	a.target(targetRatio, ">=", 1.0)
	b.target(targetRatio, "<=", 1.0)
	return []*figure{acpu, a, b}, nil
}

// loadRun is one load's merged client result and what its processes
// used.
type loadRun struct {
	res        loadResult
	serverCPU  float64 // cores, over the measured part
	clientCPU  float64 // cores, all client processes together
	serverRSS  uint64  // at the end of the measured part, no GC forced
	bottleneck string  // "server" or "client"
}

// cpuValue is the run's server CPU per operation (ns).
func (lr loadRun) cpuValue(kind string) value {
	ops := float64(lr.res.Ops)
	secs := lr.res.Seconds
	return value{Server: kind, Value: lr.serverCPU * secs / ops * 1e9, Bottleneck: lr.bottleneck, Detail: map[string]float64{
		"client_cpu_per_op": lr.clientCPU * secs / ops * 1e9,
		"server_cpu":        lr.serverCPU,
		"client_cpu":        lr.clientCPU,
		"ops_per_second":    ops / secs,
	}}
}

// runLoad runs a load (figure a's, or k's with -every among args; fig
// names its profiles) of conns connections against a new server of kind and returns the merged
// result and the CPU of the server and client processes over the measured
// part.
func (h *harness) runLoad(fig, kind, proto string, conns int, warmup, duration time.Duration, args []string) (loadRun, error) {
	cfg := h.cfg
	var lr loadRun
	srv, ready, err := h.startServer(kind)
	if err != nil {
		return lr, err
	}
	defer srv.stop(5 * time.Second)
	clients, err := h.startClients(kind, "load", proto, conns, append([]string{
		"-addr", ready.Addr, "-payload", strconv.Itoa(cfg.payload),
		"-warmup", warmup.String(), "-duration", duration.String(),
	}, args...))
	if err != nil {
		return lr, err
	}
	defer stopAll(clients)
	if _, err := recvAll[clientReady](clients, h.readyTimeout(conns)); err != nil {
		return lr, err
	}
	if err := sendAll(clients, command{Op: "start"}); err != nil {
		return lr, err
	}
	// CPU is sampled over the measured part only.
	time.Sleep(warmup)
	if err := h.profile(srv, "cpuprofile", fig, kind); err != nil {
		return lr, err
	}
	srv0, err := cpuSeconds(ready.PID)
	if err != nil {
		return lr, fmt.Errorf("%s: %w", srv.name, err)
	}
	cl0, err := childrenCPU(clients)
	if err != nil {
		return lr, err
	}
	t0 := time.Now()
	results, err := recvAll[loadResult](clients, duration+cfg.ioTimeout+30*time.Second)
	if err != nil {
		return lr, err
	}
	srv1, err := cpuSeconds(ready.PID)
	if err != nil {
		return lr, fmt.Errorf("%s: %w", srv.name, err)
	}
	wall := time.Since(t0).Seconds()
	// A client exits after its report: wait for it to have, so that its
	// CPU is all counted.
	for _, c := range clients {
		select {
		case <-c.done:
		case <-time.After(cfg.ioTimeout):
			return lr, fmt.Errorf("%s: still running %v after its report", c.name, cfg.ioTimeout)
		}
	}
	cl1, err := childrenCPU(clients)
	if err != nil {
		return lr, err
	}
	lr.serverCPU = (srv1 - srv0) / wall
	lr.clientCPU = (cl1 - cl0) / wall
	if err := h.profile(srv, "cpuprofile-stop", fig, kind); err != nil {
		return lr, err
	}
	st, err := serverStatsOf(srv, "stats")
	if err != nil {
		return lr, err
	}
	lr.serverRSS = st.RSS
	total := &hist{}
	for _, r := range results {
		lr.res.Ops += r.Ops
		lr.res.Seconds = max(lr.res.Seconds, r.Seconds)
		total.merge(r.Hist.hist())
	}
	lr.res.Hist = total.wire()
	if lr.res.Ops == 0 {
		return lr, fmt.Errorf("%s: no call completed in %v", kind, duration)
	}
	// A Node process runs its JavaScript on one core; a Go process can
	// use every CPU.
	ncpu := float64(runtime.NumCPU())
	serverCap, clientCap := ncpu, ncpu
	if kind == kindSocketIO {
		serverCap, clientCap = 1, min(ncpu, float64(len(clients)))
	}
	lr.bottleneck = "server"
	if lr.clientCPU/clientCap > lr.serverCPU/serverCap {
		lr.bottleneck = "client"
	}
	return lr, nil
}

// idleServers are the servers of figure c.
var idleServers = echoServers

// figureIdle is c: RSS growth per idle connection.
func (h *harness) figureIdle() ([]*figure, error) {
	cfg := h.cfg
	c := &figure{
		ID: "c", Unit: unitBytes, Duplex: kindDuplexRPC, Reference: kindGorillaEcho,
		Title: fmt.Sprintf("server memory per idle connection: RSS growth / %d connections (after GC + FreeOSMemory)", cfg.idle),
		Notes: []string{"duplex-rpc connections said hello and got their welcome (each has a session); " +
			"the others are upgraded and idle in a read"},
	}
	if cfg.idleEcho {
		c.Notes[0] = "duplex-rpc connections said hello and got their welcome (each has a session); " +
			"the others had one message echoed, then idle in a read"
	}
	if need := uint64(cfg.idle) + 1000; need > h.limit {
		return nil, fmt.Errorf("%d idle connections need a server file limit above %d; RLIMIT_NOFILE's hard limit here is %d", cfg.idle, need, h.limit)
	}
	// Once, whatever -reps says: memory does not depend on the machine's
	// load the way rates do.
	reps := h.cfg.reps
	h.cfg.reps = 1
	defer func() { h.cfg.reps = reps }()
	vals, err := h.measure(idleServers, 1, func(s server) ([]value, error) {
		h.logf("c: %s: %d idle connections", s.kind, cfg.idle)
		v, err := h.runIdle(s.kind, s.proto)
		return []value{v}, err
	})
	if err != nil {
		return nil, err
	}
	c.Values = vals[0]
	c.ratio()
	c.target(targetAbsolute, "<=", 1024) // issue 15
	c.target(targetRatio, "<=", 0.1)
	return []*figure{c}, nil
}

func (h *harness) runIdle(kind, proto string) (value, error) {
	cfg := h.cfg
	v := value{Server: kind}
	srv, ready, err := h.startServer(kind)
	if err != nil {
		return v, err
	}
	defer srv.stop(5 * time.Second)
	st0, err := serverStatsOf(srv, "gc")
	if err != nil {
		return v, err
	}
	args := []string{"-addr", ready.Addr}
	if cfg.idleEcho {
		args = append(args, "-echo-first")
	}
	clients, err := h.startClients(kind, "idle", proto, cfg.idle, args)
	if err != nil {
		return v, err
	}
	defer stopAll(clients)
	t0 := time.Now()
	if _, err := recvAll[clientReady](clients, h.readyTimeout(cfg.idle)); err != nil {
		return v, err
	}
	opened := time.Since(t0)
	if err := h.waitConns(srv, cfg.idle, 30*time.Second); err != nil {
		return v, err
	}
	time.Sleep(cfg.settle)
	noGC, err := serverStatsOf(srv, "stats")
	if err != nil {
		return v, err
	}
	st1, err := serverStatsOf(srv, "gc")
	if err != nil {
		return v, err
	}
	if err := h.profile(srv, "heapprofile", "c", kind); err != nil {
		return v, err
	}
	if st1.Conns != cfg.idle {
		return v, fmt.Errorf("%s: %d connections open at the measurement, want %d", srv.name, st1.Conns, cfg.idle)
	}
	n := float64(cfg.idle)
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / n }
	v.Value = per(st0.RSS, st1.RSS)
	v.Detail = map[string]float64{
		"rss_before":      float64(st0.RSS),
		"rss_after":       float64(st1.RSS),
		"rss_no_gc":       per(st0.RSS, noGC.RSS),
		"heap_inuse":      per(st0.HeapInuse, st1.HeapInuse),
		"stack_inuse":     per(st0.StackInuse, st1.StackInuse),
		"goroutines":      float64(st1.Goroutines-st0.Goroutines) / n,
		"open_per_second": n / opened.Seconds(),
	}
	return v, nil
}

// figureHandshakes is d: new connection → upgrade → first message answered.
func (h *harness) figureHandshakes() ([]*figure, error) {
	cfg := h.cfg
	d := &figure{
		ID: "d", Unit: unitRate, Duplex: kindDuplexRPC, Reference: kindGorillaEcho,
		Title: fmt.Sprintf("handshakes/s: connect, upgrade, first message answered (duplex: hello→welcome), %d with %d in flight",
			cfg.hsCount, cfg.hsConc),
	}
	dcpu := &figure{
		ID: "d-cpu", Unit: unitNanos, Duplex: kindDuplexRPC, Reference: kindGorillaEcho,
		Title: "server CPU per handshake (upgrade and first message answered): the server process's user+system time / handshakes",
	}
	vals, err := h.measure(echoServers, 2, func(s server) ([]value, error) {
		h.logf("d: %s: %d handshakes", s.kind, cfg.hsCount)
		v, err := h.runHandshakes(s.kind, s.proto)
		return []value{perOp(v, "server_cpu_per_op"), v}, err
	})
	if err != nil {
		return nil, err
	}
	dcpu.Values, d.Values = vals[0], vals[1]
	dcpu.ratio()
	d.ratio()
	dcpu.target(targetRatio, "<=", 0.5)
	d.target(targetRatio, ">=", 2.0)
	return []*figure{dcpu, d}, nil
}

// perOp is v's detail key as the value of a CPU figure, with v's value
// and other details among the details.
func perOp(v value, key string) value {
	out := value{Server: v.Server, Value: v.Detail[key], Detail: map[string]float64{}}
	for k, x := range v.Detail {
		if k != key {
			out.Detail[k] = x
		}
	}
	return out
}

func (h *harness) runHandshakes(kind, proto string) (value, error) {
	cfg := h.cfg
	v := value{Server: kind}
	srv, ready, err := h.startServer(kind)
	if err != nil {
		return v, err
	}
	defer srv.stop(5 * time.Second)
	clients, err := h.startClients(kind, "handshake", proto, cfg.hsCount, []string{"-addr", ready.Addr})
	if err != nil {
		return v, err
	}
	defer stopAll(clients)
	if _, err := recvAll[clientReady](clients, 30*time.Second); err != nil {
		return v, err
	}
	if err := h.profile(srv, "cpuprofile", "d", kind); err != nil {
		return v, err
	}
	cpu0, err := cpuSeconds(ready.PID)
	if err != nil {
		return v, fmt.Errorf("%s: %w", srv.name, err)
	}
	t0 := time.Now()
	if err := sendAll(clients, command{Op: "start"}); err != nil {
		return v, err
	}
	results, err := recvAll[loadResult](clients, h.readyTimeout(cfg.hsCount)+cfg.ioTimeout)
	if err != nil {
		return v, err
	}
	wall := time.Since(t0).Seconds()
	cpu1, err := cpuSeconds(ready.PID)
	if err != nil {
		return v, fmt.Errorf("%s: %w", srv.name, err)
	}
	if err := h.profile(srv, "cpuprofile-stop", "d", kind); err != nil {
		return v, err
	}
	var (
		ops     int64
		seconds float64
		total   = &hist{}
	)
	for _, r := range results {
		ops += r.Ops
		seconds = max(seconds, r.Seconds)
		total.merge(r.Hist.hist())
	}
	if ops != int64(cfg.hsCount) || seconds <= 0 {
		return v, fmt.Errorf("%s: %d of %d handshakes in %.3fs", kind, ops, cfg.hsCount, seconds)
	}
	v.Value = float64(ops) / seconds
	v.Detail = map[string]float64{
		"p50":               float64(total.quantile(0.5)),
		"p99":               float64(total.quantile(0.99)),
		"server_cpu":        (cpu1 - cpu0) / wall,
		"server_cpu_per_op": float64(time.Duration((cpu1 - cpu0) / float64(ops) * 1e9)),
	}
	return v, nil
}

// bcastServers are the servers of figure e.
var bcastServers = []server{
	{kindDuplexRPC, "rpc"},
	{kindGorillaHub, "raw"},
	{kindCoderHub, "raw"},
}

// figureBroadcast is e: one event to every connection, until the last has
// it, p99 over rounds.
func (h *harness) figureBroadcast() ([]*figure, error) {
	cfg := h.cfg
	e := &figure{
		ID: "e", Unit: unitNanos, Duplex: kindDuplexRPC, Reference: kindGorillaHub,
		Title: fmt.Sprintf("broadcast of one event to %d connections: send until the last receipt, p99 over %d rounds", cfg.bcast, cfg.rounds),
	}
	ecpu := &figure{
		ID: "e-cpu", Unit: unitNanos, Duplex: kindDuplexRPC, Reference: kindGorillaHub,
		Title: fmt.Sprintf("server CPU per broadcast round to %d connections (the warm-up round and pauses included)", cfg.bcast),
	}
	vals, err := h.measure(bcastServers, 2, func(s server) ([]value, error) {
		h.logf("e: %s: %d connections, %d rounds", s.kind, cfg.bcast, cfg.rounds)
		v, err := h.runBroadcast(s.kind, s.proto)
		return []value{perOp(v, "server_cpu_per_round"), v}, err
	})
	if err != nil {
		return nil, err
	}
	ecpu.Values, e.Values = vals[0], vals[1]
	ecpu.ratio()
	e.ratio()
	ecpu.target(targetRatio, "<=", 0.4)
	e.target(targetRatio, "<=", 0.5)
	return []*figure{ecpu, e}, nil
}

func (h *harness) runBroadcast(kind, proto string) (value, error) {
	cfg := h.cfg
	v := value{Server: kind}
	srv, ready, err := h.startServer(kind)
	if err != nil {
		return v, err
	}
	defer srv.stop(5 * time.Second)
	total := cfg.rounds + 1 // round 0 warms up
	clients, err := h.startClients(kind, "bcast", proto, cfg.bcast, []string{"-addr", ready.Addr, "-rounds", strconv.Itoa(total)})
	if err != nil {
		return v, err
	}
	defer stopAll(clients)
	if _, err := recvAll[clientReady](clients, h.readyTimeout(cfg.bcast)); err != nil {
		return v, err
	}
	// The hubs register a connection after its 101 is written: wait until
	// every one is in.
	if err := h.waitConns(srv, cfg.bcast, 30*time.Second); err != nil {
		return v, err
	}
	pids := []int{ready.PID}
	for _, c := range clients {
		pids = append(pids, c.cmd.Process.Pid)
	}
	if err := h.profile(srv, "cpuprofile", "e", kind); err != nil {
		return v, err
	}
	cpu0, err := cpuOf(pids)
	if err != nil {
		return v, err
	}
	var (
		lats []time.Duration
		took time.Duration
	)
	for r := range total {
		st, err := func() (serverStats, error) {
			var st serverStats
			if err := srv.send(command{Op: "broadcast", Round: int32(r)}); err != nil {
				return st, err
			}
			return st, srv.recv(&st, 30*time.Second)
		}()
		if err != nil {
			return v, err
		}
		reports, err := recvAll[roundReport](clients, 30*time.Second)
		if err != nil {
			return v, fmt.Errorf("round %d: %w", r, err)
		}
		var lat int64
		for _, rp := range reports {
			if rp.Round != int32(r) {
				return v, fmt.Errorf("round %d: a client reported round %d", r, rp.Round)
			}
			lat = max(lat, rp.Lat)
		}
		if st.Conns != cfg.bcast {
			return v, fmt.Errorf("%s: round %d went to %d connections, want %d", srv.name, r, st.Conns, cfg.bcast)
		}
		if r > 0 {
			lats = append(lats, time.Duration(lat))
			took += time.Duration(st.Took)
		}
		// A pause between rounds, so that each starts from quiet.
		time.Sleep(20 * time.Millisecond)
	}
	if len(lats) == 0 {
		return v, errors.New("no rounds")
	}
	cpu1, err := cpuOf(pids)
	if err != nil {
		return v, err
	}
	if err := h.profile(srv, "cpuprofile-stop", "e", kind); err != nil {
		return v, err
	}
	v.Value = float64(quantileOf(lats, 0.99))
	v.Detail = map[string]float64{
		"p50": float64(quantileOf(lats, 0.5)),
		"min": float64(quantileOf(lats, 0)),
		// CPU per round (the warm-up round and pauses included), server
		// and client processes: who the fan-out keeps busy.
		"server_cpu_per_round": float64(time.Duration((cpu1[0] - cpu0[0]) / float64(total) * 1e9)),
		"client_cpu_per_round": float64(time.Duration((sum(cpu1[1:]) - sum(cpu0[1:])) / float64(total) * 1e9)),
		// How long the server's broadcast call took (duplex: the
		// generated BroadcastTick, which writes to every connection;
		// hubs: handing the message to the connections' channels).
		"broadcast_call": float64(took / time.Duration(len(lats))),
	}
	return v, nil
}

// childrenCPU returns the CPU seconds of the children so far, an exited
// one's from its wait status (its /proc entry is gone).
func childrenCPU(cs []*child) (float64, error) {
	var t float64
	for _, c := range cs {
		select {
		case <-c.done:
			if ps := c.cmd.ProcessState; ps != nil {
				t += (ps.UserTime() + ps.SystemTime()).Seconds()
				continue
			}
		default:
		}
		s, err := cpuSeconds(c.cmd.Process.Pid)
		if err != nil {
			// It exited between the check and the read.
			<-c.done
			if ps := c.cmd.ProcessState; ps != nil {
				s = (ps.UserTime() + ps.SystemTime()).Seconds()
			} else {
				return 0, fmt.Errorf("%s: %w", c.name, err)
			}
		}
		t += s
	}
	return t, nil
}

// cpuOf returns the CPU seconds of each process.
func cpuOf(pids []int) ([]float64, error) {
	out := make([]float64, len(pids))
	for i, pid := range pids {
		var err error
		if out[i], err = cpuSeconds(pid); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func sum(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s
}
