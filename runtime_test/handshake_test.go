package runtimetest

// Opening-handshake behaviour of the duplex echo over raw TCP (RFC 6455 §4):
// status codes for malformed upgrade requests, origin checks, subprotocol and
// extension negotiation, and the connection limit. Both server modes are
// tested. Slow and stalled handshakes are in the fault matrix
// (faults_test.go).

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// hreq is an HTTP request under construction, header order preserved.
type hreq struct {
	requestLine string
	headers     [][2]string
}

// upgradeReq returns a valid upgrade request for addr.
func upgradeReq(addr string) hreq {
	return hreq{
		requestLine: "GET / HTTP/1.1",
		headers: [][2]string{
			{"Host", addr},
			{"Upgrade", "websocket"},
			{"Connection", "Upgrade"},
			{"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
			{"Sec-WebSocket-Version", "13"},
		},
	}
}

// set replaces every header named name (or appends it).
func (r hreq) set(name, value string) hreq {
	out := hreq{requestLine: r.requestLine}
	done := false
	for _, h := range r.headers {
		if strings.EqualFold(h[0], name) {
			if !done {
				out.headers = append(out.headers, [2]string{name, value})
				done = true
			}
			continue
		}
		out.headers = append(out.headers, h)
	}
	if !done {
		out.headers = append(out.headers, [2]string{name, value})
	}
	return out
}

// add appends a header (allowing duplicates).
func (r hreq) add(name, value string) hreq {
	out := hreq{requestLine: r.requestLine, headers: append([][2]string(nil), r.headers...)}
	out.headers = append(out.headers, [2]string{name, value})
	return out
}

// del removes every header named name.
func (r hreq) del(name string) hreq {
	out := hreq{requestLine: r.requestLine}
	for _, h := range r.headers {
		if !strings.EqualFold(h[0], name) {
			out.headers = append(out.headers, h)
		}
	}
	return out
}

func (r hreq) line(l string) hreq { r.requestLine = l; return r }

func (r hreq) bytes() []byte {
	var b bytes.Buffer
	b.WriteString(r.requestLine + "\r\n")
	for _, h := range r.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", h[0], h[1])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

func (r hreq) header(name string) string {
	for _, h := range r.headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// exchange sends req (chopped per ch) and reads the response head; for
// non-101 responses the body too. The connection is returned open (for 101).
func exchange(addr string, req []byte, ch chop, timeout time.Duration) (*http.Response, []byte, net.Conn, *bufio.Reader, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(timeout))
	wc := &wsConn{nc: nc, rng: newRng()}
	if err := wc.writeRaw(req, ch, timeout); err != nil {
		nc.Close()
		return nil, nil, nil, nil, fmt.Errorf("write request: %w", err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, nil, nil, nil, fmt.Errorf("read response: %w", err)
	}
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 4096))
	}
	_ = nc.SetDeadline(time.Time{})
	return resp, body, nc, br, nil
}

// statusCase is one malformed (or valid) request and the statuses allowed.
type statusCase struct {
	name   string
	req    func(addr string) hreq
	status []int
	check  func(r reporter, resp *http.Response)
}

