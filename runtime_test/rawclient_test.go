package runtimetest

// A deliberately hostile, byte-level WebSocket client used by the conformance,
// handshake and backpressure tests. Unlike a real client library it can build
// any frame the wire format can express (reserved bits and opcodes, unmasked
// frames, non-minimal or absurd length encodings, lying length headers), write
// it whole, byte by byte or in random slices, and it checks every frame the
// server sends against RFC 6455 (and RFC 7692 when permessage-deflate was
// negotiated) instead of trusting it.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// Opcodes (RFC 6455 §5.2).
const (
	opCont   byte = 0x0
	opText   byte = 0x1
	opBinary byte = 0x2
	opClose  byte = 0x8
	opPing   byte = 0x9
	opPong   byte = 0xA
)

// Reserved bits, as the 3-bit value placed in bits 4..6 of the first byte.
const (
	rsv1 byte = 4
	rsv2 byte = 2
	rsv3 byte = 1
)

func opName(op byte) string {
	switch op {
	case opCont:
		return "continuation"
	case opText:
		return "text"
	case opBinary:
		return "binary"
	case opClose:
		return "close"
	case opPing:
		return "ping"
	case opPong:
		return "pong"
	}
	return fmt.Sprintf("opcode-%d", op)
}

func isControl(op byte) bool { return op&0x8 != 0 }

// ---------------------------------------------------------------------------
// Frames the client sends.

// frame describes one client frame. The zero value of every knob means "what
// a conforming client would do": masked with a random key, minimal length
// encoding, declared length = len(payload).
type frame struct {
	fin     bool
	rsv     byte // 3-bit value: rsv1|rsv2|rsv3
	op      byte // 4-bit opcode, anything 0..15
	payload []byte

	unmasked bool     // send without the MASK bit (protocol error for a client)
	key      *[4]byte // fixed masking key; nil = random
	lenEnc   int      // 0 minimal, 7/16/64 = force that length field width
	declLen  *uint64  // declared payload length; nil = len(payload)
}

func textFrame(s string) frame { return frame{fin: true, op: opText, payload: []byte(s)} }
func binFrame(b []byte) frame  { return frame{fin: true, op: opBinary, payload: b} }
func pingFrame(b []byte) frame { return frame{fin: true, op: opPing, payload: b} }
func pongFrame(b []byte) frame { return frame{fin: true, op: opPong, payload: b} }
func contFrame(b []byte, fin bool) frame {
	return frame{fin: fin, op: opCont, payload: b}
}
func fragFrame(op byte, b []byte, fin bool) frame {
	return frame{fin: fin, op: op, payload: b}
}

// closeBody builds a close payload: 2-byte code + reason.
func closeBody(code uint16, reason string) []byte {
	b := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(b, code)
	return append(b, reason...)
}

func closeFrame(code uint16, reason string) frame {
	return frame{fin: true, op: opClose, payload: closeBody(code, reason)}
}

func closeFrameRaw(body []byte) frame { return frame{fin: true, op: opClose, payload: body} }

func (f frame) with(mod func(*frame)) frame { mod(&f); return f }

func (f frame) withRSV(r byte) frame { f.rsv = r; return f }

func (f frame) withFin(fin bool) frame { f.fin = fin; return f }

func (f frame) withLenEnc(n int) frame { f.lenEnc = n; return f }

func (f frame) withDeclLen(n uint64) frame { f.declLen = &n; return f }

func (f frame) withUnmasked() frame { f.unmasked = true; return f }

func (f frame) String() string {
	var sb strings.Builder
	sb.WriteString(opName(f.op))
	if !f.fin {
		sb.WriteString(" FIN=0")
	}
	if f.rsv != 0 {
		fmt.Fprintf(&sb, " RSV=%03b", f.rsv)
	}
	if f.unmasked {
		sb.WriteString(" unmasked")
	}
	if f.declLen != nil {
		fmt.Fprintf(&sb, " declared-len=%d", *f.declLen)
	}
	if f.lenEnc != 0 {
		fmt.Fprintf(&sb, " len-field=%d-bit", f.lenEnc)
	}
	fmt.Fprintf(&sb, " %dB", len(f.payload))
	if len(f.payload) > 0 && len(f.payload) <= 16 {
		fmt.Fprintf(&sb, " % x", f.payload)
	}
	return sb.String()
}

