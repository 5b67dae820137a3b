package wire_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// newDecoder returns a decoder reading data, with root naming the value.
func newDecoder(data, root string) *wire.Decoder {
	d := new(wire.Decoder)
	d.Reset([]byte(data), root)
	return d
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// checkErr fails unless err's text is want ("" meaning no error).
func checkErr(t *testing.T, input string, err error, want string) {
	t.Helper()
	if got := errText(err); got != want {
		t.Errorf("%s: error %q, want %q", input, got, want)
	}
}

// ---- a hand-written decoder such as the generator emits ----

type user struct {
	Name string
	Tags []string
	Age  int32
}

type meta struct {
	Created time.Time
	ID      uuid.UUID
	Big     int64
	Blob    []byte
}

type loginArgs struct {
	Name  string
	Users []user
	Meta  meta
	Grid  [][]int64
}

func decodeUser(d *wire.Decoder, u *user) error {
	var hasName bool
	err := d.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "name":
			u.Name, err = d.String()
			hasName = true
		case "tags":
			err = d.Array(func(int) error {
				s, err := d.String()
				u.Tags = append(u.Tags, s)
				return err
			})
		case "age":
			u.Age, err = d.Int32()
		default:
			err = d.Skip()
		}
		return err
	})
	if err == nil && !hasName {
		err = d.Missing("name")
	}
	return err
}

func decodeMeta(d *wire.Decoder, m *meta) error {
	return d.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "created":
			m.Created, err = d.Time()
		case "id":
			m.ID, err = d.UUID()
		case "big":
			m.Big, err = d.Int64()
		case "blob":
			m.Blob, err = d.Bytes()
		default:
			err = d.Skip()
		}
		return err
	})
}

func decodeLogin(d *wire.Decoder, a *loginArgs) error {
	var hasName bool
	err := d.Object(func(key []byte) error {
		var err error
		switch string(key) {
		case "name":
			a.Name, err = d.String()
			hasName = true
		case "users":
			err = d.Array(func(int) error {
				var u user
				err := decodeUser(d, &u)
				a.Users = append(a.Users, u)
				return err
			})
		case "meta":
			err = decodeMeta(d, &a.Meta)
		case "grid":
			err = d.Array(func(int) error {
				var row []int64
				err := d.Array(func(int) error {
					v, err := d.Int()
					row = append(row, v)
					return err
				})
				a.Grid = append(a.Grid, row)
				return err
			})
		default:
			err = d.Skip()
		}
		return err
	})
	if err == nil && !hasName {
		err = d.Missing("name")
	}
	if err == nil {
		err = d.End()
	}
	return err
}

func TestDecodeArgsValid(t *testing.T) {
	in := `{
		"name": "ada",
		"users": [{"name": "grace", "tags": ["a", "b"], "age": 85}, {"name": "linus", "extra": {"x": [null, true, 1.5e3]}}],
		"meta": {"created": "2024-02-29T12:34:56.5Z", "id": "123e4567-e89b-12d3-a456-426614174000", "big": "-9223372036854775808", "blob": "aGk="},
		"grid": [[1, 2], [], [-3]],
		"unknown": {"deep": [[[]]]}
	}`
	var a loginArgs
	if err := decodeLogin(newDecoder(in, "args"), &a); err != nil {
		t.Fatal(err)
	}
	if a.Name != "ada" || len(a.Users) != 2 || a.Users[0].Name != "grace" || a.Users[0].Age != 85 ||
		strings.Join(a.Users[0].Tags, ",") != "a,b" || a.Users[1].Name != "linus" {
		t.Errorf("decoded %+v", a)
	}
	if !a.Meta.Created.Equal(time.Date(2024, 2, 29, 12, 34, 56, 5e8, time.UTC)) ||
		a.Meta.ID.String() != "123e4567-e89b-12d3-a456-426614174000" ||
		a.Meta.Big != math.MinInt64 || string(a.Meta.Blob) != "hi" {
		t.Errorf("decoded meta %+v", a.Meta)
	}
	if len(a.Grid) != 3 || len(a.Grid[0]) != 2 || a.Grid[0][1] != 2 || len(a.Grid[1]) != 0 || a.Grid[2][0] != -3 {
		t.Errorf("decoded grid %v", a.Grid)
	}
}

