package transport

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
)

// wsflateNegotiate is what gobwas/ws's wsflate negotiates for the same
// headers, configured as duplex answers (both no_context_takeover flags)
// and fed the way duplex fed it before negotiateDeflate: each header
// parsed with httphead.ParseOptions (a malformed one skipped), then every
// option offered in turn until one is accepted. It returns the accepted
// parameters.
func wsflateNegotiate(headers []string) (wsflate.Parameters, bool) {
	ext := wsflate.Extension{Parameters: wsflate.Parameters{
		ServerNoContextTakeover: true,
		ClientNoContextTakeover: true,
	}}
	for _, h := range headers {
		opts, ok := httphead.ParseOptions([]byte(h), nil)
		if !ok {
			continue
		}
		for _, opt := range opts {
			accept, err := ext.Negotiate(opt)
			if err == nil && accept.Size() > 0 {
				var p wsflate.Parameters
				if err := p.Parse(accept); err != nil {
					panic(err)
				}
				return p, true
			}
		}
	}
	return wsflate.Parameters{}, false
}

// deflateCase is one Sec-WebSocket-Extensions request and what duplex
// answers. The answer always carries both no_context_takeover flags, so a
// case only names the server_max_window_bits it echoes (0: none).
type deflateCase struct {
	name    string
	headers []string
	ok      bool
	bits    int // server_max_window_bits in the answer, 0 for none
	// differs says why wsflate answers otherwise, when it does; duplex then
	// deliberately departs from it. Empty: both answer the same.
	differs string
}

// Why duplex and wsflate part ways (RFC 7692 sections).
const (
	// wsflate declines every offer whose server_max_window_bits is above
	// its configured value, and answers its configured value, not the
	// offer's: configured at 0 (as duplex used it) it declines every offer
	// with the parameter; configured at 15 it would answer
	// server_max_window_bits=15 to an offer of 9, a larger window than the
	// client allowed (§7.1.2.1: "the same or smaller value"), and add the
	// parameter to answers to offers without it. duplex accepts 8-15 and
	// echoes the offered value (see CompressionOptions for how it keeps
	// within a window below 15).
	whyServerBits = "wsflate declines any server_max_window_bits (§7.1.2.1 lets a server that honours it accept)"
	// wsflate's list walk accepts the first offer it can; when that
	// offer's predecessor carried server_max_window_bits, duplex accepts
	// the predecessor instead (§5: the client's order of preference).
	whyFirst = "wsflate declines the preferred offer's server_max_window_bits and takes a later one"
	// wsflate checks duplicates of client_max_window_bits only among
	// occurrences with a value; §7 declines any repeated parameter.
	whyDupNoValue = "wsflate misses a repeated valueless client_max_window_bits (§7: multiple parameters with the same name)"
	// httphead.IntFromASCII accepts leading zeros; §7.1.2.2's value is a
	// decimal integer "without leading zeroes".
	whyLeadingZero = "wsflate accepts a leading zero (§7.1.2.2: no leading zeroes)"
	// A quoted empty string is a value; the flags have none (§7.1.1.1,
	// §7.1.1.2). wsflate only checks that the value is not empty.
	whyEmptyValue = `wsflate takes ="" for no value (§7.1.1.2: the parameter has no value)`
)

