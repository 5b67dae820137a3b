package typescript

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/internal/linediff"

	"github.com/duplexrpc/duplex/schema"
)

// The tests below run the generated code through real tools: tsc and
// esbuild from clients/ts/node_modules (npm ci there installs them; a
// missing tool fails the test, it never skips it) and node.

var clientsTS = filepath.Join("..", "..", "clients", "ts")

// tool returns the absolute path of a binary of clients/ts/node_modules.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(clientsTS, "node_modules", ".bin", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: run `npm ci` in clients/ts (%v)", name, err)
	}
	return path
}

func nodeBin(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: install Node 20 or later (%v)", err)
	}
	return node
}

// run runs a command in dir and returns its standard output.
func run(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s%s", filepath.Base(name), strings.Join(args, " "), dir, err, stdout.Bytes(), stderr.Bytes())
	}
	return stdout.Bytes()
}

// writeCase writes the generated files of a case into a new directory and
// returns it with the model; ok is false for a case Generate refuses.
func writeCase(t *testing.T, name string) (dir string, f *schema.File, ok bool) {
	t.Helper()
	f = load(t, name)
	files, err := Generate(f)
	if err != nil {
		return "", nil, false
	}
	dir = t.TempDir()
	for _, file := range files {
		write(t, filepath.Join(dir, file.Name), file.Content)
	}
	return dir, f, true
}