// TestDecodeArgsErrorPaths checks the exact text of errors, which clients
// see in bad_request replies: the path names the value at fault.
func TestDecodeArgsErrorPaths(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"users": [{"name": "a"}, {"name": "b"}, {"name": 3}]}`, "args.users[2].name: expected string, got number"},
		{`{"name": "a", "users": [{"name": "a", "tags": ["x", "y", 3]}]}`, "args.users[0].tags[2]: expected string, got number"},
		{`{"users": [{"name": "a"}, {"tags": []}]}`, "args.users[1].name: required field missing"},
		{`{"users": [{"name": "a"}]}`, "args.name: required field missing"},
		{`{}`, "args.name: required field missing"},
		{`{"name": null}`, "args.name: expected string, got null"},
		{`{"name": "a", "users": {}}`, "args.users: expected array, got object"},
		{`{"name": "a", "users": [[]]}`, "args.users[0]: expected object, got array"},
		{`{"name": "a", "users": [{"name": "a", "age": 2147483648}]}`, "args.users[0].age: 2147483648 is not an integer in [-2147483648, 2147483647]"},
		{`{"name": "a", "users": [{"name": "a", "age": 1.5}]}`, "args.users[0].age: 1.5 is not an integer in [-2147483648, 2147483647]"},
		{`{"name": "a", "meta": {"created": "yesterday"}}`, `args.meta.created: "yesterday" is not an RFC 3339 timestamp`},
		{`{"name": "a", "meta": {"id": "123"}}`, `args.meta.id: "123" is not a UUID`},
		{`{"name": "a", "meta": {"big": 5}}`, "args.meta.big: expected int64 as a decimal string, got number"},
		{`{"name": "a", "meta": {"big": "9223372036854775808"}}`, `args.meta.big: "9223372036854775808" is not an int64`},
		{`{"name": "a", "meta": {"blob": "a"}}`, "args.meta.blob: not standard base64: illegal base64 data at input byte 0"},
		{`{"name": "a", "grid": [[1], [2, "3"]]}`, "args.grid[1][1]: expected number, got string"},
		{`{"name": "a", "grid": [[1], [2, 9007199254740992]]}`, "args.grid[1][1]: 9007199254740992 is not an integer in [-9007199254740991, 9007199254740991]"},
		{`{"name": "a", "unknown": [1, {"x": [tru]}]}`, "args.unknown[1].x[0]: malformed literal: expected true or false"},
		{`{"name": "a", "unknown": {"x": "\q"}}`, `args.unknown.x: invalid escape \q`},
		// Syntax errors after a member name the object, not the member.
		{`{"name": "a" "users": []}`, "args: expected ',' or '}', got string"},
		{`{"name": "a", "grid": [[1] [2]]}`, "args.grid: expected ',' or ']', got array"},
		{`{"name": "a"} {}`, "args: unexpected data after the value at offset 14"},
		{`{"name": "a"`, "args: expected ',' or '}', got end of input"},
		{`{"name" "a"}`, "args: expected ':' after object key, got string"},
		{`{'name': "a"}`, "args: expected object key, got invalid JSON"},
		{`{name: "a"}`, "args: expected object key, got null"}, // Peek goes by the first letter
		{`{"name": "a",}`, "args: expected object key, got invalid JSON"},
		{`[]`, "args: expected object, got array"},
		{``, "args: expected object, got end of input"},
		{`   `, "args: expected object, got end of input"},
	}
	for _, tt := range tests {
		var a loginArgs
		checkErr(t, tt.in, decodeLogin(newDecoder(tt.in, "args"), &a), tt.want)
	}
}

func TestErrorType(t *testing.T) {
	d := newDecoder(`{"a": [true]}`, "args")
	err := d.Object(func([]byte) error {
		return d.Array(func(int) error { _, err := d.String(); return err })
	})
	var we *wire.Error
	if !errors.As(err, &we) || we.Path != "args.a[0]" || we.Msg != "expected string, got boolean" {
		t.Fatalf("error %#v", err)
	}
	if (&wire.Error{Msg: "no path"}).Error() != "no path" {
		t.Error("an Error without a path is its message alone")
	}
}

func TestPathWithEmptyRoot(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{`[1, "x"]`, "[1]: expected number, got string"},
		{`[{"k": "x"}]`, "[0].k: expected number, got string"},
		{`{"k": ["x"]}`, "k[0]: expected number, got string"},
		{`"x"`, "expected array, got string"},
	}
	var walk func(d *wire.Decoder) error
	walk = func(d *wire.Decoder) error {
		switch d.Peek() {
		case wire.Object:
			return d.Object(func([]byte) error { return walk(d) })
		case wire.Array:
			return d.Array(func(int) error { return walk(d) })
		case wire.Number:
			_, err := d.Int()
			return err
		}
		_, err := d.Int()
		return err
	}
	for _, tt := range tests {
		d := newDecoder(tt.in, "")
		var err error
		if d.Peek() == wire.String {
			err = d.Array(func(int) error { return nil })
		} else {
			err = walk(d)
		}
		checkErr(t, tt.in, err, tt.want)
	}
	d := newDecoder(`{}`, "")
	checkErr(t, "Missing at the root", d.Missing("name"), "name: required field missing")
	d = newDecoder(`{"a": {}}`, "")
	err := d.Object(func([]byte) error {
		if err := d.Skip(); err != nil {
			return err
		}
		return d.Missing("b")
	})
	checkErr(t, "Missing in a member", err, "a.b: required field missing")
}

func TestErrorf(t *testing.T) {
	d := newDecoder(`{"users": [{"name": "x"}]}`, "args")
	err := d.Object(func([]byte) error {
		return d.Array(func(i int) error {
			return d.Object(func(key []byte) error {
				return d.Errorf("name %q is taken (%d)", "x", i)
			})
		})
	})
	checkErr(t, "Errorf", err, `args.users[0].name: name "x" is taken (0)`)
	d = newDecoder(`1`, "args")
	checkErr(t, "Errorf at the root", d.Errorf("bad"), "args: bad")
}

// TestEscapedKeyPath: a key with escapes is unescaped into the decoder's
// scratch buffer, which the value's own escapes then reuse; the path must
// still name the key as it was.
func TestEscapedKeyPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"k\u0065y": ["\u0041\u0042\u0043", 5]}`, "args.key[1]: expected string, got number"},
		{`{"a\"b": {"c\u0064": ["\n\n\n\n\n\n\n\n", true]}}`, `args.a"b.cd[1]: expected string, got boolean`},
		{`{"\u00e9t\u00e9": ["\ud83d\ude00 long enough to grow the scratch buffer", null]}`, "args.été[1]: expected string, got null"},
		{`{"plain": {"\/esc": ["x\ty", 1]}}`, "args.plain./esc[1]: expected string, got number"},
	}
	var walk func(d *wire.Decoder) error
	walk = func(d *wire.Decoder) error {
		switch d.Peek() {
		case wire.Object:
			return d.Object(func([]byte) error { return walk(d) })
		case wire.Array:
			return d.Array(func(int) error { return walk(d) })
		}
		_, err := d.String()
		return err
	}
	for _, tt := range tests {
		checkErr(t, tt.in, walk(newDecoder(tt.in, "args")), tt.want)
	}
}

