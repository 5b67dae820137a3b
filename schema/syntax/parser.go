package syntax

import "fmt"

// Parse parses a schema file. filename is used in positions only. On
// syntax errors it returns the tree it could build and an ErrorList, sorted
// by position, with at most one error per line.
func Parse(filename string, src []byte) (*File, error) {
	p := &parser{file: filename, errLines: map[int]bool{}}
	p.toks = lex(filename, src, p.errorAt)
	f := p.parseFile()
	if len(p.errs) > 0 {
		p.errs.sort()
		return f, p.errs
	}
	return f, nil
}

type parser struct {
	file     string
	toks     []token // ends with EOF
	i        int
	prev     token // the last token consumed other than NEWLINE and COMMENT
	errs     ErrorList
	errLines map[int]bool
	depth    int // of type expressions
}

// errorAt records an error, keeping only the first one of each line: the
// rest of a broken line mostly repeats it.
func (p *parser) errorAt(pos Pos, msg string) {
	if p.errLines[pos.Line] {
		return
	}
	p.errLines[pos.Line] = true
	p.errs = append(p.errs, &Error{Pos: pos, Msg: msg})
}

func (p *parser) tok() *token { return &p.toks[p.i] }

// peek returns the n-th token after the current one.
func (p *parser) peek(n int) *token {
	if p.i+n < len(p.toks) {
		return &p.toks[p.i+n]
	}
	return &p.toks[len(p.toks)-1]
}

func (p *parser) next() {
	t := p.toks[p.i]
	if t.kind == EOF {
		return
	}
	if t.kind != NEWLINE && t.kind != COMMENT {
		p.prev = t
	}
	p.i++
}

func describe(t *token) string {
	switch t.kind {
	case EOF, NEWLINE, COMMENT:
		return t.kind.String()
	case IDENT:
		return fmt.Sprintf("%q", t.lit)
	case STRING:
		return "string " + t.lit
	case ILLEGAL:
		return fmt.Sprintf("%q", t.lit)
	}
	return fmt.Sprintf("%q", t.kind.String())
}

// expected reports that the current token is not what was expected.
func (p *parser) expected(what string) {
	p.errorAt(p.tok().pos, fmt.Sprintf("expected %s, found %s", what, describe(p.tok())))
}

// got consumes the current token if it is of kind k.
func (p *parser) got(k Token) bool {
	if p.tok().kind == k {
		p.next()
		return true
	}
	return false
}

func (p *parser) expect(k Token, what string) (Pos, bool) {
	t := p.tok()
	if t.kind != k {
		p.expected(what)
		return Pos{}, false
	}
	pos := t.pos
	p.next()
	return pos, true
}

func (p *parser) ident(what string) (*Ident, bool) {
	t := p.tok()
	if t.kind != IDENT {
		p.expected(what)
		return nil, false
	}
	id := &Ident{Pos: t.pos, Name: t.lit}
	p.next()
	return id, true
}

// atLineStart reports whether the current token is the first of its line.
func (p *parser) atLineStart() bool {
	return p.i == 0 || p.toks[p.i-1].kind == NEWLINE
}

// isDeclStart reports whether the current token starts a declaration: a
// declaration keyword followed by a name.
func (p *parser) isDeclStart() bool {
	t := p.tok()
	return t.kind == IDENT && declKeywords[t.lit] && p.peek(1).kind == IDENT
}

// trailing consumes a comment on the line of the last token.
func (p *parser) trailing() *Comment {
	t := p.tok()
	if t.kind == COMMENT && t.pos.Line == p.prev.pos.Line && p.prev.kind != EOF && p.i > 0 {
		p.next()
		return &Comment{Pos: t.pos, Text: t.lit}
	}
	return nil
}

// leading consumes newlines and comments before an item, grouping the
// comments. If itemNext, a group ending on the line just above the next
// token is returned as doc.
func (p *parser) leading(itemNext func() bool) (floating []*CommentGroup, doc *CommentGroup) {
	var cur *CommentGroup
	last := -1
	for {
		t := p.tok()
		if t.kind == COMMENT {
			if cur == nil || t.pos.Line != last+1 {
				cur = &CommentGroup{}
				floating = append(floating, cur)
			}
			cur.List = append(cur.List, &Comment{Pos: t.pos, Text: t.lit})
			last = t.pos.Line
		} else if t.kind != NEWLINE {
			break
		}
		p.next()
	}
	if n := len(floating); n > 0 && last == p.tok().pos.Line-1 && itemNext() {
		doc = floating[n-1]
		floating = floating[:n-1]
	}
	if len(floating) == 0 {
		floating = nil
	}
	return floating, doc
}

