package otelduplex_test

import (
	"go/build"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRuntimeDoesNotLinkOpenTelemetry: a server or a client that does not
// import this package links no OpenTelemetry: the runtime, the Go client
// (whose Options.Trace takes ClientTrace) and the generated chat example
// depend on no go.opentelemetry.io package.
func TestRuntimeDoesNotLinkOpenTelemetry(t *testing.T) {
	goTool := filepath.Join(build.Default.GOROOT, "bin", "go")
	for _, pkg := range []string{
		"github.com/duplexrpc/duplex/runtime",
		"github.com/duplexrpc/duplex/clients/go",
		"github.com/duplexrpc/duplex/examples/chat",
	} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 10 {
			t.Fatalf("go list -deps %s listed only %q", pkg, deps)
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "go.opentelemetry.io/") {
				t.Errorf("%s depends on %s", pkg, d)
			}
		}
	}
}