// TestObjectKeysUnescaped: fn sees keys unescaped; an unescaped key stays
// intact while fn reads escaped strings.
func TestObjectKeysUnescaped(t *testing.T) {
	d := newDecoder(`{"a\u0062c": "\u0078", "plain": "y\n", "\ud83d\ude00": 1}`, "")
	var keys, values []string
	err := d.Object(func(key []byte) error {
		k := string(key)
		if k == "😀" {
			keys = append(keys, k)
			return d.Skip()
		}
		v, err := d.String()
		keys = append(keys, k, string(key)) // key still intact after reading the value
		values = append(values, v)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(keys, ","); got != "abc,abc,plain,plain,😀" {
		t.Errorf("keys %q", got)
	}
	if got := strings.Join(values, ","); got != "x,y\n" {
		t.Errorf("values %q", got)
	}
}

// TestObjectDoesNotRejectDuplicateKeys documents current behaviour: the
// decoder hands every member to fn, duplicates included (the generated
// code sees the last value win). Object's doc comment claims otherwise.
func TestObjectDoesNotRejectDuplicateKeys(t *testing.T) {
	d := newDecoder(`{"a": 1, "a": 2, "\u0061": 3}`, "args")
	var got []int64
	err := d.Object(func(key []byte) error {
		v, err := d.Int()
		got = append(got, v)
		return err
	})
	if err != nil || len(got) != 3 || got[2] != 3 {
		t.Fatalf("got %v, %v; want all three members delivered", got, err)
	}
}

// TestOnce reads an object the way generated decoders do: a known key the
// second time is an error at its path, before its value is read; other
// keys and the first of each known key are not.
func TestOnce(t *testing.T) {
	d := newDecoder(`{"a": 1, "b": 2, "\u0061": true}`, "args")
	if err := d.BeginObject(); err != nil {
		t.Fatal(err)
	}
	var hasA bool
	var err error
	for {
		key, more, nerr := d.NextMember()
		if nerr != nil || !more {
			err = nerr
			break
		}
		switch string(key) {
		case "a":
			if err = d.Once(&hasA); err == nil {
				_, err = d.Int()
			}
		default:
			err = d.Skip()
		}
		if err != nil {
			break
		}
	}
	if err == nil || err.Error() != "args.a: duplicate field" {
		t.Fatalf("err = %v, want args.a: duplicate field", err)
	}
	if !hasA {
		t.Error("the first a was not recorded")
	}
	if k := d.Peek(); k != wire.Bool {
		t.Errorf("after the duplicate the decoder is at %v, want the duplicate's value (bool) unread", k)
	}
}

func TestPeek(t *testing.T) {
	tests := []struct {
		in   string
		want wire.Kind
	}{
		{` {`, wire.Object}, {"\t[", wire.Array}, {"\n\"", wire.String}, {"\r-", wire.Number},
		{"0", wire.Number}, {"9", wire.Number}, {"t", wire.Bool}, {"f", wire.Bool}, {"n", wire.Null},
		{"", wire.Invalid}, {"  ", wire.Invalid}, {"+", wire.Invalid}, {".", wire.Invalid},
		{"x", wire.Invalid}, {"}", wire.Invalid}, {"\v1", wire.Invalid}, {"\u00a01", wire.Invalid},
	}
	for _, tt := range tests {
		d := newDecoder(tt.in, "")
		if got := d.Peek(); got != tt.want {
			t.Errorf("Peek(%q) = %v, want %v", tt.in, got, tt.want)
		}
		if got := d.Peek(); got != tt.want {
			t.Errorf("second Peek(%q) = %v: Peek consumed input", tt.in, got)
		}
	}
	names := map[wire.Kind]string{wire.Invalid: "invalid JSON", wire.Object: "object", wire.Array: "array",
		wire.String: "string", wire.Number: "number", wire.Bool: "boolean", wire.Null: "null"}
	for k, want := range names {
		if k.String() != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, k.String(), want)
		}
	}
}

func TestEnd(t *testing.T) {
	tests := []struct{ in, want string }{
		{`1`, ""},
		{"1 \t\r\n", ""},
		{`1 2`, "args: unexpected data after the value at offset 2"},
		{`1,`, "args: unexpected data after the value at offset 1"},
		{"1\v", "args: unexpected data after the value at offset 1"},
		{`{}}`, "args: unexpected data after the value at offset 2"},
		{"\"a\"\x00", "args: unexpected data after the value at offset 3"},
	}
	for _, tt := range tests {
		d := newDecoder(tt.in, "args")
		if err := d.Skip(); err != nil {
			t.Fatalf("%q: %v", tt.in, err)
		}
		checkErr(t, tt.in, d.End(), tt.want)
	}
}

func TestNull(t *testing.T) {
	d := newDecoder(` null`, "")
	if !d.Null() || d.End() != nil {
		t.Error("null not consumed")
	}
	for _, in := range []string{`1`, `"null"`, `nul`, `{}`} {
		d := newDecoder(in, "")
		if d.Null() {
			t.Errorf("Null(%q) = true", in)
		}
		if d.Peek() == wire.Invalid {
			t.Errorf("Null(%q) consumed input", in)
		}
	}
}

func TestBool(t *testing.T) {
	tests := []struct {
		in   string
		v    bool
		want string
	}{
		{`true`, true, ""},
		{` false`, false, ""},
		{`"true"`, false, "expected boolean, got string"},
		{`1`, false, "expected boolean, got number"},
		{`null`, false, "expected boolean, got null"},
		{``, false, "expected boolean, got end of input"},
		{`True`, false, "expected boolean, got invalid JSON"},
		// A malformed literal that starts like a boolean.
		{`tru`, false, "malformed literal: expected true or false"},
		{`fals`, false, "malformed literal: expected true or false"},
	}
	for _, tt := range tests {
		v, err := newDecoder(tt.in, "").Bool()
		checkErr(t, tt.in, err, tt.want)
		if v != tt.v {
			t.Errorf("Bool(%q) = %v", tt.in, v)
		}
	}
	// Literals are not checked for a delimiter after them; End catches it.
	d := newDecoder(`truex`, "")
	if v, err := d.Bool(); !v || err != nil {
		t.Errorf("Bool(truex) = %v, %v", v, err)
	}
	checkErr(t, "truex", d.End(), "unexpected data after the value at offset 4")
}

