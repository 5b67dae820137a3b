//go:build race

package compiletest

// hostileDefault is -hostile.n's default under the race detector, which
// slows generation and type-checking fourfold and finds nothing in this
// test's single goroutine: the corpus and the sweep run whole.
const hostileDefault = 25
