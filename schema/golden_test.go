package schema

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/duplexrpc/duplex/internal/linediff"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// cases returns the case directories under testdata (all but fuzz/).
func cases(t testing.TB) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", "input.duplex"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range dirs {
		out = append(out, filepath.Dir(d))
	}
	if len(out) == 0 {
		t.Fatal("no cases under testdata/")
	}
	return out
}

// TestGolden loads every testdata/<case>/input.duplex. A case with
// want.txt must fail with exactly those diagnostics; a case without must
// load cleanly. A case with want.fmt must format to it, and formatting
// want.fmt must change nothing. Run with -update to rewrite the goldens.
func TestGolden(t *testing.T) {
	for _, dir := range cases(t) {
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join(dir, "input.duplex"))
			if err != nil {
				t.Fatal(err)
			}
			wantTxt := filepath.Join(dir, "want.txt")
			wantFmt := filepath.Join(dir, "want.fmt")
			hasTxt, hasFmt := exists(wantTxt), exists(wantFmt)
			if !hasTxt && !hasFmt {
				t.Fatal("no golden: create an empty want.txt (diagnostics) or want.fmt (formatted output) and run with -update")
			}

			_, err = Load("input.duplex", src)
			if hasTxt {
				got := ""
				if err != nil {
					var ds Diagnostics
					if !errors.As(err, &ds) {
						t.Fatalf("Load returned %T, want Diagnostics: %v", err, err)
					}
					got = ds.Error() + "\n"
				}
				golden(t, wantTxt, got)
				if got == "" && !*update {
					t.Error("Load succeeded; a want.txt case must fail")
				}
			} else if err != nil {
				t.Errorf("Load failed:\n%v", err)
			}

			if hasFmt {
				out, err := Format("input.duplex", src)
				if err != nil {
					t.Fatalf("Format failed:\n%v", err)
				}
				golden(t, wantFmt, string(out))
				again, err := Format("want.fmt", out)
				if err != nil {
					t.Fatalf("Format of the formatted output failed:\n%v", err)
				}
				if d := linediff.Diff(string(out), string(again)); d != "" {
					t.Errorf("formatting is not idempotent (-first +second):\n%s", d)
				}
			}
		})
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// golden compares got with the file at path, or rewrites it under -update.
func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := linediff.Diff(string(want), got); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, d)
	}
}
