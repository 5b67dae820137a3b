package syntax

import (
	"os"
	"strings"
	"testing"
)

func texts(cs []*Comment) string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Text)
	}
	return strings.Join(out, "|")
}

func groups(gs []*CommentGroup) string {
	var out []string
	for _, g := range gs {
		out = append(out, texts(g.List))
	}
	return strings.Join(out, " / ")
}

func comment(c *Comment) string {
	if c == nil {
		return ""
	}
	return c.Text
}

// TestComments checks where each comment of testdata/fmt_comments lands.
func TestComments(t *testing.T) {
	src, err := os.ReadFile("../testdata/fmt_comments/input.duplex")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse("c.duplex", src)
	if err != nil {
		t.Fatal(err)
	}
	pkg := f.Decls[0].(*PackageDecl)
	a := f.Decls[1].(*MessageDecl)
	b := f.Decls[2].(*MessageDecl)
	e := f.Decls[3].(*EnumDecl)
	c := f.Decls[4].(*MessageDecl)
	x := f.Decls[5].(*ErrorDecl)
	y := f.Decls[6].(*ErrorDecl)
	cmd := f.Decls[7].(*CommandDecl)
	d := f.Decls[8].(*CommandDecl)
	checks := []struct{ what, got, want string }{
		{"package floating", groups(pkg.Floating), "// Copyright: a floating comment before the file doc."},
		{"package doc", pkg.Doc.Text(), "Package doc.\nSecond line."},
		{"package comment", comment(pkg.Comment), "// after package"},
		{"A floating", groups(a.Floating), "// floating 1 / // floating 2, two lines|// still floating 2"},
		{"A doc", a.Doc.Text(), "Doc of A."},
		{"A open", comment(a.Fields.OpenComment), "// after the brace"},
		{"A comment", comment(a.Comment), "// after the closing brace"},
		{"x floating", groups(a.Fields.Fields[0].Floating), "// floating inside"},
		{"x doc", a.Fields.Fields[0].Doc.Text(), "doc of x"},
		{"x comment", comment(a.Fields.Fields[0].Comment), "// after x"},
		{"y comment", comment(a.Fields.Fields[1].Comment), "// after y, aligned with x's comment"},
		{"z doc", a.Fields.Fields[2].Doc.Text(), "doc of z, after a blank line"},
		{"z annotation comments", texts(a.Fields.Fields[2].AnnotationComments), "// after the annotation"},
		{"A tail", groups(a.Fields.Tail), "// tail comment, directly after z / // tail comment after a blank line"},
		{"B floating", groups(b.Floating), "// floating directly after A"},
		{"B tail", groups(b.Fields.Tail), "// only comments"},
		{"E doc below annotation", e.Doc.Text(), "doc below the annotation"},
		{"E a comment", comment(e.Values[0].Comment), "// after a"},
		{"E b doc", e.Values[1].Doc.Text(), "doc of b below its annotation"},
		{"C doc", c.Doc.Text(), "doc after the gap"},
		{"C annotation comments", texts(c.AnnotationComments), "// on the annotation line|// a comment among annotations"},
		{"X comment", comment(x.Comment), "// after X"},
		{"Y doc", y.Doc.Text(), "doc of Y"},
		{"c open", comment(cmd.Params.Fields.OpenComment), "// after the paren"},
		{"c p doc", cmd.Params.Fields.Fields[0].Doc.Text(), "doc of p"},
		{"c q comment", comment(cmd.Params.Fields.Fields[1].Comment), "// after q"},
		{"c comment", comment(cmd.Comment), "// after the command"},
		{"d result open", comment(d.Result.Fields.OpenComment), "// open"},
		{"file tail", groups(f.Tail), "// trailing file comment 1 / // trailing file comment 2"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.what, c.got, c.want)
		}
	}
}

