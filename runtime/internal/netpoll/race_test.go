//go:build race

package netpoll

// raceEnabled reports a -race build, in which sync.Pool drops a quarter of
// the values put into it, so allocation counts are not meaningful.
const raceEnabled = true
