package syntax

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/internal/linediff"
)

// dump writes a tree with every Pos left out, one field per line, so that
// two trees that differ only in positions dump alike and others show a
// readable diff.
func dump(v any) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(v), 0)
	return b.String()
}

var posType = reflect.TypeOf(Pos{})

func dumpValue(b *strings.Builder, v reflect.Value, depth int) {
	ind := strings.Repeat("  ", depth)
	switch v.Kind() {
	case reflect.Invalid:
		b.WriteString("nil")
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		dumpValue(b, v.Elem(), depth)
	case reflect.Struct:
		b.WriteString(v.Type().Name() + "{\n")
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.Type == posType {
				continue
			}
			b.WriteString(ind + "  " + f.Name + ": ")
			dumpValue(b, v.Field(i), depth+1)
			b.WriteString("\n")
		}
		b.WriteString(ind + "}")
	case reflect.Slice:
		if v.Len() == 0 {
			b.WriteString("[]") // nil and empty alike
			return
		}
		b.WriteString("[\n")
		for i := 0; i < v.Len(); i++ {
			b.WriteString(ind + "  ")
			dumpValue(b, v.Index(i), depth+1)
			b.WriteString("\n")
		}
		b.WriteString(ind + "]")
	case reflect.String:
		fmt.Fprintf(b, "%q", v.String())
	default:
		fmt.Fprintf(b, "%v", v.Interface())
	}
}

// checkRoundTrip checks that Print of src's tree parses back to the same
// tree (positions aside) and that printing that again changes nothing.
func checkRoundTrip(t *testing.T, name string, src []byte) {
	t.Helper()
	f1, err := Parse(name, src)
	if err != nil {
		return // only trees without errors are printed
	}
	out1 := Print(f1)
	f2, err := Parse(name, out1)
	if err != nil {
		t.Fatalf("Print output does not parse: %v\ninput:\n%q\noutput:\n%s", err, src, out1)
	}
	if d := linediff.Diff(dump(f1), dump(f2)); d != "" {
		t.Fatalf("Parse(Print(tree)) differs from tree (-want +got):\n%s\ninput:\n%q\noutput:\n%s", d, src, out1)
	}
	out2 := Print(f2)
	if d := linediff.Diff(string(out1), string(out2)); d != "" {
		t.Fatalf("Print is not idempotent (-first +second):\n%s\ninput:\n%q", d, src)
	}
}

func testdataFiles(t testing.TB) []string {
	t.Helper()
	var files []string
	for _, pat := range []string{"*/input.duplex", "*/want.fmt"} {
		m, err := filepath.Glob(filepath.Join("..", "testdata", pat))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	if len(files) == 0 {
		t.Fatal("no files under ../testdata")
	}
	return files
}

// TestRoundTrip: for every file of ../testdata that parses, parse → Print
// → parse gives the same tree and Print is idempotent.
func TestRoundTrip(t *testing.T) {
	n := 0
	for _, path := range testdataFiles(t) {
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(path, src); err != nil {
			continue
		}
		n++
		t.Run(strings.TrimPrefix(path, filepath.Join("..", "testdata")+string(filepath.Separator)), func(t *testing.T) {
			checkRoundTrip(t, path, src)
		})
	}
	if n < 10 {
		t.Errorf("only %d files parsed", n)
	}
}

func FuzzParse(f *testing.F) {
	for _, path := range testdataFiles(f) {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("fuzz.duplex", src)
		if err != nil {
			list, ok := err.(ErrorList)
			if !ok || len(list) == 0 {
				t.Fatalf("Parse returned %T %v, want a non-empty ErrorList", err, err)
			}
			lines := map[int]bool{}
			for i, e := range list {
				if e.Pos.Line < 1 || e.Pos.Col < 1 || e.Msg == "" {
					t.Fatalf("bad error %+v", e)
				}
				if i > 0 && e.Pos.Before(list[i-1].Pos) {
					t.Fatalf("errors not sorted: %v", list)
				}
				if lines[e.Pos.Line] {
					t.Fatalf("two errors on line %d: %v", e.Pos.Line, list)
				}
				lines[e.Pos.Line] = true
			}
			_ = Print(file) // must not panic on a partial tree
			return
		}
		checkRoundTrip(t, "fuzz.duplex", src)
	})
}
