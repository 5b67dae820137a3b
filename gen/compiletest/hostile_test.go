package compiletest

import (
	"errors"
	"fmt"
	"go/token"
	"go/types"
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"

	"github.com/duplexrpc/duplex/schema"
)

// A hostile schema is written to break the generators: every name is taken
// from the words they or their targets treat specially, put where a name
// can stand. Most such schemas break a rule of the checker somewhere, so
// hostileSchema repairs them: it drops what the checker refuses, line by
// line, until the rest passes. What remains is the hostile names the
// checker lets through, which must compile.

// names returns the pool of words hostile names are made of. The Go words
// come from go/token and go/types, the runtime's names from the lists
// package schema keeps (which a test of package schema keeps equal to the
// runtime's duplex.d.ts); the TypeScript words and the identifiers of
// generated code are listed here, independently of the checker's lists.
func names() []string {
	var pool []string
	for tok := token.Token(0); tok < token.TILDE+100; tok++ {
		if tok.IsKeyword() {
			pool = append(pool, tok.String())
		}
	}
	pool = append(pool, types.Universe.Names()...)
	pool = append(pool, schema.TSGlobals...)
	pool = append(pool, schema.TSRuntimeExports...)
	for m := range schema.TSClientMembers {
		pool = append(pool, m)
	}
	pool = append(pool, strings.Fields(tsWords)...)
	pool = append(pool, strings.Fields(generatedWords)...)
	slices.Sort(pool) // TSClientMembers is a map: sort for determinism
	return slices.Compact(pool)
}

// tsWords are JavaScript's and TypeScript's reserved words, strict-mode
// and contextual keywords, the names of TypeScript's types and utility
// types, globals, and the members of Object.prototype, Error.prototype and
// Promise.prototype.
const tsWords = `
	abstract accessor any arguments as asserts async await bigint boolean break case catch class
	const constructor continue debugger declare default delete do else enum eval export extends
	false finally for from function get global if implements import in infer instanceof interface
	intrinsic is keyof let module namespace never new null number object of out override package
	private protected public readonly require return satisfies set static string super switch
	symbol this throw true try type typeof undefined unique unknown using var void while with yield
	Array ArrayBuffer BigInt Boolean DataView Date Error EvalError Function Infinity JSON Map Math
	NaN Number Object Promise Proxy RangeError ReferenceError Reflect RegExp Set String Symbol
	SyntaxError TypeError URIError Uint8Array WeakMap WeakSet globalThis window self document
	Awaited Partial Required Readonly Pick Omit Record Exclude Extract NonNullable Parameters
	ReturnType InstanceType ThisType Uppercase Lowercase Capitalize Uncapitalize PropertyKey
	hasOwnProperty isPrototypeOf propertyIsEnumerable toLocaleString toString valueOf
	name message stack cause code then catch finally length prototype __proto__
`

// generatedWords are the identifiers generated Go and TypeScript use
// (parameters, locals, receivers, package names, methods and the names
// derived from declarations), words the name rules treat specially, and
// the method names go vet expects a standard signature of.
const generatedWords = `
	ctx s args opts url d m r e err dst key more start data ev first sessions srv call res h
	i1 k1 e1 keys1 key1 has buf k V we c command declared runtime wire fmt errors context time
	uuid slices duplex json main init
	Handler UnimplementedHandler Register Client Guards Valid AppendJSON DecodeJSON MarshalJSON
	UnmarshalJSON Error WireError Message Push Broadcast To Args Result Event Guard
	duplexSortedKeys duplexCheckError duplexUndeclaredError SupportsV1 Session Router Server
	id url uuid http json api ip ID URL UUID HTTP JSON API IP userId user_id userID
	rt fn remove duplexclient NewClient duplexClientError Call CallIdempotent On Connect Close
	OnSaid onSaid said Said
	As Format GobDecode GobEncode Is MarshalXML Peek ReadByte ReadFrom ReadRune Scan Seek String
	UnmarshalXML UnreadByte UnreadRune Unwrap WriteByte WriteTo marshalJson unmarshalJson
`

// hostile builds one schema.
type hostile struct {
	r    *rand.Rand
	pool []string

	pkg   string
	doc   []string
	decls []*decl
	used  []string // names given so far, for case collisions
}

