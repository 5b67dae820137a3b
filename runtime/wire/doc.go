// Package wire reads and writes the JSON of duplex wire protocol v1
// (docs/protocol.md, docs/schema.md) for the runtime and for generated code.
//
// Reading is strict and names what is wrong: a Decoder validates as it
// goes and its errors carry the path of the value, as in
// `args.users[2]: expected string, got number`. 64-bit integers are decimal
// strings on the wire (JavaScript numbers lose precision past 2^53), bytes
// are standard base64, timestamps RFC 3339 in UTC. Writing appends to a
// byte slice and allocates nothing of its own.
//
// Neither reads nor writes use reflection.
package wire
