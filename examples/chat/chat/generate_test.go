package chat_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The committed generated code (chat_duplex.go, chat_duplex_client.go,
// ../web/chat.duplex.*, ../web/duplex.*) is what chat.duplex generates
// today.
func TestGeneratedCodeIsFresh(t *testing.T) {
	// Read here too, so that go test's cache knows this test depends on
	// them (the generator reads them in another process).
	generated, _ := filepath.Glob("../web/*.ts")
	more, _ := filepath.Glob("../web/*.js")
	for _, f := range append(append(generated, more...), "chat_duplex.go", "chat_duplex_client.go", "chat.duplex") {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("go", "run", "../../../cmd/duplex", "gen", "-check", "-go", ".", "-go-client", "-ts", "../web", "chat.duplex").CombinedOutput()
	if err != nil {
		t.Fatalf("duplex gen -check: %v\n%s(run go generate ./examples/chat/...)", err, out)
	}
}
