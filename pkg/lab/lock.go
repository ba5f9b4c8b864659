package lab

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ErrLocked reports that another process runs a lab on the directory.
var ErrLocked = errors.New("lab: a lab is already running on this directory")

// dirLock is an exclusive, OS-level lock on a state directory. The OS
// drops it when the holder dies, so a killed sselab never leaves a lock
// that blocks the next `up`; the file itself is removed on Release.
type dirLock struct {
	f    *os.File
	path string
}

// lockDir takes the lock at path or fails at once, naming the holder.
func lockDir(path string) (*dirLock, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lab: lock %s: %w", path, err)
		}
		if err := tryLockRetry(f); err != nil {
			f.Close()
			holder := "another process"
			if pid := readPID(path); pid > 0 {
				holder = "process " + strconv.Itoa(pid)
			}
			return nil, fmt.Errorf("%w (%s); stop it with 'sselab down' or pick another --dir", ErrLocked, holder)
		}
		// The previous holder may have removed the file between our open
		// and our lock: then we hold a lock on a deleted file. Retry.
		if same, err := sameFile(f, path); err != nil || !same {
			f.Close() // closing drops the lock
			continue
		}
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		return &dirLock{f: f, path: path}, nil
	}
}

// Release removes the lock file and drops the lock.
func (l *dirLock) Release() {
	if l == nil || l.f == nil {
		return
	}
	release(l.f, l.path)
	l.f = nil
}

// readPID reads the pid a lock file holds, 0 if none.
func readPID(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

func sameFile(f *os.File, path string) (bool, error) {
	a, err := f.Stat()
	if err != nil {
		return false, err
	}
	b, err := os.Stat(path)
	if err != nil {
		return false, err
	}
	return os.SameFile(a, b), nil
}

// lockRetry is how long lockDir keeps trying: isLocked (used by status and
// down) holds the lock for an instant, which must not fail an `up`.
const lockRetry = 200 * time.Millisecond

// tryLockRetry calls tryLock until it succeeds or lockRetry has passed.
func tryLockRetry(f *os.File) error {
	deadline := time.Now().Add(lockRetry)
	for {
		err := tryLock(f)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}
