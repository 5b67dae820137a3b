package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// repoRoot is this checkout, which the outside app module replaces duplex with.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// appSchema is a schema no golden has seen: every scalar, nested messages,
// enums, optionals, lists, maps, errors, a guard, commands and events.
const appSchema = `// Package library lends books.
package library

// A book on the shelf.
message Book {
    id: uuid
    title: string
    pages: int32
    copies: uint32
    isbn13: int64
    checksum: uint64
    rating: float64
    available: bool
    cover: bytes?
    added: timestamp
    genre: Genre
    tags: []string
    notes: map<string, []string>
    author: Author
    coauthors: []Author?
}

message Author {
    name: string
    born: timestamp?
}

enum Genre {
    novel
    poetry
    reference
}

// No book has that id.
error NoSuchBook
error NotMember

guard member rejects NotMember

// Find a book by id.
command find(id: uuid) -> (book: Book?) errors NoSuchBook

@guard(member)
command lend(id: uuid, days: int32) -> (due: timestamp)

command shelve(Book) -> Book

event lent { id: uuid, due: timestamp }
`

// appMain starts a server with the generated code, calls it over a real
// WebSocket and prints what came back; it exits non-zero on any mismatch.
const appMain = `package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/google/uuid"

	duplexclient "github.com/duplexrpc/duplex/clients/go"
	"github.com/duplexrpc/duplex/runtime"

	"example.com/library/library"
)

type shelf struct{ library.UnimplementedHandler }

func (shelf) Shelve(ctx context.Context, s *runtime.Session, b library.Book) (library.Book, error) {
	b.Pages++
	return b, nil
}

func (shelf) Find(ctx context.Context, s *runtime.Session, args library.FindArgs) (library.FindResult, error) {
	return library.FindResult{}, &library.NoSuchBookError{Message: "no book " + args.ID.String()}
}

func main() {
	r := runtime.NewRouter()
	library.Register(r, shelf{})
	srv, err := runtime.New(runtime.Options{Handler: r, Subprotocols: []string{"duplex.v1+json"}})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := ws.Dialer{Protocols: []string{"duplex.v1+json"}}
	nc, _, _, err := d.Dial(ctx, "ws://"+ln.Addr().String()+"/")
	if err != nil {
		panic(err)
	}
	call := func(msg string) string {
		if err := wsutil.WriteClientText(nc, []byte(msg)); err != nil {
			panic(err)
		}
		b, err := wsutil.ReadServerText(nc)
		if err != nil {
			panic(err)
		}
		return string(b)
	}
	id := uuid.MustParse("6ba7b810-9dad-11d1-80b4-00c04fd430c8")
	fmt.Println(call(` + "`" + `{"id":1,"call":"shelve","args":{"id":"` + "`" + `+id.String()+` + "`" + `","title":"Dune","pages":412,"copies":3,"isbn13":"9780441013593","checksum":"18446744073709551615","rating":4.5,"available":true,"added":"2024-01-02T03:04:05.123456789Z","genre":"novel","tags":["sf"],"notes":{"a":["b"]},"author":{"name":"Herbert"}}}` + "`" + `))
	fmt.Println(call(` + "`" + `{"id":2,"call":"find","args":{"id":"` + "`" + `+id.String()+` + "`" + `"}}` + "`" + `))
	fmt.Println(call(` + "`" + `{"id":3,"call":"lend","args":{"id":"` + "`" + `+id.String()+` + "`" + `","days":7}}` + "`" + `))
	fmt.Println(call(` + "`" + `{"id":4,"call":"find","args":{"id":42}}` + "`" + `))

	// The same through the generated Go client.
	rt := duplexclient.New("ws://"+ln.Addr().String()+"/", duplexclient.Options{})
	if err := rt.Connect(ctx); err != nil {
		panic(err)
	}
	defer rt.Close()
	cl := library.NewClient(rt)
	b, err := cl.Shelve(ctx, &library.Book{ID: id, Title: "Dune", Pages: 412, Genre: library.GenreNovel, Author: library.Author{Name: "Herbert"}})
	if err != nil {
		panic(err)
	}
	fmt.Println("client shelve pages", b.Pages)
	_, err = cl.Find(ctx, &library.FindArgs{ID: id})
	var nsb *library.NoSuchBookError
	fmt.Println("client find NoSuchBookError", errors.As(err, &nsb))
	os.Exit(0)
}
`

