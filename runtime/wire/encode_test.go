package wire_test

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/duplexrpc/duplex/runtime/wire"
)

// replaceInvalid is what a JSON string encoder makes of s: every byte
// that does not start a valid UTF-8 sequence becomes U+FFFD, as
// encoding/json does.
func replaceInvalid(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{`a"b`, `"a\"b"`},
		{`a\b`, `"a\\b"`},
		{"/", `"/"`},
		{"\n\r\t", `"\n\r\t"`},
		{"\b\f", `"\u0008\u000c"`},
		{"\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"\x7f", "\"\x7f\""},
		{"<script>&amp;</script>", `"\u003cscript\u003e\u0026amp;\u003c/script\u003e"`},
		{"a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"\u2027\u202a", "\"\u2027\u202a\""}, // neighbours stay raw
		{"héllo 😀 𝄞", `"héllo 😀 𝄞"`},
		{"\ufffd", "\"\ufffd\""}, // a real U+FFFD is valid UTF-8 and stays raw
		{"\xff", `"\ufffd"`},
		{"a\xc3", `"a\ufffd"`},                   // truncated sequence
		{"\xc3\x28", `"\ufffd("`},                // bad continuation
		{"\xc0\x80", `"\ufffd\ufffd"`},           // overlong
		{"\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`}, // a surrogate's UTF-8
		{"\xf4\x90\x80\x80", `"\ufffd\ufffd\ufffd\ufffd"`},
		{"ok\xffok\"", `"ok\ufffdok\""`},
	}
	for _, tt := range tests {
		got := string(wire.AppendString(nil, tt.in))
		if got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("AppendString(%q) = %s: not valid JSON", tt.in, got)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil || back != replaceInvalid(tt.in) {
			t.Errorf("AppendString(%q) decodes to %q, %v; want %q", tt.in, back, err, replaceInvalid(tt.in))
		}
		// encoding/json agrees on the value, even where it spells
		// escapes differently (\b and \f).
		ref, _ := json.Marshal(tt.in)
		var refBack string
		_ = json.Unmarshal(ref, &refBack)
		if back != refBack {
			t.Errorf("AppendString(%q) decodes to %q, encoding/json's to %q", tt.in, back, refBack)
		}
		// And our own decoder reads it back.
		d := newDecoder(got, "")
		if s, err := d.String(); err != nil || s != replaceInvalid(tt.in) {
			t.Errorf("Decoder reads AppendString(%q) as %q, %v", tt.in, s, err)
		}
	}
	if got := string(wire.AppendString([]byte(`{"k":`), "v")); got != `{"k":"v"` {
		t.Errorf("AppendString does not append: %s", got)
	}
}

// TestAppendStringEveryByteAndRune: every single byte and a sample of
// runes round-trip, and the output never holds a raw control character,
// <, >, &, U+2028 or U+2029.
func TestAppendStringEveryByteAndRune(t *testing.T) {
	var ins []string
	for c := range 256 {
		ins = append(ins, string([]byte{byte(c)}), "x"+string([]byte{byte(c)})+"y")
	}
	for r := rune(0x80); r <= 0x10ffff; r += 97 {
		ins = append(ins, string(r))
	}
	ins = append(ins, "\u2028", "\u2029", "\U0010ffff", "\uffff")
	for _, in := range ins {
		out := wire.AppendString(nil, in)
		var back string
		if err := json.Unmarshal(out, &back); err != nil || back != replaceInvalid(in) {
			t.Fatalf("AppendString(%q) = %s decodes to %q, %v", in, out, back, err)
		}
		inner := string(out[1 : len(out)-1])
		if strings.ContainsAny(inner, "<>&\u2028\u2029") || strings.IndexFunc(inner, func(r rune) bool { return r < 0x20 }) >= 0 {
			t.Fatalf("AppendString(%q) = %s holds a character that must be escaped", in, out)
		}
	}
}

