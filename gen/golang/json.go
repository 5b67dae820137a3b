package golang

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/duplexrpc/duplex/schema"
)

// The JSON methods are generated per field, without reflection, on top of
// package wire. Encoding omits absent optional fields and writes required
// nil slices and maps as [] and {}; map keys are written sorted, so that
// output is deterministic. Decoding is strict: required fields must be
// present and not null, JSON types must match, enum values must be known,
// a known key may appear once; unknown keys are skipped, so that a newer
// peer may send fields an older one does not know.

// fallible reports whether encoding a value of t can fail: a float that is
// NaN or infinite, a timestamp outside the years 0000-9999, an enum value
// that is not valid, and whatever holds them. Messages always return an error from AppendJSON.
func fallible(t *schema.Type) bool {
	switch t.Kind {
	case schema.KindFloat64, schema.KindTimestamp, schema.KindEnum, schema.KindMessage:
		return true
	case schema.KindList, schema.KindMap:
		return fallible(t.Elem)
	}
	return false
}

// errPath is the path of a value in encoding errors: a fmt format (keys
// and indexes, e.g. "users[%d].name") and the Go expressions of its verbs.
type errPath struct {
	format string
	args   []string
}

func (p errPath) with(format, arg string) errPath {
	args := append(append([]string(nil), p.args...), arg)
	return errPath{p.format + format, args}
}

// wrap returns the Go expression of err with the path before it; sep is
// ": " for an error of a leaf value and "." for an error from a message,
// whose own path follows.
func (g *generator) wrap(p errPath, sep string) string {
	args := ""
	for _, a := range p.args {
		args += a + ", "
	}
	return g.use("fmt") + ".Errorf(" + strconv.Quote(p.format+sep+"%w") + ", " + args + "err)"
}

// generateAppendJSON prints AppendJSON for a struct of fields.
func (g *generator) generateAppendJSON(name string, fields []*schema.Field) error {
	g.P("// AppendJSON appends m as a JSON object to dst. Absent optional fields are")
	g.P("// left out. It fails for a float that is NaN or infinite and for an enum")
	g.P("// value that is not valid.")
	g.P("func (m *", name, ") AppendJSON(dst []byte) ([]byte, error) {")
	if g.recursive != nil {
		// A message that contains itself counts its levels, so that a
		// value with a cycle is an error rather than endless recursion.
		g.P("return m.appendJSON(dst, 0)")
		g.P("}")
		g.P()
		g.P("// appendJSON is AppendJSON for m nested depth levels deep in values of its")
		g.P("// own recursion; it fails past ", g.use(wirePkg), ".MaxDepth levels, which no decoder reads.")
		g.P("func (m *", name, ") appendJSON(dst []byte, depth int) ([]byte, error) {")
	}
	g.keyBufs = 0
	if len(fields) == 0 {
		g.P("return append(dst, \"{}\"...), nil")
		g.P("}")
		g.P()
		return nil
	}
	for _, f := range fields {
		if fallible(f.Type) {
			g.P("var err error")
			break
		}
	}
	// When the first field is required, the object opens with it; when it
	// is optional, every member is written with a leading comma and the
	// first comma becomes the opening brace.
	leading := fields[0].Optional
	if leading {
		g.P("start := len(dst)")
	}
	for i, f := range fields {
		sep := ","
		if i == 0 && !leading {
			sep = "{"
		}
		key := "`" + sep + strconv.Quote(f.Name) + ":`"
		expr := "m." + fieldName(f)
		path := errPath{format: f.Name}
		if !f.Optional {
			g.P("dst = append(dst, ", key, "...)")
			if err := g.encodeValue(f.Type, expr, path, 1); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
			continue
		}
		g.P("if ", expr, " != nil {")
		g.P("dst = append(dst, ", key, "...)")
		if !nilable(f.Type) && f.Type.Kind != schema.KindMessage && f.Type.Kind != schema.KindEnum {
			expr = "*" + expr
		}
		if err := g.encodeValue(f.Type, expr, path, 1); err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		g.P("}")
	}
	if leading {
		g.P("if len(dst) == start {")
		g.P("return append(dst, \"{}\"...), nil")
		g.P("}")
		g.P("dst[start] = '{'")
	}
	g.P("return append(dst, '}'), nil")
	g.P("}")
	g.P()
	return nil
}

