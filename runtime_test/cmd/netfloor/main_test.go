//go:build linux

package main

import "testing"

// TestMeasure runs the measurement small: every connection is accepted
// and held at the measurement, and holding them costs Go heap. The
// values themselves are the tool's business, not a test's.
func TestMeasure(t *testing.T) {
	f, err := measure(300)
	if err != nil {
		t.Fatal(err)
	}
	if f.conns != 300 {
		t.Errorf("%d connections held at the measurement, want 300", f.conns)
	}
	if f.heap <= 0 {
		t.Errorf("heap growth %.0f B per connection, want some: the net.Conns are held", f.heap)
	}
}
