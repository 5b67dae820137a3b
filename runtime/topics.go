package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

// Topics (docs/engine.md): every event goes through the Engine, published
// on a topic, and comes back to every node whose sessions belong to that
// topic. A session belongs to its own topic (Push), to BroadcastTopic
// (Broadcast) and to the topics it joined (Join). The node numbers each
// session's events in the engine's order as they are delivered, which is
// what makes a session's seq the same on every node.

// BroadcastTopic is the topic every session belongs to: Server.Broadcast
// publishes on it. Topic names starting with "duplex." are the runtime's;
// a session's own topic is "duplex.s.<session id>".
const BroadcastTopic = "duplex.all"

const (
	reservedTopicPrefix = "duplex."
	ownTopicPrefix      = "duplex.s."
)

// errReservedTopic is returned for a topic name of the runtime's.
var errReservedTopic = errors.New(`runtime: topic names starting with "duplex." are reserved`)

func checkAppTopic(topic string) error {
	switch {
	case topic == "":
		return errors.New("runtime: empty topic")
	case strings.HasPrefix(topic, reservedTopicPrefix):
		return errReservedTopic
	}
	return nil
}

// ownTopic returns the name of the session's own topic.
func ownTopic(u *[16]byte) string {
	b := make([]byte, 0, len(ownTopicPrefix)+uuidLen)
	b = append(b, ownTopicPrefix...)
	return string(appendUUID(b, u))
}

// ownTopicID returns the session ID of an own topic.
func ownTopicID(topic string) ([16]byte, bool) {
	id, ok := strings.CutPrefix(topic, ownTopicPrefix)
	if !ok {
		return [16]byte{}, false
	}
	return parseUUID(id)
}

// Publish publishes the event on topic through the engine: every session
// that joined topic (Session.Join), on any node sharing the engine, gets it
// numbered with its next seq, and keeps it for its resume while it waits
// for its client. The event is encoded once. It returns once the engine
// ordered the event (the in-memory engine delivers it to this node's
// sessions before it returns, unless another goroutine is delivering at
// the time); events published one after the other reach every session in
// that order. Topic names starting with "duplex." are refused.
func (s *Server) Publish(ctx context.Context, topic, event string, data []byte) error {
	if err := checkAppTopic(topic); err != nil {
		return err
	}
	return s.publish(ctx, topic, event, data)
}

func (s *Server) publish(ctx context.Context, topic, event string, data []byte) error {
	var start time.Time
	hook := s.cfg.Hooks.OnPublish
	if hook != nil {
		start = time.Now()
	}
	_, err := s.engine.Publish(ctx, topic, newEventPayload(event, data))
	if hook != nil {
		hook(time.Since(start), err)
	}
	if err != nil {
		return s.unavailable(fmt.Errorf("runtime: publish %q on %q: %w", event, topic, err))
	}
	return nil
}

// ServerOf returns the Server of the call that ctx belongs to (a method's
// context, or one derived from it), or nil. Handlers reach the server's
// Broadcast, Publish and Presence through it (or Session.Server), so that
// an app needs no reference to the server at construction.
func ServerOf(ctx context.Context) *Server {
	if cc, ok := ctx.Value(callContextKey{}).(*callContext); ok {
		return cc.srv
	}
	return nil
}

// Server returns the server the session belongs to.
func (s *Session) Server() *Server { return s.srv }

// Join makes the session a member of topic: every event published on it
// after Join returns (Server.Publish, from any node sharing the engine)
// reaches the session, numbered in order with its other events, until
// Leave or the session's end. Joining a topic twice does nothing. A client
// that resumes with a seq from before a Join or a Leave cannot be given
// what it missed (its events were numbered with other topics): the resume
// answers "overrun". Topic names starting with "duplex." are refused;
// ErrClosed when the session has ended.
func (s *Session) Join(ctx context.Context, topic string) error {
	if err := checkAppTopic(topic); err != nil {
		return err
	}
	return s.changeTopic(ctx, topic, true)
}

