// Command duplex generates typed Go server code and a TypeScript client from
// a .duplex schema, and formats and checks schemas.
//
//	duplex gen [-go DIR [-go-client]] [-ts DIR] [-check] FILE.duplex
//	duplex fmt [-w | -l] FILE.duplex...
//	duplex check FILE.duplex...
//	duplex check -against OLD [-rolling] FILE.duplex
//
// From an app module that has duplex as a tool (`go get -tool
// github.com/duplexrpc/duplex/cmd/duplex`, which `go mod tidy` keeps):
//
//	//go:generate go tool duplex gen -go . -ts ./web chat.duplex
//
// gen writes the Go file into -go DIR (with -go-client, also the typed Go
// client, chat_duplex_client.go, in the same package) and the TypeScript
// files (the client, its .js and .d.ts, and the runtime's .ts, .js and
// .d.ts) into -ts DIR. With
// -check it writes nothing and exits 1 when any file on disk differs from
// what it would write, for CI. Errors in a schema are printed as
// file:line:col: message, all of them, and the exit status is 1.
//
// check -against compares FILE with an older version of it, OLD: a path,
// or git:REF for FILE as it is in the git commit, branch or tag REF (git
// show REF:./FILE, run in FILE's directory). It prints every change that
// breaks clients of the old version talking to a server of the new one,
// as file:line:col: message (positions in OLD, named REF:FILE for git,
// for what was removed), and exits 1; or prints "no breaking changes".
// With -rolling it also reports what breaks clients of the new version
// talking to a server of the old one, as during a rolling deploy. The
// rules are in docs/schema.md, "Compatible changes".
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/duplexrpc/duplex/gen/golang"
	"github.com/duplexrpc/duplex/gen/typescript"
	"github.com/duplexrpc/duplex/schema"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  duplex gen [-go DIR [-go-client]] [-ts DIR] [-check] FILE.duplex
  duplex fmt [-w | -l] FILE.duplex...
  duplex check FILE.duplex...
  duplex check -against OLD.duplex|git:REF [-rolling] FILE.duplex
