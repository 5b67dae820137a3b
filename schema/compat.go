package schema

import (
	"fmt"
	"sort"
)

// Breaks says whom a change between two versions of a schema breaks.
// Clients and servers are deployed separately, so both pairs meet: old
// clients talk to the new server once it is deployed, and during a
// rolling deploy new clients (a page loaded from an updated node) talk to
// old servers.
type Breaks uint8

const (
	// OldClients: clients of the old schema talking to a server of the
	// new one. What `duplex check -against` reports by default.
	OldClients Breaks = 1 << iota
	// NewClients: clients of the new schema talking to a server of the
	// old one, as during a rolling deploy.
	NewClients
)

func (b Breaks) String() string {
	switch b {
	case OldClients:
		return "breaks old clients"
	case NewClients:
		return "breaks new clients of old servers"
	case OldClients | NewClients:
		return "breaks old clients and new clients of old servers"
	}
	return "breaks nothing"
}

// Change is a difference between two versions of a schema that breaks
// clients of one version talking to servers of the other.
type Change struct {
	Pos     Pos    // in the new file; in the old file for what was removed
	Message string // what changed: `command "move": parameter "column" was removed`
	Breaks  Breaks // never 0
}

// String formats c as file:line:col: message (breaks whom).
func (c Change) String() string {
	return fmt.Sprintf("%s: %s (%s)", c.Pos, c.Message, c.Breaks)
}

// Breaking compares two checked versions of a schema by what travels on
// the wire and returns the changes that break clients of one version
// talking to servers of the other, sorted by position: those in the new
// file first, then the removals, at their positions in the old file. Load
// the two versions under different file names so that positions tell them
// apart. The rules are the table of docs/schema.md, "Compatible changes".
//
// Commands, events, fields and enum values match by name, errors by wire
// code, messages and enums by where they are used: a message or enum
// renamed with the same fields or values is no change. Doc comments,
// @deprecated, @idempotent, the package name and the order of
// declarations are not on the wire and never reported.
func Breaking(old, new *File) []Change {
	c := &comparison{msgFlow: map[[2]*Message]flow{}, enumFlow: map[[2]*Enum]flow{}}
	// First the flows: which messages and enums of the two versions carry
	// the same values, and in which direction, through the commands and
	// events both versions have. Then the comparison, once per pair.
	for _, oc := range old.Commands {
		if nc := commandNamed(new, oc.Name); nc != nil {
			c.pairParams(oc.Args, nc.Args, in)
			c.pairParams(oc.Result, nc.Result, out)
		}
	}
	for _, oe := range old.Events {
		if ne := eventNamed(new, oe.Name); ne != nil {
			c.pairFields(oe.Fields, ne.Fields, out)
		}
	}
	c.commands(old, new)
	c.events(old, new)
	for _, p := range c.msgOrder {
		c.fields(fmt.Sprintf("message %q: field", p[1].Name), p[0].Fields, p[1].Fields, c.msgFlow[p])
	}
	for _, p := range c.enumOrder {
		c.values(p[0], p[1], c.enumFlow[p])
	}
	sort.SliceStable(c.changes, func(i, j int) bool {
		a, b := c.changes[i].Pos, c.changes[j].Pos
		if ra, rb := a.File != new.Path, b.File != new.Path; ra != rb {
			return rb
		}
		return a.Line < b.Line || a.Line == b.Line && a.Col < b.Col
	})
	return c.changes
}

// flow is the direction values of a type travel in: in from the client
// (arguments), out from the server (results and events), or both.
type flow uint8

const (
	in flow = 1 << iota
	out
)

type comparison struct {
	changes   []Change
	msgFlow   map[[2]*Message]flow // {old, new} -> the directions it carries values in
	msgOrder  [][2]*Message
	enumFlow  map[[2]*Enum]flow
	enumOrder [][2]*Enum
}

func (c *comparison) report(p Pos, b Breaks, format string, args ...any) {
	if b != 0 {
		c.changes = append(c.changes, Change{Pos: p, Message: fmt.Sprintf(format, args...), Breaks: b})
	}
}

