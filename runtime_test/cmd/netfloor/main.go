//go:build linux

package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"runtime/debug"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 9000, "connections to measure (both ends are in this process)")
	flag.Parse()
	f, err := measure(*n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netfloor:", err)
		os.Exit(1)
	}
	fmt.Printf("%d idle net.Conns (accepted, nothing read): RSS %.0f B/conn, Go heap in use %.0f B/conn, outside the heap %.0f B/conn\n",
		f.conns, f.rss, f.heap, f.rss-f.heap)
}

// floor is what measure found: bytes per connection.
type floor struct {
	conns     int // connections accepted and held at the measurement
	rss, heap float64
}

// measure opens n connections (after a warm-up of its own) and returns
// the growth of RSS and of the heap in use per connection.
func measure(n int) (floor, error) {
	const warm = 500
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return floor{}, fmt.Errorf("get file limit: %w", err)
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return floor{}, fmt.Errorf("raise file limit: %w", err)
	}
	if need := uint64(2*(n+warm) + 100); need > lim.Cur {
		return floor{}, fmt.Errorf("%d connections need a file limit above %d; it is %d", n, need, lim.Cur)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return floor{}, fmt.Errorf("listen: %w", err)
	}
	defer ln.Close()
	addr := ln.Addr().(*net.TCPAddr)
	accepted := make(chan net.Conn, 64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	var (
		conns []net.Conn
		fds   []int
	)
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	}()
	open := func(k int) error {
		sa := &syscall.SockaddrInet4{Port: addr.Port}
		copy(sa.Addr[:], addr.IP.To4())
		for range k {
			fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("socket: %w", err)
			}
			fds = append(fds, fd)
			if err := syscall.Connect(fd, sa); err != nil {
				return fmt.Errorf("connect: %w", err)
			}
			select {
			case c, ok := <-accepted:
				if !ok {
					return fmt.Errorf("accept stopped")
				}
				conns = append(conns, c)
			case <-time.After(10 * time.Second):
				return fmt.Errorf("no connection accepted in 10s")
			}
		}
		return nil
	}
	if err := open(warm); err != nil {
		return floor{}, err
	}
	rss0, heap0, err := settled()
	if err != nil {
		return floor{}, err
	}
	if err := open(n); err != nil {
		return floor{}, err
	}
	rss1, heap1, err := settled()
	if err != nil {
		return floor{}, err
	}
	per := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(n) }
	f := floor{conns: len(conns) - warm, rss: per(rss0, rss1), heap: per(heap0, heap1)}
	runtime.KeepAlive(conns)
	return f, nil
}

// settled returns VmRSS and the heap in use after a collection and
// FreeOSMemory.
func settled() (rss, heap uint64, err error) {
	time.Sleep(100 * time.Millisecond)
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rss, err = vmRSS()
	return rss, ms.HeapInuse, err
}

// vmRSS reads the process's resident set from /proc/self/status.
func vmRSS() (uint64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmRSS:")); ok {
			var kb uint64
			if _, err := fmt.Sscan(string(rest), &kb); err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/self/status")
}