func deflateCases() []deflateCase {
	const pmd = "permessage-deflate"
	var cs []deflateCase
	add := func(name string, ok bool, bits int, differs string, headers ...string) {
		cs = append(cs, deflateCase{name: name, headers: headers, ok: ok, bits: bits, differs: differs})
	}
	add("no header", false, 0, "")
	add("empty header", false, 0, "", "")
	add("plain", true, 0, "", pmd)
	add("server_no_context_takeover", true, 0, "", pmd+"; server_no_context_takeover")
	add("client_no_context_takeover", true, 0, "", pmd+"; client_no_context_takeover")
	add("both no_context_takeover", true, 0, "", pmd+"; server_no_context_takeover; client_no_context_takeover")
	add("client_max_window_bits without value", true, 0, "", pmd+"; client_max_window_bits")
	for n := 8; n <= 15; n++ {
		add(fmt.Sprintf("client_max_window_bits=%d", n), true, 0, "", fmt.Sprintf("%s; client_max_window_bits=%d", pmd, n))
		add(fmt.Sprintf("server_max_window_bits=%d", n), true, n, whyServerBits, fmt.Sprintf("%s; server_max_window_bits=%d", pmd, n))
	}
	add("server_max_window_bits quoted", true, 10, whyServerBits, pmd+`; server_max_window_bits="10"`)
	add("client_max_window_bits quoted", true, 0, "", pmd+`; client_max_window_bits="10"`)
	add("every parameter", true, 12, whyServerBits,
		pmd+"; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=9")

	// The Autobahn testsuite's 13.x offers (case12_x_x.py: autobahn's
	// PerMessageDeflateOffer(requestNoContextTakeover, requestMaxWindowBits)
	// always adds client_no_context_takeover; client_max_window_bits).
	const ab = pmd + "; client_no_context_takeover; client_max_window_bits"
	add("Autobahn 13.1", true, 0, "", ab)
	add("Autobahn 13.2", true, 0, "", ab+"; server_no_context_takeover")
	add("Autobahn 13.3", true, 9, whyServerBits, ab+"; server_max_window_bits=9")
	add("Autobahn 13.4", true, 15, whyServerBits, ab+"; server_max_window_bits=15")
	add("Autobahn 13.5", true, 9, whyServerBits, ab+"; server_no_context_takeover; server_max_window_bits=9")
	add("Autobahn 13.6", true, 15, whyServerBits, ab+"; server_no_context_takeover; server_max_window_bits=15")
	add("Autobahn 13.7", true, 9, whyFirst,
		ab+"; server_no_context_takeover; server_max_window_bits=9, "+ab+"; server_no_context_takeover, "+ab)

	// Invalid offers: declined (§7), whatever follows.
	for _, p := range []string{
		"server_max_window_bits=7", "server_max_window_bits=16", "server_max_window_bits=abc",
		"server_max_window_bits", "server_max_window_bits=0", "server_max_window_bits=-9",
		"client_max_window_bits=7", "client_max_window_bits=16", "client_max_window_bits=abc",
		"server_no_context_takeover=1", "client_no_context_takeover=1",
		"server_no_context_takeover; server_no_context_takeover",
		"client_no_context_takeover; client_no_context_takeover",
		"server_max_window_bits=10; server_max_window_bits=10",
		"server_max_window_bits=10; server_max_window_bits=12",
		"client_max_window_bits=10; client_max_window_bits=10",
		"foo", "foo=1", "Server_No_Context_Takeover",
	} {
		add("invalid: "+p, false, 0, "", pmd+"; "+p)
	}
	add("invalid: server_max_window_bits=010", false, 0, "", pmd+"; server_max_window_bits=010")
	add("invalid: client_max_window_bits=010", false, 0, whyLeadingZero, pmd+"; client_max_window_bits=010")
	add("invalid: client_max_window_bits twice without value", false, 0, whyDupNoValue, pmd+"; client_max_window_bits; client_max_window_bits")
	add("invalid: client_max_window_bits without and with value", false, 0, whyDupNoValue, pmd+"; client_max_window_bits; client_max_window_bits=10")
	add(`invalid: client_no_context_takeover=""`, false, 0, whyEmptyValue, pmd+`; client_no_context_takeover=""`)

	// Other extensions and names.
	add("other extension only", false, 0, "", "x-webkit-deflate-frame")
	add("other extension first", true, 0, "", "x-foo; bar=1, "+pmd+"; client_no_context_takeover")
	add("name is case-sensitive", false, 0, "", "Permessage-Deflate")

	// Lists: the first acceptable offer wins.
	add("first invalid, second valid", true, 0, "", pmd+"; server_max_window_bits=16, "+pmd+"; client_no_context_takeover")
	add("first invalid, second with server_max_window_bits", true, 11, whyServerBits, pmd+"; foo, "+pmd+"; server_max_window_bits=11")
	add("first with server_max_window_bits, second plain", true, 8, whyFirst, pmd+"; server_max_window_bits=8, "+pmd)
	add("first plain, second with server_max_window_bits", true, 0, "", pmd+", "+pmd+"; server_max_window_bits=8")
	add("two invalid", false, 0, "", pmd+"; foo, "+pmd+"; client_max_window_bits=20")

	// Several Sec-WebSocket-Extensions headers are one list (RFC 6455 §9.1).
	add("two headers: first invalid", true, 12, whyServerBits, pmd+"; foo", pmd+"; server_max_window_bits=12")
	add("two headers: first acceptable", true, 10, whyFirst, pmd+"; server_max_window_bits=10", pmd)
	add("two headers: other extension first", true, 0, "", "x-foo", pmd)
	add("two headers: none acceptable", false, 0, "", pmd+"; server_max_window_bits=7", "x-foo")
	add("two headers: a malformed one is ignored", true, 0, "", pmd+"; =", pmd+"; client_max_window_bits")
	return cs
}

