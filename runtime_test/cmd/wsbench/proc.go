//go:build linux

package main

// Child processes: servers and client loads are this same binary started
// again with WSBENCH_ROLE set. A child writes JSON lines on its stdout (the
// first one says it is ready) and takes JSON-line commands on its stdin;
// when its stdin closes (the harness exited, or died) it exits, and it is
// started with PR_SET_PDEATHSIG so that it dies with the harness anyway.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// roleEnv selects the child role ("server" or "client") of a re-executed
// harness binary.
const roleEnv = "WSBENCH_ROLE"

// child is a running child process.
type child struct {
	name   string // "gorilla-echo server", "duplex-rpc client 2"
	cmd    *exec.Cmd
	in     io.WriteCloser
	inMu   sync.Mutex
	lines  chan []byte
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done
	stderr *tailBuffer
}

var (
	childrenMu sync.Mutex
	children   = map[*child]bool{}
)

// selfPath is the binary to re-execute (os.Executable, or a test binary).
var selfPath = sync.OnceValues(os.Executable)

// startChild starts this binary in role with args.
func startChild(name, role string, args []string) (*child, error) {
	self, err := selfPath()
	if err != nil {
		return nil, fmt.Errorf("%s: find own executable: %w", name, err)
	}
	cmd := exec.Command(self, args...)
	// A race-enabled child (the smoke test's) would sleep a second at
	// exit by default.
	cmd.Env = append(os.Environ(), roleEnv+"="+role, "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	return startCmd(name, cmd)
}

// startCmd starts cmd as a child: any program that speaks the children's
// JSON lines (the Socket.IO peer's Node scripts among them).
func startCmd(name string, cmd *exec.Cmd) (*child, error) {
	var err error
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c := &child{name: name, cmd: cmd, lines: make(chan []byte, 64), done: make(chan struct{}), stderr: &tailBuffer{max: 8 << 10}}
	cmd.Stderr = c.stderr
	if c.in, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: start: %w", name, err)
	}
	childrenMu.Lock()
	children[c] = true
	childrenMu.Unlock()
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		for sc.Scan() {
			c.lines <- append([]byte(nil), sc.Bytes()...)
		}
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// childError is the error line of a failing child: {"error": "..."}.
type childError struct {
	Error string `json:"error"`
}

// recv decodes the next line of the child into v, within timeout.
func (c *child) recv(v any, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case line := <-c.lines:
		return c.decode(line, v)
	case <-c.done:
		// The reader delivers every line before done is closed.
		select {
		case line := <-c.lines:
			return c.decode(line, v)
		default:
		}
		return fmt.Errorf("%s: exited (%v)%s", c.name, c.err, c.stderr.suffix())
	case <-t.C:
		return fmt.Errorf("%s: no report within %v%s", c.name, timeout, c.stderr.suffix())
	}
}

func (c *child) decode(line []byte, v any) error {
	var ce childError
	if json.Unmarshal(line, &ce) == nil && ce.Error != "" {
		return fmt.Errorf("%s: %s", c.name, ce.Error)
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("%s: bad report %q: %w", c.name, line, err)
	}
	return nil
}

// send writes v as one JSON line to the child's stdin.
func (c *child) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.inMu.Lock()
	defer c.inMu.Unlock()
	if _, err := c.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%s: send command: %w%s", c.name, err, c.stderr.suffix())
	}
	return nil
}

// stop closes the child's stdin (it exits on EOF) and kills it if it has
// not exited within grace.
func (c *child) stop(grace time.Duration) {
	_ = c.in.Close()
	select {
	case <-c.done:
	case <-time.After(grace):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
	childrenMu.Lock()
	delete(children, c)
	childrenMu.Unlock()
}

// killChildren kills every child still running (on failure, timeout or
// signal).
func killChildren() {
	childrenMu.Lock()
	defer childrenMu.Unlock()
	for c := range children {
		_ = c.cmd.Process.Kill()
		<-c.done
		delete(children, c)
	}
}

// recvAll receives one report from each child, concurrently.
func recvAll[T any](cs []*child, timeout time.Duration) ([]T, error) {
	out := make([]T, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() { errs[i] = c.recv(&out[i], timeout) })
	}
	wg.Wait()
	return out, errors.Join(errs...)
}

func sendAll(cs []*child, v any) error {
	for _, c := range cs {
		if err := c.send(v); err != nil {
			return err
		}
	}
	return nil
}

func stopAll(cs []*child) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { c.stop(5 * time.Second) })
	}
	wg.Wait()
}

// tailBuffer keeps the last max bytes written to it (a child's stderr,
// shown when it fails).
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	if verboseChildren {
		os.Stderr.Write(p)
	}
	return len(p), nil
}

func (t *tailBuffer) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(bytes.ToValidUTF8(t.b, nil)))
	if s == "" {
		return ""
	}
	return "; its stderr ends with:\n" + s
}

// verboseChildren copies children's stderr to ours (-v).
var verboseChildren bool

// raiseNoFile raises RLIMIT_NOFILE to its hard limit and returns the new
// soft limit.
func raiseNoFile() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("setrlimit RLIMIT_NOFILE to %d: %w", lim.Max, err)
		}
	}
	return lim.Cur, nil
}

// childOut is a child's stdout: one JSON object per line, serialised.
type childOut struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// stdoutReports is a child's stdout.
var stdoutReports = &childOut{enc: json.NewEncoder(os.Stdout)}

func (o *childOut) emit(v any) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_ = o.enc.Encode(v)
}

func (o *childOut) fail(err error) {
	o.emit(childError{Error: err.Error()})
}

// command is what the harness tells a child on its stdin.
type command struct {
	Op     string `json:"op"`               // "start", "gc", "stats", "broadcast", "publish", "cpuprofile", "cpuprofile-stop", "heapprofile"
	Round  int32  `json:"round,omitempty"`  // broadcast
	File   string `json:"file,omitempty"`   // profiles
	Millis int64  `json:"millis,omitempty"` // publish: for how long
	Conc   int    `json:"conc,omitempty"`   // publish: goroutines
	Rate   int    `json:"rate,omitempty"`   // publish: at most this many events a second, all goroutines together; 0 unbounded
	Count  int    `json:"count,omitempty"`  // publish: at most this many events; 0 unbounded
	Size   int    `json:"size,omitempty"`   // publish: padded events of this many bytes of payload
}

// commands delivers the JSON-line commands of the harness on stdin; the
// channel closes at EOF.
func commands() <-chan command {
	ch := make(chan command)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			var c command
			if json.Unmarshal(sc.Bytes(), &c) == nil {
				ch <- c
			}
		}
	}()
	return ch
}
