//go:build linux

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(childMain(role, os.Args[1:]))
	}
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "wsbench:", err)
		os.Exit(1)
	}
}

// childMain runs a re-executed child; its error goes to the harness as a
// JSON line and to stderr.
func childMain(role string, args []string) int {
	var err error
	switch role {
	case "server":
		err = serverMain(args)
	case "client":
		err = clientMain(args)
	default:
		err = fmt.Errorf("unknown %s %q", roleEnv, role)
	}
	if err != nil {
		stdoutReports.fail(err)
		fmt.Fprintf(os.Stderr, "wsbench %s: %v\n", role, err)
		return 1
	}
	return 0
}

// config is the harness's flags.
type config struct {
	conns     int
	window    int
	payload   int
	warmup    time.Duration
	duration  time.Duration
	idle      int
	settle    time.Duration
	bcast     int
	rounds    int
	hsCount   int
	hsConc    int
	procs     int
	perProc   int
	src       int
	dialConc  int
	benchtime string
	only      map[string]bool
	smoke     bool
	json      bool
	timeout   time.Duration
	ioTimeout time.Duration
	profile   string
	reps      int
	idleEcho  bool

	active         int
	activeEvery    time.Duration
	activeDuration time.Duration

	clusterConns int
	sinks        int
	pubConc      int
	pubRate      int
	resumes      int
	missed       int
	sessions     int
	history      int
	historySize  int
}