// encode serialises the frame. rng supplies masking keys.
func (f frame) encode(rng *mrand.Rand) []byte {
	n := uint64(len(f.payload))
	if f.declLen != nil {
		n = *f.declLen
	}
	b0 := f.op&0x0F | (f.rsv&7)<<4
	if f.fin {
		b0 |= 0x80
	}
	var b1 byte
	if !f.unmasked {
		b1 = 0x80
	}
	out := make([]byte, 0, 14+len(f.payload))
	enc := f.lenEnc
	if enc == 0 {
		switch {
		case n <= 125:
			enc = 7
		case n <= 0xFFFF:
			enc = 16
		default:
			enc = 64
		}
	}
	switch enc {
	case 7:
		out = append(out, b0, b1|byte(n&0x7F))
	case 16:
		out = append(out, b0, b1|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, b0, b1|127)
		out = binary.BigEndian.AppendUint64(out, n)
	}
	if f.unmasked {
		return append(out, f.payload...)
	}
	var key [4]byte
	if f.key != nil {
		key = *f.key
	} else {
		binary.LittleEndian.PutUint32(key[:], rng.Uint32()|1)
	}
	out = append(out, key[:]...)
	start := len(out)
	out = append(out, f.payload...)
	maskBytes(key, out[start:])
	return out
}

// maskBytes XORs b with the repeating key. It works in 4 KiB blocks through
// crypto/subtle (assembly), so masking 16 MiB stays cheap under -race.
func maskBytes(key [4]byte, b []byte) {
	const block = 4096
	var pat [block]byte
	for i := 0; i < block; i += 4 {
		copy(pat[i:], key[:])
	}
	for len(b) > 0 {
		n := min(len(b), block)
		subtle.XORBytes(b[:n], b[:n], pat[:n])
		b = b[n:]
	}
}

// ---------------------------------------------------------------------------
// Chopping writes.

// chop says how a byte stream is cut into separate writes.
type chop struct {
	kind  int // 0 whole, 1 one byte per write, 2 random slices, 3 twenty pieces
	delay time.Duration
}

var (
	chopWhole  = chop{}
	chopBytes  = chop{kind: 1, delay: 200 * time.Microsecond}
	chopRandom = chop{kind: 2, delay: time.Millisecond}
)

func (c chop) String() string {
	switch c.kind {
	case 1:
		return "1-byte writes"
	case 2:
		return "random splits"
	}
	return "whole"
}

// pieces cuts b per the chop mode.
func (c chop) pieces(b []byte, rng *mrand.Rand) [][]byte {
	switch c.kind {
	case 1:
		out := make([][]byte, len(b))
		for i := range b {
			out[i] = b[i : i+1]
		}
		return out
	case 3: // 20 roughly equal pieces
		var out [][]byte
		for i := 0; i < 20; i++ {
			if p := b[len(b)*i/20 : len(b)*(i+1)/20]; len(p) > 0 {
				out = append(out, p)
			}
		}
		return out
	case 2:
		var out [][]byte
		for len(b) > 0 {
			// Mostly small cuts near the start (headers get split), larger later.
			max := 1 + len(b)/4
			if max > 8192 {
				max = 8192
			}
			if rng.IntN(3) == 0 && max > 8 {
				max = 8
			}
			n := 1 + rng.IntN(max)
			out = append(out, b[:n])
			b = b[n:]
		}
		return out
	}
	return [][]byte{b}
}

// ---------------------------------------------------------------------------
// The connection.

// handshakeOpts configures the opening handshake.
type handshakeOpts struct {
	path         string
	extensions   []string // Sec-WebSocket-Extensions header values offered
	subprotocols []string
	origin       string
	header       http.Header // extra request headers
}

// deflateParams are the negotiated permessage-deflate parameters (RFC 7692).
type deflateParams struct {
	serverNoContextTakeover bool
	clientNoContextTakeover bool
	serverMaxWindowBits     int // 0 = not present
	clientMaxWindowBits     int // 0 = not present
	raw                     string
}

// wsConn is an established raw WebSocket connection.
type wsConn struct {
	nc   net.Conn
	br   *bufio.Reader
	rng  *mrand.Rand
	resp *http.Response

	deflate *deflateParams // nil unless permessage-deflate was negotiated
	// client compressor state (context takeover unless negotiated off)
	fw    *flate.Writer
	fwBuf bytes.Buffer
	// server decompressor state: last 32 KiB of inflated output
	inflDict []byte

	// fragmented server message being assembled
	partial *message
}

func newRng() *mrand.Rand { return mrand.New(mrand.NewPCG(mrand.Uint64(), 1)) }

