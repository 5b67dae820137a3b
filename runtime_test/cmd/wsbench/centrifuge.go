//go:build linux

package main

// The peer of the cluster broadcast figure: a github.com/centrifugal/
// centrifuge node (the library under Centrifugo) with its Redis broker,
// every client subscribed to one channel. A broadcast publishes the tick's
// data on it from one node, kept in the channel's history (1024
// publications, 10 minutes: what duplex's engine keeps per topic, and what
// centrifuge needs to recover a client's missed messages); every node
// delivers it to its subscribers. Clients speak its JSON
// protocol (proto "centrifuge"): a connect and a subscribe command in one
// frame, then pushes {"push":{"channel":"tick","pub":{"data":{…}}}}, from
// which the broadcast client reads round and sent as from duplex's event.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/centrifugal/centrifuge"
)

const (
	kindCentrifuge    = "centrifuge"
	centrifugeChannel = "tick"
)

// centrifugeSubscribe is what a client sends after its upgrade.
var centrifugeSubscribe = []byte(`{"id":1,"connect":{}}` + "\n" + `{"id":2,"subscribe":{"channel":"` + centrifugeChannel + `"}}`)

type centrifugeServer struct {
	node *centrifuge.Node
	rpc  bool
}

// newCentrifuge is a node on the memory broker, or with redisURL on
// Redis; every connection is accepted as one user and may subscribe, or
// call the RPC "echo" (kindCentrifugeRPC, peers.go). With rpc the node
// keeps centrifuge's default app-level pings, which its Go client
// answers; without, it sends none (the lean client answers WebSocket
// pings only).
func newCentrifuge(redisURL string, rpc bool) (*centrifugeServer, error) {
	node, err := centrifuge.New(centrifuge.Config{})
	if err != nil {
		return nil, err
	}
	node.OnConnecting(func(ctx context.Context, _ centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
		return centrifuge.ConnectReply{Credentials: &centrifuge.Credentials{UserID: "bench"}}, nil
	})
	node.OnConnect(func(c *centrifuge.Client) {
		c.OnSubscribe(func(_ centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
			cb(centrifuge.SubscribeReply{}, nil)
		})
		c.OnRPC(centrifugeEcho)
	})
	if redisURL != "" {
		shard, err := centrifuge.NewRedisShard(node, centrifuge.RedisShardConfig{Address: redisURL})
		if err != nil {
			return nil, fmt.Errorf("centrifuge: redis shard: %w", err)
		}
		broker, err := centrifuge.NewRedisBroker(node, centrifuge.RedisBrokerConfig{Shards: []*centrifuge.RedisShard{shard}})
		if err != nil {
			return nil, fmt.Errorf("centrifuge: redis broker: %w", err)
		}
		node.SetBroker(broker)
	}
	if err := node.Run(); err != nil {
		return nil, err
	}
	return &centrifugeServer{node: node, rpc: rpc}, nil
}

func (s *centrifugeServer) serve(ln net.Listener) error {
	cfg := centrifuge.WebsocketConfig{
		CheckOrigin: func(*http.Request) bool { return true },
		// The clients answer WebSocket pings only: no app-level pings.
		PingPongConfig: centrifuge.PingPongConfig{PingInterval: -1, PongTimeout: -1},
	}
	if s.rpc {
		cfg.PingPongConfig = centrifuge.PingPongConfig{}
	}
	ws := centrifuge.NewWebsocketHandler(s.node, cfg)
	hs := &http.Server{Handler: ws, ReadHeaderTimeout: 10 * time.Second}
	return hs.Serve(ln)
}

func (s *centrifugeServer) conns() int { return s.node.Hub().NumClients() }

func (s *centrifugeServer) broadcast(round int32) (int64, error) {
	sent := time.Now().UnixNano()
	data := make([]byte, 0, 64)
	data = append(data, `{"round":`...)
	data = strconv.AppendInt(data, int64(round), 10)
	data = append(data, `,"sent":"`...)
	data = strconv.AppendInt(data, sent, 10)
	data = append(data, `"}`...)
	_, err := s.node.Publish(centrifugeChannel, data, centrifuge.WithHistory(1024, 10*time.Minute))
	return sent, err
}
