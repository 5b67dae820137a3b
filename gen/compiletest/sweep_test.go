package compiletest

import (
	"strconv"
	"strings"

	"github.com/duplexrpc/duplex/schema"
)

// sweepSchemas put every word of the pool in every place a name can
// stand, in the case the place asks for: one schema per
// place (all the words as messages, as enums, as values of one enum, as
// errors, guards, commands, parameters, results, events, fields of a
// message and of an event), each around a small schema that uses every
// construct, and one per word as the package, with a command and an
// event (the client class and the events map bear the package's name). Unlike the seeded schemas,
// which draw words at random, the sweep leaves no word out of any place.
// Each is repaired until the checker accepts it, as hostile schemas are;
// a package name the checker refuses leaves no schema.
func sweepSchemas(pool []string) []source {
	var out []source
	sweep := func(place string, decls ...*decl) {
		h := &hostile{pkg: "p", decls: append(skeleton(), decls...)}
		out = append(out, h.repair("sweep_"+place+".duplex"))
	}
	var messages, enums, errs, guards, commands, events []*decl
	seen := map[string]bool{} // a spelling of two words is swept once
	var values, inParams, inResults, msgFields, evFields []*field
	for _, w := range pool {
		if n := spelling(w, upperCase); !seen[n] {
			seen[n] = true
			messages = append(messages, &decl{kind: "message", name: n})
			enums = append(enums, &decl{kind: "enum", name: n, fields: []*field{{name: "v"}}})
			errs = append(errs, &decl{kind: "error", name: n})
		}
		if n := spelling(w, lowerCase); !seen[n] {
			seen[n] = true
			// Declarations are names alone, to keep the generated code
			// small: the skeleton's have fields, arguments and guards.
			guards = append(guards, &decl{kind: "guard", name: n, rejects: "Err"})
			commands = append(commands, &decl{kind: "command", name: n, params: &params{}})
			// Events the client need not decode (the skeleton's ev it does):
			// the events map holds the decoders of some events only.
			events = append(events, &decl{kind: "event", name: n})
			values = append(values, &field{name: n})
			inParams = append(inParams, &field{name: n, typ: "string"})
			inResults = append(inResults, &field{name: n, typ: "string"})
			msgFields = append(msgFields, &field{name: n, typ: "string"})
			evFields = append(evFields, &field{name: n, typ: "string"})
		}
	}
	// Each list of fields has a timestamp too, so that the TypeScript
	// client decodes the object holding them.
	at := func(fs []*field) []*field { return append(fs, &field{name: "at", typ: "timestamp"}) }
	sweep("messages", messages...)
	sweep("enums", enums...)
	sweep("values", &decl{kind: "enum", name: "Values", fields: values})
	sweep("errors", errs...)
	sweep("guards", guards...)
	sweep("commands", commands...)
	sweep("params", &decl{kind: "command", name: "params", params: &params{fields: inParams}})
	sweep("results", &decl{kind: "command", name: "results", params: &params{}, results: &params{fields: at(inResults)}})
	sweep("events", events...)
	sweep("fields", &decl{kind: "message", name: "Fields", fields: at(msgFields)},
		&decl{kind: "event", name: "fields", fields: at(evFields)})

	// Types nested as deeply as the parser allows, lists, maps and both,
	// of values to decode and of messages, in a result and an event.
	depth := deepest()
	var deep []*field
	for _, f := range []struct{ elem, shape string }{{"int64", "list"}, {"M", "map"}, {"int64", "both"}} {
		t := f.elem
		for i := range depth {
			if f.shape == "list" || f.shape == "both" && i%2 == 0 {
				t = "[]" + t
			} else {
				t = "map<string, " + t + ">"
			}
		}
		deep = append(deep, &field{name: f.shape, typ: t, opt: f.shape == "map"})
	}
	sweep("deep", &decl{kind: "message", name: "Deep", fields: deep},
		&decl{kind: "command", name: "deep", params: &params{msg: "Deep"}, results: &params{msg: "Deep"}},
		&decl{kind: "event", name: "deep", fields: []*field{{name: "d", typ: "Deep"}, {name: "at", typ: "timestamp"}}})

	seen = map[string]bool{"p": true}
	for _, w := range pool {
		for _, n := range []string{w, strings.ToLower(w)} {
			if seen[n] {
				continue
			}
			seen[n] = true
			h := &hostile{pkg: n, decls: []*decl{ // what the package's name is in: the client, its events
				{kind: "command", name: "c", params: &params{}, results: &params{fields: []*field{{name: "at", typ: "timestamp"}}}},
				{kind: "event", name: "ev", fields: []*field{{name: "at", typ: "timestamp"}}},
			}}
			if s := h.repair("package_" + strconv.Itoa(len(seen)) + ".duplex"); h.pkg == n {
				out = append(out, s)
			}
		}
	}
	return out
}

// Name styles of spellings.
const (
	upperCase = iota
	lowerCase
)

// spelling returns w in the case of style, without what the lexer refuses
// at the start of a name. (w as written would be refused where its case
// is not style's, and would take the Go name of the spelling.)
func spelling(w string, style int) string {
	n := strings.TrimLeftFunc(w, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') })
	if n == "" {
		return w
	}
	if style == upperCase {
		return strings.ToUpper(n[:1]) + n[1:]
	}
	return strings.ToLower(n[:1]) + n[1:]
}

// skeleton is a small schema that uses every construct: a message, an
// enum, an error and its guard, a command with both, an event.
func skeleton() []*decl {
	return []*decl{
		{kind: "message", name: "M", fields: []*field{{name: "a", typ: "string"}, {name: "n", typ: "int64", opt: true}, {name: "e", typ: "map<string, []E>"}}},
		{kind: "enum", name: "E", fields: []*field{{name: "v"}}},
		{kind: "error", name: "Err"},
		{kind: "guard", name: "g", rejects: "Err"},
		{kind: "command", name: "c", anns: []*item{{text: "@guard(g)"}, {text: "@idempotent"}},
			params:  &params{fields: []*field{{name: "m", typ: "M"}}},
			results: &params{msg: "M"}, errors: []string{"Err"}},
		{kind: "event", name: "ev", fields: []*field{{name: "at", typ: "timestamp"}, {name: "m", typ: "[]M", opt: true}}},
	}
}

// deepest returns how many lists the parser lets a type nest: the most
// for which a field of that type loads.
func deepest() int {
	loads := func(n int) bool {
		src := "package p\nmessage M { a: " + strings.Repeat("[]", n) + "int64 }\n"
		_, err := schema.Load("deep.duplex", []byte(src))
		return err == nil
	}
	lo, hi := 0, 4096 // loads(lo), and not loads(hi) while the parser bounds nesting below it
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; loads(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo
}
