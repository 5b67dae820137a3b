package wire

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Kind is the kind of the next JSON value.
type Kind uint8

const (
	Invalid Kind = iota
	Object
	Array
	String
	Number
	Bool
	Null
)

func (k Kind) String() string {
	return [...]string{"invalid JSON", "object", "array", "string", "number", "boolean", "null"}[k]
}

// maxDepth bounds nesting so that hostile input cannot exhaust the stack.
const maxDepth = 64

// Error is a decoding error at a path.
type Error struct {
	Path string // e.g. args.users[2]
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

type pathElem struct {
	key   []byte // object key, a view of the input (or a copy when escaped)
	index int    // array index; -1 for an object member
}

// Decoder reads JSON values from one input. The zero value is not usable;
// call Reset. Not safe for concurrent use.
type Decoder struct {
	data    []byte
	pos     int
	root    string
	path    []pathElem
	depth   int
	buf     []byte // scratch for unescaping
	escaped bool   // the last string read had escapes (it lives in buf)
	// lastString is the decimal string being parsed, for error messages.
	lastString []byte
}

// Reset makes d read data; root names the value in error paths ("args").
func (d *Decoder) Reset(data []byte, root string) {
	d.data, d.pos, d.root, d.path, d.depth = data, 0, root, d.path[:0], 0
}

// Errorf returns an *Error at the current path.
func (d *Decoder) Errorf(format string, args ...any) error {
	return &Error{Path: d.pathString(), Msg: fmt.Sprintf(format, args...)}
}

// Missing returns the error for a required field absent from the object
// being read.
func (d *Decoder) Missing(field string) error {
	p := d.pathString()
	if p != "" {
		p += "."
	}
	return &Error{Path: p + field, Msg: "required field missing"}
}

func (d *Decoder) pathString() string {
	var b strings.Builder
	b.WriteString(d.root)
	for _, e := range d.path {
		if e.index >= 0 {
			fmt.Fprintf(&b, "[%d]", e.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.Write(e.key)
	}
	return b.String()
}

func (d *Decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// Peek returns the kind of the next value without consuming it.
func (d *Decoder) Peek() Kind {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return Invalid
	}
	switch c := d.data[d.pos]; {
	case c == '{':
		return Object
	case c == '[':
		return Array
	case c == '"':
		return String
	case c == '-' || c >= '0' && c <= '9':
		return Number
	case c == 't' || c == 'f':
		return Bool
	case c == 'n':
		return Null
	}
	return Invalid
}

func (d *Decoder) expected(what string) error {
	k := d.Peek()
	if k == Invalid && d.pos >= len(d.data) {
		return d.Errorf("expected %s, got end of input", what)
	}
	return d.Errorf("expected %s, got %s", what, k)
}

// End checks that nothing but whitespace follows the value read.
func (d *Decoder) End() error {
	d.skipSpace()
	if d.pos != len(d.data) {
		return d.Errorf("unexpected data after the value at offset %d", d.pos)
	}
	return nil
}

// Null consumes a null and reports whether there was one.
func (d *Decoder) Null() bool {
	if d.Peek() == Null && d.literal("null") {
		return true
	}
	return false
}

func (d *Decoder) literal(lit string) bool {
	if len(d.data)-d.pos >= len(lit) && string(d.data[d.pos:d.pos+len(lit)]) == lit {
		d.pos += len(lit)
		return true
	}
	return false
}

// Object reads an object, calling fn once per member with the key
// (unescaped; valid only during the call) and d positioned at the value,
// which fn must consume (Skip it when unknown). Duplicate keys are not
// detected here: generated code rejects duplicates of the keys it knows,
// and unknown keys are skipped whatever their number.
func (d *Decoder) Object(fn func(key []byte) error) error {
	if d.Peek() != Object {
		return d.expected("object")
	}
	if d.depth++; d.depth > maxDepth {
		return d.Errorf("nested deeper than %d", maxDepth)
	}
	defer func() { d.depth-- }()
	d.pos++
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return nil
	}
	for {
		if d.Peek() != String {
			return d.expected("object key")
		}
		key, err := d.stringBytes()
		if err != nil {
			return err
		}
		if d.escaped {
			key = append([]byte(nil), key...) // unescaped into the scratch buffer: keep a copy for the path
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return d.expected("':' after object key")
		}
		d.pos++
		d.path = append(d.path, pathElem{key: key, index: -1})
		if err := fn(key); err != nil {
			return err
		}
		d.path = d.path[:len(d.path)-1]
		d.skipSpace()
		if d.pos >= len(d.data) {
			return d.expected("',' or '}'")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return nil
		default:
			return d.expected("',' or '}'")
		}
	}
}

// Array reads an array, calling fn for each element with its index and d
// positioned at the element, which fn must consume.
func (d *Decoder) Array(fn func(i int) error) error {
	if d.Peek() != Array {
		return d.expected("array")
	}
	if d.depth++; d.depth > maxDepth {
		return d.Errorf("nested deeper than %d", maxDepth)
	}
	defer func() { d.depth-- }()
	d.pos++
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return nil
	}
	for i := 0; ; i++ {
		d.path = append(d.path, pathElem{index: i})
		if err := fn(i); err != nil {
			return err
		}
		d.path = d.path[:len(d.path)-1]
		d.skipSpace()
		if d.pos >= len(d.data) {
			return d.expected("',' or ']'")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return nil
		default:
			return d.expected("',' or ']'")
		}
	}
}

// Skip consumes any one value, validating it.
func (d *Decoder) Skip() error {
	switch d.Peek() {
	case Object:
		return d.Object(func([]byte) error { return d.Skip() })
	case Array:
		return d.Array(func(int) error { return d.Skip() })
	case String:
		_, err := d.stringBytes()
		return err
	case Number:
		_, err := d.number()
		return err
	case Bool:
		_, err := d.Bool()
		return err
	case Null:
		if d.Null() {
			return nil
		}
		return d.Errorf("malformed literal: expected null")
	}
	return d.expected("a JSON value")
}

// Raw consumes one value and returns its bytes as they are in the input.
func (d *Decoder) Raw() ([]byte, error) {
	d.skipSpace()
	start := d.pos
	if err := d.Skip(); err != nil {
		return nil, err
	}
	return d.data[start:d.pos], nil
}

// Bool reads true or false.
func (d *Decoder) Bool() (bool, error) {
	if d.Peek() == Bool {
		if d.literal("true") {
			return true, nil
		}
		if d.literal("false") {
			return false, nil
		}
		return false, d.Errorf("malformed literal: expected true or false")
	}
	return false, d.expected("boolean")
}

// number consumes a JSON number and returns its text.
func (d *Decoder) number() ([]byte, error) {
	if d.Peek() != Number {
		return nil, d.expected("number")
	}
	start := d.pos
	p := d.pos
	if d.data[p] == '-' {
		p++
	}
	digits := func() int {
		n := 0
		for p < len(d.data) && d.data[p] >= '0' && d.data[p] <= '9' {
			p++
			n++
		}
		return n
	}
	switch {
	case p < len(d.data) && d.data[p] == '0':
		p++
	case digits() == 0:
		return nil, d.Errorf("malformed number")
	}
	if p < len(d.data) && d.data[p] == '.' {
		p++
		if digits() == 0 {
			return nil, d.Errorf("malformed number")
		}
	}
	if p < len(d.data) && (d.data[p] == 'e' || d.data[p] == 'E') {
		p++
		if p < len(d.data) && (d.data[p] == '+' || d.data[p] == '-') {
			p++
		}
		if digits() == 0 {
			return nil, d.Errorf("malformed number")
		}
	}
	d.pos = p
	return d.data[start:p], nil
}

// Float64 reads a number.
func (d *Decoder) Float64() (float64, error) {
	t, err := d.number()
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(t), 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, d.Errorf("number %s out of range", t)
	}
	return f, nil
}

