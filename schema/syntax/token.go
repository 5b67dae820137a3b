package syntax

import (
	"fmt"
	"sort"
	"strings"
)

// Pos is a position in a source file. Line and Col are 1-based; Col counts
// bytes. The zero Pos is "no position".
type Pos struct {
	File      string
	Line, Col int
}

// IsValid reports whether p is a real position.
func (p Pos) IsValid() bool { return p.Line > 0 }

// String formats p as file:line:col.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Before reports whether p comes before q in the same file.
func (p Pos) Before(q Pos) bool {
	return p.Line < q.Line || p.Line == q.Line && p.Col < q.Col
}

// Token is the kind of a lexical token.
//
// Keywords (package message enum error guard command event errors rejects)
// are not token kinds: they are identifiers that the parser reads as
// keywords where a declaration or a clause starts, so that `message:
// string` is an ordinary field.
type Token int

// The token kinds.
const (
	EOF     Token = iota
	ILLEGAL       // a character that starts no token, or a broken string
	NEWLINE       // "\n": separates declarations, fields, enum values and parameters
	COMMENT       // "//" to the end of the line
	IDENT         // [A-Za-z][A-Za-z0-9_]*
	STRING        // "..." with \" \\ \n \t \uXXXX escapes

	LBRACE   // {
	RBRACE   // }
	LPAREN   // (
	RPAREN   // )
	LBRACK   // [
	RBRACK   // ]
	LANGLE   // <
	RANGLE   // >
	COMMA    // ,
	COLON    // :
	QUESTION // ?
	AT       // @
	ARROW    // ->
)

var tokenStrings = [...]string{
	EOF:      "end of file",
	ILLEGAL:  "illegal token",
	NEWLINE:  "newline",
	COMMENT:  "comment",
	IDENT:    "identifier",
	STRING:   "string literal",
	LBRACE:   "{",
	RBRACE:   "}",
	LPAREN:   "(",
	RPAREN:   ")",
	LBRACK:   "[",
	RBRACK:   "]",
	LANGLE:   "<",
	RANGLE:   ">",
	COMMA:    ",",
	COLON:    ":",
	QUESTION: "?",
	AT:       "@",
	ARROW:    "->",
}

// String returns the token's text for punctuation and a description for
// the other kinds.
func (t Token) String() string {
	if t >= 0 && int(t) < len(tokenStrings) {
		return tokenStrings[t]
	}
	return fmt.Sprintf("Token(%d)", int(t))
}

// declKeywords are the keywords that start a declaration; "errors" and
// "rejects" are keywords only inside a command and a guard.
var declKeywords = map[string]bool{
	"package": true, "message": true, "enum": true, "error": true,
	"guard": true, "command": true, "event": true,
}

// Error is one syntax error.
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is the syntax errors of one file, sorted by position. Its Error
// method prints one "file:line:col: message" per line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

func (l ErrorList) sort() {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pos.Before(l[j].Pos) })
}
