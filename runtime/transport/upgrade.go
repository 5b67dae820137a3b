package transport

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/httphead"
)

// maxRequestHeader bounds the upgrade request's head (request line and
// headers) on the listener path; a longer one gets 431.
const maxRequestHeader = 16 << 10

// requestReaders hold a whole request head, so that only a head over
// maxRequestHeader, not a long line (a big Cookie), is refused.
var requestReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, maxRequestHeader) }}

// ErrServerClosed is returned by Serve after Shutdown or Restart, and is
// the cause (HTTPError.Unwrap) of the 503 refusal of an upgrade that
// comes meanwhile.
var ErrServerClosed = errors.New("transport: server closed")

// Serve accepts connections on ln and upgrades them without net/http: the
// request head is read into a pooled buffer and parsed in place (httphead),
// nothing of it is kept after the upgrade but what Accept kept (see
// Options.FullRequest). Each handshake must complete within HandshakeTimeout, so that
// half-sent requests cannot pile up. Serve returns ErrServerClosed after
// Shutdown, or the listener's error. It may be called for several
// listeners at once.
func (s *Server) Serve(ln net.Listener) error {
	if !s.trackListener(ln, true) {
		return ErrServerClosed
	}
	defer s.trackListener(ln, false)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closing.Load() {
				return ErrServerClosed
			}
			if retryableAccept(err) {
				// Out of file descriptors or a transient error: back off
				// instead of spinning, as net/http does.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.reportError(nil, fmt.Errorf("accept: %w (retrying in %v)", err, delay))
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		s.pool.submit(task{hs: nc})
	}
}

// handshakeListener performs the upgrade on a freshly accepted connection.
func (s *Server) handshakeListener(nc net.Conn) {
	if h := s.cfg.Hooks.OnConnect; h != nil {
		h(nc.RemoteAddr())
	}
	_ = nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	br := requestReaders.Get().(*bufio.Reader)
	br.Reset(nc)
	// Unless Accept asks for a request of its own (FullRequest) or
	// OnHandshakeError may keep it, nobody keeps the request, so it is a
	// pooled one, given back when the upgrade is done.
	var scratch *requestScratch
	if !s.cfg.FullRequest && s.cfg.Hooks.OnHandshakeError == nil {
		scratch = requestScratches.Get().(*requestScratch)
		defer scratch.release()
	}
	r, herr, err := readRequestInto(br, nc.RemoteAddr(), scratch)
	var leftover []byte
	if n := br.Buffered(); n > 0 && err == nil && herr == nil {
		leftover, _ = br.Peek(n)
		leftover = bytes.Clone(leftover)
	}
	br.Reset(nil)
	requestReaders.Put(br)
	if err != nil {
		s.handshakeFailed(r, 0, err)
		_ = nc.Close()
		return
	}
	var (
		res handshakeResult
		h   ConnHandler
	)
	if herr == nil {
		res, h, herr = s.prepare(r)
	}
	if herr != nil {
		_, _ = nc.Write(appendErrorResponse(nil, herr))
		s.handshakeFailed(r, herr.Status, herr)
		lingerClose(nc)
		return
	}
	s.finishUpgrade(nc, r, res, h, leftover)
}

// requestScratch is a Request and the backing array of its header values,
// reused for upgrades whose request no app code sees (readRequest).
type requestScratch struct {
	r      Request
	values []string
}

var requestScratches = sync.Pool{New: func() any {
	return &requestScratch{r: Request{Header: make(http.Header, 16)}, values: make([]string, 0, 16)}
}}

// release empties the request and returns it to its pool.
func (rs *requestScratch) release() {
	h := rs.r.Header
	if len(h) > 32 {
		h = make(http.Header, 16) // a map grown by an odd request is not kept
	} else {
		clear(h)
	}
	rs.r = Request{Header: h}
	clear(rs.values[:cap(rs.values)]) // readRequest filled it up to its length
	rs.values = rs.values[:0]
	requestScratches.Put(rs)
}

