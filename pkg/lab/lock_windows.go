//go:build windows

package lab

import (
	"os"

	"golang.org/x/sys/windows"
)

// lockOffset is the byte range locked: far past the pid the file holds,
// because Windows locks are mandatory and would hide the pid from readers.
const lockOffset = 1 << 30

// tryLock takes an exclusive lock on one byte of f without waiting.
func tryLock(f *os.File) error {
	ol := &windows.Overlapped{Offset: lockOffset}
	return windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
}

// release drops the lock and removes the file; Windows cannot remove a
// file another handle holds open, so a racing opener keeps it alive and
// takes the lock.
func release(f *os.File, path string) {
	f.Close()
	os.Remove(path)
}
