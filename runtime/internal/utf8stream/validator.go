package utf8stream

import "encoding/binary"

// DFA states. The zero value of Validator must be ready to use, so the
// accepting state is 0. The reject state is absorbing.
const (
	sAccept = iota // on a code point boundary
	sReject        // not a prefix of valid UTF-8
	sTail1         // one continuation byte (80..BF) to go
	sTail2         // two continuation bytes to go
	sE0            // after E0: next must be A0..BF (no overlongs), then 1 more
	sED            // after ED: next must be 80..9F (no surrogates), then 1 more
	sF0            // after F0: next must be 90..BF (no overlongs), then 2 more
	sF1F3          // after F1..F3: next must be 80..BF, then 2 more
	sF4            // after F4: next must be 80..8F (≤ U+10FFFF), then 2 more
	numStates
)

// table[s][b] is the state after reading byte b in state s. It has 16 rows
// so that indexing with s&15 needs no bounds check; the unused rows reject.
var table = buildTable()

func buildTable() (t [16][256]uint8) {
	for s := range t {
		for b := range t[s] {
			t[s][b] = sReject
		}
	}
	span := func(s uint8, lo, hi int, next uint8) {
		for b := lo; b <= hi; b++ {
			t[s][b] = next
		}
	}
	// Lead bytes (Unicode Standard, Table 3-7 "Well-Formed UTF-8 Byte
	// Sequences"). C0, C1 and F5..FF never appear; 80..BF may not lead.
	span(sAccept, 0x00, 0x7F, sAccept)
	span(sAccept, 0xC2, 0xDF, sTail1)
	span(sAccept, 0xE0, 0xE0, sE0)
	span(sAccept, 0xE1, 0xEC, sTail2)
	span(sAccept, 0xED, 0xED, sED)
	span(sAccept, 0xEE, 0xEF, sTail2)
	span(sAccept, 0xF0, 0xF0, sF0)
	span(sAccept, 0xF1, 0xF3, sF1F3)
	span(sAccept, 0xF4, 0xF4, sF4)
	// Continuation bytes.
	span(sTail1, 0x80, 0xBF, sAccept)
	span(sTail2, 0x80, 0xBF, sTail1)
	span(sE0, 0xA0, 0xBF, sTail1)
	span(sED, 0x80, 0x9F, sTail1)
	span(sF0, 0x90, 0xBF, sTail2)
	span(sF1F3, 0x80, 0xBF, sTail2)
	span(sF4, 0x80, 0x8F, sTail2)
	return t
}

// lead[b] describes b as the first byte of a multi-byte sequence, for the
// whole-sequence path: the low 3 bits are the sequence length (0 if b cannot
// start one) and the high 4 bits index ranges, the bounds of the second
// byte. It encodes the same rules as table.
var lead = buildLead()

// ranges[i] are the inclusive bounds of the second byte of a sequence.
var ranges = [16]struct{ lo, hi uint8 }{
	0: {0x80, 0xBF},
	1: {0xA0, 0xBF}, // after E0: no overlongs
	2: {0x80, 0x9F}, // after ED: no surrogates
	3: {0x90, 0xBF}, // after F0: no overlongs
	4: {0x80, 0x8F}, // after F4: nothing above U+10FFFF
}

func buildLead() (t [256]uint8) {
	span := func(lo, hi int, size, rng uint8) {
		for b := lo; b <= hi; b++ {
			t[b] = size | rng<<4
		}
	}
	span(0xC2, 0xDF, 2, 0)
	span(0xE0, 0xE0, 3, 1)
	span(0xE1, 0xEC, 3, 0)
	span(0xED, 0xED, 3, 2)
	span(0xEE, 0xEF, 3, 0)
	span(0xF0, 0xF0, 4, 3)
	span(0xF1, 0xF3, 4, 0)
	span(0xF4, 0xF4, 4, 4)
	return t
}

