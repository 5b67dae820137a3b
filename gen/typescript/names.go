package typescript

import (
	"strings"

	"github.com/duplexrpc/duplex/schema"
)

// goName is schema.GoName: generated TypeScript names derive from the Go
// names (LoginArgs, NameTakenError, SaidEvent) so that they match the Go
// side and the checker's collision rules cover them.
func goName(name string) string { return schema.GoName(name) }

// TypeScript names of the declarations generated for schema declarations.
// Messages and enums keep their names as written.

func clientName(f *schema.File) string { return schema.TSClientName(f.Package) }
func eventsName(f *schema.File) string { return schema.TSEventsName(f.Package) }
func eventName(e *schema.Event) string { return goName(e.Name) + "Event" }

// errorClass is the class of a schema error: NameTaken gives NameTakenError;
// a name that already ends in "Error" is kept (as in Go).
func errorClass(e *schema.Error) string {
	n := goName(e.Name)
	if strings.HasSuffix(n, "Error") {
		return n
	}
	return n + "Error"
}

// errorGuard is the type guard of a schema error: NameTaken gives isNameTaken.
func errorGuard(e *schema.Error) string { return "is" + goName(e.Name) }

// argsType is the type of a command's arguments: the named message, or
// <Command>Args for inline fields; "" when the command takes none.
func argsType(c *schema.Command) string {
	switch {
	case c.Args.Message != nil:
		return c.Args.Message.Name
	case len(c.Args.Fields) > 0:
		return goName(c.Name) + "Args"
	}
	return ""
}

// resultType is the type of a command's result, like argsType; "" when the
// command returns nothing.
func resultType(c *schema.Command) string {
	switch {
	case c.Result.Message != nil:
		return c.Result.Message.Name
	case len(c.Result.Fields) > 0:
		return goName(c.Name) + "Result"
	}
	return ""
}