func (p *parser) parseFile() *File {
	f := &File{Name: p.file}
	for {
		floating, doc := p.leading(func() bool { return p.tok().kind != EOF })
		if p.tok().kind == EOF {
			f.Tail = appendGroup(floating, doc)
			return f
		}
		start := p.i
		d, ok := p.parseDecl(Meta{Floating: floating, Doc: doc})
		if d != nil {
			f.Decls = append(f.Decls, d)
		}
		if !ok {
			p.sync(start)
		}
	}
}

func appendGroup(gs []*CommentGroup, g *CommentGroup) []*CommentGroup {
	if g != nil {
		gs = append(gs, g)
	}
	return gs
}

// sync skips to the next declaration keyword at the start of a line,
// always moving past the token at start.
func (p *parser) sync(start int) {
	if p.i == start {
		p.next()
	}
	for p.tok().kind != EOF && !(p.atLineStart() && p.isDeclStart()) {
		p.next()
	}
}

// parseMeta parses the annotations before an item and the comments among
// them, completing m (whose Floating and Doc are set). It stops at the item
// itself.
func (p *parser) parseMeta(m *Meta) bool {
	if p.tok().kind != AT {
		return true
	}
	type regionComment struct {
		c        *Comment
		sameLine bool // on an annotation's line
	}
	var region []regionComment
	for p.tok().kind == AT {
		a, ok := p.parseAnnotation()
		if !ok {
			return false
		}
		m.Annotations = append(m.Annotations, a)
		for {
			t := p.tok()
			if t.kind == COMMENT {
				region = append(region, regionComment{&Comment{Pos: t.pos, Text: t.lit}, t.pos.Line == p.prev.pos.Line})
			} else if t.kind != NEWLINE {
				break
			}
			p.next()
		}
	}
	// With no doc above the annotations, the comment lines directly above
	// the item are its doc.
	n := len(region)
	if m.Doc == nil {
		line := p.tok().pos.Line - 1
		k := n
		for k > 0 && !region[k-1].sameLine && region[k-1].c.Pos.Line == line {
			k--
			line--
		}
		if k < n {
			m.Doc = &CommentGroup{}
			for _, rc := range region[k:] {
				m.Doc.List = append(m.Doc.List, rc.c)
			}
			n = k
		}
	}
	for _, rc := range region[:n] {
		m.AnnotationComments = append(m.AnnotationComments, rc.c)
	}
	return true
}

func (p *parser) parseAnnotation() (*Annotation, bool) {
	a := &Annotation{Pos: p.tok().pos}
	p.next() // @
	t := p.tok()
	if t.kind != IDENT || t.pos.Line != a.Pos.Line || t.pos.Col != a.Pos.Col+1 {
		p.expected("annotation name after \"@\"")
		return nil, false
	}
	a.Name = &Ident{Pos: t.pos, Name: t.lit}
	p.next()
	if p.tok().kind != LPAREN {
		return a, true
	}
	p.next()
	if p.got(RPAREN) {
		return a, true
	}
	for {
		t := p.tok()
		switch t.kind {
		case IDENT:
			a.Args = append(a.Args, &Arg{Pos: t.pos, Value: t.lit})
		case STRING:
			a.Args = append(a.Args, &Arg{Pos: t.pos, Quoted: true, Value: t.val})
		default:
			p.expected("identifier or string")
			return nil, false
		}
		p.next()
		if p.got(RPAREN) {
			return a, true
		}
		if !p.got(COMMA) {
			p.expected(`"," or ")"`)
			return nil, false
		}
	}
}

