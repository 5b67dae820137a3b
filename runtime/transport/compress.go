package transport

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"strconv"
	"sync"

	"github.com/gobwas/httphead"
)

// CompressionOptions turns on permessage-deflate (RFC 7692).
//
// Of the client's permessage-deflate offers, which come in its order of
// preference (RFC 7692 §5), the server accepts the first whose parameters
// are valid, since it can honour all of them:
//
//   - It always answers server_no_context_takeover (§7.1.1.1 allows it
//     whether offered or not) and client_no_context_takeover (§7.1.1.2; the
//     client must then compress each message on its own): every message is
//     compressed and inflated alone, so a connection keeps no 32 KiB LZ77
//     window between messages and an idle connection costs nothing extra.
//   - server_max_window_bits=N (8-15) is accepted and echoed (§7.1.2.1:
//     the answer carries the same or a smaller value). N=15 is
//     compress/flate's own 32 KiB window. For N<15 the server keeps its
//     back-references within 2^N bytes although compress/flate's window
//     cannot be made smaller: with no context takeover a message of at most
//     2^N bytes cannot refer further back than its own start, so it is
//     compressed at Level as usual; a longer one is compressed Huffman-only
//     (flate.HuffmanOnly: no back-references at all), or sent as it is when
//     that is not smaller. Declining instead would cost such a client
//     compression in both directions; this costs it only the LZ77 matches
//     of the server's messages longer than its window.
//   - client_max_window_bits, with or without a value, is accepted and left
//     out of the answer (§7.1.2.2 allows either): the inflater reads
//     anything compressed with a window of up to 32 KiB, the maximum.
//
// An offer with an unknown parameter, a repeated parameter or an invalid
// value (a window size that is not 8 to 15 written without leading zeros,
// server_max_window_bits without a value, a value on a no_context_takeover
// flag) is declined as §7 requires, and the next offer is considered.
// Without an acceptable offer the connection proceeds uncompressed.
type CompressionOptions struct {
	// Level is the compress/flate level for outgoing messages
	// (default flate.BestSpeed).
	Level int
	// Threshold is the smallest outgoing message that is compressed
	// (default 256 bytes); smaller ones are sent as they are.
	Threshold int
}

func (o *CompressionOptions) level() int {
	if o.Level == 0 {
		return flate.BestSpeed
	}
	return o.Level
}

func (o *CompressionOptions) threshold() int {
	if o.Threshold == 0 {
		return 256
	}
	return o.Threshold
}

// huffmanOnly is how a message longer than the negotiated server window is
// compressed: Huffman coding of literals, no LZ77 back-references.
var huffmanOnly = &CompressionOptions{Level: flate.HuffmanOnly}

// outgoingCompression returns how to compress an outgoing data message of
// n bytes on c, or nil to send it as it is.
func (c *Conn) outgoingCompression(n int) *CompressionOptions {
	comp := c.srv.cfg.Compression
	if !c.deflate || comp == nil || n < comp.threshold() {
		return nil
	}
	if c.winBits > 0 && n > 1<<c.winBits {
		return huffmanOnly
	}
	return comp
}

const extensionName = "permessage-deflate"

// deflateAnswers are the Sec-WebSocket-Extensions values the server
// answers: [0] for an offer without server_max_window_bits, [N-7] for one
// with server_max_window_bits=N (RFC 7692 §7.1.2.1 requires the echo).
var deflateAnswers = func() (a [9]string) {
	const base = extensionName + "; server_no_context_takeover; client_no_context_takeover"
	a[0] = base
	for n := 8; n <= 15; n++ {
		a[n-7] = base + "; server_max_window_bits=" + strconv.Itoa(n)
	}
	return a
}()

// deflateOffer is one permessage-deflate offer being read.
type deflateOffer struct {
	seen       uint8 // parameters met so far, one bit each
	serverBits int   // server_max_window_bits, 0 when absent
	bad        bool  // unknown, repeated or invalid parameter: decline
}

// param reads one parameter of the offer; val is nil when it has no value
// (a quoted "" is an empty, non-nil value).
func (o *deflateOffer) param(name, val []byte) {
	var bit uint8
	switch string(name) {
	case "server_no_context_takeover": // §7.1.1.1: no value
		bit = 1
		o.bad = o.bad || val != nil
	case "client_no_context_takeover": // §7.1.1.2: no value
		bit = 2
		o.bad = o.bad || val != nil
	case "server_max_window_bits": // §7.1.2.1: a value, 8 to 15
		bit = 4
		n, ok := windowBits(val)
		o.bad = o.bad || !ok
		o.serverBits = n
	case "client_max_window_bits": // §7.1.2.2: no value, or 8 to 15
		bit = 8
		if val != nil {
			_, ok := windowBits(val)
			o.bad = o.bad || !ok
		}
	default: // §7: "not defined for use in an offer"
		o.bad = true
	}
	o.bad = o.bad || o.seen&bit != 0 // §7: "multiple extension parameters with the same name"
	o.seen |= bit
}

