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

// MaxDepth is the deepest nesting of objects and arrays a Decoder reads.
// It lets recursive schema types nest (a thread of comments 250 replies
// deep, two levels each) and keeps what hostile input costs small: at most
// 16 KiB of frames in a decoder and, in generated decoders that recurse
// once per level, about 64 KiB of goroutine stack.
const MaxDepth = 512

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

// frame is one object or array being read: a level of the path in
// error messages. It holds offsets, not slices, so that the decoder's
// frames hold no pointers and a decoder needs no allocation for them.
type frame struct {
	keyStart, keyEnd int  // the current member's key as written (between its quotes)
	index            int  // the current element's index
	array            bool // an array, not an object
	current          bool // a member or element is being read: it is part of the path
	keyEscaped       bool // the key holds escapes: pathString unescapes it
}

// inlineFrames is the nesting that a Decoder tracks without allocating.
const inlineFrames = 8

// Decoder reads JSON values from one input. The zero value is not usable;
// call Reset. Not safe for concurrent use.
//
// Objects and arrays are read either with Object and Array, which call a
// function per member or element, or without a function call, as
// generated code does:
//
//	if err := d.BeginObject(); err != nil {
//		return err
//	}
//	for {
//		key, more, err := d.NextMember()
//		if err != nil {
//			return err
//		}
//		if !more {
//			break
//		}
//		switch string(key) { // read (or Skip) the member's value
//		}
//	}
type Decoder struct {
	data    []byte
	pos     int
	root    string
	depth   int                 // objects and arrays open
	frames  [inlineFrames]frame // the first levels of nesting
	deep    []frame             // levels beyond inlineFrames
	buf     []byte              // scratch for unescaping
	escaped bool                // the last string read had escapes (it lives in buf)
	// lastString is the decimal string being parsed, for error messages.
	lastString []byte
}

