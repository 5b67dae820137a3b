package runtime

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
)

// CompressionOptions turns on permessage-deflate (RFC 7692).
//
// The server always answers with server_no_context_takeover and
// client_no_context_takeover: every message is compressed on its own, so a
// connection keeps no 32 KiB LZ77 window between messages and an idle
// connection costs nothing extra. Offers that ask for a smaller server window
// (server_max_window_bits) are declined, because Go's compress/flate always
// uses a 32 KiB window; the connection then proceeds uncompressed.
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

// negotiateDeflate picks the first acceptable permessage-deflate offer from
// the client's Sec-WebSocket-Extensions options. Unknown extensions are
// never accepted; offers with invalid parameters are declined, not fatal.
func negotiateDeflate(offers []httphead.Option) (httphead.Option, bool) {
	for _, opt := range offers {
		ext := wsflate.Extension{Parameters: wsflate.Parameters{
			ServerNoContextTakeover: true,
			ClientNoContextTakeover: true,
		}}
		accept, err := ext.Negotiate(opt)
		if err == nil && accept.Size() > 0 {
			return accept, true
		}
	}
	return httphead.Option{}, false
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
