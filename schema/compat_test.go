package schema

import (
	"strings"
	"testing"

	"github.com/duplexrpc/duplex/internal/linediff"
)

// TestBreaking runs one pair of schema versions per rule of the table in
// docs/schema.md ("Compatible changes"), the changes that must not be
// reported among them: every case lists all the changes Breaking finds,
// in both directions.
func TestBreaking(t *testing.T) {
	for _, tc := range []struct {
		name     string
		old, new string // each after "package p\n": line 2 is their first line
		want     []string
	}{
		{
			name: "command removed",
			old:  "command move()\ncommand stop()",
			new:  "command move()",
			want: []string{`old.duplex:3:9: command "stop" was removed (breaks old clients)`},
		},
		{
			name: "command added",
			old:  "command move()",
			new:  "command move()\ncommand stop()",
			want: []string{`new.duplex:3:9: command "stop" was added (breaks new clients of old servers)`},
		},
		{
			name: "event removed",
			old:  "event said {}\nevent left {}",
			new:  "event said {}",
			want: []string{`old.duplex:3:7: event "left" was removed (breaks old clients)`},
		},
		{
			name: "event added",
			old:  "event said {}",
			new:  "event said {}\nevent left {}",
		},
		{
			name: "required parameter removed",
			old:  "command move(row: int32, column: int32)",
			new:  "command move(row: int32)",
			want: []string{`old.duplex:2:26: command "move": parameter "column" was removed (breaks old clients and new clients of old servers)`},
		},
		{
			name: "optional parameter removed",
			old:  "command move(row: int32, column: int32?)",
			new:  "command move(row: int32)",
			want: []string{`old.duplex:2:26: command "move": parameter "column" was removed (breaks old clients)`},
		},
		{
			name: "parameter renamed",
			old:  "command move(column: int32)",
			new:  "command move(col: int32)",
			want: []string{
				`new.duplex:2:14: command "move": parameter "col" was added as required (breaks old clients)`,
				`old.duplex:2:14: command "move": parameter "column" was removed (breaks old clients and new clients of old servers)`,
			},
		},
		{
			name: "optional parameter added",
			old:  "command move(row: int32)",
			new:  "command move(row: int32, column: int32?)",
		},
		{
			name: "required parameter added",
			old:  "command move(row: int32)",
			new:  "command move(row: int32, column: int32)",
			want: []string{`new.duplex:2:26: command "move": parameter "column" was added as required (breaks old clients)`},
		},
		{
			name: "parameter made required",
			old:  "command move(row: int32?)",
			new:  "command move(row: int32)",
			want: []string{`new.duplex:2:14: command "move": parameter "row" was made required (breaks old clients)`},
		},
		{
			name: "parameter made optional",
			old:  "command move(row: int32)",
			new:  "command move(row: int32?)",
			want: []string{`new.duplex:2:14: command "move": parameter "row" was made optional (breaks new clients of old servers)`},
		},
		{
			name: "result field removed",
			old:  "command move() -> (row: int32, column: int32)",
			new:  "command move() -> (row: int32)",
			want: []string{`old.duplex:2:32: command "move": result "column" was removed (breaks old clients)`},
		},
		{
			name: "optional result field added",
			old:  "command move() -> (row: int32)",
			new:  "command move() -> (row: int32, column: int32?)",
		},
		{
			name: "required event field added",
			old:  "event said { from: string }",
			new:  "event said { from: string, text: string }",
			want: []string{`new.duplex:2:28: event "said": field "text" was added as required (breaks new clients of old servers)`},
		},
		{
			name: "result made optional",
			old:  "command move() -> (row: int32)",
			new:  "command move() -> (row: int32?)",
			want: []string{`new.duplex:2:20: command "move": result "row" was made optional (breaks old clients)`},
		},
		{
			name: "event field made required",
			old:  "event said { from: string? }",
			new:  "event said { from: string }",
			want: []string{`new.duplex:2:14: event "said": field "from" was made required (breaks new clients of old servers)`},
		},
		{
			name: "type changed to another JSON type",
			old:  "command move(row: int32)",
			new:  "command move(row: int64)",
			want: []string{`new.duplex:2:14: command "move": parameter "row" changed type from int32 to int64 (breaks old clients and new clients of old servers)`},
		},
		{
			name: "parameter widened",
			old:  "command move(row: int32, at: uuid)",
			new:  "command move(row: float64, at: string)",
			want: []string{
				`new.duplex:2:14: command "move": parameter "row" changed type from int32 to float64 (breaks new clients of old servers)`,
				`new.duplex:2:28: command "move": parameter "at" changed type from uuid to string (breaks new clients of old servers)`,
			},
		},
		{
			name: "result widened",
			old:  "command move() -> (row: int32)",
			new:  "command move() -> (row: float64)",
			want: []string{`new.duplex:2:20: command "move": result "row" changed type from int32 to float64 (breaks old clients)`},
		},
		{
			name: "list element type changed",
			old:  "event said { tags: []string }",
			new:  "event said { tags: []int32 }",
			want: []string{`new.duplex:2:14: event "said": field "tags" changed type from []string to []int32 (breaks old clients and new clients of old servers)`},
		},
		{
			name: "list became a map",
			old:  "event said { tags: []string }",
			new:  "event said { tags: map<string, string> }",
			want: []string{`new.duplex:2:14: event "said": field "tags" changed type from []string to map<string, string> (breaks old clients and new clients of old servers)`},
		},
		{
			name: "enum value added, sent by the server",
			old:  "enum Role { member }\nevent joined { role: Role }",
			new:  "enum Role { member, admin }\nevent joined { role: Role }",
			want: []string{`new.duplex:2:21: enum "Role": value "admin" was added (breaks old clients)`},
		},
		{
			name: "enum value added, sent by clients",
			old:  "enum Role { member }\ncommand join(role: Role)",
			new:  "enum Role { member, admin }\ncommand join(role: Role)",
			want: []string{`new.duplex:2:21: enum "Role": value "admin" was added (breaks new clients of old servers)`},
		},
		{
			name: "enum value removed, sent by clients",
			old:  "enum Role { member, admin }\ncommand join(role: Role)",
			new:  "enum Role { member }\ncommand join(role: Role)",
			want: []string{`old.duplex:2:21: enum "Role": value "admin" was removed (breaks old clients)`},
		},
		{
			name: "enum value removed, sent by the server",
			old:  "enum Role { member, admin }\ncommand join() -> (role: Role)",
			new:  "enum Role { member }\ncommand join() -> (role: Role)",
			want: []string{`old.duplex:2:21: enum "Role": value "admin" was removed (breaks old clients and new clients of old servers)`},
		},
		{
			name: "enum in no command or event",
			old:  "enum Role { member, admin }",
			new:  "enum Role { member, guest }",
		},
		{
			name: "enum renamed with the same values",
			old:  "enum Role { member }\nevent joined { role: Role }",
			new:  "enum Rank { member }\nevent joined { role: Rank }",
		},
		{
			name: "enum parameter became a string",
			old:  "enum Role { member }\ncommand join(role: Role)",
			new:  "enum Role { member }\ncommand join(role: string)",
			want: []string{`new.duplex:3:14: command "join": parameter "role" changed type from Role to string (breaks new clients of old servers)`},
		},
		{
			name: "field removed from a nested message",
			old:  "message User { name: string, age: int32 }\nmessage Room { users: []User }\ncommand look() -> Room",
			new:  "message User { name: string }\nmessage Room { users: []User }\ncommand look() -> Room",
			want: []string{`old.duplex:2:30: message "User": field "age" was removed (breaks old clients)`},
		},
		{
			name: "message renamed with the same fields",
			old:  "message User { name: string }\ncommand look() -> (users: []User)\nevent joined { user: User }",
			new:  "message Person { name: string }\ncommand look() -> (users: []Person)\nevent joined { user: Person }",
		},
		{
			name: "message renamed with a field made required",
			old:  "message User { name: string? }\ncommand look() -> (users: []User)",
			new:  "message Person { name: string }\ncommand look() -> (users: []Person)",
			want: []string{`new.duplex:2:18: message "Person": field "name" was made required (breaks new clients of old servers)`},
		},
		{
			name: "message in parameters and results, reported once",
			old:  "message User { name: string? }\ncommand save(User) -> User\ncommand find() -> (user: User)",
			new:  "message User { name: string }\ncommand save(User) -> User\ncommand find() -> (user: User)",
			want: []string{`new.duplex:2:16: message "User": field "name" was made required (breaks old clients and new clients of old servers)`},
		},
		{
			name: "parameters written inline instead of as a message",
			old:  "message User { name: string }\ncommand save(User)",
			new:  "command save(name: string)",
		},
		{
			name: "error removed or renamed",
			old:  "error NameTaken\nerror Busy\ncommand login() errors NameTaken, Busy",
			new:  "error NameInUse\nerror Busy\ncommand login() errors Busy, NameInUse",
			want: []string{`new.duplex:4:9: command "login": error "name_taken" was removed (breaks old clients)`},
		},
		{
			name: "error added",
			old:  "error Busy\ncommand login()",
			new:  "error Busy\ncommand login() errors Busy",
		},
		{
			name: "guard added",
			old:  "error NotAdmin\nguard admin rejects NotAdmin\ncommand kick()",
			new:  "error NotAdmin\nguard admin rejects NotAdmin\n@guard(admin)\ncommand kick()",
			want: []string{`new.duplex:5:9: command "kick": guard "admin" was added (breaks old clients)`},
		},
		{
			name: "guard removed",
			old:  "error NotAdmin\nguard admin rejects NotAdmin\n@guard(admin)\ncommand kick()",
			new:  "error NotAdmin\nguard admin rejects NotAdmin\ncommand kick()",
		},
		{
			name: "guard rejects with another error",
			old:  "error NotAdmin\nerror Denied\nguard admin rejects NotAdmin\n@guard(admin)\ncommand kick()",
			new:  "error NotAdmin\nerror Denied\nguard admin rejects Denied\n@guard(admin)\ncommand kick()",
			want: []string{`new.duplex:6:9: command "kick": error "not_admin" was removed (breaks old clients)`},
		},
		{
			name: "declarations reordered, docs, deprecations, idempotence and package changed",
			old: "message User { name: string, age: int32 }\n" +
				"enum Role { member, admin }\n" +
				"command save(user: User, role: Role) -> (ok: bool)\n" +
				"event said { from: string }",
			new: "// Someone said something.\n" +
				"@deprecated\n" +
				"event said { from: string }\n" +
				"\n" +
				"@idempotent\n" +
				"command save(role: Role, user: User) -> (ok: bool)\n" +
				"\n" +
				"enum Role {\n" +
				"    admin\n" +
				"    // The default.\n" +
				"    member\n" +
				"}\n" +
				"\n" +
				"message User {\n" +
				"    @deprecated(\"use name\")\n" +
				"    age: int32\n" +
				"    name: string\n" +
				"}",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			oldFile := mustLoad(t, "old.duplex", "package p\n"+tc.old+"\n")
			newPkg := "package p\n"
			if strings.HasPrefix(tc.name, "declarations reordered") {
				newPkg = "package q\n"
			}
			newFile := mustLoad(t, "new.duplex", newPkg+tc.new+"\n")
			var got []string
			for _, c := range Breaking(oldFile, newFile) {
				got = append(got, c.String())
			}
			if d := linediff.Diff(strings.Join(tc.want, "\n"), strings.Join(got, "\n")); d != "" {
				t.Errorf("Breaking (-want +got):\n%s", d)
			}
		})
	}
}