// Leave ends the session's membership of topic; see Join. Leaving a topic
// the session is not a member of does nothing.
func (s *Session) Leave(ctx context.Context, topic string) error {
	if err := checkAppTopic(topic); err != nil {
		return err
	}
	return s.changeTopic(ctx, topic, false)
}

// Topics returns the topics the session joined, in the order it joined
// them (its own topic and BroadcastTopic, which every session has, are not
// listed).
func (s *Session) Topics() []string {
	s.pushMu.Lock()
	defer s.pushMu.Unlock()
	return slices.Clone(s.joinedLocked())
}

// changeTopic joins or leaves topic at a Sync point of the node's
// deliveries (docs/engine.md): everything delivered before it is numbered
// with the old topics, everything after with the new ones.
func (s *Session) changeTopic(ctx context.Context, topic string, join bool) error {
	srv := s.srv
	s.joinMu.Lock()
	defer s.joinMu.Unlock()
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	s.pushMu.Lock()
	member := slices.Contains(s.joinedLocked(), topic)
	s.pushMu.Unlock()
	switch {
	case ended:
		return ErrClosed
	case member == join:
		return nil
	}
	if join {
		if err := srv.ref(ctx, topic); err != nil {
			return srv.unavailable(err)
		}
	}
	// With a record, the deliveries after the Sync point are held until
	// the record has the new topics (sessionrecords.go).
	k := s.rkey.Load()
	done := make(chan struct{})
	held := false
	err := srv.engine.Sync(ctx, func(p Position) {
		defer close(done)
		srv.dmu.Lock()
		if s.gone {
			srv.dmu.Unlock()
			if join {
				go srv.unref(topic) // the end did not count it
			}
			return
		}
		if join {
			set := srv.rooms[topic]
			if set == nil {
				set = make(map[*Session]struct{})
				srv.rooms[topic] = set
			}
			set[s] = struct{}{}
		} else if set := srv.rooms[topic]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(srv.rooms, topic)
			}
		}
		s.pushMu.Lock()
		if join {
			l := s.listsLocked()
			l.joined = append(l.joined, topic)
		} else if l := s.lists; l != nil {
			if i := slices.Index(l.joined, topic); i >= 0 {
				l.joined = slices.Delete(l.joined, i, i+1)
			}
		}
		s.syncPointLocked(p)
		if k != nil {
			s.hold++
			held = true
		}
		s.pushMu.Unlock()
		srv.dmu.Unlock()
		if !join {
			go srv.unref(topic) // after its last delivery to s
		}
	})
	if err != nil {
		if join {
			srv.unref(topic)
		}
		return srv.unavailable(fmt.Errorf("runtime: %s %q: %w", map[bool]string{true: "join", false: "leave"}[join], topic, err))
	}
	if k == nil {
		return nil
	}
	select {
	case <-done:
	case <-srv.ctx.Done(): // the node closed: f may never run
		return ErrClosed
	}
	if !held {
		return nil // the session ended meanwhile
	}
	return srv.sessions.writeTopicsLocked(ctx, s, k)
}

// syncPointLocked makes (seq, p) the session's checkpoint and its topics'
// start, at a Sync point: every event up to p was delivered before. While
// a resume holds the session's deliveries, it is held with them, in order.
// pushMu held.
func (s *Session) syncPointLocked(p Position) {
	if s.hold > 0 {
		l := s.listsLocked()
		l.held = append(l.held, heldEvent{pos: p})
		return
	}
	s.since = s.seq
	s.pos = p
}

// ref counts one more session of this node wanting topic, subscribing the
// node on the first.
func (s *Server) ref(ctx context.Context, topic string) error {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.refs[topic] == 0 {
		if err := s.engine.Subscribe(ctx, topic); err != nil {
			return fmt.Errorf("runtime: subscribe %q: %w", topic, err)
		}
	}
	s.refs[topic]++
	return nil
}