// readRequest parses an HTTP/1.1 request head from br. A malformed head
// gives an *HTTPError to answer with; an I/O error (timeout, EOF) gives err.
func readRequest(br *bufio.Reader, remote net.Addr) (*Request, *HTTPError, error) {
	return readRequestInto(br, remote, nil)
}

// readRequestInto is readRequest. With scratch, the request is scratch's
// and nobody keeps it after the upgrade: its URL and RequestURI, which
// only app code reads, are not filled in, and the header values share
// scratch's array.
func readRequestInto(br *bufio.Reader, remote net.Addr, scratch *requestScratch) (*Request, *HTTPError, error) {
	var (
		r *Request
		// One backing array for the values of the first headers: each key
		// gets a one-element slice of it (capacity 1, so that a repeated
		// key appends into a copy).
		values []string
	)
	if scratch != nil {
		r, values = &scratch.r, scratch.values[:0]
		r.RemoteAddr = remote
	} else {
		r = &Request{RemoteAddr: remote, Header: make(http.Header, 8)}
	}
	total := 0
	readLine := func() ([]byte, *HTTPError, error) {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if err == bufio.ErrBufferFull || total > maxRequestHeader {
			return nil, refuse(http.StatusRequestHeaderFieldsTooLarge, "request head larger than %d bytes", maxRequestHeader), nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read upgrade request: %w", err)
		}
		for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
			line = line[:len(line)-1] // bytes.TrimRight(line, "\r\n"), without building a set
		}
		return line, nil, nil
	}
	line, herr, err := readLine()
	if herr != nil || err != nil {
		return r, herr, err
	}
	rl, ok := httphead.ParseRequestLine(line)
	if !ok {
		return r, refuse(http.StatusBadRequest, "malformed request line %q", line), nil
	}
	r.Method = internMethod(rl.Method)
	if rl.Version.Major == 1 && rl.Version.Minor == 1 {
		r.Proto = "HTTP/1.1"
	} else {
		r.Proto = fmt.Sprintf("HTTP/%d.%d", rl.Version.Major, rl.Version.Minor)
	}
	if scratch == nil {
		r.RequestURI = string(rl.URI)
		r.URL, _ = url.ParseRequestURI(r.RequestURI)
	}
	hostSeen := false
	for {
		line, herr, err := readLine()
		if herr != nil || err != nil {
			return r, herr, err
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return r, refuse(http.StatusBadRequest, "obsolete header line folding"), nil
		}
		k, v, ok := httphead.ParseHeaderLine(line)
		if !ok {
			return r, refuse(http.StatusBadRequest, "malformed header line %q", line), nil
		}
		key := internHeaderKey(k)
		if key == "" {
			key = http.CanonicalHeaderKey(string(k))
		}
		if key == "Host" {
			if hostSeen {
				return r, refuse(http.StatusBadRequest, "more than one Host header"), nil
			}
			r.Host, hostSeen = string(v), true
			continue
		}
		val := internHeaderValue(v)
		if old, ok := r.Header[key]; ok {
			r.Header[key] = append(old, val)
			continue
		}
		if len(values) == cap(values) {
			values = make([]string, 0, 12)
		}
		values = append(values, val)
		r.Header[key] = values[len(values)-1 : len(values) : len(values)]
	}
	return r, nil, nil
}

// commonHeaderKeys are the canonical forms of the header names of a
// typical upgrade request, so that parsing them allocates nothing.
var commonHeaderKeys = [...]string{
	"Host", "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
	"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Origin", "User-Agent",
	"Cookie", "Accept-Encoding", "Accept-Language", "Cache-Control", "Pragma",
	"Authorization", "X-Forwarded-For", "X-Forwarded-Proto", "X-Real-Ip",
}

