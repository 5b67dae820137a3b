package runtimetest

// Slow-consumer protection: with -queue 65536, a client that floods the echo
// with messages and never reads its echoes must be disconnected (close 1008
// if it ever sees a close frame) in bounded time, while a well-behaved client
// on the same server keeps getting echoes throughout: it never waits as long
// as the flooder's connection lives (its 1008 waits -close-timeout for an
// answer that never comes).

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestBackpressure(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"listener", "http"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startEcho(t, "-mode", mode, "-queue", "65536", "-max-message", "1048576", "-close-timeout", floodCloseTimeout.String())
			runScenarios(t, []scenario{{"flooder that never reads is cut off; a good client is served throughout", func(r reporter) {
				backpressure(r, srv.Addr)
			}}})
		})
	}
}

const (
	floodMsgSize      = 16 << 10
	floodMaxBytes     = 256 << 20 // give up flooding after this much
	floodDisconnectBy = 10 * time.Second
	floodCloseTimeout = 4 * time.Second
	// goodMaxLatency bounds the good client's round trips: half the close
	// timeout, so a good client held up until the flooder's connection
	// ends would exceed it, and an unfair but loaded machine would not.
	goodMaxLatency = floodCloseTimeout / 2
)

func backpressure(r reporter, addr string) {
	// The well-behaved client: a ping-pong of small texts every 20ms.
	good, err := dialWS(addr, handshakeOpts{}, 5*time.Second)
	if err != nil {
		r.Fatalf("good client: %v", err)
	}
	defer good.Close()
	gc := &rconn{wsConn: good, cfg: expectConfig{strict: true, timeout: 10 * time.Second}}

	stopGood := make(chan struct{})
	var goodErr error
	var lat []time.Duration
	var rounds atomic.Int64 // len(lat), for waiting on it
	var goodWG sync.WaitGroup
	goodWG.Add(1)
	go func() {
		defer goodWG.Done()
		for i := 0; ; i++ {
			select {
			case <-stopGood:
				return
			case <-time.After(20 * time.Millisecond):
			}
			msg := []byte(fmt.Sprintf("good client message %d", i))
			t0 := time.Now()
			if err := good.writeRaw(textFrame(string(msg)).encode(good.rng), chopWhole, 10*time.Second); err != nil {
				goodErr = fmt.Errorf("message %d: write: %v", i, err)
				return
			}
			m, err := gc.next()
			if err != nil {
				goodErr = fmt.Errorf("message %d: waiting for echo: %s", i, describeReadErr(err))
				return
			}
			if m.op != opText || string(m.payload) != string(msg) {
				goodErr = fmt.Errorf("message %d: got %s, want its echo", i, m)
				return
			}
			lat = append(lat, time.Since(t0))
			rounds.Add(1)
		}
	}()

	time.Sleep(200 * time.Millisecond) // a baseline before the flood

	// The flooder: small receive buffer, writes 16 KiB binaries, never reads.
	flood, err := dialWS(addr, handshakeOpts{}, 5*time.Second)
	if err != nil {
		r.Fatalf("flooder: %v", err)
	}
	defer flood.Close()
	if tc, ok := flood.nc.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(8 << 10)
	}
	start := time.Now()
	payload := binOf(floodMsgSize, 77)
	frameBytes := binFrame(payload).encode(flood.rng)
	sent := 0
	var werr error
	for sent < floodMaxBytes && time.Since(start) < floodDisconnectBy {
		if werr = flood.writeRaw(frameBytes, chopWhole, floodDisconnectBy-time.Since(start)); werr != nil {
			break
		}
		sent += len(frameBytes)
	}
	took := time.Since(start)
	r.Logf("flooder: wrote %d messages (%d KiB) in %v, then: %v", sent/len(frameBytes), sent>>10, took.Round(time.Millisecond), werr)
	switch {
	case werr == nil && sent >= floodMaxBytes:
		r.Fatalf("flooder wrote %d MiB without being disconnected (server never applied -queue 65536)", sent>>20)
	case werr == nil || isTimeout(werr):
		r.Fatalf("flooder not disconnected within %v: the server stopped reading but kept the connection open (%v)", floodDisconnectBy, werr)
	case !isClosedErr(werr):
		r.Fatalf("flooder write failed unexpectedly: %v", werr)
	}

	// Whatever the flooder reads now must end (EOF/reset) without hanging;
	// any close frame in it must be 1008.
	fc := &rconn{wsConn: flood, cfg: expectConfig{strict: true, limit: 1 << 20, timeout: 5 * time.Second}}
	readStart := time.Now()
	echoes := 0
	var closeSeen *message
	for {
		m, err := fc.next()
		if err != nil {
			var pe *errProtocol
			switch {
			case errors.As(err, &pe):
				r.Fatalf("flooder read: %v", err)
			case isTimeout(err):
				r.Fatalf("flooder read hung: no EOF %v after the disconnect (%d echoes, close %v)", time.Since(readStart).Round(time.Millisecond), echoes, closeSeen)
			}
			r.Logf("flooder read: %d echoes, close frame %v, then %v after %v", echoes, closeSeen, err, time.Since(readStart).Round(time.Millisecond))
			break
		}
		if closeSeen != nil {
			r.Fatalf("server sent %s after its close frame", m)
		}
		switch m.op {
		case opBinary:
			if len(m.payload) != floodMsgSize {
				r.Fatalf("flooder echo of %d bytes, want %d", len(m.payload), floodMsgSize)
			}
			echoes++
		case opClose:
			closeSeen = m
			if code := closeBodyCode(m.payload); code != 1008 {
				r.Fatalf("flooder got close %s, want 1008", describeCloseBody(m.payload))
			}
		default:
			r.Fatalf("flooder got unexpected %s", m)
		}
	}

	// The good client keeps going after the cut: a few more round trips,
	// however long a loaded machine takes for them (its latency is
	// bounded below, not its rate), and at least 10 in all.
	after := rounds.Load()
	for deadline := time.Now().Add(20 * time.Second); rounds.Load() < max(after+5, 10) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	close(stopGood)
	goodWG.Wait()
	if goodErr != nil {
		r.Fatalf("good client failed during the flood: %v", goodErr)
	}
	if len(lat) < 10 {
		r.Fatalf("good client completed only %d round trips", len(lat))
	}
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	p50, max := sorted[len(sorted)/2], sorted[len(sorted)-1]
	r.Logf("good client: %d round trips, p50 %v, max %v", len(lat), p50, max)
	if max > goodMaxLatency {
		r.Fatalf("good client echo latency reached %v during the flood (p50 %v), want < %v (half the flooder's -close-timeout)", max, p50, goodMaxLatency)
	}
	// And it still closes cleanly.
	gc.send(r, chopWhole, closeFrame(1000, ""))
	gc.expectClose(r, closeExp{codes: []uint16{1000}})
}
