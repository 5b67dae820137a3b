// Package schema reads duplex schema files: Load parses (package syntax)
// and checks a file and returns its model, the File that the emitters in
// gen/ consume; Format is `duplex fmt`; Breaking compares two versions of
// a file by what travels on the wire (`duplex check -against`).
// docs/schema.md is the language reference.
//
// Every problem is reported as a Diagnostic, "file:line:col: message",
// collected in Diagnostics sorted by position, as many per run as can be
// found:
//
//	chat.duplex:12:11: unknown type "Usr" (did you mean "User"?)
//	chat.duplex:9:9: message "User" redeclared (first declared at chat.duplex:3:9)
//
// The model is complete when Load succeeds: every name is resolved, every
// reference points at its declaration, no two declarations clash in Go or
// TypeScript, and no message contains itself. GoName, SnakeCase,
// EnumConstName, ErrorTypeName, EventGoNames and GuardMethodName give the
// generators the very names the checker proved distinct.
//
// The package imports only the standard library.
package schema
