package syntax

import (
	"fmt"
	"strings"
	"testing"
)

func TestLex(t *testing.T) {
	tests := []struct {
		src  string
		want string // kind:lit pairs; strings show their decoded value
		errs string
	}{
		{src: "package chat", want: `IDENT:package IDENT:chat EOF`},
		{src: "a: []T?, b: map<string, X>", want: `IDENT:a : [ ] IDENT:T ? , IDENT:b : IDENT:map < IDENT:string , IDENT:X > EOF`},
		{src: "command f() -> (x: T) // c  \n", want: `IDENT:command IDENT:f ( ) -> ( IDENT:x : IDENT:T ) COMMENT:// c NL EOF`},
		{src: "@deprecated(\"a \\\"b\\\" \\\\ \\n\\t\\u00e9\")", want: "@ IDENT:deprecated ( STRING:\"a \\\"b\\\" \\\\ \\n\\té\" ) EOF"},
		{src: "\ufeffpackage x\r\n", want: `IDENT:package IDENT:x NL EOF`},
		{src: "x_1y2 Z9", want: `IDENT:x_1y2 IDENT:Z9 EOF`},
		{src: "a # b", want: `IDENT:a ILLEGAL:# IDENT:b EOF`, errs: `x:1:3: invalid character '#'`},
		{src: "_a", want: `ILLEGAL:_ IDENT:a EOF`, errs: `x:1:1: invalid character '_': identifiers start with a letter`},
		{src: "9", want: `ILLEGAL:9 EOF`, errs: `x:1:1: invalid character '9': identifiers start with a letter`},
		{src: "a - b", want: `IDENT:a ILLEGAL:- IDENT:b EOF`, errs: `x:1:3: invalid character '-'`},
		{src: "/* x */", errs: `x:1:1: block comments are not supported; use //`},
		{src: "\"abc\nx", want: `ILLEGAL: NL IDENT:x EOF`, errs: `x:1:1: unterminated string literal`},
		{src: "\"abc", want: `ILLEGAL: EOF`, errs: `x:1:1: unterminated string literal`},
		{src: `"\q"`, want: `ILLEGAL:"\q" EOF`, errs: `x:1:2: unknown escape sequence \q (use \" \\ \n \t or \uXXXX)`},
		{src: `"\u12"`, errs: `x:1:2: \u needs four hexadecimal digits`},
		{src: `"\ud800"`, errs: `x:1:2: \ud800 is a surrogate half, not a character`},
		{src: "a \xff", want: `IDENT:a ILLEGAL:"\xff" EOF`, errs: `x:1:3: invalid UTF-8 encoding`},
		{src: "// \xff\n", errs: `x:1:4: invalid UTF-8 encoding`},
		{src: "é", errs: `x:1:1: invalid character 'é'`},
	}
	for _, tt := range tests {
		var errs []string
		toks := lex("x", []byte(tt.src), func(p Pos, msg string) { errs = append(errs, p.String()+": "+msg) })
		var got []string
		for _, tk := range toks {
			switch tk.kind {
			case IDENT, COMMENT:
				got = append(got, tk.kind.name()+":"+tk.lit)
			case STRING:
				got = append(got, "STRING:"+fmt.Sprintf("%q", tk.val))
			case ILLEGAL:
				lit := tk.lit
				if lit != "" && !strings.HasPrefix(lit, "\"") && len(lit) == 1 && lit[0] >= 0x80 {
					lit = fmt.Sprintf("%q", lit)
				}
				got = append(got, "ILLEGAL:"+lit)
			case NEWLINE:
				got = append(got, "NL")
			case EOF:
				got = append(got, "EOF")
			default:
				got = append(got, tk.kind.String())
			}
		}
		if tt.want != "" && strings.Join(got, " ") != tt.want {
			t.Errorf("lex(%q) =\n\t%s\nwant\n\t%s", tt.src, strings.Join(got, " "), tt.want)
		}
		if strings.Join(errs, "\n") != tt.errs {
			t.Errorf("lex(%q) errors =\n\t%s\nwant\n\t%s", tt.src, strings.Join(errs, "\n\t"), tt.errs)
		}
	}
}

func (t Token) name() string {
	switch t {
	case IDENT:
		return "IDENT"
	case COMMENT:
		return "COMMENT"
	}
	return t.String()
}

func TestLexPositions(t *testing.T) {
	toks := lex("f.duplex", []byte("package a\n\tmessage  B {\n}"), func(Pos, string) {})
	var got []string
	for _, tk := range toks {
		got = append(got, fmt.Sprintf("%d:%d-%d", tk.pos.Line, tk.pos.Col, tk.end.Col))
	}
	want := "1:1-8 1:9-10 1:10-11 2:2-9 2:11-12 2:13-14 2:14-15 3:1-2 3:2-2"
	if strings.Join(got, " ") != want {
		t.Errorf("positions %s, want %s", strings.Join(got, " "), want)
	}
}

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "plain", `a "b" \ c`, "new\nline\ttab", "\x00\x1f\x7f", "é 世界 \ufffd"} {
		q := Quote(s)
		toks := lex("x", []byte(q), func(p Pos, msg string) { t.Errorf("Quote(%q) = %s: %s", s, q, msg) })
		if toks[0].kind != STRING || toks[0].val != s {
			t.Errorf("Quote(%q) = %s, which reads back as %q", s, q, toks[0].val)
		}
	}
}
