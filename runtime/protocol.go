package runtime

// SubprotocolV1 is the WebSocket subprotocol of wire protocol v1
// (docs/protocol.md), which the generated TypeScript client asks for. A
// server with a Router lists it in Options.Subprotocols.
const SubprotocolV1 = "duplex.v1+json"
