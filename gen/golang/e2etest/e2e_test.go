package e2etest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/google/uuid"

	everything "github.com/duplexrpc/duplex/gen/golang/testdata/everything/want"
	"github.com/duplexrpc/duplex/runtime"
)

// handler implements everything.Handler; Nothing stays unimplemented.
type handler struct {
	everything.UnimplementedHandler
	srv   *runtime.Server
	known uuid.UUID

	mu   sync.Mutex
	last *runtime.Session // of the last login
}

func (h *handler) session() *runtime.Session {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

func (h *handler) EchoScalars(_ context.Context, _ *runtime.Session, a everything.Scalars) (everything.Scalars, error) {
	return a, nil
}

func (h *handler) EchoOptionals(_ context.Context, _ *runtime.Session, a everything.Optionals) (everything.Optionals, error) {
	return a, nil
}

func (h *handler) EchoContainers(_ context.Context, _ *runtime.Session, a everything.Containers) (everything.Containers, error) {
	return a, nil
}

func (h *handler) Login(_ context.Context, s *runtime.Session, a everything.LoginArgs) (everything.LoginResult, error) {
	s.Set("user", a.Name)
	h.mu.Lock()
	h.last = s
	h.mu.Unlock()
	return everything.LoginResult{Ok: true}, nil
}

func (h *handler) GuardLoggedIn(_ context.Context, s *runtime.Session) bool {
	_, ok := s.Get("user")
	return ok
}

func (h *handler) GuardAdmin(_ context.Context, s *runtime.Session) bool {
	u, _ := s.Get("user")
	return u == "root"
}

func (h *handler) AdminOnly(context.Context, *runtime.Session) (everything.AdminOnlyResult, error) {
	return everything.AdminOnlyResult{Secret: "42"}, nil
}

func (h *handler) Find(_ context.Context, _ *runtime.Session, a everything.FindArgs) (everything.FindResult, error) {
	if a.ID != h.known {
		return everything.FindResult{}, &everything.NotFoundError{Message: "no inner " + a.ID.String()}
	}
	return everything.FindResult{Inner: &everything.Inner{Name: "found", Level: everything.LevelMedium}}, nil
}

func (h *handler) Fail(_ context.Context, _ *runtime.Session, a everything.FailArgs) (everything.FailResult, error) {
	switch a.Kind {
	case "plain":
		return everything.FailResult{}, errors.New("the database password is hunter2")
	case "declared":
		return everything.FailResult{}, fmt.Errorf("lookup: %w", &everything.NotFoundError{Message: "gone"})
	case "teapot":
		return everything.FailResult{}, &everything.TeapotError{Message: "short and stout"}
	case "undeclared":
		return everything.FailResult{}, &everything.ForbiddenError{Message: "not yours to say"}
	case "custom":
		return everything.FailResult{}, &runtime.Error{Code: "custom_code", Message: "made up"}
	case "runtime":
		return everything.FailResult{}, &runtime.Error{Code: runtime.CodeBadRequest, Message: "kind is wrong in a way only the handler knows"}
	case "badresult":
		return everything.FailResult{Note: "\xff"}, nil // invalid UTF-8 is replaced, not an error
	}
	return everything.FailResult{}, nil // the zero result: a result like any other
}

func (h *handler) Notify(_ context.Context, s *runtime.Session, a everything.NotifyArgs) error {
	at := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range a.Count {
		if err := everything.PushTicked(s, &everything.TickedEvent{N: int64(i) + math.MaxInt32*1000, At: at}); err != nil {
			return err
		}
	}
	if err := everything.PushTickedTo([]*runtime.Session{s}, &everything.TickedEvent{N: -1, At: at}); err != nil {
		return err
	}
	return everything.BroadcastTicked(h.srv, &everything.TickedEvent{N: math.MinInt64, At: at})
}

func (h *handler) Legacy(_ context.Context, _ *runtime.Session, a everything.LegacyArgs) (everything.LegacyResult, error) {
	return everything.LegacyResult{Value: a.Value}, nil
}

// Thread returns its argument; for text "cycle" a comment that is its own
// parent, which has no JSON form.
func (h *handler) Thread(_ context.Context, _ *runtime.Session, a everything.Comment) (everything.Comment, error) {
	if a.Text == "cycle" {
		a.Parent = &a
	}
	return a, nil
}

func (h *handler) Tree(_ context.Context, _ *runtime.Session, a everything.TreeArgs) (everything.TreeResult, error) {
	r := everything.TreeResult(a)
	return r, nil
}

// server is a runtime.Server serving the handler on 127.0.0.1.
type server struct {
	addr string
	h    *handler

	mu     sync.Mutex
	errors []error // reported to Hooks.OnError
}

func (s *server) reported() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errors...)
}