// figureIDs are the figures in run order, with -only's other names.
var figureIDs = []struct{ id, alias string }{
	{"a", "rpc"}, {"b", "latency"}, {"c", "idle"}, {"d", "handshake"}, {"e", "broadcast"}, {"f", "allocs"},
	{"g", "cluster"}, {"h", "publish"}, {"i", "resume"}, {"j", "sizing"}, {"k", "active"},
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("wsbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.conns, "conns", 100, "a, b: connections making calls")
	fs.IntVar(&cfg.window, "window", 1, "a, b: calls in flight per connection (pipelined)")
	fs.IntVar(&cfg.payload, "payload", 16, "a, b: bytes of text per call")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "a, b: load before measuring, per server")
	fs.DurationVar(&cfg.duration, "duration", 3*time.Second, "a, b: measured load per server")
	fs.IntVar(&cfg.idle, "idle", 15000, "c: idle connections held open")
	fs.BoolVar(&cfg.idleEcho, "idle-echo", false, "c: raw echo connections have one message echoed before they idle (duplex's said hello either way)")
	fs.DurationVar(&cfg.settle, "settle", 2*time.Second, "c: wait after the last connection before reading RSS")
	fs.IntVar(&cfg.bcast, "bcast", 10000, "e: connections receiving each broadcast")
	fs.IntVar(&cfg.rounds, "rounds", 20, "e: measured broadcast rounds (after one warm-up round)")
	fs.IntVar(&cfg.hsCount, "handshakes", 15000, "d: handshakes per server")
	fs.IntVar(&cfg.hsConc, "handshake-conc", 32, "d: handshakes in flight")
	fs.IntVar(&cfg.reps, "reps", 3, "a, b, d, e: measure each server this many times, in rotated order, and keep the median")
	fs.IntVar(&cfg.procs, "procs", 2, "client processes (at least; more when a share would exceed -per-proc connections)")
	fs.IntVar(&cfg.perProc, "per-proc", 0, "most connections per client process (default: the file limit minus 2000, at most 18000)")
	fs.IntVar(&cfg.src, "src", 8, "source addresses 127.0.0.1..127.0.0.N to spread ephemeral ports over")
	fs.IntVar(&cfg.dialConc, "dial-conc", 64, "connections opened at once per client process")
	fs.IntVar(&cfg.active, "active", 10000, "k: connections each making a call every -active-every")
	fs.DurationVar(&cfg.activeEvery, "active-every", time.Second, "k: how often each connection calls")
	fs.DurationVar(&cfg.activeDuration, "active-duration", 10*time.Second, "k: measured load per server")
	fs.StringVar(&cfg.benchtime, "benchtime", "1s", "f: testing.Benchmark time per case (duration or Nx)")
	fs.IntVar(&cfg.clusterConns, "cluster-conns", 10000, "g: connections receiving each broadcast, over 1 or 2 nodes (rounds: -rounds)")
	fs.IntVar(&cfg.sinks, "sinks", 1000, "h: connections per node receiving every event (for -duration)")
	fs.IntVar(&cfg.pubConc, "pub-conc", 16, "h: publishing goroutines per node")
	fs.IntVar(&cfg.pubRate, "pub-rate", 2000, "h: events/s published from the 2 nodes together while -sinks connections per node receive them (the figure cannot exceed -pub-rate × -sinks)")
	fs.IntVar(&cfg.resumes, "resumes", 20, "i: measured resumes (after one warm-up)")
	fs.IntVar(&cfg.missed, "missed", 100, "i: events missed by each resuming session")
	fs.IntVar(&cfg.sessions, "sessions", 10000, "j: sessions (idle connections) whose memory is measured")
	fs.IntVar(&cfg.history, "history", 100000, "j: events of history whose memory is measured")
	fs.IntVar(&cfg.historySize, "history-bytes", 100, "j: bytes of each history event's payload (the frame without its seq)")
	only := fs.String("only", "", "comma list of figures to run: a..k or rpc,latency,idle,handshake,broadcast,allocs,cluster,publish,resume,sizing,active (default all)")
	fs.BoolVar(&cfg.smoke, "smoke", false, "tiny numbers, the whole run in seconds (CI); explicit flags still win")
	fs.BoolVar(&cfg.json, "json", false, "print the results as JSON instead of tables")
	fs.DurationVar(&cfg.timeout, "timeout", 10*time.Minute, "bound of the whole run; every child is killed after it")
	fs.DurationVar(&cfg.ioTimeout, "io-timeout", 10*time.Second, "bound of one connect+upgrade, one reply")
	fs.StringVar(&cfg.profile, "profile", "", "write the servers' CPU profiles of the measured parts of a, d, e, k and heap profiles at c's measurement to this directory")
	fs.BoolVar(&verboseChildren, "v", false, "copy the children's stderr to ours")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.smoke {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		small := map[string]string{
			"conns": "10", "warmup": "100ms", "duration": "300ms", "idle": "200", "settle": "100ms",
			"bcast": "200", "rounds": "3", "handshakes": "200", "handshake-conc": "8", "src": "2", "reps": "1",
			"benchtime": "300x", "timeout": "2m",
			"cluster-conns": "200", "sinks": "20", "pub-conc": "4", "pub-rate": "200", "resumes": "3", "missed": "10",
			"sessions": "200", "history": "1000", "active": "200", "active-every": "100ms", "active-duration": "500ms",
		}
		for name, v := range small {
			if !set[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	cfg.only = map[string]bool{}
	if *only != "" {
		for _, name := range strings.Split(*only, ",") {
			name = strings.TrimSpace(name)
			found := false
			for _, f := range figureIDs {
				if name == f.id || name == f.alias {
					cfg.only[f.id] = true
					found = true
				}
			}
			if !found {
				return nil, fmt.Errorf("-only: unknown figure %q (want a..k or rpc, latency, idle, handshake, broadcast, allocs, cluster, publish, resume, sizing, active)", name)
			}
		}
		// a and b come from one run.
		if cfg.only["a"] || cfg.only["b"] {
			cfg.only["a"], cfg.only["b"] = true, true
		}
	} else {
		for _, f := range figureIDs {
			cfg.only[f.id] = true
		}
	}
	for _, p := range []struct {
		name string
		v    int
	}{{"conns", cfg.conns}, {"window", cfg.window}, {"idle", cfg.idle}, {"bcast", cfg.bcast}, {"rounds", cfg.rounds},
		{"handshakes", cfg.hsCount}, {"handshake-conc", cfg.hsConc}, {"procs", cfg.procs}, {"src", cfg.src}, {"reps", cfg.reps}, {"dial-conc", cfg.dialConc},
		{"active", cfg.active}, {"cluster-conns", cfg.clusterConns}, {"sinks", cfg.sinks}, {"pub-conc", cfg.pubConc}, {"pub-rate", cfg.pubRate},
		{"resumes", cfg.resumes}, {"missed", cfg.missed}, {"sessions", cfg.sessions}, {"history", cfg.history}, {"history-bytes", cfg.historySize}} {
		if p.v < 1 {
			return nil, fmt.Errorf("-%s must be at least 1", p.name)
		}
	}
	if cfg.activeEvery <= 0 || cfg.activeDuration <= 0 {
		return nil, errors.New("-active-every and -active-duration must be positive")
	}
	if cfg.profile != "" {
		abs, err := filepath.Abs(cfg.profile)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(abs, 0o755); err != nil {
			return nil, fmt.Errorf("-profile: %w", err)
		}
		cfg.profile = abs
	}
	if cfg.src > 254 {
		return nil, errors.New("-src: at most 254 source addresses (127.0.0.1..127.0.0.254)")
	}
	return cfg, nil
}

// run is the harness: every selected figure, then the report.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	limit, err := raiseNoFile()
	if err != nil {
		return err
	}
	if cfg.perProc == 0 {
		cfg.perProc = int(min(max(int64(limit)-2000, 100), 18000))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	// Whatever ends the run (a failure, the timeout, a signal), no child
	// outlives it; a child's pending report then fails with "exited".
	watch := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			killChildren()
		case <-watch:
		}
	}()
	defer func() {
		close(watch)
		killChildren()
	}()

	h := &harness{cfg: cfg, ctx: ctx, log: stderr, limit: limit}
	rep := &report{
		Machine: machineInfo(limit),
		Config:  cfg.describe(),
	}
	t0 := time.Now()
	steps := []struct {
		id  string
		run func() ([]*figure, error)
	}{
		{"a", h.figureRPC},
		{"c", h.figureIdle},
		{"d", h.figureHandshakes},
		{"e", h.figureBroadcast},
		{"f", h.figureAllocs},
		{"g", h.figureClusterBroadcast},
		{"h", h.figurePublish},
		{"i", h.figureResume},
		{"j", h.figureSizing},
		{"k", h.figureActive},
	}
	for _, st := range steps {
		if !cfg.only[st.id] {
			continue
		}
		ft := time.Now()
		figs, err := st.run()
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("figure %s: %w (%v)", st.id, err, context.Cause(ctx))
			}
			return fmt.Errorf("figure %s: %w", st.id, err)
		}
		for _, f := range figs {
			f.Seconds = time.Since(ft).Seconds()
		}
		rep.Figures = append(rep.Figures, figs...)
	}
	rep.Seconds = time.Since(t0).Seconds()
	if cfg.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.print(stdout)
	return nil
}

