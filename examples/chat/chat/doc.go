// Package chat is the chat example's room: the commands and events of
// chat.duplex, served by Room. The generated code (chat_duplex.go and
// the browser client in ../web) is committed; regenerate it with
// go generate after editing chat.duplex.
package chat

//go:generate go run ../../../cmd/duplex gen -go . -ts ../web chat.duplex
