// Package compiletest keeps the generators' first promise: a schema that
// schema.Check accepts compiles, as Go (go/types against the real runtime
// packages, then go vet's checks) and as strict TypeScript (one tsc
// --strict run over the whole batch, with the runtime's duplex.d.ts). Its test compiles the schemas of
// every fixture and fuzz corpus in the repository, a sweep that puts every
// hostile word (Go's keywords and predeclared identifiers, TypeScript's
// reserved words, what the TypeScript runtime exports and its Client's
// members, the identifiers generated code uses) in every place a name can
// stand, and a seeded batch of hostile schemas that combine them,
// differing only in case, very long, with deeply nested types and doc
// comments that try to end their comment. It has no code of its own.
package compiletest
