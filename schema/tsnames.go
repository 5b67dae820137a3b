package schema

import (
	"fmt"
	"slices"
)

// TSGlobals are the global names generated TypeScript refers to; a schema
// type of the same name would shadow them.
var TSGlobals = []string{"Date", "Promise", "Record", "Uint8Array"}

// TSRuntimeExports are the names the TypeScript runtime (clients/ts)
// exports. The generated module re-exports them all ("export * from
// ./duplex.js"), so a generated declaration of the same name would shadow
// one. A test checks the list against the runtime's duplex.d.ts.
var TSRuntimeExports = []string{
	"DuplexError", "WebSocketLike", "WebSocketConstructor", "State", "ClientOptions", "CloseInfo",
	"AbortSignalLike", "CallOptions", "Decoder", "ClientSpec", "big", "bytes", "date", "list",
	"dict", "obj", "Client",
}

// TSClientMembers are the members of the TypeScript runtime's Client
// (clients/ts), private ones included, that a generated command method
// would override. A test checks the list against the runtime's duplex.d.ts.
var TSClientMembers = map[string]bool{
	"constructor": true, "state": true, "session": true, "connect": true, "close": true,
	"call": true, "on": true, "onState": true, "onStartOver": true, "onGiveUp": true,
	"onClose": true,
	"_url":    true, "_o": true, "_ev": true, "_er": true, "_ip": true, "_ws": true, "_s": true,
	"_c": true, "_cr": true, "_p": true, "_q": true, "_h": true, "_l": true, "_id": true,
	"_seq": true, "_tok": true, "_sid": true, "_hb": true, "_n": true, "_a": true, "_k": true,
	"_w": true, "_u": true, "_set": true, "_free": true, "_pump": true, "_dial": true,
	"_arm": true, "_recv": true, "_lost": true, "_drop": true, "_retry": true, "_end": true,
	"_pre": true, "_event": true, "_i": true, "_z": true, "_wake": true, "_idle": true,
}

// tsObjectMembers are the members every JavaScript object inherits from
// Object.prototype (a test checks them against Node's): a command method
// would override them too (tsc refuses toString and hasOwnProperty, and
// none should change meaning), and tsc takes a field or an event of the
// same name for them.
var tsObjectMembers = map[string]bool{
	"constructor": true, "hasOwnProperty": true, "isPrototypeOf": true,
	"propertyIsEnumerable": true, "toLocaleString": true, "toString": true, "valueOf": true,
}

// TSClientName and TSEventsName are the generated client class and events
// map of a package: chat gives ChatClient and ChatEvents.
func TSClientName(pkg string) string { return GoName(pkg) + "Client" }
func TSEventsName(pkg string) string { return GoName(pkg) + "Events" }

// tsNames checks what only the TypeScript client adds to the Go names'
// rules, which cover the rest (the TypeScript names of messages, enums,
// error classes, <Command>Args and <Event>Event are the Go ones): the
// globals generated code uses, the names the runtime exports, the client
// class and the events map; and the runtime Client's own members and
// Object's, which a command must not override, and then, which would make
// every client a thenable that await calls.
func (c *checker) tsNames() {
	fixed := map[string]string{
		TSClientName(c.out.Package): "the client class",
		TSEventsName(c.out.Package): "the events map",
	}
	for _, g := range TSGlobals {
		fixed[g] = "the global " + g
	}
	for _, x := range TSRuntimeExports {
		if !slices.Contains(fixedGoNames, x) { // Client: refused as a Go name already
			fixed[x] = "the runtime's export " + x
		}
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
		switch {
		case TSClientMembers[cmd.Name]:
			c.errorf(cmd.Pos, "command %q would override the TypeScript client's own %s; rename it", cmd.Name, cmd.Name)
		case tsObjectMembers[cmd.Name]:
			c.errorf(cmd.Pos, "command %q would override the %s every JavaScript object has; rename it", cmd.Name, cmd.Name)
		case cmd.Name == "then":
			c.errorf(cmd.Pos, "command \"then\" would make the TypeScript client a thenable, which await would call; rename it")
		}
		for _, suffix := range []string{"Args", "Result"} {
			claim(GoName(cmd.Name)+suffix, fmt.Sprintf("command %q", cmd.Name), cmd.Pos)
		}
	}
	for _, ev := range c.out.Events {
		claim(GoName(ev.Name)+"Event", fmt.Sprintf("event %q", ev.Name), ev.Pos)
	}

	// Fields of messages, results and events, and events, are the keys of
	// the objects that type the client's decoders ({[K in keyof T]?:
	// Decoder<T[K]>}), whose members tsc looks up on every object: one
	// named like a member of Object.prototype is taken for it and does
	// not compile.
	objectMember := func(kind, name string, p Pos) {
		if tsObjectMembers[name] {
			c.errorf(p, "%s %q is named like the %s every JavaScript object has, which the TypeScript client's decoders would take for it; rename it", kind, name, name)
		}
	}
	fields := func(kind string, fs []*Field) {
		for _, f := range fs {
			objectMember(kind, f.Name, f.Pos)
		}
	}
	for _, m := range c.out.Messages {
		fields("field", m.Fields)
	}
	for _, cmd := range c.out.Commands { // arguments are encoded, never decoded
		if cmd.Result.Message == nil {
			fields("result", cmd.Result.Fields)
		}
	}
	for _, ev := range c.out.Events {
		objectMember("event", ev.Name, ev.Pos)
		fields("field", ev.Fields)
	}
}
