package syntax_test

import (
	"fmt"

	"github.com/duplexrpc/duplex/schema/syntax"
)

func ExamplePrint() {
	src := `package chat
// Someone online.
message User { name: string, avatar: bytes?   // optional
  @deprecated("use name") nick: string? }
@guard(loggedIn)
@idempotent
command say(text: string) -> ( ) errors NotLoggedIn
`
	f, err := syntax.Parse("chat.duplex", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(syntax.Print(f)))
	// Output:
	// package chat
	//
	// // Someone online.
	// message User {
	//     name: string
	//     avatar: bytes? // optional
	//     @deprecated("use name")
	//     nick: string?
	// }
	//
	// @guard(loggedIn) @idempotent
	// command say(text: string) errors NotLoggedIn
}

func ExampleParse_errors() {
	src := `package chat

message User {
    name string
}

command login(name: string -> (ok: bool)
`
	_, err := syntax.Parse("chat.duplex", []byte(src))
	fmt.Println(err)
	// Output:
	// chat.duplex:4:10: expected ":" after field name, found "string"
	// chat.duplex:7:28: expected ",", newline or ")", found "->"
}