// parseDecl parses one declaration and the end of its line. It returns
// false after an error; the caller then resynchronises.
func (p *parser) parseDecl(m Meta) (Decl, bool) {
	if !p.parseMeta(&m) {
		return nil, false
	}
	t := p.tok()
	if t.kind != IDENT || !declKeywords[t.lit] {
		if len(m.Annotations) > 0 {
			p.expected("declaration after annotations")
		} else {
			p.expected("declaration")
		}
		return nil, false
	}
	kw := t.pos
	p.next()
	var (
		d    Decl
		ok   bool
		more string // what else may follow on the line
	)
	switch t.lit {
	case "package":
		x := &PackageDecl{Meta: m, Keyword: kw}
		x.Name, ok = p.ident("package name")
		d, more = x, "newline"
	case "message":
		x := &MessageDecl{Meta: m, Keyword: kw}
		if x.Name, ok = p.ident("message name"); ok {
			x.Fields, ok = p.parseFieldList(LBRACE, RBRACE)
		}
		d, more = x, "newline"
	case "enum":
		x := &EnumDecl{Meta: m, Keyword: kw}
		if x.Name, ok = p.ident("enum name"); ok {
			ok = p.parseEnumBody(x)
		}
		d, more = x, "newline"
	case "error":
		x := &ErrorDecl{Meta: m, Keyword: kw}
		x.Name, ok = p.ident("error name")
		d, more = x, "newline"
	case "guard":
		x := &GuardDecl{Meta: m, Keyword: kw}
		if x.Name, ok = p.ident("guard name"); ok {
			if t := p.tok(); t.kind != IDENT || t.lit != "rejects" {
				p.expected(`"rejects"`)
				ok = false
			} else {
				p.next()
				x.Rejects, ok = p.ident("error name after \"rejects\"")
			}
		}
		d, more = x, "newline"
	case "command":
		x := &CommandDecl{Meta: m, Keyword: kw}
		d = x
		ok, more = p.parseCommand(x)
	case "event":
		x := &EventDecl{Meta: m, Keyword: kw}
		if x.Name, ok = p.ident("event name"); ok {
			x.Fields, ok = p.parseFieldList(LBRACE, RBRACE)
		}
		d, more = x, "newline"
	}
	if !ok {
		return d, false
	}
	dm := d.meta()
	dm.EndPos = p.prev.end
	dm.Comment = p.trailing()
	if k := p.tok().kind; k != NEWLINE && k != EOF {
		p.expected(more)
		return d, false
	}
	return d, true
}

// parseCommand parses a command after its keyword. more says what else
// could have followed on the line.
func (p *parser) parseCommand(x *CommandDecl) (ok bool, more string) {
	if x.Name, ok = p.ident("command name"); !ok {
		return false, ""
	}
	if p.tok().kind != LPAREN {
		p.expected(`"("`)
		return false, ""
	}
	if x.Params, ok = p.parseParams(); !ok {
		return false, ""
	}
	more = `"->", "errors" or newline`
	if p.got(ARROW) {
		switch p.tok().kind {
		case LPAREN:
			if x.Result, ok = p.parseParams(); !ok {
				return false, ""
			}
			if l := x.Result.Fields; l != nil && len(l.Fields) == 0 && l.OpenComment == nil && len(l.Tail) == 0 {
				x.Result = nil // "-> ()" is no result
			}
		case IDENT:
			t := p.tok()
			if t.lit == "errors" {
				p.expected(`"(" or message name after "->"`)
				return false, ""
			}
			x.Result = &Params{Pos: t.pos, Message: &Ident{Pos: t.pos, Name: t.lit}}
			p.next()
		default:
			p.expected(`"(" or message name after "->"`)
			return false, ""
		}
		more = `"errors" or newline`
	}
	if t := p.tok(); t.kind == IDENT && t.lit == "errors" {
		p.next()
		for {
			id, ok := p.ident("error name")
			if !ok {
				return false, ""
			}
			x.Errors = append(x.Errors, id)
			if !p.got(COMMA) {
				break
			}
		}
		more = `"," or newline`
	}
	return true, more
}

// parseParams parses "(" Message ")" or a parenthesised field list.
func (p *parser) parseParams() (*Params, bool) {
	lparen := p.tok().pos
	if p.peek(1).kind == IDENT && p.peek(2).kind == RPAREN {
		t := p.peek(1)
		p.next()
		p.next()
		p.next()
		return &Params{Pos: lparen, Message: &Ident{Pos: t.pos, Name: t.lit}}, true
	}
	l, ok := p.parseFieldList(LPAREN, RPAREN)
	return &Params{Pos: lparen, Fields: l}, ok
}

