package schema

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
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
	// Members Client inherits would not be in its body: it must not extend.
	if head := strings.TrimPrefix(body[:strings.Index(body, "\n")], "export declare class Client"); !bareClassHead(head) {
		t.Errorf("class Client%s extends or implements a type, whose members this test cannot see", head)
	}
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

// bareClassHead reports whether head, a class declaration after the
// class's name, is type parameters (if any) and the opening brace alone:
// no extends or implements clause.
func bareClassHead(head string) bool {
	depth := 0
	for i, r := range head {
		switch {
		case r == '<':
			depth++
		case r == '>':
			depth--
		case depth == 0:
			return head[i:] == " {"
		}
	}
	return false
}

// TestTSRuntimeNamesInJS loads the runtime's duplex.js in Node and checks
// that every value it exports is in TSRuntimeExports, and every member of
// a Client (its prototype's and a new client's own properties) in
// TSClientMembers: what the compiled runtime has, not what its .d.ts says.
// It also checks tsObjectMembers against Node's Object.prototype, less the
// names no schema name can be (__proto__, __defineGetter__, ...).
func TestTSRuntimeNamesInJS(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is missing: install Node 20 or later (%v)", err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ts.JSName), ts.JS(), 0o644); err != nil {
		t.Fatal(err)
	}
	const script = `
import * as m from "./duplex.js";
const c = new m.Client("ws://127.0.0.1:1");
const members = new Set([...Object.getOwnPropertyNames(m.Client.prototype), ...Object.getOwnPropertyNames(c)]);
const object = Object.getOwnPropertyNames(Object.prototype);
console.log(JSON.stringify({exports: Object.keys(m), members: [...members], object}));
`
	if err := os.WriteFile(filepath.Join(dir, "names.mjs"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(node, "names.mjs")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node names.mjs: %v\n%s", err, out)
	}
	var got struct{ Exports, Members, Object []string }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("node names.mjs printed %q: %v", out, err)
	}
	if len(got.Exports) == 0 || len(got.Members) == 0 {
		t.Fatalf("node names.mjs found no exports or no members: %s", out)
	}
	for _, x := range got.Exports {
		if !slices.Contains(TSRuntimeExports, x) {
			t.Errorf("duplex.js exports %s, which TSRuntimeExports does not list", x)
		}
	}
	for _, m := range got.Members {
		if !TSClientMembers[m] {
			t.Errorf("a Client of duplex.js has the member %s, which TSClientMembers does not list", m)
		}
	}
	var object, listed []string
	for _, m := range got.Object {
		if !strings.HasPrefix(m, "_") {
			object = append(object, m)
		}
	}
	for m := range tsObjectMembers {
		listed = append(listed, m)
	}
	if a, b := sorted(listed), sorted(object); !slices.Equal(a, b) {
		t.Errorf("tsObjectMembers = %v,\nObject.prototype has %v", a, b)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}