func TestAppendFloat64(t *testing.T) {
	tests := []struct {
		v   float64
		bug string // why ours differs from encoding/json, if it does
	}{
		{v: 0}, {v: math.Copysign(0, -1)}, {v: 1}, {v: -1}, {v: 0.1}, {v: 1.5}, {v: -2.25}, {v: 1.0 / 3},
		{v: 100}, {v: 123456789}, {v: 1 << 53}, {v: 1<<53 + 2}, {v: 12345678901234567890},
		{v: 1e20}, {v: 9.999999999999999e20}, {v: 1e21}, {v: -1e21}, {v: 1.5e300}, {v: math.MaxFloat64},
		{v: 1e-6}, {v: -1e-6}, {v: 1.5e-6}, {v: 1e-10}, {v: 2.5e-100}, {v: 5e-324}, {v: math.SmallestNonzeroFloat64},
		{v: math.Float64frombits(0x000fffffffffffff)}, // largest subnormal
		{v: 1e-7, bug: "e-07"}, {v: -1.5e-7, bug: "e-07"}, {v: 9.99e-7, bug: "e-07"}, {v: 3e-9, bug: "e-09"},
	}
	for _, tt := range tests {
		name := strconv.FormatFloat(tt.v, 'g', -1, 64)
		t.Run(name, func(t *testing.T) {
			got, err := wire.AppendFloat64(nil, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(tt.v)
			if string(got) != string(want) {
				t.Errorf("AppendFloat64(%v) = %s, encoding/json writes %s", tt.v, got, want)
			}
			back, err := newDecoder(string(got), "").Float64()
			if err != nil || back != tt.v || math.Signbit(back) != math.Signbit(tt.v) {
				t.Errorf("%s reads back as %v, %v", got, back, err)
			}
		})
	}
	// Every float64 output is valid JSON that reads back, bugs aside.
	for _, tt := range tests {
		got, _ := wire.AppendFloat64([]byte("x"), tt.v)
		if !json.Valid(got[1:]) || got[0] != 'x' {
			t.Errorf("AppendFloat64(%v) = %s", tt.v, got)
		}
	}
}

func TestAppendFloat64NotFinite(t *testing.T) {
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		dst := []byte("prefix")
		got, err := wire.AppendFloat64(dst, v)
		if !errors.Is(err, wire.ErrNotFinite) || string(got) != "prefix" {
			t.Errorf("AppendFloat64(%v) = %q, %v; want dst unchanged and ErrNotFinite", v, got, err)
		}
	}
}

func TestAppendIntegers(t *testing.T) {
	tests := []struct{ got, want string }{
		{string(wire.AppendInt(nil, 0)), "0"},
		{string(wire.AppendInt(nil, -(1<<53 - 1))), "-9007199254740991"},
		{string(wire.AppendInt(nil, math.MinInt64)), "-9223372036854775808"},
		{string(wire.AppendUint(nil, math.MaxUint64)), "18446744073709551615"},
		{string(wire.AppendInt64(nil, math.MinInt64)), `"-9223372036854775808"`},
		{string(wire.AppendInt64(nil, math.MaxInt64)), `"9223372036854775807"`},
		{string(wire.AppendInt64(nil, 0)), `"0"`},
		{string(wire.AppendUint64(nil, math.MaxUint64)), `"18446744073709551615"`},
		{string(wire.AppendUint64(nil, 0)), `"0"`},
		{string(wire.AppendBool(nil, true)), "true"},
		{string(wire.AppendBool([]byte("["), false)), "[false"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %s, want %s", tt.got, tt.want)
		}
	}
	for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64, 1 << 53} {
		got, err := newDecoder(string(wire.AppendInt64(nil, v)), "").Int64()
		if err != nil || got != v {
			t.Errorf("Int64 round trip of %d: %d, %v", v, got, err)
		}
	}
	for _, v := range []uint64{0, 1, math.MaxUint64, 1 << 63} {
		got, err := newDecoder(string(wire.AppendUint64(nil, v)), "").Uint64()
		if err != nil || got != v {
			t.Errorf("Uint64 round trip of %d: %d, %v", v, got, err)
		}
	}
}

func TestAppendBytes(t *testing.T) {
	tests := []struct {
		in   []byte
		want string
	}{
		{nil, `""`}, {[]byte{}, `""`}, {[]byte("hi"), `"aGk="`}, {[]byte("hello"), `"aGVsbG8="`},
		{[]byte{0xfb, 0xff, 0xfe}, `"+//+"`},
	}
	for _, tt := range tests {
		got := string(wire.AppendBytes(nil, tt.in))
		if got != tt.want {
			t.Errorf("AppendBytes(%q) = %s, want %s", tt.in, got, tt.want)
		}
		ref, _ := json.Marshal(tt.in)
		if tt.in != nil && got != string(ref) {
			t.Errorf("AppendBytes(%q) = %s, encoding/json writes %s", tt.in, got, ref)
		}
		back, err := newDecoder(got, "").Bytes()
		if err != nil || string(back) != string(tt.in) {
			t.Errorf("Bytes(%s) = %q, %v", got, back, err)
		}
	}
}

