package typescript

import (
	"bytes"
	"fmt"
	"strings"
)

// printer writes indented lines, two spaces per level.
type printer struct {
	buf    bytes.Buffer
	indent int
}

// P prints its arguments, formatted with %v and concatenated, as one line at
// the current indentation; P() prints an empty line.
func (p *printer) P(args ...any) {
	var line strings.Builder
	for _, a := range args {
		fmt.Fprint(&line, a)
	}
	if line.Len() > 0 {
		p.buf.WriteString(strings.Repeat("  ", p.indent))
		p.buf.WriteString(line.String())
	}
	p.buf.WriteByte('\n')
}

func (p *printer) in()  { p.indent++ }
func (p *printer) out() { p.indent-- }

// doc prints lines as a JSDoc comment: /** one line */ or a block.
func (p *printer) doc(lines []string) {
	switch len(lines) {
	case 0:
		return
	case 1:
		p.P("/** ", escapeDoc(lines[0]), " */")
		return
	}
	p.P("/**")
	for _, l := range lines {
		if l = escapeDoc(l); l == "" {
			p.P(" *")
		} else {
			p.P(" * ", l)
		}
	}
	p.P(" */")
}

// escapeDoc keeps a doc line from ending its comment.
func escapeDoc(s string) string {
	return strings.TrimRight(strings.ReplaceAll(s, "*/", "*\\/"), " \t")
}

func (p *printer) bytes() []byte { return bytes.Clone(p.buf.Bytes()) }
