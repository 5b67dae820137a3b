package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Re-asserting a node's state after its shared engine lost its own (a
// Redis restarted without its data: a new epoch; docs/engine.md, "When
// the engine loses its state"). The node keeps its connections: each
// session goes on numbering from its seq in the new epoch (its topics
// start again there, so that a client's resume from before the loss
// answers "overrun"); at a Sync point of the new epoch each gets an exact
// checkpoint, then the node writes its sessions' records and claims
// again what its sessions had claimed through Server.Presence.

// claimsAttr is the attribute in which a record carries the presence
// claims its session made (JSON [[group, key], ...]), so that the node
// that resumes the session can claim them again after a loss.
const claimsAttr = "duplex.claims"

// claim is a presence claim made by a session, its ID the owner.
type claim struct{ group, key string }

// rebase keeps the node's sessions across the loss of the engine's state,
// on the delivery path (Lost): each numbers the new epoch's events after
// its seq, whatever their position, and its topics start there. A session
// whose deliveries a resume or a record write holds cannot be rebased
// under it: it is lost, as before.
func (s *Server) rebase(err error) {
	s.reportError(nil, fmt.Errorf("runtime: the engine lost its state; this node's sessions go on and their records and claims are written again: %w", err))
	old := s.epoch.Load()
	s.dmu.Lock()
	all := make([]*Session, 0, len(s.all))
	for sess := range s.all {
		all = append(all, sess)
	}
	s.dmu.Unlock()
	for _, sess := range all {
		sess.pushMu.Lock()
		switch {
		case sess.lost:
		case old != 0 && sess.pos.Epoch != 0 && sess.pos.Epoch != old:
			// Resumed here from a record another node wrote in the
			// new epoch, before this node learnt of it: its
			// checkpoint is in the new epoch already.
		case sess.hold > 0:
			sess.lost = true
			if c := sess.Conn(); c != nil {
				go c.Close(CloseServiceRestart, "events lost")
			}
		default:
			sess.since = sess.seq
			sess.pos = Position{} // the next epoch's first event is after it
			sess.reassert, sess.reclaim = true, true
		}
		sess.pushMu.Unlock()
	}
	select {
	case s.reasserts <- struct{}{}:
	default: // one pending already
	}
}

// reassertLoop writes the node's records and claims again after each
// rebase, until the node closes.
func (s *Server) reassertLoop() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.reasserts:
		}
		for s.ctx.Err() == nil && !s.reassert() {
			select {
			case <-s.ctx.Done():
			case <-time.After(s.cfg.refreshPeriod()):
			}
		}
	}
}

// reassert gives every rebased session a checkpoint at a Sync point of
// the new epoch, then writes its record and claims again. It reports
// whether it got through; the loop tries again otherwise.
func (s *Server) reassert() bool {
	ctx := s.ctx
	done := make(chan struct{})
	err := s.engine.Sync(ctx, func(p Position) {
		defer close(done)
		s.epoch.Store(p.Epoch)
		s.dmu.Lock()
		defer s.dmu.Unlock()
		for sess := range s.all {
			sess.pushMu.Lock()
			// Everything up to p was delivered: (seq, p) is exact.
			if sess.reassert && !sess.lost && sess.hold == 0 && (sess.pos == Position{} || sess.pos.Epoch == p.Epoch) {
				sess.pos = p
			}
			sess.pushMu.Unlock()
		}
	})
	if err != nil {
		s.reportError(nil, fmt.Errorf("runtime: re-assert after the engine lost its state: %w", err))
		return false
	}
	select {
	case <-done:
	case <-ctx.Done():
		return false
	}
	s.dmu.Lock()
	all := make([]*Session, 0, len(s.all))
	for sess := range s.all {
		all = append(all, sess)
	}
	s.dmu.Unlock()
	// refreshWorkers writes in flight, as the refreshes: a remote engine
	// pipelines them.
	var failed atomic.Bool
	next := make(chan *Session)
	var wg sync.WaitGroup
	for range refreshWorkers {
		wg.Go(func() {
			for sess := range next {
				if err := s.reassertOne(ctx, sess); err != nil {
					s.reportError(nil, fmt.Errorf("runtime: re-assert session %s: %w", sess.ID(), err))
					failed.Store(true)
				}
			}
		})
	}
	for _, sess := range all {
		next <- sess
	}
	close(next)
	wg.Wait()
	return !failed.Load()
}

