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
	Port int
	dir  string
	args []string
	cmd  *exec.Cmd
	t    testing.TB
}

// Start starts redis-server without persistence (--save "" --appendonly
// no), with DEBUG allowed, plus args, and waits until it answers. It is stopped at the end of
// the test.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &Server{Port: port, dir: t.TempDir(), args: args, t: t}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL, database 0.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.Port) + "/0" }

func (s *Server) start() {
	s.t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		s.t.Fatalf("redis-server is needed (scripts/test.sh installs it): %v", err)
	}
	args := append([]string{"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir, "--enable-debug-command", "yes"}, s.args...)
	s.cmd = exec.Command(path, args...)
	out := &strings.Builder{}
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if r, err := s.try("PING"); err == nil && r == "PONG" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d did not answer within 10 s: %s", s.Port, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (SIGKILL, by its pid) and waits for it. Repeated
// calls do nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart stops the server and starts it again on the same port and
// directory: it loads what it saved (after SAVE, or with
// --appendonly yes), or starts empty.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
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
