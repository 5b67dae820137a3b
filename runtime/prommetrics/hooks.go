package prommetrics

import (
	"errors"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/duplexrpc/duplex/runtime"
)

// Instrument returns opts with the metrics' hooks in front of those opts
// has (each of which still runs, after the metrics'): connections,
// upgrades, closes, evictions, resumes and the Router's refusals, and, when opts.Engine is set,
// the engine's publishes and state. It does not touch the Router: add
// Interceptor with Router.Use for the calls. Call it once per server.
func (m *Metrics) Instrument(opts runtime.Options) runtime.Options {
	h := &opts.Hooks
	h.OnOpen = before(m.opened, h.OnOpen)
	h.OnClose = before2(m.closed, h.OnClose)
	h.OnHandshakeError = before3(m.refused, h.OnHandshakeError)
	h.OnResume = before2(m.resumed, h.OnResume)
	h.OnRefused = before2(m.callRefused, h.OnRefused)
	if opts.Engine != nil {
		h.OnPublish = before2(m.published, h.OnPublish)
		m.mu.Lock()
		m.engines = append(m.engines, opts.Engine)
		m.mu.Unlock()
	}
	return opts
}

func (m *Metrics) opened(*runtime.Conn) {
	m.connections.Inc()
	m.upgradeBy[UpgradeOK].Inc()
}

// closed counts the close before the gauge goes down, so that a scrape
// after one that saw the connection gone sees its close. (Within one
// scrape, series are listed before their values are read.)
func (m *Metrics) closed(_ *runtime.Conn, ce *runtime.CloseError) {
	by := ClosedByClient
	switch {
	case ce.Code == runtime.CloseAbnormal:
		by = ClosedAbnormal
	case ce.Initiator == runtime.ClosedByServer:
		by = ClosedByServer
	}
	m.closes.WithLabelValues(strconv.Itoa(int(ce.Code)), by).Inc()
	if errors.Is(ce.Err, runtime.ErrSlowConsumer) {
		m.evictions.Inc()
	}
	m.connections.Dec()
}

func (m *Metrics) refused(_ *runtime.Request, status int, err error) {
	m.upgradeBy[upgradeOutcome(status, err)].Inc()
}

// upgradeOutcome names why an upgrade was refused, from what
// Hooks.OnHandshakeError was given.
func upgradeOutcome(status int, err error) string {
	switch {
	case errors.Is(err, runtime.ErrOriginNotAllowed):
		return UpgradeOrigin
	case errors.Is(err, runtime.ErrBadHandshake):
		return UpgradeBadHandshake
	case errors.Is(err, runtime.ErrConnectionLimit):
		return UpgradeLimit
	case errors.Is(err, runtime.ErrServerClosed):
		return UpgradeShutdown
	case errors.Is(err, os.ErrDeadlineExceeded):
		return UpgradeTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return UpgradeTimeout
	}
	var he *runtime.HTTPError
	if status != 0 && errors.As(err, &he) {
		// Authorize's (the transport's own refusals have their causes
		// above), or the 500 of a server that cannot take the
		// connection over (an HTTP/2 ResponseWriter).
		return UpgradeRefused
	}
	return UpgradeFailed
}

func (m *Metrics) resumed(_ *runtime.Conn, outcome string) {
	if c, ok := m.resumeBy[outcome]; ok {
		c.Inc()
	}
}

func (m *Metrics) callRefused(_ *runtime.Conn, code string) {
	if c, ok := m.refusedBy[code]; ok {
		c.Inc()
	}
}

func (m *Metrics) published(d time.Duration, err error) {
	m.publishTime.Observe(d.Seconds())
	if err != nil {
		m.publishErrs.Inc()
	}
}

// before returns a hook that runs first, then next when set.
func before[A any](first, next func(A)) func(A) {
	if next == nil {
		return first
	}
	return func(a A) { first(a); next(a) }
}

func before2[A, B any](first, next func(A, B)) func(A, B) {
	if next == nil {
		return first
	}
	return func(a A, b B) { first(a, b); next(a, b) }
}

func before3[A, B, C any](first, next func(A, B, C)) func(A, B, C) {
	if next == nil {
		return first
	}
	return func(a A, b B, c C) { first(a, b, c); next(a, b, c) }
}
