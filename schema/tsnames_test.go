package schema

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	ts "github.com/duplexrpc/duplex/clients/ts"
)

// TestTSRuntimeNames checks TSRuntimeExports and TSClientMembers against
// the runtime's shipped duplex.d.ts, so that a name the runtime adds (an
// export, a Client member) is reserved as soon as it exists.
func TestTSRuntimeNames(t *testing.T) {
	dts := string(ts.DTS())
	if dts == "" {
		t.Fatal("clients/ts embeds no duplex.d.ts")
	}

	exportRE := regexp.MustCompile(`(?m)^export (?:declare )?(?:abstract )?(?:class|interface|type|const|let|var|function|enum|namespace) ([A-Za-z_$][\w$]*)`)
	var exports []string
	for _, m := range exportRE.FindAllStringSubmatch(dts, -1) {
		exports = append(exports, m[1])
	}
	for _, line := range strings.Split(dts, "\n") {
		if strings.HasPrefix(line, "export") && !exportRE.MatchString(line) {
			t.Errorf("duplex.d.ts has an export this test cannot read: %q", line)
		}
	}
	got, want := sorted(TSRuntimeExports), sorted(exports)
	if !slices.Equal(got, want) {
		t.Errorf("TSRuntimeExports = %v,\nduplex.d.ts exports %v", got, want)
	}

	start := strings.Index(dts, "\nexport declare class Client")
	if start < 0 {
		t.Fatal("duplex.d.ts declares no class Client")
	}
	body := dts[start+1:]
	body = body[:strings.Index(body, "\n}")]
	// Members are indented by four spaces; doc comments and the bodies of
	// nested types are not members.
	memberRE := regexp.MustCompile(`^    (?:(?:private|protected|public|readonly|static|get|set|async) )*([A-Za-z_$][\w$]*)[?!]?[(<:;]`)
	var members []string
	for _, line := range strings.Split(body, "\n")[1:] {
		if m := memberRE.FindStringSubmatch(line); m != nil {
			members = append(members, m[1])
		} else if strings.HasPrefix(line, "    ") && !strings.HasPrefix(line, "     ") && !strings.HasPrefix(line, "    /**") {
			t.Errorf("class Client has a member this test cannot read: %q", line)
		}
	}
	var listed []string
	for m := range TSClientMembers {
		listed = append(listed, m)
	}
	got, want = sorted(listed), sorted(members)
	if !slices.Equal(got, want) {
		t.Errorf("TSClientMembers = %v,\nclass Client has %v", got, want)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
