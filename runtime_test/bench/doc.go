package bench

//go:generate go run github.com/duplexrpc/duplex/cmd/duplex gen -go . bench.duplex
