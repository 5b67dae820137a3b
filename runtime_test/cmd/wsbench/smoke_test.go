//go:build linux

package main

// The CI smoke run of the harness: every figure with tiny numbers, in
// seconds, under -race too. The test binary is the harness: TestMain turns
// it into a server or client child when re-executed with WSBENCH_ROLE, so
// that the children are built (and race-checked) with the test. Speed
// targets are not asserted here: they are benchmarks' business, and the
// numbers of a smoke run mean nothing. What is checked is that every
// figure is produced, for every server, and is a sane number.

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(childMain(role, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	t0 := time.Now()
	if err := run(ctx, []string{"-smoke", "-json", "-only", "a,b,c,d,e,f,k"}, &out, &log); err != nil {
		t.Fatalf("wsbench -smoke: %v\n%s", err, log.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decode -json output: %v\n%s", err, out.String())
	}
	var table strings.Builder
	rep.print(&table)
	t.Logf("wsbench -smoke in %v:\n%s", time.Since(t0).Round(time.Millisecond), table.String())

	peers := []string{kindDuplexRPC, kindGorillaEcho, kindDuplexEcho, kindCoderEcho, kindNbioEcho, kindCentrifugeRPC, kindSocketIO}
	echo := []string{kindDuplexRPC, kindGorillaEcho, kindDuplexEcho, kindCoderEcho, kindNbioEcho}
	active := []string{kindDuplexRPC, kindGorillaEcho, kindNbioEcho, kindDuplexEcho}
	want := map[string][]string{
		"a-cpu": peers,
		"a":     peers,
		"b":     peers,
		"c":     echo,
		"d-cpu": echo,
		"d":     echo,
		"e-cpu": {kindDuplexRPC, kindGorillaHub, kindCoderHub},
		"e":     {kindDuplexRPC, kindGorillaHub, kindCoderHub},
		"f":     {"duplex-rpc call", "duplex-echo round trip", "gorilla-echo round trip"},
		"k":     active,
		"k-lat": active,
		"k-rss": active,
	}
	seen := map[string]bool{}
	for _, f := range rep.Figures {
		seen[f.ID] = true
		servers, ok := want[f.ID]
		if !ok {
			t.Errorf("unexpected figure %q", f.ID)
			continue
		}
		for _, s := range servers {
			v, ok := f.get(s)
			switch {
			case !ok:
				t.Errorf("figure %s: no value for %s", f.ID, s)
			case !finite(v.Value) || v.Value < 0:
				t.Errorf("figure %s: %s = %v", f.ID, s, v.Value)
			case v.Value == 0 && f.ID != "f" && !strings.HasSuffix(f.ID, "-cpu"):
				// Zero allocations is a fine answer; CPU is read in 10 ms
				// ticks, which a smoke run's handshakes may not fill.
				t.Errorf("figure %s: %s = 0", f.ID, s)
			}
			if (f.ID == "a" || f.ID == "a-cpu" || f.ID == "k") && v.Bottleneck != "server" && v.Bottleneck != "client" {
				t.Errorf("figure %s: %s: bottleneck %q", f.ID, s, v.Bottleneck)
			}
			for k, x := range v.Detail {
				if !finite(x) {
					t.Errorf("figure %s: %s: %s = %v", f.ID, s, k, x)
				}
			}
		}
		if f.Reference != "" && (!finite(f.Ratio) || f.Ratio <= 0) {
			t.Errorf("figure %s: ratio %s / %s = %v", f.ID, f.Duplex, f.Reference, f.Ratio)
		}
		if len(f.Targets) == 0 {
			t.Errorf("figure %s: no target", f.ID)
		}
	}
	for id := range want {
		if !seen[id] {
			t.Errorf("figure %s missing", id)
		}
	}
	// Sanity beyond "a number": an idle connection costs something and
	// less than a megabyte; a latency is under the run's length.
	if f := rep.figure("c"); f != nil {
		for _, v := range f.Values {
			if v.Value > 1<<20 {
				t.Errorf("figure c: %s: %.0f bytes per idle connection", v.Server, v.Value)
			}
		}
	}
	// Figure k's connections were paced: none called more often than
	// every -active-every (fewer calls than due is a slow machine's
	// answer, not a fault).
	if f := rep.figure("k-lat"); f != nil {
		for _, v := range f.Values {
			if due := v.Detail["calls_of_due"]; due <= 0 || due > 1.1 { // replies may bunch at the window's edges
				t.Errorf("figure k: %s made %.2f of the calls due", v.Server, due)
			}
		}
	}
	if f := rep.figure("b"); f != nil {
		for _, v := range f.Values {
			if time.Duration(v.Value) > time.Minute {
				t.Errorf("figure b: %s: p99 %v", v.Server, time.Duration(v.Value))
			}
		}
	}
}

// TestSmokeCluster runs the cluster figures small: nodes on a redis-server
// of the harness's own. Beyond the numbers, the run itself checks the
// mechanisms: every event published from two nodes reached every
// connection on both exactly once (h), every resume on the other node
// was welcomed as resumed and replayed seqs 1..missed in order (i), and
// Redis held one record per session and every event of the history (j).
func TestSmokeCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var out, log bytes.Buffer
	if err := run(ctx, []string{"-smoke", "-json", "-only", "cluster,publish,resume,sizing"}, &out, &log); err != nil {
		t.Fatalf("wsbench -smoke -only cluster,publish,resume,sizing: %v\n%s", err, log.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("decode -json output: %v\n%s", err, out.String())
	}
	var table strings.Builder
	rep.print(&table)
	t.Logf("wsbench -smoke, cluster figures:\n%s", table.String())

	want := map[string][]string{
		"g":         {caseMemory1, caseRedis1, caseRedis2, caseCentrifuge1, caseCentrifuge2},
		"g-cpu":     {caseMemory1, caseRedis1, caseRedis2, caseCentrifuge1, caseCentrifuge2},
		"h":         {caseRedis2},
		"h-deliver": {caseRedis2},
		"i":         {caseResumeMemory, caseResumeSame, caseResumeOther},
		"j-session": {"used_memory", "MEMORY USAGE"},
		"j-history": {"used_memory", "MEMORY USAGE"},
		"j-idle":    {caseMemory1, caseRedis1},
	}
	for id, cases := range want {
		f := rep.figure(id)
		if f == nil {
			t.Errorf("figure %s missing", id)
			continue
		}
		for _, c := range cases {
			v, ok := f.get(c)
			switch {
			case !ok:
				t.Errorf("figure %s: no value for %s", id, c)
			case !finite(v.Value) || v.Value < 0:
				t.Errorf("figure %s: %s = %v", id, c, v.Value)
			case v.Value == 0 && id != "g-cpu": // CPU is read in 10 ms ticks
				t.Errorf("figure %s: %s = 0", id, c)
			}
		}
	}
	if f := rep.figure("g"); f != nil && (!finite(f.Ratio) || f.Ratio <= 0 || len(f.Targets) != 1) {
		t.Errorf("figure g: ratio %v, targets %v", f.Ratio, f.Targets)
	}
	if f := rep.figure("h-deliver"); f != nil && len(f.Targets) != 1 {
		t.Errorf("figure h-deliver: targets %v", f.Targets)
	}
	// A record is a few hundred bytes of JSON; Redis stores more than
	// the JSON, and an entry more than its payload.
	if f := rep.figure("j-session"); f != nil {
		if v, ok := f.get("MEMORY USAGE"); ok && (v.Detail["record_json_bytes"] < 100 || v.Value < v.Detail["record_json_bytes"]) {
			t.Errorf("figure j-session: MEMORY USAGE %v for a record of %v bytes of JSON", v.Value, v.Detail["record_json_bytes"])
		}
	}
	if f := rep.figure("j-history"); f != nil {
		if v, ok := f.get("used_memory"); ok && (v.Detail["payload_bytes"] < 50 || v.Value < v.Detail["payload_bytes"]) {
			t.Errorf("figure j-history: %v bytes per entry of a %v-byte payload", v.Value, v.Detail["payload_bytes"])
		}
	}
}

func (r *report) figure(id string) *figure {
	for _, f := range r.Figures {
		if f.ID == id {
			return f
		}
	}
	return nil
}

func TestHistQuantiles(t *testing.T) {
	var h hist
	for i := 1; i <= 100000; i++ {
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := q * 100000 * float64(time.Microsecond)
		got := float64(h.quantile(q))
		if math.Abs(got-want)/want > 1.0/64 {
			t.Errorf("quantile(%v) = %v, want %v within 1/64", q, time.Duration(got), time.Duration(want))
		}
	}
	back := h.wire().hist()
	if back.n != h.n || back.quantile(0.99) != h.quantile(0.99) {
		t.Errorf("histogram changed through its wire form")
	}
	for v := int64(0); v < 1<<20; v += 7 {
		if lo := histValue(histIndex(v)); math.Abs(float64(lo-v)) > float64(v)/64+1 {
			t.Fatalf("value %d lands in a bucket worth %d", v, lo)
		}
	}
}

func TestNextFrame(t *testing.T) {
	tick := tickJSON(3, 1234567890)
	long := bytes.Repeat([]byte("x"), 300)
	var stream []byte
	stream = append(stream, 0x81, byte(len(tick)))
	stream = append(stream, tick...)
	stream = append(stream, 0x81, 126, byte(len(long)>>8), byte(len(long)))
	stream = append(stream, long...)
	for cut := range len(stream) + 1 {
		var got [][]byte
		data := stream[:cut]
		for {
			_, p, rest, ok := nextFrame(data)
			if !ok {
				break
			}
			got = append(got, p)
			data = rest
		}
		data = append(append([]byte(nil), data...), stream[cut:]...)
		for {
			_, p, rest, ok := nextFrame(data)
			if !ok {
				break
			}
			got = append(got, p)
			data = rest
		}
		if len(got) != 2 || !bytes.Equal(got[0], tick) || !bytes.Equal(got[1], long) || len(data) != 0 {
			t.Fatalf("cut at %d: %d frames, %d bytes left", cut, len(got), len(data))
		}
	}
	r, ok1 := jsonInt(tick, `"round":`)
	sent, ok2 := jsonInt(tick, `"sent":"`)
	if !ok1 || !ok2 || r != 3 || sent != 1234567890 {
		t.Errorf("tick %s: round %d %v, sent %d %v", tick, r, ok1, sent, ok2)
	}
}

// TestTickSameBytes checks that the hubs send what duplex sends for a tick:
// the broadcast figure compares servers on the same frames.
func TestTickSameBytes(t *testing.T) {
	srv, err := newDuplexRPC("", 0)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go srv.serve(ln)
	ctx := context.Background()
	var d net.Dialer
	c, err := dialWS(ctx, &d, ln.Addr().String(), subprotocol, 5*time.Second, 1024)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if err := c.hello(5*time.Second, true); err != nil {
		t.Fatal(err)
	}
	for round := range int32(3) {
		sent, err := srv.broadcast(round)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.nc.SetDeadline(time.Now().Add(5 * time.Second))
		_, p, err := c.readMessage()
		if err != nil {
			t.Fatal(err)
		}
		if want := tickJSON(round, sent); !bytes.Equal(p, want) {
			t.Errorf("round %d: duplex sent\n%s\nthe hubs send\n%s", round, p, want)
		}
	}
}
