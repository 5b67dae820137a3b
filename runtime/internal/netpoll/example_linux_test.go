//go:build linux

package netpoll_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/duplexrpc/duplex/runtime/internal/netpoll"
)

// conn is an idle connection: no goroutine and no buffer until it is
// readable.
type conn struct {
	p    *netpoll.Poller
	fd   int
	rc   syscall.RawConn
	work chan<- *conn
}

// Readable runs on the poller's event goroutine: hand off and return. A
// real handler must not block here, nor start a second reader while one is
// reading (see netpoll.Handler).
func (c *conn) Readable(hup bool) { c.work <- c }

func Example() {
	p, err := netpoll.New()
	if err != nil {
		fmt.Println(err) // netpoll.ErrUnsupported: fall back to a goroutine per conn
		return
	}
	defer p.Close()

	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() {
		c, _ := net.Dial("tcp", ln.Addr().String())
		c.Write([]byte("hello"))
		c.Close()
	}()
	nc, _ := ln.Accept()
	defer nc.Close()

	work := make(chan *conn, 1)
	c := &conn{p: p, work: work}
	c.fd, _ = netpoll.FD(nc.(*net.TCPConn))
	c.rc, _ = nc.(*net.TCPConn).SyscallConn()
	if err := p.Add(c.fd, c); err != nil {
		fmt.Println(err)
		return
	}
	defer p.Remove(c.fd) // before nc.Close (deferred calls run last-in first-out)

	// The worker: read until the socket would block, then wait for the
	// next notification (nothing to re-arm: registrations are
	// edge-triggered).
	buf := make([]byte, 512)
	for w := range work {
		for {
			n, err := netpoll.ReadNonblock(w.rc, buf)
			switch {
			case err == nil:
				fmt.Printf("read %q\n", buf[:n])
				continue
			case errors.Is(err, netpoll.ErrWouldBlock):
			case errors.Is(err, io.EOF):
				fmt.Println("peer closed")
				return
			default:
				fmt.Println(err)
				return
			}
			break
		}
	}
	// Output:
	// read "hello"
	// peer closed
}
