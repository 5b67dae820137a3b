package golang

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/duplexrpc/duplex/schema"
)

// generateError prints the typed error of a schema error.
func (g *generator) generateError(e *schema.Error) {
	name := errorName(e)
	runtime := g.use(runtimePkg)
	code := strconv.Quote(e.Code)
	g.comment(wrapText(fmt.Sprintf("%s is the schema error %s, answered with the code %s.", name, e.Name, code)))
	if strings.TrimSpace(e.Doc) != "" {
		g.P("//")
		g.comment(e.Doc)
	}
	g.P("type ", name, " struct {")
	g.P("Message string // shown to the client")
	g.P("}")
	g.P()
	g.P("func (e *", name, ") Error() string {")
	g.P("return ", strconv.Quote(e.Code+": "), " + e.Message")
	g.P("}")
	g.P()
	g.P("// WireError implements runtime.WireError: the reply carries the code ", code)
	g.P("// and Message.")
	g.P("func (e *", name, ") WireError() (code, message string) {")
	g.P("return ", code, ", e.Message")
	g.P("}")
	g.P()
	g.P("var _ ", runtime, ".WireError = (*", name, ")(nil)")
	g.P()
}

// handlerSignature returns the parameters and results of a command's
// Handler method, with or without parameter names.
func (g *generator) handlerSignature(c *schema.Command, named bool) string {
	ctx, runtime := g.use("context"), g.use(runtimePkg)
	p := func(name, typ string) string {
		if named {
			return name + " " + typ
		}
		return typ
	}
	params := []string{p("ctx", ctx+".Context"), p("s", "*"+runtime+".Session")}
	if a := argsType(c); a != "" {
		params = append(params, p("args", a))
	}
	results := "error"
	if r := resultType(c); r != "" {
		results = "(" + r + ", error)"
	}
	return "(" + strings.Join(params, ", ") + ") " + results
}

// commandNotes are the extra doc paragraphs of a command's Handler method.
func commandNotes(c *schema.Command) string {
	var notes []string
	if len(c.Guards) > 0 {
		names := make([]string, len(c.Guards))
		for i, gd := range c.Guards {
			names[i] = guardMethod(gd)
		}
		notes = append(notes, fmt.Sprintf("It runs only when %s allowed the call.", joinAnd(names)))
	}
	if errs := errorTypes(c); len(errs) > 0 {
		notes = append(notes, fmt.Sprintf("It may return %s.", joinOr(errs)))
	}
	if c.Idempotent {
		notes = append(notes, "Idempotent: a client may send it again after a reconnect.")
	}
	return strings.Join(notes, " ")
}

// generateHandler prints the Handler interface.
func (g *generator) generateHandler() {
	g.P("// Handler implements the commands and guards of ", g.file.Base(), ". Its methods")
	g.P("// run concurrently, each call on a goroutine of its own; ctx ends when the")
	g.P("// client cancels the call or the connection closes. Embed")
	g.P("// UnimplementedHandler to keep compiling when the schema gains commands.")
	g.P("//")
	g.P("// A method's error reaches the client with its code and message when it is")
	g.P("// one of the command's declared errors (or its guards' errors) or a")
	g.P("// *runtime.Error with one of the runtime's own codes; any other error is")
	g.P("// answered as \"internal\", without its text, and reported to")
	g.P("// runtime.Hooks.OnError.")
	g.P("type Handler interface {")
	for _, c := range g.file.Commands {
		g.doc(c.Doc, "", c.Deprecation, commandNotes(c))
		g.P(methodName(c), g.handlerSignature(c, true))
	}
	for _, gd := range g.file.Guards {
		g.doc(gd.Doc, "", nil, fmt.Sprintf("%s decides guard %s: false refuses the call with *%s.", guardMethod(gd), gd.Name, errorName(gd.Error)))
		g.P(guardMethod(gd), "(ctx ", g.use("context"), ".Context, s *", g.use(runtimePkg), ".Session) bool")
	}
	g.P("}")
	g.P()
}

// generateUnimplementedHandler prints UnimplementedHandler.
func (g *generator) generateUnimplementedHandler() {
	runtime := g.use(runtimePkg)
	g.P("// UnimplementedHandler answers every command with \"unimplemented\" and")
	g.P("// refuses every guard. Embed it in a Handler and override what you implement.")
	g.P("type UnimplementedHandler struct{}")
	g.P()
	g.P("var _ Handler = UnimplementedHandler{}")
	g.P()
	for _, c := range g.file.Commands {
		name := methodName(c)
		g.P("// ", name, " answers \"unimplemented\".")
		g.P("func (UnimplementedHandler) ", name, g.handlerSignature(c, false), " {")
		ret := "return "
		if r := resultType(c); r != "" {
			ret += r + "{}, "
		}
		g.P(ret, "&", runtime, ".Error{Code: ", runtime, ".CodeUnimplemented, Message: ", strconv.Quote("command "+c.Name+" is not implemented"), "}")
		g.P("}")
		g.P()
	}
	for _, gd := range g.file.Guards {
		name := guardMethod(gd)
		g.P("// ", name, " refuses.")
		g.P("func (UnimplementedHandler) ", name, "(", g.use("context"), ".Context, *", runtime, ".Session) bool {")
		g.P("return false")
		g.P("}")
		g.P()
	}
}

