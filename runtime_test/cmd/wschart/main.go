// Command wschart renders wsbench's JSON output (wsbench -json) as SVG bar
// charts: one chart per figure (every server's value, duplex's bar
// coloured, the reference's labelled) and a headline chart of duplex's
// ratios to the reference with their targets. The SVG is written by hand,
// byte for byte the same for the same input, so that charts regenerate
// without diffs when the numbers have not changed.
//
//	cd runtime_test && go run ./cmd/wschart -in ../docs/images/wsbench.json -out ../docs/images
//
// A figure with fewer than two values (nothing to compare) gets no chart.
package main

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// report is the part of wsbench's -json output the charts use.
type report struct {
	Machine map[string]string `json:"machine"`
	Config  map[string]string `json:"config"`
	Figures []figure          `json:"figures"`
}

type figure struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Unit      string   `json:"unit"`
	Values    []value  `json:"values"`
	Duplex    string   `json:"duplex"`
	Reference string   `json:"reference"`
	Ratio     float64  `json:"ratio"`
	Targets   []target `json:"targets"`
}

type value struct {
	Server     string  `json:"server"`
	Value      float64 `json:"value"`
	Bottleneck string  `json:"bottleneck"`
}

type target struct {
	Kind  string  `json:"kind"`
	Op    string  `json:"op"`
	Limit float64 `json:"limit"`
	Got   float64 `json:"got"`
	Met   bool    `json:"met"`
	On    string  `json:"on"`
}

func main() {
	in := flag.String("in", "", "wsbench -json output to read")
	out := flag.String("out", ".", "directory to write wsbench-FIGURE.svg and wsbench-headline.svg into")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "wschart:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	if in == "" {
		return errors.New("-in: which wsbench -json output?")
	}
	b, err := os.ReadFile(in)
	if err != nil {
		return fmt.Errorf("read report: %w", err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		return fmt.Errorf("decode report %s: %w", in, err)
	}
	if len(rep.Figures) == 0 {
		return fmt.Errorf("%s has no figures", in)
	}
	files, err := charts(&rep)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(out, f.name), f.svg, 0o644); err != nil {
			return fmt.Errorf("write chart: %w", err)
		}
	}
	return nil
}

type file struct {
	name string
	svg  []byte
}

// charts renders every figure with two values or more, and the headline.
func charts(rep *report) ([]file, error) {
	var files []file
	for _, f := range rep.Figures {
		if len(f.Values) < 2 {
			continue
		}
		var buf bytes.Buffer
		if err := barChart(&buf, f); err != nil {
			return nil, fmt.Errorf("figure %s: %w", f.ID, err)
		}
		files = append(files, file{"wsbench-" + f.ID + ".svg", buf.Bytes()})
	}
	var buf bytes.Buffer
	if n := headline(&buf, rep); n > 0 {
		files = append(files, file{"wsbench-headline.svg", buf.Bytes()})
	}
	if len(files) == 0 {
		return nil, errors.New("no figure has two values to compare")
	}
	return files, nil
}

// Layout, in SVG user units (px).
const (
	width    = 760
	labelW   = 150 // server names, right-aligned
	valueW   = 250 // the value and its ratio, after the bar
	barH     = 22
	barGap   = 8
	titleH   = 48
	footerH  = 24
	fontSize = 13
)

const (
	colourDuplex = "#2f6fb0"
	colourOther  = "#9aa5b1"
	colourRef    = "#5f6b77"
	colourMiss   = "#c0392b"
	colourMet    = "#2e8b57"
)

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// barChart draws one figure: a bar per server on a linear scale from 0.
func barChart(w io.Writer, f figure) error {
	var top float64
	for _, v := range f.Values {
		if !finite(v.Value) || v.Value < 0 {
			return fmt.Errorf("%s: value %v", v.Server, v.Value)
		}
		top = max(top, v.Value)
	}
	if top == 0 {
		top = 1
	}
	ref := -1.0
	for _, v := range f.Values {
		if v.Server == f.Reference {
			ref = v.Value
		}
	}
	plotW := float64(width - labelW - valueW - 20)
	h := titleH + len(f.Values)*(barH+barGap) + footerH
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n",
		width, h, width, h, fontSize)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, h)
	title, sub := splitTitle(f.Title)
	fmt.Fprintf(w, `<text x="10" y="20" font-weight="bold">%s. %s</text>`+"\n", esc(f.ID), esc(title))
	fmt.Fprintf(w, `<text x="10" y="38" fill="#555555" font-size="11">%s</text>`+"\n", esc(clip(sub, 120)))
	for i, v := range f.Values {
		y := titleH + i*(barH+barGap)
		bw := plotW * v.Value / top
		colour := colourOther
		switch v.Server {
		case f.Duplex:
			colour = colourDuplex
		case f.Reference:
			colour = colourRef
		}
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW, y+barH/2+5, esc(v.Server))
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", labelW+8, y, max(bw, 1), barH, colour)
		label := format(f.Unit, v.Value)
		if ref > 0 && v.Server != f.Reference {
			label += fmt.Sprintf("  (%.2f×)", v.Value/ref)
		}
		if v.Bottleneck != "" {
			label += "  " + v.Bottleneck + "-bound"
		}
		fmt.Fprintf(w, `<text x="%.1f" y="%d">%s</text>`+"\n", float64(labelW+14)+max(bw, 1), y+barH/2+5, esc(label))
	}
	foot := fmt.Sprintf("%s; ratios to %s; %s", better(f.Unit), f.Reference, targetsText(f))
	fmt.Fprintf(w, `<text x="10" y="%d" fill="#555555" font-size="11">%s</text>`+"\n", h-8, esc(clip(foot, 125)))
	fmt.Fprintln(w, "</svg>")
	return nil
}

