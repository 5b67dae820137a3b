package ts

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/internal/linediff"
)

// tool returns the path of an npm-installed binary, failing the test (never
// skipping it) when the packages are not installed.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("node_modules", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: run `npm ci` in clients/ts (%v)", name, err)
	}
	return path
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
}

// TestDistUpToDate fails when the committed dist/ (what the generator
// embeds) is not what `npm run build` makes of src/.
func TestDistUpToDate(t *testing.T) {
	tsc := tool(t, "tsc")
	out := t.TempDir()
	run(t, tsc, "-p", ".", "--outDir", out)
	for _, name := range []string{JSName, DTSName} {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("dist", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("dist/%s is stale: run `npm run build` in clients/ts (-want +got, want = build of src/):\n%s", name, linediff.Diff(string(want), string(got)))
		}
	}
	embedded := map[string][]byte{"src/" + TSName: TS(), "dist/" + JSName: JS(), "dist/" + DTSName: DTS()}
	for name, got := range embedded {
		want, err := os.ReadFile(filepath.FromSlash(name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("embedded %s differs from the file", name)
		}
	}
}

// TestTypes type-checks src/ and test/types.ts (the browser's WebSocket and
// AbortSignal fit the runtime's option types) under --strict.
func TestTypes(t *testing.T) {
	tsc := tool(t, "tsc")
	run(t, tsc, "-p", ".", "--noEmit")
	run(t, tsc, "-p", "test")
}

// TestRuntime runs the runtime's unit tests (test/*.test.mjs: calls,
// errors, timeouts, abort, disconnect and events against an in-memory
// WebSocket) under Node.
func TestRuntime(t *testing.T) {
	tool(t, "tsc") // the same precondition as the other tests, for one message
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: install Node 20 or later (%v)", err)
	}
	files, err := filepath.Glob(filepath.Join("test", "*.test.mjs"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test/*.test.mjs (%v)", err)
	}
	run(t, node, append([]string{"--test", "--test-reporter=dot"}, files...)...)
}

func TestAccessorsCopy(t *testing.T) {
	a := JS()
	if len(a) == 0 || len(DTS()) == 0 {
		t.Fatal("embedded runtime is empty")
	}
	a[0] ^= 0xff
	if bytes.Equal(a, JS()) {
		t.Error("JS returns shared memory")
	}
}
