package golang

import (
	"bytes"
	"errors"
	"fmt"
	"go/scanner"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/tools/imports"

	"github.com/duplexrpc/duplex/schema"
)

// File is one generated file.
type File struct {
	Name    string // base name, e.g. chat_duplex.go
	Content []byte
}

// Import paths of the packages generated code may use.
const (
	runtimePkg = "github.com/duplexrpc/duplex/runtime"
	wirePkg    = "github.com/duplexrpc/duplex/runtime/wire"
	uuidPkg    = "github.com/google/uuid"
)

// Generate returns the Go file for the checked schema f: chat.duplex gives
// chat_duplex.go in package chat. It is pure and deterministic: the same
// model always gives the same bytes. When the generated source does not
// format (a generator bug), the error shows the lines around each error,
// numbered, not the whole file.
func Generate(f *schema.File) ([]File, error) {
	if f == nil {
		return nil, fmt.Errorf("no schema")
	}
	if f.Package == "" {
		return nil, fmt.Errorf("%s: no package name", f.Base())
	}
	if name := OutputName(f); name[0] == '_' || name[0] == '.' {
		return nil, fmt.Errorf("%s: the go command ignores %s, whose name starts with %q; rename the schema file", f.Base(), name, name[:1])
	}
	g := &generator{file: f, imports: make(map[string]bool)}
	if err := g.generate(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Base(), err)
	}
	src := g.assemble()
	name := OutputName(f)
	out, err := imports.Process(name, src, &imports.Options{
		Comments:   true,
		TabIndent:  true,
		TabWidth:   8,
		FormatOnly: true, // the generator writes its own imports: no lookups in GOPATH or the module cache
	})
	if err != nil {
		return nil, fmt.Errorf("format %s: %w\n%s(a generator bug: please report it with the schema)", name, err, excerpt(src, err))
	}
	return []File{{Name: name, Content: out}}, nil
}

// OutputName is the name of the file generated for f: the schema's base
// name with ".duplex" replaced by "_duplex.go".
func OutputName(f *schema.File) string {
	base := f.Base()
	return strings.TrimSuffix(base, filepath.Ext(base)) + "_duplex.go"
}

// excerptContext is how many lines excerpt shows around each error line.
const excerptContext = 3

// excerpt returns the lines of src around the positions that err (a
// go/scanner.ErrorList from formatting) names, numbered, with the error
// lines marked by ">"; the whole of src when err names no position.
func excerpt(src []byte, err error) string {
	lines := strings.Split(string(src), "\n")
	bad := make(map[int]bool)
	var list scanner.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			if e.Pos.Line > 0 {
				bad[e.Pos.Line] = true
			}
		}
	}
	width := len(strconv.Itoa(len(lines)))
	var b strings.Builder
	last := 0 // the last line written
	for i, line := range lines {
		n := i + 1
		near := len(bad) == 0
		for d := -excerptContext; d <= excerptContext && !near; d++ {
			near = bad[n+d]
		}
		if !near {
			continue
		}
		if last != 0 && n > last+1 {
			b.WriteString("\t...\n")
		}
		mark := " "
		if bad[n] {
			mark = ">"
		}
		fmt.Fprintf(&b, "%s%*d\t%s\n", mark, width, n, line)
		last = n
	}
	return b.String()
}

// generator prints one Go file, printer style.
type generator struct {
	file    *schema.File
	buf     bytes.Buffer
	imports map[string]bool // import paths used by the body

	noPackageDoc bool // the file is not the package's doc (the client file)

	sortedKeys bool // the body uses duplexSortedKeys
	keyBufs    int  // key buffers declared in the current AppendJSON
	// recursive is the message whose JSON methods are being printed when
	// it contains itself (see generateAppendJSON); reach memoizes reaches.
	recursive *schema.Message
	reach     map[*schema.Message]map[*schema.Message]bool
}

// P prints its arguments and a newline.
func (g *generator) P(args ...any) {
	for _, a := range args {
		switch a := a.(type) {
		case string:
			g.buf.WriteString(a)
		case int:
			g.buf.WriteString(strconv.Itoa(a))
		default:
			fmt.Fprint(&g.buf, a)
		}
	}
	g.buf.WriteByte('\n')
}

