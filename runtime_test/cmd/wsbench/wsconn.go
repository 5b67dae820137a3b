//go:build linux

package main

// The lean WebSocket client every measurement uses, whatever the server:
// a hand-written upgrade request (RFC 6455 §4.1) and response check
// (status 101, Sec-WebSocket-Accept), masked client frames (§5.3) written
// with one write each, and a frame reader on a small bufio.Reader. Being
// the same code against every server, it costs every server the same.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"syscall"
	"time"
)

// Opcodes (RFC 6455 §5.2).
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// subprotocol is duplex wire protocol v1's (docs/protocol.md).
const subprotocol = "duplex.v1+json"

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT (include/uapi/
// linux/in.h): with a source address bound, the port is chosen at
// connect() time from the whole 4-tuple, so that each source address
// brings a full ephemeral range per server port, and TIME_WAIT ports can
// be reused (net.ipv4.tcp_tw_reuse) as they are without a bind.
const ipBindAddressNoPort = 24

// dialers spreads connections over the source addresses 127.0.0.first ..
// 127.0.0.(first+n-1).
type dialers struct {
	d []*net.Dialer
}

func newDialers(first, n int, timeout time.Duration) *dialers {
	if n < 1 {
		n = 1
	}
	ds := &dialers{}
	for i := range n {
		x := 1 + (first+i)%254
		ds.d = append(ds.d, &net.Dialer{
			Timeout:   timeout,
			LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(x))},
			Control: func(_, _ string, c syscall.RawConn) error {
				var serr error
				err := c.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
				})
				if err != nil {
					return err
				}
				return serr
			},
		})
	}
	return ds
}

// pick returns the dialer of connection i.
func (ds *dialers) pick(i int) *net.Dialer { return ds.d[i%len(ds.d)] }

// wsConn is one client connection.
type wsConn struct {
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte
	mask [4]byte
	msg  []byte // payload of the last message read, when it did not fit in br
}

var errNot101 = errors.New("upgrade refused")

// dialWS opens a TCP connection with d and upgrades it. proto, when not
// empty, is offered as the subprotocol (and must be answered). The whole
// exchange is bounded by timeout.
func dialWS(ctx context.Context, d *net.Dialer, addr, proto string, timeout time.Duration, rbuf int) (*wsConn, error) {
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err // net.OpError names "dial tcp ADDR"
	}
	c, err := upgrade(nc, addr, proto, timeout, rbuf)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return c, nil
}

// upgrade sends the upgrade request on nc and checks the response.
func upgrade(nc net.Conn, addr, proto string, timeout time.Duration, rbuf int) (*wsConn, error) {
	_ = nc.SetDeadline(time.Now().Add(timeout))
	var key [16]byte
	_, _ = rand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	req := make([]byte, 0, 256)
	req = append(req, "GET / HTTP/1.1\r\nHost: "...)
	req = append(req, addr...)
	req = append(req, "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "...)
	req = append(req, k...)
	if proto != "" {
		req = append(req, "\r\nSec-WebSocket-Protocol: "...)
		req = append(req, proto...)
	}
	req = append(req, "\r\n\r\n"...)
	if _, err := nc.Write(req); err != nil {
		return nil, fmt.Errorf("write upgrade request: %w", err)
	}
	br := bufio.NewReaderSize(nc, rbuf)
	status, err := br.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("read upgrade response: %w", err)
	}
	if !bytes.HasPrefix(status, []byte("HTTP/1.1 101 ")) {
		return nil, fmt.Errorf("%w: %q", errNot101, bytes.TrimSpace(status))
	}
	var accept, gotProto []byte
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("read upgrade response: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			accept = append([]byte(nil), value...)
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Protocol")):
			gotProto = append([]byte(nil), value...)
		}
	}
	h := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if want := base64.StdEncoding.EncodeToString(h[:]); string(accept) != want {
		return nil, fmt.Errorf("upgrade response: Sec-WebSocket-Accept %q, want %q", accept, want)
	}
	if string(gotProto) != proto {
		return nil, fmt.Errorf("upgrade response: subprotocol %q, want %q", gotProto, proto)
	}
	_ = nc.SetDeadline(time.Time{})
	c := &wsConn{nc: nc, br: br}
	_, _ = rand.Read(c.mask[:])
	return c, nil
}

// appendFrame appends a final, masked client frame.
func appendFrame(dst []byte, op byte, payload []byte, mask [4]byte) []byte {
	dst = append(dst, 0x80|op)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, payload...)
	for i := range payload {
		dst[start+i] ^= mask[i&3]
	}
	return dst
}

