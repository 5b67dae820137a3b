// Package runtime is duplex's server: typed two-way RPC (wire protocol v1,
// docs/protocol.md) over WebSocket connections, with sessions that outlive
// their connections. It is the package applications and generated code
// use.
//
// # Layers
//
// The WebSocket connection itself (RFC 6455: upgrade, frames, write queue,
// close handshake, health checks, the epoll read path and the worker pool)
// is package runtime/transport, which knows nothing of RPC. This package
// builds on transport's contract: Server.accept is the transport's
// Options.Accept and creates each connection's Session (running
// Authorize) and its per-connection state, a transport.ConnHandler that
// the connection keeps; messages go to Options.Handler (a Router for
// RPC, or any Handler for raw messages); an RPC call runs as a
// transport.Task (Conn.Schedule), on the worker that read it once that
// worker stops reading. Conn, CloseError, the close codes and the other
// transport types used in this package's API are aliases of transport's,
// so that one import serves an application.
//
// # Serving
//
// New builds a Server from Options, the transport's options and the
// session layer's in one flat struct. Serve upgrades connections from a
// net.Listener without net/http, and the Server is also an http.Handler
// for any mux and for TLS through http.Server. Shutdown and Restart end it
// gracefully with close 1001 or 1012.
//
// # RPC
//
// A Router decodes call envelopes, runs the registered MethodFunc (which
// generated code makes with Method, the typed adapter over a handler
// method) with a context that a cancel envelope or the
// connection's end cancels, and answers with the result or a typed error
// (WireError). Session.Push and Server.Broadcast send events, numbered per
// session and kept for a client that resumes.
//
// # Sessions
//
// Each connection has a Session (SessionOf) with string attributes that
// outlives it by ResumeWindow, for a hello with a resume token or for
// Resume, kept in a Store (in-memory by default; the interface is ready
// for a shared store). Hooks observe every lifecycle event, OnSessionEnd
// included; logging goes through Options.Logger (log/slog).
//
// Every method of Server, Conn and Session is safe for concurrent use.
package runtime