// use records that the body uses the package at path and returns its name.
func (g *generator) use(path string) string {
	g.imports[path] = true
	return pkgName(path)
}

// pkgName is the name of the package at path: its last element, except
// for the Go client runtime (clients/go, package duplexclient), which
// generated code imports with its name.
func pkgName(path string) string {
	if path == clientPkg {
		return "duplexclient"
	}
	return path[strings.LastIndexByte(path, '/')+1:]
}

// comment prints text as a // comment, one line per line of text.
func (g *generator) comment(text string) {
	text = strings.TrimRight(text, "\n")
	if text == "" {
		return
	}
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimRight(line, " \t")
		if line == "" {
			g.P("//")
		} else {
			g.P("// ", line)
		}
	}
}

// doc prints a doc comment: the schema's doc (or fallback when there is
// none), then extra paragraphs, then the deprecation notice.
func (g *generator) doc(doc, fallback string, dep *schema.Deprecation, extra ...string) {
	var paras []string
	switch {
	case strings.TrimSpace(doc) != "":
		paras = append(paras, doc) // the schema's own lines, as written
	case fallback != "":
		paras = append(paras, wrapText(fallback))
	}
	for _, e := range extra {
		if e != "" {
			paras = append(paras, wrapText(e))
		}
	}
	if dep != nil {
		reason := dep.Reason
		if reason == "" {
			reason = "marked @deprecated in " + g.file.Base() + "."
		}
		paras = append(paras, wrapText("Deprecated: "+reason))
	}
	for i, p := range paras {
		if i > 0 {
			g.P("//")
		}
		g.comment(p)
	}
}

// wrapText breaks generated prose into lines of at most 74 bytes.
func wrapText(s string) string {
	var (
		b    strings.Builder
		line int
	)
	for i, w := range strings.Fields(s) {
		if i > 0 {
			if line+1+len(w) > 74 {
				b.WriteByte('\n')
				line = 0
			} else {
				b.WriteByte(' ')
				line++
			}
		}
		b.WriteString(w)
		line += len(w)
	}
	return b.String()
}

// assemble returns the header, package clause, imports and body.
func (g *generator) assemble() []byte {
	var b bytes.Buffer
	b.WriteString("// Code generated by duplex. DO NOT EDIT.\n")
	b.WriteString("// Source: " + g.file.Base() + "\n\n")
	if strings.TrimSpace(g.file.Doc) != "" && !g.noPackageDoc {
		for line := range strings.SplitSeq(strings.TrimRight(g.file.Doc, "\n"), "\n") {
			if line = strings.TrimRight(line, " \t"); line == "" {
				b.WriteString("//\n")
			} else {
				b.WriteString("// " + line + "\n")
			}
		}
	}
	b.WriteString("package " + g.file.Package + "\n\n")
	paths := make([]string, 0, len(g.imports))
	for p := range g.imports {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if len(paths) > 0 {
		b.WriteString("import (\n")
		for _, p := range paths {
			b.WriteString("\t")
			if name := pkgName(p); name != p[strings.LastIndexByte(p, '/')+1:] {
				b.WriteString(name + " ")
			}
			b.WriteString(strconv.Quote(p) + "\n")
		}
		b.WriteString(")\n\n")
	}
	b.Write(g.buf.Bytes())
	return b.Bytes()
}

// generate prints the body.
func (g *generator) generate() error {
	g.P("// The runtime this file was generated for speaks wire protocol v1.")
	g.P("const _ = ", g.use(runtimePkg), ".SupportsV1")
	g.P()
	for _, e := range g.file.Enums {
		g.generateEnum(e)
	}
	for _, m := range g.file.Messages {
		if err := g.generateMessage(m); err != nil {
			return err
		}
	}
	for _, c := range g.file.Commands {
		if err := g.generateCommandTypes(c); err != nil {
			return err
		}
	}
	for _, e := range g.file.Events {
		if err := g.generateEvent(e); err != nil {
			return err
		}
	}
	for _, e := range g.file.Errors {
		g.generateError(e)
	}
	g.generateHandler()
	g.generateUnimplementedHandler()
	g.generateRegister()
	g.generateHelpers()
	return nil
}
