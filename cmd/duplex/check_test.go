package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	boardV1 = "package board\n\ncommand move(row: int32, column: int32)\n\ncommand undo()\n"
	// v2 adds an optional parameter and a command: nothing that breaks old
	// clients, but new clients of old servers call "reset".
	boardV2 = "package board\n\ncommand move(row: int32, column: int32, player: string?)\n\ncommand undo()\n\ncommand reset()\n"
	// v3 removes a parameter and a command.
	boardV3 = "package board\n\ncommand move(row: int32)\n"
)

// duplexCheck runs duplex check with args and returns its exit status,
// stdout and stderr.
func duplexCheck(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"check"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestCheckAgainstFile(t *testing.T) {
	dir := t.TempDir()
	v1, v2, v3 := filepath.Join(dir, "v1.duplex"), filepath.Join(dir, "v2.duplex"), filepath.Join(dir, "v3.duplex")
	writeFile(t, v1, boardV1)
	writeFile(t, v2, boardV2)
	writeFile(t, v3, boardV3)

	if code, out, errOut := duplexCheck(t, "-against", v1, v2); code != 0 || out != "no breaking changes\n" || errOut != "" {
		t.Errorf("v1 -> v2: exit %d, stdout %q, stderr %q; want 0 and no breaking changes", code, out, errOut)
	}
	code, out, errOut := duplexCheck(t, "-against", v1, "-rolling", v2)
	if want := v2 + `:7:9: command "reset" was added (breaks new clients of old servers)` + "\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("v1 -> v2 -rolling: exit %d, stdout %q, stderr %q; want 1 and %q", code, out, errOut, want)
	}
	code, out, errOut = duplexCheck(t, "-against", v2, v3)
	want := v2 + `:3:26: command "move": parameter "column" was removed (breaks old clients and new clients of old servers)` + "\n" +
		v2 + `:3:41: command "move": parameter "player" was removed (breaks old clients)` + "\n" +
		v2 + `:5:9: command "undo" was removed (breaks old clients)` + "\n" +
		v2 + `:7:9: command "reset" was removed (breaks old clients)` + "\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("v2 -> v3: exit %d, stdout %q, stderr:\n%s\nwant 1 and:\n%s", code, out, errOut, want)
	}

	// Schema errors in either version are reported as such.
	bad := filepath.Join(dir, "bad.duplex")
	writeFile(t, bad, "package board\n\ncommand move(row: int)\n")
	for _, args := range [][]string{{"-against", bad, v1}, {"-against", v1, bad}} {
		if code, _, errOut := duplexCheck(t, args...); code != 1 || !strings.Contains(errOut, bad+`:3:19: unknown type "int"`) {
			t.Errorf("check %v: exit %d, stderr %q; want 1 and the unknown type", args, code, errOut)
		}
	}
	if code, _, errOut := duplexCheck(t, "-against", v1, v2, v3); code != 1 || !strings.Contains(errOut, "-against wants one schema file") {
		t.Errorf("two files: exit %d, stderr %q", code, errOut)
	}
	if code, _, errOut := duplexCheck(t, "-rolling", v1); code != 1 || !strings.Contains(errOut, "-rolling needs -against") {
		t.Errorf("-rolling alone: exit %d, stderr %q", code, errOut)
	}
}

// TestCheckAgainstGitRef compares a schema with its committed versions in
// a real git repository, from another working directory.
func TestCheckAgainstGitRef(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is missing")
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.Mkdir(filepath.Join(repo, "board"), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(repo, "board", "board.duplex")
	git("init", "-q", "-b", "main")
	writeFile(t, path, boardV1)
	git("add", ".")
	git("commit", "-q", "-m", "v1")
	git("tag", "v1")
	writeFile(t, path, boardV2)
	git("commit", "-q", "-am", "v2")

	writeFile(t, path, boardV3) // uncommitted, as when checking a change before committing it
	code, out, errOut := duplexCheck(t, "-against", "git:main", path)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "main:"+path+`:3:26: command "move": parameter "column" was removed`) ||
		!strings.Contains(errOut, "main:"+path+`:7:9: command "reset" was removed`) {
		t.Errorf("against git:main: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	writeFile(t, path, boardV2)
	if code, out, errOut := duplexCheck(t, "-against", "git:v1", path); code != 0 || out != "no breaking changes\n" {
		t.Errorf("against git:v1: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if code, _, errOut := duplexCheck(t, "-against", "git:nope", path); code != 1 || !strings.Contains(errOut, "read "+path+" at nope: git show:") {
		t.Errorf("against git:nope: exit %d, stderr %q", code, errOut)
	}
}