// decl is a declaration of a hostile schema; kind is its keyword.
type decl struct {
	kind    string
	doc     []string
	anns    []*item // annotations, each on its line
	name    string
	fields  []*field // of a message or event, the values of an enum
	params  *params  // of a command
	results *params  // of a command; nil for none
	errors  []string // of a command
	rejects string   // of a guard
	dropped bool
}

// field is a field, parameter, result or enum value (typ "").
type field struct {
	doc     []string
	anns    []*item
	name    string
	typ     string
	opt     bool
	dropped bool
}

// params are a command's parameters or results: a message or fields.
type params struct {
	msg    string
	fields []*field
}

// item is something a repair may drop on its own: an annotation.
type item struct {
	text    string
	dropped bool
}

// hostileSchema returns the hostile schema of seed, named h<seed>.duplex,
// repaired until the checker accepts it.
func hostileSchema(seed uint64, pool []string) source {
	h := &hostile{r: rand.New(rand.NewPCG(seed, 0x6475706c6578)), pool: pool}
	h.build()
	return h.repair(fmt.Sprintf("h%d.duplex", seed))
}

// repair drops what the checker refuses, line by line, and returns the
// schema the checker accepts. It never fails: at worst the schema is left
// with its package alone.
func (h *hostile) repair(name string) source {
	for round := 0; ; round++ {
		src, drops := h.render()
		_, err := schema.Load(name, src)
		var ds schema.Diagnostics
		if err == nil || !errors.As(err, &ds) || round == 50 {
			return source{name, src}
		}
		progress := false
		for _, d := range ds {
			if drop := drops[d.Pos.Line]; drop != nil {
				drop()
				progress = true
			}
		}
		if !progress {
			// A problem on a line that holds nothing to drop (a closing
			// brace): give up on the declarations.
			for _, d := range h.decls {
				d.dropped = true
			}
		}
	}
}

func (h *hostile) chance(p float64) bool { return h.r.Float64() < p }

func (h *hostile) pick(s []string) string { return s[h.r.IntN(len(s))] }

// word returns a word of the pool, or of earlier names (to collide with
// them but for case or underscores), or a plain one.
func (h *hostile) word() string {
	switch {
	case len(h.used) > 0 && h.chance(0.15):
		return h.pick(h.used)
	case h.chance(0.1):
		return h.pick([]string{"a", "b", "x", "n", "v1", "item", "value", "list"})
	}
	return h.pick(h.pool)
}

// mutate changes a word as the name rules might not expect: case,
// underscores, initialisms, generated prefixes and suffixes, digits,
// length, letters beyond ASCII.
func (h *hostile) mutate(w string) string {
	switch h.r.IntN(16) {
	case 0:
		return strings.ToUpper(w)
	case 1:
		return strings.ToLower(w)
	case 2:
		return flipCase(w)
	case 3:
		i := h.r.IntN(len(w) + 1)
		return w[:i] + "_" + w[i:]
	case 4:
		return w + h.pick([]string{"Args", "Result", "Event", "Error", "To", "_id", "Id", "ID", "Url", "JSON", "2", "_"})
	case 5:
		return h.pick([]string{"push", "broadcast", "guard", "is", "has", "Push", "Broadcast", "Guard", "unimplemented"}) + w
	case 6:
		return w + h.word()
	case 7:
		if h.chance(0.3) {
			return strings.Repeat(w+"_", 1+h.r.IntN(100))
		}
		if h.chance(0.05) {
			return w + strings.Repeat("x", 1000+h.r.IntN(3000))
		}
		return w + strings.Repeat("x", 64+h.r.IntN(200))
	case 8:
		if h.chance(0.2) {
			return w + h.pick([]string{"é", "ß", "Ω", "名", "_ǅ", "ﬀ", "İ"})
		}
	}
	return w
}

// flipCase swaps the case of every letter.
func flipCase(w string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsUpper(r) {
			return unicode.ToLower(r)
		}
		return unicode.ToUpper(r)
	}, w)
}

