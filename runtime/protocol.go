package runtime

// SubprotocolV1 is the WebSocket subprotocol of wire protocol v1
// (docs/protocol.md), which the generated TypeScript client asks for. New
// adds it to Options.Subprotocols when Options.Handler is a *Router.
const SubprotocolV1 = "duplex.v1+json"