// integer parses an integer JSON number within [min, max].
func (d *Decoder) integer(min, max int64) (int64, error) {
	t, err := d.number()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(t), 10, 64)
	if err != nil || v < min || v > max {
		return 0, d.Errorf("%s is not an integer in [%d, %d]", t, min, max)
	}
	return v, nil
}

// Int32 reads an integer number that fits in 32 bits.
func (d *Decoder) Int32() (int32, error) {
	v, err := d.integer(math.MinInt32, math.MaxInt32)
	return int32(v), err
}

// Uint32 reads a non-negative integer number that fits in 32 bits.
func (d *Decoder) Uint32() (uint32, error) {
	v, err := d.integer(0, math.MaxUint32)
	return uint32(v), err
}

// Int reads an integer number within the range JavaScript represents
// exactly (±(2^53-1)), as protocol ids are.
func (d *Decoder) Int() (int64, error) {
	return d.integer(-(1<<53 - 1), 1<<53-1)
}

// Int64 reads a 64-bit integer written as a decimal string: an optional
// minus sign and digits, nothing else.
func (d *Decoder) Int64() (int64, error) {
	b, err := d.decimalString("int64", "an int64")
	if err != nil {
		return 0, err
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	u, ok := parseDigits(b)
	switch {
	case ok && !neg && u <= math.MaxInt64:
		return int64(u), nil
	case ok && neg && u <= 1<<63:
		return -int64(u-1) - 1, nil
	}
	return 0, d.Errorf("%q is not an int64", d.lastString)
}

// Uint64 reads a 64-bit unsigned integer written as a decimal string.
func (d *Decoder) Uint64() (uint64, error) {
	b, err := d.decimalString("uint64", "a uint64")
	if err != nil {
		return 0, err
	}
	if u, ok := parseDigits(b); ok {
		return u, nil
	}
	return 0, d.Errorf("%q is not a uint64", d.lastString)
}

// parseDigits parses a non-empty run of ASCII digits without overflow.
func parseDigits(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' || u > (math.MaxUint64-uint64(c-'0'))/10 {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	return u, true
}

func (d *Decoder) decimalString(kind, what string) ([]byte, error) {
	if d.Peek() != String {
		return nil, d.expected(kind + " as a decimal string")
	}
	b, err := d.stringBytes()
	if err != nil {
		return nil, err
	}
	d.lastString = b
	if len(b) == 0 || len(b) > 20 {
		return nil, d.Errorf("%q is not %s", b, what)
	}
	return b, nil
}

// String reads a string.
func (d *Decoder) String() (string, error) {
	b, err := d.StringBytes()
	return string(b), err
}

// StringBytes reads a string without copying it when it has no escapes;
// the bytes are valid until the next call on d.
func (d *Decoder) StringBytes() ([]byte, error) {
	if d.Peek() != String {
		return nil, d.expected("string")
	}
	return d.stringBytes()
}

// stringBytes reads a string literal at d.pos, validating UTF-8 and escapes.
func (d *Decoder) stringBytes() ([]byte, error) {
	d.escaped = false
	start := d.pos + 1
	p := start
	for p < len(d.data) {
		c := d.data[p]
		switch {
		case c == '"':
			d.pos = p + 1
			if !utf8.Valid(d.data[start:p]) {
				return nil, d.Errorf("string is not valid UTF-8")
			}
			return d.data[start:p], nil
		case c == '\\':
			return d.unescape(start)
		case c < 0x20:
			return nil, d.Errorf("control character in string")
		}
		p++
	}
	return nil, d.Errorf("unterminated string")
}

func (d *Decoder) unescape(start int) ([]byte, error) {
	d.escaped = true
	out := d.buf[:0]
	p := start
	for p < len(d.data) {
		c := d.data[p]
		switch {
		case c == '"':
			d.pos = p + 1
			d.buf = out
			if !utf8.Valid(out) {
				return nil, d.Errorf("string is not valid UTF-8")
			}
			return out, nil
		case c < 0x20:
			return nil, d.Errorf("control character in string")
		case c != '\\':
			out = append(out, c)
			p++
			continue
		}
		if p+1 >= len(d.data) {
			break
		}
		e := d.data[p+1]
		p += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := hex4(d.data, p)
			if !ok {
				return nil, d.Errorf("malformed \\u escape")
			}
			p += 4
			if utf16.IsSurrogate(r) {
				r2, ok := rune(-1), false
				if p+6 <= len(d.data) && d.data[p] == '\\' && d.data[p+1] == 'u' {
					r2, ok = hex4(d.data, p+2)
				}
				if dec := utf16.DecodeRune(r, r2); ok && dec != utf8.RuneError {
					r = dec
					p += 6
				} else {
					return nil, d.Errorf("unpaired surrogate in \\u escape")
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, d.Errorf("invalid escape \\%c", e)
		}
	}
	return nil, d.Errorf("unterminated string")
}

func hex4(b []byte, p int) (rune, bool) {
	if p+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[p : p+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// Bytes reads standard base64 (RFC 4648 §4, padded).
func (d *Decoder) Bytes() ([]byte, error) {
	s, err := d.StringBytes()
	if err != nil {
		return nil, err
	}
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	if err != nil {
		return nil, d.Errorf("not standard base64: %v", err)
	}
	return out[:n], nil
}

// Time reads an RFC 3339 timestamp.
func (d *Decoder) Time() (time.Time, error) {
	s, err := d.StringBytes()
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, string(s))
	if err != nil {
		return time.Time{}, d.Errorf("%q is not an RFC 3339 timestamp", s)
	}
	return t, nil
}

// UUID reads a UUID in its canonical 8-4-4-4-12 form.
func (d *Decoder) UUID() (uuid.UUID, error) {
	s, err := d.StringBytes()
	if err != nil {
		return uuid.UUID{}, err
	}
	if len(s) != 36 {
		return uuid.UUID{}, d.Errorf("%q is not a UUID", s)
	}
	u, err := uuid.ParseBytes(s)
	if err != nil {
		return uuid.UUID{}, d.Errorf("%q is not a UUID", s)
	}
	return u, nil
}
