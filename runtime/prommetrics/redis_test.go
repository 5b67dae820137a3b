package prommetrics_test

import (
	"testing"
	"time"

	"github.com/duplexrpc/duplex/internal/redistest"
	"github.com/duplexrpc/duplex/runtime"
	"github.com/duplexrpc/duplex/runtime/redisengine"
)

// On the Redis engine, duplex_engine_ready follows Redis down and back
// up, and a publish Redis cannot take is counted as an error and timed.
func TestRedisEngine(t *testing.T) {
	rs := redistest.Start(t)
	eng, err := redisengine.New(rs.URL(), redisengine.Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, greeter(), runtime.Options{Engine: eng})
	ready := func(want float64) func(scrape) bool {
		return func(s scrape) bool { v, ok := s.get("duplex_engine_ready"); return ok && v == want }
	}
	e.waitFor("ready", ready(1))
	if err := e.srv.Publish(t.Context(), "room", "said", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	s := e.scrape()
	s.want(t, 1, "duplex_engine_publish_duration_seconds")
	s.want(t, 0, "duplex_engine_publish_errors_total")

	rs.Stop()
	e.waitFor("unready with Redis down", ready(0))
	if err := e.srv.Publish(t.Context(), "room", "said", []byte(`{}`)); err == nil {
		t.Fatal("Publish with Redis down: no error")
	}
	s = e.scrape()
	s.want(t, 2, "duplex_engine_publish_duration_seconds")
	s.want(t, 1, "duplex_engine_publish_errors_total")

	rs.Restart()
	e.waitFor("ready with Redis back", ready(1))
}
