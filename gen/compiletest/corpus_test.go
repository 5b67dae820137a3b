package compiletest

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A source is one schema to compile: its name (the file it came from, or
// the hostile seed) and its bytes.
type source struct {
	name string
	src  []byte
}

// root is the repository, from this package's directory.
var root = filepath.Join("..", "..")

// corpusGlobs are the schemas of the repository: the checker's, the
// generators' and the examples' fixtures, and the fuzz corpora of the
// parser and the checker (go test fuzz v1 files).
var corpusGlobs = []string{
	"schema/testdata/*/*.duplex",
	"schema/testdata/fuzz/*/*",
	"schema/syntax/testdata/fuzz/*/*",
	"gen/*/testdata/*/*.duplex",
	"examples/*/*/*.duplex",
	"runtime_test/*/*.duplex",
}

// corpus returns every schema corpusGlobs find. A glob that finds nothing
// fails the test: a moved corpus must not go unnoticed.
func corpus(t *testing.T) []source {
	t.Helper()
	var out []source
	for _, glob := range corpusGlobs {
		paths, err := filepath.Glob(filepath.Join(root, glob))
		if err != nil {
			t.Fatal(err)
		}
		if len(paths) == 0 {
			t.Fatalf("no schemas match %s", glob)
		}
		for _, path := range paths {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			name, _ := filepath.Rel(root, path)
			if strings.Contains(glob, "/fuzz/") {
				for i, v := range fuzzValues(t, path, b) {
					out = append(out, source{name + "#" + strconv.Itoa(i), v})
				}
				continue
			}
			out = append(out, source{name, b})
		}
	}
	return out
}

// fuzzValues returns the []byte and string values of a go test fuzz v1
// corpus file.
func fuzzValues(t *testing.T, path string, b []byte) [][]byte {
	t.Helper()
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<24)
	if !sc.Scan() || sc.Text() != "go test fuzz v1" {
		t.Fatalf("%s is not a go test fuzz v1 file", path)
	}
	var out [][]byte
	for sc.Scan() {
		line := sc.Text()
		for _, prefix := range []string{"[]byte(", "string("} {
			if rest, ok := strings.CutPrefix(line, prefix); ok {
				v, err := strconv.Unquote(strings.TrimSuffix(rest, ")"))
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				out = append(out, []byte(v))
			}
		}
	}
	return out
}