func TestAppendTime(t *testing.T) {
	plus2 := time.FixedZone("", 2*3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), `"2024-01-02T03:04:05Z"`},
		{time.Date(2024, 1, 2, 3, 4, 5, 0, plus2), `"2024-01-02T01:04:05Z"`},
		{time.Date(2024, 1, 2, 0, 30, 0, 0, plus2), `"2024-01-01T22:30:00Z"`},
		{time.Date(2024, 1, 2, 3, 4, 5, 123000000, time.UTC), `"2024-01-02T03:04:05.123Z"`},
		{time.Date(2024, 1, 2, 3, 4, 5, 1, time.UTC), `"2024-01-02T03:04:05.000000001Z"`},
		{time.Date(2024, 1, 2, 3, 4, 5, 999999999, time.UTC), `"2024-01-02T03:04:05.999999999Z"`},
		{time.Date(2024, 1, 2, 3, 4, 5, 500, time.UTC), `"2024-01-02T03:04:05.0000005Z"`},
		{time.Time{}, `"0001-01-01T00:00:00Z"`},
		{time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), `"0000-01-01T00:00:00Z"`},
		{time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), `"9999-12-31T23:59:59Z"`},
		{time.Unix(1709210096, 0).In(time.FixedZone("", -5*3600)), `"2024-02-29T12:34:56Z"`},
	}
	for _, tt := range tests {
		b, err := wire.AppendTime(nil, tt.in)
		got := string(b)
		if err != nil || got != tt.want {
			t.Errorf("AppendTime(%v) = %s, want %s", tt.in, got, tt.want)
		}
		back, err := newDecoder(got, "").Time()
		if err != nil || !back.Equal(tt.in) {
			t.Errorf("Time(%s) = %v, %v", got, back, err)
		}
	}
	// The monotonic reading of time.Now is not written.
	now := time.Now()
	if b, _ := wire.AppendTime(nil, now); strings.Contains(string(b), "m=") || !strings.HasSuffix(string(b), `Z"`) {
		got := string(b)
		t.Errorf("AppendTime(now) = %s", got)
	}
}

// Years RFC 3339 cannot write are refused, not written as something
// Decoder.Time (or any RFC 3339 reader) refuses.
func TestAppendTimeOutsideRFC3339Years(t *testing.T) {
	for _, tm := range []time.Time{time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)} {
		got, err := wire.AppendTime([]byte("x"), tm)
		if !errors.Is(err, wire.ErrTimeRange) || string(got) != "x" {
			t.Errorf("AppendTime(%v) = %q, %v; want ErrTimeRange and dst unchanged", tm, got, err)
		}
	}
}

func TestAppendUUID(t *testing.T) {
	for _, s := range []string{
		"00000000-0000-0000-0000-000000000000",
		"123e4567-e89b-12d3-a456-426614174000",
		"ffffffff-ffff-ffff-ffff-ffffffffffff",
		"A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
	} {
		u := uuid.MustParse(s)
		got := string(wire.AppendUUID(nil, u))
		if want := `"` + strings.ToLower(s) + `"`; got != want || want != `"`+u.String()+`"` {
			t.Errorf("AppendUUID(%s) = %s, want %s", s, got, want)
		}
		back, err := newDecoder(got, "").UUID()
		if err != nil || back != u {
			t.Errorf("UUID(%s) = %v, %v", got, back, err)
		}
	}
	for range 100 {
		u := uuid.New()
		if got := string(wire.AppendUUID([]byte("x"), u)); got != `x"`+u.String()+`"` {
			t.Fatalf("AppendUUID(%v) = %s", u, got)
		}
	}
}

// TestAppendAllocs: with room in dst, no encoder allocates.
func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	s := "héllo <world> \"quoted\" \\ \n\t\x01 \u2028 \xff 😀 " + strings.Repeat("x", 100)
	b := []byte("some bytes to encode as base64")
	tm := time.Date(2024, 2, 29, 12, 34, 56, 123456789, time.FixedZone("", 3600))
	u := uuid.MustParse("123e4567-e89b-12d3-a456-426614174000")
	n := testing.AllocsPerRun(100, func() {
		dst := buf[:0]
		dst = wire.AppendString(dst, s)
		dst = wire.AppendInt(dst, -42)
		dst = wire.AppendUint(dst, 42)
		dst = wire.AppendInt64(dst, math.MinInt64)
		dst = wire.AppendUint64(dst, math.MaxUint64)
		dst = wire.AppendBool(dst, true)
		dst, _ = wire.AppendFloat64(dst, 1.5e-300)
		dst, _ = wire.AppendFloat64(dst, 3.25)
		dst = wire.AppendBytes(dst, b)
		dst, _ = wire.AppendTime(dst, tm)
		dst = wire.AppendUUID(dst, u)
		if cap(dst) != cap(buf) {
			t.Fatal("buffer grew")
		}
	})
	if n != 0 {
		t.Errorf("%v allocations per run, want 0", n)
	}
}
