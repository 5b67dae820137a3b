package transport_test

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime/internal/wstest"
	"github.com/duplexrpc/duplex/runtime/transport"
)

// Server.Traffic counts the frames' bytes as they cross the sockets and
// the data messages, on both paths and in both read modes, and keeps the
// counts of connections that ended.
func TestTraffic(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			forModes(t, func(t *testing.T, m readMode) {
				e := start(t, p, transport.Options{DisablePoller: m.disablePoller})
				if got := e.srv.Traffic(); got != (transport.Traffic{}) {
					t.Fatalf("Traffic() before any connection = %+v", got)
				}
				for range 2 { // the second connection adds to the first's counts
					c := wstest.Dial(t, e.addr)
					for range 3 {
						c.Text("hello") // 2 + 4 (mask) + 5 bytes; echoed in 2 + 5
						c.ExpectText("hello")
					}
					big := bytes.Repeat([]byte{7}, 200) // 2 + 2 + 4 + 200; echoed in 2 + 2 + 200
					c.WriteFrame(ws.OpBinary, big)
					if f := c.NextData(); !bytes.Equal(f.Payload, big) {
						t.Fatalf("echo of 200 bytes: %d bytes", len(f.Payload))
					}
					c.SendClose(1000, "") // 2 + 4 + 2; answered in 2 + 2
					c.ExpectCloseCode(1000)
					e.rec.NextClose(t)
				}
				// Dial syncs with a ping "sync" (2 + 4 + 4), answered in 2 + 4.
				want := transport.Traffic{
					BytesIn:     2 * (10 + 3*11 + 208 + 8),
					BytesOut:    2 * (6 + 3*7 + 204 + 4),
					MessagesIn:  2 * 4,
					MessagesOut: 2 * 4,
				}
				if got := e.srv.Traffic(); got != want {
					t.Errorf("Traffic() = %+v, want %+v", got, want)
				}
			})
		})
	}
}