// TestGoGenerateInOutsideModule is the path an app team takes: a module of
// its own that requires duplex (replaced by this checkout) with duplex as
// a tool, a schema, a //go:generate line; go generate, go build, run.
// TestReadmeQuickStart takes the same path from an empty directory, by the
// README's commands.
func TestGoGenerateInOutsideModule(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module from scratch")
	}
	app := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/library\n\ngo 1.26\n\nrequire github.com/duplexrpc/duplex v0.0.0\n\nreplace github.com/duplexrpc/duplex => "+repoRoot(t)+"\n\ntool github.com/duplexrpc/duplex/cmd/duplex\n")
	if err := os.Mkdir(filepath.Join(app, "library"), 0o755); err != nil {
		t.Fatal(err)
	}
	write("library/library.duplex", appSchema)
	write("library/doc.go", "// Package library is generated from library.duplex.\npackage library\n\n"+
		"//go:generate go tool duplex gen -go . -go-client -ts ../web library.duplex\n")
	write("main.go", appMain)

	goCmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = app
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	goCmd("mod", "tidy") // go.sum for the tool's dependencies and the app's
	goCmd("generate", "./...")
	for _, f := range []string{"library/library_duplex.go", "library/library_duplex_client.go", "web/library.duplex.ts", "web/library.duplex.js", "web/library.duplex.d.ts", "web/duplex.ts", "web/duplex.js", "web/duplex.d.ts"} {
		if _, err := os.Stat(filepath.Join(app, f)); err != nil {
			t.Errorf("go generate did not write %s: %v", f, err)
		}
	}
	goCmd("vet", "./...")
	typecheck(t, filepath.Join(app, "web"), "library.duplex.ts")
	out := goCmd("run", ".")
	t.Logf("app output:\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("app printed %d lines, want 6:\n%s", len(lines), out)
	}
	for i, want := range []string{
		`"pages":413`, // the handler ran on decoded arguments
		`"code":"no_such_book"`,
		`"code":"not_member"`, // UnimplementedHandler's guard refuses with the guard's error
		`"code":"bad_request"`,
		"client shelve pages 413",
		"client find NoSuchBookError true",
	} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("reply %d = %s, want it to contain %s", i+1, lines[i], want)
		}
	}
	for _, want := range []string{`"checksum":"18446744073709551615"`, `"added":"2024-01-02T03:04:05.123456789Z"`} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("shelve reply %s lacks %s", lines[0], want)
		}
	}
	if !strings.Contains(lines[3], "args.id") {
		t.Errorf("bad_request reply %s does not name args.id", lines[3])
	}

	// The committed output is current: gen -check passes, and fails once a
	// generated file is touched.
	duplex := func(args ...string) (string, error) {
		cmd := exec.Command("go", append([]string{"tool", "duplex"}, args...)...)
		cmd.Dir = filepath.Join(app, "library")
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
		var b bytes.Buffer
		cmd.Stdout, cmd.Stderr = &b, &b
		err := cmd.Run()
		return b.String(), err
	}
	if out, err := duplex("gen", "-check", "-go", ".", "-go-client", "-ts", "../web", "library.duplex"); err != nil {
		t.Fatalf("gen -check on fresh output: %v\n%s", err, out)
	}
	write("library/library_duplex.go", "package library\n")
	if out, err := duplex("gen", "-check", "-go", ".", "-ts", "../web", "library.duplex"); err == nil || !strings.Contains(out, "library_duplex.go is stale") {
		t.Fatalf("gen -check on stale output: err %v\n%s", err, out)
	}
}

// typecheck runs tsc --strict over the generated client (and, through its
// import, the runtime's source), with no DOM or Node types.
func typecheck(t *testing.T, dir, file string) {
	t.Helper()
	cmd := exec.Command(tool(t, "tsc"), "--strict", "--noEmit", "--target", "ES2020", "--module", "ES2020",
		"--moduleResolution", "bundler", "--lib", "ES2020", "--types", "", "--exactOptionalPropertyTypes", file)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc --strict %s: %v\n%s", file, err, out)
	}
}
