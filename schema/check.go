package schema

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/duplexrpc/duplex/schema/syntax"
)

// Check checks a parsed schema against every rule of the language and
// returns its model. On failure it returns nil and Diagnostics holding
// every problem found, sorted by position.
func Check(f *syntax.File) (*File, error) {
	if f == nil {
		return nil, errors.New("check schema: no file")
	}
	c := &checker{
		out:      &File{Path: f.Name},
		types:    newNamespace(false),
		errors:   newNamespace(false),
		guards:   newNamespace(true),
		commands: newNamespace(true),
		events:   newNamespace(true),
		codes:    map[string]entry{},
		messages: map[string]*Message{},
		enums:    map[string]*Enum{},
		errorsBy: map[string]*Error{},
		guardsBy: map[string]*Guard{},
	}
	c.file(f)
	if len(c.diags) > 0 {
		c.diags.sort()
		return nil, c.diags
	}
	return c.out, nil
}

// scalars maps the scalar type names to their kinds, in the spec's order.
var scalars = []struct {
	name string
	kind Kind
}{
	{"bool", KindBool}, {"int32", KindInt32}, {"int64", KindInt64}, {"uint32", KindUint32},
	{"uint64", KindUint64}, {"float64", KindFloat64}, {"string", KindString}, {"bytes", KindBytes},
	{"timestamp", KindTimestamp}, {"uuid", KindUUID},
}

func scalarKind(name string) Kind {
	for _, s := range scalars {
		if s.name == name {
			return s.kind
		}
	}
	return 0
}

// entry is a declared name.
type entry struct {
	kind string // "message", "field", ...
	name string
	pos  Pos
}

// namespace holds names that must be distinct and, when goCheck, distinct
// once mapped to Go names too.
type namespace struct {
	goCheck bool
	byName  map[string]entry
	byGo    map[string]entry
	order   []string
}

func newNamespace(goCheck bool) *namespace {
	return &namespace{goCheck: goCheck, byName: map[string]entry{}, byGo: map[string]entry{}}
}

type checker struct {
	diags Diagnostics
	out   *File

	types, errors, guards, commands, events *namespace
	codes                                   map[string]entry // error wire codes

	messages map[string]*Message
	enums    map[string]*Enum
	errorsBy map[string]*Error
	guardsBy map[string]*Guard

	pending []pendingField // fields whose types are resolved once every type is declared
}

type pendingField struct {
	syn *syntax.Field
	out *Field
}

func (c *checker) errorf(p Pos, format string, args ...any) {
	c.diags = append(c.diags, Diagnostic{Pos: p, Message: fmt.Sprintf(format, args...)})
}

// declare adds a name to ns, reporting a redeclaration or, in namespaces
// that check them, a clash of Go names. It reports whether the name is new.
func (c *checker) declare(ns *namespace, kind, name string, p Pos) bool {
	if first, ok := ns.byName[name]; ok {
		c.errorf(p, "%s %q redeclared (first declared at %s)", kind, name, first.pos)
		return false
	}
	e := entry{kind: kind, name: name, pos: p}
	ns.byName[name] = e
	ns.order = append(ns.order, name)
	if ns.goCheck {
		g := GoName(name)
		if first, ok := ns.byGo[g]; ok {
			c.errorf(p, "%s %q and %s %q (declared at %s) are both %q in Go", kind, name, first.kind, first.name, first.pos, g)
			return true
		}
		ns.byGo[g] = e
	}
	return true
}

// naming styles.
const (
	upperName = iota // PascalCase: messages, enums, errors
	lowerName        // fields, parameters, enum values, guards, commands, events
	packageName
)

// checkName enforces a name's case and, for lowercase names, that it is
// not a reserved word.
func (c *checker) checkName(kind string, id *syntax.Ident, style int) {
	n := id.Name
	if n == "" {
		return
	}
	p := pos(id.Pos)
	switch style {
	case upperName:
		if scalarKind(n) != 0 {
			c.errorf(p, "%s name %q is a scalar type", kind, n)
		} else if !isUpper(n[0]) {
			c.errorf(p, "%s name %q must start with an uppercase letter", kind, n)
		}
		return
	case lowerName:
		if !isLower(n[0]) {
			c.errorf(p, "%s name %q must start with a lowercase letter", kind, n)
			return
		}
	case packageName:
		if strings.ToLower(n) != n {
			c.errorf(p, "%s name %q must be lowercase", kind, n)
			return
		}
	}
	if where := Reserved(n); where != "" {
		c.errorf(p, "%q is reserved in %s", n, where)
		return
	}
	if style == packageName {
		switch {
		case n == "init":
			c.errorf(p, `package name "init" would need an alias wherever the generated Go package is imported (init is reserved for init functions)`)
		case n == "main":
			c.errorf(p, `package name "main" would make the generated Go package a program, which cannot be imported`)
		case goPredeclared[n]:
			c.errorf(p, "package name %q is a predeclared Go identifier, which every file importing the generated package would shadow", n)
		}
	}
}

