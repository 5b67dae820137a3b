package schema

import "strings"

// initialisms are the words GoName writes in capitals.
var initialisms = map[string]bool{
	"id": true, "url": true, "uuid": true, "http": true, "json": true, "api": true, "ip": true,
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// words splits a name into words: at underscores, where a lowercase letter
// or digit meets an uppercase one ("userId" → user Id), and before the last
// capital of a run followed by a lowercase letter ("HTTPServer" → HTTP
// Server). Digits stay with the word before them.
func words(s string) []string {
	var out []string
	start := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			continue
		}
		if start >= 0 && isUpper(c) {
			prev := s[i-1]
			if isLower(prev) || isDigit(prev) || isUpper(prev) && i+1 < len(s) && isLower(s[i+1]) {
				out = append(out, s[start:i])
				start = i
			}
		}
		if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// GoName returns the exported Go identifier for a schema name: its words
// (see below) each capitalised and joined, with the initialisms id, url,
// uuid, http, json, api and ip written in capitals. "user_id", "userId"
// and "UserID" all become "UserID"; "avatarUrl" becomes "AvatarURL",
// "loggedIn" "LoggedIn", "NameTaken" stays "NameTaken".
//
// Words are split at underscores, where a lowercase letter or a digit
// meets an uppercase letter, and before the last capital of a run of
// capitals followed by a lowercase letter ("HTTPServer" is HTTP, Server).
// The rest of a word keeps its case.
func GoName(name string) string {
	var b strings.Builder
	for _, w := range words(name) {
		if initialisms[strings.ToLower(w)] {
			b.WriteString(strings.ToUpper(w))
			continue
		}
		b.WriteString(strings.ToUpper(w[:1]))
		b.WriteString(w[1:])
	}
	return b.String()
}

// SnakeCase returns name's words (as GoName splits them) in lowercase,
// joined by underscores: "NameTaken" → "name_taken", "HTTPError" →
// "http_error", "userId" → "user_id". It is an error's wire code.
func SnakeCase(name string) string {
	ws := words(name)
	for i, w := range ws {
		ws[i] = strings.ToLower(w)
	}
	return strings.Join(ws, "_")
}

// goReserved are Go's keywords.
var goReserved = setOf(`break case chan const continue default defer else fallthrough for
	func go goto if import interface map package range return select struct switch type var`)

// goPredeclared are Go's predeclared identifiers (types, constants, zero
// value and builtin functions). A package named after one would shadow it
// in every file that imports the package, so package names must not be.
var goPredeclared = setOf(`any bool byte comparable complex64 complex128 error float32 float64
	int int8 int16 int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr true false
	iota nil append cap clear close complex copy delete imag len make max min new panic print
	println real recover`)

// tsReserved are TypeScript's and JavaScript's reserved words and the
// names of TypeScript's basic types.
var tsReserved = setOf(`arguments await break case catch class const continue debugger default
	delete do else enum eval export extends false finally for function if implements import in
	instanceof interface let new null package private protected public return static super switch
	this throw true try typeof var void while with yield any boolean number string symbol never
	unknown object undefined`)

func setOf(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// Reserved reports where name is a reserved word: "Go", "TypeScript", "Go
// and TypeScript", or "" when it is free. Package, field, parameter, enum
// value, guard, command and event names must be free.
func Reserved(name string) string {
	switch g, t := goReserved[name], tsReserved[name]; {
	case g && t:
		return "Go and TypeScript"
	case g:
		return "Go"
	case t:
		return "TypeScript"
	}
	return ""
}

// levenshtein returns the edit distance between a and b (bytes).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// suggest returns the candidate closest to name: one equal to it but for
// case first, else the nearest within an edit distance of 2 (and less than
// name's length, so that short names do not match anything), earliest
// first among equals. It returns "" when none is close.
func suggest(name string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if c == name {
			continue
		}
		if strings.EqualFold(c, name) {
			return c
		}
		if d := levenshtein(name, c); d < bestD && d < len(name) {
			best, bestD = c, d
		}
	}
	return best
}

// didYouMean formats a suggestion as ` (did you mean "x"?)`, or "".
func didYouMean(name string, candidates []string) string {
	if s := suggest(name, candidates); s != "" {
		return ` (did you mean "` + s + `"?)`
	}
	return ""
}

// The Go names the generator derives from declarations. The checker proves
// them distinct from each other and from every message, enum and enum
// constant, so gen/golang must use exactly these.

// EnumConstName returns the Go constant of an enum value: the enum's Go
// name followed by the value's, e.g. RoleAdmin for Role.admin.
func EnumConstName(e *Enum, v *EnumValue) string { return GoName(e.Name) + GoName(v.Name) }

// ErrorTypeName returns the Go type of an error: its Go name followed by
// "Error" (NameTaken → NameTakenError), unless it already ends in "Error"
// (HTTPError stays HTTPError).
func ErrorTypeName(e *Error) string {
	n := GoName(e.Name)
	if strings.HasSuffix(n, "Error") {
		return n
	}
	return n + "Error"
}

// EventGoNames returns the package-level Go names generated for an event:
// <Event>Event (its payload type), Push<Event>, Push<Event>To and
// Broadcast<Event>.
func EventGoNames(e *Event) []string {
	n := GoName(e.Name)
	return []string{n + "Event", "Push" + n, "Push" + n + "To", "Broadcast" + n}
}

// GuardMethodName returns the Handler method of a guard: "Guard" followed
// by its Go name (loggedIn → GuardLoggedIn). Commands are methods too,
// named by their Go name.
func GuardMethodName(g *Guard) string { return "Guard" + GoName(g.Name) }

// runtimeCodes are the error codes the runtime answers with itself
// (docs/protocol.md); no schema error may have one of them as its code.
var runtimeCodes = map[string]bool{
	"bad_request": true, "unknown_command": true, "unimplemented": true,
	"internal": true, "canceled": true, "overloaded": true,
}

// vetMethods are the methods go vet's stdmethods check expects to have the
// signature of a standard interface, by the method's name: those a
// Handler method, (ctx, s[, args]) ([result,] error), would not match.
// (It skips Format, Scan, Seek, ReadFrom and WriteTo, whose first
// parameter differs, and Is, As and Unwrap off error types.)
var vetMethods = map[string]string{
	"GobDecode":     "gob.GobDecoder's GobDecode([]byte) error",
	"GobEncode":     "gob.GobEncoder's GobEncode() ([]byte, error)",
	"MarshalJSON":   "json.Marshaler's MarshalJSON() ([]byte, error)",
	"MarshalXML":    "xml.Marshaler's MarshalXML(*xml.Encoder, xml.StartElement) error",
	"ReadByte":      "io.ByteReader's ReadByte() (byte, error)",
	"ReadRune":      "io.RuneReader's ReadRune() (rune, int, error)",
	"UnmarshalJSON": "json.Unmarshaler's UnmarshalJSON([]byte) error",
	"UnmarshalXML":  "xml.Unmarshaler's UnmarshalXML(*xml.Decoder, xml.StartElement) error",
	"UnreadByte":    "io.ByteScanner's UnreadByte() error",
	"UnreadRune":    "io.RuneScanner's UnreadRune() error",
	"WriteByte":     "io.ByteWriter's WriteByte(byte) error",
}

// vetMethodNames reports commands whose Handler method go vet would take
// for a standard one with the wrong signature, in the generated code and
// in every Handler the app writes.
func (c *checker) vetMethodNames() {
	for _, cmd := range c.out.Commands {
		if m := GoName(cmd.Name); vetMethods[m] != "" {
			c.errorf(cmd.Pos, "command %q is the Handler method %s in Go, which go vet expects to be %s; rename it", cmd.Name, m, vetMethods[m])
		}
	}
}