// TestBreakingSameFile: a schema compared with itself has no changes.
func TestBreakingSameFile(t *testing.T) {
	f := loadFull(t)
	if cs := Breaking(f, f); len(cs) != 0 {
		t.Errorf("Breaking(full, full) = %v, want none", cs)
	}
}

// TestBreakingFull removes every command and event of testdata/full: each
// is reported at its position in the old file, in order.
func TestBreakingFull(t *testing.T) {
	old := loadFull(t)
	empty := mustLoad(t, "new.duplex", "package full\n")
	got := Breaking(old, empty)
	if want := len(old.Commands) + len(old.Events); len(got) != want {
		t.Fatalf("%d changes, want %d: %v", len(got), want, got)
	}
	for i, c := range got {
		if c.Pos.File != old.Path || c.Breaks != OldClients {
			t.Errorf("change %d: %v, want a removal from %s breaking old clients", i, c, old.Path)
		}
		if i > 0 && c.Pos.Line < got[i-1].Pos.Line {
			t.Errorf("change %d at %s comes after %s", i, c.Pos, got[i-1].Pos)
		}
	}
}

func mustLoad(t *testing.T, name, src string) *File {
	t.Helper()
	f, err := Load(name, []byte(src))
	if err != nil {
		t.Fatalf("Load %s:\n%v\n%s", name, err, src)
	}
	return f
}
