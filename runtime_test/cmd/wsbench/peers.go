//go:build linux

package main

// The peers of figure a beyond the raw WebSocket libraries, each loaded by
// its own native client, on the same workload (-conns connections, -window
// calls in flight each, -payload bytes of text echoed):
//
//	nbio-echo       github.com/lesismal/nbio's nbhttp/websocket with its
//	                defaults (a poller and a pool, like duplex), raw echo;
//	                the lean client of every raw echo server
//	centrifuge-rpc  github.com/centrifugal/centrifuge's RPC (an OnRPC
//	                handler decoding {"text":…} and encoding it back), its
//	                JSON protocol, called by github.com/centrifugal/
//	                centrifuge-go clients
//	socketio        Socket.IO 4 acknowledgements: runtime_test/bench/
//	                socketio/server.mjs on Node, loaded by client.mjs
//	                (socket.io-client, websocket transport only); both
//	                speak the children's JSON lines (proc.go)

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/centrifugal/centrifuge"
	centrifugego "github.com/centrifugal/centrifuge-go"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	nbws "github.com/lesismal/nbio/nbhttp/websocket"
)

// Peer kinds.
const (
	kindNbioEcho      = "nbio-echo"
	kindCentrifugeRPC = "centrifuge-rpc"
	kindSocketIO      = "socketio"
)

// ---- nbio ----

// nbioServer is nbio's HTTP engine with its websocket upgrader, every
// setting its default, echoing each message.
type nbioServer struct{ n atomic.Int64 }

func (s *nbioServer) serve(ln net.Listener) error {
	logging.SetLevel(logging.LevelNone)
	u := nbws.NewUpgrader()
	u.OnOpen(func(*nbws.Conn) { s.n.Add(1) })
	u.OnClose(func(*nbws.Conn, error) { s.n.Add(-1) })
	u.OnMessage(func(c *nbws.Conn, mt nbws.MessageType, data []byte) { _ = c.WriteMessage(mt, data) })
	e := nbhttp.NewEngine(nbhttp.Config{
		Network: "tcp",
		Addrs:   []string{ln.Addr().String()},
		// The engine takes the listener the harness made.
		Listen: func(string, string) (net.Listener, error) { return ln, nil },
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = u.Upgrade(w, r, nil) // a failed upgrade has been answered
		}),
	})
	if err := e.Start(); err != nil {
		return fmt.Errorf("nbio: start engine: %w", err)
	}
	// The engine's pollers serve until the process exits.
	select {}
}

func (s *nbioServer) conns() int                     { return int(s.n.Load()) }
func (s *nbioServer) broadcast(int32) (int64, error) { return 0, errNoBroadcast }

// ---- centrifuge RPC ----

// echoArgs is the bench schema's echo arguments and result.
type echoArgs struct {
	Text string `json:"text"`
}

// centrifugeEcho is the RPC handler: decode, encode, as duplex's typed
// echo does.
func centrifugeEcho(e centrifuge.RPCEvent, cb centrifuge.RPCCallback) {
	var a echoArgs
	if err := json.Unmarshal(e.Data, &a); err != nil {
		cb(centrifuge.RPCReply{}, centrifuge.ErrorBadRequest)
		return
	}
	b, err := json.Marshal(a)
	if err != nil {
		cb(centrifuge.RPCReply{}, centrifuge.ErrorInternal)
		return
	}
	cb(centrifuge.RPCReply{Data: b}, nil)
}

