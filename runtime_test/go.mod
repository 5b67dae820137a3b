module github.com/duplexrpc/duplex/runtime_test

go 1.26.8

require github.com/duplexrpc/duplex v0.0.0

require (
	github.com/coder/websocket v1.8.15 // indirect
	github.com/gorilla/websocket v1.5.3 // indirect
)

replace github.com/duplexrpc/duplex => ../