// harness runs figures.
type harness struct {
	cfg   *config
	ctx   context.Context
	log   io.Writer
	limit uint64
}

func (h *harness) logf(format string, args ...any) {
	if !h.cfg.json || verboseChildren {
		fmt.Fprintf(h.log, "wsbench: "+format+"\n", args...)
	}
}

// shares splits n over the client processes: at least -procs of them
// (never more than n), more when a share would exceed -per-proc.
func (h *harness) shares(n int) []int {
	p := max(min(h.cfg.procs, n), (n+h.cfg.perProc-1)/h.cfg.perProc)
	out := make([]int, p)
	for i := range out {
		out[i] = n / p
		if i < n%p {
			out[i]++
		}
	}
	return out
}

// startServer starts a server process of kind, with more server flags
// (-redis) in args.
func (h *harness) startServer(kind string, args ...string) (*child, serverReady, error) {
	var (
		ready serverReady
		c     *child
		err   error
	)
	if kind == kindSocketIO {
		c, err = startNode(kind+" server", "server.mjs", args)
	} else {
		c, err = startChild(kind+" server", "server", append([]string{"-kind", kind, "-timeout", h.cfg.timeout.String()}, args...))
	}
	if err != nil {
		return nil, ready, err
	}
	if err := c.recv(&ready, 30*time.Second); err != nil {
		c.stop(time.Second)
		return nil, ready, err
	}
	return c, ready, nil
}

// serverStats asks a server for its stats ("stats", or "gc" first).
func serverStatsOf(srv *child, op string) (serverStats, error) {
	var st serverStats
	if err := srv.send(command{Op: op}); err != nil {
		return st, err
	}
	return st, srv.recv(&st, 30*time.Second)
}

