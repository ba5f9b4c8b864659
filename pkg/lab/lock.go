package lab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrLocked reports that another process runs a lab on the directory.
var ErrLocked = errors.New("lab: a lab is already running on this directory")

// dirLock is an exclusive, OS-level lock on a state directory (flock on
// Unix, LockFileEx on Windows) on a file that holds the holder's pid.
//
// The stale-lock story: the OS drops the lock when its holder dies, however
// it dies, so a killed sselab never leaves a lock that blocks the next
// `up`. Its file stays behind, with its pid; whoever takes the lock next
// takes it over, writes its own pid, and says whose lock it took over
// (see report). The pid is only informative: who holds the OS lock
// decides, never whether the pid in the file is alive, so a reused pid
// cannot block anyone. The file is removed on Release.
type dirLock struct {
	f    *os.File
	path string
	note string // whose stale lock was taken over, or ""
}

// lockDir takes the lock at path or fails at once. A refusal wraps
// ErrLocked and names the holder's pid and whether that process runs;
// taking over the file of a holder that is gone is noted for report.
func lockDir(path string) (*dirLock, error) {
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		dir := filepath.Dir(path)
		if err != nil {
			return nil, fmt.Errorf("lab: cannot use --dir %s: cannot create its lock file: %w; pick a directory you can write to", dir, pathCause(err))
		}
		if err := tryLockRetry(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("%w (%s); stop it with 'sselab down --dir %s' or pick another --dir", ErrLocked, holder(readPID(path)), dir)
		}
		// The previous holder may have removed the file between our open
		// and our lock: then we hold a lock on a deleted file. Retry.
		if same, err := sameFile(f, path); err != nil || !same {
			f.Close() // closing drops the lock
			continue
		}
		l := &dirLock{f: f, path: path, note: takeoverNote(readPID(path))}
		if err := f.Truncate(0); err == nil {
			f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		return l, nil
	}
}

// holder describes the holder of a lock we could not take, from the pid
// its file holds (0 if none). A holder whose pid is gone is possible: the
// lock is held by another process, one that has just taken it and not yet
// written its pid, or one that inherited the lock from the named process.
func holder(pid int) string {
	switch {
	case pid <= 0:
		return "another process"
	case processAlive(pid):
		return fmt.Sprintf("process %d, which is running", pid)
	default:
		return fmt.Sprintf("process %d is named in the lock file but is gone; another process holds the lock", pid)
	}
}

// takeoverNote says whose lock file we took over, from the pid it held
// before we wrote ours: "" for a new or empty file.
func takeoverNote(pid int) string {
	switch {
	case pid <= 0:
		return ""
	case pid != os.Getpid() && processAlive(pid):
		// The pid was reused by a process that does not hold the lock.
		return fmt.Sprintf("lab: took over the lock of process %d, which no longer holds it", pid)
	default:
		return fmt.Sprintf("lab: took over the lock of process %d, which is gone", pid)
	}
}

// report writes the takeover note, if any, as one line to w (nil
// discards it).
func (l *dirLock) report(w io.Writer) {
	if l == nil || l.note == "" || w == nil {
		return
	}
	fmt.Fprintln(w, l.note)
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
