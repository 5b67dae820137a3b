//go:build linux

package main

// The Redis of the cluster figures: a redis-server process of the
// harness's own on a free loopback port, without persistence, so that
// each measurement starts from an empty instance; redis-cli reads its
// INFO and MEMORY USAGE. Its CPU is part of the cluster's cost and is
// reported beside the nodes'.

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type redisServer struct {
	cmd  *exec.Cmd
	port int
	done chan struct{}
}

// url is the server's URL for redisengine.New.
func (r *redisServer) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", r.port) }

func (r *redisServer) pid() int { return r.cmd.Process.Pid }

// startRedis starts a redis-server on a free port and waits until it is
// the one answering there (a port picked free can be taken by another
// process before the server binds it: the machine is shared).
func startRedis() (*redisServer, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, fmt.Errorf("the cluster figures need redis-server (apt-get install redis-server): %w", err)
	}
	var last error
	for range 5 {
		r, err := startRedisOnce()
		if err == nil {
			return r, nil
		}
		last = err
	}
	return nil, last
}

func startRedisOnce() (*redisServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--maxmemory-policy", "noeviction", "--maxclients", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr := &tailBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	r := &redisServer{cmd: cmd, port: port, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(r.done)
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		info, err := r.info("server")
		if err == nil {
			if info["process_id"] == strconv.Itoa(r.pid()) {
				return r, nil
			}
			r.stop()
			return nil, fmt.Errorf("redis-server on port %d: another process (pid %s) answers there", port, info["process_id"])
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("redis-server on port %d exited%s", port, stderr.suffix())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("redis-server on port %d: not answering after 10s: %w", port, err)
		}
	}
}

func (r *redisServer) stop() {
	_ = r.cmd.Process.Kill()
	<-r.done
}

// cli runs redis-cli with args against the server and returns its output;
// an error reply (which redis-cli prints with exit status 0) is an error.
func (r *redisServer) cli(args ...string) (string, error) {
	out, err := exec.Command("redis-cli", append([]string{"-p", strconv.Itoa(r.port)}, args...)...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err == nil && (strings.HasPrefix(s, "ERR") || strings.HasPrefix(s, "(error)")) {
		err = fmt.Errorf("error reply")
	}
	if err != nil {
		return "", fmt.Errorf("redis-cli %s: %w: %s", strings.Join(args, " "), err, s)
	}
	return s, nil
}

// info returns the fields of INFO section.
func (r *redisServer) info(section string) (map[string]string, error) {
	out, err := r.cli("INFO", section)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, line := range bytes.Split([]byte(out), []byte("\n")) {
		if k, v, ok := strings.Cut(strings.TrimSpace(string(line)), ":"); ok {
			m[k] = v
		}
	}
	return m, nil
}

// usedMemory is INFO's used_memory, in bytes.
func (r *redisServer) usedMemory() (float64, error) {
	info, err := r.info("memory")
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseFloat(info["used_memory"], 64)
	if err != nil {
		return 0, fmt.Errorf("INFO memory: used_memory %q: %w", info["used_memory"], err)
	}
	return v, nil
}
