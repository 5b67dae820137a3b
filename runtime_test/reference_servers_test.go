package runtimetest

// Reference echo servers built on the two most used Go WebSocket libraries,
// run through the same conformance table as duplex. The score is only
// logged: it documents where well-regarded libraries depart from RFC 6455 /
// RFC 7692 (and served to validate the harness's expectations while the
// duplex echo did not exist yet).

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
)

// gorillaEcho is an echo handler on gorilla/websocket.
func gorillaEcho(maxMessage int64, deflate bool) http.Handler {
	up := gorilla.Upgrader{EnableCompression: deflate, HandshakeTimeout: 10 * time.Second}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(maxMessage)
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	})
}

// coderEcho is an echo handler on coder/websocket.
func coderEcho(maxMessage int64, deflate bool) http.Handler {
	opts := &coder.AcceptOptions{CompressionMode: coder.CompressionDisabled}
	if deflate {
		opts.CompressionMode = coder.CompressionContextTakeover
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := coder.Accept(w, r, opts)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(maxMessage)
		ctx := context.Background()
		for {
			typ, p, err := c.Read(ctx)
			if err != nil {
				return
			}
			if err := c.Write(ctx, typ, p); err != nil {
				return
			}
		}
	})
}

// startReference starts one in-process server per profile.
func startReference(t testing.TB, name string, mk func(int64, bool) http.Handler) *target {
	// In-process servers answer in microseconds; a short read timeout keeps
	// the many cases they fail (by staying silent) from dominating run time.
	tg := &target{name: name, readTimeout: 2 * time.Second, largeTimeout: 10 * time.Second}
	for p := profile(0); p < numProfiles; p++ {
		srv := httptest.NewServer(mk(int64(profileMax[p]), p == profDeflate))
		t.Cleanup(srv.Close)
		tg.addr[p] = strings.TrimPrefix(srv.URL, "http://")
	}
	return tg
}

// TestConformanceReference runs the conformance table against gorilla and
// coder echo servers and logs a score table. It never fails on their
// deviations.
func TestConformanceReference(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("reference scoring skipped in -short mode")
	}
	cases := conformanceCases()
	type score struct {
		name    string
		results []*caseResult
	}
	libs := []struct {
		name string
		mk   func(int64, bool) http.Handler
	}{
		{"gorilla/websocket v1.5.3", gorillaEcho},
		{"coder/websocket v1.8.15", coderEcho},
	}
	scores := make([]score, len(libs))
	done := make(chan int)
	for i, lib := range libs {
		tg := startReference(t, lib.name, lib.mk)
		go func() {
			scores[i] = score{lib.name, runCases(tg, cases, true)}
			done <- i
		}()
	}
	for range libs {
		<-done
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "RFC 6455/7692 conformance of reference Go libraries (%d cases; duplex-specific cases not scored)\n", len(cases))
	for _, sc := range scores {
		passed, scored := 0, 0
		type catScore struct {
			pass, total int
			failed      []string
		}
		byCat := map[int]*catScore{}
		reasons := map[string][]string{}
		for _, r := range sc.results {
			if r.skipped != "" {
				continue
			}
			scored++
			cs := byCat[r.c.cat]
			if cs == nil {
				cs = &catScore{}
				byCat[r.c.cat] = cs
			}
			cs.total++
			if !r.failed {
				passed++
				cs.pass++
				continue
			}
			cs.failed = append(cs.failed, r.c.id)
			reasons[r.firstErr()] = append(reasons[r.firstErr()], r.c.id)
		}
		fmt.Fprintf(&sb, "\n%s: %d/%d passed\n", sc.name, passed, scored)
		cats := make([]int, 0, len(byCat))
		for c := range byCat {
			cats = append(cats, c)
		}
		sort.Ints(cats)
		for _, c := range cats {
			cs := byCat[c]
			fmt.Fprintf(&sb, "  category %2d: %3d/%3d", c, cs.pass, cs.total)
			if len(cs.failed) > 0 {
				fmt.Fprintf(&sb, "  failed: %s", compactIDs(cs.failed))
			}
			sb.WriteString("\n")
		}
		keys := make([]string, 0, len(reasons))
		for k := range reasons {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { return len(reasons[keys[i]]) > len(reasons[keys[j]]) })
		if len(keys) > 0 {
			sb.WriteString("  why:\n")
		}
		for _, k := range keys {
			ids := reasons[k]
			list := compactIDs(ids)
			fmt.Fprintf(&sb, "    %3d× %s  [%s]\n", len(ids), k, list)
		}
	}
	t.Log(sb.String())
}

// compactIDs renders case ids with runs collapsed: 6.2.1 6.2.2 6.2.3 → 6.2.1-3.
func compactIDs(ids []string) string {
	var out []string
	for i := 0; i < len(ids); {
		prefix, n, ok := splitID(ids[i])
		j := i + 1
		for ok && j < len(ids) {
			p2, n2, ok2 := splitID(ids[j])
			if !ok2 || p2 != prefix || n2 != n+(j-i) {
				break
			}
			j++
		}
		if j-i > 2 {
			out = append(out, fmt.Sprintf("%s-%d", ids[i], n+(j-i-1)))
		} else {
			out = append(out, ids[i:j]...)
		}
		i = j
	}
	return strings.Join(out, " ")
}

func splitID(id string) (prefix string, n int, ok bool) {
	k := strings.LastIndexByte(id, '.')
	if k < 0 {
		return "", 0, false
	}
	_, err := fmt.Sscanf(id[k+1:], "%d", &n)
	return id[:k], n, err == nil
}
