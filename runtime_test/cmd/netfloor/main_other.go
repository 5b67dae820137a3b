//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "netfloor: Linux only (it reads /proc/self/status)")
	os.Exit(2)
}
