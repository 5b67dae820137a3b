// Package e2etest runs the Go code generated for
// ../testdata/everything/everything.duplex (the committed golden) against the
// real runtime over a WebSocket, and benchmarks its JSON methods. It has no
// code of its own.
package e2etest