// unref undoes ref, unsubscribing the node after the last session.
func (s *Server) unref(topic string) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if s.refs[topic]--; s.refs[topic] > 0 {
		return
	}
	delete(s.refs, topic)
	if err := s.engine.Unsubscribe(context.Background(), topic); err != nil && !errors.Is(err, ErrEngineClosed) {
		s.reportError(nil, fmt.Errorf("runtime: unsubscribe %q: %w", topic, err))
	}
}

// openSession subscribes the node to a new session's own topic and makes
// the session a member of its topics at a Sync point, numbering from 0.
func (s *Server) openSession(sess *Session) {
	sess.own = ownTopic(&sess.uuid)
	ctx := s.ctx
	err := s.engine.Subscribe(ctx, sess.own)
	if err == nil {
		err = s.engine.Sync(ctx, func(p Position) {
			s.epoch.Store(p.Epoch)
			sess.pushMu.Lock()
			sess.syncPointLocked(p)
			sess.pushMu.Unlock()
			s.register(sess)
		})
	}
	if err != nil {
		// Without the engine the session would get no events: the
		// connection is closed with 1013 (try again later), before its
		// hello could be welcomed, and the session is lost (a resume of
		// it answers "overrun").
		s.reportError(nil, fmt.Errorf("runtime: open session: %w", err))
		sess.pushMu.Lock()
		sess.lost = true
		sess.pushMu.Unlock()
		if c := sess.Conn(); c != nil {
			go c.Close(CloseTryAgainLater, "engine unavailable")
		}
	}
}

// register makes sess a member of its topics on this node, unless it has
// ended.
func (s *Server) register(sess *Session) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	if sess.gone {
		return
	}
	s.all[sess] = struct{}{}
	s.own[sess.uuid] = sess
	sess.pushMu.Lock()
	topics := sess.joinedLocked()
	sess.pushMu.Unlock()
	for _, t := range topics {
		set := s.rooms[t]
		if set == nil {
			set = make(map[*Session]struct{})
			s.rooms[t] = set
		}
		set[sess] = struct{}{}
	}
}

// dropSession removes sess from this node's audiences for good and ends
// the node's subscriptions for it. It does not run the end hook: see
// endSession.
func (s *Server) dropSession(sess *Session) {
	s.dmu.Lock()
	if sess.gone {
		s.dmu.Unlock()
		return
	}
	sess.gone = true
	delete(s.all, sess)
	if s.own[sess.uuid] == sess {
		delete(s.own, sess.uuid)
	}
	sess.pushMu.Lock()
	topics := slices.Clone(sess.joinedLocked())
	sess.pushMu.Unlock()
	for _, t := range topics {
		if set := s.rooms[t]; set != nil {
			delete(set, sess)
			if len(set) == 0 {
				delete(s.rooms, t)
			}
		}
	}
	s.dmu.Unlock()
	if sess.own != "" {
		if err := s.engine.Unsubscribe(context.Background(), sess.own); err != nil && !errors.Is(err, ErrEngineClosed) {
			s.reportError(nil, fmt.Errorf("runtime: unsubscribe %q: %w", sess.own, err))
		}
	}
	for _, t := range topics {
		s.unref(t) // counted by Join, or by the resume that made sess
	}
}

// receiver is the Server as the engine's Receiver, and BatchReceiver.
type receiver Server

var _ BatchReceiver = (*receiver)(nil)

// Deliver implements Receiver: it fans the event out to the sessions of
// its topic held here, each numbering it with its next seq and queueing it
// on its connection without blocking.
func (r *receiver) Deliver(ev Event) { r.deliver(&ev, nil) }

// DeliverBatch implements BatchReceiver: it fans out the events as
// Deliver does, one after the other, but queues them corked on the
// connections (Conn.WriteMessageCorked) and uncorks each connection it
// wrote to once, after maxCorkedEvents events at most and at the end: a
// connection's events of a batch go out with one system call rather than
// one each. A batch of one event (an idle node's) is delivered as
// Deliver does: corking would only cost the queueing.
func (r *receiver) DeliverBatch(evs []Event) {
	if len(evs) == 1 {
		r.deliver(&evs[0], nil)
		return
	}
	b := &r.batch
	for i := range evs {
		r.deliver(&evs[i], b)
		if (i+1)%maxCorkedEvents == 0 {
			b.uncork()
		}
	}
	b.uncork()
}

