// Package redistest runs real redis-server processes for tests: on a free
// port, in the test's temporary directory, stopped by their own pid when
// the test ends. Tests fail (not skip) when redis-server is missing:
// scripts/test.sh installs it.
package redistest

import (
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is one redis-server process, restartable on the same port and
// directory.
type Server struct {
	Port   int
	dir    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd exited
	t      testing.TB
}

// Start starts redis-server without persistence (--save "" --appendonly
// no), with DEBUG allowed, plus args, and waits until it answers. It is
// stopped at the end of the test.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s := &Server{dir: t.TempDir(), args: args, t: t}
	t.Cleanup(s.Stop)
	var err error
	for range 5 { // another process may take the free port first
		s.Port = freePort(t)
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatal(err)
	return nil
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// URL is the server's redis:// URL, database 0.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0" }

// start starts the process and waits until it answers, as itself: the
// process_id of INFO is its pid.
func (s *Server) start() error {
	s.t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatalf("redis-server is needed (scripts/test.sh installs it): %v", err)
	}
	args := append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--enable-debug-command", "yes"}, s.args...)
	cmd := exec.Command(path, args...)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.cmd, s.exited = cmd, exited
	self := "process_id:" + strconv.Itoa(cmd.Process.Pid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			s.cmd = nil
			return fmt.Errorf("redis-server on port %d exited: %s", s.Port, out)
		default:
		}
		if r, err := s.try("INFO", "server"); err == nil && strings.Contains(r, self) {
			return nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("redis-server on port %d did not answer within 10 s: %s", s.Port, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL, by its pid) and waits for it to exit.
// Repeated calls do nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}

// Restart stops the server and starts it again on the same port and
// directory: it loads what it saved (after SAVE, or with
// --appendonly yes), or starts empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

// Do runs one command with redis-cli and returns its output, trimmed; it
// fails the test on error.
func (s *Server) Do(args ...string) string {
	s.t.Helper()
	r, err := s.try(args...)
	if err != nil {
		s.t.Fatalf("redis-cli %s: %v", strings.Join(args, " "), err)
	}
	return r
}

func (s *Server) try(args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-p", strconv.Itoa(s.Port)}, args...)...).CombinedOutput()
	r := strings.TrimSpace(string(out))
	if err == nil && (strings.HasPrefix(r, "ERR") || strings.HasPrefix(r, "Could not connect")) {
		err = fmt.Errorf("%s", r) // redis-cli exits 0 on both
	}
	return r, err
}
