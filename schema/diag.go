package schema

import (
	"errors"
	"sort"
	"strings"

	"github.com/duplexrpc/duplex/schema/syntax"
)

// Diagnostic is one problem in a schema file.
type Diagnostic struct {
	Pos     Pos
	Message string
}

// String formats d as file:line:col: message.
func (d Diagnostic) String() string { return d.Pos.String() + ": " + d.Message }

// Diagnostics are the problems of one schema file, sorted by position. It
// is the error type of Load, Check and Format: Error prints one
// "file:line:col: message" per line, ready for a terminal or an editor's
// error parser.
type Diagnostics []Diagnostic

func (ds Diagnostics) Error() string {
	var b strings.Builder
	for i, d := range ds {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(d.String())
	}
	return b.String()
}

func (ds Diagnostics) sort() {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
}

func pos(p syntax.Pos) Pos { return Pos{File: p.File, Line: p.Line, Col: p.Col} }

// fromSyntax turns the parser's errors into Diagnostics.
func fromSyntax(err error) error {
	var list syntax.ErrorList
	if !errors.As(err, &list) {
		return err
	}
	ds := make(Diagnostics, len(list))
	for i, e := range list {
		ds[i] = Diagnostic{Pos: pos(e.Pos), Message: e.Msg}
	}
	return ds
}
