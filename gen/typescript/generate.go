package typescript

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/duplexrpc/duplex/clients/ts"
	"github.com/duplexrpc/duplex/schema"
)

// File is one generated file.
type File struct {
	Name    string // base name, e.g. chat.duplex.ts; write all files into one directory
	Content []byte
}

// Generate returns the files of the TypeScript client of the checked schema
// f, sorted by name: for chat.duplex, chat.duplex.d.ts, chat.duplex.js,
// chat.duplex.ts, duplex.d.ts and duplex.js. They belong in one directory:
// the generated module imports the runtime as "./duplex.js". Generate is
// pure and deterministic: the same model always gives the same bytes.
//
// It fails, with one "file:line:col: message" line per problem, when
// generated TypeScript names would collide (see the package doc).
func Generate(f *schema.File) ([]File, error) {
	if f == nil {
		return nil, fmt.Errorf("generate typescript: no schema")
	}
	if f.Package == "" {
		return nil, fmt.Errorf("generate typescript: %s: no package name", f.Base())
	}
	if err := checkNames(f); err != nil {
		return nil, err
	}
	base := moduleName(f)
	files := []File{{Name: ts.JSName, Content: ts.JS()}, {Name: ts.DTSName, Content: ts.DTS()}}
	for _, m := range []mode{modeTS, modeJS, modeDTS} {
		g := newGenerator(f, m)
		if err := g.generateFile(); err != nil {
			return nil, fmt.Errorf("generate typescript: %s: %w", f.Base(), err)
		}
		files = append(files, File{Name: base + m.ext(), Content: g.p.bytes()})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

// moduleName is the generated module's name without extension: the schema
// file's base name ("chat.duplex"), or "<package>.duplex" without one.
func moduleName(f *schema.File) string {
	base := f.Base()
	if base == "." || base == string(filepath.Separator) || base == "" {
		return f.Package + ".duplex"
	}
	return base
}

// checkNames reports generated names that collide, in position order.
func checkNames(f *schema.File) error {
	type owner struct {
		what string
		pos  schema.Pos
	}
	var errs []posError
	names := make(map[string]owner)
	add := func(name, what string, pos schema.Pos) {
		if first, ok := names[name]; ok {
			msg := fmt.Sprintf("%s is named %s in TypeScript, like %s", what, name, first.what)
			if first.pos.Line > 0 {
				msg += fmt.Sprintf(" (at %s)", first.pos)
			}
			errs = append(errs, posError{pos, msg})
			return
		}
		names[name] = owner{what, pos}
	}
	for _, name := range globals {
		add(name, "the global "+name, schema.Pos{})
	}
	add(clientName(f), "the client class", schema.Pos{})
	add(eventsName(f), "the events map", schema.Pos{})
	for _, e := range f.Enums {
		add(e.Name, fmt.Sprintf("enum %q", e.Name), e.Pos)
	}
	for _, m := range f.Messages {
		add(m.Name, fmt.Sprintf("message %q", m.Name), m.Pos)
	}
	for _, e := range f.Errors {
		add(errorClass(e), fmt.Sprintf("the class of error %q", e.Name), e.Pos)
		add(errorGuard(e), fmt.Sprintf("the guard of error %q", e.Name), e.Pos)
	}
	for _, c := range f.Commands {
		if clientMembers[c.Name] {
			errs = append(errs, posError{c.Pos, fmt.Sprintf("command %q would override the TypeScript client's own %s; rename it", c.Name, c.Name)})
		}
		if c.Args.Message == nil && len(c.Args.Fields) > 0 {
			add(argsType(c), fmt.Sprintf("the arguments of command %q", c.Name), c.Pos)
		}
		if c.Result.Message == nil && len(c.Result.Fields) > 0 {
			add(resultType(c), fmt.Sprintf("the result of command %q", c.Name), c.Pos)
		}
	}
	for _, e := range f.Events {
		add(eventName(e), fmt.Sprintf("the data of event %q", e.Name), e.Pos)
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].pos, errs[j].pos
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// posError is a problem at a position of the schema.
type posError struct {
	pos schema.Pos
	msg string
}

func (e posError) Error() string { return e.pos.String() + ": " + e.msg }

// mode is the file a generator prints.
type mode int

const (
	modeTS  mode = iota // chat.duplex.ts: types and code
	modeJS              // chat.duplex.js: code only
	modeDTS             // chat.duplex.d.ts: types only
)

func (m mode) ext() string {
	switch m {
	case modeJS:
		return ".js"
	case modeDTS:
		return ".d.ts"
	}
	return ".ts"
}

// docLines returns the lines of a doc comment followed by tags such as
// "@deprecated"; empty lines between doc and tags.
func docLines(doc string, tags ...string) []string {
	var lines []string
	if doc = strings.TrimSpace(doc); doc != "" {
		lines = strings.Split(doc, "\n")
	}
	var kept []string
	for _, t := range tags {
		if t != "" {
			kept = append(kept, t)
		}
	}
	if len(lines) > 0 && len(kept) > 0 {
		lines = append(lines, "")
	}
	return append(lines, kept...)
}

// deprecated returns the JSDoc tag of d, or "".
func deprecated(d *schema.Deprecation) string {
	switch {
	case d == nil:
		return ""
	case d.Reason == "":
		return "@deprecated"
	}
	return "@deprecated " + strings.Join(strings.Fields(d.Reason), " ")
}
