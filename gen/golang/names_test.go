package golang

import (
	"go/ast"
	"go/parser"
	"go/token"
	"testing"

	"github.com/duplexrpc/duplex/schema"
)

// TestPackageNamesChecked parses the code generated for each golden case
// and checks that every package-level name it declares is one
// schema.GoPackageNames lists, the names the checker proves distinct: a
// name the generator adds must be added to the checker too, or a schema
// could take it and the output would not compile.
func TestPackageNamesChecked(t *testing.T) {
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			f := load(t, name)
			files, err := Generate(f)
			if err != nil {
				t.Fatal(err)
			}
			checked := map[string]bool{}
			for _, n := range schema.GoPackageNames(f) {
				checked[n] = true
			}
			syn, err := parser.ParseFile(token.NewFileSet(), files[0].Name, files[0].Content, 0)
			if err != nil {
				t.Fatal(err)
			}
			var declared []string
			for _, d := range syn.Decls {
				switch d := d.(type) {
				case *ast.FuncDecl:
					if d.Recv == nil {
						declared = append(declared, d.Name.Name)
					}
				case *ast.GenDecl:
					for _, s := range d.Specs {
						switch s := s.(type) {
						case *ast.TypeSpec:
							declared = append(declared, s.Name.Name)
						case *ast.ValueSpec:
							for _, id := range s.Names {
								declared = append(declared, id.Name)
							}
						}
					}
				}
			}
			for _, n := range declared {
				if n != "_" && !checked[n] {
					t.Errorf("the generated code declares %s, which schema.GoPackageNames does not list", n)
				}
			}
		})
	}
}