func TestParsePositions(t *testing.T) {
	f, err := Parse("p.duplex", []byte("package p\n\nmessage M {\n    @deprecated(\"r\")\n    m: map<string, []N>?\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := f.Decls[1].(*MessageDecl)
	fl := m.Fields.Fields[0]
	mt := fl.Type.(*MapType)
	lt := mt.Value.(*ListType)
	for _, c := range []struct {
		what string
		got  Pos
		want string
	}{
		{"message keyword", m.Pos(), "p.duplex:3:1"},
		{"message name", m.Name.Pos, "p.duplex:3:9"},
		{"lbrace", m.Fields.Open, "p.duplex:3:11"},
		{"annotation", fl.Annotations[0].Pos, "p.duplex:4:5"},
		{"annotation name", fl.Annotations[0].Name.Pos, "p.duplex:4:6"},
		{"annotation arg", fl.Annotations[0].Args[0].Pos, "p.duplex:4:17"},
		{"field name", fl.Name.Pos, "p.duplex:5:5"},
		{"map", mt.Pos(), "p.duplex:5:8"},
		{"map key", mt.Key.Pos(), "p.duplex:5:12"},
		{"list", lt.Pos(), "p.duplex:5:20"},
		{"list elem", lt.Elem.Pos(), "p.duplex:5:22"},
		{"rangle", mt.Rangle, "p.duplex:5:23"},
		{"field end", fl.EndPos, "p.duplex:5:25"},
		{"rbrace", m.Fields.Close, "p.duplex:6:1"},
	} {
		if c.got.String() != c.want {
			t.Errorf("%s at %s, want %s", c.what, c.got, c.want)
		}
	}
	if !fl.Optional {
		t.Error("field not optional")
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"top-level garbage", "package p\nfoo\n}\nerror E\n", "e:2:1: expected declaration, found \"foo\""}, // skips to "error",
		{"one error per line", "package p\nmessage M { a: , b: , c }\n", "e:2:16: expected type, found \",\""},
		{"field outside message", "package p\nname: string\n", "e:2:1: expected declaration, found \"name\""},
		{"decls on one line", "package p\nerror A error B\n", "e:2:9: expected newline, found \"error\""},
		{"missing command parens", "package p\ncommand ping\n", "e:2:13: expected \"(\", found newline"},
		{"bad result", "package p\ncommand ping() -> []T\n", "e:2:19: expected \"(\" or message name after \"->\", found \"[\""},
		{"errors needs names", "package p\ncommand ping() errors\n", "e:2:22: expected error name, found newline"},
		{"errors list comma", "package p\ncommand ping() errors A B\n", "e:2:25: expected \",\" or newline, found \"B\""},
		{"annotation name", "package p\n@ deprecated\nmessage M {}\n", "e:2:3: expected annotation name after \"@\", found \"deprecated\""},
		{"annotation args", "package p\n@guard(a b)\ncommand c()\n", "e:2:10: expected \",\" or \")\", found \"b\""},
		{"annotation arg kind", "package p\n@guard([])\ncommand c()\n", "e:2:8: expected identifier or string, found \"[\""},
		{"map needs comma", "package p\nmessage M { m: map<string> }\n", "e:2:26: expected \",\", found \">\""},
		{"map needs close", "package p\nmessage M { m: map<string, int32 }\n", "e:2:34: expected \">\", found \"}\""},
		{"list needs ]", "package p\nmessage M { m: [string }\n", "e:2:17: expected \"]\", found \"string\""},
		{"deep type", "package p\nmessage M { m: " + strings.Repeat("[]", 200) + "T }\n", "e:2:216: type nested too deeply"},
		{"recovers inside a body", "package p\nmessage M {\n    a string\n    b: int32\n    c int32\n}\nmessage N { x y }\n", "e:3:7: expected \":\" after field name, found \"string\"\ne:5:7: expected \":\" after field name, found \"int32\"\ne:7:15: expected \":\" after field name, found \"y\""},
	}
	for _, tt := range tests {
		_, err := Parse("e", []byte(tt.src))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%s: got\n%s\nwant\n%s", tt.name, got, tt.want)
		}
	}
}

func TestKeywordsAsNames(t *testing.T) {
	src := "package p\n\nmessage M {\n    message: string\n    error: string?\n    event: bool\n}\n\nenum E {\n    command\n    guard\n}\n\ncommand errors(rejects: string)\n"
	f, err := Parse("k", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if got := string(Print(f)); got != src {
		t.Errorf("Print =\n%s\nwant\n%s", got, src)
	}
}
