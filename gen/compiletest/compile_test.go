package compiletest

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/tools/go/packages"

	"github.com/duplexrpc/duplex/clients/ts"
	"github.com/duplexrpc/duplex/gen/golang"
	"github.com/duplexrpc/duplex/gen/typescript"
	"github.com/duplexrpc/duplex/schema"
)

// The normal run compiles the repository's schemas and -hostile.n hostile
// schemas from -hostile.seed on. The longer run asks for more, e.g.
//
//	go test ./gen/compiletest -run TestGenCompiles -hostile.n=5000 -hostile.seed=1000 \
//		-timeout=60m -artifacts -outputdir /tmp/hostile
//
// Each batch of batchSize schemas is type-checked as Go in process and as
// TypeScript by one tsc run. A schema that the checker accepts and that
// does not generate or compile fails the test, which shows it and writes
// it to the test's artifact directory (go test -artifacts keeps it); the
// hostile schema of seed N alone is -hostile.seed=N -hostile.n=1.
var (
	hostileN    = flag.Int("hostile.n", 100, "how many hostile schemas TestGenCompiles compiles")
	hostileSeed = flag.Uint64("hostile.seed", 1, "the seed of the first hostile schema")
)

// batchSize is how many schemas one tsc run checks.
const batchSize = 500

// maxReported is how many failing schemas a batch shows in full.
const maxReported = 10

// TestGenCompiles generates Go and TypeScript for every schema of the
// repository's corpora and for hostile schemas, and compiles what the
// checker accepts: what check accepts, gen compiles.
func TestGenCompiles(t *testing.T) {
	tsc := tsTool(t)
	gc := &goChecker{fset: token.NewFileSet()}
	t.Run("corpus", func(t *testing.T) {
		st := compileBatch(t, tsc, gc, corpus(t))
		t.Logf("corpus: %d schemas, %d accepted by the checker", st.total, st.accepted)
		if st.accepted == 0 {
			t.Error("no schema of the corpus passes the checker")
		}
	})
	t.Run("sweep", func(t *testing.T) {
		st := compileBatch(t, tsc, gc, sweepSchemas(names()))
		t.Logf("sweep: %d schemas, %d accepted by the checker, with %d declarations", st.total, st.accepted, st.decls)
		if st.decls == 0 {
			t.Error("the sweep keeps no declaration past the checker")
		}
	})
	t.Run("hostile", func(t *testing.T) {
		pool := names()
		var st stats
		for start := 0; start < *hostileN; start += batchSize {
			var batch []source
			for i := start; i < min(start+batchSize, *hostileN); i++ {
				seed := *hostileSeed + uint64(i)
				batch = append(batch, hostileSchema(seed, pool))
			}
			b := compileBatch(t, tsc, gc, batch)
			st.total += b.total
			st.accepted += b.accepted
			st.decls += b.decls
		}
		t.Logf("hostile: %d schemas from seed %d, %d accepted by the checker, with %d declarations",
			st.total, *hostileSeed, st.accepted, st.decls)
		if *hostileN > 0 && st.decls == 0 {
			t.Error("no hostile schema keeps a declaration past the checker")
		}
	})
}

type stats struct{ total, accepted, decls int }

// compiled is a schema the checker accepted, with its generated files.
type compiled struct {
	source
	dir string // c<i>: its directory in the TypeScript project
	ts  []typescript.File
}