func write(t *testing.T, path string, content []byte) {
	t.Helper()
	if err := os.WriteFile(path, content, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	write(t, to, b)
}

// tsconfig is as strict as TypeScript gets, with no DOM or Node types: the
// generated code and the runtime's declarations must stand on ES2020 alone.
const tsconfig = `{
  "compilerOptions": {
    "target": "ES2020",
    "module": "ES2020",
    "moduleResolution": "bundler",
    "lib": ["ES2020"],
    "types": [],
    "strict": true,
    "exactOptionalPropertyTypes": true,
    "noUncheckedIndexedAccess": true,
    "noImplicitOverride": true,
    "noImplicitReturns": true,
    "noUnusedLocals": true,
    "noUnusedParameters": true,
    "noPropertyAccessFromIndexSignature": true,
    "isolatedModules": true,
    "skipLibCheck": false,
    "noEmit": true
  },
  "files": %s
}
`

// TestTypeScript compiles every case's generated .ts and .d.ts (and the
// case's usage.ts) with tsc --strict, and checks that the .ts and the .d.ts
// declare identical types and values: the .d.ts is copied as decl.d.ts and
// same.ts asserts, name by name, that each export of one is identical to
// the other's.
func TestTypeScript(t *testing.T) {
	tsc := tool(t, "tsc")
	for _, name := range cases(t) {
		t.Run(name, func(t *testing.T) {
			dir, f, ok := writeCase(t, name)
			if !ok {
				t.Skip("Generate refuses this schema (see TestGolden)")
			}
			mod := name + ".duplex"
			copyFile(t, filepath.Join(dir, mod+".d.ts"), filepath.Join(dir, "decl.d.ts"))
			write(t, filepath.Join(dir, "same.ts"), sameTS(f, mod))
			files := []string{mod + ".ts", "decl.d.ts", "same.ts"}
			if usage := filepath.Join("testdata", name, "usage.ts"); fileExists(usage) {
				copyFile(t, usage, filepath.Join(dir, "usage.ts"))
				files = append(files, "usage.ts")
			}
			write(t, filepath.Join(dir, "tsconfig.json"), fmt.Appendf(nil, tsconfig, quoteList(files)))
			run(t, dir, tsc, "-p", ".")
		})
	}
}

// sameTS returns a TypeScript module that compiles only when the module
// mod (.ts) and decl (.d.ts) export identical types and values.
func sameTS(f *schema.File, mod string) []byte {
	var types, values []string
	types = append(types, clientName(f), eventsName(f))
	values = append(values, clientName(f))
	for _, e := range f.Enums {
		types = append(types, e.Name)
		values = append(values, e.Name)
	}
	for _, m := range f.Messages {
		types = append(types, m.Name)
	}
	for _, e := range f.Errors {
		types = append(types, errorClass(e))
		values = append(values, errorClass(e), errorGuard(e))
	}
	for _, c := range f.Commands {
		if c.Args.Message == nil && len(c.Args.Fields) > 0 {
			types = append(types, argsType(c))
		}
		if c.Result.Message == nil && len(c.Result.Fields) > 0 {
			types = append(types, resultType(c))
		}
	}
	for _, e := range f.Events {
		types = append(types, eventName(e))
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "import type * as A from %q;\n", "./"+mod+".js")
	fmt.Fprintf(&b, "import type * as B from %q;\n\n", "./decl.js")
	b.WriteString("type Equal<X, Y> = (<T>() => T extends X ? 1 : 2) extends <T>() => T extends Y ? 1 : 2 ? true : false;\n")
	b.WriteString("type Expect<T extends true> = T;\n\n")
	b.WriteString("export type Checks = [\n")
	for _, n := range types {
		fmt.Fprintf(&b, "  Expect<Equal<A.%s, B.%s>>,\n", n, n)
	}
	for _, n := range values {
		fmt.Fprintf(&b, "  Expect<Equal<typeof A.%s, typeof B.%s>>,\n", n, n)
	}
	b.WriteString("  Expect<Equal<keyof typeof A, keyof typeof B>>,\n")
	b.WriteString("];\n")
	return b.Bytes()
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestJSIsTSWithoutTypes checks that each generated .js is its .ts with the
// types taken out: esbuild minifies both (stripping the types of the .ts)
// to the same bytes. Identifiers keep their names: esbuild would choose
// short names by frequency, which the types of the .ts change.
func TestJSIsTSWithoutTypes(t *testing.T) {
	esbuild := tool(t, "esbuild")
	for _, name := range cases(t) {
		t.Run(name, func(t *testing.T) {
			dir, _, ok := writeCase(t, name)
			if !ok {
				t.Skip("Generate refuses this schema (see TestGolden)")
			}
			mod := name + ".duplex"
			args := []string{"--format=esm", "--minify-whitespace", "--minify-syntax", "--log-level=warning"}
			fromTS := run(t, dir, esbuild, append([]string{mod + ".ts"}, args...)...)
			fromJS := run(t, dir, esbuild, append([]string{mod + ".js"}, args...)...)
			if !bytes.Equal(fromTS, fromJS) {
				t.Errorf("%s.js is not %s.ts without types (-ts +js, minified):\n%s", mod, mod,
					linediff.Diff(strings.ReplaceAll(string(fromTS), ";", ";\n"), strings.ReplaceAll(string(fromJS), ";", ";\n")))
			}
		})
	}
}

// TestNode runs each case's *.test.mjs under node:test beside the
// generated .js, the runtime and clients/ts/test/fakews.mjs: the generated
// code as a browser would load it, against an in-memory WebSocket.
func TestNode(t *testing.T) {
	tool(t, "tsc") // the npm packages are the precondition of every tool test
	node := nodeBin(t)
	for _, name := range cases(t) {
		tests, err := filepath.Glob(filepath.Join("testdata", name, "*.test.mjs"))
		if err != nil {
			t.Fatal(err)
		}
		if len(tests) == 0 {
			continue
		}
		t.Run(name, func(t *testing.T) {
			dir, _, ok := writeCase(t, name)
			if !ok {
				t.Fatal("Generate refuses a schema that has Node tests")
			}
			copyFile(t, filepath.Join(clientsTS, "test", "fakews.mjs"), filepath.Join(dir, "fakews.mjs"))
			args := []string{"--test", "--test-reporter=dot"}
			for _, test := range tests {
				copyFile(t, test, filepath.Join(dir, filepath.Base(test)))
				args = append(args, filepath.Base(test))
			}
			run(t, dir, node, args...)
		})
	}
}

// maxSize is the budget of the runtime and a generated client, minified
// and gzipped (DESIGN.md: browser client ≤ 5 KB).
const maxSize = 5 * 1024

// TestSize bundles the runtime alone and with the generated chat client
// (esbuild --bundle --minify, every runtime export kept) and checks the
// gzipped size against the budget.
func TestSize(t *testing.T) {
	esbuild := tool(t, "esbuild")
	dir, _, ok := writeCase(t, "chat")
	if !ok {
		t.Fatal("chat does not generate")
	}
	for _, entry := range []string{"duplex.js", "chat.duplex.js"} {
		min := run(t, dir, esbuild, entry, "--bundle", "--minify", "--format=esm", "--log-level=warning")
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		w.Write(min)
		w.Close()
		t.Logf("%s bundled: %d bytes minified, %d gzipped", entry, len(min), gz.Len())
		if gz.Len() > maxSize {
			t.Errorf("%s bundled is %d bytes min+gzip, over the budget of %d", entry, gz.Len(), maxSize)
		}
	}
}
