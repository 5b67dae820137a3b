package main

import (
	"bufio"
	"context"
	"fmt"
	"go/format"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// quickStart is one step of the README's quick start: a file to write
// (a code block whose first line is "// PATH") or a command to run (a
// line of an sh block, without its # comment).
type quickStart struct {
	file, content string // a file
	command       string // or a command
}

// readmeQuickStart returns the steps of the README's section "From schema
// to browser", in order.
func readmeQuickStart(t *testing.T) []quickStart {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const title = "## From schema to browser\n"
	_, section, ok := strings.Cut(string(b), title)
	if !ok {
		t.Fatalf("README.md has no section %q", strings.TrimSpace(title))
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var steps []quickStart
	for _, m := range regexp.MustCompile("(?ms)^```(\\w*)\n(.*?)^```\n").FindAllStringSubmatch(section, -1) {
		lang, block := m[1], m[2]
		if lang == "sh" {
			for line := range strings.Lines(block) {
				line, _, _ = strings.Cut(line, "#") // a comment
				if line = strings.TrimSpace(line); line != "" {
					steps = append(steps, quickStart{command: line})
				}
			}
			continue
		}
		first, _, _ := strings.Cut(block, "\n")
		name, ok := strings.CutPrefix(first, "// ")
		if !ok || strings.ContainsAny(name, " \t") {
			t.Fatalf("README.md: a %q block in the quick start does not start with // FILE:\n%s", lang, block)
		}
		steps = append(steps, quickStart{file: name, content: block})
	}
	return steps
}

// TestReadmeQuickStart runs the README's quick start as written, in an
// empty directory: every file it shows is written as shown, every command
// run as shown, with these exceptions, each tied to one command line:
//
//   - after `go mod init`, go.mod gets a requirement of duplex v0.0.0
//     replaced by this checkout, for duplex is not published;
//   - `npm install -D typescript` links clients/ts/node_modules instead,
//     and npm runs offline;
//   - the server listens on a port of its own choosing instead of 8080,
//     and what follows it says that address where it says localhost:8080;
//   - node gets --experimental-websocket before Node 22.
//
// In the README's order, `go mod tidy` runs before `go generate`, and
// keeps the generator's dependencies in go.sum only through the tool line
// (with a `go run` of the generator instead, go generate then fails, as
// issue 13 reported); tsc compiles the generated client and the runtime
// into an outDir, and Node runs the result against the server the README
// built.
func TestReadmeQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a module and a Node project from scratch")
	}
	root := repoRoot(t)
	app := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env := append(os.Environ(),
		"GOPROXY="+standInProxy(t),
		"npm_config_offline=true", "npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Env = app, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// Every line with an exception must be in the README: the test would
	// otherwise run less than it says.
	special := map[string]bool{
		"go mod init example.com/chat":  false,
		"npm install -D typescript":     false,
		"./server -addr localhost:8080": false,
		"node dist/client.js":           false,
	}
	addr := "" // the server's, once it runs
	var clientOut string
	for _, s := range readmeQuickStart(t) {
		if addr != "" {
			s.content = strings.ReplaceAll(s.content, "localhost:8080", addr)
		}
		if s.file != "" {
			if strings.HasSuffix(s.file, ".go") {
				if b, err := format.Source([]byte(s.content)); err != nil || string(b) != s.content {
					t.Errorf("README.md: %s is not gofmt-formatted (%v)", s.file, err)
				}
			}
			path := filepath.Join(app, filepath.FromSlash(s.file))
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(s.content), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if strings.ContainsAny(s.command, "&|;<>$`'\"\\*") {
			t.Fatalf("README.md: %q needs a shell; the quick start's commands are plain", s.command)
		}
		if _, ok := special[s.command]; ok {
			special[s.command] = true
		}
		args := strings.Fields(s.command)
		switch s.command {
		case "go mod init example.com/chat":
			run(args[0], args[1:]...)
			run("go", "mod", "edit", "-require=github.com/duplexrpc/duplex@v0.0.0", "-replace=github.com/duplexrpc/duplex="+root)
		case "npm install -D typescript":
			if err := os.Symlink(filepath.Join(root, "clients", "ts", "node_modules"), filepath.Join(app, "node_modules")); err != nil {
				t.Fatal(err)
			}
			tool(t, "tsc") // fails the test when clients/ts has no node_modules
		case "./server -addr localhost:8080":
			addr = startServer(t, ctx, app, args[0], "-addr", "127.0.0.1:0")
		case "node dist/client.js":
			if nodeMajor(t) < 22 {
				args = append([]string{args[0], "--experimental-websocket"}, args[1:]...)
			}
			clientOut = run(args[0], args[1:]...)
		default:
			run(args[0], args[1:]...)
		}
	}
	for line, seen := range special {
		if !seen {
			t.Errorf("README.md's quick start lacks the command %q", line)
		}
	}
	if t.Failed() {
		return
	}
	t.Logf("node dist/client.js:\n%s", clientOut)
	if !strings.Contains(clientOut, "online: ada\n") {
		t.Errorf("the Node client did not log in: it printed\n%s", clientOut)
	}
	gomod, err := os.ReadFile(filepath.Join(app, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "\ntool github.com/duplexrpc/duplex/cmd/duplex\n") {
		t.Errorf("go.mod has no tool line for duplex:\n%s", gomod)
	}
	for _, f := range []string{"dist/client.js", "dist/web/chat.duplex.js", "dist/web/duplex.js"} {
		if _, err := os.Stat(filepath.Join(app, f)); err != nil {
			t.Errorf("tsc did not write %s: %v", f, err)
		}
	}
}

// standInProxy returns a GOPROXY under which `go get -tool
// github.com/duplexrpc/duplex/cmd/duplex` finds the replaced stand-in of
// duplex: go asks the proxies whether .../cmd/duplex is a module of its own
// first, which a proxy may refuse (403) rather than deny (404), and only a
// denial lets go fall back to the replaced module. "|off" turns any failure
// of the configured proxies into a denial.
func standInProxy(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		t.Fatalf("go env GOPROXY: %v", err)
	}
	var proxies []string
	for _, p := range strings.FieldsFunc(strings.TrimSpace(string(out)), func(r rune) bool { return r == ',' || r == '|' }) {
		if p != "direct" && p != "off" {
			proxies = append(proxies, p)
		}
	}
	return strings.Join(append(proxies, "off"), "|")
}

// startServer starts the README's server and returns the address it
// printed; the test's end kills it.
func startServer(t *testing.T, ctx context.Context, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, name), args...)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		var seen strings.Builder
		for sc.Scan() {
			if _, a, ok := strings.Cut(sc.Text(), "listening on "); ok {
				found <- a
				_, _ = io.Copy(io.Discard, stderr)
				return
			}
			fmt.Fprintln(&seen, sc.Text())
		}
		found <- seen.String()
	}()
	select {
	case a := <-found:
		if !strings.HasPrefix(a, "127.0.0.1:") {
			t.Fatalf("%s printed no address to listen on:\n%s", name, a)
		}
		return a
	case <-ctx.Done():
		t.Fatalf("%s printed no address to listen on before %v", name, ctx.Err())
	}
	return ""
}

// nodeMajor returns the major version of node.
func nodeMajor(t *testing.T) int {
	t.Helper()
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		t.Fatalf("node is missing: install Node 20 or later (%v)", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		t.Fatalf("node --version: %q", out)
	}
	return n
}

// tool returns the path of a binary of clients/ts/node_modules, failing
// the test (never skipping it) when the packages are not installed.
func tool(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(repoRoot(t), "clients", "ts", "node_modules", ".bin", name)
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is missing: run `npm ci` in clients/ts (%v)", name, err)
	}
	return path
}