// headline draws duplex's ratio to the reference of every figure that has
// a ratio target, with the target as a tick: the figures the issue's
// targets are about, in one picture. It returns how many rows it drew.
func headline(w io.Writer, rep *report) int {
	type row struct {
		label  string
		ratio  float64
		limit  float64
		op     string
		met    bool
		lowerB bool // lower is better
	}
	var rows []row
	for _, f := range rep.Figures {
		for _, t := range f.Targets {
			if t.Kind != "ratio" || !finite(t.Got) || t.Got <= 0 {
				continue
			}
			who := f.Duplex + " / " + f.Reference
			if t.On != "" {
				who = t.On
			}
			title, _ := splitTitle(f.Title)
			rows = append(rows, row{
				label: fmt.Sprintf("%s. %s: %s", f.ID, clip(title, 60), who),
				ratio: t.Got, limit: t.Limit, op: t.Op, met: t.Met, lowerB: t.Op == "<=",
			})
		}
	}
	if len(rows) == 0 {
		return 0
	}
	top := 1.0
	for _, r := range rows {
		top = max(top, r.ratio, r.limit)
	}
	top = math.Ceil(top*2) / 2
	const (
		rowH  = 34
		left  = 10
		plotX = 10
	)
	plotW := float64(width - 2*plotX - 160)
	h := titleH + len(rows)*rowH + footerH + 10
	fmt.Fprintf(w, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="%d">`+"\n",
		width, h, width, h, fontSize)
	fmt.Fprintf(w, `<rect width="%d" height="%d" fill="#ffffff"/>`+"\n", width, h)
	fmt.Fprintf(w, `<text x="%d" y="20" font-weight="bold">duplex against the reference of each figure: ratio and target</text>`+"\n", left)
	fmt.Fprintf(w, `<text x="%d" y="38" fill="#555555" font-size="11">%s</text>`+"\n", left,
		esc("bar: the ratio (1.0 = the same as the reference); black tick: the target; green: met, red: missed"))
	x1 := plotX + plotW/top
	fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#999999" stroke-dasharray="3,3"/>`+"\n", x1, titleH-4, x1, h-footerH)
	for i, r := range rows {
		y := titleH + i*rowH
		colour := colourMiss
		if r.met {
			colour = colourMet
		}
		fmt.Fprintf(w, `<text x="%d" y="%d" font-size="11">%s</text>`+"\n", plotX, y+10, esc(r.label))
		bw := plotW * r.ratio / top
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%.1f" height="14" fill="%s"/>`+"\n", plotX, y+14, bw, colour)
		tx := plotX + plotW*r.limit/top
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#000000" stroke-width="2"/>`+"\n", tx, y+11, tx, y+31)
		op := map[string]string{"<=": "≤", ">=": "≥"}[r.op]
		fmt.Fprintf(w, `<text x="%.1f" y="%d" font-size="11">%s</text>`+"\n", float64(plotX)+max(bw, tx-plotX)+8, y+26,
			esc(fmt.Sprintf("%.2f× (target %s %g)", r.ratio, op, r.limit)))
	}
	m := rep.Machine
	foot := fmt.Sprintf("wsbench, %s CPUs (%s), %s", m["cpus"], m["cpu"], m["go"])
	fmt.Fprintf(w, `<text x="%d" y="%d" fill="#555555" font-size="11">%s</text>`+"\n", left, h-8, esc(clip(foot, 125)))
	fmt.Fprintln(w, "</svg>")
	return len(rows)
}

// splitTitle cuts a figure's title at its first colon: the short title
// and what it measures.
func splitTitle(t string) (string, string) {
	a, b, ok := strings.Cut(t, ": ")
	if !ok {
		return t, ""
	}
	return a, b
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func better(unit string) string {
	if unit == "/s" {
		return "higher is better"
	}
	return "lower is better"
}

func targetsText(f figure) string {
	var ts []string
	for _, t := range f.Targets {
		op := map[string]string{"<=": "≤", ">=": "≥"}[t.Op]
		verdict := "missed"
		if t.Met {
			verdict = "met"
		}
		switch {
		case t.Kind == "ratio" && t.On != "":
			ts = append(ts, fmt.Sprintf("target %s %s %g: %s (%.2f)", t.On, op, t.Limit, verdict, t.Got))
		case t.Kind == "ratio":
			ts = append(ts, fmt.Sprintf("target ratio %s %g: %s (%.2f)", op, t.Limit, verdict, t.Got))
		default:
			ts = append(ts, fmt.Sprintf("target %s %s: %s", op, format(f.Unit, t.Limit), verdict))
		}
	}
	if len(ts) == 0 {
		return "no target"
	}
	return strings.Join(ts, "; ")
}

// format renders v in wsbench's units.
func format(unit string, v float64) string {
	switch unit {
	case "/s":
		return fmt.Sprintf("%s/s", thousands(v))
	case "ns":
		d := time.Duration(v)
		switch {
		case d >= time.Second:
			return fmt.Sprintf("%.2f s", d.Seconds())
		case d >= time.Millisecond:
			return fmt.Sprintf("%.2f ms", float64(d)/1e6)
		case d >= 10*time.Microsecond:
			return fmt.Sprintf("%.0f µs", float64(d)/1e3)
		default:
			return fmt.Sprintf("%.1f µs", float64(d)/1e3)
		}
	case "B":
		switch {
		case v >= 1<<20:
			return fmt.Sprintf("%.1f MiB", v/(1<<20))
		case v >= 1<<10:
			return fmt.Sprintf("%.2f KiB", v/(1<<10))
		default:
			return fmt.Sprintf("%.0f B", v)
		}
	case "allocs/op":
		return fmt.Sprintf("%.2f allocs", v)
	}
	return fmt.Sprintf("%g", v)
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
