package wire_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// refLimits reports, for input that encoding/json finds valid, the two
// things the decoder checks beyond it: the deepest nesting of objects and
// arrays, and whether every string (keys included) is valid UTF-8 once
// unescaped: raw bytes valid UTF-8 and every \u escape of a surrogate half
// one of a high-low pair. encoding/json.Valid checks neither (it accepts
// "\xff" and "\ud800" in strings, and nesting to 10000 levels).
//
// It is written independently of the decoder, byte by byte, and relies on
// data being valid JSON.
func refLimits(data []byte) (depth int, stringsOK bool) {
	stringsOK = true
	cur := 0
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '[', '{':
			cur++
			depth = max(depth, cur)
		case ']', '}':
			cur--
		case '"':
			end, ok := refString(data, i+1)
			stringsOK = stringsOK && ok
			i = end
		}
	}
	return depth, stringsOK
}

// refString scans the string whose contents start at i and returns the
// index of its closing quote and whether its unescaped value is valid
// UTF-8.
func refString(data []byte, i int) (int, bool) {
	ok := true
	rawStart := i
	var pendingHigh bool
	for ; data[i] != '"'; i++ {
		if data[i] != '\\' {
			if pendingHigh {
				ok = false
				pendingHigh = false
			}
			continue
		}
		ok = ok && utf8.Valid(data[rawStart:i])
		e := data[i+1]
		i++
		if e != 'u' {
			if pendingHigh {
				ok = false
				pendingHigh = false
			}
			rawStart = i + 1
			continue
		}
		var r rune
		for _, c := range data[i+1 : i+5] {
			r <<= 4
			switch {
			case c <= '9':
				r |= rune(c - '0')
			case c >= 'a':
				r |= rune(c - 'a' + 10)
			default:
				r |= rune(c - 'A' + 10)
			}
		}
		i += 4
		rawStart = i + 1
		switch {
		case r >= 0xd800 && r < 0xdc00: // high half
			if pendingHigh {
				ok = false
			}
			pendingHigh = true
		case r >= 0xdc00 && r < 0xe000: // low half
			if !pendingHigh {
				ok = false
			}
			pendingHigh = false
		default:
			if pendingHigh {
				ok = false
				pendingHigh = false
			}
		}
	}
	ok = ok && !pendingHigh && utf8.Valid(data[rawStart:i])
	return i, ok
}

// FuzzDecoderSkip: Skip followed by End accepts exactly what
// encoding/json.Valid accepts, minus what the decoder refuses by design:
// strings that are not valid UTF-8 once unescaped (raw invalid bytes,
// unpaired surrogate escapes) and nesting deeper than MaxDepth. When it
// accepts, Raw returns the value without its surrounding whitespace, and
// the errors it gives for valid JSON are those three and no other.
func FuzzDecoderSkip(f *testing.F) {
	for _, s := range []string{
		``, ` `, `null`, `nul`, `nope`, `true`, `tru`, `false`, `0`, `-0`, `01`, `1.`, `-`, `1e`, `+1`, `.5`,
		`1.5e-3`, `1E+300`, `1e400`, `""`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u0041\u00e9\ud83d\ude00"`,
		`"\ud800"`, `"\udc00\ud800"`, `"\ud800\udc00"`, "\"\xff\"", "\"\x01\"", `"\x"`, `"\u12"`,
		`[]`, `{}`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `{"a":1 "b":2}`, `[1 2]`, ` {"a" : [1, {"b": null}] } `,
		`{"a":1,"a":2}`, "[1]\n", `[1] [2]`, `{}}`, `"\u0000"`, "\ufeff{}",
		strings.Repeat("[", wire.MaxDepth) + strings.Repeat("]", wire.MaxDepth),
		strings.Repeat("[", wire.MaxDepth+1) + strings.Repeat("]", wire.MaxDepth+1),
		strings.Repeat(`{"k":`, wire.MaxDepth+1) + "0" + strings.Repeat("}", wire.MaxDepth+1),
		strings.Repeat(`{"k\u0065y":[`, 12) + `1,"\u00e9x"` + strings.Repeat("]}", 12),
		`{"\ud800": 1}`, "{\"\xc3\": 1}", `["\u00e9\ud83d"]`, "\"\xed\xa0\x80\"", "\"\xc3\\u00a9\"",
		`{"id":7,"call":"login","args":{"name":"ada","tags":["a","b"],"n":"-9223372036854775808"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var d wire.Decoder
		d.Reset(data, "")
		err := d.Skip()
		if err == nil {
			err = d.End()
		}
		valid := json.Valid(data)
		want := valid
		var depth int
		var stringsOK bool
		if valid {
			depth, stringsOK = refLimits(data)
			want = depth <= wire.MaxDepth && stringsOK
		}
		if (err == nil) != want {
			t.Fatalf("Skip+End of %q: %v; encoding/json.Valid %v, depth %d, strings valid UTF-8 %v", data, err, valid, depth, stringsOK)
		}
		if valid && err != nil {
			msg := err.Error()
			if !strings.HasSuffix(msg, fmt.Sprintf("nested deeper than %d", wire.MaxDepth)) && !strings.HasSuffix(msg, "string is not valid UTF-8") &&
				!strings.HasSuffix(msg, `unpaired surrogate in \u escape`) {
				t.Fatalf("valid JSON %q refused with %v", data, err)
			}
		}
		if err == nil {
			d.Reset(data, "")
			raw, err := d.Raw()
			if err != nil || !bytes.Equal(raw, bytes.Trim(data, " \t\r\n")) {
				t.Fatalf("Raw(%q) = %q, %v", data, raw, err)
			}
		}
	})
}

// FuzzAppendString: the output is always valid JSON; it decodes, with
// encoding/json and with our decoder, to the input when that is valid
// UTF-8 and to the input with each invalid byte replaced by U+FFFD
// otherwise; and it carries no raw <, >, &, U+2028 or U+2029.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{
		"", "abc", `"\`, "\x00\x1f\x7f", "\b\f\n\r\t", "<>&", "\u2028\u2029", "é😀", "\xff", "a\xc3",
		"\xed\xa0\x80", "\xc0\x80", "\ufffd", "\U0010ffff", "\xf4\x90\x80\x80", string(utf16.Decode([]uint16{0xd83d, 0xde00})),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := wire.AppendString([]byte("["), s)
		out = append(out, ']')
		if !json.Valid(out) {
			t.Fatalf("AppendString(%q) = %s: not valid JSON", s, out)
		}
		want := s
		if !utf8.ValidString(s) {
			want = replaceInvalid(s)
		}
		var back []string
		if err := json.Unmarshal(out, &back); err != nil || len(back) != 1 || back[0] != want {
			t.Fatalf("AppendString(%q) = %s decodes to %q, %v; want %q", s, out, back, err, want)
		}
		var d wire.Decoder
		d.Reset(out, "")
		err := d.Array(func(int) error {
			got, err := d.String()
			if err == nil && got != want {
				t.Fatalf("Decoder reads AppendString(%q) = %s as %q", s, out, got)
			}
			return err
		})
		if err == nil {
			err = d.End()
		}
		if err != nil {
			t.Fatalf("Decoder refuses AppendString(%q) = %s: %v", s, out, err)
		}
		if bytes.ContainsAny(out, "<>&\u2028\u2029") || bytes.IndexFunc(out, func(r rune) bool { return r < 0x20 }) >= 0 {
			t.Fatalf("AppendString(%q) = %s holds a character that must be escaped", s, out)
		}
	})
}
