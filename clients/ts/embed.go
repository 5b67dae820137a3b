package ts

import "embed"

//go:embed src/duplex.ts dist/duplex.js dist/duplex.d.ts
var files embed.FS

// The runtime's file names. Generated code imports "./duplex.js", so the
// runtime must be written beside it under these names: a browser loads
// duplex.js; tsc resolves the import to duplex.ts and compiles it with the
// generated client, so that a project's outDir gets its own duplex.js.
const (
	TSName  = "duplex.ts"
	JSName  = "duplex.js"
	DTSName = "duplex.d.ts"
)

// TS returns the runtime's source (src/duplex.ts). Each call returns a new
// copy, which the caller may modify.
func TS() []byte { return read("src/" + TSName) }

// JS returns the runtime module (dist/duplex.js). Each call returns a new
// copy, which the caller may modify.
func JS() []byte { return read("dist/" + JSName) }

// DTS returns the runtime's type declarations (dist/duplex.d.ts). Each call
// returns a new copy, which the caller may modify.
func DTS() []byte { return read("dist/" + DTSName) }

func read(name string) []byte {
	b, _ := files.ReadFile(name) // cannot fail: go:embed guarantees the file
	return b
}