func TestFloat64(t *testing.T) {
	good := []struct {
		in string
		v  float64
	}{
		{`0`, 0}, {`-0`, math.Copysign(0, -1)}, {`1`, 1}, {`-1`, -1}, {`1.5`, 1.5}, {`-0.25`, -0.25},
		{`1e3`, 1000}, {`1E3`, 1000}, {`1e+3`, 1000}, {`1e-3`, 0.001}, {`2.5E-1`, 0.25},
		{`123456789012345678901234567890`, 1.2345678901234568e29}, {`1e-400`, 0},
		{`1.7976931348623157e308`, math.MaxFloat64}, {`5e-324`, math.SmallestNonzeroFloat64},
		{`0.1`, 0.1},
	}
	for _, tt := range good {
		d := newDecoder(tt.in, "x")
		v, err := d.Float64()
		if err != nil || v != tt.v || math.Signbit(v) != math.Signbit(tt.v) || d.End() != nil {
			t.Errorf("Float64(%q) = %v, %v; want %v", tt.in, v, err, tt.v)
		}
	}
	bad := []struct{ in, want string }{
		{`-`, "x: malformed number"},
		{`-a`, "x: malformed number"},
		{`1.`, "x: malformed number"},
		{`1.e3`, "x: malformed number"},
		{`1e`, "x: malformed number"},
		{`1e+`, "x: malformed number"},
		{`1E-`, "x: malformed number"},
		{`-.5`, "x: malformed number"},
		{`-Infinity`, "x: malformed number"},
		{`+1`, "x: expected number, got invalid JSON"},
		{`.5`, "x: expected number, got invalid JSON"},
		{`NaN`, "x: expected number, got invalid JSON"},
		{`Infinity`, "x: expected number, got invalid JSON"},
		{`"1"`, "x: expected number, got string"},
		{``, "x: expected number, got end of input"},
		{`1e400`, "x: number 1e400 out of range"},
		{`-1e400`, "x: number -1e400 out of range"},
	}
	for _, tt := range bad {
		_, err := newDecoder(tt.in, "x").Float64()
		checkErr(t, tt.in, err, tt.want)
	}
}

// TestLeadingZerosAndHexCaughtByEnd: the number reader stops after a
// leading 0, as JSON's grammar says a number does; the rest is trailing
// data that End (or the enclosing array or object) rejects.
func TestLeadingZerosAndHexCaughtByEnd(t *testing.T) {
	tests := []struct{ in, want string }{
		{`01`, "unexpected data after the value at offset 1"},
		{`-01`, "unexpected data after the value at offset 2"},
		{`00`, "unexpected data after the value at offset 1"},
		{`0x10`, "unexpected data after the value at offset 1"},
		{`1.5.5`, "unexpected data after the value at offset 3"},
		{`1e5e5`, "unexpected data after the value at offset 3"},
		{`1-1`, "unexpected data after the value at offset 1"},
	}
	for _, tt := range tests {
		d := newDecoder(tt.in, "")
		_, err := d.Float64()
		if err == nil {
			err = d.End()
		}
		checkErr(t, tt.in, err, tt.want)
	}
	d := newDecoder(`[01]`, "args")
	err := d.Array(func(int) error { _, err := d.Int(); return err })
	checkErr(t, "[01]", err, "args: expected ',' or ']', got number")
	d = newDecoder(`{"n": 01}`, "args")
	err = d.Object(func([]byte) error { _, err := d.Int(); return err })
	checkErr(t, `{"n": 01}`, err, "args: expected ',' or '}', got number")
}

func TestIntegers(t *testing.T) {
	type result struct {
		v   int64
		err string
	}
	int32R := "is not an integer in [-2147483648, 2147483647]"
	uint32R := "is not an integer in [0, 4294967295]"
	intR := "is not an integer in [-9007199254740991, 9007199254740991]"
	tests := []struct {
		in   string
		read func(*wire.Decoder) (int64, error)
		want result
	}{
		{`2147483647`, int32Of, result{math.MaxInt32, ""}},
		{`-2147483648`, int32Of, result{math.MinInt32, ""}},
		{`2147483648`, int32Of, result{0, "2147483648 " + int32R}},
		{`-2147483649`, int32Of, result{0, "-2147483649 " + int32R}},
		{`-0`, int32Of, result{0, ""}},
		{`1.0`, int32Of, result{0, "1.0 " + int32R}},
		{`1e2`, int32Of, result{0, "1e2 " + int32R}},
		{`"1"`, int32Of, result{0, "expected number, got string"}},
		{`4294967295`, uint32Of, result{math.MaxUint32, ""}},
		{`0`, uint32Of, result{0, ""}},
		{`4294967296`, uint32Of, result{0, "4294967296 " + uint32R}},
		{`-1`, uint32Of, result{0, "-1 " + uint32R}},
		{`9007199254740991`, intOf, result{1<<53 - 1, ""}},
		{`-9007199254740991`, intOf, result{-(1<<53 - 1), ""}},
		{`9007199254740992`, intOf, result{0, "9007199254740992 " + intR}},
		{`-9007199254740992`, intOf, result{0, "-9007199254740992 " + intR}},
		{`99999999999999999999999`, intOf, result{0, "99999999999999999999999 " + intR}},
		{`0.5`, intOf, result{0, "0.5 " + intR}},
		{`null`, intOf, result{0, "expected number, got null"}},
	}
	for _, tt := range tests {
		d := newDecoder(tt.in, "")
		v, err := tt.read(d)
		checkErr(t, tt.in, err, tt.want.err)
		if v != tt.want.v {
			t.Errorf("%s: %d, want %d", tt.in, v, tt.want.v)
		}
	}
}

func int32Of(d *wire.Decoder) (int64, error)  { v, err := d.Int32(); return int64(v), err }
func uint32Of(d *wire.Decoder) (int64, error) { v, err := d.Uint32(); return int64(v), err }
func intOf(d *wire.Decoder) (int64, error)    { return d.Int() }

