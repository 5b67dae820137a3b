package transport

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gobwas/httphead"
)

// Request is the upgrade request as Options.Accept and the hooks see it,
// on both the listener path (parsed by the transport, no net/http; see
// Options.FullRequest) and the ServeHTTP path.
type Request struct {
	Method     string
	RequestURI string   // as sent, e.g. "/ws?room=1"
	URL        *url.URL // parsed RequestURI; nil when it did not parse
	Proto      string   // "HTTP/1.1"
	Host       string
	Header     http.Header // canonical keys
	RemoteAddr net.Addr
	// HTTP is the net/http request on the ServeHTTP path, nil on the
	// listener path.
	HTTP *http.Request
}

// Query returns the parsed query of the request URI.
func (r *Request) Query() url.Values {
	if r.URL == nil {
		return url.Values{}
	}
	return r.URL.Query()
}

// Cookie returns the named cookie of the request, or http.ErrNoCookie.
func (r *Request) Cookie(name string) (*http.Cookie, error) {
	return (&http.Request{Header: r.Header}).Cookie(name)
}

// handshakeResult is what a valid upgrade request negotiated.
type handshakeResult struct {
	accept      [28]byte // Sec-WebSocket-Accept: base64 of a SHA-1 sum
	subprotocol string
	proto       uint16 // 1 + subprotocol's index in Options.Subprotocols; 0 for none
	deflate     bool
	winBits     uint8  // server_max_window_bits when below 15, 0 otherwise (negotiateDeflate)
	extHeader   string // Sec-WebSocket-Extensions value, when deflate
}

// websocketGUID is the RFC 6455 §1.3 constant.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// isKey reports whether key is the base64 of 16 bytes (RFC 6455 §4.1):
// 24 bytes, "==" padded.
func isKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var raw [18]byte
	n, err := base64.StdEncoding.Decode(raw[:], []byte(key))
	return err == nil && n == 16
}

// acceptKey computes Sec-WebSocket-Accept (RFC 6455 §4.2.2) without
// allocating, for a key checked to be 24 bytes (base64 of 16).
func acceptKey(key string) (accept [28]byte) {
	var b [24 + len(websocketGUID)]byte
	n := copy(b[:], key)
	n += copy(b[n:], websocketGUID)
	sum := sha1.Sum(b[:n])
	base64.StdEncoding.Encode(accept[:], sum[:])
	return accept
}

// refuse refuses a request that is not a valid upgrade (ErrBadHandshake);
// because gives another cause.
func refuse(status int, format string, args ...any) *HTTPError {
	return &HTTPError{Status: status, Reason: fmt.Sprintf(format, args...), cause: ErrBadHandshake}
}

// because sets the refusal's cause, what errors.Is sees through it.
func (e *HTTPError) because(cause error) *HTTPError {
	e.cause = cause
	return e
}

// upgradeRequired answers a request that is not an upgrade, or that asks
// for another WebSocket version (RFC 6455 §4.2.2, §4.4).
func upgradeRequired(reason string) *HTTPError {
	return &HTTPError{Status: http.StatusUpgradeRequired, Reason: reason, cause: ErrBadHandshake, Header: http.Header{
		"Upgrade":               {"websocket"},
		"Connection":            {"Upgrade"},
		"Sec-Websocket-Version": {"13"},
	}}
}

// hasToken reports whether the comma-separated header values contain token
// (case-insensitive), as httphead scans them.
func hasToken(values []string, token string) bool {
	if len(values) == 1 && strings.EqualFold(strings.TrimSpace(values[0]), token) {
		return true // the common case, without scanning
	}
	found := false
	for _, v := range values {
		httphead.ScanTokens([]byte(v), func(t []byte) bool {
			if strings.EqualFold(string(t), token) {
				found = true
				return false
			}
			return true
		})
	}
	return found
}

// isUpgrade reports whether r asks for a WebSocket upgrade at all.
func isUpgrade(h http.Header) bool { return hasToken(h["Upgrade"], "websocket") }