// encodeValue prints statements that append the JSON of expr, a value of t
// (a pointer for messages and enums is fine too), to dst.
func (g *generator) encodeValue(t *schema.Type, expr string, path errPath, depth int) error {
	wire := g.use(wirePkg)
	simple := func(fn, arg string) {
		g.P("dst = ", wire, ".", fn, "(dst, ", arg, ")")
	}
	switch t.Kind {
	case schema.KindBool:
		simple("AppendBool", expr)
	case schema.KindInt32:
		simple("AppendInt", "int64("+expr+")")
	case schema.KindUint32:
		simple("AppendUint", "uint64("+expr+")")
	case schema.KindInt64:
		simple("AppendInt64", expr)
	case schema.KindUint64:
		simple("AppendUint64", expr)
	case schema.KindString:
		simple("AppendString", expr)
	case schema.KindBytes:
		simple("AppendBytes", expr)
	case schema.KindTimestamp:
		g.P("if dst, err = ", wire, ".AppendTime(dst, ", expr, "); err != nil {")
		g.P("return dst, ", g.wrap(path, ": "))
		g.P("}")
	case schema.KindUUID:
		simple("AppendUUID", expr)
	case schema.KindFloat64:
		g.P("if dst, err = ", wire, ".AppendFloat64(dst, ", expr, "); err != nil {")
		g.P("return dst, ", g.wrap(path, ": "))
		g.P("}")
	case schema.KindEnum:
		g.P("if dst, err = ", expr, ".AppendJSON(dst); err != nil {")
		g.P("return dst, ", g.wrap(path, ": "))
		g.P("}")
	case schema.KindMessage:
		if r := g.recursive; r == nil || !g.reaches(t.Message, r) {
			g.P("if dst, err = ", expr, ".AppendJSON(dst); err != nil {")
			g.P("return dst, ", g.wrap(path, "."))
			g.P("}")
			break
		}
		// A message of the same recursion: one level deeper.
		g.P("if depth == ", wire, ".MaxDepth {")
		g.P("return dst, ", g.use("fmt"), ".Errorf(", strconv.Quote(path.format+": nested more than %d levels deep (a cycle?)"), ", ", strings.Join(append(path.args, wire+".MaxDepth"), ", "), ")")
		g.P("}")
		g.P("if dst, err = ", expr, ".appendJSON(dst, depth+1); err != nil {")
		g.P("return dst, ", g.wrap(path, "."))
		g.P("}")
	case schema.KindList:
		i := "i" + strconv.Itoa(depth)
		g.P("dst = append(dst, '[')")
		g.P("for ", i, " := range ", expr, " {")
		g.P("if ", i, " > 0 {")
		g.P("dst = append(dst, ',')")
		g.P("}")
		if err := g.encodeValue(t.Elem, expr+"["+i+"]", path.with("[%d]", i), depth+1); err != nil {
			return err
		}
		g.P("}")
		g.P("dst = append(dst, ']')")
	case schema.KindMap:
		i, k, e := "i"+strconv.Itoa(depth), "k"+strconv.Itoa(depth), "e"+strconv.Itoa(depth)
		g.keyBufs++ // a buffer per map in the function, which is one scope
		ks := "keys" + strconv.Itoa(g.keyBufs)
		g.sortedKeys = true
		g.P("dst = append(dst, '{')")
		g.P("var ", ks, " [16]string")
		g.P("for ", i, ", ", k, " := range duplexSortedKeys(", ks, "[:0], ", expr, ") {")
		g.P("if ", i, " > 0 {")
		g.P("dst = append(dst, ',')")
		g.P("}")
		g.P("dst = ", wire, ".AppendString(dst, ", k, ")")
		g.P("dst = append(dst, ':')")
		g.P(e, " := ", expr, "[", k, "]")
		if err := g.encodeValue(t.Elem, e, path.with("[%q]", k), depth+1); err != nil {
			return err
		}
		g.P("}")
		g.P("dst = append(dst, '}')")
	default:
		return fmt.Errorf("unknown type kind %d", t.Kind)
	}
	return nil
}