// doc returns a doc comment's text, reporting characters that generated
// code cannot carry.
func (c *checker) doc(g *syntax.CommentGroup) string {
	if g == nil {
		return ""
	}
	for _, cm := range g.List {
		for i, r := range cm.Text {
			if what := badTextRune(r, false); what != "" {
				p := pos(cm.Pos)
				p.Col += i
				c.errorf(p, "doc comment holds %s, which generated code cannot carry; remove it", what)
				break
			}
		}
	}
	return g.Text()
}

// badTextRune describes r when a doc comment (or, when reason, a
// @deprecated reason) must not hold it: control characters but tab (and
// newline in a reason, which generated docs fold into a space), the
// byte-order mark, and the line and paragraph separators. It returns ""
// for any other rune.
func badTextRune(r rune, reason bool) string {
	switch {
	case r == '\t', reason && r == '\n':
		return ""
	case r == 0:
		return "U+0000 (NUL)"
	case r == 0xFEFF:
		return "U+FEFF (a byte-order mark)"
	case r == 0x2028:
		return "U+2028 (a line separator)"
	case r == 0x2029:
		return "U+2029 (a paragraph separator)"
	case r < 0x20 || 0x7F <= r && r < 0xA0:
		return fmt.Sprintf("U+%04X (a control character)", r)
	}
	return ""
}

func (c *checker) file(f *syntax.File) {
	c.declarePackage(f)
	// Declare every name first, so that references may point forward.
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *syntax.MessageDecl:
			c.declareMessage(d)
		case *syntax.EnumDecl:
			c.declareEnum(d)
		case *syntax.ErrorDecl:
			c.declareError(d)
		}
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *syntax.GuardDecl:
			c.guard(d)
		case *syntax.EventDecl:
			c.event(d)
		}
	}
	for _, d := range f.Decls {
		if d, ok := d.(*syntax.CommandDecl); ok {
			c.command(d)
		}
	}
	for _, pf := range c.pending {
		pf.out.Type = c.resolveType(pf.syn.Type)
	}
	c.recursion()
	c.goNames()
	c.vetMethodNames()
	c.tsNames()
}

func (c *checker) declarePackage(f *syntax.File) {
	var first *syntax.PackageDecl
	for i, d := range f.Decls {
		p, ok := d.(*syntax.PackageDecl)
		if !ok || p.Name == nil {
			continue
		}
		c.annotations(p.Annotations, "package")
		if first != nil {
			c.errorf(pos(p.Keyword), "package redeclared (first declared at %s)", pos(first.Keyword))
			continue
		}
		first = p
		if i > 0 {
			c.errorf(pos(p.Keyword), "package must be the first declaration")
		}
		c.checkName("package", p.Name, packageName)
		c.out.Package = p.Name.Name
		c.out.Doc = c.doc(p.Doc)
	}
	if first == nil {
		c.errorf(Pos{File: f.Name, Line: 1, Col: 1}, `missing package declaration: the file must start with "package <name>"`)
	}
}

func (c *checker) declareMessage(d *syntax.MessageDecl) {
	if d.Name == nil {
		return
	}
	m := &Message{Name: d.Name.Name, Doc: c.doc(d.Doc), Pos: pos(d.Name.Pos)}
	c.checkName("message", d.Name, upperName)
	m.Deprecation = c.annotations(d.Annotations, "message").deprecation
	if c.declare(c.types, "message", m.Name, m.Pos) {
		c.messages[m.Name] = m
	}
	m.Fields = c.fields("field", d.Fields)
	c.out.Messages = append(c.out.Messages, m)
}