func TestInt64(t *testing.T) {
	good := []struct {
		in string
		v  int64
	}{
		{`"0"`, 0}, {`"-1"`, -1}, {`"9223372036854775807"`, math.MaxInt64},
		{`"-9223372036854775808"`, math.MinInt64}, {`"\u0031\u0032"`, 12},
		// Accepted today though not canonical: a negative zero and leading zeros.
		{`"-0"`, 0}, {`"007"`, 7},
	}
	for _, tt := range good {
		v, err := newDecoder(tt.in, "").Int64()
		if err != nil || v != tt.v {
			t.Errorf("Int64(%s) = %d, %v; want %d", tt.in, v, err, tt.v)
		}
	}
	bad := []struct{ in, want string }{
		{`"9223372036854775808"`, `n: "9223372036854775808" is not an int64`},
		{`"-9223372036854775809"`, `n: "-9223372036854775809" is not an int64`},
		{`"99999999999999999999999"`, `n: "99999999999999999999999" is not an int64`},
		{`""`, `n: "" is not an int64`},
		{`" 1"`, `n: " 1" is not an int64`},
		{`"1 "`, `n: "1 " is not an int64`},
		{`"1.0"`, `n: "1.0" is not an int64`},
		{`"1e3"`, `n: "1e3" is not an int64`},
		{`"0x10"`, `n: "0x10" is not an int64`},
		{`"1_000"`, `n: "1_000" is not an int64`},
		{`"--1"`, `n: "--1" is not an int64`},
		{`"abc"`, `n: "abc" is not an int64`},
		{`1`, "n: expected int64 as a decimal string, got number"},
		{`-1`, "n: expected int64 as a decimal string, got number"},
		{`null`, "n: expected int64 as a decimal string, got null"},
		{``, "n: expected int64 as a decimal string, got end of input"},
		{`"1`, "n: unterminated string"},
	}
	for _, tt := range bad {
		_, err := newDecoder(tt.in, "n").Int64()
		checkErr(t, tt.in, err, tt.want)
	}
}

func TestInt64RejectsPlusSign(t *testing.T) {
	_, err := newDecoder(`"+1"`, "n").Int64()
	checkErr(t, `"+1"`, err, `n: "+1" is not an int64`)
}

func TestUint64(t *testing.T) {
	good := []struct {
		in string
		v  uint64
	}{
		{`"0"`, 0}, {`"18446744073709551615"`, math.MaxUint64}, {`"9223372036854775808"`, 1 << 63},
	}
	for _, tt := range good {
		v, err := newDecoder(tt.in, "").Uint64()
		if err != nil || v != tt.v {
			t.Errorf("Uint64(%s) = %d, %v; want %d", tt.in, v, err, tt.v)
		}
	}
	bad := []struct{ in, want string }{
		{`"18446744073709551616"`, `n: "18446744073709551616" is not a uint64`},
		{`"-1"`, `n: "-1" is not a uint64`},
		{`"-0"`, `n: "-0" is not a uint64`},
		{`"+1"`, `n: "+1" is not a uint64`},
		{`" 1"`, `n: " 1" is not a uint64`},
		{`"1.0"`, `n: "1.0" is not a uint64`},
		{`1`, "n: expected uint64 as a decimal string, got number"},
		{`true`, "n: expected uint64 as a decimal string, got boolean"},
	}
	for _, tt := range bad {
		_, err := newDecoder(tt.in, "n").Uint64()
		checkErr(t, tt.in, err, tt.want)
	}
}

func TestUint64EmptyAndLongMessages(t *testing.T) {
	for _, in := range []string{`""`, `"000000000000000000001"`} {
		_, err := newDecoder(in, "n").Uint64()
		checkErr(t, in, err, "n: "+in+" is not a uint64")
	}
}

