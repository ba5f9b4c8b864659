//go:build !windows

package lab

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an exclusive flock on f without waiting.
func tryLock(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// release removes the lock file while still holding the lock, then drops
// it: a process that opened the old file finds it replaced and retries.
func release(f *os.File, path string) {
	os.Remove(path)
	f.Close()
}

// processAlive reports whether a process with this pid exists (a zombie
// counts: it has not been reaped yet).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
