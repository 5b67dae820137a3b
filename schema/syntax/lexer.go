package syntax

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// token is one lexed token. For STRING, val is the decoded value; for
// COMMENT, lit is the comment without trailing white space.
type token struct {
	kind Token
	pos  Pos // first byte
	end  Pos // just past the last byte, on the same line
	lit  string
	val  string
}

// lexer turns a whole file into tokens up front; the parser then looks
// ahead freely. Errors go to report, which keeps one per line.
type lexer struct {
	file   string
	src    []byte
	off    int
	line   int
	col    int
	toks   []token
	report func(Pos, string)
}

func lex(file string, src []byte, report func(Pos, string)) []token {
	lx := &lexer{file: file, src: src, line: 1, col: 1, report: report}
	if len(src) >= 3 && src[0] == 0xEF && src[1] == 0xBB && src[2] == 0xBF {
		lx.off, lx.col = 3, 4 // byte order mark
	}
	lx.run()
	return lx.toks
}

func (lx *lexer) pos() Pos { return Pos{File: lx.file, Line: lx.line, Col: lx.col} }

func (lx *lexer) emit(kind Token, start Pos, lit, val string) {
	lx.toks = append(lx.toks, token{kind: kind, pos: start, end: lx.pos(), lit: lit, val: val})
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool  { return '0' <= c && c <= '9' }

var punct = [256]Token{
	'{': LBRACE, '}': RBRACE, '(': LPAREN, ')': RPAREN, '[': LBRACK, ']': RBRACK,
	'<': LANGLE, '>': RANGLE, ',': COMMA, ':': COLON, '?': QUESTION, '@': AT,
}

func (lx *lexer) run() {
	for lx.off < len(lx.src) {
		c := lx.src[lx.off]
		start := lx.pos()
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			lx.off++
			lx.col++
		case c == '\n':
			lx.off++
			lx.col++
			lx.emit(NEWLINE, start, "\n", "")
			lx.line++
			lx.col = 1
		case c == '/' && lx.peek(1) == '/':
			lx.comment(start)
		case isLetter(c):
			i := lx.off + 1
			for i < len(lx.src) && (isLetter(lx.src[i]) || isDigit(lx.src[i]) || lx.src[i] == '_') {
				i++
			}
			lit := string(lx.src[lx.off:i])
			lx.col += i - lx.off
			lx.off = i
			lx.emit(IDENT, start, lit, "")
		case c == '"':
			lx.string(start)
		case c == '-' && lx.peek(1) == '>':
			lx.off += 2
			lx.col += 2
			lx.emit(ARROW, start, "->", "")
		case punct[c] != 0:
			lx.off++
			lx.col++
			lx.emit(punct[c], start, string(c), "")
		default:
			r, size := utf8.DecodeRune(lx.src[lx.off:])
			switch {
			case r == utf8.RuneError && size <= 1:
				lx.report(start, "invalid UTF-8 encoding")
				size = 1
			case c == '/' && lx.peek(1) == '*':
				lx.report(start, "block comments are not supported; use //")
				// Skip the comment, up to the end of its line.
				size = 2
				for lx.off+size < len(lx.src) && lx.src[lx.off+size] != '\n' {
					size++
					if lx.src[lx.off+size-2] == '*' && lx.src[lx.off+size-1] == '/' && size > 3 {
						break
					}
				}
			case c == '_' || isDigit(c):
				lx.report(start, fmt.Sprintf("invalid character %q: identifiers start with a letter", r))
			default:
				lx.report(start, fmt.Sprintf("invalid character %q", r))
			}
			lx.off += size
			lx.col += size
			lx.emit(ILLEGAL, start, string(lx.src[lx.off-size:lx.off]), "")
		}
	}
	lx.emit(EOF, lx.pos(), "", "")
}

func (lx *lexer) peek(n int) byte {
	if lx.off+n < len(lx.src) {
		return lx.src[lx.off+n]
	}
	return 0
}