const asciiMask = 0x8080808080808080

// word returns the first 8 bytes of p as a little-endian integer.
func word(p []byte) uint64 { return binary.LittleEndian.Uint64(p) }

// Validator checks that a byte stream, fed in arbitrary pieces, is valid
// UTF-8 by exactly the rules of [unicode/utf8.Valid]: no overlong forms, no
// surrogates U+D800..U+DFFF, nothing above U+10FFFF.
//
// The zero value is ready to use. A Validator holds one byte of state and
// never allocates. It is not safe for concurrent use.
type Validator struct {
	state uint8
}

// Write feeds p, the next piece of the stream, and reports whether
// everything written since the last Reset is still a prefix of valid UTF-8.
//
// Write fails fast: it returns false for the piece that contains the
// earliest byte after which no continuation could make the stream valid
// (for example after C0, after FF, after ED A0, after F4 90), without
// waiting for the rest of the sequence. It does not report whether the
// stream ends on a code point boundary; use [Validator.Complete] for that.
// Once Write has returned false, it and Complete return false until Reset.
func (v *Validator) Write(p []byte) bool {
	s := v.state
	if s != sAccept {
		if s == sReject {
			return false
		}
		// Finish the sequence that the previous piece ended inside.
		for ; len(p) > 0 && s != sAccept; p = p[1:] {
			s = table[s&15][p[0]]
			if s == sReject {
				v.state = sReject
				return false
			}
		}
		v.state = s
		if s != sAccept {
			return true // p ended inside the sequence too
		}
	}
	// On a code point boundary: check whole sequences, as utf8.Valid does,
	// and skip ASCII up to 32 bytes at a time.
	p = p[:len(p):len(p)]
	for len(p) > 0 {
		p0 := p[0]
		if p0 < 0x80 {
			p = p[1:]
			if len(p) > 8 && word(p)&asciiMask == 0 {
				p = p[8:]
				if len(p) > 16 && (word(p)|word(p[8:]))&asciiMask == 0 {
					p = p[16:]
					for len(p) > 32 && (word(p)|word(p[8:])|word(p[16:])|word(p[24:]))&asciiMask == 0 {
						p = p[32:]
					}
				}
			}
			continue
		}
		x := lead[p0]
		r := ranges[x>>4]
		switch x & 7 {
		case 2:
			if len(p) < 2 {
				return v.tail(p)
			}
			if p[1] < r.lo || r.hi < p[1] {
				v.state = sReject
				return false
			}
			p = p[2:]
		case 3:
			if len(p) < 3 {
				return v.tail(p)
			}
			if p[1] < r.lo || r.hi < p[1] || p[2]&0xC0 != 0x80 {
				v.state = sReject
				return false
			}
			p = p[3:]
		case 4:
			if len(p) < 4 {
				return v.tail(p)
			}
			if p[1] < r.lo || r.hi < p[1] || p[2]&0xC0 != 0x80 || p[3]&0xC0 != 0x80 {
				v.state = sReject
				return false
			}
			p = p[4:]
		default: // 80..C1, F5..FF cannot start a sequence
			v.state = sReject
			return false
		}
	}
	return true
}

// tail runs the DFA over p, a piece that ends inside a sequence, from a
// code point boundary, failing as early as possible.
func (v *Validator) tail(p []byte) bool {
	s := uint8(sAccept)
	for _, b := range p {
		s = table[s&15][b]
		if s == sReject {
			break
		}
	}
	v.state = s
	return s != sReject
}

// Complete reports whether everything written since the last Reset is valid
// UTF-8 that ends on a code point boundary. Call it at the end of a message
// (after the frame with FIN set, RFC 6455 §5.4). Complete does not change
// the state; writing may continue after it.
func (v *Validator) Complete() bool {
	return v.state == sAccept
}

// Reset makes v ready for a new message, as if it were the zero value.
func (v *Validator) Reset() {
	v.state = sAccept
}
