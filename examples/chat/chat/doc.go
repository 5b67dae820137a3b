// Package chat is the chat example's room: the commands and events of
// chat.duplex, served by Room. The generated code (chat_duplex.go, the
// Go client chat_duplex_client.go and the browser client in ../web) is
// committed; regenerate it with go generate after editing chat.duplex.
package chat

//go:generate go run ../../../cmd/duplex gen -go . -go-client -ts ../web chat.duplex
