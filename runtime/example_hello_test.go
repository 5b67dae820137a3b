package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/duplexrpc/duplex/runtime"
)

// A server that checks the auth token a client sends in every hello
// (docs/protocol.md, "params"): a bad one closes the connection with
// CloseHelloRefused, and the client may come back with a fresh one.
func ExampleOptions_authorizeHello() {
	srv, err := runtime.New(runtime.Options{
		Handler: runtime.NewRouter(),
		AuthorizeHello: func(c *runtime.Conn, s *runtime.Session, params []byte) error {
			var p struct{ Token string }
			if err := json.Unmarshal(params, &p); err != nil {
				return err // no params, or not the app's
			}
			switch p.Token {
			case "ann-secret":
				s.Set("user", "ann")
				return nil
			case "mallory":
				return &runtime.HelloError{Code: 4003, Reason: "banned"} // 4000-4099: do not come back
			}
			return errors.New("expired token") // CloseHelloRefused, "unauthorized"
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := runtime.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	for _, token := range []string{"expired", "mallory", "ann-secret"} {
		conn, _, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
		if err != nil {
			log.Fatal(err)
		}
		hello := fmt.Sprintf(`{"hello":{"params":{"token":%q}}}`, token)
		if err := wsutil.WriteClientText(conn, []byte(hello)); err != nil {
			log.Fatal(err)
		}
		reply, err := wsutil.ReadServerText(conn)
		var closed wsutil.ClosedError
		switch {
		case errors.As(err, &closed):
			fmt.Println(token+":", closed.Code, closed.Reason)
		case err != nil:
			log.Fatal(err)
		default:
			var w struct{ Welcome *struct{ Session string } }
			if err := json.Unmarshal(reply, &w); err != nil || w.Welcome == nil {
				log.Fatalf("%s: want a welcome, got %s", token, reply)
			}
			fmt.Println(token + ": welcome")
		}
		conn.Close()
	}
	// Output:
	// expired: 4401 unauthorized
	// mallory: 4003 banned
	// ann-secret: welcome
}
