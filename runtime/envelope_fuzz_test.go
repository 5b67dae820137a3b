package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// decodeReference decodes a frame the slow way: wire.Valid over
// every frame first, then validMembers, which splits the object without
// wire's decoder. decode must agree with it on every frame, whether its
// one pass through wire's decoder read the frame whole or not.
func (ed *envelopeDecoder) decodeReference(data []byte) error {
	ed.e = envelope{}
	d := &ed.d
	d.Reset(data, "")
	if k := d.Peek(); k != wire.Object {
		got := k.String()
		if len(bytes.TrimSpace(data)) == 0 {
			got = "end of input"
		}
		return d.Errorf("expected object, got %s", got)
	}
	if !wire.Valid(data) {
		if err := d.Skip(); err != nil {
			return err
		}
		if err := d.End(); err != nil {
			return err
		}
		return errors.New("not valid JSON")
	}
	ed.validMembers(data)
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzEnvelope: decode, which runs wire.Valid and validMembers
// only when wire's decoder did not read the whole frame, decides every
// frame as decodeReference does (same error, same members, same problems),
// and a frame read whole is valid JSON.
func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"call":"echo","args":{"text":"x"}}`, ` {"id" : 7 , "call":"say"} `, `{"id":"1","call":"echo"}`,
		`{"id":1,"call":2}`, `{"id":1,"args":[1]}`, `{"id":1,"call":"a","args":{"a":[}}`, `{"id":1,"call":"a","args":{"a":"\ud800"}}`,
		`{"hello":{"resume":"x","seq":3}}`, `{"hello":{"resume":"\ud800"}}`, `{"hello":[]}`, `{"cancel":4}`, `{"ping":5}`,
		`{"id":1} x`, `{"id":1}}`, `{"id":1,}`, `{"x":"\ud800","id":1,"call":"a"}`, `{"id":1.5,"call":"a"}`, `{"id":1e400,"call":"a"}`,
		`{"id":9007199254740992}`, `[]`, ``, `   `, `{"id":1,"call":"a","x":` + strings.Repeat("[", wire.MaxDepth+6) + strings.Repeat("]", wire.MaxDepth+6) + `}`,
		`{"id":1,"call":"a","x":` + strings.Repeat("[", wire.MaxDepth) + strings.Repeat("]", wire.MaxDepth) + `}`, "{\"id\":1,\"call\":\"\xff\"}",
		`{"id":1,"call":"a","args":{"t":tru}}`, `{"id":1,"call":"a","args":{"t":01}}`, `{"id":1,"call":"a","args":{"t":"\x"}}`,
		`{}`, ` { } `, `{"foo":1}`, `{"call":"a"}`, `{"id":1,"id":2,"call":"a"}`, `{"\u0069d":1,"call":"a"}`, `{"\ud800":1,"id":2,"call":"a"}`,
		`{"hello":{"x":"\ud800","\ud800":1,"y":` + strings.Repeat("[", wire.MaxDepth+6) + strings.Repeat("]", wire.MaxDepth+6) + `,"resume":"t","seq":0}}`, `{"hello":{"resume":"a","resume":"b"}}`,
		`{"hello":{"seq":-1}}`, `{"hello":{"seq":1,"seq":2}}`, `{"hello":{},"id":1,"call":"a"}`, `{"cancel":1,"ping":2}`,
		`{"x":{"y":"\ud800"},"id":1,"call":"a","args":{"s":"a\"b","n":[1,-2.5e3,true,false,null]}}`,
		`{"id":1,"call":"a","args":` + strings.Repeat(`{"a":`, 63) + `1` + strings.Repeat("}", 63) + `}`,
		`{"id":1,"call":"a","args":` + strings.Repeat(`{"a":`, 64) + `1` + strings.Repeat("}", 64) + `}`,
		`{"id":1,"call":"a","args":` + strings.Repeat(`{"a":`, 65) + `1` + strings.Repeat("}", 65) + `}`,
		`{"id":1,"call":"a","args":` + strings.Repeat(`[`, 10001) + strings.Repeat("]", 10001) + `}`,
		`{"id":1,"call":"a","trace":{"traceparent":"00-x","tracestate":"k=v"}}`, `{"trace":{"a":"\ud800"},"id":1,"call":"a"}`,
		`{"id":1,"call":"a","trace":"t"}`, `{"id":1,"call":"a","trace":{"a":1},"\u0074race":{"b":2}}`, `{"trace":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast, ref envelopeDecoder
		errFast := fast.decode(data)
		errRef := ref.decodeReference(data)
		if errString(errFast) != errString(errRef) {
			t.Fatalf("%q: decode error %q, reference %q", data, errString(errFast), errString(errRef))
		}
		a, b := fast.e, ref.e
		for _, p := range [][2]error{{a.idErr, b.idErr}, {a.callErr, b.callErr}, {a.cancelErr, b.cancelErr}, {a.pingErr, b.pingErr}, {a.helloErr, b.helloErr}} {
			if errString(p[0]) != errString(p[1]) {
				t.Fatalf("%q: decode %+v, reference %+v", data, a, b)
			}
		}
		if a.seen != b.seen || a.id != b.id || string(a.call) != string(b.call) || string(a.args) != string(b.args) || string(a.trace) != string(b.trace) ||
			a.cancel != b.cancel || a.ping != b.ping || a.resume != b.resume || a.seq != b.seq {
			t.Fatalf("%q: decode %+v, reference %+v", data, a, b)
		}
		if fast.clean && errFast == nil && !json.Valid(data) {
			t.Fatalf("%q: read cleanly by wire's decoder, but not valid JSON", data)
		}
	})
}

// TestEnvelopeDecodeAllocs: decoding the envelopes of a connection's
// steady state (calls, cancels, pings) allocates nothing, escaped names
// and members v1 does not know included.
func TestEnvelopeDecodeAllocs(t *testing.T) {
	var ed envelopeDecoder
	for _, frame := range []string{
		`{"id":7,"call":"say","args":{"text":"hello, world"}}`,
		`{"args":{"a":[1,2,{"b":null}]},"call":"s\u0061y","id":-8,"trace":{"x":"\u00e9"}}`,
		`{"cancel":7}`,
		`{"ping":42}`,
	} {
		data := []byte(frame)
		if err := ed.decode(data); err != nil || !ed.clean || ed.e.callErr != nil || ed.e.idErr != nil {
			t.Fatalf("%s: %v, clean %v, %+v", frame, err, ed.clean, ed.e)
		}
		if n := testing.AllocsPerRun(100, func() { _ = ed.decode(data) }); n != 0 {
			t.Errorf("%s: %v allocations per decode, want 0", frame, n)
		}
	}
}