// reassertOne writes the record of a rebased session again, once (a
// second write could bring back a record that a resume took after the
// first), then claims again what it claimed. Its joinMu orders the write
// with its refreshes.
func (s *Server) reassertOne(ctx context.Context, sess *Session) error {
	sess.joinMu.Lock()
	defer sess.joinMu.Unlock()
	sess.pushMu.Lock()
	record, reclaim := sess.reassert && !sess.lost, sess.reclaim && !sess.lost
	early := sess.pos == Position{}
	sess.pushMu.Unlock()
	if record {
		if early {
			// Held at the Sync point (a Join's record write): the
			// next round's Sync point gives it its checkpoint.
			return errors.New("no checkpoint in the new epoch yet")
		}
		if k := sess.rkey.Load(); k != nil {
			if err := s.engine.SaveSession(ctx, *k, sess.state(s.sessions.expiryOf(sess))); err != nil {
				return err
			}
		}
		sess.pushMu.Lock()
		sess.reassert = false
		sess.pushMu.Unlock()
	}
	if !reclaim {
		return nil
	}
	sess.mu.Lock()
	claims := slices.Clone(sess.claims)
	sess.mu.Unlock()
	for _, c := range claims {
		holder, won, err := s.engine.Claim(ctx, c.group, c.key, sess.ID())
		if err != nil {
			return err
		}
		if !won {
			// Claimed by another session meanwhile: the claim is
			// that one's now.
			sess.forgetClaim(c.group, c.key)
			s.reportError(nil, fmt.Errorf("runtime: re-assert claim %q of %q for session %s: held by %q", c.key, c.group, sess.ID(), holder))
		}
	}
	sess.pushMu.Lock()
	sess.reclaim = false
	sess.pushMu.Unlock()
	return nil
}

// noteClaim remembers a claim won by owner, when owner is the ID of a
// session held here.
func (s *Server) noteClaim(group, key, owner string) {
	sess := s.localSession(owner)
	if sess == nil {
		return
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if !slices.Contains(sess.claims, claim{group, key}) {
		sess.claims = append(sess.claims, claim{group, key})
	}
}

// forgetClaim undoes noteClaim, after a release.
func (s *Server) forgetClaim(group, key, owner string) {
	if sess := s.localSession(owner); sess != nil {
		sess.forgetClaim(group, key)
	}
}

func (sess *Session) forgetClaim(group, key string) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if i := slices.Index(sess.claims, claim{group, key}); i >= 0 {
		sess.claims = slices.Delete(sess.claims, i, i+1)
	}
}

// localSession returns the session held here whose ID is id, or nil.
func (s *Server) localSession(id string) *Session {
	u, ok := parseUUID(id)
	if !ok {
		return nil
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	return s.own[u]
}

// claimsAttrLocked returns the value of claimsAttr for the session's
// claims, if it has any. mu held.
func (sess *Session) claimsAttrLocked() (string, bool) {
	if len(sess.claims) == 0 {
		return "", false
	}
	l := make([][2]string, len(sess.claims))
	for i, c := range sess.claims {
		l[i] = [2]string{c.group, c.key}
	}
	b, _ := json.Marshal(l)
	return string(b), true
}

// parseClaimsAttr returns the claims a record's attribute carries.
func parseClaimsAttr(v string) []claim {
	var l [][2]string
	if json.Unmarshal([]byte(v), &l) != nil {
		return nil
	}
	claims := make([]claim, len(l))
	for i, c := range l {
		claims[i] = claim{c[0], c[1]}
	}
	return claims
}

// reasserting reports whether the session's record is yet to be written
// again after the engine lost its state.
func (sess *Session) reasserting() bool {
	sess.pushMu.Lock()
	defer sess.pushMu.Unlock()
	return sess.reassert
}
