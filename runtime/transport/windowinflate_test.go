package transport_test

import (
	"errors"
	"fmt"
)

// inflateWindow decodes one permessage-deflate message (RFC 7692 §7.2.2:
// the payload with 00 00 ff ff appended) as a receiver with an LZ77 window
// of window bytes and no context from earlier messages would: a
// back-reference further back than window bytes, or before the message's
// start, is an error. compress/flate cannot play that receiver: its window
// is always 32 KiB. maxDist is the longest back-reference met (0: none,
// the data was Huffman-coded literals only).
//
// It is a plain RFC 1951 decoder, written for clarity rather than speed,
// and stops after a final block or when the input ends between blocks.
func inflateWindow(payload []byte, window int) (out []byte, maxDist int, err error) {
	r := &bitReader{p: append(payload[:len(payload):len(payload)], 0, 0, 0xff, 0xff)}
	for !r.atEnd() {
		final, err := r.bits(1)
		if err != nil {
			return out, maxDist, err
		}
		typ, err := r.bits(2)
		if err != nil {
			return out, maxDist, err
		}
		switch typ {
		case 0: // stored
			r.align()
			n, err := r.bits(16)
			if err != nil {
				return out, maxDist, err
			}
			nn, err := r.bits(16)
			if err != nil {
				return out, maxDist, err
			}
			if n != ^nn&0xffff {
				return out, maxDist, errors.New("stored block: LEN and NLEN disagree")
			}
			for range n {
				b, err := r.bits(8)
				if err != nil {
					return out, maxDist, errors.New("stored block: truncated")
				}
				out = append(out, byte(b))
			}
		case 1: // fixed Huffman codes
			out, maxDist, err = r.codes(out, maxDist, window, &fixedLit, &fixedDist)
		case 2: // dynamic Huffman codes
			var lit, dist huffman
			if err = r.dynamicTables(&lit, &dist); err == nil {
				out, maxDist, err = r.codes(out, maxDist, window, &lit, &dist)
			}
		default:
			err = errors.New("reserved block type 3")
		}
		if err != nil {
			return out, maxDist, err
		}
		if final == 1 {
			break
		}
	}
	return out, maxDist, nil
}

type bitReader struct {
	p   []byte
	pos int    // next byte of p to load
	buf uint64 // loaded bits not consumed yet, next one lowest
	n   int    // how many
}

func (r *bitReader) atEnd() bool { return r.n == 0 && r.pos >= len(r.p) }

// bits reads n bits, least significant first (RFC 1951 §3.1.1).
func (r *bitReader) bits(n int) (int, error) {
	for r.n < n {
		if r.pos >= len(r.p) {
			return 0, errors.New("unexpected end of data")
		}
		r.buf |= uint64(r.p[r.pos]) << r.n
		r.pos++
		r.n += 8
	}
	v := int(r.buf & (1<<n - 1))
	r.buf >>= n
	r.n -= n
	return v, nil
}

// align skips to the next byte boundary.
func (r *bitReader) align() {
	r.buf >>= r.n % 8
	r.n -= r.n % 8
}

// huffman is a canonical Huffman code: how many codes of each length, and
// the symbols in code order.
type huffman struct {
	count  [16]int
	symbol []int
}

func newHuffman(h *huffman, lengths []int) {
	*h = huffman{symbol: make([]int, 0, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	h.count[0] = 0
	for l := 1; l < 16; l++ {
		for sym, sl := range lengths {
			if sl == l {
				h.symbol = append(h.symbol, sym)
			}
		}
	}
}

// decode reads one symbol, a bit at a time (codes are packed most
// significant bit first).
func (r *bitReader) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		n := h.count[l]
		if code-first < n {
			return h.symbol[index+code-first], nil
		}
		index += n
		first += n
		first <<= 1
		code <<= 1
	}
	return 0, errors.New("invalid Huffman code")
}

var (
	lengthBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

	fixedLit, fixedDist huffman
)

func init() {
	var l [288]int
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	newHuffman(&fixedLit, l[:])
	var d [30]int
	for i := range d {
		d[i] = 5
	}
	newHuffman(&fixedDist, d[:])
}

// dynamicTables reads the code lengths of a dynamic block (RFC 1951 §3.2.7).
func (r *bitReader) dynamicTables(lit, dist *huffman) error {
	nlen, err1 := r.bits(5)
	ndist, err2 := r.bits(5)
	ncode, err3 := r.bits(4)
	if err := errors.Join(err1, err2, err3); err != nil {
		return err
	}
	nlen, ndist, ncode = nlen+257, ndist+1, ncode+4
	order := [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
	var cl [19]int
	for i := range ncode {
		v, err := r.bits(3)
		if err != nil {
			return err
		}
		cl[order[i]] = v
	}
	var clCode huffman
	newHuffman(&clCode, cl[:])
	lengths := make([]int, 0, nlen+ndist)
	for len(lengths) < nlen+ndist {
		sym, err := r.decode(&clCode)
		if err != nil {
			return err
		}
		if sym < 16 {
			lengths = append(lengths, sym)
			continue
		}
		val, base, extra := 0, 3, 2
		switch sym {
		case 16:
			if len(lengths) == 0 {
				return errors.New("repeat with no previous length")
			}
			val = lengths[len(lengths)-1]
		case 17:
			extra = 3
		case 18:
			base, extra = 11, 7
		}
		n, err := r.bits(extra)
		if err != nil {
			return err
		}
		for range base + n {
			lengths = append(lengths, val)
		}
	}
	if len(lengths) > nlen+ndist {
		return errors.New("code lengths overrun")
	}
	newHuffman(lit, lengths[:nlen])
	newHuffman(dist, lengths[nlen:])
	return nil
}

// codes decodes a compressed block's symbols until its end-of-block code.
func (r *bitReader) codes(out []byte, maxDist, window int, lit, dist *huffman) ([]byte, int, error) {
	for {
		sym, err := r.decode(lit)
		if err != nil {
			return out, maxDist, err
		}
		switch {
		case sym < 256:
			out = append(out, byte(sym))
			continue
		case sym == 256:
			return out, maxDist, nil
		case sym > 285:
			return out, maxDist, fmt.Errorf("invalid length symbol %d", sym)
		}
		sym -= 257
		extra, err := r.bits(lengthExtra[sym])
		if err != nil {
			return out, maxDist, err
		}
		length := lengthBase[sym] + extra
		dsym, err := r.decode(dist)
		if err != nil {
			return out, maxDist, err
		}
		if dsym >= 30 {
			return out, maxDist, fmt.Errorf("invalid distance symbol %d", dsym)
		}
		if extra, err = r.bits(distExtra[dsym]); err != nil {
			return out, maxDist, err
		}
		d := distBase[dsym] + extra
		maxDist = max(maxDist, d)
		if d > window {
			return out, maxDist, fmt.Errorf("back-reference of %d bytes beyond the %d-byte window", d, window)
		}
		if d > len(out) {
			return out, maxDist, fmt.Errorf("back-reference of %d bytes before the message's start (%d bytes in)", d, len(out))
		}
		for range length {
			out = append(out, out[len(out)-d])
		}
	}
}
