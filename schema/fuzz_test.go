package schema

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/internal/linediff"
)

// dumpModel writes a model without positions, naming referenced
// declarations instead of following them.
func dumpModel(f *File) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	dep := func(d *Deprecation) string {
		if d == nil {
			return "-"
		}
		return fmt.Sprintf("deprecated(%q)", d.Reason)
	}
	fields := func(ind string, fs []*Field) {
		for _, fl := range fs {
			p("%sfield %s %s optional=%v %s doc=%q", ind, fl.Name, typeString(fl.Type), fl.Optional, dep(fl.Deprecation), fl.Doc)
		}
	}
	params := func(what string, ps *Params) {
		if ps == nil {
			p("  %s nil", what)
			return
		}
		if ps.Message != nil {
			p("  %s message %s", what, ps.Message.Name)
			return
		}
		p("  %s fields", what)
		fields("    ", ps.Fields)
	}
	p("package %s doc=%q", f.Package, f.Doc)
	for _, m := range f.Messages {
		p("message %s %s doc=%q", m.Name, dep(m.Deprecation), m.Doc)
		fields("  ", m.Fields)
	}
	for _, e := range f.Enums {
		p("enum %s %s doc=%q", e.Name, dep(e.Deprecation), e.Doc)
		for _, v := range e.Values {
			p("  value %s %s doc=%q", v.Name, dep(v.Deprecation), v.Doc)
		}
	}
	for _, e := range f.Errors {
		p("error %s %s doc=%q", e.Name, e.Code, e.Doc)
	}
	for _, g := range f.Guards {
		p("guard %s rejects %s doc=%q", g.Name, g.Error.Name, g.Doc)
	}
	for _, c := range f.Commands {
		var errs, guards []string
		for _, e := range c.Errors {
			errs = append(errs, e.Name)
		}
		for _, g := range c.Guards {
			guards = append(guards, g.Name)
		}
		p("command %s %s idempotent=%v errors=%v guards=%v doc=%q", c.Name, dep(c.Deprecation), c.Idempotent, errs, guards, c.Doc)
		params("args", c.Args)
		params("result", c.Result)
	}
	for _, e := range f.Events {
		p("event %s %s doc=%q", e.Name, dep(e.Deprecation), e.Doc)
		fields("  ", e.Fields)
	}
	return b.String()
}

// FuzzLoad: Load never panics; its diagnostics are sorted and positioned;
// and a schema that loads formats to one that loads to the same model.
func FuzzLoad(f *testing.F) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*", "input.duplex"))
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range paths {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		m1, err := Load("fuzz.duplex", src)
		if err != nil {
			var ds Diagnostics
			if !errors.As(err, &ds) || len(ds) == 0 {
				t.Fatalf("Load returned %T %v, want non-empty Diagnostics", err, err)
			}
			for i, d := range ds {
				if d.Pos.File != "fuzz.duplex" || d.Pos.Line < 1 || d.Pos.Col < 1 || d.Message == "" {
					t.Fatalf("bad diagnostic %+v", d)
				}
				if i > 0 && (d.Pos.Line < ds[i-1].Pos.Line || d.Pos.Line == ds[i-1].Pos.Line && d.Pos.Col < ds[i-1].Pos.Col) {
					t.Fatalf("diagnostics not sorted:\n%v", ds)
				}
			}
			if m1 != nil {
				t.Fatal("Load returned a model and an error")
			}
			return
		}
		out, err := Format("fuzz.duplex", src)
		if err != nil {
			t.Fatalf("Format failed on a schema that loads: %v", err)
		}
		m2, err := Load("fuzz.duplex", out)
		if err != nil {
			t.Fatalf("the formatted schema does not load:\n%v\nformatted:\n%s", err, out)
		}
		if d := linediff.Diff(dumpModel(m1), dumpModel(m2)); d != "" {
			t.Fatalf("formatting changed the model (-before +after):\n%s", d)
		}
	})
}
