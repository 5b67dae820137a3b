package runtime_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/duplexrpc/duplex/runtime"
)

// An echo server on a listener, and a client talking to it.
func ExampleNew() {
	srv, err := runtime.New(runtime.Options{
		Handler: runtime.HandlerFunc(func(c *runtime.Conn, typ runtime.MessageType, data []byte) {
			_ = c.WriteMessage(typ, data) // data is only valid during the call; WriteMessage copies it
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	// A client, here gobwas/ws's.
	conn, _, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if err := wsutil.WriteClientText(conn, []byte("hello")); err != nil {
		log.Fatal(err)
	}
	reply, err := wsutil.ReadServerText(conn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(reply))
	// Output: hello
}

// The Server is also an http.Handler, for a mux or TLS through http.Server.
func ExampleServer_ServeHTTP() {
	srv, err := runtime.New(runtime.Options{
		Handler: runtime.HandlerFunc(func(c *runtime.Conn, typ runtime.MessageType, data []byte) {
			_ = c.WriteMessage(typ, data)
		}),
		Authorize: func(r *runtime.Request, s *runtime.Session) error {
			if r.Query().Get("user") == "" {
				return &runtime.HTTPError{Status: http.StatusUnauthorized, Reason: "who are you?"}
			}
			s.Set("user", r.Query().Get("user"))
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	mux := http.NewServeMux()
	mux.Handle("/ws", srv)
	hs := srv.HTTPServer(":8080") // ReadHeaderTimeout = HandshakeTimeout
	hs.Handler = mux
	_ = hs // hs.ListenAndServe(); on exit: hs.Shutdown(ctx), srv.Shutdown(ctx)
}
