package transport

import (
	"testing"
	"unsafe"
)

// TestConnSize keeps an open connection small: Conn is allocated once per
// connection and lives as long as it. 304 B is in the 320 B size class.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 304 {
		t.Errorf("unsafe.Sizeof(Conn{}) = %d, want at most 304", n)
	}
	t.Logf("Conn: %d B", unsafe.Sizeof(Conn{}))
}
