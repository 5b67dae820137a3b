package ts

import "embed"

//go:embed dist/duplex.js dist/duplex.d.ts
var dist embed.FS

// The runtime's file names. Generated code imports "./duplex.js", so the
// runtime must be written beside it under these names.
const (
	JSName  = "duplex.js"
	DTSName = "duplex.d.ts"
)

// JS returns the runtime module (dist/duplex.js). Each call returns a new
// copy, which the caller may modify.
func JS() []byte { return read("dist/" + JSName) }

// DTS returns the runtime's type declarations (dist/duplex.d.ts). Each call
// returns a new copy, which the caller may modify.
func DTS() []byte { return read("dist/" + DTSName) }

func read(name string) []byte {
	b, _ := dist.ReadFile(name) // cannot fail: go:embed guarantees the file
	return b
}