func (c *checker) declareEnum(d *syntax.EnumDecl) {
	if d.Name == nil {
		return
	}
	e := &Enum{Name: d.Name.Name, Doc: c.doc(d.Doc), Pos: pos(d.Name.Pos)}
	c.checkName("enum", d.Name, upperName)
	e.Deprecation = c.annotations(d.Annotations, "enum").deprecation
	if c.declare(c.types, "enum", e.Name, e.Pos) {
		c.enums[e.Name] = e
	}
	values := newNamespace(true)
	for _, v := range d.Values {
		if v.Name == nil {
			continue
		}
		ev := &EnumValue{Name: v.Name.Name, Doc: c.doc(v.Doc), Pos: pos(v.Name.Pos)}
		c.checkName("enum value", v.Name, lowerName)
		ev.Deprecation = c.annotations(v.Annotations, "enum value").deprecation
		c.declare(values, "enum value", ev.Name, ev.Pos)
		e.Values = append(e.Values, ev)
	}
	if len(d.Values) == 0 {
		c.errorf(e.Pos, "enum %q has no values", e.Name)
	}
	c.out.Enums = append(c.out.Enums, e)
}

func (c *checker) declareError(d *syntax.ErrorDecl) {
	if d.Name == nil {
		return
	}
	e := &Error{Name: d.Name.Name, Code: SnakeCase(d.Name.Name), Doc: c.doc(d.Doc), Pos: pos(d.Name.Pos)}
	c.checkName("error", d.Name, upperName)
	c.annotations(d.Annotations, "error")
	if c.declare(c.errors, "error", e.Name, e.Pos) {
		c.errorsBy[e.Name] = e
		if runtimeCodes[e.Code] {
			c.errorf(e.Pos, "error %q has the wire code %q, which the runtime uses itself", e.Name, e.Code)
		} else if first, ok := c.codes[e.Code]; ok {
			c.errorf(e.Pos, "error %q and error %q (declared at %s) both have the wire code %q", e.Name, first.name, first.pos, e.Code)
		} else {
			c.codes[e.Code] = entry{kind: "error", name: e.Name, pos: e.Pos}
		}
	}
	c.out.Errors = append(c.out.Errors, e)
}

func (c *checker) guard(d *syntax.GuardDecl) {
	if d.Name == nil || d.Rejects == nil {
		return
	}
	g := &Guard{Name: d.Name.Name, Doc: c.doc(d.Doc), Pos: pos(d.Name.Pos)}
	c.checkName("guard", d.Name, lowerName)
	c.annotations(d.Annotations, "guard")
	if c.declare(c.guards, "guard", g.Name, g.Pos) {
		c.guardsBy[g.Name] = g
	}
	g.Error = c.lookupError(d.Rejects)
	c.out.Guards = append(c.out.Guards, g)
}

func (c *checker) event(d *syntax.EventDecl) {
	if d.Name == nil {
		return
	}
	e := &Event{Name: d.Name.Name, Doc: c.doc(d.Doc), Pos: pos(d.Name.Pos)}
	c.checkName("event", d.Name, lowerName)
	e.Deprecation = c.annotations(d.Annotations, "event").deprecation
	c.declare(c.events, "event", e.Name, e.Pos)
	e.Fields = c.fields("field", d.Fields)
	c.out.Events = append(c.out.Events, e)
}

func (c *checker) command(d *syntax.CommandDecl) {
	if d.Name == nil {
		return
	}
	cmd := &Command{Name: d.Name.Name, Doc: c.doc(d.Doc), Pos: pos(d.Name.Pos)}
	c.checkName("command", d.Name, lowerName)
	c.declare(c.commands, "command", cmd.Name, cmd.Pos)
	ann := c.annotations(d.Annotations, "command")
	cmd.Deprecation = ann.deprecation
	cmd.Idempotent = ann.idempotent
	seen := map[string]Pos{}
	for _, a := range ann.guards {
		p := pos(a.Pos)
		if first, ok := seen[a.Value]; ok {
			c.errorf(p, "guard %q listed twice (first at %s)", a.Value, first)
			continue
		}
		seen[a.Value] = p
		if g, ok := c.guardsBy[a.Value]; ok {
			cmd.Guards = append(cmd.Guards, g)
		} else {
			c.errorf(p, "unknown guard %q%s", a.Value, didYouMean(a.Value, c.guards.order))
		}
	}
	cmd.Args = c.params("parameter", d.Params)
	cmd.Result = c.params("result", d.Result)
	seen = map[string]Pos{}
	for _, id := range d.Errors {
		p := pos(id.Pos)
		if first, ok := seen[id.Name]; ok {
			c.errorf(p, "error %q listed twice (first at %s)", id.Name, first)
			continue
		}
		seen[id.Name] = p
		if e := c.lookupError(id); e != nil {
			cmd.Errors = append(cmd.Errors, e)
		}
	}
	c.out.Commands = append(c.out.Commands, cmd)
}