// commonHeaderKeysByLen lists commonHeaderKeys by length.
var commonHeaderKeysByLen = func() (t [32][]string) {
	for _, k := range commonHeaderKeys {
		t[len(k)] = append(t[len(k)], k)
	}
	return t
}()

// internHeaderKey returns the canonical form of k when it is one of
// commonHeaderKeys (compared case-insensitively), "" otherwise.
func internHeaderKey(k []byte) string {
	if len(k) >= len(commonHeaderKeysByLen) {
		return ""
	}
	for _, c := range commonHeaderKeysByLen[len(k)] {
		if bytes.EqualFold(k, []byte(c)) {
			return c
		}
	}
	return ""
}

// commonHeaderValues are values that upgrade requests repeat.
var commonHeaderValues = [...]string{"websocket", "Upgrade", "upgrade", "13", "keep-alive, Upgrade", "Keep-Alive, Upgrade", "no-cache"}

// internHeaderValue returns v as a string, without allocating for
// commonHeaderValues.
func internHeaderValue(v []byte) string {
	for _, c := range commonHeaderValues {
		if string(v) == c {
			return c
		}
	}
	return string(v)
}

// internMethod returns the request method as a string, without
// allocating for GET.
func internMethod(m []byte) string {
	if string(m) == http.MethodGet {
		return http.MethodGet
	}
	return string(m)
}

// ServeHTTP upgrades the request to a WebSocket connection: it is the
// http.Handler path, under any mux and with TLS through http.Server.
// Requests that are not upgrades go to Options.Fallback, or get 426.
// Bound the time to read the request with http.Server.ReadHeaderTimeout
// (Server.HTTPServer sets it to HandshakeTimeout).
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	if h := s.cfg.Hooks.OnConnect; h != nil {
		h(addrOf(hr.RemoteAddr))
	}
	if s.cfg.Fallback != nil && !isUpgrade(hr.Header) {
		s.cfg.Fallback.ServeHTTP(w, hr)
		return
	}
	r := &Request{
		Method:     hr.Method,
		RequestURI: hr.RequestURI,
		URL:        hr.URL,
		Proto:      hr.Proto,
		Host:       hr.Host,
		Header:     hr.Header,
		RemoteAddr: addrOf(hr.RemoteAddr),
		HTTP:       hr,
	}
	res, h, herr := s.prepare(r)
	if herr == nil {
		if _, ok := w.(http.Hijacker); !ok {
			s.release()
			herr = refuse(http.StatusInternalServerError, "the ResponseWriter cannot be hijacked (HTTP/2?)").because(nil)
		}
	}
	if herr != nil {
		for k, vs := range herr.Header {
			w.Header()[k] = vs
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(herr.Status)
		_, _ = w.Write([]byte(herr.Reason + "\n"))
		s.handshakeFailed(r, herr.Status, herr)
		return
	}
	nc, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		s.release()
		s.handshakeFailed(r, 0, fmt.Errorf("hijack: %w", err))
		return
	}
	var leftover []byte
	if n := brw.Reader.Buffered(); n > 0 {
		leftover, _ = brw.Reader.Peek(n)
		leftover = bytes.Clone(leftover)
	}
	_ = nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	s.finishUpgrade(nc, r, res, h, leftover)
}

// DefaultHTTPIdleTimeout is how long Server.HTTPServer keeps an idle
// keep-alive connection (one that fetched a page and went quiet) open.
const DefaultHTTPIdleTimeout = 60 * time.Second

// HTTPServer returns an http.Server serving s at every path of addr, with
// the limits a server facing the internet needs, the same as on the
// listener path (Serve): ReadHeaderTimeout is HandshakeTimeout, so that a
// half-sent request head is closed; MaxHeaderBytes is 16 KiB (a longer
// head gets 431); IdleTimeout is DefaultHTTPIdleTimeout, so that
// keep-alive connections that went quiet after a request (page assets)
// do not hold a descriptor each for ever. None of these apply to a
// connection once it is upgraded: net/http no longer sees it, and the
// health check (PingInterval, PingTimeout) watches it instead. Set Handler
// to a mux to serve more than s; change the fields before serving.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s,
		ReadHeaderTimeout: s.cfg.HandshakeTimeout,
		IdleTimeout:       DefaultHTTPIdleTimeout,
		MaxHeaderBytes:    maxRequestHeader,
	}
}