// wantAnswer renders what duplex answers for an accepted offer.
func (c deflateCase) wantAnswer() string {
	a := "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
	if c.bits != 0 {
		a += fmt.Sprintf("; server_max_window_bits=%d", c.bits)
	}
	return a
}

func TestNegotiateDeflate(t *testing.T) {
	for _, tc := range deflateCases() {
		t.Run(tc.name, func(t *testing.T) {
			answer, winBits, ok := negotiateDeflate(tc.headers)
			if ok != tc.ok {
				t.Fatalf("%q: accepted %v (%q), want %v", tc.headers, ok, answer, tc.ok)
			}
			var wantBits uint8
			if tc.bits != 0 && tc.bits < 15 {
				wantBits = uint8(tc.bits)
			}
			if ok && (answer != tc.wantAnswer() || winBits != wantBits) {
				t.Errorf("%q: answered %q (window bits %d), want %q (%d)", tc.headers, answer, winBits, tc.wantAnswer(), wantBits)
			}
			if !ok && (answer != "" || winBits != 0) {
				t.Errorf("%q: declined, but answer %q, window bits %d", tc.headers, answer, winBits)
			}

			// The answer must be one wsflate, as a client, reads back to
			// the same parameters.
			if ok {
				opts, parsed := httphead.ParseOptions([]byte(answer), nil)
				var p wsflate.Parameters
				if !parsed || len(opts) != 1 || p.Parse(opts[0]) != nil ||
					!p.ServerNoContextTakeover || !p.ClientNoContextTakeover || int(p.ServerMaxWindowBits) != tc.bits || p.ClientMaxWindowBits != 0 {
					t.Errorf("answer %q reads back as %+v", answer, p)
				}
			}

			// Compare with wsflate.
			ref, refOK := wsflateNegotiate(tc.headers)
			same := refOK == ok && (!ok || ref == wsflate.Parameters{
				ServerNoContextTakeover: true,
				ClientNoContextTakeover: true,
				ServerMaxWindowBits:     wsflate.WindowBits(tc.bits),
			})
			switch {
			case tc.differs == "" && !same:
				t.Errorf("%q: wsflate accepts %v with %+v, duplex %v with %q; if that is deliberate, say why in the case",
					tc.headers, refOK, ref, ok, answer)
			case tc.differs != "" && same:
				t.Errorf("%q: wsflate now answers as duplex does; drop the note %q", tc.headers, tc.differs)
			}
		})
	}
}

// Every answer is one of the precomputed values, so negotiation does not
// build strings; reading an offer allocates only the header's bytes.
func TestNegotiateDeflateAllocs(t *testing.T) {
	headers := []string{"permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=9"}
	if n := testing.AllocsPerRun(100, func() { negotiateDeflate(headers) }); n > 1 {
		t.Errorf("%v allocations per negotiation, want at most 1 ([]byte of the header)", n)
	}
	for _, tc := range deflateCases() {
		if answer, _, ok := negotiateDeflate(tc.headers); ok && !strings.HasPrefix(answer, "permessage-deflate; ") {
			t.Errorf("%q: answer %q", tc.headers, answer)
		}
	}
}

func BenchmarkNegotiateDeflate(b *testing.B) {
	for _, tc := range []struct{ name, offer string }{
		{"browser", "permessage-deflate; client_max_window_bits"},
		{"autobahn-13.3", "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_max_window_bits=9"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := []string{tc.offer}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, ok := negotiateDeflate(h); !ok {
					b.Fatal("declined")
				}
			}
		})
	}
}

// Any header value: no panic, and an answer is one of the fixed ones with
// the window bits it names.
func FuzzNegotiateDeflate(f *testing.F) {
	for _, tc := range deflateCases() {
		for _, h := range tc.headers {
			f.Add(h)
		}
	}
	f.Fuzz(func(t *testing.T, h string) {
		answer, winBits, ok := negotiateDeflate([]string{h})
		if !ok {
			if answer != "" || winBits != 0 {
				t.Fatalf("declined with answer %q, window bits %d", answer, winBits)
			}
			return
		}
		if !strings.Contains(h, "permessage-deflate") {
			t.Fatalf("%q: accepted without an offer", h)
		}
		i := 0
		if winBits != 0 {
			i = int(winBits) - 7
		} else if strings.HasSuffix(answer, "=15") {
			i = 8
		}
		if answer != deflateAnswers[i] || winBits == 15 || (winBits != 0 && winBits < 8) {
			t.Fatalf("%q: answer %q, window bits %d", h, answer, winBits)
		}
	})
}