// compileBatch loads each source under the name c<i>.duplex, generates
// and compiles what the checker accepts, and reports every failure.
func compileBatch(t *testing.T, tsc string, gc *goChecker, sources []source) stats {
	t.Helper()
	st := stats{total: len(sources)}
	var ok []*compiled
	reported := 0
	fail := func(s source, format string, args ...any) {
		reported++
		if reported > maxReported {
			t.Errorf("%s: %s", s.name, firstLine(fmt.Sprintf(format, args...)))
			return
		}
		path := filepath.Join(t.ArtifactDir(), safeName(s.name))
		if err := os.WriteFile(path, s.src, 0o644); err != nil {
			t.Error(err)
		}
		t.Errorf("%s (written to %s): %s\n--- schema ---\n%s", s.name, path, fmt.Sprintf(format, args...), s.src)
	}
	var goFiles []goFile
	for i, s := range sources {
		dir := "c" + strconv.Itoa(i)
		f, err := schema.Load(dir+".duplex", s.src)
		if err != nil {
			continue // refused: nothing to compile
		}
		st.accepted++
		st.decls += len(f.Messages) + len(f.Enums) + len(f.Errors) + len(f.Guards) + len(f.Commands) + len(f.Events)
		gofs, err := golang.Generate(f)
		if err != nil {
			fail(s, "gen/golang: %v", err)
			continue
		}
		client, err := golang.GenerateClient(f)
		if err != nil {
			fail(s, "gen/golang client: %v", err)
			continue
		}
		gofs = append(gofs, client...)
		tsfs, err := typescript.Generate(f)
		if err != nil {
			fail(s, "gen/typescript: %v", err)
			continue
		}
		c := &compiled{source: s, dir: dir, ts: tsfs}
		ok = append(ok, c)
		for _, gf := range gofs {
			goFiles = append(goFiles, goFile{c, gf})
		}
	}
	goErrs, err := gc.check(goFiles)
	if err != nil {
		t.Fatal(err)
	}
	tsErrs := checkTS(t, tsc, ok)
	for _, c := range ok {
		var msgs []string
		if e := goErrs[c]; e != "" {
			msgs = append(msgs, "Go:\n"+e)
		}
		if e := tsErrs[c.dir]; e != "" {
			msgs = append(msgs, "TypeScript:\n"+e)
		}
		if len(msgs) > 0 {
			fail(c.source, "the checker accepts it, but the generated code does not compile (or go vet finds fault with it):\n%s", strings.Join(msgs, ""))
		}
	}
	return st
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// safeName makes a source's name the name of a .duplex file.
func safeName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r == '/' || r == '#' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, name)
	if !strings.HasSuffix(name, ".duplex") {
		name += ".duplex"
	}
	return name
}

// goFile is one generated Go file of a schema.
type goFile struct {
	c    *compiled
	file golang.File
}

// goChecker type-checks generated Go files with go/types against the
// packages they import, loaded once (from export data, by go list) for
// all of them, so that the types of runtime and runtime/wire match, and
// runs go vet's checks on those that type-check.
type goChecker struct {
	fset *token.FileSet
	pkgs map[string]*types.Package
}

// check type-checks the files of each schema as a package of its own and
// returns the errors by schema.
func (gc *goChecker) check(files []goFile) (map[*compiled]string, error) {
	errs := map[*compiled]string{}
	type parsed struct {
		f   goFile
		syn *ast.File
	}
	var all []parsed
	need := map[string]bool{}
	for _, f := range files {
		syn, err := parser.ParseFile(gc.fset, f.c.dir+"/"+f.file.Name, f.file.Content, parser.SkipObjectResolution)
		if err != nil {
			errs[f.c] += err.Error() + "\n"
			continue
		}
		for _, imp := range syn.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			need[path] = true
		}
		all = append(all, parsed{f, syn})
	}
	if err := gc.load(need); err != nil {
		return nil, err
	}
	imp := importerFunc(func(path string) (*types.Package, error) {
		if p := gc.pkgs[path]; p != nil {
			return p, nil
		}
		return nil, fmt.Errorf("package %s was not loaded", path)
	})
	// The files of one schema (the server's and the client's) are one
	// package.
	var order []*compiled
	byPkg := map[*compiled][]*ast.File{}
	for _, p := range all {
		if byPkg[p.f.c] == nil {
			order = append(order, p.f.c)
		}
		byPkg[p.f.c] = append(byPkg[p.f.c], p.syn)
	}
	for _, c := range order {
		if errs[c] != "" {
			continue // a file did not parse
		}
		var msgs []string
		conf := types.Config{Importer: imp, Error: func(err error) {
			if len(msgs) < 20 {
				msgs = append(msgs, err.Error())
			}
		}}
		files, info := byPkg[c], newInfo()
		pkg, _ := conf.Check("example.com/"+c.dir+"/"+files[0].Name.Name, gc.fset, files, info)
		if len(msgs) == 0 {
			diags, err := vet(gc.fset, files, pkg, info)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			msgs = diags
		}
		if len(msgs) > 0 {
			errs[c] += strings.Join(msgs, "\n") + "\n"
		}
	}
	return errs, nil
}

