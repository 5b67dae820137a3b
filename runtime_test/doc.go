// Package runtimetest holds duplex's integration and conformance tests: real
// third-party WebSocket peers (gorilla/websocket, coder/websocket, headless
// Chromium) and hostile raw-frame clients, all talking over loopback TCP to
// real duplex servers started by the tests.
//
// It is a module of its own so that an application importing duplex never
// inherits these test-only dependencies.
package runtimetest