// Reset makes d read data; root names the value in error paths ("args").
func (d *Decoder) Reset(data []byte, root string) {
	d.data, d.pos, d.root, d.depth = data, 0, root, 0
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

// Once records that the member of a known key was met in the object being
// read: seen is the flag of that key, one per key and object. A key met
// before is an error (generated decoders accept each known key once,
// whatever the order), checked before the value is read:
//
//	case "name":
//		if err = d.Once(&hasName); err == nil {
//			m.Name, err = d.String()
//		}
func (d *Decoder) Once(seen *bool) error {
	if *seen {
		return d.Errorf("duplicate field")
	}
	*seen = true
	return nil
}

// frame returns the frame of nesting level i (0 is the outermost).
func (d *Decoder) frame(i int) *frame {
	if i < inlineFrames {
		return &d.frames[i]
	}
	return &d.deep[i-inlineFrames]
}

// push opens a level of nesting; the caller has checked MaxDepth.
func (d *Decoder) push(array bool) {
	i := d.depth
	d.depth++
	if i < inlineFrames {
		d.frames[i] = frame{array: array}
		return
	}
	if i -= inlineFrames; i < len(d.deep) {
		d.deep[i] = frame{array: array}
		return
	}
	d.deep = append(d.deep, frame{array: array})
}

func (d *Decoder) pathString() string {
	var b strings.Builder
	b.WriteString(d.root)
	for i := range d.depth {
		f := d.frame(i)
		switch {
		case !f.current:
			continue
		case f.array:
			fmt.Fprintf(&b, "[%d]", f.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		key := d.data[f.keyStart:f.keyEnd]
		if f.keyEscaped {
			// Unescaped again: the scratch space has been reused since.
			u := Decoder{data: d.data, pos: f.keyStart - 1}
			key, _ = u.stringBytes()
		}
		b.Write(key)
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

// BeginObject starts reading an object: it consumes the opening brace.
// Read the members with NextMember until it reports the end.
func (d *Decoder) BeginObject() error {
	if d.Peek() != Object {
		return d.expected("object")
	}
	if d.depth >= MaxDepth {
		return d.Errorf("nested deeper than %d", MaxDepth)
	}
	d.push(false)
	d.pos++
	return nil
}

// NextMember moves to the next member of the object that BeginObject
// started, once the previous member's value has been consumed. It returns
// the member's key (unescaped; valid until the next call on d) with d
// positioned at the value, which the caller must consume (Skip it when
// unknown); or more false at the end of the object, which it consumes.
// Duplicate keys are not detected here: generated code rejects duplicates
// of the keys it knows, and unknown keys are skipped whatever their
// number.
func (d *Decoder) NextMember() (key []byte, more bool, err error) {
	f := d.frame(d.depth - 1)
	d.skipSpace()
	if f.current {
		f.current = false // the path is the object's again
		if d.pos >= len(d.data) {
			return nil, false, d.expected("',' or '}'")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			d.skipSpace()
		case '}':
			d.pos++
			d.depth--
			return nil, false, nil
		default:
			return nil, false, d.expected("',' or '}'")
		}
	} else if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		d.depth--
		return nil, false, nil
	}
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, false, d.expected("object key")
	}
	start := d.pos + 1
	key, err = d.stringBytes()
	if err != nil {
		return nil, false, err
	}
	f.keyStart, f.keyEnd, f.keyEscaped = start, d.pos-1, d.escaped
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return nil, false, d.expected("':' after object key")
	}
	d.pos++
	f.current = true
	return key, true, nil
}

// BeginArray starts reading an array: it consumes the opening bracket.
// Read the elements with NextElement until it reports the end.
func (d *Decoder) BeginArray() error {
	if d.Peek() != Array {
		return d.expected("array")
	}
	if d.depth >= MaxDepth {
		return d.Errorf("nested deeper than %d", MaxDepth)
	}
	d.push(true)
	d.pos++
	return nil
}

// NextElement moves to the next element of the array that BeginArray
// started, once the previous element has been consumed: more true with d
// positioned at the element, which the caller must consume; or more false
// at the end of the array, which it consumes.
func (d *Decoder) NextElement() (more bool, err error) {
	f := d.frame(d.depth - 1)
	d.skipSpace()
	if f.current {
		f.current = false // the path is the array's again
		if d.pos >= len(d.data) {
			return false, d.expected("',' or ']'")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			f.index++
			f.current = true
			return true, nil
		case ']':
			d.pos++
			d.depth--
			return false, nil
		default:
			return false, d.expected("',' or ']'")
		}
	}
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		d.depth--
		return false, nil
	}
	f.index, f.current = 0, true
	return true, nil
}

// Object reads an object, calling fn once per member with the key
// (unescaped; valid only during the call) and d positioned at the value,
// which fn must consume (Skip it when unknown). Duplicate keys are not
// detected here: generated code rejects duplicates of the keys it knows,
// and unknown keys are skipped whatever their number. BeginObject and
// NextMember do the same without a function call.
func (d *Decoder) Object(fn func(key []byte) error) error {
	if err := d.BeginObject(); err != nil {
		return err
	}
	for {
		key, more, err := d.NextMember()
		if err != nil || !more {
			return err
		}
		if d.escaped {
			key = append([]byte(nil), key...) // in the scratch buffer, which fn's reads reuse
		}
		if err := fn(key); err != nil {
			return err
		}
	}
}

// Array reads an array, calling fn for each element with its index and d
// positioned at the element, which fn must consume. BeginArray and
// NextElement do the same without a function call.
func (d *Decoder) Array(fn func(i int) error) error {
	if err := d.BeginArray(); err != nil {
		return err
	}
	for {
		more, err := d.NextElement()
		if err != nil || !more {
			return err
		}
		if err := fn(d.frame(d.depth - 1).index); err != nil {
			return err
		}
	}
}

// Skip consumes any one value, validating it.
func (d *Decoder) Skip() error {
	switch d.Peek() {
	case Object:
		if err := d.BeginObject(); err != nil {
			return err
		}
		for {
			_, more, err := d.NextMember()
			if err != nil || !more {
				return err
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
	case Array:
		if err := d.BeginArray(); err != nil {
			return err
		}
		for {
			more, err := d.NextElement()
			if err != nil || !more {
				return err
			}
			if err := d.Skip(); err != nil {
				return err
			}
		}
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
		return 0, d.Errorf("number %s out of range", shown(t))
	}
	return f, nil
}

// integer parses an integer JSON number within [min, max].
func (d *Decoder) integer(min, max int64) (int64, error) {
	t, err := d.number()
	if err != nil {
		return 0, err
	}
	var v int64
	if u, ok := smallDigits(t); ok {
		v = int64(u) // no more than 18 digits: no overflow
		if t[0] == '-' {
			v = -v
		}
	} else if v, err = strconv.ParseInt(string(t), 10, 64); err != nil {
		return 0, d.Errorf("%s is not an integer in [%d, %d]", shown(t), min, max)
	}
	if v < min || v > max {
		return 0, d.Errorf("%s is not an integer in [%d, %d]", t, min, max)
	}
	return v, nil
}

// maxShown bounds how much of a bad value an error message repeats.
const maxShown = 40

// shown returns the text of a bad value as an error message repeats it:
// whole when it is short, else its first maxShown bytes (whole runes) and
// "…", so that a reply to a huge number or string is not as huge.
func shown(b []byte) []byte {
	if len(b) <= maxShown {
		return b
	}
	n := maxShown
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return append(b[:n:n], "…"...)
}

// smallDigits parses the text of an integer JSON number of at most 18
// digits (an optional minus sign, then digits), the common case, without
// strconv; it reports false for anything else (fraction, exponent, more
// digits).
func smallDigits(t []byte) (uint64, bool) {
	if len(t) > 0 && t[0] == '-' {
		t = t[1:]
	}
	if len(t) == 0 || len(t) > 18 {
		return 0, false
	}
	var u uint64
	for _, c := range t {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	return u, true
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
		return nil, d.Errorf("%q is not %s", shown(b), what)
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

// plain marks the bytes that a string holds as they are and that need no
// further check: printable ASCII other than '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// stringBytes reads a string literal at d.pos, validating UTF-8 and escapes.
func (d *Decoder) stringBytes() ([]byte, error) {
	d.escaped = false
	start := d.pos + 1
	p := start
	ascii := true
	for {
		for p < len(d.data) && plain[d.data[p]] {
			p++
		}
		if p >= len(d.data) {
			return nil, d.Errorf("unterminated string")
		}
		switch c := d.data[p]; {
		case c == '"':
			d.pos = p + 1
			if !ascii && !utf8.Valid(d.data[start:p]) {
				return nil, d.Errorf("string is not valid UTF-8")
			}
			return d.data[start:p], nil
		case c == '\\':
			return d.unescape(start)
		case c < 0x20:
			return nil, d.Errorf("control character in string")
		}
		ascii = false // a byte of 0x80 or more: UTF-8 is checked at the end
		p++
	}
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
