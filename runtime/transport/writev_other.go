//go:build unix && !linux

package transport

import "syscall"

// writeChunks writes the chunks of q back to back, one write(2) each,
// until the socket takes less than a chunk, and returns the count
// written. (writev through package syscall is Linux's only.)
func writeChunks(fd int, q []*[]byte, _ []syscall.Iovec) (int, error) {
	n := 0
	for i := 0; i < len(q); {
		m, err := syscall.Write(fd, *q[i])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil && n > 0:
			return n, nil // full, or failed: the caller sees n short
		case err != nil:
			return 0, err
		}
		n += m
		if m < len(*q[i]) {
			break
		}
		i++
	}
	return n, nil
}
