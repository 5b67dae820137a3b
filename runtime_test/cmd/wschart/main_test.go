package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sample is the shape of wsbench -json output (figures a-cpu and c).
const sample = `{
  "machine": {"cpus": "2", "cpu": "test cpu", "go": "go1.26"},
  "config": {"conns": "100"},
  "figures": [
    {"id": "a-cpu", "title": "server CPU per call: over 3s", "unit": "ns", "duplex": "duplex-rpc", "reference": "gorilla-echo", "ratio": 0.9,
     "values": [{"server": "duplex-rpc", "value": 18000, "bottleneck": "client"}, {"server": "gorilla-echo", "value": 20000, "bottleneck": "server"},
                {"server": "socketio", "value": 41000, "bottleneck": "server"}],
     "targets": [{"kind": "ratio", "op": "<=", "limit": 0.8, "got": 0.9, "met": false},
                 {"kind": "ratio", "op": "<=", "limit": 0.7, "got": 0.95, "met": false, "on": "duplex-echo / gorilla-echo"}]},
    {"id": "c", "title": "memory per idle connection: <&> 10 connections", "unit": "B", "duplex": "duplex-rpc", "reference": "gorilla-echo", "ratio": 0.1,
     "values": [{"server": "duplex-rpc", "value": 1500}, {"server": "gorilla-echo", "value": 15000}],
     "targets": [{"kind": "absolute", "op": "<=", "limit": 2048, "got": 1500, "met": true}]},
    {"id": "x", "title": "one value only", "unit": "ns", "duplex": "duplex-rpc", "values": [{"server": "duplex-rpc", "value": 1}], "targets": []}
  ]
}`

func TestCharts(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "wsbench.json")
	if err := os.WriteFile(in, []byte(sample), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "images")
	if err := run(in, out); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got, want := strings.Join(names, " "), "wsbench-a-cpu.svg wsbench-c.svg wsbench-headline.svg"; got != want {
		t.Fatalf("charts %q, want %q", got, want)
	}
	bars := map[string]int{"wsbench-a-cpu.svg": 3, "wsbench-c.svg": 2, "wsbench-headline.svg": 2}
	for name, want := range bars {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		// Well-formed XML, one rect per bar beside the background.
		d := xml.NewDecoder(bytes.NewReader(b))
		rects := 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: not well-formed: %v\n%s", name, err, b)
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
				rects++
			}
		}
		if rects-1 != want {
			t.Errorf("%s: %d bars, want %d", name, rects-1, want)
		}
	}
	a, _ := os.ReadFile(filepath.Join(out, "wsbench-a-cpu.svg"))
	for _, s := range []string{"18 µs", "(0.90×)", "client-bound", "(2.05×)", "target ratio ≤ 0.8: missed (0.90)"} {
		if !bytes.Contains(a, []byte(s)) {
			t.Errorf("wsbench-a-cpu.svg lacks %q:\n%s", s, a)
		}
	}
	// The same input renders the same bytes.
	out2 := filepath.Join(dir, "again")
	if err := run(in, out2); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		x, _ := os.ReadFile(filepath.Join(out, n))
		y, _ := os.ReadFile(filepath.Join(out2, n))
		if !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs", n)
		}
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"notjson":   "{",
		"nofigures": `{"figures": []}`,
		"negative":  `{"figures": [{"id": "a", "unit": "ns", "values": [{"server": "x", "value": -1}, {"server": "y", "value": 1}]}]}`,
	} {
		in := filepath.Join(dir, name+".json")
		if err := os.WriteFile(in, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := run(in, filepath.Join(dir, name)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if err := run("", dir); err == nil {
		t.Error("no -in: no error")
	}
}