func startServer(t *testing.T) *server {
	t.Helper()
	s := &server{h: &handler{known: uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")}}
	router := runtime.NewRouter()
	everything.Register(router, s.h)
	srv, err := runtime.New(runtime.Options{
		Handler:      router,
		Subprotocols: []string{"duplex.v1+json"},
		Hooks: runtime.Hooks{OnError: func(_ *runtime.Conn, err error) {
			s.mu.Lock()
			s.errors = append(s.errors, err)
			s.mu.Unlock()
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.h.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return s
}

// envelope is any frame the server sends.
type envelope struct {
	ID     *int64          `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Event string          `json:"event"`
	Seq   int64           `json:"seq"`
	Data  json.RawMessage `json:"data"`
}

// client speaks duplex.v1+json with gobwas/ws's client.
type client struct {
	t      *testing.T
	conn   net.Conn
	rw     io.ReadWriter
	nextID int64
	events []envelope
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	d := ws.Dialer{Protocols: []string{"duplex.v1+json"}, Timeout: 5 * time.Second}
	conn, br, hs, err := d.Dial(context.Background(), "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	if hs.Protocol != "duplex.v1+json" {
		t.Fatalf("subprotocol %q, want duplex.v1+json", hs.Protocol)
	}
	var r io.Reader = conn
	if br != nil {
		r = br
	}
	t.Cleanup(func() {
		_ = wsutil.WriteClientMessage(conn, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
		_ = conn.Close()
		if br != nil {
			ws.PutReader(br)
		}
	})
	return &client{t: t, conn: conn, rw: struct {
		io.Reader
		io.Writer
	}{r, conn}}
}

// read returns the next data frame.
func (c *client) read() envelope {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	data, op, err := wsutil.ReadServerData(c.rw)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if op != ws.OpText {
		c.t.Fatalf("got a %v frame, want text", op)
	}
	var e envelope
	if err := json.Unmarshal(data, &e); err != nil {
		c.t.Fatalf("frame %s: %v", data, err)
	}
	return e
}

// send writes one raw frame.
func (c *client) send(frame string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, []byte(frame)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// callRaw calls name with the raw JSON args and returns its reply; events
// that arrive before it are kept in c.events.
func (c *client) callRaw(name, args string) envelope {
	c.t.Helper()
	c.nextID++
	id := c.nextID
	frame := fmt.Sprintf(`{"id":%d,"call":%q`, id, name)
	if args != "" {
		frame += `,"args":` + args
	}
	c.send(frame + "}")
	return c.replyTo(id)
}

func (c *client) replyTo(id int64) envelope {
	c.t.Helper()
	for {
		e := c.read()
		switch {
		case e.Event != "":
			c.events = append(c.events, e)
		case e.ID != nil && *e.ID == id:
			return e
		default:
			c.t.Fatalf("unexpected frame %+v", e)
		}
	}
}

// appender is a generated type.
type appender interface {
	AppendJSON([]byte) ([]byte, error)
}

type decoder interface {
	UnmarshalJSON([]byte) error
}

// call calls name with args encoded by AppendJSON, decodes the result into
// res and returns the raw result.
func (c *client) call(name string, args appender, res decoder) string {
	c.t.Helper()
	raw := ""
	if args != nil {
		b, err := args.AppendJSON(nil)
		if err != nil {
			c.t.Fatalf("encode %s args: %v", name, err)
		}
		raw = string(b)
	}
	e := c.callRaw(name, raw)
	if e.Error != nil {
		c.t.Fatalf("%s: error %s: %s", name, e.Error.Code, e.Error.Message)
	}
	if res != nil {
		if err := res.UnmarshalJSON(e.Result); err != nil {
			c.t.Fatalf("%s: decode result %s: %v", name, e.Result, err)
		}
	}
	return string(e.Result)
}

// callErr calls name with raw args and checks that it fails with code and
// a message containing each of parts.
func (c *client) callErr(name, args, code string, parts ...string) string {
	c.t.Helper()
	e := c.callRaw(name, args)
	if e.Error == nil {
		c.t.Fatalf("%s(%s): result %s, want error %s", name, args, e.Result, code)
	}
	if e.Error.Code != code {
		c.t.Errorf("%s(%s): error %s: %s, want code %s", name, args, e.Error.Code, e.Error.Message, code)
	}
	for _, p := range parts {
		if !strings.Contains(e.Error.Message, p) {
			c.t.Errorf("%s(%s): message %q does not contain %q", name, args, e.Error.Message, p)
		}
	}
	return e.Error.Message
}

func ptr[T any](v T) *T { return &v }

func TestScalarsRoundTrip(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.addr)
	blob := make([]byte, 256)
	for i := range blob {
		blob[i] = byte(i)
	}
	at := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)
	id := uuid.MustParse("f47ac10b-58cc-4372-a567-0e02b2c3d479")
	for _, big := range []int64{9007199254740993, math.MinInt64, math.MaxInt64, -9007199254740993, 0} {
		in := everything.Scalars{
			Flag: true, Small: math.MinInt32, Big: big, Usmall: math.MaxUint32, Ubig: math.MaxUint64,
			Ratio: 0.1, Text: "hé \"quoted\" <tag> & \u2028 \\ \n 🎉", Blob: blob, At: at, ID: id,
		}
		var out everything.Scalars
		raw := c.call("echoScalars", &in, &out)
		if !reflect.DeepEqual(in, out) {
			t.Errorf("echoScalars:\n in  %+v\n out %+v", in, out)
		}
		for _, want := range []string{fmt.Sprintf(`"big":"%d"`, big), `"ubig":"18446744073709551615"`, `"usmall":4294967295`,
			`"small":-2147483648`, `"at":"2024-02-29T23:59:59.123456789Z"`, `"id":"f47ac10b-58cc-4372-a567-0e02b2c3d479"`} {
			if !strings.Contains(raw, want) {
				t.Errorf("result %s does not contain %s", raw, want)
			}
		}
	}
	// Values beyond 2^53 sent by hand, as a client would write them.
	var out everything.Scalars
	e := c.callRaw("echoScalars", `{"flag":false,"small":0,"big":"9007199254740993","usmall":0,"ubig":"18446744073709551615",`+
		`"ratio":1e300,"text":"","blob":"","at":"2024-01-01T00:00:00+02:00","id":"00000000-0000-0000-0000-000000000000"}`)
	if e.Error != nil {
		t.Fatalf("error %+v", e.Error)
	}
	if err := out.UnmarshalJSON(e.Result); err != nil {
		t.Fatal(err)
	}
	if out.Big != 9007199254740993 || out.Ubig != math.MaxUint64 || out.Ratio != 1e300 {
		t.Errorf("got %+v", out)
	}
	if !strings.Contains(string(e.Result), `"at":"2023-12-31T22:00:00Z"`) {
		t.Errorf("timestamp not in UTC: %s", e.Result)
	}
}

func TestOptionalsRoundTrip(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.addr)
	at := time.Date(2001, 9, 9, 1, 46, 40, 0, time.UTC)
	full := everything.Optionals{
		Flag: ptr(false), Small: ptr(int32(-1)), Big: ptr(int64(math.MaxInt64)), Usmall: ptr(uint32(7)),
		Ubig: ptr(uint64(1 << 63)), Ratio: ptr(-0.5), Text: ptr(""), Blob: []byte{}, At: &at,
		ID: ptr(uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")), Level: ptr(everything.LevelHigh),
		Inner: &everything.Inner{Name: "in", Level: everything.LevelLow}, List: []string{}, Dict: map[string]int64{},
	}
	var out everything.Optionals
	raw := c.call("echoOptionals", &full, &out)
	if !reflect.DeepEqual(full, out) {
		t.Errorf("echoOptionals:\n in  %+v\n out %+v", full, out)
	}
	if want := `{"flag":false,"small":-1,"big":"9223372036854775807","usmall":7,"ubig":"9223372036854775808","ratio":-0.5,"text":"","blob":"","at":"2001-09-09T01:46:40Z","id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","level":"high","inner":{"name":"in","level":"low"},"list":[],"dict":{}}`; raw != want {
		t.Errorf("result\n %s\nwant\n %s", raw, want)
	}

	// Absent and null are the same: nil.
	for _, args := range []string{"", `{}`, `{"flag":null,"small":null,"big":null,"usmall":null,"ubig":null,"ratio":null,"text":null,"blob":null,"at":null,"id":null,"level":null,"inner":null,"list":null,"dict":null}`} {
		out = everything.Optionals{Flag: ptr(true)}
		e := c.callRaw("echoOptionals", args)
		if e.Error != nil {
			t.Fatalf("echoOptionals(%s): %+v", args, e.Error)
		}
		if string(e.Result) != "{}" {
			t.Errorf("echoOptionals(%s) = %s, want {}", args, e.Result)
		}
		if err := out.UnmarshalJSON(e.Result); err != nil || !reflect.DeepEqual(out, everything.Optionals{}) {
			t.Errorf("decoded %+v, %v; want all nil", out, err)
		}
	}

	var lr everything.LegacyResult
	if raw := c.call("legacy", &everything.LegacyArgs{Value: ptr("v")}, &lr); raw != `{"value":"v"}` || *lr.Value != "v" {
		t.Errorf("legacy = %s", raw)
	}
	if raw := c.call("legacy", nil, &lr); raw != `{}` || lr.Value != nil {
		t.Errorf("legacy() = %s", raw)
	}
}

func TestContainersRoundTrip(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.addr)
	in := everything.Containers{
		Inners: []everything.Inner{{Name: "a", Level: everything.LevelLow}, {Name: "b", Level: everything.LevelHigh}},
		Levels: []everything.Level{everything.LevelMedium, everything.LevelLow},
		Grid:   [][]int32{{1, 2}, {}, {math.MaxInt32}},
		ByName: map[string]everything.Inner{"x": {Name: "x", Level: everything.LevelMedium}, "": {Name: "empty key"}},
		Groups: map[string][]string{"admins": {"ada", "grace"}, "none": {}},
		Stamps: map[string]time.Time{"epoch": time.Unix(0, 0).UTC()},
		Nested: map[string]map[string]uint64{"outer": {"max": math.MaxUint64, "zero": 0}, "empty": {}},
		Ratios: []float64{0, -1.5, 1e-7, 1e21, math.SmallestNonzeroFloat64},
		UserID: uuid.MustParse("f47ac10b-58cc-4372-a567-0e02b2c3d479"),
	}
	in.ByName[""] = everything.Inner{Name: "empty key", Level: everything.LevelLow}
	var out everything.Containers
	raw := c.call("echoContainers", &in, &out)
	if !reflect.DeepEqual(in, out) {
		t.Errorf("echoContainers:\n in  %+v\n out %+v", in, out)
	}
	for _, want := range []string{`"nested":{"empty":{},"outer":{"max":"18446744073709551615","zero":"0"}}`, `"grid":[[1,2],[],[2147483647]]`, `"userId":"f47ac10b-58cc-4372-a567-0e02b2c3d479"`} {
		if !strings.Contains(raw, want) {
			t.Errorf("result %s does not contain %s", raw, want)
		}
	}
	// Required nil lists and maps are sent empty.
	raw = c.call("echoContainers", &everything.Containers{}, &out)
	if want := `{"inners":[],"levels":[],"grid":[],"byName":{},"groups":{},"stamps":{},"nested":{},"ratios":[],"userId":"00000000-0000-0000-0000-000000000000"}`; raw != want {
		t.Errorf("result %s, want %s", raw, want)
	}
}

func TestBadRequests(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.addr)
	const ok = `"flag":true,"small":1,"big":"1","usmall":1,"ubig":"1","ratio":1,"text":"t","blob":"AA==","at":"2024-01-01T00:00:00Z","id":"f47ac10b-58cc-4372-a567-0e02b2c3d479"`
	scalars := func(old, new string) string { return `{` + strings.Replace(ok, old, new, 1) + `}` }
	const okContainers = `{"inners":[],"levels":[],"grid":[],"byName":{},"groups":{},"stamps":{},"nested":{},"ratios":[],"userId":"f47ac10b-58cc-4372-a567-0e02b2c3d479"}`
	containers := func(old, new string) string { return strings.Replace(okContainers, old, new, 1) }
	cases := []struct {
		name, call, args string
		parts            []string
	}{
		{"string for number", "echoScalars", scalars(`"small":1`, `"small":"1"`), []string{"args.small", "expected number, got string"}},
		{"number for int64", "echoScalars", scalars(`"big":"1"`, `"big":1`), []string{"args.big", "int64 as a decimal string"}},
		{"int32 overflow", "echoScalars", scalars(`"small":1`, `"small":2147483648`), []string{"args.small", "2147483648"}},
		{"negative uint64", "echoScalars", scalars(`"ubig":"1"`, `"ubig":"-1"`), []string{"args.ubig", "not a uint64"}},
		{"fraction for int32", "echoScalars", scalars(`"small":1`, `"small":1.5`), []string{"args.small"}},
		{"bad base64", "echoScalars", scalars(`"AA=="`, `"!!"`), []string{"args.blob", "base64"}},
		{"bad timestamp", "echoScalars", scalars(`"2024-01-01T00:00:00Z"`, `"yesterday"`), []string{"args.at", "RFC 3339"}},
		{"bad uuid", "echoScalars", scalars(`"f47ac10b-58cc-4372-a567-0e02b2c3d479"`, `"f47ac10b"`), []string{"args.id", "not a UUID"}},
		{"null for required", "echoScalars", scalars(`"text":"t"`, `"text":null`), []string{"args.text", "expected string, got null"}},
		{"missing required", "echoScalars", `{"flag":true}`, []string{"args.small: required field missing"}},
		{"missing everything", "login", `{}`, []string{"args.name: required field missing"}},
		{"no args member", "login", ``, []string{"args.name: required field missing"}},
		{"duplicate field", "login", `{"name":"a","name":"b"}`, []string{"args.name: duplicate field"}},
		{"invalid enum", "echoContainers", containers(`"levels":[]`, `"levels":["low","loud"]`), []string{`args.levels[1]: "loud" is not a valid Level`}},
		{"invalid nested enum", "echoOptionals", `{"inner":{"name":"x","level":"LOW"}}`, []string{`args.inner.level: "LOW" is not a valid Level`}},
		{"missing nested field", "echoContainers", containers(`"inners":[]`, `"inners":[{"name":"a","level":"low"},{"level":"low"}]`), []string{"args.inners[1].name: required field missing"}},
		{"wrong type in map of lists", "echoContainers", containers(`"groups":{}`, `"groups":{"g":["a",1]}`), []string{"args.groups.g[1]", "expected string, got number"}},
		{"duplicate map key", "echoContainers", containers(`"groups":{}`, `"groups":{"g":[],"g":[]}`), []string{"args.groups.g: duplicate key"}},
		{"object for list", "echoContainers", containers(`"ratios":[]`, `"ratios":{}`), []string{"args.ratios", "expected array, got object"}},
		{"list for message", "echoOptionals", `{"inner":[]}`, []string{"args.inner", "expected object, got array"}},
		{"args not an object", "login", `[]`, []string{"expected object"}},
		{"valid but for one value", "echoScalars", scalars(`"ratio":1`, `"ratio":1e999`), []string{"args.ratio", "out of range"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			c.callErr(tc.call, tc.args, runtime.CodeBadRequest, tc.parts...)
			// The connection stays usable.
			var r everything.LoginResult
			c.call("login", &everything.LoginArgs{Name: "ada"}, &r)
		})
	}
	c.t = t
	c.callErr("noSuchCommand", `{}`, runtime.CodeUnknownCommand, `"noSuchCommand"`)
	c.callErr("nothing", "", runtime.CodeUnimplemented, "nothing")
	// Unknown keys are skipped, at every level.
	var r everything.Optionals
	if raw := c.call("echoOptionals", rawArgs(`{"future":{"deep":[1,{"x":null}]},"inner":{"name":"n","level":"low","extra":true}}`), &r); raw != `{"inner":{"name":"n","level":"low"}}` {
		t.Errorf("result %s", raw)
	}
}

type rawArgs string

func (r rawArgs) AppendJSON(dst []byte) ([]byte, error) { return append(dst, r...), nil }

func TestErrors(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.addr)
	// A typed error of the command.
	c.callErr("find", `{"id":"f47ac10b-58cc-4372-a567-0e02b2c3d479"}`, "not_found", "no inner f47ac10b-58cc-4372-a567-0e02b2c3d479")
	var fr everything.FindResult
	c.call("find", rawArgs(`{"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8"}`), &fr)
	if fr.Inner == nil || fr.Inner.Name != "found" {
		t.Errorf("find = %+v", fr)
	}
	c.callErr("fail", `{"kind":"declared"}`, "not_found", "gone") // wrapped with %w: still typed
	c.callErr("fail", `{"kind":"teapot"}`, "teapot_error", "short and stout")
	c.callErr("fail", `{"kind":"runtime"}`, runtime.CodeBadRequest, "only the handler knows")

	// Guards, in order.
	c.callErr("adminOnly", "", "not_logged_in", "refused by guard loggedIn")
	c.call("login", &everything.LoginArgs{Name: "ada"}, nil)
	c.callErr("adminOnly", "", "forbidden", "refused by guard admin")
	c.call("login", &everything.LoginArgs{Name: "root"}, nil)
	var ar everything.AdminOnlyResult
	if c.call("adminOnly", nil, &ar); ar.Secret != "42" {
		t.Errorf("adminOnly = %+v", ar)
	}

	// Errors the client must not see.
	before := len(s.reported())
	for _, kind := range []string{"plain", "undeclared", "custom"} {
		msg := c.callErr("fail", fmt.Sprintf(`{"kind":%q}`, kind), runtime.CodeInternal)
		if msg != "internal error" {
			t.Errorf("fail(%s): message %q, want the runtime's generic one", kind, msg)
		}
	}
	reported := s.reported()[before:]
	var texts []string
	for _, err := range reported {
		texts = append(texts, err.Error())
	}
	all := strings.Join(texts, "\n")
	for _, want := range []string{"hunter2", `returned the error code "forbidden", which it does not declare`, `"custom_code"`} {
		if !strings.Contains(all, want) {
			t.Errorf("reported errors %q lack %q", all, want)
		}
	}
	// A handler returns its result by value: the zero value is a result.
	if raw := c.call("fail", rawArgs(`{"kind":"zero"}`), nil); raw != `{"note":""}` {
		t.Errorf("fail(zero) = %s, want the zero FailResult", raw)
	}
	var r everything.FailResult
	c.call("fail", rawArgs(`{"kind":"badresult"}`), &r)
	if r.Note != "\uFFFD" {
		t.Errorf("fail(badresult) = %q", r.Note)
	}
}

func TestEvents(t *testing.T) {
	s := startServer(t)
	a := dial(t, s.addr)
	b := dial(t, s.addr)
	// b makes a call first so that its connection is surely registered.
	b.call("login", &everything.LoginArgs{Name: "b"}, nil)
	a.call("notify", &everything.NotifyArgs{Count: 3}, nil)
	// PushTicked ×3, PushTickedTo, BroadcastTicked: all before the reply.
	if len(a.events) != 5 {
		t.Fatalf("a got %d events before the reply, want 5: %+v", len(a.events), a.events)
	}
	wantN := []int64{math.MaxInt32 * 1000, math.MaxInt32*1000 + 1, math.MaxInt32*1000 + 2, -1, math.MinInt64}
	for i, e := range a.events {
		if e.Event != "ticked" || e.Seq != int64(i+1) {
			t.Errorf("event %d: %s seq %d, want ticked seq %d", i, e.Event, e.Seq, i+1)
		}
		var ev everything.TickedEvent
		if err := ev.UnmarshalJSON(e.Data); err != nil {
			t.Fatal(err)
		}
		if ev.N != wantN[i] || !ev.At.Equal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("event %d = %+v, want n %d", i, ev, wantN[i])
		}
	}
	// b gets the broadcast only, as its own first event.
	e := b.read()
	if e.Event != "ticked" || e.Seq != 1 || string(e.Data) != `{"n":"-9223372036854775808","at":"2024-01-02T03:04:05Z"}` {
		t.Errorf("b got %+v (data %s)", e, e.Data)
	}
	// Sequence numbers go on growing.
	a.events = nil
	a.call("notify", &everything.NotifyArgs{Count: 1}, nil)
	if len(a.events) != 3 || a.events[0].Seq != 6 || a.events[2].Seq != 8 {
		t.Errorf("second round: %+v", a.events)
	}
}

func TestPushers(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.addr)
	c.call("login", &everything.LoginArgs{Name: "ada"}, nil)
	sess := s.h.session()
	// An event that cannot be encoded is not sent.
	if err := everything.PushTicked(sess, &everything.TickedEvent{Level: ptr(everything.Level("loud"))}); err == nil ||
		!strings.Contains(err.Error(), `encode ticked event: level: invalid Level "loud"`) {
		t.Errorf("PushTicked with an invalid enum: %v", err)
	}
	if err := everything.BroadcastTicked(s.h.srv, &everything.TickedEvent{Level: ptr(everything.Level(""))}); err == nil {
		t.Error("BroadcastTicked with an invalid enum: no error")
	}
	// Nothing was sent: the next event is seq 1.
	if err := everything.PushBell(sess, &everything.BellEvent{}); err != nil {
		t.Fatal(err)
	}
	if e := c.read(); e.Event != "bell" || e.Seq != 1 || string(e.Data) != "{}" {
		t.Errorf("got %+v (data %s), want bell seq 1 {}", e, e.Data)
	}
	// A session without a connection: ErrClosed, for each one tried.
	_ = c.conn.Close()
	deadline := time.Now().Add(5 * time.Second)
	for sess.Conn() != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := everything.PushTicked(sess, &everything.TickedEvent{}); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("PushTicked to a detached session: %v, want ErrClosed", err)
	}
	other := dial(t, s.addr)
	other.call("login", &everything.LoginArgs{Name: "grace"}, nil)
	live := s.h.session()
	if err := everything.PushTickedTo([]*runtime.Session{sess, live}, &everything.TickedEvent{N: 5}); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("PushTickedTo: %v, want ErrClosed", err)
	}
	// The live session got it all the same.
	if e := other.read(); e.Event != "ticked" || e.Seq != 1 {
		t.Errorf("live session got %+v", e)
	}
}

// thread returns a comment whose replies nest n levels deep; the innermost
// has a parent.
func thread(n int) everything.Comment {
	c := everything.Comment{Text: "leaf", Replies: []everything.Comment{}, Parent: &everything.Comment{Text: "parent", Replies: []everything.Comment{}}}
	for i := n - 1; i >= 0; i-- {
		c = everything.Comment{Text: fmt.Sprint("level ", i), Replies: []everything.Comment{c}}
	}
	return c
}

// TestRecursiveRoundTrip: recursive messages, through a list, an optional
// field and a map, encode and decode at depth, by themselves and through
// the server.
func TestRecursiveRoundTrip(t *testing.T) {
	// 254 levels of replies, the innermost comment's parent and its replies
	// are 512 levels of JSON: as deep as a decoder reads.
	deepest := thread(254)
	b, err := deepest.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	var back everything.Comment
	if err := back.UnmarshalJSON(b); err != nil {
		t.Fatalf("decode 254 levels: %v", err)
	}
	if !reflect.DeepEqual(deepest, back) {
		t.Error("254 levels changed on the way")
	}
	tooDeep := thread(255)
	if b, err = tooDeep.AppendJSON(nil); err != nil {
		t.Fatal(err)
	}
	err = back.UnmarshalJSON(b)
	if want := strings.Repeat("replies[0].", 255) + "parent.replies: nested deeper than 512"; err == nil || err.Error() != want {
		t.Errorf("decode 255 levels: %v, want %s", err, want)
	}

	s := startServer(t)
	c := dial(t, s.addr)
	in := thread(200)
	var out everything.Comment
	c.call("thread", &in, &out)
	if !reflect.DeepEqual(in, out) {
		t.Error("thread of 200 levels changed through the server")
	}
	tree := everything.TreeArgs{Root: everything.Folder{Entries: map[string]everything.Entry{
		"a": {Size: math.MaxInt64, Sub: everything.Folder{Entries: map[string]everything.Entry{
			"b": {Size: 1, Sub: everything.Folder{Entries: map[string]everything.Entry{}}},
		}}},
		"c": {Sub: everything.Folder{Entries: map[string]everything.Entry{}}},
	}}}
	var tr everything.TreeResult
	raw := c.call("tree", &tree, &tr)
	if !reflect.DeepEqual(everything.TreeResult(tree), tr) {
		t.Errorf("tree:\n in  %+v\n out %+v", tree, tr)
	}
	if want := `{"root":{"entries":{"a":{"size":"9223372036854775807","sub":{"entries":{"b":{"size":"1","sub":{"entries":{}}}}}},"c":{"size":"0","sub":{"entries":{}}}}}}`; raw != want {
		t.Errorf("tree = %s, want %s", raw, want)
	}
}

// TestRecursiveLimits: input nested far deeper than a decoder reads is a
// bad_request naming where, and the connection goes on; a result with a
// cycle is an error of the handler, not endless recursion.
func TestRecursiveLimits(t *testing.T) {
	s := startServer(t)
	c := dial(t, s.addr)
	const levels = 100_000 // encoding/json.Valid stops at 10000
	hostile := `{"text":"x","replies":` + strings.Repeat("[", levels) + strings.Repeat("]", levels) + `}`
	c.callErr("thread", hostile, runtime.CodeBadRequest, "args.replies"+strings.Repeat("[0]", 511)+": nested deeper than 512")
	parents := strings.Repeat(`{"parent":`, levels/2) + `{}` + strings.Repeat("}", levels/2) // within 1 MiB
	c.callErr("thread", parents, runtime.CodeBadRequest, "args"+strings.Repeat(".parent", 512)+": nested deeper than 512")
	var out everything.Comment
	c.call("thread", &everything.Comment{Text: "still here"}, &out)
	if out.Text != "still here" {
		t.Errorf("thread after the hostile input = %+v", out)
	}

	before := len(s.reported())
	c.callErr("thread", `{"text":"cycle","replies":[]}`, runtime.CodeInternal, "internal error")
	reported := s.reported()[before:]
	want := "encode thread result: " + strings.Repeat("parent.", 512) + "parent: nested more than 512 levels deep (a cycle?)"
	if len(reported) != 1 || !strings.HasSuffix(reported[0].Error(), want) {
		t.Errorf("reported %v, want one error ending %s", reported, want)
	}
	cycle := &everything.Comment{Replies: make([]everything.Comment, 1)}
	cycle.Replies[0].Replies = cycle.Replies // a cycle through a list
	if _, err := cycle.AppendJSON(nil); err == nil || !strings.HasSuffix(err.Error(), "replies[0]: nested more than 512 levels deep (a cycle?)") {
		t.Errorf("a cycle through a list encodes with %v", err)
	}
}
