package golang

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/tools/imports"
)

// A formatting failure (a generator bug) shows the lines around each
// error, marked and numbered, not the whole generated file.
func TestExcerptShowsOnlyTheBrokenLines(t *testing.T) {
	var src strings.Builder
	src.WriteString("package p\n")
	for i := 2; i <= 200; i++ {
		switch i {
		case 100:
			src.WriteString("func broken( {\n")
		default:
			fmt.Fprintf(&src, "var v%d = %d\n", i, i)
		}
	}
	_, err := imports.Process("x.go", []byte(src.String()), &imports.Options{Comments: true, TabIndent: true, TabWidth: 8, FormatOnly: true})
	if err == nil {
		t.Fatal("broken source formatted")
	}
	got := excerpt([]byte(src.String()), err)
	if !strings.Contains(got, ">100\tfunc broken( {") {
		t.Errorf("the error line is not marked:\n%s", got)
	}
	// The parser reports up to 10 errors, the first and those it finds
	// while recovering, each with its context.
	if n := strings.Count(got, "\n"); n > 10*(2*excerptContext+2) {
		t.Errorf("excerpt has %d lines, want only the context of the errors:\n%s", n, got)
	}
	if strings.Contains(got, "var v10 ") || strings.Contains(got, "var v190 ") {
		t.Errorf("excerpt shows lines far from the error:\n%s", got)
	}
}

// Without a position to go by, the whole source is shown, numbered.
func TestExcerptWithoutPositions(t *testing.T) {
	got := excerpt([]byte("a\nb\n"), fmt.Errorf("no position"))
	if got != " 1\ta\n 2\tb\n 3\t\n" {
		t.Errorf("excerpt = %q", got)
	}
}
