package golang

import (
	"strings"

	"github.com/duplexrpc/duplex/schema"
)

// goName maps a schema name to its Go name (schema.GoName: PascalCase,
// common initialisms in capitals, "user_id" and "userId" both "UserID").
func goName(name string) string { return schema.GoName(name) }

// Go names of the declarations generated for schema declarations.

func messageName(m *schema.Message) string { return goName(m.Name) }
func enumName(e *schema.Enum) string       { return goName(e.Name) }
func fieldName(f *schema.Field) string     { return goName(f.Name) }
func eventName(e *schema.Event) string     { return goName(e.Name) + "Event" }
func methodName(c *schema.Command) string  { return goName(c.Name) }
func guardMethod(g *schema.Guard) string   { return "Guard" + goName(g.Name) }

func enumValueName(e *schema.Enum, v *schema.EnumValue) string { return schema.EnumConstName(e, v) }

// errorName is the Go type of a schema error: NameTaken gives
// NameTakenError; a name that already ends in "Error" is kept as it is.
func errorName(e *schema.Error) string {
	n := goName(e.Name)
	if strings.HasSuffix(n, "Error") {
		return n
	}
	return n + "Error"
}

// argsType is the Go type of a command's arguments: the named message, or
// <Command>Args for inline fields; "" when the command takes none.
func argsType(c *schema.Command) string {
	switch {
	case c.Args.Message != nil:
		return messageName(c.Args.Message)
	case len(c.Args.Fields) > 0:
		return methodName(c) + "Args"
	}
	return ""
}

// resultType is the Go type of a command's result, like argsType.
func resultType(c *schema.Command) string {
	switch {
	case c.Result.Message != nil:
		return messageName(c.Result.Message)
	case len(c.Result.Fields) > 0:
		return methodName(c) + "Result"
	}
	return ""
}
