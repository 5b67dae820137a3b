package schema_test

import (
	"fmt"

	"github.com/duplexrpc/duplex/schema"
)

func ExampleLoad() {
	src := `package chat

// The name is taken by someone online.
error NameTaken

// Log in; returns who is online.
command login(name: string) -> (users: []string) errors NameTaken
`
	f, err := schema.Load("chat.duplex", []byte(src))
	if err != nil {
		fmt.Println(err)
		return
	}
	login := f.Commands[0]
	fmt.Println(f.Package, login.Name, login.Doc)
	fmt.Println(login.Args.Fields[0].Name, login.Result.Fields[0].Type.Kind == schema.KindList)
	fmt.Println(login.Errors[0].Name, login.Errors[0].Code)
	// Output:
	// chat login Log in; returns who is online.
	// name true
	// NameTaken name_taken
}

func ExampleLoad_diagnostics() {
	src := `package chat

message User {
    name: string
}

message Room {
    owner: Usr
    owner: User
}
`
	_, err := schema.Load("chat.duplex", []byte(src))
	fmt.Println(err)
	// Output:
	// chat.duplex:8:12: unknown type "Usr" (did you mean "User"?)
	// chat.duplex:9:5: field "owner" redeclared (first declared at chat.duplex:8:5)
}

func ExampleFormat() {
	out, err := schema.Format("chat.duplex", []byte("package chat\nevent said { from: string, text: string }\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// package chat
	//
	// event said {
	//     from: string
	//     text: string
	// }
}

func ExampleGoName() {
	for _, n := range []string{"user_id", "userId", "avatarUrl", "loggedIn", "HTTPError"} {
		fmt.Println(n, "→", schema.GoName(n), schema.SnakeCase(n))
	}
	// Output:
	// user_id → UserID user_id
	// userId → UserID user_id
	// avatarUrl → AvatarURL avatar_url
	// loggedIn → LoggedIn logged_in
	// HTTPError → HTTPError http_error
}
