package runtime_test

import (
	"context"
	"fmt"
	"log"
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
	ln, err := runtime.Listen("tcp", "127.0.0.1:0")
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

// Interceptors wrap every call of a Router: here one refuses calls of
// sessions without a user with a typed error, and one logs each call's
// outcome. The first given is the outermost.
func ExampleRouter_Use() {
	r := runtime.NewRouter()
	r.Handle("whoami", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		user, _ := call.Session.Get("user")
		return fmt.Appendf(dst, `{"user":%q}`, user), nil
	})
	logCalls := func(next runtime.MethodFunc) runtime.MethodFunc {
		return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
			out, err := next(ctx, call, dst)
			fmt.Printf("%s args=%s code=%q\n", call.Name, call.Args, runtime.ErrorCode(err))
			return out, err
		}
	}
	requireUser := func(next runtime.MethodFunc) runtime.MethodFunc {
		return func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
			if _, ok := call.Session.Get("user"); !ok {
				return dst, &runtime.Error{Code: "unauthenticated", Message: "log in first"}
			}
			return next(ctx, call, dst)
		}
	}
	r.Use(logCalls, requireUser)

	srv, err := runtime.New(runtime.Options{
		Handler: r,
		Authorize: func(req *runtime.Request, s *runtime.Session) error {
			if u := req.Query().Get("user"); u != "" {
				s.Set("user", u)
			}
			return nil
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

	for _, query := range []string{"", "?user=ada"} {
		conn, _, _, err := ws.Dial(context.Background(), "ws://"+ln.Addr().String()+"/"+query)
		if err != nil {
			log.Fatal(err)
		}
		if err := wsutil.WriteClientText(conn, []byte(`{"id":1,"call":"whoami"}`)); err != nil {
			log.Fatal(err)
		}
		reply, err := wsutil.ReadServerText(conn)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(string(reply))
		conn.Close()
	}
	// Output:
	// whoami args={} code="unauthenticated"
	// {"id":1,"error":{"code":"unauthenticated","message":"log in first"}}
	// whoami args={} code=""
	// {"id":1,"result":{"user":"ada"}}
}