// parseList parses the items of a braced or parenthesised list, separated
// by commas or newlines, from the opening token to the closing one. An
// error inside an item skips the rest of its line. A declaration keyword
// where an item should start means the closer is missing: that is reported
// and the list ends there, so the declaration parses normally.
func (p *parser) parseList(open, close Token, item func(Meta) (*Meta, bool)) (openPos Pos, openComment *Comment, tail []*CommentGroup, closePos Pos, ok bool) {
	openPos, ok = p.expect(open, fmt.Sprintf("%q", open.String()))
	if !ok {
		return
	}
	openComment = p.trailing()
	itemNext := func() bool {
		k := p.tok().kind
		return k != close && k != EOF && !p.isDeclStart()
	}
	for {
		floating, doc := p.leading(itemNext)
		t := p.tok()
		if t.kind == close {
			tail = appendGroup(floating, doc)
			closePos = t.pos
			p.next()
			return openPos, openComment, tail, closePos, true
		}
		if t.kind == EOF || p.isDeclStart() {
			tail = appendGroup(floating, doc)
			p.expected(fmt.Sprintf("%q", close.String()))
			return openPos, openComment, tail, closePos, false
		}
		m, ok := item(Meta{Floating: floating, Doc: doc})
		if !ok {
			p.skipLine(close)
			continue
		}
		m.EndPos = p.prev.end
		comma := p.got(COMMA)
		m.Comment = p.trailing()
		switch k := p.tok().kind; {
		case k == NEWLINE || k == close || k == EOF || comma:
		default:
			p.expected(fmt.Sprintf(`",", newline or %q`, close.String()))
			p.skipLine(close)
		}
	}
}

// skipLine skips to the end of the line or to the list's closer.
func (p *parser) skipLine(close Token) {
	for {
		switch p.tok().kind {
		case NEWLINE, EOF, close:
			return
		}
		p.next()
	}
}

func (p *parser) parseFieldList(open, close Token) (*FieldList, bool) {
	l := &FieldList{}
	var ok bool
	l.Open, l.OpenComment, l.Tail, l.Close, ok = p.parseList(open, close, func(m Meta) (*Meta, bool) {
		f, ok := p.parseField(m)
		if !ok {
			return nil, false
		}
		l.Fields = append(l.Fields, f)
		return &f.Meta, true
	})
	return l, ok
}

func (p *parser) parseEnumBody(x *EnumDecl) bool {
	var ok bool
	x.Lbrace, x.OpenComment, x.Tail, x.Rbrace, ok = p.parseList(LBRACE, RBRACE, func(m Meta) (*Meta, bool) {
		if !p.parseMeta(&m) {
			return nil, false
		}
		name, ok := p.ident("enum value")
		if !ok {
			return nil, false
		}
		v := &EnumValue{Meta: m, Name: name}
		x.Values = append(x.Values, v)
		return &v.Meta, true
	})
	return ok
}

func (p *parser) parseField(m Meta) (*Field, bool) {
	if !p.parseMeta(&m) {
		return nil, false
	}
	f := &Field{Meta: m}
	var ok bool
	if f.Name, ok = p.ident("field name"); !ok {
		return nil, false
	}
	if _, ok = p.expect(COLON, `":" after field name`); !ok {
		return nil, false
	}
	if f.Type, ok = p.parseType(); !ok {
		return nil, false
	}
	f.Optional = p.got(QUESTION)
	return f, true
}

// maxTypeDepth bounds the nesting of list and map types, so that no input
// can make the parser recurse without limit.
const maxTypeDepth = 100

func (p *parser) parseType() (Type, bool) {
	t := p.tok()
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxTypeDepth {
		p.errorAt(t.pos, "type nested too deeply")
		return nil, false
	}
	switch t.kind {
	case LBRACK:
		p.next()
		if _, ok := p.expect(RBRACK, `"]"`); !ok {
			return nil, false
		}
		elem, ok := p.parseType()
		if !ok {
			return nil, false
		}
		return &ListType{Lbrack: t.pos, Elem: elem}, true
	case IDENT:
		if t.lit == "map" && p.peek(1).kind == LANGLE {
			p.next()
			p.next()
			m := &MapType{Map: t.pos}
			var ok bool
			if m.Key, ok = p.parseType(); !ok {
				return nil, false
			}
			if _, ok = p.expect(COMMA, `","`); !ok {
				return nil, false
			}
			if m.Value, ok = p.parseType(); !ok {
				return nil, false
			}
			if p.tok().kind == QUESTION {
				p.errorAt(p.tok().pos, `map values cannot be optional: "?" goes after a field's whole type`)
				return nil, false
			}
			if m.Rangle, ok = p.expect(RANGLE, `">"`); !ok {
				return nil, false
			}
			return m, true
		}
		p.next()
		return &NamedType{Name: &Ident{Pos: t.pos, Name: t.lit}}, true
	}
	p.expected("type")
	return nil, false
}
