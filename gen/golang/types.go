package golang

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/duplexrpc/duplex/schema"
)

// goType is the Go type of a value of t (not counting optionality).
func (g *generator) goType(t *schema.Type) (string, error) {
	switch t.Kind {
	case schema.KindBool:
		return "bool", nil
	case schema.KindInt32:
		return "int32", nil
	case schema.KindInt64:
		return "int64", nil
	case schema.KindUint32:
		return "uint32", nil
	case schema.KindUint64:
		return "uint64", nil
	case schema.KindFloat64:
		return "float64", nil
	case schema.KindString:
		return "string", nil
	case schema.KindBytes:
		return "[]byte", nil
	case schema.KindTimestamp:
		return g.use("time") + ".Time", nil
	case schema.KindUUID:
		return g.use(uuidPkg) + ".UUID", nil
	case schema.KindList:
		if t.Elem == nil {
			return "", fmt.Errorf("list type without an element type")
		}
		elem, err := g.goType(t.Elem)
		return "[]" + elem, err
	case schema.KindMap:
		if t.Elem == nil {
			return "", fmt.Errorf("map type without a value type")
		}
		elem, err := g.goType(t.Elem)
		return "map[string]" + elem, err
	case schema.KindMessage:
		if t.Message == nil {
			return "", fmt.Errorf("message type without its message")
		}
		return messageName(t.Message), nil
	case schema.KindEnum:
		if t.Enum == nil {
			return "", fmt.Errorf("enum type without its enum")
		}
		return enumName(t.Enum), nil
	}
	return "", fmt.Errorf("unknown type kind %d", t.Kind)
}

// nilable reports whether the Go type of t has nil as a value (slices and
// maps); optional fields of such types use nil for absent rather than a
// pointer.
func nilable(t *schema.Type) bool {
	switch t.Kind {
	case schema.KindBytes, schema.KindList, schema.KindMap:
		return true
	}
	return false
}

// fieldType is the Go type of the field f: optional fields are pointers,
// except for slices and maps, where nil is absent.
func (g *generator) fieldType(f *schema.Field) (string, error) {
	if f.Type == nil {
		return "", fmt.Errorf("field %s has no type", f.Name)
	}
	t, err := g.goType(f.Type)
	if err != nil {
		return "", fmt.Errorf("field %s: %w", f.Name, err)
	}
	if f.Optional && !nilable(f.Type) {
		t = "*" + t
	}
	return t, nil
}

// generateEnum prints a string type, its constants, Valid and the JSON
// methods.
func (g *generator) generateEnum(e *schema.Enum) {
	name := enumName(e)
	g.doc(e.Doc, "", e.Deprecation)
	g.P("type ", name, " string")
	g.P()
	if len(e.Values) > 0 {
		g.P("const (")
		for _, v := range e.Values {
			g.doc(v.Doc, "", v.Deprecation)
			g.P(enumValueName(e, v), " ", name, " = ", strconv.Quote(v.Name))
		}
		g.P(")")
		g.P()
	}
	consts := make([]string, len(e.Values))
	wires := make([]string, len(e.Values))
	for i, v := range e.Values {
		consts[i] = enumValueName(e, v)
		wires[i] = v.Name
	}
	g.P("// Valid reports whether r is one of the values of ", name, ".")
	g.P("func (r ", name, ") Valid() bool {")
	if len(consts) > 0 {
		g.P("switch r {")
		g.P("case ", strings.Join(consts, ", "), ":")
		g.P("return true")
		g.P("}")
	}
	g.P("return false")
	g.P("}")
	g.P()
	fmtPkg, wire := g.use("fmt"), g.use(wirePkg)
	g.P("// AppendJSON appends r as a JSON string; a value that is not Valid is an")
	g.P("// error.")
	g.P("func (r ", name, ") AppendJSON(dst []byte) ([]byte, error) {")
	g.P("if !r.Valid() {")
	g.P("return dst, ", fmtPkg, ".Errorf(", strconv.Quote("invalid "+name+" %q"), ", string(r))")
	g.P("}")
	g.P("return ", wire, ".AppendString(dst, string(r)), nil")
	g.P("}")
	g.P()
	g.P("// DecodeJSON reads one of the values of ", name, "; any other string is an")
	g.P("// error.")
	g.P("func (r *", name, ") DecodeJSON(d *", wire, ".Decoder) error {")
	g.P("s, err := d.StringBytes()")
	g.P("if err != nil {")
	g.P("return err")
	g.P("}")
	if len(consts) > 0 {
		g.P("switch string(s) {")
		for i := range consts {
			g.P("case ", strconv.Quote(wires[i]), ":")
			g.P("*r = ", consts[i])
			g.P("return nil")
		}
		g.P("}")
	}
	g.P("return d.Errorf(", strconv.Quote("%q is not a valid "+name+" ("+strings.Join(wires, ", ")+")"), ", s)")
	g.P("}")
	g.P()
}