// wsAccept computes Sec-WebSocket-Accept for key.
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// buildRequest renders an upgrade request.
func buildRequest(addr, key string, o handshakeOpts) []byte {
	path := o.path
	if path == "" {
		path = "/"
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\n", path)
	fmt.Fprintf(&b, "Host: %s\r\n", addr)
	b.WriteString("Upgrade: websocket\r\nConnection: Upgrade\r\n")
	fmt.Fprintf(&b, "Sec-WebSocket-Key: %s\r\n", key)
	b.WriteString("Sec-WebSocket-Version: 13\r\n")
	if o.origin != "" {
		fmt.Fprintf(&b, "Origin: %s\r\n", o.origin)
	}
	for _, e := range o.extensions {
		fmt.Fprintf(&b, "Sec-WebSocket-Extensions: %s\r\n", e)
	}
	if len(o.subprotocols) > 0 {
		fmt.Fprintf(&b, "Sec-WebSocket-Protocol: %s\r\n", strings.Join(o.subprotocols, ", "))
	}
	for k, vs := range o.header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// dialWS opens a TCP connection and performs the opening handshake, checking
// the 101 response strictly (RFC 6455 §4.2.2, §4.1 client requirements).
func dialWS(addr string, o handshakeOpts, timeout time.Duration) (*wsConn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	key := newKey()
	if _, err := nc.Write(buildRequest(addr, key, o)); err != nil {
		nc.Close()
		return nil, fmt.Errorf("write handshake: %w", err)
	}
	br := bufio.NewReaderSize(nc, 64<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("read handshake response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		nc.Close()
		return nil, fmt.Errorf("handshake: status %s (body %q)", resp.Status, body)
	}
	if err := checkUpgradeResponse(resp, key, o); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetDeadline(time.Time{})
	c := &wsConn{nc: nc, br: br, resp: resp, rng: newRng()}
	if len(o.extensions) > 0 || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		dp, err := parseDeflateResponse(resp.Header.Values("Sec-WebSocket-Extensions"), o.extensions)
		if err != nil {
			nc.Close()
			return nil, err
		}
		c.deflate = dp
	}
	return c, nil
}

// checkUpgradeResponse validates a 101 response against the request.
func checkUpgradeResponse(resp *http.Response, key string, o handshakeOpts) error {
	if !headerHasToken(resp.Header, "Upgrade", "websocket") {
		return fmt.Errorf("handshake: 101 without Upgrade: websocket (got %q)", resp.Header.Values("Upgrade"))
	}
	if !headerHasToken(resp.Header, "Connection", "upgrade") {
		return fmt.Errorf("handshake: 101 without Connection: Upgrade (got %q)", resp.Header.Values("Connection"))
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), wsAccept(key); got != want {
		return fmt.Errorf("handshake: Sec-WebSocket-Accept %q, want %q", got, want)
	}
	if p := resp.Header.Values("Sec-WebSocket-Protocol"); len(p) > 0 {
		if len(p) > 1 || strings.Contains(p[0], ",") {
			return fmt.Errorf("handshake: more than one subprotocol selected: %q", p)
		}
		ok := false
		for _, s := range o.subprotocols {
			if s == strings.TrimSpace(p[0]) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("handshake: server selected subprotocol %q which the client did not offer (%q)", p[0], o.subprotocols)
		}
	}
	return nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// extElem is one element of a Sec-WebSocket-Extensions list.
type extElem struct {
	name   string
	params [][2]string // name, value ("" when absent)
}

// parseExtensions parses header values into extension elements. Quoted
// parameter values are unquoted.
func parseExtensions(values []string) ([]extElem, error) {
	var out []extElem
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			parts := strings.Split(item, ";")
			e := extElem{name: strings.TrimSpace(parts[0])}
			if e.name == "" {
				return nil, fmt.Errorf("empty extension name in %q", v)
			}
			for _, p := range parts[1:] {
				p = strings.TrimSpace(p)
				if p == "" {
					return nil, fmt.Errorf("empty extension parameter in %q", v)
				}
				k, val, _ := strings.Cut(p, "=")
				val = strings.Trim(strings.TrimSpace(val), `"`)
				e.params = append(e.params, [2]string{strings.TrimSpace(k), val})
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// parseDeflateResponse validates the server's Sec-WebSocket-Extensions
// against RFC 7692 and what was offered. It returns nil if no extension was
// accepted.
func parseDeflateResponse(resp []string, offered []string) (*deflateParams, error) {
	elems, err := parseExtensions(resp)
	if err != nil {
		return nil, fmt.Errorf("handshake: bad Sec-WebSocket-Extensions %q: %v", resp, err)
	}
	if len(elems) == 0 {
		return nil, nil
	}
	offers, _ := parseExtensions(offered)
	if len(elems) > 1 {
		return nil, fmt.Errorf("handshake: server accepted %d extensions %q", len(elems), resp)
	}
	e := elems[0]
	if e.name != "permessage-deflate" {
		return nil, fmt.Errorf("handshake: server accepted extension %q which duplex's client never offers as such (offered %q)", e.name, offered)
	}
	offeredDeflate := false
	clientBitsOffered := false
	serverBitsOffered := 0
	for _, o := range offers {
		if o.name != "permessage-deflate" {
			continue
		}
		offeredDeflate = true
		for _, p := range o.params {
			if p[0] == "client_max_window_bits" {
				clientBitsOffered = true
			}
			if p[0] == "server_max_window_bits" {
				n, _ := strconv.Atoi(p[1])
				if n > serverBitsOffered {
					serverBitsOffered = n
				}
			}
		}
	}
	if !offeredDeflate {
		return nil, fmt.Errorf("handshake: server accepted permessage-deflate which was not offered (offered %q)", offered)
	}
	dp := &deflateParams{raw: strings.Join(resp, ", ")}
	seen := map[string]bool{}
	for _, p := range e.params {
		if seen[p[0]] {
			return nil, fmt.Errorf("handshake: duplicate parameter %q in %q", p[0], resp)
		}
		seen[p[0]] = true
		switch p[0] {
		case "server_no_context_takeover":
			if p[1] != "" {
				return nil, fmt.Errorf("handshake: server_no_context_takeover with value in %q", resp)
			}
			dp.serverNoContextTakeover = true
		case "client_no_context_takeover":
			if p[1] != "" {
				return nil, fmt.Errorf("handshake: client_no_context_takeover with value in %q", resp)
			}
			dp.clientNoContextTakeover = true
		case "server_max_window_bits", "client_max_window_bits":
			n, err := strconv.Atoi(p[1])
			if err != nil || n < 8 || n > 15 || p[1] != strconv.Itoa(n) {
				return nil, fmt.Errorf("handshake: bad %s value %q in %q", p[0], p[1], resp)
			}
			if p[0] == "server_max_window_bits" {
				dp.serverMaxWindowBits = n
			} else {
				if !clientBitsOffered {
					return nil, fmt.Errorf("handshake: client_max_window_bits in response but not offered (%q)", resp)
				}
				dp.clientMaxWindowBits = n
			}
		default:
			return nil, fmt.Errorf("handshake: unknown permessage-deflate parameter %q in %q", p[0], resp)
		}
	}
	// Every offer that carried server_max_window_bits=N requires the response
	// to carry a value <= N, unless the server picked another offer; we only
	// make single-offer requests with that parameter, so check it.
	if serverBitsOffered > 0 && len(offers) == 1 && (dp.serverMaxWindowBits == 0 || dp.serverMaxWindowBits > serverBitsOffered) {
		return nil, fmt.Errorf("handshake: offer had server_max_window_bits=%d but response %q does not honour it", serverBitsOffered, resp)
	}
	return dp, nil
}

// Close closes the TCP connection.
func (c *wsConn) Close() error { return c.nc.Close() }

// writeRaw writes b chopped per ch, with a write deadline.
func (c *wsConn) writeRaw(b []byte, ch chop, timeout time.Duration) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(timeout))
	defer c.nc.SetWriteDeadline(time.Time{})
	pieces := ch.pieces(b, c.rng)
	for i, p := range pieces {
		if _, err := c.nc.Write(p); err != nil {
			return err
		}
		if ch.delay > 0 && i < len(pieces)-1 && (len(pieces) <= 400 || i%64 == 0) {
			time.Sleep(ch.delay)
		}
	}
	return nil
}

// compress returns the permessage-deflate payload for msg (RFC 7692 §7.2.1):
// deflate, flush, strip the trailing 00 00 ff ff.
func (c *wsConn) compress(msg []byte) []byte {
	dp := c.deflate
	if dp == nil {
		panic("compress without negotiated permessage-deflate")
	}
	level := flate.BestSpeed
	if dp.clientMaxWindowBits > 0 && dp.clientMaxWindowBits < 15 {
		// Go's compressor always uses a 32 KiB window; Huffman-only output has
		// no back references at all, so it respects any window size.
		level = flate.HuffmanOnly
	}
	if c.fw == nil || dp.clientNoContextTakeover {
		c.fwBuf.Reset()
		c.fw, _ = flate.NewWriter(&c.fwBuf, level)
	}
	c.fwBuf.Reset()
	_, _ = c.fw.Write(msg)
	_ = c.fw.Flush()
	out := bytes.Clone(c.fwBuf.Bytes())
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		panic("flate flush did not end with an empty stored block")
	}
	return out[:len(out)-4]
}

// inflate decompresses one server message (RFC 7692 §7.2.2), honouring
// context takeover, refusing output above limit.
func (c *wsConn) inflate(data []byte, limit int) ([]byte, error) {
	var dict []byte
	if !c.deflate.serverNoContextTakeover {
		dict = c.inflDict
	}
	src := io.MultiReader(bytes.NewReader(data), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff}))
	fr := flate.NewReaderDict(src, dict)
	out, err := io.ReadAll(io.LimitReader(fr, int64(limit)+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("inflate server message: %v", err)
	}
	if len(out) > limit {
		return nil, fmt.Errorf("server message inflates beyond %d bytes", limit)
	}
	if bits := c.deflate.serverMaxWindowBits; bits > 0 && bits < 15 {
		// compress/flate keeps 32 KiB of history; a client that asked for
		// server_max_window_bits=N keeps 2^N bytes (RFC 7692 §7.1.2.1).
		w, _, err := inflateWindow(dict, data, 1<<bits)
		if err != nil {
			return nil, fmt.Errorf("inflate server message with the negotiated %d-byte window (server_max_window_bits=%d): %v", 1<<bits, bits, err)
		}
		if !bytes.Equal(w, out) {
			return nil, fmt.Errorf("window-limited inflate and compress/flate disagree on a server message")
		}
	}
	if !c.deflate.serverNoContextTakeover {
		d := append(c.inflDict, out...)
		if len(d) > 32768 {
			d = bytes.Clone(d[len(d)-32768:])
		}
		c.inflDict = d
	}
	return out, nil
}

// ---------------------------------------------------------------------------
// Frames and messages the server sends.

// serverFrame is one frame read from the server.
type serverFrame struct {
	fin     bool
	rsv     byte
	op      byte
	payload []byte
}

// message is a complete control frame or an assembled data message.
type message struct {
	op         byte
	payload    []byte
	frames     int  // number of frames it arrived in
	compressed bool // RSV1 on the first frame
}

func (m *message) String() string {
	switch m.op {
	case opClose:
		return "close " + describeCloseBody(m.payload)
	}
	s := fmt.Sprintf("%s %dB", opName(m.op), len(m.payload))
	if m.frames > 1 {
		s += fmt.Sprintf(" in %d frames", m.frames)
	}
	if m.compressed {
		s += " (compressed)"
	}
	if len(m.payload) > 0 && len(m.payload) <= 24 {
		s += fmt.Sprintf(" % x", m.payload)
	}
	return s
}

func describeCloseBody(b []byte) string {
	switch {
	case len(b) == 0:
		return "(empty body)"
	case len(b) == 1:
		return fmt.Sprintf("(1-byte body % x)", b)
	}
	return fmt.Sprintf("%d %q", binary.BigEndian.Uint16(b), b[2:])
}

// errProtocol marks a server frame that violates the RFC (as opposed to a
// timeout or closed connection).
type errProtocol struct{ msg string }

func (e *errProtocol) Error() string { return "server protocol violation: " + e.msg }

func protoErr(format string, a ...any) error { return &errProtocol{fmt.Sprintf(format, a...)} }

// maxServerFrame bounds how much a (possibly broken) server may make us allocate.
const maxServerFrame = 64 << 20

// readFrame reads one frame, validating what RFC 6455 requires of a server.
func (c *wsConn) readFrame() (serverFrame, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return serverFrame{}, err
	}
	f := serverFrame{fin: h[0]&0x80 != 0, rsv: (h[0] >> 4) & 7, op: h[0] & 0x0F}
	masked := h[1]&0x80 != 0
	n := uint64(h[1] & 0x7F)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
		if n < 126 {
			return f, protoErr("non-minimal 16-bit length %d (header % x)", n, h)
		}
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(c.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
		if n>>63 != 0 {
			return f, protoErr("64-bit length with MSB set")
		}
		if n <= 0xFFFF {
			return f, protoErr("non-minimal 64-bit length %d", n)
		}
	}
	if masked {
		return f, protoErr("masked %s frame from server", opName(f.op))
	}
	if (f.op > 2 && f.op < 8) || f.op > 10 {
		return f, protoErr("reserved opcode %d from server", f.op)
	}
	if isControl(f.op) {
		if !f.fin {
			return f, protoErr("fragmented %s frame from server", opName(f.op))
		}
		if n > 125 {
			return f, protoErr("%s frame with %d-byte payload from server", opName(f.op), n)
		}
	}
	if n > maxServerFrame {
		return f, protoErr("server frame of %d bytes", n)
	}
	f.payload = make([]byte, n)
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		return f, err
	}
	return f, nil
}

