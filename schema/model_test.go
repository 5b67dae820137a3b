package schema

import (
	"os"
	"path/filepath"
	"testing"
)

// loadFull loads testdata/full, the schema that uses every construct.
func loadFull(t *testing.T) *File {
	t.Helper()
	path := filepath.Join("testdata", "full", "input.duplex")
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := Load(path, src)
	if err != nil {
		t.Fatalf("Load:\n%v", err)
	}
	return f
}

// typ builds expected types tersely.
func scalar(k Kind) *Type      { return &Type{Kind: k} }
func list(e *Type) *Type       { return &Type{Kind: KindList, Elem: e} }
func mapOf(e *Type) *Type      { return &Type{Kind: KindMap, Elem: e} }
func msgType(m *Message) *Type { return &Type{Kind: KindMessage, Message: m} }
func enumType(e *Enum) *Type   { return &Type{Kind: KindEnum, Enum: e} }
func sameType(a, b *Type) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Kind == b.Kind && a.Message == b.Message && a.Enum == b.Enum && sameType(a.Elem, b.Elem)
}

type wantField struct {
	name       string
	typ        *Type
	optional   bool
	doc        string
	deprecated *Deprecation
	line, col  int
}

func checkFields(t *testing.T, where string, got []*Field, want []wantField) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d fields, want %d", where, len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Name != w.name {
			t.Errorf("%s field %d: name %q, want %q", where, i, g.Name, w.name)
		}
		if !sameType(g.Type, w.typ) {
			t.Errorf("%s.%s: type %s, want %s", where, w.name, typeString(g.Type), typeString(w.typ))
		}
		if g.Optional != w.optional {
			t.Errorf("%s.%s: optional %v, want %v", where, w.name, g.Optional, w.optional)
		}
		if g.Doc != w.doc {
			t.Errorf("%s.%s: doc %q, want %q", where, w.name, g.Doc, w.doc)
		}
		checkDeprecation(t, where+"."+w.name, g.Deprecation, w.deprecated)
		if w.line != 0 && (g.Pos.Line != w.line || g.Pos.Col != w.col) {
			t.Errorf("%s.%s: at %s, want line %d col %d", where, w.name, g.Pos, w.line, w.col)
		}
	}
}

