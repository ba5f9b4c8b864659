//go:build windows

package lab

import (
	"errors"
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

// processAlive reports whether a process with this pid is running. A
// process we may not open (another user's) exists, so it counts as alive.
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, uint32(pid))
	if err != nil {
		return errors.Is(err, windows.ERROR_ACCESS_DENIED)
	}
	defer windows.CloseHandle(h)
	var code uint32
	if err := windows.GetExitCodeProcess(h, &code); err != nil {
		return true
	}
	const stillActive = 259 // STILL_ACTIVE; a process that exits with 259 is misread as running
	return code == stillActive
}
