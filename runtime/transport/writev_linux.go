package transport

import (
	"syscall"
	"unsafe"
)

// writeChunks writes the chunks of q back to back with one writev(2),
// through iov (as long as q, cleared after), and returns the count the
// socket took.
func writeChunks(fd int, q []*[]byte, iov []syscall.Iovec) (int, error) {
	for i, f := range q {
		if len(*f) > 0 {
			iov[i].Base = &(*f)[0]
		}
		iov[i].SetLen(len(*f))
	}
	n, _, errno := syscall.Syscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(len(q)))
	clear(iov)
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}
