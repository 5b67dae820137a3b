package transport

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func closeBodyOf(code uint16, reason string) []byte {
	return append(binary.BigEndian.AppendUint16(nil, code), reason...)
}

func TestParseCloseBody(t *testing.T) {
	tests := []struct {
		name      string
		p         []byte
		code      uint16
		reason    string
		wantFail  uint16
		checkCode bool
	}{
		{"empty body", nil, CloseNoStatus, "", 0, true},
		{"one byte", []byte{0x03}, 0, "", CloseProtocolError, false},
		{"1000 with reason", closeBodyOf(1000, "bye"), 1000, "bye", 0, true},
		{"1001", closeBodyOf(1001, ""), 1001, "", 0, true},
		{"1002", closeBodyOf(1002, ""), 1002, "", 0, true},
		{"1003", closeBodyOf(1003, ""), 1003, "", 0, true},
		{"1004 reserved", closeBodyOf(1004, ""), 1004, "", CloseProtocolError, true},
		{"1005 local only", closeBodyOf(1005, ""), 1005, "", CloseProtocolError, true},
		{"1006 local only", closeBodyOf(1006, ""), 1006, "", CloseProtocolError, true},
		{"1007", closeBodyOf(1007, ""), 1007, "", 0, true},
		{"1008", closeBodyOf(1008, ""), 1008, "", 0, true},
		{"1009", closeBodyOf(1009, ""), 1009, "", 0, true},
		{"1010 from a client", closeBodyOf(1010, ""), 1010, "", 0, true},
		{"1011", closeBodyOf(1011, ""), 1011, "", 0, true},
		{"1012", closeBodyOf(1012, ""), 1012, "", 0, true},
		{"1013", closeBodyOf(1013, ""), 1013, "", 0, true},
		{"1014", closeBodyOf(1014, ""), 1014, "", 0, true},
		{"1015 local only", closeBodyOf(1015, ""), 1015, "", CloseProtocolError, true},
		{"1016 unassigned", closeBodyOf(1016, ""), 1016, "", CloseProtocolError, true},
		{"0", closeBodyOf(0, ""), 0, "", CloseProtocolError, true},
		{"999", closeBodyOf(999, ""), 999, "", CloseProtocolError, true},
		{"2999", closeBodyOf(2999, ""), 2999, "", CloseProtocolError, true},
		{"3000 registered", closeBodyOf(3000, "lib"), 3000, "lib", 0, true},
		{"4000 private", closeBodyOf(4000, "app"), 4000, "app", 0, true},
		{"4999 private", closeBodyOf(4999, ""), 4999, "", 0, true},
		{"5000", closeBodyOf(5000, ""), 5000, "", CloseProtocolError, true},
		{"65535", closeBodyOf(65535, ""), 65535, "", CloseProtocolError, true},
		{"utf-8 reason", closeBodyOf(1000, "ça va ✓"), 1000, "ça va ✓", 0, true},
		{"bad utf-8 reason", closeBodyOf(1000, "bad \xff"), 1000, "", CloseInvalidPayload, true},
		{"truncated rune in reason", closeBodyOf(4000, "\xe2\x82"), 4000, "", CloseInvalidPayload, true},
		{"invalid code and bad utf-8: code wins", closeBodyOf(999, "\xff"), 999, "", CloseProtocolError, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, reason, f := parseCloseBody(tt.p)
			if f != tt.wantFail {
				t.Errorf("fail = %d, want %d", f, tt.wantFail)
			}
			if tt.checkCode && code != tt.code {
				t.Errorf("code = %d, want %d", code, tt.code)
			}
			if reason != tt.reason {
				t.Errorf("reason = %q, want %q", reason, tt.reason)
			}
		})
	}
}

func TestTruncateReason(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"short", "bye", "bye"},
		{"exactly 123", a(123), a(123)},
		{"124 ascii", a(124), a(123)},
		{"long ascii", a(500), a(123)},
		{"2-byte rune straddling 123", a(122) + "é", a(122)},
		{"2-byte rune ending at 123", a(121) + "é" + "x", a(121) + "é"},
		{"3-byte rune straddling 123 (starts at 121)", a(121) + "€", a(121)},
		{"3-byte rune straddling 123 (starts at 122)", a(122) + "€", a(122)},
		{"3-byte rune ending at 123", a(120) + "€" + "x", a(120) + "€"},
		{"4-byte rune straddling 123 (starts at 120)", a(120) + "𝄞", a(120)},
		{"4-byte rune straddling 123 (starts at 122)", a(122) + "𝄞", a(122)},
		{"4-byte rune ending at 123", a(119) + "𝄞" + "x", a(119) + "𝄞"},
		{"all 2-byte runes", strings.Repeat("é", 100), strings.Repeat("é", 61)},
		{"invalid utf-8 replaced", "a\xffb", "a\uFFFDb"},
		{"invalid utf-8 replaced then cut", strings.Repeat("\xff", 100), strings.Repeat("\uFFFD", 41)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := truncateReason(tt.in)
			if got != tt.want {
				t.Errorf("truncateReason = %q (%d bytes), want %q (%d bytes)", got, len(got), tt.want, len(tt.want))
			}
		})
	}
}

