package utf8stream

import (
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// FuzzValidator splits data into random pieces (seeded by seed) and checks
// every Write against the prefix reference and Complete against utf8.Valid.
func FuzzValidator(f *testing.F) {
	for _, c := range cases {
		f.Add(c.in, uint64(len(c.in)))
	}
	f.Add([]byte("κόσμε\xed\xa0\x80edited"), uint64(7))
	f.Add([]byte("0123456789abcdef0123456789abcdef\xf0\x9f\x98\x80"), uint64(1))
	f.Fuzz(func(t *testing.T, data []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, uint64(len(data))))
		var v Validator
		rest, seen := data, 0
		first := -1 // index of the piece where Write first failed
		for piece := 0; len(rest) > 0; piece++ {
			n := rng.IntN(len(rest) + 1)
			if rng.IntN(4) == 0 {
				n = min(len(rest), 1)
			}
			seen += n
			got := v.Write(rest[:n])
			rest = rest[n:]
			if want := validPrefix(data[:seen]); got != want {
				t.Fatalf("Write of %d bytes ending at %d in %q = %v, want %v", n, seen, data, got, want)
			}
			if !got && first < 0 {
				first = piece
			}
		}
		if got, want := v.Complete(), utf8.Valid(data); got != want {
			t.Fatalf("Complete(%q) = %v, want %v", data, got, want)
		}
		var whole Validator
		if whole.Write(data); whole.Complete() != utf8.Valid(data) {
			t.Fatalf("single Write of %q disagrees with utf8.Valid", data)
		}
	})
}
