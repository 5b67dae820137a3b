package process

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duplexrpc/duplex/clients/ts"
)

// clientDir returns a new directory holding process.test.mjs beside the
// committed generated client (../../testdata/alltypes/alltypes.duplex.js,
// the golden of gen/typescript) and the runtime it imports as ./duplex.js.
func clientDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string][]byte{ts.JSName: ts.JS()} // clients/ts/dist/duplex.js
	for name, from := range map[string]string{
		"alltypes.duplex.js": filepath.Join("..", "..", "testdata", "alltypes", "alltypes.duplex.js"),
		"process.test.mjs":   "process.test.mjs",
	} {
		b, err := os.ReadFile(from)
		if err != nil {
			t.Fatal(err)
		}
		files[name] = b
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestNodeAgainstServerProcess builds ./server and runs process.test.mjs
// under node:test, which spawns the server itself: drops without a close
// frame, kill -9, SIGTERM, SIGHUP, SIGSTOP, and the client's and the
// server's close 1000.
func TestNodeAgainstServerProcess(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: install Node 20 or later (%v)", err)
	}
	goCmd, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	if err != nil {
		t.Fatalf("go is missing: %v", err)
	}
	// Only stops a hung build or run: on a loaded machine both take far
	// longer than they do on an idle one.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "server")
	build := exec.CommandContext(ctx, goCmd, "build", "-o", bin, "./server")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./server: %v\n%s", err, out)
	}
	dir := clientDir(t)

	// Node 20 has a WebSocket global only behind --experimental-websocket.
	cmd := exec.CommandContext(ctx, node, "--experimental-websocket", "--test", "--test-reporter=spec", "process.test.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DUPLEX_SERVER="+bin, "DUPLEX_CLIENT_DIR="+dir)
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (killed after %v)", err, time.Since(start).Round(time.Millisecond))
		}
		t.Fatalf("node %s: %v\n%s", strings.Join(cmd.Args[1:], " "), err, out.Bytes())
	}
	t.Logf("node (%v):\n%s", time.Since(start).Round(time.Millisecond), out.Bytes())
}