// readMessage returns the next control frame or complete data message.
// Fragmented server messages are reassembled (the number of frames is
// reported) and decompressed when RSV1 is set. limit bounds inflated size.
func (c *wsConn) readMessage(limit int) (*message, error) {
	for {
		f, err := c.readFrame()
		if err != nil {
			return nil, err
		}
		if f.rsv&(rsv2|rsv3) != 0 {
			return nil, protoErr("RSV2/RSV3 set on server %s frame (RSV=%03b)", opName(f.op), f.rsv)
		}
		if f.rsv&rsv1 != 0 {
			switch {
			case c.deflate == nil:
				return nil, protoErr("RSV1 on server %s frame without negotiated extension", opName(f.op))
			case isControl(f.op):
				return nil, protoErr("RSV1 on server %s (control) frame", opName(f.op))
			case f.op == opCont:
				return nil, protoErr("RSV1 on server continuation frame")
			}
		}
		if isControl(f.op) {
			return &message{op: f.op, payload: f.payload, frames: 1}, nil
		}
		if f.op == opCont {
			if c.partial == nil {
				return nil, protoErr("server continuation frame with no message open")
			}
			c.partial.payload = append(c.partial.payload, f.payload...)
			c.partial.frames++
		} else {
			if c.partial != nil {
				return nil, protoErr("server started a new %s message inside an open %s message", opName(f.op), opName(c.partial.op))
			}
			c.partial = &message{op: f.op, payload: f.payload, frames: 1, compressed: f.rsv&rsv1 != 0}
		}
		if !f.fin {
			continue
		}
		m := c.partial
		c.partial = nil
		if m.compressed {
			out, err := c.inflate(m.payload, limit)
			if err != nil {
				return nil, protoErr("%v", err)
			}
			m.payload = out
		}
		if m.op == opText && !utf8.Valid(m.payload) {
			return nil, protoErr("server sent a text message that is not valid UTF-8 (% x…)", head(m.payload))
		}
		return m, nil
	}
}

