package duplexclient_test

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy forwards TCP connections to a server, so that a test can break
// them the way a network does: cut drops every connection at once (the
// client sees no close frame), refuse makes new connections fail at
// once, and blackhole stops forwarding on the connections open now while
// keeping them open (a dead peer); later connections work.
type proxy struct {
	ln     net.Listener
	target string

	mu      sync.Mutex
	conns   []net.Conn
	links   []*atomic.Bool // per connection: silent
	refused bool
	accepts int
	up      int // bytes forwarded from clients to the server
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
	})
	return p
}

func (p *proxy) url() string { return "ws://" + p.ln.Addr().String() + "/" }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepts++
		if p.refused {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.mu.Unlock()
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		silent := new(atomic.Bool)
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.links = append(p.links, silent)
		p.mu.Unlock()
		go p.pipe(c, up, false, silent)
		go p.pipe(up, c, true, silent)
	}
}

// pipe copies from src to dst until either fails, dropping what it reads
// while the proxy is silent.
func (p *proxy) pipe(dst, src net.Conn, upstream bool, silent *atomic.Bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			quiet := silent.Load()
			if upstream && !quiet {
				p.mu.Lock()
				p.up += n
				p.mu.Unlock()
			}
			if !quiet {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
		}
		if err != nil {
			break
		}
	}
	_ = dst.Close()
	_ = src.Close()
	_, _ = io.Copy(io.Discard, src)
}

// cut closes every connection: both peers see the TCP connection end
// without a close frame.
func (p *proxy) cut() {
	p.mu.Lock()
	conns := p.conns
	p.conns = nil
	p.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// refuse makes new connections fail (true) or pass again (false).
func (p *proxy) refuse(on bool) {
	p.mu.Lock()
	p.refused = on
	p.mu.Unlock()
}

// blackhole makes the connections open now drop every byte.
func (p *proxy) blackhole() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.links {
		l.Store(true)
	}
}

func (p *proxy) upBytes() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up
}

func (p *proxy) acceptCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepts
}