func TestString(t *testing.T) {
	good := []struct{ in, want string }{
		{`""`, ""},
		{`"abc"`, "abc"},
		{`"\"\\\/\b\f\n\r\t"`, "\"\\/\b\f\n\r\t"},
		{`"\u0041\u00e9\u20AC\uFFFF"`, "Aé€\uffff"},
		{`"\u0000"`, "\x00"},
		{`"\ud83d\ude00 \uD834\uDD1E"`, "😀 𝄞"},
		{`"héllo 😀"`, "héllo 😀"},
		{"\"\x7f\"", "\x7f"},
		{`"\ufffd"`, "\ufffd"},
		{`"x\u2028y"`, "x\u2028y"},
		{"\"x\u2028y\"", "x\u2028y"},
	}
	for _, tt := range good {
		d := newDecoder(tt.in, "s")
		got, err := d.String()
		if err != nil || got != tt.want || d.End() != nil {
			t.Errorf("String(%s) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{"\"a\x00b\"", "s: control character in string"},
		{"\"a\x1fb\"", "s: control character in string"},
		{"\"a\tb\"", "s: control character in string"},
		{"\"a\nb\"", "s: control character in string"},
		{"\"\\n\x01\"", "s: control character in string"},
		{`"\x41"`, `s: invalid escape \x`},
		{`"\'"`, `s: invalid escape \'`},
		{`"\U0041"`, `s: invalid escape \U`},
		{`"\a"`, `s: invalid escape \a`},
		{`"\u12"`, `s: malformed \u escape`},
		{`"\u12G4"`, `s: malformed \u escape`},
		{`"\u-123"`, `s: malformed \u escape`},
		{`"\u`, `s: malformed \u escape`},
		{`"\ud800"`, `s: unpaired surrogate in \u escape`},
		{`"\ud800x"`, `s: unpaired surrogate in \u escape`},
		{`"\ud800\n"`, `s: unpaired surrogate in \u escape`},
		{`"\ud800\u0041"`, `s: unpaired surrogate in \u escape`},
		{`"\ud800\ud800"`, `s: unpaired surrogate in \u escape`},
		{`"\udc00"`, `s: unpaired surrogate in \u escape`},
		{`"\udc00\ud800"`, `s: unpaired surrogate in \u escape`},
		{`"\ud800\udc0"`, `s: unpaired surrogate in \u escape`},
		{"\"\xff\"", "s: string is not valid UTF-8"},
		{"\"a\xc3\"", "s: string is not valid UTF-8"},
		{"\"\xc0\x80\"", "s: string is not valid UTF-8"},     // overlong NUL
		{"\"\xed\xa0\x80\"", "s: string is not valid UTF-8"}, // UTF-8 of a surrogate
		{"\"\xf4\x90\x80\x80\"", "s: string is not valid UTF-8"},
		{"\"\\n\xff\"", "s: string is not valid UTF-8"},     // after an escape
		{"\"\xc3\\u00a9\"", "s: string is not valid UTF-8"}, // a lead byte before an escape
		{"\"\\u00e9\xa9\"", "s: string is not valid UTF-8"}, // a stray continuation after one
		{`"abc`, "s: unterminated string"},
		{`"ab\"`, "s: unterminated string"},
		{`"ab\`, "s: unterminated string"},
		{`"\n`, "s: unterminated string"},
		{`'a'`, "s: expected string, got invalid JSON"},
		{`1`, "s: expected string, got number"},
	}
	for _, tt := range bad {
		_, err := newDecoder(tt.in, "s").String()
		checkErr(t, tt.in, err, tt.want)
	}
}

// TestStringBytesAliasing: without escapes the bytes are a view of the
// input; with escapes they live in a scratch buffer valid until the next
// call.
func TestStringBytesAliasing(t *testing.T) {
	in := []byte(`["plain", "esc\u0061ped", "again\u0021"]`)
	var d wire.Decoder
	d.Reset(in, "")
	var got [][]byte
	err := d.Array(func(i int) error {
		b, err := d.StringBytes()
		got = append(got, b)
		if i == 1 && string(b) != "escaped" {
			t.Errorf("escaped string %q", b)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if &got[0][0] != &in[2] {
		t.Error("a string without escapes was copied")
	}
	if string(got[2]) != "again!" {
		t.Errorf("last string %q", got[2])
	}
}

// TestDepthLimit: MaxDepth levels of nesting are accepted, one more is
// not, whether arrays, objects or a mix, and whether skipped or read by
// hand.
func TestDepthLimit(t *testing.T) {
	const max = wire.MaxDepth
	tooDeep := fmt.Sprintf("nested deeper than %d", max)
	arrays := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	objects := func(n int) string { return strings.Repeat(`{"k":`, n) + "1" + strings.Repeat("}", n) }
	mixed := func(n int) string {
		var open, close strings.Builder
		for i := range n {
			if i%2 == 0 {
				open.WriteString(`[`)
				close.WriteString(`]`)
			} else {
				open.WriteString(`{"k":`)
				close.WriteString(`}`)
			}
		}
		c := []byte(close.String())
		for i, j := 0, len(c)-1; i < j; i, j = i+1, j-1 {
			c[i], c[j] = c[j], c[i]
		}
		return open.String() + "0" + string(c)
	}
	for _, tt := range []struct {
		name string
		gen  func(int) string
		path string // of the value one level too deep
	}{
		{"arrays", arrays, strings.Repeat("[0]", max)},
		{"objects", objects, "args" + strings.Repeat(".k", max)},
		{"mixed", mixed, "args" + strings.Repeat("[0].k", max/2)},
	} {
		d := newDecoder(tt.gen(max), "args")
		if err := d.Skip(); err != nil {
			t.Errorf("%s: %d levels: %v", tt.name, max, err)
		}
		if err := d.End(); err != nil {
			t.Errorf("%s: %d levels: %v", tt.name, max, err)
		}
		d = newDecoder(tt.gen(max+1), "args")
		want := tt.path + ": " + tooDeep
		if tt.name == "arrays" {
			want = "args" + want
		}
		checkErr(t, tt.name+" one level more", d.Skip(), want)
	}
	// A hostile input much deeper than the limit fails fast, without
	// exhausting the stack.
	d := newDecoder(strings.Repeat("[", 1<<20), "")
	if err := d.Skip(); err == nil || !strings.HasSuffix(err.Error(), tooDeep) {
		t.Errorf("1M levels: %v", err)
	}
	// Siblings do not add up: depth is released when a container ends.
	d = newDecoder("["+strings.Repeat(arrays(max-1)+",", 100)+"0]", "")
	if err := d.Skip(); err != nil {
		t.Errorf("siblings: %v", err)
	}
}

// TestResetClearsState: a decoder that failed deep inside nesting reads
// the next input with a clean path and depth.
func TestResetClearsState(t *testing.T) {
	var d wire.Decoder
	d.Reset([]byte(strings.Repeat(`{"a":[`, 30)+`x`), "args")
	if err := d.Skip(); err == nil {
		t.Fatal("no error")
	}
	d.Reset([]byte(`{"b": [1, true]}`), "next")
	err := d.Object(func([]byte) error {
		return d.Array(func(int) error { _, err := d.Int(); return err })
	})
	checkErr(t, "after Reset", err, "next.b[1]: expected number, got boolean")
	d.Reset([]byte(strings.Repeat("[", wire.MaxDepth)+strings.Repeat("]", wire.MaxDepth)), "")
	if err := d.Skip(); err != nil {
		t.Errorf("depth not reset: %v", err)
	}
}

func TestSkip(t *testing.T) {
	good := []string{
		`null`, `true`, `false`, `0`, `-1.5e-3`, `""`, `"a\"b"`, `[]`, `{}`, ` [ 1 , "x" , { } , [ ] ] `,
		`{"a": {"b": [null, {"c": "\ud83d\ude00"}]}}`, `{"a":1,"a":2}`,
	}
	for _, in := range good {
		d := newDecoder(in, "")
		if err := d.Skip(); err != nil {
			t.Errorf("Skip(%s): %v", in, err)
		} else if err := d.End(); err != nil {
			t.Errorf("Skip(%s) left data: %v", in, err)
		}
	}
	bad := []struct{ in, want string }{
		{``, "expected a JSON value, got end of input"},
		{`}`, "expected a JSON value, got invalid JSON"},
		{`[1,]`, "[1]: expected a JSON value, got invalid JSON"},
		{`[`, "[0]: expected a JSON value, got end of input"},
		{`{"a":}`, "a: expected a JSON value, got invalid JSON"},
		{`{"a"}`, "expected ':' after object key, got invalid JSON"},
		{`[1 2]`, "expected ',' or ']', got number"},
		{`[1`, "expected ',' or ']', got end of input"},
		{`{"a":1`, "expected ',' or '}', got end of input"},
		{`{"a":1]`, "expected ',' or '}', got invalid JSON"},
		{`[tru]`, "[0]: malformed literal: expected true or false"},
		{`[-]`, "[0]: malformed number"},
		{"[\"\x01\"]", "[0]: control character in string"},
	}
	for _, tt := range bad {
		checkErr(t, tt.in, newDecoder(tt.in, "").Skip(), tt.want)
	}
}

// TestSkipMalformedNull: "nul" and "nope" start like null.
func TestSkipMalformedNull(t *testing.T) {
	// Inside a container it is an error today only because the container
	// finds the unconsumed letters where it wants a delimiter ("expected
	// ',' or ']', got null"); at the top level End catches it.
	if newDecoder(`[nul]`, "").Skip() == nil {
		t.Error("Skip([nul]) succeeded")
	}
	if d := newDecoder(`nul`, ""); d.Skip() == nil && d.End() == nil {
		t.Error("Skip+End(nul) succeeded")
	}
	for _, in := range []string{`nul`, `nope`, `[nul]`} {
		if err := newDecoder(in, "").Skip(); err == nil || !strings.Contains(err.Error(), "null") {
			t.Errorf("Skip(%s) = %v, want an error about the literal", in, err)
		}
	}
	if raw, err := newDecoder(`nul`, "").Raw(); err == nil {
		t.Errorf("Raw(nul) = %q, nil", raw)
	}
}

func TestRaw(t *testing.T) {
	var raws []string
	d := newDecoder(`[ {"a" : [1, "x\n", {"b": null}]} , 2 , "s" ]`, "")
	err := d.Array(func(int) error {
		r, err := d.Raw()
		raws = append(raws, string(r))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{`{"a" : [1, "x\n", {"b": null}]}`, `2`, `"s"`}; strings.Join(raws, "|") != strings.Join(want, "|") {
		t.Errorf("Raw = %q, want %q", raws, want)
	}
	_, err = newDecoder(`[1,`, "").Raw()
	checkErr(t, "Raw of bad JSON", err, "[1]: expected a JSON value, got end of input")
}

func TestBytes(t *testing.T) {
	good := []struct{ in, want string }{
		{`""`, ""}, {`"aGk="`, "hi"}, {`"aGVsbG8="`, "hello"}, {`"AAEC/+8="`, "\x00\x01\x02\xff\xef"},
		{`"aGVs\/G8="`, "hel\xfc\x6f"},
	}
	for _, tt := range good {
		b, err := newDecoder(tt.in, "").Bytes()
		if err != nil || string(b) != tt.want {
			t.Errorf("Bytes(%s) = %q, %v; want %q", tt.in, b, err, tt.want)
		}
	}
	bad := []struct{ in, want string }{
		{`"aGVsbG8"`, "b: not standard base64: illegal base64 data at input byte 4"},  // unpadded
		{`"aGk"`, "b: not standard base64: illegal base64 data at input byte 0"},      // unpadded
		{`"AAEC_-8="`, "b: not standard base64: illegal base64 data at input byte 4"}, // URL alphabet
		{`"a"`, "b: not standard base64: illegal base64 data at input byte 0"},
		{`"aGk=aGk="`, "b: not standard base64: illegal base64 data at input byte 4"},
		{`"aG k="`, "b: not standard base64: illegal base64 data at input byte 2"},
		{`[104, 105]`, "b: expected string, got array"},
		{`null`, "b: expected string, got null"},
	}
	for _, tt := range bad {
		_, err := newDecoder(tt.in, "b").Bytes()
		checkErr(t, tt.in, err, tt.want)
	}
}

// TestBytesAcceptsNewlinesAndNonCanonicalPadding documents current
// behaviour: encoding/base64's StdEncoding (not .Strict()) skips \r and \n
// and ignores nonzero padding bits, so these non-canonical forms decode.
func TestBytesAcceptsNewlinesAndNonCanonicalPadding(t *testing.T) {
	for _, in := range []string{`"aGVs\nbG8="`, `"aGVsbG8=\r\n"`, `"aGVsbG9="`} {
		b, err := newDecoder(in, "").Bytes()
		if err != nil || string(b) != "hello" {
			t.Errorf("Bytes(%s) = %q, %v", in, b, err)
		}
	}
}

func TestTime(t *testing.T) {
	good := []struct {
		in   string
		want time.Time
	}{
		{`"2024-02-29T12:34:56Z"`, time.Date(2024, 2, 29, 12, 34, 56, 0, time.UTC)},
		{`"2024-02-29T12:34:56.123456789Z"`, time.Date(2024, 2, 29, 12, 34, 56, 123456789, time.UTC)},
		{`"2024-02-29T12:34:56.1Z"`, time.Date(2024, 2, 29, 12, 34, 56, 1e8, time.UTC)},
		{`"0000-01-01T00:00:00Z"`, time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)},
		{`"9999-12-31T23:59:59.999999999Z"`, time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		// Offsets other than Z are accepted (the protocol writes UTC).
		{`"2024-02-29T14:34:56+02:00"`, time.Date(2024, 2, 29, 12, 34, 56, 0, time.UTC)},
		{`"2024-02-29T12:34:56-00:00"`, time.Date(2024, 2, 29, 12, 34, 56, 0, time.UTC)},
		// Accepted by time.Parse though RFC 3339 has only '.': a comma before the fraction.
		{`"2024-02-29T12:34:56,5Z"`, time.Date(2024, 2, 29, 12, 34, 56, 5e8, time.UTC)},
	}
	for _, tt := range good {
		v, err := newDecoder(tt.in, "").Time()
		if err != nil || !v.Equal(tt.want) {
			t.Errorf("Time(%s) = %v, %v; want %v", tt.in, v, err, tt.want)
		}
	}
	bad := []string{
		`"2024-02-30T00:00:00Z"`, `"2024-02-29 12:34:56Z"`, `"2024-02-29T12:34:56"`, `"2024-02-29"`,
		`"2024-02-29T24:00:00Z"`, `"2024-02-29T12:34:56+0200"`, `"2024-02-29T12:34:56.Z"`,
		`"24-02-29T12:34:56Z"`, `"2024-2-29T12:34:56Z"`, `"1709210096"`, `""`, `" 2024-02-29T12:34:56Z"`,
		// RFC 3339 allows lowercase t and z and leap second 60; time.Parse does not.
		`"2024-02-29t12:34:56z"`, `"2016-12-31T23:59:60Z"`,
	}
	for _, in := range bad {
		_, err := newDecoder(in, "t").Time()
		checkErr(t, in, err, "t: "+in+" is not an RFC 3339 timestamp")
	}
	_, err := newDecoder(`1709210096`, "t").Time()
	checkErr(t, "number", err, "t: expected string, got number")
}

func TestUUID(t *testing.T) {
	want := uuid.MustParse("123e4567-e89b-12d3-a456-426614174000")
	for _, in := range []string{
		`"123e4567-e89b-12d3-a456-426614174000"`,
		// Uppercase is accepted, though canonical output is lowercase.
		`"123E4567-E89B-12D3-A456-426614174000"`,
		`"123e4567-e89b-12d3-a456-\u0034\u0032\u0036614174000"`,
	} {
		u, err := newDecoder(in, "").UUID()
		if err != nil || u != want {
			t.Errorf("UUID(%s) = %v, %v", in, u, err)
		}
	}
	for _, in := range []string{
		`"123e4567e89b12d3a456426614174000"`,
		`"{123e4567-e89b-12d3-a456-426614174000}"`,
		`"urn:uuid:123e4567-e89b-12d3-a456-426614174000"`,
		`"123e4567-e89b-12d3-a456-42661417400g"`,
		`"123e4567-e89b-12d3-a456_426614174000"`,
		`"123e4567e-89b-12d3-a456-426614174000"`,
		`"123e4567-e89b-12d3-a456-4266141740000"`,
		`"123e4567-e89b-12d3-a456-42661417400"`,
		`""`,
	} {
		_, err := newDecoder(in, "u").UUID()
		checkErr(t, in, err, "u: "+in+" is not a UUID")
	}
	_, err := newDecoder(`123`, "u").UUID()
	checkErr(t, "number", err, "u: expected string, got number")
}

// TestDecodeAllocs: reading an object of ASCII keys, strings (as bytes)
// and numbers allocates nothing once the decoder has been used.
func TestDecodeAllocs(t *testing.T) {
	in := []byte(`{"name": "ada", "id": 12345, "n": -7, "ok": true, "f": 1.5, "tags": ["a", "b", "c"], "deep": {"x": [null, {"y": 1}]}}`)
	var d wire.Decoder
	var sum int64
	run := func() {
		d.Reset(in, "args")
		err := d.Object(func(key []byte) error {
			switch string(key) {
			case "name":
				b, err := d.StringBytes()
				sum += int64(len(b))
				return err
			case "id", "n":
				v, err := d.Int()
				sum += v
				return err
			case "ok":
				_, err := d.Bool()
				return err
			case "f":
				_, err := d.Float64()
				return err
			case "tags":
				return d.Array(func(int) error { _, err := d.StringBytes(); return err })
			}
			return d.Skip()
		})
		if err == nil {
			err = d.End()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	run()
	if n := testing.AllocsPerRun(100, run); n != 0 {
		t.Errorf("%v allocations per decode, want 0", n)
	}
}

// TestDecodeInt64Allocs: Int64 and Uint64 go through a string copy of the
// digits (decimalString returns string(b)), one allocation per value.
func TestDecodeInt64Allocs(t *testing.T) {
	in := []byte(`["-9223372036854775808", "18446744073709551615"]`)
	var d wire.Decoder
	n := testing.AllocsPerRun(100, func() {
		d.Reset(in, "")
		_ = d.Array(func(i int) error {
			if i == 0 {
				_, err := d.Int64()
				return err
			}
			_, err := d.Uint64()
			return err
		})
	})
	if n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

// TestErrorsClipHugeValues: an error message repeats at most the first 40
// bytes of a bad number or decimal string (whole runes), so that an
// answer to a huge value is not as huge.
func TestErrorsClipHugeValues(t *testing.T) {
	digits := strings.Repeat("1234567890", 10000)
	clipped := digits[:40] + "…"
	intR := " is not an integer in [-9007199254740991, 9007199254740991]"
	d := newDecoder(digits, "id")
	_, err := d.Int()
	checkErr(t, "100000 digits", err, "id: "+clipped+intR)
	_, err = newDecoder(digits+".5", "id").Int()
	checkErr(t, "100000 digits and a fraction", err, "id: "+clipped+intR)
	_, err = newDecoder("1"+strings.Repeat("0", 400)+"e400", "x").Float64()
	checkErr(t, "1e800", err, "x: number 1"+strings.Repeat("0", 39)+"… out of range")
	// A string of 39 ASCII bytes and then é: the cut does not split the rune.
	s := strings.Repeat("9", 39) + "é" + digits
	_, err = newDecoder(`"`+s+`"`, "n").Int64()
	checkErr(t, "long decimal string", err, `n: "`+strings.Repeat("9", 39)+`…" is not an int64`)
	// 40 bytes exactly are repeated whole.
	_, err = newDecoder(digits[:40], "id").Int()
	checkErr(t, "40 digits", err, "id: "+digits[:40]+intR)
}