func handshakeStatusCases() []statusCase {
	key := func(k string) func(string) hreq {
		return func(a string) hreq { return upgradeReq(a).set("Sec-WebSocket-Key", k) }
	}
	mustNotSelect := func(r reporter, resp *http.Response) {
		if v := resp.Header.Values("Sec-WebSocket-Protocol"); len(v) > 0 {
			r.Fatalf("Sec-WebSocket-Protocol %q in response, but the client offered none the server speaks", v)
		}
	}
	noExtensions := func(r reporter, resp *http.Response) {
		if v := resp.Header.Values("Sec-WebSocket-Extensions"); len(v) > 0 {
			r.Fatalf("server without -deflate accepted extensions %q", v)
		}
	}
	wantProto := func(p string) func(reporter, *http.Response) {
		return func(r reporter, resp *http.Response) {
			if v := resp.Header.Values("Sec-WebSocket-Protocol"); len(v) != 1 || v[0] != p {
				r.Fatalf("Sec-WebSocket-Protocol %q, want exactly %q", v, p)
			}
		}
	}
	return []statusCase{
		{name: "valid request → 101 with the RFC sample accept key", req: upgradeReq, status: []int{101},
			check: func(r reporter, resp *http.Response) {
				if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
					r.Fatalf("Sec-WebSocket-Accept %q, want s3pPLMBiTxaQ9kYGzzhZRbK+xOo= (RFC 6455 §1.3)", got)
				}
				if !headerHasToken(resp.Header, "Upgrade", "websocket") || !headerHasToken(resp.Header, "Connection", "upgrade") {
					r.Fatalf("101 without Upgrade/Connection headers: %v", resp.Header)
				}
			}},
		{name: "header names and tokens are case-insensitive (UPGRADE: WebSocket, connection: keep-alive, Upgrade) → 101",
			req: func(a string) hreq {
				return upgradeReq(a).del("Upgrade").del("Connection").add("UPGRADE", "WebSocket").add("connection", "keep-alive, Upgrade")
			}, status: []int{101}},
		{name: "POST → 405 or 400", req: func(a string) hreq { return upgradeReq(a).line("POST / HTTP/1.1").set("Content-Length", "0") }, status: []int{405, 400}},
		{name: "PUT → 405 or 400", req: func(a string) hreq { return upgradeReq(a).line("PUT / HTTP/1.1").set("Content-Length", "0") }, status: []int{405, 400}},
		{name: "Upgrade: h2c (incorrect token) → 400", req: func(a string) hreq { return upgradeReq(a).set("Upgrade", "h2c") }, status: []int{400}},
		{name: "Upgrade: websocket2 → 400", req: func(a string) hreq { return upgradeReq(a).set("Upgrade", "websocket2") }, status: []int{400}},
		{name: "Upgrade header missing (WebSocket headers present) → 400 or 426", req: func(a string) hreq { return upgradeReq(a).del("Upgrade") }, status: []int{400, 426}},
		{name: "Connection header missing → 400", req: func(a string) hreq { return upgradeReq(a).del("Connection") }, status: []int{400}},
		{name: "Connection: keep-alive (no upgrade token) → 400", req: func(a string) hreq { return upgradeReq(a).set("Connection", "keep-alive") }, status: []int{400}},
		{name: "Connection: upgraded (token is not 'upgrade') → 400", req: func(a string) hreq { return upgradeReq(a).set("Connection", "upgraded") }, status: []int{400}},
		{name: "Sec-WebSocket-Key missing → 400", req: func(a string) hreq { return upgradeReq(a).del("Sec-WebSocket-Key") }, status: []int{400}},
		{name: "Sec-WebSocket-Key empty → 400", req: key(""), status: []int{400}},
		{name: "Sec-WebSocket-Key 22 chars, no padding → 400", req: key("dGhlIHNhbXBsZSBub25jZQ"), status: []int{400}},
		{name: "Sec-WebSocket-Key 24 chars but invalid base64 → 400", req: key("!!!!!!!!!!!!!!!!!!!!!!=="), status: []int{400}},
		{name: "Sec-WebSocket-Key decodes to 15 bytes → 400", req: key("AAECAwQFBgcICQoLDA0O"), status: []int{400}},
		{name: "Sec-WebSocket-Key 24 chars decoding to 17 bytes → 400", req: key("AAECAwQFBgcICQoLDA0ODxA="), status: []int{400}},
		{name: "two Sec-WebSocket-Key headers → 400", req: func(a string) hreq {
			return upgradeReq(a).add("Sec-WebSocket-Key", "AAECAwQFBgcICQoLDA0ODw==")
		}, status: []int{400}},
		{name: "Sec-WebSocket-Version 8 → 426 with Sec-WebSocket-Version: 13",
			req: func(a string) hreq { return upgradeReq(a).set("Sec-WebSocket-Version", "8") }, status: []int{426}, check: wantVersion13},
		{name: "Sec-WebSocket-Version 14 → 426 with Sec-WebSocket-Version: 13",
			req: func(a string) hreq { return upgradeReq(a).set("Sec-WebSocket-Version", "14") }, status: []int{426}, check: wantVersion13},
		{name: "Sec-WebSocket-Version missing → 426 (with version 13 advertised) or 400",
			req: func(a string) hreq { return upgradeReq(a).del("Sec-WebSocket-Version") }, status: []int{426, 400},
			check: func(r reporter, resp *http.Response) {
				if resp.StatusCode == 426 {
					wantVersion13(r, resp)
				}
			}},
		{name: "plain HTTP GET (not an upgrade) → 426", req: func(a string) hreq {
			return hreq{requestLine: "GET / HTTP/1.1", headers: [][2]string{{"Host", a}, {"Accept", "text/html"}}}
		}, status: []int{426}},
		{name: "cross-origin Origin (http://evil.example) → 403", req: func(a string) hreq { return upgradeReq(a).set("Origin", "http://evil.example") }, status: []int{403}},
		{name: "Origin on the same host but another port → 403", req: func(a string) hreq {
			h, _, _ := net.SplitHostPort(a)
			return upgradeReq(a).set("Origin", "http://"+h+":1")
		}, status: []int{403}},
		{name: "Origin: null → 403", req: func(a string) hreq { return upgradeReq(a).set("Origin", "null") }, status: []int{403}},
		{name: "same-origin Origin (http://<Host>) → 101", req: func(a string) hreq { return upgradeReq(a).set("Origin", "http://"+a) }, status: []int{101}},
		{name: "no Origin header → 101", req: func(a string) hreq { return upgradeReq(a).del("Origin") }, status: []int{101}},
		{name: "Origin allowed by -origins (http://allowed.example) → 101", req: func(a string) hreq { return upgradeReq(a).set("Origin", "http://allowed.example") }, status: []int{101}},
		{name: "Origin allowed by -origins, different case (HTTP://ALLOWED.EXAMPLE) → 101", req: func(a string) hreq { return upgradeReq(a).set("Origin", "HTTP://ALLOWED.EXAMPLE") }, status: []int{101}},
		{name: "Origin not in -origins (http://allowed.example.evil) → 403", req: func(a string) hreq { return upgradeReq(a).set("Origin", "http://allowed.example.evil") }, status: []int{403}},
		{name: "subprotocol duplex.v1+json offered → selected", req: func(a string) hreq {
			return upgradeReq(a).set("Sec-WebSocket-Protocol", "duplex.v1+json")
		}, status: []int{101}, check: wantProto("duplex.v1+json")},
		{name: "subprotocols foo, duplex.v1+cbor offered → duplex.v1+cbor selected", req: func(a string) hreq {
			return upgradeReq(a).set("Sec-WebSocket-Protocol", "foo, duplex.v1+cbor")
		}, status: []int{101}, check: wantProto("duplex.v1+cbor")},
		{name: "subprotocols in two headers (foo; duplex.v1+json) → duplex.v1+json selected", req: func(a string) hreq {
			return upgradeReq(a).add("Sec-WebSocket-Protocol", "foo").add("Sec-WebSocket-Protocol", "duplex.v1+json")
		}, status: []int{101}, check: wantProto("duplex.v1+json")},
		{name: "only foo offered → no Sec-WebSocket-Protocol in the response", req: func(a string) hreq {
			return upgradeReq(a).set("Sec-WebSocket-Protocol", "foo")
		}, status: []int{101}, check: mustNotSelect},
		{name: "differently-cased DUPLEX.V1+JSON offered → not selected (subprotocols are case-sensitive)", req: func(a string) hreq {
			return upgradeReq(a).set("Sec-WebSocket-Protocol", "DUPLEX.V1+JSON")
		}, status: []int{101}, check: mustNotSelect},
		{name: "no subprotocol offered → none selected", req: upgradeReq, status: []int{101}, check: mustNotSelect},
		{name: "permessage-deflate offered to a server without -deflate → not accepted", req: func(a string) hreq {
			return upgradeReq(a).set("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")
		}, status: []int{101}, check: noExtensions},
		{name: "unknown extension x-foo offered → not accepted", req: func(a string) hreq {
			return upgradeReq(a).set("Sec-WebSocket-Extensions", "x-foo; bar=1, x-webkit-deflate-frame")
		}, status: []int{101}, check: noExtensions},
	}
}