`

// errStale reports the findings of gen -check, fmt -l and check -against,
// printed already: the exit status is 1 but there is nothing more to print.
var errStale = errors.New("stale")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "gen":
		err = runGen(args[1:], stdout, stderr)
	case "fmt":
		err = runFmt(args[1:], stdout, stderr)
	case "check":
		err = runCheck(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "duplex: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 2
	case errors.Is(err, errStale):
		return 1
	}
	fmt.Fprintln(stderr, err)
	return 1
}

func load(path string) (*schema.File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return schema.Load(path, src)
}

func runGen(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("duplex gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	goDir := fs.String("go", "", "directory for the generated Go file")
	goClient := fs.Bool("go-client", false, "with -go: also write the typed Go client into the Go directory")
	tsDir := fs.String("ts", "", "directory for the generated TypeScript client")
	check := fs.Bool("check", false, "write nothing; exit 1 if any generated file on disk is stale")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *goDir == "" && *tsDir == "" {
		return fmt.Errorf("duplex gen: want one schema file and at least one of -go, -ts\n%s", usage)
	}
	if *goClient && *goDir == "" {
		return fmt.Errorf("duplex gen: -go-client needs -go DIR (the client uses the types of the Go file)\n%s", usage)
	}
	f, err := load(fs.Arg(0))
	if err != nil {
		return err
	}
	var out []outFile
	if *goDir != "" {
		files, err := golang.Generate(f)
		if err != nil {
			return fmt.Errorf("generate Go: %w", err)
		}
		if *goClient {
			client, err := golang.GenerateClient(f)
			if err != nil {
				return fmt.Errorf("generate the Go client: %w", err)
			}
			files = append(files, client...)
		}
		for _, g := range files {
			out = append(out, outFile{filepath.Join(*goDir, g.Name), g.Content})
		}
	}
	if *tsDir != "" {
		files, err := typescript.Generate(f)
		if err != nil {
			return fmt.Errorf("generate TypeScript: %w", err)
		}
		for _, g := range files {
			out = append(out, outFile{filepath.Join(*tsDir, g.Name), g.Content})
		}
	}
	if *check {
		stale := false
		for _, o := range out {
			have, err := os.ReadFile(o.path)
			if err != nil || !bytes.Equal(have, o.content) {
				fmt.Fprintf(stderr, "%s is stale: run duplex gen\n", o.path)
				stale = true
			}
		}
		if stale {
			return errStale
		}
		return nil
	}
	for _, o := range out {
		if err := writeIfChanged(o.path, o.content); err != nil {
			return err
		}
	}
	return nil
}

type outFile struct {
	path    string
	content []byte
}

// writeIfChanged leaves an up-to-date file untouched (and its mtime, for
// build tools that watch it).
func writeIfChanged(path string, content []byte) error {
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, content) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, content, 0o644)
}

func runFmt(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("duplex fmt", flag.ContinueOnError)
	fs.SetOutput(stderr)
	write := fs.Bool("w", false, "rewrite the files in place")
	list := fs.Bool("l", false, "list files whose formatting differs; exit 1 if any")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("duplex fmt: no files\n%s", usage)
	}
	var errs []error
	differ := false
	for _, path := range fs.Args() {
		src, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		formatted, err := schema.Format(path, src)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		switch {
		case *list:
			if !bytes.Equal(src, formatted) {
				fmt.Fprintln(stdout, path)
				differ = true
			}
		case *write:
			if !bytes.Equal(src, formatted) {
				if err := os.WriteFile(path, formatted, 0o644); err != nil {
					errs = append(errs, err)
				}
			}
		default:
			_, _ = stdout.Write(formatted)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if differ {
		return errStale
	}
	return nil
}

func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("duplex check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	against := fs.String("against", "", "report the changes from this older version (a path, or git:REF) that break clients")
	rolling := fs.Bool("rolling", false, "with -against, also report what breaks new clients of old servers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rolling && *against == "" {
		return fmt.Errorf("duplex check: -rolling needs -against\n%s", usage)
	}
	if *against != "" {
		if fs.NArg() != 1 {
			return fmt.Errorf("duplex check: -against wants one schema file\n%s", usage)
		}
		return runBreaking(*against, fs.Arg(0), *rolling, stdout, stderr)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("duplex check: no files\n%s", usage)
	}
	var errs []error
	for _, path := range fs.Args() {
		if _, err := load(path); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// runBreaking prints the changes from against to path that break old
// clients (and, when rolling, new clients of old servers).
func runBreaking(against, path string, rolling bool, stdout, stderr io.Writer) error {
	newFile, err := load(path)
	if err != nil {
		return err
	}
	var oldFile *schema.File
	if ref, ok := strings.CutPrefix(against, "git:"); ok {
		src, err := gitShow(ref, path)
		if err != nil {
			return err
		}
		oldFile, err = schema.Load(ref+":"+path, src)
		if err != nil {
			return err
		}
	} else if oldFile, err = load(against); err != nil {
		return err
	}
	breaks := schema.OldClients
	if rolling {
		breaks |= schema.NewClients
	}
	found := false
	for _, c := range schema.Breaking(oldFile, newFile) {
		if c.Breaks&breaks != 0 {
			fmt.Fprintln(stderr, c)
			found = true
		}
	}
	if found {
		return errStale
	}
	fmt.Fprintln(stdout, "no breaking changes")
	return nil
}

// gitShow returns the file at path as it is in the git commit ref.
func gitShow(ref, path string) ([]byte, error) {
	cmd := exec.Command("git", "show", ref+":./"+filepath.Base(path))
	cmd.Dir = filepath.Dir(path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	src, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("read %s at %s: git show: %v: %s", path, ref, err, strings.TrimSpace(stderr.String()))
	}
	return src, nil
}
