package duplexclient_test

import (
	"context"
	"fmt"
	"net"
	"time"

	duplexclient "github.com/duplexrpc/duplex/clients/go"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/wire"
)

// greeting is a result read with package wire, as generated types read
// theirs.
type greeting struct{ Text string }

func (g *greeting) DecodeJSON(d *wire.Decoder) error {
	return d.Object(func(key []byte) error {
		if string(key) == "text" {
			var err error
			g.Text, err = d.String()
			return err
		}
		return d.Skip()
	})
}

// The runtime without generated code: a raw call and a raw event. A
// generated client (duplex gen -go-client) wraps these in typed methods.
func Example() {
	// A server with one command, which pushes an event and answers.
	r := runtime.NewRouter()
	r.Handle("hello", func(ctx context.Context, call *runtime.Call, dst []byte) ([]byte, error) {
		_ = call.Session.Push("waved", []byte(`{"by":"server"}`))
		return append(dst, `{"text":"hello, ada"}`...), nil
	})
	srv, _ := runtime.New(runtime.Options{Handler: r})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c := duplexclient.New("ws://"+ln.Addr().String()+"/", duplexclient.Options{})
	waved := make(chan string, 1)
	c.On("waved", func(data []byte) error {
		waved <- string(data)
		return nil
	})
	if err := c.Connect(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	var g greeting
	if err := c.Call(ctx, "hello", nil, &g); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.Text)
	fmt.Println(<-waved)
	// Output:
	// hello, ada
	// {"by":"server"}
}
