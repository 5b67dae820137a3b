package utf8stream

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// validPrefix is the reference for Write: it reports whether some
// continuation makes b valid UTF-8. If b is such a prefix, it is valid text
// followed by an incomplete sequence of at most three bytes: a lead byte and
// continuation bytes. That sequence can be completed by at most three
// continuation bytes, and only the first byte after the lead is constrained
// beyond 80..BF (Unicode Table 3-7), so trying every continuation byte
// followed by up to two 0x80 bytes is exhaustive.
func validPrefix(b []byte) bool {
	if utf8.Valid(b) {
		return true
	}
	j := len(b) - 1 // the lead byte of the incomplete sequence
	for j >= 0 && j >= len(b)-3 && b[j]&0xC0 == 0x80 {
		j--
	}
	if j < 0 || j < len(b)-3 || !utf8.Valid(b[:j]) {
		return false
	}
	var buf [8]byte
	tail := buf[:copy(buf[:], b[j:])]
	for c := 0x80; c <= 0xBF; c++ {
		ext := append(tail, byte(c))
		for pad := 0; pad <= 2; pad++ {
			if utf8.Valid(ext) {
				return true
			}
			ext = append(ext, 0x80)
		}
	}
	return false
}

// failAt returns the index of the earliest byte of b after which b is no
// longer a prefix of valid UTF-8, or -1 if there is none.
func failAt(b []byte) int {
	for i := range b {
		if !validPrefix(b[:i+1]) {
			return i
		}
	}
	return -1
}

type vcase struct {
	name string
	in   []byte
	ok   bool // utf8.Valid(in)
	fail int  // earliest failing byte, -1 if none (valid or merely truncated)
}

