// Package e2etest runs the TypeScript client generated for
// ../testdata/alltypes/alltypes.duplex (the committed golden .js) under
// Node against a real Go server: the runtime serving the Go code generated
// for the same schema (alltypes/, committed and checked for staleness). It
// has no code of its own.
//
// The tests need node (20 or later) on the PATH; without it they fail.
//
// TestGoUpToDate fails when alltypes/ is stale. go test
// ./gen/typescript/e2etest -update rewrites it; when the stale file no
// longer compiles (the tests cannot build), go generate
// ./gen/typescript/e2etest does the same through cmd/duplex.
package e2etest

//go:generate go run github.com/duplexrpc/duplex/cmd/duplex gen -go alltypes ../testdata/alltypes/alltypes.duplex
