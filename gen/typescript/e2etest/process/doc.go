// Package process runs the generated TypeScript client against the Go
// server of ./server as a separate process, which process.test.mjs drops,
// kills, stops and restarts: go test builds the server and runs node.
package process
