package e2etest

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/duplexrpc/duplex/internal/linediff"

	"github.com/duplexrpc/duplex/gen/golang"
	"github.com/duplexrpc/duplex/schema"
)

var update = flag.Bool("update", false, "rewrite alltypes/alltypes_duplex.go")

// schemaPath is the schema both sides of the test are generated from.
var schemaPath = filepath.Join("..", "testdata", "alltypes", "alltypes.duplex")

// goFile is the committed Go code generated for schemaPath.
var goFile = filepath.Join("alltypes", "alltypes_duplex.go")

// TestGoUpToDate fails when alltypes/alltypes_duplex.go is not what
// gen/golang generates from the schema now; -update rewrites it.
func TestGoUpToDate(t *testing.T) {
	src, err := os.ReadFile(schemaPath)
	if err != nil {
		t.Fatal(err)
	}
	// Loaded under its base name, as the TypeScript golden is.
	f, err := schema.Load(filepath.Base(schemaPath), src)
	if err != nil {
		t.Fatal(err)
	}
	files, err := golang.Generate(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != filepath.Base(goFile) {
		var names []string
		for _, f := range files {
			names = append(names, f.Name)
		}
		t.Fatalf("golang.Generate wrote %q, want one %s", names, filepath.Base(goFile))
	}
	got := files[0].Content
	if *update {
		if err := os.WriteFile(goFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goFile)
	if err != nil {
		t.Fatalf("%v (go test ./gen/typescript/e2etest -update creates it)", err)
	}
	if d := linediff.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s is stale (-want +got); go test ./gen/typescript/e2etest -update (or go generate ./gen/typescript/e2etest) rewrites it:\n%s", goFile, d)
	}
}
