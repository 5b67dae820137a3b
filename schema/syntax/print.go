package syntax

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// Print formats a file the canonical way, as `duplex fmt` does:
//
//   - one declaration after the other, separated by one blank line; a run
//     of errors, guards or commands written on adjacent lines stays
//     together;
//   - one field or enum value per line, indented by four spaces, with at
//     most one blank line kept between them where the source had one;
//   - command parameters and results on the command's line, unless one of
//     them carries a comment or an annotation: then one per line;
//   - annotations together on one line above what they annotate, the doc
//     comment above them;
//   - `errors A, B` on the command's line;
//   - every comment kept where it stood: doc comments, comments at the end
//     of a line, and free-standing comment groups (followed by a blank
//     line).
//
// Print expects a tree without syntax errors; the blank lines it keeps are
// read from the tree's positions.
func Print(f *File) []byte {
	pr := &printer{}
	pr.file(f)
	return pr.render()
}

type printer struct {
	lines  []outLine
	indent int
}

// outLine is one output line. Comments at the end of adjacent lines that
// hold a field, an enum value or a one-line declaration are aligned.
type outLine struct {
	indent  int
	text    string
	comment string // "" for none
	align   bool
}

func (pr *printer) line(s string) { pr.lines = append(pr.lines, outLine{indent: pr.indent, text: s}) }

// item prints a line that may end with a comment aligned with its
// neighbours'.
func (pr *printer) item(s string, c *Comment) {
	l := outLine{indent: pr.indent, text: s, align: true}
	if c != nil {
		l.comment = c.Text
	}
	pr.lines = append(pr.lines, l)
}

func (pr *printer) blank() { pr.lines = append(pr.lines, outLine{}) }

func (pr *printer) render() []byte {
	var buf bytes.Buffer
	for i := 0; i < len(pr.lines); {
		// A run of aligned lines with comments, at one indentation.
		j, width := i, 0
		for j < len(pr.lines) {
			l := pr.lines[j]
			if !l.align || l.comment == "" || l.indent != pr.lines[i].indent {
				break
			}
			width = max(width, utf8.RuneCountInString(l.text))
			j++
		}
		if j == i {
			j = i + 1
		}
		for _, l := range pr.lines[i:j] {
			if l.text != "" || l.comment != "" {
				buf.WriteString(strings.Repeat("    ", l.indent))
			}
			buf.WriteString(l.text)
			if l.comment != "" {
				pad := 1
				if width > 0 {
					pad = width - utf8.RuneCountInString(l.text) + 1
				}
				buf.WriteString(strings.Repeat(" ", pad))
				buf.WriteString(l.comment)
			}
			buf.WriteByte('\n')
		}
		i = j
	}
	return buf.Bytes()
}

func (pr *printer) group(g *CommentGroup) {
	for _, c := range g.List {
		pr.line(c.Text)
	}
}

// floating prints free-standing comment groups, each followed by a blank
// line so that none reads as a doc comment.
func (pr *printer) floating(gs []*CommentGroup) {
	for _, g := range gs {
		pr.group(g)
		pr.blank()
	}
}

func (pr *printer) file(f *File) {
	var prev Decl
	for _, d := range f.Decls {
		if prev != nil && !grouped(prev, d) {
			pr.blank()
		}
		pr.decl(d)
		prev = d
	}
	for i, g := range f.Tail {
		if prev != nil || i > 0 {
			pr.blank()
		}
		pr.group(g)
	}
}

// grouped reports whether d follows prev without a blank line: errors,
// guards and commands written on adjacent lines.
func grouped(prev, d Decl) bool {
	switch prev.(type) {
	case *ErrorDecl, *GuardDecl, *CommandDecl:
	default:
		return false
	}
	if declKind(prev) != declKind(d) || len(d.meta().Floating) > 0 {
		return false
	}
	end := prev.meta().EndPos.Line
	return end > 0 && firstLine(d, d.Pos()) == end+1
}

