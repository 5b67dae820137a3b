package transport

import (
	"encoding/binary"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/utf8stream"
)

// parseMode says how much of the incoming stream is still interpreted.
type parseMode uint8

const (
	// parseOpen: every RFC 6455 rule applies and data messages are delivered.
	parseOpen parseMode = iota
	// parseClosing: the server has sent its close frame (RFC 6455 §7.1.2).
	// Frames are still delimited so that the peer's close frame can be
	// recognised, but data, pings and pongs are skipped unchecked.
	parseClosing
	// parseDiscard: the peer's close frame has arrived, or the stream can no
	// longer be delimited; every further byte is ignored.
	parseDiscard
)

// failure is a reason to fail the WebSocket connection (RFC 6455 §7.1.7):
// the close code to send and a short reason.
type failure struct {
	code   uint16
	reason string
}

func (f *failure) Error() string { return f.reason }

// frameSink receives what the parser decodes. Its methods run on the
// goroutine that feeds the parser; the byte slices they get are valid only
// until they return.
type frameSink interface {
	// message is a complete data message (op is ws.OpText or ws.OpBinary);
	// compressed means RSV1 was set (permessage-deflate, RFC 7692 §6).
	message(op ws.OpCode, compressed bool, data []byte)
	// control is a complete, valid control frame (ping, pong or close).
	control(op ws.OpCode, payload []byte)
	// fail is called once when the peer violates the protocol; the parser
	// has already switched to parseClosing or parseDiscard.
	fail(f *failure)
}

// frameParser decodes the frames a client sends (RFC 6455 §5), fed with
// whatever bytes arrive, split anywhere. It keeps only a few dozen bytes of
// state between reads; a buffer is held only while a fragmented or
// partially-received message is open, and returned to a pool when it ends.
//
// It enforces, in parseOpen mode: masking of client frames (§5.3), reserved
// bits without a negotiated extension and reserved opcodes (§5.2), control
// frames at most 125 bytes and never fragmented (§5.5), the 64-bit length's
// most significant bit (§5.2), continuation rules (§5.4), incremental UTF-8
// validation of text that fails as soon as a byte makes it invalid (§8.1),
// and the message size limit, checked from each frame header before its
// payload is read.
//
// Not safe for concurrent use; the connection feeds it from one goroutine at
// a time.
type frameParser struct {
	maxMessage int64 // 0: unlimited
	deflate    bool  // permessage-deflate negotiated: RSV1 allowed on a message's first frame
	mode       parseMode

	hdr     [ws.MaxHeaderSize]byte // header bytes received so far when split across reads
	hdrN    uint8
	inFrame bool
	h       ws.Header
	remain  int64 // payload bytes of the current frame still to come
	skip    bool  // the current frame was rejected: its payload is dropped unread
	maskOff int   // position in the mask for ws.Cipher

	msgOp         ws.OpCode // ws.OpText or ws.OpBinary while a message is open
	msgOpen       bool      // a data frame without FIN was received
	msgCompressed bool
	msgLen        int64
	msg           *[]byte // assembled payload; nil when a frame is delivered straight from the read buffer
	text          utf8stream.Validator

	ctrl []byte // control payload split across reads (rare)
}

// errLengthMSB is the failure for a 64-bit length with its top bit set; the
// stream cannot be delimited after it.
var errLengthMSB = &failure{CloseProtocolError, ws.ErrHeaderLengthMSB.Error()}

