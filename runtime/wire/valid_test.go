package wire_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// validSeeds are JSON and near-JSON inputs for TestValid and FuzzValid.
var validSeeds = []string{
	``, ` `, `null`, `nul`, `nulll`, `true`, `tru`, `false`, `fals`, `0`, `-0`, `01`, `-01`, `1.`, `-`, `1e`, `1e+`, `+1`, `.5`,
	`1.5e-3`, `1E+300`, `1e400`, `-0.0e0`, `""`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u0041\u00e9\ud83d\ude00"`, `"\u00G0"`, `"\u00e"`,
	`"\ud800"`, "\"\xff\"", "\"\x01\"", "\"\x7f\"", `"\x"`, `"\u12"`, `"abc`, `"\`,
	`[]`, `{}`, `[ ]`, `{ }`, `[1,]`, `[,1]`, `[1 2]`, `[1,,2]`, `{"a":1,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a"}`, `{1:2}`,
	`{"a":}`, ` {"a" : [1, {"b": null}] } `, `{"a":1,"a":2}`, "[1]\n", `[1] [2]`, `{}}`, `[]]`, `[}`, `{]`, `[[]`, `{"a":{}`,
	`"\u0000"`, "\ufeff{}", "\t[\r\n]\t", `[true,false,null,"",0,-1.5,{"":[]}]`, `[1,2,3`, `{"a":[1,{"b":[]}],"c":"d"}`,
}

// TestValid: Valid agrees with encoding/json.Valid below encoding/json's
// depth limit, and accepts JSON nested far deeper, without recursing.
func TestValid(t *testing.T) {
	for _, s := range validSeeds {
		if got, want := wire.Valid([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("Valid(%q) = %v, encoding/json.Valid %v", s, got, want)
		}
	}
	const levels = 100_000 // encoding/json stops at 10000
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{strings.Repeat("[", levels) + strings.Repeat("]", levels), true},
		{strings.Repeat(`{"a":`, levels) + `"\ud800"` + strings.Repeat("}", levels), true},
		{strings.Repeat(`{"a":[`, levels) + `1,{}` + strings.Repeat("]}", levels), true},
		{strings.Repeat("[", levels) + strings.Repeat("]", levels-1), false},
		{strings.Repeat("[", levels) + strings.Repeat("]", levels+1), false},
		{strings.Repeat(`{"a":[`, levels) + strings.Repeat("}]", levels), false},
		{strings.Repeat(`{"a":`, levels) + strings.Repeat("}", levels), false},
	} {
		if got := wire.Valid([]byte(tt.in)); got != tt.want {
			t.Errorf("Valid(%.20q... %d bytes) = %v, want %v", tt.in, len(tt.in), got, tt.want)
		}
	}
}

// FuzzValid: Valid agrees with encoding/json.Valid on every input too
// short to nest past encoding/json's limit.
func FuzzValid(f *testing.F) {
	for _, s := range validSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 10000 {
			return
		}
		if got, want := wire.Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, encoding/json.Valid %v", data, got, want)
		}
	})
}
