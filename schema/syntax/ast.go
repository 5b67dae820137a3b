package syntax

import "strings"

// A Comment is one "//" comment. Text is the comment as written, "//"
// included, without trailing white space.
type Comment struct {
	Pos  Pos
	Text string
}

// A CommentGroup is a run of comments on consecutive lines, each on a line
// of its own.
type CommentGroup struct {
	List []*Comment
}

// Pos returns the position of the group's first comment.
func (g *CommentGroup) Pos() Pos {
	if g == nil || len(g.List) == 0 {
		return Pos{}
	}
	return g.List[0].Pos
}

// Text returns the group's text as documentation: each line without its
// "//" and one following space, lines joined by "\n". A nil group has no
// text.
func (g *CommentGroup) Text() string {
	if g == nil {
		return ""
	}
	lines := make([]string, len(g.List))
	for i, c := range g.List {
		t := strings.TrimPrefix(c.Text, "//")
		t = strings.TrimPrefix(t, " ")
		lines[i] = t
	}
	return strings.Join(lines, "\n")
}

// Ident is a name as written.
type Ident struct {
	Pos  Pos
	Name string
}

// An Annotation is @name or @name(args), e.g. @guard(loggedIn, admin) or
// @deprecated("use name"). Empty parentheses are the same as none.
type Annotation struct {
	Pos  Pos    // of "@"
	Name *Ident // without "@"
	Args []*Arg
}

// An Arg is an annotation argument: an identifier or a string literal.
type Arg struct {
	Pos    Pos
	Quoted bool   // a string literal
	Value  string // the identifier, or the string's decoded value
}

// Meta is what surrounds a declaration, a field or an enum value: its
// comments and its annotations. See the package documentation for which
// comment goes where.
type Meta struct {
	Floating           []*CommentGroup
	Doc                *CommentGroup
	Annotations        []*Annotation
	AnnotationComments []*Comment
	Comment            *Comment
	EndPos             Pos // just past the item's last token (its trailing comment excluded)
}

// meta gives Decl and Item access to the Meta a node embeds.
func (m *Meta) meta() *Meta { return m }

// File is a parsed schema file.
type File struct {
	Name  string // as given to Parse
	Decls []Decl // in source order; package is a declaration like the others
	Tail  []*CommentGroup
}

// Decl is a declaration: *PackageDecl, *MessageDecl, *EnumDecl, *ErrorDecl,
// *GuardDecl, *CommandDecl or *EventDecl.
type Decl interface {
	Pos() Pos // of the keyword
	meta() *Meta
	declNode()
}

// Item is a node with Meta: a Decl, a *Field or an *EnumValue.
type Item interface {
	meta() *Meta
}

// MetaOf returns the comments and annotations of a declaration, a field or
// an enum value.
func MetaOf(it Item) *Meta { return it.meta() }

// PackageDecl is `package name`.
type PackageDecl struct {
	Meta
	Keyword Pos
	Name    *Ident
}

// MessageDecl is `message Name { fields }`.
type MessageDecl struct {
	Meta
	Keyword Pos
	Name    *Ident
	Fields  *FieldList
}

// EnumDecl is `enum Name { values }`.
type EnumDecl struct {
	Meta
	Keyword     Pos
	Name        *Ident
	Lbrace      Pos
	OpenComment *Comment
	Values      []*EnumValue
	Tail        []*CommentGroup
	Rbrace      Pos
}

// EnumValue is one value of an enum.
type EnumValue struct {
	Meta
	Name *Ident
}

// ErrorDecl is `error Name`.
type ErrorDecl struct {
	Meta
	Keyword Pos
	Name    *Ident
}

// GuardDecl is `guard name rejects Error`.
type GuardDecl struct {
	Meta
	Keyword Pos
	Name    *Ident
	Rejects *Ident
}

// CommandDecl is `command name(params) -> results errors E1, E2`.
type CommandDecl struct {
	Meta
	Keyword Pos
	Name    *Ident
	Params  *Params
	Result  *Params  // nil when the command returns nothing (no "->", or "-> ()")
	Errors  []*Ident // after "errors"
}

// EventDecl is `event name { fields }`.
type EventDecl struct {
	Meta
	Keyword Pos
	Name    *Ident
	Fields  *FieldList
}

// Params are a command's parameters or results: a message type, written
// (User) or, for results, -> User; or a field list.
type Params struct {
	Pos     Pos        // of "(" or of the message name
	Message *Ident     // set when written as a message type
	Fields  *FieldList // set otherwise
}

// FieldList is a braced or parenthesised list of fields, separated by
// commas or newlines.
type FieldList struct {
	Open        Pos // "{" or "("
	OpenComment *Comment
	Fields      []*Field
	Tail        []*CommentGroup
	Close       Pos // "}" or ")"
}

// Field is `name: Type` or `name: Type?`.
type Field struct {
	Meta
	Name     *Ident
	Type     Type
	Optional bool // written with "?" after the type
}

// Type is a type expression: *NamedType, *ListType or *MapType.
type Type interface {
	Pos() Pos
	typeNode()
}

// NamedType is a scalar, message or enum name.
type NamedType struct {
	Name *Ident
}

// ListType is []Elem.
type ListType struct {
	Lbrack Pos
	Elem   Type
}

// MapType is map<Key, Value>.
type MapType struct {
	Map    Pos
	Key    Type
	Value  Type
	Rangle Pos
}

func (t *NamedType) Pos() Pos { return t.Name.Pos }
func (t *ListType) Pos() Pos  { return t.Lbrack }
func (t *MapType) Pos() Pos   { return t.Map }

func (*NamedType) typeNode() {}
func (*ListType) typeNode()  {}
func (*MapType) typeNode()   {}

func (d *PackageDecl) Pos() Pos { return d.Keyword }
func (d *MessageDecl) Pos() Pos { return d.Keyword }
func (d *EnumDecl) Pos() Pos    { return d.Keyword }
func (d *ErrorDecl) Pos() Pos   { return d.Keyword }
func (d *GuardDecl) Pos() Pos   { return d.Keyword }
func (d *CommandDecl) Pos() Pos { return d.Keyword }
func (d *EventDecl) Pos() Pos   { return d.Keyword }

func (*PackageDecl) declNode() {}
func (*MessageDecl) declNode() {}
func (*EnumDecl) declNode()    {}
func (*ErrorDecl) declNode()   {}
func (*GuardDecl) declNode()   {}
func (*CommandDecl) declNode() {}
func (*EventDecl) declNode()   {}

// TypeString returns a type expression as Print writes it.
func TypeString(t Type) string {
	var b strings.Builder
	writeType(&b, t)
	return b.String()
}

func writeType(b *strings.Builder, t Type) {
	switch t := t.(type) {
	case *NamedType:
		if t.Name != nil {
			b.WriteString(t.Name.Name)
		}
	case *ListType:
		b.WriteString("[]")
		writeType(b, t.Elem)
	case *MapType:
		b.WriteString("map<")
		writeType(b, t.Key)
		b.WriteString(", ")
		writeType(b, t.Value)
		b.WriteString(">")
	}
}