// params checks a command's parameters (kind "parameter") or results
// ("result").
func (c *checker) params(kind string, p *syntax.Params) *Params {
	out := &Params{}
	switch {
	case p == nil:
	case p.Message != nil:
		name := p.Message.Name
		at := pos(p.Message.Pos)
		plural := kind + "s"
		_, isEnum := c.enums[name]
		_, declared := c.types.byName[name]
		switch m, ok := c.messages[name]; {
		case ok:
			out.Message = m
			out.Fields = m.Fields
		case isEnum:
			c.errorf(at, "%s must be a message or a field list; %q is an enum", plural, name)
		case scalarKind(name) != 0:
			c.errorf(at, "%s must be a message or a field list; %q is a scalar", plural, name)
		case declared:
			// declared, but broken
		case !c.notAType(name, at):
			var msgs []string
			for _, m := range c.out.Messages {
				msgs = append(msgs, m.Name)
			}
			c.errorf(at, "unknown type %q%s", name, didYouMean(name, msgs))
		}
	default:
		out.Fields = c.fields(kind, p.Fields)
	}
	return out
}

// fields checks a field list; kind is "field", "parameter" or "result".
// Types are resolved later, once every type is declared.
func (c *checker) fields(kind string, l *syntax.FieldList) []*Field {
	if l == nil {
		return nil
	}
	ns := newNamespace(true)
	var out []*Field
	for _, sf := range l.Fields {
		if sf.Name == nil || sf.Type == nil {
			continue
		}
		f := &Field{Name: sf.Name.Name, Doc: c.doc(sf.Doc), Optional: sf.Optional, Pos: pos(sf.Name.Pos)}
		c.checkName(kind, sf.Name, lowerName)
		if c.declare(ns, kind, f.Name, f.Pos) {
			if g := GoName(f.Name); structMethods[g] {
				c.errorf(f.Pos, "%s %q is %q in Go, a method duplex generates on every struct", kind, f.Name, g)
			}
		}
		f.Deprecation = c.annotations(sf.Annotations, "field").deprecation
		c.pending = append(c.pending, pendingField{syn: sf, out: f})
		out = append(out, f)
	}
	return out
}

// notAType reports a name of another kind used as a type.
func (c *checker) notAType(name string, at Pos) bool {
	if _, ok := c.errors.byName[name]; ok {
		c.errorf(at, "%q is an error, not a type", name)
		return true
	}
	return false
}

func (c *checker) typeNames() []string {
	names := make([]string, 0, len(scalars)+len(c.types.order))
	for _, s := range scalars {
		names = append(names, s.name)
	}
	return append(names, c.types.order...)
}

func (c *checker) resolveType(t syntax.Type) *Type {
	switch t := t.(type) {
	case *syntax.NamedType:
		name := t.Name.Name
		if k := scalarKind(name); k != 0 {
			return &Type{Kind: k}
		}
		if m, ok := c.messages[name]; ok {
			return &Type{Kind: KindMessage, Message: m}
		}
		if e, ok := c.enums[name]; ok {
			return &Type{Kind: KindEnum, Enum: e}
		}
		if _, ok := c.types.byName[name]; ok {
			return nil // declared, but broken
		}
		at := pos(t.Name.Pos)
		if !c.notAType(name, at) {
			c.errorf(at, "unknown type %q%s", name, didYouMean(name, c.typeNames()))
		}
		return nil
	case *syntax.ListType:
		if elem := c.resolveType(t.Elem); elem != nil {
			return &Type{Kind: KindList, Elem: elem}
		}
	case *syntax.MapType:
		key, ok := t.Key.(*syntax.NamedType)
		if !ok || key.Name.Name != "string" {
			c.errorf(pos(t.Key.Pos()), "map keys must be string, not %s", syntax.TypeString(t.Key))
			c.resolveType(t.Value)
			return nil
		}
		if elem := c.resolveType(t.Value); elem != nil {
			return &Type{Kind: KindMap, Elem: elem}
		}
	}
	return nil
}

