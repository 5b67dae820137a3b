package runtime

// TokenKey exposes the store key of a resume token to the external tests.
var TokenKey = tokenKey

// Kill stops the server as kill -9 would stop its process, for the tests
// of several nodes: its engine calls end (no record is written, refreshed
// or removed any more), and nothing it holds ends or detaches, so that no
// end hook runs. Its connections stay open until the test closes them.
func (s *Server) Kill() {
	s.killed.Store(true)
	s.stop()
}

// HoldDeliveries holds the deliveries of s as a hello or a resume does
// while it answers (events and Sync points queue up, unnumbered) until
// release, which numbers them and writes them to the session's
// connection.
func HoldDeliveries(s *Session) (release func()) {
	s.pushMu.Lock()
	s.hold++
	s.pushMu.Unlock()
	return func() {
		s.pushMu.Lock()
		s.releaseLocked(s.Conn())
		s.pushMu.Unlock()
	}
}
