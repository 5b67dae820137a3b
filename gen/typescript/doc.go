// Package typescript generates the browser side of a duplex schema: for
// chat.duplex,
//
//   - chat.duplex.ts: the types and the client, for TypeScript projects and
//     bundlers;
//   - chat.duplex.js and chat.duplex.d.ts: the same module as plain
//     JavaScript (ES2020) and its declarations, so that a browser loads it
//     as a native ES module with no build step, and TypeScript still sees
//     every type;
//   - duplex.ts, duplex.js and duplex.d.ts: the client runtime (package
//     github.com/duplexrpc/duplex/clients/ts) in the same three views,
//     which the generated module imports as "./duplex.js": a browser loads
//     duplex.js, while tsc resolves the import to duplex.ts and compiles
//     it with the client, so that a Node project built with an outDir
//     finds duplex.js there.
//
// The three views of the schema are printed by one generator from the
// checked model (no TypeScript compiler is involved at generation time);
// the tests compile every golden .ts and .d.ts with tsc --strict, check
// that the .ts and the .d.ts declare identical types, and that the .js is
// the .ts with its types stripped.
//
// # TypeScript types
//
// A message is an interface (optional fields are `name?: T`), an enum a
// union of string literals plus a const object of its values, a list T[],
// a map Record<string, T>. int32, uint32 and float64 are number; int64 and
// uint64 are bigint (decimal strings on the wire); bytes is Uint8Array
// (standard base64); timestamp is Date (RFC 3339; a Date keeps
// milliseconds); uuid is string. Only values whose type needs it are
// converted: arguments by the runtime's JSON encoder (bigint, Uint8Array,
// Date), results and events by decoders generated for exactly the fields
// that hold an int64, uint64, bytes or timestamp, however deep.
//
// A command's inline arguments and results are the interfaces
// <Command>Args and <Command>Result, an event's data <Event>Event, named
// as in Go (schema.GoName rules). Each schema error is a class
// <Name>Error extending DuplexError (a name already ending in Error is kept),
// with a type guard is<Name>. The client is <Package>Client, extending the
// runtime's Client with one method per command; its events map is
// <Package>Events. The client's constructor tells the runtime the event
// decoders, the error classes and the wire names of the @idempotent
// commands, whose calls the runtime sends again after a reconnect instead
// of rejecting them as "disconnected"; everything else about connections
// (states, reconnect, resume, heartbeat) is the runtime's, configured
// through duplex.ClientOptions.
//
// schema.Check refuses, with file:line:col errors, schemas whose TypeScript
// names would collide: two declarations with one generated name, a
// declaration named like a global the generated code uses (Date,
// Uint8Array, Record, Promise), or a command named like a member of the
// runtime's Client (constructor, connect, close, call, on).
package typescript
