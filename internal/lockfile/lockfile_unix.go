//go:build !windows

package lockfile

import (
	"errors"
	"os"
	"syscall"
)

// tryLock takes an exclusive flock on f without waiting; errHeld if
// another open file holds it (even one of this process).
func tryLock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errHeld
	}
	return err
}

// release removes the lock file while still holding the lock, then drops
// it: a process that opened the old file finds it replaced and retries.
func release(f *os.File, path string) {
	os.Remove(path)
	f.Close()
}