type importerFunc func(path string) (*types.Package, error)

func (f importerFunc) Import(path string) (*types.Package, error) { return f(path) }

// load loads the packages of need that are not loaded yet, together with
// those that are, in one go list run.
func (gc *goChecker) load(need map[string]bool) error {
	missing := false
	for path := range need {
		if gc.pkgs[path] == nil {
			missing = true
		}
	}
	if !missing {
		return nil
	}
	for path := range gc.pkgs {
		need[path] = true
	}
	cfg := &packages.Config{Mode: packages.NeedName | packages.NeedTypes, Dir: root, Fset: gc.fset}
	pkgs, err := packages.Load(cfg, slices.Sorted(maps.Keys(need))...)
	if err != nil {
		return fmt.Errorf("load the packages generated code imports: %w", err)
	}
	gc.pkgs = map[string]*types.Package{}
	for _, p := range pkgs {
		if len(p.Errors) > 0 {
			return fmt.Errorf("load %s: %v", p.PkgPath, p.Errors[0])
		}
		gc.pkgs[p.PkgPath] = p.Types
	}
	return nil
}

// tsTool returns the path of tsc in clients/ts/node_modules, failing the
// test (never skipping it) when the packages are not installed.
func tsTool(t *testing.T) string {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(root, "clients", "ts", "node_modules", ".bin", "tsc"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("tsc is missing: run `npm ci` in clients/ts (%v)", err)
	}
	return path
}

// tsconfig is gen/typescript's: as strict as TypeScript gets, on ES2020
// alone; allowJs has tsc parse the generated .js too.
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
    "allowJs": true,
    "noEmit": true
  },
  "files": %s
}
`

// tsErrorLine is the start of a tsc diagnostic: c12/c12.duplex.ts(3,5): error ...
var tsErrorLine = regexp.MustCompile(`^(c\d+)/`)

// checkTS writes the TypeScript of every schema into one project, each in
// a directory of its own (c<i>/, with the runtime's duplex.js and
// duplex.d.ts but not its source, which clients/ts checks; the .d.ts as
// decl.d.ts beside the .ts it declares), runs tsc once, and returns its
// diagnostics by directory.
func checkTS(t *testing.T, tsc string, cs []*compiled) map[string]string {
	t.Helper()
	if len(cs) == 0 {
		return nil
	}
	proj := t.TempDir()
	var files []string
	for _, c := range cs {
		if err := os.Mkdir(filepath.Join(proj, c.dir), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range c.ts {
			name := f.Name
			switch {
			case name == ts.TSName:
				continue // tsc would check it in every directory, instead of its .d.ts
			case name == ts.JSName || name == ts.DTSName:
			case strings.HasSuffix(name, ".d.ts"):
				name = "decl.d.ts"
				files = append(files, c.dir+"/"+name)
			default:
				files = append(files, c.dir+"/"+name)
			}
			if err := os.WriteFile(filepath.Join(proj, c.dir, name), f.Content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	q := make([]string, len(files))
	for i, f := range files {
		q[i] = strconv.Quote(f)
	}
	config := fmt.Sprintf(tsconfig, "["+strings.Join(q, ", ")+"]")
	if err := os.WriteFile(filepath.Join(proj, "tsconfig.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tsc, "-p", ".", "--pretty", "false")
	cmd.Dir = proj
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
	errs := map[string]string{}
	dir := ""
	for line := range strings.Lines(string(out)) {
		if m := tsErrorLine.FindStringSubmatch(line); m != nil {
			dir = m[1]
		}
		if dir == "" {
			t.Errorf("tsc reports a problem of no schema: %s", line)
			continue
		}
		errs[dir] += line
	}
	if err != nil && len(errs) == 0 {
		t.Errorf("tsc failed without naming a file: %v\n%s", err, out)
	}
	if err == nil && len(bytes.TrimSpace(out)) > 0 {
		t.Logf("tsc: %s", out)
	}
	return errs
}