func (c *checker) lookupError(id *syntax.Ident) *Error {
	if e, ok := c.errorsBy[id.Name]; ok {
		return e
	}
	at := pos(id.Pos)
	if _, ok := c.errors.byName[id.Name]; ok {
		return nil // declared, but broken
	}
	if e, ok := c.types.byName[id.Name]; ok {
		c.errorf(at, "%q is a %s, not an error", id.Name, e.kind)
		return nil
	}
	c.errorf(at, "unknown error %q%s", id.Name, didYouMean(id.Name, c.errors.order))
	return nil
}

// annotations.

type annotationInfo struct {
	deprecation *Deprecation
	guards      []*syntax.Arg
	idempotent  bool
}

var annotationNames = []string{"deprecated", "guard", "idempotent"}

// annotationTargets says what each annotation may annotate.
var annotationTargets = map[string]map[string]bool{
	"deprecated": {"message": true, "field": true, "enum": true, "enum value": true, "command": true, "event": true},
	"guard":      {"command": true},
	"idempotent": {"command": true},
}

var annotationTargetText = map[string]string{
	"deprecated": "messages, fields, enums, enum values, commands and events",
	"guard":      "commands",
	"idempotent": "commands",
}

func article(kind string) string {
	switch kind[0] {
	case 'a', 'e', 'i', 'o', 'u':
		return "an " + kind
	}
	return "a " + kind
}

func (c *checker) annotations(as []*syntax.Annotation, target string) annotationInfo {
	var info annotationInfo
	seen := map[string]Pos{}
	for _, a := range as {
		if a.Name == nil {
			continue
		}
		name := a.Name.Name
		at := pos(a.Pos)
		if annotationTargets[name] == nil {
			hint := ""
			if s := suggest(name, annotationNames); s != "" {
				hint = fmt.Sprintf(" (did you mean %q?)", "@"+s)
			}
			c.errorf(at, "unknown annotation %q%s", "@"+name, hint)
			continue
		}
		if first, ok := seen[name]; ok {
			c.errorf(at, "duplicate annotation %q (first at %s)", "@"+name, first)
			continue
		}
		seen[name] = at
		if !annotationTargets[name][target] {
			c.errorf(at, "@%s is not allowed on %s (only on %s)", name, article(target), annotationTargetText[name])
			continue
		}
		switch name {
		case "deprecated":
			if len(a.Args) > 1 || len(a.Args) == 1 && !a.Args[0].Quoted {
				c.errorf(at, `@deprecated takes one optional string: @deprecated("reason")`)
				continue
			}
			info.deprecation = &Deprecation{}
			if len(a.Args) == 1 {
				info.deprecation.Reason = a.Args[0].Value
				for _, r := range a.Args[0].Value {
					if what := badTextRune(r, true); what != "" {
						c.errorf(pos(a.Args[0].Pos), "@deprecated reason holds %s, which generated code cannot carry; remove it", what)
						break
					}
				}
			}
		case "guard":
			if len(a.Args) == 0 {
				c.errorf(at, "@guard takes one or more guard names: @guard(loggedIn)")
				continue
			}
			bad := false
			for _, arg := range a.Args {
				if arg.Quoted {
					c.errorf(pos(arg.Pos), "@guard takes guard names, not strings")
					bad = true
				}
			}
			if !bad {
				info.guards = a.Args
			}
		case "idempotent":
			if len(a.Args) > 0 {
				c.errorf(at, "@idempotent takes no arguments")
				continue
			}
			info.idempotent = true
		}
	}
	return info
}

// recursion reports messages that contain themselves through required
// message fields only, one cycle each: no value of such a message is
// finite. A cycle through an optional field, a list or a map is allowed,
// since the chain can end there (a comment's replies, a tree's children).
func (c *checker) recursion() {
	reported := map[*Message]bool{}
	for _, m := range c.out.Messages {
		if reported[m] || c.messages[m.Name] != m {
			continue
		}
		path := cycle(m)
		if path == nil {
			continue
		}
		steps := make([]string, len(path))
		for i, s := range path {
			reported[s.from] = true
			steps[i] = fmt.Sprintf("%s.%s -> %s", s.from.Name, s.field.Name, typeString(s.field.Type))
		}
		c.errorf(m.Pos, "message %q contains itself through required fields, so no value of it is finite: %s (make a field of the chain optional, a list or a map)",
			m.Name, strings.Join(steps, ", "))
	}
}

type step struct {
	from  *Message
	field *Field
}