// writeFrames writes one frame per payload with a single write.
func (c *wsConn) writeFrames(op byte, payloads ...[]byte) error {
	c.wbuf = c.wbuf[:0]
	for _, p := range payloads {
		c.wbuf = appendFrame(c.wbuf, op, p, c.mask)
	}
	_, err := c.nc.Write(c.wbuf)
	return err
}

// readMessage returns the next data message (opcode and payload), valid
// until the next read. Pings are answered; a close frame ends the
// connection with an error naming its code.
func (c *wsConn) readMessage() (byte, []byte, error) {
	var (
		msgOp byte
		msg   []byte
		frag  bool
	)
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
			return 0, nil, err
		}
		fin, op := hdr[0]&0x80 != 0, hdr[0]&0x0f
		if hdr[1]&0x80 != 0 {
			return 0, nil, errors.New("server sent a masked frame")
		}
		n := uint64(hdr[1] & 0x7f)
		switch n {
		case 126:
			var ext [2]byte
			if _, err := io.ReadFull(c.br, ext[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(ext[:]))
		case 127:
			var ext [8]byte
			if _, err := io.ReadFull(c.br, ext[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(ext[:])
		}
		if n > 64<<20 {
			return 0, nil, fmt.Errorf("frame of %d bytes", n)
		}
		var payload []byte
		if int(n) <= c.br.Size() && !frag && fin && op < opClose {
			// The common case: a whole small message, read in place.
			p, err := c.br.Peek(int(n))
			if err != nil {
				return 0, nil, err
			}
			_, _ = c.br.Discard(int(n))
			return op, p, nil
		}
		if cap(c.msg) < int(n) {
			c.msg = make([]byte, n)
		}
		payload = c.msg[:n]
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return 0, nil, err
		}
		switch op {
		case opPing:
			if err := c.writeFrames(opPong, payload); err != nil {
				return 0, nil, err
			}
			continue
		case opPong:
			continue
		case opClose:
			code := 1005
			if len(payload) >= 2 {
				code = int(binary.BigEndian.Uint16(payload))
			}
			return 0, nil, fmt.Errorf("server closed the connection: %d %q", code, payload[min(2, len(payload)):])
		case opCont:
			if !frag {
				return 0, nil, errors.New("unexpected continuation frame")
			}
		default:
			msgOp, frag = op, true
			msg = msg[:0]
		}
		msg = append(msg, payload...)
		if fin {
			return msgOp, msg, nil
		}
	}
}

// close closes the TCP connection (no close handshake: the load is over).
func (c *wsConn) close() { _ = c.nc.Close() }

// callFrame is the text of a call of the bench schema's echo command (or,
// for raw echo servers, the same bytes as a message to echo). The id has a
// fixed width, so that every frame of a run has the same size.
type callFrame struct {
	buf   []byte
	idPos int
}

const idBase = 1_000_000_000 // ten digits: ids stay the same width for 8.9e9 calls

func newCallFrame(text string) *callFrame {
	f := &callFrame{}
	f.buf = append(f.buf, `{"id":`...)
	f.idPos = len(f.buf)
	f.buf = strconv.AppendInt(f.buf, idBase, 10)
	f.buf = append(f.buf, `,"call":"echo","args":{"text":`...)
	f.buf = strconv.AppendQuote(f.buf, text)
	f.buf = append(f.buf, `}}`...)
	return f
}

// withID returns the frame text with id (idBase+seq), valid until the
// next call.
func (f *callFrame) withID(id int64) []byte {
	strconv.AppendInt(f.buf[:f.idPos], id, 10)
	return f.buf
}

// parseID returns the id of a reply (or echo) that starts with {"id":N.
func parseID(p []byte) (int64, bool) {
	const prefix = `{"id":`
	if !bytes.HasPrefix(p, []byte(prefix)) {
		return 0, false
	}
	var id int64
	i := len(prefix)
	for ; i < len(p) && p[i] >= '0' && p[i] <= '9'; i++ {
		id = id*10 + int64(p[i]-'0')
	}
	return id, i > len(prefix)
}

// payloadText returns n bytes of ASCII text.
func payloadText(n int) string {
	const unit = "the quick brown fox jumps over the lazy dog "
	b := make([]byte, n)
	for i := range b {
		b[i] = unit[i%len(unit)]
	}
	return string(b)
}
