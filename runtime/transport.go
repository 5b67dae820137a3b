package runtime

import "github.com/duplexrpc/duplex/runtime/transport"

// The WebSocket connection is package transport's; these names keep the
// user-facing API in one package.

type (
	// Conn is one WebSocket connection; see transport.Conn. Its session is
	// SessionOf(c).
	Conn = transport.Conn
	// MessageType is the type of a data message (RFC 6455 §5.6).
	MessageType = transport.MessageType
	// Request is the upgrade request as Authorize and the hooks see it.
	Request = transport.Request
	// HTTPError refuses an upgrade with an HTTP status.
	HTTPError = transport.HTTPError
	// CloseError describes how a connection ended.
	CloseError = transport.CloseError
	// Initiator tells who started a close.
	Initiator = transport.Initiator
	// CompressionOptions configure permessage-deflate.
	CompressionOptions = transport.CompressionOptions
	// Health is the result of one health check.
	Health = transport.Health
	// Traffic is what a server's connections read and wrote; see
	// Server.Traffic.
	Traffic = transport.Traffic
	// PanicError is reported to Hooks.OnError when a Handler or a method
	// panics.
	PanicError = transport.PanicError
)

// Message types.
const (
	TextMessage   = transport.TextMessage
	BinaryMessage = transport.BinaryMessage
)

// Close codes; see transport.CloseNormal.
const (
	CloseNormal          = transport.CloseNormal
	CloseGoingAway       = transport.CloseGoingAway
	CloseProtocolError   = transport.CloseProtocolError
	CloseUnsupportedData = transport.CloseUnsupportedData
	CloseNoStatus        = transport.CloseNoStatus
	CloseAbnormal        = transport.CloseAbnormal
	CloseInvalidPayload  = transport.CloseInvalidPayload
	ClosePolicy          = transport.ClosePolicy
	CloseTooBig          = transport.CloseTooBig
	CloseMandatoryExt    = transport.CloseMandatoryExt
	CloseInternalError   = transport.CloseInternalError
	CloseServiceRestart  = transport.CloseServiceRestart
	CloseTryAgainLater   = transport.CloseTryAgainLater
	CloseTLSHandshake    = transport.CloseTLSHandshake
)

// Who started a close.
const (
	ClosedByPeer   = transport.ClosedByPeer
	ClosedByServer = transport.ClosedByServer
)

// Defaults of the transport's options; see transport.DefaultMaxMessageSize.
const (
	DefaultMaxMessageSize   = transport.DefaultMaxMessageSize
	DefaultMaxQueuedBytes   = transport.DefaultMaxQueuedBytes
	DefaultHandshakeTimeout = transport.DefaultHandshakeTimeout
	DefaultCloseTimeout     = transport.DefaultCloseTimeout
	DefaultWriteTimeout     = transport.DefaultWriteTimeout
	DefaultPingInterval     = transport.DefaultPingInterval
	DefaultPingTimeout      = transport.DefaultPingTimeout
	DefaultHTTPIdleTimeout  = transport.DefaultHTTPIdleTimeout
)

var (
	// ErrClosed is returned by writes on a connection whose close has
	// begun, and by pushes to a session that has ended.
	ErrClosed = transport.ErrClosed
	// ErrSlowConsumer is returned by a write that found the connection's
	// outgoing queue full; the connection is being closed with 1008.
	ErrSlowConsumer = transport.ErrSlowConsumer
	// ErrServerClosed is returned by Serve after Shutdown or Restart,
	// and is the cause of the 503 refusal of upgrades meanwhile.
	ErrServerClosed = transport.ErrServerClosed
	// ErrBadHandshake, ErrOriginNotAllowed and ErrConnectionLimit are
	// the causes (errors.Is) of the transport's refusals of upgrades, as
	// Hooks.OnHandshakeError sees them; see transport.ErrBadHandshake.
	ErrBadHandshake     = transport.ErrBadHandshake
	ErrOriginNotAllowed = transport.ErrOriginNotAllowed
	ErrConnectionLimit  = transport.ErrConnectionLimit
)