func (lx *lexer) comment(start Pos) {
	i := lx.off
	for i < len(lx.src) && lx.src[i] != '\n' {
		i++
	}
	text := lx.src[lx.off:i]
	if !utf8.Valid(text) {
		for j := 0; j < len(text); {
			r, size := utf8.DecodeRune(text[j:])
			if r == utf8.RuneError && size <= 1 {
				lx.report(Pos{File: lx.file, Line: lx.line, Col: lx.col + j}, "invalid UTF-8 encoding")
				break
			}
			j += size
		}
	}
	lx.col += i - lx.off
	lx.off = i
	lx.emit(COMMENT, start, strings.TrimRight(string(text), " \t\r\v\f"), "")
}

// string lexes a string literal. An unterminated literal (a newline or the
// end of the file before the closing quote) is reported at its opening
// quote and becomes an ILLEGAL token.
func (lx *lexer) string(start Pos) {
	var b strings.Builder
	i := lx.off + 1
	ok := true
	for {
		if i >= len(lx.src) || lx.src[i] == '\n' {
			lx.report(start, "unterminated string literal")
			lx.col += i - lx.off
			lx.off = i
			lx.emit(ILLEGAL, start, "", "")
			return
		}
		c := lx.src[i]
		if c == '"' {
			i++
			break
		}
		at := Pos{File: lx.file, Line: lx.line, Col: lx.col + i - lx.off}
		if c == '\\' {
			n, r, msg := escape(lx.src[i:])
			if msg != "" {
				if ok {
					lx.report(at, msg)
				}
				ok = false
			} else {
				b.WriteRune(r)
			}
			i += n
			continue
		}
		r, size := utf8.DecodeRune(lx.src[i:])
		if r == utf8.RuneError && size <= 1 {
			if ok {
				lx.report(at, "invalid UTF-8 encoding")
			}
			ok = false
			i++
			continue
		}
		b.WriteRune(r)
		i += size
	}
	lit := string(lx.src[lx.off:i])
	lx.col += i - lx.off
	lx.off = i
	if !ok {
		lx.emit(ILLEGAL, start, lit, "")
		return
	}
	lx.emit(STRING, start, lit, b.String())
}

// escape decodes the escape sequence at the start of s (s[0] == '\\'). It
// returns how many bytes to skip, the rune, and an error message.
func escape(s []byte) (int, rune, string) {
	if len(s) < 2 || s[1] == '\n' {
		return 1, 0, "" // the literal is unterminated; the caller reports that
	}
	switch s[1] {
	case '"':
		return 2, '"', ""
	case '\\':
		return 2, '\\', ""
	case 'n':
		return 2, '\n', ""
	case 't':
		return 2, '\t', ""
	case 'u':
		var r rune
		for k := 2; k < 6; k++ {
			if k >= len(s) {
				return k, 0, `\u needs four hexadecimal digits`
			}
			var d byte
			switch c := s[k]; {
			case '0' <= c && c <= '9':
				d = c - '0'
			case 'a' <= c && c <= 'f':
				d = c - 'a' + 10
			case 'A' <= c && c <= 'F':
				d = c - 'A' + 10
			default:
				return k, 0, `\u needs four hexadecimal digits`
			}
			r = r<<4 | rune(d)
		}
		if 0xD800 <= r && r < 0xE000 {
			return 6, 0, fmt.Sprintf(`\u%s is a surrogate half, not a character`, s[2:6])
		}
		return 6, r, ""
	}
	r, size := utf8.DecodeRune(s[1:])
	if r == utf8.RuneError && size <= 1 {
		return 2, 0, "invalid UTF-8 encoding"
	}
	return 1 + size, 0, fmt.Sprintf(`unknown escape sequence \%c (use \" \\ \n \t or \uXXXX)`, r)
}

// Quote returns s as a duplex string literal: the inverse of the lexer's
// decoding, used by Print.
func Quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
