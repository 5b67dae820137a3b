module github.com/duplexrpc/duplex/runtime_test

go 1.26.8

require (
	github.com/coder/websocket v1.8.15
	github.com/duplexrpc/duplex v0.0.0
	github.com/gorilla/websocket v1.5.3
)

require (
	github.com/gobwas/httphead v0.1.0 // indirect
	github.com/gobwas/ws v1.5.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/redis/rueidis v1.0.80 // indirect
	golang.org/x/mod v0.42.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/tools v0.52.0 // indirect
)

replace github.com/duplexrpc/duplex => ../

tool github.com/duplexrpc/duplex/cmd/duplex
