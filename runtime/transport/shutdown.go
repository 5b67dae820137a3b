package transport

import "context"

// Shutdown stops the server gracefully: listeners given to Serve are
// closed, new upgrades get 503, every connection is sent close 1001 (going
// away), and Shutdown waits until their close handshakes end (and upgrades
// already in progress have opened and closed the same way) or ctx is done,
// then closes whatever is left. Every ConnHandler.Closed and
// Hooks.OnClose has returned when it returns. It returns ctx.Err() when it
// had to cut connections off. Calls after the first wait like the first.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.shutdown(ctx, CloseGoingAway, "server shutting down")
}

// Restart is Shutdown with close code 1012 (service restart), which tells
// clients to reconnect promptly.
func (s *Server) Restart(ctx context.Context) error {
	return s.shutdown(ctx, CloseServiceRestart, "server restarting")
}

// Closing reports whether Shutdown or Restart has been called: the server
// refuses new upgrades (503) and is closing its connections.
func (s *Server) Closing() bool { return s.closing.Load() }

func (s *Server) shutdown(ctx context.Context, code uint16, reason string) error {
	s.mu.Lock()
	first := !s.closing.Load()
	if first {
		s.closeCode.Store(uint32(code))
		s.closing.Store(true)
	}
	for ln := range s.listeners {
		_ = ln.Close()
	}
	drained := s.drained
	if drained == nil {
		drained = make(chan struct{})
		if s.slots == 0 { // open connections and upgrades in progress
			close(drained)
		} else {
			s.drained = drained
		}
	}
	s.mu.Unlock()

	if first {
		if h := s.cfg.Hooks.OnShutdown; h != nil {
			h(code)
		}
		for _, c := range s.snapshot(nil) {
			c.closeWith(code, reason, nil, closeHandshake)
		}
	}
	var err error
	select {
	case <-drained:
	case <-ctx.Done():
		err = ctx.Err()
		for _, c := range s.snapshot(nil) {
			c.finish()
		}
	}
	s.stopOnce.Do(func() {
		s.cancel()
		if s.poller != nil {
			_ = s.poller.Close()
		}
		s.pool.close()
	})
	return err
}