func wantVersion13(r reporter, resp *http.Response) {
	if v := resp.Header.Values("Sec-WebSocket-Version"); len(v) == 0 || !headerHasToken(resp.Header, "Sec-WebSocket-Version", "13") {
		r.Fatalf("426 without Sec-WebSocket-Version: 13 (got %q)", v)
	}
}

// handshakeFlags configures the echo for the handshake tests.
func handshakeFlags(mode string) []string {
	return []string{"-mode", mode, "-close-timeout", "1s",
		"-subprotocols", "duplex.v1+json,duplex.v1+cbor", "-origins", "http://allowed.example"}
}

func TestHandshake(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"listener", "http"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			srv := startEcho(t, handshakeFlags(mode)...)
			limited := startEcho(t, "-mode", mode, "-max-conns", "2", "-close-timeout", "1s")
			var scs []scenario
			for _, sc := range handshakeStatusCases() {
				scs = append(scs, scenario{"status/" + sc.name, func(r reporter) {
					req := sc.req(srv.Addr)
					r.Logf("→ %q", req.bytes())
					resp, body, nc, _, err := exchange(srv.Addr, req.bytes(), chopWhole, 5*time.Second)
					if err != nil {
						r.Fatalf("%v", err)
					}
					defer nc.Close()
					r.Logf("← %s %v body %q", resp.Status, resp.Header, body)
					ok := false
					for _, s := range sc.status {
						ok = ok || resp.StatusCode == s
					}
					if !ok {
						r.Fatalf("status %d (%q), want %v", resp.StatusCode, body, sc.status)
					}
					if resp.StatusCode == 101 {
						if got, want := resp.Header.Get("Sec-WebSocket-Accept"), wsAccept(req.header("Sec-WebSocket-Key")); got != want {
							r.Fatalf("Sec-WebSocket-Accept %q, want %q", got, want)
						}
					} else if resp.Header.Get("Sec-WebSocket-Accept") != "" {
						r.Fatalf("refusal %d carries Sec-WebSocket-Accept", resp.StatusCode)
					}
					if sc.check != nil {
						sc.check(r, resp)
					}
				}})
			}
			scs = append(scs,
				scenario{"Sec-WebSocket-Accept correct for 20 random keys", func(r reporter) {
					for i := 0; i < 20; i++ {
						c, err := dialWS(srv.Addr, handshakeOpts{}, 5*time.Second) // dialWS verifies the accept key
						if err != nil {
							r.Fatalf("handshake %d: %v", i, err)
						}
						c.Close()
					}
				}},
				scenario{"over -max-conns → 503, and a freed slot is reusable", func(r reporter) {
					maxConns(r, limited.Addr, 2)
				}},
			)
			runScenarios(t, scs)
		})
	}
}