// isClosedErr reports whether err means the peer closed the TCP connection.
func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// waitTCPClosed reads until the server closes the connection or d passes. It
// returns the bytes the server sent meanwhile (which must be none after a
// close frame) and whether the connection was closed.
func (c *wsConn) waitTCPClosed(d time.Duration) (extra []byte, closed bool, err error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	defer c.nc.SetReadDeadline(time.Time{})
	buf := make([]byte, 4096)
	for {
		n, err := c.br.Read(buf)
		extra = append(extra, buf[:n]...)
		if err != nil {
			if isClosedErr(err) {
				return extra, true, nil
			}
			if isTimeout(err) {
				return extra, false, nil
			}
			return extra, false, err
		}
	}
}

// ---------------------------------------------------------------------------
// Expectations.

// reporter is the part of testing.TB the helpers need; *testing.T satisfies
// it, and so does the conformance runner's per-case recorder.
type reporter interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Timeouts used by the expectations. Generous: they only matter when the
// server misbehaves, and the suite runs under -race on two cores.
const (
	readTimeout      = 5 * time.Second
	largeReadTimeout = 20 * time.Second
	writeTimeout     = 10 * time.Second
	// tcpCloseBound is how long after the close handshake completed the server
	// may take to close the TCP connection: half the slow-close profile's
	// -close-timeout, so that in that profile a server that waits for its
	// close timeout instead of closing at once misses it, while a loaded
	// machine does not.
	tcpCloseBound = echoSlowCloseTimeout / 2
)