// generateRegister prints Register: one runtime adapter per command
// (runtime.Method and its variants, runtime/method.go), which does what is
// the same for every command; a closure per guard that a command uses.
func (g *generator) generateRegister() {
	runtime := g.use(runtimePkg)
	g.P("// Register registers the commands of ", g.file.Base(), " with r, served by h.")
	g.P("// Each call decodes its arguments (invalid ones are answered with")
	g.P("// \"bad_request\" naming the field), runs the command's guards in order (a")
	g.P("// refusal is answered with the guard's error), calls h and encodes the")
	g.P("// result (runtime.Method).")
	g.P("func Register(r *", runtime, ".Router, h Handler) {")
	used := make(map[*schema.Guard]bool)
	for _, c := range g.file.Commands {
		for _, gd := range c.Guards {
			used[gd] = true
		}
	}
	for _, gd := range g.file.Guards {
		if !used[gd] {
			continue // an unused local would not compile
		}
		g.P(guardVar(gd), " := func(ctx ", g.use("context"), ".Context, s *", runtime, ".Session) error {")
		g.P("if !h.", guardMethod(gd), "(ctx, s) {")
		g.P("return &", errorName(gd.Error), "{Message: ", strconv.Quote("refused by guard "+gd.Name), "}")
		g.P("}")
		g.P("return nil")
		g.P("}")
	}
	for _, c := range g.file.Commands {
		g.generateMethod(c)
	}
	g.P("}")
	g.P()
}

// guardVar is the local variable of Register holding a guard's closure;
// its prefix keeps it apart from the imports' names.
func guardVar(gd *schema.Guard) string { return "guard" + goName(gd.Name) }

// generateMethod prints the registration of one command: the adapter that
// fits its handler's shape, the codes it declares and its guards.
func (g *generator) generateMethod(c *schema.Command) {
	runtime := g.use(runtimePkg)
	adapter := "Method"
	switch {
	case argsType(c) == "" && resultType(c) == "":
		adapter = "MethodNoArgsNoResult"
	case argsType(c) == "":
		adapter = "MethodNoArgs"
	case resultType(c) == "":
		adapter = "MethodNoResult"
	}
	var codes, guards []string
	for _, e := range c.Errors {
		codes = append(codes, strconv.Quote(e.Code))
	}
	for _, gd := range c.Guards {
		codes = append(codes, strconv.Quote(gd.Error.Code))
		guards = append(guards, guardVar(gd))
	}
	codes = dedupe(codes)
	head := "r.Handle(" + strconv.Quote(c.Name) + ", " + runtime + "." + adapter + "(h." + methodName(c) + ", " + runtime + ".Command{"
	if len(codes) == 0 && len(guards) == 0 {
		g.P(head, "}))")
		return
	}
	g.P(head)
	if len(codes) > 0 {
		g.P("Errors: []string{", strings.Join(codes, ", "), "},")
	}
	if len(guards) > 0 {
		g.P("Guards: []", runtime, ".Guard{", strings.Join(guards, ", "), "},")
	}
	g.P("}))")
}

// generatePushers prints PushX, PushXTo and BroadcastX for an event: typed
// front ends of runtime.PushEvent, PushEventTo and BroadcastEvent.
func (g *generator) generatePushers(e *schema.Event) {
	name, typ := goName(e.Name), eventName(e)
	runtime := g.use(runtimePkg)
	wireName := strconv.Quote(e.Name)
	g.doc(fmt.Sprintf("Push%s sends the event %s to the session s, numbered with its next seq. While s waits to be resumed the event is kept and replayed; it returns runtime.ErrClosed when s has ended.", name, e.Name), "", e.Deprecation)
	g.P("func Push", name, "(s *", runtime, ".Session, ev *", typ, ") error {")
	g.P("return ", runtime, ".PushEvent(s, ", wireName, ", ev)")
	g.P("}")
	g.P()
	g.doc(fmt.Sprintf("Push%sTo sends the event %s to each of sessions, encoding it once. It tries every session and returns the first error.", name, e.Name), "", e.Deprecation)
	g.P("func Push", name, "To(sessions []*", runtime, ".Session, ev *", typ, ") error {")
	g.P("return ", runtime, ".PushEventTo(sessions, ", wireName, ", ev)")
	g.P("}")
	g.P()
	g.doc(fmt.Sprintf("Broadcast%s sends the event %s to every session of srv that has not ended (connected, or detached and kept for its resume), encoding it once (runtime.Server.Broadcast). It fails when ev cannot be encoded, or when the engine could not publish it (an error matching runtime.ErrUnavailable, which a handler may return); connections that cannot take the event are closed by the runtime.", name, e.Name), "", e.Deprecation)
	g.P("func Broadcast", name, "(srv *", runtime, ".Server, ev *", typ, ") error {")
	g.P("return ", runtime, ".BroadcastEvent(srv, ", wireName, ", ev)")
	g.P("}")
	g.P()
}

// generateHelpers prints the unexported helpers of encoding.
func (g *generator) generateHelpers() {
	if !g.sortedKeys {
		return
	}
	g.P("// duplexSortedKeys returns the keys of m in order, in buf when they fit,")
	g.P("// so that maps encode the same every time.")
	g.P("func duplexSortedKeys[V any](buf []string, m map[string]V) []string {")
	g.P("for k := range m {")
	g.P("buf = append(buf, k)")
	g.P("}")
	g.P(g.use("slices"), ".Sort(buf)")
	g.P("return buf")
	g.P("}")
	g.P()
}

func dedupe(s []string) []string {
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func joinAnd(s []string) string { return join(s, "and") }
func joinOr(s []string) string  { return join(s, "or") }

func join(s []string, conj string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	case 2:
		return s[0] + " " + conj + " " + s[1]
	}
	return strings.Join(s[:len(s)-1], ", ") + ", " + conj + " " + s[len(s)-1]
}