// maxConns fills the server's connection limit, expects 503 for one more,
// then frees a slot and expects a new connection to succeed.
func maxConns(r reporter, addr string, limit int) {
	var conns []*wsConn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < limit; i++ {
		c, err := dialWS(addr, handshakeOpts{}, 5*time.Second)
		if err != nil {
			r.Fatalf("connection %d of %d refused: %v", i+1, limit, err)
		}
		conns = append(conns, c)
	}
	resp, body, nc, _, err := exchange(addr, upgradeReq(addr).bytes(), chopWhole, 5*time.Second)
	if err != nil {
		r.Fatalf("connection over the limit: %v", err)
	}
	nc.Close()
	r.Logf("← over the limit: %s %q", resp.Status, body)
	if resp.StatusCode != http.StatusServiceUnavailable {
		r.Fatalf("connection over -max-conns %d: status %s, want 503", limit, resp.Status)
	}
	// Free a slot with a proper close handshake, then reconnect.
	first := &rconn{wsConn: conns[0]}
	first.send(r, chopWhole, closeFrame(1000, ""))
	first.expectClose(r, closeExp{codes: []uint16{1000}})
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := dialWS(addr, handshakeOpts{}, 5*time.Second)
		if err == nil {
			conns[0] = c
			rc := &rconn{wsConn: c}
			rc.send(r, chopWhole, textFrame("in a freed slot"))
			rc.expectEcho(r, opText, []byte("in a freed slot"))
			return
		}
		if time.Now().After(deadline) {
			r.Fatalf("slot not reusable 2s after a connection closed: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