// profile starts (op "cpuprofile"), stops ("cpuprofile-stop") or writes
// ("heapprofile") a profile of srv as DIR/FIGURE-KIND.KIND.pprof, with
// -profile DIR; it does nothing without.
func (h *harness) profile(srv *child, op, fig, kind string) error {
	if h.cfg.profile == "" || strings.HasPrefix(srv.name, kindSocketIO+" ") {
		return nil // Node's profiles are not pprof's
	}
	what := "cpu"
	if op == "heapprofile" {
		what = "heap"
	}
	var st serverStats
	if err := srv.send(command{Op: op, File: filepath.Join(h.cfg.profile, fig+"-"+kind+"."+what+".pprof")}); err != nil {
		return err
	}
	return srv.recv(&st, 30*time.Second)
}

// waitConns waits until the server counts n connections.
func (h *harness) waitConns(srv *child, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := serverStatsOf(srv, "stats")
		if err != nil {
			return err
		}
		if st.Conns == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d connections open after %v, want %d", srv.name, st.Conns, timeout, n)
		}
		select {
		case <-h.ctx.Done():
			return h.ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// startClients starts one client process per share of n, with args plus
// each one's share (-conns, or -count with -conc) and source addresses.
func (h *harness) startClients(kind, task, proto string, n int, args []string) ([]*child, error) {
	var cs []*child
	shares := h.shares(n)
	for i, share := range shares {
		a := append([]string{
			"-task", task, "-proto", proto,
			"-src", strconv.Itoa(h.cfg.src), "-src-first", strconv.Itoa(i * max(1, h.cfg.src/len(shares))),
			"-dial-conc", strconv.Itoa(h.cfg.dialConc),
			"-io-timeout", h.cfg.ioTimeout.String(), "-timeout", h.cfg.timeout.String(),
		}, args...)
		if task == "handshake" {
			a = append(a, "-count", strconv.Itoa(share), "-conc", strconv.Itoa(max(1, h.cfg.hsConc/len(shares))))
		} else {
			a = append(a, "-conns", strconv.Itoa(share))
		}
		name := fmt.Sprintf("%s client %d", kind, i+1)
		var (
			c   *child
			err error
		)
		if kind == kindSocketIO {
			c, err = startNode(name, "client.mjs", a)
		} else {
			c, err = startChild(name, "client", a)
		}
		if err != nil {
			stopAll(cs)
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// readyTimeout bounds opening n connections.
func (h *harness) readyTimeout(n int) time.Duration {
	return 30*time.Second + time.Duration(n)*time.Millisecond
}

// cpuSeconds returns the user+system CPU time of a process so far.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may hold spaces) in ")".
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100, nil // USER_HZ is 100 on Linux
}

func machineInfo(limit uint64) map[string]string {
	m := map[string]string{
		"go":         runtime.Version(),
		"goos":       runtime.GOOS + "/" + runtime.GOARCH,
		"cpus":       strconv.Itoa(runtime.NumCPU()),
		"gomaxprocs": strconv.Itoa(runtime.GOMAXPROCS(0)),
		"nofile":     strconv.FormatUint(limit, 10),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m["kernel"] = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

func (c *config) describe() map[string]string {
	return map[string]string{
		"conns": strconv.Itoa(c.conns), "window": strconv.Itoa(c.window), "payload": strconv.Itoa(c.payload),
		"warmup": c.warmup.String(), "duration": c.duration.String(), "idle": strconv.Itoa(c.idle),
		"settle": c.settle.String(), "bcast": strconv.Itoa(c.bcast), "rounds": strconv.Itoa(c.rounds),
		"handshakes": strconv.Itoa(c.hsCount), "handshake-conc": strconv.Itoa(c.hsConc),
		"procs": strconv.Itoa(c.procs), "per-proc": strconv.Itoa(c.perProc), "src": strconv.Itoa(c.src),
		"benchtime": c.benchtime, "smoke": strconv.FormatBool(c.smoke), "reps": strconv.Itoa(c.reps), "idle-echo": strconv.FormatBool(c.idleEcho),
		"cluster-conns": strconv.Itoa(c.clusterConns), "sinks": strconv.Itoa(c.sinks), "pub-conc": strconv.Itoa(c.pubConc),
		"pub-rate": strconv.Itoa(c.pubRate), "resumes": strconv.Itoa(c.resumes), "missed": strconv.Itoa(c.missed),
		"active": strconv.Itoa(c.active), "active-every": c.activeEvery.String(), "active-duration": c.activeDuration.String(),
		"sessions": strconv.Itoa(c.sessions), "history": strconv.Itoa(c.history), "history-bytes": strconv.Itoa(c.historySize),
	}
}

// finite reports whether v is a usable number.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
