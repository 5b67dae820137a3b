package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/internal/linediff"

	"github.com/duplexrpc/duplex/schema/syntax"
)

// TestDocs checks the examples of docs/schema.md: every ```duplex block
// parses, and the blocks that are whole files (they have a package) load
// and are formatted already.
func TestDocs(t *testing.T) {
	md, err := os.ReadFile(filepath.Join("..", "docs", "schema.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(md), "```duplex\n")[1:]
	if len(blocks) < 5 {
		t.Fatalf("only %d duplex blocks in docs/schema.md", len(blocks))
	}
	whole := 0
	for i, b := range blocks {
		src := b[:strings.Index(b, "```")]
		isFile := strings.Contains(src, "\npackage ") || strings.HasPrefix(src, "package ")
		if !isFile {
			if _, err := syntax.Parse("doc.duplex", []byte("package doc\n"+src)); err != nil {
				t.Errorf("block %d does not parse:\n%v\n%s", i+1, err, src)
			}
			continue
		}
		whole++
		if _, err := Load("doc.duplex", []byte(src)); err != nil {
			t.Errorf("block %d does not load:\n%v", i+1, err)
		}
		out, err := Format("doc.duplex", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if d := linediff.Diff(src, string(out)); d != "" {
			t.Errorf("block %d is not formatted (-doc +fmt):\n%s", i+1, d)
		}
	}
	if whole < 2 {
		t.Errorf("only %d whole-file examples", whole)
	}
}
