package wire_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// walkIter reads any value with BeginObject/NextMember and
// BeginArray/NextElement, reading leaves as integers (strings under keys
// that start with "s").
func walkIter(d *wire.Decoder) error {
	switch d.Peek() {
	case wire.Object:
		if err := d.BeginObject(); err != nil {
			return err
		}
		for {
			key, more, err := d.NextMember()
			if err != nil || !more {
				return err
			}
			if strings.HasPrefix(string(key), "s") {
				_, err = d.String()
			} else {
				err = walkIter(d)
			}
			if err != nil {
				return err
			}
		}
	case wire.Array:
		if err := d.BeginArray(); err != nil {
			return err
		}
		for {
			more, err := d.NextElement()
			if err != nil || !more {
				return err
			}
			if err := walkIter(d); err != nil {
				return err
			}
		}
	}
	_, err := d.Int()
	return err
}

// walkFunc is walkIter with Object and Array.
func walkFunc(d *wire.Decoder) error {
	switch d.Peek() {
	case wire.Object:
		return d.Object(func(key []byte) error {
			if strings.HasPrefix(string(key), "s") {
				_, err := d.String()
				return err
			}
			return walkFunc(d)
		})
	case wire.Array:
		return d.Array(func(int) error { return walkFunc(d) })
	}
	_, err := d.Int()
	return err
}

// TestIterPaths: the loop API reports the same errors, with the same
// paths, as Object and Array, including past the nesting a decoder keeps
// without allocating, with escaped keys, and after a member or element
// has ended.
func TestIterPaths(t *testing.T) {
	deep := func(n int, leaf string) string {
		return strings.Repeat(`{"k\u0065y":[`, n) + leaf + strings.Repeat("]}", n)
	}
	tests := []struct{ in, want string }{
		{`{}`, ""},
		{`[]`, ""},
		{` { "a" : [ 1 , 2 ] , "b" : { } } `, ""},
		{`{"a": [1, "x"]}`, "args.a[1]: expected number, got string"},
		{`{"a": 1, "s": 2}`, "args.s: expected string, got number"},
		{`{"a": [1, 2}`, "args.a: expected ',' or ']', got invalid JSON"},
		{`{"a": 1 "b": 2}`, "args: expected ',' or '}', got string"},
		{`{"a": 1,}`, "args: expected object key, got invalid JSON"},
		{`{"a" 1}`, "args: expected ':' after object key, got number"},
		{`{"a": [1,]}`, "args.a[1]: expected number, got invalid JSON"},
		{`{"a": [`, "args.a[0]: expected number, got end of input"},
		{`{"a\"b": {"c\u0064": [0, 1, "x"]}}`, `args.a"b.cd[2]: expected number, got string`},
		{deep(7, `"x"`), "args" + strings.Repeat(".key[0]", 7) + ": expected number, got string"},
		{deep(20, `1, 2, "x"`), "args" + strings.Repeat(".key[0]", 19) + ".key[2]: expected number, got string"},
		{deep(20, `1`) + ` x`, ""},       // End is not checked here
		{deep(wire.MaxDepth/2, `1`), ""}, // MaxDepth levels
		{deep(wire.MaxDepth/2+1, `1`), "args" + strings.Repeat(".key[0]", wire.MaxDepth/2) + fmt.Sprintf(": nested deeper than %d", wire.MaxDepth)},
	}
	for _, tt := range tests {
		d := newDecoder(tt.in, "args")
		checkErr(t, tt.in, walkIter(d), tt.want)
		d.Reset([]byte(tt.in), "args")
		checkErr(t, tt.in+" (Object, Array)", walkFunc(d), tt.want)
	}
}

// TestIterMissingAfterLoop: once NextMember has reported the end of an
// object, the path is that of the object again, for Missing.
func TestIterMissingAfterLoop(t *testing.T) {
	d := newDecoder(`{"user": {"age": 3}}`, "args")
	var err error
	if err = d.BeginObject(); err != nil {
		t.Fatal(err)
	}
	if _, more, err := d.NextMember(); err != nil || !more {
		t.Fatal(more, err)
	}
	if err = d.BeginObject(); err != nil {
		t.Fatal(err)
	}
	for {
		_, more, err := d.NextMember()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
		if err := d.Skip(); err != nil {
			t.Fatal(err)
		}
	}
	checkErr(t, "Missing", d.Missing("name"), "args.user.name: required field missing")
}

// TestIterAllocs: reading nested objects and arrays with the loop API
// allocates nothing, beyond the nesting kept inline once the decoder has
// been used deeper.
func TestIterAllocs(t *testing.T) {
	for _, in := range []string{
		`{"a": [1, 2, {"b": [3]}], "s": "text", "c": {}}`,
		strings.Repeat(`{"k":[`, 20) + "1" + strings.Repeat("]}", 20),
	} {
		var d wire.Decoder
		data := []byte(in)
		run := func() {
			d.Reset(data, "args")
			if err := walkIter(&d); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if n := testing.AllocsPerRun(100, run); n != 0 {
			t.Errorf("%.20s…: %v allocations per decode, want 0", in, n)
		}
	}
}
