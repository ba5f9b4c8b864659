//go:build windows

package lockfile

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockOffset is the byte range locked: far past the pid the file holds,
// because Windows locks are mandatory and would hide the pid from readers.
const lockOffset = 1 << 30

// tryLock takes an exclusive lock on one byte of f without waiting;
// errHeld if another handle holds it (even one of this process).
func tryLock(f *os.File) error {
	ol := &windows.Overlapped{Offset: lockOffset}
	err := windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		return errHeld
	}
	return err
}

// release empties the file, drops the lock and removes the file. Windows
// cannot remove a file another handle holds open, so a racing opener
// keeps it alive and takes the lock; the file is emptied first so that
// the opener does not take this process's pid for a holder that died.
func release(f *os.File, path string) {
	f.Truncate(0)
	f.Close()
	os.Remove(path)
}
