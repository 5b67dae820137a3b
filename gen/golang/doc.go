// Package golang generates the Go server side of a duplex schema: one file,
// chat_duplex.go for chat.duplex, in the schema's package, holding
//
//   - a struct per message, per command's inline arguments (LoginArgs) and
//     results (LoginResult) and per event (SaidEvent), each with
//     AppendJSON/DecodeJSON methods generated field by field on package
//     runtime/wire (no reflection) and MarshalJSON/UnmarshalJSON wrappers
//     for encoding/json;
//   - a string type per enum with its constants and Valid;
//   - a typed error per schema error (NameTakenError), which implements
//     runtime.WireError with the error's snake_case code;
//   - the Handler interface (a method per command and per guard),
//     UnimplementedHandler to embed, and Register, which adds each command
//     to a runtime.Router through a typed adapter of the runtime;
//   - PushX, PushXTo and BroadcastX per event, one line each over
//     runtime.PushEvent, PushEventTo and BroadcastEvent.
//
// GenerateClient writes the typed Go client beside it (duplex gen
// -go-client): chat_duplex_client.go, in the same package, whose Client
// has a method per command and On<Event> per event over the client
// runtime in clients/go (package duplexclient), using the types above.
//
// The file holds only what depends on the schema. What is the same for
// every command is in the runtime (runtime/method.go): runtime.Method and
// its variants MethodNoResult, MethodNoArgs and MethodNoArgsNoResult,
// picked by the shape of the handler method, decode the arguments, run the
// guards, check the handler's error and encode its result; Register only
// names per command the handler method, the codes it declares
// (runtime.Command.Errors) and its guards (runtime.Command.Guards, a
// closure per guard over the Handler's Guard method and the guard's
// error).
//
// A Handler method takes its arguments and returns its result by value
// (Login(ctx, s, args LoginArgs) (LoginResult, error)): the adapters
// decode and encode them in a pooled slot, so that a call allocates only
// what its arguments hold, and the handler owns its copy, to keep as long
// as it likes.
//
// # Go types
//
// int64 and uint64 are int64 and uint64 (decimal strings on the wire),
// bytes is []byte, timestamp is time.Time, uuid is uuid.UUID
// (github.com/google/uuid), a message field is the message struct itself.
// An optional field of a scalar, enum or message type is a pointer, nil
// when absent. An optional list, map or bytes field stays a slice or map:
// nil means absent (and null reads as nil), while a non-nil empty value is
// sent as [] or {} or "". A required nil slice or map is sent as [] or {}.
//
// # JSON
//
// DecodeJSON is strict and names the path of what is wrong
// (args.users[2]: expected string, got number): required fields must be
// present and not null, JSON types must match, integers must fit, int64
// and uint64 must be decimal strings, enum values must be known, a known
// key may appear once and map keys once each. Unknown keys are skipped, so
// that a newer client may send fields an older server does not know.
// AppendJSON leaves out absent optional fields, writes map keys sorted (the
// same bytes every time) and fails for a float that is NaN or infinite or
// an enum value that is not one of its constants, the zero value "" among
// them. A message that contains itself (through an optional field, a list
// or a map: the schema refuses other recursion) counts the levels of its
// recursion as it encodes, and fails past wire.MaxDepth, which no decoder
// reads: a value with a cycle is an error, not endless recursion.
//
// # Errors
//
// A handler's error reaches the client with its code and message when it
// implements runtime.WireError with one of the codes the command declares,
// one of its guards' codes, or one of the runtime's own codes (bad_request,
// unimplemented, internal, canceled, overloaded). Any other wire error code
// is a bug in the handler: runtime.Method hides it behind "internal", like
// an error without a code, and the runtime reports it to Hooks.OnError. A guard that refuses is answered with its error and the
// message "refused by guard <name>".
package golang