// prepare runs every check of an upgrade request, reserves a connection
// slot and asks Options.Accept for the connection's handler. On success
// the caller owns the slot (released by finishUpgrade or release).
func (s *Server) prepare(r *Request) (handshakeResult, ConnHandler, *HTTPError) {
	if !s.reserve() {
		if s.closing.Load() {
			return handshakeResult{}, nil, refuse(http.StatusServiceUnavailable, "server shutting down").because(ErrServerClosed)
		}
		return handshakeResult{}, nil, refuse(http.StatusServiceUnavailable, "connection limit of %d reached", s.cfg.MaxConnections).because(ErrConnectionLimit)
	}
	res, herr := s.checkHandshake(r)
	if herr != nil {
		s.release()
		return res, nil, herr
	}
	h, err := s.cfg.Accept(r)
	if err == nil && h == nil {
		s.release()
		return res, nil, refuse(http.StatusInternalServerError, "Options.Accept returned no handler").because(nil)
	}
	if err != nil {
		s.release()
		var he *HTTPError
		if errors.As(err, &he) {
			return res, nil, he
		}
		return res, nil, refuse(http.StatusForbidden, "%v", err).because(err)
	}
	return res, h, nil
}

// finishUpgrade writes the 101 response and opens the connection.
func (s *Server) finishUpgrade(nc net.Conn, r *Request, res handshakeResult, h ConnHandler, leftover []byte) {
	buf := getBuffer(smallBufferSize)
	*buf = appendUpgradeResponse((*buf)[:0], res)
	_, err := nc.Write(*buf)
	putBuffer(buf)
	if err != nil {
		s.release()
		s.handshakeFailed(r, 0, fmt.Errorf("write upgrade response: %w", err))
		_ = nc.Close()
		return
	}
	_ = nc.SetDeadline(time.Time{})
	s.open(nc, h, res, leftover)
}

func (s *Server) handshakeFailed(r *Request, status int, err error) {
	if l := s.cfg.Logger; l != nil {
		l.Debug("websocket handshake refused", "status", status, "err", err)
	}
	if h := s.cfg.Hooks.OnHandshakeError; h != nil {
		h(r, status, err)
	}
}

// addrOf turns net/http's RemoteAddr string into a net.Addr.
func addrOf(s string) net.Addr {
	if ap, err := net.ResolveTCPAddr("tcp", s); err == nil {
		return ap
	}
	return stringAddr(s)
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// retryableAccept reports accept errors that pass: timeouts, and running out
// of file descriptors (EMFILE, ENFILE) until some connections close.
func retryableAccept(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() ||
		errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ECONNABORTED)
}

// lingerClose closes a refused connection without destroying the refusal
// (see linger).
func lingerClose(nc net.Conn) {
	linger(nc, lingerTime)
	_ = nc.Close()
}

// lingerTime and lingerBytes bound linger.
const (
	lingerTime  = time.Second
	lingerBytes = 1 << 20
)

// linger prepares a connection whose last bytes are written (a refusal, a
// close frame) for its close. Closing a socket with unread bytes makes the
// kernel reset the connection, which can discard what was written last
// before the peer reads it. So the write side is shut first (the peer gets
// a FIN after the last bytes), and what the peer still sends is read and
// dropped until it closes, for at most d and lingerBytes. The caller then
// closes nc.
func linger(nc net.Conn, d time.Duration) {
	if tc, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
		_ = nc.SetReadDeadline(time.Now().Add(d))
		_, _ = io.Copy(io.Discard, io.LimitReader(nc, lingerBytes))
	}
}