// Whatever the input, the reason is valid UTF-8, at most 123 bytes, and a
// prefix of the (repaired) input.
func TestTruncateReasonProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "é", "€", "𝄞", "\xff", "\xe2\x82", " "}
	for range 5000 {
		var b strings.Builder
		for n := r.IntN(80); n > 0; n-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		in := b.String()
		got := truncateReason(in)
		repaired := string([]rune(in)) // each invalid byte becomes U+FFFD
		switch {
		case !utf8.ValidString(got), len(got) > maxCloseReason, !strings.HasPrefix(repaired, got):
			t.Fatalf("truncateReason(%q) = %q", in, got)
		case len(repaired) <= maxCloseReason && got != repaired:
			t.Fatalf("short reason changed: %q -> %q", in, got)
		case len(repaired) > maxCloseReason && len(got) <= maxCloseReason-utf8.UTFMax:
			t.Fatalf("cut too much: %d bytes of %q", len(got), in)
		}
	}
}

func TestSendableCode(t *testing.T) {
	tests := []struct{ in, want uint16 }{
		{1000, 1000}, {1001, 1001}, {1002, 1002}, {1003, 1003},
		{1004, 1011}, {1005, 1011}, {1006, 1011}, {1007, 1007}, {1008, 1008},
		{1009, 1009}, {1010, 1011}, {1011, 1011}, {1012, 1012}, {1013, 1013},
		{1014, 1014}, {1015, 1011}, {1016, 1011}, {0, 1011}, {999, 1011},
		{2999, 1011}, {3000, 3000}, {4000, 4000}, {4999, 4999}, {5000, 1011},
	}
	for _, tt := range tests {
		if got := sendableCode(tt.in); got != tt.want {
			t.Errorf("sendableCode(%d) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestClosePayload(t *testing.T) {
	if p := closePayload(0, "ignored"); p != nil {
		t.Errorf("closePayload(0) = %q, want empty", p)
	}
	if p := closePayload(1000, ""); string(p) != "\x03\xe8" {
		t.Errorf("closePayload(1000, \"\") = %q", p)
	}
	p := closePayload(4000, strings.Repeat("€", 100))
	if len(p) > 125 || !utf8.Valid(p[2:]) {
		t.Errorf("long reason: %d bytes, valid=%v", len(p), utf8.Valid(p[2:]))
	}
	code, _, f := parseCloseBody(p)
	if code != 4000 || f != 0 {
		t.Errorf("round trip: code %d fail %d", code, f)
	}
}

func TestCloseError(t *testing.T) {
	cause := errors.New("read tcp: connection reset")
	tests := []struct {
		e    *CloseError
		want string
	}{
		{&CloseError{Code: 4000, Reason: "x", Initiator: ClosedByServer}, "websocket closed by server: 4000 x"},
		{&CloseError{Code: 1000, Initiator: ClosedByPeer}, "websocket closed by peer: 1000"},
		{&CloseError{Code: 1006, Initiator: ClosedByPeer, Err: cause}, "websocket closed by peer: 1006: read tcp: connection reset"},
		{&CloseError{Code: 1001, Reason: "ping timeout", Initiator: ClosedByServer, Err: errPingTimeout},
			"websocket closed by server: 1001 ping timeout: " + errPingTimeout.Error()},
		{&CloseError{Code: 1005}, "websocket closed by unknown: 1005"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	e := &CloseError{Code: 1006, Err: cause}
	if !errors.Is(e, cause) {
		t.Error("CloseError does not unwrap to its cause")
	}
	var ce *CloseError
	if !errors.As(error(e), &ce) || ce.Code != 1006 {
		t.Error("errors.As failed")
	}
	if (&CloseError{}).Unwrap() != nil {
		t.Error("Unwrap of a CloseError without cause is not nil")
	}
	for i, want := range map[Initiator]string{ClosedByPeer: "peer", ClosedByServer: "server", 0: "unknown", 9: "unknown"} {
		if got := i.String(); got != want {
			t.Errorf("Initiator(%d).String() = %q, want %q", i, got, want)
		}
	}
}