// expectConfig tunes what the expectations accept from this connection.
type expectConfig struct {
	strict  bool // duplex-specific: echoes arrive unfragmented
	limit   int  // largest message expected back (for inflation)
	timeout time.Duration
}

// rconn couples a connection with its expectations config.
type rconn struct {
	*wsConn
	cfg expectConfig
}

func (c *rconn) readTimeout() time.Duration {
	if c.cfg.timeout > 0 {
		return c.cfg.timeout
	}
	return readTimeout
}

// next reads the next message with a deadline.
func (c *rconn) next() (*message, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.readTimeout()))
	defer c.nc.SetReadDeadline(time.Time{})
	limit := c.cfg.limit
	if limit == 0 {
		limit = maxServerFrame
	}
	return c.readMessage(limit)
}

func describeReadErr(err error) string {
	switch {
	case isTimeout(err):
		return "nothing (read timed out)"
	case isClosedErr(err):
		return fmt.Sprintf("TCP connection closed without a close frame (%v)", err)
	}
	return err.Error()
}

// send writes frames (concatenated) using chop mode ch. Write errors are
// logged, not fatal: a server allowed to close early may make a write fail,
// and the next expectation decides whether that was wrong.
func (c *rconn) send(r reporter, ch chop, frames ...frame) {
	r.Helper()
	var buf []byte
	var names []string
	for _, f := range frames {
		buf = append(buf, f.encode(c.rng)...)
		names = append(names, f.String())
	}
	r.Logf("→ %s [%s]", strings.Join(names, " | "), ch)
	if err := c.writeRaw(buf, ch, writeTimeout); err != nil {
		r.Logf("  write error: %v", err)
	}
}

