package utf8stream

import (
	"strings"
	"testing"
	"unicode/utf8"
)

var (
	benchASCII = []byte(strings.Repeat(`{"method":"chat.send","id":42,"params":{"room":"lobby","text":"hello"}}`, 64))
	benchMixed = []byte(strings.Repeat(`{"text":"Grüße, κόσμε! 日本語のテキスト 😀 ok"} `, 64))
)

func benchValidator(b *testing.B, p []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	var v Validator
	for b.Loop() {
		v.Reset()
		if !v.Write(p) || !v.Complete() {
			b.Fatal("invalid")
		}
	}
}

func benchStdlib(b *testing.B, p []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if !utf8.Valid(p) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkASCII(b *testing.B) { benchValidator(b, benchASCII) }
func BenchmarkMixed(b *testing.B) { benchValidator(b, benchMixed) }

// BenchmarkMixedFragments feeds mixed text in 125-byte pieces, the largest
// control-frame payload, so that sequences straddle piece boundaries.
func BenchmarkMixedFragments(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchMixed)))
	var v Validator
	for b.Loop() {
		v.Reset()
		for p := benchMixed; len(p) > 0; {
			n := min(len(p), 125)
			if !v.Write(p[:n]) {
				b.Fatal("invalid")
			}
			p = p[n:]
		}
		if !v.Complete() {
			b.Fatal("incomplete")
		}
	}
}

// The stdlib baselines validate the whole message at once, which a
// fragmented stream cannot do.
func BenchmarkStdlibASCII(b *testing.B) { benchStdlib(b, benchASCII) }
func BenchmarkStdlibMixed(b *testing.B) { benchStdlib(b, benchMixed) }