func checkDeprecation(t *testing.T, where string, got, want *Deprecation) {
	t.Helper()
	switch {
	case got == nil && want == nil:
	case got == nil || want == nil:
		t.Errorf("%s: deprecation %v, want %v", where, got, want)
	case got.Reason != want.Reason:
		t.Errorf("%s: deprecation reason %q, want %q", where, got.Reason, want.Reason)
	}
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func TestModel(t *testing.T) {
	f := loadFull(t)
	path := filepath.Join("testdata", "full", "input.duplex")
	eq(t, "Path", f.Path, path)
	eq(t, "Base", f.Base(), "input.duplex")
	eq(t, "Package", f.Package, "shop")
	eq(t, "Doc", f.Doc, "Package shop is the schema that uses every construct of the language.\n\nThe model test checks it field by field.")

	// Messages, in source order.
	if len(f.Messages) != 4 {
		t.Fatalf("%d messages, want 4", len(f.Messages))
	}
	scalars, address, legacy, user := f.Messages[0], f.Messages[1], f.Messages[2], f.Messages[3]
	eq(t, "message 0", scalars.Name, "Scalars")
	eq(t, "Scalars.Doc", scalars.Doc, "Scalars holds one field of every scalar type.")
	eq(t, "Scalars.Pos", scalars.Pos.String(), path+":9:9")
	checkDeprecation(t, "Scalars", scalars.Deprecation, nil)
	checkFields(t, "Scalars", scalars.Fields, []wantField{
		{name: "flag", typ: scalar(KindBool), line: 10, col: 5},
		{name: "small", typ: scalar(KindInt32)},
		{name: "big", typ: scalar(KindInt64)},
		{name: "count", typ: scalar(KindUint32)},
		{name: "total", typ: scalar(KindUint64)},
		{name: "ratio", typ: scalar(KindFloat64)},
		{name: "title", typ: scalar(KindString), doc: "The display name.", line: 17, col: 5},
		{name: "blob", typ: scalar(KindBytes)},
		{name: "at", typ: scalar(KindTimestamp)},
		{name: "userId", typ: scalar(KindUUID)}, // its trailing comment is no doc
	})
	eq(t, "message 1", address.Name, "Address")
	eq(t, "Address.Doc", address.Doc, "Address is nested in User.")
	checkFields(t, "Address", address.Fields, []wantField{
		{name: "street", typ: scalar(KindString)},
		{name: "city", typ: scalar(KindString), optional: true},
	})
	eq(t, "message 2", legacy.Name, "LegacyUser")
	eq(t, "LegacyUser.Doc", legacy.Doc, "")
	checkDeprecation(t, "LegacyUser", legacy.Deprecation, &Deprecation{Reason: "use User"})

	if len(f.Enums) != 2 {
		t.Fatalf("%d enums, want 2", len(f.Enums))
	}
	role, legacyEnum := f.Enums[0], f.Enums[1]
	eq(t, "User.Name", user.Name, "User")
	checkFields(t, "User", user.Fields, []wantField{
		{name: "id", typ: scalar(KindUUID)},
		{name: "name", typ: scalar(KindString)},
		{name: "home", typ: msgType(address)},
		{name: "other", typ: msgType(address), optional: true},
		{name: "addresses", typ: list(msgType(address))},
		{name: "tags", typ: list(scalar(KindString)), optional: true},
		{name: "labels", typ: mapOf(scalar(KindString))},
		{name: "groups", typ: mapOf(list(scalar(KindString)))},
		{name: "roles", typ: mapOf(enumType(role)), optional: true},
		{name: "role", typ: enumType(role)},
		{name: "nick", typ: scalar(KindString), optional: true, deprecated: &Deprecation{}},
		{name: "matrix", typ: list(list(scalar(KindInt32)))},
	})

	// Enums.
	eq(t, "Role.Name", role.Name, "Role")
	eq(t, "Role.Doc", role.Doc, "Role is what a user may do.")
	checkDeprecation(t, "Role", role.Deprecation, nil)
	if len(role.Values) != 3 {
		t.Fatalf("Role has %d values, want 3", len(role.Values))
	}
	for i, w := range []struct {
		name, doc string
		dep       *Deprecation
	}{
		{"member", "A plain member.", nil},
		{"admin", "", nil},
		{"owner", "", &Deprecation{Reason: "use admin"}},
	} {
		v := role.Values[i]
		eq(t, "Role value", v.Name, w.name)
		eq(t, "Role."+w.name+" doc", v.Doc, w.doc)
		checkDeprecation(t, "Role."+w.name, v.Deprecation, w.dep)
		eq(t, "const", EnumConstName(role, v), "Role"+GoName(w.name))
	}
	eq(t, "Role.member pos", role.Values[0].Pos.String(), path+":54:5")
	eq(t, "Legacy.Name", legacyEnum.Name, "Legacy")
	checkDeprecation(t, "Legacy", legacyEnum.Deprecation, &Deprecation{})
	eq(t, "Legacy values", len(legacyEnum.Values), 1)

	// Errors.
	if len(f.Errors) != 4 {
		t.Fatalf("%d errors, want 4", len(f.Errors))
	}
	nameTaken, notLoggedIn, notAdmin, httpError := f.Errors[0], f.Errors[1], f.Errors[2], f.Errors[3]
	for _, w := range []struct {
		e          *Error
		name, code string
		doc        string
	}{
		{nameTaken, "NameTaken", "name_taken", "The name is taken."},
		{notLoggedIn, "NotLoggedIn", "not_logged_in", ""},
		{notAdmin, "NotAdmin", "not_admin", ""},
		{httpError, "HTTPError", "http_error", ""},
	} {
		eq(t, "error name", w.e.Name, w.name)
		eq(t, w.name+".Code", w.e.Code, w.code)
		eq(t, w.name+".Doc", w.e.Doc, w.doc)
	}
	eq(t, "NameTaken.Pos", nameTaken.Pos.String(), path+":66:7")

	// Guards.
	if len(f.Guards) != 2 {
		t.Fatalf("%d guards, want 2", len(f.Guards))
	}
	loggedIn, admin := f.Guards[0], f.Guards[1]
	eq(t, "guard 0", loggedIn.Name, "loggedIn")
	eq(t, "loggedIn.Doc", loggedIn.Doc, "Only sessions that logged in.")
	eq(t, "loggedIn.Error", loggedIn.Error, notLoggedIn)
	eq(t, "guard 1", admin.Name, "admin")
	eq(t, "admin.Error", admin.Error, notAdmin)

	// Commands.
	if len(f.Commands) != 5 {
		t.Fatalf("%d commands, want 5", len(f.Commands))
	}
	login, logout, profile, whoami, ping := f.Commands[0], f.Commands[1], f.Commands[2], f.Commands[3], f.Commands[4]
	eq(t, "login.Name", login.Name, "login")
	eq(t, "login.Doc", login.Doc, "Log in.")
	eq(t, "login.Pos", login.Pos.String(), path+":76:9")
	eq(t, "login.Args.Message", login.Args.Message, (*Message)(nil))
	checkFields(t, "login args", login.Args.Fields, []wantField{
		{name: "name", typ: scalar(KindString), line: 76, col: 15},
		{name: "password", typ: scalar(KindString), optional: true},
	})
	eq(t, "login.Result.Message", login.Result.Message, (*Message)(nil))
	checkFields(t, "login result", login.Result.Fields, []wantField{
		{name: "user", typ: msgType(user)},
		{name: "online", typ: list(scalar(KindString))},
	})
	if len(login.Errors) != 2 || login.Errors[0] != nameTaken || login.Errors[1] != httpError {
		t.Errorf("login.Errors = %v, want NameTaken, HTTPError", login.Errors)
	}
	eq(t, "login guards", len(login.Guards), 0)
	eq(t, "login.Idempotent", login.Idempotent, false)
	checkDeprecation(t, "login", login.Deprecation, nil)

	eq(t, "logout.Name", logout.Name, "logout")
	if logout.Args == nil || logout.Result == nil {
		t.Fatal("logout: Args and Result must never be nil")
	}
	eq(t, "logout args", len(logout.Args.Fields), 0)
	eq(t, "logout result", len(logout.Result.Fields), 0)
	eq(t, "logout.Result.Message", logout.Result.Message, (*Message)(nil))
	if len(logout.Guards) != 1 || logout.Guards[0] != loggedIn {
		t.Errorf("logout.Guards = %v, want loggedIn", logout.Guards)
	}
	eq(t, "logout errors", len(logout.Errors), 0)

	eq(t, "profile.Doc", profile.Doc, "Replace the profile.")
	eq(t, "profile.Args.Message", profile.Args.Message, user)
	eq(t, "profile.Result.Message", profile.Result.Message, user)
	if len(profile.Args.Fields) != len(user.Fields) || &profile.Args.Fields[0] != &user.Fields[0] {
		t.Error("profile.Args.Fields must be User's fields")
	}
	if len(profile.Result.Fields) != len(user.Fields) || profile.Result.Fields[0] != user.Fields[0] {
		t.Error("profile.Result.Fields must be User's fields")
	}
	if len(profile.Guards) != 2 || profile.Guards[0] != loggedIn || profile.Guards[1] != admin {
		t.Errorf("profile.Guards = %v, want loggedIn, admin", profile.Guards)
	}
	eq(t, "profile.Idempotent", profile.Idempotent, true)

	checkDeprecation(t, "whoami", whoami.Deprecation, &Deprecation{Reason: "use profile"})
	if len(whoami.Guards) != 1 || whoami.Guards[0] != loggedIn {
		t.Errorf("whoami.Guards = %v, want loggedIn", whoami.Guards)
	}
	checkFields(t, "whoami result", whoami.Result.Fields, []wantField{{name: "user", typ: msgType(user)}})

	checkFields(t, "ping result", ping.Result.Fields, []wantField{{name: "at", typ: scalar(KindTimestamp)}})
	if len(ping.Errors) != 1 || ping.Errors[0] != httpError {
		t.Errorf("ping.Errors = %v, want HTTPError", ping.Errors)
	}

	// Events.
	if len(f.Events) != 2 {
		t.Fatalf("%d events, want 2", len(f.Events))
	}
	joined, left := f.Events[0], f.Events[1]
	eq(t, "joined.Name", joined.Name, "joined")
	eq(t, "joined.Doc", joined.Doc, "Someone joined.")
	checkDeprecation(t, "joined", joined.Deprecation, nil)
	checkFields(t, "joined", joined.Fields, []wantField{
		{name: "user", typ: msgType(user)},
		{name: "at", typ: scalar(KindTimestamp)},
	})
	eq(t, "left.Name", left.Name, "left")
	checkDeprecation(t, "left", left.Deprecation, &Deprecation{})
	eq(t, "left fields", len(left.Fields), 0)
}

// TestCheckFailsWithoutModel: a file with problems gives no model.
func TestCheckFailsWithoutModel(t *testing.T) {
	f, err := Load("x.duplex", []byte("package x\nmessage M { a: Nope }\n"))
	if f != nil || err == nil {
		t.Fatalf("Load = %v, %v; want nil and an error", f, err)
	}
	if _, ok := err.(Diagnostics); !ok {
		t.Fatalf("error is %T, want Diagnostics", err)
	}
}

// TestDiagnosticsError: one line per diagnostic, sorted.
func TestDiagnosticsError(t *testing.T) {
	_, err := Load("chat.duplex", []byte("package chat\n\nmessage B { a: Usr }\nmessage A { b: Bb }\nmessage User {}\n"))
	want := "chat.duplex:3:16: unknown type \"Usr\" (did you mean \"User\"?)\n" +
		"chat.duplex:4:16: unknown type \"Bb\" (did you mean \"B\"?)"
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}