// windowBits parses a window size as RFC 7692 §7.1.2 writes it: a decimal
// integer from 8 to 15 without leading zeros.
func windowBits(v []byte) (int, bool) {
	switch {
	case len(v) == 1 && (v[0] == '8' || v[0] == '9'):
		return int(v[0] - '0'), true
	case len(v) == 2 && v[0] == '1' && '0' <= v[1] && v[1] <= '5':
		return 10 + int(v[1]-'0'), true
	}
	return 0, false
}

// negotiateDeflate picks the first acceptable permessage-deflate offer
// from the client's Sec-WebSocket-Extensions header values, in order
// across headers (RFC 7692 §5: offers come in order of preference and the
// server accepts at most one). It returns the answer's header value and the
// accepted server_max_window_bits when it is below 15, 0 otherwise (see
// CompressionOptions). Other extensions are never accepted; an offer with
// invalid parameters is declined, not fatal. A header value that is not a
// well-formed extension list is ignored as a whole.
func negotiateDeflate(headers []string) (answer string, winBits uint8, ok bool) {
	for _, h := range headers {
		var (
			cur    = -1 // index of the option being read
			isPMD  bool // it is a permessage-deflate offer
			offer  deflateOffer
			found  bool // an acceptable offer was read
			chosen deflateOffer
		)
		done := func() {
			if cur >= 0 && isPMD && !offer.bad && !found {
				found, chosen = true, offer
			}
		}
		wellFormed := httphead.ScanOptions([]byte(h), func(i int, name, attr, val []byte) httphead.Control {
			if i != cur {
				done()
				cur, isPMD, offer = i, !found && string(name) == extensionName, deflateOffer{}
			}
			if isPMD && attr != nil {
				offer.param(attr, val)
			}
			return httphead.ControlContinue
		})
		done()
		if !wellFormed || !found {
			continue
		}
		if n := chosen.serverBits; n != 0 {
			if n < 15 {
				winBits = uint8(n)
			}
			return deflateAnswers[n-7], winBits, true
		}
		return deflateAnswers[0], 0, true
	}
	return "", 0, false
}

// deflateTail is the empty stored block removed from and re-added to every
// compressed message (RFC 7692 §7.2.1, §7.2.2).
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

var flateReaders sync.Pool

var errTooBig = errors.New("inflated message too big")

// inflate decompresses one message into a pooled buffer, stopping with
// errTooBig as soon as the output exceeds limit (0: unlimited).
func inflate(compressed []byte, limit int64) (*[]byte, error) {
	src := io.MultiReader(bytes.NewReader(compressed), bytes.NewReader(deflateTail))
	fr, _ := flateReaders.Get().(io.ReadCloser)
	if fr == nil {
		fr = flate.NewReader(src)
	} else {
		_ = fr.(flate.Resetter).Reset(src, nil)
	}
	defer flateReaders.Put(fr)

	out := getBuffer(len(compressed) * 4)
	for {
		b := *out
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := fr.Read(b[len(b):cap(b)])
		*out = b[:len(b)+n]
		if limit > 0 && int64(len(*out)) > limit {
			putBuffer(out)
			return nil, errTooBig
		}
		if err == io.EOF || (err == io.ErrUnexpectedEOF && n == 0) {
			// The stream ends after the tail's empty stored block without
			// a final block; flate reports that as unexpected EOF.
			return out, nil
		}
		if err != nil {
			putBuffer(out)
			return nil, err
		}
	}
}

// deflater is a pooled compressor with the buffer it writes into, so that
// compressing a message allocates nothing.
type deflater struct {
	fw *flate.Writer
	w  appendWriter
}

var flateWriters [flate.BestCompression + 3]sync.Pool // indexed by level+2 (HuffmanOnly is -2)

// deflate compresses p into dst (a frame-building buffer), dropping the
// trailing empty block as RFC 7692 §7.2.1 requires.
func deflate(dst []byte, p []byte, level int) ([]byte, error) {
	if level < flate.HuffmanOnly || level > flate.BestCompression {
		level = flate.BestSpeed
	}
	pool := &flateWriters[level+2]
	d, _ := pool.Get().(*deflater)
	if d == nil {
		d = new(deflater)
		var err error
		if d.fw, err = flate.NewWriter(&d.w, level); err != nil {
			return dst, err
		}
	}
	d.w.b = dst
	d.fw.Reset(&d.w)
	defer func() { d.w.b = nil; pool.Put(d) }()
	if _, err := d.fw.Write(p); err != nil {
		return dst, err
	}
	if err := d.fw.Flush(); err != nil {
		return dst, err
	}
	out := d.w.b
	if !bytes.HasSuffix(out, deflateTail) {
		return dst, errors.New("deflate: missing sync flush tail")
	}
	return out[:len(out)-len(deflateTail)], nil
}

type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