// decoders are the wire.Decoder methods that read each scalar kind.
var decoders = map[schema.Kind]string{
	schema.KindBool:      "Bool",
	schema.KindInt32:     "Int32",
	schema.KindInt64:     "Int64",
	schema.KindUint32:    "Uint32",
	schema.KindUint64:    "Uint64",
	schema.KindFloat64:   "Float64",
	schema.KindString:    "String",
	schema.KindBytes:     "Bytes",
	schema.KindTimestamp: "Time",
	schema.KindUUID:      "UUID",
}

// generateDecodeJSON prints DecodeJSON for a struct of fields. Objects
// and arrays are read with wire's BeginObject/NextMember and
// BeginArray/NextElement loops, not with callbacks: no function value per
// object, no indirect call per member.
func (g *generator) generateDecodeJSON(name string, fields []*schema.Field) error {
	wire := g.use(wirePkg)
	g.P("// DecodeJSON reads m from a JSON object, replacing all of m. Required fields")
	g.P("// must be present and not null; unknown keys are skipped.")
	g.P("func (m *", name, ") DecodeJSON(d *", wire, ".Decoder) error {")
	g.P("*m = ", name, "{}")
	if len(fields) == 0 {
		g.P("if err := d.BeginObject(); err != nil {")
		g.P("return err")
		g.P("}")
		g.P("for {")
		g.P("_, more, err := d.NextMember()")
		g.P("if err != nil || !more {")
		g.P("return err")
		g.P("}")
		g.P("if err := d.Skip(); err != nil {")
		g.P("return err")
		g.P("}")
		g.P("}")
		g.P("}")
		g.P()
		return nil
	}
	seen := make([]string, len(fields))
	for i, f := range fields {
		seen[i] = "has" + fieldName(f)
	}
	g.P("var ", strings.Join(seen, ", "), " bool")
	g.P("if err := d.BeginObject(); err != nil {")
	g.P("return err")
	g.P("}")
	g.P("for {")
	g.P("key, more, err := d.NextMember()")
	g.P("if err != nil {")
	g.P("return err")
	g.P("}")
	g.P("if !more {")
	g.P("break")
	g.P("}")
	g.P("switch string(key) {")
	for i, f := range fields {
		g.P("case ", strconv.Quote(f.Name), ":")
		g.P("if err = d.Once(&", seen[i], "); err == nil {")
		target := "m." + fieldName(f)
		if !f.Optional {
			if err := g.decodeValue(f.Type, target, 1); err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
			g.P("}")
			continue
		}
		g.P("if !d.Null() {")
		if !nilable(f.Type) {
			t, err := g.goType(f.Type)
			if err != nil {
				return fmt.Errorf("field %s: %w", f.Name, err)
			}
			g.P(target, " = new(", t, ")")
			if f.Type.Kind != schema.KindMessage && f.Type.Kind != schema.KindEnum {
				target = "*" + target
			}
		}
		if err := g.decodeValue(f.Type, target, 1); err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
		g.P("}")
		g.P("}")
	}
	g.P("default:")
	g.P("err = d.Skip()")
	g.P("}")
	g.P("if err != nil {")
	g.P("return err")
	g.P("}")
	g.P("}")
	for i, f := range fields {
		if !f.Optional {
			g.P("if !", seen[i], " {")
			g.P("return d.Missing(", strconv.Quote(f.Name), ")")
			g.P("}")
		}
	}
	g.P("return nil")
	g.P("}")
	g.P()
	return nil
}