// maxCorkedEvents is how many events of a batch DeliverBatch fans out
// before it uncorks the connections: it bounds the wait of a batch's first
// events for their write.
const maxCorkedEvents = 128

// deliveryBatch is the state of DeliverBatch, the delivery path's (one
// call at a time): the connections written corked, in one list per
// goroutine of a fan-out (parts), each listed once per batch
// (Session.corked).
type deliveryBatch struct {
	parts [][]corkedConn
}

// corkedConn is a connection written corked for session s.
type corkedConn struct {
	s *Session
	c *Conn
}

// list returns the list of the i-th goroutine of a fan-out; nil without
// a batch (Deliver).
func (b *deliveryBatch) list(i int) *[]corkedConn {
	if b == nil {
		return nil
	}
	for len(b.parts) <= i {
		b.parts = append(b.parts, nil)
	}
	return &b.parts[i]
}

// uncork uncorks the connections listed, each part's on a goroutine of
// its own as the fan-out wrote them, and empties the lists.
func (b *deliveryBatch) uncork() {
	var wg sync.WaitGroup
	for i := 1; i < len(b.parts); i++ {
		if len(b.parts[i]) > 0 {
			wg.Go(func() { uncorkAll(&b.parts[i]) })
		}
	}
	if len(b.parts) > 0 {
		uncorkAll(&b.parts[0])
	}
	wg.Wait()
}

func uncorkAll(list *[]corkedConn) {
	for _, e := range *list {
		e.s.mu.Lock()
		e.s.corked = false
		e.s.mu.Unlock()
		e.c.Uncork()
	}
	clear(*list)
	*list = (*list)[:0]
}

// deliver fans ev out; with a batch, corked (DeliverBatch).
func (r *receiver) deliver(ev *Event, b *deliveryBatch) {
	s := (*Server)(r)
	if s.epoch.Load() != ev.Pos.Epoch {
		s.epoch.Store(ev.Pos.Epoch)
	}
	if s.nodeTopic != "" && ev.Topic == s.nodeTopic {
		s.control(ev.Payload)
		return
	}
	body, err := eventBodyFromPayload(ev.Payload)
	if err != nil {
		s.reportError(nil, fmt.Errorf("runtime: deliver %v on %q: %w", ev.Pos, ev.Topic, err))
		return
	}
	if ev.Topic != BroadcastTopic {
		if u, ok := ownTopicID(ev.Topic); ok {
			s.dmu.Lock()
			sess := s.own[u]
			s.dmu.Unlock()
			if sess != nil {
				sess.deliver(ev.Pos, body, b.list(0))
			}
			return
		}
	}
	list := audiences.Get().(*[]*Session)
	all := s.audience((*list)[:0], ev.Topic)
	defer func() {
		clear(all)
		*list = all[:0]
		audiences.Put(list)
	}()
	parts := min(goruntime.GOMAXPROCS(0), (len(all)+broadcastChunk-1)/broadcastChunk)
	if parts <= 1 {
		deliverAll(all, ev.Pos, body, b.list(0))
		return
	}
	size := (len(all) + parts - 1) / parts
	var wg sync.WaitGroup
	for i, k := size, 1; i < len(all); i, k = i+size, k+1 {
		part, batch := all[i:min(i+size, len(all))], b.list(k)
		wg.Go(func() { deliverAll(part, ev.Pos, body, batch) })
	}
	deliverAll(all[:size], ev.Pos, body, b.list(0))
	wg.Wait()
}

// audience appends the sessions of topic held here to dst.
func (s *Server) audience(dst []*Session, topic string) []*Session {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	set := s.all
	if topic != BroadcastTopic {
		set = s.rooms[topic]
	}
	for sess := range set {
		dst = append(dst, sess)
	}
	return dst
}

