package chat

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/duplexrpc/duplex/runtime"
)

// Limits of names and messages, in characters (Unicode code points).
const (
	MaxNameLength    = 32
	MaxMessageLength = 2000
)

// nameAttr is the session attribute holding a logged-in session's name. As
// an attribute it survives a resume with the session.
const nameAttr = "chat.name"

// Room is the chat room: who is online. Every session of the server gets
// every event (logged in or not, connected or detached and waiting for its
// client to resume it: runtime.Server.Broadcast), and every session sees
// them in the same order: events are broadcast under the room's lock.
//
// A user is online from login until the first of: logout, the end of
// their session (the client closed with 1000, or shutdown; or the
// connection was lost, by the network or the server's health check, and
// the client did not resume it within the resume window). Each of those
// broadcasts left exactly once.
//
// Wire a Room into a server with its Hooks (OnSessionEnd),
// Register(router, room) and, once the server exists, SetServer. Room is
// safe for concurrent use.
type Room struct {
	UnimplementedHandler

	mu     sync.Mutex
	srv    *runtime.Server
	online map[string]*runtime.Session // by name
}

// NewRoom returns an empty room.
func NewRoom() *Room {
	return &Room{online: make(map[string]*runtime.Session)}
}

// SetServer sets the server whose sessions get the room's events. Call it
// before serving.
func (r *Room) SetServer(srv *runtime.Server) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.srv = srv
}

// Hooks returns h with the room's OnSessionEnd added (h's own runs first).
func (r *Room) Hooks(h runtime.Hooks) runtime.Hooks {
	end := h.OnSessionEnd
	h.OnSessionEnd = func(s *runtime.Session) {
		if end != nil {
			end(s)
		}
		// Not on the runtime's goroutine: leaving broadcasts under
		// the room's lock.
		go r.sessionEnded(s)
	}
	return h
}

// sessionEnded says that s's user left, if s was logged in.
func (r *Room) sessionEnded(s *runtime.Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name, ok := s.Get(nameAttr); ok && r.online[name] == s {
		r.leaveLocked(s, name)
	}
}

// Online returns who is online, in order.
func (r *Room) Online() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.usersLocked()
}

func (r *Room) usersLocked() []string {
	users := make([]string, 0, len(r.online))
	for name := range r.online {
		users = append(users, name)
	}
	slices.Sort(users)
	return users
}

// Login implements Handler.
func (r *Room) Login(_ context.Context, s *runtime.Session, args *LoginArgs) (*LoginResult, error) {
	name := strings.TrimSpace(args.Name)
	if err := checkName(name); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if current, ok := s.Get(nameAttr); ok && r.online[current] == s {
		return nil, &AlreadyLoggedInError{Message: fmt.Sprintf("logged in as %q already; log out first", current)}
	}
	if _, taken := r.online[name]; taken {
		return nil, &NameTakenError{Message: fmt.Sprintf("%q is online already", name)}
	}
	r.online[name] = s
	s.Set(nameAttr, name)
	users := r.usersLocked()
	_ = BroadcastJoined(r.srv, &JoinedEvent{Name: name, Users: users})
	return &LoginResult{Users: users}, nil
}

// checkName returns an *InvalidNameError for a name nobody could read or
// tell apart: empty, too long, or with control or formatting characters
// (such as U+202E, which reverses the text after it).
func checkName(name string) error {
	switch n := utf8.RuneCountInString(name); {
	case n == 0:
		return &InvalidNameError{Message: "the name is empty"}
	case n > MaxNameLength:
		return &InvalidNameError{Message: fmt.Sprintf("the name has %d characters; at most %d", n, MaxNameLength)}
	}
	for i, c := range name {
		if unicode.IsControl(c) || unicode.Is(unicode.Cf, c) {
			return &InvalidNameError{Message: fmt.Sprintf("the name has the control character %U at byte %d", c, i)}
		}
	}
	return nil
}

// Logout implements Handler.
func (r *Room) Logout(_ context.Context, s *runtime.Session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	name, _ := s.Get(nameAttr)
	if r.online[name] == s {
		r.leaveLocked(s, name)
	}
	return nil
}

// leaveLocked takes name offline and tells everyone.
func (r *Room) leaveLocked(s *runtime.Session, name string) {
	delete(r.online, name)
	s.Delete(nameAttr)
	_ = BroadcastLeft(r.srv, &LeftEvent{Name: name, Users: r.usersLocked()})
}

// User implements Handler: the said event goes to everyone.
func (r *Room) User(_ context.Context, s *runtime.Session, args *UserArgs) error {
	switch n := utf8.RuneCountInString(args.Content); {
	case strings.TrimSpace(args.Content) == "":
		return &InvalidMessageError{Message: "the message is empty"}
	case n > MaxMessageLength:
		return &InvalidMessageError{Message: fmt.Sprintf("the message has %d characters; at most %d", n, MaxMessageLength)}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	name, _ := s.Get(nameAttr)
	if r.online[name] != s {
		// Logged out by a call that ran concurrently, after the guard.
		return &NotLoggedInError{Message: "log in first"}
	}
	_ = BroadcastSaid(r.srv, &SaidEvent{From: name, Content: args.Content})
	return nil
}

// Shutdown implements Handler: it ends the caller's own connection with
// the reply, then close 1000. The session ends with it (a 1000 means the
// client will not come back), so a logged-in user leaves.
func (r *Room) Shutdown(ctx context.Context, _ *runtime.Session) error {
	runtime.CloseAfterReply(ctx, runtime.CloseNormal, "shutdown")
	return nil
}

// GuardLoggedIn implements Handler.
func (r *Room) GuardLoggedIn(_ context.Context, s *runtime.Session) bool {
	name, ok := s.Get(nameAttr)
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.online[name] == s
}