// decodeElem prints statements that declare the variable e and read a
// value of t from d into it, setting err.
func (g *generator) decodeElem(t *schema.Type, e string, depth int) error {
	if t.Kind == schema.KindList || t.Kind == schema.KindMap {
		return g.decodeInto(t, e, " := ", depth)
	}
	typ, err := g.goType(t)
	if err != nil {
		return err
	}
	g.P("var ", e, " ", typ)
	return g.decodeValue(t, e, depth)
}

// decodeValue prints statements that read a value of t from d into target
// and set err (which is in scope); a list or a map returns the errors of
// its own loop at once.
func (g *generator) decodeValue(t *schema.Type, target string, depth int) error {
	return g.decodeInto(t, target, " = ", depth)
}

// decodeInto is decodeValue; assign is " := " when a list or map target
// is to be declared.
func (g *generator) decodeInto(t *schema.Type, target, assign string, depth int) error {
	if fn, ok := decoders[t.Kind]; ok {
		g.P(target, ", err = d.", fn, "()")
		return nil
	}
	switch t.Kind {
	case schema.KindEnum, schema.KindMessage:
		g.P("err = ", target, ".DecodeJSON(d)")
	case schema.KindList:
		typ, err := g.goType(t)
		if err != nil {
			return err
		}
		e := "e" + strconv.Itoa(depth)
		g.P(target, assign, typ, "{}")
		g.P("if err := d.BeginArray(); err != nil {")
		g.P("return err")
		g.P("}")
		g.P("for {")
		g.P("more, err := d.NextElement()")
		g.P("if err != nil {")
		g.P("return err")
		g.P("}")
		g.P("if !more {")
		g.P("break")
		g.P("}")
		if err := g.decodeElem(t.Elem, e, depth+1); err != nil {
			return err
		}
		g.P("if err != nil {")
		g.P("return err")
		g.P("}")
		g.P(target, " = append(", target, ", ", e, ")")
		g.P("}")
	case schema.KindMap:
		typ, err := g.goType(t)
		if err != nil {
			return err
		}
		key, k, e := "key"+strconv.Itoa(depth), "k"+strconv.Itoa(depth), "e"+strconv.Itoa(depth)
		g.P(target, assign, typ, "{}")
		g.P("if err := d.BeginObject(); err != nil {")
		g.P("return err")
		g.P("}")
		g.P("for {")
		g.P(key, ", more, err := d.NextMember()")
		g.P("if err != nil {")
		g.P("return err")
		g.P("}")
		g.P("if !more {")
		g.P("break")
		g.P("}")
		g.P(k, " := string(", key, ")")
		g.P("if _, dup := ", target, "[", k, "]; dup {")
		g.P("return d.Errorf(\"duplicate key\")")
		g.P("}")
		if err := g.decodeElem(t.Elem, e, depth+1); err != nil {
			return err
		}
		g.P("if err != nil {")
		g.P("return err")
		g.P("}")
		g.P(target, "[", k, "] = ", e)
		g.P("}")
	default:
		return fmt.Errorf("unknown type kind %d", t.Kind)
	}
	return nil
}

// generateStdJSON prints MarshalJSON and UnmarshalJSON, so that the type
// works with encoding/json too.
func (g *generator) generateStdJSON(name string) {
	wire := g.use(wirePkg)
	g.P("// MarshalJSON implements json.Marshaler with AppendJSON.")
	g.P("func (m ", name, ") MarshalJSON() ([]byte, error) {")
	g.P("return m.AppendJSON(nil)")
	g.P("}")
	g.P()
	g.P("// UnmarshalJSON implements json.Unmarshaler with DecodeJSON. As")
	g.P("// json.Unmarshaler asks, null leaves m as it is.")
	g.P("func (m *", name, ") UnmarshalJSON(data []byte) error {")
	g.P("if string(data) == \"null\" {")
	g.P("return nil")
	g.P("}")
	g.P("var d ", wire, ".Decoder")
	g.P("d.Reset(data, \"\")")
	g.P("if err := m.DecodeJSON(&d); err != nil {")
	g.P("return err")
	g.P("}")
	g.P("return d.End()")
	g.P("}")
	g.P()
}