// checkHandshake validates an upgrade request (RFC 6455 §4.2.1) and
// negotiates subprotocol and extensions (§4.2.2, RFC 7692). It does not
// run Accept.
func (s *Server) checkHandshake(r *Request) (handshakeResult, *HTTPError) {
	var res handshakeResult
	if r.Method != http.MethodGet {
		e := refuse(http.StatusMethodNotAllowed, "method %s: a WebSocket upgrade must be GET", r.Method)
		e.Header = http.Header{"Allow": {"GET"}}
		return res, e
	}
	if r.Proto != "HTTP/1.1" {
		if major, minor, ok := http.ParseHTTPVersion(r.Proto); !ok || major != 1 || minor < 1 {
			return res, refuse(http.StatusHTTPVersionNotSupported, "%s: a WebSocket upgrade needs HTTP/1.1", r.Proto)
		}
	}
	h := r.Header
	if !isUpgrade(h) {
		if len(h["Upgrade"]) == 0 {
			return res, upgradeRequired("this URL serves WebSocket connections only")
		}
		return res, refuse(http.StatusBadRequest, "Upgrade header %q does not name websocket", h.Get("Upgrade"))
	}
	if !hasToken(h["Connection"], "upgrade") {
		return res, refuse(http.StatusBadRequest, "Connection header %q lacks the upgrade token", h.Get("Connection"))
	}
	if r.Host == "" {
		return res, refuse(http.StatusBadRequest, "missing Host header")
	}
	if v := h["Sec-Websocket-Version"]; len(v) != 1 || strings.TrimSpace(v[0]) != "13" {
		return res, upgradeRequired(fmt.Sprintf("unsupported Sec-WebSocket-Version %q: this server speaks 13", strings.Join(v, ",")))
	}
	keys := h["Sec-Websocket-Key"]
	if len(keys) != 1 {
		return res, refuse(http.StatusBadRequest, "need exactly one Sec-WebSocket-Key header, got %d", len(keys))
	}
	key := strings.TrimSpace(keys[0])
	if !isKey(key) {
		return res, refuse(http.StatusBadRequest, "Sec-WebSocket-Key %q is not the base64 of 16 bytes", key)
	}
	if !s.originAllowed(r) {
		return res, refuse(http.StatusForbidden, "origin %q not allowed", h.Get("Origin")).because(ErrOriginNotAllowed)
	}
	res.accept = acceptKey(key)

	offered, ok := parseList(h["Sec-Websocket-Protocol"])
	if !ok {
		return res, refuse(http.StatusBadRequest, "malformed Sec-WebSocket-Protocol header")
	}
	res.subprotocol, res.proto = s.chooseSubprotocol(offered)
	if res.subprotocol == "" && s.cfg.RequireSubprotocol {
		return res, refuse(http.StatusBadRequest, "none of the offered subprotocols %q is spoken here (want one of %q)", offered, s.cfg.Subprotocols)
	}

	if s.cfg.Compression != nil {
		res.extHeader, res.winBits, res.deflate = negotiateDeflate(h["Sec-Websocket-Extensions"])
	}
	return res, nil
}

// parseList splits comma-separated token lists (Sec-WebSocket-Protocol).
func parseList(values []string) ([]string, bool) {
	var out []string
	ok := true
	for _, v := range values {
		ok = ok && httphead.ScanTokens([]byte(v), func(t []byte) bool {
			out = append(out, string(t))
			return true
		})
	}
	return out, ok
}

// maxSubprotocols bounds Options.Subprotocols, so that a connection can
// name its subprotocol by index in two bytes.
const maxSubprotocols = 1<<16 - 2

// chooseSubprotocol returns the first server subprotocol the client
// offered and 1 + its index in Options.Subprotocols; "" and 0 when none.
func (s *Server) chooseSubprotocol(offered []string) (string, uint16) {
	for i, p := range s.cfg.Subprotocols {
		for _, o := range offered {
			if o == p {
				return p, uint16(i + 1)
			}
		}
	}
	return "", 0
}

// originAllowed implements the default same-origin policy: no Origin (not
// a browser) is allowed; otherwise the Origin's host must equal the Host
// header, or the origin must be in AllowedOrigins.
func (s *Server) originAllowed(r *Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	for _, a := range s.cfg.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// appendUpgradeResponse writes the 101 response (RFC 6455 §4.2.2).
func appendUpgradeResponse(b []byte, res handshakeResult) []byte {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, res.accept[:]...)
	b = append(b, "\r\n"...)
	if res.subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, res.subprotocol...)
		b = append(b, "\r\n"...)
	}
	if res.deflate {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, res.extHeader...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...)
}

// appendErrorResponse writes a refusal with a plain-text reason.
func appendErrorResponse(b []byte, e *HTTPError) []byte {
	body := e.Reason + "\n"
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(e.Status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(e.Status)...)
	b = append(b, "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n"...)
	for k, vs := range e.Header {
		for _, v := range vs {
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}
