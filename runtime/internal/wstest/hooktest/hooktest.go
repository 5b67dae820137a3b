// Package hooktest records the hook calls of a transport.Server for the
// black-box tests of runtime and runtime/transport.
package hooktest

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// CloseEvent is one OnClose call.
type CloseEvent struct {
	Conn *transport.Conn
	Err  *transport.CloseError
	At   time.Time
}

// HealthEvent is one OnHealth call.
type HealthEvent struct {
	Conn *transport.Conn
	H    transport.Health
}

// ConnErr is one OnError call.
type ConnErr struct {
	Conn *transport.Conn
	Err  error
}

// HandshakeErr is one OnHandshakeError call.
type HandshakeErr struct {
	Req    *transport.Request
	Status int
	Err    error
}

// Recorder records every hook call; the channels are buffered generously
// so that hooks never block the transport.
type Recorder struct {
	Mu         sync.Mutex
	Opened     []*transport.Conn
	CloseCount map[*transport.Conn]int
	Connects   int

	Opens     chan *transport.Conn
	Closes    chan CloseEvent
	Health    chan HealthEvent
	Errs      chan ConnErr
	HsErrs    chan HandshakeErr
	Shutdowns chan uint16
}

// New returns an empty Recorder.
func New() *Recorder {
	return &Recorder{
		CloseCount: make(map[*transport.Conn]int),
		Opens:      make(chan *transport.Conn, 1000),
		Closes:     make(chan CloseEvent, 1000),
		Health:     make(chan HealthEvent, 1000),
		Errs:       make(chan ConnErr, 1000),
		HsErrs:     make(chan HandshakeErr, 1000),
		Shutdowns:  make(chan uint16, 10),
	}
}

// Wrap returns hooks that record and then call the test's own hooks.
func (r *Recorder) Wrap(h transport.Hooks) transport.Hooks {
	return transport.Hooks{
		OnConnect: func(a net.Addr) {
			r.Mu.Lock()
			r.Connects++
			r.Mu.Unlock()
			if h.OnConnect != nil {
				h.OnConnect(a)
			}
		},
		OnHandshakeError: func(req *transport.Request, status int, err error) {
			r.HsErrs <- HandshakeErr{req, status, err}
			if h.OnHandshakeError != nil {
				h.OnHandshakeError(req, status, err)
			}
		},
		OnOpen: func(c *transport.Conn) {
			r.Mu.Lock()
			r.Opened = append(r.Opened, c)
			r.Mu.Unlock()
			if h.OnOpen != nil {
				h.OnOpen(c)
			}
			r.Opens <- c
		},
		OnClose: func(c *transport.Conn, e *transport.CloseError) {
			r.Mu.Lock()
			r.CloseCount[c]++
			r.Mu.Unlock()
			if h.OnClose != nil {
				h.OnClose(c, e)
			}
			r.Closes <- CloseEvent{c, e, time.Now()}
		},
		OnHealth: func(c *transport.Conn, hh transport.Health) {
			r.Health <- HealthEvent{c, hh}
			if h.OnHealth != nil {
				h.OnHealth(c, hh)
			}
		},
		OnError: func(c *transport.Conn, err error) {
			r.Errs <- ConnErr{c, err}
			if h.OnError != nil {
				h.OnError(c, err)
			}
		},
		OnShutdown: func(code uint16) {
			r.Shutdowns <- code
			if h.OnShutdown != nil {
				h.OnShutdown(code)
			}
		},
	}
}

// NextOpen waits for the next OnOpen.
func (r *Recorder) NextOpen(t testing.TB) *transport.Conn {
	t.Helper()
	select {
	case c := <-r.Opens:
		return c
	case <-time.After(wstest.IOTimeout):
		t.Fatal("timed out waiting for OnOpen")
		return nil
	}
}

// NextClose waits for the next OnClose.
func (r *Recorder) NextClose(t testing.TB) CloseEvent {
	t.Helper()
	select {
	case e := <-r.Closes:
		return e
	case <-time.After(wstest.IOTimeout):
		t.Fatal("timed out waiting for OnClose")
		return CloseEvent{}
	}
}

// NextHandshakeErr waits for the next OnHandshakeError.
func (r *Recorder) NextHandshakeErr(t testing.TB) HandshakeErr {
	t.Helper()
	select {
	case e := <-r.HsErrs:
		return e
	case <-time.After(wstest.IOTimeout):
		t.Fatal("timed out waiting for OnHandshakeError")
		return HandshakeErr{}
	}
}

// NextError waits for the next OnError.
func (r *Recorder) NextError(t testing.TB) ConnErr {
	t.Helper()
	select {
	case e := <-r.Errs:
		return e
	case <-time.After(wstest.IOTimeout):
		t.Fatal("timed out waiting for OnError")
		return ConnErr{}
	}
}

// NoClose fails if an OnClose arrives within d.
func (r *Recorder) NoClose(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case e := <-r.Closes:
		t.Fatalf("unexpected OnClose: %v", e.Err)
	case <-time.After(d):
	}
}

// CheckClosedOnce verifies that every opened connection got exactly one
// OnClose, waiting a little for hooks still running.
func (r *Recorder) CheckClosedOnce(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(wstest.IOTimeout)
	for {
		r.Mu.Lock()
		var missing, extra int
		for _, c := range r.Opened {
			switch n := r.CloseCount[c]; {
			case n == 0:
				missing++
			case n > 1:
				extra++
			}
		}
		r.Mu.Unlock()
		if extra > 0 {
			t.Errorf("%d connections got OnClose more than once", extra)
			return
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%d connections never got OnClose", missing)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
