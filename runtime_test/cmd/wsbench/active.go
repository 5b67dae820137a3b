//go:build linux

package main

// Figure k: many connections, each active now and then, the load of a
// real deployment (not the saturating loop of figure a): -active
// connections each making one typed call (or raw echo) every
// -active-every, spread over time, over client processes under their
// file limit. Where a server's cost is per connection (a goroutine, its
// stack and buffers, a wake-up per message), this shows it.

import "fmt"

// activeServers are the servers of figure k.
var activeServers = []server{
	{kindDuplexRPC, "rpc"},
	{kindGorillaEcho, "raw"},
	{kindNbioEcho, "raw"},
	{kindDuplexEcho, "raw"},
}

// figureActive is k (server CPU per call), k-lat (p99, p50 among the
// details) and k-rss (the server's RSS under the load).
func (h *harness) figureActive() ([]*figure, error) {
	cfg := h.cfg
	what := fmt.Sprintf("%d connections, one call each every %v", cfg.active, cfg.activeEvery)
	k := &figure{
		ID: "k", Unit: unitNanos, Duplex: kindDuplexRPC, Reference: kindGorillaEcho,
		Title: fmt.Sprintf("server CPU per call with %s: the server process's user+system time over %v / calls answered", what, cfg.activeDuration),
	}
	klat := &figure{
		ID: "k-lat", Unit: unitNanos, Duplex: kindDuplexRPC, Reference: kindGorillaEcho,
		Title: fmt.Sprintf("p99 latency of those calls (%s): send to reply, client side", what),
	}
	krss := &figure{
		ID: "k-rss", Unit: unitBytes, Duplex: kindDuplexRPC, Reference: kindGorillaEcho,
		Title: fmt.Sprintf("server RSS under that load (%s), at the end of the measured part, no GC forced", what),
	}
	// Every connection is calling at its pace when the measurement starts.
	warmup := max(cfg.warmup, cfg.activeEvery) + cfg.activeEvery
	vals, err := h.measure(activeServers, 3, func(s server) ([]value, error) {
		h.logf("k: %s: %s, %v", s.kind, what, warmup+cfg.activeDuration)
		lr, err := h.runLoad("k", s.kind, s.proto, cfg.active, warmup, cfg.activeDuration,
			[]string{"-window", "1", "-every", cfg.activeEvery.String()})
		if err != nil {
			return nil, err
		}
		hs := lr.res.Hist.hist()
		rate := float64(lr.res.Ops) / lr.res.Seconds
		// A call every activeEvery on each connection, less the ones
		// whose next call would have been due after the end.
		want := float64(cfg.active) * cfg.activeDuration.Seconds() / cfg.activeEvery.Seconds()
		return []value{
			lr.cpuValue(s.kind),
			{Server: s.kind, Value: float64(hs.quantile(0.99)), Detail: map[string]float64{
				"p50":          float64(hs.quantile(0.50)),
				"p90":          float64(hs.quantile(0.90)),
				"p999":         float64(hs.quantile(0.999)),
				"max":          float64(hs.max),
				"calls":        float64(lr.res.Ops),
				"calls_of_due": float64(lr.res.Ops) / want,
			}},
			{Server: s.kind, Value: float64(lr.serverRSS), Detail: map[string]float64{
				"rss_per_conn":   float64(lr.serverRSS) / float64(cfg.active),
				"ops_per_second": rate,
			}},
		}, nil
	})
	if err != nil {
		return nil, err
	}
	k.Values, klat.Values, krss.Values = vals[0], vals[1], vals[2]
	for _, f := range []*figure{k, klat, krss} {
		f.ratio()
	}
	k.target(targetRatio, "<=", 0.8)
	k.ratioTargetOn(kindDuplexEcho, "<=", 0.7)
	klat.target(targetRatio, "<=", 1.0)
	krss.target(targetRatio, "<=", 1.0)
	return []*figure{k, klat, krss}, nil
}
