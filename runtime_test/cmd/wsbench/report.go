//go:build linux

package main

// Results: figures with their values per server, the ratio duplex /
// reference, the targets of the performance issue, and how they print.

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

type report struct {
	Machine map[string]string `json:"machine"`
	Config  map[string]string `json:"config"`
	Figures []*figure         `json:"figures"`
	Seconds float64           `json:"seconds"`
}

// figure is one of a..f.
type figure struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Unit      string   `json:"unit"` // of Value: "/s", "ns", "B", "allocs/op"
	Values    []value  `json:"values"`
	Duplex    string   `json:"duplex"`              // the server (or case) that is the figure
	Reference string   `json:"reference,omitempty"` // the one it is compared with
	Ratio     float64  `json:"ratio,omitempty"`     // Duplex / Reference
	Targets   []target `json:"targets"`
	Notes     []string `json:"notes,omitempty"`
	Seconds   float64  `json:"seconds"` // the run that produced it
}

type value struct {
	Server     string             `json:"server"`
	Value      float64            `json:"value"`
	Detail     map[string]float64 `json:"detail,omitempty"`
	Bottleneck string             `json:"bottleneck,omitempty"` // loads: "server" or "client" (the busier side)
}

type target struct {
	Kind  string  `json:"kind"` // targetRatio or targetAbsolute
	Op    string  `json:"op"`   // ">=", "<="
	Limit float64 `json:"limit"`
	Got   float64 `json:"got"`
	Met   bool    `json:"met"`
	Miss  float64 `json:"miss,omitempty"` // by how much it is missed, as a fraction of the limit
	On    string  `json:"on,omitempty"`   // the value it is on, when not the figure's
}

const (
	targetRatio    = "ratio"
	targetAbsolute = "absolute"
)

func (f *figure) get(server string) (value, bool) {
	for _, v := range f.Values {
		if v.Server == server {
			return v, true
		}
	}
	return value{}, false
}

func (f *figure) ratio() {
	d, ok1 := f.get(f.Duplex)
	r, ok2 := f.get(f.Reference)
	if ok1 && ok2 && r.Value != 0 {
		f.Ratio = d.Value / r.Value
	}
}

// target records a target on the ratio or on duplex's own value.
func (f *figure) target(kind, op string, limit float64) {
	t := target{Kind: kind, Op: op, Limit: limit}
	if kind == targetRatio {
		t.Got = f.Ratio
	} else {
		d, _ := f.get(f.Duplex)
		t.Got = d.Value
	}
	if f.Unit == unitAllocs {
		// Allocations amortised over a whole run (a sync.Pool refilled
		// after each GC, a timer) show as hundredths per operation; the
		// targets are about allocations on every operation.
		t.Got = math.Round(t.Got*10) / 10
	}
	switch op {
	case ">=":
		t.Met = t.Got >= limit
		if !t.Met {
			t.Miss = (limit - t.Got) / limit
		}
	case "<=":
		t.Met = t.Got <= limit
		if !t.Met {
			if limit == 0 {
				t.Miss = t.Got
			} else {
				t.Miss = (t.Got - limit) / limit
			}
		}
	}
	f.Targets = append(f.Targets, t)
}

// ratioTargetOn records a target on the ratio of server's value to the
// reference's (the raw echo's CPU beside the typed call's, say).
func (f *figure) ratioTargetOn(server, op string, limit float64) {
	d, ratio := f.Duplex, f.Ratio
	f.Duplex, f.Ratio = server, 0
	f.ratio()
	f.target(targetRatio, op, limit)
	f.Duplex, f.Ratio = d, ratio
	f.Targets[len(f.Targets)-1].On = server + " / " + f.Reference
}

