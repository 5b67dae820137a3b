package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// decodeReference is what envelopeDecoder.decode did before it trusted
// wire's decoder: encoding/json.Valid over every frame first, then the
// members.
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
	if !json.Valid(data) {
		if err := d.Skip(); err != nil {
			return err
		}
		if err := d.End(); err != nil {
			return err
		}
		return errors.New("not valid JSON")
	}
	ed.members()
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// FuzzEnvelope: decode, which runs encoding/json.Valid only when wire's
// decoder did not read the whole frame cleanly, decides every frame as
// validating it first does (same error, same members, same problem), and
// a frame read cleanly is valid JSON.
func FuzzEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"call":"echo","args":{"text":"x"}}`, ` {"id" : 7 , "call":"say"} `, `{"id":"1","call":"echo"}`,
		`{"id":1,"call":2}`, `{"id":1,"args":[1]}`, `{"id":1,"call":"a","args":{"a":[}}`, `{"id":1,"call":"a","args":{"a":"\ud800"}}`,
		`{"hello":{"resume":"x","seq":3}}`, `{"hello":{"resume":"\ud800"}}`, `{"hello":[]}`, `{"cancel":4}`, `{"ping":5}`,
		`{"id":1} x`, `{"id":1}}`, `{"id":1,}`, `{"x":"\ud800","id":1,"call":"a"}`, `{"id":1.5,"call":"a"}`, `{"id":1e400,"call":"a"}`,
		`{"id":9007199254740992}`, `[]`, ``, `   `, `{"id":1,"call":"a","x":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + `}`,
		`{"id":1,"call":"a","x":` + strings.Repeat("[", 64) + strings.Repeat("]", 64) + `}`, "{\"id\":1,\"call\":\"\xff\"}",
		`{"id":1,"call":"a","args":{"t":tru}}`, `{"id":1,"call":"a","args":{"t":01}}`, `{"id":1,"call":"a","args":{"t":"\x"}}`,
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
		if errString(a.problem) != errString(b.problem) || string(a.call) != string(b.call) || string(a.args) != string(b.args) {
			t.Fatalf("%q: decode %+v, reference %+v", data, a, b)
		}
		if a.id != b.id || a.hasID != b.hasID || a.hasCall != b.hasCall || a.cancel != b.cancel || a.hasCancel != b.hasCancel ||
			a.hasHello != b.hasHello || a.resume != b.resume || a.seq != b.seq || a.ping != b.ping || a.hasPing != b.hasPing {
			t.Fatalf("%q: decode %+v, reference %+v", data, a, b)
		}
		if fast.clean && errFast == nil && !json.Valid(data) {
			t.Fatalf("%q: read cleanly by wire's decoder, but not valid JSON", data)
		}
	})
}
