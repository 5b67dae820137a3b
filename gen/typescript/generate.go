package typescript

import (
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
// chat.duplex.ts, duplex.d.ts, duplex.js and duplex.ts. They belong in one
// directory: the generated module imports the runtime as "./duplex.js",
// which a browser loads as is and tsc resolves to duplex.ts. Generate is
// pure and deterministic: the same model always gives the same bytes.
//
// f must come from schema.Check, which refuses schemas whose generated
// TypeScript names would collide.
func Generate(f *schema.File) ([]File, error) {
	if f == nil {
		return nil, fmt.Errorf("generate typescript: no schema")
	}
	if f.Package == "" {
		return nil, fmt.Errorf("generate typescript: %s: no package name", f.Base())
	}
	base := moduleName(f)
	files := []File{
		{Name: ts.TSName, Content: ts.TS()},
		{Name: ts.JSName, Content: ts.JS()},
		{Name: ts.DTSName, Content: ts.DTS()},
	}
	runtime := files
	for _, m := range []mode{modeTS, modeJS, modeDTS} {
		name := base + m.ext()
		for _, r := range runtime {
			// Case aside too: on macOS's file systems Duplex.js is duplex.js.
			if strings.EqualFold(name, r.Name) {
				return nil, fmt.Errorf("generate typescript: %s: the generated %s would replace the runtime's %s beside it; rename the schema file", f.Base(), name, r.Name)
			}
		}
		g := newGenerator(f, m)
		if err := g.generateFile(); err != nil {
			return nil, fmt.Errorf("generate typescript: %s: %w", f.Base(), err)
		}
		files = append(files, File{Name: name, Content: g.p.bytes()})
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