// format renders v in the figure's unit.
func (f *figure) format(v float64) string {
	switch f.Unit {
	case unitRate:
		return groupThousands(v) + "/s"
	case unitNanos:
		return fmtDuration(time.Duration(v))
	case unitBytes:
		return fmtBytes(v)
	case unitAllocs:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%g", v)
}

func (t target) String(f *figure) string {
	op := map[string]string{">=": "≥", "<=": "≤"}[t.Op]
	if t.Kind == targetRatio {
		if t.On != "" {
			return fmt.Sprintf("%s %s %g", t.On, op, t.Limit)
		}
		return fmt.Sprintf("ratio %s %g", op, t.Limit)
	}
	lim := f.format(t.Limit)
	if f.Unit == unitAllocs {
		lim = fmt.Sprintf("%g", t.Limit)
	}
	if t.On != "" {
		return fmt.Sprintf("%s %s %s", t.On, op, lim)
	}
	return fmt.Sprintf("%s %s", op, lim)
}

func (t target) verdict(f *figure) string {
	if t.Met {
		return "met"
	}
	if t.Kind == targetRatio {
		return fmt.Sprintf("missed by %.0f%% (%.3f)", 100*t.Miss, t.Got)
	}
	if t.Limit == 0 {
		return fmt.Sprintf("missed (%s)", f.format(t.Got))
	}
	return fmt.Sprintf("missed by %.0f%% (%s)", 100*t.Miss, f.format(t.Got))
}

// print writes one block per figure, then the summary table in Markdown.
func (r *report) print(w io.Writer) {
	keys := make([]string, 0, len(r.Machine))
	for k := range r.Machine {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var m []string
	for _, k := range keys {
		m = append(m, k+"="+r.Machine[k])
	}
	fmt.Fprintf(w, "machine: %s\n", strings.Join(m, " "))
	for _, f := range r.Figures {
		fmt.Fprintf(w, "\n%s. %s [%.0fs]\n", f.ID, f.Title, f.Seconds)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		for _, v := range f.Values {
			fmt.Fprintf(tw, "   %s\t%s\t  %s%s\t\n", v.Server, f.format(v.Value), bottleneck(v), f.detail(v))
		}
		tw.Flush()
		if f.Reference != "" {
			fmt.Fprintf(w, "   %s / %s = %.3f\n", f.Duplex, f.Reference, f.Ratio)
		}
		for _, t := range f.Targets {
			fmt.Fprintf(w, "   target %s: %s\n", t.String(f), t.verdict(f))
		}
		for _, n := range f.Notes {
			fmt.Fprintf(w, "   note: %s\n", n)
		}
	}
	fmt.Fprintf(w, "\nsummary (%.0fs):\n\n", r.Seconds)
	fmt.Fprintln(w, "| figure | duplex | reference | ratio | target | result |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, f := range r.Figures {
		d, _ := f.get(f.Duplex)
		ref, ratio := "—", "—"
		if rv, ok := f.get(f.Reference); ok {
			ref = fmt.Sprintf("%s %s", f.Reference, f.format(rv.Value))
			ratio = fmt.Sprintf("%.3f", f.Ratio)
		}
		var ts, vs []string
		for _, t := range f.Targets {
			ts = append(ts, t.String(f))
			vs = append(vs, t.verdict(f))
		}
		fmt.Fprintf(w, "| %s. %s | %s %s | %s | %s | %s | %s |\n", f.ID, shortTitle(f), f.Duplex, f.format(d.Value),
			ref, ratio, strings.Join(ts, "; "), strings.Join(vs, "; "))
	}
}

func bottleneck(v value) string {
	if v.Bottleneck == "" {
		return ""
	}
	return "bottleneck " + v.Bottleneck + "; "
}

func shortTitle(f *figure) string {
	t, _, _ := strings.Cut(f.Title, ":")
	return t
}

// detail renders a value's details, sorted by name, in their own units.
func (f *figure) detail(v value) string {
	keys := make([]string, 0, len(v.Detail))
	for k := range v.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		x := v.Detail[k]
		var s string
		switch {
		case strings.HasPrefix(k, "p") && len(k) <= 4, k == "max", k == "min", k == "mean",
			strings.HasSuffix(k, "_per_round"), strings.HasSuffix(k, "_per_op"), k == "broadcast_call", k == "server_cpu_per_op":
			s = fmtDuration(time.Duration(x))
		case k == "server_cpu", k == "client_cpu", k == "spread":
			s = fmt.Sprintf("%.0f%%", 100*x)
		case k == "rss_before", k == "rss_after", k == "rss_no_gc", k == "heap_inuse", k == "stack_inuse", k == "rss", k == "rss_per_conn":
			s = fmtBytes(x)
		case k == "calls", k == "calls_per_cpu", k == "open_per_second", k == "ops_per_second":
			s = groupThousands(x)
		default:
			s = fmt.Sprintf("%.4g", x)
		}
		parts = append(parts, k+" "+s)
	}
	return strings.Join(parts, ", ")
}

func groupThousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	}
}

func fmtBytes(v float64) string {
	switch a := max(v, -v); {
	case a >= 1<<20:
		return fmt.Sprintf("%.1f MiB", v/(1<<20))
	case a >= 1<<10:
		return fmt.Sprintf("%.2f KiB", v/(1<<10))
	default:
		return fmt.Sprintf("%.0f B", v)
	}
}