func h(s string) []byte {
	var out []byte
	for _, f := range strings.Fields(s) {
		var b byte
		if _, err := fmt.Sscanf(f, "%02x", &b); err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}

// cases follows the Autobahn test suite, section 6 (UTF-8 handling), which
// in turn follows Markus Kuhn's UTF-8 decoder stress test.
var cases = []vcase{
	// 6.1 empty.
	{"empty", nil, true, -1},
	// 6.2 valid text.
	{"hello", []byte("Hello-µ@ßöäüàá-UTF-8!!"), true, -1},
	{"kosme", h("ce ba e1 bd b9 cf 83 ce bc ce b5"), true, -1},
	{"ascii-long", []byte(strings.Repeat("abcdefgh", 9) + "xyz"), true, -1},
	{"mixed-long", []byte(strings.Repeat("añ€😀", 7) + strings.Repeat("z", 17) + "日本語"), true, -1},
	// 6.3 κόσμε with an invalid byte in the middle and at the end.
	{"kosme-edA0", h("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65 64 69 74 65 64"), false, 12},
	// 6.4 fail fast on the earliest byte.
	{"fast-f490", h("ce ba e1 bd b9 cf 83 ce bc ce b5 f4 90 80 80 65 64 69 74 65 64"), false, 12},
	{"fast-edA0", h("ce ba e1 bd b9 cf 83 ce bc ce b5 ed a0 80 65"), false, 12},
	{"fast-c0", h("61 c0"), false, 1},
	{"fast-ff", h("61 ff 61"), false, 1},
	// 6.5 first/last possible sequences and boundaries.
	{"U+0000", h("00"), true, -1},
	{"U+0080", h("c2 80"), true, -1},
	{"U+0800", h("e0 a0 80"), true, -1},
	{"U+10000", h("f0 90 80 80"), true, -1},
	{"U+007F", h("7f"), true, -1},
	{"U+07FF", h("df bf"), true, -1},
	{"U+FFFF", h("ef bf bf"), true, -1},
	{"U+D7FF", h("ed 9f bf"), true, -1},
	{"U+E000", h("ee 80 80"), true, -1},
	{"U+FFFD", h("ef bf bd"), true, -1},
	{"U+10FFFF", h("f4 8f bf bf"), true, -1},
	{"U+110000", h("f4 90 80 80"), false, 1},
	{"U+1FFFFF 4-byte", h("f7 bf bf bf"), false, 0},
	// 5- and 6-byte forms (never valid).
	{"5-byte U+200000", h("f8 88 80 80 80"), false, 0},
	{"5-byte U+3FFFFFF", h("fb bf bf bf bf"), false, 0},
	{"6-byte U+4000000", h("fc 84 80 80 80 80"), false, 0},
	{"6-byte U+7FFFFFFF", h("fd bf bf bf bf bf"), false, 0},
	// Unexpected continuation bytes.
	{"lone 80", h("80"), false, 0},
	{"lone bf", h("bf"), false, 0},
	{"80 bf", h("80 bf"), false, 0},
	{"extra continuation", h("c2 80 80"), false, 2},
	{"all continuations", bytes.Repeat([]byte{0x80}, 64), false, 0},
	// Lonely start characters followed by a space.
	{"lonely c0", h("c0 20"), false, 0},
	{"lonely c2", h("c2 20"), false, 1},
	{"lonely e0", h("e0 20"), false, 1},
	{"lonely e1 80", h("e1 80 20"), false, 2},
	{"lonely f0", h("f0 20"), false, 1},
	{"lonely f0 90 80", h("f0 90 80 20"), false, 3},
	{"lonely f8", h("f8 20"), false, 0},
	{"lonely fc", h("fc 20"), false, 0},
	// Truncated sequences (valid prefixes, incomplete messages).
	{"trunc c2", h("c2"), false, -1},
	{"trunc e0 a0", h("e0 a0"), false, -1},
	{"trunc e1", h("e1"), false, -1},
	{"trunc ed 9f", h("ed 9f"), false, -1},
	{"trunc f0", h("f0"), false, -1},
	{"trunc f0 90", h("f0 90"), false, -1},
	{"trunc f4 8f bf", h("f4 8f bf"), false, -1},
	{"trunc after text", []byte("hello\xe2\x82"), false, -1},
	{"trunc concatenated", h("c0 e0 80 f0 80 80 f8 80 80 80"), false, 0},
	// Impossible bytes.
	{"fe", h("fe"), false, 0},
	{"ff", h("ff"), false, 0},
	{"fe fe ff ff", h("fe fe ff ff"), false, 0},
	{"f5", h("f5 80 80 80"), false, 0},
	// Overlong ASCII '/'.
	{"overlong / 2", h("c0 af"), false, 0},
	{"overlong / 3", h("e0 80 af"), false, 1},
	{"overlong / 4", h("f0 80 80 af"), false, 1},
	{"overlong / 5", h("f8 80 80 80 af"), false, 0},
	{"overlong / 6", h("fc 80 80 80 80 af"), false, 0},
	// Maximum overlongs.
	{"overlong max 2", h("c1 bf"), false, 0},
	{"overlong max 3", h("e0 9f bf"), false, 1},
	{"overlong max 4", h("f0 8f bf bf"), false, 1},
	// Overlong NUL.
	{"overlong nul 2", h("c0 80"), false, 0},
	{"overlong nul 3", h("e0 80 80"), false, 1},
	{"overlong nul 4", h("f0 80 80 80"), false, 1},
	// Single surrogates.
	{"U+D800", h("ed a0 80"), false, 1},
	{"U+DB7F", h("ed ad bf"), false, 1},
	{"U+DB80", h("ed ae 80"), false, 1},
	{"U+DBFF", h("ed af bf"), false, 1},
	{"U+DC00", h("ed b0 80"), false, 1},
	{"U+DF80", h("ed be 80"), false, 1},
	{"U+DFFF", h("ed bf bf"), false, 1},
	// Paired surrogates (CESU-8).
	{"U+D800 U+DC00", h("ed a0 80 ed b0 80"), false, 1},
	{"U+DBFF U+DFFF", h("ed af bf ed bf bf"), false, 1},
	// Noncharacters are valid UTF-8.
	{"U+FFFE", h("ef bf be"), true, -1},
	{"U+FDD0", h("ef b7 90"), true, -1},
	{"U+10FFFE", h("f4 8f bf be"), true, -1},
	// An error after a long ASCII run, to exercise the fast path.
	{"ascii then ff", append([]byte(strings.Repeat("a", 37)), 0xff), false, 37},
	{"ascii then ed a0", append([]byte(strings.Repeat("a", 16)), 0xed, 0xa0, 0x80), false, 17},
	{"ascii then trunc", append([]byte(strings.Repeat("a", 24)), 0xf0, 0x9f), false, -1},
}

func TestCasesMatchReference(t *testing.T) {
	for _, c := range cases {
		if got := utf8.Valid(c.in); got != c.ok {
			t.Errorf("%s: utf8.Valid = %v, table says %v", c.name, got, c.ok)
		}
		if got := failAt(c.in); got != c.fail {
			t.Errorf("%s: reference fail position = %d, table says %d", c.name, got, c.fail)
		}
	}
}

func TestWhole(t *testing.T) {
	for _, c := range cases {
		var v Validator
		w := v.Write(c.in)
		if w != (c.fail < 0) {
			t.Errorf("%s: Write = %v, want %v", c.name, w, c.fail < 0)
		}
		if got := v.Complete(); got != c.ok {
			t.Errorf("%s: Complete = %v, want %v", c.name, got, c.ok)
		}
	}
}

// TestFailFast feeds each case byte by byte and checks that Write first
// returns false at exactly the earliest impossible byte, and stays false.
func TestFailFast(t *testing.T) {
	for _, c := range cases {
		var v Validator
		first := -1
		for i := range c.in {
			ok := v.Write(c.in[i : i+1])
			if !ok && first < 0 {
				first = i
			}
			if ok && first >= 0 {
				t.Errorf("%s: Write true at %d after failing at %d", c.name, i, first)
			}
		}
		if first != c.fail {
			t.Errorf("%s: first failure at byte %d, want %d", c.name, first, c.fail)
		}
	}
}

// check feeds pieces to a fresh validator and compares each Write with the
// reference and Complete with utf8.Valid.
func check(t *testing.T, name string, pieces ...[]byte) {
	t.Helper()
	var v Validator
	var seen []byte
	for i, p := range pieces {
		seen = append(seen, p...)
		want := validPrefix(seen)
		if got := v.Write(p); got != want {
			t.Fatalf("%s: Write(piece %d of %q) = %v, want %v", name, i, pieces, got, want)
		}
	}
	if got, want := v.Complete(), utf8.Valid(seen); got != want {
		t.Fatalf("%s: Complete(%q) = %v, want %v", name, pieces, got, want)
	}
}

func TestSplits(t *testing.T) {
	for _, c := range cases {
		n := len(c.in)
		for i := 0; i <= n; i++ {
			check(t, c.name, c.in[:i], c.in[i:])
			for j := i; j <= n; j++ {
				check(t, c.name, c.in[:i], c.in[i:j], c.in[j:])
			}
		}
	}
}

func TestStaysFalseUntilReset(t *testing.T) {
	var v Validator
	if v.Write([]byte("ok\xff")) {
		t.Fatal("Write accepted 0xFF")
	}
	for _, p := range [][]byte{nil, []byte("abc"), []byte("é")} {
		if v.Write(p) {
			t.Fatalf("Write(%q) = true after failure", p)
		}
		if v.Complete() {
			t.Fatal("Complete = true after failure")
		}
	}
	v.Reset()
	if !v.Complete() {
		t.Fatal("Complete = false after Reset")
	}
	if !v.Write([]byte("é")) || !v.Complete() {
		t.Fatal("valid text rejected after Reset")
	}
	// Reset also clears a half-written sequence.
	v.Write([]byte{0xe2, 0x82})
	if v.Complete() {
		t.Fatal("Complete = true inside a sequence")
	}
	v.Reset()
	if !v.Write([]byte("a")) || !v.Complete() {
		t.Fatal("Reset did not clear a partial sequence")
	}
}

// TestEveryCodePoint encodes every scalar value and every surrogate and
// checks that each is accepted or rejected as utf8.Valid does, in one piece
// and split after every byte.
func TestEveryCodePoint(t *testing.T) {
	var buf [4]byte
	for r := rune(0); r <= 0x10FFFF+1; r++ {
		var b []byte
		if r >= 0xD800 && r <= 0xDFFF {
			// utf8.EncodeRune writes U+FFFD for surrogates; encode by hand.
			b = []byte{0xED, byte(0x80 | (r>>6)&0x3F), byte(0x80 | r&0x3F)}
		} else if r > 0x10FFFF {
			b = []byte{0xF4, 0x90, 0x80, 0x80}
		} else {
			b = buf[:utf8.EncodeRune(buf[:], r)]
		}
		want := utf8.Valid(b)
		var v, w Validator
		for i := range b {
			v.Write(b[i : i+1])
		}
		if v.Complete() != want {
			t.Fatalf("U+%04X % x: Complete byte by byte = %v, want %v", r, b, !want, want)
		}
		if w.Write(b); w.Complete() != want {
			t.Fatalf("U+%04X % x: Complete in one piece = %v, want %v", r, b, !want, want)
		}
	}
}

// TestAllShortSequences compares byte-by-byte verdicts with the reference
// for every 1- and 2-byte input and for every 3-byte input drawn from the
// bytes at the edges of the DFA's byte classes.
func TestAllShortSequences(t *testing.T) {
	edges := []byte{0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF,
		0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF,
		0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF7, 0xF8, 0xFB, 0xFC, 0xFE, 0xFF}
	byByte := func(b []byte) {
		t.Helper()
		var v Validator
		for i := range b {
			if got, want := v.Write(b[i:i+1]), validPrefix(b[:i+1]); got != want {
				t.Fatalf("% x: Write after byte %d = %v, want %v", b, i, got, want)
			}
		}
		if got, want := v.Complete(), utf8.Valid(b); got != want {
			t.Fatalf("% x: Complete = %v, want %v", b, got, want)
		}
		// The same bytes in one piece take the whole-sequence path.
		var w Validator
		if got, want := w.Write(b), validPrefix(b); got != want {
			t.Fatalf("% x: Write in one piece = %v, want %v", b, got, want)
		}
		if got, want := w.Complete(), utf8.Valid(b); got != want {
			t.Fatalf("% x: Complete after one piece = %v, want %v", b, got, want)
		}
	}
	t.Run("1-2 bytes", func(t *testing.T) {
		for a := 0; a < 256; a++ {
			byByte([]byte{byte(a)})
			for b := 0; b < 256; b++ {
				byByte([]byte{byte(a), byte(b)})
			}
		}
	})
	t.Run("3 bytes", func(t *testing.T) {
		for _, a := range edges {
			for _, b := range edges {
				for _, c := range edges {
					byByte([]byte{a, b, c})
				}
			}
		}
	})
	t.Run("4 bytes", func(t *testing.T) {
		// Four bytes: whole-message verdict only (the reference is slower).
		for _, a := range edges {
			for _, b := range edges {
				for _, c := range edges {
					for _, d := range edges {
						in := []byte{a, b, c, d}
						var v Validator
						v.Write(in)
						if got, want := v.Complete(), utf8.Valid(in); got != want {
							t.Fatalf("% x: Complete = %v, want %v", in, got, want)
						}
					}
				}
			}
		}
	})
}

func TestTableUnusedRowsReject(t *testing.T) {
	for s := numStates; s < len(table); s++ {
		for b := range table[s] {
			if table[s][b] != sReject {
				t.Fatalf("table[%d][%#x] = %d, want reject", s, b, table[s][b])
			}
		}
	}
	for b := range 256 {
		if table[sReject][b] != sReject {
			t.Fatalf("reject is not absorbing on %#x", b)
		}
	}
}

func TestZeroAllocs(t *testing.T) {
	ascii := []byte(strings.Repeat("plain ascii text ", 64))
	mixed := []byte(strings.Repeat("añ€😀 κόσμε ", 64))
	var v Validator
	allocs := testing.AllocsPerRun(100, func() {
		v.Reset()
		v.Write(ascii)
		v.Write(mixed[:5])
		v.Write(mixed[5:])
		v.Complete()
	})
	if allocs != 0 {
		t.Fatalf("allocs per run = %v, want 0", allocs)
	}
}

func ExampleValidator() {
	// A text message split into three fragments in the middle of "€" (E2 82 AC).
	fragments := [][]byte{[]byte("price: 5\xe2"), []byte("\x82"), []byte("\xac")}
	var v Validator
	for _, f := range fragments {
		if !v.Write(f) {
			fmt.Println("fail the connection: 1007")
			return
		}
	}
	fmt.Println("complete:", v.Complete())

	// A surrogate is rejected at its second byte, before the third arrives.
	v.Reset()
	fmt.Println("ED A0:", v.Write([]byte{0xed, 0xa0}))
	// Output:
	// complete: true
	// ED A0: false
}
