//go:build !race

package compiletest

// hostileDefault is -hostile.n's default (see race_test.go).
const hostileDefault = 100