// generateMessage prints the struct of a message and its JSON methods.
func (g *generator) generateMessage(m *schema.Message) error {
	if g.reaches(m, m) {
		g.recursive = m
		defer func() { g.recursive = nil }()
	}
	return g.generateStruct(messageName(m), m.Doc, "", m.Deprecation, m.Fields)
}

// reaches reports whether a value of message from may hold a value of
// message to, however deep: through fields, lists, maps and other
// messages.
func (g *generator) reaches(from, to *schema.Message) bool {
	if g.reach == nil {
		g.reach = make(map[*schema.Message]map[*schema.Message]bool)
	}
	seen, ok := g.reach[from]
	if !ok {
		seen = make(map[*schema.Message]bool)
		for todo := []*schema.Message{from}; len(todo) > 0; {
			m := todo[len(todo)-1]
			todo = todo[:len(todo)-1]
			for _, f := range m.Fields {
				t := f.Type
				for t != nil && (t.Kind == schema.KindList || t.Kind == schema.KindMap) {
					t = t.Elem
				}
				if t != nil && t.Kind == schema.KindMessage && t.Message != nil && !seen[t.Message] {
					seen[t.Message] = true
					todo = append(todo, t.Message)
				}
			}
		}
		g.reach[from] = seen
	}
	return seen[to]
}

// generateCommandTypes prints <Command>Args and <Command>Result for
// commands whose params are inline fields.
func (g *generator) generateCommandTypes(c *schema.Command) error {
	if c.Args == nil || c.Result == nil {
		return fmt.Errorf("command %s: nil args or result params", c.Name)
	}
	if c.Args.Message == nil && len(c.Args.Fields) > 0 {
		name := argsType(c)
		doc := fmt.Sprintf("%s are the arguments of command %s.", name, c.Name)
		if err := g.generateStruct(name, doc, "", nil, c.Args.Fields); err != nil {
			return fmt.Errorf("command %s args: %w", c.Name, err)
		}
	}
	if c.Result.Message == nil && len(c.Result.Fields) > 0 {
		name := resultType(c)
		doc := fmt.Sprintf("%s is the result of command %s.", name, c.Name)
		if err := g.generateStruct(name, doc, "", nil, c.Result.Fields); err != nil {
			return fmt.Errorf("command %s result: %w", c.Name, err)
		}
	}
	return nil
}

// generateStruct prints a struct with its JSON methods.
func (g *generator) generateStruct(name, doc, fallback string, dep *schema.Deprecation, fields []*schema.Field) error {
	g.doc(doc, fallback, dep)
	g.P("type ", name, " struct {")
	for _, f := range fields {
		t, err := g.fieldType(f)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		var note string
		switch {
		case f.Optional && nilable(f.Type):
			note = "Optional: nil means absent (null reads as nil); a non-nil empty value is sent as empty."
		case f.Optional:
			note = "Optional: nil means absent (null reads as nil)."
		}
		g.doc(f.Doc, "", f.Deprecation, note)
		tag := f.Name
		if f.Optional {
			tag += ",omitempty"
		}
		g.P(fieldName(f), " ", t, " `json:", strconv.Quote(tag), "`")
	}
	g.P("}")
	g.P()
	if err := g.generateAppendJSON(name, fields); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := g.generateDecodeJSON(name, fields); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	g.generateStdJSON(name)
	return nil
}

// generateEvent prints the struct of an event and its pushers.
func (g *generator) generateEvent(e *schema.Event) error {
	name := eventName(e)
	fallback := fmt.Sprintf("%s is the data of event %s.", name, e.Name)
	if err := g.generateStruct(name, e.Doc, fallback, e.Deprecation, e.Fields); err != nil {
		return fmt.Errorf("event %s: %w", e.Name, err)
	}
	g.generatePushers(e)
	return nil
}
