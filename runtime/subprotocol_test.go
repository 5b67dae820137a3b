package runtime_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/internal/wstest"
)

// dialProtocols upgrades a connection to e with gobwas/ws's Dialer offering
// protocols, and returns the subprotocol the server chose, or the status
// of a refused upgrade (ws.StatusError).
func dialProtocols(t *testing.T, e *env, protocols ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := ws.Dialer{Protocols: protocols}
	nc, _, hs, err := d.Dial(ctx, "ws://"+e.addr+"/")
	if err != nil {
		return "", err
	}
	if got := e.rec.NextOpen(t).Subprotocol(); got != hs.Protocol {
		t.Errorf("Conn.Subprotocol() = %q, the client was answered %q", got, hs.Protocol)
	}
	_, _ = nc.Write(wstest.ClientFrame(true, 0, ws.OpClose, wstest.CloseBody(1000, "")))
	_ = nc.Close()
	return hs.Protocol, nil
}

// A server whose Handler is a Router speaks duplex.v1+json without
// listing it: New adds SubprotocolV1 to Options.Subprotocols.
func TestRouterNegotiatesSubprotocolV1(t *testing.T) {
	for _, p := range paths {
		t.Run(p.String(), func(t *testing.T) {
			e := start(t, p, runtime.Options{Handler: runtime.NewRouter()})
			for _, offer := range [][]string{
				{runtime.SubprotocolV1},
				{"chat.v9", runtime.SubprotocolV1},
			} {
				got, err := dialProtocols(t, e, offer...)
				if err != nil || got != runtime.SubprotocolV1 {
					t.Errorf("offer %q: subprotocol %q, error %v; want %q", offer, got, err, runtime.SubprotocolV1)
				}
			}
			// A client that offers no subprotocol, or none spoken here, is
			// served without one (RequireSubprotocol is not set).
			for _, offer := range [][]string{nil, {"chat.v9"}} {
				got, err := dialProtocols(t, e, offer...)
				if err != nil || got != "" {
					t.Errorf("offer %q: subprotocol %q, error %v; want none", offer, got, err)
				}
			}
		})
	}
}

// With RequireSubprotocol, a Router server refuses clients that do not
// offer duplex.v1+json with 400, and serves those that do.
func TestRouterRequireSubprotocol(t *testing.T) {
	e := start(t, viaListener, runtime.Options{Handler: runtime.NewRouter(), RequireSubprotocol: true})
	if got, err := dialProtocols(t, e, runtime.SubprotocolV1); err != nil || got != runtime.SubprotocolV1 {
		t.Errorf("offer %q: subprotocol %q, error %v", runtime.SubprotocolV1, got, err)
	}
	for _, offer := range [][]string{nil, {"chat.v9"}} {
		_, err := dialProtocols(t, e, offer...)
		var se ws.StatusError
		if !errors.As(err, &se) || int(se) != http.StatusBadRequest {
			t.Errorf("offer %q: error %v, want status 400", offer, err)
		}
		e.rec.NextHandshakeErr(t)
	}
}

// The subprotocols the user lists keep their order, SubprotocolV1 comes
// after them, and the caller's slice is not written to.
func TestRouterSubprotocolsKeepTheirOrder(t *testing.T) {
	list := make([]string, 1, 4)
	list[0] = "chat.v2"
	e := start(t, viaListener, runtime.Options{Handler: runtime.NewRouter(), Subprotocols: list})
	if got, err := dialProtocols(t, e, runtime.SubprotocolV1, "chat.v2"); err != nil || got != "chat.v2" {
		t.Errorf("subprotocol %q, error %v; want chat.v2, the server's first choice", got, err)
	}
	if got, err := dialProtocols(t, e, runtime.SubprotocolV1); err != nil || got != runtime.SubprotocolV1 {
		t.Errorf("subprotocol %q, error %v; want %q", got, err, runtime.SubprotocolV1)
	}
	if full := list[:cap(list)]; !slices.Equal(full, []string{"chat.v2", "", "", ""}) {
		t.Errorf("the caller's Subprotocols array was written to: %q", full)
	}
}

// A raw Handler gets no subprotocol it did not list: duplex.v1+json is
// not answered for it.
func TestHandlerFuncGetsNoImplicitSubprotocol(t *testing.T) {
	e := start(t, viaListener, runtime.Options{})
	if got, err := dialProtocols(t, e, runtime.SubprotocolV1); err != nil || got != "" {
		t.Errorf("subprotocol %q, error %v; want none", got, err)
	}
}
