package schema

import "github.com/duplexrpc/duplex/schema/syntax"

// Load parses and checks a schema file. filename is used in positions and
// kept in File.Path; give it as the user wrote it (Base keeps generated
// headers free of absolute paths). On any problem it returns Diagnostics:
// the syntax errors if there are any (then nothing is checked), else every
// rule the file breaks.
func Load(filename string, src []byte) (*File, error) {
	f, err := syntax.Parse(filename, src)
	if err != nil {
		return nil, fromSyntax(err)
	}
	return Check(f)
}

// Format returns src formatted the canonical way (see syntax.Print). Only
// syntax errors stop it, as Diagnostics; the rules Check enforces do not.
func Format(filename string, src []byte) ([]byte, error) {
	f, err := syntax.Parse(filename, src)
	if err != nil {
		return nil, fromSyntax(err)
	}
	return syntax.Print(f), nil
}
