package golang_test

import (
	"fmt"
	"log"
	"strings"

	"github.com/duplexrpc/duplex/gen/golang"
	"github.com/duplexrpc/duplex/schema"
)

// Generating the server side of a schema: the Handler interface to
// implement is part of the one file.
func ExampleGenerate() {
	src := `package chat

error NameTaken

// Log in; returns who is online.
command login(name: string) -> (users: []string) errors NameTaken
`
	f, err := schema.Load("chat.duplex", []byte(src))
	if err != nil {
		log.Fatal(err)
	}
	files, err := golang.Generate(f)
	if err != nil {
		log.Fatal(err)
	}
	code := string(files[0].Content)
	start := strings.Index(code, "type Handler interface")
	end := start + strings.Index(code[start:], "}\n")
	fmt.Println(files[0].Name)
	fmt.Print(code[start : end+2])
	// Output:
	// chat_duplex.go
	// type Handler interface {
	// 	// Log in; returns who is online.
	// 	//
	// 	// It may return *NameTakenError.
	// 	Login(ctx context.Context, s *runtime.Session, args LoginArgs) (LoginResult, error)
	// }
}