// cycle returns a shortest chain of required message fields leading from
// m back to m, or nil.
func cycle(m *Message) []step {
	type node struct {
		m    *Message
		via  step
		prev *node
	}
	seen := map[*Message]bool{}
	queue := []*node{{m: m}}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, f := range n.m.Fields {
			if f.Optional || f.Type == nil || f.Type.Kind != KindMessage {
				continue
			}
			to := f.Type.Message
			next := &node{m: to, via: step{n.m, f}, prev: n}
			if to == m {
				var path []step
				for x := next; x.prev != nil; x = x.prev {
					path = append([]step{x.via}, path...)
				}
				return path
			}
			if !seen[to] {
				seen[to] = true
				queue = append(queue, next)
			}
		}
	}
	return nil
}

// typeString writes a model type as the schema does.
func typeString(t *Type) string {
	if t == nil {
		return "?"
	}
	switch t.Kind {
	case KindList:
		return "[]" + typeString(t.Elem)
	case KindMap:
		return "map<string, " + typeString(t.Elem) + ">"
	case KindMessage:
		return t.Message.Name
	case KindEnum:
		return t.Enum.Name
	}
	for _, s := range scalars {
		if s.kind == t.Kind {
			return s.name
		}
	}
	return "?"
}

// structMethods are the methods of every generated struct (messages,
// arguments, results, events); no field may have their Go name.
var structMethods = map[string]bool{"AppendJSON": true, "DecodeJSON": true, "MarshalJSON": true, "UnmarshalJSON": true}

// fixedGoNames are the package-level Go names the generator emits once
// per file (duplexSortedKeys only when a map is encoded; Client, NewClient
// and duplexClientError in the client's file); no declaration
// may take them, nor a name that differs from one only in case.
var fixedGoNames = []string{
	"Handler", "UnimplementedHandler", "Client", "Register", "Guards",
	"NewClient", "duplexSortedKeys", "duplexClientError",
}

// goClaim is a package-level Go name and the declaration it comes from.
type goClaim struct {
	goName  string
	kind    string // "message", "enum value", ...; "" for the fixed names
	name    string // as the diagnostics show it ("Role.admin" for an enum value)
	pos     Pos
	derived bool   // generated for the declaration (LoginArgs for login), not its own name
	key     string // claims with one key were checked against each other already
}

func (g goClaim) what() string { return fmt.Sprintf("%s %q", g.kind, g.name) }

// GoPackageNames returns every package-level Go name the generated file of
// f may declare: the fixed names (Handler, Register, ...) and those of f's
// declarations. The checker proves them distinct, even ignoring case.
func GoPackageNames(f *File) []string {
	names := append([]string(nil), fixedGoNames...)
	for _, g := range goClaims(f) {
		names = append(names, g.goName)
	}
	return names
}

// goClaims returns the package-level Go names of f's declarations: the
// types of messages and enums, enum constants, error types, and what the
// generator emits per command (<Command>Args, <Command>Result) and per
// event (<Event>Event, Push<Event>, Push<Event>To, Broadcast<Event>).
func goClaims(f *File) []goClaim {
	var claims []goClaim
	add := func(g goClaim) { claims = append(claims, g) }
	for _, m := range f.Messages {
		add(goClaim{GoName(m.Name), "message", m.Name, m.Pos, false, "type " + m.Name})
	}
	for _, e := range f.Enums {
		add(goClaim{GoName(e.Name), "enum", e.Name, e.Pos, false, "type " + e.Name})
		for _, v := range e.Values {
			add(goClaim{EnumConstName(e, v), "enum value", e.Name + "." + v.Name, v.Pos, false, "value " + e.Name + "." + GoName(v.Name)})
		}
	}
	for _, e := range f.Errors {
		add(goClaim{ErrorTypeName(e), "error", e.Name, e.Pos, false, "error " + e.Code})
	}
	for _, cmd := range f.Commands {
		key := "command " + GoName(cmd.Name)
		for _, suffix := range []string{"Args", "Result"} {
			add(goClaim{GoName(cmd.Name) + suffix, "command", cmd.Name, cmd.Pos, true, key})
		}
	}
	for _, ev := range f.Events {
		key := "event " + GoName(ev.Name)
		for _, n := range EventGoNames(ev) {
			add(goClaim{n, "event", ev.Name, ev.Pos, true, key})
		}
	}
	return claims
}