func declKind(d Decl) string {
	switch d.(type) {
	case *PackageDecl:
		return "package"
	case *MessageDecl:
		return "message"
	case *EnumDecl:
		return "enum"
	case *ErrorDecl:
		return "error"
	case *GuardDecl:
		return "guard"
	case *CommandDecl:
		return "command"
	case *EventDecl:
		return "event"
	}
	return ""
}

// firstLine returns the first line of an item: its floating comments, doc
// comment, annotations or the item itself at pos.
func firstLine(it Item, pos Pos) int {
	m := it.meta()
	line := pos.Line
	consider := func(p Pos) {
		if p.Line > 0 && p.Line < line {
			line = p.Line
		}
	}
	if len(m.Floating) > 0 {
		consider(m.Floating[0].Pos())
	}
	consider(m.Doc.Pos())
	if len(m.Annotations) > 0 {
		consider(m.Annotations[0].Pos)
	}
	return line
}

// head prints an item's floating comments, doc and annotations.
func (pr *printer) head(m *Meta) {
	pr.floating(m.Floating)
	if m.Doc != nil {
		pr.group(m.Doc)
	}
	if len(m.Annotations) == 0 {
		return
	}
	var b strings.Builder
	onLine := map[int]bool{}
	for i, a := range m.Annotations {
		if i > 0 {
			b.WriteByte(' ')
		}
		writeAnnotation(&b, a)
		onLine[a.Pos.Line] = true
	}
	cs := m.AnnotationComments
	if len(cs) > 0 && onLine[cs[0].Pos.Line] {
		b.WriteByte(' ')
		b.WriteString(cs[0].Text)
		cs = cs[1:]
	}
	pr.line(b.String())
	for _, c := range cs {
		pr.line(c.Text)
	}
	if len(cs) > 0 && m.Doc == nil {
		pr.blank() // else they would read as the doc comment
	}
}

func writeAnnotation(b *strings.Builder, a *Annotation) {
	b.WriteByte('@')
	if a.Name != nil {
		b.WriteString(a.Name.Name)
	}
	if len(a.Args) == 0 {
		return
	}
	b.WriteByte('(')
	for i, arg := range a.Args {
		if i > 0 {
			b.WriteString(", ")
		}
		if arg.Quoted {
			b.WriteString(Quote(arg.Value))
		} else {
			b.WriteString(arg.Value)
		}
	}
	b.WriteByte(')')
}

func withComment(s string, c *Comment) string {
	if c == nil {
		return s
	}
	return s + " " + c.Text
}

func name(id *Ident) string {
	if id == nil {
		return ""
	}
	return id.Name
}

func (pr *printer) decl(d Decl) {
	m := d.meta()
	pr.head(m)
	switch d := d.(type) {
	case *PackageDecl:
		pr.item("package "+name(d.Name), m.Comment)
	case *MessageDecl:
		pr.fieldBody("message "+name(d.Name)+" ", d.Fields, m.Comment)
	case *EventDecl:
		pr.fieldBody("event "+name(d.Name)+" ", d.Fields, m.Comment)
	case *EnumDecl:
		pr.enumBody(d)
	case *ErrorDecl:
		pr.item("error "+name(d.Name), m.Comment)
	case *GuardDecl:
		pr.item("guard "+name(d.Name)+" rejects "+name(d.Rejects), m.Comment)
	case *CommandDecl:
		pr.command(d)
	}
}

// fieldBody prints a braced field list; prefix is what precedes "{" and c
// the comment after "}".
func (pr *printer) fieldBody(prefix string, l *FieldList, c *Comment) {
	if l == nil {
		l = &FieldList{}
	}
	if len(l.Fields) == 0 && l.OpenComment == nil && len(l.Tail) == 0 {
		pr.line(withComment(prefix+"{}", c))
		return
	}
	pr.line(withComment(prefix+"{", l.OpenComment))
	pr.fields(l)
	pr.line(withComment("}", c))
}