func commandNamed(f *File, name string) *Command {
	for _, c := range f.Commands {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func eventNamed(f *File, name string) *Event {
	for _, e := range f.Events {
		if e.Name == name {
			return e
		}
	}
	return nil
}

func fieldNamed(fs []*Field, name string) *Field {
	for _, f := range fs {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// pairParams pairs arguments or results written as a message in both
// versions as that message pair, compared once however many commands use
// it; inline fields pair field by field.
func (c *comparison) pairParams(o, n *Params, f flow) {
	if o.Message != nil && n.Message != nil {
		c.pairMessages(o.Message, n.Message, f)
		return
	}
	c.pairFields(o.Fields, n.Fields, f)
}

func (c *comparison) pairFields(o, n []*Field, f flow) {
	for _, of := range o {
		if nf := fieldNamed(n, of.Name); nf != nil {
			c.pairTypes(of.Type, nf.Type, f)
		}
	}
}

// pairTypes pairs the messages and enums found at the same place of two
// types (the same field, list element or map value).
func (c *comparison) pairTypes(o, n *Type, f flow) {
	switch {
	case o.Kind != n.Kind:
	case o.Kind == KindList, o.Kind == KindMap:
		c.pairTypes(o.Elem, n.Elem, f)
	case o.Kind == KindMessage:
		c.pairMessages(o.Message, n.Message, f)
	case o.Kind == KindEnum:
		p := [2]*Enum{o.Enum, n.Enum}
		if _, ok := c.enumFlow[p]; !ok {
			c.enumOrder = append(c.enumOrder, p)
		}
		c.enumFlow[p] |= f
	}
}

func (c *comparison) pairMessages(o, n *Message, f flow) {
	p := [2]*Message{o, n}
	had, ok := c.msgFlow[p]
	if !ok {
		c.msgOrder = append(c.msgOrder, p)
	}
	if had|f == had && ok {
		return
	}
	c.msgFlow[p] = had | f
	c.pairFields(o.Fields, n.Fields, had|f)
}

func (c *comparison) commands(old, new *File) {
	for _, oc := range old.Commands {
		if commandNamed(new, oc.Name) == nil {
			// Old clients call it and get unknown_command.
			c.report(oc.Pos, OldClients, "command %q was removed", oc.Name)
		}
	}
	for _, nc := range new.Commands {
		oc := commandNamed(old, nc.Name)
		if oc == nil {
			// New clients call it and old servers answer unknown_command.
			c.report(nc.Pos, NewClients, "command %q was added", nc.Name)
			continue
		}
		if oc.Args.Message == nil || nc.Args.Message == nil {
			c.fields(fmt.Sprintf("command %q: parameter", nc.Name), oc.Args.Fields, nc.Args.Fields, in)
		}
		if oc.Result.Message == nil || nc.Result.Message == nil {
			c.fields(fmt.Sprintf("command %q: result", nc.Name), oc.Result.Fields, nc.Result.Fields, out)
		}
		// A guard refuses calls that old clients make as they always
		// did. Removing one refuses fewer, and its error with it.
		oldGuards := map[string]*Guard{}
		for _, g := range oc.Guards {
			oldGuards[g.Name] = g
		}
		codes := map[string]bool{}
		for _, e := range nc.Errors {
			codes[e.Code] = true
		}
		for _, g := range nc.Guards {
			codes[g.Error.Code] = true
			if oldGuards[g.Name] == nil {
				c.report(nc.Pos, OldClients, "command %q: guard %q was added", nc.Name, g.Name)
			}
		}
		// An error code that the command no longer answers: old clients
		// that handle it never get it again (a renamed error has a new
		// code). A removed guard's error goes with the guard.
		var olds []*Error
		olds = append(olds, oc.Errors...)
		for _, g := range oc.Guards {
			for _, ng := range nc.Guards {
				if ng.Name == g.Name {
					olds = append(olds, g.Error)
				}
			}
		}
		for _, e := range olds {
			if !codes[e.Code] {
				codes[e.Code] = true // once, if both an error and a guard had it
				c.report(nc.Pos, OldClients, "command %q: error %q was removed", nc.Name, e.Code)
			}
		}
	}
}

func (c *comparison) events(old, new *File) {
	for _, oe := range old.Events {
		ne := eventNamed(new, oe.Name)
		if ne == nil {
			// Old clients listen for it and never hear it again.
			c.report(oe.Pos, OldClients, "event %q was removed", oe.Name)
			continue
		}
		c.fields(fmt.Sprintf("event %q: field", ne.Name), oe.Fields, ne.Fields, out)
	}
	// An added event breaks no one: old servers never send it.
}

// fields compares the fields of one object in two versions, which travel
// in direction f; what names the object and the kind of its fields, as in
// `command "move": parameter`.
func (c *comparison) fields(what string, o, n []*Field, f flow) {
	for _, of := range o {
		nf := fieldNamed(n, of.Name)
		if nf == nil {
			// Old clients send an argument that the server ignores, or
			// miss a result or event field they read. Old servers refuse
			// new clients' calls without a required argument.
			b := OldClients
			if f&in != 0 && !of.Optional {
				b |= NewClients
			}
			c.report(of.Pos, b, "%s %q was removed", what, of.Name)
			continue
		}
		var b Breaks
		switch {
		case of.Optional && !nf.Optional:
			// Old clients may leave the argument out; old servers may
			// leave the result out.
			b = breaksIf(f&in != 0, f&out != 0)
			c.report(nf.Pos, b, "%s %q was made required", what, nf.Name)
		case !of.Optional && nf.Optional:
			b = breaksIf(f&out != 0, f&in != 0)
			c.report(nf.Pos, b, "%s %q was made optional", what, nf.Name)
		}
		// Whoever reads a value must accept every value the other writes:
		// the server reads arguments, clients read results and events.
		oldReadsNew, newReadsOld := reads(of.Type, nf.Type), reads(nf.Type, of.Type)
		b = breaksIf(f&in != 0 && !newReadsOld || f&out != 0 && !oldReadsNew,
			f&in != 0 && !oldReadsNew || f&out != 0 && !newReadsOld)
		c.report(nf.Pos, b, "%s %q changed type from %s to %s", what, nf.Name, typeString(of.Type), typeString(nf.Type))
	}
	for _, nf := range n {
		if nf.Optional || fieldNamed(o, nf.Name) != nil {
			continue
		}
		// Old clients do not send a new required argument; old servers
		// do not send a new required result or event field. New clients'
		// optional arguments are merely ignored by old servers.
		c.report(nf.Pos, breaksIf(f&in != 0, f&out != 0), "%s %q was added as required", what, nf.Name)
	}
}

// values compares the values of an enum in two versions.
func (c *comparison) values(o, n *Enum, f flow) {
	has := func(e *Enum, name string) bool {
		for _, v := range e.Values {
			if v.Name == name {
				return true
			}
		}
		return false
	}
	for _, ov := range o.Values {
		if !has(n, ov.Name) {
			// Old clients send it and the server refuses it, or never
			// receive it again; new clients cannot read it from old
			// servers.
			c.report(ov.Pos, breaksIf(true, f&out != 0), "enum %q: value %q was removed", n.Name, ov.Name)
		}
	}
	for _, nv := range n.Values {
		if !has(o, nv.Name) {
			// Old clients cannot read it from the server; old servers
			// refuse it from new clients.
			c.report(nv.Pos, breaksIf(f&out != 0, f&in != 0), "enum %q: value %q was added", n.Name, nv.Name)
		}
	}
}

func breaksIf(oldClients, newClients bool) Breaks {
	var b Breaks
	if oldClients {
		b |= OldClients
	}
	if newClients {
		b |= NewClients
	}
	return b
}

// reads reports whether a reader of type r accepts every value a writer
// of type w sends, by their JSON: an int32 or a uint32 is a float64 too,
// and every value that travels as a string (uuid, timestamp, bytes, int64,
// uint64, an enum) is a string. What is inside two messages or enums is
// compared on its own.
func reads(r, w *Type) bool {
	switch {
	case r.Kind == w.Kind && (r.Kind == KindList || r.Kind == KindMap):
		return reads(r.Elem, w.Elem)
	case r.Kind == w.Kind:
		return true
	case r.Kind == KindFloat64:
		return w.Kind == KindInt32 || w.Kind == KindUint32
	case r.Kind == KindString:
		switch w.Kind {
		case KindUUID, KindTimestamp, KindBytes, KindInt64, KindUint64, KindEnum:
			return true
		}
	}
	return false
}
