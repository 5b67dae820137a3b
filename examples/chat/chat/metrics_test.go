package chat_test

// The chat command's -metrics flag: real clients chat with a chat
// process, then its /metrics page is scraped and its values checked.

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeChat reads the node's /metrics; status is its HTTP status.
func scrapeChat(t *testing.T, nd *node) (fams map[string]*dto.MetricFamily, status int) {
	t.Helper()
	resp, err := http.Get("http://" + nd.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, resp.StatusCode
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err = p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams, resp.StatusCode
}

// metricValue returns the value of the counter or gauge name whose labels
// are exactly labels (name=value, sorted by name), -1 when there is none.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	for _, m := range fams[name].GetMetric() {
		var got []string
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName()+"="+l.GetValue())
		}
		if strings.Join(got, ",") != strings.Join(labels, ",") {
			continue
		}
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	return -1
}

func TestMetricsPage(t *testing.T) {
	bin := buildChat(t)
	plain := startNode(t, bin, "without -metrics")
	if _, status := scrapeChat(t, plain); status != http.StatusNotFound {
		t.Errorf("GET /metrics without -metrics: %d, want 404", status)
	}

	nd := startNode(t, bin, "with -metrics", "-metrics")
	ann, _ := dial(t, nd.addr, "", 0)
	bob, _ := dial(t, nd.addr, "", 0)
	ann.ok("login", `{"name":"ann"}`)
	bob.fails("login", `{"name":"ann"}`, "name_taken")
	bob.ok("login", `{"name":"bob"}`)
	ann.ok("user", `{"content":"hi"}`)
	ann.ok("shutdown", `{}`) // the reply, then the server's close 1000
	for {                    // events that came after the reply, then the close, answered
		_, err := ann.raw()
		var closed wsutil.ClosedError
		if errors.As(err, &closed) {
			break
		}
		if err != nil {
			t.Fatalf("read until the close: %v", err)
		}
	}
	if err := wsutil.WriteClientMessage(bob.nc, ws.OpClose, ws.NewCloseFrameBody(1000, "")); err != nil {
		t.Fatal(err)
	}

	// The closes are counted when the server has ended the connections,
	// after the clients saw them: wait for both, and the gauge down.
	var fams map[string]*dto.MetricFamily
	for deadline := time.Now().Add(readBound); ; {
		fams, _ = scrapeChat(t, nd)
		if metricValue(fams, "duplex_closes_total", "code=1000", "initiator=server") >= 0 &&
			metricValue(fams, "duplex_closes_total", "code=1000", "initiator=client") >= 0 &&
			metricValue(fams, "duplex_connections_open") == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("closes not counted after %v", readBound)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, w := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"duplex_upgrades_total", []string{"outcome=ok"}, 2},
		{"duplex_calls_total", []string{"code=ok", "method=login"}, 2},
		{"duplex_calls_total", []string{"code=name_taken", "method=login"}, 1},
		{"duplex_calls_total", []string{"code=ok", "method=user"}, 1},
		{"duplex_calls_total", []string{"code=ok", "method=shutdown"}, 1},
		{"duplex_closes_total", []string{"code=1000", "initiator=server"}, 1},
		{"duplex_closes_total", []string{"code=1000", "initiator=client"}, 1},
		// Two hellos and five calls; two welcomes, five replies and the
		// events: ann's and bob's joined and left, the said to both.
		{"duplex_received_messages_total", nil, 7},
		{"duplex_resumes_total", []string{"outcome=resumed"}, 0},
	} {
		if got := metricValue(fams, w.name, w.labels...); got != w.want {
			t.Errorf("%s{%s} = %v, want %v", w.name, strings.Join(w.labels, ","), got, w.want)
		}
	}
	if got := metricValue(fams, "duplex_sent_messages_total"); got < 7 {
		t.Errorf("duplex_sent_messages_total = %v, want at least the 2 welcomes and 5 replies", got)
	}
	if fams["go_goroutines"] == nil || fams["duplex_call_duration_seconds"] == nil {
		t.Error("the page lacks go_goroutines or duplex_call_duration_seconds")
	}
}