// fields prints a list's fields one per line, then its tail comments.
func (pr *printer) fields(l *FieldList) {
	items := make([]Item, len(l.Fields))
	for i, f := range l.Fields {
		items[i] = f
	}
	pr.items(items, l.Open.Line, l.Tail, func(it Item) string {
		f := it.(*Field)
		return fieldString(f)
	}, func(it Item) Pos { return it.(*Field).Name.Pos })
}

func fieldString(f *Field) string {
	s := name(f.Name) + ": " + TypeString(f.Type)
	if f.Optional {
		s += "?"
	}
	return s
}

// items prints the items of a list, indented, keeping one blank line where
// the source had at least one.
func (pr *printer) items(items []Item, openLine int, tail []*CommentGroup, text func(Item) string, pos func(Item) Pos) {
	pr.indent++
	prevEnd := openLine
	for i, it := range items {
		m := it.meta()
		if i > 0 && prevEnd > 0 && firstLine(it, pos(it)) > prevEnd+1 {
			pr.blank()
		}
		pr.head(m)
		pr.item(text(it), m.Comment)
		prevEnd = m.EndPos.Line
	}
	for i, g := range tail {
		if i > 0 || len(items) > 0 && prevEnd > 0 && g.Pos().Line > prevEnd+1 {
			pr.blank()
		}
		pr.group(g)
	}
	pr.indent--
}

func (pr *printer) enumBody(d *EnumDecl) {
	prefix := "enum " + name(d.Name) + " "
	if len(d.Values) == 0 && d.OpenComment == nil && len(d.Tail) == 0 {
		pr.line(withComment(prefix+"{}", d.Comment))
		return
	}
	pr.line(withComment(prefix+"{", d.OpenComment))
	items := make([]Item, len(d.Values))
	for i, v := range d.Values {
		items[i] = v
	}
	pr.items(items, d.Lbrace.Line, d.Tail, func(it Item) string {
		return name(it.(*EnumValue).Name)
	}, func(it Item) Pos { return it.(*EnumValue).Name.Pos })
	pr.line(withComment("}", d.Comment))
}

// inline reports whether a field list fits on one line: no comment and no
// annotation anywhere in it.
func inline(l *FieldList) bool {
	if l.OpenComment != nil || len(l.Tail) > 0 {
		return false
	}
	for _, f := range l.Fields {
		m := &f.Meta
		if len(m.Floating) > 0 || m.Doc != nil || len(m.Annotations) > 0 || len(m.AnnotationComments) > 0 || m.Comment != nil {
			return false
		}
	}
	return true
}

// command prints a command. Parameter lists that cannot stand on one line
// are printed one parameter per line; the command's line goes on after
// their ")".
func (pr *printer) command(d *CommandDecl) {
	var b strings.Builder
	b.WriteString("command ")
	b.WriteString(name(d.Name))
	flush := func() {
		pr.line(b.String())
		b.Reset()
	}
	params := func(p *Params, result bool) {
		if p == nil {
			p = &Params{Fields: &FieldList{}}
		}
		if p.Message != nil {
			if result {
				b.WriteString(p.Message.Name)
			} else {
				b.WriteString("(" + p.Message.Name + ")")
			}
			return
		}
		l := p.Fields
		if l == nil {
			l = &FieldList{}
		}
		if inline(l) {
			b.WriteByte('(')
			for i, f := range l.Fields {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(fieldString(f))
			}
			b.WriteByte(')')
			return
		}
		b.WriteString("(")
		if l.OpenComment != nil {
			b.WriteString(" " + l.OpenComment.Text)
		}
		flush()
		pr.fields(l)
		b.WriteString(")")
	}
	params(d.Params, false)
	if d.Result != nil {
		b.WriteString(" -> ")
		params(d.Result, true)
	}
	if len(d.Errors) > 0 {
		b.WriteString(" errors ")
		for i, e := range d.Errors {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(e.Name)
		}
	}
	pr.item(b.String(), d.Comment)
}
