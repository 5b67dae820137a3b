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

// OnlineGroup is the presence group (runtime.Server.Presence) of who is
// online: a name, held by the ID of the session logged in with it.
const OnlineGroup = "chat.online"

// Room is the chat room. Every session of the server gets every event
// (logged in or not, connected or detached and waiting for its client to
// resume it, on every server process sharing the engine:
// runtime.Server.Broadcast).
//
// Who is online is the engine's presence group OnlineGroup, and a
// session's name its attribute: the room keeps no state of its own, so
// that several server processes sharing one engine serve one room. A name
// is claimed atomically (of two logins with one name, on any processes,
// one wins) and released once: a user is online from login until the
// first of logout and the end of their session (the client closed with
// 1000, or shutdown; or the connection was lost, by the network or the
// server's health check, and the client did not resume it within the
// resume window). Only the release that frees the name broadcasts left,
// so each of those broadcasts left exactly once.
//
// Handlers reach the server through the session (runtime.Session.Server):
// wire a Room into a server with its Hooks (OnSessionEnd) and
// Register(router, room), in any order. Room is safe for concurrent use.
type Room struct {
	UnimplementedHandler

	// mu orders this process's joins, leaves and messages, so that the
	// users lists in its joined and left events follow their order.
	mu sync.Mutex
}

// NewRoom returns a room.
func NewRoom() *Room { return &Room{} }

// Hooks returns h with the room's OnSessionEnd added (h's own runs first).
func (r *Room) Hooks(h runtime.Hooks) runtime.Hooks {
	end := h.OnSessionEnd
	h.OnSessionEnd = func(s *runtime.Session) {
		if end != nil {
			end(s)
		}
		// Not on the runtime's goroutine: leaving calls the engine and
		// broadcasts under the room's lock.
		go r.sessionEnded(s)
	}
	return h
}

// sessionEnded says that s's user left, if s was logged in. The session
// may have ended on another process than the one it lived on, which died
// (runtime.Hooks.OnSessionEnd): s is then made from its record, which may
// predate the login's attribute (a process killed right after the login),
// so the claim, written at the login, is asked too.
func (r *Room) sessionEnded(s *runtime.Session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx := context.Background()
	name, ok := s.Get(nameAttr)
	if !ok {
		members, err := s.Server().Presence(OnlineGroup).Members(ctx)
		if err != nil {
			return
		}
		for n, owner := range members {
			if owner == s.ID() {
				name, ok = n, true
			}
		}
	}
	if ok {
		_ = r.leaveLocked(ctx, s, name)
	}
}

// Online returns who is online in the room of srv, in order.
func Online(ctx context.Context, srv *runtime.Server) ([]string, error) {
	members, err := srv.Presence(OnlineGroup).Members(ctx)
	if err != nil {
		return nil, err
	}
	users := make([]string, 0, len(members))
	for name := range members {
		users = append(users, name)
	}
	slices.Sort(users)
	return users, nil
}

// Login implements Handler.
func (r *Room) Login(ctx context.Context, s *runtime.Session, args LoginArgs) (LoginResult, error) {
	name := strings.TrimSpace(args.Name)
	if err := checkName(name); err != nil {
		return LoginResult{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if current, ok := s.Get(nameAttr); ok {
		return LoginResult{}, &AlreadyLoggedInError{Message: fmt.Sprintf("logged in as %q already; log out first", current)}
	}
	srv := s.Server()
	_, won, err := srv.Presence(OnlineGroup).Claim(ctx, name, s.ID())
	if err != nil {
		return LoginResult{}, err
	}
	if !won {
		return LoginResult{}, &NameTakenError{Message: fmt.Sprintf("%q is online already", name)}
	}
	users, err := Online(ctx, srv)
	if err != nil {
		// Not logged in after all: a retry claims the name again (the
		// claim is this session's, if this release fails too).
		_, _ = srv.Presence(OnlineGroup).Release(ctx, name, s.ID())
		return LoginResult{}, err
	}
	s.Set(nameAttr, name)
	_ = BroadcastJoined(srv, &JoinedEvent{Name: name, Users: users})
	return LoginResult{Users: users}, nil
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
func (r *Room) Logout(ctx context.Context, s *runtime.Session) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if name, ok := s.Get(nameAttr); ok {
		return r.leaveLocked(ctx, s, name)
	}
	return nil
}

// leaveLocked takes name offline and, if this call freed it, tells
// everyone: of several leaves of one login (a logout racing the session's
// end), one says left.
func (r *Room) leaveLocked(ctx context.Context, s *runtime.Session, name string) error {
	srv := s.Server()
	freed, err := srv.Presence(OnlineGroup).Release(ctx, name, s.ID())
	if err != nil {
		return err
	}
	s.Delete(nameAttr)
	if !freed {
		return nil
	}
	users, err := Online(ctx, srv)
	if err != nil {
		return err
	}
	_ = BroadcastLeft(srv, &LeftEvent{Name: name, Users: users})
	return nil
}

// User implements Handler: the said event goes to everyone.
//
// Every handler answers "unavailable" (runtime.ErrUnavailable) when the
// engine fails it (a Redis down: within the engine's timeout); the
// connection stays open and the call may be made again. A login whose
// claim succeeded but whose joined event could not be published stays
// logged in: the online list, not the event, is what counts.
func (r *Room) User(_ context.Context, s *runtime.Session, args UserArgs) error {
	switch n := utf8.RuneCountInString(args.Content); {
	case strings.TrimSpace(args.Content) == "":
		return &InvalidMessageError{Message: "the message is empty"}
	case n > MaxMessageLength:
		return &InvalidMessageError{Message: fmt.Sprintf("the message has %d characters; at most %d", n, MaxMessageLength)}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	name, ok := s.Get(nameAttr)
	if !ok {
		// Logged out by a call that ran concurrently, after the guard.
		return &NotLoggedInError{Message: "log in first"}
	}
	// An engine that could not publish it (runtime.ErrUnavailable)
	// answers "unavailable": the client knows its message was not said.
	return BroadcastSaid(s.Server(), &SaidEvent{From: name, Content: args.Content})
}

// Shutdown implements Handler: it ends the caller's own connection with
// the reply, then close 1000. The session ends with it (a 1000 means the
// client will not come back), so a logged-in user leaves.
func (r *Room) Shutdown(ctx context.Context, _ *runtime.Session) error {
	runtime.CloseAfterReply(ctx, runtime.CloseNormal, "shutdown")
	return nil
}

// GuardLoggedIn implements Handler: the session's name attribute is set
// from the claim of the name to its release.
func (r *Room) GuardLoggedIn(_ context.Context, s *runtime.Session) bool {
	_, ok := s.Get(nameAttr)
	return ok
}
