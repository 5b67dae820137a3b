package runtimetest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"
)

// echoBinary builds examples/echo once per test binary run.
var echoBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "duplex-echo-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "echo")
	// Built in the main module, with its own go.sum, not this test module's.
	cmd := exec.Command("go", "build", "-o", bin, "./examples/echo")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build examples/echo: %v\n%s", err, out)
	}
	return bin, nil
})

// echoProcess is a running examples/echo server.
type echoProcess struct {
	Addr string // host:port it listens on
	cmd  *exec.Cmd
	done chan error
}

var listeningLine = regexp.MustCompile(`listening on (\S+)`)

// startEcho builds and starts examples/echo on a free loopback port with the
// given extra flags, and stops it (SIGKILL) when the test ends.
func startEcho(t testing.TB, flags ...string) *echoProcess {
	t.Helper()
	return startEchoStderr(t, os.Stderr, flags...)
}

// startEchoStderr is startEcho with the process's stderr (with -v, its log
// of connection events) written to stderr.
func startEchoStderr(t testing.TB, stderr io.Writer, flags ...string) *echoProcess {
	t.Helper()
	bin, err := echoBinary()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-addr", "127.0.0.1:0"}, flags...)
	cmd := exec.Command(bin, args...)
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start echo: %v", err)
	}
	p := &echoProcess{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningLine.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { p.done <- cmd.Wait() }()
	select {
	case p.Addr = <-addr:
	case err := <-p.done:
		t.Fatalf("echo exited before listening: %v", err)
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("echo did not print its address within 10s")
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// Signal sends sig to the echo process.
func (p *echoProcess) Signal(sig syscall.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the process to exit or ctx to end.
func (p *echoProcess) Wait(ctx context.Context) error {
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lineLog is an io.Writer that keeps what is written to it as lines, each
// stamped with the time it arrived: a process's log, read as it happens.
type lineLog struct {
	mu      sync.Mutex
	partial []byte
	lines   []logLine
}

type logLine struct {
	at   time.Time
	text string
}

func (l *lineLog) Write(p []byte) (int, error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.lines = append(l.lines, logLine{at: now, text: string(l.partial[:i])})
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// waitFor returns the first line matching re, waiting for it until
// deadline; ok is false if none came.
func (l *lineLog) waitFor(re *regexp.Regexp, deadline time.Time) (line logLine, ok bool) {
	for {
		l.mu.Lock()
		for _, ln := range l.lines {
			if re.MatchString(ln.text) {
				l.mu.Unlock()
				return ln, true
			}
		}
		l.mu.Unlock()
		if time.Now().After(deadline) {
			return logLine{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// String returns every line so far, for a failure message.
func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	for _, ln := range l.lines {
		fmt.Fprintf(&b, "%s %s\n", ln.at.Format("15:04:05.000"), ln.text)
	}
	b.Write(l.partial)
	return b.String()
}