// name returns a name of the given style: "upper" starts with a capital,
// "lower" with a small letter, "package" is all lowercase. Leading
// characters the lexer refuses are mostly cut off.
func (h *hostile) name(style string) string {
	n := h.mutate(h.word())
	if h.chance(0.9) {
		n = strings.TrimLeftFunc(n, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') })
	}
	if n == "" {
		n = "z"
	}
	switch style {
	case "upper":
		n = strings.ToUpper(n[:1]) + n[1:]
	case "lower":
		n = strings.ToLower(n[:1]) + n[1:]
	case "package":
		n = strings.ToLower(n)
	}
	h.used = append(h.used, n)
	return n
}

// docText are lines a doc comment or reason might hold to break the code
// it is copied into; the checker refuses some of them.
var docText = []string{
	"*/", "/*", "*/ export const x = 1; /*", "`", "${x}", "</script>", "\\", `"quoted"`, "'",
	"Ω ☃ 𝄞 名前 — «»", "\u200b zero width", "\u202e right to left", "\u00a0no-break",
	"go:generate rm -rf /", "//go:build ignore", "+build ignore", "// nested", "@param x",
	"{@link Nope}", "@deprecated", "*", "-", "\ttab", "trailing  ", "package main", "}",
	"\u2028", "\x00", "\x7f", "\ufeff", "\u0085", "e\u0301", "<!-- -->", "#!/bin/sh",
}

func (h *hostile) docLines() []string {
	if !h.chance(0.3) {
		return nil
	}
	n := 1 + h.r.IntN(3)
	lines := make([]string, n)
	for i := range lines {
		lines[i] = h.pick(docText)
		if h.chance(0.3) {
			lines[i] = "a " + lines[i] + " b"
		}
	}
	return lines
}

// reason returns a @deprecated annotation, its reason escaped as the
// schema's strings are.
func (h *hostile) deprecated() *item {
	if !h.chance(0.2) {
		return nil
	}
	if h.chance(0.3) {
		return &item{text: "@deprecated"}
	}
	reason := h.pick(docText) + h.pick([]string{"", "\n", "\t", " and\nmore", `"`})
	return &item{text: "@deprecated(" + quote(reason) + ")"}
}

// quote writes s as a schema string: \" \\ \n \t, \uXXXX for other
// control characters and what lies beyond the BMP stays as it is.
func quote(s string) string {
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
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 || r == 0xfeff || r == 0x85:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

var scalarNames = []string{"bool", "int32", "int64", "uint32", "uint64", "float64", "string", "bytes", "timestamp", "uuid"}

// typ returns a type: a scalar, a declared message or enum (any, so some
// are recursive), nested in lists and maps, now and then very deeply.
func (h *hostile) typ(types []string) string {
	depth := h.r.IntN(3)
	if h.chance(0.01) {
		depth = 8 + h.r.IntN(100) // the parser refuses more than 99
	}
	t := h.pick(scalarNames)
	if len(types) > 0 && h.chance(0.5) {
		t = h.pick(types)
	}
	for range depth {
		if h.chance(0.5) {
			t = "[]" + t
		} else {
			t = "map<string, " + t + ">"
		}
	}
	return t
}

func (h *hostile) fields(style string, n int, types []string) []*field {
	fs := make([]*field, n)
	for i := range fs {
		f := &field{doc: h.docLines(), name: h.name("lower")}
		if dep := h.deprecated(); dep != nil {
			f.anns = append(f.anns, dep)
		}
		if style == "field" {
			f.typ, f.opt = h.typ(types), h.chance(0.3)
		}
		fs[i] = f
	}
	return fs
}

func (h *hostile) count(max int) int {
	if h.chance(0.01) {
		return max * 6 // now and then, many
	}
	return h.r.IntN(max + 1)
}

// build draws the schema: the package, then the declarations, whose
// names are all drawn before the types that refer to them.
func (h *hostile) build() {
	h.pkg, h.doc = h.name("package"), h.docLines()
	add := func(kind, style string, n int) {
		for range n {
			d := &decl{kind: kind, doc: h.docLines(), name: h.name(style)}
			if dep := h.deprecated(); dep != nil && kind != "error" && kind != "guard" {
				d.anns = append(d.anns, dep)
			}
			h.decls = append(h.decls, d)
		}
	}
	add("message", "upper", h.count(4))
	add("enum", "upper", h.count(2))
	add("error", "upper", h.count(3))
	add("guard", "lower", h.count(2))
	add("command", "lower", h.count(4))
	add("event", "lower", h.count(3))
	var types, messages, errs, guards []string
	for _, d := range h.decls {
		switch d.kind {
		case "message":
			types, messages = append(types, d.name), append(messages, d.name)
		case "enum":
			types = append(types, d.name)
		case "error":
			errs = append(errs, d.name)
		case "guard":
			guards = append(guards, d.name)
		}
	}
	h.r.Shuffle(len(h.decls), func(i, j int) { h.decls[i], h.decls[j] = h.decls[j], h.decls[i] })
	for _, d := range h.decls {
		switch d.kind {
		case "message", "event":
			d.fields = h.fields("field", h.count(4), types)
		case "enum":
			d.fields = h.fields("value", 1+h.count(4), nil)
		case "guard":
			d.rejects = "Missing"
			if len(errs) > 0 {
				d.rejects = h.pick(errs)
			}
		case "command":
			d.params = h.params(messages, types)
			if h.chance(0.7) {
				d.results = h.params(messages, types)
			}
			for range h.count(2) {
				if len(errs) > 0 {
					d.errors = append(d.errors, h.pick(errs))
				}
			}
			if len(guards) > 0 && h.chance(0.4) {
				var gs []string
				for range 1 + h.r.IntN(2) {
					gs = append(gs, h.pick(guards))
				}
				d.anns = append(d.anns, &item{text: "@guard(" + strings.Join(gs, ", ") + ")"})
			}
			if h.chance(0.3) {
				d.anns = append(d.anns, &item{text: "@idempotent"})
			}
		}
	}
}

func (h *hostile) params(messages, types []string) *params {
	if len(messages) > 0 && h.chance(0.3) {
		return &params{msg: h.pick(messages)}
	}
	return &params{fields: h.fields("field", h.count(3), types)}
}

// render writes the schema, one item a line, and returns for each line
// (from 1) what drops the item on it, if anything does.
func (h *hostile) render() ([]byte, map[int]func()) {
	var b strings.Builder
	drops := map[int]func(){}
	line := 1
	emit := func(s string, drop func()) {
		b.WriteString(s)
		b.WriteByte('\n')
		if drop != nil {
			drops[line] = drop
		}
		line++
	}
	doc := func(lines []string, drop func()) {
		for _, l := range lines {
			emit("// "+l, drop)
		}
	}
	anns := func(as []*item) {
		for _, a := range as {
			if !a.dropped {
				emit(a.text, func() { a.dropped = true })
			}
		}
	}
	fieldList := func(fs []*field, indent string) {
		for _, f := range fs {
			if f.dropped {
				continue
			}
			doc(f.doc, func() { f.doc = nil })
			anns(f.anns)
			s := indent + f.name
			if f.typ != "" {
				s += ": " + f.typ
				if f.opt {
					s += "?"
				}
			}
			emit(s, func() { f.dropped = true })
		}
	}
	doc(h.doc, func() { h.doc = nil })
	emit("package "+h.pkg, func() { h.pkg = "p" })
	for _, d := range h.decls {
		if d.dropped {
			continue
		}
		drop := func() { d.dropped = true }
		emit("", nil)
		doc(d.doc, func() { d.doc = nil })
		anns(d.anns)
		switch d.kind {
		case "message", "event", "enum":
			emit(d.kind+" "+d.name+" {", drop)
			fieldList(d.fields, "    ")
			emit("}", drop)
		case "error":
			emit("error "+d.name, drop)
		case "guard":
			emit("guard "+d.name+" rejects "+d.rejects, drop)
		case "command":
			// Inline fields one a line; the line that closes the
			// parameters opens the results, the last line names the
			// errors.
			open := "command " + d.name + "("
			if d.params.msg != "" {
				open += d.params.msg + ")"
			} else {
				emit(open, drop)
				fieldList(d.params.fields, "    ")
				open = ")"
			}
			if r := d.results; r != nil && r.msg != "" {
				open += " -> " + r.msg
			} else if r != nil {
				emit(open+" -> (", drop)
				fieldList(r.fields, "    ")
				open = ")"
			}
			if len(d.errors) > 0 {
				open += " errors " + strings.Join(d.errors, ", ")
			}
			emit(open, drop)
		}
	}
	return []byte(b.String()), drops
}
