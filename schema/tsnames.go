package schema

import "fmt"

// TSGlobals are the global names generated TypeScript refers to; a schema
// type of the same name would shadow them.
var TSGlobals = []string{"Date", "Promise", "Record", "Uint8Array"}

// TSClientMembers are the members of the TypeScript runtime's Client
// (clients/ts) that a generated command method would override.
var TSClientMembers = map[string]bool{
	"constructor": true, "connect": true, "close": true, "call": true, "on": true,
	"state": true, "session": true, "onState": true, "onStartOver": true, "onGiveUp": true,
}

// TSClientName and TSEventsName are the generated client class and events
// map of a package: chat gives ChatClient and ChatEvents.
func TSClientName(pkg string) string { return GoName(pkg) + "Client" }
func TSEventsName(pkg string) string { return GoName(pkg) + "Events" }

// tsNames checks what only the TypeScript client adds to the Go names'
// rules, which cover the rest (the TypeScript names of messages, enums,
// error classes, <Command>Args and <Event>Event are the Go ones): the
// globals generated code uses, the client class and the events map, and the
// runtime Client's own members, which a command must not override.
func (c *checker) tsNames() {
	fixed := map[string]string{
		TSClientName(c.out.Package): "the client class",
		TSEventsName(c.out.Package): "the events map",
	}
	for _, g := range TSGlobals {
		fixed[g] = "the global " + g
	}
	claim := func(name, what string, p Pos) {
		if owner, ok := fixed[name]; ok {
			c.errorf(p, "%s is named %s in TypeScript, like %s", what, name, owner)
		}
	}
	for _, m := range c.out.Messages {
		claim(m.Name, fmt.Sprintf("message %q", m.Name), m.Pos)
	}
	for _, e := range c.out.Enums {
		claim(e.Name, fmt.Sprintf("enum %q", e.Name), e.Pos)
	}
	for _, e := range c.out.Errors {
		claim(ErrorTypeName(e), fmt.Sprintf("the class of error %q", e.Name), e.Pos)
	}
	for _, cmd := range c.out.Commands {
		if TSClientMembers[cmd.Name] {
			c.errorf(cmd.Pos, "command %q would override the TypeScript client's own %s; rename it", cmd.Name, cmd.Name)
		}
		for _, suffix := range []string{"Args", "Result"} {
			claim(GoName(cmd.Name)+suffix, fmt.Sprintf("command %q", cmd.Name), cmd.Pos)
		}
	}
	for _, ev := range c.out.Events {
		claim(GoName(ev.Name)+"Event", fmt.Sprintf("event %q", ev.Name), ev.Pos)
	}
}
