//go:build !linux

package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "wsbench: Linux only (it reads /proc and uses epoll)")
	os.Exit(2)
}
