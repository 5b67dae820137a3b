package schema

import (
	"fmt"
	"path/filepath"
)

// The checked model: what emitters see. Every name is resolved, every
// reference points at its declaration, every rule of docs/schema.md holds.
// Emitters never see the syntax tree.

// Pos is a position in a schema file, printed file:line:col.
type Pos struct {
	File      string // as given to Load
	Line, Col int    // 1-based; Col counts bytes
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// File is one checked schema.
type File struct {
	Path     string // as given to Load
	Package  string // names the Go package and the TS module
	Doc      string
	Messages []*Message // in source order, as every list here
	Enums    []*Enum
	Errors   []*Error
	Guards   []*Guard
	Commands []*Command
	Events   []*Event
}

// Base returns the file's base name ("chat.duplex"), for the generated
// files' "Source:" header (never an absolute path).
func (f *File) Base() string { return filepath.Base(f.Path) }

// Kind is a type's kind.
type Kind int

const (
	KindBool Kind = iota + 1
	KindInt32
	KindInt64 // decimal string on the wire, bigint in TypeScript
	KindUint32
	KindUint64 // decimal string on the wire, bigint in TypeScript
	KindFloat64
	KindString
	KindBytes     // standard base64 string on the wire, Uint8Array in TypeScript
	KindTimestamp // RFC 3339 string with up to nanoseconds in UTC on the wire
	KindUUID      // canonical lowercase 8-4-4-4-12 string on the wire
	KindList      // []Elem
	KindMap       // map<string, Elem>
	KindMessage
	KindEnum
)

// Type is a field's type. Optionality belongs to the field, not the type.
type Type struct {
	Kind    Kind
	Elem    *Type    // KindList and KindMap (the value; keys are strings)
	Message *Message // KindMessage
	Enum    *Enum    // KindEnum
}

// Deprecation marks a deprecated declaration; nil when not deprecated.
type Deprecation struct {
	Reason string // may be empty
}

// Field is a message field, a command argument or result, or an event field.
type Field struct {
	Name        string // as written: the JSON key and the TS property
	Doc         string
	Type        *Type
	Optional    bool // T?: may be absent or null; a required field must be present and not null
	Deprecation *Deprecation
	Pos         Pos
}

// Message is a named record type.
type Message struct {
	Name        string
	Doc         string
	Fields      []*Field
	Deprecation *Deprecation
	Pos         Pos
}

// Enum is a closed set of string values.
type Enum struct {
	Name        string
	Doc         string
	Values      []*EnumValue
	Deprecation *Deprecation
	Pos         Pos
}

// EnumValue is one value; Name is its wire form.
type EnumValue struct {
	Name        string
	Doc         string
	Deprecation *Deprecation
	Pos         Pos
}

// Error is a named error a command may return.
type Error struct {
	Name string // as written, e.g. NameTaken
	Code string // wire code: snake_case of Name, e.g. name_taken
	Doc  string
	Pos  Pos
}

// Guard is a precondition some commands require (a logged-in session, an
// admin). The app implements it; generated dispatch runs it before the
// handler and answers with Error when it refuses.
type Guard struct {
	Name  string
	Doc   string
	Error *Error
	Pos   Pos
}

// Params are a command's arguments or results: inline fields, or the
// fields of a named message.
type Params struct {
	Fields  []*Field
	Message *Message // non-nil when written as a message type
}

// Command is a call from client to server.
type Command struct {
	Name        string // wire name, as written
	Doc         string
	Args        *Params // never nil; no fields for ()
	Result      *Params // never nil; no fields when the command returns nothing
	Errors      []*Error
	Guards      []*Guard
	Idempotent  bool // @idempotent: safe for a client to resend after a reconnect
	Deprecation *Deprecation
	Pos         Pos
}

// Event is what the server pushes to clients.
type Event struct {
	Name        string // wire name, as written
	Doc         string
	Fields      []*Field
	Deprecation *Deprecation
	Pos         Pos
}