// sendBytes writes raw bytes.
func (c *rconn) sendBytes(r reporter, ch chop, b []byte, what string) {
	r.Helper()
	r.Logf("→ %s (%d raw bytes) [%s]", what, len(b), ch)
	if err := c.writeRaw(b, ch, writeTimeout); err != nil {
		r.Logf("  write error: %v", err)
	}
}

func diffPayload(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: %#02x, want %#02x", i, got[i], want[i])
		}
	}
	return "equal"
}

// expectEcho requires the next message to be a data message of opcode op with
// payload want.
func (c *rconn) expectEcho(r reporter, op byte, want []byte) {
	r.Helper()
	m, err := c.next()
	if err != nil {
		r.Fatalf("expected echo (%s %dB), got %s", opName(op), len(want), describeReadErr(err))
	}
	r.Logf("← %s", m)
	if m.op != op {
		r.Fatalf("expected echo (%s %dB), got %s", opName(op), len(want), m)
	}
	if !bytes.Equal(m.payload, want) {
		r.Fatalf("echo payload differs: %s", diffPayload(m.payload, want))
	}
	if c.cfg.strict && m.frames != 1 {
		r.Fatalf("echo arrived in %d frames, want one unfragmented frame", m.frames)
	}
}

// expectPong requires the next message to be a pong with payload want.
func (c *rconn) expectPong(r reporter, want []byte) {
	r.Helper()
	m, err := c.next()
	if err != nil {
		r.Fatalf("expected pong (%dB), got %s", len(want), describeReadErr(err))
	}
	r.Logf("← %s", m)
	if m.op != opPong {
		r.Fatalf("expected pong (%dB), got %s", len(want), m)
	}
	if !bytes.Equal(m.payload, want) {
		r.Fatalf("pong payload differs: %s", diffPayload(m.payload, want))
	}
}

// expectNothing requires the server to send nothing (and keep the connection
// open) for d.
func (c *rconn) expectNothing(r reporter, d time.Duration) {
	r.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	_, err := c.br.Peek(1)
	_ = c.nc.SetReadDeadline(time.Time{})
	if err == nil {
		m, err := c.next()
		if err != nil {
			r.Fatalf("expected nothing for %v, got bytes then %s", d, describeReadErr(err))
		}
		r.Fatalf("expected nothing for %v, got %s", d, m)
	}
	if !isTimeout(err) {
		r.Fatalf("expected nothing for %v, got %s", d, describeReadErr(err))
	}
	r.Logf("← nothing for %v", d)
}

// closeExp describes an expected server close frame.
type closeExp struct {
	codes []uint16 // acceptable codes; empty = an empty close body is expected
	// noReply: do not answer with a close frame; the server must then close
	// TCP on its own within [minWait, maxWait].
	noReply          bool
	minWait, maxWait time.Duration
	// holdOpen: before replying, check the server keeps the TCP connection
	// open (waiting for our close frame) for this long.
	holdOpen time.Duration
}

func (e closeExp) String() string {
	if len(e.codes) == 0 {
		return "close with empty body"
	}
	s := make([]string, len(e.codes))
	for i, c := range e.codes {
		s[i] = strconv.Itoa(int(c))
	}
	return "close " + strings.Join(s, " or ")
}