// goNames checks that the package-level Go names of the generated file
// (goClaims and the fixed names) are distinct, even ignoring case: Go
// would refuse two equal ones ("HttpServer" and "HTTPServer" are both
// HTTPServer), and two that differ only in case ("Userid", "UserID") would
// be told apart by case alone, which no reader should have to do. It
// also checks the Handler interface's methods: <Command> for each command,
// Guard<Guard> for each guard.
func (c *checker) goNames() {
	claims := goClaims(c.out)
	// Generated names first: a clash is reported at the declaration whose
	// own name takes a generated one, the later of two otherwise.
	sort.SliceStable(claims, func(i, j int) bool {
		if claims[i].derived != claims[j].derived {
			return claims[i].derived
		}
		a, b := claims[i].pos, claims[j].pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	taken := map[string]goClaim{} // by the lowercase Go name
	for _, n := range fixedGoNames {
		taken[strings.ToLower(n)] = goClaim{goName: n}
	}
	reported := map[string]bool{} // one diagnostic per declaration and Go name
	for _, g := range claims {
		first, ok := taken[strings.ToLower(g.goName)]
		if !ok {
			taken[strings.ToLower(g.goName)] = g
			continue
		}
		if first.key == g.key || first.kind == g.kind && first.name == g.name || reported[g.what()+g.goName] {
			continue // the same declaration, or reported by its namespace already
		}
		reported[g.what()+g.goName] = true
		verb := "is"
		if g.derived {
			verb = "generates"
		}
		same := "" // when the names differ only in case
		if first.goName != g.goName {
			same = fmt.Sprintf("; the Go names %q and %q differ only in case", g.goName, first.goName)
		}
		switch {
		case first.kind == "":
			c.errorf(g.pos, "%s %s %q in Go, a name duplex generates%s", g.what(), verb, g.goName, same)
		case first.derived:
			c.errorf(g.pos, "%s %s %q in Go, which duplex also generates for %s (declared at %s)%s", g.what(), verb, g.goName, first.what(), first.pos, same)
		default:
			c.errorf(g.pos, "%s %s %q in Go, like %s (declared at %s)%s", g.what(), verb, g.goName, first.what(), first.pos, same)
		}
	}

	// Handler methods: commands and guards.
	methods := map[string]goClaim{}
	var ms []goClaim
	for _, cmd := range c.out.Commands {
		ms = append(ms, goClaim{GoName(cmd.Name), "command", cmd.Name, cmd.Pos, false, "command"})
	}
	for _, g := range c.out.Guards {
		ms = append(ms, goClaim{GuardMethodName(g), "guard", g.Name, g.Pos, false, "guard"})
	}
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := ms[i].pos, ms[j].pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	for _, m := range ms {
		if first, ok := methods[strings.ToLower(m.goName)]; ok {
			if first.key != m.key || first.goName != m.goName {
				same := ""
				if first.goName != m.goName {
					same = fmt.Sprintf("; the Go names %q and %q differ only in case", m.goName, first.goName)
				}
				c.errorf(m.pos, "%s is the Handler method %q in Go, like %s (declared at %s)%s", m.what(), m.goName, first.what(), first.pos, same)
			}
			continue
		}
		methods[strings.ToLower(m.goName)] = m
	}

	// Client methods: commands and On<Event> for each event. Two commands
	// that clash were reported above.
	var cms []goClaim
	for _, cmd := range c.out.Commands {
		cms = append(cms, goClaim{GoName(cmd.Name), "command", cmd.Name, cmd.Pos, false, "command"})
	}
	for _, ev := range c.out.Events {
		cms = append(cms, goClaim{"On" + GoName(ev.Name), "event", ev.Name, ev.Pos, true, "event"})
	}
	sort.SliceStable(cms, func(i, j int) bool {
		a, b := cms[i].pos, cms[j].pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	clientMethods := map[string]goClaim{}
	for _, m := range cms {
		first, ok := clientMethods[strings.ToLower(m.goName)]
		if !ok {
			clientMethods[strings.ToLower(m.goName)] = m
			continue
		}
		if first.key == m.key {
			continue // two commands or two events: reported as names already
		}
		same := ""
		if first.goName != m.goName {
			same = fmt.Sprintf("; the Go names %q and %q differ only in case", m.goName, first.goName)
		}
		verb := "is"
		if m.derived {
			verb = "generates"
		}
		c.errorf(m.pos, "%s %s the Client method %q in Go, like %s (declared at %s)%s", m.what(), verb, m.goName, first.what(), first.pos, same)
	}
}