func deliverAll(sessions []*Session, pos Position, body *eventBody, batch *[]corkedConn) {
	for _, sess := range sessions {
		sess.deliver(pos, body, batch)
	}
}

// Lost implements Receiver: the sessions of the topics can no longer be
// numbered without a gap. Their connections are closed with 1012 (service
// restart), so that clients come back, and their resume answers "overrun".
// When a shared engine lost its whole state (ErrEpochChanged for every
// topic), nothing this node numbered is missing: it keeps its sessions
// and writes their records and claims again (rebase, reassert.go).
func (r *receiver) Lost(topics []string, err error) {
	s := (*Server)(r)
	if topics == nil && errors.Is(err, ErrEpochChanged) && s.reasserts != nil {
		s.rebase(err)
		return
	}
	s.reportError(nil, fmt.Errorf("runtime: events lost for %d topics (0: all): %w", len(topics), err))
	var lost []*Session
	s.dmu.Lock()
	if topics == nil {
		for sess := range s.all {
			lost = append(lost, sess)
		}
	}
	for _, t := range topics {
		switch u, own := ownTopicID(t); {
		case t == BroadcastTopic:
			for sess := range s.all {
				lost = append(lost, sess)
			}
		case own:
			if sess := s.own[u]; sess != nil {
				lost = append(lost, sess)
			}
		default:
			for sess := range s.rooms[t] {
				lost = append(lost, sess)
			}
		}
	}
	s.dmu.Unlock()
	for _, sess := range lost {
		sess.pushMu.Lock()
		sess.lost = true
		sess.pushMu.Unlock()
		if c := sess.Conn(); c != nil {
			go c.Close(CloseServiceRestart, "events lost")
		}
	}
}

// Presence is a group of unique claims kept by the engine, shared by every
// node: who is online, which node runs a job. Keys are claimed by owners
// (a session ID, say); of any number of concurrent claims of a free key
// exactly one wins, cluster-wide. Get one with Server.Presence.
//
// Their errors from the engine match ErrUnavailable: a handler returning
// one answers "unavailable".
type Presence struct {
	s     *Server
	group string
}

// Presence returns the presence group named group.
func (s *Server) Presence(group string) Presence { return Presence{s: s, group: group} }

// Claim makes owner the holder of key if nobody holds it, atomically, and
// returns the holder after the call and whether it is owner (a repeated
// claim by the holder wins again). A claim lasts until released. When
// owner is the ID of a session held by this node, the claim is the
// session's: it travels with the session's record to the node that
// resumes it, and a node whose engine lost its state claims it again
// (docs/engine.md).
func (p Presence) Claim(ctx context.Context, key, owner string) (holder string, won bool, err error) {
	holder, won, err = p.s.engine.Claim(ctx, p.group, key, owner)
	if err != nil {
		return "", false, p.s.unavailable(fmt.Errorf("runtime: claim %q of %q: %w", key, p.group, err))
	}
	if won {
		p.s.noteClaim(p.group, key, owner)
	}
	return holder, won, nil
}

// Release frees key if owner holds it, and reports whether it did: of
// several releases of one claim, one reports true.
func (p Presence) Release(ctx context.Context, key, owner string) (bool, error) {
	ok, err := p.s.engine.Release(ctx, p.group, key, owner)
	if err == nil {
		p.s.forgetClaim(p.group, key, owner)
	}
	if err != nil {
		return false, p.s.unavailable(fmt.Errorf("runtime: release %q of %q: %w", key, p.group, err))
	}
	return ok, nil
}

// Members returns the keys held with their holders: a snapshot, the
// caller's to keep.
func (p Presence) Members(ctx context.Context) (map[string]string, error) {
	m, err := p.s.engine.Members(ctx, p.group)
	if err != nil {
		return nil, p.s.unavailable(fmt.Errorf("runtime: members of %q: %w", p.group, err))
	}
	return m, nil
}