// clientLoadCentrifuge is the load task against centrifuge-rpc: cc.conns
// centrifuge-go clients (JSON protocol), each connected, then cc.window
// goroutines per client calling RPC "echo" one after the other.
func clientLoadCentrifuge(cc clientConfig, ds *dialers, out *childOut, cmds <-chan command) error {
	clients := make([]*centrifugego.Client, cc.conns)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.Close()
			}
		}
	}()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	fail := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if first == nil {
			first = err
		}
	}
	// A disconnect after the connect fails the run: the client would
	// reconnect and the calls wait for it.
	var dropped atomic.Pointer[error]
	for range min(cc.dialConc, cc.conns) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cc.conns {
					return
				}
				d := ds.pick(i)
				c := centrifugego.NewJsonClient("ws://"+cc.addr+"/connection/websocket", centrifugego.Config{
					NetDialContext:   d.DialContext,
					HandshakeTimeout: cc.ioTimeout,
					ReadTimeout:      cc.ioTimeout,
					WriteTimeout:     cc.ioTimeout,
				})
				clients[i] = c
				connected := make(chan struct{})
				var once sync.Once
				c.OnConnected(func(centrifugego.ConnectedEvent) { once.Do(func() { close(connected) }) })
				c.OnDisconnected(func(e centrifugego.DisconnectedEvent) {
					err := fmt.Errorf("connection %d: disconnected: %d %s", i+1, e.Code, e.Reason)
					dropped.CompareAndSwap(nil, &err)
				})
				if err := c.Connect(); err != nil {
					fail(fmt.Errorf("connection %d: connect: %w", i+1, err))
					return
				}
				select {
				case <-connected:
				case <-time.After(cc.ioTimeout):
					fail(fmt.Errorf("connection %d: not connected within %v", i+1, cc.ioTimeout))
					return
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	out.emit(clientReady{Ready: true, Conns: len(clients)})
	if err := waitStart(cmds); err != nil {
		return err
	}
	data, err := json.Marshal(echoArgs{Text: payloadText(cc.payload)})
	if err != nil {
		return err
	}
	start := time.Now()
	warmEnd := start.Add(cc.warmup)
	end := warmEnd.Add(cc.duration)
	n := len(clients) * cc.window
	hists := make([]*hist, n)
	counts := make([]int64, n)
	for k := range n {
		hists[k] = &hist{}
		c := clients[k/cc.window]
		wg.Go(func() {
			for {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), cc.ioTimeout)
				res, err := c.RPC(ctx, "echo", data)
				cancel()
				now := time.Now()
				if err != nil {
					fail(fmt.Errorf("connection %d: rpc: %w", k/cc.window+1, err))
					return
				}
				if string(res.Data) != string(data) {
					fail(fmt.Errorf("connection %d: rpc answered %.200q, sent %q", k/cc.window+1, res.Data, data))
					return
				}
				if !now.Before(warmEnd) && now.Before(end) {
					counts[k]++
					hists[k].record(now.Sub(t0))
				}
			}
		})
	}
	wg.Wait()
	if first != nil {
		return first
	}
	if p := dropped.Load(); p != nil {
		return *p
	}
	total := &hist{}
	var calls int64
	for k, h := range hists {
		total.merge(h)
		calls += counts[k]
	}
	out.emit(loadResult{Ops: calls, Seconds: cc.duration.Seconds(), Hist: total.wire()})
	return nil
}

// ---- Socket.IO ----

// socketIODir finds runtime_test/bench/socketio from the working
// directory or one of its parents (go run from runtime_test, go test from
// cmd/wsbench), with its npm packages installed.
func socketIODir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		d := filepath.Join(dir, "bench", "socketio")
		if _, err := os.Stat(filepath.Join(d, "server.mjs")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "node_modules", "socket.io")); err != nil {
				return "", fmt.Errorf("socketio: no npm packages in %s: run npm ci there (scripts/test.sh's install step does)", d)
			}
			return d, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("socketio: no bench/socketio/server.mjs in the working directory or above it: run from runtime_test")
		}
		dir = parent
	}
}

// startNode starts node on script in the Socket.IO peer's directory, as
// a child speaking JSON lines; --expose-gc lets the server answer "gc".
func startNode(name, script string, args []string) (*child, error) {
	dir, err := socketIODir()
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("socketio: %w", err)
	}
	cmd := exec.Command(node, append([]string{"--expose-gc", script}, args...)...)
	cmd.Dir = dir
	return startCmd(name, cmd)
}
