package golang

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/tools/imports"

	"github.com/duplexrpc/duplex/schema"
)

// clientPkg is the import path of the Go client runtime.
const clientPkg = "github.com/duplexrpc/duplex/clients/go"

// GenerateClient returns the typed Go client of the checked schema f:
// chat.duplex gives chat_duplex_client.go in package chat, beside the file
// of Generate, whose types (messages, arguments, results, events, errors)
// it uses. It holds Client, a typed view of a *duplexclient.Client with a
// method per command and On<Event> per event, and NewClient. Like
// Generate it is pure and deterministic.
func GenerateClient(f *schema.File) ([]File, error) {
	if f == nil {
		return nil, fmt.Errorf("no schema")
	}
	if f.Package == "" {
		return nil, fmt.Errorf("%s: no package name", f.Base())
	}
	name := ClientOutputName(f)
	if name[0] == '_' || name[0] == '.' {
		return nil, fmt.Errorf("%s: the go command ignores %s, whose name starts with %q; rename the schema file", f.Base(), name, name[:1])
	}
	g := &generator{file: f, imports: make(map[string]bool), noPackageDoc: true}
	if err := g.generateClient(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Base(), err)
	}
	src := g.assemble()
	out, err := imports.Process(name, src, &imports.Options{Comments: true, TabIndent: true, TabWidth: 8, FormatOnly: true})
	if err != nil {
		return nil, fmt.Errorf("format %s: %w\n%s(a generator bug: please report it with the schema)", name, err, excerpt(src, err))
	}
	return []File{{Name: name, Content: out}}, nil
}

// ClientOutputName is the name of the client file generated for f: the
// schema's base name with ".duplex" replaced by "_duplex_client.go".
func ClientOutputName(f *schema.File) string {
	return strings.TrimSuffix(OutputName(f), ".go") + "_client.go"
}

// generateClient prints the body of the client file.
func (g *generator) generateClient() error {
	dc := g.use(clientPkg)
	base := g.file.Base()
	g.P("// Client is the typed client of ", base, ": a method per command and")
	g.P("// On<Event> per event, over a *", dc, ".Client, which connects,")
	g.P("// reconnects and resumes (see its package doc). Safe for concurrent use.")
	g.P("type Client struct {")
	g.P("rt *", dc, ".Client")
	g.P("}")
	g.P()
	g.P("// NewClient returns the typed client over rt. Register event handlers")
	g.P("// (On<Event>) before rt.Connect to see every event.")
	g.P("func NewClient(rt *", dc, ".Client) *Client {")
	g.P("return &Client{rt: rt}")
	g.P("}")
	g.P()
	for _, c := range g.file.Commands {
		if err := g.generateClientMethod(c); err != nil {
			return err
		}
	}
	for _, e := range g.file.Events {
		g.generateClientOn(e)
	}
	if len(g.file.Errors) > 0 {
		g.P("// duplexClientError sets the typed error of a schema error's code in the")
		g.P("// *", dc, ".Error err, so that errors.As finds either.")
		g.P("func duplexClientError(err error) error {")
		g.P("var e *", dc, ".Error")
		g.P("if ", g.use("errors"), ".As(err, &e) && e.Err == nil {")
		g.P("switch e.Code {")
		for _, e := range g.file.Errors {
			g.P("case ", strconv.Quote(e.Code), ":")
			g.P("e.Err = &", errorName(e), "{Message: e.Message}")
		}
		g.P("}")
		g.P("}")
		g.P("return err")
		g.P("}")
		g.P()
	}
	return nil
}

// errorTypes returns the Go types of the errors command c declares and
// those of its guards, once each, in that order: "*NameTakenError".
func errorTypes(c *schema.Command) []string {
	var errs []string
	for _, e := range c.Errors {
		errs = append(errs, "*"+errorName(e))
	}
	for _, gd := range c.Guards {
		errs = append(errs, "*"+errorName(gd.Error))
	}
	return dedupe(errs)
}

// clientErrors is the doc paragraph of a command's client method on its
// errors.
func clientErrors(c *schema.Command) string {
	errs := errorTypes(c)
	s := "Errors: ctx's when it ends first (a call in flight is cancelled on the server); "
	if len(errs) > 0 {
		s += joinOr(errs) + " (errors.As), inside a *duplexclient.Error, which has the code of any other server error"
	} else {
		s += "a *duplexclient.Error with the server's code"
	}
	s += ", or \"disconnected\" (see duplexclient.Client.Call)."
	if c.Idempotent {
		s += " Idempotent: a call in flight when the connection is lost is sent again after the reconnect."
	}
	return s
}

// generateClientMethod prints the client method of a command.
func (g *generator) generateClientMethod(c *schema.Command) error {
	name := methodName(c)
	ctx := g.use("context")
	call := "Call"
	if c.Idempotent {
		call = "CallIdempotent"
	}
	wrap := func(e string) string {
		if len(g.file.Errors) > 0 {
			return "duplexClientError(" + e + ")"
		}
		return e
	}
	g.doc(c.Doc, fmt.Sprintf("%s calls the command %s.", name, c.Name), c.Deprecation, clientErrors(c))
	params := "ctx " + ctx + ".Context"
	argsExpr := "nil"
	if a := argsType(c); a != "" {
		params += ", args *" + a
		argsExpr = "args"
	}
	r := resultType(c)
	if r == "" {
		g.P("func (c *Client) ", name, "(", params, ") error {")
	} else {
		g.P("func (c *Client) ", name, "(", params, ") (*", r, ", error) {")
	}
	fail := "return "
	if r != "" {
		fail += "nil, "
	}
	if argsExpr == "args" {
		g.P("if args == nil {")
		g.P(fail, g.use("errors"), ".New(", strconv.Quote("call "+c.Name+": nil args"), ")")
		g.P("}")
	}
	if r == "" {
		g.P("return ", wrap("c.rt."+call+"(ctx, "+strconv.Quote(c.Name)+", "+argsExpr+", nil)"))
		g.P("}")
		g.P()
		return nil
	}
	g.P("res := new(", r, ")")
	g.P("if err := c.rt.", call, "(ctx, ", strconv.Quote(c.Name), ", ", argsExpr, ", res); err != nil {")
	g.P("return nil, ", wrap("err"))
	g.P("}")
	g.P("return res, nil")
	g.P("}")
	g.P()
	return nil
}

// generateClientOn prints On<Event>.
func (g *generator) generateClientOn(e *schema.Event) {
	name, typ := "On"+goName(e.Name), eventName(e)
	g.doc("", fmt.Sprintf("%s calls fn with the data of every %s event, in order, each once (a resumed session's replay included), on the client's event goroutine, until remove is called. Data that does not decode goes to duplexclient.Options.OnError.", name, e.Name), e.Deprecation)
	g.P("func (c *Client) ", name, "(fn func(*", typ, ")) (remove func()) {")
	g.P("return c.rt.On(", strconv.Quote(e.Name), ", func(data []byte) error {")
	g.P("ev := new(", typ, ")")
	g.P("var d ", g.use(wirePkg), ".Decoder")
	g.P("d.Reset(data, ", strconv.Quote(e.Name), ")")
	g.P("if err := ev.DecodeJSON(&d); err != nil {")
	g.P("return err")
	g.P("}")
	g.P("fn(ev)")
	g.P("return nil")
	g.P("})")
	g.P("}")
	g.P()
}