// headerSize returns the size of the header that starts with b0, b1.
func headerSize(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// decodeHeader decodes a complete header (len(b) == headerSize(b[1])).
func decodeHeader(b []byte) (h ws.Header, err *failure) {
	h.Fin = b[0]&0x80 != 0
	h.Rsv = (b[0] & 0x70) >> 4
	h.OpCode = ws.OpCode(b[0] & 0x0f)
	h.Masked = b[1]&0x80 != 0
	rest := b[2:]
	switch l := b[1] & 0x7f; l {
	case 126:
		h.Length = int64(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
	case 127:
		if rest[0]&0x80 != 0 {
			return h, errLengthMSB
		}
		h.Length = int64(binary.BigEndian.Uint64(rest))
		rest = rest[8:]
	default:
		h.Length = int64(l)
	}
	if h.Masked {
		copy(h.Mask[:], rest)
	}
	return h, nil
}

// feed parses p, calling sink for each complete message and control frame.
// p is unmasked in place. The parser keeps no reference to p.
func (fp *frameParser) feed(p []byte, sink frameSink) {
	for len(p) > 0 && fp.mode != parseDiscard {
		if !fp.inFrame {
			var ok bool
			if p, ok = fp.readHeader(p, sink); !ok {
				return
			}
			continue
		}
		p = fp.readPayload(p, sink)
	}
}

// readHeader consumes header bytes from p. It reports false when p ran out
// before the header was complete or the stream was lost.
func (fp *frameParser) readHeader(p []byte, sink frameSink) ([]byte, bool) {
	var hb []byte
	if fp.hdrN == 0 && len(p) >= 2 && len(p) >= headerSize(p[1]) {
		n := headerSize(p[1])
		hb, p = p[:n], p[n:]
	} else {
		if fp.hdrN < 2 {
			n := copy(fp.hdr[fp.hdrN:2], p)
			fp.hdrN += uint8(n)
			p = p[n:]
			if fp.hdrN < 2 {
				return p, false
			}
		}
		need := headerSize(fp.hdr[1])
		n := copy(fp.hdr[fp.hdrN:need], p)
		fp.hdrN += uint8(n)
		p = p[n:]
		if int(fp.hdrN) < need {
			return p, false
		}
		hb = fp.hdr[:need]
		fp.hdrN = 0
	}
	h, f := decodeHeader(hb)
	if f != nil {
		fp.failWith(f, sink)
		fp.mode = parseDiscard
		return p, false
	}
	fp.h, fp.remain, fp.maskOff, fp.inFrame = h, h.Length, 0, true
	if fp.mode == parseOpen {
		if f := fp.checkHeader(); f != nil {
			fp.skip = true // a rejected close frame must not pass for the peer's answer
			fp.failWith(f, sink)
		}
	}
	if fp.remain == 0 {
		fp.endFrame(nil, sink)
	}
	return p, true
}

// checkHeader applies RFC 6455 §5.2-5.5 and RFC 7692 §6 to fp.h and opens a
// message for a first data frame.
func (fp *frameParser) checkHeader() *failure {
	h := fp.h
	r1, r2, r3 := ws.RsvBits(h.Rsv)
	compressed := false
	switch {
	case r2 || r3:
		return &failure{CloseProtocolError, ws.ErrProtocolNonZeroRsv.Error()}
	case r1 && (!fp.deflate || h.OpCode.IsControl() || h.OpCode == ws.OpContinuation):
		if !fp.deflate {
			return &failure{CloseProtocolError, ws.ErrProtocolNonZeroRsv.Error()}
		}
		return &failure{CloseProtocolError, "rsv1 set on a control or continuation frame"}
	case r1:
		compressed = true
	}
	h.Rsv = 0
	state := ws.StateServerSide
	if fp.msgOpen {
		state |= ws.StateFragmented
	}
	if err := ws.CheckHeader(h, state); err != nil {
		return &failure{CloseProtocolError, err.Error()}
	}
	if h.OpCode.IsControl() {
		return nil
	}
	if h.OpCode != ws.OpContinuation {
		fp.msgOp, fp.msgCompressed, fp.msgLen = h.OpCode, compressed, 0
		fp.text.Reset()
	}
	if limit := fp.wireLimit(); limit > 0 && fp.msgLen+h.Length > limit {
		return &failure{CloseTooBig, "message too big"}
	}
	fp.msgLen += h.Length
	if !h.Fin {
		fp.msgOpen = true
	}
	return nil
}

// wireLimit is the largest payload a message may have on the wire. For a
// compressed message it leaves room for deflate's overhead on data that
// does not compress (a few bytes per stored block); the inflated size is
// held to maxMessage exactly when the message is inflated.
func (fp *frameParser) wireLimit() int64 {
	if fp.maxMessage <= 0 || !fp.msgCompressed {
		return fp.maxMessage
	}
	return fp.maxMessage + fp.maxMessage>>10 + 64
}

// readPayload consumes payload bytes of the current frame from p.
func (fp *frameParser) readPayload(p []byte, sink frameSink) []byte {
	n := int64(len(p))
	if n > fp.remain {
		n = fp.remain
	}
	chunk, rest := p[:n], p[n:]
	fp.remain -= n
	h := &fp.h

	if fp.skip || fp.mode == parseClosing && h.OpCode != ws.OpClose {
		if fp.remain == 0 {
			fp.inFrame, fp.skip = false, false
			fp.ctrl = fp.ctrl[:0]
		}
		return rest // skipped unchecked, not even unmasked
	}
	if h.Masked {
		ws.Cipher(chunk, h.Mask, fp.maskOff)
		fp.maskOff += len(chunk)
	}

	if h.OpCode.IsControl() {
		if fp.remain == 0 && len(fp.ctrl) == 0 {
			fp.endFrame(chunk, sink) // whole payload in this read
			return rest
		}
		if len(fp.ctrl)+len(chunk) <= ws.MaxControlFramePayloadSize {
			fp.ctrl = append(fp.ctrl, chunk...)
		}
		if fp.remain == 0 {
			fp.endFrame(fp.ctrl, sink)
			fp.ctrl = fp.ctrl[:0]
		}
		return rest
	}

	if fp.msgOp == ws.OpText && !fp.msgCompressed && !fp.text.Write(chunk) {
		fp.failWith(&failure{CloseInvalidPayload, "invalid UTF-8 in text message"}, sink)
		return rest
	}
	if fp.remain == 0 && h.Fin && fp.msg == nil && h.OpCode != ws.OpContinuation {
		fp.endFrame(chunk, sink) // a whole single-frame message in this read: no copy
		return rest
	}
	if fp.msg == nil {
		fp.msg = getBuffer(int(min(fp.msgLen, largeBufferCap)))
	}
	*fp.msg = append(*fp.msg, chunk...)
	if fp.remain == 0 {
		fp.endFrame(nil, sink)
	}
	return rest
}

// endFrame finishes the current frame. payload is its whole payload when it
// arrived in one piece, nil otherwise.
func (fp *frameParser) endFrame(payload []byte, sink frameSink) {
	fp.inFrame = false
	if fp.skip {
		fp.skip = false
		return
	}
	h := fp.h
	switch {
	case fp.mode == parseClosing:
		if h.OpCode == ws.OpClose {
			fp.mode = parseDiscard
			sink.control(ws.OpClose, payload)
		}
		return
	case fp.mode != parseOpen:
		return
	case h.OpCode.IsControl():
		if h.OpCode == ws.OpClose {
			fp.mode = parseDiscard // frames after the peer's close are ignored (§5.5.1)
			fp.releaseMessage()
		}
		sink.control(h.OpCode, payload)
		return
	case !h.Fin:
		return
	}
	if fp.msgOp == ws.OpText && !fp.msgCompressed && !fp.text.Complete() {
		fp.failWith(&failure{CloseInvalidPayload, "invalid UTF-8 in text message"}, sink)
		return
	}
	data := payload
	if fp.msg != nil {
		data = *fp.msg
	}
	op, compressed := fp.msgOp, fp.msgCompressed
	fp.msgOp, fp.msgOpen, fp.msgLen = 0, false, 0
	sink.message(op, compressed, data)
	fp.releaseMessage()
}

// failWith switches to closing mode and reports f once.
func (fp *frameParser) failWith(f *failure, sink frameSink) {
	if fp.mode != parseOpen {
		return
	}
	fp.mode = parseClosing
	fp.releaseMessage()
	sink.fail(f)
}

// startClosing switches to closing mode after the server sent its close.
func (fp *frameParser) startClosing() {
	if fp.mode == parseOpen {
		fp.mode = parseClosing
		fp.releaseMessage()
		fp.ctrl = fp.ctrl[:0]
	}
}

// discard stops interpreting the stream: every further byte is ignored
// (the connection was failed, RFC 6455 §7.1.7).
func (fp *frameParser) discard() {
	fp.mode = parseDiscard
	fp.releaseMessage()
	fp.ctrl = fp.ctrl[:0]
}

// busy reports whether the parser is in the middle of a frame or message.
func (fp *frameParser) busy() bool {
	return fp.inFrame || fp.hdrN > 0 || fp.msgOpen
}

func (fp *frameParser) releaseMessage() {
	if fp.msg != nil {
		putBuffer(fp.msg)
		fp.msg = nil
	}
	fp.msgOp, fp.msgOpen, fp.msgLen = 0, false, 0
}