// expectClose requires the next frame to be a close frame matching e, with a
// well-formed body; it then completes the closing handshake (unless noReply)
// and requires the server to close TCP without sending anything else.
func (c *rconn) expectClose(r reporter, e closeExp) {
	r.Helper()
	m, err := c.next()
	if err != nil {
		r.Fatalf("expected %s, got %s", e, describeReadErr(err))
	}
	r.Logf("← %s", m)
	c.finishClose(r, e, m)
}

// expectOptionalEchoThenClose accepts the echo of (op, want) or nothing
// before a close matching e (for a message pipelined with a close frame:
// whether it is echoed before the close reply is up to the application).
func (c *rconn) expectOptionalEchoThenClose(r reporter, op byte, want []byte, e closeExp) {
	r.Helper()
	m, err := c.next()
	if err != nil {
		r.Fatalf("expected echo or %s, got %s", e, describeReadErr(err))
	}
	r.Logf("← %s", m)
	if m.op == op {
		if !bytes.Equal(m.payload, want) {
			r.Fatalf("echo payload differs: %s", diffPayload(m.payload, want))
		}
		c.expectClose(r, e)
		return
	}
	c.finishClose(r, e, m)
}

// finishClose checks the close frame m against e and completes the closing
// handshake.
func (c *rconn) finishClose(r reporter, e closeExp, m *message) {
	r.Helper()
	if m.op != opClose {
		r.Fatalf("expected %s, got %s", e, m)
	}
	got := closeBodyCode(m.payload)
	switch {
	case len(m.payload) == 1:
		r.Fatalf("expected %s, got a close frame with a 1-byte body", e)
	case len(e.codes) == 0 && len(m.payload) != 0:
		r.Fatalf("expected %s, got close %s", e, describeCloseBody(m.payload))
	case len(e.codes) > 0 && len(m.payload) == 0:
		r.Fatalf("expected %s, got a close frame with an empty body", e)
	case len(e.codes) > 0 && !containsCode(e.codes, got):
		r.Fatalf("expected %s, got close %s", e, describeCloseBody(m.payload))
	case len(m.payload) > 2 && !utf8.Valid(m.payload[2:]):
		r.Fatalf("close reason is not valid UTF-8: % x", m.payload[2:])
	}
	start := time.Now()
	if e.holdOpen > 0 {
		extra, closed, err := c.waitTCPClosed(e.holdOpen)
		switch {
		case len(extra) > 0:
			r.Fatalf("server sent %d bytes after its close frame: % x", len(extra), head(extra))
		case closed:
			r.Fatalf("server closed TCP %v after its close frame instead of waiting for the client's close frame", time.Since(start).Round(time.Millisecond))
		case err != nil:
			r.Fatalf("reading after close: %v", err)
		}
	}
	if !e.noReply {
		var body []byte
		if len(m.payload) >= 2 {
			body = m.payload[:2]
		}
		f := closeFrameRaw(body)
		r.Logf("→ %s (closing handshake reply)", f)
		if err := c.writeRaw(f.encode(c.rng), chopWhole, writeTimeout); err != nil {
			r.Logf("  write error: %v", err)
		}
	}
	bound := tcpCloseBound
	if e.maxWait > 0 {
		bound = e.maxWait
	}
	extra, closed, err := c.waitTCPClosed(bound)
	took := time.Since(start)
	switch {
	case len(extra) > 0:
		r.Fatalf("server sent %d bytes after its close frame: % x", len(extra), head(extra))
	case err != nil:
		r.Fatalf("reading after close: %v", err)
	case !closed:
		r.Fatalf("server did not close the TCP connection within %v after the closing handshake", bound)
	case took < e.minWait:
		r.Fatalf("server closed TCP after %v, before the close timeout (want >= %v)", took.Round(time.Millisecond), e.minWait)
	}
	r.Logf("← TCP closed by server after %v", took.Round(time.Millisecond))
}

func head(b []byte) []byte {
	if len(b) > 32 {
		return b[:32]
	}
	return b
}

func closeBodyCode(b []byte) uint16 {
	if len(b) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func containsCode(codes []uint16, c uint16) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}

// expectEchoOrClose accepts either the echo of (op, want) or a close with code
// (for behaviours the RFC leaves to the receiver).
func (c *rconn) expectEchoOrClose(r reporter, op byte, want []byte, code uint16) {
	r.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(c.readTimeout()))
	b, err := c.br.Peek(1)
	_ = c.nc.SetReadDeadline(time.Time{})
	if err == nil && b[0]&0x0F == opClose {
		c.expectClose(r, closeExp{codes: []uint16{code}})
		return
	}
	c.expectEcho(r, op, want)
}
